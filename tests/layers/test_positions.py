"""Rotary, Transformer-XL relative and ALiBi positions, and the whole attention layer, against
NumPy."""

import math

import keras
import keras_hub
import numpy as np
import pytest
from keras import ops

from zoo.config import Attention
from zoo.layers import CausalSelfAttention
from zoo.layers.positions import alibi_slopes

from .configs import attention_config
from .numpy_reference import alibi_slopes as reference_slopes
from .numpy_reference import causal_attention, relative_sinusoid, rope


def _layer(heads, kv, head_dim, **fields):
    return CausalSelfAttention(attention_config(heads, kv, head_dim, **fields))


TOL = dict(rtol=1e-5, atol=1e-5)


# --- rotary --------------------------------------------------------------------------------


@pytest.mark.parametrize("dim", [2, 8, 16])
def test_keras_hub_rotary_is_rotate_half_rope(dim):
    x = np.random.default_rng(dim).standard_normal((2, 13, 3, dim)).astype("float32")
    out = keras_hub.layers.RotaryEmbedding(max_wavelength=10000)(x)
    np.testing.assert_allclose(ops.convert_to_numpy(out), rope(x), **TOL)


def test_rope_reference_closed_form():
    """Position 0 is the identity; the pair (0, dim/2) turns by exactly `pos` radians."""
    x = np.random.default_rng(0).standard_normal((1, 4, 1, 6))
    out = rope(x)
    np.testing.assert_allclose(out[:, 0], x[:, 0])
    p = 3
    c, s = math.cos(p), math.sin(p)
    np.testing.assert_allclose(out[0, p, 0, 0], x[0, p, 0, 0] * c - x[0, p, 0, 3] * s)
    np.testing.assert_allclose(out[0, p, 0, 3], x[0, p, 0, 3] * c + x[0, p, 0, 0] * s)
    np.testing.assert_allclose(np.linalg.norm(out, axis=-1), np.linalg.norm(x, axis=-1))


def test_rotary_scores_depend_only_on_offset():
    """<rope(q, m), rope(k, n)> is a function of m - n: compare (m, n) with (m + s, n + s)."""
    rng = np.random.default_rng(1)
    dim, t = 8, 20
    q = rng.standard_normal(dim).astype("float32")
    k = rng.standard_normal(dim).astype("float32")
    layer = keras_hub.layers.RotaryEmbedding(max_wavelength=10000)
    tile = lambda v: np.broadcast_to(v, (1, t, 1, dim)).copy()  # same vector at every position
    rq = ops.convert_to_numpy(layer(tile(q)))[0, :, 0]  # (t, dim)
    rk = ops.convert_to_numpy(layer(tile(k)))[0, :, 0]
    for m, n, shift in [(5, 2, 7), (3, 3, 11), (1, 6, 9), (0, 4, 15)]:
        shifted = rq[m + shift] @ rk[n + shift]
        np.testing.assert_allclose(rq[m] @ rk[n], shifted, rtol=1e-4, atol=1e-5)
    # ... and is not a constant: a different offset gives a different score.
    assert abs(rq[5] @ rk[2] - rq[5] @ rk[4]) > 1e-3


# --- the whole attention layer ---------------------------------------------------------------


def _set_random_weights(layer, seed):
    rng = np.random.default_rng(seed)
    for w in layer.weights:
        w.assign(0.3 * rng.standard_normal(w.shape).astype("float32"))


def _projections(layer, x):
    """NumPy q, k, v from the layer's query (d, H, Q), key and value (d, K, Q) projections."""

    def project(dense):
        kernel = ops.convert_to_numpy(dense.kernel).astype(np.float64)
        out = np.einsum("btd,dnh->btnh", x.astype(np.float64), kernel)
        return out + ops.convert_to_numpy(dense.bias) if layer.config.use_bias else out

    return project(layer.query), project(layer.key), project(layer.value)


def _output(layer, attended):
    out = np.einsum("btnh,nhd->btd", attended, ops.convert_to_numpy(layer.output_projection.kernel))
    if layer.config.use_bias:
        out = out + ops.convert_to_numpy(layer.output_projection.bias)
    return out


