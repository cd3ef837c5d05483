"""zoo: the decoder-only language models of 2019–2023 from one set of Keras layers.

    >>> import zoo
    >>> model = zoo.build("palm-small")            # a keras.Model: token ids -> logits
    >>> zoo.count_params(zoo.get_recipe("palm-540b").model)
    >>> zoo.flops_per_token("llama-7b", seq_len=2048).palm

The API is loaded lazily (PEP 562): `import zoo` imports nothing, and each name imports its own
module on first use, so configs, recipes, the registry, accounting and descriptions never load
Keras or TensorFlow; `zoo.build` and `zoo.train` do. The zoo's layers register with Keras as
soon as Keras is imported, so `keras.models.load_model("model.keras")` after `import zoo` works
in a fresh process, as it always has.
"""

import importlib
import importlib.abc
import importlib.metadata
import importlib.util
import sys

__version__ = importlib.metadata.version("zoo")

# public name -> the module that defines it
_API = {
    "chinchilla_optimal_tokens": "zoo.accounting",
    "count_non_embedding_params": "zoo.accounting",
    "count_params": "zoo.accounting",
    "flops_per_token": "zoo.accounting",
    "param_breakdown": "zoo.accounting",
    "ngram_baseline": "zoo.baselines",
    "benchmark_pipeline": "zoo.bench.pipeline",
    "compare": "zoo.experiments.comparison",
    "compute_optimal_config": "zoo.comparison",
    "plot_comparison": "zoo.comparison",
    "Attention": "zoo.config",
    "FeedForward": "zoo.config",
    "Init": "zoo.config",
    "ModelConfig": "zoo.config",
    "Normalization": "zoo.config",
    "NormPlacement": "zoo.config",
    "Position": "zoo.config",
    "Residual": "zoo.config",
    "architecture_card": "zoo.describe",
    "preset_summary": "zoo.describe",
    "ConfigError": "zoo.errors",
    "FieldError": "zoo.errors",
    "UnknownNameError": "zoo.errors",
    "ZooError": "zoo.errors",
    "Generation": "zoo.generation",
    "generate": "zoo.generation",
    "generate_tokens": "zoo.generation",
    "load_for_generation": "zoo.generation",
    "import_checkpoint": "zoo.importing",
    "DecoderLM": "zoo.model",
    "build": "zoo.model",
    "Recipe": "zoo.recipe",
    "TrainingRecipe": "zoo.recipe",
    "get_recipe": "zoo.registry",
    "list_families": "zoo.registry",
    "list_recipes": "zoo.registry",
    "resolve_config": "zoo.registry",
    "RunConfig": "zoo.run_config",
    "RunConfigError": "zoo.run_config",
    "fit_compute": "zoo.scaling",
    "fit_isoflop": "zoo.scaling",
    "fit_parametric": "zoo.scaling",
    "load_points": "zoo.scaling",
    "sweep_compute": "zoo.experiments.sweep",
    "sweep_isoflop": "zoo.experiments.sweep",
    "sweep_rates": "zoo.experiments.sweep",
    "tune": "zoo.experiments.search",
    "compare_samplers": "zoo.experiments.search",
    "export_model": "zoo.storage.models",
    "RunRecord": "zoo.storage.runs",
    "find_run": "zoo.storage.runs",
    "list_runs": "zoo.storage.runs",
    "run_rows": "zoo.storage.runs",
    "resolve_budget": "zoo.training.budget",
    "Reporter": "zoo.training.loop",
    "RunFailed": "zoo.training.loop",
    "train": "zoo.training.trainer",
}

__all__ = sorted(_API)


class _RegisterWithKeras(importlib.abc.MetaPathFinder):
    """Imports `zoo.model` (which registers DecoderLM and its layers) right after Keras itself.

    Keras finds a saved file's classes by their registered names, so the zoo's must be registered
    before `keras.models.load_model`; registering needs Keras, which `import zoo` must not load.
    Python has no post-import hook, so this finder wraps the loader of the one module it watches.
    """

    def find_spec(self, name, path, target=None):
        if name != "keras":
            return None
        sys.meta_path.remove(self)  # once: the spec below comes from the ordinary finders
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None:
            return spec
        execute = spec.loader.exec_module

        def execute_then_register(module):
            execute(module)
            importlib.import_module("zoo.model")

        spec.loader.exec_module = execute_then_register
        return spec


if "keras" in sys.modules:
    importlib.import_module("zoo.model")
else:
    sys.meta_path.insert(0, _RegisterWithKeras())


def __getattr__(name):
    module = _API.get(name)
    if module is None:
        raise AttributeError(f"module 'zoo' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # the next lookup is an ordinary attribute
    return value


def __dir__():
    return sorted(set(globals()) | set(_API))
