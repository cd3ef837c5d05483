"""The run store: commits that cannot tear, restarts, one writer, non-finite runs, dtype on resume."""

import json
import math
import os
import subprocess
import sys
import time
import zipfile

import keras
import numpy as np
import pytest
from typer.testing import CliRunner

import zoo
from tests.helpers import Interrupt
from zoo.storage.commits import IDENTITY_MEMBER, STATE_MEMBER
from zoo_cli.main import app

pytestmark = pytest.mark.usefixtures("isolated")
runner = CliRunner()


def _strict(path):
    def refuse(constant):
        raise ValueError(f"{path}: {constant} is not JSON")

    text = path.read_text()
    if path.suffix == ".jsonl":
        return [json.loads(line, parse_constant=refuse) for line in text.splitlines()]
    return json.loads(text, parse_constant=refuse)


def _same_result(a, b):
    assert a.summary()["validation_loss"] == b.summary()["validation_loss"]
    assert a.summary()["final_train_loss"] == b.summary()["final_train_loss"]
    assert [r["validation_loss"] for r in a.metrics()] == [
        r["validation_loss"] for r in b.metrics()
    ]


@pytest.mark.slow
def test_a_checkpoint_and_a_state_that_disagree_are_refused(corpus, tmp_path):
    """The torn commit of old runs (step-9 checkpoint, step-6 state.json) cannot resume."""
    out = tmp_path / "results" / "torn"
    zoo.train("gpt2-nano", data=str(corpus), steps=9, eval_interval=3, out=str(out))
    # Rewrite the checkpoint as runs did before commits held their state, and roll state back.
    with (
        zipfile.ZipFile(out / "checkpoint.keras") as old,
        zipfile.ZipFile(tmp_path / "legacy.keras", "w") as new,
    ):
        for name in old.namelist():
            if name not in (STATE_MEMBER, IDENTITY_MEMBER):  # neither existed then
                new.writestr(name, old.read(name))
    os.replace(tmp_path / "legacy.keras", out / "checkpoint.keras")
    state = json.loads((out / "state.json").read_text())
    del state["optimizer_iterations"]  # what states recorded before commits held them
    (out / "state.json").write_text(json.dumps({**state, "step": 6, "evaluations": 2}))
    (out / "summary.json").unlink()
    result = runner.invoke(app, ["train", "gpt2-nano", "--resume", "--out", str(out)])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "refusing to resume" in lines[0], result.stderr
    assert "applied 9 micro-batches but its state records 6" in lines[0]


@pytest.mark.slow
def test_a_run_stopped_before_its_first_commit_restarts_and_matches(corpus, tmp_path):
    whole = zoo.train(
        "llama-nano",
        data=str(corpus),
        steps=4,
        eval_interval=2,
        out=str(tmp_path / "results" / "whole"),
    )
    out = tmp_path / "results" / "stopped"
    with pytest.raises(KeyboardInterrupt):
        zoo.train(
            "llama-nano",
            data=str(corpus),
            steps=4,
            eval_interval=2,
            out=str(out),
            reporter=Interrupt(at_step=1),
        )
    assert (out / "config.json").exists() and not (out / "checkpoint.keras").exists()
    (out / ".partial.999.0.checkpoint.keras").write_bytes(b"")  # a killed writer's leftover
    again = runner.invoke(
        app, ["train", "llama-nano", "--data", str(corpus), "--steps", "4", "--out", str(out)]
    )
    assert again.exit_code == 2 and "already holds a run" in again.stderr
    resumed = zoo.train(resume=True, out=str(out))
    _same_result(resumed, whole)
    assert not (out / ".partial.999.0.checkpoint.keras").exists()


