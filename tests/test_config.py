import dataclasses

import pytest

import zoo
from zoo.config import ModelConfig

STRUCTURAL = {
    "name",
    "vocabulary_size",
    "num_layers",
    "hidden_dim",
    "intermediate_dim",
    "num_query_heads",
    "num_key_value_heads",
    "head_dim",
    "max_sequence_length",
    "position",
    "normalization",
    "norm_bias",
    "feedforward",
    "attention_pattern",
    "block",
    "use_bias",
    "tie_embeddings",
    "init",
}


def base(**overrides):
    return zoo.get_recipe("gpt2-nano").model.replace(**overrides)


def test_structural_fields_have_no_defaults():
    required = {
        f.name
        for f in dataclasses.fields(ModelConfig)
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    }
    assert required == STRUCTURAL


def test_missing_structural_field_is_an_error():
    data = base().to_dict()
    del data["block"]
    with pytest.raises(zoo.ConfigError, match="block"):
        ModelConfig.from_dict(data)


def test_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        base().hidden_dim = 3


def test_strings_become_enums():
    config = base(normalization="rmsnorm", norm_bias=False, attention_pattern=("dense", "local"),
                  local_window=8)
    assert config.normalization is zoo.Normalization.RMSNORM
    assert config.attention_pattern == (zoo.Attention.DENSE, zoo.Attention.LOCAL)
    assert config.layer_attentions == (zoo.Attention.DENSE, zoo.Attention.LOCAL)


@pytest.mark.parametrize(
    "overrides, quoted",
    [
        ({"num_key_value_heads": 3}, "num_key_value_heads=3"),
        ({"normalization": "rmsnorm", "norm_bias": True}, "norm_bias=True"),
        ({"attention_pattern": ("local",), "local_window": None}, "local_window=None"),
        ({"attention_pattern": ("dense", "sparse")}, "'sparse'"),
        ({"position": "alibi"}, "position='alibi'"),
        ({"hidden_dim": 0}, "hidden_dim=0"),
        ({"num_layers": 2.5}, "num_layers=2.5"),
        ({"dropout": 1.0}, "dropout=1.0"),
        ({"position": "rotary", "head_dim": 7}, "head_dim=7"),
        ({"attention_pattern": ("dense",) * 3}, "num_layers=2"),
        ({"z_loss_weight": -1.0}, "z_loss_weight=-1.0"),
        ({"tie_embeddings": "yes"}, "tie_embeddings='yes'"),
    ],
)
def test_invalid_values_quote_what_was_received(overrides, quoted):
    with pytest.raises(zoo.ConfigError) as error:
        base(**overrides)
    assert quoted in str(error.value)
    assert "\n" not in str(error.value)


def test_unknown_override_suggests_field():
    with pytest.raises(zoo.UnknownNameError, match="num_layers"):
        base(num_layer=3)


def test_dict_round_trip_with_every_field_non_default():
    """Every field differs from gpt2-nano's value, so a dropped field would show."""
    reference = base()
    changed = ModelConfig(
        name="every-field",
        vocabulary_size=77,
        num_layers=3,
        hidden_dim=24,
        intermediate_dim=40,
        num_query_heads=6,
        num_key_value_heads=2,
        head_dim=6,
        max_sequence_length=48,
        position="rotary",
        normalization="rmsnorm",
        norm_bias=False,
        feedforward="swiglu",
        attention_pattern=("local", "dense"),
        block="parallel",
        use_bias=False,
        tie_embeddings=False,
        init="fan_in",
        local_window=5,
        norm_epsilon=1e-3,
        rotary_max_wavelength=500.0,
        init_std=0.05,
        dropout=0.125,
        z_loss_weight=1e-3,
    )
    for field in dataclasses.fields(ModelConfig):
        assert getattr(changed, field.name) != getattr(reference, field.name), field.name
    assert ModelConfig.from_dict(changed.to_dict()) == changed
    model = zoo.DecoderLM(changed)
    restored = zoo.DecoderLM.from_config(model.get_config())
    assert restored.config == changed
    assert restored.count_params() == model.count_params() == zoo.count_params(changed)


def test_resolve_config_applies_overrides():
    config = zoo.resolve_config("llama-small", normalization="layernorm", norm_bias=True)
    assert config.normalization is zoo.Normalization.LAYERNORM
    assert config.position is zoo.Position.ROTARY
