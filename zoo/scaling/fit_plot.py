"""Figures of the scaling fits (matplotlib, imported on first use; files only, the Agg backend).

Each takes a fit's result, the points it was fitted to (dicts or a path) and a .png/.svg/.pdf
path, and writes the file atomically. `baseline` draws a horizontal reference line on the loss
axes: a loss value, a `(value, label)` pair or a dict with `loss` (or `value`) and `label`,
e.g. an n-gram model's loss. A fit that could not be made, `{'error': why}` (as a sweep records
it), draws the points alone, titled with why.
"""

import math
import textwrap

import numpy as np

# check_plot_path: the one --plot check (`zoo compare` makes it too), free of Keras.
from zoo.files import atomic_path, check_plot_path
from zoo.scaling import points as _points
from zoo.scaling.fit import predict_compute, predict_parametric

LAWS = ("parametric", "isoflop", "compute", "rates")


def plot_fit(law, fit, points, path, baseline=None):
    """Write the figure of a `law` fit (see the functions below)."""
    plotters = {
        "parametric": plot_parametric,
        "isoflop": plot_isoflop,
        "compute": plot_compute,
        "rates": plot_rates,
    }
    return plotters[law](fit, points, path, baseline=baseline)


def plot_parametric(fit, points, path, baseline=None):
    """Loss against tokens, one colour per model size, with the fitted L(N, D) through each."""
    path = check_plot_path(path)
    points, _ = _points.load_points(points)
    plt = _pyplot()
    n = np.array(_points.sizes(points, fit.get("params_convention", "total")))
    d = np.array(_points.tokens(points))
    loss = np.array([p["loss"] for p in points])
    figure, axes = plt.subplots(figsize=(8, 5), dpi=120)
    sizes = sorted(set(n.tolist()))
    colours = plt.cm.viridis(np.linspace(0, 0.9, len(sizes)))
    span = np.geomspace(d.min() / 1.5, d.max() * 1.5, 100)
    for size, colour in zip(sizes, colours):
        mine = n == size
        axes.scatter(
            d[mine],
            loss[mine],
            color=colour,
            s=14,
            zorder=3,
            label=f"N = {size:.3g}" if "error" in fit else None,
        )
        if "error" not in fit:
            axes.plot(
                span,
                predict_parametric(fit, size, span),
                color=colour,
                linewidth=1,
                label=f"N = {size:.3g}",
            )
    _baseline(axes, baseline)
    axes.set_xscale("log")
    axes.set_xlabel("training tokens D")
    axes.set_ylabel("loss (nats per token)")
    axes.set_title(
        _not_fitted("L(N, D)", fit)
        if "error" in fit
        else f"L(N, D) = {fit['E']:.3g} + {fit['A']:.3g}/N^{fit['alpha']:.3f} + "
        f"{fit['B']:.3g}/D^{fit['beta']:.3f}" + _allocation(fit),
        fontsize=9,
    )
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize=7, ncol=2 if len(sizes) > 8 else 1)
    return _save(plt, figure, path)


