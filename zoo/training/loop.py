"""The training loop: Keras `fit` between evaluations, with checkpoints, metrics and patience.

`fit` runs one evaluation interval at a time on a dataset started at the current step, so a run
can stop and resume at any checkpoint with the same data order (`zoo.data.pipeline` orders
samples by a stateless shuffle of the global sample index).
"""

import math
import time

import keras
import numpy as np

from zoo.data.pipeline import train_dataset
from zoo.files import atomic_save
from zoo.training.distribution import PerReplicaXLA
from zoo.training.loss import LanguageModelLoss


class Reporter:
    """Receives progress; the CLI renders it with rich, tests collect it. All methods optional."""

    def start(self, plan):
        pass

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

    def __init__(self, reporter, first_step, total_steps, tokens_per_micro_step, accumulation,
                 flops_per_token, peak_flops):
        super().__init__()
        self.reporter = reporter
        self.micro_step = first_step * accumulation
        self.total_steps = total_steps
        self.tokens_per_micro_step = tokens_per_micro_step
        self.accumulation = accumulation
        self.flops_per_token = flops_per_token
        self.peak_flops = peak_flops
        self.times = []

    def on_train_batch_end(self, batch, logs=None):
        now = time.perf_counter()
        self.times.append(now)
        self.micro_step += 1
        if self.micro_step % self.accumulation:
            return
        step = self.micro_step // self.accumulation
        speed = self.tokens_per_second(recent=20)
        self.reporter.step({
            "step": step,
            "total_steps": self.total_steps,
            "loss": float(logs["loss"]) if logs and "loss" in logs else None,
            "learning_rate": float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)),
            "tokens_per_second": speed,
            "mfu": mfu(speed, self.flops_per_token, self.peak_flops),
        })  # fmt: skip

    def tokens_per_second(self, recent=None):
        times = self.times[-(recent + 1):] if recent else self.times
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


class _EvaluationView(PerReplicaXLA, keras.Model):
    """A functional view of a trained model; XLA per replica under a TensorFlow strategy."""


def evaluation_model(model):
    """A functional view sharing `model`'s weights, compiled to report plain cross-entropy.

    Training may add PaLM's z-loss; validation loss and bits per byte must not include it.
    """
    view = _EvaluationView(model.inputs, model.outputs, name="evaluation_view")
    view.per_replica_xla = getattr(model, "per_replica_xla", False)
    view.compile(loss=LanguageModelLoss(z_loss_weight=0.0), jit_compile=not view.per_replica_xla)
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
    loss = eval_model.evaluate(x, y, sample_weight=weights, batch_size=batch_size, verbose=0)
    return float(loss) * padded / count


def evaluation_points(total_steps, interval, start=0):
    """Steps after which to evaluate: every `interval`, and always at the end."""
    points = list(range(interval, total_steps, interval)) + [total_steps]
    return [p for p in points if p > start]


def run_intervals(*, model, record, settings, data, eval_windows, reporter, state,
                  peak_flops):
    """Train from `state["step"]` to the budget; returns the metric rows and the final state."""
    budget = settings["budget"]
    accumulation = settings["gradient_accumulation"]
    micro_batch = budget["batch_size"] // accumulation
    tokens_per_step = budget["tokens_per_step"]
    flops_per_token = budget["flops_per_token"]
    eval_model = evaluation_model(model)
    rows = record.metrics()[: state["evaluations"]]
    tensorboard = _tensorboard_writer(record)
    patience = settings.get("patience")
    started = time.perf_counter() - state.get("wall_time", 0.0)

    for point in evaluation_points(budget["steps"], settings["eval_interval"], state["step"]):
        steps = point - state["step"]
        progress = _StepProgress(reporter, state["step"], budget["steps"],
                                 micro_batch * budget["seq_len"], accumulation, flops_per_token,
                                 peak_flops)
        dataset = train_dataset(data.train, budget["seq_len"], micro_batch, settings["seed"],
                                start_step=state["step"] * accumulation)
        history = model.fit(dataset, steps_per_epoch=steps * accumulation, epochs=1, verbose=0,
                            shuffle=False,  # the dataset is already in its seeded order
                            callbacks=[progress])
        train_loss = float(history.history["loss"][-1])
        if not math.isfinite(train_loss):
            reporter.message(f"training loss became {train_loss} at step {point}; stopping")
            state["diverged"] = True
            break
        state["step"] = point
        val = validation_loss(eval_model, eval_windows, micro_batch)
        speed = progress.tokens_per_second()
        row = {
            "step": point,
            "tokens": point * tokens_per_step,
            "flops": point * tokens_per_step * flops_per_token,
            "learning_rate": float(keras.ops.convert_to_numpy(model.optimizer.learning_rate)),
            "train_loss": train_loss,
            "validation_loss": val,
            "validation_bits_per_byte": data.bits_per_byte(val),
            "tokens_per_second": speed,
            "mfu": mfu(speed, flops_per_token, peak_flops),
            "wall_time": time.perf_counter() - started,
        }
        rows.append(row)
        reporter.evaluation(row)
        _log_tensorboard(tensorboard, row)
        improved = state.get("best_validation_loss") is None or val < state["best_validation_loss"]
        if improved:
            state.update(best_validation_loss=val, best_step=point, evaluations_since_best=0)
            if patience:
                atomic_save(record.best_weights_path, model.save_weights)
        else:
            state["evaluations_since_best"] += 1
        state.update(evaluations=len(rows), wall_time=row["wall_time"])
        record.write_metrics(rows)
        _checkpoint(model, record, state)
        if patience and state["evaluations_since_best"] >= patience:
            reporter.message(f"no improvement in {patience} evaluations: stopping at step "
                             f"{point}, restoring step {state['best_step']}")
            model.load_weights(record.best_weights_path)
            state["stopped_early"] = True
            break
    return rows, state


def _checkpoint(model, record, state):
    """Model + optimizer state, then the state that points at it: both atomic, in that order."""
    atomic_save(record.checkpoint_path, model.save)
    record.write_state(state)


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
