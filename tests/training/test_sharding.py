"""The layout rules and the per-device accounting (`zoo.training.sharding`), by content: the
variable shapes against built models, the bytes against closed forms."""

import math

import pytest

import zoo
from zoo.accounting import count_params
from zoo.training.sharding import (
    device_memory,
    megatron_layouts,
    optimizer_slots,
    variable_shapes,
    whole_model_bytes,
    zero_spec,
)

VARIANTS = [
    (name, {}) for name in sorted(r.name for r in zoo.list_recipes() if r.name.endswith("-nano"))
] + [
    ("gpt2-nano", {"norm_placement": "post"}),
    ("llama-nano", {"tie_embeddings": False}),
    ("gpt2-nano", {"position": "relative"}),
]


@pytest.mark.parametrize("name,overrides", VARIANTS, ids=lambda v: str(v))
def test_variable_shapes_are_the_built_models(name, overrides):
    config = zoo.resolve_config(name, **overrides)
    built = {v.path: tuple(v.shape) for v in zoo.build(config).trainable_variables}
    assert variable_shapes(config) == built


@pytest.mark.parametrize("name", ["llama-7b", "palm-540b", "gpt3-175b", "gopher-280b"])
def test_the_shapes_of_models_too_large_to_build_add_up_to_their_parameter_count(name):
    config = zoo.get_recipe(name).model
    shapes = variable_shapes(config)
    assert sum(math.prod(s) for s in shapes.values()) == count_params(config)


def test_zero_spec_adds_the_data_axis_where_it_divides_and_nothing_else():
    assert zero_spec((512, 32), (None, None), 4) == ("batch", None)
    assert zero_spec((30, 32), (None, None), 4) == (None, "batch")  # 30 rows: the next one
    assert zero_spec((32, 4, 8), (None, "model", None), 2) == ("batch", "model", None)
    assert zero_spec((4, 8), ("model", None), 3) == ("model", None)  # nothing divides: whole
    assert zero_spec((), (), 4) == ()
    assert zero_spec((512, 32), (None, None), 1) == (None, None)


def test_data_parallel_devices_each_hold_the_whole_model_and_zero_divides_the_optimizer():
    config = zoo.get_recipe("llama-7b").model
    whole = whole_model_bytes(config)
    params = count_params(config)
    assert whole == 16 * params  # float32 weights, gradients, Adam's m and v
    for devices in (1, 2, 4, 8):
        plain = device_memory(config, devices)
        assert plain["total"] == whole and plain["mesh"] == {"batch": devices, "model": 1}
        zero = device_memory(config, devices, shard_optimizer=True)
        assert zero["parameters"] == zero["gradients"] == 4 * params
        # every LLaMA-7B variable has a dimension 8 divides (its 4,096-wide norms too)
        assert zero["optimizer"] == 8 * params // devices


def test_tensor_parallelism_divides_all_but_what_megatron_leaves_whole():
    config = zoo.get_recipe("llama-7b").model
    layouts, replicated = megatron_layouts(config, 8)
    assert replicated == ()
    norms = (2 * config.num_layers + 1) * config.hidden_dim  # RMSNorm scales: whole everywhere
    per_device = device_memory(config, 8, model_axis=8)
    assert per_device["parameters"] == 4 * ((count_params(config) - norms) // 8 + norms)
    assert per_device["optimizer"] == 2 * per_device["parameters"]
    # 2 × 4 devices: the data axis of 2 halves the optimizer state again under ZeRO.
    mixed = device_memory(config, 8, model_axis=4, shard_optimizer=True)
    assert mixed["parameters"] == 4 * ((count_params(config) - norms) // 4 + norms)
    assert mixed["optimizer"] == 8 * ((count_params(config) - norms) // 8 + norms // 2)


def test_optimizer_slots_follow_the_recipe():
    assert optimizer_slots(zoo.get_recipe("llama-7b").training) == 2  # AdamW: m and v
    assert optimizer_slots(zoo.get_recipe("palm-540b").training) == 2  # Adafactor β1 = 0.9


def test_a_device_count_the_model_axis_does_not_divide_is_refused():
    with pytest.raises(ValueError, match="does not divide"):
        device_memory(zoo.get_recipe("llama-7b").model, 6, model_axis=4)