def plot_isoflop(fit, points, path, baseline=None):
    """Left: loss against N per budget with each budget's parabola and optimum; right: N_opt
    (and D_opt) against C with the fitted power laws."""
    path = check_plot_path(path)
    points, _ = _points.load_points(points)
    plt = _pyplot()
    n = np.array(_points.sizes(points, fit.get("params_convention", "total")))
    loss = np.array([p["loss"] for p in points])
    compute, _ = _points.flops(points, fit.get("flops_convention", "palm"))
    groups = _points.budget_groups(points, compute)
    if "error" in fit:
        return _points_alone(
            plt,
            fit,
            n,
            loss,
            groups,
            "parameters N",
            path,
            baseline,
            title="IsoFLOP points",
            key="C = ",
        )
    figure, (valleys, optima) = plt.subplots(1, 2, figsize=(12, 5), dpi=120)
    budgets = fit["budgets"]
    colours = plt.cm.plasma(np.linspace(0, 0.85, max(len(budgets), 1)))
    for budget, colour in zip(budgets, colours):
        members = groups.get(budget["budget"], [])
        valleys.scatter(n[members], loss[members], color=colour, s=14, zorder=3)
        x = np.log(n[members])
        grid = np.linspace(x.min(), x.max(), 100)
        valleys.plot(
            np.exp(grid),
            np.polyval(budget["parabola"], grid),
            color=colour,
            linewidth=1,
            linestyle="--" if budget["edge"] else "-",
            label=f"C = {budget['flops']:.2g}" + (" (edge)" if budget["edge"] else ""),
        )
        valleys.scatter(
            [budget["n_opt"]],
            [budget["loss_opt"]],
            color=colour,
            marker="*",
            s=80,
            edgecolor="black",
            linewidth=0.5,
            zorder=4,
        )
    _baseline(valleys, baseline)
    valleys.set_xscale("log")
    valleys.set_xlabel("parameters N")
    valleys.set_ylabel("loss (nats per token)")
    valleys.set_title("IsoFLOP valleys (★ the parabola's minimum)", fontsize=9)
    valleys.grid(True, which="both", alpha=0.3)
    valleys.legend(fontsize=7)

    c = np.array([b["flops"] for b in budgets])
    used = np.array([b["used"] for b in budgets])
    span = np.geomspace(c.min() / 2, c.max() * 2, 50)
    for key, exponent, marker, name in (("n_opt", "a", "o", "N_opt"), ("d_opt", "b", "s", "D_opt")):
        values = np.array([b[key] for b in budgets])
        coefficient = fit[f"{key[0]}_coefficient"]
        (line,) = optima.plot(
            span,
            coefficient * span ** fit[exponent],
            linewidth=1,
            label=f"{name} ∝ C^{fit[exponent]:.3f} {_ci(fit, exponent)}",
        )
        optima.scatter(c[used], values[used], color=line.get_color(), marker=marker, zorder=3)
        if (~used).any():
            optima.scatter(
                c[~used],
                values[~used],
                facecolors="none",
                edgecolors=line.get_color(),
                marker=marker,
                zorder=3,
            )
    optima.set_xscale("log")
    optima.set_yscale("log")
    optima.set_xlabel(f"compute C (FLOPs, {fit.get('flops_convention', 'palm')} convention)")
    optima.set_ylabel("compute-optimal N and D")
    optima.set_title(
        f"tokens per parameter at the optimum ≈ {fit['tokens_per_parameter']:.3g}", fontsize=9
    )
    optima.grid(True, which="both", alpha=0.3)
    optima.legend(fontsize=8)
    return _save(plt, figure, path)


def plot_compute(fit, points, path, baseline=None, unit="nats per token"):
    """Loss against compute per arm, with each arm's fitted L(C) and multiplier; `unit` names
    what the points' loss is in (bits per byte where tokenizers differ)."""
    path = check_plot_path(path)
    points, _ = _points.load_points(points)
    plt = _pyplot()
    compute, _ = _points.flops(points, fit.get("flops_convention", "palm"))
    compute = np.array(compute)
    loss = np.array([p["loss"] for p in points])
    members = _points.arms(points)
    if "error" in fit:
        return _points_alone(
            plt,
            fit,
            compute,
            loss,
            members,
            f"compute C (FLOPs, {fit.get('flops_convention', 'palm')} convention)",
            path,
            baseline,
            title="loss against compute",
            unit=unit,
        )
    trends = [a for a in fit["arms"] if a["verdict"] != "baseline" and len(_by_budget(a)) >= 2]
    if trends:  # the effect as a trend: a second panel, the multiplier at every budget
        figure, (axes, right) = plt.subplots(1, 2, figsize=(15, 5.5), dpi=120)
        _multipliers(right, trends, fit)
    else:
        figure, axes = plt.subplots(figsize=(8, 5), dpi=120)
    span = np.geomspace(compute.min() / 1.5, compute.max() * 1.5, 100)
    for arm in fit["arms"]:
        mine = members.get(arm["name"], [])
        label = arm["name"]
        if arm["verdict"] != "baseline":
            low, high = arm["multiplier_ci"] or (None, None)
            label += (
                f": ×{_number(arm['multiplier'])} [{_number(low)}, {_number(high)}] "
                f"{arm['verdict']}"
            )
        colour = _arm_colour(fit, arm)
        axes.scatter(compute[mine], loss[mine], s=14, zorder=3, color=colour)
        axes.plot(
            span,
            predict_compute(arm, span),
            color=colour,
            linewidth=1,
            label=f"{label} ({arm['form']})",
        )
    _baseline(axes, baseline)
    axes.set_xscale("log")
    axes.set_xlabel(f"compute C (FLOPs, {fit.get('flops_convention', 'palm')} convention)")
    axes.set_ylabel(f"loss ({unit})")
    axes.set_title(f"loss against compute; multipliers against {fit['baseline']!r}", fontsize=9)
    axes.grid(True, which="both", alpha=0.3)
    _legend(axes, len(fit["arms"]))
    return _save(plt, figure, path)