@pytest.mark.slow  # several trainings: the default suite keeps its 3 minutes
def test_resume_refuses_other_result_options_and_restores_the_run_config(corpus, tmp_path):
    out = tmp_path / "results" / "run"
    with pytest.raises(KeyboardInterrupt):
        zoo.train(
            "gpt2-nano",
            data=str(corpus),
            steps=4,
            eval_interval=2,
            seed=3,
            spike_guard=False,
            out=str(out),
            reporter=Interrupt(at_step=3),
        )
    result = runner.invoke(
        app, ["train", "gpt2-nano", "--resume", "--out", str(out), "--steps", "8"]
    )
    assert result.exit_code == 2 and result.stderr.startswith("error: --steps is 4 in the run")
    assert "configured otherwise than 8" in result.stderr and result.stderr.count("\n") == 1
    record = zoo.train(resume=True, out=str(out))
    assert record.config()["run"]["seed"] == 3 and record.config()["run"]["spike_guard"] is False
    assert record.summary()["steps"] == 4


@pytest.mark.slow
def test_mixed_bfloat16_resumes_in_mixed_bfloat16(corpus, tmp_path):
    out = tmp_path / "results" / "bf16"
    with pytest.raises(KeyboardInterrupt):
        zoo.train(
            "llama-nano",
            data=str(corpus),
            steps=4,
            eval_interval=2,
            out=str(out),
            precision="mixed_bfloat16",
            reporter=Interrupt(at_step=3),
        )
    zoo.train(resume=True, out=str(out))
    for name in ("checkpoint.keras", "model.keras"):  # both written by the resumed model
        model = keras.models.load_model(out / name)
        assert model.compute_dtype == "bfloat16", name
        assert {v.dtype for v in model.weights} == {"float32"}, name


