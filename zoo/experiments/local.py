"""The local executor: a grid's runs one after another, in this process."""

from zoo.experiments.grid import failure_row
from zoo.experiments.tuning import Tuner
from zoo.training.loop import RunFailed


def train_here(planned, status, store, base, reporter, tune_lr):
    """([(planned run, record)] finished, [failure rows]) in plan order."""
    finished, failed = [], []
    tuner = Tuner(base, reporter, store) if tune_lr else None
    for index, (p, s) in enumerate(zip(planned, status)):
        if s == "failed":  # deterministic: the same run would fail the same way again
            reporter.run(index, len(planned), p.label, p.seed, "failed before")
            failed.append(failure_row(p, store.find(p.plan.key)))
            continue
        if tuner is not None:
            p = tuner.tuned(p)
        try:
            finished.append(
                (p, store.obtain(p.plan, reporter, index, len(planned), p.label, p.seed))
            )
        except RunFailed as failure:
            # One diverged cell must not end an hour's grid: it is reported, not fitted.
            reporter.message(f"{p.label} seed {p.seed} failed: {failure}")
            failed.append(failure_row(p, store.find(p.plan.key)))
    return finished, failed


__all__ = ["train_here"]
