"""Loading the `zoo` library lazily and quietly.

`import zoo` imports Keras and TensorFlow (several seconds), so commands load it on first use and
`zoo --help` or shell completion stay instant. TensorFlow's native libraries log a few INFO lines
(e.g. "Could not find cuda drivers") through absl *before* its logging is initialised, and those
ignore TF_CPP_MIN_LOG_LEVEL; we capture file descriptor 2 while importing and replay everything
except that known start-up chatter, so real warnings and errors still reach the terminal.
"""

import importlib
import importlib.util
import os
import re
import sys
import tempfile

# absl's pre-initialisation banner, and INFO lines in absl's format
# ("I0000 00:00:1795890315.7  3789 cudart_stub.cc:31] ...").
_STARTUP_NOISE = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|I\d{4} \d\d:\d\d:[\d.]+ +\d+ [\w.]+:\d+\] .*)$"
)


class BackendError(Exception):
    """$KERAS_BACKEND names a backend Keras cannot start on here: a user error, found before
    `import zoo` (which imports Keras, whose own failure would be a traceback)."""


def backend_problem(backend, source="--backend"):
    """Why Keras cannot start on `backend` (named by `source`: --backend or KERAS_BACKEND), or
    None. Checked without importing Keras, so the error comes before Keras's own traceback."""
    # The CLI's mirror of `zoo.run_config.Backend` (and `zoo.training.distribution.BACKENDS`):
    # any module of `zoo` imports the package, and so Keras, so the names cannot come from there.
    from zoo_cli.run_options import Backend

    names = [b.value for b in Backend]
    if backend not in names:
        return f"{source} must be one of {', '.join(names)}; received {backend!r}"
    if backend == "jax" and importlib.util.find_spec("jax") is None:
        asked = f"{source}={backend}" if source == "KERAS_BACKEND" else f"{source} {backend}"
        return f"{asked} needs JAX: pip install -e '.[jax]' (jax[cuda12] on GPUs)"
    return None


def load_zoo():
    """The `zoo` module, imported with TensorFlow's start-up INFO lines filtered from stderr.

    Raises `BackendError` first if $KERAS_BACKEND names a backend Keras cannot start on.
    """
    if "zoo" in sys.modules:
        return sys.modules["zoo"]
    backend = os.environ.get("KERAS_BACKEND")
    if backend:  # unset or empty: Keras's default, TensorFlow
        problem = backend_problem(backend, "KERAS_BACKEND")
        if problem:
            raise BackendError(problem)
    try:
        fd = sys.__stderr__.fileno()
    except (AttributeError, OSError, ValueError):  # no real stderr (embedded interpreters)
        return importlib.import_module("zoo")
    with tempfile.TemporaryFile() as captured:
        sys.stderr.flush()
        saved = os.dup(fd)
        os.dup2(captured.fileno(), fd)
        try:
            return importlib.import_module("zoo")
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
