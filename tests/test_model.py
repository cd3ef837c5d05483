"""DecoderLM contracts: shapes, causality of every attention variant, `.keras` round trips."""

import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

import zoo
from tests.helpers import FAMILIES
from zoo.model import WEIGHTS_FORMAT


def tokens(config, batch=2, length=None, seed=0):
    length = length or config.max_sequence_length
    rng = np.random.default_rng(seed)
    return rng.integers(0, config.vocabulary_size, (batch, length)).astype("int32")


@pytest.mark.parametrize("family", FAMILIES)
def test_token_ids_in_logits_out(family):
    model = zoo.build(f"{family}-nano")
    config = model.config
    x = tokens(config, length=17)
    logits = model(x)
    assert tuple(logits.shape) == (2, 17, config.vocabulary_size)
    assert np.all(np.isfinite(keras.ops.convert_to_numpy(logits)))


# Variants beyond the presets: banded layers under each position scheme and kv layout.
HYBRIDS = {
    "banded-relative-mqa": (
        "gopher-nano",
        {"attention_pattern": ("local", "dense"), "local_window": 5, "num_key_value_heads": 1},
    ),
    "banded-rotary-gqa": (
        "llama-nano",
        {"attention_pattern": ("local",), "local_window": 7, "num_key_value_heads": 2},
    ),
    "parallel-learned-dropout": ("palm-nano", {"position": "learned", "dropout": 0.1}),
    "no-positions": ("gpt2-nano", {"position": "none"}),
    "post-norm-relu": ("gpt2-nano", {"norm_placement": "post", "feedforward": "relu"}),
    "post-norm-parallel-geglu-banded": (
        "palm-nano",
        {
            "norm_placement": "post",
            "feedforward": "geglu",
            "attention_pattern": ("local",),
            "local_window": 5,
        },
    ),  # fmt: skip
    "saturating-sigmoid": ("llama-nano", {"feedforward": "sigmoid"}),
    "alibi-gqa": ("llama-nano", {"position": "alibi", "num_key_value_heads": 2}),
    "banded-alibi-mqa": (
        "palm-nano",
        {"position": "alibi", "attention_pattern": ("local", "dense"), "local_window": 5},
    ),
}


def _causality(model, config, cut):
    x = tokens(config, batch=2, length=config.max_sequence_length)
    y = x.copy()
    y[:, cut + 1 :] = (
        y[:, cut + 1 :] + 1 + np.arange(y.shape[1] - cut - 1)
    ) % config.vocabulary_size
    a = keras.ops.convert_to_numpy(model(x))
    b = keras.ops.convert_to_numpy(model(y))
    np.testing.assert_array_equal(a[:, : cut + 1], b[:, : cut + 1])
    assert not np.allclose(a[:, cut + 1 :], b[:, cut + 1 :])  # the change did reach later logits


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("cut", [0, 9, 40])
def test_causal(family, cut):
    """Logits at positions ≤ t do not change when tokens after t change."""
    model = zoo.build(f"{family}-nano")
    _causality(model, model.config, cut)


@pytest.mark.parametrize("hybrid", sorted(HYBRIDS))
def test_causal_hybrids(hybrid):
    name, overrides = HYBRIDS[hybrid]
    model = zoo.build(name, **overrides)
    for cut in (3, 22):
        _causality(model, model.config, cut)


def test_local_window_limits_the_receptive_field():
    """With every layer banded, logits at t depend only on tokens t-L·(w-1) … t."""
    config = zoo.get_recipe("gpt3-nano").model.replace(
        attention_pattern=("local",), local_window=4, position="none"
    )
    model = zoo.DecoderLM(config)
    x = tokens(config, batch=1)
    y = x.copy()
    y[:, 10] = (y[:, 10] + 1) % config.vocabulary_size
    a, b = (keras.ops.convert_to_numpy(model(z)) for z in (x, y))
    reach = config.num_layers * (config.local_window - 1)  # 2 layers × 3 = 6 positions
    changed = np.where(np.abs(a - b).max(axis=(0, 2)) > 0)[0]
    assert changed.min() == 10 and changed.max() == 10 + reach


def test_dropout_only_in_training():
    model = zoo.build("gpt2-nano", dropout=0.5)
    x = tokens(model.config, length=8)
    np.testing.assert_array_equal(model(x), model(x))
    assert not np.allclose(model(x, training=True), model(x))


