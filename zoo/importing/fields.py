"""Reading a source model's config.json: typed fields, and one-line refusals naming the field."""

import json

from zoo.errors import ConfigError, ZooError

_MISSING = object()


def read_json(path):
    try:
        return json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise ZooError(f"{path.parent}: no {path.name} here") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ZooError(f"{path}: not valid JSON ({getattr(error, 'msg', error)})") from None


class Fields:
    """The fields of one source config, with refusals that say which field and why.

    Args:
        values: the config's dict.
        where: how messages name it, e.g. "/ckpt/config.json".
    """

    def __init__(self, values, where):
        if not isinstance(values, dict):
            raise ZooError(f"{where}: expected a JSON object")
        self.values = values
        self.where = where

    def get(self, name, default=None):
        value = self.values.get(name)
        return default if value is None else value

    def positive_int(self, name, default=_MISSING):
        value = self.values.get(name)
        if value is None:
            if default is _MISSING:
                raise ZooError(f"{self.where}: field {name!r} is missing")
            return default
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ZooError(f"{self.where}: {name} must be a positive integer; received {value!r}")
        return value

    def positive_float(self, name, default):
        value = self.get(name, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            raise ZooError(f"{self.where}: {name} must be a positive number; received {value!r}")
        return float(value)

    def only(self, name, allowed, default, why):
        """Refuse unless the field (or `default` when absent/null) is one of `allowed`."""
        value = self.get(name, default)
        if value not in allowed:
            raise self.unsupported(name, value, why)
        return value

    def unsupported(self, name, value, why):
        return ZooError(f"{self.where}: {name}={json.dumps(value)} is not supported ({why})")


# The zoo's paper presets state each family's architectural choices (positions, norms,
# feed-forward, biases, initialisation): an import takes those, and the shapes from the source.
FAMILY_PRESETS = {"gpt2": "gpt2-124m", "llama": "llama-7b"}


def model_config(where, model_type, **fields):
    """The `model_type` family's preset config with the source's `fields` (shapes, tying,
    epsilons) and no dropout or z-loss; an invalid combination is reported against `where`."""
    from zoo.registry import get_recipe  # deferred: the registry imports every recipe

    base = get_recipe(FAMILY_PRESETS[model_type]).model
    try:
        return base.replace(dropout=0.0, z_loss_weight=0.0, **fields)
    except ConfigError as error:
        raise ZooError(f"{where}: {error}") from None
