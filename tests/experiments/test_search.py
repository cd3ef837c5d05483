"""`zoo.tune()` and `zoo tune`: the space's grammar, the samplers and pruners, a study that
trains each trial as an ordinary run (a rerun trains nothing), pruning on the run's own
evaluations, and bad input as one line before anything trains."""

import contextlib
import json
import math
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.helpers import assert_one_line, invoker
from zoo.errors import ZooError
from zoo.experiments.search import (
    GRID_POINTS,
    PRUNERS,
    SAMPLERS,
    Dimension,
    make_pruner,
    make_sampler,
    open_storage,
    parse_space,
)
from zoo_cli import main

invoke = invoker(main.app, prefix=["tune"])
TINY = ["--steps", "4", "--eval-interval", "2", "--no-spike-guard"]


def test_the_space_grammar():
    dims = parse_space(["learning_rate=log:1e-4:1e-1", "warmup_steps=int:0:500",
                        "beta_2=0.95,0.99,0.999", "weight_decay=float:0:0.2",
                        "attention_pattern=dense"])  # fmt: skip
    assert dims[0] == Dimension("learning_rate", "log", 1e-4, 1e-1)
    assert dims[1] == Dimension("warmup_steps", "int", 0, 500)
    assert dims[2] == Dimension("beta_2", "choice", choices=(0.95, 0.99, 0.999))
    assert dims[4].choices == ("dense",)
    # The grid sampler's points: log-spaced, ends included; ints rounded and distinct.
    assert dims[0].grid() == pytest.approx([1e-4, 10**-3.25, 10**-2.5, 10**-1.75, 1e-1])
    assert dims[1].grid() == [0, 125, 250, 375, 500] and len(dims[3].grid()) == GRID_POINTS
    assert Dimension("num_layers", "int", 1, 2).grid() == [1, 2]
    assert parse_space({"batch_size": "8,16"})[0].choices == (8, 16)


@pytest.mark.parametrize("space, fragment", [
    ([], "space is empty"),
    (["learning_rate"], "takes FIELD=SPEC"),
    (["learnig_rate=log:1e-4:1e-1"], "unknown field 'learnig_rate'; did you mean: learning_rate"),
    (["learning_rate=log:0:1e-1"], "a log range needs LOW > 0"),
    (["learning_rate=log:1e-1:1e-4"], "LOW < HIGH"),
    (["learning_rate=log:1e-4"], "LOW < HIGH"),
    (["warmup_steps=int:0:2.5"], "an int range has whole ends"),
    (["warmup_steps=linear:0:5"], "unknown kind 'linear'"),
    (["beta_2=0.9,0.9"], "distinct values"),
    (["beta_2=0.9,,0.99"], "distinct values"),
    (["beta_2=0.9", "beta_2=0.99"], "names 'beta_2' twice"),
])  # fmt: skip
def test_bad_spaces_are_refused(space, fragment):
    with pytest.raises(ZooError, match="^space") as error:
        parse_space(space)
    assert fragment in str(error.value)


def test_every_sampler_and_pruner_is_optunas_own():
    import optuna

    dims = parse_space(["learning_rate=log:1e-4:1e-1", "beta_2=0.95,0.99"])
    names = {s: type(make_sampler(s, 0, dims)).__name__ for s in SAMPLERS}
    assert names == {"grid": "GridSampler", "random": "RandomSampler", "tpe": "TPESampler",
                     "gp": "GPSampler", "cmaes": "CmaEsSampler", "nsga2": "NSGAIISampler"}  # fmt: skip
    assert {p: type(make_pruner(p)).__name__ for p in PRUNERS} == {
        "none": "NopPruner", "median": "MedianPruner", "asha": "SuccessiveHalvingPruner",
        "hyperband": "HyperbandPruner"}  # fmt: skip
    # Each sampler searches the space it is given, on a closed-form objective.
    for name in SAMPLERS:
        study = optuna.create_study(sampler=make_sampler(name, 0, dims))
        study.optimize(lambda t: (math.log10(dims[0].suggest(t)) + 2.5) ** 2
                       + (dims[1].suggest(t) == 0.95), n_trials=6)  # fmt: skip
        assert len(study.trials) == 6 and 1e-4 <= study.best_params["learning_rate"] <= 1e-1
    with pytest.raises(ZooError, match="^sampler unknown sampler 'tpee'; did you mean: tpe"):
        make_sampler("tpee", 0, dims)
    with pytest.raises(ZooError, match="^prune unknown pruner 'sha'"):
        make_pruner("sha")