def _arm_colour(fit, arm):
    """The arm's colour in both of a compute figure's panels: matplotlib's cycle by its place."""
    return f"C{[a['name'] for a in fit['arms']].index(arm['name']) % 10}"


def _by_budget(arm):
    """An arm's per-budget multipliers that can be drawn (a number, finite and positive)."""
    return [
        r
        for r in arm.get("by_budget") or []
        if r.get("multiplier") is not None
        and math.isfinite(r["multiplier"])
        and r["multiplier"] > 0
    ]


def _multipliers(axes, arms, fit):
    """Each arm's multiplier against the baseline at every budget with its interval, one line
    per arm, and its trend (stable, shrinking, growing, sign flips) in the legend."""
    for i, arm in enumerate(arms):
        rows = _by_budget(arm)
        x = np.array([r.get("compute", r["budget"]) for r in rows])
        x = x * (1 + 0.03 * (i - len(arms) / 2))  # arms side by side, not on top of each other
        y = np.array([r["multiplier"] for r in rows])
        low = np.array([(r.get("multiplier_ci") or [m, m])[0] or m for r, m in zip(rows, y)])
        high = np.array([(r.get("multiplier_ci") or [m, m])[1] or m for r, m in zip(rows, y)])
        trend = arm.get("trend") or {}
        label = arm["name"]
        if trend.get("verdict"):
            label += f": {trend['verdict']}"
            if trend.get("at_top") is not None:
                label += f", its line at ×{_number(trend['at_top'])} at the top budget"
        axes.errorbar(x, y, yerr=[y - np.minimum(low, y), np.maximum(high, y) - y], marker="o",
                      markersize=4, capsize=3, linewidth=1, label=label,
                      color=_arm_colour(fit, arm))  # fmt: skip
    axes.axhline(1, color="grey", linewidth=1, linestyle=":", label=f"{fit['baseline']} (×1)")
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("compute C (FLOPs) of the budget")
    axes.set_ylabel(f"compute multiplier against {fit['baseline']!r}")
    axes.set_title(
        "the multiplier at every budget, 95% interval: the compute the baseline's\ncurve needs "
        "to reach the arm's loss at that budget, over the budget",
        fontsize=9,
    )
    axes.grid(True, which="both", alpha=0.3)
    _legend(axes, len(arms) + 1)


