"""The training loop: Keras `fit` between evaluations, with checkpoints, metrics and patience.

`fit` runs one evaluation interval at a time on a dataset started at the current step, so a run
can stop and resume at any checkpoint with the same data order (`zoo.data.pipeline` orders
samples by a stateless shuffle of the global sample index).
"""

import math
import os
import time

import keras
import numpy as np

from zoo.data.pipeline import train_dataset
from zoo.files import PARTIAL_PREFIX
from zoo.training.distribution import bind_per_replica_xla, multi_process_jax
from zoo.training.loss import LanguageModelLoss
from zoo.storage.commits import (
    commit,
    commit_rewound,
    extract_best_weights,
    keep_in_history,
    read_state,
    rewind_target,
)

# PaLM §5.1: "restart training from a checkpoint roughly 100 steps before the spike started,
# and skip roughly 200-500 data batches"; we take the low end of the skip.
REWIND_STEPS = 100
REWIND_SKIP_BATCHES = 200
MAX_REWINDS = 10  # then the spikes are not the data's doing: the run fails instead


class Rewind(Exception):
    """Raised after the commit at `step` when the interval skipped too many steps (PaLM's
    escalation, `rewind_after_spikes`); the trainer rewinds and resumes."""

    def __init__(self, step, skipped, state):
        super().__init__(f"{skipped} skipped steps in the interval ending at step {step}")
        self.step, self.skipped, self.state = step, skipped, state


class RunFailed(Exception):
    """A run that cannot go on (its loss or gradient became non-finite, or another process of
    it stopped). Not a `ZooError`: the input was valid, so the command line exits with its own
    status, not 2. The last commit (finite) is kept; `step` is where it failed. `exit_now`:
    this process cannot shut down normally (see `Distribution.collectives_outlive_errors`)."""

    def __init__(self, message, step, exit_now=False):
        super().__init__(message)
        self.step = step
        self.exit_now = exit_now


class Reporter:
    """Receives progress; the CLI renders it with rich, tests collect it. All methods optional."""

    def start(self, plan, facts):
        """`plan` is the `RunPlan`; `facts` what this session runs on (run_id, device,
        peak_flops, distribution, xla, optimizer, resumed_at_step)."""

    def step(self, progress):
        pass

    def evaluation(self, row):
        pass

    def message(self, text):
        pass

    def end(self, summary):
        pass


class _StepProgress(keras.callbacks.Callback):
    """Per-step timing and reporting; tokens/s excludes the first step (it includes compilation)."""

    def __init__(
        self,
        reporter,
        first_step,
        total_steps,
        tokens_per_micro_step,
        accumulation,
        flops_per_token,
        peak_flops,
    ):
        super().__init__()
        self.reporter = reporter
        self.micro_step = first_step * accumulation
        self.total_steps = total_steps
        self.tokens_per_micro_step = tokens_per_micro_step
        self.accumulation = accumulation
        self.flops_per_token = flops_per_token
        self.peak_flops = peak_flops
        self.times = []
        self.failure = None  # (step, what) once the loss or gradient is non-finite
        self.nonfinite_before = None

    def on_train_begin(self, logs=None):
        self.nonfinite_before = nonfinite_gradients(self.model.optimizer)

    def on_train_batch_end(self, batch, logs=None):
        now = time.perf_counter()
        self.times.append(now)
        self.micro_step += 1
        loss = float(logs["loss"]) if logs and "loss" in logs else None
        # Keras reports the running mean of the interval, so it turns non-finite at the first
        # non-finite step; the guard's counter catches a non-finite gradient with a finite loss.
        nonfinite = nonfinite_gradients(self.model.optimizer)
        if self.failure is None and (
            (loss is not None and not math.isfinite(loss)) or nonfinite > self.nonfinite_before
        ):
            what = (
                f"the training loss became {loss}"
                if loss is not None and not math.isfinite(loss)
                else "the gradient norm became non-finite"
            )
            self.failure = (-(-self.micro_step // self.accumulation), what)
            self.model.stop_training = True  # at once: the rest of the interval is not run
            return
        if self.micro_step % self.accumulation:
            return
        step = self.micro_step // self.accumulation
        speed = self.tokens_per_second(recent=20)
        self.reporter.step({
            "step": step,
            "total_steps": self.total_steps,
            "loss": loss,
            "learning_rate": float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)),
            "tokens_per_second": speed,
            "mfu": mfu(speed, self.flops_per_token, self.peak_flops),
            "gradient_norm": last_gradient_norm(self.model.optimizer),
            "skipped_steps": skipped_steps(self.model.optimizer),
        })  # fmt: skip

    def tokens_per_second(self, recent=None):
        times = self.times[-(recent + 1) :] if recent else self.times
        if len(times) < 2:
            return None
        return (len(times) - 1) * self.tokens_per_micro_step / (times[-1] - times[0])


