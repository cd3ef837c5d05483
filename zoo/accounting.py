"""Parameter and FLOP accounting as pure functions of a `ModelConfig` (no model is built).

Tests tie `count_params` to `model.count_params()` exactly on every scaled preset and to the
papers' reported sizes on the full-size ones, so `zoo info palm-540b` is trustworthy on a laptop.

FLOP conventions (one multiply-accumulate = 2 FLOPs):

* `palm`: PaLM appendix B, training FLOPs per token = 6·N + 12·L·H·Q·T, with N every parameter
  (the figure PaLM's Table 22 uses) and the full T×T attention counted in every layer.
* `forward` / `training`: an exact per-component count in the style of Chinchilla appendix F
  (projections, attention logits, softmax (3 FLOPs per score), weighted values, feed-forward,
  output logits; backward = 2 × forward), in which attention is counted *as this package computes
  it*: dense layers form the full T×T score matrix (masked, not skipped), and banded layers form
  (padded T)·2w scores, tile by tile. Unlike appendix F the embedding lookup counts 0: it is a
  gather, not a matmul. Norms, rotary and biases are omitted, as in appendix F, and so are
  elementwise terms on the scores, like the mask: ALiBi's −m·(i−j) and the add of Transformer-XL's
  position logits (whose own score matmul is counted). ALiBi therefore costs what no positions
  cost, and has no parameters.
"""

import dataclasses
import math

from zoo.config import Attention, ModelConfig, NormPlacement, Position, Residual

TOKENS_PER_PARAMETER = 20  # Chinchilla's compute-optimal ratio (Table 3; 1.4T / 70B)


def _as_config(config_or_name):
    if isinstance(config_or_name, ModelConfig):
        return config_or_name
    from zoo.registry import get_recipe  # local: the registry imports recipes, which import us

    return get_recipe(config_or_name).model


def param_breakdown(config):
    """Parameters by component, summed over layers. Keys with zero are omitted."""
    c = _as_config(config)
    d, heads, kv, q = c.hidden_dim, c.num_query_heads, c.num_key_value_heads, c.head_dim
    bias = c.use_bias

    attention = d * (heads + 2 * kv) * q + heads * q * d  # query, key, value; output
    attention_bias = ((heads + 2 * kv) * q + d) if bias else 0
    relative = d * heads * q + 2 * heads * q if c.position is Position.RELATIVE else 0
    n_in = 2 if c.feedforward.gated else 1
    feedforward = (n_in + 1) * d * c.intermediate_dim
    feedforward_bias = (n_in * c.intermediate_dim + d) if bias else 0
    one_norm = d * (2 if c.norm_bias else 1)
    norms_per_layer = 1 if c.residual is Residual.PARALLEL else 2

    parts = {
        "token_embedding": c.vocabulary_size * d,
        "position_embedding": c.max_sequence_length * d if c.position is Position.LEARNED else 0,
        "attention": c.num_layers * (attention + attention_bias),
        "relative_position": c.num_layers * relative,
        "feedforward": c.num_layers * (feedforward + feedforward_bias),
        # + the final norm, which post-norm blocks do not need
        "norms": c.num_layers * norms_per_layer * one_norm
        + (one_norm if c.norm_placement is NormPlacement.PRE else 0),
        "output_head": 0 if c.tie_embeddings else d * c.vocabulary_size,
    }
    return {k: v for k, v in parts.items() if v}


EMBEDDING_COMPONENTS = ("token_embedding", "position_embedding", "output_head")


def count_params(config):
    """Every trainable parameter; equals `zoo.build(config).count_params()` exactly."""
    return sum(param_breakdown(config).values())


def count_non_embedding_params(config):
    """Kaplan's N: parameters outside token/position tables and an untied output head."""
    parts = param_breakdown(config)
    return sum(v for k, v in parts.items() if k not in EMBEDDING_COMPONENTS)


def chinchilla_optimal_tokens(config):
    """Tokens for compute-optimal training: 20 per parameter (Hoffmann et al. 2022)."""
    return TOKENS_PER_PARAMETER * count_params(config)


@dataclasses.dataclass(frozen=True)
class FlopsPerToken:
    """FLOPs per token at one sequence length; see the module docstring for conventions."""

    seq_len: int
    palm: float  # training, 6N + 12·L·H·Q·T
    forward: float  # exact, as computed
    components: dict  # forward, by component

    @property
    def training(self):
        return 3.0 * self.forward  # backward = 2 × forward


def attended_keys(config, attention, seq_len):
    """Scores each query computes in one layer, as this package's kernels compute them."""
    if attention is Attention.DENSE or seq_len <= config.local_window:
        return seq_len  # the full masked row; a band wider than the sequence is dense
    tile = config.local_window
    padded = tile * math.ceil(seq_len / tile)
    return padded * 2 * tile / seq_len  # each query tile meets its own and the previous tile


def _relative_distances(config, attention, seq_len):
    """Relative distances one layer projects per sequence: T when dense, w when banded."""
    if attention is Attention.DENSE or seq_len <= config.local_window:
        return seq_len
    return config.local_window


def flops_per_token(config, seq_len=None):
    """Forward and training FLOPs per token at `seq_len` (default: the model's context)."""
    c = _as_config(config)
    t = seq_len or c.max_sequence_length
    d, heads, kv, q = c.hidden_dim, c.num_query_heads, c.num_key_value_heads, c.head_dim
    n_in = 2 if c.feedforward.gated else 1

    keys = sum(attended_keys(c, c.layer_attention(i), t) for i in range(c.num_layers))
    relative = c.position is Position.RELATIVE
    # Transformer-XL adds a second score matmul, (q + v)·r, and projects each relative distance
    # a layer uses (T for dense layers, w for banded ones) through W_R once per sequence.
    distances = sum(_relative_distances(c, c.layer_attention(i), t) for i in range(c.num_layers))
    components = {
        "qkv_projection": c.num_layers * 2 * d * (heads + 2 * kv) * q,
        "attention_scores": keys * heads * q * 2 * (2 if relative else 1),
        "softmax": keys * heads * 3,
        "attention_values": keys * heads * q * 2,
        "attention_output": c.num_layers * 2 * heads * q * d,
        "relative_projection": (2 * distances * d * heads * q / t) if relative else 0,
        "feedforward": c.num_layers * 2 * (n_in + 1) * d * c.intermediate_dim,
        "logits": 2 * d * c.vocabulary_size,
    }
    components = {k: float(v) for k, v in components.items() if v}
    palm = 6.0 * count_params(c) + 12.0 * c.num_layers * heads * q * t
    return FlopsPerToken(
        seq_len=t, palm=palm, forward=sum(components.values()), components=components
    )


__all__ = [
    "FlopsPerToken",
    "attended_keys",
    "chinchilla_optimal_tokens",
    "count_non_embedding_params",
    "count_params",
    "flops_per_token",
    "param_breakdown",
]
