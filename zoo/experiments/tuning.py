"""Learning-rate tuning: a transform of a grid cell into a small grid of its own.

`--tune-lr` tries the cell's peak rate × 1/3, 1 and 3 at a quarter of its budget each and keeps
the rate with the lowest final *training* loss (the validation set stays unseen by the choice).
Each tried rate is an ordinary run obtained from the `RunStore`, so a repeated tuning is reused.
A grid tunes once per arm and shape (`tuning_key`); its seeds are then trained at that rate.
"""

import dataclasses
import math

from zoo.experiments.grid import warmup_for

from zoo.training.loop import Reporter
from zoo.training.trainer import plan_run

LR_GRID = (1 / 3, 1.0, 3.0)  # multiples of the recipe's peak rate tried by --tune-lr
LR_TUNING_FRACTION = 0.25  # of the budget, per tried rate


@dataclasses.dataclass(frozen=True)
class TuningCell:
    """What a tuning grid is built around: a preset with changes, named for the progress."""

    label: str
    preset: str
    changes: dict


def tune_learning_rate(cell, run, reporter, store):
    """The best peak rate for `cell` (a `TuningCell`) trained with `run` (a `RunConfig` whose
    budget is `flops`)."""
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


RATE_FACTORS = (0.25, 0.5, 1.0, 2.0, 4.0)  # a rates sweep's default grid, × the rule's rate


def rate_grid(planned, rate_factors=RATE_FACTORS, batch_factors=(1.0,)):
    """A full-length grid around each planned run: the rule's peak rate × each of
    `rate_factors`, its batch × each of `batch_factors` (at least one sequence), warmup
    re-derived for the batch as the grid derives it (≈ N tokens). Every run keeps its budget, so
    the grid measures what a rate does over the whole run (not a fraction of it, as `--tune-lr`
    does). Returns new `PlannedRun`s, labelled with their factors."""
    grid = []
    materials = {}  # the data read once for the whole grid
    for p in planned:
        for batch_factor in batch_factors:
            batch = max(1, round(p.plan.run.batch_size * batch_factor))
            run = p.plan.run.replace(batch_size=batch)
            warmup = warmup_for(p.config, batch)
            for rate_factor in rate_factors:
                rate = p.learning_rate * rate_factor
                changes = {**p.changes, "learning_rate": rate, "warmup_steps": warmup}
                plan = plan_run(p.arm.preset, run, overrides=changes, materials=materials)
                label = f"{p.label} lr×{rate_factor:g}" + (
                    f" batch×{batch_factor:g}" if len(batch_factors) > 1 else ""
                )
                grid.append(
                    dataclasses.replace(
                        p,
                        changes=changes,
                        plan=plan,
                        learning_rate=rate,
                        warmup_steps=warmup,
                        label=label,
                    )  # fmt: skip
                )
    return grid


def tuning_key(p):
    """The planned runs that share one tuning grid: one arm, budget and shape (its seeds)."""
    return (p.arm.name, p.flops, p.config.num_layers, p.config.hidden_dim)


def tuning_run(p, base):
    """The `RunConfig` the tuning grid of planned run `p` trains with (before the fraction)."""
    return base.replace(flops=p.flops, batch_size=p.plan.run.batch_size)


class Tuner:
    """Tunes each grid once (`tuning_key`) and re-plans the grid's runs at the rate found."""

    def __init__(self, base, reporter, store):
        self.base, self.reporter, self.store = base, reporter, store
        self.rates = {}

    def tuned(self, p):
        """`p` at the best of the tuning grid around the rule's rate."""
        key = tuning_key(p)
        if key not in self.rates:
            cell = TuningCell(p.label, p.arm.preset, dict(p.changes))
            self.rates[key] = tune_learning_rate(
                cell, tuning_run(p, self.base), _TuningReporter(self.reporter), self.store
            )
        return at_rate(p, self.rates[key])


def at_rate(p, rate):
    """Planned run `p` re-planned at peak learning rate `rate` (changed in place, returned)."""
    p.learning_rate = rate
    p.changes = {**p.changes, "learning_rate": rate}
    p.plan = plan_run(p.arm.preset, p.plan.run, overrides=p.changes)
    return p


class _TuningReporter(Reporter):
    """A tuning grid's runs, reported as messages inside the grid's run in progress (their
    steps and evaluations are not shown: the grid's own runs are the table's rows)."""

    def __init__(self, reporter):
        self._reporter = reporter

    def run(self, index, count, label, seed, status):
        self._reporter.message(f"tuning {label}: {status}")


__all__ = [
    "LR_GRID",
    "LR_TUNING_FRACTION",
    "RATE_FACTORS",
    "Tuner",
    "TuningCell",
    "rate_grid",
    "tune_learning_rate",
]
