"""Epochs at equal compute: repeating a smaller slice of data against fresh data, overfitting,
and what early stopping saves (`zoo sweep epochs`).

Each cell of a compute sweep (an arm's compute-optimal shape at a budget, a seed) becomes:
    passes P     the budget spent as P passes over the first 1/P of the tokens it would see
                 (`RunConfig.passes`; P = 1: each token once);
    fresh f      the same model on a fraction f of the budget, each token once (the fresh-data
                 curve the repeated runs are read against);
    patience     a repeated run again with `--patience K`: where early stopping stops it and
                 what it keeps.
Every run evaluates about `EVALUATIONS` times, so the validation and training losses over the
run show where they part (the training loss is measured on the repeated slice itself).

Muennighoff et al. 2023 (Scaling Data-Constrained Language Models, arXiv:2305.16264): U unique
tokens seen 1 + R times are worth D' = U + U·R*·(1 − e^(−R/R*)) fresh ones, R* ≈ 15.4; so P
passes over D/P tokens are worth the fraction D'/D = (1 + R*(1 − e^(−(P−1)/R*)))/P of D fresh
tokens: about 93% at 4 passes, 66% at 16, 38% at 40. Here the measured fraction is where the
repeated run's loss falls on the fresh curve (`effective_fraction`).
"""

import math

from zoo.experiments.grid import variant_run
from zoo.experiments.intervals import seed_stats

PASSES = (1, 4, 16, 40)
FRACTIONS = (1 / 40, 1 / 16, 1 / 4, 1 / 2)  # fresh data, as fractions of the budget
PATIENCE = 3  # evaluations without improvement before a repeated run stops
EVALUATIONS = 20  # per run: enough points to see the validation loss turn
R_STAR = 15.39  # Muennighoff et al. 2023's fitted R*_D


def muennighoff_fraction(passes, r_star=R_STAR):
    """The fresh-data fraction P passes over 1/P of the data are worth (D'/D, above)."""
    repeats = passes - 1
    return (1 + r_star * (1 - math.exp(-repeats / r_star))) / passes


def repetition_grid(planned, passes=PASSES, fractions=FRACTIONS, patience=PATIENCE):
    """The planned runs of an epochs sweep: for each planned cell, one run per pass count, one
    per fresh fraction (passes 1 of a smaller budget, the cell's shape and rate kept) and one
    with `--patience` per pass count above 1. Each carries `variant` ({"passes", "fraction",
    "patience"}) and evaluates every 1/EVALUATIONS of its steps."""
    grid = []
    materials = {}
    for p in planned:
        variants = [{"passes": k, "fraction": 1.0, "patience": None} for k in passes]
        variants += [{"passes": 1, "fraction": f, "patience": None} for f in fractions]
        variants += [{"passes": k, "fraction": 1.0, "patience": patience} for k in passes if k > 1]
        for variant in variants:
            # A fresh run on a fraction of the budget takes the batch and warmup the grid gives
            # that budget (enough steps to learn at all); the shape and peak rate stay the cell's.
            grid.append(
                variant_run(
                    p,
                    p.flops * variant["fraction"],
                    variant,
                    f"{p.label} {_name(variant)}",
                    materials=materials,
                    evaluations=EVALUATIONS,
                    passes=variant["passes"],
                    patience=variant["patience"],
                    eval_interval=None,
                )
            )
    return grid


def _name(variant):
    if variant["fraction"] != 1.0:
        return f"fresh ×{variant['fraction']:.3g}"
    passes = variant["passes"]
    name = f"{passes:g} pass{'es' * (passes != 1)}"
    return name + (f", patience {variant['patience']}" if variant["patience"] else "")


