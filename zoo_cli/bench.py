"""`zoo bench …`: benchmarks (not tests), measured side by side in one run on this machine."""

import datetime
from typing import Annotated, List, Optional

import typer
from rich.table import Table

from zoo_cli import options, run_options
from zoo_cli.output import console, human, optional, print_json, user_errors

METHOD = """
Method: each contender is compiled and warmed up (3 steps) before timing; each timed repeat
trains a fixed number of steps with Keras fit on random tokens; the zoo and keras-hub models
train in separate worker processes, timed in turns (zoo, hub, zoo, hub, …); every figure is
the median of the repeats (min and max in the JSON). MFU = model FLOPs (6N + 12·L·H·Q·T per
token) / peak, where the CPU peak is the best of ten XLA float32 2048³ matmuls measured at the
start of the same run. Attention: one layer's and a 2-layer model's forward+backward pass with
XLA, batch 1, dense, banded and (JAX, torch) fused kernels in turns, peak memory after.
Decoding: greedy with the key/value cache, a 32-token prompt and 224 new tokens per repeat;
tokens/s per sequence over prefill and decoding, compilation excluded.
Sizes: one GPT-2 per rung of a ladder (4×256, 4×128, 2×64 and the shapes `zoo sweep compute`
trains at 1e11, 1e12 and 1e13 FLOPs), parameter counts checked equal, trained by the zoo on
every installed Keras backend (XLA on TensorFlow and JAX, torch.compile on torch), keras-hub's
GPT2Backbone (TensorFlow, XLA) and transformers' GPT2LMHeadModel in a PyTorch loop (eager and
torch.compile), each in its own worker, all timed in turns with the same steps per round.
"""

app = typer.Typer(
    help="Benchmarks measured on this machine (not tests)." + METHOD, invoke_without_command=True
)

Steps = Annotated[int, typer.Option(help="Training steps per timed repeat.")]
Repeats = Annotated[int, typer.Option(help="Timed repeats per contender (the median is shown).")]
Out = Annotated[
    Optional[str],
    typer.Option(help="Write the JSON report here (default results/bench/<parts>-<date>.json)."),
]
Plot = Annotated[
    Optional[str],
    typer.Option(help="Also draw the report's figure to this .png/.svg/.pdf.", show_default=False),
]


