"""`--jobs N`: the CPUs split one group per worker, workers pinned to theirs before a backend
starts, a sweep trained side by side equal to the same sweep trained one run at a time, failed
cells included, and workers that die with their parent (SIGKILL, SIGTERM) so a rerun goes on."""

import math
import os
import pathlib

import pytest

from zoo.errors import ZooError
from zoo.experiments import pool as jobs
from zoo.experiments import sweep as sweeps

pytestmark = pytest.mark.usefixtures("isolated")

BUDGETS = (
    1e10,
    3e10,
)  # two llama-nano runs, the cheapest sweep tests/experiments/test_sweep.py has
two_cpus = pytest.mark.skipif(len(jobs.available_cpus()) < 2, reason="needs 2 CPUs")


def test_cpus_split_into_disjoint_groups_that_cover_them_all():
    assert jobs.split_cpus([0, 1], 1) == [(0, 1)]
    assert jobs.split_cpus([1, 0], 2) == [(0,), (1,)]
    assert jobs.split_cpus(range(8), 3) == [(0, 1, 2), (3, 4, 5), (6, 7)]
    assert jobs.split_cpus([0, 2, 4, 6, 9], 2) == [(0, 2, 4), (6, 9)]  # a sparse mask
    for cpus, groups in [(range(16), 5), (range(3), 3), (range(7), 2)]:
        split = jobs.split_cpus(cpus, groups)
        flat = [c for group in split for c in group]
        assert len(split) == groups and sorted(flat) == list(cpus) and len(set(flat)) == len(flat)
        assert max(map(len, split)) - min(map(len, split)) <= 1
    for groups in (0, 3, True, 1.5):
        with pytest.raises(ValueError):
            jobs.split_cpus([0, 1], groups)


def test_jobs_must_be_between_one_and_the_cpus_available():
    cpus = len(jobs.available_cpus())
    assert jobs.check_jobs(1) == 1 and jobs.check_jobs(cpus) == cpus
    assert 1 <= jobs.default_jobs() <= min(jobs.DEFAULT_JOBS, cpus)
    assert jobs.default_jobs("multi-worker") == jobs.default_jobs("mirrored") == 1
    for bad, fragment in [
        (0, "at least 1"),
        (-2, "at least 1"),
        (True, "at least 1"),
        (2.0, "at least 1"),
        (cpus + 1, f"at most the {cpus} CPUs"),
    ]:
        with pytest.raises(ZooError, match=fragment):
            jobs.check_jobs(bad)
    with pytest.raises(ZooError, match="^jobs"):  # before anything is planned or written
        sweeps.sweep_compute("llama-nano", budgets=BUDGETS, jobs=cpus + 1)
    jobs.check_strategy(1, "multi-worker")
    jobs.check_strategy(2, "auto")
    # The library names fields (the CLI writes them as --strategy multi-worker, --jobs 1).
    with pytest.raises(ZooError, match="combined with strategy='multi-worker' .use jobs=1.$"):
        jobs.check_strategy(2, "multi-worker")


def test_a_workers_thread_pools_keep_the_size_one_job_has():
    """Pools the size of the worker's group would change the sums' order and so the losses:
    they keep the parent's sizes (its setting, else its CPU count), confined by the affinity."""
    assert jobs.thread_environment("jax", environ={}, cpus=8) == {
        "TF_NUM_INTRAOP_THREADS": "8",
        "TF_NUM_INTEROP_THREADS": "8",
        "OMP_NUM_THREADS": "8",
        "KERAS_BACKEND": "jax",
    }
    given = jobs.thread_environment("tensorflow", environ={"TF_NUM_INTRAOP_THREADS": "3"}, cpus=8)
    assert given["TF_NUM_INTRAOP_THREADS"] == "3" and given["TF_NUM_INTEROP_THREADS"] == "8"


