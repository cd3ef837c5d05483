"""Loading the `zoo` library for a command, and TensorFlow's start-up chatter.

`import zoo` is cheap (its API loads lazily), so `zoo list`, `zoo info`, `zoo runs`, `zoo fit`,
`--help` and shell completion never import Keras or TensorFlow. Commands that build or train
models ask for Keras up front (`load_zoo(keras=True)`), imported with TensorFlow's start-up
chatter filtered (`zoo.quiet_import`).
"""

import importlib.util
import os
import sys

from zoo.backend_choice import AUTO, TRAINER_BACKENDS
from zoo.quiet_import import import_quietly
from zoo.run_config import Backend


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
        import_quietly("keras")
    return zoo