def _relative_layer_reference(layer, x):
    """Transformer-XL attention, all in NumPy, from the layer's weights."""
    q, k, v = _projections(layer, x)
    b, t, heads, dim = q.shape
    hidden_dim = x.shape[-1]
    w_r = ops.convert_to_numpy(layer.relative_kernel).astype(np.float64)  # (d, H, Q)
    u = ops.convert_to_numpy(layer.content_bias).astype(np.float64)  # (H, Q)
    vb = ops.convert_to_numpy(layer.position_bias).astype(np.float64)
    r = np.einsum("rd,dnh->rnh", relative_sinusoid(t, hidden_dim), w_r)  # (t, H, Q)
    group = heads // k.shape[2]
    window = layer.config.local_window if layer.attention_kind is Attention.LOCAL else None
    attended = np.zeros_like(q)
    for n in range(heads):
        kn = n // group
        for i in range(t):
            js = [j for j in range(i + 1) if window is None or i - j < window]
            scores = np.stack(
                [
                    np.sum((q[:, i, n] + u[n]) * k[:, j, kn], -1)
                    + np.sum((q[:, i, n] + vb[n]) * r[i - j, n], -1)
                    for j in js
                ],
                axis=-1,
            ) / math.sqrt(dim)  # (b, j)
            weights = np.exp(scores - scores.max(-1, keepdims=True))
            weights /= weights.sum(-1, keepdims=True)
            attended[:, i, n] = np.einsum("bj,bjh->bh", weights, v[:, js, kn])
    return _output(layer, attended)


RELATIVE_CASES = [
    # (attention, window, heads, kv, t)
    ("dense", None, 4, 4, 7),
    ("dense", None, 4, 2, 9),
    ("dense", None, 4, 1, 5),
    ("local", 3, 4, 4, 7),
    ("local", 3, 4, 2, 10),  # t not a multiple of the window
    ("local", 4, 2, 1, 8),
    ("local", 8, 4, 2, 6),  # window wider than t: the layer falls back to dense
]


@pytest.mark.parametrize("attention,window,heads,kv,t", RELATIVE_CASES)
@pytest.mark.parametrize("use_bias", [False, True])
def test_relative_attention_layer_matches_numpy(attention, window, heads, kv, t, use_bias):
    hidden_dim, head_dim = 12, 6
    layer = _layer(
        heads,
        kv,
        head_dim,
        attention=attention,
        window=window,
        position="relative",
        use_bias=use_bias,
    )
    x = np.random.default_rng(t).standard_normal((2, t, hidden_dim)).astype("float32")
    layer.build(x.shape)
    _set_random_weights(layer, seed=heads * 10 + kv)  # u and v start at zero: make them matter
    out = ops.convert_to_numpy(layer(x))
    np.testing.assert_allclose(out, _relative_layer_reference(layer, x), **TOL)


def test_relative_layer_reference_uses_the_biases():
    """Guard: u and v change the NumPy answer, so the comparison above does exercise them."""
    layer = _layer(4, 2, 6, position="relative")
    x = np.random.default_rng(0).standard_normal((1, 6, 12)).astype("float32")
    layer.build(x.shape)
    _set_random_weights(layer, 0)
    before = _relative_layer_reference(layer, x)
    layer.content_bias.assign(np.zeros((4, 6), "float32"))
    after_u = _relative_layer_reference(layer, x)
    layer.position_bias.assign(np.zeros((4, 6), "float32"))
    after_v = _relative_layer_reference(layer, x)
    assert np.abs(before - after_u).max() > 1e-3 and np.abs(after_u - after_v).max() > 1e-3
    np.testing.assert_allclose(ops.convert_to_numpy(layer(x)), after_v, **TOL)


@pytest.mark.parametrize("attention,window", [("local", 4), ("dense", None)])
def test_relative_layer_with_unknown_sequence_length(attention, window):
    """In a functional model (as in DecoderLM) the sequence axis is None; still exact."""
    hidden_dim, t = 12, 11
    layer = _layer(4, 2, 6, attention=attention, window=window, position="relative")
    inputs = keras.Input(shape=(None, hidden_dim))
    model = keras.Model(inputs, layer(inputs))
    _set_random_weights(layer, 5)
    for t in (3, 11):  # shorter than the window, and not a multiple of it
        x = np.random.default_rng(t).standard_normal((2, t, hidden_dim)).astype("float32")
        out = ops.convert_to_numpy(model(x))
        np.testing.assert_allclose(out, _relative_layer_reference(layer, x), **TOL)


ROTARY_CASES = [
    # (attention, window, heads, kv, t, max_wavelength)
    ("dense", None, 4, 4, 9, 10000.0),
    ("dense", None, 4, 1, 7, 10000.0),
    ("dense", None, 4, 2, 8, 500.0),
    ("local", 3, 4, 2, 10, 10000.0),
]


@pytest.mark.parametrize("attention,window,heads,kv,t,wavelength", ROTARY_CASES)
def test_rotary_attention_layer_matches_numpy(attention, window, heads, kv, t, wavelength):
    hidden_dim, head_dim = 12, 8
    layer = _layer(
        heads,
        kv,
        head_dim,
        attention=attention,
        window=window,
        position="rotary",
        rotary_max_wavelength=wavelength,
        use_bias=True,
    )
    x = np.random.default_rng(t).standard_normal((2, t, hidden_dim)).astype("float32")
    layer.build(x.shape)
    _set_random_weights(layer, seed=t)
    out = ops.convert_to_numpy(layer(x))

    q, k, v = _projections(layer, x)
    q, k = rope(q, wavelength), rope(k, wavelength)
    ref = _output(layer, causal_attention(q, k, v, window=window))
    np.testing.assert_allclose(out, ref, **TOL)


