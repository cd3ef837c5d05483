"""`RunStore`: the runs under a results root, indexed by key once, each plan obtained from it.

A run is found by its plan's key (`zoo.training.plan.RunPlan.key`): a finished run with the key is
reused, an unfinished one resumed (or restarted, if it was stopped before its first commit), and
a plan with no run is trained into `<root>/<preset>-<key>`. The directory is scanned once, when
the first plan is looked up, and every run obtained afterwards is added to the index, so a grid of
any size reads each record once (the per-cell rescans before this cost a read of every config.json
for every cell). Damaged records are passed over, as `zoo runs` shows them.
"""

import pathlib

from zoo.storage.runs import RunRecord, list_runs, results_root
from zoo.training.trainer import resume_run, train

REUSED, RESUMED, FAILED, TRAINING = "reused", "resumed", "failed", "training"


class RunStore:
    """The runs of one results root by key; `scans` counts the directory reads."""

    def __init__(self, root=None):
        self.root = pathlib.Path(root) if root is not None else results_root()
        self.scans = 0
        self._by_key = None

    def _index(self):
        if self._by_key is None:
            self.scans += 1
            # list_runs is oldest first, so the latest run with a key is the one kept.
            self._by_key = {
                record.setting("resolution_key"): record for record in list_runs(self.root)
            }
            self._by_key.pop(None, None)  # damaged or pre-key records
        return self._by_key

    def rescan(self):
        """Read the directory again at the next lookup (another process may have started a run
        since: a shared sweep's cell taken over from a worker that died)."""
        self._by_key = None

    def find(self, key):
        """The latest run with `key`, or None."""
        return self._index().get(key)

    def add(self, key, record):
        """A run obtained elsewhere (a worker process) with `key`."""
        self._index()[key] = record

    def status(self, plan):
        """'reused', 'resumed', 'failed' (it stopped on a non-finite loss) or 'training'."""
        record = self.find(plan.key)
        if record is None:
            return TRAINING
        return REUSED if record.complete else FAILED if record.failure_path.exists() else RESUMED

    def obtain(self, plan, reporter, index, count, label, seed):
        """The finished run of `plan`, else that run resumed, else a new run; `reporter.run`
        hears which (index of count, label and seed name the run in its grid)."""
        record = self.find(plan.key)
        if record is not None and record.complete:
            reporter.run(index, count, label, seed, REUSED)
            return record
        if record is not None:
            reporter.run(index, count, label, seed, RESUMED)
            record = resume_run(
                record,
                reporter,
                plan.run.strategy.value,
                plan.run.backend.value if plan.run.backend else None,
            )
        else:
            reporter.run(index, count, label, seed, TRAINING)
            out = self.root / f"{plan.preset}-{plan.key[:10]}"
            if (out / "config.json").exists():  # same name, different settings: keep both
                out = self.root / f"{plan.preset}-{plan.key}"
            try:
                record = train(plan=plan, out=out, reporter=reporter)
            except BaseException:
                if (out / "config.json").exists():  # it started: a failed or stopped run
                    self.add(plan.key, RunRecord(out))
                raise
        self.add(plan.key, record)
        return record


__all__ = ["FAILED", "RESUMED", "REUSED", "RunStore", "TRAINING"]
