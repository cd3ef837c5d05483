"""Atomic file writes and the user cache directory.

Every file a run writes goes through `atomic_write*`: the bytes land in a temporary file in the
same directory and are moved into place with `os.replace`, so a killed process leaves either the
old file or the new one, never half of either.
"""

import contextlib
import fcntl
import itertools
import json
import math
import os
import pathlib
import shutil
import tempfile

from zoo.errors import FieldError, ZooError

PARTIAL_PREFIX = ".partial."  # every temporary name starts with "." (see `remove_partials`)
_SERIAL = itertools.count()
_UMASK = os.umask(0)
os.umask(_UMASK)


def cache_dir(*parts):
    """`$ZOO_CACHE`, else `$XDG_CACHE_HOME/zoo`, else `~/.cache/zoo`; created on demand."""
    root = os.environ.get("ZOO_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "zoo"
    )
    path = pathlib.Path(root, *parts)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ZooError(
            f"cannot create the cache directory {path} ({error.strerror}); set "
            "ZOO_CACHE to a writable directory"
        ) from None
    return path


@contextlib.contextmanager
def cache_entry_lock(path):
    """Hold the exclusive lock of cache entry `path` (a file or directory, present or not),
    waiting while another process holds it.

    Check-then-build of a cache entry happens under it: processes that start together (the
    workers of one run, a sweep's jobs) would otherwise each rebuild the entry, and one's
    `atomic_directory` removing the entry to replace it pulls it from under another that is
    already copying it. The lock is a sibling file, `.NAME.lock`, removed by its holder on the
    way out (so a refused build leaves nothing); a waiter that then wins the lock of the
    removed file sees that the name no longer leads to it and takes the lock again.
    """
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = path.parent / f".{path.name}.lock"
    while True:
        handle = open(lock, "a")  # noqa: SIM115 (held past the loop, closed below)
        fcntl.flock(handle, fcntl.LOCK_EX)  # blocking: the holder is building what we need
        try:
            current = os.stat(lock).st_ino
        except FileNotFoundError:  # its holder removed it after we opened it
            current = None
        if current == os.fstat(handle.fileno()).st_ino:
            break
        handle.close()  # a removed file's lock: open the name again
    try:
        yield
    finally:
        lock.unlink()  # before unlocking: no one can take this file's lock and find it current
        handle.close()


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside `path`; move it onto `path` only if the block succeeds."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        with _naming(path):
            yield pathlib.Path(tmp)
            os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes files private; results are not
            os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def atomic_write_bytes(path, data):
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path, text):
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path, obj):
    atomic_write_text(path, json_text(obj))


def json_text(obj, indent=2):
    """Strict JSON of `obj` (no NaN or Infinity, which JSON does not have): non-finite floats
    become null, and a dict gains `"non_finite": [their paths]` to say so."""
    clean, paths = finite(obj)
    if paths and isinstance(clean, dict):
        clean["non_finite"] = paths
    return json.dumps(clean, indent=indent, allow_nan=False, default=str) + "\n"


def finite(obj, path=""):
    """(`obj` with every non-finite float replaced by None, the dotted paths replaced)."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None, [path or "."]
    if isinstance(obj, dict):
        items = [(k, finite(v, f"{path}.{k}" if path else str(k))) for k, v in obj.items()]
        return {k: v for k, (v, _) in items}, [p for _, (_, ps) in items for p in ps]
    if isinstance(obj, (list, tuple)):
        items = [finite(v, f"{path}[{i}]") for i, v in enumerate(obj)]
        return [v for v, _ in items], [p for _, ps in items for p in ps]
    return obj, []


@contextlib.contextmanager
def atomic_directory(path):
    """Yield a temporary directory beside `path`; it replaces `path` only if the block succeeds."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = pathlib.Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~_UMASK)  # mkdtemp makes directories private
        if path.is_symlink() or path.is_file():  # what a caller chose to replace (`--force`)
            path.unlink()
        elif path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def atomic_save(path, save):
    """Call `save(temporary_path)`, then move the result onto `path`.

    For writers that insist on their own file handling (Keras's `model.save`, `save_weights`);
    the temporary name keeps `path`'s suffixes, which is how Keras chooses the format, and is
    unique per process and call, so two writers never share a temporary file.
    """
    path = pathlib.Path(path)
    tmp = path.with_name(f"{PARTIAL_PREFIX}{os.getpid()}.{next(_SERIAL)}.{path.name}")
    try:
        with _naming(path):
            save(tmp)
            os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


@contextlib.contextmanager
def _naming(path):
    """Re-raise an OSError about a temporary file as one about `path`, the file being written
    (a full disk's ENOSPC from write() names no file at all)."""
    try:
        yield
    except OSError as error:
        if error.errno is None:
            raise
        raise OSError(error.errno, error.strerror, str(path)) from error


def remove_partials(directory):
    """Delete the temporary files and directories a killed writer left in `directory`.

    Only names this module makes (a leading "." and a `.tmp` suffix, or the `.partial.` prefix)
    are touched; call it only while holding the directory's lock (`zoo.storage.commits`).
    """
    removed = []
    for path in pathlib.Path(directory).glob(".*"):
        if not (path.name.startswith(PARTIAL_PREFIX) or path.name.endswith(".tmp")):
            continue
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()
        removed.append(path.name)
    return removed


PLOT_FORMATS = (".png", ".svg", ".pdf")


def check_plot_path(path):
    """The plot's path, or `ZooError` for one matplotlib cannot be asked to write: a format
    other than .png, .svg or .pdf, a directory, or a place no file can be made (below a file,
    or in a directory this process may not write). Missing directories are fine: the plot is
    written through `atomic_path`, which makes them. Here, beside the atomic writers and free
    of heavy imports, so that every command checks `--plot` before it loads anything (the
    one check `zoo compare`, `zoo sweep` and `zoo fit` make)."""
    path = pathlib.Path(path)
    if path.suffix.lower() not in PLOT_FORMATS:
        raise FieldError("plot", f"must end in {', '.join(PLOT_FORMATS)}; received {str(path)!r}")
    if path.is_dir():
        raise FieldError("plot", f"{str(path)!r} is a directory; name a file in it")
    existing = path.absolute().parent
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise FieldError("plot", f"{str(path)!r}: {existing} is a file, not a directory")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise FieldError("plot", f"{str(path)!r}: {existing} is not writable")
    return path
