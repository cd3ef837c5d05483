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


__all__ = ["plot_study"]
