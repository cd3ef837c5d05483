"""A run is its plan: keys that stay put, commits that belong to their run, and one command that
finishes a run whatever a kill left (`zoo train NAME --resume [auto] --out D`)."""

import json
import pathlib
import re
import shutil
import zipfile

import pytest

import zoo
from tests.helpers import Interrupt
from zoo.errors import ZooError
from zoo.files import PARTIAL_PREFIX
from zoo.storage.commits import IDENTITY_MEMBER, LOCK_NAME
from zoo.training import trainer
from zoo.training.plan import RunPlan

pytestmark = pytest.mark.usefixtures("isolated")
DATA = pathlib.Path(__file__).parent / "data"
ROOT = pathlib.Path(__file__).parents[2]


@pytest.mark.parametrize("name", ["guarded", "unguarded"])
def test_a_recorded_config_gives_back_its_key_and_its_plan(name):
    """config.json files written before the plan existed (seed, precision, ... stored twice):
    the plan read back has the key they were found by, and survives its own round trip."""
    recorded = json.loads((DATA / f"recorded-config-{name}.json").read_text())
    plan = RunPlan.from_record(recorded)
    assert plan.key == recorded["resolution_key"]
    again = RunPlan.from_record(json.loads(json.dumps(plan.to_dict())))
    assert again == plan and again.key == plan.key


def _requests(step):
    requests = json.loads((DATA / "plan-keys.json").read_text())
    return requests[::step]


def _replan(request):
    run = zoo.RunConfig(**request["run"])
    return trainer.plan_run(request["preset"], run, overrides=request["overrides"]).key


@pytest.mark.parametrize("request_", _requests(25), ids=lambda r: f"{r['study']}-{r['key']}")
def test_recorded_requests_plan_to_the_same_keys(request_, monkeypatch):
    """A sample of the cells of the committed studies and comparisons (`scripts/
    record_plan_keys.py`, recorded before `RunPlan` replaced the settings dict): the same keys."""
    monkeypatch.delenv("ZOO_CACHE")  # the shared tokenizer cache: these are Shakespeare's
    assert _replan(request_) == request_["key"]


@pytest.mark.slow
def test_every_recorded_request_plans_to_the_same_key(monkeypatch):
    monkeypatch.delenv("ZOO_CACHE")
    requests = _requests(1)
    assert [_replan(r) for r in requests] == [r["key"] for r in requests]


