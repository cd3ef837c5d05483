"""`zoo compare`: equal-compute comparisons and ablations as a table, a terminal chart and a plot."""

from typing import Annotated, Optional

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from zoo_cli import options, run_options
from zoo_cli.output import console, human, optional, print_json, scientific, user_errors
from zoo_cli.run_options import Precision, TokenizerMode
from zoo_cli.training import RUN_FAILED

app = typer.Typer()


@app.command("compare")
def compare(
    models: Annotated[
        str,
        typer.Option(
            help="Comma-separated presets or families, e.g. "
            "gpt2,llama (the first is the reference row)."
        ),
    ],
    budget: Annotated[
        Optional[float],
        typer.Option(help="Training FLOPs per model (6N + 12·L·H·Q·T per token); default 1.5e13."),
    ] = None,
    data: run_options.Data = run_options.DEFAULT_DATA,
    seeds: Annotated[int, typer.Option(help="Seeds per model; the table shows the spread.")] = 1,
    ablate: Annotated[
        Optional[str],
        typer.Option(
            help="One variant per change of the single base model: 'position=learned,"
            "normalization=layernorm'; join dependent changes with '+'."
        ),
    ] = None,
    set_: options.Overrides = None,
    tune_lr: Annotated[
        bool,
        typer.Option(
            help="Sweep the peak learning rate (×1/3, ×1, ×3) per model at a quarter of the budget, "
            "by training loss, and compare each at its best."
        ),
    ] = False,
    tokenizer: Annotated[
        TokenizerMode, typer.Option(help="shared (one byte-level BPE for all; default) or native.")
    ] = TokenizerMode.SHARED,
    precision: run_options.PrecisionOption = Precision.FLOAT32,
    batch_size: run_options.BatchSize = None,
    grad_accum: run_options.GradAccum = 1,
    eval_interval: run_options.EvalInterval = None,
    patience: run_options.Patience = None,
    spike_guard: run_options.SpikeGuard = True,
    rewind_after_spikes: run_options.RewindAfterSpikes = None,
    plot: Annotated[
        Optional[str],
        typer.Option(help="Write validation loss against FLOPs to this .png/.svg/.pdf."),
    ] = None,
    strategy: run_options.StrategyOption = None,
    backend: run_options.BackendOption = None,
    jobs: Annotated[
        int,
        typer.Option(
            help="Runs trained side by side, each in its own process on its share of the CPUs, "
            "as zoo sweep --jobs does (the table is the same). Default 1: one run at a time, "
            "each with its steps shown."
        ),
    ] = 1,
    json: options.Json = False,
):
    """Train each model at the same FLOPs budget on the same data and tokenizer, and compare.

    Finished runs with identical resolved settings are reused and unfinished ones resumed, so
    a repeated comparison is instant. Chinchilla's recipe resizes its model to ~20 tokens per
    parameter for the budget; the other recipes keep their size and spend it on tokens.
    """
    options.use_backend(
        run_options.backend_name(backend), strategy=run_options.backend_name(strategy)
    )
    fields = run_options.values(
        data=data,
        tokenizer=tokenizer,
        precision=precision,
        batch_size=batch_size,
        gradient_accumulation=grad_accum,
        eval_interval=eval_interval,
        patience=patience,
        spike_guard=spike_guard,
        rewind_after_spikes=rewind_after_spikes,
        strategy=strategy,
        backend=backend,
    )
    with user_errors() as zoo, run_options.flags_for_fields(zoo):
        if plot:
            from zoo.comparison.plot import check_plot_path

            check_plot_path(plot)  # before hours of training, not after
        display = _ComparisonProgress(console(stderr=json))
        with display:
            try:
                result = zoo.compare(models, budget=budget, seeds=seeds, ablate=ablate,
                                     overrides=set_ or (), tune_lr=tune_lr, reporter=display,
                                     jobs=jobs, **fields)  # fmt: skip
            except zoo.RunFailed as failure:
                typer.echo(f"error: {failure}", err=True)
                raise typer.Exit(RUN_FAILED) from None
        if plot:
            zoo.plot_comparison(result, plot)
    if json:
        print_json(result)
        return
    out = console()
    out.print(_table(result))
    out.print(_terminal_chart(result))
    if plot:
        out.print(f"plot written to {plot}")


