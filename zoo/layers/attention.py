"""Causal self-attention: multi-head, multi-query or grouped; dense or banded; any positions."""

import keras
from keras import ops

from zoo.layers.attention_kernels import banded_causal_attention, dense_causal_attention, sinusoid

POSITIONS = ("learned", "rotary", "relative", "none")  # learned/none need nothing in here
ATTENTIONS = ("dense", "local")


@keras.saving.register_keras_serializable(package="zoo")
class CausalSelfAttention(keras.layers.Layer):
    """Causal self-attention over `num_query_heads` query heads and `num_key_value_heads` kv heads.

    Queries, keys and values come from one fused projection (one matmul instead of three); the
    kernel's head axis holds H query heads, then K key heads, then K value heads.

    Args:
        num_query_heads: H.
        num_key_value_heads: K; H for multi-head, 1 for multi-query, a divisor of H for grouped.
        head_dim: Q, the width of one head.
        attention: "dense" (all earlier positions) or "local" (the `window` most recent,
            computed blockwise so cost grows with sequence × window).
        window: keys per query in a local layer, the query itself included.
        position: "rotary" rotates queries and keys; "relative" adds Transformer-XL's position
            logits (a projection W_R of sinusoidal distances and two global biases u, v);
            "learned" and "none" leave attention position-free.
        rotary_max_wavelength: θ of the rotary frequencies.
        use_bias: biases on the projections.
        kernel_initializer: for the q/k/v and W_R projections.
        output_initializer: for the output projection (GPT-2 scales it with depth).
    """

    def __init__(
        self,
        num_query_heads,
        num_key_value_heads,
        head_dim,
        attention="dense",
        window=None,
        position="none",
        rotary_max_wavelength=10000.0,
        use_bias=False,
        kernel_initializer="glorot_uniform",
        output_initializer="glorot_uniform",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if attention not in ATTENTIONS:
            raise ValueError(f"attention must be one of {ATTENTIONS}; received {attention!r}")
        if position not in POSITIONS:
            raise ValueError(f"position must be one of {POSITIONS}; received {position!r}")
        if attention == "local" and (not isinstance(window, int) or window < 1):
            raise ValueError(f"local attention needs a window; received window={window!r}")
        if num_query_heads % num_key_value_heads:
            raise ValueError(
                f"num_key_value_heads must divide num_query_heads; received "
                f"{num_key_value_heads} and {num_query_heads}"
            )
        self.num_query_heads = num_query_heads
        self.num_key_value_heads = num_key_value_heads
        self.head_dim = head_dim
        self.attention = attention
        self.window = window
        self.position = position
        self.rotary_max_wavelength = rotary_max_wavelength
        self.use_bias = use_bias
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.output_initializer = keras.initializers.get(output_initializer)

    def build(self, input_shape):
        hidden_dim = input_shape[-1]
        heads, kv, q = self.num_query_heads, self.num_key_value_heads, self.head_dim
        self.qkv = keras.layers.EinsumDense(
            "btd,dnh->btnh",
            output_shape=(None, heads + 2 * kv, q),
            bias_axes="nh" if self.use_bias else None,
            kernel_initializer=self.kernel_initializer,
            dtype=self.dtype_policy,
            name="qkv",
        )
        self.qkv.build(input_shape)
        self.output_projection = keras.layers.EinsumDense(
            "btnh,nhd->btd",
            output_shape=(None, hidden_dim),
            bias_axes="d" if self.use_bias else None,
            kernel_initializer=self.output_initializer,
            dtype=self.dtype_policy,
            name="output",
        )
        self.output_projection.build((None, None, heads, q))
        if self.position == "rotary":
            import keras_hub  # deferred: keras-hub import is slow and only rotary needs it

            self.rotary = keras_hub.layers.RotaryEmbedding(
                max_wavelength=self.rotary_max_wavelength, dtype=self.dtype_policy, name="rotary"
            )
        if self.position == "relative":
            # W_R maps a d-wide sinusoid of each distance to per-head keys; u, v are the
            # position-independent content and position biases of Transformer-XL §3.3.
            self.relative_kernel = self.add_weight(
                name="relative_kernel",
                shape=(hidden_dim, heads, q),
                initializer=self.kernel_initializer,
            )
            self.content_bias = self.add_weight(
                name="content_bias", shape=(heads, q), initializer="zeros"
            )
            self.position_bias = self.add_weight(
                name="position_bias", shape=(heads, q), initializer="zeros"
            )
        self.built = True

    def call(self, x, cache=None, cache_update_index=None):
        """x: (b, t, d) -> (b, t, d). With `cache` (b, 2, S, K, Q), the keys and values of `x`
        are written at positions cache_update_index .. + t - 1 and the queries attend over the
        whole cache; returns (output, updated cache)."""
        heads, kv = self.num_query_heads, self.num_key_value_heads
        qkv = self.qkv(x)  # (b, t, H + 2K, Q)
        query = qkv[:, :, :heads]  # (b, t, H, Q)
        key = qkv[:, :, heads : heads + kv]  # (b, t, K, Q)
        value = qkv[:, :, heads + kv :]  # (b, t, K, Q)
        start = 0 if cache is None else cache_update_index
        if self.position == "rotary":
            query = self.rotary(query, start_index=start)
            key = self.rotary(key, start_index=start)
        if cache is not None:
            return self._attend_cached(x, query, key, value, cache, start)

        seq_len = x.shape[1]
        banded = self.attention == "local" and not (seq_len is not None and seq_len <= self.window)
        relative = None
        if self.position == "relative":
            # A band only ever looks back window - 1 positions, so it needs window distances.
            distances = self.window if banded else ops.shape(x)[1]
            relative = self._relative_terms(query, distances, x.shape[-1])
            query = query + ops.cast(self.content_bias, query.dtype)

        if banded:
            out = banded_causal_attention(query, key, value, self.window, relative)
        else:
            out = dense_causal_attention(query, key, value, relative)
        return self.output_projection(out)  # (b, t, d)

    def _attend_cached(self, x, query, key, value, cache, start):
        """Incremental decoding: one masked pass over the cache serves every variant. Banded
        layers keep the whole sequence too and mask to their window, so one cache shape fits all
        layers (a window-sized ring buffer would save memory on long contexts)."""
        zero = ops.zeros((), "int32")
        at = [zero, ops.cast(start, "int32"), zero, zero]
        key_cache = ops.slice_update(cache[:, 0], at, ops.cast(key, cache.dtype))  # (b, S, K, Q)
        value_cache = ops.slice_update(cache[:, 1], at, ops.cast(value, cache.dtype))
        relative = None
        if self.position == "relative":
            relative = self._relative_terms(query, ops.shape(cache)[2], x.shape[-1])
            query = query + ops.cast(self.content_bias, query.dtype)
        window = self.window if self.attention == "local" else None
        out = dense_causal_attention(
            query, key_cache, value_cache, relative, query_start=start, window=window
        )
        cache = ops.stack([key_cache, value_cache], axis=1)
        return self.output_projection(out), cache  # (b, t, d), (b, 2, S, K, Q)

    def _relative_terms(self, query, distances, hidden_dim):
        encoding = sinusoid(ops.arange(distances), hidden_dim)  # (r, d)
        kernel = ops.cast(self.relative_kernel, "float32")
        r = ops.einsum("rd,dnh->rnh", encoding, kernel)  # (r, H, Q)
        query_v = query + ops.cast(self.position_bias, query.dtype)
        return query_v, ops.cast(r, query.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "num_query_heads": self.num_query_heads,
            "num_key_value_heads": self.num_key_value_heads,
            "head_dim": self.head_dim,
            "attention": self.attention,
            "window": self.window,
            "position": self.position,
            "rotary_max_wavelength": self.rotary_max_wavelength,
            "use_bias": self.use_bias,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "output_initializer": keras.initializers.serialize(self.output_initializer),
        }
