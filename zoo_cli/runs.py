"""`zoo runs` (a table of past runs) and `zoo export` (a run's model as one .keras file)."""

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from zoo_cli import options
from zoo_cli.output import console, human, optional, print_json, user_errors

app = typer.Typer()


@app.command("runs")
def runs(json: options.Json = False):
    """Past runs under results/ (or $ZOO_RESULTS): preset, budget, losses, speed, status."""
    with user_errors(keras=False) as zoo:
        rows = zoo.run_rows()
    if json:
        print_json(rows)
        return
    table = Table(title=f"{len(rows)} runs")
    for column in (
        "run",
        "preset",
        "status",
        "steps",
        "tokens",
        "val loss",
        "bits/byte",
        "tok/s",
        "MFU",
    ):
        table.add_column(
            column, justify="left" if column in ("run", "preset", "status") else "right"
        )
    for r in rows:
        table.add_row(
            escape(r["run_id"]), escape(str(r["preset"] or "")), r["status"], _steps(r),
            human(r["tokens"]), optional(r["validation_loss"], ".4f"),
            optional(r["validation_bits_per_byte"], ".3f"), optional(r["tokens_per_second"], ",.0f"),
            optional(r["mfu"], ".0%"),
        )  # fmt: skip
    out = console()
    out.print(table)
    for r in rows:  # what is wrong with each damaged record, below the table
        if r["status"] == "damaged":
            out.print(
                f"[red]damaged[/] {escape(r['run_id'])}: {escape(r['problem'])}", soft_wrap=True
            )


def _steps(row):
    """'120/300' (steps done / budgeted); '—' for what a record does not say (damaged)."""
    if row["steps"] is None:
        return "—"
    total = row["total_steps"]
    return f"{row['steps']}/{'—' if total is None else total}"


@app.command("export")
def export(
    run: Annotated[str, typer.Argument(help="A run id under results/ or a run directory.")],
    out: Annotated[
        str,
        typer.Option(
            "--out",
            "-o",
            help="Destination FILE.keras; an existing file is refused unless --force is given.",
        ),
    ],
    force: Annotated[bool, typer.Option("--force", help="Replace an existing --out file.")] = False,
):
    """Write a run's trained model (or latest checkpoint) as one .keras file, without optimizer."""
    with user_errors() as zoo:
        path = zoo.export_model(run, out, force=force)
    console().print(f"wrote {path}")
