"""The study store's overhead per trial and per cell, with no training (`zoo bench store`):
what `zoo tune` and `zoo sweep --storage` add to each run they coordinate, measured side by side
for SQLite (a file on this machine, always measured: the anchor) and each store URL given (e.g.
PostgreSQL). Here, not in `zoo.bench`, because it drives the experiments' own store code."""

import os
import statistics
import tempfile
import time
import types
import uuid

ROUNDS = 3  # each store timed this many times, in turns; the median round is reported


def benchmark_store(urls=(), trials=50, evaluations=10, rounds=ROUNDS):
    """{'trials', 'evaluations', 'rounds', 'stores': [{'storage', 'backend', 'tune_ms_per_trial',
    'sweep_ms_per_cell', each with 'min' and 'max' over rounds}]}.

    A tune trial: `ask` one value, report `evaluations` intermediate losses (each with its
    pruning check), the four user attributes `zoo tune` sets, `tell` the loss. A sweep cell:
    take it (compare-and-set), one heartbeat, finish it with a point of a sweep's size."""
    import sqlalchemy

    from zoo.experiments.search import masked_url, open_storage

    with tempfile.TemporaryDirectory(prefix="zoo-bench-store-") as scratch:
        stores = [f"sqlite:///{os.path.join(scratch, 'studies.db')}", *urls]
        timings = {url: {"tune": [], "sweep": []} for url in stores}
        for _ in range(rounds):
            for url in stores:  # in turns, so that a drift of the machine hits every store alike
                timings[url]["tune"].append(_tune_round(open_storage(url), trials, evaluations))
                timings[url]["sweep"].append(_sweep_round(url, trials))
    return {
        "trials": trials,
        "evaluations": evaluations,
        "rounds": rounds,
        "stores": [
            {
                "storage": "sqlite (a temporary file)" if i == 0 else masked_url(url),
                "backend": sqlalchemy.engine.make_url(url).get_backend_name(),
                "tune_ms_per_trial": _summary(timings[url]["tune"]),
                "sweep_ms_per_cell": _summary(timings[url]["sweep"]),
            }
            for i, url in enumerate(stores)
        ],
    }


def _tune_round(storage, trials, evaluations):
    import warnings

    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # ask/tell runs no heartbeat thread (zoo tune's optimize does: one write each 30 s, nothing
    # per trial), which Optuna warns about; the trial's own writes are what is timed here.
    warnings.filterwarnings("ignore", "Heartbeat of storage", UserWarning)
    study = optuna.create_study(study_name=f"bench-{uuid.uuid4().hex}", storage=storage,
                                pruner=optuna.pruners.MedianPruner())  # fmt: skip
    started = time.perf_counter()
    for number in range(trials):
        trial = study.ask()
        rate = trial.suggest_float("learning_rate", 1e-4, 1e-1, log=True)
        for key, value in (("host", "bench"), ("pid", 1), ("sampler", "tpe"), ("run_key", "k")):
            trial.set_user_attr(key, value)
        for step in range(evaluations):
            trial.report(3.0 - 0.01 * step + rate, step)
            trial.should_prune()
        study.tell(trial, 2.0 + rate)
    return (time.perf_counter() - started) / trials * 1000


def _sweep_round(url, cells):
    from zoo.experiments.shared import DONE, CellQueue

    queue = CellQueue(url, f"bench-{uuid.uuid4().hex}", {"bench": True})
    planned = [types.SimpleNamespace(plan=types.SimpleNamespace(key=f"{i:064x}"), label=f"cell {i}")
               for i in range(cells)]  # fmt: skip
    queue.register(planned)
    point = {f"field_{i}": float(i) for i in range(24)}  # a sweep's point has 24 fields
    started = time.perf_counter()
    while (taken := queue.take()) is not None:
        queue.beat(taken[0])
        queue.finish(taken[0], DONE, point, "/results/run")
    elapsed = time.perf_counter() - started
    queue.close()
    return elapsed / cells * 1000


def _summary(values):
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


__all__ = ["benchmark_store"]
