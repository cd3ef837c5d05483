"""`key=value` overrides (the CLI's `--set`), split between model and training fields.

Values are read as JSON where they parse (`3`, `1e-3`, `true`, `null`), otherwise as strings;
`attention_pattern=dense,local` becomes a tuple. JSON's non-finite numbers (`1e999` reads as
infinity; `NaN`, `Infinity`) are refused, and each training value is checked against its field
(`TrainingRecipe.check_field`) as it is parsed, so a bad `--set` fails before anything runs.
"""

import dataclasses
import enum
import json
import math

from zoo.config import ModelConfig
from zoo.errors import FieldError, ZooError, unknown
from zoo.recipe import TrainingRecipe

MODEL_FIELDS = [f.name for f in dataclasses.fields(ModelConfig) if f.name != "name"]
TRAINING_FIELDS = [f.name for f in dataclasses.fields(TrainingRecipe)]


def parse_value(key, text):
    if key == "attention_pattern":
        return tuple(part.strip() for part in text.split(",") if part.strip())

    def finite(number):
        value = float(number)
        if not math.isfinite(value):
            raise ZooError(f"{key} must be a finite number; received {text!r}")
        return value

    def constant(name):  # NaN, Infinity, -Infinity: Python's json accepts them, JSON does not
        raise ZooError(f"{key} must be a finite number; received {text!r}")

    try:
        return json.loads(text, parse_float=finite, parse_constant=constant)
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
                raise FieldError("overrides", f"takes key=value; received {pair!r}")
            key = key.strip()
            _check_known(key)  # before the value, so a misspelt key is named as such
            items.append((key, parse_value(key, text.strip())))
    model, training = {}, {}
    for key, value in items:
        _check_known(key)
        if key in MODEL_FIELDS:
            model[key] = value
        else:
            checked = TrainingRecipe.check_field(key, value)  # a ConfigError naming field, value
            # JSON's 1e9 is the integer it means (a recipe holds ints); enum names stay as written.
            training[key] = value if isinstance(checked, enum.Enum) else checked
    return model, training


def _check_known(key):
    if key not in MODEL_FIELDS and key not in TRAINING_FIELDS:
        raise unknown("field", key, MODEL_FIELDS + TRAINING_FIELDS)


def apply_training_overrides(training, overrides):
    if not overrides:
        return training
    try:
        return dataclasses.replace(training, **overrides)  # __post_init__ checks every field
    except ZooError:
        raise  # already names the field and the value
    except (TypeError, ValueError) as error:
        raise ZooError(f"bad training override: {error}") from None
