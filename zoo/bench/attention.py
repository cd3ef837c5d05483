"""Attention's time and memory against sequence length: dense, banded and fused kernels.

Three kernels, identical but for how causal attention is computed:
    dense   the zoo's einsum kernel: every (query, key) score materialised, T² per head.
    banded  GPT-3's locally banded layers (`attention="local"`): window-sized query tiles meet
            two key tiles, so scores cost 2·T·w.
    fused   `keras.ops.dot_product_attention` (the backend's own path: cuDNN flash attention
            under JAX on a GPU, which never holds the T² scores; XLA's composition on a CPU).
            Only where the backend has one (JAX, torch): TensorFlow's is Keras's composition.

Each is timed as one compiled forward and backward pass (the gradients a training step
needs), batch 1, at two scopes: one `CausalSelfAttention` layer (gradients of its weights and
its input) and a small `DecoderLM` (`num_layers` such layers with their feed-forwards, bytes
in, cross-entropy out). The kernels are timed in turns at each length (`interleaved`); memory is
measured after the timing, one kernel at a time, as the process's resident high-water mark
above what it held just before the step (Linux's /proc/self/clear_refs resets the mark; freed
heap is returned first so reused pages cannot hide a peak). On a GPU the device's own peak
replaces it where the backend reports one (TensorFlow); under JAX the compiled program's
buffer plan (XLA's memory analysis) is recorded beside it on every device.

`fit_terms` fits time and memory to c0 + c1·T + c2·T² by non-negative least squares on
relative error, the quadratic term being what attention's scores cost and the linear one
everything per token (projections, feed-forward, banded tiles).
"""

import contextlib
import ctypes
import ctypes.util
import gc

import keras
import numpy as np

from zoo.bench.timing import Timing, interleaved
from zoo.config import ModelConfig
from zoo.layers import attention_kernels
from zoo.layers.attention import CausalSelfAttention

SEQUENCE_LENGTHS = (256, 512, 1024, 2048, 4096, 8192)
KINDS = ("dense", "banded", "fused")
SCOPES = ("layer", "model")


def available_kinds():
    """The kernels this backend runs, and {kind: why not} for the others."""
    if attention_kernels.backend_fuses_attention():
        return KINDS, {}
    backend = keras.backend.backend()
    why = f"{backend} has no fused dot_product_attention (Keras composes it from ops)"
    return ("dense", "banded"), {"fused": why}


def benchmark_attention(
    seq_lens=SEQUENCE_LENGTHS,
    window=128,
    hidden_dim=256,
    num_heads=4,
    num_layers=2,
    repeats=5,
    scopes=SCOPES,
    reporter=None,
):
    """{"shape", "kinds", "unavailable", "rows", "fits"}: one row per (scope, length, kernel)
    with the median milliseconds of `repeats` compiled forward+backward passes and the step's
    peak memory; `fits` has the fitted terms of each (scope, kernel, quantity)."""
    kinds, unavailable = available_kinds()
    shape = dict(window=window, hidden_dim=hidden_dim, num_heads=num_heads, num_layers=num_layers)
    rows = []
    for scope in scopes:
        for seq_len in seq_lens:
            if reporter:
                reporter(f"{scope}, {seq_len} tokens …")
            steps = {kind: _step(scope, kind, seq_len, **shape) for kind in kinds}
            times = interleaved({kind: step.run for kind, step in steps.items()}, repeats)
            for kind, step in steps.items():
                timing = Timing(times[kind])
                rows.append({
                    "scope": scope,
                    "kind": kind,
                    "seq_len": seq_len,
                    "ms": 1000 * timing.median,
                    "ms_min": 1000 * min(timing.values),
                    "ms_max": 1000 * max(timing.values),
                    "ms_per_1k_tokens": 1000 * timing.median / (seq_len / 1000),
                    **step.memory(),
                })  # fmt: skip
            del steps
            gc.collect()
    return {
        "shape": shape,
        "kinds": list(kinds),
        "unavailable": unavailable,
        "memory_method": _memory_method(),
        "rows": rows,
        "fits": fit_terms(rows),
    }


def fit_terms(rows):
    """{scope: {kind: {quantity: fit}}} for quantity "ms", "peak_bytes" and "xla_bytes" (where
    measured; XLA's buffer plan has none of the allocator's page-level noise at short lengths):
    c0 + c1·T + c2·T² by non-negative least squares weighted by 1/value (relative error, as
    the values span three orders of magnitude), with each term's share at the longest length
    and the local exponent d log y / d log T between the two longest lengths."""
    from scipy.optimize import nnls

    fits = {}
    for scope in dict.fromkeys(r["scope"] for r in rows):
        for kind in dict.fromkeys(r["kind"] for r in rows if r["scope"] == scope):
            cell = sorted(
                (r for r in rows if r["scope"] == scope and r["kind"] == kind),
                key=lambda r: r["seq_len"],
            )
            for quantity in ("ms", "peak_bytes", "xla_bytes"):
                points = [(r["seq_len"], r[quantity]) for r in cell if r.get(quantity)]
                if len(points) < 3:
                    continue
                t, y = (np.array(v, dtype="float64") for v in zip(*points))
                design = np.stack([np.ones_like(t), t, t**2], axis=1) / y[:, None]
                coef, _ = nnls(design, np.ones_like(y))
                longest = coef * np.array([1.0, t[-1], t[-1] ** 2])
                predicted = np.stack([np.ones_like(t), t, t**2], axis=1) @ coef
                fits.setdefault(scope, {}).setdefault(kind, {})[quantity] = {
                    "constant": coef[0],
                    "linear": coef[1],
                    "quadratic": coef[2],
                    "quadratic_share_at_longest": longest[2] / longest.sum(),
                    "local_exponent": float(np.log(y[-1] / y[-2]) / np.log(t[-1] / t[-2])),
                    "max_relative_error": float(np.max(np.abs(predicted / y - 1))),
                    "longest": int(t[-1]),
                }
    return fits