@pytest.mark.slow
def test_a_diverged_run_stops_with_one_line_and_keeps_only_finite_state(corpus, tmp_path):
    out = tmp_path / "results" / "nan"
    result = runner.invoke(
        app,
        [
            "train",
            "gpt2-nano",
            "--data",
            str(corpus),
            "--steps",
            "12",
            "--eval-interval",
            "2",
            "--set",
            "learning_rate=1e6",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code not in (0, 2), result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: training diverged at step"), lines
    assert "Traceback" not in result.output
    assert not (out / "model.keras").exists() and not (out / "summary.json").exists()
    for path in [*out.glob("*.json"), *out.glob("*.jsonl")]:
        _strict(path)
    failure = _strict(out / "failure.json")
    if (out / "checkpoint.keras").exists():  # the last commit is finite
        model = keras.models.load_model(out / "checkpoint.keras")
        assert all(np.isfinite(keras.ops.convert_to_numpy(w)).all() for w in model.weights)
        assert zoo.RunRecord(out).state()["step"] < failure["step"]
    rows = runner.invoke(app, ["runs", "--json"])
    assert [r["status"] for r in json.loads(rows.stdout)] == ["failed"]


@pytest.mark.slow
def test_an_injected_spike_is_skipped_and_the_run_ends_near_the_clean_one(
    corpus, tmp_path, monkeypatch
):
    """The gradient of step 30 of 40 scaled by 1000 (through a sample weight on that batch's
    loss): the guard skips that step, and the final validation loss stays within 1% of the
    clean run's (the skipped batch is simply missing). Without the guard the same spike leaves
    the run outside that tolerance (Adam bounds the damage: measured +2.1%)."""
    import tensorflow as tf

    import zoo.training.loop as loop

    original = loop.train_dataset

    def spiked(tokens, seq_len, batch, seed, start_step=0):
        dataset = original(tokens, seq_len, batch, seed, start_step)

        def weigh(index, pair):  # step 30 is index 29 counted from step 0
            scale = tf.where(tf.equal(index + start_step, 29), 1000.0, 1.0)
            return pair[0], pair[1], tf.fill(tf.shape(pair[1]), scale)

        return dataset.enumerate().map(weigh)

    results = tmp_path / "results"
    clean = zoo.train(
        "gpt2-nano",
        data=str(corpus),
        steps=40,
        eval_interval=40,
        out=str(results / "clean"),
        overrides=["clip_norm=null"],
    )
    monkeypatch.setattr(loop, "train_dataset", spiked)
    guarded = zoo.train(
        "gpt2-nano",
        data=str(corpus),
        steps=40,
        eval_interval=40,
        out=str(results / "guarded"),
        overrides=["clip_norm=null"],
    )
    unguarded = zoo.train(
        "gpt2-nano",
        data=str(corpus),
        steps=40,
        eval_interval=40,
        out=str(results / "unguarded"),
        overrides=["clip_norm=null"],
        spike_guard=False,
    )
    summary = guarded.summary()
    assert summary["skipped_steps"] == 1 and guarded.metrics()[-1]["skipped_steps"] == 1
    reference = clean.summary()["validation_loss"]
    assert summary["validation_loss"] == pytest.approx(reference, rel=0.01)
    assert unguarded.summary()["validation_loss"] > reference * 1.01  # measured: +2.1%


@pytest.mark.slow
def test_two_trainings_on_one_directory_one_trains_the_other_exits_2(corpus, tmp_path):
    out = tmp_path / "results" / "shared"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    args = [
        sys.executable,
        "-m",
        "zoo_cli.main",
        "train",
        "gpt2-nano",
        "--data",
        str(corpus),
        "--steps",
        "30",
        "--eval-interval",
        "10",
        "--out",
        str(out),
    ]
    first = subprocess.Popen(
        args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.time() + 300
    while not (out / "run.lock").exists() or not (out / "run.lock").read_text().strip():
        assert time.time() < deadline and first.poll() is None, first.communicate()
        time.sleep(0.05)
    second = subprocess.run(args, env=env, capture_output=True, text=True, timeout=300)
    first_out, first_err = first.communicate(timeout=600)
    assert first.returncode == 0, first_err[-3000:]
    assert second.returncode == 2, second.stderr[-3000:]
    lines = second.stderr.strip().splitlines()
    assert len(lines) == 1 and "is in use by process" in lines[0] and str(first.pid) in lines[0]
    assert len(list((out / "tensorboard").rglob("*tfevents*"))) == 1
    assert zoo.RunRecord(out).summary()["steps"] == 30


@pytest.mark.slow
def test_runs_lists_a_damaged_record_as_damaged(corpus, tmp_path):
    zoo.train("gpt2-nano", data=str(corpus), steps=1, out=str(tmp_path / "results" / "good"))
    (tmp_path / "results" / "bad").mkdir()
    (tmp_path / "results" / "bad" / "config.json").write_text('{"preset": "gpt2-na')
    result = runner.invoke(app, ["runs", "--json"])
    assert result.exit_code == 0, result.output
    status = {r["run_id"]: r["status"] for r in json.loads(result.stdout)}
    assert status == {"good": "complete", "bad": "damaged"}
    table = runner.invoke(app, ["runs"])
    assert table.exit_code == 0 and "damaged" in table.stdout


@pytest.mark.slow
def test_every_json_file_of_a_run_is_strict_json(corpus, tmp_path):
    record = zoo.train(
        "palm-nano", data=str(corpus), steps=2, eval_interval=1, out=str(tmp_path / "results" / "r")
    )
    paths = [*record.path.glob("*.json"), *record.path.glob("*.jsonl")]
    assert len(paths) >= 4
    for path in paths:
        _strict(path)
    assert math.isfinite(record.summary()["validation_loss"])


def _one_line(result, fragment):
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0], lines
    assert "Traceback" not in result.output


def test_an_unwritable_cache_directory_is_one_line(corpus, tmp_path, monkeypatch):
    (tmp_path / "a-file").write_text("")
    monkeypatch.setenv("ZOO_CACHE", str(tmp_path / "a-file" / "cache"))  # cannot be created
    result = runner.invoke(app, ["train", "gpt2-nano", "--data", str(corpus), "--steps", "1"])
    _one_line(result, "cannot create the cache directory")
    assert not (tmp_path / "results").exists()


def test_an_infinite_budget_is_one_line(corpus, tmp_path):
    result = runner.invoke(app, ["train", "gpt2-nano", "--data", str(corpus), "--flops", "1e999"])
    _one_line(result, "--flops must be finite; received inf")
    assert not (tmp_path / "results").exists()


def test_a_corrupt_init_from_is_refused_before_anything_is_written(corpus, tmp_path):
    path = tmp_path / "start.keras"
    zoo.build("gpt2-nano").save(path)
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:  # flip bytes inside the weights member: a CRC error
        info = archive.getinfo("model.weights.h5")
    middle = info.header_offset + 30 + len(info.filename) + info.compress_size // 2
    data[middle : middle + 64] = bytes(64)
    path.write_bytes(bytes(data))
    result = runner.invoke(
        app,
        [
            "train",
            "gpt2-nano",
            "--data",
            str(corpus),
            "--steps",
            "1",
            "--init-from",
            str(path),
            "--out",
            str(tmp_path / "results" / "x"),
        ],
    )
    _one_line(result, "cannot be loaded")
    assert not (tmp_path / "results").exists()


@pytest.mark.slow
def test_repeated_spikes_rewind_and_skip_batches_as_palm_did(corpus, tmp_path, monkeypatch):
    """PaLM §5.1's escalation, scaled down: spikes at data batches 24-26 (three skipped steps
    in the interval 21-30, more than rewind_after_spikes=2) rewind to the commit at step 20
    (REWIND_STEPS=10 here) and move the data 10 batches on, past the spiky ones; the run then
    finishes its budget with no further skips. A kill after the rewind was decided, before it
    was published, rewinds the same way on resume."""
    import tensorflow as tf

    import zoo.training.loop as loop

    monkeypatch.setattr(loop, "REWIND_STEPS", 10)
    monkeypatch.setattr(loop, "REWIND_SKIP_BATCHES", 10)
    original = loop.train_dataset

    def spiked(tokens, seq_len, batch, seed, start_step=0):
        def weigh(index, pair):
            position = index + start_step
            scale = tf.where((position >= 24) & (position <= 26), 1000.0, 1.0)
            return pair[0], pair[1], tf.fill(tf.shape(pair[1]), scale)

        return original(tokens, seq_len, batch, seed, start_step).enumerate().map(weigh)

    monkeypatch.setattr(loop, "train_dataset", spiked)
    options = dict(
        data=str(corpus),
        steps=50,
        eval_interval=10,
        rewind_after_spikes=2,
        overrides=["clip_norm=null"],
    )
    record = zoo.train("gpt2-nano", out=str(tmp_path / "results" / "rewound"), **options)
    summary = record.summary()
    assert summary["steps"] == 50
    assert [(r["at_step"], r["to_step"], r["skipped_batches"]) for r in summary["rewinds"]] == [
        (30, 20, 10)
    ]
    assert record.state()["data_offset"] == 10
    assert [r["step"] for r in record.metrics()] == [10, 20, 30, 40, 50]

    # Killed between the decision (committed at step 30) and the rewind: resume rewinds.
    killed = tmp_path / "results" / "killed"
    original_rewind = loop.rewind_run

    def die(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(loop, "rewind_run", die)
    import zoo.training.trainer as trainer

    monkeypatch.setattr(trainer, "rewind_run", die)
    with pytest.raises(KeyboardInterrupt):
        zoo.train("gpt2-nano", out=str(killed), **options)
    assert zoo.RunRecord(killed).state()["rewind_due"] is True
    monkeypatch.setattr(trainer, "rewind_run", original_rewind)
    resumed = zoo.train(resume=True, out=str(killed))
    assert resumed.summary()["rewinds"] == summary["rewinds"]
    assert resumed.summary()["validation_loss"] == summary["validation_loss"]


@pytest.mark.slow
def test_a_run_written_before_run_config_existed_still_resumes(corpus, tmp_path):
    """A config.json without "run", a checkpoint without its state inside and a state.json
    without the optimizer count, as runs were written before this layout: `--resume` rebuilds
    the RunConfig (missing fields at their old defaults) and reaches the same result."""
    whole = zoo.train(
        "gpt2-nano",
        data=str(corpus),
        steps=6,
        eval_interval=2,
        seed=2,
        spike_guard=False,
        out=str(tmp_path / "results" / "whole"),
    )
    out = tmp_path / "results" / "old"
    with pytest.raises(KeyboardInterrupt):
        zoo.train(
            "gpt2-nano",
            data=str(corpus),
            steps=6,
            eval_interval=2,
            seed=2,
            spike_guard=False,
            out=str(out),
            reporter=Interrupt(at_step=5),
        )
    config = json.loads((out / "config.json").read_text())
    run = config.pop("run")  # the layout before RunConfig: its settings scattered at the top
    for field in ("seed", "precision", "eval_interval", "gradient_accumulation", "patience"):
        config[field] = run[field]
    config["eval_interval"] = 2
    for field in ("spike_guard_rule", "backend", "backend_choice"):
        config.pop(field, None)
    (out / "config.json").write_text(json.dumps(config))
    with (
        zipfile.ZipFile(out / "checkpoint.keras") as new,
        zipfile.ZipFile(tmp_path / "old.keras", "w") as old,
    ):
        for name in new.namelist():
            if not name.startswith("zoo/"):
                old.writestr(name, new.read(name))
    os.replace(tmp_path / "old.keras", out / "checkpoint.keras")
    state = json.loads((out / "state.json").read_text())
    for key in ("optimizer_iterations", "skipped_steps", "stopped_early", "rewind_due"):
        state.pop(key, None)
    (out / "state.json").write_text(json.dumps(state))

    from zoo.training.plan import RunPlan

    run = RunPlan.from_record(config).run
    assert (run.steps, run.seed, run.data, run.spike_guard, run.eval_windows) == (
        6,
        2,
        str(corpus),
        False,
        64,
    )
    resumed = zoo.train(resume=True, out=str(out))
    _same_result(resumed, whole)


@pytest.mark.slow
def test_a_read_only_home_is_one_line(corpus, tmp_path):
    """HOME on a read-only file system (/proc): the cache cannot be created, and Matplotlib
    (imported with Keras) must not add its own warnings to the one line."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("ZOO_CACHE", "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "MPLCONFIGDIR")
    }
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "zoo_cli.main",
            "train",
            "gpt2-nano",
            "--data",
            str(corpus),
            "--steps",
            "1",
        ],
        env={**env, "HOME": "/proc", "TF_CPP_MIN_LOG_LEVEL": "3"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot create the cache directory" in lines[0], lines
    assert not (tmp_path / "results").exists()


@pytest.mark.slow
def test_a_lasting_jump_of_the_gradient_norm_costs_a_few_steps_not_the_run(
    corpus, tmp_path, monkeypatch
):
    """Every gradient from step 31 on is 1000x the earlier ones (a loss weight of 1000). The
    first rule skipped all of them and failed the run; now the guard skips
    `MAX_CONSECUTIVE_SKIPS` steps, takes the new level, and the run finishes its budget (Adam's
    update does not depend on the gradient's scale, so it keeps learning), saying so."""
    import tensorflow as tf

    import zoo.training.loop as loop
    from zoo.training.spike_guard import MAX_CONSECUTIVE_SKIPS

    original = loop.train_dataset

    def jumped(tokens, seq_len, batch, seed, start_step=0):
        def weigh(index, pair):
            scale = tf.where(index + start_step >= 30, 1000.0, 1.0)
            return pair[0], pair[1], tf.fill(tf.shape(pair[1]), scale)

        return original(tokens, seq_len, batch, seed, start_step).enumerate().map(weigh)

    class Messages(zoo.Reporter):
        def __init__(self):
            self.messages = []

        def message(self, text):
            self.messages.append(text)

    monkeypatch.setattr(loop, "train_dataset", jumped)
    reporter = Messages()
    record = zoo.train(
        "gpt2-nano",
        data=str(corpus),
        steps=50,
        eval_interval=10,
        reporter=reporter,
        out=str(tmp_path / "results" / "jumped"),
        overrides=["clip_norm=null"],
    )
    summary = record.summary()
    assert summary["steps"] == 50 and (record.path / "model.keras").exists()
    assert summary["skipped_steps"] == MAX_CONSECUTIVE_SKIPS
    assert summary["spike_guard_restarts"] == 1
    assert [r["skipped_steps"] for r in record.metrics()] == [
        0,
        0,
        0,
        MAX_CONSECUTIVE_SKIPS,
        MAX_CONSECUTIVE_SKIPS,
    ]
    assert reporter.messages == [
        f"steps 31-40: the gradient norm moved to a new level; the "
        f"spike guard skipped {MAX_CONSECUTIVE_SKIPS} steps in a row, "
        "then took it as its new level"
    ]
