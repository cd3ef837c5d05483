"""`zoo report [--out DIR]`: one static HTML page of every committed study, figures beside it.

Reads the committed studies (`results/reference/`) and the cards (`zoo/choices.json`) only: no
Keras, no training, so it answers at once, like `zoo explain`. The page and its numbers come
from `zoo.report`; this module adds the flags and one line saying what was written.
"""

from typing import Annotated

import typer
from rich.markup import escape

from zoo_cli.output import console, user_errors

app = typer.Typer()


@app.command("report")
def report(
    out: Annotated[
        str,
        typer.Option(
            "--out",
            "-o",
            help="The directory to write (default: results/report under the working "
            "directory, which git ignores): index.html, each figure beside it, and report.json "
            "(the files written). An existing directory is replaced only when it is empty or "
            "an earlier zoo report wrote it (its report.json lists everything in it); anything "
            "else is refused unless --force is given.",
        ),
    ] = "results/report",
    force: Annotated[
        bool,
        typer.Option("--force", help="Replace an existing --out, whatever it holds."),
    ] = False,
):
    """One static HTML page of every committed study: its question, figure, table, trend,
    scale, the cards that read it and the command that reproduces it, every number read from
    the committed JSON (hover over one for its file and JSON pointer). Open the page in a
    browser; it loads nothing from outside its directory."""
    with user_errors(keras=False):
        from zoo.report import report as write_report

        written = write_report(out, force=force)
    console().print(
        f"wrote {escape(written['page'])}: {written['studies']} studies, {written['figures']} "
        f"figures beside it ({written['bytes'] / 1024:.0f} KiB of HTML); open it in a browser",
        soft_wrap=True,  # one line, so the path is never broken
    )