def test_training_reads_the_plan_by_attribute():
    """No settings dictionary read by string keys in zoo/training."""
    pattern = re.compile(r"settings\[|settings\.get\(")
    found = [
        f"{path.relative_to(ROOT)}:{n}"
        for path in (ROOT / "zoo" / "training").glob("*.py")
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert found == []


@pytest.mark.slow  # a training in process (~8 s): the default suite keeps its 3 minutes
def test_one_corpus_read_and_one_evaluation_view_per_run(corpus, tmp_path, monkeypatch):
    reads, views = [], []
    original_load, original_view = trainer.load_corpus, trainer.evaluation_model
    monkeypatch.setattr(
        trainer, "load_corpus", lambda spec: reads.append(spec) or original_load(spec)
    )
    monkeypatch.setattr(
        trainer, "evaluation_model", lambda model: views.append(model) or original_view(model)
    )
    zoo.train("gpt2-nano", data=str(corpus), steps=3, eval_interval=1, out=str(tmp_path / "r"))
    assert len(reads) == 1 and len(views) == 1


def _interrupted(corpus, out, seed, at_step=2):
    with pytest.raises(KeyboardInterrupt):
        zoo.train(
            "gpt2-nano",
            data=str(corpus),
            steps=4,
            eval_interval=1,
            seed=seed,
            out=str(out),
            reporter=Interrupt(at_step),
        )


@pytest.mark.slow  # trains two or three runs (~10 s)
def test_a_checkpoint_of_another_run_is_refused(corpus, tmp_path):
    """The probe's case: another run's commit at the same step put in this run's place resumed
    and exited 0 with a wrong result. Now the commit's run key refuses it."""
    mine, other = tmp_path / "mine", tmp_path / "other"
    _interrupted(corpus, mine, seed=5)
    _interrupted(corpus, other, seed=3)
    with zipfile.ZipFile(mine / "checkpoint.keras") as archive:
        identity = json.loads(archive.read(IDENTITY_MEMBER))
    assert identity["run_key"] == json.loads((mine / "config.json").read_text())["resolution_key"]
    shutil.copyfile(other / "checkpoint.keras", mine / "checkpoint.keras")
    with pytest.raises(ZooError, match="a commit of another run") as error:
        zoo.train("gpt2-nano", out=str(mine), resume=True)
    assert "\n" not in str(error.value)


@pytest.mark.slow  # trains two or three runs (~10 s)
def test_an_altered_checkpoint_and_a_model_in_its_place_are_refused(corpus, tmp_path):
    out = tmp_path / "run"
    _interrupted(corpus, out, seed=0)
    checkpoint = out / "checkpoint.keras"
    kept = tmp_path / "kept.keras"
    shutil.copyfile(checkpoint, kept)
    # One member rewritten (the same bytes reversed), the identity left as it was.
    with zipfile.ZipFile(kept) as old, zipfile.ZipFile(checkpoint, "w") as new:
        for item in old.infolist():
            data = old.read(item.filename)
            new.writestr(item, data[::-1] if item.filename == "metadata.json" else data)
    with pytest.raises(ZooError, match="changed since it was committed.*metadata.json"):
        zoo.train("gpt2-nano", out=str(out), resume=True)
    # A finished run's model.keras (no optimizer, no state of its own) in the commit's place.
    finished = tmp_path / "finished"
    zoo.train("gpt2-nano", data=str(corpus), steps=2, out=str(finished))
    shutil.copyfile(finished / "model.keras", checkpoint)
    with pytest.raises(ZooError, match="not a checkpoint of a run|refusing"):
        zoo.train("gpt2-nano", out=str(out), resume=True)


@pytest.mark.slow  # trains two or three runs (~10 s)
def test_resume_restarts_a_directory_killed_before_its_config(corpus, tmp_path):
    """What a kill before config.json leaves (the lock, a tokenizer copy, a temporary file):
    `--resume` with the run's options trains it, with the losses of an uninterrupted run."""
    clean = zoo.train(
        "gpt2-nano", data=str(corpus), steps=3, eval_interval=1, out=str(tmp_path / "clean")
    )
    out = tmp_path / "killed"
    out.mkdir()
    (out / LOCK_NAME).write_text("process 1 (gone)\n")
    shutil.copytree(clean.tokenizer_path, out / "tokenizer")
    (out / f"{PARTIAL_PREFIX}123.config.json").write_text("{")
    record = zoo.train(
        "gpt2-nano", data=str(corpus), steps=3, eval_interval=1, out=str(out), resume=True
    )
    assert record.summary()["validation_loss"] == clean.summary()["validation_loss"]


@pytest.mark.slow  # trains two or three runs (~10 s)
def test_resume_auto_starts_continues_and_keeps_a_finished_run(corpus, tmp_path):
    out = tmp_path / "auto"
    options = dict(data=str(corpus), steps=4, eval_interval=1, out=str(out), resume="auto")
    with pytest.raises(KeyboardInterrupt):
        zoo.train("gpt2-nano", reporter=Interrupt(2), **options)  # started: nothing was there
    record = zoo.train("gpt2-nano", **options)  # continued
    clean = zoo.train(
        "gpt2-nano", data=str(corpus), steps=4, eval_interval=1, out=str(tmp_path / "clean")
    )
    assert record.summary()["validation_loss"] == clean.summary()["validation_loss"]
    summary = record.summary_path.read_bytes()
    assert zoo.train("gpt2-nano", **options).path == record.path  # finished: left as it is
    assert record.summary_path.read_bytes() == summary


@pytest.mark.slow  # trains two or three runs (~10 s)
def test_resume_refuses_options_the_run_was_not_configured_with(corpus, tmp_path):
    out = tmp_path / "run"
    _interrupted(corpus, out, seed=0)
    with pytest.raises(
        zoo.RunConfigError, match="^steps is 4 in the run at .*configured otherwise than 5"
    ):
        zoo.train("gpt2-nano", out=str(out), resume=True, steps=5)
    with pytest.raises(ZooError, match="holds a gpt2-nano run, not llama-nano"):
        zoo.train("llama-nano", out=str(out), resume=True)
    with pytest.raises(zoo.RunConfigError, match="^num_layers is"):
        zoo.train("gpt2-nano", out=str(out), resume=True, overrides=["num_layers=3"])
    # The options it was configured with, and where it runs, are accepted.
    record = zoo.train(
        "gpt2-nano",
        data=str(corpus),
        steps=4,
        eval_interval=1,
        out=str(out),
        resume=True,
        strategy="none",
    )
    assert record.complete


@pytest.mark.slow  # a training in process (~8 s): the default suite keeps its 3 minutes
def test_the_command_line_resume_auto_starts_then_leaves_a_finished_run(corpus, tmp_path):
    from typer.testing import CliRunner

    from zoo_cli.main import app

    command = [
        "train",
        "gpt2-nano",
        "--data",
        str(corpus),
        "--steps",
        "2",
        "--resume-auto",
        "--out",
        str(tmp_path / "run"),
    ]
    first = CliRunner().invoke(app, command)
    assert first.exit_code == 0, first.output
    again = CliRunner().invoke(app, command)
    assert again.exit_code == 0 and "already finished" in again.output


def test_passes_cut_the_training_split_to_the_slice_the_budget_repeats(corpus):
    """`passes`: the first ⌈tokens / passes⌉ training tokens, in whole windows; its own key
    (and an unset one leaves every earlier key as it was: not in the identity); a resumed run
    reads the same slice back; a slice under one batch or over the split is refused."""
    plain = trainer.plan_run("llama-nano", data=str(corpus), steps=40)
    four = trainer.plan_run("llama-nano", data=str(corpus), steps=40, passes=4)
    seq = four.budget.seq_len
    windows = -(-four.budget.tokens // (4 * seq))
    assert four.data.train_tokens == len(four.materials.data.train) == windows * seq + 1
    assert four.key != plain.key and "passes" not in plain.run.identity()
    assert trainer.plan_run("llama-nano", data=str(corpus), steps=40, passes=4.0).key == four.key
    assert len(trainer.load_materials(four).data.train) == four.data.train_tokens
    with pytest.raises(zoo.RunConfigError, match="^passes cuts the training split to 1 windows"):
        trainer.plan_run("llama-nano", data=str(corpus), steps=4, passes=40)
    with pytest.raises(zoo.RunConfigError, match="makes at least .* passes over it"):
        trainer.plan_run("llama-nano", data=str(corpus), steps=4000, passes=1)
    with pytest.raises(zoo.RunConfigError, match="^passes must be a number at least 1"):
        trainer.plan_run("llama-nano", data=str(corpus), steps=40, passes=0.5)
