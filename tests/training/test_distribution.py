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
    env = {
        **os.environ,
        "KERAS_BACKEND": backend,
        "ZOO_CPU_DEVICES": str(devices),
        "XLA_FLAGS": f"--xla_dump_to={dump}",
        "TF_CPP_MIN_LOG_LEVEL": "3",
    }
    result = subprocess.run(
        [sys.executable, str(SCRIPT), str(corpus), str(tmp_path / "runs"), preset, *strategies],
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    runs = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    modules = [p.name for p in dump.iterdir() if p.name.endswith(".before_optimizations.txt")]
    return {run["strategy"]: run for run in runs}, modules


@pytest.mark.slow
def test_mirrored_compiles_each_replica_with_xla_and_matches_one_device(tmp_path, corpus):
    runs, modules = _train_in_fresh_process(
        tmp_path, corpus, "tensorflow", "gpt2-nano", "none", "mirrored"
    )
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


@pytest.mark.slow
@pytest.mark.parametrize("devices", [2, pytest.param(4, marks=pytest.mark.slow)])
def test_jax_data_and_model_parallel_match_one_device_and_shard(tmp_path, corpus, devices):
    runs, modules = _train_in_fresh_process(
        tmp_path,
        corpus,
        "jax",
        "llama-nano",
        "none",
        "data-parallel",
        "model-parallel",
        "data-parallel+zero",
        devices=devices,
    )
    assert any("train_step" in m for m in modules)  # jax.jit's XLA programs were compiled
    single = runs["none"]
    for name in ("data-parallel", "model-parallel", "data-parallel+zero"):
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
        "self_attention/query/kernel": [None, "model", None],  # column parallel over heads
        "self_attention/key/kernel": [None, "model", None],  # K = H here: sliced alike
        "self_attention/value/kernel": [None, "model", None],
        "self_attention/output/kernel": ["model", None, None],  # row parallel over heads
        "feedforward/gate/kernel": [None, "model"],
        "feedforward/up/kernel": [None, "model"],
        "feedforward/down/kernel": ["model", None],
    }
    for i in range(config.num_layers):
        for suffix, spec in expected.items():
            path = f"decoder_block_{i}/{suffix}"
            slot = path.replace("/", "_")
            assert sharded[path] == spec, path
            slots = {
                k: v
                for k, v in sharded.items()
                if k.endswith((f"{slot}_momentum", f"{slot}_velocity"))
            }
            assert sorted(slots.values()) == [spec, spec], (path, slots)  # Adam's m and v
    # Norm scales are not sliced.
    assert not any("norm" in path for path in sharded)

    # ZeRO stage 1: no weight sliced, every optimizer variable whose first dimension the data
    # axis divides sliced on it (Adam's moments, the spike guard's gradient-norm history).
    zero = runs["data-parallel+zero"]["distribution"]["sharded"]
    weights = {v for v in zero if v.split("/")[0] in ("token_embedding", "final_norm")}
    assert zero and not weights and not any(v.startswith("decoder_block") for v in zero), zero
    embedding = [k for k in zero if "token_embedding_embeddings" in k]
    assert len(embedding) == 2 and all(zero[k] == ["batch", None] for k in embedding)
    query = [k for k in zero if "block_0_self_attention_query_kernel" in k]
    assert len(query) == 2 and all(zero[k] == ["batch", None, None] for k in query)


def test_strategy_names_are_checked_against_the_backend():
    with pytest.raises(ZooError, match="must be one of"):
        check_strategy("fsdp", "tensorflow")
    with pytest.raises(ZooError, match="use backend='jax' \\(on tensorflow: mirrored, "):
        check_strategy("model-parallel", "tensorflow")  # a Python caller's words: no flags
    with pytest.raises(ZooError, match="already running on tensorflow"):
        check_strategy("data-parallel", "jax")
    with pytest.raises(ZooError, match="^backend must be one of"):  # the field, not the flag
        check_strategy("none", "torch")


def test_mirrored_without_devices_is_a_user_error():
    with pytest.raises(ZooError, match="ZOO_CPU_DEVICES=2"):
        resolve_distribution("mirrored", "tensorflow")


def test_megatron_layouts_leave_indivisible_dimensions_replicated():
    config = zoo.get_recipe("palm-nano").model  # multi-query: 4 query heads, 1 key/value head
    for devices in (2, 4):
        layouts, replicated = megatron_layouts(config, devices)
        assert layouts[r".*/self_attention/query/kernel"] == (None, "model", None)
        assert layouts[r".*/self_attention/output/kernel"] == ("model", None, None)
        assert r".*/self_attention/(key|value)/kernel" not in layouts  # the one kv head, whole
        assert any("{key,value} heads: 1 is not divisible" in r for r in replicated)
    layouts, replicated = megatron_layouts(config.replace(num_query_heads=6), 4)
    assert not any("self_attention" in pattern for pattern in layouts)  # 6 heads: all whole
    assert any("{query,output} heads: 6 is not divisible by 4" in r for r in replicated)


# (preset, devices, overrides): multi-head, grouped with kv sliced and kv whole, multi-query,
# and biases (GPT-2).
HEAD_CASES = [
    ["llama-nano", 2, {}],
    ["llama-nano", 4, {}],
    ["llama-nano", 2, {"num_key_value_heads": 2}],
    ["llama-nano", 4, {"num_key_value_heads": 2}],
    ["palm-nano", 2, {}],
    ["palm-nano", 4, {}],
    ["gpt2-nano", 2, {}],
]


@pytest.mark.slow
def test_model_parallel_devices_hold_whole_heads_with_their_key_value_heads(tmp_path):
    """By content: device i of n holds query heads [i·H/n, (i+1)·H/n), the same rows of the
    output kernel, and the key/value heads those queries read (n·K/H for query head n) — just
    those when n divides K, all K otherwise. (One fused q|k|v kernel sliced on its head axis
    gave llama-nano's first device q0–q3, k0, k1 and its second k2, k3, v0–v3.)"""
    env = {
        **os.environ,
        "KERAS_BACKEND": "jax",
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "XLA_FLAGS": "--xla_force_host_platform_device_count=4",
    }
    env.pop("ZOO_CPU_DEVICES", None)
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "shards", json.dumps(HEAD_CASES)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    reports = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert [r["case"] for r in reports] == HEAD_CASES
    for report in reports:
        preset, n, overrides = report["case"]
        config = zoo.resolve_config(preset, **overrides)
        heads, kv = config.num_query_heads, config.num_key_value_heads
        for path, by_device in report["held"].items():
            assert sorted(map(int, by_device)) == list(range(n)), path
            for device, held in by_device.items():
                i = int(device)
                queries = list(range(i * heads // n, (i + 1) * heads // n))
                if "/query/" in path or "/output/" in path:
                    assert held == queries, (report["case"], path, device)
                else:
                    needed = sorted({q * kv // heads for q in queries})
                    assert held == (needed if kv % n == 0 else list(range(kv))), (
                        report["case"],
                        path,
                        device,
                    )
        suffixes = {path.split("/self_attention/")[1] for path in report["held"]}
        expected = {"query/kernel", "key/kernel", "value/kernel", "output/kernel"}
        if config.use_bias:
            expected |= {"query/bias", "key/bias", "value/bias"}
        assert suffixes == expected


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
    result = CliRunner().invoke(
        app,
        ["compare", "--models", "gpt2-nano", "--data", str(corpus), "--strategy", "model-parallel"],
    )
    assert result.exit_code == 2, result.output
    assert "use --backend jax" in result.stderr