@pytest.mark.parametrize("url, fragment", [
    ("not a url", "is not a database URL"),
    ("nosuchdb://host/x", "cannot be opened"),
    ("postgresql+nosuchdriver://127.0.0.1/x", "cannot be opened"),
    ("postgresql://nobody@127.0.0.1:1/zoo", "cannot be opened: connection"),  # nothing listens
])  # fmt: skip
def test_bad_storage_urls_are_refused(url, fragment):
    with pytest.raises(ZooError, match="^storage") as error:
        open_storage(url)
    assert fragment in str(error.value)


@pytest.mark.slow  # five tiny runs, ~60 s on 2 cores
def test_a_study_end_to_end_then_a_rerun_trains_nothing(corpus, isolated, tmp_path):
    """Three random trials of a tiny run: a table and JSON of trials, the best, its run on disk
    as an ordinary run; the same command again trains nothing; more trials add only the new."""
    args = ["gpt2-nano", "--space", "learning_rate=log:1e-3:3e-2", "--space", "beta_2=0.95,0.99",
            "--sampler", "random", "--data", corpus, *TINY]  # fmt: skip
    plot = tmp_path / "study.png"
    first = invoke(*args, "--trials", "3", "--plot", plot)
    assert first.exit_code == 0, first.output
    assert "gpt2-nano · random sampler (seed 0)" in first.stdout and "3 trained now" in first.stdout
    assert plot.read_bytes().startswith(b"\x89PNG")
    again = invoke(*args, "--trials", "3", "--json")
    assert again.exit_code == 0, again.output
    result = json.loads(again.stdout)
    assert result["trained"] == 0 and len(result["trials"]) == 3
    assert all(t["state"] == "complete" and not t["trained_now"] for t in result["trials"])
    best = min(result["trials"], key=lambda t: t["loss"])
    assert result["best"]["number"] == best["number"]
    summary = json.loads((tmp_path / best["run"] / "summary.json").read_text())
    assert summary["validation_loss"] == pytest.approx(best["loss"])
    assert result["storage"].startswith("sqlite:///") and result["storage"].endswith("studies.db")
    more = json.loads(invoke(*args, "--trials", "4", "--json").stdout)
    assert more["trained"] == 1 and [t["trained_now"] for t in more["trials"]] == [False] * 3 + [
        True
    ]


def test_the_same_study_name_with_another_space_is_refused(corpus, isolated, tmp_path):
    """A study 'mine' recorded with one space (as a first `zoo tune --study mine` leaves it):
    the same name with another space is one line, exit 2, and trains nothing."""
    import optuna

    from zoo.experiments import search

    recorded = {"model": "gpt2-nano", "overrides": {}, "space": [{"field": "learning_rate", "kind": "log",
                "low": 1e-3, "high": 3e-2}], "run": {}, "pruner": "none",
                "objective": "validation_loss"}  # fmt: skip
    storage = search.open_storage(search.default_storage())
    search._open_study("mine", storage, recorded, optuna.samplers.RandomSampler(), None)
    result = invoke("gpt2-nano", "--study", "mine", "--data", corpus, "--trials", "1", *TINY,
                    "--space", "learning_rate=log:1e-3:1e-1")  # fmt: skip
    assert_one_line(result, "--study 'mine' exists with another space, run", empty_stdout=True)
    assert not [p for p in (tmp_path / "results").iterdir() if p.name != "studies.db"]


