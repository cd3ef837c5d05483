"""`zoo sweep` on the command line: the dry-run plan, and bad input as one line, exit 2, before
anything trains or is written."""

import json
import os

import pytest
from typer.testing import CliRunner

from zoo_cli.main import app

CPUS = len(os.sched_getaffinity(0))

runner = CliRunner(env={"COLUMNS": "200"})
pytestmark = pytest.mark.usefixtures("isolated")


@pytest.mark.slow
def test_dry_run_prints_the_plan_and_trains_nothing(corpus, tmp_path):
    result = runner.invoke(
        app,
        [
            "sweep",
            "isoflop",
            "--model",
            "llama-nano",
            "--budgets",
            "1e10,3e10",
            "--sizes",
            "3",
            "--data",
            str(corpus),
            "--jobs",
            "1",
            "--dry-run",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "isoflop sweep plan · 6 runs" in result.stdout and "· 1 job" in result.stdout
    assert "estimated" in result.stdout and "dry run: nothing trained" in result.stdout
    assert "Porian" in result.stdout  # the learning-rate rule is stated
    results = tmp_path / "results"
    assert not results.exists() or not any(results.iterdir())


@pytest.mark.slow
def test_dry_run_json_is_one_object(corpus):
    result = runner.invoke(
        app,
        [
            "sweep",
            "compute",
            "--models",
            "gpt2-nano,llama-nano",
            "--budgets",
            "1e10,3e10",
            "--seeds",
            "2",
            "--data",
            str(corpus),
            "--dry-run",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)
    assert plan["kind"] == "compute" and plan["models"] == ["gpt2-nano", "llama-nano"]
    from zoo.experiments.pool import default_jobs

    assert plan["jobs"] == default_jobs()  # the default, recorded
    assert len(plan["plan"]) == 2 * 2 * 2 and plan["estimated_seconds"] > 0


@pytest.mark.parametrize("args, fragment", [
    (["isoflop", "--model", "llama-nano", "--budgets", "3e10,1e10"], "must increase"),
    (["isoflop", "--model", "llama-nano", "--budgets", "1e10,inf"], "finite"),
    (["isoflop", "--model", "llama-nano", "--budgets", "1e10,nan"], "finite"),
    (["isoflop", "--model", "llama-nano", "--budgets", "1e10,3e10", "--sizes", "1"],
     "--sizes must be at least 3"),
    (["isoflop", "--model", "nope", "--budgets", "1e10,3e10"], "nope"),
    (["isoflop", "--model", "llama-nano", "--budgets", "1e10,3e10", "--params", "kaplan"],
     "params convention"),
    (["compute", "--models", "gpt2-nano,nope", "--budgets", "1e10,3e10"], "nope"),
    (["compute", "--models", "gpt2-nano", "--budgets", "1e10,3e10", "--allocation", "x"],
     "--allocation"),
    (["isoflop", "--model", "llama-nano", "--budgets", "1e10,3e10", "--plot", "a.gif"],
     "--plot must end in"),
    (["rates", "--models", "llama-nano", "--budgets", "1e10,3e10", "--plot", "a.txt"],
     "--plot must end in"),
    (["continued", "--models", "llama-nano", "--budgets", "1e10", "--plot", "a.txt"],
     "--plot must end in"),
    (["isoflop", "--model", "llama-nano", "--budgets", "1e10,3e10", "--jobs", "0"],
     "--jobs must be at least 1; received 0"),
    (["compute", "--models", "gpt2-nano", "--budgets", "1e10,3e10", "--jobs", str(CPUS + 1)],
     f"--jobs must be at most the {CPUS} CPUs available here; received {CPUS + 1}"),
    (["compute", "--models", "gpt2-nano", "--budgets", "1e10,3e10", "--bootstrap", "-1"],
     "--bootstrap must be a whole number of resamples, 0 or more; received -1"),
    (["isoflop", "--model", "llama-nano", "--budgets", "1e10,3e10", "--bootstrap", "-20"],
     "--bootstrap must be a whole number of resamples, 0 or more; received -20"),
    (["rates", "--models", "llama-nano", "--budgets", "1e10,3e10", "--rate-factors", "1,0"],
     "--rate-factors takes positive multipliers, e.g. 0.5,1,2; received '0'"),
    (["rates", "--models", "llama-nano", "--budgets", "1e10,3e10", "--batch-factors", "2,2"],
     "--batch-factors needs distinct multipliers"),
    (["compute", "--models", "gpt2-nano", "--budgets", "1e10,3e10", "--shapes", "tall"],
     "--shapes must be one of family-heads, papers; received 'tall'"),
])  # fmt: skip
def test_bad_input_is_one_line_before_anything_trains(corpus, tmp_path, args, fragment):
    result = runner.invoke(app, ["sweep", *args, "--data", str(corpus)])
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0], (
        result.stderr
    )
    results = tmp_path / "results"
    assert not results.exists() or not any(results.iterdir())


def test_sweep_chooses_its_backend_as_train_does(monkeypatch):
    """`--backend auto` is resolved with the strategy, before Keras is imported: a JAX-only
    strategy picks jax for `zoo sweep` as for `zoo train` (the sweep once dropped the strategy,
    so --strategy data-parallel chose tensorflow on CPU and was refused)."""
    import typer

    from zoo_cli import options

    calls = []

    def use_backend(backend, strategy=None):
        calls.append((backend, strategy))
        raise typer.Exit(0)  # in this process Keras's backend is chosen already: stop here

    monkeypatch.setattr(options, "use_backend", use_backend)
    for command in (
        ["train", "gpt2-nano"],
        ["sweep", "compute", "--models", "gpt2-nano", "--budgets", "1e10,3e10"],
        ["sweep", "isoflop", "--model", "llama-nano", "--budgets", "1e10,3e10"],
    ):
        for strategy in ("data-parallel", "mirrored", "none"):
            result = runner.invoke(app, [*command, "--backend", "auto", "--strategy", strategy])
            assert result.exit_code == 0, result.output
    assert calls == [("auto", "data-parallel"), ("auto", "mirrored"), ("auto", "none")] * 3


@pytest.mark.slow
@pytest.mark.skipif(not __import__("importlib.util").util.find_spec("jax"), reason="needs jax")
def test_sweep_backend_auto_with_a_jax_strategy_plans_on_jax(corpus):
    import subprocess
    import sys

    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "zoo_cli.main",
            "sweep",
            "compute",
            "--models",
            "gpt2-nano",
            "--budgets",
            "1e10,3e10",
            "--data",
            str(corpus),
            "--backend",
            "auto",
            "--strategy",
            "data-parallel",
            "--dry-run",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "KERAS_BACKEND": "tensorflow"},
    )  # auto decides, not the variable
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    assert plan["jobs"] == 1 and len(plan["plan"]) == 2


