"""The `zoo` command line: one Typer app composed from one small module per command group."""

import os

# Before anything imports TensorFlow: silence its C++ logging (zoo_cli.library filters the few
# start-up lines that ignore this setting).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _matplotlib_config_dir():
    """Matplotlib (imported with Keras) warns on stderr, twice, when it cannot write its config
    directory (a read-only HOME); point it at a private temporary one instead, so that the
    zoo's own one-line error is all a user sees."""
    if os.environ.get("MPLCONFIGDIR"):
        return
    home = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    try:
        os.makedirs(os.path.join(home, "matplotlib"), exist_ok=True)
    except OSError:
        import tempfile

        fallback = os.path.join(tempfile.gettempdir(), f"zoo-matplotlib-{os.getuid()}")
        os.makedirs(fallback, exist_ok=True)
        os.environ["MPLCONFIGDIR"] = fallback


_matplotlib_config_dir()

import typer  # noqa: E402

from zoo_cli import (  # noqa: E402
    baseline,
    bench,
    compare,
    convert,
    explain,
    fit,
    generate,
    gradients,
    importing,
    models,
    report,
    runs,
    sweep,
    training,
    tune,
)
from zoo_cli.output import OneLineUsageErrors  # noqa: E402

app = typer.Typer(
    name="zoo",
    help="The decoder-only language models of 2019–2023: inspect, train and compare them.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
    cls=OneLineUsageErrors,  # usage errors as one line `error: ...`, exit 2 (design guide)
    pretty_exceptions_enable=False,  # a bug's traceback is Python's own, not a rich panel
)
app.add_typer(models.app)  # zoo list, zoo info
app.add_typer(training.app)  # zoo train
app.add_typer(compare.app)  # zoo compare
app.add_typer(runs.app)  # zoo runs, zoo export
app.add_typer(generate.app)  # zoo generate
app.add_typer(importing.app)  # zoo import
app.add_typer(convert.app)  # zoo convert
app.add_typer(baseline.app)  # zoo baseline
app.add_typer(sweep.app, name="sweep")  # zoo sweep isoflop, zoo sweep compute
app.add_typer(fit.app)  # zoo fit
app.add_typer(bench.app, name="bench")  # zoo bench …
app.add_typer(explain.app)  # zoo explain
app.add_typer(report.app)  # zoo report
app.add_typer(tune.app)  # zoo tune
app.add_typer(gradients.app)  # zoo gradients


def main():
    app()


if __name__ == "__main__":
    main()
