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
    return {
        role: IndependentDraws(keras.initializers.RandomNormal(stddev=s))
        for role, s in stds.items()
    }


@keras.saving.register_keras_serializable(package="zoo")
class IndependentDraws(keras.initializers.Initializer):
    """`initializer` with a new seed at every call, so no two weights share a draw.

    A Keras initializer built without a seed fixes one at construction and returns the same
    values for the same shape at every call. One object per role, passed to every layer, gave
    every block the same initial weights, SwiGLU's gate the values of its up projection, and an
    untied head the values of its embedding. keras-hub clones an initializer per use for the same
    reason (`clone_initializer`); wrapping it once here covers every use, including the two
    weights `ReversibleEmbedding` draws from one initializer. The seeds come from Python's
    `random` (Keras's `make_default_seed`), which `keras.utils.set_random_seed` seeds, so a
    seeded model is still reproducible draw for draw.
    """

    def __init__(self, initializer):
        self.initializer = keras.initializers.get(initializer)

    def __call__(self, shape, dtype=None):
        fresh = self.initializer.__class__.from_config(self.initializer.get_config())
        return fresh(shape, dtype=dtype)

    def get_config(self):
        return {"initializer": keras.initializers.serialize(self.initializer)}

    @classmethod
    def from_config(cls, config):
        return cls(keras.initializers.deserialize(config["initializer"]))