def _finished_sweep(points, failed=()):
    """What `zoo.experiments.sweep.sweep_compute` returns for `points`, its fit as it makes it."""
    from zoo.experiments import sweep as sweeps
    from zoo.scaling.fit import fit_compute

    return {
        "kind": "compute",
        "data": "works",
        "points": list(points),
        "failed": list(failed),
        "baseline": None,
        "fits": {"compute": sweeps._fit(fit_compute, points, bootstrap=5)},
        "wall_seconds": 20.0,
        "estimated_seconds": 18.0,
        "run_seconds": 16.0,
        "jobs": 1,
        "workers": 1,
    }


def _point(arm, budget, params, loss):
    return {
        "arm": arm,
        "budget": budget,
        "seed": 0,
        "params": params,
        "tokens": budget / 6e4,
        "flops": budget,
        "loss": loss,
        "bits_per_byte": loss / 0.6931,
        "epochs": 0.1,
    }


@pytest.mark.parametrize("points, failed, note", [
    ([_point("gpt2-nano", 1e10, 8000, 3.1), _point("gpt2-nano", 3e10, 15000, 2.9)], [],
     "the points alone, without the compute fit (arm 'gpt2-nano' has 2 points at 2 budgets"),
    ([], [{"arm": "gpt2-nano", "budget": 1e10, "seed": 0, "num_layers": 1, "hidden_dim": 16,
           "params": 8000, "step": 40}],
     "no plot written to {plot}: no run finished, so there is no point to draw"),
])  # fmt: skip
def test_the_table_prints_when_the_fit_cannot_be_made_and_the_plot_says_why(
    monkeypatch, tmp_path, points, failed, note
):
    """Before: `--plot` raised KeyError: 'arms' in zoo/scaling/fit_plot.py and the table of the
    sweep's hours of training was never printed."""
    from zoo.experiments import sweep as sweeps

    monkeypatch.setattr(sweeps, "sweep_compute", lambda **kwargs: _finished_sweep(points, failed))
    plot = tmp_path / "sweep.png"
    result = runner.invoke(
        app,
        [
            "sweep",
            "compute",
            "--models",
            "gpt2-nano",
            "--budgets",
            "1e10,3e10",
            "--jobs",
            "1",
            "--plot",
            str(plot),
        ],
    )
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "compute sweep · works" in out and "not fitted" in out and "wall time 20 s" in out
    assert out.index("wall time") < out.index(note.format(plot=plot)[:40])
    assert " ".join(out.split()).count(" ".join(note.format(plot=plot).split())) == 1
    assert plot.exists() == bool(points)
    assert ("plots written to" in out) == bool(points)
    if points:
        assert f"plots written to {plot}" in out