@two_cpus
def test_workers_are_pinned_to_their_group_and_errors_reach_the_parent():
    """Stand-in tasks from the standard library, so no backend starts in the workers."""
    import keras

    groups = jobs.split_cpus(jobs.available_cpus(), 2)
    results = []
    jobs.run_tasks(
        os.sched_getaffinity,
        [0, 0],
        2,
        results.append,
        lambda task, result: results.append(tuple(sorted(result))),
    )
    assert len(results) == 2 and set(results) <= set(groups)
    seen = {}
    jobs.run_tasks(
        os.getenv,
        ["TF_NUM_INTRAOP_THREADS", "OMP_NUM_THREADS", "KERAS_BACKEND", "XLA_FLAGS"],
        2,
        results.append,
        seen.__setitem__,
    )
    one_job = os.environ.get("TF_NUM_INTRAOP_THREADS") or str(len(jobs.available_cpus()))
    assert seen["TF_NUM_INTRAOP_THREADS"] == one_job  # the pool of one job, on fewer CPUs
    assert seen["KERAS_BACKEND"] == keras.backend.backend()
    assert seen["XLA_FLAGS"] == os.environ.get("XLA_FLAGS")  # left as it is
    with pytest.raises(ValueError, match="invalid literal"):
        jobs.run_tasks(int, ["1", "not a number"], 2, results.append, lambda task, result: None)


class Events(sweeps.SweepReporter):
    def __init__(self):
        self.seen, self.finished_runs, self.messages = [], [], []

    def run(self, index, count, label, seed, status):
        self.seen.append((index, status))

    def finished(self, index, count, label, seed, status):
        self.finished_runs.append((index, status))

    def message(self, text):
        self.messages.append(text)


def _same(parallel, sequential):
    """The same points in plan order and the same fits: only wall times and paths differ."""
    assert [r["key"] for r in parallel["plan"]] == [r["key"] for r in sequential["plan"]]
    assert len(parallel["points"]) == len(sequential["points"])
    for a, b in zip(parallel["points"], sequential["points"]):
        assert pathlib.Path(a["run"]).name == pathlib.Path(b["run"]).name  # named by key
        assert (a["arm"], a["budget"], a["seed"], a["params"], a["tokens"]) == (
            b["arm"],
            b["budget"],
            b["seed"],
            b["params"],
            b["tokens"],
        )
        assert a["loss"] == pytest.approx(b["loss"], rel=1e-6)
    assert [
        (f["arm"], f["budget"], f["seed"], f["step"], f["reason"]) for f in parallel["failed"]
    ] == [(f["arm"], f["budget"], f["seed"], f["step"], f["reason"]) for f in sequential["failed"]]


def _close(a, b):
    """Equal, floats to within 1e-4 relative (the fits of points equal to 1e-6)."""
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for key in a:
            _close(a[key], b[key])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _close(x, y)
    elif isinstance(a, float):
        assert a == pytest.approx(b, rel=1e-4, nan_ok=True)
    else:
        assert a == b


@pytest.mark.slow
@two_cpus
def test_a_sweep_side_by_side_equals_the_sweep_one_run_at_a_time(corpus, tmp_path, monkeypatch):
    args = dict(budgets=BUDGETS, data=str(corpus), bootstrap=20)
    sequential = sweeps.sweep_compute("llama-nano", jobs=1, **args)
    assert sequential["jobs"] == 1 and sequential["workers"] == 1
    monkeypatch.setenv("ZOO_RESULTS", str(tmp_path / "results-2"))  # nothing to reuse
    reporter = Events()
    parallel = sweeps.sweep_compute("llama-nano", jobs=2, reporter=reporter, **args)
    assert parallel["jobs"] == 2 and parallel["workers"] == 2
    assert sorted(reporter.seen) == [(0, "training"), (1, "training")]
    assert sorted(reporter.finished_runs) == [(0, "done"), (1, "done")]
    _same(parallel, sequential)
    for a, b in zip(parallel["points"], sequential["points"]):
        assert pathlib.Path(a["run"]).parent == tmp_path / "results-2"
    _close(parallel["fits"], sequential["fits"])
    again = Events()  # a rerun side by side reuses every run, in the parent
    rerun = sweeps.sweep_compute("llama-nano", jobs=2, reporter=again, **args)
    assert rerun["workers"] == 1 and again.seen == [(0, "reused"), (1, "reused")]
    assert rerun["points"] == parallel["points"]


