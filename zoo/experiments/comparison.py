"""`zoo.compare()`: train several models on the same data, tokenizer and FLOPs budget, and
tabulate what each reached.

A comparison is a one-budget grid (`zoo.experiments.grid.PlannedRun`s: each arm at each seed)
plus a table. Every run is an ordinary `zoo train` run, obtained from a `RunStore` by its plan's
key: a finished run with the same key is reused, an unfinished one is resumed, so re-running a
comparison is instant and an interrupted one picks up where it stopped. Changing any field
(model, recipe, budget, data, tokenizer, seed, …) changes the key and retrains. The grid is
trained by the sweep's executors (`zoo.experiments.execution`): here, or side by side with
`jobs`. A run that diverges does not stop the others; the comparison then raises `RunFailed`
naming it, and a rerun reuses every run that finished.
The result carries the corpus's Kneser-Ney byte n-gram as `baseline` (`zoo.baselines`; None for
pre-tokenized data), the yardstick every row must beat.
"""

import dataclasses
import math
import statistics

from zoo.accounting import count_non_embedding_params
from zoo.baselines import ngram_yardstick
from zoo.comparison.allocation import compute_optimal_config
from zoo.config import ModelConfig
from zoo.errors import FieldError
from zoo.experiments import execution, pool
from zoo.experiments.grid import (
    SHAPE_FIELDS,
    PlannedRun,
    check_seeds,
    parse_arms,
    shared_run_config,
)
from zoo.experiments.store import RunStore
from zoo.overrides import parse_overrides
from zoo.recipe import Allocation
from zoo.registry import get_recipe
from zoo.training.loop import Reporter, RunFailed, mean_of_present
from zoo.training.trainer import plan_run

DEFAULT_BUDGET = 1.5e13  # FLOPs: about one default `zoo train <family>-small` run


class ComparisonReporter(Reporter):
    """Adds comparison-level events to the per-run `Reporter` methods."""

    def run(self, index, count, label, seed, status):
        """Run `index` of `count` starts; status is 'reused', 'resumed' or 'training'."""


def compare(
    models,
    *,
    budget=None,
    seeds=1,
    ablate=None,
    overrides=(),
    tune_lr=False,
    reporter=None,
    jobs=1,
    run=None,
    **fields,
):
    """Train (or reuse) each model at an equal FLOPs budget; returns the comparison as a dict.

    `run` (a `RunConfig`) and `fields` set the run options every model shares: data, tokenizer
    (default shared), precision, batch_size, gradient_accumulation, eval_interval, patience,
    spike_guard, strategy, backend. The budget is `budget` and the seeds are 0 .. seeds - 1;
    `jobs` runs train side by side (as `zoo sweep --jobs`).
    """
    reporter = reporter or ComparisonReporter()
    budget = DEFAULT_BUDGET if budget is None else budget
    if (
        isinstance(budget, bool)
        or not isinstance(budget, (int, float))
        or not math.isfinite(budget)
        or not budget > 0
    ):
        raise FieldError(
            "budget", f"must be a positive, finite number of FLOPs; received {budget!r}"
        )
    budget = float(budget)
    check_seeds(seeds)
    pool.check_jobs(jobs)
    base = shared_run_config(run, fields, "comparison", "budget, seeds").replace(flops=budget)
    pool.check_strategy(jobs, base.strategy.value)
    arms = parse_arms(models, ablate, overrides)
    planned = plan_comparison(arms, budget, seeds, base)  # bad input fails before any training
    store = RunStore()  # one scan of the results for the whole comparison
    status = [store.status(p.plan) for p in planned]
    chosen = execution.choose(planned, status, tune_lr, jobs)
    finished, failed = chosen.run(planned, status, store, base, reporter, tune_lr)
    if failed:
        first = failed[0]
        where = f" (kept in {first['run']})" if first["run"] else ""
        raise RunFailed(
            f"{len(failed)} of {len(planned)} runs failed; first {first['arm']} seed "
            f"{first['seed']} at step {first['step']}: {first['reason']}{where}",
            first["step"],
        )
    comparison = _table(arms, finished, budget, base.data, base.tokenizer.value, seeds, tune_lr)
    return {**comparison, "baseline": ngram_yardstick(base.data)}