def summarize(points, curves):
    """The study's tables from its points (each with its `variant`) and `curves` ({run path:
    [evaluation rows]}): per (arm, budget), the fresh curve, each pass count's loss with its
    measured and predicted effective fraction, where its validation loss bottoms out and the
    final gap to the training loss, and what patience stopped and kept."""
    out = []
    for arm, budget in dict.fromkeys((q["arm"], q["budget"]) for q in points):
        cell = [q for q in points if (q["arm"], q["budget"]) == (arm, budget)]

        def losses(variant, cell=cell):
            return [q["loss"] for q in cell if _same(q["variant"], variant)]

        fresh = []
        for fraction in sorted({q["variant"]["fraction"] for q in cell}):
            seen = losses({"passes": 1, "fraction": fraction, "patience": None})
            if seen:
                fresh.append({"fraction": fraction, **seed_stats(seen)})
        repeated = []
        for passes in sorted({q["variant"]["passes"] for q in cell}):
            plain = {"passes": passes, "fraction": 1.0, "patience": None}
            runs = [q for q in cell if _same(q["variant"], plain)]
            if not runs:
                continue
            row = {"passes": passes, **seed_stats([q["loss"] for q in runs])}
            row["predicted_fraction"] = muennighoff_fraction(passes)
            row["effective_fraction"] = effective_fraction(row["mean"], fresh)
            row["epochs"] = sum(q["epochs"] for q in runs) / len(runs)
            row.update(_overfitting([curves.get(q["run"], []) for q in runs]))
            stopped = [
                q for q in cell if q["variant"]["passes"] == passes and q["variant"]["patience"]
            ]
            if stopped:
                row["patience"] = _patience(stopped, runs, curves)
            repeated.append(row)
        out.append({"arm": arm, "budget": budget, "fresh": fresh, "passes": repeated})
    return out


def _same(a, b):
    return all(a.get(k) == v for k, v in b.items())


def effective_fraction(loss, fresh):
    """The fraction of the budget that fresh data needs to reach `loss`, read off the fresh
    curve [{"fraction", "mean"}] by linear interpolation in log fraction; None where `loss` is
    outside the curve's range (it is said so, not extrapolated)."""
    points = sorted((row["fraction"], row["mean"]) for row in fresh)
    for (f0, l0), (f1, l1) in zip(points, points[1:]):
        if min(l0, l1) <= loss <= max(l0, l1) and l0 != l1:
            t = (loss - l0) / (l1 - l0)
            return math.exp(math.log(f0) + t * (math.log(f1) - math.log(f0)))
    return None


def _overfitting(curves):
    """Mean over seeds of: the step where the validation loss is lowest (as a fraction of the
    run), how far it rises after, and the final validation-minus-training gap."""
    rows = []
    for curve in curves:
        evaluated = [r for r in curve if r.get("validation_loss") is not None]
        if not evaluated:
            continue
        best = min(evaluated, key=lambda r: r["validation_loss"])
        last = evaluated[-1]
        rows.append({
            "best_at": best["step"] / last["step"],
            "rise_after_best": last["validation_loss"] - best["validation_loss"],
            "final_gap": last["validation_loss"] - last["train_loss"],
        })  # fmt: skip
    if not rows:
        return {}
    return {k: sum(r[k] for r in rows) / len(rows) for k in rows[0]}


def _patience(stopped, full, curves):
    """What patience did, mean over seeds: the fraction of the steps it trained, its final
    loss (the best evaluation, restored) against the full run's, and how many stopped."""
    by_seed = {q["seed"]: q for q in full}
    rows = []
    for q in stopped:
        whole = by_seed.get(q["seed"])
        if whole is None:
            continue
        rows.append({
            "steps_fraction": q["steps"] / whole["steps"],
            "loss": q["loss"],
            "loss_minus_full": q["loss"] - whole["loss"],
            "stopped_early": bool(q["stopped_early"]),
        })  # fmt: skip
    if not rows:
        return None
    n = len(rows)
    return {
        "patience": stopped[0]["variant"]["patience"],
        "steps_fraction": sum(r["steps_fraction"] for r in rows) / n,
        "loss": sum(r["loss"] for r in rows) / n,
        "loss_minus_full": sum(r["loss_minus_full"] for r in rows) / n,
        "stopped": sum(r["stopped_early"] for r in rows),
        "seeds": n,
    }
