"""Causal self-attention: multi-head, multi-query or grouped; dense or banded; any positions."""

import keras
from keras import ops

from zoo.config import Attention, Position, as_model_config
from zoo.layers.attention_kernels import banded_causal_attention, dense_causal_attention
from zoo.layers.positions import alibi_score_bias, relative_score_bias, sinusoid


@keras.saving.register_keras_serializable(package="zoo")
class CausalSelfAttention(keras.layers.Layer):
    """The causal self-attention of layer `index` of a `ModelConfig`.

    Design (shared with `DecoderBlock`): the layer takes the config itself, not one argument
    per choice. `ModelConfig` validates every rule once; a new switch is a config field read
    where it acts; `get_config` stores `config.to_dict()`, enums by value. This layer reads
    `num_query_heads` H, `num_key_value_heads` K, `head_dim` Q, `hidden_dim` d, its own entry of
    `attention_pattern` (with `local_window`), `position` (with `rotary_max_wavelength`) and
    `use_bias`.

    Sublayers: `query` (d, H, Q), `key` and `value` (d, K, Q) — separate kernels, so tensor
    parallelism can give each device whole query heads and their key/value heads — and `output`
    (H, Q, d). Relative positions add Transformer-XL's W_R, `relative_kernel` (d, H, Q), and its
    global biases u and v, `content_bias` and `position_bias` (H, Q). Rotary positions rotate
    queries and keys; ALiBi and Transformer-XL act on the scores through the kernels'
    `score_bias` hook (`zoo.layers.positions`); learned and no positions leave attention alone.

    Args:
        config: a `ModelConfig` or its `to_dict()`.
        index: the layer's place in the model, which picks its entry of `attention_pattern`.
        kernel_initializer: for the query/key/value and W_R kernels. `DecoderLM` passes the
            config's (`zoo.initialization`).
        output_initializer: for the output projection (GPT-2 scales it with depth).
    """

    def __init__(
        self,
        config,
        index=0,
        kernel_initializer="glorot_uniform",
        output_initializer="glorot_uniform",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.config = as_model_config(config)
        self.index = self.config.check_layer_index(index)
        self.attention_kind = self.config.layer_attention(index)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.output_initializer = keras.initializers.get(output_initializer)

    def build(self, input_shape):
        c = self.config
        if input_shape[-1] != c.hidden_dim:
            raise ValueError(
                f"{self.name} takes inputs of width hidden_dim={c.hidden_dim}; "
                f"received shape {tuple(input_shape)}"
            )
        heads, q = c.num_query_heads, c.head_dim
        self.query, self.key, self.value = (
            self._projection(name, start, stop, input_shape)
            for name, (start, stop) in c.qkv_head_ranges.items()
        )
        self.output_projection = keras.layers.EinsumDense(
            "btnh,nhd->btd",
            output_shape=(None, c.hidden_dim),
            bias_axes="d" if c.use_bias else None,
            kernel_initializer=self.output_initializer,
            dtype=self.dtype_policy,
            name="output",
        )
        self.output_projection.build((None, None, heads, q))
        if c.position is Position.ROTARY:
            import keras_hub  # deferred: keras-hub import is slow and only rotary needs it

            self.rotary = keras_hub.layers.RotaryEmbedding(
                max_wavelength=c.rotary_max_wavelength, dtype=self.dtype_policy, name="rotary"
            )
        if c.position is Position.RELATIVE:
            # W_R maps a d-wide sinusoid of each distance to per-head keys; u, v are the
            # position-independent content and position biases of Transformer-XL §3.3.
            self.relative_kernel = self.add_weight(
                name="relative_kernel",
                shape=(c.hidden_dim, heads, q),
                initializer=self.kernel_initializer,
            )
            self.content_bias = self.add_weight(
                name="content_bias", shape=(heads, q), initializer="zeros"
            )
            self.position_bias = self.add_weight(
                name="position_bias", shape=(heads, q), initializer="zeros"
            )
        self.built = True

    def _projection(self, name, start, stop, input_shape):
        """Heads [start, stop) of the query | key | value head axis; each kernel is its slice
        of one (d, H + 2K, Q) draw (see `HeadSlice`)."""
        c = self.config
        projection = keras.layers.EinsumDense(
            "btd,dnh->btnh",
            output_shape=(None, stop - start, c.head_dim),
            bias_axes="nh" if c.use_bias else None,
            kernel_initializer=HeadSlice(
                self.kernel_initializer, start, stop, c.num_query_heads + 2 * c.num_key_value_heads
            ),
            dtype=self.dtype_policy,
            name=name,
        )
        projection.build(input_shape)
        return projection

    def call(self, x, cache=None, cache_update_index=None):
        """x: (b, t, d) -> (b, t, d). With `cache` (b, 2, S, K, Q), the keys and values of `x`
        are written at positions cache_update_index .. + t - 1 and the queries attend over the
        whole cache; returns (output, updated cache)."""
        query = self.query(x)  # (b, t, H, Q)
        key = self.key(x)  # (b, t, K, Q)
        value = self.value(x)  # (b, t, K, Q)
        start = 0 if cache is None else cache_update_index
        if self.config.position is Position.ROTARY:
            query = self.rotary(query, start_index=start)
            key = self.rotary(key, start_index=start)
        if cache is not None:
            return self._attend_cached(query, key, value, cache, start)

        seq_len, window = x.shape[1], self.config.local_window
        banded = self.attention_kind is Attention.LOCAL and not (
            seq_len is not None and seq_len <= window
        )
        # A band only ever looks back window - 1 positions, so it needs window distances.
        query, score_bias = self._on_scores(query, window if banded else ops.shape(x)[1])
        if banded:
            out = banded_causal_attention(query, key, value, window, score_bias)
        else:
            out = dense_causal_attention(query, key, value, score_bias)
        return self.output_projection(out)  # (b, t, d)

    def _attend_cached(self, query, key, value, cache, start):
        """Incremental decoding: one masked pass over the cache serves every variant. Banded
        layers keep the whole sequence too and mask to their window, so one cache shape fits all
        layers (a window-sized ring buffer would save memory on long contexts)."""
        zero = ops.zeros((), "int32")
        at = [zero, ops.cast(start, "int32"), zero, zero]
        key_cache = ops.slice_update(cache[:, 0], at, ops.cast(key, cache.dtype))  # (b, S, K, Q)
        value_cache = ops.slice_update(cache[:, 1], at, ops.cast(value, cache.dtype))
        query, score_bias = self._on_scores(query, ops.shape(cache)[2])
        window = self.config.local_window if self.attention_kind is Attention.LOCAL else None
        out = dense_causal_attention(
            query, key_cache, value_cache, score_bias, query_start=start, window=window
        )
        cache = ops.stack([key_cache, value_cache], axis=1)
        return self.output_projection(out), cache  # (b, t, d), (b, 2, S, K, Q)

    def _on_scores(self, query, distances):
        """(query, score bias) as the kernels take them, for positions that act on the scores;
        `distances` is how many distances (0, 1, …) the kernel's score tile can hold."""
        c = self.config
        if c.position is Position.RELATIVE:
            encoding = sinusoid(ops.arange(distances), c.hidden_dim)  # (r, d)
            kernel = ops.cast(self.relative_kernel, "float32")
            r = ops.einsum("rd,dnh->rnh", encoding, kernel)  # (r, H, Q)
            query_v = query + ops.cast(self.position_bias, query.dtype)
            bias = relative_score_bias(query_v, ops.cast(r, query.dtype))
            return query + ops.cast(self.content_bias, query.dtype), bias
        if c.position is Position.ALIBI:
            return query, alibi_score_bias(c.num_query_heads, c.num_key_value_heads, c.head_dim)
        return query, None

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "config": self.config.to_dict(),
            "index": self.index,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "output_initializer": keras.initializers.serialize(self.output_initializer),
        }


