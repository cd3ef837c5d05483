"""User-facing errors.

Anything the user can fix (a bad name, an invalid field value, a missing file) raises a
`ZooError`; the command line prints its message on one line and exits with status 2. Bugs stay
ordinary exceptions with tracebacks.
"""

import difflib


class ZooError(ValueError):
    """A mistake in the user's input, reported as one line."""


class FieldError(ZooError):
    """A bad value of one named input (`temperature must be positive; received inf`).

    The library names the field, a Python caller's word; the command line names its flag
    instead (`zoo_cli.output.user_errors`: `--temperature must be ...`)."""

    def __init__(self, field, message):
        super().__init__(f"{field} {message}")
        self.field = field


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
