"""Strategies on virtual CPU devices: XLA in effect, losses equal to one device, layouts sharded.

Each backend runs in a fresh process (tests/training/distributed_training.py), since the backend
and the device split are fixed when the backend starts. Tolerances: per-step training losses
within 1e-3 relative under MirroredStrategy (gradients are summed across replicas in another
order, and the difference compounds over 6 AdamW steps); within 1e-5 on JAX, where the sharded
program is one XLA computation.
"""

import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest
from typer.testing import CliRunner

import zoo
from zoo.errors import ZooError
from zoo.training.distribution import check_strategy, megatron_layouts, resolve_distribution
from zoo_cli.main import app

SCRIPT = pathlib.Path(__file__).with_name("distributed_training.py")
pytestmark = pytest.mark.usefixtures("isolated")


def _train_in_fresh_process(tmp_path, corpus, backend, preset, *strategies, devices=2):
    dump = tmp_path / "xla_dump"
    env = {**os.environ, "KERAS_BACKEND": backend, "ZOO_CPU_DEVICES": str(devices),
           "XLA_FLAGS": f"--xla_dump_to={dump}", "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run([sys.executable, str(SCRIPT), str(corpus), str(tmp_path / "runs"),
                             preset, *strategies], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    runs = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    modules = [p.name for p in dump.iterdir() if p.name.endswith(".before_optimizations.txt")]
    return {run["strategy"]: run for run in runs}, modules


def test_mirrored_compiles_each_replica_with_xla_and_matches_one_device(tmp_path, corpus):
    runs, modules = _train_in_fresh_process(tmp_path, corpus, "tensorflow", "gpt2-nano",
                                               "none", "mirrored")
    single, mirrored = runs["none"], runs["mirrored"]
    assert mirrored["distribution"]["replicas"] == 2
    assert mirrored["xla"]["effective"] and mirrored["xla"]["compiled"].startswith("per replica")
    # XLA itself compiled the per-replica forward/loss/gradient program, once per device.
    replica_programs = [m for m in modules if "replica_loss_and_gradients" in m]
    assert len(replica_programs) == 2, modules
    assert len(single["losses"]) == len(mirrored["losses"]) == 6
    np.testing.assert_allclose(mirrored["losses"], single["losses"], rtol=1e-3)
    np.testing.assert_allclose(mirrored["validation_loss"], single["validation_loss"], rtol=1e-3)
    assert single["losses"][-1] < single["losses"][0]


@pytest.mark.parametrize("devices", [2, pytest.param(4, marks=pytest.mark.slow)])
def test_jax_data_and_model_parallel_match_one_device_and_shard(tmp_path, corpus, devices):
    runs, modules = _train_in_fresh_process(tmp_path, corpus, "jax", "llama-nano", "none",
                                               "data-parallel", "model-parallel", devices=devices)
    assert any("train_step" in m for m in modules)  # jax.jit's XLA programs were compiled
    single = runs["none"]
    for name in ("data-parallel", "model-parallel"):
        run = runs[name]
        assert run["xla"]["effective"] and "sharded step" in run["xla"]["compiled"]
        np.testing.assert_allclose(run["losses"], single["losses"], rtol=1e-5)
        np.testing.assert_allclose(run["validation_loss"], single["validation_loss"], rtol=1e-5)
    assert runs["data-parallel"]["distribution"]["replicas"] == devices
    mesh = runs["model-parallel"]["distribution"]["mesh"]
    assert mesh == {"data": 1, "model": devices}

    sharded = runs["model-parallel"]["distribution"]["sharded"]
    config = zoo.get_recipe("llama-nano").model
    expected = {
        "self_attention/qkv/kernel": [None, "model", None],  # column parallel over heads
        "self_attention/output/kernel": ["model", None, None],  # row parallel over heads
        "feedforward/gate/kernel": [None, "model"],
        "feedforward/up/kernel": [None, "model"],
        "feedforward/down/kernel": ["model", None],
    }
    for i in range(config.num_layers):
        for suffix, spec in expected.items():
            path = f"decoder_block_{i}/{suffix}"
            slot = path.replace("/", "_")
            fused_heads = config.num_query_heads + 2 * config.num_key_value_heads
            if "qkv" in path and fused_heads % devices:
                assert path not in sharded  # left replicated, and said so
                continue
            assert sharded[path] == spec, path
            slots = {k: v for k, v in sharded.items() if k.endswith((f"{slot}_momentum",
                                                                     f"{slot}_velocity"))}
            assert sorted(slots.values()) == [spec, spec], (path, slots)  # Adam's m and v
    # Norm scales are not sliced.
    assert not any("norm" in path for path in sharded)


def test_strategy_names_are_checked_against_the_backend():
    with pytest.raises(ZooError, match="must be one of"):
        check_strategy("fsdp", "tensorflow")
    with pytest.raises(ZooError, match="use --backend jax"):
        check_strategy("model-parallel", "tensorflow")
    with pytest.raises(ZooError, match="already running on tensorflow"):
        check_strategy("data-parallel", "jax")
    with pytest.raises(ZooError, match="^backend must be one of"):  # the field, not the flag
        check_strategy("none", "torch")


def test_mirrored_without_devices_is_a_user_error():
    with pytest.raises(ZooError, match="ZOO_CPU_DEVICES=2"):
        resolve_distribution("mirrored", "tensorflow")


def test_megatron_layouts_leave_indivisible_dimensions_replicated():
    config = zoo.get_recipe("palm-nano").model  # multi-query: H + 2K = 4 + 2 = 6 fused heads
    layouts, replicated = megatron_layouts(config, 2)
    assert layouts[r".*/self_attention/qkv/kernel"] == (None, "model", None)
    layouts, replicated = megatron_layouts(config, 4)
    assert r".*/self_attention/qkv/kernel" not in layouts
    assert any("qkv/kernel" in r and "6 is not divisible by 4" in r for r in replicated)
    assert layouts[r".*/self_attention/output/kernel"] == ("model", None, None)


def test_cli_strategy_errors_exit_2_with_one_line(corpus):
    runner = CliRunner()
    for args, expected in [
        # A closed choice: click names the flag and lists the choices.
        (["--strategy", "bogus"], "Invalid value for '--strategy'"),
        (["--strategy", "mirrored"], "needs at least 2 devices"),
        (["--strategy", "data-parallel"], "use --backend jax"),
    ]:
        result = runner.invoke(app, ["train", "gpt2-nano", "--data", str(corpus), *args])
        assert result.exit_code == 2, result.output
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and expected in lines[0], result.stderr


def test_compare_checks_the_strategy_before_training(corpus):
    result = CliRunner().invoke(app, ["compare", "--models", "gpt2-nano", "--data", str(corpus),
                                      "--strategy", "model-parallel"])
    assert result.exit_code == 2, result.output
    assert "use --backend jax" in result.stderr