@keras.saving.register_keras_serializable(package="zoo")
class HeadSlice(keras.initializers.Initializer):
    """Heads [start, stop) of `initializer` drawn at a (d, heads, Q) shape with `heads` heads.

    The query, key and value projections were once one fused (d, H + 2K, Q) kernel, and drawing
    the fused shape and slicing it kept a seeded model's initial weights as they were. The
    role initializers now draw anew at every call (`zoo.initialization.IndependentDraws`), so
    each projection is its slice of a draw of its own: the same distribution, independent values.
    """

    def __init__(self, initializer, start, stop, heads):
        self.initializer = keras.initializers.get(initializer)
        self.start, self.stop, self.heads = start, stop, heads

    def __call__(self, shape, dtype=None):
        if len(shape) != 3 or shape[1] != self.stop - self.start:
            raise ValueError(
                f"HeadSlice({self.start}, {self.stop}) initializes (d, "
                f"{self.stop - self.start}, Q) kernels; received shape {shape}"
            )
        fused = self.initializer((shape[0], self.heads, shape[2]), dtype=dtype)
        return fused[:, self.start : self.stop]

    def get_config(self):
        return {
            "initializer": keras.initializers.serialize(self.initializer),
            "start": self.start,
            "stop": self.stop,
            "heads": self.heads,
        }