def plan_comparison(arms, budget, seeds, base):
    """The comparison's grid: every arm (resized first if its recipe allocates compute-optimally)
    at every seed, each a `PlannedRun` named by its arm."""
    planned = []
    materials = {}  # the data read, tokenized and counted once for every run
    for arm in arms:
        changes, optimal = _allocate(arm, budget)
        for seed in range(seeds):
            plan = plan_run(
                arm.preset, base.replace(seed=seed), overrides=changes, materials=materials
            )
            planned.append(
                PlannedRun(
                    arm,
                    budget,
                    seed,
                    size_factor=1.0 if optimal else None,
                    changes=changes,
                    plan=plan,
                    learning_rate=plan.training.learning_rate,
                    warmup_steps=plan.training.warmup_steps,
                    label=arm.name,
                )
            )
    return planned


def _allocate(arm, budget):
    """(changes, compute-optimal?): Chinchilla-style recipes resize to the budget; the others
    keep their size."""
    recipe = get_recipe(arm.preset)
    model_changes, training_changes = parse_overrides(arm.changes)
    training = dataclasses.replace(recipe.training, **training_changes)
    if training.allocation is not Allocation.COMPUTE_OPTIMAL:
        return dict(arm.changes), False
    sized = compute_optimal_config(recipe.model.replace(**model_changes), budget)
    return {**arm.changes, **{k: getattr(sized, k) for k in SHAPE_FIELDS}}, True


def _table(arms, finished, budget, data, tokenizer, seeds, tune_lr):
    """One row per arm, over its seeds' runs (all finished: a failure has raised before)."""
    rows = []
    for arm in arms:
        mine = [(p, record) for p, record in finished if p.arm == arm]
        runs = [record for _, record in mine]
        p = mine[0][0]  # its seeds share changes and (tuned or not) learning rate
        summaries = [r.summary() for r in runs]
        config = runs[0].config()
        first = summaries[0]
        bpb = [s["validation_bits_per_byte"] for s in summaries]
        row = {
            "model": arm.name,
            "preset": arm.preset,
            "changes": {k: list(v) if isinstance(v, tuple) else v for k, v in p.changes.items()},
            "params": first["params"],
            "non_embedding_params": _non_embedding(config),
            "num_layers": config["model"]["num_layers"],
            "hidden_dim": config["model"]["hidden_dim"],
            "tokens": first["tokens"],
            "flops": first["flops"],
            "tokens_per_parameter": first["tokens"] / first["params"],
            "learning_rate": p.learning_rate,
            "tokens_per_second": mean_of_present([s["tokens_per_second"] for s in summaries]),
            "mfu": mean_of_present([s["mfu"] for s in summaries]),
            "final_train_loss": mean_of_present([s["final_train_loss"] for s in summaries]),
            "validation_loss": mean_of_present([s["validation_loss"] for s in summaries]),
            "validation_bits_per_byte": mean_of_present(bpb),
            "bits_per_byte_spread": statistics.stdev(bpb) if len(bpb) > 1 and None not in bpb
            else None,
            "seeds": len(summaries),
            "runs": [str(r.path) for r in runs],
            "curves": [[{"flops": m["flops"], "validation_loss": m["validation_loss"]}
                        for m in r.metrics()] for r in runs],
        }  # fmt: skip
        rows.append(row)
    reference = rows[0]["validation_bits_per_byte"] if rows else None
    for row in rows:
        value = row["validation_bits_per_byte"]
        row["delta_bits_per_byte"] = (value - reference if None not in (value, reference)
                                      else None)  # fmt: skip
    return {
        "budget_flops": budget,
        "data": data,
        "tokenizer": tokenizer,
        "seeds": seeds,
        "tune_lr": tune_lr,
        "rows": rows,
    }


def _non_embedding(config):
    return count_non_embedding_params(ModelConfig.from_dict(config["model"]))


__all__ = ["DEFAULT_BUDGET", "ComparisonReporter", "compare"]
