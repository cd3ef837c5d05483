"""Two processes on 127.0.0.1, as the README's "Several hosts" commands run on two hosts, each
its own `zoo train`: TensorFlow's `MultiWorkerMirroredStrategy` from TF_CONFIG, and JAX's
`data-parallel` over both processes' devices from Keras's KERAS_DISTRIBUTION_* variables.

They train; only the chief (process 0) writes the run, process 1 its own `<out>.worker-1`; and
their losses equal one process's at the same global batch (within 1e-5 relative: the gradients
are all-reduced across the processes in another order than one process sums them).
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from tests.helpers import free_ports

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("isolated")]
STEPS = 8
TRAIN = ["gpt2-nano", "--steps", str(STEPS), "--eval-interval", "4", "--batch-size", "8"]


def _zoo(*args, env=None):
    """A `zoo` command in a process of its own (as on a host of its own)."""
    return subprocess.Popen(
        [sys.executable, "-m", "zoo_cli.main", *args],
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _losses(run):
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [r["train_loss"] for r in rows], [r["validation_loss"] for r in rows]


def _cluster(backend, addresses, index):
    """(strategy, environment) of process `index` of a run over `len(addresses)` processes."""
    if backend == "tensorflow":
        config = {"cluster": {"worker": addresses}, "task": {"type": "worker", "index": index}}
        return "multi-worker", {"TF_CONFIG": json.dumps(config)}
    return "data-parallel", {
        "KERAS_DISTRIBUTION_JOB_ADDRESSES": ",".join(addresses),
        "KERAS_DISTRIBUTION_NUM_PROCESSES": str(len(addresses)),
        "KERAS_DISTRIBUTION_PROCESS_ID": str(index),
    }


@pytest.mark.parametrize("processes", [2, 4])
@pytest.mark.parametrize("backend", ["tensorflow", "jax"])
def test_processes_train_as_one_and_only_the_chief_writes_the_run(
    tmp_path, corpus, backend, processes
):
    """2 and 4 processes, each its own `zoo train`, against one process at the same global
    batch (8 sequences: 4 or 2 per process)."""
    addresses = [f"127.0.0.1:{port}" for port in free_ports(processes)]
    out = tmp_path / "run"
    common = [*TRAIN, "--data", str(corpus), "--backend", backend]
    workers = []
    for index in range(processes):
        strategy, env = _cluster(backend, addresses, index)
        workers.append(
            _zoo("train", *common, "--strategy", strategy, "--out", str(out),
                 env={"KERAS_BACKEND": backend, **env})
        )  # fmt: skip
    single = _zoo(
        "train", *common, "--out", str(tmp_path / "single"), env={"KERAS_BACKEND": backend}
    )
    for process in (*workers, single):
        _, stderr = process.communicate(timeout=600)
        assert process.returncode == 0, stderr[-3000:]
    others = [tmp_path / f"run.worker-{i}" for i in range(1, processes)]
    assert all((run / "summary.json").is_file() for run in (out, *others))
    config = json.loads((out / "config.json").read_text())
    assert config["distribution"]["strategy"] == _cluster(backend, addresses, 0)[0]
    assert config["distribution"]["replicas"] == processes
    expected = _losses(tmp_path / "single")
    for run in (out, *others):
        train, validation = _losses(run)
        assert len(train) == len(expected[0]) == 2
        np.testing.assert_allclose(train, expected[0], rtol=1e-5)
        np.testing.assert_allclose(validation, expected[1], rtol=1e-5)


def _worker(backend, args, addresses, index):
    """Process `index` of a two-process run of `zoo train ARGS` on `backend`."""
    strategy, env = _cluster(backend, addresses, index)
    return _zoo(*args, "--strategy", strategy, env={"KERAS_BACKEND": backend, **env})


@pytest.mark.parametrize("backend", ["tensorflow", "jax"])
def test_a_killed_worker_stops_the_chief_in_one_line_and_resume_continues_exactly(
    tmp_path, corpus, backend
):
    """Worker 1 is killed (SIGKILL) after its second commit: the chief exits 3 with one line
    naming it, keeping its last commit (on JAX at once: its distributed client would abort the
    process at shutdown, ~100 s later); the same command with --resume on both workers finishes
    the run, whose every evaluation equals an uninterrupted one-process run's."""
    import time

    addresses = [f"127.0.0.1:{port}" for port in free_ports(2)]
    out = tmp_path / "run"
    args = ["train", "gpt2-nano", "--steps", "120", "--eval-interval", "20", "--batch-size", "8",
            "--data", str(corpus), "--backend", backend, "--out", str(out)]  # fmt: skip
    chief, worker = (_worker(backend, args, addresses, i) for i in (0, 1))
    metrics = tmp_path / "run.worker-1" / "metrics.jsonl"
    deadline = time.monotonic() + 300
    while not (metrics.exists() and len(metrics.read_text().splitlines()) >= 2):
        assert worker.poll() is None and time.monotonic() < deadline, "worker 1 never committed"
        time.sleep(0.2)
    worker.kill()
    worker.communicate()
    _, stderr = chief.communicate(timeout=300)
    assert chief.returncode == 3, stderr[-2000:]
    (line,) = [text for text in stderr.splitlines() if text.startswith("error:")]
    name = "worker 1" if backend == "tensorflow" else "process 1"
    assert line.startswith(f"error: {name} ({addresses[1]}) stopped during the run"), line
    assert "keeps its last commit (step " in line and line.endswith("--resume to continue")

    resumed = [_worker(backend, [*args, "--resume"], addresses, i) for i in (0, 1)]
    single = _zoo("train", *args[1:12], "--out", str(tmp_path / "single"),
                  env={"KERAS_BACKEND": backend})  # fmt: skip
    for process in (*resumed, single):
        _, stderr = process.communicate(timeout=600)
        assert process.returncode == 0, stderr[-3000:]
    expected = _losses(tmp_path / "single")
    for run in (out, tmp_path / "run.worker-1"):
        train, validation = _losses(run)
        assert len(train) == 6
        np.testing.assert_allclose(train, expected[0], rtol=1e-5)
        np.testing.assert_allclose(validation, expected[1], rtol=1e-5)