def test_init_schemes():
    gpt2 = zoo.build("gpt2-nano", num_layers=8, attention_pattern=("dense",))
    std = lambda w: float(np.std(keras.ops.convert_to_numpy(w)))  # noqa: E731
    block = gpt2.get_layer("decoder_block_0")
    assert std(block.self_attention.query.kernel) == pytest.approx(0.02, rel=0.1)
    # GPT-2: residual projections × 1/sqrt(2·8)
    assert std(block.feedforward_layer.down.kernel) == pytest.approx(0.02 / 4, rel=0.1)
    palm = zoo.build("palm-small")
    assert std(palm.get_layer("token_embedding").embeddings) == pytest.approx(1.0, rel=0.05)
    down = palm.get_layer("decoder_block_0").feedforward_layer.down.kernel
    assert std(down) == pytest.approx(1 / np.sqrt(4 * 144), rel=0.1)


def test_every_weight_starts_from_a_draw_of_its_own():
    """No two weights share initial values: not the blocks, not SwiGLU's gate and up, not the
    query, key and value heads, not an untied head and its embedding (a flattened prefix shared
    by kernels of different shapes counts too). Keras initializers without a seed repeat one
    draw per shape, which `IndependentDraws` exists to prevent; a seed still fixes them all."""
    for name in ("llama-nano", "palm-nano", "gpt2-nano"):
        keras.utils.set_random_seed(0)
        model = zoo.build(name, num_layers=2)
        c = model.config
        attention = model.get_layer("decoder_block_0").self_attention
        assert [
            attention.query.kernel.shape[1],
            attention.key.kernel.shape[1],
            attention.value.kernel.shape[1],
        ] == [c.num_query_heads, c.num_key_value_heads, c.num_key_value_heads]
        drawn = {
            v.path: keras.ops.convert_to_numpy(v).ravel()
            for v in model.weights
            if len(v.shape) >= 2 and not v.name.endswith("bias")
        }  # biases start at 0
        prefixes = {}
        for path, values in drawn.items():
            assert values.std() > 0, path
            prefix = values[:64].tobytes()
            assert prefix not in prefixes, f"{name}: {path} repeats {prefixes.get(prefix)}"
            prefixes[prefix] = path
        keras.utils.set_random_seed(0)
        again = zoo.build(name, num_layers=2)
        for v in again.weights:
            if v.path in drawn:
                np.testing.assert_array_equal(keras.ops.convert_to_numpy(v).ravel(), drawn[v.path])


@pytest.mark.slow
def test_alibi_trains_end_to_end(corpus, isolated, tmp_path):
    """A new position scheme is a config value: `zoo.build(..., position="alibi")` and a run."""
    model = zoo.build("llama-nano", position="alibi")
    assert model.position_embedding is None
    assert model.count_params() == zoo.count_params(model.config)
    record = zoo.train(
        "llama-nano",
        data=str(corpus),
        steps=2,
        batch_size=2,
        overrides=["position=alibi"],
        out=tmp_path / "alibi",
    )
    assert record.config()["model"]["position"] == "alibi"
    losses = [
        json.loads(line)["train_loss"]
        for line in (record.path / "metrics.jsonl").read_text().splitlines()
    ]
    assert losses and all(np.isfinite(losses))


