"""The continued-training study's figure (`zoo sweep continued --plot`): per budget, seed 0's
validation loss against the budget's tokens spent, for the first run (the "released weights",
on the first fraction), its continuation on the rest, a fresh model on the same rest (drawn
from where the first run stopped, so equal data lines up) and the uninterrupted run; then each
budget's two differences (continued - whole, continued - scratch) with every seed and the
interval over seeds, so "inside the noise" reads off the figure."""

from zoo.scaling.fit_plot import _pyplot, _save, check_plot_path

ROLES = (  # (role, label, colour, line style)
    ("whole", "one uninterrupted run", "black", "-"),
    ("first", "first run (released weights)", "C0", "-"),
    ("continued", "continued from them, rate rewarmed", "C0", "--"),
    ("scratch", "fresh model on the same rest", "C3", ":"),
)
DIFFERENCES = (
    ("continued_minus_whole", "continued − whole"),
    ("continued_minus_scratch", "continued − scratch"),
)


def plot_continued(sweep, path):
    """Write the figure to `path` (.png/.svg/.pdf); returns the path."""
    path = check_plot_path(path)
    plt = _pyplot()
    cells = sweep["continued"]
    figure, axes = plt.subplots(1, len(cells) + 1, figsize=(5.2 * (len(cells) + 1), 4.4))
    for ax, cell in zip(axes, cells):
        points = {
            p["variant"]["role"]: p
            for p in sweep["points"]
            if (p["arm"], p["budget"], p["seed"]) == (cell["arm"], cell["budget"], 0)
        }
        first_tokens = points["first"]["tokens"] if "first" in points else 0
        for role, label, colour, style in ROLES:
            point = points.get(role)
            curve = sweep["curves"].get(point["run"], []) if point else []
            rows = [r for r in curve if r.get("validation_loss") is not None]
            if not rows:
                continue
            offset = first_tokens if role in ("continued", "scratch") else 0
            ax.plot([offset + r["tokens"] for r in rows], [r["validation_loss"] for r in rows],
                    style, color=colour, label=label)  # fmt: skip
        ax.axvline(first_tokens, color="grey", linewidth=0.6)
        ax.set_xscale("log")
        ax.set_xlabel("tokens of the budget spent")
        ax.set_ylabel("validation loss (nats/token)")
        ax.set_title(f"{cell['arm']} @ {cell['budget']:.0e} FLOPs, seed 0", fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    ax = axes[-1]
    for offset, (key, label) in zip((-0.08, 0.08), DIFFERENCES):
        for i, cell in enumerate(cells):
            stats = cell[key]
            if stats["mean"] is None:  # a failed run leaves a cell without this difference
                continue
            x, mean = i + offset, stats["mean"]
            low, high = stats["interval"] or (mean, mean)  # one seed: no interval to draw
            ax.errorbar([x], [mean], yerr=[[mean - low], [high - mean]], fmt="o", capsize=4,
                        color="C0" if key.endswith("whole") else "C3",
                        label=label if i == 0 else None)  # fmt: skip
            ax.plot([x] * len(stats["values"]), stats["values"], "_", color="grey", markersize=10)
    ax.axhline(0, color="black", linewidth=0.6)
    ax.set_xticks(range(len(cells)), [f"{c['budget']:.0e}" for c in cells])
    ax.set_xlabel("budget (FLOPs)")
    ax.set_ylabel("difference in final validation loss (nats/token)")
    seeds = max(c["continued"]["seeds"] for c in cells)
    ax.set_title(f"mean over {seeds} seeds, 95% t-interval; each seed a dash", fontsize=10)
    ax.legend(fontsize=8)
    figure.suptitle(
        f"continued training: the first {sweep['fraction']:g} of each budget, then the rest",
        fontsize=10,
    )
    return _save(plt, figure, path)


__all__ = ["plot_continued"]