def _table(result):
    rows = result["rows"]
    table = Table(
        title=f"equal compute: {scientific(result['budget_flops'])} FLOPs per model · "
        f"{result['data']} · {result['tokenizer']} tokenizer",
        caption="Δ = validation bits/byte minus the first row's; loss in nats/token",
    )
    columns = [
        "model",
        "params",
        "non-emb",
        "L×d",
        "tokens",
        "tok/param",
        "FLOPs",
        "lr",
        "tok/s",
        "MFU",
        "train",
        "val",
        "bits/byte",
        "Δ",
    ]
    if result["seeds"] > 1:
        columns.append("± (sd)")
    for column in columns:
        table.add_column(
            column, justify="left" if column == "model" else "right", no_wrap=column == "model"
        )
    for r in rows:
        cells = [
            r["model"], human(r["params"]), human(r["non_embedding_params"]),
            f"{r['num_layers']}×{r['hidden_dim']}", human(r["tokens"]),
            f"{r['tokens_per_parameter']:.1f}", scientific(r["flops"]),
            f"{r['learning_rate']:.0e}", optional(r["tokens_per_second"], ",.0f"),
            optional(r["mfu"], ".0%"), optional(r["final_train_loss"], ".3f"),
            optional(r["validation_loss"], ".3f"), optional(r["validation_bits_per_byte"], ".3f"),
            optional(r["delta_bits_per_byte"], "+.3f"),
        ]  # fmt: skip
        if result["seeds"] > 1:
            cells.append(optional(r["bits_per_byte_spread"], ".3f"))
        table.add_row(*cells)
    baseline = result.get("baseline")
    if baseline:  # the yardstick every row must beat; only its bits per byte applies
        cells = [""] * len(columns)
        cells[0], cells[columns.index("bits/byte")] = (
            baseline["name"],
            optional(baseline["bits_per_byte"], ".3f"),
        )
        table.add_section()
        table.add_row(*cells, style="dim")
    return table


def _terminal_chart(result):
    """Validation loss against training FLOPs (log axis) in the terminal, via uniplot."""
    from rich.text import Text
    from uniplot import plot_to_string

    rows = [r for r in result["rows"] if r["curves"][0]]
    chart = plot_to_string(
        [[p["validation_loss"] for p in r["curves"][0]] for r in rows],
        [[p["flops"] for p in r["curves"][0]] for r in rows],
        legend_labels=[r["model"] for r in rows],
        lines=True,
        x_as_log=True,
        width=80,
        height=14,
        x_unit=" FLOPs",
        title=f"validation loss (nats/token) against training FLOPs; budget "
        f"{scientific(result['budget_flops'])} at the right edge",
    )
    return Text.from_ansi(chart)


class _ComparisonProgress:
    """Which run, which step, and the comparison's overall progress."""

    def __init__(self, console):
        self.console = console
        self.progress = Progress(TextColumn("{task.description}"), BarColumn(),
                                 TextColumn("{task.completed}/{task.total}"),
                                 TextColumn("{task.fields[stats]}"), TimeElapsedColumn(),
                                 console=console)  # fmt: skip
        self.overall = self.current = None

    def __enter__(self):
        self.progress.start()
        return self

    def __exit__(self, *exc):
        if self.overall is not None and exc[0] is None:
            self.progress.update(self.overall, completed=self.progress.tasks[0].total)
        self.progress.stop()
        return False

    def run(self, index, count, label, seed, status):
        if self.overall is None:
            self.overall = self.progress.add_task("comparison", total=count, stats="")
        self.progress.update(
            self.overall, completed=index, total=count, stats=f"run {index + 1}/{count}"
        )
        if self.current is not None:
            self.progress.remove_task(self.current)
            self.current = None
        self.progress.console.print(f"[bold]{label}[/] seed {seed}: {status}")

    def start(self, plan, facts):
        self.current = self.progress.add_task(
            plan.preset,
            total=plan.budget.steps,
            completed=facts.get("resumed_at_step") or 0,
            stats="compiling…",
        )

    def step(self, p):
        if self.current is not None:
            speed = f" · {p['tokens_per_second']:,.0f} tok/s" if p.get("tokens_per_second") else ""
            loss = f"loss {p['loss']:.3f}" if p.get("loss") is not None else ""
            self.progress.update(self.current, completed=p["step"], stats=loss + speed)

    def evaluation(self, row):
        pass

    def message(self, text):
        self.progress.console.print(f"[yellow]{text}[/]")

    def end(self, summary):
        if self.overall is not None:
            self.progress.advance(self.overall)