@pytest.mark.slow
@two_cpus
def test_a_cell_that_fails_in_a_worker_is_a_failed_cell_and_the_sweep_finishes(corpus):
    reporter = Events()
    result = sweeps.sweep_compute(
        "llama-nano",
        ablate="learning_rate=1e6",
        budgets=BUDGETS,
        data=str(corpus),
        bootstrap=20,
        jobs=2,
        reporter=reporter,
    )
    assert result["workers"] == 2 and len(result["plan"]) == 4
    assert [(p["arm"], p["budget"]) for p in result["points"]] == [
        ("llama-nano", 1e10),
        ("llama-nano", 3e10),
    ]
    assert all(math.isfinite(p["loss"]) for p in result["points"])
    failed = [(f["arm"], f["budget"]) for f in result["failed"]]
    assert failed == [
        ("llama-nano learning_rate=1000000.0", 1e10),
        ("llama-nano learning_rate=1000000.0", 3e10),
    ]
    for row in result["failed"]:
        assert "diverged" in row["reason"] and row["step"] and pathlib.Path(row["run"]).is_dir()
    assert sorted(reporter.finished_runs) == [
        (0, "done"),
        (1, "done"),
        (2, "failed"),
        (3, "failed"),
    ]
    assert sum("failed: training diverged" in m for m in reporter.messages) == 2
    again = Events()  # rerun: the failed cells are known and not retried
    rerun = sweeps.sweep_compute(
        "llama-nano",
        ablate="learning_rate=1e6",
        budgets=BUDGETS,
        data=str(corpus),
        bootstrap=20,
        jobs=2,
        reporter=again,
    )
    assert sorted(again.seen) == [
        (0, "reused"),
        (1, "reused"),
        (2, "failed before"),
        (3, "failed before"),
    ]
    _same(rerun, result)


def test_the_worker_module_imports_no_keras():
    """A worker imports this module before it is pinned and before Keras's start-up chatter is
    filtered (`_import_keras_quietly`), so the module itself must not import Keras."""
    import subprocess
    import sys

    code = "import sys, zoo.experiments.pool; print('keras' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# --- workers die with their parent: SIGKILL, SIGTERM (real processes, real signals) ---


def _stat(pid):
    """(state, start time) of process `pid` from /proc, or None once it is gone."""
    try:
        fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return fields[0], fields[19]


def _children(parent):
    """{pid: (command line, start time)} of the processes whose parent is `parent`."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = pathlib.Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            command = pathlib.Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:  # ended meanwhile
            continue
        if int(fields[1]) == parent:
            found[int(entry)] = (command.decode(errors="replace"), fields[19])
    return found


def _survivors(processes, seconds=10.0):
    """The pids of `processes` ({pid: (command, start time)}) still running (a zombie is not:
    it runs nothing and holds no lock) after up to `seconds`."""
    import time

    deadline = time.monotonic() + seconds
    while True:
        alive = []
        for pid, (_, start) in processes.items():
            stat = _stat(pid)
            if stat is not None and stat != ("Z", start) and stat[1] == start:
                alive.append(pid)
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.1)


def _default_signals():
    """In the child before exec: the signal actions a user's interactive shell gives a command
    (a shell that runs tests in the background may leave SIGINT ignored)."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _start(command, log):
    """`command` in its own session (a signal to it reaches it alone), output into `log`."""
    import subprocess

    with open(log, "w") as out:
        return subprocess.Popen(
            command,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_default_signals,
        )


def _end(processes):
    """Clean up after a failed test: SIGKILL what is left of the processes it started."""
    import signal

    for pid in _survivors(processes, seconds=0):
        os.kill(pid, signal.SIGKILL)


@pytest.mark.slow  # a subprocess of its own (the README's rule for the default suite)
@two_cpus
def test_workers_die_with_a_parent_killed_by_sigkill(tmp_path):
    """Stand-in tasks (each writes a file, then sleeps), so no backend starts in the workers:
    the parent is SIGKILLed while both run, and neither worker nor the multiprocessing resource
    tracker outlives it."""
    import signal
    import sys
    import time

    script = tmp_path / "parent.py"
    script.write_text(
        "import os, pathlib, sys, time\n"
        "from zoo.experiments import pool as jobs\n"
        "def task(name):\n"
        "    pathlib.Path(name).write_text(str(os.getpid()))\n"
        "    time.sleep(600)\n"
        "if __name__ == '__main__':\n"
        f"    jobs.run_tasks(task, [{str(tmp_path / 'a')!r}, {str(tmp_path / 'b')!r}], 2,\n"
        "                   print, lambda task, result: None)\n"
    )
    parent = _start([sys.executable, str(script)], tmp_path / "parent.log")
    children = {}
    try:
        deadline = time.monotonic() + 120
        started = [tmp_path / "a", tmp_path / "b"]
        while not all(path.exists() and path.read_text().isdigit() for path in started):
            assert parent.poll() is None, (tmp_path / "parent.log").read_text()
            assert time.monotonic() < deadline, "the tasks never started"
            time.sleep(0.1)
        children = _children(parent.pid)
        workers = {int(path.read_text()) for path in started}
        assert workers <= set(children) and any(
            "resource_tracker" in command for command, _ in children.values()
        )
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=30)
        assert _survivors(children) == []
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        _end(children)


