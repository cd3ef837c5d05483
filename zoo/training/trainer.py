"""`zoo.train()`: resolve a run up front, then train it and leave a record in `results/<run-id>/`.

Everything that can be wrong with the user's request (names, fields, budgets, data, resume and
init sources) is checked before the run directory is created, so bad input leaves nothing behind.
"""

import dataclasses
import hashlib
import json
import math
import pathlib
import shutil
import time

import keras
import numpy as np

from zoo.baselines import ngram_yardstick, unigram_bits_per_byte
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
from zoo.files import atomic_save, remove_partials
from zoo.model import DecoderLM
from zoo.overrides import apply_training_overrides, parse_overrides
from zoo.recipe import Tokenizer, TrainingRecipe
from zoo.run_config import RunConfig, RunConfigError, TokenizerMode
from zoo.registry import get_recipe
from zoo.training.budget import resolve_budget
from zoo.training.distribution import (
    backend_choice,
    bind_per_replica_xla,
    check_strategy,
    resolve_distribution,
    variable_layouts,
)
from zoo.training.hardware import device_description, peak_flops
from zoo.training.loop import (
    EVAL_WINDOWS,
    Reporter,
    Rewind,
    RunFailed,
    applied_micro_batches,
    evaluation_model,
    mean_of_present,
    probe_logits,
    rewind_run,
    run_intervals,
    validation_loss,
)
from zoo.training.loss import LanguageModelLoss
from zoo.training.optimizers import describe_optimizer, make_optimizer
from zoo.training.spike_guard import RULE_VERSION as SPIKE_GUARD_RULE
from zoo.storage.commits import (
    RunLock,
    check_restored,
    prepare_directory,
    restart_directory,
)
from zoo.storage.environment import environment
from zoo.storage.models import load_decoder, model_source, saved_model_config
from zoo.storage.runs import RunRecord, list_runs, new_run_id, results_root

SHARED_TOKENIZER = Tokenizer.BYTE_BPE  # one kind for every model in comparisons
EVALUATIONS = 10  # default number of evaluations over a run


@dataclasses.dataclass
class RunPlan:
    """A fully resolved run, before anything is written: what `train()` will do."""

    run: RunConfig  # what was asked for, beyond the model and the recipe
    settings: dict  # JSON-ready; becomes config.json (with the environment added)
    data: object  # zoo.data.pipeline.TokenData
    assets: object  # zoo.data.tokenizer.TokenizerAssets, or None for pre-tokenized data
    budget: object  # zoo.training.budget.Budget
    key: str  # hash of everything that determines the result; equal keys mean reusable runs
    initial_weights: list = None  # --init-from weights, loaded (and so checked) while planning


def run_config(run=None, **fields):
    """`run` (a `RunConfig`, its dict, or None for the defaults) with `fields` replaced."""
    if run is None:
        return RunConfig(**fields)
    run = RunConfig.from_dict(run) if isinstance(run, dict) else run
    return run.replace(**fields) if fields else run


