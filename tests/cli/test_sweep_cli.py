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
    result = runner.invoke(app, ["sweep", "isoflop", "--model", "llama-nano", "--budgets",
                                 "1e10,3e10", "--sizes", "3", "--data", str(corpus),
                                 "--jobs", "1", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "isoflop sweep plan · 6 runs" in result.stdout and "· 1 job" in result.stdout
    assert "estimated" in result.stdout and "dry run: nothing trained" in result.stdout
    assert "Porian" in result.stdout  # the learning-rate rule is stated
    results = tmp_path / "results"
    assert not results.exists() or not any(results.iterdir())


@pytest.mark.slow
def test_dry_run_json_is_one_object(corpus):
    result = runner.invoke(app, ["sweep", "compute", "--models", "gpt2-nano,llama-nano",
                                 "--budgets", "1e10,3e10", "--seeds", "2", "--data",
                                 str(corpus), "--dry-run", "--json"])
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)
    assert plan["kind"] == "compute" and plan["models"] == ["gpt2-nano", "llama-nano"]
    from zoo.scaling.jobs import default_jobs

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
    (["isoflop", "--model", "llama-nano", "--budgets", "1e10,3e10", "--jobs", "0"],
     "--jobs must be at least 1; received 0"),
    (["compute", "--models", "gpt2-nano", "--budgets", "1e10,3e10", "--jobs", str(CPUS + 1)],
     f"--jobs must be at most the {CPUS} CPUs available here; received {CPUS + 1}"),
])  # fmt: skip
def test_bad_input_is_one_line_before_anything_trains(corpus, tmp_path, args, fragment):
    result = runner.invoke(app, ["sweep", *args, "--data", str(corpus)])
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0], \
        result.stderr
    results = tmp_path / "results"
    assert not results.exists() or not any(results.iterdir())
