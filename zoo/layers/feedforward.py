"""Position-wise feed-forward layers: W2·act(W1·x) (GPT-2's GELU MLP, the original Transformer's
ReLU, and the saturating tanh and sigmoid), and the gated W2·(act(Wg·x) ⊙ Wu·x) of Shazeer 2020
(PaLM/LLaMA's SwiGLU, GEGLU, ReGLU).

Two layers rather than one with a flag: they differ in weights, not just in an activation.
`GeluFeedForward` and `SwiGLUFeedForward` keep their names (saved `.keras` files refer to them).
"""

import keras
from keras import ops

from zoo.config import FeedForward

LEAKY_SLOPE = 0.01  # Maas et al. 2013 and PyTorch's default (Keras's own default is 0.2)
ACTIVATIONS = {  # by `zoo.config.FeedForward.activation`
    "gelu": lambda x: keras.activations.gelu(x, approximate=True),  # GPT-2's tanh form
    "relu": ops.relu,
    "leaky_relu": lambda x: ops.leaky_relu(x, negative_slope=LEAKY_SLOPE),
    "tanh": ops.tanh,
    "sigmoid": ops.sigmoid,
    "silu": ops.silu,
}


def _activation(name):
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; known: {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[name]


class _FeedForwardBase(keras.layers.Layer):
    def __init__(
        self,
        intermediate_dim,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        output_initializer="glorot_uniform",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.intermediate_dim = intermediate_dim
        self.use_bias = use_bias
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.output_initializer = keras.initializers.get(output_initializer)

    def _dense(self, units, initializer, name, input_shape):
        layer = keras.layers.Dense(
            units,
            use_bias=self.use_bias,
            kernel_initializer=initializer,
            dtype=self.dtype_policy,
            name=name,
        )
        layer.build(input_shape)
        return layer

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "intermediate_dim": self.intermediate_dim,
            "use_bias": self.use_bias,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "output_initializer": keras.initializers.serialize(self.output_initializer),
        }


@keras.saving.register_keras_serializable(package="zoo")
class DenseFeedForward(_FeedForwardBase):
    """down(act(up(x))), `activation` a name of `ACTIVATIONS`."""

    def __init__(self, intermediate_dim, activation="gelu", **kwargs):
        super().__init__(intermediate_dim, **kwargs)
        self.activation = activation
        self._act = _activation(activation)

    def build(self, input_shape):
        hidden_dim = input_shape[-1]
        self.up = self._dense(self.intermediate_dim, self.kernel_initializer, "up", input_shape)
        self.down = self._dense(
            hidden_dim, self.output_initializer, "down", (None, None, self.intermediate_dim)
        )
        self.built = True

    def call(self, x):
        return self.down(self._act(self.up(x)))  # (b, t, d)

    def get_config(self):
        return {**super().get_config(), "activation": self.activation}


@keras.saving.register_keras_serializable(package="zoo")
class GatedFeedForward(_FeedForwardBase):
    """down(act(gate(x)) ⊙ up(x)) (Shazeer 2020), the activation on the gate branch only."""

    def __init__(self, intermediate_dim, activation="silu", **kwargs):
        super().__init__(intermediate_dim, **kwargs)
        self.activation = activation
        self._act = _activation(activation)

    def build(self, input_shape):
        hidden_dim = input_shape[-1]
        self.gate = self._dense(self.intermediate_dim, self.kernel_initializer, "gate", input_shape)
        self.up = self._dense(self.intermediate_dim, self.kernel_initializer, "up", input_shape)
        self.down = self._dense(
            hidden_dim, self.output_initializer, "down", (None, None, self.intermediate_dim)
        )
        self.built = True

    def call(self, x):
        hidden = self._act(self.gate(x)) * self.up(x)  # (b, t, f)
        return self.down(hidden)  # (b, t, d)

    def get_config(self):
        return {**super().get_config(), "activation": self.activation}


class _FixedActivation:
    """A feed-forward class whose activation is its own (`ACTIVATION`), not an argument: the
    names saved `.keras` files refer to, which record no activation."""

    ACTIVATION = None

    def __init__(self, intermediate_dim, **kwargs):
        super().__init__(intermediate_dim, activation=self.ACTIVATION, **kwargs)

    def get_config(self):
        config = super().get_config()
        del config["activation"]  # fixed by the class
        return config


@keras.saving.register_keras_serializable(package="zoo")
class GeluFeedForward(_FixedActivation, DenseFeedForward):
    """down(gelu(up(x))), GELU in its tanh approximation as in GPT-2's released code."""

    ACTIVATION = "gelu"


@keras.saving.register_keras_serializable(package="zoo")
class SwiGLUFeedForward(_FixedActivation, GatedFeedForward):
    """down(swish(gate(x)) ⊙ up(x)) (Shazeer 2020), as in PaLM §2 and LLaMA §2.2."""

    ACTIVATION = "silu"


def feedforward_layer(feedforward, **kwargs):
    """The layer of a `zoo.config.FeedForward` (GELU and SwiGLU by their own classes)."""
    if feedforward is FeedForward.GELU:
        return GeluFeedForward(**kwargs)
    if feedforward is FeedForward.SWIGLU:
        return SwiGLUFeedForward(**kwargs)
    layer = GatedFeedForward if feedforward.gated else DenseFeedForward
    return layer(activation=feedforward.activation, **kwargs)
