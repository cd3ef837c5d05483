"""`zoo import`: a released checkpoint (local files only) as a zoo model or run directory."""

from typing import Annotated

import typer

from zoo_cli.output import console, human, user_errors

app = typer.Typer()


@app.command("import")
def import_(
    checkpoint: Annotated[
        str,
        typer.Argument(
            metavar="CHECKPOINT_DIR",
            help="A Hugging Face GPT-2/LLaMA directory (config.json + safetensors) or a keras-hub "
            "GPT2/Llama preset directory.",
        ),
    ],
    out: Annotated[
        str,
        typer.Option(
            "--out",
            "-o",
            help="FILE.keras, or a new run directory. An existing file is refused "
            "unless --force is given.",
        ),
    ],
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Replace an existing --out FILE.keras (a run directory that holds "
            "anything is never replaced).",
        ),
    ] = False,
):
    """Import a released checkpoint from local files; every tensor is mapped and checked."""
    with user_errors():
        from zoo.importing import check_destination, read_checkpoint, write_checkpoint

        check_destination(out, force)  # before the (slow) read, so a bad --out fails at once
        imported = read_checkpoint(checkpoint)
        path = write_checkpoint(imported, out, force)
    tokenizer = "with tokenizer" if imported.tokenizer else "no tokenizer"
    console().print(
        f"imported {imported.layout} {imported.model_type} ({human(imported.params)} parameters, "
        f"{imported.tensors_mapped} tensors mapped, {tokenizer}) to {path}",
        soft_wrap=True,
    )