@app.callback()
def everything(
    ctx: typer.Context,
    steps: Steps = 10,
    repeats: Repeats = 5,
    out: Out = None,
    backend: options.Backend = None,
    json: options.Json = False,
):
    """With no command: the whole benchmark in one run (anchor, sizes, families, attention,
    generate); the families then use half the steps and two fewer repeats."""
    if ctx.invoked_subcommand is not None:
        return
    _run(
        ("anchor", "sizes", "families", "attention", "generate"),
        steps=steps,
        repeats=repeats,
        out=out,
        backend=backend,
        json=json,
        family=(max(1, steps // 2), max(1, repeats - 2)),
    )


@app.command("anchor")
def anchor(
    steps: Steps = 10,
    repeats: Repeats = 5,
    out: Out = None,
    backend: options.Backend = None,
    json: options.Json = False,
):
    """The zoo's GPT-2 against keras-hub's GPT2Backbone at one identical configuration
    (4 layers, width 256, 4 heads, sequence 256, batch 16, vocabulary 8192, AdamW, XLA)."""
    _run(("anchor",), steps=steps, repeats=repeats, out=out, backend=backend, json=json)


@app.command("sizes")
def sizes(
    repeats: Repeats = 5,
    seconds: Annotated[
        float,
        typer.Option(
            help="Target seconds per timed round of the median contender (sets the steps)."
        ),
    ] = 1.0,
    sweep_budgets: Annotated[
        str, typer.Option(help="FLOPs budgets whose compute-optimal sweep shapes join the ladder.")
    ] = "1e11,1e12,1e13",
    shapes: options.Shapes = "family-heads",
    fixed: Annotated[
        bool,
        typer.Option(
            "--fixed/--no-fixed",
            help="Start the ladder with its three fixed rungs (4×256, 4×128, 2×64); "
            "--no-fixed: only the sweep's shapes.",
        ),
    ] = True,
    out: Out = None,
    json: options.Json = False,
):
    """Training tokens/s and MFU over a ladder of GPT-2 sizes: the zoo on every installed
    backend against keras-hub and transformers (eager and torch.compile), with the zoo's best
    backend's ratio to the fastest peer per size."""
    if not seconds > 0:
        with user_errors() as zoo:
            raise zoo.ZooError(f"--seconds must be positive; received {seconds}")
    _run(
        ("sizes",),
        steps=1,
        repeats=repeats,
        out=out,
        backend=None,
        json=json,
        size_seconds=seconds,
        sweep_budgets=sweep_budgets,
        sweep_shapes=shapes,
        fixed_rungs=fixed,
    )


@app.command("families")
def families(
    steps: Steps = 5,
    repeats: Repeats = 3,
    out: Out = None,
    backend: options.Backend = None,
    json: options.Json = False,
):
    """Tokens/s and MFU of every family's -small twin at its own batch and context."""
    _run(("families",), steps=steps, repeats=repeats, out=out, backend=backend, json=json)


@app.command("attention")
def attention(
    repeats: Repeats = 5,
    lengths: Annotated[
        str, typer.Option(help="Sequence lengths, comma-separated, each at least 2 × --window.")
    ] = "256,512,1024,2048,4096,8192",
    window: Annotated[int, typer.Option(help="The banded kernel's window.")] = 128,
    out: Out = None,
    plot: Plot = None,
    backend: options.Backend = None,
    json: options.Json = False,
):
    """Time and peak memory of dense, banded and fused causal attention against length: one
    layer's and a 2-layer model's forward+backward pass, with c0 + c1·T + c2·T² fitted."""
    _run(
        ("attention",),
        steps=1,
        repeats=repeats,
        out=out,
        backend=backend,
        json=json,
        attention_lengths=lengths,
        attention_window=window,
        plot=plot,
    )


@app.command("parallel")
def parallel(
    steps: Annotated[int, typer.Option(help="Timed training steps per layout.")] = 5,
    out: Out = None,
    plot: Plot = None,
    json: options.Json = False,
):
    """Bytes per device of weights, gradients and optimizer state under data parallelism,
    Megatron tensor parallelism and ZeRO-1, on 1-8 virtual devices (JAX), against accounting;
    the accounting alone for llama-7b and palm-540b."""
    _run(("parallel",), steps=steps, repeats=1, out=out, backend=None, json=json, plot=plot)


@app.command("generate")
def generate(
    repeats: Repeats = 3,
    batch_size: Annotated[int, typer.Option(help="Sequences decoded together.")] = 1,
    out: Out = None,
    backend: options.Backend = None,
    json: options.Json = False,
):
    """Decoding tokens/s and key/value cache bytes per token: the zoo's GPT-2 against
    keras-hub's GPT2CausalLM.generate, then every family's -small twin (and PaLM's with
    multi-head attention, to show what multi-query attention saves)."""
    if batch_size < 1:
        with user_errors() as zoo:
            raise zoo.ZooError(f"--batch-size must be at least 1; received {batch_size}")
    _run(
        ("generate",),
        steps=1,
        repeats=repeats,
        out=out,
        backend=backend,
        json=json,
        generate_batch_size=batch_size,
    )


@app.command("data")
def data(
    corpus: Annotated[
        str, typer.Option("--data", help="Corpus to encode and stream.")
    ] = run_options.DEFAULT_DATA,
    name: Annotated[
        str, typer.Option("--model", help="Preset whose context, batch and tokenizer to use.")
    ] = "palm-small",
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


def _run(
    parts,
    *,
    steps,
    repeats,
    out,
    backend,
    json,
    family=None,
    generate_batch_size=1,
    size_seconds=1.0,
    sweep_budgets="1e11,1e12,1e13",
    sweep_shapes="family-heads",
    fixed_rungs=True,
    attention_lengths=None,
    attention_window=None,
    plot=None,
):
    options.use_backend(backend)
    status = console(stderr=True)
    with user_errors():
        from zoo.bench import run_suite, write_report
        from zoo.errors import ZooError
        from zoo.files import check_plot_path

        if plot:
            check_plot_path(plot)  # before minutes of timing, not after
        from zoo.training.distribution import select_backend
        from zoo.storage.runs import results_root

        if steps < 1 or repeats < 1:
            raise ZooError(
                f"--steps and --repeats must be at least 1; received {steps} and {repeats}"
            )
        select_backend(backend)
        seq_lens = _lengths(attention_lengths, attention_window)
        family_steps, family_repeats = family or (steps, repeats)
        ladder = size_ladder(sweep_budgets, sweep_shapes, fixed_rungs) if "sizes" in parts else None
        report = run_suite(
            parts,
            steps=steps,
            repeats=repeats,
            family_steps=family_steps,
            family_repeats=family_repeats,
            generate_repeats=repeats,
            generate_batch_size=generate_batch_size,
            size_shapes=ladder,
            size_seconds=size_seconds,
            seq_lens=seq_lens,
            window=attention_window,
            reporter=lambda text: status.print(f"[dim]{text}[/]"),
        )
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        path = write_report(
            report, out or results_root() / "bench" / f"{'-'.join(parts)}-{stamp}.json"
        )
    if json:
        print_json(report)
    else:
        show(report)
        console().print(f"report written to {path}")
    if plot:
        _plot(report, plot, console(stderr=json))


@app.command("show")
def show_report(
    report: Annotated[
        str,
        typer.Argument(
            help="A report zoo bench wrote (its --out).", metavar="REPORT", show_default=False
        ),
    ],
    plot: Plot = None,
):
    """The tables of a report measured earlier (e.g. results/reference/bench-attention.json),
    and with --plot its figure (attention and parallel reports): nothing is measured."""
    with user_errors():
        import pathlib

        from zoo.errors import ZooError
        from zoo.explain import Document
        from zoo.files import check_plot_path

        if plot:
            check_plot_path(plot)
        path = pathlib.Path(report)
        if not path.is_file():
            raise ZooError(f"no report at {report}")
        data = Document(path).data
        if not {"device", "backend", "peak_flops", "peak_flops_source"} <= set(data):
            raise ZooError(f"{report} is not a report of zoo bench (no device, backend and peak)")
        show(data)
        if plot:
            _plot(data, plot, console())


def _plot(report, path, out):
    with user_errors():
        from zoo.bench.plots import plot_report

        out.print(f"plot written to {plot_report(report, path)}")


def _lengths(text, window):
    """--lengths as ints, refused in one line unless each is a whole number at least 2 × window
    (shorter, the banded kernel is the dense one) and they are distinct."""
    from zoo.errors import ZooError

    if text is None:
        return None
    if window is not None and window < 1:
        raise ZooError(f"--window must be at least 1; received {window}")
    try:
        lengths = [int(part) for part in text.split(",")]
    except ValueError:
        raise ZooError(f"--lengths takes whole numbers separated by commas; received {text!r}")
    floor = 2 * (window or 1)
    if min(lengths) < floor or len(set(lengths)) != len(lengths):
        raise ZooError(
            f"--lengths must be distinct and each at least 2 × --window = {floor}; "
            f"received {text!r}"
        )
    return tuple(sorted(lengths))


def size_ladder(sweep_budgets, shapes="family-heads", fixed=True):
    """The fixed rungs, then GPT-2's compute-optimal sweep shapes at `sweep_budgets` under the
    sweep's shape rule `shapes`, as the sweep planner sizes them (the bench sits below the
    scaling layer, so the CLI joins them)."""
    from zoo.bench.sizes import FIXED_LADDER, SizeShape
    from zoo.experiments.grid import (
        batch_size_for,
        parse_arms,
        parse_budgets,
        parse_shapes,
        sweep_model,
    )

    arm = parse_arms("gpt2")[0]
    config = sweep_model(arm)
    rule = parse_shapes(shapes)
    rungs = list(FIXED_LADDER) if fixed else []
    for budget in parse_budgets(sweep_budgets):
        shape = rule.resize(config, budget)
        rungs.append(
            SizeShape(
                f"sweep {budget:.0e} {shape.num_layers}×{shape.hidden_dim}"
                f"/{shape.num_query_heads}h v{shape.vocabulary_size}",
                shape.num_layers,
                shape.hidden_dim,
                shape.num_query_heads,
                shape.max_sequence_length,
                batch_size_for(arm, shape, budget),
                shape.vocabulary_size,
            )
        )
    return rungs


def show(report):
    """Rich tables for whichever parts the report holds."""
    out = console()
    peak = report["peak_flops"]
    out.print(
        f"{report['device']} · {report['backend']} · peak "
        + (
            f"{peak / 1e9:.0f} GFLOP/s ({report['peak_flops_source']})"
            if peak
            else report["peak_flops_source"]
        )
    )
    if "anchor" in report:
        a = report["anchor"]
        shape = a["shape"]
        table = _table(
            f"training: {shape['num_layers']} layers × {shape['hidden_dim']}, "
            f"{shape['num_heads']} heads, sequence {shape['seq_len']}, batch "
            f"{shape['batch_size']}, vocabulary {shape['vocabulary_size']} "
            f"({human(a['params'])} parameters), AdamW, XLA",
            SPEED_COLUMNS + ("compile+warm-up",),
        )
        for r in a["rows"]:
            table.add_row(*_speed_cells(r), _rss(r), f"{r['warmup_seconds']:.0f} s")
        out.print(table)
        out.print(
            f"zoo / keras-hub tokens/s: [bold]{a['ratio']:.2f}×[/] (medians of "
            f"{len(a['rows'][0]['tokens_per_second']['repeats'])} interleaved repeats of "
            f"{a['steps_per_repeat']} steps)"
        )
    if "sizes" in report:
        _show_sizes(out, report["sizes"])
    if "families" in report:
        table = _table(
            "each family's -small twin (its own batch and context)", SPEED_COLUMNS + ("params",)
        )
        for r in report["families"]:
            table.add_row(*_speed_cells(r), _rss(r), human(r["params"]))
        out.print(table)
    if "attention" in report:
        _show_attention(out, report["attention"])
    if "parallel" in report:
        _show_parallel(out, report["parallel"])
    if "generate_anchor" in report:
        a = report["generate_anchor"]
        shape = a["shape"]
        table = _table(
            f"decoding: {shape['num_layers']} layers × {shape['hidden_dim']}, "
            f"{shape['num_heads']} heads, vocabulary {shape['vocabulary_size']}; "
            f"batch {a['batch_size']}, {a['prompt_tokens']}-token prompt, "
            f"{a['new_tokens']} new tokens, greedy, key/value cache, XLA",
            GENERATION_COLUMNS,
        )
        for r in a["rows"]:
            table.add_row(*_generation_cells(r))
        out.print(table)
        out.print(f"zoo / keras-hub decoding tokens/s: [bold]{a['ratio']:.2f}×[/]")
    if "generate" in report:
        g = report["generate"]
        table = _table(
            f"decoding each family's -small twin: batch {g['batch_size']}, "
            f"{g['prompt_tokens']}-token prompt, {g['new_tokens']} new tokens, "
            "greedy, key/value cache, XLA",
            GENERATION_COLUMNS,
            caption="cache bytes/token = 2 · layers · kv heads · head width · 4 bytes",
        )
        for r in g["rows"]:
            table.add_row(*_generation_cells(r))
        out.print(table)


def _show_attention(out, attention):
    shape, kinds = attention["shape"], attention["kinds"]
    out.print(
        f"attention: {shape['hidden_dim']} wide, {shape['num_heads']} heads, batch 1, banded "
        f"window {shape['window']}; forward+backward with XLA; peak: {attention['memory_method']}"
    )
    for scope in dict.fromkeys(r["scope"] for r in attention["rows"]):
        what = "one layer" if scope == "layer" else f"{shape['num_layers']}-layer model"
        table = _table(f"{what}: ms (peak MB)", ("sequence", *kinds))
        rows = [r for r in attention["rows"] if r["scope"] == scope]
        for seq_len in dict.fromkeys(r["seq_len"] for r in rows):
            cells = {r["kind"]: r for r in rows if r["seq_len"] == seq_len}
            table.add_row(
                f"{seq_len:,}",
                *(f"{cells[k]['ms']:,.1f} ({_mb(cells[k].get('peak_bytes'))})" for k in kinds),
            )
        out.print(table)
        fits = attention["fits"].get(scope, {})
        for kind in kinds:
            for quantity, unit in (("ms", "ms"), ("peak_bytes", "bytes")):
                fit = fits.get(kind, {}).get(quantity)
                if fit:
                    out.print(
                        f"  {kind} {'time' if quantity == 'ms' else 'memory'}: "
                        f"{fit['constant']:.3g} + {fit['linear']:.3g}·T + "
                        f"{fit['quadratic']:.3g}·T² {unit}; T² share at {fit['longest']:,}: "
                        f"{fit['quadratic_share_at_longest']:.0%}, local exponent "
                        f"{fit['local_exponent']:.2f}"
                    )
    for kind, why in attention["unavailable"].items():
        out.print(f"[dim]{kind}: not measured ({why})[/]")


def _show_parallel(out, parallel):
    model = parallel["model"]
    table = _table(
        f"memory per device, measured (accounted): a {model['num_layers']}×"
        f"{model['hidden_dim']} LLaMA, {human(model['params'])} parameters, float32, AdamW; "
        f"step: batch {parallel['batch']} × {model['max_sequence_length']} on virtual devices",
        ("devices", "layout", "weights MB", "gradients MB", "optimizer MB", "step s"),
    )
    for r in parallel["measured"]:
        accounted = r["accounted"]
        table.add_row(
            str(r["devices"]),
            r["layout"],
            *(
                f"{_mb(r[k], 1)} ({_mb(accounted[k], 1)})"
                for k in ("parameters", "gradients", "optimizer")
            ),
            f"{r['step_seconds']:.2f}",
        )
    out.print(table)
    names = list(dict.fromkeys(r["model"] for r in parallel["accounted"]))
    table = _table(
        "accounted: weights + gradients + optimizer state per device, GB (float32, 2 slots)",
        ("devices", "layout", *names),
    )
    rows = parallel["accounted"]
    for key in dict.fromkeys((r["devices"], r["layout"]) for r in rows):
        cells = {r["model"]: r for r in rows if (r["devices"], r["layout"]) == key}
        table.add_row(str(key[0]), key[1], *(f"{cells[n]['total'] / 1e9:,.0f}" for n in names))
    out.print(table)


def _mb(value, digits=0):
    return optional(None if value is None else value / 1e6, f",.{digits}f")


def _show_sizes(out, sizes):
    table = _table(
        f"training over the size ladder: medians of {sizes['repeats']} interleaved "
        f"rounds of about {sizes['seconds_per_repeat']:g} s",
        ("size", "model", "params", "tokens/s (median)", "min–max", "MFU", "vs fastest peer"),
        caption="vs fastest peer: this row's tokens/s over the fastest non-zoo row's",
    )
    peers = {s["size"]: s["peer_tokens_per_second"] for s in sizes["sizes"]}
    for r in sizes["rows"]:
        if "error" in r:
            table.add_row(r["size"], r["name"], "", "failed", r["error"][:60], "", "")
            continue
        speed = r["tokens_per_second"]
        peer = peers.get(r["size"])
        table.add_row(
            r["size"],
            r["name"],
            human(r["params"]),
            f"{speed['median']:,.0f}",
            f"{speed['min']:,.0f}–{speed['max']:,.0f}",
            optional(r["mfu"], ".1%"),
            f"{speed['median'] / peer:.2f}×" if peer else "",
        )
    out.print(table)
    for s in sizes["sizes"]:
        out.print(
            f"{s['size']}: best zoo ({s['zoo_best']}) / fastest peer "
            f"({s['fastest_peer']}) = [bold]{s['ratio']:.2f}×[/]"
            if s["ratio"]
            else f"{s['size']}: no peer ran"
        )


SPEED_COLUMNS = ("model", "tokens/s (median)", "min–max", "MFU", "model GFLOP/s", "peak RSS")
GENERATION_COLUMNS = (
    "model",
    "tokens/s (median)",
    "min–max",
    "q/kv heads",
    "cache bytes/token",
    "peak RSS",
    "params",
)


def _table(title, columns, caption=None):
    """A rich table with numbers right-aligned and the model's name on the left."""
    table = Table(title=title, caption=caption)
    for column in columns:
        table.add_column(column, justify="left" if column in ("model", "size") else "right")
    return table


def _rss(row):
    return f"{row['memory']['peak_rss_bytes'] / 2**30:.2f} GiB"


def _generation_cells(row):
    speed = row["tokens_per_second"]
    return (
        row["name"],
        f"{speed['median']:,.1f}",
        f"{speed['min']:,.1f}–{speed['max']:,.1f}",
        f"{row['num_query_heads']}/{row['num_key_value_heads']}",
        f"{row['cache_bytes_per_token']:,.0f}",
        _rss(row),
        human(row["params"]),
    )


def _speed_cells(row):
    speed = row["tokens_per_second"]
    return (
        row["name"],
        f"{speed['median']:,.0f}",
        f"{speed['min']:,.0f}–{speed['max']:,.0f}",
        optional(row["mfu"], ".0%"),
        f"{row['model_flops_per_second'] / 1e9:.1f}",
    )


@app.command("store")
def store(
    storage: Annotated[
        Optional[List[str]],
        typer.Option(
            help="A store to measure beside the SQLite anchor (repeatable), e.g. "
            "postgresql://user@host/db.",
            show_default=False,
        ),
    ] = None,
    trials: Annotated[int, typer.Option(min=1, help="Trials (and cells) per round.")] = 50,
    evaluations: Annotated[
        int, typer.Option(min=0, help="Evaluations each trial reports to the pruner.")
    ] = 10,
    rounds: Annotated[int, typer.Option(min=1, help="Rounds per store, in turns.")] = 3,
    json: options.Json = False,
):
    """The study store's overhead, no training: milliseconds a `zoo tune` trial (ask, user
    attributes, evaluations reported with their pruning checks, tell) and a `zoo sweep
    --storage` cell (take, heartbeat, finish) spend in the store, for a SQLite file (the
    anchor, always measured) and each --storage given, timed in turns; medians of the rounds."""
    with user_errors():
        from zoo.experiments.store_overhead import benchmark_store

        result = benchmark_store(storage or (), trials=trials, evaluations=evaluations,
                                 rounds=rounds)  # fmt: skip
    if json:
        print_json(result)
        return
    table = Table(
        title=f"study store overhead · {result['trials']} trials a round · "
        f"{result['evaluations']} evaluations each · median of {result['rounds']} rounds",
        caption="ms: wall milliseconds in the store per trial or cell (min–max over rounds)",
    )
    for column in ("store", "backend", "zoo tune: ms per trial", "zoo sweep: ms per cell"):
        table.add_column(column, justify="left" if column in ("store", "backend") else "right")
    for row in result["stores"]:
        table.add_row(
            row["storage"],
            row["backend"],
            *(
                f"{row[k]['median']:.2f} ({row[k]['min']:.2f}–{row[k]['max']:.2f})"
                for k in ("tune_ms_per_trial", "sweep_ms_per_cell")
            ),
        )
    console().print(table)
