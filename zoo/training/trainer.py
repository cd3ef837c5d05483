"""`zoo.train()`: resolve a run up front, then train it and leave a record in `results/<run-id>/`.

Everything that can be wrong with the user's request (names, fields, budgets, data, resume and
init sources) is checked before the run directory is created, so bad input leaves nothing behind.
"""

import dataclasses
import hashlib
import json
import math
import pathlib
import time

import keras
import numpy as np

from zoo.config import ModelConfig
from zoo.data.corpus import load_corpus
from zoo.data.pipeline import (
    TOKENS_PREFIX,
    check_context,
    encode_corpus,
    prepare_data,
    validation_windows,
)
from zoo.data.tokenizer import load_tokenizer
from zoo.errors import ZooError
from zoo.files import atomic_save
from zoo.model import DecoderLM
from zoo.overrides import apply_training_overrides, parse_overrides
from zoo.recipe import Tokenizer, TrainingRecipe
from zoo.registry import get_recipe
from zoo.training.baselines import unigram_bits_per_byte
from zoo.training.budget import resolve_budget
from zoo.training.distribution import check_strategy, resolve_distribution, variable_layouts
from zoo.training.hardware import device_description, peak_flops
from zoo.training.loop import (
    Reporter,
    evaluation_model,
    mean_of_present,
    probe_logits,
    run_intervals,
    validation_loss,
)
from zoo.training.loss import LanguageModelLoss
from zoo.training.optimizers import describe_optimizer, make_optimizer
from zoo.training.records import (
    RunRecord,
    environment,
    list_runs,
    load_decoder,
    model_source,
    new_run_id,
    results_root,
    saved_model_config,
)

PRECISIONS = ("float32", "mixed_bfloat16")
TOKENIZER_MODES = ("native", "shared")
SHARED_TOKENIZER = Tokenizer.BYTE_BPE  # one kind for every model in comparisons
EVALUATIONS = 10  # default number of evaluations over a run
EVAL_WINDOWS = 64  # validation windows per interval evaluation; the final one uses them all


@dataclasses.dataclass
class RunPlan:
    """A fully resolved run, before anything is written: what `train()` will do."""

    settings: dict  # JSON-ready; becomes config.json (with the environment added)
    data: object  # zoo.data.pipeline.TokenData
    assets: object  # zoo.data.tokenizer.TokenizerAssets, or None for pre-tokenized data
    budget: object  # zoo.training.budget.Budget
    key: str  # hash of everything that determines the result; equal keys mean reusable runs


KEY_FIELDS = ("preset", "model", "training", "budget", "seed", "precision", "eval_interval",
              "gradient_accumulation", "patience", "init_from")


def plan_run(name, *, data="shakespeare", tokens=None, flops=None, chinchilla=None, steps=None,
             overrides=(), precision="float32", tokenizer="native", seed=0, batch_size=None,
             eval_interval=None, gradient_accumulation=1, patience=None, init_from=None,
             strategy="auto", backend=None):
    """Resolve a run (raising `ZooError` for any bad input) without writing anything.

    `overrides` is a list of "key=value" strings or a dict of model and training fields.
    `strategy` and `backend` say where it runs (`zoo.training.distribution`); they are not part
    of the run's key, since the same run on other hardware should give the same losses.
    """
    backend = check_strategy(strategy, backend)
    recipe = get_recipe(name)
    model_overrides, training_overrides = parse_overrides(overrides)
    init_source = _init_source(init_from) if init_from else None
    if init_source:  # continued training: the weights fix the architecture, the preset the rest
        config = _init_from_config(init_source, model_overrides)
    else:
        config = recipe.model.replace(**model_overrides) if model_overrides else recipe.model
    training = apply_training_overrides(recipe.training, training_overrides)
    _check_choice("precision", precision, PRECISIONS)
    _check_choice("tokenizer", tokenizer, TOKENIZER_MODES)
    budget = resolve_budget(config, training, batch_size, tokens, flops, chinchilla, steps)
    if gradient_accumulation < 1 or budget.batch_size % gradient_accumulation:
        raise ZooError(f"--grad-accum must divide the batch of {budget.batch_size} sequences; "
                       f"received {gradient_accumulation}")
    if patience is not None and patience < 1:
        raise ZooError(f"--patience must be at least 1; received {patience}")
    kind = SHARED_TOKENIZER if tokenizer == "shared" else training.tokenizer
    init_assets = None
    if init_source and init_source.get("tokenizer_path"):
        # Continued training must keep the token ids the weights were trained with.
        init_assets = load_tokenizer(init_source["tokenizer_path"])
        kind = init_assets.kind
    data_bundle, assets = _prepare(data, kind, config, init_assets)
    settings = {
        "preset": recipe.name,
        "model": config.to_dict(),
        "training": training.to_dict(),
        "budget": budget.to_dict(),
        "data": {"spec": data, **data_bundle.describe(), **_corpus_facts(data)},
        "tokenizer": {"mode": tokenizer, "kind": Tokenizer(kind).value,
                      **(assets.describe() if assets else {})},
        "seed": seed,
        "precision": precision,
        "eval_interval": eval_interval or max(1, math.ceil(budget.steps / EVALUATIONS)),
        "gradient_accumulation": gradient_accumulation,
        "patience": patience,
        "init_from": init_source,
        "distribution": {"requested": strategy, "backend": backend},
    }  # fmt: skip
    keyed = {k: settings[k] for k in KEY_FIELDS}
    keyed["data"] = {k: settings["data"].get(k) for k in ("spec", "fingerprint", "source",
                                                          "train_tokens", "validation_tokens")}
    keyed["tokenizer"] = {k: settings["tokenizer"].get(k) for k in ("mode", "kind",
                                                                    "vocabulary_size")}
    key = hashlib.sha256(json.dumps(keyed, sort_keys=True, default=str).encode()).hexdigest()
    return RunPlan(settings=settings, data=data_bundle, assets=assets, budget=budget, key=key[:20])


