"""One pre-norm decoder block, serial (GPT-2 … LLaMA) or parallel (PaLM)."""

import keras

from zoo.layers.attention import ATTENTIONS, POSITIONS, CausalSelfAttention
from zoo.layers.feedforward import GeluFeedForward, SwiGLUFeedForward
from zoo.layers.norms import NORMALIZATIONS, make_norm

FEEDFORWARDS = {"gelu": GeluFeedForward, "swiglu": SwiGLUFeedForward}
BLOCKS = ("serial", "parallel")


@keras.saving.register_keras_serializable(package="zoo")
class DecoderBlock(keras.layers.Layer):
    """Pre-norm transformer block.

    serial:   h = x + Attn(N₁(x));  y = h + FF(N₂(h))
    parallel: y = x + Attn(N(x)) + FF(N(x))   (PaLM §2: one norm, both branches side by side)

    Args:
        num_query_heads, num_key_value_heads, head_dim, attention, window, position,
            rotary_max_wavelength: passed to `CausalSelfAttention`.
        intermediate_dim: feed-forward width.
        feedforward: "gelu" or "swiglu".
        block: "serial" or "parallel".
        normalization: "layernorm" or "rmsnorm"; `norm_bias` gives LayerNorm its shift.
        norm_epsilon: added to the variance in the norms.
        use_bias: biases on every projection.
        dropout: rate on each residual branch before it is added.
        kernel_initializer, attention_output_initializer, feedforward_output_initializer:
            initializers of the input projections and of the two residual output projections.
    """

    def __init__(
        self,
        num_query_heads,
        num_key_value_heads,
        head_dim,
        intermediate_dim,
        attention="dense",
        window=None,
        position="none",
        rotary_max_wavelength=10000.0,
        feedforward="gelu",
        block="serial",
        normalization="layernorm",
        norm_bias=True,
        norm_epsilon=1e-5,
        use_bias=True,
        dropout=0.0,
        kernel_initializer="glorot_uniform",
        attention_output_initializer="glorot_uniform",
        feedforward_output_initializer="glorot_uniform",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if feedforward not in FEEDFORWARDS:
            raise ValueError(f"feedforward must be one of {tuple(FEEDFORWARDS)}; received {feedforward!r}")
        # Validated here, not only when build() creates the sublayers, so mistakes fail early.
        for arg, value, allowed in (
            ("block", block, BLOCKS),
            ("attention", attention, ATTENTIONS),
            ("position", position, POSITIONS),
            ("normalization", normalization, NORMALIZATIONS),
        ):
            if value not in allowed:
                raise ValueError(f"{arg} must be one of {allowed}; received {value!r}")
        self.num_query_heads = num_query_heads
        self.num_key_value_heads = num_key_value_heads
        self.head_dim = head_dim
        self.intermediate_dim = intermediate_dim
        self.attention = attention
        self.window = window
        self.position = position
        self.rotary_max_wavelength = rotary_max_wavelength
        self.feedforward = feedforward
        self.block = block
        self.normalization = normalization
        self.norm_bias = norm_bias
        self.norm_epsilon = norm_epsilon
        self.use_bias = use_bias
        self.dropout = dropout
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.attention_output_initializer = keras.initializers.get(attention_output_initializer)
        self.feedforward_output_initializer = keras.initializers.get(feedforward_output_initializer)

    def build(self, input_shape):
        def norm(name):
            layer = make_norm(
                self.normalization, self.norm_epsilon, self.norm_bias, name, self.dtype_policy
            )
            layer.build(input_shape)
            return layer

        self.attention_norm = norm("attention_norm")
        if self.block == "serial":
            self.feedforward_norm = norm("feedforward_norm")
        self.self_attention = CausalSelfAttention(
            num_query_heads=self.num_query_heads,
            num_key_value_heads=self.num_key_value_heads,
            head_dim=self.head_dim,
            attention=self.attention,
            window=self.window,
            position=self.position,
            rotary_max_wavelength=self.rotary_max_wavelength,
            use_bias=self.use_bias,
            kernel_initializer=self.kernel_initializer,
            output_initializer=self.attention_output_initializer,
            dtype=self.dtype_policy,
            name="self_attention",
        )
        self.self_attention.build(input_shape)
        self.feedforward_layer = FEEDFORWARDS[self.feedforward](
            intermediate_dim=self.intermediate_dim,
            use_bias=self.use_bias,
            kernel_initializer=self.kernel_initializer,
            output_initializer=self.feedforward_output_initializer,
            dtype=self.dtype_policy,
            name="feedforward",
        )
        self.feedforward_layer.build(input_shape)
        self.residual_dropout = keras.layers.Dropout(self.dropout, dtype=self.dtype_policy)
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

        if self.block == "parallel":
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
            "num_query_heads": self.num_query_heads,
            "num_key_value_heads": self.num_key_value_heads,
            "head_dim": self.head_dim,
            "intermediate_dim": self.intermediate_dim,
            "attention": self.attention,
            "window": self.window,
            "position": self.position,
            "rotary_max_wavelength": self.rotary_max_wavelength,
            "feedforward": self.feedforward,
            "block": self.block,
            "normalization": self.normalization,
            "norm_bias": self.norm_bias,
            "norm_epsilon": self.norm_epsilon,
            "use_bias": self.use_bias,
            "dropout": self.dropout,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "attention_output_initializer": keras.initializers.serialize(
                self.attention_output_initializer
            ),
            "feedforward_output_initializer": keras.initializers.serialize(
                self.feedforward_output_initializer
            ),
        }
