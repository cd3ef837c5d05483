"""`zoo list` and `zoo info`: every number they print equals the library's, and user errors are
one line on stderr with exit status 2."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

import zoo
from tests.helpers import invoker
from zoo_cli.main import app
from zoo_cli.output import user_errors

# COLUMNS pins rich's width: the list table is laid out for 120 columns.
runner = CliRunner(env={"COLUMNS": "120"})
invoke = invoker(app, columns=120)


def test_help_lists_the_commands():
    result = invoke("--help")
    assert result.exit_code == 0
    assert "list" in result.stdout and "info" in result.stdout


def test_list_shows_every_preset():
    result = invoke("list")
    assert result.exit_code == 0, result.output
    for recipe in zoo.list_recipes():
        assert recipe.name in result.stdout
    assert result.stderr == ""


def test_list_fits_120_columns():
    lines = invoke("list").stdout.splitlines()
    assert max(len(line.rstrip()) for line in lines) <= 120


def test_list_json_has_one_exact_row_per_preset():
    result = invoke("list", "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    recipes = zoo.list_recipes()
    assert [row["name"] for row in rows] == [r.name for r in recipes]
    for row, recipe in zip(rows, recipes):
        assert row["params"] == zoo.count_params(recipe.model)
        assert row["non_embedding_params"] == zoo.count_non_embedding_params(recipe.model)
        assert row["num_key_value_heads"] == recipe.model.num_key_value_heads
        assert row["attention_pattern"] == [a.value for a in recipe.model.attention_pattern]


def test_list_passes_filters_to_the_library(monkeypatch):
    calls = []
    real = zoo.list_recipes

    def spy(family=None, scale=None):
        calls.append((family, scale))
        return real(family=family, scale=scale)

    monkeypatch.setattr(zoo, "list_recipes", spy)
    result = invoke("list", "--family", "PaLM", "--scale", "paper", "--json")
    assert result.exit_code == 0, result.output
    assert calls == [("PaLM", "paper")]  # the library normalises case
    assert [row["name"] for row in json.loads(result.stdout)] == [
        r.name for r in real(family="palm", scale="paper")
    ]


def test_list_unknown_family_is_a_user_error():
    result = invoke("list", "--family", "lama")
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert result.stderr.startswith("error: ") and "llama" in result.stderr
    assert result.stdout == ""


def test_list_bad_scale_exits_2():
    result = invoke("list", "--scale", "huge")
    assert result.exit_code == 2
    assert "Traceback" not in result.output


def test_info_json_palm_540b_matches_the_library():
    result = invoke("info", "palm-540b", "--json")
    assert result.exit_code == 0, result.output
    card = json.loads(result.stdout)
    recipe = zoo.get_recipe("palm-540b")
    for key in (
        "name", "family", "scale", "params", "non_embedding_params", "params_by_component",
        "reported_params", "flops_per_token", "chinchilla_optimal_tokens", "config", "training",
        "citation", "choices",
    ):  # fmt: skip
        assert key in card
    assert card["name"] == "palm-540b"
    assert card["params"] == zoo.count_params(recipe.model)
    assert sum(card["params_by_component"].values()) == card["params"]
    assert card["reported_params"] == recipe.reported_params
    assert card["config"] == recipe.model.to_dict()
    assert card["training"] == recipe.training.to_dict()
    assert card["chinchilla_optimal_tokens"] == zoo.chinchilla_optimal_tokens(recipe.model)
    flops = card["flops_per_token"]
    assert flops["seq_len"] == 2048
    assert flops["palm"] == pytest.approx(3.28e12, rel=1e-3)  # PaLM Table 22
    expected = zoo.flops_per_token(recipe.model)
    assert flops["forward"] == expected.forward and flops["training"] == expected.training
    assert flops["components"] == expected.components


def test_info_bare_family_resolves_to_its_small_twin():
    result = invoke("info", "palm", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["name"] == "palm-small"
    assert "palm-small" in invoke("info", "palm").stdout


@pytest.mark.parametrize("name", [r.name for r in zoo.list_recipes()])
def test_info_renders_every_preset(name):
    result = invoke("info", name)
    assert result.exit_code == 0, result.output
    assert name in result.stdout
    assert f"{zoo.count_params(zoo.get_recipe(name).model):,}" in result.stdout


def test_info_unknown_name_is_one_line_on_stderr():
    result = invoke("info", "plam-small")
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: ") and "palm-small" in lines[0]
    assert "Traceback" not in result.output


def test_info_help():
    result = invoke("info", "--help")
    assert result.exit_code == 0
    assert "NAME" in result.stdout and "--json" in result.stdout


def test_user_errors_print_one_line_and_exit_2():
    one = typer.Typer()

    @one.command()
    def broken(value: int = 1):
        with user_errors(keras=False):
            raise zoo.ConfigError(f"first line {value}\n  second line")

    result = runner.invoke(one, ["--value", "7"])
    assert result.exit_code == 2
    assert result.stderr == "error: first line 7 second line\n"


def test_help_does_not_import_the_library():
    # `zoo --help` and shell completion must not pay for importing Keras or TensorFlow.
    code = (
        "import sys, zoo_cli.main; sys.exit('keras' in sys.modules or 'tensorflow' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


@pytest.mark.slow
def test_console_script_prints_only_json_on_stdout():
    script = Path(sys.executable).with_name("zoo")
    assert script.exists(), "the `zoo` console script is not installed in this environment"
    done = subprocess.run(
        [str(script), "info", "gpt2-124m", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        env={k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"},
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["params"] == 124439808
    # TensorFlow's pre-initialisation absl lines are filtered (zoo_cli.library).
    assert "absl::InitializeLog" not in done.stderr
