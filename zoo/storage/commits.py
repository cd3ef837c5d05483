"""The transactional run store: one writer per run directory, and commits that cannot tear.

A **commit** is one file, `checkpoint.keras`: the model and optimizer that Keras saves, with the
state that says which step they hold (`zoo/state.json`) and, under `patience`, the best weights
so far (`zoo/best.weights.h5`) written into the same zip archive before it is published with one
`os.replace`. So a SIGKILL at any instant leaves either the previous commit or the new one, never
a checkpoint of one step beside the state of another. `state.json` beside it is a readable copy
for people and `zoo runs`, written after the commit and never trusted on resume.

Resuming verifies that the optimizer's update counter in the checkpoint equals what the state
records (and, for runs written before commits held their state, what `state.json` says) and
refuses in one line when it does not.

**One writer**: `RunLock` takes an OS advisory lock (`fcntl.flock`, standard library, so no extra
dependency; POSIX only, and local to one host's kernel, so on a network filesystem shared by
several hosts only the chief writes, as multi-worker runs already arrange) on `<run>/run.lock`
before anything else in the directory is written. A second process on the same directory exits with a
one-line error naming the holder. The lock is released when the process ends, however it ends.
"""

import datetime
import fcntl
import hashlib
import json
import os
import pathlib
import shutil
import socket
import sys
import zipfile

from zoo.errors import ZooError
from zoo.files import PARTIAL_PREFIX, atomic_save, json_text, remove_partials

LOCK_NAME = "run.lock"
STATE_MEMBER = "zoo/state.json"
BEST_MEMBER = "zoo/best.weights.h5"
# Whose commit this is: the run key, and a SHA-256 of every other member but the state (which a
# rewind replaces), so a checkpoint of another run, or one altered, is refused on resume.
IDENTITY_MEMBER = "zoo/identity.json"
# What a run directory may hold before its config.json exists: the lock, a tokenizer copied by a
# run that was killed before it started, and temporary files.
SETUP_LEFTOVERS = frozenset({LOCK_NAME, "tokenizer"})


class RunLock:
    """`with RunLock(path):` holds the exclusive lock of run directory `path` (created if need be).

    Raises `ZooError` when another process holds it. Re-entrant within one process: a nested
    lock of the same directory is a no-op (a comparison's tuning run inside the comparison).
    """

    _held = {}  # resolved path -> open lock file, in this process

    def __init__(self, path):
        self.path = pathlib.Path(path)
        self._owner = False

    def __enter__(self):
        self.path.mkdir(parents=True, exist_ok=True)
        key = str(self.path.resolve())
        if key in RunLock._held:
            return self
        handle = open(self.path / LOCK_NAME, "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise ZooError(
                f"{self.path} is in use by {holder}; wait for it to finish or choose "
                "another output directory"
            ) from None
        handle.seek(0)
        handle.truncate()
        started = datetime.datetime.now().isoformat(timespec="seconds")
        command = " ".join(os.path.basename(a) if i == 0 else a for i, a in enumerate(sys.argv))
        handle.write(
            f"process {os.getpid()} on {socket.gethostname()} "
            f"(started {started}: {command[:200]})\n"
        )
        handle.flush()
        RunLock._held[key] = handle
        self._owner = key
        return self

    def __exit__(self, *exc):
        if self._owner:
            handle = RunLock._held.pop(self._owner)
            fcntl.flock(handle, fcntl.LOCK_UN)
            handle.close()
        return False


def prepare_directory(record):
    """Make `record.path` ready for a new run while holding its lock: refuse a directory that
    holds a run or anything else that is not ours, and remove a killed setup's leftovers."""
    if record.config_path.exists():
        raise ZooError(
            f"{record.path} already holds a run; resume it or choose another output directory"
        )
    foreign = sorted(
        p.name
        for p in record.path.iterdir()
        if p.name not in SETUP_LEFTOVERS and not _is_partial(p.name)
    )
    if foreign:
        raise ZooError(
            f"{record.path} is not empty and holds no zoo run (it has {foreign[0]}); "
            "choose another output directory"
        )
    remove_partials(record.path)


