"""`zoo bench …`: benchmarks (not tests), measured side by side in one run on this machine."""

import datetime
from typing import Annotated, Optional

import typer
from rich.table import Table

from zoo_cli import options
from zoo_cli.output import console, human, optional, print_json, user_errors

METHOD = """
Method: each contender is compiled and warmed up (3 steps) before timing; each timed repeat
trains a fixed number of steps with Keras fit on random tokens; the zoo and keras-hub models
train in separate worker processes, timed in turns (zoo, hub, zoo, hub, …); every figure is
the median of the repeats (min and max in the JSON). MFU = model FLOPs (6N + 12·L·H·Q·T per
token) / peak, where the CPU peak is the best of ten XLA float32 2048³ matmuls measured at the
start of the same run. Attention: one layer's forward+backward pass with XLA, batch 1.
Decoding: greedy with the key/value cache, a 32-token prompt and 224 new tokens per repeat;
tokens/s per sequence over prefill and decoding, compilation excluded.
"""

app = typer.Typer(help="Benchmarks measured on this machine (not tests)." + METHOD,
                  invoke_without_command=True)

Steps = Annotated[int, typer.Option(help="Training steps per timed repeat.")]
Repeats = Annotated[int, typer.Option(help="Timed repeats per contender (the median is shown).")]
Out = Annotated[Optional[str], typer.Option(
    help="Write the JSON report here (default results/bench/<parts>-<date>.json).")]


