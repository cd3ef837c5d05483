"""Initialisers for each weight role, from a config's `init` scheme."""

import math

import keras

from zoo.config import Init


def initializers(config):
    """Keras initialisers keyed by role: embedding, kernel, attention_output, feedforward_output.

    An untied output head is initialised like the embedding (`ReversibleEmbedding` shares the
    initialiser), which is why FAN_IN models scale their logits by 1/sqrt(d) tied or not.

    GPT-2 (§2.3) scales the weights of residual layers by 1/sqrt(N), N the number of residual
    layers (2 per block); PaLM (§5) uses fan-in variance scaling and N(0, 1) embeddings. Fan-in
    is computed here, not by `VarianceScaling`, because Keras reads the wrong axis of an
    EinsumDense kernel shaped (d, heads, head_dim).
    """
    std = config.init_std
    if config.init is Init.FAN_IN:
        heads_width = config.num_query_heads * config.head_dim
        stds = {
            "embedding": 1.0,
            "kernel": 1.0 / math.sqrt(config.hidden_dim),
            "attention_output": 1.0 / math.sqrt(heads_width),
            "feedforward_output": 1.0 / math.sqrt(config.intermediate_dim),
        }
    else:
        residual = std / math.sqrt(2 * config.num_layers) if config.init is Init.GPT2 else std
        stds = {
            "embedding": std,
            "kernel": std,
            "attention_output": residual,
            "feedforward_output": residual,
        }
    return {role: keras.initializers.RandomNormal(stddev=s) for role, s in stds.items()}
