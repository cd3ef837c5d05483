"""`dense_causal_attention` / `banded_causal_attention` against a NumPy float64 reference."""

import math

import numpy as np
import pytest
import tensorflow as tf
from keras import ops

from zoo.accounting import attended_keys
from zoo.config import Attention, ModelConfig
from zoo.layers.attention_kernels import banded_causal_attention, dense_causal_attention
from zoo.layers.positions import alibi_score_bias, relative_score_bias

from .numpy_reference import alibi_slopes, causal_attention

# A one-token sequence softmaxes over a single key; Keras warns, the answer (weight 1) is right.
pytestmark = pytest.mark.filterwarnings("ignore:You are using a softmax over axis -1")

TOL = dict(rtol=1e-5, atol=1e-5)
HEADS = [(4, 4), (4, 1), (4, 2)]  # (H, K): multi-head, multi-query, grouped
HEAD_IDS = ["mha", "mqa", "gqa"]
DIM = 8


def _qkv(rng, t, heads, kv, batch=2, dim=DIM):
    q = rng.standard_normal((batch, t, heads, dim)).astype("float32")
    k = rng.standard_normal((batch, t, kv, dim)).astype("float32")
    v = rng.standard_normal((batch, t, kv, dim)).astype("float32")
    return q, k, v


def _relative(rng, q, distances):
    """Transformer-XL inputs as the layer hands them to the kernel: (q + u, (q + v, r))."""
    heads, dim = q.shape[2], q.shape[3]
    u = rng.standard_normal((heads, dim)).astype("float32")
    v = rng.standard_normal((heads, dim)).astype("float32")
    r = rng.standard_normal((distances, heads, dim)).astype("float32")
    return q + u, q + v, r


@pytest.mark.parametrize("heads,kv", HEADS, ids=HEAD_IDS)
@pytest.mark.parametrize("t", [1, 5, 12])
def test_dense_matches_reference(heads, kv, t):
    q, k, v = _qkv(np.random.default_rng(t), t, heads, kv)
    out = ops.convert_to_numpy(dense_causal_attention(q, k, v))
    assert out.shape == q.shape
    np.testing.assert_allclose(out, causal_attention(q, k, v), **TOL)


def test_reference_is_what_it_claims():
    """Guard the reference itself: first query sees only itself; MQA = one shared kv head."""
    rng = np.random.default_rng(0)
    q, k, v = _qkv(rng, 6, 4, 1)
    ref = causal_attention(q, k, v)
    np.testing.assert_allclose(ref[:, 0], np.broadcast_to(v[:, 0], ref[:, 0].shape), rtol=1e-12)
    # Explicit softmax at one position, written without the helper.
    q, k, v = (a.astype(np.float64) for a in (q, k, v))
    i, n = 4, 3
    s = np.einsum("bh,bjh->bj", q[:, i, n], k[:, : i + 1, 0]) / math.sqrt(DIM)
    w = np.exp(s) / np.exp(s).sum(-1, keepdims=True)
    np.testing.assert_allclose(ref[:, i, n], np.einsum("bj,bjh->bh", w, v[:, : i + 1, 0]))


@pytest.mark.parametrize("heads,kv", HEADS, ids=HEAD_IDS)
@pytest.mark.parametrize("t", [1, 3, 4, 5, 8, 11, 17])
def test_banded_matches_reference(heads, kv, t):
    window = 4
    q, k, v = _qkv(np.random.default_rng(100 + t), t, heads, kv)
    out = ops.convert_to_numpy(banded_causal_attention(q, k, v, window))
    assert out.shape == q.shape
    np.testing.assert_allclose(out, causal_attention(q, k, v, window=window), **TOL)


@pytest.mark.parametrize("window", [1, 2, 3, 7])
def test_banded_other_windows(window):
    q, k, v = _qkv(np.random.default_rng(window), 10, 4, 2)
    out = ops.convert_to_numpy(banded_causal_attention(q, k, v, window))
    np.testing.assert_allclose(out, causal_attention(q, k, v, window=window), **TOL)


