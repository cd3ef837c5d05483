"""The `zoo` command line: one Typer app composed from one small module per command group."""

import os

# Before anything imports TensorFlow: silence its C++ logging (zoo_cli.library filters the few
# start-up lines that ignore this setting).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import typer  # noqa: E402

from zoo_cli import bench, compare, generate, importing, models, runs, training  # noqa: E402
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
app.add_typer(bench.app, name="bench")  # zoo bench …


def main():
    app()


if __name__ == "__main__":
    main()
