"""`zoo baseline`: the Kneser-Ney byte n-gram a trained model must beat, in bits per byte."""

from typing import Annotated, Optional

import typer
from rich.table import Table

from zoo_cli import options, run_options
from zoo_cli.output import console, human, optional, print_json, user_errors

app = typer.Typer()

Order = Annotated[
    Optional[int],
    typer.Option(
        help="The n-gram order, 1–8 (default: chosen on a held-out slice of the training split).",
        show_default=False,
    ),
]


@app.command("baseline")
def baseline(
    data: run_options.Data = run_options.DEFAULT_DATA,
    order: Order = None,
    json: options.Json = False,
):
    """Score an interpolated Kneser-Ney byte n-gram on the validation split every run uses.

    The order is chosen on training text only: a held-out slice of the training documents,
    never validation. Built once per corpus (seconds) and cached by the corpus's fingerprint.
    """
    with user_errors():
        from zoo.baselines import ngram_baseline

        result = ngram_baseline(data, order)
    if json:
        print_json(
            {
                key: result[key]
                for key in (
                    "bits_per_byte",
                    "order",
                    "orders",
                    "build_seconds",
                    "cached",
                    "data",
                    "corpus_fingerprint",
                    "selection",
                    "held_out",
                    "unigram_bits_per_byte",
                    "method",
                    "train_bytes",
                    "validation_bytes",
                )
            }
        )
        return
    out = console()
    out.print(
        f"[bold]{result['name']}[/]: {optional(result['bits_per_byte'], '.3f')} bits/byte "
        f"on validation · {data} ({human(result['validation_bytes'])} bytes)"
    )
    if result["orders"]:
        held_out = result["held_out"]
        out.print(
            f"order chosen on a slice of the training split ({held_out['split']}: "
            f"{human(held_out['held_out_bytes'])} bytes held out, the other "
            f"{human(held_out['fit_bytes'])} fitted); the validation split is not read"
        )
        out.print(_orders_table(result))
    else:
        out.print(f"order {result['order']}, as given")
    out.print(
        f"unigram (add-one) baseline: {optional(result['unigram_bits_per_byte'], '.3f')} "
        "bits/byte on validation"
    )
    out.print(
        f"built in {result['build_seconds']:.1f}s"
        + (" · from the cache" if result["cached"] else " · now cached")
        + f" · "
        f"{result['method']}"
    )


def _orders_table(result):
    table = Table(show_edge=False)
    table.add_column("order", justify="right")
    table.add_column("held-out bits/byte", justify="right")
    table.add_column("")
    for order, bits in sorted(result["orders"].items()):
        table.add_row(
            str(order), optional(bits, ".3f"), "← chosen" if order == result["order"] else ""
        )
    return table
