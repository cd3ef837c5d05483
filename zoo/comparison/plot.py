"""Validation loss against training compute, one curve per compared model (matplotlib), and the
n-gram baseline as a horizontal line."""

import math

# The one --plot check, defined beside the atomic writers so that `zoo fit` can make it without
# importing this package (whose runner loads TensorFlow); imported from here by compare, sweep.
from zoo.files import atomic_path, check_plot_path


def plot_comparison(comparison, path):
    """Write the loss-vs-FLOPs plot of `comparison` (from `zoo.compare`) to `path`."""
    path = check_plot_path(path)
    import matplotlib

    matplotlib.use("Agg")  # files only; never needs a display
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(8, 5), dpi=120)
    for row in comparison["rows"]:
        curve = row["curves"][0]  # the first seed's curve; the table carries the spread
        axes.plot(
            [p["flops"] for p in curve],
            [p["validation_loss"] for p in curve],
            marker="o",
            markersize=3,
            label=_legend(row),
        )
    for i, level in enumerate(_baseline_levels(comparison)):
        baseline = comparison["baseline"]
        axes.axhline(
            level,
            color="black",
            linestyle=":",
            linewidth=1,
            label=f"{baseline['name']}, {baseline['bits_per_byte']:.3f} bits/byte"
            if i == 0
            else None,
        )
    axes.axvline(
        comparison["budget_flops"],
        color="grey",
        linestyle="--",
        linewidth=1,
        label=f"budget {comparison['budget_flops']:.2g} FLOPs",
    )
    axes.set_xscale("log")
    axes.set_xlabel("training compute (FLOPs, 6N + 12·L·H·Q·T per token)")
    axes.set_ylabel("validation loss (nats per token)")
    axes.set_title(
        f"validation loss against compute · {comparison['data']} · "
        f"{comparison['tokenizer']} tokenizer"
    )
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize=8)
    figure.tight_layout()
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format=path.suffix.lower().lstrip("."))
    plt.close(figure)
    return path


def _baseline_levels(comparison):
    """The n-gram baseline in each compared tokenizer's nats per token (one level when they
    share a tokenizer): bits per byte times a row's validation loss over its bits per byte."""
    baseline = comparison.get("baseline")
    if not baseline or baseline.get("bits_per_byte") is None:
        return []
    levels = []
    for row in comparison["rows"]:
        loss, bits = row.get("validation_loss"), row.get("validation_bits_per_byte")
        if loss is None or not bits:
            continue
        level = baseline["bits_per_byte"] * loss / bits
        if not any(math.isclose(level, seen, rel_tol=1e-6) for seen in levels):
            levels.append(level)
    return levels


def _legend(row):
    return (
        f"{row['model']} ({row['params'] / 1e6:.2f}M params, "
        f"{row['validation_bits_per_byte']:.3f} bits/byte)"
    )
