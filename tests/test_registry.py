import re

import pytest

import zoo
from zoo.recipe import Scale

FAMILY_FILES = [
    "gpt2",
    "gpt3",
    "jurassic1",
    "mt-nlg",
    "gopher",
    "chinchilla",
    "palm",
    "llama",
    "mistral",
]


def test_every_family_has_nano_small_and_paper_presets():
    assert zoo.list_families() == FAMILY_FILES  # historical order
    for family in FAMILY_FILES:
        scales = {r.scale for r in zoo.list_recipes(family=family)}
        assert scales == {Scale.NANO, Scale.SMALL, Scale.PAPER}, family
        assert zoo.get_recipe(f"{family}-nano").family == family


def test_bare_family_name_means_small_twin():
    assert zoo.get_recipe("palm").name == "palm-small"
    assert zoo.get_recipe("MT-NLG").name == "mt-nlg-small"


def test_unknown_name_suggests_nearest():
    with pytest.raises(zoo.UnknownNameError) as error:
        zoo.get_recipe("plam-small")
    assert "palm-small" in str(error.value)


def test_paper_presets_cite_and_report():
    for recipe in zoo.list_recipes(scale="paper"):
        assert recipe.reported_params, recipe.name
        assert re.search(r"et al\. 20\d\d", recipe.citation), recipe.name
        assert recipe.choices, f"{recipe.name} states no choices of ours"


def test_recipes_hold_the_papers_training_recipes():
    from zoo.recipe import Optimizer, Schedule, Tokenizer

    assert zoo.get_recipe("palm-540b").training.optimizer is Optimizer.ADAFACTOR
    assert zoo.get_recipe("palm-540b").training.schedule is Schedule.INVERSE_SQRT
    assert zoo.get_recipe("palm-540b").model.z_loss_weight == 1e-4
    assert zoo.get_recipe("chinchilla-70b").training.optimizer is Optimizer.ADAMW
    assert zoo.get_recipe("gopher-280b").training.optimizer is Optimizer.ADAM
    assert zoo.get_recipe("gopher-280b").training.clip_norm == 0.25
    gpt3 = zoo.get_recipe("gpt3-175b").training
    assert (gpt3.beta_1, gpt3.beta_2, gpt3.epsilon, gpt3.weight_decay) == (0.9, 0.95, 1e-8, 0.1)
    assert zoo.get_recipe("gpt2-124m").training.tokenizer is Tokenizer.BYTE_BPE
    assert zoo.get_recipe("llama-7b").training.tokenizer is Tokenizer.SENTENCEPIECE
    assert zoo.get_recipe("llama-7b").training.warmup_steps == 2000
