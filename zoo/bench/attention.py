"""Banded (GPT-3's locally banded sparse layers) against dense causal attention, by length.

One `CausalSelfAttention` layer of each kind, identical but for `attention`, timed for a forward
and backward pass (gradients of all its weights and its input) compiled with XLA, batch 1. The
banded layer computes window-sized query blocks against two key tiles, so its cost grows like
T·w; the dense layer's grows like T².
"""

import keras
import numpy as np

from zoo.bench.timing import Timing, interleaved
from zoo.config import ModelConfig
from zoo.layers.attention import CausalSelfAttention

SEQUENCE_LENGTHS = (512, 1024, 2048, 4096, 8192)


def benchmark_attention(
    seq_lens=SEQUENCE_LENGTHS, window=256, hidden_dim=256, num_heads=4, repeats=5
):
    """Rows of median forward+backward milliseconds for dense and banded layers at each length."""
    rows = []
    for seq_len in seq_lens:
        x = np.random.default_rng(0).normal(size=(1, seq_len, hidden_dim)).astype("float32")
        steps = {
            kind: _forward_backward(kind, window, hidden_dim, num_heads, x)
            for kind in ("dense", "local")
        }
        for step in steps.values():
            step()  # compile
        times = interleaved(steps, repeats)
        dense, banded = Timing(times["dense"]), Timing(times["local"])
        rows.append({
            "seq_len": seq_len,
            "window": window,
            "dense_ms": 1000 * dense.median,
            "banded_ms": 1000 * banded.median,
            "speedup": dense.median / banded.median,
            "banded_ms_per_1k_tokens": 1000 * banded.median / (seq_len / 1000),
            "dense_ms_per_1k_tokens": 1000 * dense.median / (seq_len / 1000),
        })  # fmt: skip
    return rows


def _forward_backward(attention, window, hidden_dim, num_heads, x):
    """A no-argument callable running one compiled forward+backward pass and blocking on it."""
    config = ModelConfig(
        name="attention-bench",
        vocabulary_size=1,
        num_layers=1,
        hidden_dim=hidden_dim,
        intermediate_dim=4 * hidden_dim,
        num_query_heads=num_heads,
        num_key_value_heads=num_heads,
        head_dim=hidden_dim // num_heads,
        max_sequence_length=x.shape[1],
        position="rotary",
        normalization="rmsnorm",
        norm_bias=False,
        feedforward="swiglu",
        attention_pattern=(attention,),
        residual="serial",
        use_bias=False,
        tie_embeddings=True,
        init="normal",
        scale_logits=False,
        local_window=window,
    )
    layer = CausalSelfAttention(config)
    layer.build(x.shape)
    if keras.backend.backend() == "jax":
        import jax

        def loss(trainable, inputs):
            out, _ = layer.stateless_call(trainable, [], inputs)
            return (out.astype("float32") ** 2).mean()

        step = jax.jit(jax.grad(loss, argnums=(0, 1)))
        weights = [v.value for v in layer.trainable_variables]
        return lambda: jax.block_until_ready(step(weights, x))
    import tensorflow as tf

    inputs = tf.constant(x)

    @tf.function(jit_compile=True)
    def step():
        with tf.GradientTape() as tape:
            tape.watch(inputs)
            loss = tf.reduce_mean(tf.square(layer(inputs)))
        return tape.gradient(loss, [inputs, *layer.trainable_variables])

    return lambda: [g.numpy() for g in step()]
