"""Compute-optimal resizing (Chinchilla): the shape of a family that spends a FLOPs budget at
~20 training tokens per parameter.

The search keeps what makes the family itself — every architectural choice, the number of heads,
the feed-forward width as a multiple of the width, and the aspect ratio (width per layer, within a
factor of 1.5) — and varies depth and width. Among the shapes whose tokens per parameter land
within 10% of the target it prefers the aspect ratio closest to the family's; otherwise the
closest ratio wins. Parameters are all parameters, embeddings included, as in Hoffmann et al.;
FLOPs per token are the PaLM-convention figure the budget is stated in.
"""

import math

from zoo.accounting import TOKENS_PER_PARAMETER, count_params, flops_per_token
from zoo.errors import ZooError

ASPECT_TOLERANCE = 1.5
TARGET_TOLERANCE = 0.10
MAX_LAYERS = 48


def tokens_per_parameter(config, flops):
    tokens = flops / flops_per_token(config, config.max_sequence_length).palm
    return tokens / count_params(config)


def compute_optimal_config(
    config,
    flops,
    target=TOKENS_PER_PARAMETER,
    aspect_tolerance=ASPECT_TOLERANCE,
    *,
    min_layers=1,
    head_dim=None,
):
    """`config` resized along its family's proportions so `flops` buys ~`target` tokens/param.

    `aspect_tolerance` bounds width per layer to within that factor of the family's; sweeps
    widen it so that the smallest sizes of a grid (a few thousand parameters) exist at all.
    `min_layers` is the fewest layers a shape may have. `head_dim`: None keeps the family's
    number of heads (their width follows the model's); a number fixes the head width instead
    and lets the number of heads follow the width, as Kaplan et al. and Chinchilla sized their
    small models (64-wide heads) — grouped key/value heads keep their group size, multi-query
    keeps one key/value head.
    """
    kv_heads = config.num_key_value_heads
    multi_query = kv_heads == 1 and config.num_query_heads > 1
    group = config.num_query_heads // kv_heads  # query heads per key/value head
    aspect = config.hidden_dim / config.num_layers
    ffn_ratio = config.intermediate_dim / config.hidden_dim
    if head_dim is None:
        step = 2 * config.num_query_heads  # even head_dim: rotary and sinusoid need pairs
    else:
        if head_dim < 2 or head_dim % 2:
            raise ZooError(f"head_dim must be even and at least 2; received {head_dim}")
        step = head_dim * (1 if multi_query else group)  # whole heads, whole groups
    best = None
    for layers in range(max(1, min_layers), MAX_LAYERS + 1):
        low = max(step, math.ceil(aspect / aspect_tolerance * layers / step) * step)
        high = math.floor(aspect * aspect_tolerance * layers / step) * step
        for width in range(low, high + 1, step):
            if head_dim is None:
                heads, width_per_head = config.num_query_heads, width // config.num_query_heads
            else:
                heads, width_per_head = width // head_dim, head_dim
            candidate = config.replace(
                num_layers=layers,
                hidden_dim=width,
                num_query_heads=heads,
                head_dim=width_per_head,
                num_key_value_heads=1 if multi_query else heads // group,
                intermediate_dim=max(1, round(ffn_ratio * width)),
                attention_pattern=config.attention_pattern[:layers],  # cyclic over the layers
            )
            miss = abs(math.log(tokens_per_parameter(candidate, flops) / target))
            shape = abs(math.log(width / layers / aspect))
            # Within tolerance, the family's aspect ratio decides; outside it, the miss does.
            score = (0, shape) if miss <= math.log(1 + TARGET_TOLERANCE) else (1, miss)
            if best is None or score < best[0]:
                best = (score, candidate)
    if best is None:
        raise ZooError(f"no shape of {config.name} fits a budget of {flops:.3g} FLOPs")
    return best[1]
