"""`zoo.train()`: resolve a run up front, then train it and leave a record in `results/<run-id>/`.

Everything that can be wrong with the user's request (names, fields, budgets, data, resume and
init sources) is checked before the run directory is created, so bad input leaves nothing behind.
"""

import dataclasses
import math
import pathlib
import shutil
import time

import keras
import numpy as np

from zoo.baselines import ngram_yardstick, unigram_bits_per_byte
from zoo.data.corpus import load_corpus
from zoo.data.pipeline import (
    check_context,
    encode_corpus,
    prepare_data,
    validation_windows,
)
from zoo.data.tokenizer import load_tokenizer, prepare_tokenizer
from zoo.data_spec import DataSpec
from zoo.errors import FieldError, Setting, ZooError
from zoo.files import atomic_save, remove_partials
from zoo.model import DecoderLM
from zoo.overrides import apply_training_overrides, parse_overrides
from zoo.recipe import Tokenizer
from zoo.run_config import RunConfig, RunConfigError, TokenizerMode
from zoo.registry import get_recipe
from zoo.training.budget import resolve_budget
from zoo.training.distribution import (
    backend_choice,
    bind_per_replica_xla,
    check_strategy,
    own_copy,
    resolve_distribution,
    shard_optimizer_state,
    start_collectives,
    variable_layouts,
)
from zoo.training.hardware import device_description, peak_flops
from zoo.training.loop import (
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
from zoo.training.memory_maps import check_map_headroom
from zoo.training.optimizers import describe_optimizer, make_optimizer
from zoo.training.plan import (
    RESULT_VERSION,
    DataFacts,
    InitSource,
    RunPlan,
    TokenizerFacts,
    default_eval_interval,
    upgrade_record,
)
from zoo.training.spike_guard import RULE_VERSION as SPIKE_GUARD_RULE
from zoo.storage.commits import (
    RunLock,
    check_commit_identity,
    check_restored,
    prepare_directory,
    restart_directory,
)
from zoo.storage.environment import environment
from zoo.storage.models import load_decoder, model_source, saved_model_config
from zoo.storage.runs import RunRecord, list_runs, new_run_id, results_root

SHARED_TOKENIZER = Tokenizer.BYTE_BPE  # one kind for every model in comparisons


@dataclasses.dataclass(frozen=True)
class Materials:
    """What a plan trains on, loaded while planning: the token streams, the tokenizer assets
    (None for pre-tokenized data) and `init_from` weights (None without)."""

    data: object  # zoo.data.token_data.TokenData
    assets: object  # zoo.data.tokenizer.TokenizerAssets
    initial_weights: list = None


def run_config(run=None, **fields):
    """`run` (a `RunConfig`, its dict, or None for the defaults) with `fields` replaced."""
    if run is None:
        return RunConfig(**fields)
    run = RunConfig.from_dict(run) if isinstance(run, dict) else run
    return run.replace(**fields) if fields else run


def plan_run(name, run=None, *, overrides=(), materials=None, **fields):
    """Resolve a run (raising `ZooError` for any bad input) without writing anything.

    `run` is a `RunConfig` (or None); keyword `fields` are `RunConfig` fields replacing its
    values (`plan_run("palm-nano", steps=2, seed=1)`). `overrides` is a list of "key=value"
    strings or a dict of model and training fields. Returns a `RunPlan` whose `materials` (the
    data read once, the tokenizer, initial weights) come along for training in this process.
    `materials`: a dict a grid shares between its plans, so each data spec, tokenizer and
    context is read and encoded once per grid (corpus facts included), not once per cell.
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
    budget = resolve_budget(config, training, run.batch_size, **run.given_budget)
    if budget.batch_size % run.gradient_accumulation:
        raise RunConfigError(
            "gradient_accumulation",
            f"must divide the batch of "
            f"{budget.batch_size} sequences; received {run.gradient_accumulation}",
        )
    kind = SHARED_TOKENIZER if run.tokenizer is TokenizerMode.SHARED else training.tokenizer
    init_assets = initial_weights = None
    if init_source:
        # Loaded now, so that a damaged file is refused before anything is written.
        initial_weights = load_decoder(init_source.path).get_weights()
        if init_source.tokenizer_path:
            # Continued training must keep the token ids the weights were trained with.
            init_assets = load_tokenizer(init_source.tokenizer_path)
            kind = init_assets.kind
    shared = (run.data, Tokenizer(kind).value, config.vocabulary_size, config.max_sequence_length)
    if materials is not None and init_assets is None and shared in materials:
        data, assets, facts = materials[shared]
    else:
        data, assets, facts = prepare_materials(run.data, kind, config, init_assets)
        if materials is not None and init_assets is None:
            materials[shared] = data, assets, facts
    if run.passes is not None:
        data, facts = repeated_slice(data, facts, run.passes, budget)
    return RunPlan(
        preset=recipe.name,
        model=config,
        training=training,
        budget=budget,
        run=run,
        data=facts,
        tokenizer=TokenizerFacts.from_dict(
            {
                "mode": run.tokenizer.value,
                "kind": Tokenizer(kind).value,
                **(assets.describe() if assets else {}),
            }
        ),
        init_from=init_source,
        eval_interval=run.eval_interval or default_eval_interval(budget.steps),
        spike_guard_rule=SPIKE_GUARD_RULE if run.spike_guard else None,
        backend=backend,
        backend_choice=choice,
        materials=Materials(data, assets, initial_weights),
    )


def train(
    name=None, run=None, *, overrides=(), out=None, resume=False, reporter=None, plan=None, **fields
):
    """Train preset `name` and return its `RunRecord`.

    `run` is a `RunConfig` and `fields` replace its values (`zoo.train("palm-small", steps=100)`);
    `overrides` are model and training fields; `plan` a `RunPlan` made by `plan_run`.

    `resume=True` continues the unfinished run in `out` (or the latest one of `name`) as it was
    configured: options given must agree with its record, except `strategy` and `backend`,
    which do not change the result. A directory a killed run left before its first commit is
    trained again from the options given, whether or not its config.json was written.
    `resume="auto"` (for schedulers that rerun one command): the same, and a directory that
    does not exist or holds nothing yet is started; a finished run is returned as it is.
    """
    reporter = reporter or Reporter()
    # Before the corpus or the tokenizer starts TensorFlow (multi-worker must come first).
    start_collectives(*_requested_strategy(run, plan, fields))
    if resume not in (False, True, "auto"):
        raise RunConfigError("resume", f"must be true, false or 'auto'; received {resume!r}")
    if resume:
        return _resume(name, run, overrides, out, resume, reporter, plan, fields)
    plan = plan or plan_run(name, run, overrides=overrides, **fields)
    return _train_new(plan, out, reporter)


def _requested_strategy(run, plan, fields):
    """(strategy, backend) as asked for, before the plan is made (defaults: auto, $KERAS_BACKEND)."""
    run = plan.run if plan is not None else run
    strategy = fields.get("strategy") or (run.strategy if run is not None else "auto")
    backend = fields.get("backend") or (run.backend if run is not None else None)
    return strategy, backend


def _train_new(plan, out, reporter):
    """A new run of `plan` in `out` (or a fresh directory under the results root)."""
    check_map_headroom()  # before anything is written
    distribution = _distribution(plan, plan.run.strategy.value, plan.backend)
    # Only the chief writes the run; the other workers keep their own copies.
    path = own_copy(pathlib.Path(out or results_root() / new_run_id(plan.preset)))
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


def _resume(name, run, overrides, out, resume, reporter, plan, fields):
    """`train(..., resume=True or "auto")`: continue, restart or start, as the directory says."""
    if run is not None or plan is not None:
        raise RunConfigError(
            "run" if run is not None else "plan",
            "cannot be given when resuming: give the fields that differ "
            "from the defaults, as the command line does",
        )
    if out is None and resume == "auto":
        raise RunConfigError("resume", "'auto' needs the run's directory (out)")
    record = _run_to_resume(name, own_copy(out), must_exist=resume is True)
    if record.config_path.exists():
        _check_same_run(record, RunPlan.from_record(record.config()), name, overrides, fields)
        if record.complete:
            if resume == "auto":
                reporter.message(f"{record.path} already finished")
                return record
            raise ZooError(f"{record.path} already finished")
        return resume_run(record, reporter, fields.get("strategy"), fields.get("backend"))
    # Nothing was committed and nothing configured (killed before its config.json), or nothing
    # is there yet: the run starts from the options given, as the command that made it did.
    if name is None:
        raise RunConfigError("name", f"is needed to start {record.path}, which holds no run yet")
    return _train_new(plan_run(name, overrides=overrides, **fields), record.path, reporter)


def _check_same_run(record, recorded, name, overrides, fields):
    """Refuse in one line options that differ from how `record` (its plan `recorded`) was
    configured."""
    if name is not None and get_recipe(name).name != recorded.preset:
        raise ZooError(f"{record.path} holds a {recorded.preset} run, not {get_recipe(name).name}")
    # Strategy and backend say where it runs, not what it computes: they may differ.
    run_changes = {k: v for k, v in fields.items() if k not in ("strategy", "backend")}
    model_changes, training_changes = parse_overrides(overrides)
    for part, changes in (
        ("run", run_changes),
        ("model", model_changes),
        ("training", training_changes),
    ):
        recorded_part = getattr(recorded, part)
        for field, value in changes.items():
            had = getattr(recorded_part, field)
            if getattr(recorded_part.replace(**{field: value}), field) != had:  # normalised
                raise RunConfigError(
                    field,
                    f"is {had!r} in the run at {record.path}, which was configured otherwise "
                    f"than {value!r}; resume it as it was or choose another output directory",
                )


def _start(record, plan, distribution, reporter):
    """Set up `record` for `plan` (holding its lock) and train."""
    prepare_directory(record)
    materials = plan.materials or load_materials(plan)
    if materials.assets:
        materials.assets.copy_to(record.tokenizer_path)
    return _execute(record, plan, materials, reporter, distribution, resume=False)


def resume_run(record, reporter=None, strategy=None, backend=None):
    """Continue `record` from its last commit with the same data order and optimizer; a run
    stopped before its first commit restarts from step 0 with the same seed and data order.

    It runs under the strategy it was started with unless `strategy` names another.
    """
    check_map_headroom()
    with RunLock(record.path):
        remove_partials(record.path)  # temporary files of a killed writer
        recorded = record.config()
        if recorded is None:
            raise ZooError(
                f"{record.path} holds no run to resume (it was stopped before it "
                "started): train it again without resuming"
            )
        version = upgrade_record(recorded)["result_version"]  # before parsing what it changed
        if version != RESULT_VERSION:
            raise ZooError(
                f"{record.path} was started by trainer version {version}, which "
                f"trains differently from this one ({RESULT_VERSION}; see "
                "zoo.training.plan.RESULT_VERSION): train it again without resuming"
            )
        plan = RunPlan.from_record(recorded)
        rule = plan.spike_guard_rule or 1  # guarded runs before rules were numbered: rule 1
        if plan.run.spike_guard and rule != SPIKE_GUARD_RULE:
            raise ZooError(
                f"{record.path} was started with spike guard rule {rule}, which skips "
                f"other steps than this zoo's rule {SPIKE_GUARD_RULE} (see "
                "zoo.training.spike_guard): train it again without resuming"
            )
        if strategy or backend:
            plan = plan.replace(
                run=plan.run.replace(
                    **{k: v for k, v in (("strategy", strategy), ("backend", backend)) if v}
                )
            )
        choice = backend_choice(plan.run.backend, plan.run.strategy.value)
        plan = plan.replace(
            backend=check_strategy(plan.run.strategy.value, choice["backend"]),
            backend_choice=choice,
        )
        distribution = _distribution(plan, plan.run.strategy.value, plan.backend)
        assets = load_tokenizer(record.tokenizer_path) if record.tokenizer_path.exists() else None
        materials = load_materials(plan, assets)
        if record.state() is None:  # killed before the first commit: start again from step 0
            restart_directory(record)
            if materials.assets and not record.tokenizer_path.exists():
                materials.assets.copy_to(record.tokenizer_path)
            return _execute(
                record, plan, materials, reporter or Reporter(), distribution, resume=False
            )
        return _execute(record, plan, materials, reporter or Reporter(), distribution, resume=True)


def repeated_slice(data, facts, passes, budget):
    """(data, facts) with the training split cut to its first slice that `budget` passes over
    `passes` times: ⌈tokens / passes⌉ tokens, rounded up to whole windows (a window is the
    context plus the next token). Refused, naming `passes`, when the slice holds fewer windows
    than one batch, or more tokens than the split has."""
    seq_len = budget.seq_len
    windows = math.ceil(budget.tokens / passes / seq_len)
    length = windows * seq_len + 1
    if windows < budget.batch_size:
        raise RunConfigError(
            "passes",
            f"cuts the training split to {windows} windows of {seq_len} tokens, fewer than "
            f"one batch of {budget.batch_size}: take fewer passes or a larger budget",
        )
    if length > len(data.train):
        most = budget.tokens / max(1, len(data.train) - 1)
        raise RunConfigError(
            "passes",
            f"needs a slice of {length:,} tokens, but the training split has "
            f"{len(data.train):,}: this budget makes at least {most:.3g} passes over it",
        )
    return (
        dataclasses.replace(data, train=data.train[:length]),
        dataclasses.replace(facts, train_tokens=length),
    )


def load_materials(plan, assets=None):
    """The data, tokenizer and initial weights of a recorded plan (tokenizer `assets` given:
    the run's own copy), the training split cut as the plan cut it."""
    data, assets, _ = prepare_materials(plan.data.spec, plan.tokenizer_kind, plan.model, assets)
    if plan.run.passes is not None:
        data = dataclasses.replace(data, train=data.train[: plan.data.train_tokens])
    initial = load_decoder(plan.init_from.path).get_weights() if plan.init_from else None
    return Materials(data, assets, initial)


def _distribution(plan, requested, backend):
    """The requested strategy, created, fitted to the run's model and checked against its batch."""
    distribution = resolve_distribution(requested, backend)
    distribution = distribution.configure(plan.model)
    distribution.check_batch(plan.micro_batch)
    return distribution


def _peak(precision, distribution):
    """Peak FLOP/s of every device the step runs on (virtual CPU devices share one CPU)."""
    peak, source = peak_flops(precision)
    kind, _ = device_description()
    if peak is None or kind == "cpu" or len(distribution.devices) == 1:
        return peak, source
    return peak * len(distribution.devices), f"{source} × {len(distribution.devices)} devices"


def _execute(record, plan, materials, reporter, distribution, resume):
    if resume:  # every worker of a multi-worker run must go on from the same step
        distribution.check_same_step((record.state() or {}).get("step", 0))
    with distribution.scope():
        try:
            return _train_in_scope(record, plan, materials, reporter, distribution, resume)
        except Exception as error:
            lost = distribution.lost_workers(error)
            if not lost:
                raise
            state = record.state() or {}
            kept = f"its last commit (step {state['step']})" if state else "no commit yet"
            raise RunFailed(
                f"{', '.join(lost)} stopped during the run ({type(error).__name__}); "
                f"{record.path} keeps {kept}: start every worker again with the same command "
                "and --resume to continue",
                state.get("step", 0),
                exit_now=not distribution.collectives_outlive_errors,
            ) from None


def _train_in_scope(record, plan, materials, reporter, distribution, resume):
    keras.utils.set_random_seed(plan.run.seed)
    loss = LanguageModelLoss(z_loss_weight=plan.model.z_loss_weight)
    if resume:
        state = record.state()
        check_commit_identity(record, plan.key, state)
        model = keras.models.load_model(record.checkpoint_path)
        if getattr(model, "optimizer", None) is None:
            raise ZooError(
                f"{record.checkpoint_path} holds no optimizer: it is not a checkpoint "
                "of a run (a model.keras put in its place?); refusing to resume"
            )
        optimizer = model.optimizer
        check_restored(
            record, applied_micro_batches(optimizer), state, plan.run.gradient_accumulation
        )
    else:
        model = DecoderLM(plan.model, dtype=plan.run.precision.value)
        if materials.initial_weights is not None:
            try:
                model.set_weights(materials.initial_weights)
            except ValueError as error:
                raise ZooError(
                    f"init_from {plan.init_from.path}: its weights do not fit the model ({error})"
                ) from None
        optimizer = make_optimizer(
            plan.training,
            plan.budget.steps,
            model,
            gradient_accumulation_steps=plan.run.gradient_accumulation,
            spike_guard=plan.run.spike_guard,
        )
        state = {"step": 0, "evaluations": 0, "best_validation_loss": None, "wall_time": 0.0}
    # Under a TensorFlow strategy, Keras cannot compile the whole step with XLA: the replica's
    # forward, loss and gradients are compiled instead (zoo.training.distribution).
    if distribution.per_replica_xla:
        bind_per_replica_xla(model)
    model.compile(optimizer=optimizer, loss=loss, jit_compile=not distribution.per_replica_xla)
    # Built now, so that slots exist before the first step (model parallelism records their
    # layouts) and no variable is created inside a compiled step.
    model.optimizer.build(model.trainable_variables)
    if plan.run.shard_optimizer:  # after build (and after a resumed checkpoint's load)
        shard_optimizer_state(model.optimizer, distribution)
    facts = _run_facts(record, plan, model, distribution)
    if not resume:
        record.write_config(
            {"run_id": record.path.name, **plan.to_dict(), "resolution_key": plan.key, **facts}
        )
    reporter.start(
        plan,
        {"run_id": record.path.name, **facts, "resumed_at_step": state["step"] if resume else None},
    )

    windows = validation_windows(materials.data.validation, plan.model.max_sequence_length)
    sample = validation_windows(
        materials.data.validation, plan.model.max_sequence_length, plan.run.eval_windows
    )
    view = evaluation_model(model)  # built and compiled once for the run
    started = time.perf_counter()
    rewound = False
    try:
        try:
            rows, state = run_intervals(
                model=model, evaluation_view=view, record=record, plan=plan,
                data=materials.data, sample=sample, reporter=reporter, state=state,
                peak_flops=facts["peak_flops"],
            )  # fmt: skip
        except Rewind as rewind:  # PaLM's escalation: publish an earlier commit, resume from it
            rewind_run(record, rewind, reporter)
            rewound = True
    except RunFailed as failure:
        record.write_failure({"step": failure.step, "reason": str(failure)})
        raise
    if rewound:
        return _train_in_scope(record, plan, materials, reporter, distribution, resume=True)
    final = _finish(
        model,
        view,
        record,
        plan,
        materials.data,
        windows,
        rows,
        state,
        time.perf_counter() - started,
        facts["xla"],
    )
    reporter.end(final)
    return record


def _run_facts(record, plan, model, distribution):
    """What this session runs on and how (never read back by training): beside the plan in
    config.json, and the progress display's header."""
    peak, peak_source = _peak(plan.run.precision, distribution)
    described = {
        "requested": plan.run.strategy.value,
        **distribution.describe(),
        "backend_choice": plan.backend_choice,
    }
    if distribution.strategy == "model-parallel" or plan.run.shard_optimizer:
        described["shard_optimizer"] = plan.run.shard_optimizer
        described["sharded"] = {path: list(spec) for path, spec in variable_layouts(model).items()}
    return {
        "distribution": described,
        "device": " ".join(device_description()),
        "peak_flops": peak,
        "peak_flops_source": peak_source,
        "estimated_seconds": plan.budget.estimated_seconds(peak),
        "xla": {
            "requested": True,
            "effective": bool(model.jit_compile or distribution.per_replica_xla),
            "compiled": distribution.xla_setting(),
        },
        "optimizer": describe_optimizer(model.optimizer, model.trainable_variables),
        **environment(),
    }


def _finish(model, view, record, plan, data, windows, rows, state, seconds, xla):
    full_validation = validation_loss(view, windows, plan.micro_batch)
    inference = DecoderLM.from_config(model.get_config())  # the weights, without optimizer state
    inference.set_weights(model.get_weights())
    if plan.run.patience:  # the weights the run restored (and reports), for reference
        atomic_save(record.best_weights_path, inference.save_weights)
    atomic_save(record.model_path, inference.save)
    tokens, logits = probe_logits(inference, windows)
    atomic_save(record.probe_path, lambda path: np.savez(path, tokens=tokens, logits=logits))
    last = rows[-1] if rows else {}
    trained_tokens = state["step"] * plan.budget.tokens_per_step
    summary = {
        "run_id": record.path.name,
        "preset": plan.preset,
        "params": model.count_params(),
        "steps": state["step"],
        "tokens": trained_tokens,
        # Passes over the unique training tokens (Muennighoff et al. 2023: up to ~4 are nearly
        # as good as fresh data); sweeps flag more.
        "epochs": trained_tokens / max(1, plan.data.train_tokens),
        "flops": trained_tokens * plan.budget.flops_per_token,
        "final_train_loss": last.get("train_loss"),
        "validation_loss": full_validation,
        "validation_bits_per_byte": data.bits_per_byte(full_validation),
        "validation_windows": len(windows),
        "best_validation_loss": state.get("best_validation_loss"),
        "best_step": state.get("best_step"),
        "stopped_early": state.get("stopped_early", False),
        "skipped_steps": state.get("skipped_steps", 0),
        "spike_guard_restarts": state.get("spike_guard_restarts", 0),
        "rewinds": state.get("rewinds", []),
        "unigram_bits_per_byte": plan.data.unigram_bits_per_byte,
        **_ngram_facts(plan.data.spec),
        # Means over the evaluation intervals (each excludes its first, compiling, step).
        "tokens_per_second": mean_of_present(r.get("tokens_per_second") for r in rows),
        "mfu": mean_of_present(r.get("mfu") for r in rows),
        "xla": xla,
        "wall_time": state.get("wall_time", 0.0),
        "session_seconds": seconds,
    }
    record.write_summary(summary)
    return summary


def prepare_materials(spec, kind, config, assets=None):
    """(TokenData, TokenizerAssets or None, DataFacts) of a data spec, from one corpus read:
    the tokenizer trained for the corpus (cached), or `assets` when given."""
    if not DataSpec.of(spec).has_text:  # token ids: no corpus, no tokenizer of ours
        data, assets = prepare_data(spec, kind, config.vocabulary_size, config.max_sequence_length)
        return data, assets, DataFacts.from_dict({"spec": spec, **data.describe()})
    corpus = load_corpus(spec)
    if assets is None:
        assets = prepare_tokenizer(corpus, kind, config.vocabulary_size)
    elif assets.vocabulary_size > config.vocabulary_size:
        raise ZooError(
            f"the tokenizer has {assets.vocabulary_size} tokens but the model only "
            f"{config.vocabulary_size}"
        )
    data = encode_corpus(corpus, assets)
    check_context(data, config.max_sequence_length)
    facts = {
        "spec": spec,
        **data.describe(),
        "split": corpus.split,
        "fingerprint": corpus.fingerprint,
        "validation_documents": [d.name for d in corpus.validation][:50],
        "unigram_bits_per_byte": unigram_bits_per_byte(
            [d.text for d in corpus.train], [d.text for d in corpus.validation]),
    }  # fmt: skip
    return data, assets, DataFacts.from_dict(facts)


def _ngram_facts(spec):
    """The Kneser-Ney byte n-gram yardstick of a text corpus, for the summary: built once per
    corpus (seconds) and cached; None for pre-tokenized data or where it cannot be had."""
    yardstick = ngram_yardstick(spec) or {}
    return {
        "ngram_bits_per_byte": yardstick.get("bits_per_byte"),
        "ngram_order": yardstick.get("order"),
    }


def _run_to_resume(name, out, must_exist=True):
    """The run directory `out`, or the latest unfinished run of `name` under the results root."""
    if out:
        record = RunRecord(out)
        if must_exist and not record.path.is_dir():
            raise ZooError(f"{record.path} does not exist: there is no run to resume")
        return record
    preset = get_recipe(name).name
    candidates = [r for r in list_runs() if not r.complete and r.setting("preset") == preset]
    if not candidates:
        raise ZooError(f"no unfinished {preset} run under {results_root()}/ to resume")
    return candidates[-1]


def _init_source(init_from):
    """Where initial weights come from: a run directory or a .keras file, and its tokenizer."""
    path, tokenizer = model_source(init_from, field="init_from")
    return InitSource(
        path=str(path.resolve()), tokenizer_path=str(tokenizer.resolve()) if tokenizer else None
    )


# Fields that may differ from an --init-from model: they change no weight's shape or meaning.
INIT_FROM_FREE_FIELDS = ("dropout", "z_loss_weight")


def _init_from_config(source, model_overrides):
    """The architecture of the --init-from model; --set may change only what no weight sees."""
    config = saved_model_config(source.path)
    for field, value in model_overrides.items():
        if field in INIT_FROM_FREE_FIELDS:
            continue
        asked = getattr(config.replace(**{field: value}), field)  # normalised: enums, tuples
        if asked != getattr(config, field):
            raise FieldError(
                "overrides",
                f"{field}: the architecture comes from ",
                Setting("init_from", source.path),
                f", which has {field}={getattr(config, field)!r}",
            )
    return config.replace(**model_overrides) if model_overrides else config


__all__ = [
    "Materials",
    "RESULT_VERSION",
    "Reporter",
    "RunPlan",
    "plan_run",
    "resume_run",
    "run_config",
    "train",
]
