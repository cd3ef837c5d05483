"""`zoo train` end to end on tiny corpora: the run record, reloading, resume, bad input."""

import json
import os
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest
from typer.testing import CliRunner

import zoo
from tests.helpers import Interrupt
from zoo.storage.models import load_decoder
from zoo.storage.runs import METRIC_FIELDS
from zoo_cli.main import app

pytestmark = pytest.mark.usefixtures("isolated")


def _env():
    return {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}


def _zoo(*args, **kwargs):
    return subprocess.run(
        [sys.executable, "-m", "zoo_cli.main", *args],
        env=_env(),
        capture_output=True,
        text=True,
        **kwargs,
    )


def _leftovers(root):
    return [p for p in root.rglob("*") if p.name.startswith(".") or p.suffix == ".tmp"]


@pytest.mark.slow
def test_run_record_is_complete_and_reloadable(corpus, tmp_path):
    out = tmp_path / "results" / "run"
    record = zoo.train("gpt3-nano", data=str(corpus), steps=6, eval_interval=3, out=str(out))
    config = record.config()
    for key in (
        "model",
        "training",
        "budget",
        "data",
        "tokenizer",
        "versions",
        "git_revision",
        "machine",
        "optimizer",
        "xla",
        "device",
        "peak_flops",
    ):
        assert key in config, key
    assert config["xla"] == {
        "requested": True,
        "effective": True,
        "compiled": "whole step (tf.function(jit_compile=True))",
    }
    assert config["distribution"]["strategy"] == "none"  # auto, on one device
    assert config["distribution"]["requested"] == "auto"
    assert config["tokenizer"]["kind"] == "byte_bpe"  # GPT-3's native kind
    assert config["data"]["unigram_bits_per_byte"] > 0
    rows = record.metrics()
    assert [r["step"] for r in rows] == [3, 6]
    assert all(set(METRIC_FIELDS) <= set(r) for r in rows)
    summary = record.summary()
    assert summary["steps"] == 6 and summary["tokens"] == 6 * config["budget"]["tokens_per_step"]
    assert summary["validation_bits_per_byte"] < summary["unigram_bits_per_byte"] * 2
    for name in (
        "model.keras",
        "probe.npz",
        "tokenizer/tokenizer.json",
        "checkpoint.keras",
        "state.json",
        "tensorboard",
    ):
        assert (out / name).exists(), name
    assert not _leftovers(out)

    # A fresh process reproduces the probe logits from model.keras (after `import zoo`).
    script = (
        "import sys, numpy as np, keras, zoo\n"
        "m = keras.models.load_model(sys.argv[1])\n"
        "p = np.load(sys.argv[2])\n"
        "np.testing.assert_allclose(keras.ops.convert_to_numpy(m(p['tokens'])), p['logits'],"
        " rtol=1e-5, atol=1e-5)\n"
        "print('ok')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(out / "model.keras"), str(out / "probe.npz")],
        env=_env(),
        capture_output=True,
        text=True,
    )
    assert result.stdout.strip() == "ok", result.stderr[-2000:]