def test_a_worker_whose_parent_is_gone_already_exits():
    """The race: a parent that dies before its worker asks for the death signal sends none, so
    the worker checks that its parent is still the one that started it, and exits if not."""
    import subprocess
    import sys

    code = (
        "import os, sys; from zoo.experiments.pool import _die_with_parent\n"
        "_die_with_parent(int(sys.argv[1])); print('alive')"
    )
    ours = subprocess.run(
        [sys.executable, "-c", code, str(os.getpid())], capture_output=True, text=True, timeout=60
    )
    assert ours.returncode == 0 and ours.stdout == "alive\n", ours.stderr
    gone = subprocess.run(
        [sys.executable, "-c", code, str(os.getpid() + 10**7)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert gone.returncode == 1 and gone.stdout == "" and gone.stderr == ""


SWEEP = [
    "-m",
    "zoo_cli.main",
    "sweep",
    "compute",
    "--models",
    "gpt2-nano",
    "--budgets",
    "1e10,3e10",
    "--bootstrap",
    "20",
    "--jobs",
    "2",
]


def _sweep_until_its_workers_train(corpus, tmp_path, name):
    """`zoo sweep ... --jobs 2` started as a user starts it, returned once each of its two
    worker processes holds the lock of the run it trains; with its children then
    ({pid: (command, start time)}: the workers and the resource tracker)."""
    import sys
    import time

    sweep = _start([sys.executable, *SWEEP, "--data", str(corpus)], tmp_path / f"{name}.log")
    results = tmp_path / "results"
    deadline = time.monotonic() + 300
    while True:
        assert sweep.poll() is None, (tmp_path / f"{name}.log").read_text()
        assert time.monotonic() < deadline, "its workers never started training"
        children = _children(sweep.pid)
        workers = {pid for pid, (command, _) in children.items() if "spawn_main" in command}
        holders = set()
        for lock in results.glob("*/run.lock") if results.is_dir() else ():
            words = lock.read_text().split()
            if len(words) > 1 and words[0] == "process":
                holders.add(int(words[1]))
        if len(workers) == 2 and holders == workers:
            return sweep, children
        time.sleep(0.1)


def _rerun(corpus):
    """The same command again, to its end: (exit status, its output)."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, *SWEEP, "--data", str(corpus)],
        capture_output=True,
        text=True,
        timeout=600,
        start_new_session=True,
        preexec_fn=_default_signals,
    )
    return done.returncode, done.stdout + done.stderr


@pytest.mark.slow
@two_cpus
def test_a_sweep_killed_by_sigkill_leaves_no_worker_and_a_rerun_finishes(corpus, tmp_path):
    import signal

    sweep, children = _sweep_until_its_workers_train(corpus, tmp_path, "killed")
    try:
        sweep.send_signal(signal.SIGKILL)
        sweep.wait(timeout=30)
        assert _survivors(children) == []  # the workers, their locks and the resource tracker
    finally:
        if sweep.poll() is None:
            sweep.kill()
            sweep.wait()
        _end(children)
    status, output = _rerun(corpus)
    assert status == 0 and "in use by" not in output, output
    assert "fits (95% bootstrap intervals)" in output


@pytest.mark.slow
@two_cpus
def test_sigterm_stops_a_sweep_as_ctrl_c_does_and_a_rerun_continues(corpus, tmp_path):
    import signal

    sweep, children = _sweep_until_its_workers_train(corpus, tmp_path, "terminated")
    try:
        sweep.send_signal(signal.SIGTERM)
        status = sweep.wait(timeout=120)
        assert _survivors(children) == []
    finally:
        if sweep.poll() is None:
            sweep.kill()
            sweep.wait()
        _end(children)
    output = (tmp_path / "terminated.log").read_text()
    assert status == 128 + signal.SIGTERM and "Traceback" not in output, output
    stopped = [line for line in output.splitlines() if line.startswith("stopped")]
    assert stopped == [
        "stopped by SIGTERM: every run finished so far is kept, and a run in "
        "progress from its last checkpoint; run the same command again to "
        "continue"
    ], output
    assert output.rstrip("\n").endswith(stopped[0])  # the last word
    status, output = _rerun(corpus)
    assert status == 0 and "in use by" not in output, output
    assert "fits (95% bootstrap intervals)" in output
