"""Normalization layers: Keras's own LayerNormalization and RMSNormalization, as a config asks."""

import keras

from zoo.config import Normalization


def make_norm(config, name, dtype=None):
    """The norm `config` asks for: LayerNorm (with its shift if `norm_bias`) or RMSNorm (never
    shifted; `ModelConfig` refuses RMSNorm with a bias)."""
    if config.normalization is Normalization.LAYERNORM:
        return keras.layers.LayerNormalization(
            epsilon=config.norm_epsilon, center=config.norm_bias, dtype=dtype, name=name
        )
    if config.normalization is Normalization.RMSNORM:
        return keras.layers.RMSNormalization(epsilon=config.norm_epsilon, dtype=dtype, name=name)
    raise NotImplementedError(f"no norm layer for normalization={config.normalization.value!r}")
