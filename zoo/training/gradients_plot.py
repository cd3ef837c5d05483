"""The figure of `zoo.training.gradients.gradient_norms`: each layer's gradient norm against its
depth, one line per step (matplotlib, from the result's own numbers, so it can be redrawn from
the JSON)."""

from zoo.files import check_plot_path
from zoo.scaling.fit_plot import _pyplot, _save


def plot_gradients(result, path):
    """Log norm against layer (input side left), at initialisation (darkest) and after a few
    updates spaced about evenly in log steps; the blocks' attention and feed-forward sublayers
    at initialisation as dashed and dotted lines. Written
    atomically to `path` (.png/.svg/.pdf)."""
    path = check_plot_path(path)
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(10, 4.5), dpi=120)
    layers = result["layers"]
    rows = result["rows"]
    last = rows[-1]["step"]
    # At most seven lines, about evenly spaced in log steps: the first updates change most.
    wanted = {0, last} | {s for s in (1, 2, 5, 10, 20, 50, 100, 200, 500) if s < last}
    shown = [row for row in rows if row["step"] in wanted]
    colours = plt.get_cmap("viridis")
    for k, row in enumerate(shown):
        shade = colours(k / max(1, len(shown) - 1) * 0.85)
        label = "initialisation" if row["step"] == 0 else f"after {row['step']} update"
        axis.plot(range(len(layers)), row["norms"], marker="o", ms=3, color=shade,
                  lw=2.2 if row["step"] == 0 else 1.2,
                  label=label + ("s" if row["step"] > 1 else ""))  # fmt: skip
    blocks = [layers.index(b) for b in result["blocks"]]
    for part, style in (("self_attention", "--"), ("feedforward", ":")):
        axis.plot(blocks, rows[0]["sublayers"][part], style, color="0.4", lw=1,
                  label=f"{part.replace('_', ' ')} at initialisation")  # fmt: skip
    axis.set_yscale("log")
    axis.set_xticks(range(len(layers)))
    axis.set_xticklabels([name.replace("block ", "") for name in layers], rotation=90, fontsize=7)
    axis.set_xlabel("layer (input side left; numbers are decoder blocks)")
    axis.set_ylabel("gradient L2 norm")
    axis.set_title(
        f"{result['model']}: {result['num_layers']} layers, {result['norm_placement']}-norm, "
        f"{result['feedforward']}",
        fontsize=9,
    )
    axis.grid(True, alpha=0.3, which="both")
    axis.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    figure.tight_layout()
    return _save(plt, figure, path)
