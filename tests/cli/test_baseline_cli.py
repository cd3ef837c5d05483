"""`zoo baseline`, and the n-gram baseline beside trained models (`zoo compare`, `zoo train`)."""

import copy
import json

import pytest
from rich.console import Console
from typer.testing import CliRunner

from zoo_cli import baseline, main

runner = CliRunner(env={"COLUMNS": "120"})
pytestmark = pytest.mark.usefixtures("isolated")


def _app():
    """The zoo app with `zoo baseline`, whether or not main.py registers it yet."""
    if any(group.typer_instance is baseline.app for group in main.app.registered_groups):
        return main.app
    app = copy.copy(main.app)
    app.registered_groups = list(main.app.registered_groups)
    app.add_typer(baseline.app)
    return app


app = _app()


def test_json_holds_bits_per_byte_and_how_the_order_was_chosen(corpus):
    first = runner.invoke(app, ["baseline", "--data", str(corpus), "--json"])
    assert first.exit_code == 0, first.output
    result = json.loads(first.stdout)
    assert {
        "bits_per_byte",
        "order",
        "orders",
        "build_seconds",
        "cached",
        "data",
        "corpus_fingerprint",
    } <= set(result)
    assert 0 < result["bits_per_byte"] < result["unigram_bits_per_byte"]
    assert sorted(map(int, result["orders"])) == list(range(1, 9))
    assert result["orders"][str(result["order"])] == min(result["orders"].values())
    assert result["data"] == str(corpus) and not result["cached"]
    again = json.loads(runner.invoke(app, ["baseline", "--data", str(corpus), "--json"]).stdout)
    assert again["cached"] and again["bits_per_byte"] == result["bits_per_byte"]


def test_table_names_the_order_its_scores_and_the_unigram(corpus):
    result = runner.invoke(app, ["baseline", "--data", str(corpus)])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "bits/byte on validation" in out and "← chosen" in out
    assert "the validation split is not read" in out and "unigram (add-one) baseline" in out
    given = runner.invoke(app, ["baseline", "--data", str(corpus), "--order", "3"])
    assert given.exit_code == 0 and "order 3, as given" in given.stdout


@pytest.mark.parametrize("args, fragment", [
    (["--order", "0"], "from 1 to 8"),
    (["--order", "9"], "from 1 to 8"),
    (["--data", "tokens:/nowhere/train.bin"], "needs a text corpus"),
    (["--data", "/nowhere/at/all"], "no corpus at"),
])  # fmt: skip
def test_bad_input_is_one_line(args, fragment):
    result = runner.invoke(app, ["baseline", *args])
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0]
    assert result.stdout == "" and "Traceback" not in result.output


def _comparison(baseline_row):
    row = {
        "model": "gpt2-nano",
        "params": 1e5,
        "non_embedding_params": 5e4,
        "num_layers": 2,
        "hidden_dim": 32,
        "tokens": 1e4,
        "tokens_per_parameter": 0.1,
        "flops": 1e9,
        "learning_rate": 1e-3,
        "tokens_per_second": None,
        "mfu": None,
        "final_train_loss": 5.0,
        "validation_loss": 4.0,
        "validation_bits_per_byte": 2.5,
        "delta_bits_per_byte": 0.0,
        "curves": [
            [{"flops": 1e8, "validation_loss": 5.0}, {"flops": 1e9, "validation_loss": 4.0}]
        ],
    }
    return {
        "budget_flops": 1e9,
        "data": "x",
        "tokenizer": "shared",
        "seeds": 1,
        "rows": [row],
        "baseline": baseline_row,
    }


def test_compare_shows_the_baseline_as_a_row_and_a_line(tmp_path):
    from zoo.comparison.plot import _baseline_levels, plot_comparison
    from zoo_cli.compare import _table

    yardstick = {"name": "KN n-gram (order 6)", "order": 6, "bits_per_byte": 2.0}
    console = Console(width=200, record=True)
    console.print(_table(_comparison(yardstick)))
    lines = [line for line in console.export_text().splitlines() if "KN n-gram" in line]
    assert len(lines) == 1 and "2.000" in lines[0]
    assert _baseline_levels(_comparison(yardstick)) == [pytest.approx(2.0 * 4.0 / 2.5)]
    assert _baseline_levels(_comparison(None)) == []
    plot_comparison(_comparison(yardstick), tmp_path / "p.svg")
    assert "KN n-gram (order 6)" in (tmp_path / "p.svg").read_text()
    console = Console(width=200, record=True)
    console.print(_table(_comparison(None)))  # pre-tokenized data: no baseline row
    assert "KN n-gram" not in console.export_text()


def test_train_summary_shows_the_ngram_beside_the_unigram():
    from zoo_cli.progress import RichReporter

    summary = {
        "steps": 2,
        "tokens": 64,
        "flops": 1e9,
        "final_train_loss": 5.0,
        "validation_loss": 4.0,
        "validation_windows": 3,
        "validation_bits_per_byte": 2.5,
        "unigram_bits_per_byte": 4.8,
        "ngram_bits_per_byte": 2.1,
        "ngram_order": 7,
        "wall_time": 3.0,
    }
    console = Console(width=120, record=True)
    RichReporter(console).end(summary)
    text = console.export_text()
    assert "unigram bits/byte" in text and "KN n-gram bits/byte" in text
    assert "2.100 (order 7)" in text
