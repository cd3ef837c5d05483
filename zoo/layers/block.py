"""One decoder block, serial (GPT-2 … LLaMA) or parallel (PaLM), pre-norm (GPT-2 on) or post-norm
(the original Transformer, GPT-1)."""

import keras

from zoo.config import NormPlacement, Residual, as_model_config
from zoo.layers.attention import CausalSelfAttention
from zoo.layers.feedforward import feedforward_layer
from zoo.layers.norms import make_norm


@keras.saving.register_keras_serializable(package="zoo")
class DecoderBlock(keras.layers.Layer):
    """Transformer block `index` of a `ModelConfig`.

    pre-norm, serial:    h = x + Attn(N₁(x));  y = h + FF(N₂(h))
    pre-norm, parallel:  y = x + Attn(N(x)) + FF(N(x))   (PaLM §2: one norm, both branches)
    post-norm, serial:   h = N₁(x + Attn(x));  y = N₂(h + FF(h))   (Vaswani et al., GPT-1)
    post-norm, parallel: y = N(x + Attn(x) + FF(x))

    Design: the block takes the config itself, as `CausalSelfAttention` does, rather than one
    argument per architectural choice, so a choice is declared once (a `ModelConfig` field,
    validated there) and read where it acts; `get_config` stores `config.to_dict()`. The block
    reads `residual`, `norm_placement`, `normalization` (with `norm_bias`, `norm_epsilon`),
    `feedforward` with `intermediate_dim`, `use_bias` and `dropout`; attention reads its own
    fields.

    Sublayers: `attention_norm`, `self_attention`, `feedforward_norm` (serial only) and
    `feedforward` (`up`, `down`, and SwiGLU's `gate`).

    Args:
        config: a `ModelConfig` or its `to_dict()`.
        index: the block's place in the model (its attention kind is `attention_pattern`'s
            entry for it).
        kernel_initializer, attention_output_initializer, feedforward_output_initializer:
            initializers of the input projections and of the two residual output projections;
            `DecoderLM` passes the config's (`zoo.initialization`).
    """

    def __init__(
        self,
        config,
        index=0,
        kernel_initializer="glorot_uniform",
        attention_output_initializer="glorot_uniform",
        feedforward_output_initializer="glorot_uniform",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.config = as_model_config(config)
        self.index = self.config.check_layer_index(index)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.attention_output_initializer = keras.initializers.get(attention_output_initializer)
        self.feedforward_output_initializer = keras.initializers.get(feedforward_output_initializer)

    def build(self, input_shape):
        c = self.config

        def norm(name):
            layer = make_norm(c, name, self.dtype_policy)
            layer.build(input_shape)
            return layer

        self.attention_norm = norm("attention_norm")
        if c.residual is Residual.SERIAL:
            self.feedforward_norm = norm("feedforward_norm")
        self.self_attention = CausalSelfAttention(
            c,
            self.index,
            kernel_initializer=self.kernel_initializer,
            output_initializer=self.attention_output_initializer,
            dtype=self.dtype_policy,
            name="self_attention",
        )
        self.self_attention.build(input_shape)
        self.feedforward_layer = feedforward_layer(
            c.feedforward,
            intermediate_dim=c.intermediate_dim,
            use_bias=c.use_bias,
            kernel_initializer=self.kernel_initializer,
            output_initializer=self.feedforward_output_initializer,
            dtype=self.dtype_policy,
            name="feedforward",
        )
        self.feedforward_layer.build(input_shape)
        self.residual_dropout = keras.layers.Dropout(c.dropout, dtype=self.dtype_policy)
        self.built = True

    def call(self, x, training=None, cache=None, cache_update_index=None):
        """x: (b, t, d) -> (b, t, d); with a key/value `cache` (decoding), -> (y, cache)."""

        def branch(layer, inputs):
            return self.residual_dropout(layer(inputs), training=training)

        def attend(inputs):
            if cache is None:
                return branch(self.self_attention, inputs), None
            out, updated = self.self_attention(
                inputs, cache=cache, cache_update_index=cache_update_index
            )
            return self.residual_dropout(out, training=training), updated

        if self.config.norm_placement is NormPlacement.POST:
            if self.config.residual is Residual.PARALLEL:
                attended, updated = attend(x)
                y = self.attention_norm(x + attended + branch(self.feedforward_layer, x))
            else:
                attended, updated = attend(x)
                h = self.attention_norm(x + attended)  # (b, t, d)
                y = self.feedforward_norm(h + branch(self.feedforward_layer, h))  # (b, t, d)
        elif self.config.residual is Residual.PARALLEL:
            normed = self.attention_norm(x)
            attended, updated = attend(normed)
            y = x + attended + branch(self.feedforward_layer, normed)
        else:
            attended, updated = attend(self.attention_norm(x))
            h = x + attended  # (b, t, d)
            y = h + branch(self.feedforward_layer, self.feedforward_norm(h))  # (b, t, d)
        return y if cache is None else (y, updated)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "config": self.config.to_dict(),
            "index": self.index,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "attention_output_initializer": keras.initializers.serialize(
                self.attention_output_initializer
            ),
            "feedforward_output_initializer": keras.initializers.serialize(
                self.feedforward_output_initializer
            ),
        }
