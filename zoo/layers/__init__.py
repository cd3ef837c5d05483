"""The shared building blocks every historical model is assembled from."""

from zoo.layers.attention import CausalSelfAttention
from zoo.layers.attention_kernels import banded_causal_attention, dense_causal_attention
from zoo.layers.block import DecoderBlock
from zoo.layers.feedforward import (
    DenseFeedForward,
    GatedFeedForward,
    GeluFeedForward,
    SwiGLUFeedForward,
)
from zoo.layers.norms import make_norm

__all__ = [
    "CausalSelfAttention",
    "DecoderBlock",
    "DenseFeedForward",
    "GatedFeedForward",
    "GeluFeedForward",
    "SwiGLUFeedForward",
    "banded_causal_attention",
    "dense_causal_attention",
    "make_norm",
]