def plan_run(name, run=None, *, overrides=(), **fields):
    """Resolve a run (raising `ZooError` for any bad input) without writing anything.

    `run` is a `RunConfig` (or None); keyword `fields` are `RunConfig` fields replacing its
    values (`plan_run("palm-nano", steps=2, seed=1)`). `overrides` is a list of "key=value"
    strings or a dict of model and training fields.
    """
    run = run_config(run, **fields)
    choice = backend_choice(run.backend, run.strategy.value)
    backend = check_strategy(run.strategy.value, choice["backend"])
    recipe = get_recipe(name)
    model_overrides, training_overrides = parse_overrides(overrides)
    init_source = _init_source(run.init_from) if run.init_from else None
    if init_source:  # continued training: the weights fix the architecture, the preset the rest
        config = _init_from_config(init_source, model_overrides)
    else:
        config = recipe.model.replace(**model_overrides) if model_overrides else recipe.model
    training = apply_training_overrides(recipe.training, training_overrides)
    budget = resolve_budget(config, training, run.batch_size, **run.budget)
    if budget.batch_size % run.gradient_accumulation:
        raise RunConfigError("gradient_accumulation", f"must divide the batch of "
                             f"{budget.batch_size} sequences; received {run.gradient_accumulation}")
    kind = SHARED_TOKENIZER if run.tokenizer is TokenizerMode.SHARED else training.tokenizer
    init_assets = initial_weights = None
    if init_source:
        # Loaded now, so that a damaged file is refused before anything is written.
        initial_weights = load_decoder(init_source["path"]).get_weights()
        if init_source.get("tokenizer_path"):
            # Continued training must keep the token ids the weights were trained with.
            init_assets = load_tokenizer(init_source["tokenizer_path"])
            kind = init_assets.kind
    data_bundle, assets = _prepare(run.data, kind, config, init_assets)
    settings = {
        "result_version": RESULT_VERSION,
        "preset": recipe.name,
        "model": config.to_dict(),
        "training": training.to_dict(),
        "budget": budget.to_dict(),
        "data": {"spec": run.data, **data_bundle.describe(), **_corpus_facts(run.data)},
        "tokenizer": {"mode": run.tokenizer.value, "kind": Tokenizer(kind).value,
                      **(assets.describe() if assets else {})},
        "run": run.to_dict(),
        # Resolved from `run` (the values training uses):
        "seed": run.seed,
        "precision": run.precision.value,
        "eval_interval": run.eval_interval or max(1, math.ceil(budget.steps / EVALUATIONS)),
        "eval_windows": run.eval_windows,
        "gradient_accumulation": run.gradient_accumulation,
        "patience": run.patience,
        "spike_guard": run.spike_guard,
        **({"spike_guard_rule": SPIKE_GUARD_RULE} if run.spike_guard else {}),
        "init_from": init_source,
        "distribution": {"requested": run.strategy.value, "backend": backend,
                         "backend_choice": choice},
    }  # fmt: skip
    return RunPlan(run=run, settings=settings, data=data_bundle, assets=assets, budget=budget,
                   key=run_key(settings, run), initial_weights=initial_weights)


# What the same settings train to changes when the code does. Bumped with every change that
# alters a result, so a run of the old code is never reused as if it were the new one:
#   1  (no entry) up to 2026-12
#   2  every weight drawn independently (`IndependentDraws`: blocks, SwiGLU's gate and up, an
#      untied head no longer share initial values); sparse gradients counted correctly by
#      global-norm clipping on TensorFlow (`DenseGradientClipping`: untied embeddings)
RESULT_VERSION = 2


def run_key(settings, run):
    """The run's identity: a hash of everything that can change its result, and nothing else.

    `run.identity()` holds exactly the `RunConfig` fields that declare `affects_result`; the
    rest is what they resolved to (the model, the recipe, the budget in steps, the corpus's
    fingerprint and token counts, the tokenizer, the evaluation interval, the --init-from file),
    and `RESULT_VERSION`, what the code trains them to (and, for guarded runs, the spike guard's
    rule).
    """
    keyed = {
        "result_version": RESULT_VERSION,
        "preset": settings["preset"],
        "model": settings["model"],
        "training": settings["training"],
        "budget": settings["budget"],
        "run": {**run.identity(), "init_from": settings["init_from"],
                "eval_interval": settings["eval_interval"]},
        "data": {k: settings["data"].get(k) for k in ("spec", "fingerprint", "source",
                                                      "train_tokens", "validation_tokens")},
        "tokenizer": {k: settings["tokenizer"].get(k) for k in ("mode", "kind",
                                                                "vocabulary_size")},
    }
    if "spike_guard_rule" in settings:  # guarded runs only: the others keep their keys
        keyed["spike_guard_rule"] = settings["spike_guard_rule"]
    return hashlib.sha256(json.dumps(keyed, sort_keys=True, default=str).encode()).hexdigest()[:20]