def plot_rates(fit, points, path, baseline=None):
    """Peak learning rate against compute, one colour per arm: every grid run as a ring, the
    near-optimal ones filled, and the fitted η_opt = a·C^b through them (DeepSeek LLM's figure).
    `baseline` does not apply: the axes hold rates, not losses."""
    from zoo.scaling.hyperparameters import predict_rule, rule_points

    path = check_plot_path(path)
    rows = rule_points(_points.load_points(points)[0])
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(8, 5), dpi=120)
    budgets = np.array([r["budget"] for r in rows], dtype=float)
    span = np.geomspace(budgets.min() / 1.5, budgets.max() * 1.5, 50)
    for i, arm in enumerate(fit.get("arms", [])):
        colour = f"C{i % 10}"  # matplotlib's cycle, named: a ring has no face to take it from
        mine = [r for r in rows if str(r["arm"]) == arm["name"]]
        axes.scatter([r["budget"] for r in mine], [r["learning_rate"] for r in mine],
                             s=16, facecolors="none", edgecolors=colour, zorder=3)  # fmt: skip
        near = arm["near_optimal"]
        axes.scatter([c["budget"] for c in near], [c["learning_rate"] for c in near], s=22,
                     color=colour, zorder=4)  # fmt: skip
        line = arm["learning_rate"]
        if line is not None:
            low, high = line["b_ci"] or (None, None)
            axes.plot(span, [predict_rule(line, c) for c in span], color=colour, linewidth=1,
                      label=f"{arm['name']}: b = {_number(line['b'])} "
                            f"[{_number(low)}, {_number(high)}]")  # fmt: skip
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("compute C (FLOPs)")
    axes.set_ylabel("peak learning rate")
    axes.set_title(
        f"η_opt = a·C^b through the near-optimal runs (filled; within "
        f"{fit.get('tolerance', 0):.2%} of the budget's best loss)",
        fontsize=9,
    )
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize=8)
    return _save(plt, figure, path)


def _points_alone(
    plt, fit, x, loss, groups, xlabel, path, baseline, *, title, key="", unit="nats per token"
):
    """The points of a fit that could not be made, one colour per group ({name: indices}),
    titled with the reason."""
    figure, axes = plt.subplots(figsize=(8, 5), dpi=120)
    x = np.asarray(x)
    for name, members in groups.items():
        axes.scatter(
            x[members],
            loss[members],
            s=14,
            zorder=3,
            label=key + (_points.label(name) if key else str(name)),
        )
    _baseline(axes, baseline)
    axes.set_xscale("log")
    axes.set_xlabel(xlabel)
    axes.set_ylabel(f"loss ({unit})")
    axes.set_title(_not_fitted(title, fit), fontsize=9)
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize=8)
    return _save(plt, figure, path)


def _not_fitted(title, fit):
    return textwrap.fill(f"{title}: not fitted ({fit['error']})", 100)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only; never needs a display
    import matplotlib.pyplot as plt

    return plt


def _legend(axes, entries):
    """Inside the axes for a few entries; below them for many, where it would hide the points
    (a study of nine arms)."""
    if entries <= 5:
        axes.legend(fontsize=8)
    else:
        axes.legend(fontsize=7, loc="upper left", bbox_to_anchor=(0, -0.14), frameon=False)


def _save(plt, figure, path):
    figure.tight_layout()
    try:
        with atomic_path(path) as tmp:
            # bbox "tight": a legend placed below the axes is inside the file
            figure.savefig(tmp, format=path.suffix.lower().lstrip("."), bbox_inches="tight")
    finally:
        plt.close(figure)
    return path


def _baseline(axes, baseline):
    if baseline is None:
        return
    if isinstance(baseline, dict):
        value = baseline.get("loss", baseline.get("value"))
        label = baseline.get("label", "baseline")
    elif isinstance(baseline, (tuple, list)):
        value, label = baseline
    else:
        value, label = baseline, "baseline"
    axes.axhline(
        float(value),
        color="grey",
        linestyle=":",
        linewidth=1.2,
        label=f"{label} ({float(value):.3f})",
    )


def _allocation(fit):
    if fit.get("a") is None:
        return ""
    return f"\nN_opt ∝ C^{fit['a']:.3f} {_ci(fit, 'a')}"


def _ci(fit, key):
    ci = fit.get(f"{key}_ci")
    if not ci or None in ci:
        return ""
    return f"[{ci[0]:.3f}, {ci[1]:.3f}]"


def _number(value):
    return "∞" if value is None else f"{value:.3g}"
