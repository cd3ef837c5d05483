"""A rates sweep's grid as measured (`zoo sweep rates --plot`): per budget, each arm's final
validation loss against its peak learning rate (every seed a dot, the mean over seeds a line),
and, where the runs carry them, the output logits' state at the end (mean log Z, the softmax's
normaliser, on the probe batch, and the largest |logit|): what PaLM's z-loss watches. A check
sweep (`--check`) marks the rule's predicted rate. The fitted law in compute is `zoo fit
--law rates --plot`'s figure; this one shows the runs it is fitted through."""

from zoo.scaling.fit_plot import _pyplot, _save, check_plot_path

ROWS = (  # (point field, axis label); the first is always drawn, the rest where present
    ("loss", "final validation loss (nats/token)"),
    ("output_log_z", "output log Z on the probe batch (mean)"),
    ("output_max_abs_logit", "largest |logit| on the probe batch"),
)


def plot_rate_grid(sweep, path):
    """Write the figure to `path` (.png/.svg/.pdf); returns the path."""
    path = check_plot_path(path)
    points = [p for p in sweep["points"] if p.get("loss") is not None]
    budgets = sorted({p["budget"] for p in points})
    rows = [(key, label) for i, (key, label) in enumerate(ROWS)
            if i == 0 or any(p.get(key) is not None for p in points)]  # fmt: skip
    plt = _pyplot()
    # One budget (a check sweep): its quantities side by side rather than stacked.
    shape = (1, len(rows)) if len(budgets) == 1 else (len(rows), len(budgets))
    figure, grid = plt.subplots(*shape, squeeze=False, figsize=(5.5 * shape[1], 3.8 * shape[0]))
    arms = list(dict.fromkeys(p["arm"] for p in points))
    predicted = {
        (a["arm"], a["budget"]): a["predicted_learning_rate"]
        for a in (sweep.get("fits", {}).get("check") or {}).get("arms", [])
    }
    for column, budget in enumerate(budgets):
        for row, (key, label) in enumerate(rows):
            ax = grid[0][row] if len(budgets) == 1 else grid[row][column]
            for i, arm in enumerate(arms):
                colour = f"C{i % 10}"
                mine = [p for p in points if p["arm"] == arm and p["budget"] == budget
                        and p.get(key) is not None]  # fmt: skip
                if not mine:
                    continue
                ax.plot([p["learning_rate"] for p in mine], [p[key] for p in mine], "o",
                        color=colour, alpha=0.5, markersize=4)  # fmt: skip
                rates = sorted({p["learning_rate"] for p in mine})
                means = [
                    sum(v := [p[key] for p in mine if p["learning_rate"] == r]) / len(v)
                    for r in rates
                ]
                ax.plot(rates, means, "-", color=colour, label=str(arm))
                if (arm, budget) in predicted:
                    ax.axvline(predicted[(arm, budget)], color=colour, linestyle=":",
                               linewidth=1)  # fmt: skip
            ax.set_xscale("log")
            ax.set_xlabel("peak learning rate")
            ax.set_ylabel(label)
            ax.grid(True, which="both", alpha=0.3)
            if row == 0 or len(budgets) == 1:
                ax.set_title(f"{budget:.0e} FLOPs", fontsize=10)
                ax.legend(fontsize=8)
    seeds = sweep.get("seeds", 1)
    figure.suptitle(
        f"rates grid: each run a dot ({seeds} seed{'s' * (seeds != 1)} per rate), the mean "
        "over seeds a line" + ("\ndotted: the rule's predicted rate" if predicted else ""),
        fontsize=10,
    )
    return _save(plt, figure, path)


__all__ = ["plot_rate_grid"]
