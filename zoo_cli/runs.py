"""`zoo runs` (a table of past runs) and `zoo export` (a run's model as one .keras file)."""

from typing import Annotated

import typer
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
    for column in ("run", "preset", "status", "steps", "tokens", "val loss", "bits/byte",
                   "tok/s", "MFU"):
        table.add_column(column, justify="left" if column in ("run", "preset", "status")
                         else "right")
    for r in rows:
        table.add_row(
            r["run_id"], r["preset"], r["status"], f"{r['steps']}/{r['total_steps']}",
            human(r["tokens"]), optional(r["validation_loss"], ".4f"),
            optional(r["validation_bits_per_byte"], ".3f"), optional(r["tokens_per_second"], ",.0f"),
            optional(r["mfu"], ".0%"),
        )  # fmt: skip
    console().print(table)


@app.command("export")
def export(
    run: Annotated[str, typer.Argument(help="A run id under results/ or a run directory.")],
    out: Annotated[str, typer.Option("--out", "-o", help="Destination FILE.keras.")],
):
    """Write a run's trained model (or latest checkpoint) as one .keras file, without optimizer."""
    with user_errors() as zoo:
        path = zoo.export_model(run, out)
    console().print(f"wrote {path}")
