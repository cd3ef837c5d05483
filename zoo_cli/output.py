"""Shared output: rich consoles, JSON on stdout, human-readable numbers, and user-error handling.

Contract (design guide): exit 0 on success; on bad input, one line `error: <reason>` on stderr and
exit status 2, no traceback. Bugs are not `ZooError`s and keep their tracebacks.
"""

import contextlib
import errno
import json
import os
import shlex
import sys

import typer
import typer.core
from rich.console import Console

from zoo.errors import ZooError
from zoo_cli.library import BackendError, load_zoo

USAGE_ERROR = 2
FALLBACK_WIDTH = 120  # when no terminal is attached (pipes, files, tests) and COLUMNS is unset


def console(stderr=False):
    """A rich console on stdout (or stderr); 120 columns wide when no terminal is attached."""
    width = None
    if "COLUMNS" not in os.environ and not _terminal_attached():
        width = FALLBACK_WIDTH
    return Console(stderr=stderr, width=width, highlight=False)


def _terminal_attached():
    for fd in (0, 1, 2):
        try:
            os.get_terminal_size(fd)
            return True
        except (OSError, ValueError):
            continue
    return False


def print_json(data):
    """Exactly one JSON document on stdout; nothing else is printed there in JSON mode."""
    sys.stdout.write(json.dumps(data, indent=2) + "\n")


def fail(message):
    """Report a user error on one line of stderr and exit with status 2."""
    one_line = " ".join(part.strip() for part in str(message).splitlines() if part.strip())
    typer.echo(f"error: {one_line}", err=True)
    raise typer.Exit(USAGE_ERROR)


@contextlib.contextmanager
def user_errors(keras=True, flags=None):
    """Turn any `zoo.ZooError` raised inside into `error: <message>` on stderr and exit 2.

    Yields the `zoo` module; `keras=False` for commands that never build a model (listing,
    describing, run records, fits), which then never import Keras or TensorFlow. The message
    names flags, not fields (`flag_message`); `flags` maps the command's own fields whose flag
    or argument is not the usual one (`{"source": "RUN_OR_FILE"}`).

    So too an `OSError` (a read-only or full disk, a file where a directory is wanted): the
    user fixes those, so they are named with their path and the system's reason, not traced.
    A broken pipe (`zoo runs | head`) is left to Typer, which exits quietly.
    """
    try:
        zoo = load_zoo(keras=keras)
    except BackendError as error:  # $KERAS_BACKEND, checked before Keras is imported
        fail(error)
    try:
        yield zoo
    except zoo.ZooError as error:
        fail(flag_message(error, flags))
    except OSError as error:
        if error.errno == errno.EPIPE:
            raise
        fail(os_error_reason(error))


# Fields whose flag is not `--` + the field with dashes (run fields: zoo.run_config.FLAGS), and
# the environment variable the library names as it names a field.
FIELD_FLAGS = {"overrides": "--set", "KERAS_BACKEND": "KERAS_BACKEND"}


def field_flag(field, flags=None):
    """The command line's name for the library's `field`: `--grad-accum` for
    gradient_accumulation, `--set` for overrides, `--top-k` for top_k."""
    from zoo.run_config import FLAGS

    for table in (flags or {}, FLAGS, FIELD_FLAGS):
        if table.get(field):
            return table[field]
    return "--" + field.replace("_", "-")


def flag_setting(setting, flags=None):
    """A `zoo.errors.Setting` as typed on the command line: `--force`, `--no-spike-guard`,
    `--backend jax`, `--tokenizer DIR`."""
    name = field_flag(setting.field, flags)
    if setting.value is True:
        return name
    if setting.value is False:
        return "--no-" + name.removeprefix("--")
    return f"{name} {shlex.quote(str(setting.value))}"


def flag_message(error, flags=None):
    """The message of a `ZooError` as the command line says it: its `Setting`s as flags
    (`pass --force`), and a `FieldError`'s leading field as its flag (`--out ...`)."""
    if not isinstance(error, ZooError):
        return str(error)
    message = error.render(lambda setting: flag_setting(setting, flags))
    field = getattr(error, "field", None)
    if field is None or not message.startswith(field):
        return message
    return field_flag(field, flags) + message[len(field) :]


def os_error_reason(error):
    """'PATH: Reason' for an `OSError`, e.g. 'results/run: Read-only file system'."""
    reason = error.strerror or str(error) or type(error).__name__
    paths = [
        os.fsdecode(p) if isinstance(p, (bytes, os.PathLike)) else str(p)
        for p in (error.filename, error.filename2)
        if p is not None
    ]
    return f"{' -> '.join(paths)}: {reason}" if paths else reason


class OneLineUsageErrors(typer.core.TyperGroup):
    """The app's group: click's usage errors (a bad option value, a missing argument, an unknown
    option, command or choice) as one line, `error: <click's message>`, exit status 2, instead of
    Typer's usage line, hint and boxed message. `--help` and `zoo` alone (help) are unchanged.

    Typer 0.29 renders these in `typer.core._main`, which catches its vendored click's
    `ClickException` around `make_context` and `invoke`; catching them here, one level inside,
    turns them into `typer.Exit`, which `_main` passes on as the exit status.
    """

    def make_context(self, *args, **kwargs):
        with _one_line_usage_errors():
            return super().make_context(*args, **kwargs)

    def invoke(self, ctx):
        with _one_line_usage_errors():
            return super().invoke(ctx)


@contextlib.contextmanager
def _one_line_usage_errors():
    try:
        yield
    except typer.TyperException as error:  # typer's click.ClickException and its subclasses
        if type(error).__name__ == "NoArgsIsHelpError":  # `zoo` alone: Typer prints the help
            raise
        fail(error.format_message())


_UNITS = ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K"))


def human(number, unit=""):
    """124439808 -> '124.4M', 6738415616 -> '6.74B': three significant figures or more."""
    if number is None:
        return "—"
    for scale, suffix in _UNITS:
        if abs(number) >= scale:
            value = number / scale
            digits = 2 if abs(value) < 10 else 1
            return f"{value:.{digits}f}{suffix}{unit}"
    return f"{number:g}{unit}"


def scientific(number):
    """3277773656064.0 -> '3.28e12'."""
    mantissa, exponent = f"{number:.2e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def optional(value, spec):
    """format(value, spec), or an em dash for a value that was not measured."""
    return "—" if value is None else format(value, spec)


def yes_no(flag):
    return "yes" if flag else "no"
