"""The figure of a `zoo.tune()` study: its history and its parameters' importance (matplotlib,
from the result's own numbers, so it can be redrawn from the JSON)."""

from zoo.files import check_plot_path
from zoo.scaling.fit_plot import _pyplot, _save


def plot_study(result, path):
    """Left: each trial's loss (pruned ones at their last evaluation, hollow) and the best so
    far; right: the importance of each searched field (Optuna's evaluator; none under 2 complete
    trials). Written atomically to `path` (.png/.svg/.pdf)."""
    path = check_plot_path(path)
    plt = _pyplot()
    figure, (history, importance) = plt.subplots(1, 2, figsize=(11, 4.5), dpi=120)
    rows = [r for r in result["trials"] if r["loss"] is not None]
    complete = [r for r in rows if r["state"] == "complete"]
    history.scatter([r["number"] for r in complete], [r["loss"] for r in complete], s=18,
                    label="complete", zorder=3)  # fmt: skip
    pruned = [r for r in rows if r["state"] != "complete"]
    if pruned:
        history.scatter([r["number"] for r in pruned], [r["loss"] for r in pruned], s=18,
                        facecolors="none", edgecolors="C1", label="pruned or diverged",
                        zorder=3)  # fmt: skip
    best, line = float("inf"), []
    for r in sorted(complete, key=lambda r: r["number"]):
        best = min(best, r["loss"])
        line.append((r["number"], best))
    if line:
        history.step(*zip(*line), where="post", color="C2", label="best so far")
    history.set_xlabel("trial")
    history.set_ylabel("validation loss (nats per token)")
    history.set_title(f"{result['study']}: {result['sampler']} sampler", fontsize=9)
    history.grid(True, alpha=0.3)
    history.legend(fontsize=8)
    scores = result.get("importance") or {}
    names = list(scores)[::-1]
    importance.barh(names, [scores[n] for n in names], color="C0")
    importance.set_xlabel("importance (share of the loss's variance)")
    importance.set_title(
        "parameter importance" if scores else "parameter importance: fewer than 2 complete trials",
        fontsize=9,
    )
    figure.tight_layout()
    return _save(plt, figure, path)


def plot_comparison(result, path):
    """Best loss so far against trials, one line per sampler (the mean over its seeds) with
    its interval as a band, and the reference ± tolerance as a line."""
    path = check_plot_path(path)
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(8, 5), dpi=120)
    c = result["comparison"]
    for i, row in enumerate(c["samplers"]):
        points = [p for p in row["best_after"] if p["mean"] is not None]
        ks = [p["k"] for p in points]
        seeds = f"{row['seeds']} seed" + ("s" if row["seeds"] != 1 else "")
        axes.plot(ks, [p["mean"] for p in points], color=f"C{i % 10}", drawstyle="steps-post",
                  label=f"{row['name']} ({seeds})")  # fmt: skip
        banded = [p for p in points if p["ci"]]
        if banded:
            axes.fill_between([p["k"] for p in banded], [p["ci"][0] for p in banded],
                              [p["ci"][1] for p in banded], color=f"C{i % 10}", alpha=0.15,
                              step="post")  # fmt: skip
    axes.axhline(c["reference"] * (1 + c["tolerance"]), color="grey", linestyle="--",
                 linewidth=1, label=f"within {c['tolerance']:.1%} of the best found")  # fmt: skip
    axes.set_xlabel("trials")
    axes.set_ylabel("best validation loss so far (nats per token)")
    axes.set_title(f"{result['model']}: samplers on one problem, mean over seeds with "
                   f"{c['level']:.0%} intervals", fontsize=9)  # fmt: skip
    axes.grid(True, alpha=0.3)
    axes.legend(fontsize=8)
    return _save(plt, figure, path)


__all__ = ["plot_comparison", "plot_study"]