@pytest.mark.slow
def test_sigkill_then_resume_matches_uninterrupted(corpus, tmp_path):
    """A run killed mid-way and resumed ends with the loss of an uninterrupted run.

    Tolerance: 1e-5 relative; both runs execute the same XLA programs on the same data order,
    so on one machine they agree to float32 round-off or better.
    """
    args = ["train", "llama-nano", "--data", str(corpus), "--steps", "12", "--eval-interval", "3"]
    whole = _zoo(*args, "--out", str(tmp_path / "whole"), timeout=600)
    assert whole.returncode == 0, whole.stderr[-3000:]

    killed_dir = tmp_path / "killed"
    process = subprocess.Popen(
        [sys.executable, "-m", "zoo_cli.main", *args, "--out", str(killed_dir)],
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 600
    while time.time() < deadline:
        state = killed_dir / "state.json"
        if state.exists() and json.loads(state.read_text())["step"] >= 3:
            break
        if process.poll() is not None:
            pytest.fail("the run finished before it could be killed")
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not (killed_dir / "summary.json").exists()
    stopped_at = json.loads((killed_dir / "state.json").read_text())["step"]
    assert 3 <= stopped_at < 12

    resumed = _zoo("train", "llama-nano", "--resume", "--out", str(killed_dir), timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    a = json.loads((tmp_path / "whole" / "summary.json").read_text())
    b = json.loads((killed_dir / "summary.json").read_text())
    assert b["steps"] == a["steps"] == 12
    assert b["final_train_loss"] == pytest.approx(a["final_train_loss"], rel=1e-5)
    assert b["validation_loss"] == pytest.approx(a["validation_loss"], rel=1e-5)
    whole_rows = [r["validation_loss"] for r in zoo.RunRecord(tmp_path / "whole").metrics()]
    resumed_rows = [r["validation_loss"] for r in zoo.RunRecord(killed_dir).metrics()]
    np.testing.assert_allclose(resumed_rows, whole_rows, rtol=1e-5)


@pytest.mark.slow
def test_init_from_continues_training(corpus, tmp_path):
    first = zoo.train(
        "palm-nano", data=str(corpus), steps=20, eval_interval=20, out=str(tmp_path / "first")
    )
    second = zoo.train(
        "palm-nano",
        data=str(corpus),
        steps=1,
        eval_interval=1,
        init_from=str(first.path),
        out=str(tmp_path / "second"),
    )
    fresh = zoo.train(
        "palm-nano", data=str(corpus), steps=1, eval_interval=1, out=str(tmp_path / "fresh")
    )
    assert second.config()["init_from"]["path"].endswith("model.keras")
    # One step from trained weights is far better than one step from scratch.
    assert second.summary()["validation_loss"] < fresh.summary()["validation_loss"] - 0.5
    assert second.summary()["validation_loss"] < first.summary()["validation_loss"] + 0.1


def test_init_from_takes_the_architecture_of_the_model_it_starts_from(corpus, tmp_path):
    """An imported or exported model keeps its shape under any preset's training recipe."""
    from zoo.training.trainer import plan_run

    path = tmp_path / "shallow.keras"
    zoo.build("gpt2-nano", num_layers=1).save(path)
    plan = plan_run(
        "llama-nano", data=str(corpus), steps=2, init_from=str(path), overrides=["dropout=0.1"]
    )
    model = plan.model
    assert (model.num_layers, model.position.value, model.dropout) == (1, "learned", 0.1)
    assert plan.training == zoo.get_recipe("llama-nano").training
    with pytest.raises(zoo.ZooError, match="^overrides num_layers: the architecture comes from"):
        plan_run(
            "gpt2-nano", data=str(corpus), steps=2, init_from=str(path), overrides=["num_layers=2"]
        )


runner = CliRunner()


@pytest.mark.parametrize(
    "make_args, expected",
    [
        (lambda c, t: ["plam-nano", "--data", str(c)], "palm-nano"),
        (lambda c, t: ["gpt2-nano", "--data", str(t / "nowhere")], "no corpus"),
        (lambda c, t: ["gpt2-nano", "--data", str(c), "--set", "hiden_dim=3"], "hidden_dim"),
        (
            lambda c, t: ["gpt2-nano", "--data", str(c), "--set", "num_key_value_heads=3"],
            "num_key_value_heads=3",
        ),
        (
            lambda c, t: ["gpt2-nano", "--data", str(c), "--tokens", "100", "--steps", "2"],
            "at most one budget",
        ),
        (lambda c, t: ["gpt2-nano", "--data", str(c), "--precision", "fp8"], "precision"),
        (lambda c, t: ["gpt2-nano", "--data", str(c), "--grad-accum", "3"], "grad-accum"),
        (
            lambda c, t: ["gpt2-nano", "--data", str(c), "--init-from", str(t / "x.keras")],
            "init-from",
        ),
        (lambda c, t: ["gpt2-nano", "--resume"], "no unfinished gpt2-nano run"),
        (lambda c, t: ["gpt2-nano", "--data", str(t / "empty")], "empty"),
        (lambda c, t: ["gpt2-nano", "--data", str(t / "latin1.txt")], "latin1.txt"),
        (lambda c, t: ["gpt2-nano", "--data", str(t / "short.txt")], "too small"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_writes_nothing(corpus, tmp_path, make_args, expected):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "blank.txt").write_text("   \n")
    (tmp_path / "latin1.txt").write_bytes("caf\xe9 au lait\n".encode("latin-1") * 50)
    (tmp_path / "short.txt").write_text("to be or not to be\n")
    result = runner.invoke(app, ["train", *make_args(corpus, tmp_path)])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert expected in lines[0]
    assert "Traceback" not in result.output
    results = tmp_path / "results"
    assert not results.exists() or not any(results.iterdir())


@pytest.mark.slow
def test_existing_run_directory_is_not_overwritten(corpus, tmp_path):
    out = tmp_path / "results" / "done"
    zoo.train("gpt2-nano", data=str(corpus), steps=2, eval_interval=2, out=str(out))
    before = (out / "summary.json").read_bytes()
    result = runner.invoke(
        app, ["train", "gpt2-nano", "--data", str(corpus), "--steps", "2", "--out", str(out)]
    )
    assert result.exit_code == 2 and "already holds a run" in result.stderr
    assert (out / "summary.json").read_bytes() == before


def test_runs_and_export(corpus, tmp_path):
    record = zoo.train("gopher-nano", data=str(corpus), steps=2, eval_interval=2)
    listed = runner.invoke(app, ["runs", "--json"])
    assert listed.exit_code == 0
    rows = json.loads(listed.stdout)
    assert [r["run_id"] for r in rows] == [record.path.name]
    assert rows[0]["status"] == "complete"
    exported = runner.invoke(app, ["export", record.path.name, "--out", str(tmp_path / "g.keras")])
    assert exported.exit_code == 0, exported.output
    import keras

    model = keras.models.load_model(tmp_path / "g.keras")
    probe = np.load(record.probe_path)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(model(probe["tokens"])), probe["logits"], rtol=1e-5, atol=1e-5
    )
    bad = runner.invoke(app, ["export", record.path.name, "--out", str(tmp_path / "g.h5")])
    assert bad.exit_code == 2 and ".keras" in bad.stderr


@pytest.mark.slow  # several trainings: the default suite keeps its 3 minutes
def test_backend_auto_is_recorded_resumes_and_keeps_the_key(corpus, tmp_path):
    """`backend="auto"` in the library: config.json records the choice and why, the run header
    shows it, a run resumes under `auto`, and the key is that of any other backend."""
    import io

    from rich.console import Console

    from zoo.training.trainer import plan_run
    from zoo_cli.progress import RichReporter

    out = tmp_path / "results" / "auto"
    with pytest.raises(KeyboardInterrupt):
        zoo.train(
            "gpt2-nano",
            data=str(corpus),
            steps=2,
            eval_interval=1,
            backend="auto",
            out=str(out),
            reporter=Interrupt(at_step=2),
        )
    running = keras.backend.backend()  # auto takes the backend Keras already runs on
    choice = json.loads((out / "config.json").read_text())["distribution"]["backend_choice"]
    assert choice["requested"] == "auto" and choice["backend"] == running
    assert choice["reason"].startswith(f"auto: {running} (")
    resumed = Interrupt()
    record = zoo.train(resume=True, out=str(out), backend="auto", reporter=resumed)
    assert record.complete and record.summary()["steps"] == 2
    config = record.config()
    assert config["run"]["backend"] == "auto"
    assert resumed.plans[0][0].backend_choice == choice
    assert resumed.plans[0][1]["distribution"]["backend_choice"] == choice
    keys = {
        plan_run("gpt2-nano", data=str(corpus), steps=2, eval_interval=1, backend=b).key
        for b in ("auto", running, None)
    }
    assert keys == {config["resolution_key"]}  # the backend does not change the result

    shown = io.StringIO()
    with RichReporter(Console(file=shown, width=200)) as header:
        header.start(*resumed.plans[0])
    assert f"backend {choice['reason']}\n" in shown.getvalue()


@pytest.mark.slow
def test_patience_stops_and_restores_the_best(corpus, tmp_path):
    """At a learning rate of 1e-12 the float32 weights cannot move, so validation loss never
    improves after the first evaluation and patience 2 stops the run at the third."""
    record = zoo.train(
        "gpt2-nano",
        data=str(corpus),
        steps=10,
        eval_interval=2,
        patience=2,
        overrides=["learning_rate=1e-12"],
        out=str(tmp_path / "patient"),
    )
    summary = record.summary()
    assert summary["stopped_early"] and summary["steps"] == 6 and summary["best_step"] == 2
    assert [r["step"] for r in record.metrics()] == [2, 4, 6]
    assert (record.path / "best.weights.h5").exists()


@pytest.mark.parametrize(
    "options",
    [
        {"precision": "mixed_bfloat16"},
        pytest.param({"gradient_accumulation": 2}, marks=pytest.mark.slow),
    ],
)
def test_precision_and_accumulation(corpus, tmp_path, options):
    record = zoo.train(
        "llama-nano",
        data=str(corpus),
        steps=2,
        eval_interval=2,
        out=str(tmp_path / "run"),
        **options,
    )
    config = record.config()
    assert config["xla"]["effective"] is True
    if "gradient_accumulation" in options:
        assert config["optimizer"]["gradient_accumulation_steps"] == 2
    # The model the run trained and saved: under mixed_bfloat16 its variables stay float32 and
    # every layer computes in bfloat16 (a block's output is bfloat16); otherwise all float32.
    compute = "bfloat16" if "precision" in options else "float32"
    model = load_decoder(record.model_path)
    assert model.dtype_policy.name == options.get("precision", "float32")
    assert {v.dtype for v in model.weights} == {"float32"}
    layers = [layer for layer in model._flatten_layers() if layer.weights]
    assert layers and {layer.compute_dtype for layer in layers} == {compute}
    first_block = keras.Model(model.input, model.decoder_blocks[0].output)
    assert keras.backend.standardize_dtype(first_block(np.zeros((1, 8), "int32")).dtype) == compute
    summary = record.summary()
    assert summary["steps"] == 2 and np.isfinite(summary["validation_loss"])


def test_bench_data_measures_the_pipeline(corpus):
    result = runner.invoke(
        app,
        ["bench", "data", "--data", str(corpus), "--model", "gpt2-nano", "--steps", "20", "--json"],
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["tokens_per_second"] > 0


@pytest.mark.slow  # a training in process (~8 s): the default suite keeps its 3 minutes
def test_a_run_of_another_trainer_version_or_guard_rule_is_refused_on_resume(corpus, tmp_path):
    """A run started by another trainer version, or with the spike guard under another rule,
    trains differently from this code: `--resume` refuses it in one line, naming both. The
    guard's rule is in the key of guarded runs only, so unguarded runs (the sweeps') keep theirs."""
    from zoo.training.spike_guard import RULE_VERSION
    from zoo.training.trainer import RESULT_VERSION, plan_run

    out = tmp_path / "results" / "old"
    with pytest.raises(KeyboardInterrupt):
        zoo.train(
            "gpt2-nano",
            data=str(corpus),
            steps=2,
            eval_interval=1,
            out=str(out),
            reporter=Interrupt(at_step=2),
        )
    config_path = out / "config.json"
    config = json.loads(config_path.read_text())
    assert config["run"]["spike_guard"] is True and config["spike_guard_rule"] == RULE_VERSION
    runner = CliRunner()
    for change, fragment in (
        (
            {"spike_guard_rule": 1},
            f"spike guard rule 1, which skips other steps than this zoo's rule {RULE_VERSION}",
        ),
        (
            {"result_version": 1},
            f"trainer version 1, which trains differently from this one ({RESULT_VERSION}",
        ),
    ):
        config_path.write_text(json.dumps({**config, **change}))
        result = runner.invoke(app, ["train", "gpt2-nano", "--resume", "--out", str(out)])
        assert result.exit_code == 2, result.output
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and fragment in lines[0], lines
    del config["spike_guard_rule"]  # as the first rule's runs recorded it: rule 1
    config_path.write_text(json.dumps(config))
    assert (
        "spike guard rule 1"
        in runner.invoke(app, ["train", "gpt2-nano", "--resume", "--out", str(out)]).stderr
    )

    guarded = plan_run("gpt2-nano", data=str(corpus), steps=2)
    unguarded = plan_run("gpt2-nano", data=str(corpus), steps=2, spike_guard=False)
    assert guarded.spike_guard_rule == RULE_VERSION and unguarded.spike_guard_rule is None
    assert "spike_guard_rule" not in unguarded.to_dict() and guarded.key != unguarded.key
