"""What comparisons at equal compute are made of: compute-optimal allocation, ablations parsed
into arms, and the comparison plot. The comparison itself trains runs, so it lives a layer up,
in `zoo.experiments.comparison`."""

from zoo.comparison.ablation import parse_ablations
from zoo.comparison.allocation import compute_optimal_config, tokens_per_parameter
from zoo.comparison.plot import plot_comparison

__all__ = ["compute_optimal_config", "parse_ablations", "plot_comparison", "tokens_per_parameter"]
