"""`DecoderBlock` wiring (serial vs parallel) and config round trips of every zoo layer."""

import inspect
import json

import keras
import numpy as np
import pytest

import zoo.layers
from tests.helpers import as_float64, randomize_weights
from zoo.layers import (
    CausalSelfAttention,
    DecoderBlock,
    DenseFeedForward,
    GatedFeedForward,
    GeluFeedForward,
    SwiGLUFeedForward,
)

from .configs import HIDDEN, layer_config
from .numpy_reference import layer_norm, rms_norm

TOL = dict(rtol=1e-5, atol=1e-5)


def _x(t=7, seed=0):
    return (np.random.default_rng(seed).standard_normal((2, t, HIDDEN)) + 0.5).astype("float32")


BLOCK_CASES = [
    # residual, normalization, norm_bias, feedforward, position, attention, window[, placement]
    ("serial", "layernorm", True, "gelu", "none", "dense", None),  # GPT-2
    ("serial", "layernorm", True, "gelu", "none", "local", 3),  # GPT-3 sparse layer
    ("serial", "rmsnorm", False, "swiglu", "rotary", "dense", None),  # LLaMA
    ("serial", "rmsnorm", False, "gelu", "relative", "dense", None),  # Gopher
    ("parallel", "layernorm", False, "swiglu", "rotary", "dense", None),  # PaLM
    ("parallel", "rmsnorm", False, "gelu", "relative", "local", 4),
    ("serial", "rmsnorm", False, "swiglu", "alibi", "local", 3),
    ("serial", "layernorm", True, "relu", "none", "dense", None, "post"),  # Vaswani et al., GPT-1
    ("parallel", "rmsnorm", False, "geglu", "rotary", "local", 3, "post"),
]
BLOCK_CASES = [case if len(case) == 8 else (*case, "pre") for case in BLOCK_CASES]


@pytest.mark.parametrize(
    "residual,normalization,norm_bias,feedforward,position,attention,window,placement", BLOCK_CASES
)
def test_block_wiring(
    residual, normalization, norm_bias, feedforward, position, attention, window, placement
):
    layer = DecoderBlock(
        layer_config(
            num_query_heads=4,
            num_key_value_heads=2,
            head_dim=4,
            intermediate_dim=20,
            attention=attention,
            window=window,
            position=position,
            feedforward=feedforward,
            residual=residual,
            normalization=normalization,
            norm_bias=norm_bias,
            norm_epsilon=1e-3,
            norm_placement=placement,
        )
    )
    x = _x()
    layer.build(x.shape)
    randomize_weights(layer, 1)
    out = as_float64(layer(x))

    def norm(norm_layer, h):  # the norm in NumPy, from its own weights
        weights = [as_float64(w) for w in norm_layer.weights]
        if normalization == "rmsnorm":
            return rms_norm(h, weights[0], 1e-3)
        return layer_norm(h, weights[0], weights[1] if norm_bias else None, 1e-3)

    attn = lambda h: as_float64(layer.self_attention(h.astype("float32")))
    ff = lambda h: as_float64(layer.feedforward_layer(h.astype("float32")))
    if placement == "post" and residual == "parallel":
        ref = norm(layer.attention_norm, x + attn(x) + ff(x))
    elif placement == "post":  # the norm after each residual addition
        h = norm(layer.attention_norm, x + attn(x))
        ref = norm(layer.feedforward_norm, h + ff(h))
    elif residual == "parallel":
        assert not hasattr(layer, "feedforward_norm")  # PaLM: one norm feeds both branches
        n = norm(layer.attention_norm, x)
        ref = x + attn(n) + ff(n)
    else:
        h = x + attn(norm(layer.attention_norm, x))
        ref = h + ff(norm(layer.feedforward_norm, h))
    np.testing.assert_allclose(out, ref, **TOL)


def test_serial_and_parallel_differ_with_the_same_weights():
    kwargs = dict(num_query_heads=2, num_key_value_heads=2, head_dim=6, intermediate_dim=16)
    serial = DecoderBlock(layer_config(residual="serial", **kwargs))
    parallel = DecoderBlock(layer_config(residual="parallel", **kwargs))
    x = _x()
    serial.build(x.shape)
    parallel.build(x.shape)
    randomize_weights(serial, 2)
    # Parallel has one norm fewer; give it the serial block's attention norm and sublayers.
    for name in ("attention_norm", "self_attention", "feedforward_layer"):
        getattr(parallel, name).set_weights(getattr(serial, name).get_weights())
    assert len(parallel.weights) == len(serial.weights) - 2  # LayerNorm gamma + beta
    assert np.abs(as_float64(serial(x)) - as_float64(parallel(x))).max() > 1e-3