@pytest.mark.parametrize("position", ["none", "learned"])
def test_position_free_attention_layer_matches_numpy(position):
    layer = _layer(4, 2, 6, position=position, use_bias=True)
    x = np.random.default_rng(2).standard_normal((2, 7, 12)).astype("float32")
    layer.build(x.shape)
    _set_random_weights(layer, 2)
    q, k, v = _projections(layer, x)
    ref = _output(layer, causal_attention(q, k, v))
    np.testing.assert_allclose(ops.convert_to_numpy(layer(x)), ref, **TOL)


def test_rotary_local_layer_with_unknown_sequence_length():
    layer = _layer(4, 1, 8, attention="local", window=4, position="rotary")
    inputs = keras.Input(shape=(None, 12))
    model = keras.Model(inputs, layer(inputs))
    _set_random_weights(layer, 6)
    for t in (2, 9):
        x = np.random.default_rng(t).standard_normal((2, t, 12)).astype("float32")
        q, k, v = _projections(layer, x)
        ref = _output(layer, causal_attention(rope(q), rope(k), v, window=4))
        np.testing.assert_allclose(ops.convert_to_numpy(model(x)), ref, **TOL)


# --- ALiBi ---------------------------------------------------------------------------------


def test_alibi_slopes_are_the_papers():
    """§3: eight heads get 1/2, 1/4, …, 1/256 and sixteen start at 1/√2; six heads take the
    four slopes of four heads, then the 1st and 3rd of eight heads'."""
    np.testing.assert_allclose(alibi_slopes(8), [2.0**-h for h in range(1, 9)], rtol=1e-12)
    np.testing.assert_allclose(alibi_slopes(16)[:2], [2**-0.5, 0.5], rtol=1e-12)
    np.testing.assert_allclose(
        alibi_slopes(6), [2**-2, 2**-4, 2**-6, 2**-8, 2**-1, 2**-3], rtol=1e-12
    )
    for heads in (1, 2, 3, 5, 7, 12, 24, 96):
        np.testing.assert_allclose(alibi_slopes(heads), reference_slopes(heads), rtol=1e-12)


ALIBI_CASES = [
    # (attention, window, heads, kv, t)
    ("dense", None, 4, 4, 9),
    ("dense", None, 4, 1, 7),
    ("dense", None, 6, 2, 8),  # not a power of two: the interpolated slopes
    ("local", 3, 4, 2, 10),
    ("local", 4, 6, 3, 9),
    ("local", 8, 4, 2, 6),  # window wider than t: dense
]


@pytest.mark.parametrize("attention,window,heads,kv,t", ALIBI_CASES)
def test_alibi_attention_layer_matches_numpy(attention, window, heads, kv, t):
    layer = _layer(
        heads, kv, 6, attention=attention, window=window, position="alibi", use_bias=True
    )
    x = np.random.default_rng(t).standard_normal((2, t, 12)).astype("float32")
    layer.build(x.shape)
    _set_random_weights(layer, seed=t)
    q, k, v = _projections(layer, x)
    slopes = reference_slopes(heads)
    ref = _output(layer, causal_attention(q, k, v, window=window, slopes=slopes))
    np.testing.assert_allclose(ops.convert_to_numpy(layer(x)), ref, **TOL)
    # Guard: the penalty changes the answer, so the comparison exercises it.
    assert np.abs(ref - _output(layer, causal_attention(q, k, v, window=window))).max() > 1e-3


def test_alibi_layer_has_no_position_weights_and_any_sequence_length():
    """ALiBi learns nothing; in a functional model (sequence axis None) it is exact at lengths
    shorter than the band and not a multiple of it."""
    layer = _layer(4, 2, 6, attention="local", window=4, position="alibi")
    inputs = keras.Input(shape=(None, 12))
    model = keras.Model(inputs, layer(inputs))
    assert sorted(w.path.split("/")[-2] for w in layer.weights) == [
        "key",
        "output",
        "query",
        "value",
    ]
    _set_random_weights(layer, 7)
    for t in (3, 11):
        x = np.random.default_rng(t).standard_normal((2, t, 12)).astype("float32")
        q, k, v = _projections(layer, x)
        ref = _output(layer, causal_attention(q, k, v, window=4, slopes=reference_slopes(4)))
        np.testing.assert_allclose(ops.convert_to_numpy(model(x)), ref, **TOL)
