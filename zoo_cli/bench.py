"""`zoo bench …`: benchmarks (not tests), measured side by side in one run on this machine."""

from typing import Annotated

import typer

from zoo_cli import options
from zoo_cli.output import console, print_json, user_errors

app = typer.Typer(help="Benchmarks measured on this machine (not tests).", no_args_is_help=True)


@app.command("data")
def data(
    corpus: Annotated[str, typer.Option("--data", help="Corpus to encode and stream.")
                      ] = "shakespeare",
    name: Annotated[str, typer.Option("--model", help="Preset whose context, batch and "
                                                      "tokenizer to use.")] = "palm-small",
    steps: Annotated[int, typer.Option(help="Batches to time after 10 warm-up batches.")] = 500,
    json: options.Json = False,
):
    """Input-pipeline throughput (tokens/s) on its own, to compare with training speed.

    Method: encode the corpus with the preset's tokenizer (cached), build the training
    tf.data pipeline (seeded shuffle, packing, batching, prefetch) and time `steps` batches
    after 10 warm-up batches. The pipeline is not the bottleneck when this is far above the
    tokens/s that `zoo train` reports.
    """
    with user_errors() as zoo:
        result = zoo.benchmark_pipeline(name, data=corpus, steps=steps)
    if json:
        print_json(result)
    else:
        console().print(
            f"{result['preset']}: the input pipeline delivers {result['tokens_per_second']:,.0f} "
            f"tokens/s (batch {result['batch_size']} × {result['seq_len']}, {result['steps']} "
            f"batches, {result['train_tokens']:,} training tokens)"
        )
