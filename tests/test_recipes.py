"""The presets as data: their types hold, the twins share one set of scaled settings, and
Mistral 7B matches the paper and the released checkpoint."""

import dataclasses

import pytest

import zoo
from recipes import _scaled
from zoo.config import Attention
from zoo.recipe import Scale, TrainingRecipe

INTEGER_FIELDS = ("warmup_steps", "batch_tokens", "training_tokens")


def test_every_preset_holds_the_types_it_declares():
    for recipe in zoo.list_recipes():
        training = recipe.training
        for field in INTEGER_FIELDS:
            value = getattr(training, field)
            assert type(value) is int or (field == "training_tokens" and value is None), (
                recipe.name,
                field,
                value,
            )
        assert recipe.reported_params is None or type(recipe.reported_params) is int
        assert isinstance(recipe.choices, tuple) and all(isinstance(c, str) for c in recipe.choices)


@pytest.mark.parametrize("value, shown", [
    (1.4e12, "1400000000000.0"),  # a float, though integral: Python states ints
    (1.5, "1.5"), (True, "True"), ("1e12", "'1e12'"), (0, "0"), (-1, "-1"),
])  # fmt: skip
def test_training_tokens_refuse_what_is_not_a_positive_int(value, shown):
    base = zoo.get_recipe("llama-7b").training
    expected = f"training_tokens must be a positive integer or null; received {shown}"
    with pytest.raises(zoo.ConfigError) as error:
        base.replace(training_tokens=value)
    assert str(error.value) == expected


def test_text_input_reads_integral_floats_as_integers():
    """JSON and `--set` write 1e12 as a float; from there it is the integer it means."""
    from zoo.overrides import parse_overrides

    data = {**zoo.get_recipe("llama-7b").training.to_dict(), "training_tokens": 1.4e12}
    loaded = TrainingRecipe.from_dict(data)
    assert loaded.training_tokens == 1_400_000_000_000 and type(loaded.training_tokens) is int
    assert parse_overrides(["training_tokens=1e9"]) == ({}, {"training_tokens": 10**9})
    with pytest.raises(zoo.ConfigError, match="received 1.5$"):
        TrainingRecipe.from_dict({**data, "training_tokens": 1.5})


def test_training_from_dict_refuses_unknown_and_missing_keys():
    data = zoo.get_recipe("gpt2-124m").training.to_dict()
    with pytest.raises(zoo.UnknownNameError) as error:
        TrainingRecipe.from_dict({**data, "learnig_rate": 1e-3})
    assert str(error.value).startswith(
        "unknown training field 'learnig_rate'; did you mean: learning_rate"
    )
    del data["batch_tokens"]
    with pytest.raises(zoo.ConfigError, match="^training recipe is missing batch_tokens$"):
        TrainingRecipe.from_dict(data)


def test_training_replace_refuses_unknown_names():
    with pytest.raises(zoo.UnknownNameError, match="did you mean: clip_norm"):
        zoo.get_recipe("palm-8b").training.replace(clip=1.0)


def _recipe(**changes):
    return dataclasses.replace(zoo.get_recipe("mistral-7b"), **changes)


