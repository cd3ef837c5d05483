"""Norms and feed-forward layers against their closed forms in NumPy."""

import numpy as np
import pytest
from keras import ops

import zoo
from tests.helpers import as_float64, randomize_weights
from zoo.config import FeedForward
from zoo.layers import GeluFeedForward, SwiGLUFeedForward, make_norm
from zoo.layers.feedforward import DenseFeedForward, GatedFeedForward, feedforward_layer

from .configs import layer_config
from .numpy_reference import gelu_tanh, layer_norm, leaky_relu, relu, rms_norm, sigmoid, silu

TOL = dict(rtol=1e-5, atol=1e-5)


def _x(shape=(2, 5, 16), seed=0, offset=0.7):
    # A non-zero mean separates LayerNorm (re-centres) from RMSNorm (does not).
    return (np.random.default_rng(seed).standard_normal(shape) * 2.0 + offset).astype("float32")


@pytest.mark.parametrize("epsilon", [1e-5, 1e-6, 0.5])
def test_rmsnorm(epsilon):
    x = _x()
    norm = make_norm(
        layer_config(normalization="rmsnorm", norm_bias=False, norm_epsilon=epsilon), "n"
    )
    norm.build(x.shape)
    scale = np.random.default_rng(1).uniform(0.5, 1.5, x.shape[-1]).astype("float32")
    norm.set_weights([scale])
    assert [w.shape for w in norm.weights] == [(x.shape[-1],)]  # a scale, never a shift
    out = ops.convert_to_numpy(norm(x))
    np.testing.assert_allclose(out, rms_norm(x, scale, epsilon), **TOL)
    # The mean is not removed: differs from LayerNorm on the same input.
    assert np.abs(out - layer_norm(x, scale, None, epsilon)).max() > 1e-2


def test_rmsnorm_with_a_bias_is_refused_by_the_config():
    """The rule lives in one place, `ModelConfig`; no layer re-checks it."""
    with pytest.raises(zoo.ConfigError, match="RMSNorm has no bias"):
        layer_config(normalization="rmsnorm", norm_bias=True)


def test_unknown_norm_is_refused_by_the_config():
    with pytest.raises(zoo.ConfigError, match="layernorm, rmsnorm"):
        layer_config(normalization="batchnorm")


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("epsilon", [1e-5, 0.5])
def test_layernorm(bias, epsilon):
    x = _x()
    norm = make_norm(
        layer_config(normalization="layernorm", norm_bias=bias, norm_epsilon=epsilon), "n"
    )
    norm.build(x.shape)
    rng = np.random.default_rng(2)
    gamma = rng.uniform(0.5, 1.5, x.shape[-1]).astype("float32")
    beta = rng.standard_normal(x.shape[-1]).astype("float32") if bias else None
    norm.set_weights([gamma, beta] if bias else [gamma])
    assert len(norm.weights) == (2 if bias else 1)
    out = ops.convert_to_numpy(norm(x))
    np.testing.assert_allclose(out, layer_norm(x, gamma, beta, epsilon), **TOL)


def _dense(layer, x):
    y = np.asarray(x, np.float64) @ as_float64(layer.kernel)
    return y + as_float64(layer.bias) if layer.use_bias else y


@pytest.mark.parametrize("use_bias", [True, False])
def test_swiglu(use_bias):
    x = _x(offset=0.0)
    ff = SwiGLUFeedForward(intermediate_dim=24, use_bias=use_bias)
    ff.build(x.shape)
    randomize_weights(ff, 3)
    # Weight inventory: gate/up (d, f), down (f, d), with or without biases.
    assert sorted(tuple(w.shape) for w in ff.weights) == sorted(
        [(16, 24), (16, 24), (24, 16)] + ([(24,), (24,), (16,)] if use_bias else [])
    )
    gate = _dense(ff.gate, x)
    up = _dense(ff.up, x)
    ref = _dense(ff.down, silu(gate) * up)
    np.testing.assert_allclose(ops.convert_to_numpy(ff(x)), ref, **TOL)


def test_swiglu_gate_and_up_are_not_interchangeable():
    """swish is applied to the gate branch only: swapping the two kernels changes the output."""
    x = _x(offset=0.0)
    ff = SwiGLUFeedForward(intermediate_dim=24, use_bias=False)
    ff.build(x.shape)
    randomize_weights(ff, 4)
    out = ops.convert_to_numpy(ff(x))
    swapped = _dense(ff.down, silu(_dense(ff.up, x)) * _dense(ff.gate, x))
    assert np.abs(out - swapped).max() > 1e-3


