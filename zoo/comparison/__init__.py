"""Comparisons at equal compute: allocation, ablations, reuse of identical runs, plots."""

from zoo.comparison.ablation import parse_ablations
from zoo.comparison.allocation import compute_optimal_config, tokens_per_parameter
from zoo.comparison.plot import plot_comparison
from zoo.comparison.runner import DEFAULT_BUDGET, ComparisonReporter, compare

__all__ = [
    "DEFAULT_BUDGET",
    "ComparisonReporter",
    "compare",
    "compute_optimal_config",
    "parse_ablations",
    "plot_comparison",
    "tokens_per_parameter",
]
