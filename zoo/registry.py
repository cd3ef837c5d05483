"""Finding presets: every `RECIPES` tuple in the modules of the `recipes` package.

A bare family name (`palm`) means that family's `-small` CPU replica.
"""

import functools
import importlib
import pkgutil

from zoo.config import ModelConfig
from zoo.errors import unknown
from zoo.recipe import Scale


@functools.cache
def _recipes():
    import recipes

    modules = [
        importlib.import_module(f"recipes.{info.name}")
        for info in pkgutil.iter_modules(recipes.__path__)
    ]
    modules = sorted(
        (m for m in modules if hasattr(m, "RECIPES")), key=lambda m: (m.PUBLISHED, m.__name__)
    )
    found = {}
    for module in modules:
        for recipe in module.RECIPES:
            if recipe.name in found:
                raise ValueError(f"preset {recipe.name!r} is defined twice")
            found[recipe.name] = recipe
    return found


@functools.cache
def _families():
    """family -> its -small preset name."""
    return {r.family: r.name for r in _recipes().values() if r.scale is Scale.SMALL}


def list_recipes(family=None, scale=None):
    """All presets (optionally one family or scale): families by publication date, each family's
    twins first, then its paper-scale models by size."""
    if family is not None:
        family = family.strip().lower()
        if family not in _families():
            raise unknown("family", family, list(_families()))
    if scale is not None:
        if scale not in [s.value for s in Scale] + list(Scale):
            raise unknown("scale", scale, [s.value for s in Scale])
        scale = Scale(scale)
    return [
        r for r in _recipes().values() if family in (None, r.family) and scale in (None, r.scale)
    ]


def list_families():
    return list(_families())


def get_recipe(name):
    """The `Recipe` named `name` (a bare family name means its `-small` twin)."""
    name = name.strip().lower()
    name = _families().get(name, name)
    try:
        return _recipes()[name]
    except KeyError:
        raise unknown("model", name, list(_recipes()) + list(_families())) from None


def resolve_config(name_or_config, **overrides):
    """A `ModelConfig` from a preset name or a config, with field overrides applied."""
    if isinstance(name_or_config, ModelConfig):
        config = name_or_config
    elif isinstance(name_or_config, dict):
        config = ModelConfig.from_dict(name_or_config)
    else:
        config = get_recipe(name_or_config).model
    return config.replace(**overrides) if overrides else config
