"""zoo compare: allocation, ablations, reuse of identical runs, JSON schema, bad names."""

import json

import pytest
from typer.testing import CliRunner

import zoo
from zoo.comparison import compute_optimal_config, parse_ablations, tokens_per_parameter
from zoo.training.trainer import plan_run
from zoo_cli.main import app

runner = CliRunner()
pytestmark = pytest.mark.usefixtures("isolated")


@pytest.mark.parametrize("budget", [3e12, 1.5e13, 1e14, 1e15])
def test_compute_optimal_resizing_lands_near_20_tokens_per_parameter(budget):
    base = zoo.get_recipe("chinchilla-small").model
    sized = compute_optimal_config(base, budget)
    assert tokens_per_parameter(sized, budget) == pytest.approx(20, rel=0.10)
    # The family's choices survive; only the shape moved.
    for field in (
        "position",
        "normalization",
        "feedforward",
        "residual",
        "use_bias",
        "tie_embeddings",
        "vocabulary_size",
        "max_sequence_length",
    ):
        assert getattr(sized, field) == getattr(base, field)
    assert sized.intermediate_dim == 4 * sized.hidden_dim


def test_kaplan_recipes_keep_their_size_and_chinchilla_resizes(corpus):
    from zoo.experiments.comparison import _allocate
    from zoo.experiments.grid import Arm

    gopher, resized = _allocate(Arm("gopher-small", "gopher-small", {}), 1.5e13)
    chinchilla, optimal = _allocate(Arm("chinchilla-small", "chinchilla-small", {}), 1.5e13)
    assert (gopher, resized, optimal) == ({}, False, True)
    assert chinchilla["num_layers"] * chinchilla["hidden_dim"] < 4 * 152


def test_every_ablated_variant_differs_in_exactly_one_field(corpus):
    text = (
        "position=learned,normalization=layernorm,feedforward=gelu,"
        "attention_pattern=dense,local+local_window=8"
    )
    variants = parse_ablations(text)
    assert variants[3] == {"attention_pattern": ("dense", "local"), "local_window": 8}
    assert [len(v) for v in variants] == [1, 1, 1, 2]  # '+' joins changes that need each other
    base = plan_run("llama-nano", data=str(corpus), steps=1)
    for changes in variants:
        plan = plan_run("llama-nano", data=str(corpus), steps=1, overrides=changes)
        before, after = base.model.to_dict(), plan.model.to_dict()
        differing = [k for k in before if before[k] != after[k]]
        assert differing == list(changes), (changes, differing)
        assert plan.training == base.training


@pytest.mark.slow
def test_compare_reuses_only_identical_runs_and_json_schema(corpus, tmp_path):
    args = [
        "compare",
        "--models",
        "gpt2-nano,palm-nano",
        "--data",
        str(corpus),
        "--budget",
        "1e9",
        "--json",
        "--plot",
        str(tmp_path / "p.svg"),
    ]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    result = json.loads(first.stdout)
    assert set(result) == {
        "budget_flops",
        "data",
        "tokenizer",
        "seeds",
        "tune_lr",
        "rows",
        "baseline",
    }
    assert set(result["baseline"]) == {"name", "order", "bits_per_byte"}
    assert result["baseline"]["name"] == f"KN n-gram (order {result['baseline']['order']})"
    row_keys = {
        "model",
        "preset",
        "changes",
        "params",
        "non_embedding_params",
        "num_layers",
        "hidden_dim",
        "tokens",
        "flops",
        "tokens_per_parameter",
        "learning_rate",
        "tokens_per_second",
        "mfu",
        "final_train_loss",
        "validation_loss",
        "validation_bits_per_byte",
        "bits_per_byte_spread",
        "delta_bits_per_byte",
        "seeds",
        "runs",
        "curves",
    }
    assert [set(r) for r in result["rows"]] == [row_keys, row_keys]
    assert [r["model"] for r in result["rows"]] == ["gpt2-nano", "palm-nano"]
    assert result["rows"][0]["delta_bits_per_byte"] == 0.0
    assert all(r["flops"] >= 1e9 for r in result["rows"])  # whole steps: at least the budget
    assert (tmp_path / "p.svg").read_text().startswith("<?xml")
    runs_before = sorted(p.name for p in (tmp_path / "results").iterdir())
    assert len(runs_before) == 2

    again = runner.invoke(app, args)  # identical: reused, nothing new trained
    assert again.exit_code == 0
    assert "reused" in again.stderr
    assert json.loads(again.stdout)["rows"] == result["rows"]
    assert sorted(p.name for p in (tmp_path / "results").iterdir()) == runs_before

    changed = runner.invoke(app, args[:-3] + ["--set", "dropout=0.1", "--json"])
    assert changed.exit_code == 0, changed.output
    assert len(list((tmp_path / "results").iterdir())) == 4  # any field change retrains


@pytest.mark.parametrize(
    "args, expected",
    [
        (["--models", "gpt2-nano,plam-nano"], "palm-nano"),
        (["--models", "llama-nano", "--ablate", "normalisation=layernorm"], "normalization"),
        (["--models", "llama-nano", "--set", "hiden_dim=8"], "hidden_dim"),
        (["--models", "gpt2-nano,llama-nano", "--ablate", "position=learned"], "one base model"),
        (["--models", "llama-nano", "--budget", "-1"], "positive"),
        (["--models", "llama-nano", "--plot", "x.gif"], ".png"),
    ],
)
def test_bad_names_exit_2_with_the_nearest(corpus, args, expected):
    result = runner.invoke(app, ["compare", *args, "--data", str(corpus)])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("error: ") and expected in lines[-1]
    assert "Traceback" not in result.output


