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
    "residual",
    "use_bias",
    "tie_embeddings",
    "init",
    "scale_logits",
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
    del data["residual"]
    with pytest.raises(zoo.ConfigError, match="residual"):
        ModelConfig.from_dict(data)


def test_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        base().hidden_dim = 3


def test_strings_become_enums():
    config = base(
        normalization="rmsnorm",
        norm_bias=False,
        attention_pattern=("dense", "local"),
        local_window=8,
    )
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
        ({"position": "absolute"}, "position='absolute'"),
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
        residual="parallel",
        use_bias=False,
        tie_embeddings=False,
        init="fan_in",
        scale_logits=True,
        local_window=5,
        norm_epsilon=1e-3,
        rotary_max_wavelength=500.0,
        init_std=0.05,
        dropout=0.125,
        z_loss_weight=1e-3,
        norm_placement="post",
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


@pytest.mark.parametrize("overrides, quoted", [
    ({"init_std": float("inf")}, "init_std=inf"),
    ({"norm_epsilon": float("inf")}, "norm_epsilon=inf"),
    ({"rotary_max_wavelength": float("nan")}, "rotary_max_wavelength=nan"),
    ({"z_loss_weight": float("nan")}, "z_loss_weight=nan"),
    ({"z_loss_weight": float("inf")}, "z_loss_weight=inf"),
    ({"z_loss_weight": True}, "z_loss_weight=True"),
    ({"dropout": False}, "dropout=False"),
])  # fmt: skip
def test_non_finite_and_boolean_numerics_are_refused(overrides, quoted):
    with pytest.raises(zoo.ConfigError) as error:
        base(**overrides)
    assert quoted in str(error.value)


# --- TrainingRecipe: each numeric field checked by its declared type and its meaning ---


def training(**changes):
    return dataclasses.replace(zoo.get_recipe("palm-nano").training, **changes)


@pytest.mark.parametrize("field, value, expected", [
    ("warmup_steps", "abc", "warmup_steps must be a non-negative integer; received 'abc'"),
    ("warmup_steps", 2.5, "warmup_steps must be a non-negative integer; received 2.5"),
    ("warmup_steps", True, "warmup_steps must be a non-negative integer; received True"),
    ("warmup_steps", -1, "warmup_steps must be a non-negative integer; received -1"),
    ("learning_rate", "fast", "learning_rate must be a positive number; received 'fast'"),
    ("learning_rate", float("inf"), "learning_rate must be a positive number; received inf"),
    ("learning_rate", float("nan"), "learning_rate must be a positive number; received nan"),
    ("learning_rate", -1, "learning_rate must be a positive number; received -1"),
    ("learning_rate", None, "learning_rate must be a positive number; received None"),
    ("epsilon", 0, "epsilon must be a positive number; received 0"),
    ("beta_1", 1.0, "beta_1 must be a number in [0, 1); received 1.0"),
    ("beta_2", -0.1, "beta_2 must be a number in [0, 1) or null; received -0.1"),
    ("weight_decay", -0.1, "weight_decay must be a non-negative number; received -0.1"),
    ("final_learning_rate_fraction", 1.5,
     "final_learning_rate_fraction must be a number in [0, 1]; received 1.5"),
    ("clip_norm", 0, "clip_norm must be a positive number or null; received 0"),
    ("batch_tokens", 0, "batch_tokens must be a positive integer; received 0"),
    ("training_tokens", 1e999, "training_tokens must be a positive integer or null; received inf"),
    ("beta_2_decay", 0.8, "beta_2_decay must be a negative number or null; received 0.8"),
    ("optimizer", "sgd", "optimizer must be one of adam, adamw, adafactor; received "
                         "optimizer='sgd'"),
])  # fmt: skip
def test_training_fields_are_checked_by_type_and_meaning(field, value, expected):
    with pytest.raises(zoo.ConfigError) as error:
        training(**{field: value})
    assert str(error.value) == expected


def test_every_numeric_training_field_has_a_rule():
    import enum
    import typing

    from zoo.recipe import _RANGES

    numeric = {
        f.name
        for f in dataclasses.fields(zoo.TrainingRecipe)
        if not any(
            isinstance(t, type) and issubclass(t, enum.Enum)
            for t in (f.type, *typing.get_args(f.type))
        )
    }
    assert set(_RANGES) == numeric


