"""Ablations: a base model and one variant per listed change.

Syntax: `field=value` items separated by commas (`position=learned,normalization=layernorm`);
a comma followed by another `field=` starts a new variant, so list values such as
`attention_pattern=dense,local` stay whole. Changes that only make sense together are joined with
`+` into one variant (`normalization=rmsnorm+norm_bias=false` on a model with LayerNorm biases);
every other variant differs from the base in exactly one field.
"""

import re

from zoo.errors import ZooError
from zoo.overrides import parse_overrides

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
        raise ZooError(f"--ablate needs field=value items; received {text!r}")
    return variants


def variant_label(base_name, changes):
    return f"{base_name} " + "+".join(f"{k}={_show(v)}" for k, v in changes.items())


def _show(value):
    return ",".join(value) if isinstance(value, tuple) else str(value).lower()