def mean_of_present(values):
    """Mean of the values that are not None (None when there are none)."""
    values = [v for v in values if v is not None]
    return sum(values) / len(values) if values else None


def mfu(tokens_per_second, flops_per_token, peak_flops):
    if not tokens_per_second or not peak_flops:
        return None
    return tokens_per_second * flops_per_token / peak_flops


def evaluation_model(model):
    """A functional view sharing `model`'s weights, compiled to report plain cross-entropy.

    Training may add PaLM's z-loss; validation loss and bits per byte must not include it.
    """
    view = keras.Model(model.inputs, model.outputs, name="evaluation_view")
    per_replica = getattr(model, "per_replica_xla", False)  # XLA per replica, as the model
    if per_replica:
        bind_per_replica_xla(view)
    view.compile(loss=LanguageModelLoss(z_loss_weight=0.0), jit_compile=not per_replica)
    return view


def validation_loss(eval_model, windows, batch_size):
    """Mean nats per token over `windows` (n, seq_len + 1).

    Sharded data parallelism needs every batch full, so a short last batch is padded with
    zero-weighted copies. Keras divides each batch's weighted sum by the batch's full size and
    averages batches by size, so the result is rescaled by padded/real windows, exactly.
    """
    count = len(windows)
    padded = -(-count // batch_size) * batch_size
    weights = None
    if padded != count:
        windows = windows[np.arange(padded) % count]
        weights = (np.arange(padded) < count)[:, None].repeat(windows.shape[1] - 1, axis=1)
        weights = weights.astype("float32")
    x, y = windows[:, :-1].astype("int32"), windows[:, 1:].astype("int32")
    if multi_process_jax():
        # Keras splits a multi-process run's input between the processes, which it can do only
        # to a tf.data.Dataset (each process gets its slice of every batch, as in training).
        import tensorflow as tf

        parts = (x, y) if weights is None else (x, y, weights)
        dataset = tf.data.Dataset.from_tensor_slices(parts).batch(batch_size)
        loss = eval_model.evaluate(dataset, verbose=0)
    else:
        loss = eval_model.evaluate(x, y, sample_weight=weights, batch_size=batch_size, verbose=0)
    return float(loss) * padded / count


def evaluation_points(total_steps, interval, start=0):
    """Steps after which to evaluate: every `interval`, and always at the end."""
    points = list(range(interval, total_steps, interval)) + [total_steps]
    return [p for p in points if p > start]


def applied_micro_batches(optimizer):
    """Micro-batches the optimizer has applied (Keras's raw counter; with accumulation,
    `iterations` counts updates). Under the spike guard, skipped ones are not counted."""
    inner = getattr(optimizer, "inner_optimizer", optimizer)
    return int(keras.ops.convert_to_numpy(inner._iterations))


def _guard_reading(optimizer, name, convert, missing):
    """The spike guard's variable `name` as a Python number; `missing` without a guard."""
    variable = getattr(optimizer, name, None)
    return missing if variable is None else convert(keras.ops.convert_to_numpy(variable))


def skipped_steps(optimizer):
    """Updates the spike guard has skipped so far (0 without a guard)."""
    return _guard_reading(optimizer, "skipped_steps", int, 0)


def guard_restarts(optimizer):
    """Times the spike guard took a lasting move of the gradient norm as its new level."""
    return _guard_reading(optimizer, "restarts", int, 0)


def last_gradient_norm(optimizer):
    """The global gradient norm of the latest micro-batch as the spike guard measured it (before
    clipping); None without a guard (Keras computes no norm of its own to read)."""
    return _guard_reading(optimizer, "last_gradient_norm", float, None)


def nonfinite_gradients(optimizer):
    """Non-finite gradient norms the spike guard has seen (and skipped); 0 without a guard."""
    return _guard_reading(optimizer, "nonfinite_steps", int, 0)


def run_intervals(
    *, model, evaluation_view, record, plan, data, sample, reporter, state, peak_flops
):
    """Train from `state["step"]` to the budget, committing after every evaluation; returns the
    metric rows and the final state. Raises `RunFailed` when training turns non-finite and
    `Rewind` when PaLM's escalation is due.

    Each interval: train it, check its health, evaluate on `sample` (through `evaluation_view`,
    compiled once by the trainer), count patience, decide on a rewind, commit."""
    rows = record.metrics()[: state["evaluations"]]
    tensorboard = _tensorboard_writer(record)
    started = time.perf_counter() - state.get("wall_time", 0.0)
    if state.get("stopped_early"):  # resumed after the early stop was committed
        _restore_best(model, record)
        return rows, state
    if state.get("rewind_due"):  # resumed after a rewind was decided but not yet published
        raise Rewind(state["step"], state.get("skipped_steps", 0), dict(state))
    rewind_after = plan.run.rewind_after_spikes
    if rewind_after and state["step"]:  # a kill may have come between a commit and its link
        keep_in_history(record, state, keep_from_step=state["step"] - REWIND_STEPS)

    for point in evaluation_points(plan.budget.steps, plan.eval_interval, state["step"]):
        before = _GuardCounts.read(model.optimizer)
        history, progress = _train_interval(model, plan, data, state, point, reporter, peak_flops)
        _check_health(progress, state)
        skipped = _report_guard(model.optimizer, before, state, point, reporter)
        state["step"] = point
        row = _evaluate(
            model,
            evaluation_view,
            plan,
            data,
            sample,
            history,
            progress,
            point,
            started,
            peak_flops,
            state,
        )
        rows.append(row)
        reporter.evaluation(row)
        _log_tensorboard(tensorboard, row)
        improved = _count_patience(state, row, plan.run.patience)
        state.update(
            evaluations=len(rows),
            wall_time=row["wall_time"],
            optimizer_iterations=applied_micro_batches(model.optimizer),
        )
        # The decision to rewind is committed with the step, so a kill before the rewind is
        # published leads to the same rewind on resume.
        state["rewind_due"] = bool(
            rewind_after and skipped >= rewind_after and point < plan.budget.steps
        )
        record.write_metrics(rows)
        _commit(
            model, record, state, best=(improved if plan.run.patience else None), run_key=plan.key
        )
        if rewind_after:
            keep_in_history(record, state, keep_from_step=point - REWIND_STEPS)
        if state["rewind_due"]:
            raise Rewind(point, skipped, dict(state))
        if state["stopped_early"]:
            reporter.message(
                f"no improvement in {plan.run.patience} evaluations: stopping at "
                f"step {point}, restoring step {state['best_step']}"
            )
            _restore_best(model, record)
            break
    return rows, state


def _train_interval(model, plan, data, state, point, reporter, peak_flops):
    """`fit` from `state["step"]` to `point` on the data in its seeded order."""
    accumulation = plan.run.gradient_accumulation
    progress = _StepProgress(
        reporter,
        state["step"],
        plan.budget.steps,
        plan.micro_batch * plan.budget.seq_len,
        accumulation,
        plan.budget.flops_per_token,
        peak_flops,
    )
    # A rewind (PaLM's escalation) leaves the data `data_offset` batches further on.
    position = state["step"] + state.get("data_offset", 0)
    dataset = train_dataset(
        data.train,
        plan.budget.seq_len,
        plan.micro_batch,
        plan.run.seed,
        start_step=position * accumulation,
    )
    history = model.fit(
        dataset,
        steps_per_epoch=(point - state["step"]) * accumulation,
        epochs=1,
        verbose=0,
        shuffle=False,  # the dataset is already in its seeded order
        callbacks=[progress],
    )
    return history, progress


def _check_health(progress, state):
    """Raise `RunFailed` when the interval's loss or gradient turned non-finite. The guard
    cannot stall a run (a lasting jump of the norm costs it at most `max_consecutive_skips`
    steps), so a run fails only this way."""
    if not progress.failure:
        return
    step, what = progress.failure
    last = f"step {state['step']}" if state["step"] else "none: nothing was committed"
    raise RunFailed(
        f"training diverged at step {step}: {what}; the last commit ({last}) is "
        "kept and no model.keras was written; try a lower learning rate "
        "(learning_rate), a smaller clip_norm or z_loss_weight",
        step,
    )


class _GuardCounts:
    """The spike guard's counters before an interval."""

    def __init__(self, skipped, restarts):
        self.skipped, self.restarts = skipped, restarts

    @classmethod
    def read(cls, optimizer):
        return cls(skipped_steps(optimizer), guard_restarts(optimizer))


def _report_guard(optimizer, before, state, point, reporter):
    """Record the guard's counts in `state`, say when it restarted; returns the steps skipped
    in the interval."""
    restarts = guard_restarts(optimizer)
    if restarts > before.restarts:
        reporter.message(
            f"steps {state['step'] + 1}-{point}: the gradient norm moved to a new "
            f"level; the spike guard skipped {optimizer.max_consecutive_skips} "
            "steps in a row, then took it as its new level"
        )
    state["spike_guard_restarts"] = restarts
    state["skipped_steps"] = skipped_steps(optimizer)
    return state["skipped_steps"] - before.skipped


def _evaluate(
    model, view, plan, data, sample, history, progress, point, started, peak_flops, state
):
    """The interval's metrics row: training loss, validation loss on `sample`, speed."""
    tokens_per_step = plan.budget.tokens_per_step
    validation = validation_loss(view, sample, plan.micro_batch)
    speed = progress.tokens_per_second()
    return {
        "step": point,
        "tokens": point * tokens_per_step,
        "flops": point * tokens_per_step * plan.budget.flops_per_token,
        "learning_rate": float(keras.ops.convert_to_numpy(model.optimizer.learning_rate)),
        "train_loss": float(history.history["loss"][-1]),
        "validation_loss": validation,
        "validation_bits_per_byte": data.bits_per_byte(validation),
        "tokens_per_second": speed,
        "mfu": mfu(speed, plan.budget.flops_per_token, peak_flops),
        "skipped_steps": state["skipped_steps"],
        "wall_time": time.perf_counter() - started,
    }


def _count_patience(state, row, patience):
    """Update the best validation loss and the early stop in `state`; True when it improved."""
    validation = row["validation_loss"]
    improved = (
        state.get("best_validation_loss") is None or validation < state["best_validation_loss"]
    )
    if improved:
        state.update(
            best_validation_loss=validation, best_step=row["step"], evaluations_since_best=0
        )
    else:
        state["evaluations_since_best"] += 1
    state["stopped_early"] = bool(patience and state["evaluations_since_best"] >= patience)
    return improved


def rewind_run(record, rewind, reporter):
    """PaLM's escalation: publish the commit about `REWIND_STEPS` before the spikes again,
    with the data moved `REWIND_SKIP_BATCHES` batches on, so training resumes from there."""
    done = rewind.state.get("rewinds", [])
    if len(done) >= MAX_REWINDS:
        raise RunFailed(
            f"spikes persist after {MAX_REWINDS} rewinds (last: {rewind}); the "
            "last commit is kept; try a lower learning rate",
            rewind.step,
        )
    target = rewind_target(record, rewind.step - REWIND_STEPS)
    earlier = read_state(target)
    event = {
        "at_step": rewind.step,
        "skipped_steps": rewind.skipped,
        "to_step": earlier["step"],
        "skipped_batches": REWIND_SKIP_BATCHES,
    }
    commit_rewound(
        record,
        target,
        {
            **earlier,
            "data_offset": rewind.state.get("data_offset", 0) + REWIND_SKIP_BATCHES,
            "rewinds": [*done, event],
            "rewind_due": False,
        },
    )
    reporter.message(
        f"{rewind}: rewinding to step {earlier['step']} and skipping the next "
        f"{REWIND_SKIP_BATCHES} batches (PaLM §5.1)"
    )


def _commit(model, record, state, best, run_key):
    """One commit of the model, its optimizer and `state`; with `best` not None (patience), the
    best weights go into the same commit: these weights if `best`, else the previous commit's."""
    if best is None:
        commit(record, model, state, run_key=run_key)
        return
    weights = _scratch_best_weights(record)
    try:
        if best:
            model.save_weights(weights)
        elif not extract_best_weights(record, weights):
            model.save_weights(weights)  # unreachable in practice: the first evaluation improves
        commit(record, model, state, best_weights=weights, run_key=run_key)
    finally:
        if weights.exists():
            weights.unlink()


def _scratch_best_weights(record):
    """A temporary best-weights file in the run directory (removed by `remove_partials` if a
    kill leaves it)."""
    return record.path / f"{PARTIAL_PREFIX}{os.getpid()}.best.weights.h5"


def _restore_best(model, record):
    weights = _scratch_best_weights(record)
    try:
        if not extract_best_weights(record, weights):
            raise RuntimeError(f"{record.checkpoint_path} has no best weights to restore")
        model.load_weights(weights)
    finally:
        if weights.exists():
            weights.unlink()


def _tensorboard_writer(record):
    import tensorflow as tf  # TensorBoard's writer; TensorFlow is a dependency whatever the backend

    return tf.summary.create_file_writer(str(record.tensorboard_path))


def _log_tensorboard(writer, row):
    import tensorflow as tf

    with writer.as_default(step=row["step"]):
        for key, value in row.items():
            if key != "step" and value is not None:
                tf.summary.scalar(key, value)
    writer.flush()


def probe_logits(model, windows, length=64):
    """The fixed probe batch (first two validation windows, ≤ 64 tokens) and its logits."""
    tokens = np.asarray(windows[:2, : min(length, windows.shape[1] - 1)], dtype="int32")
    return tokens, keras.ops.convert_to_numpy(model(tokens)).astype("float32")
