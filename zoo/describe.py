"""Plain-data descriptions of a preset (JSON-ready), shared by `zoo list`, `zoo info` and Python.

>>> zoo.architecture_card("palm-540b")["params"]
540356474880
"""

from zoo.accounting import (
    chinchilla_optimal_tokens,
    count_non_embedding_params,
    count_params,
    flops_per_token,
    param_breakdown,
)
from zoo.recipe import Recipe
from zoo.registry import get_recipe


def preset_summary(recipe):
    """One `zoo list` row: size and every architectural choice, exact values."""
    c = recipe.model
    return {
        "name": recipe.name,
        "family": recipe.family,
        "scale": recipe.scale.value,
        "params": count_params(c),
        "non_embedding_params": count_non_embedding_params(c),
        "reported_params": recipe.reported_params,
        "num_layers": c.num_layers,
        "hidden_dim": c.hidden_dim,
        "num_query_heads": c.num_query_heads,
        "num_key_value_heads": c.num_key_value_heads,
        "head_dim": c.head_dim,
        "max_sequence_length": c.max_sequence_length,
        "position": c.position.value,
        "normalization": c.normalization.value,
        "feedforward": c.feedforward.value,
        "attention_pattern": [a.value for a in c.attention_pattern],
        "local_window": c.local_window,
        "residual": c.residual.value,
        "use_bias": c.use_bias,
        "tie_embeddings": c.tie_embeddings,
    }


def architecture_card(name_or_recipe):
    """The `zoo info` card: config, parameters by component, FLOPs, training recipe, sources."""
    recipe = name_or_recipe if isinstance(name_or_recipe, Recipe) else get_recipe(name_or_recipe)
    c = recipe.model
    params = count_params(c)
    flops = flops_per_token(c)  # at the model's own context
    reported = recipe.reported_params
    return {
        "name": recipe.name,
        "family": recipe.family,
        "scale": recipe.scale.value,
        "params": params,
        "non_embedding_params": count_non_embedding_params(c),
        "params_by_component": param_breakdown(c),
        "reported_params": reported,
        # (ours - reported) / reported; None where the paper reports no count (scaled twins).
        "reported_params_difference": (params - reported) / reported if reported else None,
        "flops_per_token": {
            "seq_len": flops.seq_len,
            "palm": flops.palm,
            "forward": flops.forward,
            "training": flops.training,
            "components": flops.components,
        },
        "chinchilla_optimal_tokens": chinchilla_optimal_tokens(c),
        "config": c.to_dict(),
        "training": recipe.training.to_dict(),
        "citation": recipe.citation,
        "choices": list(recipe.choices),
    }