def train(name=None, *, out=None, resume=False, reporter=None, plan=None, **options):
    """Train preset `name` and return its `RunRecord`; `options` are `plan_run`'s.

    With `resume=True`, continue the unfinished run in `out` (or the latest one of `name`).
    """
    reporter = reporter or Reporter()
    if resume:
        return resume_run(_run_to_resume(name, out), reporter, options.get("strategy"),
                          options.get("backend"))
    if options.get("strategy") is None:
        options["strategy"] = "auto"  # None means "as recorded" only when resuming
    plan = plan or plan_run(name, **options)
    distribution = _distribution(plan.settings, **plan.settings["distribution"])
    path = pathlib.Path(out or results_root() / new_run_id(plan.settings["preset"]))
    if distribution.worker_index:  # only the chief writes the run; the others keep their own
        path = path.with_name(f"{path.name}.worker-{distribution.worker_index}")
    record = RunRecord(path)
    if record.config_path.exists():
        raise ZooError(f"{record.path} already holds a run; use --resume or another --out")
    peak, peak_source = _peak(plan.settings["precision"], distribution)
    settings = {
        "run_id": record.path.name,
        **plan.settings,
        "resolution_key": plan.key,
        "distribution": {"requested": plan.settings["distribution"]["requested"],
                         **distribution.describe()},
        "device": " ".join(device_description()),
        "peak_flops": peak,
        "peak_flops_source": peak_source,
        "estimated_seconds": plan.budget.estimated_seconds(peak),
        **environment(),
    }
    record.path.mkdir(parents=True, exist_ok=True)
    if plan.assets:
        plan.assets.copy_to(record.tokenizer_path)
    return _execute(record, settings, plan.data, reporter, distribution, resume=False)


def resume_run(record, reporter=None, strategy=None, backend=None):
    """Continue `record` from its last checkpoint with the same data order and optimizer.

    It runs under the strategy it was started with unless `strategy` names another.
    """
    settings = record.config()
    requested = strategy or settings.get("distribution", {}).get("requested", "auto")
    distribution = _distribution(settings, requested, check_strategy(requested, backend))
    settings["distribution"] = {"requested": requested, **distribution.describe()}
    assets = load_tokenizer(record.tokenizer_path) if record.tokenizer_path.exists() else None
    data_bundle, _ = _prepare(settings["data"]["spec"], settings["tokenizer"]["kind"],
                              ModelConfig.from_dict(settings["model"]), assets)
    return _execute(record, settings, data_bundle, reporter or Reporter(), distribution,
                    resume=True)


