"""The epochs study's figure: per budget, validation (solid) and training (dashed) loss over the
run for each pass count, seed 0's runs; and the fresh-data fraction each pass count is worth,
measured against Muennighoff et al.'s prediction."""

from zoo.experiments.repetition import muennighoff_fraction


def plot_epochs(sweep, path):
    """Write the figure to `path` (.png/.svg/.pdf); returns the path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    cells = sweep["epochs"]
    fig, axes = plt.subplots(1, len(cells) + 1, figsize=(5 * (len(cells) + 1), 4.2))
    colours = plt.get_cmap("viridis")
    passes = sorted({row["passes"] for cell in cells for row in cell["passes"]})
    for ax, cell in zip(axes, cells):
        for k, count in enumerate(passes):
            point = next(
                (q for q in sweep["points"] if (q["arm"], q["budget"]) == (cell["arm"], cell["budget"])
                 and q["seed"] == 0 and q["variant"] == {"passes": count, "fraction": 1.0,
                                                          "patience": None}),
                None,
            )  # fmt: skip
            curve = sweep["curves"].get(point["run"], []) if point else []
            rows = [r for r in curve if r.get("validation_loss") is not None]
            if not rows:
                continue
            colour = colours(k / max(1, len(passes) - 1))
            tokens = [r["tokens"] for r in rows]
            ax.plot(tokens, [r["validation_loss"] for r in rows], color=colour,
                    label=f"{count:g} pass{'es' * (count != 1)}")  # fmt: skip
            ax.plot(tokens, [r["train_loss"] for r in rows], color=colour, linestyle="--")
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())  # labels overlapped
        ax.set_xlabel("tokens seen")
        ax.set_ylabel("loss (nats/token); dashed: training")
        ax.set_title(f"{cell['arm']} @ {cell['budget']:.0e} FLOPs, seed 0")
        ax.legend(fontsize=8)
    ax = axes[-1]
    grid = [1 + i * (max(passes) - 1) / 100 for i in range(101)]
    ax.plot(grid, [muennighoff_fraction(p) for p in grid], color="grey",
            label="Muennighoff et al. (R* = 15.4)")  # fmt: skip
    for cell in cells:
        shown = [(r["passes"], r["effective_fraction"]) for r in cell["passes"]
                 if r["effective_fraction"] is not None]  # fmt: skip
        if shown:
            ax.plot(
                *zip(*shown), marker="o", linestyle="", label=f"measured @ {cell['budget']:.0e}"
            )
    ax.set_xscale("log")
    ax.set_xlabel("passes over the data")
    ax.set_ylabel("fresh-data fraction it is worth")
    ax.set_ylim(0, max(1.05, *(r["effective_fraction"] or 0 for c in cells for r in c["passes"])))
    ax.axhline(1, color="black", linewidth=0.5)
    ax.legend(fontsize=8)
    ax.set_title("what repetition is worth")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


__all__ = ["plot_epochs"]