# === One compiled step ===


def _config(kind, seq_len, window, hidden_dim, num_heads, num_layers):
    return ModelConfig(
        name="attention-bench",
        vocabulary_size=256,
        num_layers=num_layers,
        hidden_dim=hidden_dim,
        intermediate_dim=4 * hidden_dim,
        num_query_heads=num_heads,
        num_key_value_heads=num_heads,
        head_dim=hidden_dim // num_heads,
        max_sequence_length=seq_len,
        position="rotary",
        normalization="rmsnorm",
        norm_bias=False,
        feedforward="swiglu",
        attention_pattern=("local" if kind == "banded" else "dense",),
        residual="serial",
        use_bias=False,
        tie_embeddings=True,
        init="normal",
        scale_logits=False,
        local_window=window,
    )


@contextlib.contextmanager
def _fused(kind):
    """The fused kernel for "fused", never for the others (on a GPU under JAX the zoo would
    otherwise fuse "dense" too); set while a step is traced, which is when it is read."""
    before = attention_kernels.FUSED
    attention_kernels.FUSED = kind == "fused"
    try:
        yield
    finally:
        attention_kernels.FUSED = before


def _step(scope, kind, seq_len, **shape):
    config = _config(kind, seq_len, **shape)
    rng = np.random.default_rng(0)
    if scope == "layer":
        module = CausalSelfAttention(config)
        inputs = rng.normal(size=(1, seq_len, config.hidden_dim)).astype("float32")
        module.build(inputs.shape)
        targets = None
    else:
        from zoo.model import DecoderLM

        module = DecoderLM(config)
        tokens = rng.integers(0, config.vocabulary_size, size=(1, seq_len + 1), dtype="int32")
        inputs, targets = tokens[:, :-1], tokens[:, 1:]
    step = (_JaxStep if keras.backend.backend() == "jax" else _TensorFlowStep)(
        module, inputs, targets
    )
    with _fused(kind):
        step.run()  # traced and compiled here
    return step


def _loss(output, targets):
    if targets is None:  # a layer: any scalar of its output drives every gradient
        return keras.ops.mean(keras.ops.square(keras.ops.cast(output, "float32")))
    return keras.ops.mean(
        keras.losses.sparse_categorical_crossentropy(targets, output, from_logits=True)
    )


class _TensorFlowStep:
    def __init__(self, module, inputs, targets):
        import tensorflow as tf

        self.inputs = tf.constant(inputs)
        self.targets = None if targets is None else tf.constant(targets)
        watch_input = targets is None

        @tf.function(jit_compile=True)
        def step():
            with tf.GradientTape() as tape:
                if watch_input:
                    tape.watch(self.inputs)
                loss = _loss(module(self.inputs), self.targets)
            sources = [self.inputs] if watch_input else []
            return tape.gradient(loss, sources + list(module.trainable_variables))

        self.step = step

    def run(self):
        return [g.numpy() for g in self.step()]

    def memory(self):
        import tensorflow as tf

        if tf.config.list_physical_devices("GPU"):
            tf.config.experimental.reset_memory_stats("GPU:0")
            before = tf.config.experimental.get_memory_info("GPU:0")["current"]
            self.run()
            peak = tf.config.experimental.get_memory_info("GPU:0")["peak"]
            return {"peak_bytes": peak - before, "peak_source": "device"}
        return {"peak_bytes": process_peak(self.run), "peak_source": "process"}


class _JaxStep:
    def __init__(self, module, inputs, targets):
        import jax

        watch_input = targets is None

        def loss(trainable, inputs):
            output, _ = module.stateless_call(trainable, module.non_trainable_variables, inputs)
            return _loss(output, targets)

        self.step = jax.jit(jax.grad(loss, argnums=(0, 1) if watch_input else 0))
        self.args = ([v.value for v in module.trainable_variables], inputs)

    def run(self):
        import jax

        return jax.block_until_ready(self.step(*self.args))

    def memory(self):
        import jax

        analysis = self.step.lower(*self.args).compile().memory_analysis()
        planned = None
        if analysis is not None:
            planned = (
                analysis.temp_size_in_bytes
                + analysis.argument_size_in_bytes
                + analysis.output_size_in_bytes
                - analysis.alias_size_in_bytes
            )
        if jax.devices()[0].platform != "cpu":  # JAX cannot reset a device's peak
            return {"peak_bytes": planned, "peak_source": "xla", "xla_bytes": planned}
        return {
            "peak_bytes": process_peak(self.run),
            "peak_source": "process",
            "xla_bytes": planned,
        }


# === Process memory ===


def _memory_method():
    return (
        "peak_bytes: the resident high-water mark above the resident size just before one "
        "step (CPU), the device's peak (TensorFlow on a GPU) or XLA's buffer plan (JAX on a "
        "GPU); xla_bytes (JAX): arguments + temporaries + outputs of the compiled program"
    )


def _status_bytes(field):
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise OSError(f"no {field} in /proc/self/status")


def process_peak(run):
    """Bytes the process's resident size rose to above where it stood, during `run()`; None
    where the kernel cannot reset its high-water mark (not Linux, or /proc read-only)."""
    gc.collect()
    libc = ctypes.util.find_library("c")
    if libc:  # freed heap back to the kernel, or a step could reuse it unseen
        ctypes.CDLL(libc).malloc_trim(0)
    try:
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")  # 5: reset the peak resident size to the current one
        before = _status_bytes("VmRSS")
    except OSError:
        return None
    run()
    return _status_bytes("VmHWM") - before