@pytest.mark.parametrize("changes, message", [
    ({"reported_params": 7.2e9}, "reported_params must be a positive integer or None; "
                                 "received 7200000000.0"),
    ({"reported_params": None}, "a paper-scale preset states the paper's parameter count"),
    ({"scale": "huge"}, "scale must be one of paper, small, nano; received scale='huge'"),
    ({"choices": ["ours"]}, "choices must be a tuple of non-empty strings"),
    ({"citation": ""}, "citation must be a non-empty string; received ''"),
    ({"training": {"optimizer": "adamw"}}, "training must be a TrainingRecipe"),
])  # fmt: skip
def test_recipe_refuses_wrong_types(changes, message):
    with pytest.raises(zoo.ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        _recipe(**changes)


def test_recipe_takes_a_scale_by_its_name():
    assert _recipe(scale="paper").scale is Scale.PAPER


@pytest.mark.parametrize("family", zoo.list_families())
def test_twins_share_the_scaled_settings(family):
    for scale, vocabulary, context, batch, warmup, tokens in [
        (Scale.NANO, _scaled.NANO_VOCABULARY, _scaled.NANO_CONTEXT, _scaled.NANO_BATCH_TOKENS,
         _scaled.NANO_WARMUP_STEPS, _scaled.NANO_TRAINING_TOKENS),
        (Scale.SMALL, _scaled.SMALL_VOCABULARY, _scaled.SMALL_CONTEXT, _scaled.SMALL_BATCH_TOKENS,
         _scaled.SMALL_WARMUP_STEPS, _scaled.SMALL_TRAINING_TOKENS),
    ]:  # fmt: skip
        recipe = zoo.get_recipe(f"{family}-{scale.value}")
        assert (recipe.scale, recipe.family) == (scale, family)
        assert (recipe.model.vocabulary_size, recipe.model.max_sequence_length) == (
            vocabulary,
            context,
        )
        training = recipe.training
        assert (training.batch_tokens, training.warmup_steps, training.training_tokens) == (
            batch,
            warmup,
            tokens,
        )
        assert recipe.choices[0] == _scaled.SCALED_CHOICE
        # The twins keep the family's optimizer recipe: only the per-size fields differ.
        paper = zoo.list_recipes(family=family, scale="paper")[0].training
        assert (
            training.optimizer,
            training.beta_1,
            training.beta_2,
            training.epsilon,
            training.schedule,
            training.tokenizer,
            training.allocation,
        ) == (
            paper.optimizer,
            paper.beta_1,
            paper.beta_2,
            paper.epsilon,
            paper.schedule,
            paper.tokenizer,
            paper.allocation,
        )


def test_mistral_7b_is_table_1():
    config = zoo.get_recipe("mistral-7b").model
    assert (
        config.hidden_dim,
        config.num_layers,
        config.head_dim,
        config.intermediate_dim,
        config.num_query_heads,
        config.num_key_value_heads,
        config.local_window,
        config.max_sequence_length,
        config.vocabulary_size,
    ) == (4096, 32, 128, 14336, 32, 8, 4096, 8192, 32000)
    assert config.layer_attentions == ("local",) * 32  # a sliding window on every layer
    assert (config.position.value, config.normalization.value, config.feedforward.value) == (
        "rotary",
        "rmsnorm",
        "swiglu",
    )
    assert config.rotary_max_wavelength == 10000.0
    assert not config.tie_embeddings and not config.use_bias and not config.scale_logits


def test_mistral_7b_count():
    """The released checkpoint's 7,241,732,096 (keras-hub `mistral_7b_en`), and the closed form:
    untied embeddings 2·V·d; per layer q and o (d·H·Q each), k and v (d·K·Q each), SwiGLU 3·d·f
    and two RMSNorm scales; a final RMSNorm."""
    v, d, layers, heads, kv, q, f = 32000, 4096, 32, 32, 8, 128, 14336
    closed = 2 * v * d + layers * (2 * d * heads * q + 2 * d * kv * q + 3 * d * f + 2 * d) + d
    assert zoo.count_params("mistral-7b") == closed == 7_241_732_096
    assert zoo.get_recipe("mistral-7b").reported_params == 7_241_732_096


def test_mistral_twins_keep_grouped_banded_attention():
    for name in ("mistral-nano", "mistral-small"):
        config = zoo.get_recipe(name).model
        assert 1 < config.num_key_value_heads < config.num_query_heads, name
        assert config.attention_pattern == (Attention.LOCAL,), name
        assert config.local_window == config.max_sequence_length // 2, name
        assert config.intermediate_dim == 3.5 * config.hidden_dim, name
