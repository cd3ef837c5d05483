"""Two processes on 127.0.0.1, as the README's "Several hosts" commands run on two hosts, each
its own `zoo train`: TensorFlow's `MultiWorkerMirroredStrategy` from TF_CONFIG, and JAX's
`data-parallel` over both processes' devices from Keras's KERAS_DISTRIBUTION_* variables.

They train; only the chief (process 0) writes the run, process 1 its own `<out>.worker-1`; and
their losses equal one process's at the same global batch (within 1e-5 relative: the gradients
are all-reduced across the processes in another order than one process sums them).
"""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("isolated")]
STEPS = 8
TRAIN = ["gpt2-nano", "--steps", str(STEPS), "--eval-interval", "4", "--batch-size", "8"]


def _free_ports(count):
    """Ports the kernel has just handed out (bound, read, released)."""
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


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
    """(strategy, environment) of process `index` of a two-process run."""
    if backend == "tensorflow":
        config = {"cluster": {"worker": addresses}, "task": {"type": "worker", "index": index}}
        return "multi-worker", {"TF_CONFIG": json.dumps(config)}
    return "data-parallel", {
        "KERAS_DISTRIBUTION_JOB_ADDRESSES": ",".join(addresses),
        "KERAS_DISTRIBUTION_NUM_PROCESSES": "2",
        "KERAS_DISTRIBUTION_PROCESS_ID": str(index),
    }


@pytest.mark.parametrize("backend", ["tensorflow", "jax"])
def test_two_processes_train_as_one_and_only_the_chief_writes_the_run(tmp_path, corpus, backend):
    addresses = [f"127.0.0.1:{port}" for port in _free_ports(2)]
    out = tmp_path / "run"
    common = [*TRAIN, "--data", str(corpus), "--backend", backend]
    processes = []
    for index in (0, 1):
        strategy, env = _cluster(backend, addresses, index)
        processes.append(
            _zoo("train", *common, "--strategy", strategy, "--out", str(out),
                 env={"KERAS_BACKEND": backend, **env})
        )  # fmt: skip
    single = _zoo(
        "train", *common, "--out", str(tmp_path / "single"), env={"KERAS_BACKEND": backend}
    )
    for process in (*processes, single):
        _, stderr = process.communicate(timeout=600)
        assert process.returncode == 0, stderr[-3000:]
    chief, other = out, tmp_path / "run.worker-1"
    assert (chief / "summary.json").is_file() and (other / "summary.json").is_file()
    config = json.loads((chief / "config.json").read_text())
    assert config["distribution"]["strategy"] == _cluster(backend, addresses, 0)[0]
    assert config["distribution"]["replicas"] == 2
    expected = _losses(tmp_path / "single")
    for run in (chief, other):
        train, validation = _losses(run)
        assert len(train) == len(expected[0]) == 2
        np.testing.assert_allclose(train, expected[0], rtol=1e-5)
        np.testing.assert_allclose(validation, expected[1], rtol=1e-5)
