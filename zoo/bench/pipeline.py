"""Benchmarks behind `zoo bench` (measurements, never assertions)."""

from zoo.data.pipeline import measure_pipeline, prepare_data
from zoo.data_spec import DEFAULT_DATA
from zoo.registry import get_recipe
from zoo.training.budget import resolve_budget


def benchmark_pipeline(name, data=DEFAULT_DATA, steps=500):
    """Tokens/s of the training input pipeline alone, at `name`'s context and batch."""
    recipe = get_recipe(name)
    config = recipe.model
    tokens, _ = prepare_data(
        data, recipe.training.tokenizer, config.vocabulary_size, config.max_sequence_length
    )
    budget = resolve_budget(config, recipe.training, steps=1)
    speed = measure_pipeline(tokens.train, budget.seq_len, budget.batch_size, steps=steps)
    return {
        "preset": recipe.name,
        "data": data,
        "batch_size": budget.batch_size,
        "seq_len": budget.seq_len,
        "steps": steps,
        "train_tokens": int(len(tokens.train)),
        "tokens_per_second": speed,
    }
