"""A sweep on a shared study store: a real PostgreSQL server (started here, on 127.0.0.1 only),
three worker processes on one sweep, one killed mid-cell. Every cell is trained to the end once,
the killed worker's cell goes back to the queue and is resumed, and every surviving worker's
points (gathered from the store) and fit equal those of the same sweep on one machine (read
from the runs themselves)."""

import glob
import json
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import pytest

from tests.helpers import free_ports, write_verse

pytestmark = pytest.mark.slow  # a shared sweep of 4 cells and a kill, ~2 minutes on 2 cores

SWEEP = ["sweep", "compute", "--models", "llama", "--budgets", "1e9,3e9", "--seeds", "2",
         "--bootstrap", "50"]  # fmt: skip
GRACE = "6"  # seconds a silent cell waits before another worker takes it


def _postgres_bin():
    found = shutil.which("pg_ctl")
    if found:
        return pathlib.Path(found).resolve().parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return pathlib.Path(versions[-1]).parent if versions else None


@pytest.fixture(scope="module")
def postgres():
    """A throwaway PostgreSQL cluster on 127.0.0.1 and a free port; its URL. As root (CI) the
    server runs as the `postgres` user, which Debian's package creates (it refuses root), in a
    directory of its own under the system's temporary directory (pytest's are root's only)."""
    binaries = _postgres_bin()
    if binaries is None:  # .ci/run installs Debian's postgresql where it is missing
        pytest.skip("no PostgreSQL server installed (apt-get install postgresql)")
    root = pathlib.Path(tempfile.mkdtemp(prefix="zoo-postgres-"))
    data, sockets = root / "data", root / "sockets"
    sockets.mkdir()
    as_user = []
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(sockets, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    (port,) = free_ports(1)

    def run(*args):
        subprocess.run([*as_user, *args], check=True, capture_output=True, timeout=120)

    run(str(binaries / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust")
    options = f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off"
    run(str(binaries / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(root / "log"), "-w",
        "start")  # fmt: skip
    try:
        run(str(binaries / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "zoo")
        yield f"postgresql://postgres@127.0.0.1:{port}/zoo"
    finally:
        run(str(binaries / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop")
        shutil.rmtree(root)


def _zoo(args, env, **kwargs):
    return subprocess.Popen([sys.executable, "-m", "zoo_cli.main", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            **kwargs)  # fmt: skip


def _cells(url):
    import sqlalchemy

    from zoo.experiments.shared import _url

    engine = sqlalchemy.create_engine(_url(url))
    try:
        with engine.begin() as db:
            return db.execute(sqlalchemy.text(
                "SELECT idx, state, worker, takes, host, run FROM zoo_cells ORDER BY idx")).all()  # fmt: skip
    except (sqlalchemy.exc.ProgrammingError, sqlalchemy.exc.OperationalError):  # no tables yet
        return []
    finally:
        engine.dispose()


def test_three_workers_one_killed_equal_one_machine(postgres, tmp_path):
    corpus = write_verse(tmp_path / "works")
    base = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "ZOO_CACHE": str(tmp_path / "cache"),
            "COLUMNS": "160"}  # fmt: skip
    args = [*SWEEP, "--data", str(corpus), "--json"]
    shared = {**base, "ZOO_RESULTS": str(tmp_path / "shared"), "ZOO_STORE_GRACE_SECONDS": GRACE}
    workers = [_zoo([*args, "--storage", postgres], shared) for _ in range(3)]
    victim, deadline = None, time.monotonic() + 600
    while victim is None and time.monotonic() < deadline:  # a worker some seconds into a cell
        running = [c for c in _cells(postgres) if c.state == "running"]
        if running:
            time.sleep(4)  # mid-cell: past its start, before its end (each takes ~15 s)
            cell = next(c for c in _cells(postgres) if c.idx == running[0].idx)
            if cell.state == "running" and cell.worker == running[0].worker:
                pid = int(cell.worker.split(":")[1])
                victim = (next(w for w in workers if w.pid == pid), cell.idx)
                victim[0].send_signal(signal.SIGKILL)
        time.sleep(0.5)
    assert victim is not None
    results = []
    for worker in workers:
        out, err = worker.communicate(timeout=900)
        if worker is victim[0]:
            assert worker.returncode == -signal.SIGKILL
            continue
        assert worker.returncode == 0, err[-3000:]
        results.append((json.loads(out), err))

    # One machine alone, on the same results: every run reused (that a resumed run equals an
    # uninterrupted one is tests/faults/'s), its points read from the runs, not the store.
    reference = _zoo(args, {**base, "ZOO_RESULTS": str(tmp_path / "shared")})
    out, err = reference.communicate(timeout=900)
    assert reference.returncode == 0, err[-3000:]
    assert err.count(": reused") == 4 and ": training" not in err
    alone = json.loads(out)

    cells = _cells(postgres)
    assert [c.state for c in cells] == ["done"] * 4  # every cell done, by one worker at the end
    takes = {c.idx: c.takes for c in cells}
    assert takes[victim[1]] == 2 and sum(takes.values()) == 5  # only the killed cell retaken
    assert all(c.host == socket.gethostname() and pathlib.Path(c.run).exists() for c in cells)
    for result, err in results:
        # The same points (each run trained to its end once, a resumed one exactly as if it
        # had not stopped), hence the same fit, as one machine alone.
        assert _same_losses(result, alone) and result["fits"] == alone["fits"]
        assert result["storage"] == postgres
    assert any("taken again" in err for _, err in results)


def _same_losses(a, b):
    """Points equal in everything that is measured (their run directories differ)."""
    keys = ("arm", "budget", "seed", "params", "tokens", "loss", "bits_per_byte")
    return [{k: p[k] for k in keys} for p in a["points"]] == [
        {k: p[k] for k in keys} for p in b["points"]
    ]


def test_two_tune_workers_share_one_study(postgres, tmp_path):
    """`zoo tune --storage` on two workers at once: the study ends with the trials asked for,
    not one more, each trained by one worker, and both print the same study."""
    corpus = write_verse(tmp_path / "works")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "ZOO_CACHE": str(tmp_path / "cache"),
           "ZOO_RESULTS": str(tmp_path / "results")}  # fmt: skip
    args = ["tune", "gpt2-nano", "--space", "learning_rate=log:1e-3:3e-2", "--sampler", "random",
            "--trials", "3", "--study", "shared", "--storage", postgres, "--data", str(corpus),
            "--steps", "4", "--eval-interval", "2", "--no-spike-guard", "--json"]  # fmt: skip
    workers = [_zoo(args, env) for _ in range(2)]
    results = []
    for worker in workers:
        out, err = worker.communicate(timeout=900)
        assert worker.returncode == 0, err[-3000:]
        results.append(json.loads(out))
    first, second = results
    assert [t["state"] for t in first["trials"]] == ["complete"] * 3
    assert first["trials"] == [{**t, "trained_now": f["trained_now"]}
                               for t, f in zip(second["trials"], first["trials"])]  # fmt: skip
    assert first["trained"] + second["trained"] == 3  # no trial trained by both
    assert len({t["run"] for t in first["trials"]}) == 3


def test_a_sweep_stopped_and_started_again_takes_its_cell_back_at_once(tmp_path):
    """SQLite, one machine: a worker killed mid-cell and the same command started again. The
    dead process's cell is open at once (its process is gone), not after the grace period
    (an hour here: waiting for it would time the test out), and its run is resumed."""
    corpus = write_verse(tmp_path / "works")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "ZOO_CACHE": str(tmp_path / "cache"),
           "ZOO_RESULTS": str(tmp_path / "results"), "ZOO_STORE_GRACE_SECONDS": "3600",
           "COLUMNS": "160"}  # fmt: skip
    url = f"sqlite:///{tmp_path / 'store.db'}"
    args = ["sweep", "compute", "--models", "llama", "--budgets", "1e9,3e9", "--data",
            str(corpus), "--storage", url, "--json"]  # fmt: skip
    first = _zoo(args, env)
    deadline = time.monotonic() + 600
    while not any(c.state == "running" for c in _cells(url)) and time.monotonic() < deadline:
        time.sleep(0.5)
    time.sleep(4)  # into the cell
    first.send_signal(signal.SIGKILL)
    first.communicate(timeout=60)
    again = _zoo(args, env)
    out, err = again.communicate(timeout=600)
    assert again.returncode == 0, err[-3000:]
    assert "its worker fell silent; taken again" in err
    assert [c.state for c in _cells(url)] == ["done", "done"]
    assert len(json.loads(out)["points"]) == 2
