"""`zoo train`: one thin adapter over `zoo.train()`, with a rich progress display."""

import os
import sys
from typing import Annotated, Optional

import typer

from zoo_cli import options, run_options
from zoo_cli.output import console, human, user_errors
from zoo_cli.progress import RichReporter
from zoo_cli.run_options import Precision, TokenizerMode

app = typer.Typer()

RUN_FAILED = 3  # valid input, but training could not go on (non-finite loss); 2 is bad input


@app.command("train")
def train(
    name: options.ModelName,
    data: run_options.Data = run_options.DEFAULT_DATA,
    tokens: Annotated[Optional[float], typer.Option(help="Budget in training tokens.")] = None,
    flops: Annotated[
        Optional[float], typer.Option(help="Budget in FLOPs (6N + 12·L·H·Q·T per token).")
    ] = None,
    chinchilla: Annotated[
        Optional[float], typer.Option(help="Budget as a multiple of 20 tokens per parameter.")
    ] = None,
    steps: Annotated[Optional[int], typer.Option(help="Budget in optimizer steps.")] = None,
    set_: options.Overrides = None,
    precision: run_options.PrecisionOption = Precision.FLOAT32,
    tokenizer: Annotated[
        TokenizerMode,
        typer.Option(help="native (the paper's kind) or shared (byte-level BPE for every model)."),
    ] = TokenizerMode.NATIVE,
    batch_size: run_options.BatchSize = None,
    grad_accum: run_options.GradAccum = 1,
    eval_interval: run_options.EvalInterval = None,
    patience: run_options.Patience = None,
    spike_guard: run_options.SpikeGuard = True,
    rewind_after_spikes: run_options.RewindAfterSpikes = None,
    passes: run_options.Passes = None,
    seed: Annotated[int, typer.Option(help="Seed for initialisation and data order.")] = 0,
    out: Annotated[
        Optional[str], typer.Option(help="Run directory (default results/<run-id>).")
    ] = None,
    resume: Annotated[
        bool,
        typer.Option(
            help="Continue the unfinished run in --out (or the latest one of NAME) as it was "
            "configured (options given must agree with it); a run stopped before its first "
            "checkpoint restarts."
        ),
    ] = False,
    # A flag of its own: a Typer option cannot take an optional value (`--resume [auto]`).
    resume_auto: Annotated[
        bool,
        typer.Option(
            "--resume-auto",
            help="For schedulers that rerun one command: start --out when it holds nothing yet, "
            "else as --resume; a finished run is left as it is (exit 0).",
        ),
    ] = False,
    init_from: Annotated[
        Optional[str], typer.Option(help="Start from the weights of a run or a .keras file.")
    ] = None,
    strategy: run_options.StrategyOption = None,
    shard_optimizer: run_options.ShardOptimizer = False,
    backend: run_options.BackendOption = None,
):
    """Train a preset on a corpus within a stated budget; the record lands in results/<run-id>/.

    Exit status: 0 done, 2 bad input (nothing written), 3 training diverged (the last finite
    checkpoint is kept).
    """
    options.use_backend(
        run_options.backend_name(backend), strategy=run_options.backend_name(strategy)
    )
    fields = run_options.values(
        data=data, tokens=tokens, flops=flops, chinchilla=chinchilla, steps=steps,
        precision=precision, tokenizer=tokenizer, batch_size=batch_size,
        gradient_accumulation=grad_accum, eval_interval=eval_interval, patience=patience,
        spike_guard=spike_guard, rewind_after_spikes=rewind_after_spikes, seed=seed,
        init_from=init_from, passes=passes, strategy=strategy, backend=backend,
        shard_optimizer=shard_optimizer or None,
    )  # fmt: skip
    with user_errors() as zoo, run_options.flags_for_fields(zoo):
        if resume_auto:
            resume = "auto"
        if resume:  # only what the user changed from the defaults: the rest is the recorded run's
            defaults = zoo.RunConfig().to_dict()
            fields = {k: v for k, v in fields.items() if defaults.get(k) != v}
        reporter = RichReporter(console())
        try:
            with reporter:
                record = zoo.train(
                    name, overrides=set_ or (), out=out, resume=resume, reporter=reporter, **fields
                )
        except zoo.RunFailed as failure:
            typer.echo(f"error: {failure}", err=True)
            if failure.exit_now:  # JAX would abort this process at shutdown, ~100 s from now
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(RUN_FAILED)
            raise typer.Exit(RUN_FAILED) from None
    console().print(
        f"run written to [bold]{record.path}[/]  (model.keras, metrics.jsonl, "
        f"summary.json; {human(record.summary()['params'])} parameters)"
    )
