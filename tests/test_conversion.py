"""`.keras` files of the fused-qkv layout: refused on load with the converter's command, and
`zoo convert` turns them into files that load and compute exactly what the original did."""

import io
import json
import zipfile

import h5py
import keras
import numpy as np
import pytest
from typer.testing import CliRunner

import zoo
from zoo.conversion import convert_keras_file
from zoo.model import WEIGHTS_FORMAT
from zoo_cli.main import app

CASES = {
    "gpt2-nano": {},  # multi-head, biases
    "palm-nano": {},  # multi-query
    "llama-nano": {"num_key_value_heads": 2},  # grouped
    "gopher-nano": {},  # relative positions: weights of the attention layer itself
}


def write_fused_layout(model, path):
    """Save `model` as the zoo wrote it before query, key and value were separate: one
    `self_attention/qkv` EinsumDense per layer (kernel (d, H + 2K, Q), bias (H + 2K, Q)), and no
    `weights_format` in the model's config."""
    model.save(path)
    with zipfile.ZipFile(path) as archive:
        entries = {name: archive.read(name) for name in archive.namelist()}
    document = json.loads(entries["config.json"])
    del document["config"]["weights_format"]
    entries["config.json"] = json.dumps(document).encode()
    buffer = io.BytesIO(entries["model.weights.h5"])
    with h5py.File(buffer, "r+") as weights:
        attention = []
        weights.visit(
            lambda name: attention.append(name) if name.endswith("self_attention") else None
        )
        for name in attention:
            group = weights[name]
            parts = [group[p]["vars"] for p in ("query", "key", "value")]
            fused = group.create_group("qkv").create_group("vars")
            fused.attrs["name"] = "qkv"
            for index in parts[0]:  # "0": kernel on axis 1; "1": bias on axis 0
                axis = 1 if index == "0" else 0
                fused.create_dataset(
                    index, data=np.concatenate([p[index][()] for p in parts], axis=axis)
                )
            for p in ("query", "key", "value"):
                del group[p]
    entries["model.weights.h5"] = buffer.getvalue()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return path


def _tokens(config, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, config.vocabulary_size, (2, 24)).astype("int32")


def _fused_file(tmp_path, name, **overrides):
    model = zoo.build(name, **overrides)
    rng = np.random.default_rng(1)  # biases and u, v away from zero, so a mix-up shows
    for w in model.weights:
        w.assign(w.numpy() + 0.05 * rng.standard_normal(w.shape).astype("float32"))
    return model, write_fused_layout(model, tmp_path / f"{name}-old.keras")


def test_the_fused_layout_is_refused_with_the_command_that_converts_it(tmp_path):
    _, old = _fused_file(tmp_path, "llama-nano")
    with pytest.raises(zoo.ZooError) as error:
        keras.models.load_model(old)
    message = str(error.value)
    assert "\n" not in message and "fused self_attention/qkv" in message
    assert message.endswith("zoo convert OLD.keras --out NEW.keras")


@pytest.mark.parametrize("name", sorted(CASES))
def test_converted_files_compute_what_the_original_did(tmp_path, name):
    model, old = _fused_file(tmp_path, name, **CASES[name])
    result = convert_keras_file(old, tmp_path / "new.keras")
    assert result.layers == model.config.num_layers and not result.dropped_optimizer
    restored = keras.models.load_model(result.path)
    assert restored.config == model.config
    assert restored.get_config()["weights_format"] == WEIGHTS_FORMAT
    for ours, theirs in zip(model.weights, restored.weights, strict=True):
        assert ours.path == theirs.path
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    x = _tokens(model.config)
    np.testing.assert_array_equal(restored(x), model(x))


def test_a_checkpoint_converts_to_a_model_file_without_its_optimizer(tmp_path):
    model = zoo.build("gpt2-nano")
    model.compile(
        optimizer=keras.optimizers.AdamW(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    x = _tokens(model.config)
    model.train_on_batch(x[:, :-1], x[:, 1:])
    old = write_fused_layout(model, tmp_path / "checkpoint.keras")
    result = convert_keras_file(old, tmp_path / "model.keras")
    assert result.dropped_optimizer
    restored = keras.models.load_model(result.path)
    assert getattr(restored, "optimizer", None) is None  # never compiled
    np.testing.assert_array_equal(restored(x), model(x))


def test_convert_refuses_what_it_cannot_or_need_not_convert(tmp_path):
    current = tmp_path / "current.keras"
    zoo.build("gpt2-nano").save(current)
    with pytest.raises(zoo.ZooError, match="already in weights_format 2; nothing to convert"):
        convert_keras_file(current, tmp_path / "out.keras")
    with pytest.raises(zoo.ZooError, match="^out must end in .keras"):
        convert_keras_file(current, tmp_path / "out.h5")
    with pytest.raises(zoo.ZooError, match="exists; name a new file"):
        convert_keras_file(current, current)
    junk = tmp_path / "junk.keras"
    junk.write_text("not a zip")
    with pytest.raises(zoo.ZooError, match="not a readable .keras file"):
        convert_keras_file(junk, tmp_path / "out.keras")
    assert not (tmp_path / "out.keras").exists()


def test_zoo_convert_command(tmp_path):
    model, old = _fused_file(tmp_path, "palm-nano")
    new = tmp_path / "new.keras"
    runner = CliRunner()
    result = runner.invoke(app, ["convert", str(old), "--out", str(new)])
    assert result.exit_code == 0, result.output
    assert f"converted {model.config.num_layers} layers to {new}" in result.stdout
    x = _tokens(model.config)
    np.testing.assert_array_equal(keras.models.load_model(new)(x), model(x))
    again = runner.invoke(app, ["convert", str(new), "--out", str(tmp_path / "again.keras")])
    assert again.exit_code == 2
    assert len(again.stderr.strip().splitlines()) == 1 and "nothing to convert" in again.stderr
