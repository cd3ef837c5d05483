"""Loading the `zoo` library for a command, and TensorFlow's start-up chatter.

`import zoo` is cheap (its API loads lazily), so `zoo list`, `zoo info`, `zoo runs`, `zoo fit`,
`--help` and shell completion never import Keras or TensorFlow. Commands that build or train
models ask for Keras up front (`load_zoo(keras=True)`): TensorFlow's native libraries log a few
INFO lines through absl *before* its logging is initialised, and those ignore
TF_CPP_MIN_LOG_LEVEL (measured: the oneDNN and "Could not find cuda drivers" lines still appear
at level 3), so that one import runs with file descriptor 2 captured and everything except that
known chatter is replayed; real warnings and errors still reach the terminal.
"""

import importlib
import importlib.util
import os
import re
import sys
import tempfile

from zoo.backend_choice import AUTO, TRAINER_BACKENDS
from zoo.run_config import Backend

# absl's pre-initialisation banner, and INFO lines in absl's format
# ("I0000 00:00:1795890315.7  3789 cudart_stub.cc:31] ...").
_STARTUP_NOISE = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|I\d{4} \d\d:\d\d:[\d.]+ +\d+ [\w.]+:\d+\] .*)$"
)


class BackendError(Exception):
    """$KERAS_BACKEND names a backend Keras cannot start on here: a user error, found before
    Keras is imported (its own failure would be a traceback)."""


JAX_MISSING = "needs JAX: pip install -e '.[jax]' (jax[cuda12] on GPUs)"


def backend_problem(backend, source="--backend"):
    """Why Keras cannot start on `backend` (named by `source`: --backend or KERAS_BACKEND), or
    None. Checked without importing Keras, so the error comes before Keras's own traceback.
    `auto` is a --backend choice (resolved before Keras starts), not a KERAS_BACKEND value."""
    names = list(TRAINER_BACKENDS) if source == "KERAS_BACKEND" else [b.value for b in Backend]
    if backend not in names:
        hint = " (auto is a --backend choice)" if backend == AUTO else ""
        return f"{source} must be one of {', '.join(names)}; received {backend!r}{hint}"
    if backend == "jax" and importlib.util.find_spec("jax") is None:
        asked = f"{source}={backend}" if source == "KERAS_BACKEND" else f"{source} {backend}"
        return f"{asked} {JAX_MISSING}"
    return None


def load_zoo(keras=False):
    """The `zoo` module; with `keras`, Keras imported too, its start-up chatter filtered.

    Raises `BackendError` first if $KERAS_BACKEND names a backend Keras cannot start on.
    """
    import zoo

    if keras and "keras" not in sys.modules:
        backend = os.environ.get("KERAS_BACKEND")
        if backend:  # unset or empty: Keras's default, TensorFlow
            problem = backend_problem(backend, "KERAS_BACKEND")
            if problem:
                raise BackendError(problem)
        _import_quietly("keras")
    return zoo


def _import_quietly(module):
    try:
        fd = sys.__stderr__.fileno()
    except (AttributeError, OSError, ValueError):  # no real stderr (embedded interpreters)
        importlib.import_module(module)
        return
    with tempfile.TemporaryFile() as captured:
        sys.stderr.flush()
        saved = os.dup(fd)
        os.dup2(captured.fileno(), fd)
        try:
            importlib.import_module(module)
        finally:
            sys.stderr.flush()
            os.dup2(saved, fd)
            os.close(saved)
            captured.seek(0)
            kept = [
                line
                for line in captured.read().decode(errors="replace").splitlines(keepends=True)
                if not _STARTUP_NOISE.match(line.rstrip("\n"))
            ]
            if kept:
                os.write(fd, "".join(kept).encode())
