"""Kill `zoo train` and `zoo compare` at their filesystem writes, then resume or rerun.

Every kill point must end in the uninterrupted run's result, bit for bit (same seed, same
machine): either the same command with `--resume` reaches it, or `--resume` refuses in one line
(exit 2: the directory does not exist yet, or the run already finished) and training again into
the same directory reaches it; and the one command a scheduler reruns (`--resume-auto`) finishes
every kill point. Never a different result with exit 0, never a stuck directory. `killer.py`
kills the process just before its N-th write, so the points include the instant before the run
folder exists, between every pair of writes of every commit, during the first checkpoint, and
during the final model, probe and summary.

Every test here starts `zoo train` (or `zoo compare`) in subprocesses, several times over, so
the whole module is in the slow suite (`-m slow`): the points of the first commit (plus the first
and the last write), every write of the run, and a killed comparison. `.ci/run` leaves out
`test_kill_at_every_write` (~140 writes at ~20 s each, and the first 60 for `--resume-auto`:
over an hour); run it by name. The default suite's fault injection is in-process (tests/cli/test_errors.py: a full disk, a read-only
directory). Set FAULT_REPORT=path to get a JSON report.
"""

import itertools
import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from tests.helpers import is_one_line_refusal, write_verse

HERE = pathlib.Path(__file__).parent
TRAIN = ["train", "gpt2-nano", "--steps", "6", "--eval-interval", "2", "--patience", "5"]
REPORT = []
pytestmark = pytest.mark.slow  # subprocess trainings, ~20 s per kill point on 2 cores


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A corpus, a warm cache, an uninterrupted reference run and its list of write events."""
    root = tmp_path_factory.mktemp("faults")
    corpus = write_verse(root / "works")  # conftest's `corpus`, once for the module
    env = {
        **os.environ,
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "ZOO_CACHE": str(root / "cache"),
        "ZOO_RESULTS": str(root / "results"),
        "KERAS_BACKEND": "tensorflow",
    }
    world = {"root": root, "env": env, "args": [*TRAIN, "--data", str(corpus)]}
    reference = _zoo(world, *world["args"], "--out", str(root / "reference"))
    assert reference.returncode == 0, reference.stderr[-3000:]
    events = root / "events.jsonl"
    counted = _killer(
        world, 0, *world["args"], "--out", str(root / "counted"), env={"FAULT_EVENTS": str(events)}
    )
    assert counted.returncode == 0, counted.stderr[-3000:]
    world["events"] = [json.loads(line) for line in events.read_text().splitlines()]
    assert _result(root / "counted") == _result(root / "reference")  # the runs repeat exactly
    yield world
    if os.environ.get("FAULT_REPORT"):
        pathlib.Path(os.environ["FAULT_REPORT"]).write_text(
            json.dumps(
                {
                    "write_events": len(world["events"]),
                    "events": world["events"],
                    "kill_points": REPORT,
                },
                indent=1,
            )
        )


def _zoo(world, *args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "zoo_cli.main", *args],
        env={**world["env"], **(env or {})},
        capture_output=True,
        text=True,
        timeout=900,
    )


def _killer(world, n, *args, env=None):
    return subprocess.run(
        [sys.executable, str(HERE / "killer.py"), str(n), *args],
        env={**world["env"], **(env or {})},
        capture_output=True,
        text=True,
        timeout=900,
    )


def _result(run):
    """Everything that must repeat bit for bit: losses, metric rows, probe logits."""
    summary = json.loads((run / "summary.json").read_text())
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    probe = np.load(run / "probe.npz")
    return {
        "summary": {
            k: summary[k]
            for k in (
                "steps",
                "final_train_loss",
                "validation_loss",
                "best_validation_loss",
                "best_step",
                "skipped_steps",
            )
        },
        "rows": [
            (r["step"], r["train_loss"], r["validation_loss"], r["learning_rate"]) for r in rows
        ],
        "logits": probe["logits"].tobytes(),
    }


def _check_kill_point(world, n):
    # One directory per check: several tests of the module kill at the same point (the last
    # write is also one of every write), and a run directory is never reused.
    out = world["root"] / f"killed-{n}-{next(_CHECKS)}"
    tries = 1
    while out.exists():  # the same point, tried already by another test of this module
        tries += 1
        out = world["root"] / f"killed-{n}-{tries}"
    killed = _killer(world, n, *world["args"], "--out", str(out))
    assert killed.returncode == -9, (n, killed.returncode, killed.stderr[-2000:])
    resumed = _zoo(world, *world["args"], "--resume", "--out", str(out))
    if resumed.returncode == 0:
        outcome = "resumed"
    else:
        assert is_one_line_refusal(resumed), (n, resumed.stderr[-3000:])
        if "already finished" in resumed.stderr:
            outcome = "already finished"
        else:  # nothing to resume: the run had not started, so training again must work
            again = _zoo(world, *world["args"], "--out", str(out))
            assert again.returncode == 0, (n, resumed.stderr, again.stderr[-3000:])
            outcome = "refused, trained again"
    assert _result(out) == _result(world["root"] / "reference"), (n, outcome)
    assert not [
        p.name for p in out.iterdir() if p.name.startswith(".partial.") or p.name.endswith(".tmp")
    ], n
    event = world["events"][n - 1]
    REPORT.append(
        {
            "kill_point": n,
            "before": event,
            "outcome": outcome,
            "resume_said": resumed.stderr.strip().splitlines()[-1:],
        }
    )
    return outcome


_CHECKS = itertools.count()


def _first_commit(events):
    """Indices (1-based) of the writes from the first checkpoint through its state copy."""
    start = next(i for i, e in enumerate(events) if "checkpoint.keras" in e["path"])
    end = next(
        i
        for i, e in enumerate(events)
        if i > start and "state.json" in e["path"] and e["kind"] == "os.replace"
    )
    return list(range(start + 1, end + 2))


def test_the_reference_run_is_deterministic_and_writes_through_commits(world):
    kinds = {e["kind"] for e in world["events"]}
    assert {"os.replace", "zipfile.w"} <= kinds
    assert len(_first_commit(world["events"])) >= 4


def test_kill_at_the_first_write_and_just_before_the_run_folder_exists(world):
    first = next(i for i, e in enumerate(world["events"]) if "/counted" in e["path"]) + 1
    assert world["events"][first - 1]["kind"] == "os.mkdir"  # the run folder itself
    for n in (1, first):
        assert _check_kill_point(world, n) == "refused, trained again"


def _in_the_run_directory(events, points):
    """Of `points`, those before a write to the run directory (or an fsync, which makes one
    durable), and the first before a write elsewhere: Keras's save works in a temporary
    directory of its own, and between its writes the run directory does not change, so one
    kill stands for them all (`test_kill_at_every_write` kills at each)."""
    ours = [n for n in points
            if "/counted" in events[n - 1].get("to", events[n - 1]["path"])
            or events[n - 1]["kind"] == "os.fsync"]  # fmt: skip
    elsewhere = [n for n in points if n not in ours]
    return sorted(ours + elsewhere[:1])


def test_kill_between_every_pair_of_writes_of_the_first_commit(world):
    """Every write of the first commit that changes the run directory or makes it durable: the
    partial checkpoint, its fsync and move into place, the state file's."""
    points = _in_the_run_directory(world["events"], _first_commit(world["events"]))
    assert len(points) >= 10, points
    outcomes = [_check_kill_point(world, n) for n in points]
    assert "resumed" in outcomes  # the later points resume (restart from step 0 or commit 1)