def _distribution(settings, requested, backend):
    """The requested strategy, created, fitted to the run's model and checked against its batch."""
    distribution = resolve_distribution(requested, backend)
    distribution = distribution.configure(ModelConfig.from_dict(settings["model"]))
    distribution.check_batch(settings["budget"]["batch_size"] // settings["gradient_accumulation"])
    return distribution


def _peak(precision, distribution):
    """Peak FLOP/s of every device the step runs on (virtual CPU devices share one CPU)."""
    peak, source = peak_flops(precision)
    kind, _ = device_description()
    if peak is None or kind == "cpu" or len(distribution.devices) == 1:
        return peak, source
    return peak * len(distribution.devices), f"{source} × {len(distribution.devices)} devices"


def _execute(record, settings, data, reporter, distribution, resume):
    with distribution.scope():
        return _train_in_scope(record, settings, data, reporter, distribution, resume)


def _train_in_scope(record, settings, data, reporter, distribution, resume):
    keras.utils.set_random_seed(settings["seed"])
    config = ModelConfig.from_dict(settings["model"])
    training = TrainingRecipe.from_dict(settings["training"])
    budget = settings["budget"]
    loss = LanguageModelLoss(z_loss_weight=config.z_loss_weight)
    if resume:
        model = keras.models.load_model(record.checkpoint_path)
        optimizer = model.optimizer
        state = record.state()
    else:
        model = DecoderLM(config, dtype=settings["precision"])
        if settings["init_from"]:
            _load_initial_weights(model, settings["init_from"])
        optimizer = make_optimizer(training, budget["steps"], model,
                                   gradient_accumulation_steps=settings["gradient_accumulation"])
        state = {"step": 0, "evaluations": 0, "best_validation_loss": None, "wall_time": 0.0}
    # Under a TensorFlow strategy, Keras cannot compile the whole step with XLA: the replica's
    # forward, loss and gradients are compiled instead (zoo.training.distribution).
    model.per_replica_xla = distribution.per_replica_xla
    model.compile(optimizer=optimizer, loss=loss, jit_compile=not distribution.per_replica_xla)
    settings["xla"] = {"requested": True,
                       "effective": bool(model.jit_compile or model.per_replica_xla),
                       "compiled": distribution.xla_setting()}
    if distribution.strategy == "model-parallel":
        # Build the optimizer now so the record shows its slots sliced like their variables.
        model.optimizer.build(model.trainable_variables)
        settings["distribution"]["sharded"] = {
            path: list(spec) for path, spec in variable_layouts(model).items()}
    settings["optimizer"] = describe_optimizer(model.optimizer, model.trainable_variables)
    if not resume:
        record.write_config(settings)
    reporter.start({**settings, "resumed_at_step": state["step"] if resume else None})

    eval_windows = validation_windows(data.validation, config.max_sequence_length)
    sample = validation_windows(data.validation, config.max_sequence_length, EVAL_WINDOWS)
    started = time.perf_counter()
    rows, state = run_intervals(
        model=model, record=record, settings=settings, data=data,
        eval_windows=sample, reporter=reporter, state=state,
        peak_flops=settings["peak_flops"],
    )  # fmt: skip
    final = _finish(model, record, settings, data, eval_windows, rows, state,
                    time.perf_counter() - started)
    reporter.end(final)
    return record


def _finish(model, record, settings, data, eval_windows, rows, state, seconds):
    micro_batch = settings["budget"]["batch_size"] // settings["gradient_accumulation"]
    full_validation = validation_loss(evaluation_model(model), eval_windows, micro_batch)
    inference = DecoderLM.from_config(model.get_config())  # the weights, without optimizer state
    inference.set_weights(model.get_weights())
    atomic_save(record.model_path, inference.save)
    tokens, logits = probe_logits(inference, eval_windows)
    atomic_save(record.probe_path, lambda path: np.savez(path, tokens=tokens, logits=logits))
    last = rows[-1] if rows else {}
    summary = {
        "run_id": record.path.name,
        "preset": settings["preset"],
        "params": model.count_params(),
        "steps": state["step"],
        "tokens": state["step"] * settings["budget"]["tokens_per_step"],
        "flops": state["step"] * settings["budget"]["tokens_per_step"]
        * settings["budget"]["flops_per_token"],
        "final_train_loss": last.get("train_loss"),
        "validation_loss": full_validation,
        "validation_bits_per_byte": data.bits_per_byte(full_validation),
        "validation_windows": len(eval_windows),
        "best_validation_loss": state.get("best_validation_loss"),
        "best_step": state.get("best_step"),
        "stopped_early": state.get("stopped_early", False),
        "diverged": state.get("diverged", False),
        "unigram_bits_per_byte": settings["data"].get("unigram_bits_per_byte"),
        # Means over the evaluation intervals (each excludes its first, compiling, step).
        "tokens_per_second": mean_of_present(r.get("tokens_per_second") for r in rows),
        "mfu": mean_of_present(r.get("mfu") for r in rows),
        "xla": settings["xla"],
        "wall_time": state.get("wall_time", 0.0),
        "session_seconds": seconds,
    }
    record.write_summary(summary)
    return summary


def _prepare(spec, kind, config, assets=None):
    """Encoded data (and tokenizer assets): trained for the corpus, or `assets` when given."""
    if assets is None or spec.startswith(TOKENS_PREFIX):
        return prepare_data(spec, kind, config.vocabulary_size, config.max_sequence_length)
    if assets.vocabulary_size > config.vocabulary_size:
        raise ZooError(f"the tokenizer has {assets.vocabulary_size} tokens but the model only "
                       f"{config.vocabulary_size}")
    data = encode_corpus(load_corpus(spec), assets)
    check_context(data, config.max_sequence_length)
    return data, assets


def _corpus_facts(spec):
    """How the corpus was split, and the unigram yardstick in bits per byte (text corpora)."""
    if spec.startswith(TOKENS_PREFIX):
        return {"unigram_bits_per_byte": None}
    corpus = load_corpus(spec)
    return {
        "split": corpus.split,
        "fingerprint": corpus.fingerprint,
        "validation_documents": [d.name for d in corpus.validation][:50],
        "unigram_bits_per_byte": unigram_bits_per_byte(
            [d.text for d in corpus.train], [d.text for d in corpus.validation]
        ),
    }


def _run_to_resume(name, out):
    if out:
        record = RunRecord(out)
    else:
        preset = get_recipe(name).name
        candidates = [r for r in list_runs()
                      if (r.config() or {}).get("preset") == preset and not r.complete]
        if not candidates:
            raise ZooError(f"no unfinished {preset} run under {results_root()}/ to resume")
        record = candidates[-1]
    if not record.checkpoint_path.exists() or not record.state_path.exists():
        raise ZooError(f"{record.path} has no checkpoint to resume from")
    if record.complete:
        raise ZooError(f"{record.path} already finished")
    return record


def _init_source(init_from):
    """Where initial weights come from: a run directory or a .keras file, and its tokenizer."""
    path, tokenizer = model_source(init_from, option="--init-from")
    return {"path": str(path.resolve()),
            "tokenizer_path": str(tokenizer.resolve()) if tokenizer else None}


# Fields that may differ from an --init-from model: they change no weight's shape or meaning.
INIT_FROM_FREE_FIELDS = ("dropout", "z_loss_weight")


def _init_from_config(source, model_overrides):
    """The architecture of the --init-from model; --set may change only what no weight sees."""
    config = saved_model_config(source["path"])
    for field, value in model_overrides.items():
        if field in INIT_FROM_FREE_FIELDS:
            continue
        asked = getattr(config.replace(**{field: value}), field)  # normalised: enums, tuples
        if asked != getattr(config, field):
            raise ZooError(f"--set {field}: the architecture comes from --init-from "
                           f"{source['path']}, which has {field}={getattr(config, field)!r}")
    return config.replace(**model_overrides) if model_overrides else config


def _load_initial_weights(model, source):
    trained = load_decoder(source["path"])
    ours = {v.path: tuple(v.shape) for v in model.weights}
    theirs = {v.path: tuple(v.shape) for v in trained.weights}
    if ours != theirs:
        differ = sorted(set(ours.items()) ^ set(theirs.items()))[0]
        raise ZooError(f"--init-from {source['path']}: architecture differs (first difference: "
                       f"{differ[0]} {differ[1]})")
    model.set_weights(trained.get_weights())


def _check_choice(option, value, choices):
    if value not in choices:
        raise ZooError(f"--{option} must be one of {', '.join(choices)}; received {value!r}")


__all__ = ["PRECISIONS", "TOKENIZER_MODES", "Reporter", "RunPlan", "plan_run", "resume_run", "train"]