LOAD_AND_PREDICT = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import keras
    import zoo  # registers the zoo layers
    jobs = json.loads(sys.argv[1])
    for path, inputs, out in jobs:
        model = keras.models.load_model(path)  # safe_mode defaults to True
        np.save(out, keras.ops.convert_to_numpy(model(np.load(inputs))))
    """
)


@pytest.mark.slow
def test_keras_round_trip_in_fresh_process(tmp_path):
    """For every family: save, then load in a new Python process; logits are identical."""
    jobs, expected = [], {}
    for family in FAMILIES:
        # Non-default values where they matter for serialization: dropout, epsilon, z-loss.
        model = zoo.build(f"{family}-nano", dropout=0.1, norm_epsilon=1e-3, z_loss_weight=1e-3)
        path = tmp_path / f"{family}.keras"
        model.save(path)
        x = tokens(model.config, length=model.config.max_sequence_length)
        np.save(tmp_path / f"{family}-x.npy", x)
        expected[family] = keras.ops.convert_to_numpy(model(x))
        jobs.append(
            [str(path), str(tmp_path / f"{family}-x.npy"), str(tmp_path / f"{family}-y.npy")]
        )
    subprocess.run(
        [sys.executable, "-c", LOAD_AND_PREDICT, json.dumps(jobs)], check=True, timeout=300
    )
    for family in FAMILIES:
        np.testing.assert_array_equal(np.load(tmp_path / f"{family}-y.npy"), expected[family])


def test_loaded_model_keeps_its_config(tmp_path):
    model = zoo.build("gpt3-nano", local_window=6, dropout=0.2)
    model.save(tmp_path / "m.keras")
    restored = keras.models.load_model(tmp_path / "m.keras")
    assert isinstance(restored, zoo.DecoderLM)
    assert restored.config == model.config


def test_every_constructor_argument_survives_a_keras_round_trip(tmp_path):
    """config, dtype policy, name and trainable all come back from `.keras`, not just config."""
    config = zoo.resolve_config(
        "llama-nano",
        num_layers=1,
        hidden_dim=24,
        head_dim=6,
        num_key_value_heads=2,
        dropout=0.1,
        norm_epsilon=1e-4,
    )
    model = zoo.DecoderLM(config, dtype="mixed_bfloat16", name="guarded_lm", trainable=False)
    assert model.dtype_policy.name == "mixed_bfloat16"  # set on the model, not only its layers
    saved = model.get_config()
    # No functional graph config; the weights' layout, so a file of another layout is refused.
    assert set(saved) == {"config", "dtype", "name", "trainable", "weights_format"}
    model.save(tmp_path / "m.keras")

    restored = keras.models.load_model(tmp_path / "m.keras")
    assert isinstance(restored, zoo.DecoderLM)
    assert restored.get_config() == saved
    assert restored.config == config
    assert restored.name == "guarded_lm" and restored.trainable is False
    assert restored.dtype_policy.name == "mixed_bfloat16"
    assert restored.compute_dtype == "bfloat16" and restored.variable_dtype == "float32"
    assert {v.dtype for v in restored.weights} == {"float32"}
    assert restored.trainable_weights == []
    assert keras.backend.standardize_dtype(restored.empty_cache(1, 4).dtype) == "bfloat16"
    x = tokens(config, length=9)
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(restored(x)), keras.ops.convert_to_numpy(model(x))
    )
    for a, b in zip(model.weights, restored.weights):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))
    # A config without a dtype (written before it was saved, then converted) loads, with the
    # default policy.
    old = zoo.DecoderLM.from_config(
        {
            "config": config.to_dict(),
            "name": "old",
            "trainable": True,
            "weights_format": WEIGHTS_FORMAT,
        }
    )
    assert old.dtype_policy.name == keras.config.dtype_policy().name


# Between them these cover every layer variant: learned/rotary/relative positions, both norms,
# both feed-forwards, MHA/MQA/GQA, dense and banded (with relative logits), serial and parallel.
JAX_CASES = {
    "gpt3-nano": {},
    "palm-nano": {},
    "llama-nano": {"num_key_value_heads": 2},
    "gopher-nano": {"attention_pattern": ("local", "dense"), "local_window": 5},
}


@pytest.mark.slow
def test_jax_backend_gives_the_same_logits(tmp_path):
    """The layers use keras.ops only: a model saved under TensorFlow loads and runs under JAX."""
    jobs, expected = [], {}
    for name, overrides in JAX_CASES.items():
        model = zoo.build(name, **overrides)
        path = tmp_path / f"{name}.keras"
        model.save(path)
        x = tokens(model.config)
        np.save(tmp_path / f"{name}-x.npy", x)
        expected[name] = keras.ops.convert_to_numpy(model(x))
        jobs.append([str(path), str(tmp_path / f"{name}-x.npy"), str(tmp_path / f"{name}-y.npy")])
    env = {**os.environ, "KERAS_BACKEND": "jax"}
    script = "import keras; assert keras.backend.backend() == 'jax'\n" + LOAD_AND_PREDICT
    subprocess.run(
        [sys.executable, "-c", script, json.dumps(jobs)], check=True, env=env, timeout=300
    )
    for name in JAX_CASES:
        np.testing.assert_allclose(
            np.load(tmp_path / f"{name}-y.npy"), expected[name], rtol=1e-4, atol=1e-5
        )