def train(name=None, run=None, *, overrides=(), out=None, resume=False, reporter=None,
          plan=None, **fields):
    """Train preset `name` and return its `RunRecord`.

    `run` is a `RunConfig` and `fields` replace its values (`zoo.train("palm-small", steps=100)`);
    `overrides` are model and training fields. With `resume=True`, continue the unfinished run
    in `out` (or the latest one of `name`) exactly as it was configured: only `strategy` and
    `backend` may be given, since they do not change the result.
    """
    reporter = reporter or Reporter()
    if resume:
        extra = sorted(set(fields) - {"strategy", "backend"})
        if run is not None or overrides or plan is not None or extra:
            what = extra[0] if extra else ("overrides" if overrides else "run")
            raise RunConfigError(what, "cannot be given when resuming: a run resumes as it was "
                                       "configured (only strategy and backend may change)")
        record = _run_to_resume(name, out)
        return resume_run(record, reporter, fields.get("strategy"), fields.get("backend"))
    plan = plan or plan_run(name, run, overrides=overrides, **fields)
    asked = plan.settings["distribution"]
    distribution = _distribution(plan.settings, asked["requested"], asked["backend"])
    path = pathlib.Path(out or results_root() / new_run_id(plan.settings["preset"]))
    if distribution.worker_index:  # only the chief writes the run; the others keep their own
        path = path.with_name(f"{path.name}.worker-{distribution.worker_index}")
    record = RunRecord(path)
    created = not record.path.exists()
    with RunLock(record.path):
        try:
            return _start(record, plan, distribution, reporter)
        except BaseException:
            # Failed before the run existed (a full disk, Ctrl-C during setup): leave nothing
            # of a directory this process created (only while holding its lock).
            if created and not record.config_path.exists():
                shutil.rmtree(record.path, ignore_errors=True)
            raise


def _start(record, plan, distribution, reporter):
    """Set up `record` for `plan` (holding its lock) and train."""
    prepare_directory(record)
    peak, peak_source = _peak(plan.settings["precision"], distribution)
    settings = {
        "run_id": record.path.name,
        **plan.settings,
        "resolution_key": plan.key,
        "distribution": {"requested": plan.settings["distribution"]["requested"],
                         **distribution.describe(),
                         "backend_choice": plan.settings["distribution"].get("backend_choice")},
        "device": " ".join(device_description()),
        "peak_flops": peak,
        "peak_flops_source": peak_source,
        "estimated_seconds": plan.budget.estimated_seconds(peak),
        **environment(),
    }
    if plan.assets:
        plan.assets.copy_to(record.tokenizer_path)
    return _execute(record, settings, plan.data, reporter, distribution, resume=False,
                    initial_weights=plan.initial_weights)


def recorded_run(settings):
    """The `RunConfig` a config.json records (rebuilt for runs written before it existed)."""
    if "run" in settings:
        return RunConfig.from_dict(settings["run"])
    return RunConfig.from_legacy_settings(settings)