@pytest.mark.slow
def test_tune_lr_and_seeds(corpus):
    """--tune-lr picks a rate from the grid by training loss; --seeds reports the spread."""
    from zoo.experiments.tuning import LR_GRID

    result = zoo.compare("gpt2-nano", budget=6e8, data=str(corpus), seeds=2, tune_lr=True)
    (row,) = result["rows"]
    peak = zoo.get_recipe("gpt2-nano").training.learning_rate
    assert row["learning_rate"] in [pytest.approx(peak * f) for f in LR_GRID]
    assert row["seeds"] == 2 and len(row["runs"]) == 2
    assert row["bits_per_byte_spread"] is not None and row["bits_per_byte_spread"] >= 0
    configs = [zoo.find_run(path).config() for path in row["runs"]]
    assert [c["run"]["seed"] for c in configs] == [0, 1]
    assert all(c["training"]["learning_rate"] == row["learning_rate"] for c in configs)


@pytest.mark.parametrize("models, ablate", [("gpt2,llama", None), ("llama", "position=learned")])
def test_the_comparison_grid_plans_the_recorded_keys(models, ablate, monkeypatch):
    """`zoo compare` is a one-budget grid: planned as one, its runs keep the keys recorded
    (scripts/record_plan_keys.py) before it was, so earlier comparisons are still reused."""
    import pathlib

    from zoo.experiments import grid
    from zoo.experiments.comparison import DEFAULT_BUDGET, plan_comparison

    monkeypatch.delenv("ZOO_CACHE")  # the recorded keys are of Shakespeare's shared tokenizer
    path = pathlib.Path(__file__).parents[1] / "training" / "data" / "plan-keys.json"
    recorded = [r["key"] for r in json.loads(path.read_text()) if r["study"] == f"compare {models}"]
    base = grid.shared_run_config(None, {}, "comparison", "").replace(flops=DEFAULT_BUDGET)
    planned = plan_comparison(grid.parse_arms(models, ablate), DEFAULT_BUDGET, 1, base)
    assert [p.plan.key for p in planned] == recorded


@pytest.mark.slow
def test_compare_trains_its_grid_in_workers_and_a_diverged_arm_fails_at_the_end(corpus):
    """`jobs=2` trains the comparison's runs side by side; the same comparison at `jobs=1` then
    finds every run by its key (the same table). An arm that diverges does not stop the others:
    they finish, and the comparison raises `RunFailed` naming it."""
    from tests.helpers import Statuses

    request = dict(budget=3e8, data=str(corpus), eval_interval=4)
    side_by_side = zoo.compare("gpt2-nano,llama-nano", jobs=2, **request)
    statuses = Statuses()
    again = zoo.compare("gpt2-nano,llama-nano", jobs=1, reporter=statuses, **request)
    assert statuses.seen == ["reused", "reused"]
    assert again["rows"] == side_by_side["rows"]

    statuses = Statuses()
    with pytest.raises(zoo.RunFailed, match="^1 of 2 runs failed; first gpt2-nano learning_rate="):
        zoo.compare("gpt2-nano", ablate="learning_rate=1e6", reporter=statuses, **request)
    assert statuses.seen == ["reused", "training"]  # the base arm was found, the variant failed
    statuses = Statuses()
    with pytest.raises(zoo.RunFailed):  # a rerun does not train the failed run again
        zoo.compare("gpt2-nano", ablate="learning_rate=1e6", reporter=statuses, **request)
    assert statuses.seen == ["reused", "failed before"]


@pytest.mark.parametrize("preset", ["gpt2", "gpt3-2.7b", "palm-8b", "llama-7b", "mistral-7b"])
@pytest.mark.parametrize("budget", [1e12, 3e13])
def test_papers_shapes_keep_whole_heads_of_a_fixed_width_and_the_layers_asked(preset, budget):
    """`head_dim` fixes the head width (heads follow the width) and `min_layers` the depth, as
    Kaplan's and Chinchilla's small models were sized; key/value grouping is the family's."""
    base = zoo.get_recipe(preset).model.replace(vocabulary_size=257)
    sized = compute_optimal_config(base, budget, aspect_tolerance=3.0, min_layers=2, head_dim=32)
    assert sized.num_layers >= 2 and sized.head_dim == 32
    assert sized.hidden_dim == 32 * sized.num_query_heads
    if base.num_key_value_heads == 1:
        assert sized.num_key_value_heads == 1  # multi-query stays multi-query
    else:
        group = base.num_query_heads // base.num_key_value_heads
        assert sized.num_query_heads == group * sized.num_key_value_heads
    assert sized.intermediate_dim == round(
        base.intermediate_dim / base.hidden_dim * sized.hidden_dim
    )
    assert sized.attention_pattern == base.attention_pattern[: sized.num_layers]
    for field in ("position", "normalization", "feedforward", "residual", "tie_embeddings"):
        assert getattr(sized, field) == getattr(base, field)


def test_without_the_new_arguments_the_shapes_are_as_before():
    """The default keeps the family's head count: the shapes the committed studies trained."""
    base = zoo.get_recipe("llama").model.replace(vocabulary_size=257)
    sized = compute_optimal_config(base, 1e11, aspect_tolerance=3.0)
    assert sized.num_query_heads == base.num_query_heads
    with pytest.raises(zoo.ZooError, match="head_dim must be even"):
        compute_optimal_config(base, 1e11, head_dim=31)
