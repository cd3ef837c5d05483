"""`key=value` overrides (the CLI's `--set`), split between model and training fields.

Values are read as JSON where they parse (`3`, `1e-3`, `true`, `null`), otherwise as strings;
`attention_pattern=dense,local` becomes a tuple.
"""

import dataclasses
import json

from zoo.config import ModelConfig
from zoo.errors import ZooError, unknown
from zoo.recipe import TrainingRecipe

MODEL_FIELDS = [f.name for f in dataclasses.fields(ModelConfig) if f.name != "name"]
TRAINING_FIELDS = [f.name for f in dataclasses.fields(TrainingRecipe)]


def parse_value(key, text):
    if key == "attention_pattern":
        return tuple(part.strip() for part in text.split(",") if part.strip())
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def parse_overrides(pairs):
    """['hidden_dim=64', 'learning_rate=1e-3'] -> ({'hidden_dim': 64}, {'learning_rate': 0.001}).

    A dict of already-typed values is split the same way.
    """
    if isinstance(pairs, dict):
        items = list(pairs.items())
    else:
        items = []
        for pair in pairs or ():
            key, sep, text = pair.partition("=")
            if not sep or not key.strip():
                raise ZooError(f"--set takes key=value; received {pair!r}")
            items.append((key.strip(), parse_value(key.strip(), text.strip())))
    model, training = {}, {}
    for key, value in items:
        if key in MODEL_FIELDS:
            model[key] = value
        elif key in TRAINING_FIELDS:
            training[key] = value
        else:
            raise unknown("field", key, MODEL_FIELDS + TRAINING_FIELDS)
    return model, training


def apply_training_overrides(training, overrides):
    if not overrides:
        return training
    try:
        return dataclasses.replace(training, **overrides)
    except (TypeError, ValueError) as error:
        raise ZooError(f"bad training override: {error}") from None
