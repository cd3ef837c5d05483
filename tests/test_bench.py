"""`zoo bench` machinery at toy sizes: it measures what it says (never timing assertions)."""

import json
import math
import pathlib

import numpy as np
import pytest
from typer.testing import CliRunner

from zoo.bench import benchmark_attention, run_suite
from zoo.bench.attention import KINDS, SCOPES, process_peak, available_kinds, fit_terms
from zoo.bench.training import AnchorShape, benchmark_anchor
from tests.helpers import assert_one_line
from zoo_cli.main import app

pytestmark = pytest.mark.usefixtures("isolated")


@pytest.mark.slow
def test_anchor_runs_both_models_in_workers_and_reports_a_ratio():
    shape = AnchorShape(
        num_layers=1, hidden_dim=32, num_heads=2, seq_len=32, batch_size=4, vocabulary_size=256
    )
    result = benchmark_anchor(shape, steps=2, repeats=2, peak=1e11)
    zoo_row, hub_row = result["rows"]
    assert (zoo_row["name"], hub_row["name"]) == ("zoo GPT-2", "keras-hub GPT2Backbone")
    # Same architecture: keras-hub's parameter count equals ours (checked inside, reported here).
    assert result["params"] == 1 * 12 * 32 * 32 + 13 * 32 + 256 * 32 + 32 * 32 + 2 * 32
    for row in (zoo_row, hub_row):
        speeds = row["tokens_per_second"]
        assert len(speeds["repeats"]) == 2 and speeds["min"] <= speeds["median"] <= speeds["max"]
        assert row["mfu"] == pytest.approx(speeds["median"] * result["flops_per_token"] / 1e11)
        assert row["memory"]["peak_rss_bytes"] >= row["memory"]["baseline_rss_bytes"] > 0
    assert result["ratio"] == pytest.approx(
        zoo_row["tokens_per_second"]["median"] / hub_row["tokens_per_second"]["median"]
    )


def test_attention_rows_time_and_measure_each_kernel_at_each_length_and_scope():
    result = benchmark_attention(
        seq_lens=(64, 128, 256), window=16, hidden_dim=32, num_heads=2, num_layers=1, repeats=1
    )
    kinds, unavailable = available_kinds()
    assert result["kinds"] == list(kinds) and set(kinds) | set(unavailable) == set(KINDS)
    cells = {(r["scope"], r["kind"], r["seq_len"]) for r in result["rows"]}
    assert cells == {(s, k, t) for s in SCOPES for k in kinds for t in (64, 128, 256)}
    for r in result["rows"]:
        assert r["ms_min"] <= r["ms"] <= r["ms_max"] and r["peak_source"] == "process"
        assert r["peak_bytes"] >= 0
    assert set(result["fits"]["model"]["dense"]["ms"]) >= {"linear", "quadratic"}


def test_attention_fit_recovers_known_terms():
    """c0 + c1·T + c2·T² from exact points; shares and exponents by closed form."""
    rows = [
        {"scope": "layer", "kind": "dense", "seq_len": t, "ms": 2.0 + 0.01 * t + 3e-5 * t * t}
        for t in (256, 512, 1024, 2048, 4096, 8192)
    ]
    fit = fit_terms(rows)["layer"]["dense"]["ms"]
    assert fit["constant"] == pytest.approx(2.0, rel=1e-6)
    assert fit["linear"] == pytest.approx(0.01, rel=1e-6)
    assert fit["quadratic"] == pytest.approx(3e-5, rel=1e-6)
    at = 2.0 + 0.01 * 8192 + 3e-5 * 8192**2
    assert fit["quadratic_share_at_longest"] == pytest.approx(3e-5 * 8192**2 / at)
    before = 2.0 + 0.01 * 4096 + 3e-5 * 4096**2
    assert fit["local_exponent"] == pytest.approx(math.log2(at / before))
    assert "peak_bytes" not in fit  # not measured, not fitted


def testprocess_peak_sees_an_allocation_made_inside_the_step():
    """The high-water mark is reset before the step, so a 200 MB array freed before the step
    does not count and one made inside it does."""
    before = np.ones(50_000_000)  # 400 MB, freed before the measured step
    del before
    peak = process_peak(lambda: np.ones(25_000_000).sum())  # 200 MB inside
    assert 190e6 < peak < 260e6