@pytest.mark.parametrize("args, fragment", [
    (["--space", "learnig_rate=log:1e-4:1e-1"], "--space unknown field 'learnig_rate'"),
    (["--space", "learning_rate=log:1e-4:1e-1", "--sampler", "bayes"], "--sampler unknown"),
    (["--space", "learning_rate=log:1e-4:1e-1", "--prune", "early"], "--prune unknown pruner"),
    (["--space", "learning_rate=log:1e-4:1e-1", "--trials", "0"], "--trials must be"),
    (["--space", "learning_rate=log:1e-4:1e-1", "--storage", "mysql+nope://x"], "--storage"),
    (["--space", "num_layers=int:0:1"], "num_layers"),
    (["--space", "learning_rate=log:1e-4:1e-1", "--set", "learning_rate=1e-3"],
     "--set fix 'learning_rate', which the space searches"),
])  # fmt: skip
def test_bad_input_is_one_line_and_nothing_is_written(args, fragment, corpus, isolated, tmp_path):
    result = invoke("gpt2-nano", "--data", corpus, *TINY, *args)
    assert_one_line(result, fragment, empty_stdout=True)
    assert not (tmp_path / "results").exists()  # no run, no study file


@pytest.mark.slow  # a training in process (~8 s): the default suite keeps its 3 minutes
def test_a_pruned_trial_stops_after_its_committed_evaluation(corpus, isolated, monkeypatch):
    """A pruner that condemns every evaluation: the run stops at the step after its first
    evaluation (step 2 of 4), which is committed, so a later study can resume the run."""
    import optuna

    import zoo
    from zoo.experiments import search
    from zoo.storage.runs import RunRecord

    monkeypatch.setattr(search, "make_pruner", lambda name: optuna.pruners.ThresholdPruner(upper=0))
    result = zoo.tune("gpt2-nano", space=["learning_rate=log:1e-3:3e-2"], trials=1,
                      sampler="random", data=str(corpus), steps=4, eval_interval=2,
                      spike_guard=False)  # fmt: skip
    (trial,) = result["trials"]
    assert (trial["state"], trial["steps"], result["best"]) == ("pruned", 2, None)
    record = RunRecord(trial["run"])
    assert not record.complete and [r["step"] for r in record.metrics()] == [2]
    assert trial["loss"] == pytest.approx(record.metrics()[0]["validation_loss"])


@pytest.mark.slow  # three tiny runs
def test_a_process_out_of_memory_maps_queues_its_trial_again(corpus, isolated, monkeypatch):
    """The trainer refuses a run in a process near Linux's memory-map limit (TensorFlow keeps
    every program it compiled): one line, and the refused trial's settings go back to the
    queue, so the same study in a fresh process trains exactly those next."""
    import zoo
    from zoo.training import memory_maps, trainer

    calls = []

    def refuse_the_second(usage=None):
        calls.append(1)
        if len(calls) == 2:
            raise memory_maps.MapHeadroomError("this process holds too many maps")

    monkeypatch.setattr(trainer, "check_map_headroom", refuse_the_second)
    options = dict(space=["beta_2=float:0.9:0.99"], sampler="random", data=str(corpus),
                   steps=2, spike_guard=False)  # fmt: skip
    with pytest.raises(ZooError, match="too many maps"):
        zoo.tune("gpt2-nano", trials=3, **options)
    result = zoo.tune("gpt2-nano", trials=2, **options)  # the same study, continued
    rows = result["trials"]
    assert [(r["number"], r["state"]) for r in rows] == [(0, "complete"), (2, "complete")]
    assert result["trained"] == 1
    import optuna

    from zoo.experiments.search import default_storage

    trials = optuna.load_study(study_name=result["study"], storage=default_storage()).trials
    assert trials[1].state.name == "FAIL" and trials[2].params == trials[1].params