def test_training_fields_accept_what_they_mean():
    recipe = training(
        warmup_steps=0,
        learning_rate=1,
        beta_1=0.0,
        clip_norm=None,
        training_tokens=None,
        final_learning_rate_fraction=1,
        schedule="cosine",
    )
    recipe = zoo.TrainingRecipe.from_dict({**recipe.to_dict(), "batch_tokens": 1e6})  # JSON's 1e6
    assert recipe.batch_tokens == 1_000_000 and type(recipe.batch_tokens) is int
    assert recipe.learning_rate == 1 and recipe.schedule is zoo.recipe.Schedule.COSINE
    for preset in zoo.list_recipes():  # every preset's recipe passes, and reloads from JSON
        assert zoo.TrainingRecipe.from_dict(preset.training.to_dict()) == preset.training


def test_overrides_are_checked_as_they_are_parsed():
    from zoo.overrides import apply_training_overrides, parse_overrides

    with pytest.raises(
        zoo.ConfigError, match="^warmup_steps must be a non-negative integer; received 'abc'$"
    ):
        parse_overrides(["warmup_steps=abc"])
    for text in ("1e999", "-1e999", "NaN", "Infinity", "-Infinity"):
        with pytest.raises(
            zoo.ZooError, match=f"^learning_rate must be a finite number; received '{text}'$"
        ):
            parse_overrides([f"learning_rate={text}"])
    with pytest.raises(zoo.UnknownNameError, match="learning_rate"):
        parse_overrides(["learnin_rate=1e999"])  # the name is checked before the value
    assert parse_overrides(["learning_rate=1e-3", "clip_norm=null"]) == (
        {},
        {"learning_rate": 1e-3, "clip_norm": None},
    )
    # Python callers get the same message, not wrapped:
    with pytest.raises(
        zoo.ConfigError, match="^learning_rate must be a positive number; received 'fast'$"
    ):
        apply_training_overrides(training(), {"learning_rate": "fast"})


def test_configs_written_before_the_residual_field_load_unchanged():
    """Files and run records store `to_dict()`; those from before `residual` and
    `scale_logits` existed said `block`, and scaled PaLM's logits through `init=fan_in`."""
    for name in ("palm-nano", "gpt2-nano"):
        config = zoo.get_recipe(name).model
        old = config.to_dict()
        old["block"] = old.pop("residual")
        del old["scale_logits"]
        assert ModelConfig.from_dict(old) == config


def test_logit_scaling_is_its_own_field_not_the_initializer():
    palm = zoo.get_recipe("palm-nano").model
    assert palm.logit_scale == pytest.approx(palm.hidden_dim**-0.5)
    assert palm.replace(init="normal").logit_scale == palm.logit_scale
    assert palm.replace(scale_logits=False).logit_scale == 1.0


def test_a_field_added_later_leaves_earlier_keys_as_they_were():
    """`norm_placement` came after runs were keyed: at `pre` the model's identity (what a run's
    key holds) is the dict before it existed, so every earlier run keeps its key; at `post`
    it is in the identity, so a post-norm run never reuses a pre-norm one."""
    from zoo.training.plan import identity

    pre = base()
    earlier = {k: v for k, v in pre.to_dict().items() if k != "norm_placement"}
    assert identity(pre) == earlier
    post = pre.replace(norm_placement="post")
    assert identity(post) == {**earlier, "norm_placement": "post"}
    assert ModelConfig.from_dict(earlier) == pre  # a record without the field reads as pre


@pytest.mark.parametrize("field, value, choices", [
    ("feedforward", "softplus", "gelu, relu, leaky_relu, tanh, sigmoid, swiglu, geglu, reglu"),
    ("norm_placement", "sandwich", "pre, post"),
])  # fmt: skip
def test_an_unknown_activation_or_placement_is_one_line_naming_the_choices(field, value, choices):
    with pytest.raises(zoo.ConfigError) as error:
        base().replace(**{field: value})
    assert choices in str(error.value) and "\n" not in str(error.value)
