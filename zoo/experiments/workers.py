"""The worker-pool executor: a grid's runs side by side in `jobs` processes (`zoo.experiments.pool`).

Runs are grouped so that no two workers ever train one run (`worker_groups`); each worker
re-plans its group from plain data and checks the key it gets is the grid's. Events come back
in completion order; the outcome is assembled in plan order, as the local executor's is.
"""

from zoo.errors import ZooError
from zoo.experiments import pool
from zoo.experiments.grid import failure_row
from zoo.experiments.tuning import at_rate, tuning_key, tuning_run
from zoo.storage.runs import RunRecord


def worker_groups(planned, status, tune_lr):
    """The indices of the cells worker processes train, grouped so that no two workers ever
    train one run: by tuning grid under `tune_lr` (the grid is tuned once, then its seeds are
    trained), else by run key; plan order within each group. Failed cells, and (without
    `tune_lr`, where their keys are final) reused ones, stay with the parent."""
    groups = {}
    for index, (p, s) in enumerate(zip(planned, status)):
        if s == "failed" or (s == "reused" and not tune_lr):
            continue
        groups.setdefault(tuning_key(p) if tune_lr else p.plan.key, []).append(index)
    return list(groups.values())


def train_in_workers(planned, status, store, groups, base, reporter, tune_lr, workers):
    """As `_train_here`, with the groups' runs trained side by side in `workers` processes.

    The parent first takes the cells it keeps (failed before; reused), then sends the groups,
    the longest (estimated) first so that the last to finish is a short one, and reports each
    run's events as they come (completion order). The result is assembled in plan order.
    """
    count = len(planned)
    outcomes = {}  # index -> record (finished) or None (failed)
    grouped = {index for group in groups for index in group}
    for index, (p, s) in enumerate(zip(planned, status)):
        if index in grouped:
            continue
        if s == "failed":
            reporter.run(index, count, p.label, p.seed, "failed before")
            outcomes[index] = None
        else:
            outcomes[index] = store.obtain(p.plan, reporter, index, count, p.label, p.seed)
        _finished(reporter, index, count, p, "failed" if s == "failed" else "done")

    def on_event(event):
        kind, index, payload = event
        p = planned[index]
        if kind == "run":
            reporter.run(index, count, p.label, p.seed, payload)
        elif kind == "message":
            reporter.message(payload)
        elif kind == "end":
            reporter.end(payload)
        elif kind == "failed":
            reporter.message(f"{p.label} seed {p.seed} failed: {payload}")
            _finished(reporter, index, count, p, "failed")
        elif kind == "done":
            _finished(reporter, index, count, p, "done")

    def on_result(task, results):
        for result in results:
            index = result["index"]
            p = planned[index]
            if result["learning_rate"] is not None:
                at_rate(p, result["learning_rate"])
            if result.get("path"):  # trained (or failed) in the worker: known without a rescan
                store.add(result["key"], RunRecord(result["path"]))
            record = RunRecord(result["path"]) if result["status"] == "done" else None
            if p.plan.key != result["key"] or (
                record is not None and record.setting("resolution_key") != p.plan.key
            ):
                raise ZooError(
                    f"{p.label} seed {p.seed}: its worker trained key "
                    f"{result['key']}, not the grid's {p.plan.key}"
                )
            outcomes[index] = record

    tasks = [
        _task(planned, group, base, tune_lr)
        for group in sorted(groups, key=lambda g: -sum(_cost(planned[i]) for i in g))
    ]
    pool.run_tasks(pool.train_task, tasks, workers, on_event, on_result)
    finished, failed = [], []
    for index, p in enumerate(planned):
        if outcomes[index] is not None:
            finished.append((p, outcomes[index]))
        else:
            failed.append(failure_row(p, store.find(p.plan.key)))
    return finished, failed


def _task(planned, group, base, tune_lr):
    """What a worker needs to re-plan and train one group's runs: plain, picklable data."""
    first = planned[group[0]]
    tune = None
    if tune_lr:  # the grid `Tuner.tuned` runs for the group's first cell
        run = tuning_run(first, base)
        tune = {"label": first.label, "changes": dict(first.changes), "run": run.to_dict()}
    cells = [
        {
            "index": i,
            "label": planned[i].label,
            "seed": planned[i].seed,
            "run": planned[i].plan.run.to_dict(),
            "changes": dict(planned[i].changes),
            "key": planned[i].plan.key,
        }
        for i in group
    ]
    return {"preset": first.arm.preset, "count": len(planned), "tune": tune, "cells": cells}


def _cost(p):
    """What orders the groups: the estimated seconds (a sweep's), else the FLOPs (a comparison
    estimates nothing, and its runs share one budget)."""
    return p.estimated_seconds if p.estimated_seconds is not None else p.plan.budget.flops


def _finished(reporter, index, count, p, status):
    hook = getattr(reporter, "finished", None)  # a SweepReporter's; other reporters may lack it
    if hook is not None:
        hook(index, count, p.label, p.seed, status)


__all__ = ["train_in_workers", "worker_groups"]
