"""zoo: the decoder-only language models of 2019–2023 from one set of Keras layers.

    >>> import zoo
    >>> model = zoo.build("palm-small")            # a keras.Model: token ids -> logits
    >>> zoo.count_params(zoo.get_recipe("palm-540b").model)
    >>> zoo.flops_per_token("llama-7b", seq_len=2048).palm
"""

from zoo.accounting import (
    chinchilla_optimal_tokens,
    count_non_embedding_params,
    count_params,
    flops_per_token,
    param_breakdown,
)
from zoo.baselines import ngram_baseline
from zoo.compare import compare, compute_optimal_config, plot_comparison
from zoo.describe import architecture_card, preset_summary
from zoo.config import Attention, Block, FeedForward, Init, ModelConfig, Normalization, Position
from zoo.errors import ConfigError, UnknownNameError, ZooError
from zoo.generation import Generation, generate, generate_tokens, load_for_generation
from zoo.importing import import_checkpoint
from zoo.model import DecoderLM, build
from zoo.recipe import Recipe, TrainingRecipe
from zoo.run_config import RunConfig, RunConfigError
from zoo.scaling import fit_compute, fit_isoflop, fit_parametric, load_points
from zoo.scaling.sweep import sweep_compute, sweep_isoflop
from zoo.registry import get_recipe, list_families, list_recipes, resolve_config
from zoo.training import (
    benchmark_pipeline,
    Reporter,
    RunFailed,
    RunRecord,
    export_model,
    find_run,
    list_runs,
    resolve_budget,
    run_rows,
    train,
)

__version__ = "0.1.0"

__all__ = [
    "Attention",
    "Block",
    "ConfigError",
    "DecoderLM",
    "FeedForward",
    "Generation",
    "Init",
    "ModelConfig",
    "Normalization",
    "Position",
    "Recipe",
    "TrainingRecipe",
    "UnknownNameError",
    "Reporter",
    "RunConfig",
    "RunConfigError",
    "RunFailed",
    "RunRecord",
    "ZooError",
    "architecture_card",
    "benchmark_pipeline",
    "build",
    "chinchilla_optimal_tokens",
    "compare",
    "compute_optimal_config",
    "count_non_embedding_params",
    "count_params",
    "export_model",
    "fit_compute",
    "fit_isoflop",
    "fit_parametric",
    "find_run",
    "flops_per_token",
    "generate",
    "generate_tokens",
    "get_recipe",
    "import_checkpoint",
    "list_families",
    "list_recipes",
    "list_runs",
    "load_for_generation",
    "load_points",
    "ngram_baseline",
    "param_breakdown",
    "plot_comparison",
    "preset_summary",
    "resolve_budget",
    "resolve_config",
    "run_rows",
    "sweep_compute",
    "sweep_isoflop",
    "train",
]
