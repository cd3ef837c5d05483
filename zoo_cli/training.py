"""`zoo train`: one thin adapter over `zoo.train()`, with a rich progress display."""

from typing import Annotated, Optional

import typer

from zoo_cli import options
from zoo_cli.output import console, human, user_errors
from zoo_cli.progress import RichReporter

app = typer.Typer()


@app.command("train")
def train(
    name: options.ModelName,
    data: Annotated[str, typer.Option(help="shakespeare, a path/dir/glob of .txt/.md/.jsonl, "
                                           "tokens:PATH (nanoGPT/llm.c .bin, .npy) or hf:NAME")
                    ] = "shakespeare",
    tokens: Annotated[Optional[float], typer.Option(help="Budget in training tokens.")] = None,
    flops: Annotated[Optional[float], typer.Option(help="Budget in FLOPs (6N + 12·L·H·Q·T per "
                                                        "token).")] = None,
    chinchilla: Annotated[Optional[float], typer.Option(
        help="Budget as a multiple of 20 tokens per parameter.")] = None,
    steps: Annotated[Optional[int], typer.Option(help="Budget in optimizer steps.")] = None,
    set_: options.Overrides = None,
    precision: Annotated[str, typer.Option(help="float32 or mixed_bfloat16.")] = "float32",
    tokenizer: Annotated[str, typer.Option(
        help="native (the paper's kind) or shared (byte-level BPE for every model).")] = "native",
    batch_size: Annotated[Optional[int], typer.Option(
        help="Sequences per optimizer step (default: the recipe's batch).")] = None,
    grad_accum: Annotated[int, typer.Option(
        help="Split each batch into this many micro-batches (gradient accumulation).")] = 1,
    eval_interval: Annotated[Optional[int], typer.Option(
        help="Steps between evaluations and checkpoints (default: a tenth of the run).")] = None,
    patience: Annotated[Optional[int], typer.Option(
        help="Stop after this many evaluations without improvement; restore the best.")] = None,
    seed: Annotated[int, typer.Option(help="Seed for initialisation and data order.")] = 0,
    out: Annotated[Optional[str], typer.Option(help="Run directory (default results/<run-id>).")
                   ] = None,
    resume: Annotated[bool, typer.Option(
        help="Continue the unfinished run in --out (or the latest one of NAME).")] = False,
    init_from: Annotated[Optional[str], typer.Option(
        help="Start from the weights of a run or a .keras file.")] = None,
    strategy: options.Strategy = None,
    backend: options.Backend = None,
):
    """Train a preset on a corpus within a stated budget; the record lands in results/<run-id>/."""
    options.use_backend(backend)
    with user_errors() as zoo:
        reporter = RichReporter(console())
        with reporter:
            record = zoo.train(
                name, data=data, tokens=_int(tokens), flops=flops, chinchilla=chinchilla,
                steps=steps, overrides=set_ or (), precision=precision, tokenizer=tokenizer,
                seed=seed, batch_size=batch_size, eval_interval=eval_interval,
                gradient_accumulation=grad_accum, patience=patience, out=out, resume=resume,
                init_from=init_from, reporter=reporter, strategy=strategy, backend=backend,
            )  # fmt: skip
    console().print(f"run written to [bold]{record.path}[/]  (model.keras, metrics.jsonl, "
                    f"summary.json; {human(record.summary()['params'])} parameters)")


def _int(value):
    return None if value is None else int(value)

