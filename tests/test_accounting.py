"""Accounting against the model itself and against the papers."""

import math

import pytest

import zoo
from zoo.accounting import attended_keys, count_non_embedding_params
from zoo.recipe import Scale

SCALED = [r.name for r in zoo.list_recipes() if r.scale is not Scale.PAPER]
PAPER = [r.name for r in zoo.list_recipes(scale="paper")]


@pytest.mark.parametrize("name", SCALED)
def test_count_equals_built_model(name):
    config = zoo.get_recipe(name).model
    assert zoo.count_params(config) == zoo.build(config).count_params()


@pytest.mark.parametrize(
    "name, exact",
    [
        ("gpt2-124m", 124_439_808),  # llm.c / HF GPT2LMHeadModel
        ("gpt2-355m", 354_823_168),
        ("llama-7b", 6_738_415_616),  # keras-hub llama preset "params"
        ("llama-13b", 13_015_864_320),
    ],
)
def test_exact_counts_of_released_checkpoints(name, exact):
    assert zoo.count_params(name) == exact


@pytest.mark.parametrize("name", ["palm-8b", "palm-62b", "palm-540b"])
def test_palm_within_a_tenth_of_a_percent(name):
    recipe = zoo.get_recipe(name)
    assert zoo.count_params(recipe.model) == pytest.approx(recipe.reported_params, rel=1e-3)


@pytest.mark.parametrize("name", PAPER)
def test_every_paper_preset_within_two_percent(name):
    recipe = zoo.get_recipe(name)
    assert zoo.count_params(recipe.model) == pytest.approx(recipe.reported_params, rel=0.02)


def test_gpt2_closed_form():
    """papers.md §5: V·d + T·d + L·(12d² + 13d) + 2d."""
    v, t, layers, d = 50257, 1024, 12, 768
    assert zoo.count_params("gpt2-124m") == v * d + t * d + layers * (12 * d * d + 13 * d) + 2 * d


def test_llama_closed_form():
    """papers.md §5: 2·V·d + L·(4d² + 3·d·f + 2d) + d."""
    v, layers, d, f = 32000, 32, 4096, 11008
    assert zoo.count_params("llama-7b") == 2 * v * d + layers * (4 * d * d + 3 * d * f + 2 * d) + d


@pytest.mark.parametrize(
    "name, table_22", [("palm-8b", 0.0550e12), ("palm-62b", 0.388e12), ("palm-540b", 3.28e12)]
)
def test_palm_flops_match_palm_table_22(name, table_22):
    assert zoo.flops_per_token(name, 2048).palm == pytest.approx(table_22, rel=2e-3)


def test_palm_formula():
    c = zoo.get_recipe("gpt2-124m").model
    f = zoo.flops_per_token(c, 1024)
    assert f.palm == 6 * zoo.count_params(c) + 12 * 12 * 12 * 64 * 1024


def test_exact_forward_count_gpt2_by_hand():
    """Chinchilla App. F terms for a dense model, written out independently."""
    c = zoo.get_recipe("gpt2-124m").model
    s, v, d, layers, f = 1024, c.vocabulary_size, 768, 12, 3072
    attention = 2 * 3 * s * d * d + 2 * s * s * d + 3 * 12 * s * s + 2 * s * s * d + 2 * s * d * d
    dense = 2 * s * (d * f + d * f)
    forward = layers * (attention + dense) + 2 * s * d * v  # no embedding term: a lookup
    result = zoo.flops_per_token(c, s)
    assert result.forward * s == pytest.approx(forward, rel=1e-12)
    assert result.training == 3 * result.forward


def test_exact_and_palm_agree_for_dense_model():
    """Chinchilla Table A4 finds App. F / 6N within ~10%; PaLM's adds attention, so closer."""
    f = zoo.flops_per_token("gpt3-175b", 2048)
    dense = zoo.flops_per_token(zoo.get_recipe("gpt3-175b").model.replace(
        attention_pattern=("dense",)), 2048)
    assert dense.training == pytest.approx(dense.palm, rel=0.02)
    assert f.training < dense.training  # banded layers compute fewer scores


def test_banded_layers_counted_as_computed():
    config = zoo.get_recipe("gpt3-small").model  # window 32
    w = config.local_window
    for t in (16, 32, 100, 256, 8192):
        keys = attended_keys(config, zoo.Attention.LOCAL, t)
        expected = t if t <= w else math.ceil(t / w) * w * 2 * w / t
        assert keys == expected
    long = zoo.flops_per_token(config.replace(max_sequence_length=8192), 8192).components
    dense = zoo.flops_per_token(
        config.replace(max_sequence_length=8192, attention_pattern=("dense",)), 8192
    ).components
    # Half the layers banded: scores fall from 4·T to 2·T + 2·2w per query.
    assert long["attention_scores"] / dense["attention_scores"] == pytest.approx(
        (2 * 8192 + 2 * 2 * w) / (4 * 8192)
    )


def test_chinchilla_optimal_tokens():
    assert zoo.chinchilla_optimal_tokens("chinchilla-70b") == 20 * zoo.count_params("chinchilla-70b")
    # Chinchilla's own allocation: 1.4T tokens for 70B parameters.
    assert zoo.chinchilla_optimal_tokens("chinchilla-70b") == pytest.approx(1.4e12, rel=0.01)


def test_small_twins_are_comparable():
    """Same vocabulary and context, non-embedding parameters within ±15% of one another."""
    smalls = zoo.list_recipes(scale="small")
    assert len({r.model.vocabulary_size for r in smalls}) == 1
    assert len({r.model.max_sequence_length for r in smalls}) == 1
    sizes = [count_non_embedding_params(r.model) for r in smalls]
    middle = (max(sizes) + min(sizes)) / 2
    assert all(abs(s - middle) / middle <= 0.15 for s in sizes)
    assert max(sizes) / min(sizes) <= 1.15
    assert all(0.8e6 <= s <= 1.6e6 for s in sizes)  # "around one million"


def test_breakdown_sums_to_total():
    for recipe in zoo.list_recipes():
        assert sum(zoo.param_breakdown(recipe.model).values()) == zoo.count_params(recipe.model)
