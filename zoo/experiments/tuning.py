"""Learning-rate tuning: a transform of a grid cell into a small grid of its own.

`--tune-lr` tries the cell's peak rate × 1/3, 1 and 3 at a quarter of its budget each and keeps
the rate with the lowest final *training* loss (the validation set stays unseen by the choice).
Each tried rate is an ordinary run obtained from the `RunStore`, so a repeated tuning is reused.
"""

import math

from zoo.training.trainer import plan_run

LR_GRID = (1 / 3, 1.0, 3.0)  # multiples of the recipe's peak rate tried by --tune-lr
LR_TUNING_FRACTION = 0.25  # of the budget, per tried rate


def tune_learning_rate(cell, run, reporter, store):
    """The best peak rate for `cell` (anything with `label`, `preset` and `changes`: a
    comparison's row, a sweep's arm at one shape) trained with `run` (a `RunConfig` whose budget
    is `flops`)."""
    peak = plan_run(cell.preset, run, overrides=cell.changes).training.learning_rate
    results = {}
    for i, factor in enumerate(LR_GRID):
        rate = peak * factor
        plan = plan_run(
            cell.preset,
            run.replace(flops=run.flops * LR_TUNING_FRACTION),
            overrides={**cell.changes, "learning_rate": rate},
        )
        record = store.obtain(plan, reporter, i, len(LR_GRID), f"{cell.label} lr={rate:.2g}", 0)
        loss = record.summary()["final_train_loss"]
        results[rate] = loss if loss is not None and math.isfinite(loss) else math.inf
    return min(results, key=results.get)


__all__ = ["LR_GRID", "LR_TUNING_FRACTION", "tune_learning_rate"]