STEP_CHECK = """
import sys
from zoo.errors import ZooError
from zoo.training.distribution import resolve_distribution, start_collectives
strategy, backend, step = sys.argv[1], sys.argv[2], int(sys.argv[3])
start_collectives(strategy, backend)
distribution = resolve_distribution(strategy, backend)
try:
    distribution.check_same_step(step)
except ZooError as error:
    print(error)
"""


def _step_check(backend, steps):
    """What each process of a run on `backend` prints when the processes' last commits are
    `steps`: the last line of its stdout (gloo prints its own "[Gloo] Rank 0 is ..." first)."""
    addresses = [f"127.0.0.1:{port}" for port in free_ports(len(steps))]
    processes = []
    for index, step in enumerate(steps):
        strategy, env = _cluster(backend, addresses, index)
        processes.append(
            subprocess.Popen(
                [sys.executable, "-c", STEP_CHECK, strategy, backend, str(step)],
                env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "KERAS_BACKEND": backend, **env},
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            )
        )  # fmt: skip
    lines = []
    for process in processes:
        stdout, stderr = process.communicate(timeout=300)
        assert process.returncode == 0, stderr[-2000:]
        lines.append(stdout.strip().splitlines()[-1])
    return lines


def test_workers_whose_last_commits_differ_refuse_to_resume_together():
    """Each worker states its committed step through a collective; when they differ, every
    worker refuses in one line instead of training different steps."""
    lines = _step_check("tensorflow", (60, 40))
    assert lines[0].startswith("the 2 workers' last commits differ (this one, worker 0: step 60")
    assert lines[1].startswith("the 2 workers' last commits differ (this one, worker 1: step 40")
    assert all("their mean: step 50" in line for line in lines)


def test_jax_processes_whose_last_commits_differ_refuse_to_resume_together():
    """The same on JAX: the processes gather their committed steps and each refuses in one
    line, naming every process's step."""
    lines = _step_check("jax", (60, 40))
    for index, step in ((0, 60), (1, 40)):
        assert lines[index] == (
            f"the 2 processes' last commits differ (this one, process {index}: step {step}; "
            "theirs: step 60, step 40), so they cannot resume together: a process was stopped "
            "between the others' commit and its own"
        )
