"""Hyperparameter search methods compared on one problem: best loss after k trials, and trials
needed to come within a tolerance of the best, each over repeated seeds of the search.

The measures are those of the hyperparameter-optimisation benchmarks (e.g. HPOBench, Eggensperger
et al. 2021: the incumbent's loss against the number of evaluations, averaged over repetitions).
Intervals are percentile bootstraps over a method's seeds (the seeds are the repetitions). Pure
numpy; no Keras.
"""

import math

import numpy as np

from zoo.errors import FieldError, ZooError

TOLERANCE = 0.01  # "within 1% of the best loss any search found"
LEVEL = 0.95


def compare_searches(studies, *, tolerance=TOLERANCE, level=LEVEL, bootstrap=1000, seed=0):
    """`studies`: [{'sampler', 'seed', 'losses': [each trial's final loss in trial order; None
    for a trial that gave none (pruned, diverged)]}], every one with the same number of trials.

    Returns {'reference': the best loss of all, 'tolerance', 'level', 'trials', 'samplers':
    [{'name', 'seeds', 'best_after': [{'k', 'mean', 'ci'}] for k = 1 .. trials,
    'trials_to_tolerance': {'median', 'ci', 'reached', 'of'}}]}: the mean over seeds of the best
    loss after k trials, and how many trials each seed needed to come within `tolerance` of the
    reference (a seed that never did counts as `trials` + 1 in the median, and is counted
    apart)."""
    if not studies:
        raise ZooError("no searches to compare")
    if (
        isinstance(tolerance, bool)
        or not isinstance(tolerance, (int, float))
        or not 0 <= tolerance < 1
    ):
        raise FieldError("tolerance", f"must be a fraction in [0, 1); received {tolerance!r}")
    counts = {len(s["losses"]) for s in studies}
    if len(counts) != 1:
        raise ZooError(f"every search needs the same number of trials; received {sorted(counts)}")
    (trials,) = counts
    curves = {}
    for study in studies:
        curves.setdefault(str(study["sampler"]), []).append(_best_so_far(study["losses"]))
    finite = [v for c in curves.values() for curve in c for v in curve if math.isfinite(v)]
    if not finite:
        raise ZooError("no search has a finished trial")
    reference = min(finite)
    rng = np.random.default_rng(seed)
    samplers = []
    for name, runs in curves.items():
        matrix = np.array(runs)  # seeds × trials, inf before a seed's first finished trial
        best_after = []
        for k in range(trials):
            column = matrix[:, k]
            best_after.append({"k": k + 1, "mean": _mean(column),
                               "ci": _interval(column, _mean, rng, bootstrap, level)})  # fmt: skip
        needed = np.array([_first_within(curve, reference, tolerance, trials) for curve in runs])
        samplers.append({
            "name": name,
            "seeds": len(runs),
            "best_after": best_after,
            "trials_to_tolerance": {
                "median": float(np.median(needed)),
                "ci": _interval(needed, np.median, rng, bootstrap, level),
                "reached": int(np.sum(needed <= trials)),
                "of": len(runs),
            },
        })  # fmt: skip
    return {"reference": reference, "tolerance": tolerance, "level": level, "trials": trials,
            "bootstrap": int(bootstrap), "samplers": samplers}  # fmt: skip


def _best_so_far(losses):
    best, curve = math.inf, []
    for loss in losses:
        if loss is not None and math.isfinite(loss):
            best = min(best, float(loss))
        curve.append(best)
    return curve


def _first_within(curve, reference, tolerance, trials):
    for k, best in enumerate(curve, 1):
        if best <= reference * (1 + tolerance):
            return k
    return trials + 1


def _mean(values):
    values = np.asarray(values, dtype=float)
    return float(np.mean(values)) if np.all(np.isfinite(values)) else None


def _interval(values, statistic, rng, bootstrap, level):
    values = np.asarray(values, dtype=float)
    if len(values) < 2 or not bootstrap or not np.all(np.isfinite(values)):
        return None
    draws = [statistic(values[rng.integers(0, len(values), len(values))]) for _ in range(bootstrap)]
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(draws, [tail, 100 - tail])
    return [float(low), float(high)]


__all__ = ["TOLERANCE", "compare_searches"]