@pytest.mark.parametrize("use_bias", [True, False])
def test_gelu_feedforward(use_bias):
    x = _x(offset=0.0)
    ff = GeluFeedForward(intermediate_dim=24, use_bias=use_bias)
    ff.build(x.shape)
    randomize_weights(ff, 5)
    assert len(ff.weights) == (4 if use_bias else 2)
    ref = _dense(ff.down, gelu_tanh(_dense(ff.up, x)))
    np.testing.assert_allclose(ops.convert_to_numpy(ff(x)), ref, **TOL)


def test_gelu_is_the_tanh_approximation():
    """At these inputs erf-GELU and tanh-GELU differ by > 1e-4; the layer matches tanh."""
    x = np.linspace(-4, 4, 33, dtype="float32").reshape(1, 1, 33)
    ff = GeluFeedForward(intermediate_dim=33, use_bias=False)
    ff.build(x.shape)
    ff.up.kernel.assign(np.eye(33, dtype="float32"))
    ff.down.kernel.assign(np.eye(33, dtype="float32"))
    out = ops.convert_to_numpy(ff(x)).ravel()
    from math import erf, sqrt

    exact = np.array([0.5 * v * (1 + erf(v / sqrt(2))) for v in x.ravel().astype(np.float64)])
    np.testing.assert_allclose(out, gelu_tanh(x.ravel().astype(np.float64)), rtol=1e-5, atol=1e-6)
    assert np.abs(exact - gelu_tanh(x.ravel().astype(np.float64))).max() > 1e-4


# Each feed-forward choice and its closed form: (gated, activation) in NumPy.
NUMPY_FEEDFORWARD = {
    "gelu": (False, gelu_tanh),
    "relu": (False, relu),
    "leaky_relu": (False, leaky_relu),
    "tanh": (False, np.tanh),
    "sigmoid": (False, sigmoid),
    "swiglu": (True, silu),
    "geglu": (True, gelu_tanh),
    "reglu": (True, relu),
}


def test_every_feedforward_choice_has_a_numpy_reference():
    assert set(NUMPY_FEEDFORWARD) == {f.value for f in FeedForward}


@pytest.mark.parametrize("use_bias", [True, False])
@pytest.mark.parametrize("choice", sorted(NUMPY_FEEDFORWARD))
def test_each_feedforward_against_numpy(choice, use_bias):
    """W2·act(W1·x), or gated W2·(act(Wg·x) ⊙ Wu·x), with the layer's own weights."""
    x = _x(offset=0.0)
    ff = feedforward_layer(FeedForward(choice), intermediate_dim=24, use_bias=use_bias)
    ff.build(x.shape)
    randomize_weights(ff, 6)
    gated, act = NUMPY_FEEDFORWARD[choice]
    assert isinstance(ff, GatedFeedForward if gated else DenseFeedForward)
    assert len(ff.weights) == (3 if gated else 2) * (2 if use_bias else 1)
    hidden = act(_dense(ff.gate, x)) * _dense(ff.up, x) if gated else act(_dense(ff.up, x))
    np.testing.assert_allclose(ops.convert_to_numpy(ff(x)), _dense(ff.down, hidden), **TOL)


def test_leaky_relu_keeps_a_hundredth_of_the_negative_side():
    """Maas et al.'s slope (PyTorch's default), not Keras's 0.2: the layer's output on
    negative pre-activations is 0.01 of them."""
    ff = DenseFeedForward(intermediate_dim=4, activation="leaky_relu", use_bias=False)
    x = -np.ones((1, 1, 4), "float32")
    ff.build(x.shape)
    ff.up.kernel.assign(np.eye(4, dtype="float32"))
    ff.down.kernel.assign(np.eye(4, dtype="float32"))
    np.testing.assert_allclose(ops.convert_to_numpy(ff(x)), -0.01 * np.ones((1, 1, 4)), rtol=1e-6)


def test_an_unknown_activation_is_refused_by_the_layer():
    with pytest.raises(ValueError, match="unknown activation 'softplus'"):
        DenseFeedForward(intermediate_dim=4, activation="softplus")