def restart_directory(record):
    """Clear everything a run wrote after its config.json, for a restart from step 0 (a run
    killed before its first commit). config.json and tokenizer/ stay: they define the run."""
    for path in (
        record.metrics_path,
        record.state_path,
        record.summary_path,
        record.model_path,
        record.probe_path,
        record.best_weights_path,
        record.checkpoint_path,
        record.failure_path,
    ):
        if path.exists():
            path.unlink()
    for directory in (record.tensorboard_path, record.path / HISTORY):
        if directory.exists():
            shutil.rmtree(directory)
    remove_partials(record.path)


def _is_partial(name):
    return name.startswith(PARTIAL_PREFIX) or (name.startswith(".") and name.endswith(".tmp"))


def commit(record, model, state, best_weights=None, run_key=None):
    """Publish `model` (with its optimizer) and `state` as the run's last commit, atomically.

    `best_weights`: a weights file to embed (patience), or None; `run_key`: the run's key,
    recorded with the digests of what the commit holds. Returns the path committed.
    """

    def save(path):
        model.save(path)
        with zipfile.ZipFile(path, "a") as archive:
            archive.writestr(STATE_MEMBER, json_text(state))
            if best_weights is not None:
                archive.write(best_weights, BEST_MEMBER)
        if run_key is not None:
            with zipfile.ZipFile(path, "a") as archive:
                identity = {
                    "run_key": run_key,
                    "step": state["step"],
                    "sha256": _member_digests(archive),
                }
                archive.writestr(IDENTITY_MEMBER, json_text(identity))
        _fsync(path)

    atomic_save(record.checkpoint_path, save)
    _fsync(record.path)
    record.write_state(state)  # the readable copy; the commit above is what counts
    return record.checkpoint_path


HISTORY = "history"  # earlier commits, kept for rewinding (PaLM's escalation) only


def keep_in_history(record, state, keep_from_step):
    """Hard-link the commit just made into `history/step-N.keras` (the commit is a new file, so
    the link is a snapshot), and drop history older than `keep_from_step` except the newest one
    at or before it, which a rewind from now on may still need."""
    history = record.path / HISTORY
    history.mkdir(exist_ok=True)
    target = history / f"step-{state['step']:08d}.keras"
    if target.exists():
        target.unlink()
    os.link(record.checkpoint_path, target)
    older = [p for p in sorted(history.glob("step-*.keras")) if _step_of(p) <= keep_from_step]
    for path in older[:-1]:
        path.unlink()


def rewind_target(record, before_step):
    """The newest kept commit at or before `before_step` (else the oldest kept), or None."""
    kept = sorted((record.path / HISTORY).glob("step-*.keras"))
    if not kept:
        return None
    earlier = [p for p in kept if _step_of(p) <= before_step]
    return earlier[-1] if earlier else kept[0]


def commit_rewound(record, source, state):
    """Publish the earlier commit `source` again as the last commit, with `state` (its own,
    plus where the rewind leaves the data) in place of the state inside it. One rename."""

    def save(path):
        with zipfile.ZipFile(source) as old, zipfile.ZipFile(path, "w") as new:
            for item in old.infolist():
                if item.filename != STATE_MEMBER:
                    new.writestr(item, old.read(item.filename))
            new.writestr(STATE_MEMBER, json_text(state))
        _fsync(path)

    atomic_save(record.checkpoint_path, save)
    _fsync(record.path)
    record.write_state(state)


def read_state(path):
    """The state inside the commit file `path`."""
    with zipfile.ZipFile(path) as archive:
        return json.loads(archive.read(STATE_MEMBER))


def _step_of(path):
    return int(path.stem.split("-")[1])


def committed_state(record):
    """The state inside the last commit; for a checkpoint written before commits held their
    state, `state.json` (marked `"legacy": True`). None when there is no commit."""
    if not record.checkpoint_path.exists():
        return None
    try:
        with zipfile.ZipFile(record.checkpoint_path) as archive:
            if STATE_MEMBER in archive.namelist():
                return json.loads(archive.read(STATE_MEMBER))
    except (OSError, zipfile.BadZipFile, json.JSONDecodeError) as error:
        raise ZooError(
            f"{record.checkpoint_path} is damaged ({type(error).__name__}: {error}); "
            "the run cannot be resumed from it"
        ) from None
    legacy = record.read_json(record.state_path)
    return None if legacy is None else {**legacy, "legacy": True}


