"""Ablations: a base model and one variant per listed change.

Syntax: `field=value` items separated by commas (`position=learned,normalization=layernorm`);
a comma followed by another `field=` starts a new variant, so list values such as
`attention_pattern=dense,local` stay whole. Changes that only make sense together are joined with
`+` into one variant (`normalization=rmsnorm+norm_bias=false` on a model with LayerNorm biases);
every other variant differs from the base in exactly one field.
"""

import re

from zoo.errors import FieldError
from zoo.overrides import parse_overrides
from zoo.registry import get_recipe

_VARIANT_SPLIT = re.compile(r",(?=\s*[A-Za-z_]\w*\s*=)")


def parse_ablations(text):
    """'a=1,b=x+c=2' -> [{'a': 1}, {'b': 'x', 'c': 2}] (typed values, fields checked)."""
    variants = []
    for item in _VARIANT_SPLIT.split(text or ""):
        item = item.strip()
        if not item:
            continue
        model, training = parse_overrides([part.strip() for part in item.split("+")])
        variants.append({**model, **training})
    if text and not variants:
        raise FieldError("ablate", f"needs field=value items; received {text!r}")
    return variants


def variant_label(base_name, changes):
    return f"{base_name} " + "+".join(f"{k}={_show(v)}" for k, v in changes.items())


def _show(value):
    return ",".join(value) if isinstance(value, tuple) else str(value).lower()


def parse_arms(models, ablate=None, overrides=()):
    """[(label, preset, changes)]: each of `models` (a comma-separated string or a sequence),
    then, for a single base model, one variant per `ablate` change; `overrides` apply to all.
    Used by `zoo compare` (its rows) and `zoo sweep` (its arms)."""
    names = [m.strip() for m in (models.split(",") if isinstance(models, str) else models or ())
             if m.strip()]  # fmt: skip
    if not names:
        raise FieldError("models", "needs at least one model name")
    model_fields, training_fields = parse_overrides(overrides)
    common = {**model_fields, **training_fields}
    variants = parse_ablations(ablate) if ablate else []
    if variants and len(names) != 1:
        raise FieldError(
            "ablate", f"takes one base model; received {len(names)}: {', '.join(names)}"
        )
    arms = []
    for name in names:
        recipe = get_recipe(name)  # raises with the nearest names for a typo
        arms.append((recipe.name, recipe.name, dict(common)))
        for changes in variants:
            arms.append((variant_label(recipe.name, changes), recipe.name, {**common, **changes}))
    return arms