def test_kill_at_the_last_write(world):
    assert _check_kill_point(world, len(world["events"])) in ("resumed", "already finished")


@pytest.mark.slow
def test_kill_at_every_write(world):
    """Every write event of the run, one kill each (about 20 s per point on 2 cores), resumed
    with `--resume`; then each of the first 60 for the scheduler's one command."""
    for n in range(1, len(world["events"]) + 1):
        _check_kill_point(world, n)
    _check_auto(world, range(1, min(AUTO_KILL_POINTS, len(world["events"])) + 1))


AUTO_KILL_POINTS = 60


def _check_auto(world, points):
    """Kill `zoo train ... --resume-auto --out D` before each write event in `points`, then run
    the same command again: the uninterrupted result every time."""
    for n in points:
        out = world["root"] / f"auto-{n}-{next(_CHECKS)}"
        command = [*world["args"], "--resume-auto", "--out", str(out)]
        killed = _killer(world, n, *command)
        assert killed.returncode == -9, (n, killed.returncode, killed.stderr[-2000:])
        again = _zoo(world, *command)
        assert again.returncode == 0, (n, world["events"][n - 1], again.stderr[-3000:])
        assert _result(out) == _result(world["root"] / "reference"), n
        REPORT.append(
            {"auto_kill_point": n, "before": world["events"][n - 1], "outcome": "finished"}
        )


