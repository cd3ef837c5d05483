"""Learning rate and batch as power laws in compute, fitted from full-length grids.

The procedure is DeepSeek LLM's (DeepSeek-AI 2024, arXiv:2401.02954, §3.1): at each of several
small budgets, a grid of (peak learning rate, batch) runs, each trained to the budget's full
length; the runs whose loss lies within `tolerance` (0.25%) of that budget's best are
"near-optimal"; then η_opt = a·C^b and B_opt = c·C^d are straight lines in log-log through the
near-optimal runs of every budget (least squares). DeepSeek's fit over 1e17–2e19 FLOPs was
η_opt = 0.3118·C^−0.125 and B_opt = 0.2920·C^0.3271 (batch in tokens). The rule is then
extrapolated to larger budgets, where a small grid checks it (`check_rule`).

Seeds of one (budget, rate, batch) cell are averaged (geometric mean of the loss) before the
band is drawn. DeepSeek's 0.25% was drawn where one run's loss hardly moves from seed to seed; at
small scale it moves by more than that, and a band narrower than the noise keeps one run per
budget, chosen by its seed. So the band can be set from measured seed noise instead
(`seed_noise`, `noise_tolerance`): a run is near-optimal when it is not worse than the best at
one-sided 95%, both single runs. Intervals: the near-optimal runs are resampled within each budget (a stratified
case bootstrap), so every replicate keeps every budget. Pure numpy; no Keras.
"""

import math

import numpy as np

from zoo.errors import FieldError, ZooError

NEAR_OPTIMAL = 0.0025  # DeepSeek LLM: within 0.25% of the budget's best loss
LEVEL = 0.95
NOISE_Z = 1.645  # one-sided 95% of the normal: how far above the best a run is worse, not unlucky


def fit_hyperparameter_rule(points, *, tolerance=None, noise=None, bootstrap=1000, seed=0,
                            level=LEVEL, progress=None):  # fmt: skip
    """The rule fitted to grid `points` (dicts with `budget` in FLOPs, `learning_rate`, `loss`
    and, where the batch was varied, `batch_tokens`), one rule per `arm` (the first arm's
    procedure is every arm's). The near-optimal band is `tolerance` (a fraction; DeepSeek's
    0.25% when neither is given) or the one `noise` allows (`seed_noise`'s result, measured on
    these points or on another sweep: `noise_tolerance`). Returns {'arms': [{'name', 'budgets',
    'near_optimal': [cells], 'learning_rate': {'a', 'b', 'a_ci', 'b_ci'}, 'batch_tokens': the
    same or None when one batch was tried, 'learning_rate_in_params': η_opt = a·N^b through the
    same runs against their model's parameters N where the points carry `params` (Porian et
    al.'s form; None otherwise)}], 'tolerance', 'noise' (what set it, or None),
    'seed_noise' (these points' own, or None), 'bootstrap', 'level'}."""
    if tolerance is not None and noise is not None:
        raise FieldError("tolerance", "and noise both set the near-optimal band: give one")
    if noise is not None:
        tolerance = noise_tolerance(noise["sigma"])
    elif tolerance is None:
        tolerance = NEAR_OPTIMAL
    if (isinstance(tolerance, bool) or not isinstance(tolerance, (int, float))
            or not 0 <= tolerance < 1):  # fmt: skip
        raise FieldError("tolerance", f"must be a fraction in [0, 1); received {tolerance!r}")
    arms = {}
    for point in points:
        arms.setdefault(str(point.get("arm", "all")), []).append(point)
    rng = np.random.default_rng(seed)
    # The fits against parameters draw from a generator of their own, so that adding them left
    # every fit in compute (and the rules committed before them) exactly as it was.
    rng_params = np.random.default_rng([seed, 1])
    fitted = []
    for name, rows in arms.items():
        fitted.append(_fit_arm(name, rows, tolerance, bootstrap, (rng, rng_params), level))
        if progress is not None:
            progress(len(fitted) * int(bootstrap), len(arms) * int(bootstrap))
    return {
        "arms": fitted,
        "notes": [note for arm in fitted for note in arm["notes"]],  # what the tables print
        "tolerance": tolerance,
        "noise": noise,
        "seed_noise": seed_noise(points),
        "bootstrap": int(bootstrap),
        "level": level,
    }


