"""Helpers shared by the test files (fixtures live in the conftest.py files).

Import them as `from tests.helpers import ...`: pyproject.toml's pytest `pythonpath = ["."]`
puts the checkout's root on sys.path, so this works from every test folder, packaged
(`__init__.py`) or not, under `pytest` and `python -m pytest` alike.

Importing this module loads no backend: no keras, no tensorflow (tests/test_test_helpers.py
checks it). Whatever needs one imports it when called; the reporters, which subclass the
library's (that import keras), are made on first use (`__getattr__` below).
"""

import pathlib
import random
import socket

import zoo

FAMILIES = zoo.list_families()

# --- the command line ---


def invoker(app, *, columns=120, prefix=()):
    """`invoke(*args)`: runs `app` in-process with `prefix + args` (each made a string), rich
    laid out for `columns` columns; returns click's `Result`."""
    from typer.testing import CliRunner

    runner = CliRunner(env={"COLUMNS": str(columns)})

    def invoke(*args):
        return runner.invoke(app, [*prefix, *map(str, args)])

    return invoke


def assert_one_line(result, *fragments, expected=None, empty_stdout=False):
    """A user error: exit 2, exactly one stderr line `error: ...` holding each fragment (and
    equal to `expected`, if given), no traceback, and (with `empty_stdout`) nothing on stdout.
    Returns the line."""
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    assert "Traceback" not in result.output
    if empty_stdout:
        assert result.stdout == "", result.stdout
    if expected is not None:
        assert lines[0] == expected
    return lines[0]


def is_one_line_refusal(completed):
    """The same for a finished subprocess (`subprocess.run(..., capture_output=True,
    text=True)`): exit 2, one stderr line `error: ...`, no traceback."""
    lines = completed.stderr.strip().splitlines()
    return (
        completed.returncode == 2
        and len(lines) == 1
        and lines[0].startswith("error: ")
        and "Traceback" not in completed.stderr
    )


# --- committed JSON ---


def json_pointer(document, pointer):
    """The value at a JSON pointer ('/fits/compute/arms/1/multiplier', '~1' for '/') of a
    loaded JSON document: how the tests check that a printed figure is its source's."""
    for part in pointer.strip("/").split("/"):
        key = part.replace("~1", "/").replace("~0", "~")
        document = document[int(part)] if isinstance(document, list) else document[key]
    return document


# --- corpora ---

VERSE_WORDS = (
    "the king queen lord lady speak hath thou thee thy night day love death sword "
    "crown france england gentle noble sweet good fair heaven earth blood honour"
).split()


def write_verse(root, count=12, lines=120, words=VERSE_WORDS, line_words=(4, 12)):
    """`count` works of random verse, `work_00.txt` ...: `lines` lines of `line_words` words
    (a number, or the (fewest, most) drawn per line) from `words`, work i drawn from
    `random.Random(i)`. With 12 or more works, validation holds out works 00 and 10.
    Returns `root` (made if missing) as a Path."""
    root = pathlib.Path(root)
    root.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        rng = random.Random(i)
        text = []
        for _ in range(lines):
            length = line_words if isinstance(line_words, int) else rng.randint(*line_words)
            text.append(" ".join(rng.choice(words) for _ in range(length)))
        (root / f"work_{i:02d}.txt").write_text("\n".join(text) + "\n")
    return root


# --- tensors and layers ---


def free_ports(count):
    """Ports on 127.0.0.1 the kernel has just handed out (bound, read, released)."""
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def as_float64(tensor):
    """A backend tensor (or variable) as a float64 NumPy array."""
    import numpy as np
    from keras import ops

    return ops.convert_to_numpy(tensor).astype(np.float64)


def randomize_weights(layer, seed):
    """Every weight of `layer` drawn again: 0.3 × a standard normal, float32."""
    import numpy as np

    rng = np.random.default_rng(seed)
    for w in layer.weights:
        w.assign((0.3 * rng.standard_normal(w.shape)).astype("float32"))


def current_learning_rate(optimizer):
    """The rate the optimizer's next update will use, as a Python float."""
    import keras

    optimizer = getattr(optimizer, "inner_optimizer", optimizer)  # through SpikeGuard
    return float(keras.ops.convert_to_numpy(optimizer.learning_rate))


# --- reporters: made on first use, as their bases import keras ---


def _interrupt():
    class Interrupt(zoo.Reporter):
        """Ctrl-C (KeyboardInterrupt) once training reaches step `at_step` (None: never);
        keeps each (plan, facts) a training starts with in `plans`."""

        def __init__(self, at_step=None):
            self.at_step, self.plans = at_step, []

        def start(self, plan, facts):
            self.plans.append((plan, facts))

        def step(self, progress):
            if self.at_step is not None and progress["step"] >= self.at_step:
                raise KeyboardInterrupt

    return Interrupt


def _statuses():
    from zoo.experiments.comparison import ComparisonReporter

    class Statuses(ComparisonReporter):
        """Keeps each run's status ('reused', 'resumed', 'training') in `seen`."""

        def __init__(self):
            self.seen = []

        def run(self, index, count, label, seed, status):
            self.seen.append(status)

    return Statuses


_MADE_ON_FIRST_USE = {"Interrupt": _interrupt, "Statuses": _statuses}


def __getattr__(name):
    if name not in _MADE_ON_FIRST_USE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    made = globals()[name] = _MADE_ON_FIRST_USE[name]()
    return made