@app.callback()
def everything(
    ctx: typer.Context,
    steps: Steps = 10,
    repeats: Repeats = 5,
    out: Out = None,
    backend: options.Backend = None,
    json: options.Json = False,
):
    """With no command: the whole benchmark in one run (anchor, families, attention,
    generate); the families then use half the steps and two fewer repeats."""
    if ctx.invoked_subcommand is not None:
        return
    _run(("anchor", "families", "attention", "generate"), steps=steps, repeats=repeats, out=out,
         backend=backend, json=json, family=(max(1, steps // 2), max(1, repeats - 2)))


@app.command("anchor")
def anchor(steps: Steps = 10, repeats: Repeats = 5, out: Out = None,
           backend: options.Backend = None, json: options.Json = False):
    """The zoo's GPT-2 against keras-hub's GPT2Backbone at one identical configuration
    (4 layers, width 256, 4 heads, sequence 256, batch 16, vocabulary 8192, AdamW, XLA)."""
    _run(("anchor",), steps=steps, repeats=repeats, out=out, backend=backend, json=json)


@app.command("families")
def families(steps: Steps = 5, repeats: Repeats = 3, out: Out = None,
             backend: options.Backend = None, json: options.Json = False):
    """Tokens/s and MFU of every family's -small twin at its own batch and context."""
    _run(("families",), steps=steps, repeats=repeats, out=out, backend=backend, json=json)


@app.command("attention")
def attention(repeats: Repeats = 5, out: Out = None, backend: options.Backend = None,
              json: options.Json = False):
    """Banded (window 256) against dense causal attention at sequence 512 to 8192."""
    _run(("attention",), steps=1, repeats=repeats, out=out, backend=backend, json=json)


@app.command("generate")
def generate(
    repeats: Repeats = 3,
    batch_size: Annotated[int, typer.Option(help="Sequences decoded together.")] = 1,
    out: Out = None, backend: options.Backend = None, json: options.Json = False,
):
    """Decoding tokens/s and key/value cache bytes per token: the zoo's GPT-2 against
    keras-hub's GPT2CausalLM.generate, then every family's -small twin (and PaLM's with
    multi-head attention, to show what multi-query attention saves)."""
    if batch_size < 1:
        with user_errors() as zoo:
            raise zoo.ZooError(f"--batch-size must be at least 1; received {batch_size}")
    _run(("generate",), steps=1, repeats=repeats, out=out, backend=backend, json=json,
         generate_batch_size=batch_size)


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


def _run(parts, *, steps, repeats, out, backend, json, family=None, generate_batch_size=1):
    options.use_backend(backend)
    status = console(stderr=True)
    with user_errors():
        from zoo.bench import run_suite, write_report
        from zoo.errors import ZooError
        from zoo.training.distribution import select_backend
        from zoo.storage.runs import results_root

        if steps < 1 or repeats < 1:
            raise ZooError(f"--steps and --repeats must be at least 1; received {steps} and "
                           f"{repeats}")
        select_backend(backend)
        family_steps, family_repeats = family or (steps, repeats)
        report = run_suite(parts, steps=steps, repeats=repeats, family_steps=family_steps,
                           family_repeats=family_repeats, generate_repeats=repeats,
                           generate_batch_size=generate_batch_size,
                           reporter=lambda text: status.print(f"[dim]{text}[/]"))
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        path = write_report(report, out or results_root() / "bench"
                            / f"{'-'.join(parts)}-{stamp}.json")
    if json:
        print_json(report)
        return
    show(report)
    console().print(f"report written to {path}")


def show(report):
    """Rich tables for whichever parts the report holds."""
    out = console()
    peak = report["peak_flops"]
    out.print(f"{report['device']} · {report['backend']} · peak "
              + (f"{peak / 1e9:.0f} GFLOP/s ({report['peak_flops_source']})" if peak
                 else report["peak_flops_source"]))
    if "anchor" in report:
        a = report["anchor"]
        shape = a["shape"]
        table = _table(f"training: {shape['num_layers']} layers × {shape['hidden_dim']}, "
                       f"{shape['num_heads']} heads, sequence {shape['seq_len']}, batch "
                       f"{shape['batch_size']}, vocabulary {shape['vocabulary_size']} "
                       f"({human(a['params'])} parameters), AdamW, XLA",
                       SPEED_COLUMNS + ("compile+warm-up",))
        for r in a["rows"]:
            table.add_row(*_speed_cells(r), _rss(r), f"{r['warmup_seconds']:.0f} s")
        out.print(table)
        out.print(f"zoo / keras-hub tokens/s: [bold]{a['ratio']:.2f}×[/] (medians of "
                  f"{len(a['rows'][0]['tokens_per_second']['repeats'])} interleaved repeats of "
                  f"{a['steps_per_repeat']} steps)")
    if "families" in report:
        table = _table("each family's -small twin (its own batch and context)",
                       SPEED_COLUMNS + ("params",))
        for r in report["families"]:
            table.add_row(*_speed_cells(r), _rss(r), human(r["params"]))
        out.print(table)
    if "attention" in report:
        rows = report["attention"]
        table = _table(f"one attention layer, forward+backward (window {rows[0]['window']})",
                       ("sequence", "dense ms", "banded ms", "dense/banded", "dense ms/1k tok",
                        "banded ms/1k tok"),
                       caption="banded cost per 1k tokens stays flat: linear in sequence length")
        for r in rows:
            table.add_row(f"{r['seq_len']:,}", f"{r['dense_ms']:,.1f}", f"{r['banded_ms']:,.1f}",
                          f"{r['speedup']:.1f}×", f"{r['dense_ms_per_1k_tokens']:,.1f}",
                          f"{r['banded_ms_per_1k_tokens']:,.1f}")
        out.print(table)
    if "generate_anchor" in report:
        a = report["generate_anchor"]
        shape = a["shape"]
        table = _table(f"decoding: {shape['num_layers']} layers × {shape['hidden_dim']}, "
                       f"{shape['num_heads']} heads, vocabulary {shape['vocabulary_size']}; "
                       f"batch {a['batch_size']}, {a['prompt_tokens']}-token prompt, "
                       f"{a['new_tokens']} new tokens, greedy, key/value cache, XLA",
                       GENERATION_COLUMNS)
        for r in a["rows"]:
            table.add_row(*_generation_cells(r))
        out.print(table)
        out.print(f"zoo / keras-hub decoding tokens/s: [bold]{a['ratio']:.2f}×[/]")
    if "generate" in report:
        g = report["generate"]
        table = _table(f"decoding each family's -small twin: batch {g['batch_size']}, "
                       f"{g['prompt_tokens']}-token prompt, {g['new_tokens']} new tokens, "
                       "greedy, key/value cache, XLA", GENERATION_COLUMNS,
                       caption="cache bytes/token = 2 · layers · kv heads · head width · 4 bytes")
        for r in g["rows"]:
            table.add_row(*_generation_cells(r))
        out.print(table)


SPEED_COLUMNS = ("model", "tokens/s (median)", "min–max", "MFU", "model GFLOP/s", "peak RSS")
GENERATION_COLUMNS = ("model", "tokens/s (median)", "min–max", "q/kv heads", "cache bytes/token",
                      "peak RSS", "params")


def _table(title, columns, caption=None):
    """A rich table with numbers right-aligned and the model's name on the left."""
    table = Table(title=title, caption=caption)
    for column in columns:
        table.add_column(column, justify="left" if column == "model" else "right")
    return table


def _rss(row):
    return f"{row['memory']['peak_rss_bytes'] / 2**30:.2f} GiB"


def _generation_cells(row):
    speed = row["tokens_per_second"]
    return (row["name"], f"{speed['median']:,.1f}", f"{speed['min']:,.1f}–{speed['max']:,.1f}",
            f"{row['num_query_heads']}/{row['num_key_value_heads']}",
            f"{row['cache_bytes_per_token']:,.0f}", _rss(row), human(row["params"]))


def _speed_cells(row):
    speed = row["tokens_per_second"]
    return (row["name"], f"{speed['median']:,.0f}", f"{speed['min']:,.0f}–{speed['max']:,.0f}",
            optional(row["mfu"], ".0%"), f"{row['model_flops_per_second'] / 1e9:.1f}")