def test_residual_dropout_only_in_training():
    layer = DecoderBlock(
        layer_config(
            num_query_heads=2, num_key_value_heads=1, head_dim=6, intermediate_dim=16, dropout=0.5
        )
    )
    x = _x()
    layer.build(x.shape)
    np.testing.assert_allclose(
        as_float64(layer(x)), as_float64(layer(x, training=False)), rtol=0, atol=0
    )
    assert np.abs(as_float64(layer(x, training=True)) - as_float64(layer(x))).max() > 1e-3


# --- serialization round trips ----------------------------------------------------------------

# Every field away from the helper's defaults where a layer reads it.
RELATIVE = layer_config(
    num_layers=6,
    num_query_heads=4,
    num_key_value_heads=2,
    head_dim=6,
    attention_pattern=("dense", "local"),
    local_window=3,
    position="relative",
    rotary_max_wavelength=500.0,
    use_bias=True,
)
ROTARY = layer_config(
    num_layers=2,
    num_query_heads=4,
    num_key_value_heads=1,
    head_dim=6,
    attention_pattern=("dense", "local"),
    local_window=3,
    position="rotary",
    rotary_max_wavelength=500.0,
    use_bias=True,
    feedforward="swiglu",
    residual="parallel",
    normalization="rmsnorm",
    norm_bias=False,
    norm_epsilon=1e-6,
    dropout=0.1,
    intermediate_dim=20,
)
ALIBI = RELATIVE.replace(
    position="alibi",
    num_key_value_heads=4,
    norm_bias=False,
    feedforward="swiglu",
    residual="parallel",
    dropout=0.1,
)

ROUND_TRIPS = {
    "attention_relative": (
        CausalSelfAttention,
        dict(
            config=RELATIVE,
            index=1,
            kernel_initializer=keras.initializers.RandomNormal(stddev=0.05, seed=1),
            output_initializer=keras.initializers.RandomUniform(-0.1, 0.1, seed=2),
            name="attn_rt",
        ),
    ),
    "attention_rotary": (
        CausalSelfAttention,
        dict(
            config=ROTARY,
            index=1,
            kernel_initializer=keras.initializers.RandomNormal(stddev=0.05, seed=1),
            output_initializer="he_normal",
            name="attn_rt2",
        ),
    ),
    "attention_alibi": (
        CausalSelfAttention,
        dict(
            config=ALIBI,
            index=3,
            kernel_initializer="he_uniform",
            output_initializer="zeros",
            name="attn_rt3",
        ),
    ),
    "gelu": (
        GeluFeedForward,
        dict(
            intermediate_dim=20,
            use_bias=False,
            kernel_initializer=keras.initializers.TruncatedNormal(stddev=0.03, seed=3),
            output_initializer=keras.initializers.RandomNormal(stddev=0.01, seed=4),
            name="gelu_rt",
        ),
    ),
    "swiglu": (
        SwiGLUFeedForward,
        dict(
            intermediate_dim=20,
            use_bias=False,
            kernel_initializer=keras.initializers.TruncatedNormal(stddev=0.03, seed=3),
            output_initializer=keras.initializers.RandomNormal(stddev=0.01, seed=4),
            name="swiglu_rt",
        ),
    ),
    "dense": (
        DenseFeedForward,
        dict(
            intermediate_dim=20,
            activation="tanh",
            use_bias=False,
            kernel_initializer=keras.initializers.TruncatedNormal(stddev=0.03, seed=3),
            output_initializer=keras.initializers.RandomNormal(stddev=0.01, seed=4),
            name="dense_rt",
        ),
    ),
    "gated": (
        GatedFeedForward,
        dict(
            intermediate_dim=20,
            activation="relu",
            use_bias=False,
            kernel_initializer=keras.initializers.TruncatedNormal(stddev=0.03, seed=3),
            output_initializer=keras.initializers.RandomNormal(stddev=0.01, seed=4),
            name="gated_rt",
        ),
    ),
    "block_post": (
        DecoderBlock,
        dict(
            config=ROTARY.replace(norm_placement="post", feedforward="geglu"),
            index=1,
            kernel_initializer="he_uniform",
            attention_output_initializer="zeros",
            feedforward_output_initializer="ones",
            name="block_rt4",
        ),
    ),
    "block": (
        DecoderBlock,
        dict(
            config=ROTARY,
            index=1,
            kernel_initializer=keras.initializers.RandomNormal(stddev=0.05, seed=1),
            attention_output_initializer=keras.initializers.RandomNormal(stddev=0.01, seed=2),
            feedforward_output_initializer=keras.initializers.RandomNormal(stddev=0.02, seed=3),
            name="block_rt",
        ),
    ),
    "block_relative": (
        DecoderBlock,
        dict(
            config=RELATIVE.replace(
                num_key_value_heads=4,
                feedforward="swiglu",
                residual="parallel",
                normalization="rmsnorm",
                norm_bias=False,
                norm_epsilon=1e-6,
                dropout=0.1,
            ),
            index=1,
            kernel_initializer="he_uniform",
            attention_output_initializer="zeros",
            feedforward_output_initializer="ones",
            name="block_rt2",
        ),
    ),
    "block_alibi": (
        DecoderBlock,
        dict(
            config=ALIBI,
            index=5,
            kernel_initializer="he_uniform",
            attention_output_initializer="zeros",
            feedforward_output_initializer="ones",
            name="block_rt3",
        ),
    ),
}


