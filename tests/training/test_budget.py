import math

import pytest

import zoo
from zoo.training.budget import resolve_budget


def recipe(name="palm-small"):
    r = zoo.get_recipe(name)
    return r.model, r.training


def test_default_budget_is_the_recipes():
    config, training = recipe()
    budget = resolve_budget(config, training)
    assert budget.tokens == training.training_tokens  # 300 whole steps of 16 × 256
    assert budget.batch_size == 16 and budget.seq_len == 256
    assert budget.flops == budget.tokens * zoo.flops_per_token(config, 256).palm


def test_tokens_round_up_to_whole_steps():
    config, training = recipe()
    budget = resolve_budget(config, training, tokens=10_000)
    assert budget.steps == math.ceil(10_000 / 4096) and budget.tokens == 3 * 4096


def test_flops_and_chinchilla_budgets():
    config, training = recipe()
    per_token = zoo.flops_per_token(config, 256).palm
    assert resolve_budget(config, training, flops=per_token * 8192).steps == 2
    chinchilla = resolve_budget(config, training, chinchilla=1.0)
    assert chinchilla.tokens == pytest.approx(20 * zoo.count_params(config), abs=4096)


def test_one_budget_at_most_and_positive():
    config, training = recipe()
    with pytest.raises(zoo.ZooError, match="at most one"):
        resolve_budget(config, training, tokens=5, steps=3)
    with pytest.raises(zoo.ZooError, match="positive"):
        resolve_budget(config, training, steps=0)


def test_estimated_time_uses_the_peak():
    config, training = recipe()
    budget = resolve_budget(config, training, steps=10)
    assert budget.estimated_seconds(None) is None
    assert budget.estimated_seconds(1e11) == pytest.approx(budget.flops / 5e10)