def resume_run(record, reporter=None, strategy=None, backend=None):
    """Continue `record` from its last commit with the same data order and optimizer; a run
    stopped before its first commit restarts from step 0 with the same seed and data order.

    It runs under the strategy it was started with unless `strategy` names another.
    """
    with RunLock(record.path):
        remove_partials(record.path)  # temporary files of a killed writer
        settings = record.config()
        if settings is None:
            raise ZooError(f"{record.path} holds no run to resume (it was stopped before it "
                           "started): train it again without resuming")
        started_by = settings.get("result_version", 1)
        if started_by != RESULT_VERSION:
            raise ZooError(f"{record.path} was started by trainer version {started_by}, which "
                           f"trains differently from this one ({RESULT_VERSION}; see "
                           "zoo.training.trainer.RESULT_VERSION): train it again without resuming")
        run = recorded_run(settings)
        rule = settings.get("spike_guard_rule", 1)
        if run.spike_guard and rule != SPIKE_GUARD_RULE:
            raise ZooError(f"{record.path} was started with spike guard rule {rule}, which skips "
                           f"other steps than this zoo's rule {SPIKE_GUARD_RULE} (see "
                           "zoo.training.spike_guard): train it again without resuming")
        if strategy or backend:
            run = run.replace(**{k: v for k, v in (("strategy", strategy), ("backend", backend))
                                 if v})
        requested = run.strategy.value
        choice = backend_choice(run.backend, requested)
        distribution = _distribution(settings, requested, check_strategy(requested,
                                                                         choice["backend"]))
        settings["run"] = run.to_dict()
        settings.setdefault("eval_windows", run.eval_windows)
        settings.setdefault("spike_guard", run.spike_guard)
        settings["distribution"] = {"requested": requested, **distribution.describe(),
                                    "backend_choice": choice}
        assets = load_tokenizer(record.tokenizer_path) if record.tokenizer_path.exists() else None
        data_bundle, assets = _prepare(settings["data"]["spec"], settings["tokenizer"]["kind"],
                                       ModelConfig.from_dict(settings["model"]), assets)
        if record.state() is None:  # killed before the first commit: start again from step 0
            restart_directory(record)
            if assets and not record.tokenizer_path.exists():
                assets.copy_to(record.tokenizer_path)
            initial = (load_decoder(settings["init_from"]["path"]).get_weights()
                       if settings.get("init_from") else None)
            return _execute(record, settings, data_bundle, reporter or Reporter(), distribution,
                            resume=False, initial_weights=initial)
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


def _execute(record, settings, data, reporter, distribution, resume, initial_weights=None):
    with distribution.scope():
        return _train_in_scope(record, settings, data, reporter, distribution, resume,
                               initial_weights)


def _train_in_scope(record, settings, data, reporter, distribution, resume, initial_weights):
    keras.utils.set_random_seed(settings["seed"])
    config = ModelConfig.from_dict(settings["model"])
    training = TrainingRecipe.from_dict(settings["training"])
    budget = settings["budget"]
    accumulation = settings["gradient_accumulation"]
    loss = LanguageModelLoss(z_loss_weight=config.z_loss_weight)
    if resume:
        state = record.state()
        model = keras.models.load_model(record.checkpoint_path)
        optimizer = model.optimizer
        check_restored(record, applied_micro_batches(optimizer), state, accumulation)
    else:
        model = DecoderLM(config, dtype=settings["precision"])
        if initial_weights is not None:
            try:
                model.set_weights(initial_weights)
            except ValueError as error:
                raise ZooError(f"init_from {settings['init_from']['path']}: its weights do "
                               f"not fit the model ({error})") from None
        optimizer = make_optimizer(training, budget["steps"], model,
                                   gradient_accumulation_steps=accumulation,
                                   spike_guard=settings.get("spike_guard", False))
        state = {"step": 0, "evaluations": 0, "best_validation_loss": None, "wall_time": 0.0}
    # Under a TensorFlow strategy, Keras cannot compile the whole step with XLA: the replica's
    # forward, loss and gradients are compiled instead (zoo.training.distribution).
    if distribution.per_replica_xla:
        bind_per_replica_xla(model)
    model.compile(optimizer=optimizer, loss=loss,
                  jit_compile=not distribution.per_replica_xla)
    # Built now, so that slots exist before the first step (model parallelism records their
    # layouts) and no variable is created inside a compiled step.
    model.optimizer.build(model.trainable_variables)
    settings["xla"] = {"requested": True,
                       "effective": bool(model.jit_compile or distribution.per_replica_xla),
                       "compiled": distribution.xla_setting()}
    if distribution.strategy == "model-parallel":
        settings["distribution"]["sharded"] = {
            path: list(spec) for path, spec in variable_layouts(model).items()}
    settings["optimizer"] = describe_optimizer(model.optimizer, model.trainable_variables)
    if not resume:
        record.write_config(settings)
    reporter.start({**settings, "resumed_at_step": state["step"] if resume else None})

    eval_windows = validation_windows(data.validation, config.max_sequence_length)
    sample = validation_windows(data.validation, config.max_sequence_length,
                                settings.get("eval_windows", EVAL_WINDOWS))
    started = time.perf_counter()
    rewound = False
    try:
        try:
            rows, state = run_intervals(
                model=model, record=record, settings=settings, data=data,
                eval_windows=sample, reporter=reporter, state=state,
                peak_flops=settings["peak_flops"],
            )  # fmt: skip
        except Rewind as rewind:  # PaLM's escalation: publish an earlier commit, resume from it
            rewind_run(record, rewind, reporter)
            rewound = True
    except RunFailed as failure:
        record.write_failure({"step": failure.step, "reason": str(failure)})
        raise
    if rewound:
        return _train_in_scope(record, settings, data, reporter, distribution, resume=True,
                               initial_weights=None)
    final = _finish(model, record, settings, data, eval_windows, rows, state,
                    time.perf_counter() - started)
    reporter.end(final)
    return record