def _directory_changes(events):
    """Of the first `AUTO_KILL_POINTS` writes: the first, each that changes what a reader of
    the run directory sees (a folder made, a file moved into place), and the first, middle and
    last of the first checkpoint's writes. Every state the directory can be found in before
    its first commit, at a quarter of the kills of every write (`test_kill_at_every_write`
    kills at each)."""
    first = events[:AUTO_KILL_POINTS]
    points = {1}
    points.update(
        i
        for i, e in enumerate(first, 1)
        if "/counted" in e.get("to", e["path"]) and e["kind"] in ("os.mkdir", "os.replace")
    )
    checkpoint = [i for i, e in enumerate(first, 1) if "checkpoint.keras" in e["path"]]
    if checkpoint:
        points.update((checkpoint[0], checkpoint[len(checkpoint) // 2], checkpoint[-1]))
    return sorted(points)


def test_one_command_finishes_a_run_killed_wherever_its_directory_changes(world):
    """A scheduler that reruns one command after every preemption: `zoo train ... --resume-auto
    --out D` killed before the run's first write, before each change of its directory (the
    folder, the tokenizer's files, config and metrics moved into place) and inside its first
    checkpoint, then the same command again: the uninterrupted result every time."""
    points = _directory_changes(world["events"])
    assert len(points) >= 10, points  # the run folder, 3 tokenizer files, config, metrics, ...
    _check_auto(world, points)


COMPARE = ["compare", "--models", "gpt2-nano,palm-nano", "--budget", "3e8", "--json"]


def _table(stdout):
    rows = json.loads(stdout)["rows"]
    return [(r["model"], r["tokens"], r["final_train_loss"], r["validation_loss"]) for r in rows]


def test_a_killed_comparison_reruns_to_the_same_table(world):
    """`zoo compare` killed at writes of its first run's first commit, between its runs and in
    its second run; the same command again gives the uninterrupted table, bit for bit."""
    args = [*COMPARE, "--data", world["args"][world["args"].index("--data") + 1]]
    results = world["root"] / "compare-results"
    whole = _zoo(world, *args, env={"ZOO_RESULTS": str(results / "whole")})
    assert whole.returncode == 0, whole.stderr[-3000:]
    events = world["root"] / "compare-events.jsonl"
    counted = _killer(
        world, 0, *args, env={"ZOO_RESULTS": str(results / "counted"), "FAULT_EVENTS": str(events)}
    )
    assert counted.returncode == 0, counted.stderr[-3000:]
    listed = [json.loads(line) for line in events.read_text().splitlines()]
    commits = [i + 1 for i, e in enumerate(listed) if e.get("to", "").endswith("checkpoint.keras")]
    summaries = [i + 1 for i, e in enumerate(listed) if e.get("to", "").endswith("summary.json")]
    points = [commits[0] - 1, commits[0], summaries[0] + 1, commits[-1]]
    for n in points:
        env = {"ZOO_RESULTS": str(results / f"killed-{n}")}
        killed = _killer(world, n, *args, env=env)
        assert killed.returncode == -9, (n, killed.stderr[-2000:])
        again = _zoo(world, *args, env=env)
        assert again.returncode == 0, (n, again.stderr[-3000:])
        assert _table(again.stdout) == _table(whole.stdout), n
        REPORT.append({"compare_kill_point": n, "before": listed[n - 1], "outcome": "rerun"})
