"""`zoo convert`: a .keras file saved by an earlier zoo, rewritten so that today's zoo loads it."""

from typing import Annotated

import typer

from zoo_cli.output import console, user_errors

app = typer.Typer()


@app.command("convert")
def convert(
    source: Annotated[
        str,
        typer.Argument(
            metavar="OLD.keras",
            help="A model file whose layers keep queries, keys and values in one fused "
            "self_attention/qkv kernel (saved before they were separate projections).",
        ),
    ],
    out: Annotated[str, typer.Option("--out", "-o", help="NEW.keras to write (a new file).")],
):
    """Split each layer's fused qkv kernel into query, key and value; the original is kept."""
    with user_errors():
        from zoo.conversion import convert_keras_file

        result = convert_keras_file(source, out)
    note = (
        "; optimizer state not carried over (a model file, as zoo export writes)"
        if result.dropped_optimizer
        else ""
    )
    console().print(f"converted {result.layers} layers to {result.path}{note}", soft_wrap=True)
