"""Reuse is keyed by the `RunConfig` fields that affect results, and by nothing else."""

import pytest

import zoo
from tests.helpers import Statuses
from zoo.run_config import RunConfig, result_fields
from zoo.training.trainer import plan_run

pytestmark = pytest.mark.usefixtures("isolated")


def _changed(field, corpus, tmp_path):
    """A value of `field` other than the base run's (base: steps=2 on `corpus`). A new field
    that affects results fails here until it is given a value: the test covers it by
    construction."""
    other = tmp_path / "other"
    if not other.exists():
        other.mkdir()
        for path in sorted(corpus.iterdir()):
            (other / path.name).write_text(path.read_text().replace("king", "knave"))
    return {
        "data": str(other),
        "tokenizer": "shared",
        "tokens": 4 * 32 * 16,
        "flops": 1e9,
        "chinchilla": 0.001,
        "steps": 3,
        "batch_size": 8,
        "precision": "mixed_bfloat16",
        "seed": 1,
        "eval_interval": 7,
        "eval_windows": 8,
        "gradient_accumulation": 2,
        "patience": 3,
        "init_from": "__init__",
        "spike_guard": False,
        "rewind_after_spikes": 2,
        "passes": 2,
    }[field]


@pytest.fixture
def init_model(tmp_path):
    path = tmp_path / "init.keras"
    zoo.build("gpt2-nano").save(path)
    return str(path)


@pytest.mark.parametrize("field", result_fields())
def test_every_result_field_changes_the_key(field, corpus, tmp_path, init_model):
    base = RunConfig(data=str(corpus), steps=2)
    value = _changed(field, corpus, tmp_path)
    value = init_model if value == "__init__" else value
    budget = {name: None for name in ("tokens", "flops", "chinchilla", "steps")}
    changed = base.replace(**{**(budget if field in budget else {}), field: value})
    assert plan_run("gpt2-nano", changed).key != plan_run("gpt2-nano", base).key, field


def test_strategy_backend_and_output_do_not_change_the_key(corpus):
    base = RunConfig(data=str(corpus), steps=2)
    key = plan_run("gpt2-nano", base).key
    assert plan_run("gpt2-nano", base.replace(strategy="none")).key == key
    assert plan_run("gpt2-nano", base.replace(backend="tensorflow")).key == key


COMPARE_FIELDS = [
    "data",
    "tokenizer",
    "batch_size",
    "precision",
    "eval_interval",
    "eval_windows",
    "gradient_accumulation",
    "patience",
    "spike_guard",
    "rewind_after_spikes",
]


@pytest.mark.slow
def test_compare_retrains_for_each_result_field_and_reuses_otherwise(corpus, tmp_path):
    """One comparison, then each field the comparison takes changed alone: each retrains; the
    budget and the seeds are the comparison's own (--budget, --seeds), tested beside."""
    assert set(COMPARE_FIELDS) | {
        "tokens",
        "flops",
        "chinchilla",
        "steps",
        "seed",
        "init_from",
        "passes",  # zoo train's alone: a comparison's budget is fresh data, never repeated
    } == set(result_fields())
    base = dict(data=str(corpus), budget=2e8, tokenizer="native")

    def statuses(**changes):
        reporter = Statuses()
        zoo.compare("gpt2-nano", reporter=reporter, **{**base, **changes})
        return reporter.seen

    assert statuses() == ["training"]
    assert statuses() == ["reused"]
    assert statuses(strategy="none") == ["reused"]  # where it runs is not part of the key
    for field in COMPARE_FIELDS:
        assert statuses(**{field: _changed(field, corpus, tmp_path)}) == ["training"], field
    assert statuses(budget=4e8) == ["training"]
    assert statuses(seeds=2) == ["reused", "training"]


@pytest.mark.slow
def test_compare_reuses_a_run_trained_into_any_directory(corpus, tmp_path):
    record = zoo.train(
        "gpt2-nano",
        data=str(corpus),
        flops=2e8,
        tokenizer="shared",
        out=str(tmp_path / "results" / "named-by-hand"),
    )
    reporter = Statuses()
    result = zoo.compare("gpt2-nano", data=str(corpus), budget=2e8, reporter=reporter)
    assert reporter.seen == ["reused"]
    assert result["rows"][0]["runs"] == [str(record.path)]


@pytest.mark.slow
def test_an_interrupted_comparison_reruns_to_the_same_table(corpus, tmp_path, monkeypatch):
    """Ctrl-C before the first run's first checkpoint, then the same comparison again."""

    class Interrupt(Statuses):
        def step(self, progress):
            raise KeyboardInterrupt

    args = dict(data=str(corpus), budget=4e8)
    with pytest.raises(KeyboardInterrupt):
        zoo.compare("gpt2-nano,palm-nano", reporter=Interrupt(), **args)
    reporter = Statuses()
    rerun = zoo.compare("gpt2-nano,palm-nano", reporter=reporter, **args)
    assert reporter.seen == ["resumed", "training"]
    monkeypatch.setenv("ZOO_RESULTS", str(tmp_path / "fresh"))  # uninterrupted, elsewhere
    whole = zoo.compare("gpt2-nano,palm-nano", **args)
    keys = ("validation_loss", "final_train_loss", "tokens", "params")
    assert [{k: r[k] for k in keys} for r in rerun["rows"]] == [
        {k: r[k] for k in keys} for r in whole["rows"]
    ]
