"""`DecoderLM`: the one model class behind every preset, and `build()`."""

import keras

from zoo.config import NormPlacement, Position, as_model_config
from zoo.errors import ZooError
from zoo.initialization import initializers
from zoo.layers.block import DecoderBlock
from zoo.layers.norms import make_norm


@keras.saving.register_keras_serializable(package="zoo")
class DecoderLM(keras.Model):
    """A decoder-only language model: int32 token ids (batch, seq) -> logits (batch, seq, vocab).

    Everything that distinguishes GPT-2 from LLaMA is a field of `config`; this class has no
    branches on model identity. Sublayer names are a stable API (weight paths for sharding,
    weight-decay masks and checkpoint import): `token_embedding`, `position_embedding`,
    `decoder_block_{i}` (`attention_norm`, `self_attention/{query,key,value,output}`,
    `feedforward_norm`, `feedforward/{gate,up,down}`), `final_norm`. `get_config` records
    `WEIGHTS_FORMAT`, so that files of an earlier layout are refused with the command that
    converts them rather than loaded wrongly.

    Args:
        config: a `ModelConfig` or its `to_dict()`.

    Example:
        >>> model = zoo.build("llama-nano")
        >>> logits = model(np.zeros((2, 16), "int32"))  # (2, 16, vocabulary_size)
    """

    def __init__(self, config, dtype=None, **kwargs):
        config = as_model_config(config)
        init = initializers(config)

        # === Layers ===
        # ReversibleEmbedding gives the tied head (logits = h·Eᵀ) or, untied, a separate kernel.
        token_embedding = keras.layers.ReversibleEmbedding(
            config.vocabulary_size,
            config.hidden_dim,
            tie_weights=config.tie_embeddings,
            embeddings_initializer=init["embedding"],
            dtype=dtype,
            name="token_embedding",
        )
        position_embedding = None
        if config.position is Position.LEARNED:
            import keras_hub  # deferred: slow import, needed only for learned positions

            position_embedding = keras_hub.layers.PositionEmbedding(
                sequence_length=config.max_sequence_length,
                initializer=init["embedding"],
                dtype=dtype,
                name="position_embedding",
            )
        embedding_dropout = keras.layers.Dropout(
            config.dropout, dtype=dtype, name="embedding_dropout"
        )
        blocks = [_decoder_block(config, i, init, dtype) for i in range(config.num_layers)]
        # Post-norm blocks end in a norm already: no final one (the original Transformer, GPT-1).
        final_norm = (
            None
            if config.norm_placement is NormPlacement.POST
            else make_norm(config, "final_norm", dtype)
        )

        # === Functional Model ===
        token_ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")
        x = token_embedding(token_ids)  # (b, t, d)
        if position_embedding is not None:
            x = x + position_embedding(x)
        x = embedding_dropout(x)
        for block in blocks:
            x = block(x)
        _, logits = _output_head(config, final_norm, token_embedding, x)  # (b, t, V)
        super().__init__(inputs=token_ids, outputs=logits, **kwargs)
        if dtype is not None:
            # Functional.__init__ drops `dtype`; set the model's own policy as keras-hub's
            # Backbone does, so `compute_dtype` (the cache) and `get_config` carry it.
            self.dtype_policy = keras.dtype_policies.get(dtype)

        # === Config ===
        self.config = config
        self.token_embedding = token_embedding
        self.position_embedding = position_embedding
        self.decoder_blocks = blocks
        self.final_norm = final_norm

    # === Incremental decoding (keras-hub's CausalLM interface) ===

    def empty_cache(self, batch_size, max_length):
        """Zeros for the keys and values of every layer: (b, L, 2, S, K, Q) in the compute dtype.

        Its size per cached token, 2·L·K·Q values, is what multi-query attention shrinks.
        """
        c = self.config
        shape = (batch_size, c.num_layers, 2, max_length, c.num_key_value_heads, c.head_dim)
        return keras.ops.zeros(shape, dtype=self.compute_dtype)

    def call_with_cache(self, token_ids, cache, cache_update_index):
        """Forward pass over new tokens only, reading and extending the key/value cache.

        token_ids: (b, t) at positions cache_update_index .. + t - 1; cache: `empty_cache()` or
        a previous call's. Returns (logits (b, t, V), hidden states (b, t, d), updated cache),
        the signature keras-hub's `CausalLM.call_with_cache` and its samplers use.
        """
        x = self.token_embedding(token_ids)  # (b, t, d)
        if self.position_embedding is not None:
            # Positions as a gather, not a slice at start_index: under TensorFlow's XLA a slice
            # start is a compile-time constant, so each decoding step would compile anew.
            positions = keras.ops.arange(keras.ops.shape(token_ids)[1]) + cache_update_index
            x = x + self.position_embedding(x, positions=positions)
        caches = []
        for i, block in enumerate(self.decoder_blocks):
            x, layer_cache = block(x, cache=cache[:, i], cache_update_index=cache_update_index)
            caches.append(layer_cache)
        hidden, logits = _output_head(self.config, self.final_norm, self.token_embedding, x)
        return logits, hidden, keras.ops.stack(caches, axis=1)

    def get_config(self):
        # `__init__(config, dtype=None, **kwargs)` is not a functional-style constructor, so
        # Functional.get_config falls through to Layer.get_config: name, trainable and the
        # serialised dtype policy, never the layer graph (the graph is rebuilt from `config`).
        # keras-hub's Backbone writes the same keys by hand because its `*args, **kwargs`
        # constructor would get the graph; the guard below keeps that from happening here.
        base = super().get_config()
        if "layers" in base:  # a functional graph config: keep only what __init__ accepts
            base = {
                "name": self.name,
                "trainable": self.trainable,
                "dtype": keras.dtype_policies.serialize(self.dtype_policy),
            }
        return {**base, "config": self.config.to_dict(), "weights_format": WEIGHTS_FORMAT}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        check_weights_format(config.pop("weights_format", 1))
        if isinstance(config.get("dtype"), dict):  # a serialised DTypePolicy, as keras-hub does
            config["dtype"] = keras.dtype_policies.get(config["dtype"])
        return cls(**config)


