"""Running a planned grid: which executor trains it, and the outcome both give back.

A grid (`zoo.experiments.grid.PlannedRun`s with their `RunStore` statuses) is trained by one of
the executors, each a module with the same contract — ([(planned run, record)] finished,
[failure rows]) in plan order, whatever order the runs finished in:

* `zoo.experiments.local`: one run after another in this process (`jobs=1`, or a single group);
* `zoo.experiments.workers`: side by side in worker processes (`jobs=N`, `zoo.experiments.pool`).

`zoo sweep` and `zoo compare` both go through here, so a new executor is one module and one
branch of `choose`.
"""

import dataclasses

from zoo.experiments import local, workers


@dataclasses.dataclass(frozen=True)
class Execution:
    """How a grid will be trained: `workers` processes (1: here) over `groups` of run indices."""

    workers: int
    groups: tuple

    def run(self, planned, status, store, base, reporter, tune_lr):
        """(finished, failed) as the module says."""
        if self.workers == 1:
            return local.train_here(planned, status, store, base, reporter, tune_lr)
        return workers.train_in_workers(
            planned, status, store, list(self.groups), base, reporter, tune_lr, self.workers
        )


def choose(planned, status, tune_lr, jobs):
    """The `Execution` of a grid under `jobs` (checked by `zoo.experiments.pool.check_jobs`)."""
    groups = workers.worker_groups(planned, status, tune_lr) if jobs > 1 else []
    count = min(jobs, len(groups)) if len(groups) > 1 else 1  # 1: in this process
    return Execution(count, tuple(groups) if count > 1 else ())


__all__ = ["Execution", "choose"]
