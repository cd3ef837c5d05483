"""Scaling laws from a table of finished runs: Chinchilla's parametric law (approach 3), IsoFLOP
valleys (approach 2), compute multipliers between arms, and learning rate (and batch) as
laws in compute from rates grids (DeepSeek LLM); with bootstrap intervals and plots.

numpy, scipy and (for the plots, imported on use) matplotlib only: no Keras here.
"""

from zoo.scaling.fit import (
    compute_multiplier,
    fit_compute,
    fit_isoflop,
    fit_parametric,
    optimal_allocation,
    predict_compute,
    predict_parametric,
)
from zoo.scaling.hyperparameters import fit_rates
from zoo.scaling.fit_plot import plot_compute, plot_fit, plot_isoflop, plot_parametric
from zoo.scaling.points import check_points, load_points

FITS = {
    "parametric": fit_parametric,
    "isoflop": fit_isoflop,
    "compute": fit_compute,
    "rates": fit_rates,
}

__all__ = [
    "FITS",
    "check_points",
    "compute_multiplier",
    "fit_compute",
    "fit_isoflop",
    "fit_parametric",
    "fit_rates",
    "load_points",
    "optimal_allocation",
    "plot_compute",
    "plot_fit",
    "plot_isoflop",
    "plot_parametric",
    "predict_compute",
    "predict_parametric",
]
