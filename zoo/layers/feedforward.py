"""Position-wise feed-forward layers: GPT-2's GELU MLP and PaLM/LLaMA's SwiGLU.

Two layers rather than one with a flag: they differ in weights, not just in an activation.
"""

import keras
from keras import ops


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
class GeluFeedForward(_FeedForwardBase):
    """down(gelu(up(x))), GELU in its tanh approximation as in GPT-2's released code."""

    def build(self, input_shape):
        hidden_dim = input_shape[-1]
        self.up = self._dense(self.intermediate_dim, self.kernel_initializer, "up", input_shape)
        self.down = self._dense(
            hidden_dim, self.output_initializer, "down", (None, None, self.intermediate_dim)
        )
        self.built = True

    def call(self, x):
        return self.down(keras.activations.gelu(self.up(x), approximate=True))  # (b, t, d)


@keras.saving.register_keras_serializable(package="zoo")
class SwiGLUFeedForward(_FeedForwardBase):
    """down(swish(gate(x)) ⊙ up(x)) (Shazeer 2020), as in PaLM §2 and LLaMA §2.2."""

    def build(self, input_shape):
        hidden_dim = input_shape[-1]
        self.gate = self._dense(self.intermediate_dim, self.kernel_initializer, "gate", input_shape)
        self.up = self._dense(self.intermediate_dim, self.kernel_initializer, "up", input_shape)
        self.down = self._dense(
            hidden_dim, self.output_initializer, "down", (None, None, self.intermediate_dim)
        )
        self.built = True

    def call(self, x):
        hidden = ops.silu(self.gate(x)) * self.up(x)  # (b, t, f)
        return self.down(hidden)  # (b, t, d)