def test_round_trips_cover_every_layer_class():
    classes = {
        obj
        for obj in (getattr(zoo.layers, n) for n in zoo.layers.__all__)
        if inspect.isclass(obj) and issubclass(obj, keras.layers.Layer)
    }
    assert classes == {cls for cls, _ in ROUND_TRIPS.values()}


@pytest.mark.parametrize("case", sorted(ROUND_TRIPS))
def test_every_argument_is_non_default(case):
    """Guard for the round trip below: each __init__ argument differs from its default."""
    cls, kwargs = ROUND_TRIPS[case]
    params = {
        n: p
        for n, p in inspect.signature(cls.__init__).parameters.items()
        if n not in ("self", "kwargs")
    }
    assert set(params) <= set(kwargs), f"not exercised: {set(params) - set(kwargs)}"
    for name, p in params.items():
        if p.default is not inspect.Parameter.empty:
            assert kwargs[name] != p.default, name


@pytest.mark.parametrize("case", sorted(ROUND_TRIPS))
def test_get_config_from_config_round_trip(case):
    cls, kwargs = ROUND_TRIPS[case]
    layer = cls(**kwargs)
    x = _x(t=8)
    layer.build(x.shape)
    randomize_weights(layer, 7)
    config = layer.get_config()
    for name in kwargs:
        assert name in config, f"{name} missing from get_config()"
    if "config" in kwargs:  # the ModelConfig, enums by value: plain JSON
        assert config["config"] == kwargs["config"].to_dict()
        assert json.loads(json.dumps(config)) == config

    restored = cls.from_config(config)
    assert restored.get_config() == config
    for name, value in kwargs.items():
        if not name.endswith("initializer"):
            assert getattr(restored, name) == value, name
    for name in [n for n in kwargs if n.endswith("initializer")]:
        expected = keras.initializers.serialize(keras.initializers.get(kwargs[name]))
        assert keras.initializers.serialize(getattr(restored, name)) == expected, name

    restored.build(x.shape)
    assert [w.path.split("/", 1)[1] for w in restored.weights] == [
        w.path.split("/", 1)[1] for w in layer.weights
    ]
    restored.set_weights(layer.get_weights())
    np.testing.assert_allclose(as_float64(restored(x)), as_float64(layer(x)), rtol=1e-6, atol=1e-6)

    # Through the registered-name path `load_model` uses.
    revived = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert type(revived) is cls and revived.get_config() == config


def test_block_saves_and_loads_as_keras_file(tmp_path):
    cls, kwargs = ROUND_TRIPS["block_relative"]
    inputs = keras.Input(shape=(None, HIDDEN))
    layer = cls(**kwargs)
    model = keras.Model(inputs, layer(inputs))
    randomize_weights(layer, 8)
    x = _x(t=8)
    path = tmp_path / "block.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(as_float64(loaded(x)), as_float64(model(x)), rtol=1e-6, atol=1e-6)
