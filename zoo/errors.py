"""User-facing errors.

Anything the user can fix (a bad name, an invalid field value, a missing file) raises a
`ZooError`; the command line prints its message on one line and exits with status 2. Bugs stay
ordinary exceptions with tracebacks.

Messages name fields, never flags: the library has several front ends, and each names an input
its own way. A message that points at *another* input (the remedy, or where a value came from)
holds a `Setting` among its parts instead of text:

    raise FieldError("out", f"{path!r} already exists; pass ", Setting("force"), " to replace it")

`str(error)` is what a Python caller reads, `out 'm.keras' already exists; pass force=True to
replace it`; a front end writes the parts its own way with `error.render(setting=...)`, and the
command line prints `--out 'm.keras' already exists; pass --force to replace it`
(`zoo_cli.output.flag_message`).
"""

import difflib
import enum


class Placeholder(str):
    """A value the user chooses, written bare: `Setting("tokenizer", Placeholder("DIR"))` reads
    `tokenizer=DIR` in Python and `--tokenizer DIR` on the command line."""

    def __repr__(self):
        return str(self)


class Setting:
    """A reference in a message to an input set to a value (`True`: a switch turned on).

    `str()` is the Python caller's keyword argument, `force=True` or `backend='jax'`; a front end
    writes its own form instead (the command line: `--force`, `--backend jax`)."""

    def __init__(self, field, value=True):
        self.field = field
        self.value = value.value if isinstance(value, enum.Enum) else value

    def __str__(self):
        return f"{self.field}={self.value!r}"

    def __repr__(self):
        return f"Setting({self.field!r}, {self.value!r})"

    def __eq__(self, other):
        return isinstance(other, Setting) and (self.field, self.value) == (other.field, other.value)

    def __hash__(self):
        return hash((self.field, self.value))


class ZooError(ValueError):
    """A mistake in the user's input, reported as one line.

    The message is its parts joined: text, and `Setting`s that each front end writes its own way
    (`render`); `str(error)` writes them as a Python caller passes them."""

    def __init__(self, *parts):
        self.parts = parts
        super().__init__(self.render())

    def render(self, setting=str):
        """The message, each `Setting` part written by `setting(part)`."""
        return "".join(setting(p) if isinstance(p, Setting) else str(p) for p in self.parts)

    def __reduce__(self):  # pickled whole (worker processes send errors back), parts included
        return type(self), self.parts, self.__dict__


class FieldError(ZooError):
    """A bad value of one named input (`temperature must be positive; received inf`).

    The library names the field, a Python caller's word; the command line names its flag
    instead (`zoo_cli.output.user_errors`: `--temperature must be ...`). `message`: the rest of
    the text, in parts like `ZooError`'s."""

    def __init__(self, field, *message):
        self.field = field
        super().__init__(field, " ", *message)

    def __reduce__(self):
        return type(self), (self.field, *self.parts[2:]), self.__dict__


class ConfigError(ZooError):
    """An invalid field value or combination in a `ModelConfig`."""


class UnknownNameError(ZooError):
    """A model, family or field name that does not exist."""


def nearest(word, candidates, n=3):
    """The closest valid names to `word`, for "did you mean" messages."""
    candidates = list(candidates)
    close = difflib.get_close_matches(word, candidates, n=n, cutoff=0.5)
    if not close:  # prefix matches help with "palm" vs "palm-small"-style typos
        close = [c for c in candidates if c.startswith(word[:3])][:n]
    return close


def unknown(kind, word, candidates):
    """An `UnknownNameError` naming the closest valid choices."""
    close = nearest(word, candidates)
    hint = f"; did you mean: {', '.join(close)}?" if close else ""
    return UnknownNameError(f"unknown {kind} {word!r}{hint}")
