"""Continued training from released weights (`zoo sweep continued`).

LLaMA's 7B model was still improving when its training stopped; can one go on from released
weights? Each cell of a compute sweep (an arm's compute-optimal shape at budget C, a seed)
becomes four runs:
    first       the model trained on a fraction f of C (default 1/8) with its own complete
                schedule (warmup, cosine decay to its end): "released weights", far from
                convergence;
    continued   those weights (no optimizer state, as released weights come) trained on the
                remaining (1 − f)·C with the learning rate warmed up again to the peak and
                decayed anew (Gupta et al. 2023, Ibrahim et al. 2024: rewarm and re-decay);
    scratch     a fresh model trained on the same (1 − f)·C: what the continuation's compute
                buys without the released weights;
    whole       one uninterrupted run on C: what the total compute buys in one schedule.
The first run of a cell is trained before the continued one is planned (its weights must exist
to be read), so the sweep trains in two phases.
"""

from zoo.experiments.grid import variant_run
from zoo.experiments.intervals import seed_stats

FIRST_FRACTION = 1 / 8
ROLES = ("first", "continued", "scratch", "whole")


def first_grid(planned, fraction=FIRST_FRACTION):
    """Phase one: each cell's first run, on `fraction` of its budget with the batch and warmup
    the grid gives that budget (the cell's shape and peak rate)."""
    return [_variant(p, "first", p.flops * fraction) for p in planned]


def second_grid(planned, firsts, fraction=FIRST_FRACTION):
    """Phase two: per cell, the continued run (from the path of its first run, `firsts`:
    {(arm, budget, seed): run path}), the scratch run and the whole run."""
    grid = []
    for p in planned:
        rest, batch = p.flops * (1 - fraction), p.plan.run.batch_size
        start = firsts[(p.arm.name, p.flops, p.seed)]
        grid.append(_variant(p, "continued", rest, batch=batch, init_from=start))
        grid.append(_variant(p, "scratch", rest, batch=batch))
        grid.append(_variant(p, "whole", p.flops, batch=batch))
    return grid


def _variant(p, role, budget, batch=None, init_from=None):
    return variant_run(
        p, budget, {"role": role}, f"{p.label} {role}", batch=batch, init_from=init_from
    )


def summarize(points):
    """Per (arm, budget): each role's final loss (mean, 95% Student-t interval over seeds), and
    the paired differences continued − whole and continued − scratch (same seed)."""
    out = []
    for arm, budget in dict.fromkeys((q["arm"], q["budget"]) for q in points):
        cell = [q for q in points if (q["arm"], q["budget"]) == (arm, budget)]
        by_role = {r: {q["seed"]: q for q in cell if q["variant"]["role"] == r} for r in ROLES}
        row = {"arm": arm, "budget": budget}
        for role in ROLES:
            losses = [q["loss"] for q in by_role[role].values()]
            row[role] = {
                **seed_stats(losses),
                "tokens": _mean([q["tokens"] for q in by_role[role].values()]),
            }
        for other in ("whole", "scratch"):
            seeds = sorted(set(by_role["continued"]) & set(by_role[other]))
            differences = [
                by_role["continued"][s]["loss"] - by_role[other][s]["loss"] for s in seeds
            ]
            row[f"continued_minus_{other}"] = seed_stats(differences)
        out.append(row)
    return out


def _mean(values):
    return sum(values) / len(values) if values else None