def _output_head(config, final_norm, token_embedding, x):
    """(final hidden states, logits (b, t, V)): shared by the functional graph and
    `call_with_cache`."""
    if final_norm is not None:
        x = final_norm(x)
    if config.logit_scale != 1.0:
        x = x * config.logit_scale  # scaling h before h·Eᵀ costs d, not V, per token
    return x, token_embedding(x, reverse=True)


def _decoder_block(config, index, init, dtype):
    return DecoderBlock(
        config,
        index,
        kernel_initializer=init["kernel"],
        attention_output_initializer=init["attention_output"],
        feedforward_output_initializer=init["feedforward_output"],
        dtype=dtype,
        name=f"decoder_block_{index}",
    )


# How a saved DecoderLM lays out its weights, recorded by `get_config`: 1 (files without the
# entry) held each layer's queries, keys and values in one fused `self_attention/qkv` kernel;
# 2 holds separate `query`, `key` and `value` projections. `zoo convert` turns 1 into 2.
WEIGHTS_FORMAT = 2


class WeightsFormatError(ZooError):
    """A .keras file whose weights are laid out for another version of the zoo."""


def check_weights_format(found):
    if found == WEIGHTS_FORMAT:
        return
    if found == 1:
        raise WeightsFormatError(
            "the file was saved by an earlier zoo, with one fused self_attention/qkv kernel per "
            "layer; convert it: zoo convert OLD.keras --out NEW.keras"
        )
    raise WeightsFormatError(
        f"the file has weights_format {found!r}, which this zoo does not "
        f"know (it reads {WEIGHTS_FORMAT}); upgrade zoo"
    )


def build(name_or_config, **overrides):
    """Build a `DecoderLM` from a preset name or a `ModelConfig`, with field overrides.

    >>> zoo.build("llama-small", normalization="layernorm")
    """
    from zoo.registry import resolve_config

    return DecoderLM(resolve_config(name_or_config, **overrides))