def fit_rates(points, *, tolerance=None, noise=None, bootstrap=1000, seed=0, progress=None):
    """`fit_hyperparameter_rule` on a rates sweep's points (`rule_points`): `zoo fit --law
    rates`, which refits a finished grid with another band without training anything."""
    rows = rule_points(points)
    if not rows:
        raise ZooError("no finished grid runs to fit (every point's loss is missing)")
    return fit_hyperparameter_rule(rows, tolerance=tolerance, noise=noise, bootstrap=bootstrap,
                                   seed=seed, progress=progress)  # fmt: skip


def rule_points(points):
    """A rates sweep's points as `fit_hyperparameter_rule` reads them: validation loss, the
    peak rate and the batch in tokens, per arm, budget (and seed); failed runs left out."""
    return [
        {
            "arm": p.get("arm", "all"),
            "budget": p.get("budget"),
            "seed": p.get("seed"),
            "learning_rate": p.get("learning_rate"),
            "batch_tokens": p.get("batch_tokens"),
            "params": p.get("params"),
            "loss": p.get("loss"),
        }
        for p in points
        if p.get("loss") is not None
    ]


def seed_noise(points):
    """How far one run's loss moves from seed to seed: the pooled standard deviation of ln(loss)
    within every (arm, budget, rate, batch) cell run with 2 seeds or more (a relative spread;
    pooled: the within-cell sums of squares over their degrees of freedom). Returns {'sigma',
    'cells', 'runs', 'df'}, or None when no cell repeats."""
    cells = {}
    for point in points:
        loss = point.get("loss")
        if not isinstance(loss, (int, float)) or not math.isfinite(loss) or loss <= 0:
            continue  # a failed run measures no noise
        key = (str(point.get("arm", "all")), float(point["budget"]),
               float(point["learning_rate"]), point.get("batch_tokens"))  # fmt: skip
        cells.setdefault(key, []).append(math.log(loss))
    repeated = [values for values in cells.values() if len(values) > 1]
    if not repeated:
        return None
    squares = sum(float(np.sum((np.array(v) - np.mean(v)) ** 2)) for v in repeated)
    df = sum(len(v) - 1 for v in repeated)
    return {
        "sigma": math.sqrt(squares / df),
        "cells": len(repeated),
        "runs": sum(len(v) for v in repeated),
        "df": df,
    }


def noise_tolerance(sigma):
    """The near-optimal band that seed noise `sigma` (of ln loss) allows between single runs:
    the difference of two runs spreads by √2·σ, so a run within z·√2·σ of the best (z one-sided
    95%) is not shown worse than it; never narrower than DeepSeek's 0.25%."""
    if not isinstance(sigma, (int, float)) or not math.isfinite(sigma) or sigma < 0:
        raise FieldError("noise", f"needs a finite spread of 0 or more; received {sigma!r}")
    return max(NEAR_OPTIMAL, math.expm1(NOISE_Z * math.sqrt(2) * sigma))


def predict_rule(line, flops):
    """a·C^b of one fitted line (`learning_rate` or `batch_tokens` of an arm)."""
    return line["a"] * float(flops) ** line["b"]


def check_rule(rule, points, *, tolerance=NEAR_OPTIMAL):
    """The rule against a check grid at a larger budget (points as for the fit, one budget):
    the grid's best rate, the rule's rate and their ratio, and whether the grid cell nearest the
    rule's rate (in log) is near-optimal there."""
    cells = _cells(points)
    budgets = {c["budget"] for c in cells}
    if len(budgets) != 1:
        raise ZooError(f"a check grid is one budget; received {len(budgets)}")
    (budget,) = budgets
    best = min(cells, key=lambda c: c["loss"])
    predicted = predict_rule(rule["learning_rate"], budget)
    nearest = min(cells, key=lambda c: abs(math.log(c["learning_rate"] / predicted)))
    return {
        "budget": budget,
        "best_learning_rate": best["learning_rate"],
        "predicted_learning_rate": predicted,
        "ratio": predicted / best["learning_rate"],
        "nearest_loss_excess": nearest["loss"] / best["loss"] - 1,
        "near_optimal": nearest["loss"] <= best["loss"] * (1 + tolerance),
    }