def _finish(model, record, settings, data, eval_windows, rows, state, seconds):
    micro_batch = settings["budget"]["batch_size"] // settings["gradient_accumulation"]
    full_validation = validation_loss(evaluation_model(model), eval_windows, micro_batch)
    inference = DecoderLM.from_config(model.get_config())  # the weights, without optimizer state
    inference.set_weights(model.get_weights())
    if settings.get("patience"):  # the weights the run restored (and reports), for reference
        atomic_save(record.best_weights_path, inference.save_weights)
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
        # Passes over the unique training tokens (Muennighoff et al. 2023: up to ~4 are nearly
        # as good as fresh data); sweeps flag more.
        "epochs": state["step"] * settings["budget"]["tokens_per_step"]
        / max(1, settings["data"]["train_tokens"]),
        "flops": state["step"] * settings["budget"]["tokens_per_step"]
        * settings["budget"]["flops_per_token"],
        "final_train_loss": last.get("train_loss"),
        "validation_loss": full_validation,
        "validation_bits_per_byte": data.bits_per_byte(full_validation),
        "validation_windows": len(eval_windows),
        "best_validation_loss": state.get("best_validation_loss"),
        "best_step": state.get("best_step"),
        "stopped_early": state.get("stopped_early", False),
        "skipped_steps": state.get("skipped_steps", 0),
        "spike_guard_restarts": state.get("spike_guard_restarts", 0),
        "rewinds": state.get("rewinds", []),
        "unigram_bits_per_byte": settings["data"].get("unigram_bits_per_byte"),
        **_ngram_facts(settings["data"]["spec"]),
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


def _ngram_facts(spec):
    """The Kneser-Ney byte n-gram yardstick of a text corpus, for the summary: built once per
    corpus (seconds) and cached; None for pre-tokenized data or where it cannot be had."""
    yardstick = ngram_yardstick(spec) or {}
    return {"ngram_bits_per_byte": yardstick.get("bits_per_byte"),
            "ngram_order": yardstick.get("order")}


def _run_to_resume(name, out):
    """The run `out`, or the latest unfinished run of `name` under the results root."""
    if out:
        record = RunRecord(out)
        if not record.path.is_dir():
            raise ZooError(f"{record.path} does not exist: there is no run to resume")
    else:
        preset = get_recipe(name).name
        candidates = [r for r in list_runs() if not r.complete and r.setting("preset") == preset]
        if not candidates:
            raise ZooError(f"no unfinished {preset} run under {results_root()}/ to resume")
        record = candidates[-1]
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


__all__ = ["Reporter", "RunPlan", "plan_run", "resume_run", "run_config", "train"]