@pytest.mark.slow  # two runs of 20 steps and a kill, ~50 s on 2 cores
def test_a_killed_study_continues_its_trial_from_the_last_commit(corpus, isolated, tmp_path):
    """SIGKILL during the first trial, after its first commit: the same command again fails the
    dead process's trial, queues its values again and resumes its run; the study ends with the
    trials asked for, the interrupted one's run finished in the same directory."""
    import optuna

    args = [sys.executable, "-m", "zoo_cli.main", "tune", "gpt2-nano", "--study", "killed",
            "--space", "learning_rate=log:1e-3:3e-2", "--sampler", "random", "--trials", "2",
            "--data", str(corpus), "--steps", "20", "--eval-interval", "5",
            "--no-spike-guard"]  # fmt: skip
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    storage = f"sqlite:///{tmp_path / 'results' / 'studies.db'}"
    process = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline, killed = time.monotonic() + 600, None
    while time.monotonic() < deadline and process.poll() is None:
        if _running_with_a_commit(tmp_path / "results" / "studies.db"):
            os.kill(process.pid, signal.SIGKILL)
            (killed,) = [t for t in optuna.load_study(study_name="killed", storage=storage).trials
                         if t.state.name == "RUNNING"]  # fmt: skip
            break
        time.sleep(0.5)
    process.wait(timeout=60)
    assert killed is not None, process.stderr.read().decode()[-3000:]
    again = subprocess.run([*args, "--json"], env=env, capture_output=True, text=True,
                           timeout=900)  # fmt: skip
    assert again.returncode == 0, again.stderr[-3000:]
    result = json.loads(again.stdout)
    assert any("queued again, its run resumed" in n for n in result["notes"])
    assert [t["state"] for t in result["trials"]] == ["complete", "complete"]
    retried = [t for t in result["trials"] if t["params"] == killed.params]
    assert len(retried) == 1 and retried[0]["trained_now"]
    assert retried[0]["run"] == killed.user_attrs.get("run", retried[0]["run"])
    assert "resumed" in again.stderr  # the run continued from its commit, not from step 0


def _running_with_a_commit(path):
    """Whether Optuna's tables at `path` hold a RUNNING trial with an evaluation reported, read
    without creating anything (Optuna's own loader would create the tables, racing the study)."""
    import sqlite3

    if not path.exists():
        return False
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            return bool(db.execute(
                "SELECT 1 FROM trials t JOIN trial_intermediate_values v "
                "ON v.trial_id = t.trial_id WHERE t.state = 'RUNNING' LIMIT 1").fetchall())  # fmt: skip
    except sqlite3.OperationalError:  # the tables are not made yet, or the file is locked
        return False


@pytest.mark.slow  # two distinct tiny runs, reused across 4 studies, ~30 s on 2 cores
def test_samplers_compared_over_seeds(corpus, isolated, tmp_path):
    """Two samplers × two seeds on a two-point space: four studies, two distinct runs (the
    rest reused by key), every curve and count as the trials say; again, nothing trains."""
    args = ["gpt2-nano", "--space", "beta_2=0.95,0.99", "--sampler", "random,grid",
            "--sampler-seeds", "2", "--trials", "2", "--data", corpus, *TINY]  # fmt: skip
    plot = tmp_path / "samplers.png"
    first = invoke(*args, "--plot", plot)
    assert first.exit_code == 0, first.output
    assert "samplers compared over 2 trials, 2 seeds each" in first.stdout
    assert plot.read_bytes().startswith(b"\x89PNG")
    result = json.loads(invoke(*args, "--json").stdout)
    assert result["kind"] == "samplers" and result["trained"] == 0
    studies = result["studies"]
    assert [(s["sampler"], s["seed"]) for s in studies] == [
        ("random", 0), ("random", 1), ("grid", 0), ("grid", 1)]  # fmt: skip
    losses = {loss for s in studies for loss in s["losses"] if loss is not None}
    assert len(losses) <= 2 and result["comparison"]["reference"] == min(losses)
    for row, mine in zip(result["comparison"]["samplers"], (studies[:2], studies[2:])):
        last = [min(loss for loss in s["losses"] if loss is not None) for s in mine]
        assert row["best_after"][-1]["mean"] == pytest.approx(sum(last) / 2)
    # the grid of two points tries both in two trials: it always finds the best
    assert result["comparison"]["samplers"][1]["trials_to_tolerance"]["reached"] == 2
    # every trial's settings kept beside its loss; the best found is the reference's trial
    assert all(len(s["params"]) == 2 and {p["beta_2"] for p in s["params"]} <= {0.95, 0.99}
               for s in studies)  # fmt: skip
    assert result["best"]["loss"] == result["comparison"]["reference"]
    assert set(result["importance"]) <= {"beta_2"}