def _member_digests(archive):
    """SHA-256 of every member but the state and the identity itself, by name."""
    digests = {}
    for name in sorted(archive.namelist()):
        if name not in (STATE_MEMBER, IDENTITY_MEMBER):
            digest = hashlib.sha256()
            with archive.open(name) as member:
                for block in iter(lambda: member.read(1 << 20), b""):
                    digest.update(block)
            digests[name] = digest.hexdigest()
    return digests


def check_commit_identity(record, run_key, state):
    """Refuse, in one line, to resume from a commit that is not this run's: another run's
    checkpoint put in its place, or one whose contents changed since it was committed. Commits
    written before they carried an identity are taken as they are."""
    try:
        with zipfile.ZipFile(record.checkpoint_path) as archive:
            if IDENTITY_MEMBER not in archive.namelist():
                return
            identity = json.loads(archive.read(IDENTITY_MEMBER))
            digests = _member_digests(archive)
    except (OSError, zipfile.BadZipFile, json.JSONDecodeError) as error:
        raise ZooError(
            f"{record.checkpoint_path} is damaged ({type(error).__name__}: {error}); "
            "the run cannot be resumed from it"
        ) from None
    if identity.get("run_key") != run_key:
        raise ZooError(
            f"{record.checkpoint_path} is a commit of another run (key "
            f"{identity.get('run_key')}, this run's is {run_key}); refusing to resume "
            "from it"
        )
    if identity.get("sha256") != digests or identity.get("step") != state["step"]:
        changed = sorted(
            set(digests) ^ set(identity.get("sha256") or {})
            | {
                name
                for name in digests
                if (identity.get("sha256") or {}).get(name) != digests[name]
            }
        )
        raise ZooError(
            f"{record.checkpoint_path} changed since it was committed "
            f"({', '.join(changed) or 'its step'}); refusing to resume from it"
        )


def extract_best_weights(record, destination):
    """Write the commit's embedded best weights to `destination`; False when it has none."""
    with zipfile.ZipFile(record.checkpoint_path) as archive:
        if BEST_MEMBER not in archive.namelist():
            return False
        with archive.open(BEST_MEMBER) as source, open(destination, "wb") as target:
            shutil.copyfileobj(source, target)
    return True


def check_restored(record, optimizer_iterations, state, accumulation):
    """Refuse to resume when the checkpoint's optimizer is not at the step the state records.

    `optimizer_iterations` counts micro-batches applied (Keras's `_iterations`); a run's
    committed state records it, and with the spike guard skipped micro-batches do not count.
    """
    expected = state.get("optimizer_iterations")
    consumed = state["step"] * accumulation  # micro-batches the data pipeline has given
    if expected is None:  # legacy: no guard, so every micro-batch of every step was applied
        expected = consumed
    elif expected + state.get("skipped_steps", 0) != consumed:
        raise ZooError(
            f"{record.path}: the committed state is inconsistent (step "
            f"{state['step']} of {accumulation} micro-batches each, but {expected} "
            f"applied and {state.get('skipped_steps', 0)} skipped); refusing to "
            "resume"
        )
    if optimizer_iterations != expected:
        raise ZooError(
            f"{record.path}: the checkpoint's optimizer has applied "
            f"{optimizer_iterations} micro-batches but its state records "
            f"{expected} (step {state['step']}); refusing to resume a run whose "
            "checkpoint and state disagree"
        )


def _fsync(path):
    """Flush `path` (a file or directory) to the disk, so a commit survives a power cut too."""
    flags = os.O_RDONLY | (os.O_DIRECTORY if os.path.isdir(path) else 0)
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


__all__ = [
    "RunLock",
    "check_commit_identity",
    "check_restored",
    "commit",
    "commit_rewound",
    "committed_state",
    "extract_best_weights",
    "keep_in_history",
    "prepare_directory",
    "read_state",
    "restart_directory",
    "rewind_target",
]
