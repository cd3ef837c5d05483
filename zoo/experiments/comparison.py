"""`zoo.compare()`: train several models on the same data, tokenizer and FLOPs budget, and
tabulate what each reached.

Every training run is an ordinary `zoo train` run, obtained from a `RunStore` by its plan's key:
a finished run with the same key is reused, an unfinished one is resumed, so re-running a
comparison is instant and an interrupted one picks up where it stopped.
Changing any field (model, recipe, budget, data, tokenizer, seed, …) changes the key and retrains.
The result carries the corpus's Kneser-Ney byte n-gram as `baseline` (`zoo.baselines`; None for
pre-tokenized data), the yardstick every row must beat.
"""

import dataclasses
import math
import statistics

from zoo.accounting import count_non_embedding_params
from zoo.baselines import ngram_yardstick
from zoo.comparison.ablation import parse_arms
from zoo.comparison.allocation import compute_optimal_config
from zoo.config import ModelConfig
from zoo.errors import ZooError
from zoo.experiments.store import RunStore
from zoo.experiments.tuning import tune_learning_rate
from zoo.overrides import parse_overrides
from zoo.recipe import Allocation
from zoo.registry import get_recipe
from zoo.training.loop import Reporter, mean_of_present
from zoo.run_config import BUDGET_FIELDS, RunConfig, RunConfigError
from zoo.training.trainer import plan_run, run_config

DEFAULT_BUDGET = 1.5e13  # FLOPs: about one default `zoo train <family>-small` run


@dataclasses.dataclass
class Entry:
    """One row of a comparison: a preset with changes, trained with one or more seeds."""

    label: str
    preset: str
    changes: dict  # model and training overrides relative to the preset
    learning_rate: float = None
    runs: list = dataclasses.field(default_factory=list)  # RunRecord per seed


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
    run=None,
    **fields,
):
    """Train (or reuse) each model at an equal FLOPs budget; returns the comparison as a dict.

    `run` (a `RunConfig`) and `fields` set the run options every model shares: data, tokenizer
    (default shared), precision, batch_size, gradient_accumulation, eval_interval, patience,
    spike_guard, strategy, backend. The budget is `budget` and the seeds are 0 .. seeds - 1.
    """
    reporter = reporter or ComparisonReporter()
    budget = DEFAULT_BUDGET if budget is None else budget
    if (
        isinstance(budget, bool)
        or not isinstance(budget, (int, float))
        or not math.isfinite(budget)
        or not budget > 0
    ):
        raise ZooError(f"budget must be a positive, finite number of FLOPs; received {budget!r}")
    budget = float(budget)
    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
        raise ZooError(f"seeds must be at least 1; received {seeds!r}")
    base = shared_run_config(run, fields, "comparison", "budget, seeds").replace(flops=budget)
    entries = [
        Entry(label, preset, changes)
        for label, preset, changes in parse_arms(models, ablate, overrides)
    ]
    for entry in entries:  # resolve everything (and fail on bad input) before training
        entry.changes = _allocate(entry, budget)
        plan_run(entry.preset, base, overrides=entry.changes)

    jobs = []
    store = RunStore()  # one scan of the results for the whole comparison
    for entry in entries:
        if tune_lr:
            entry.learning_rate = tune_learning_rate(entry, base, reporter, store)
            entry.changes = {**entry.changes, "learning_rate": entry.learning_rate}
        for seed in range(seeds):
            jobs.append((entry, seed))
    for index, (entry, seed) in enumerate(jobs):
        plan = plan_run(entry.preset, base, overrides=entry.changes, seed=seed)
        entry.learning_rate = plan.training.learning_rate
        entry.runs.append(store.obtain(plan, reporter, index, len(jobs), entry.label, seed))
    comparison = _table(entries, budget, base.data, base.tokenizer.value, seeds, tune_lr)
    return {**comparison, "baseline": ngram_yardstick(base.data)}


def shared_run_config(run, fields, owner, own_options):
    """The `RunConfig` every run of a comparison or sweep (`owner`) shares. The budget, seed and
    starting weights are the owner's own (`own_options` names its options), so giving one is
    refused. Without `run`, every model gets the shared tokenizer: equal footing."""
    if run is None:
        fields.setdefault("tokenizer", "shared")
    base = run_config(run, **fields)
    fixed = sorted(
        set(BUDGET_FIELDS + ("seed", "init_from"))
        & {k for k, v in base.to_dict().items() if v != RunConfig.__dataclass_fields__[k].default}
    )
    if fixed:
        raise RunConfigError(
            fixed[0], f"is set by the {owner} itself ({own_options}); it cannot be given"
        )
    return base


def _allocate(entry, budget):
    """Chinchilla-style recipes resize to the budget; the others keep their size."""
    recipe = get_recipe(entry.preset)
    model_changes, training_changes = parse_overrides(entry.changes)
    training = dataclasses.replace(recipe.training, **training_changes)
    if training.allocation is not Allocation.COMPUTE_OPTIMAL:
        return entry.changes
    sized = compute_optimal_config(recipe.model.replace(**model_changes), budget)
    shape = (
        "num_layers",
        "hidden_dim",
        "head_dim",
        "num_key_value_heads",
        "intermediate_dim",
        "attention_pattern",
    )
    return {**entry.changes, **{k: getattr(sized, k) for k in shape}}


def _table(entries, budget, data, tokenizer, seeds, tune_lr):
    rows = []
    for entry in entries:
        summaries = [r.summary() for r in entry.runs]
        config = entry.runs[0].config()
        first = summaries[0]
        bpb = [s["validation_bits_per_byte"] for s in summaries]
        row = {
            "model": entry.label,
            "preset": entry.preset,
            "changes": {k: list(v) if isinstance(v, tuple) else v for k, v in entry.changes.items()},
            "params": first["params"],
            "non_embedding_params": _non_embedding(config),
            "num_layers": config["model"]["num_layers"],
            "hidden_dim": config["model"]["hidden_dim"],
            "tokens": first["tokens"],
            "flops": first["flops"],
            "tokens_per_parameter": first["tokens"] / first["params"],
            "learning_rate": entry.learning_rate,
            "tokens_per_second": mean_of_present([s["tokens_per_second"] for s in summaries]),
            "mfu": mean_of_present([s["mfu"] for s in summaries]),
            "final_train_loss": mean_of_present([s["final_train_loss"] for s in summaries]),
            "validation_loss": mean_of_present([s["validation_loss"] for s in summaries]),
            "validation_bits_per_byte": mean_of_present(bpb),
            "bits_per_byte_spread": statistics.stdev(bpb) if len(bpb) > 1 and None not in bpb
            else None,
            "seeds": len(summaries),
            "runs": [str(r.path) for r in entry.runs],
            "curves": [[{"flops": m["flops"], "validation_loss": m["validation_loss"]}
                        for m in r.metrics()] for r in entry.runs],
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