def test_cli_bench_writes_json_and_rejects_bad_counts(tmp_path, monkeypatch):
    import zoo.bench

    monkeypatch.setattr(
        zoo.bench,
        "run_suite",
        lambda parts, **kw: {
            **run_suite((), steps=1, repeats=1, reporter=lambda text: None),
            "parts": list(parts),
        },
    )
    out = tmp_path / "bench.json"
    result = CliRunner().invoke(app, ["bench", "attention", "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert report["parts"] == ["attention"] and report["peak_flops"] > 0
    assert "median of its repeats" in report["methodology"]
    result = CliRunner().invoke(app, ["bench", "anchor", "--repeats", "0"])
    assert result.exit_code == 2 and "at least 1" in result.stderr
    for lengths in ("64,x", "16,64", "64,64"):
        result = CliRunner().invoke(
            app, ["bench", "attention", "--lengths", lengths, "--window", "16"]
        )
        assert result.exit_code == 2 and "--lengths" in result.stderr, lengths


@pytest.mark.slow
def test_generation_anchor_decodes_with_both_caches_in_workers():
    from zoo.bench.generation import benchmark_generation_anchor

    shape = AnchorShape(
        num_layers=1, hidden_dim=32, num_heads=2, seq_len=32, batch_size=4, vocabulary_size=256
    )
    result = benchmark_generation_anchor(shape, repeats=2, prompt_tokens=4, new_tokens=6)
    zoo_row, hub_row = result["rows"]
    assert (zoo_row["name"], hub_row["name"]) == ("zoo GPT-2", "keras-hub GPT2CausalLM")
    for row in (zoo_row, hub_row):  # keys and values, one layer of width 32, float32
        assert row["cache_bytes_per_token"] == 2 * 1 * 32 * 4
        assert len(row["tokens_per_second"]["repeats"]) == 2
    assert result["ratio"] == pytest.approx(
        zoo_row["tokens_per_second"]["median"] / hub_row["tokens_per_second"]["median"]
    )


@pytest.mark.slow
def test_generation_measures_the_multi_query_cache_against_its_multi_head_twin():
    from zoo.bench.generation import benchmark_generation

    result = benchmark_generation(["palm"], repeats=1, prompt_tokens=4, new_tokens=4)
    mqa, mha = result["rows"]
    assert (mqa["name"], mha["name"]) == ("palm-small", "palm-small, multi-head")
    assert (mqa["num_key_value_heads"], mha["num_key_value_heads"]) == (1, mha["num_query_heads"])
    assert mqa["cache_bytes_per_token"] * mha["num_query_heads"] == mha["cache_bytes_per_token"]


def test_generation_tables_render(monkeypatch, tmp_path):
    import zoo.bench

    row = {
        "name": "palm-small",
        "params": 10,
        "num_query_heads": 4,
        "num_key_value_heads": 1,
        "cache_bytes_per_token": 1152.0,
        "warmup_seconds": 1.0,
        "tokens_per_second": {"median": 2.0, "min": 1.0, "max": 3.0, "repeats": [1, 2, 3]},
        "memory": {"peak_rss_bytes": 2**30},
    }
    fake = {
        "generate_anchor": {
            "shape": AnchorShape().__dict__,
            "batch_size": 1,
            "prompt_tokens": 32,
            "new_tokens": 224,
            "rows": [row, row],
            "ratio": 1.0,
        },
        "generate": {"batch_size": 1, "prompt_tokens": 32, "new_tokens": 224, "rows": [row]},
    }
    monkeypatch.setattr(
        zoo.bench,
        "run_suite",
        lambda parts, **kw: {
            **run_suite((), steps=1, repeats=1, reporter=lambda text: None),
            **fake,
        },
    )
    result = CliRunner(env={"COLUMNS": "160"}).invoke(
        app, ["bench", "generate", "--out", str(tmp_path / "g.json")]
    )
    assert result.exit_code == 0, result.output
    assert "1,152" in result.output and "4/1" in result.output and "1.00×" in result.output
    assert CliRunner().invoke(app, ["bench", "generate", "--batch-size", "0"]).exit_code == 2


@pytest.mark.slow
def test_size_ladder_trains_every_contender_on_one_model_and_reports_ratios():
    from zoo.accounting import count_params
    from zoo.bench.sizes import SizeShape, benchmark_sizes
    from zoo.bench.training import AnchorShape, gpt2_config

    shape = SizeShape("toy", 1, 32, 2, 32, 4, 256)
    contenders = [
        "zoo tensorflow",
        "zoo jax",
        "zoo torch",
        "keras-hub tensorflow",
        "transformers eager",
        "transformers compile",
        "zoo not-a-backend",
    ]
    result = benchmark_sizes(
        [shape],
        contenders=contenders,
        repeats=2,
        seconds_per_repeat=0.05,
        peak=1e11,
        reporter=lambda text: None,
    )
    rows = {r["name"]: r for r in result["rows"]}
    # A contender whose worker cannot start is a row saying why, not a crashed benchmark.
    assert "exited" in rows.pop("zoo not-a-backend")["error"]
    expected = count_params(gpt2_config(AnchorShape(1, 32, 2, 32, 4, 256)))
    assert {r["params"] for r in rows.values()} == {expected}  # one model, counted by each side
    assert rows["zoo torch"]["facts"]["backend"] == "torch"
    assert rows["transformers compile"]["facts"]["compiled"] is True
    for row in rows.values():
        speeds = row["tokens_per_second"]
        assert len(speeds["repeats"]) == 2 and speeds["min"] <= speeds["median"] <= speeds["max"]
        assert row["mfu"] == pytest.approx(speeds["median"] * row["flops_per_token"] / 1e11)
    (summary,) = result["sizes"]
    zoo_best = max(
        (r for n, r in rows.items() if n.startswith("zoo")),
        key=lambda r: r["tokens_per_second"]["median"],
    )
    peer = max(
        (r for n, r in rows.items() if not n.startswith("zoo")),
        key=lambda r: r["tokens_per_second"]["median"],
    )
    assert (summary["zoo_best"], summary["fastest_peer"]) == (zoo_best["name"], peer["name"])
    assert summary["ratio"] == pytest.approx(
        zoo_best["tokens_per_second"]["median"] / peer["tokens_per_second"]["median"]
    )


@pytest.mark.parametrize("shapes", ["family-heads", "papers"])
def test_size_ladder_holds_the_shapes_the_sweep_planner_trains(shapes):
    from zoo.bench.sizes import FIXED_LADDER
    from zoo.experiments.grid import compute_cells, parse_arms
    from zoo_cli.bench import size_ladder

    budgets = (1e11, 1e12, 1e13) if shapes == "family-heads" else (1e12, 3e12, 1e13, 3e13)
    ladder = size_ladder(",".join(f"{b:.0e}" for b in budgets), shapes)
    assert ladder[:3] == list(FIXED_LADDER)
    cells = compute_cells(parse_arms("gpt2"), budgets, 1, shapes=shapes)
    planned = [
        (c[4].num_layers, c[4].hidden_dim, c[4].num_query_heads, c[4].vocabulary_size)
        for c in cells
    ]
    assert [
        (s.num_layers, s.hidden_dim, s.num_heads, s.vocabulary_size) for s in ladder[3:]
    ] == planned
    if shapes == "papers":  # the rule the rung-2 studies train at: 32-wide heads, 2+ layers
        assert all(s.hidden_dim // s.num_heads == 32 and s.num_layers >= 2 for s in ladder[3:])


def test_cli_bench_sizes_rejects_bad_seconds_and_renders_its_table(monkeypatch):
    from zoo_cli.bench import show

    result = CliRunner().invoke(app, ["bench", "sizes", "--seconds", "0"])
    assert result.exit_code == 2 and "--seconds must be positive" in result.stderr
    speed = {"median": 100.0, "min": 90.0, "max": 110.0, "repeats": [90.0, 100.0, 110.0]}
    rows = [
        {"size": "toy", "name": name, "params": 10, "tokens_per_second": speed, "mfu": 0.1}
        for name in ("zoo tensorflow", "transformers eager")
    ]
    rows.append({"size": "toy", "name": "zoo torch", "error": "boom"})
    report = {
        "peak_flops": 1e11,
        "peak_flops_source": "measured",
        "device": "cpu",
        "backend": "tensorflow",
        "sizes": {
            "repeats": 3,
            "seconds_per_repeat": 1.0,
            "rows": rows,
            "sizes": [
                {
                    "size": "toy",
                    "zoo_best": "zoo tensorflow",
                    "ratio": 1.0,
                    "fastest_peer": "transformers eager",
                    "peer_tokens_per_second": 100.0,
                }
            ],
        },
    }
    show(report)  # renders without raising; the numbers come from the report as given
    from zoo.bench.sizes import SizeShape, benchmark_sizes
    from zoo.errors import ZooError

    with pytest.raises(ZooError, match="unknown contender"):
        benchmark_sizes([SizeShape("toy", 1, 32, 2, 32, 4, 256)], contenders=["pytorch"])


@pytest.mark.slow
def test_gpu_check_script_runs_end_to_end_on_the_cpu_when_allowed(tmp_path):
    """The prepared GPU script is only ever run on a lent GPU; this runs its whole path (data,
    `zoo train` per backend, the JSON per backend and the summary) on the CPU at nano size."""
    import os
    import pathlib
    import subprocess

    script = pathlib.Path(__file__).parents[1] / "scripts" / "gpu_check.sh"
    env = {
        **os.environ,
        "ALLOW_CPU": "1",
        "PRESET": "gpt2-nano",
        "STEPS": "2",
        "TOKENS": "100000",
        "BACKENDS": "tensorflow",
        "OUT": str(tmp_path / "gpu"),
    }
    done = subprocess.run(
        ["bash", str(script)], env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads((tmp_path / "gpu" / "gpu-check.json").read_text())
    (row,) = report["rows"]
    assert row["backend"] == "tensorflow" and row["exit_status"] == 0 and row["steps"] == 2
    assert report["best_backend"] == "tensorflow" and report["goal_met"] is False
    assert report["best_mfu"] == pytest.approx(row["mfu"])


@pytest.mark.slow
def test_attention_bench_on_jax_has_the_fused_kernel_and_the_compiled_programs_bytes(tmp_path):
    """JAX fuses (its dot_product_attention): three kernels, each with XLA's buffer plan; the
    dense program's bytes grow faster than the banded one's (T² scores against T·2w)."""
    import subprocess
    import sys

    out = tmp_path / "attention.json"
    subprocess.run(
        [sys.executable, "-m", "zoo_cli.main", "bench", "attention", "--backend", "jax"]
        + ["--lengths", "64,128,256", "--window", "16", "--repeats", "1", "--out", str(out)],
        check=True,
        capture_output=True,
    )
    attention = json.loads(out.read_text())["attention"]
    assert attention["kinds"] == list(KINDS) and attention["unavailable"] == {}
    xla = {(r["scope"], r["kind"], r["seq_len"]): r["xla_bytes"] for r in attention["rows"]}
    for kind in ("dense", "fused"):
        assert (
            xla["layer", kind, 256] / xla["layer", kind, 64]
            > xla["layer", "banded", 256] / xla["layer", "banded", 64]
        )


@pytest.mark.slow
def test_parallel_memory_measured_on_virtual_devices_is_the_accounting():
    """Weights and optimizer state per device, read from each device's shards, equal the pure
    accounting for every layout; ZeRO-1 quarters the optimizer state on 4 devices and leaves
    the weights whole; gradients are at least their slice (XLA may return one whole)."""
    from zoo.bench.parallel import benchmark_parallel, layouts

    result = benchmark_parallel(device_counts=(1, 4), steps=1)
    rows = {(r["devices"], r["layout"]): r for r in result["measured"]}
    assert set(rows) == {(n, name) for n in (1, 4) for name, _, _ in layouts(n)}
    for row in rows.values():
        for part in ("parameters", "optimizer"):
            assert row[part] == row["accounted"][part], (row["layout"], part)
        assert row["gradients"] >= row["accounted"]["gradients"]
    whole = rows[1, "data"]
    assert rows[4, "data"]["parameters"] == whole["parameters"] == 4 * result["model"]["params"]
    assert rows[4, "data + ZeRO-1"]["optimizer"] == whole["optimizer"] // 4
    assert rows[4, "data + ZeRO-1"]["parameters"] == whole["parameters"]
    assert rows[4, "tensor"]["parameters"] < whole["parameters"] / 3  # all but the norms / 4
    accounted = {(r["model"], r["devices"], r["layout"]) for r in result["accounted"]}
    assert ("palm-540b", 4, "tensor 2 × data + ZeRO-1") in accounted


REFERENCE = pathlib.Path(__file__).parents[1] / "results/reference"


@pytest.mark.parametrize("name", ["bench-attention", "bench-parallel"])
def test_bench_show_prints_a_committed_report_and_draws_its_figure(tmp_path, name):
    plot = tmp_path / f"{name}.png"
    result = CliRunner().invoke(
        app, ["bench", "show", str(REFERENCE / f"{name}.json"), "--plot", str(plot)]
    )
    assert result.exit_code == 0, result.output
    assert f"plot written to {plot}" in result.stdout and plot.stat().st_size > 10_000


@pytest.mark.parametrize("args, fragment", [
    (["missing.json"], "no report at missing.json"),
    ([str(REFERENCE / "continued-llama.json")], "is not a report of zoo bench"),
    ([str(REFERENCE / "bench-generate.json"), "--plot", "{tmp}/g.png"],
     "--plot draws zoo bench attention's and zoo bench parallel's reports"),
    ([str(REFERENCE / "bench-attention.json"), "--plot", "{tmp}/a.gif"], "--plot must end in"),
])  # fmt: skip
def test_bench_show_refuses_in_one_line_and_writes_nothing(tmp_path, args, fragment):
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    assert_one_line(CliRunner().invoke(app, ["bench", "show", *args]), fragment)
    assert not any(tmp_path.glob("*.png")) and not any(tmp_path.glob("*.gif"))