def test_banded_window_one_is_identity_on_values():
    """A band of one key per query returns that query's own value (exactly)."""
    q, k, v = _qkv(np.random.default_rng(7), 9, 4, 2)
    out = ops.convert_to_numpy(banded_causal_attention(q, k, v, 1))
    np.testing.assert_allclose(out, np.repeat(v, 2, axis=2), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("t", [3, 4, 9])
def test_banded_with_window_at_least_t_equals_dense(t):
    q, k, v = _qkv(np.random.default_rng(3), t, 4, 2)
    banded = ops.convert_to_numpy(banded_causal_attention(q, k, v, 9))
    dense = ops.convert_to_numpy(dense_causal_attention(q, k, v))
    np.testing.assert_allclose(banded, dense, **TOL)


@pytest.mark.parametrize("heads,kv", HEADS, ids=HEAD_IDS)
@pytest.mark.parametrize("t", [1, 6, 10])
def test_dense_relative_matches_reference(heads, kv, t):
    rng = np.random.default_rng(200 + t)
    q, k, v = _qkv(rng, t, heads, kv)
    query_u, query_v, r = _relative(rng, q, distances=t)
    out = dense_causal_attention(query_u, k, v, score_bias=relative_score_bias(query_v, r))
    ref = causal_attention(query_u, k, v, relative=(query_v, r))
    np.testing.assert_allclose(ops.convert_to_numpy(out), ref, **TOL)


@pytest.mark.parametrize("heads,kv", HEADS, ids=HEAD_IDS)
@pytest.mark.parametrize("t", [1, 3, 4, 5, 11, 17])
def test_banded_relative_matches_reference(heads, kv, t):
    window = 4
    rng = np.random.default_rng(300 + t)
    q, k, v = _qkv(rng, t, heads, kv)
    query_u, query_v, r = _relative(rng, q, distances=window)  # a band sees 0..window-1
    out = banded_causal_attention(query_u, k, v, window, relative_score_bias(query_v, r))
    ref = causal_attention(query_u, k, v, window=window, relative=(query_v, r))
    np.testing.assert_allclose(ops.convert_to_numpy(out), ref, **TOL)


def test_relative_reference_scores_written_out():
    """The reference's relative score is literally (q_i + u)·k_j + (q_i + v)·r_{i-j}."""
    rng = np.random.default_rng(11)
    b, t, heads, dim = 1, 5, 2, 4
    q = rng.standard_normal((b, t, heads, dim))
    k = rng.standard_normal((b, t, heads, dim))
    u, vb = rng.standard_normal((2, heads, dim))
    r = rng.standard_normal((t, heads, dim))
    # With values = one-hot key positions, the output rows are the attention weights themselves.
    values = np.zeros((b, t, heads, t))
    values[:, np.arange(t), :, np.arange(t)] = 1.0
    s = np.full((b, heads, t, t), -np.inf)
    for n in range(heads):
        for i in range(t):
            for j in range(i + 1):
                content = np.sum((q[:, i, n] + u[n]) * k[:, j, n], axis=-1)
                position = np.sum((q[:, i, n] + vb[n]) * r[i - j, n], axis=-1)
                s[:, n, i, j] = content + position
    s = s / math.sqrt(dim)
    weights = np.exp(s - s.max(-1, keepdims=True))
    weights /= weights.sum(-1, keepdims=True)  # (b, H, i, j)
    ref = causal_attention(q + u, k, values, relative=(q + vb, r))
    np.testing.assert_allclose(ref, np.transpose(weights, (0, 2, 1, 3)), rtol=1e-10, atol=1e-12)
    out = dense_causal_attention(
        (q + u).astype("float32"),
        k.astype("float32"),
        values.astype("float32"),
        score_bias=relative_score_bias((q + vb).astype("float32"), r.astype("float32")),
    )
    np.testing.assert_allclose(
        ops.convert_to_numpy(out), np.transpose(weights, (0, 2, 1, 3)), **TOL
    )


@pytest.mark.parametrize("heads,kv", HEADS, ids=HEAD_IDS)
@pytest.mark.parametrize("t", [1, 5, 11])
def test_dense_and_banded_alibi_match_reference(heads, kv, t):
    window = 4
    q, k, v = _qkv(np.random.default_rng(400 + t), t, heads, kv)
    bias = alibi_score_bias(heads, kv, DIM)
    slopes = alibi_slopes(heads)
    dense = dense_causal_attention(q, k, v, score_bias=bias)
    banded = banded_causal_attention(q, k, v, window, score_bias=bias)
    np.testing.assert_allclose(
        ops.convert_to_numpy(dense), causal_attention(q, k, v, slopes=slopes), **TOL
    )
    np.testing.assert_allclose(
        ops.convert_to_numpy(banded), causal_attention(q, k, v, window=window, slopes=slopes), **TOL
    )


@pytest.mark.parametrize("window", [None, 3])
def test_decoding_path_applies_the_score_bias_at_its_positions(window):
    """The cached path: the last queries (query_start > 0) against the whole sequence of keys,
    as a decoding step sees the cache, give the reference's last rows."""
    t, heads, kv, start = 9, 4, 2, 6
    q, k, v = _qkv(np.random.default_rng(500), t, heads, kv)
    out = dense_causal_attention(
        q[:, start:],
        k,
        v,
        score_bias=alibi_score_bias(heads, kv, DIM),
        query_start=start,
        window=window,
    )
    ref = causal_attention(q, k, v, window=window, slopes=alibi_slopes(heads))[:, start:]
    np.testing.assert_allclose(ops.convert_to_numpy(out), ref, **TOL)


# --- cost: banded attention never forms a (t, t) score matrix -------------------------------


def _config(window):
    return ModelConfig(
        name="kernel-test",
        vocabulary_size=16,
        num_layers=1,
        hidden_dim=8,
        intermediate_dim=16,
        num_query_heads=2,
        num_key_value_heads=1,
        head_dim=4,
        max_sequence_length=64,
        position="none",
        normalization="layernorm",
        norm_bias=True,
        feedforward="gelu",
        attention_pattern=("local",),
        residual="serial",
        use_bias=True,
        tie_embeddings=True,
        init="normal",
        scale_logits=False,
        local_window=window,
    )


@pytest.mark.parametrize("t", [1, 3, 4, 5, 8, 11, 17, 64])
def test_attended_keys_linear_in_t(t):
    w = 4
    config = _config(w)
    padded = w * math.ceil(t / w)
    expected = t if t <= w else padded * 2 * w / t
    assert attended_keys(config, Attention.LOCAL, t) == pytest.approx(expected)
    assert attended_keys(config, Attention.DENSE, t) == t
    # Per-query cost is bounded by the band, whatever the length.
    assert attended_keys(config, Attention.LOCAL, t) <= 2 * w + 2 * w  # padding at most doubles


def _largest_intermediate(fn, *shapes):
    concrete = tf.function(fn).get_concrete_function(
        *(tf.TensorSpec(s, tf.float32) for s in shapes)
    )
    sizes = [
        out.shape.num_elements()
        for op in concrete.graph.get_operations()
        for out in op.outputs
        if out.shape.is_fully_defined()
    ]
    return max(sizes)


def test_banded_graph_has_no_t_by_t_tensor():
    """Trace both kernels: dense builds a (t, t) tensor per head, banded stays within (t, 2w)."""
    b, t, heads, kv, dim, w = 1, 64, 2, 1, 4, 4
    shapes = [(b, t, heads, dim), (b, t, kv, dim), (b, t, kv, dim)]
    dense = _largest_intermediate(dense_causal_attention, *shapes)
    banded = _largest_intermediate(lambda q, k, v: banded_causal_attention(q, k, v, w), *shapes)
    assert dense >= b * heads * t * t
    assert banded <= b * heads * t * 2 * w < b * heads * t * t / 4


FUSED_CHECK = """
import json, keras, numpy as np
import zoo.model  # the package first: its layers import one another in order
from zoo.layers import attention_kernels as kernels
from tests.layers.numpy_reference import causal_attention
rng, errors = np.random.default_rng(0), []
for heads, kv in {heads}:
    q, k, v = (rng.standard_normal((2, 37, h, 8)).astype("float32") for h in (heads, kv, kv))
    kernels.FUSED = True
    assert kernels.fused_attention_available()
    fused = keras.ops.convert_to_numpy(kernels.dense_causal_attention(q, k, v))
    errors.append(float(np.abs(fused - causal_attention(q, k, v)).max()))
print(json.dumps(errors))
"""


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["torch", "jax"])
def test_fused_attention_is_causal_attention_for_every_head_layout(backend):
    """The fused path (`keras.ops.dot_product_attention`: torch's `scaled_dot_product_attention`,
    JAX's `dot_product_attention`; taken on a GPU, by the bench's `zoo torch fused-attention`
    and by `zoo bench attention`'s "fused" kernel) equals the float64 reference, multi-query
    and grouped too."""
    import json
    import os
    import subprocess
    import sys

    code = FUSED_CHECK.format(heads=HEADS)
    env = {**os.environ, "KERAS_BACKEND": backend}
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True, cwd=root
    )
    errors = json.loads(out.stdout.strip().splitlines()[-1])
    assert len(errors) == len(HEADS) and max(errors) < 1e-5, errors
