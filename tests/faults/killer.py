"""Run the `zoo` command line and SIGKILL it at its N-th filesystem write.

    python tests/faults/killer.py N zoo-args...     kill just before write event N (1-based)
    python tests/faults/killer.py 0 zoo-args...     count: run to the end, then write the events
                                                    to $FAULT_EVENTS as JSON lines

A "write event" is any call made on behalf of zoo's code (a zoo frame on the stack) that changes
the filesystem from Python: opening a file for writing, os.replace/rename/unlink/mkdir/fsync,
shutil.rmtree/copy, tempfile.mkstemp/mkdtemp and zipfile archives opened to write. The process kills itself *before* event N happens, so every
prefix of the run's writes is a state a crash can leave. Nothing in `zoo` knows about this:
the hooks wrap the standard library in this process only.
"""

import builtins
import json
import os
import shutil
import signal
import sys
import tempfile
import traceback
import zipfile

TARGET = int(sys.argv[1])
EVENTS = []
_open = builtins.open
_kill = lambda: os.kill(os.getpid(), signal.SIGKILL)  # noqa: E731


def _where():
    for frame in reversed(traceback.extract_stack()[:-2]):
        if "/zoo/" in frame.filename or "/zoo_cli/" in frame.filename:
            return f"{os.path.basename(frame.filename)}:{frame.lineno} {frame.name}"
    return "?"


def _event(kind, path, to=None):
    where = _where()
    if where == "?":  # not on behalf of zoo (e.g. Keras writing ~/.keras/keras.json at import)
        return
    EVENTS.append(
        {
            "kind": kind,
            "path": str(path),
            "where": where,
            **({"to": str(to)} if to is not None else {}),
        }
    )
    if len(EVENTS) == TARGET:
        _kill()


def _wrap(module, name, kind, is_write=lambda *a, **k: True):
    original = getattr(module, name)

    def wrapper(*args, **kwargs):
        if is_write(*args, **kwargs):
            _event(
                kind,
                args[0] if args else kwargs.get("file", kwargs.get("dir", "")),
                args[1] if kind in ("os.replace", "os.rename") and len(args) > 1 else None,
            )
        return original(*args, **kwargs)

    setattr(module, name, wrapper)


def _opens_for_writing(file, mode="r", *args, **kwargs):
    return isinstance(file, (str, bytes, os.PathLike)) and any(c in mode for c in "wax+")


_wrap(builtins, "open", "open", _opens_for_writing)
_wrap(
    os,
    "open",
    "os.open",
    lambda path, flags, *a, **k: bool(flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT)),
)
for _name in (
    "replace",
    "rename",
    "unlink",
    "remove",
    "mkdir",
    "makedirs",
    "rmdir",
    "fsync",
    "link",
    "symlink",
    "truncate",
    "chmod",
):
    _wrap(os, _name, f"os.{_name}")
for _name in ("rmtree", "copyfile", "copy", "copy2", "copytree", "move"):
    _wrap(shutil, _name, f"shutil.{_name}")
_wrap(tempfile, "mkstemp", "tempfile.mkstemp")
_wrap(tempfile, "mkdtemp", "tempfile.mkdtemp")
_zip_init = zipfile.ZipFile.__init__


def _zip(self, file, mode="r", *args, **kwargs):
    if mode != "r":
        _event(f"zipfile.{mode}", file)
    _zip_init(self, file, mode, *args, **kwargs)


zipfile.ZipFile.__init__ = _zip

if __name__ == "__main__":
    sys.argv = ["zoo", *sys.argv[2:]]
    from zoo_cli.main import main

    try:
        main()
    finally:
        if TARGET == 0 and os.environ.get("FAULT_EVENTS"):
            with _open(os.environ["FAULT_EVENTS"], "w") as out:
                out.write("".join(json.dumps(e) + "\n" for e in EVENTS))
