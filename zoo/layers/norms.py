"""Normalization layers: Keras's own LayerNormalization and RMSNormalization, chosen by name."""

import keras

NORMALIZATIONS = ("layernorm", "rmsnorm")


def make_norm(normalization, epsilon, bias, name, dtype=None):
    """A LayerNorm (with or without its shift) or an RMSNorm (never shifted)."""
    if normalization == "layernorm":
        return keras.layers.LayerNormalization(
            epsilon=epsilon, center=bias, dtype=dtype, name=name
        )
    if normalization == "rmsnorm":
        if bias:
            raise ValueError("RMSNorm has no bias; received bias=True")
        return keras.layers.RMSNormalization(epsilon=epsilon, dtype=dtype, name=name)
    raise ValueError(f"normalization must be one of {NORMALIZATIONS}; received {normalization!r}")