def _fit_arm(name, rows, tolerance, bootstrap, generators, level):
    rng, rng_params = generators
    cells = _cells(rows)
    by_budget = {}
    for cell in cells:
        by_budget.setdefault(cell["budget"], []).append(cell)
    if len(by_budget) < 2:
        raise ZooError(f"arm {name!r}: a rule in compute needs grids at 2 budgets or more")
    near, notes = [], []
    for budget, group in by_budget.items():
        best = min(group, key=lambda c: c["loss"])
        near.append([c for c in group if c["loss"] <= best["loss"] * (1 + tolerance)])
        for field, what in (("learning_rate", "rate"), ("batch_tokens", "batch")):
            tried = {c[field] for c in group}
            if len(tried) > 2 and best[field] in (min(tried), max(tried)):
                notes.append(
                    f"arm {name!r} at {budget:.3g} FLOPs: the best {what} ({best[field]:.3g}) is "
                    "at the edge of the grid, so the optimum may lie outside it: widen the grid"
                )
    if all(len(group) == 1 for group in near):
        notes.append(
            f"arm {name!r}: one near-optimal run per budget, so the line passes through single "
            "runs and its interval shows no noise: more seeds or budgets"
        )
    result = {"name": name, "budgets": sorted(by_budget), "near_optimal": sum(near, []),
              "notes": notes}  # fmt: skip
    for field in ("learning_rate", "batch_tokens"):
        if any(c[field] is None for c in cells) or len({c[field] for c in cells}) < 2:
            result[field] = None  # not varied: nothing to fit
            continue
        a, b = _line(near, field)
        replicates = [_line([[g[i] for i in rng.integers(0, len(g), len(g))] for g in near],
                            field) for _ in range(int(bootstrap))]  # fmt: skip
        result[field] = {
            "a": a,
            "b": b,
            "a_ci": _interval([r[0] for r in replicates], level),
            "b_ci": _interval([r[1] for r in replicates], level),
        }
    result["learning_rate_in_params"] = None
    sizes = [c["params"] for c in cells]
    if result["learning_rate"] is not None and None not in sizes and len(set(sizes)) > 1:
        a, b = _line(near, "learning_rate", x="params")
        replicates = [_line([[g[i] for i in rng_params.integers(0, len(g), len(g))]
                             for g in near], "learning_rate", x="params")
                      for _ in range(int(bootstrap))]  # fmt: skip
        result["learning_rate_in_params"] = {
            "a": a,
            "b": b,
            "a_ci": _interval([r[0] for r in replicates], level),
            "b_ci": _interval([r[1] for r in replicates], level),
        }
    return result


def _cells(rows):
    """Seeds of one (arm, budget, rate, batch) cell merged: the geometric mean of their loss,
    and the model's size there (`params`: one shape per arm and budget; None when unknown)."""
    cells, sizes = {}, {}
    for row in rows:
        for field in ("budget", "learning_rate", "loss"):
            value = row.get(field)
            if not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
                raise FieldError(field, f"must be a positive, finite number; received {value!r}")
        key = (float(row["budget"]), float(row["learning_rate"]), row.get("batch_tokens"))
        cells.setdefault(key, []).append(math.log(row["loss"]))
        sizes.setdefault(key, set()).add(row.get("params"))
    out = []
    for (budget, rate, batch), losses in cells.items():
        size = sizes[(budget, rate, batch)]
        out.append({"budget": budget, "learning_rate": rate, "batch_tokens": batch,
                    "loss": math.exp(sum(losses) / len(losses)), "seeds": len(losses),
                    "params": next(iter(size)) if len(size) == 1 else None})  # fmt: skip
    return out


def _line(groups, field, x="budget"):
    """(a, b) of ln y = ln a + b·ln x through every cell of `groups` (least squares); x is the
    budget C, or the model's parameters N."""
    cells = [c for group in groups for c in group]
    x = np.log([c[x] for c in cells])
    y = np.log([c[field] for c in cells])
    if np.ptp(x) == 0:
        return float(math.exp(y.mean())), 0.0
    b, ln_a = np.polyfit(x, y, 1)
    return float(math.exp(ln_a)), float(b)


def _interval(values, level):
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail]) if values else (None, None)
    return None if low is None else [float(low), float(high)]


__all__ = [
    "NEAR_OPTIMAL",
    "NOISE_Z",
    "check_rule",
    "fit_hyperparameter_rule",
    "fit_rates",
    "noise_tolerance",
    "predict_rule",
    "rule_points",
    "seed_noise",
]
