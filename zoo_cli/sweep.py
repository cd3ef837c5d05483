"""`zoo sweep isoflop` and `zoo sweep compute`: a grid of runs, its plan, its fits."""

import contextlib
import importlib
import signal
import threading
from typing import Annotated, Optional

import typer
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from zoo_cli import options, run_options
from zoo_cli.output import console, human, optional, print_json, scientific, user_errors
from zoo_cli.run_options import Precision
from zoo_cli.training import RUN_FAILED

app = typer.Typer(
    help="Train a grid of runs over FLOPs budgets and fit scaling laws to it.", no_args_is_help=True
)

Budgets = Annotated[
    str,
    typer.Option(help="Increasing training FLOPs budgets, comma-separated, e.g. 1e11,3e11,1e12."),
]
Seeds = Annotated[int, typer.Option(help="Seeds per grid cell (0 .. K-1).")]
TuneLr = Annotated[
    bool,
    typer.Option(
        help="Tune the peak rate per size (×1/3, ×1, ×3 of the size rule, a quarter of the budget "
        "each, by training loss) instead of the size rule alone."
    ),
]
Bootstrap = Annotated[int, typer.Option(help="Bootstrap resamples for the intervals.")]
DryRun = Annotated[
    bool, typer.Option(help="Print the plan and its estimated wall time, and stop before training.")
]
SpikeGuard = Annotated[
    bool,
    typer.Option(
        "--spike-guard/--no-spike-guard",
        help="Skip updates whose gradient norm is > 6 sd above the recent window (off in sweeps: "
        "runs this short have no stationary window; a diverged run is reported as failed).",
    ),
]
Plot = Annotated[
    Optional[str], typer.Option(help="Write the fitted figures to this .png/.svg/.pdf.")
]
Rates = Annotated[
    Optional[str],
    typer.Option(
        help="A rates sweep's JSON (zoo sweep rates --json > F): each arm's peak rate (and batch, "
        "where fitted) from its fitted law in compute, instead of the size rule.",
        show_default=False,
    ),
]
Storage = Annotated[
    Optional[str],
    typer.Option(
        help="A database URL shared by several workers (postgresql://user@host/db; sqlite:///F "
        "for processes of one machine): the same command on each takes the next untaken cell, "
        "a cell whose worker fell silent is taken again, and every worker prints the fit of "
        "all the points. One cell at a time per worker (--jobs 1).",
        show_default=False,
    ),
]
Jobs = Annotated[
    Optional[int],
    typer.Option(
        help="Runs trained side by side, each in its own process pinned to its share of the CPUs "
        "(1 to the CPUs available; the points and fits are those of --jobs 1, bit for bit). "
        "Default: 2 (at most the CPUs; 1 on a GPU or TPU host or with a multi-device "
        '--strategy). What it buys, measured: the README, "Loss against compute".',
        show_default=False,
    ),
]


@app.command("isoflop")
def isoflop(
    model: Annotated[str, typer.Option(help="One preset or family, e.g. llama.")],
    budgets: Budgets,
    sizes: Annotated[
        int,
        typer.Option(help="Sizes per budget, from 1/5× to 5× the size at --center."),
    ] = 5,
    center: Annotated[
        float,
        typer.Option(
            help="Tokens per parameter of the middle size: Chinchilla's 20 (default), or the "
            "optimum an earlier study measured."
        ),
    ] = 20.0,
    seeds: Seeds = 1,
    params: Annotated[
        str, typer.Option(help="Parameters the fits count: total (default) or non-embedding.")
    ] = "total",
    shapes: options.Shapes = "family-heads",
    rates: Rates = None,
    data: run_options.Data = run_options.DEFAULT_DATA,
    set_: options.Overrides = None,
    tune_lr: TuneLr = False,
    bootstrap: Bootstrap = 200,
    precision: run_options.PrecisionOption = Precision.FLOAT32,
    spike_guard: SpikeGuard = False,
    strategy: run_options.StrategyOption = None,
    backend: run_options.BackendOption = None,
    plot: Plot = None,
    jobs: Jobs = None,
    storage: Storage = None,
    dry_run: DryRun = False,
    json: options.Json = False,
):
    """IsoFLOP study (Chinchilla approaches 2 and 3): per budget, sizes spanning the predicted
    optimum; prints a and b (N_opt ∝ C^a, D_opt ∝ C^b) and tokens per parameter, with intervals."""
    _sweep(
        "sweep_isoflop",
        dict(
            storage=storage,
            model=model,
            budgets=budgets,
            sizes=sizes,
            center=center,
            seeds=seeds,
            params=params,
            shapes=shapes,
            rates=rates,
            tune_lr=tune_lr,
            bootstrap=bootstrap,
            overrides=set_ or (),
        ),
        data,
        precision,
        spike_guard,
        strategy,
        backend,
        plot,
        jobs,
        dry_run,
        json,
    )


@app.command("compute")
def compute(
    models: Annotated[
        str,
        typer.Option(help="Comma-separated presets or families; the first is the baseline arm."),
    ],
    budgets: Budgets,
    seeds: Seeds = 1,
    ablate: Annotated[
        Optional[str],
        typer.Option(
            help="One arm per change of the single base model, as in zoo compare --ablate."
        ),
    ] = None,
    allocation: Annotated[
        str,
        typer.Option(
            help="compute-optimal (resize each arm to ~20 tokens per parameter per budget; "
            "default), fixed (the arm's shape at every budget: the preset's, or --set "
            "num_layers=… hidden_dim=…), or both, e.g. fixed,compute-optimal: every arm "
            "under each, the first the baseline."
        ),
    ] = "compute-optimal",
    shapes: options.Shapes = "family-heads",
    rates: Rates = None,
    data: run_options.Data = run_options.DEFAULT_DATA,
    set_: options.Overrides = None,
    tune_lr: TuneLr = False,
    bootstrap: Bootstrap = 1000,
    metric: Annotated[
        str,
        typer.Option(
            help="What is fitted: loss (nats per token) or bits_per_byte (compare arms whose "
            "tokenizers differ, e.g. --tokenizer native --ablate tokenizer=…)."
        ),
    ] = "loss",
    tokenizer: Annotated[
        Optional[str],
        typer.Option(
            help="native: each arm trains its recipe's own tokenizer (its kind and vocabulary, "
            "--set tokenizer=… vocabulary_size=…); default shared, one byte-level BPE for all.",
            show_default=False,
        ),
    ] = None,
    precision: run_options.PrecisionOption = Precision.FLOAT32,
    spike_guard: SpikeGuard = False,
    strategy: run_options.StrategyOption = None,
    backend: run_options.BackendOption = None,
    plot: Plot = None,
    jobs: Jobs = None,
    storage: Storage = None,
    dry_run: DryRun = False,
    json: options.Json = False,
):
    """Loss against compute per arm, fitted as L(C) = E + A·C^-γ (or a power law with fewer
    than four budgets); prints each arm's compute multiplier against the first with a bootstrap
    interval and a verdict (better, worse, within noise)."""
    _sweep(
        "sweep_compute",
        dict(
            storage=storage,
            models=models,
            budgets=budgets,
            seeds=seeds,
            ablate=ablate,
            allocation=allocation,
            shapes=shapes,
            rates=rates,
            tune_lr=tune_lr,
            bootstrap=bootstrap,
            metric=metric,
            overrides=set_ or (),
            **({"tokenizer": tokenizer} if tokenizer else {}),
        ),
        data,
        precision,
        spike_guard,
        strategy,
        backend,
        plot,
        jobs,
        dry_run,
        json,
    )


@app.command("rates")
def rates(
    models: Annotated[
        str, typer.Option(help="Comma-separated presets or families: one rule fitted per arm.")
    ],
    budgets: Budgets,
    seeds: Seeds = 1,
    rate_factors: Annotated[
        str,
        typer.Option(help="Peak learning rates tried, as multiples of the size rule's rate."),
    ] = "0.25,0.5,1,2,4",
    batch_factors: Annotated[
        str,
        typer.Option(help="Batches tried, as multiples of the grid's batch (1: not varied)."),
    ] = "1",
    ablate: Annotated[
        Optional[str],
        typer.Option(
            help="One arm per change of the single base model, as in zoo compare --ablate."
        ),
    ] = None,
    shapes: options.Shapes = "papers",
    check: Annotated[
        Optional[str],
        typer.Option(
            help="An earlier rates sweep's JSON: centre the grid on its fitted rule (one budget is "
            "enough) and check the rule there instead of fitting one.",
            show_default=False,
        ),
    ] = None,
    data: run_options.Data = run_options.DEFAULT_DATA,
    set_: options.Overrides = None,
    bootstrap: Bootstrap = 200,
    precision: run_options.PrecisionOption = Precision.FLOAT32,
    spike_guard: SpikeGuard = False,
    strategy: run_options.StrategyOption = None,
    backend: run_options.BackendOption = None,
    jobs: Jobs = None,
    storage: Storage = None,
    plot: Annotated[
        Optional[str],
        typer.Option(
            help="Draw the grid to this .png/.svg/.pdf: loss (and output log Z, where measured) "
            "against the rate, per budget and arm (the fitted law: zoo fit --law rates --plot).",
            show_default=False,
        ),
    ] = None,
    dry_run: DryRun = False,
    json: options.Json = False,
):
    """Learning rate (and batch) as power laws in compute (DeepSeek LLM's procedure): every arm's
    compute-optimal shape at each budget, trained to full length at each rate (and batch); the
    near-optimal runs (validation loss within 0.25% of the budget's best) give η_opt = a·C^b
    (and B_opt = c·C^d) per arm. Shapes default to the papers' here."""
    _sweep(
        "sweep_rates",
        dict(
            storage=storage,
            models=models,
            budgets=budgets,
            seeds=seeds,
            rate_factors=rate_factors,
            batch_factors=batch_factors,
            ablate=ablate,
            shapes=shapes,
            check=check,
            bootstrap=bootstrap,
            overrides=set_ or (),
        ),
        data,
        precision,
        spike_guard,
        strategy,
        backend,
        plot,
        jobs,
        dry_run,
        json,
    )


@app.command("epochs")
def epochs(
    models: Annotated[str, typer.Option(help="Comma-separated presets or families.")],
    budgets: Annotated[str, typer.Option(help="Training FLOPs budgets, comma-separated.")],
    seeds: Seeds = 1,
    passes: Annotated[
        str, typer.Option(help="Pass counts: each budget spent on 1/P of its tokens, P times.")
    ] = "1,4,16,40",
    fractions: Annotated[
        str, typer.Option(help="Fresh-data runs, as fractions (below 1) of each budget.")
    ] = "0.025,0.0625,0.25,0.5",
    patience: Annotated[
        int, typer.Option(help="Evaluations without improvement before a repeated run stops.")
    ] = 3,
    shapes: options.Shapes = "papers",
    rates: Rates = None,
    plot: Plot = None,
    data: run_options.Data = run_options.DEFAULT_DATA,
    set_: options.Overrides = None,
    precision: run_options.PrecisionOption = Precision.FLOAT32,
    spike_guard: SpikeGuard = False,
    strategy: run_options.StrategyOption = None,
    backend: run_options.BackendOption = None,
    jobs: Jobs = None,
    dry_run: DryRun = False,
    json: options.Json = False,
):
    """Epochs at equal compute: each arm's compute-optimal shape per budget trained as P passes
    over 1/P of the tokens, on fresh data at fractions of the budget, and with --patience;
    prints each pass count's loss, the fresh-data fraction it is worth (measured, and
    Muennighoff et al.'s R* = 15.4 prediction), where its validation loss turns, and what
    patience saved."""
    _sweep(
        "sweep_epochs",
        dict(
            models=models,
            budgets=budgets,
            seeds=seeds,
            passes=passes,
            fractions=fractions,
            patience=patience,
            shapes=shapes,
            rates=rates,
            overrides=set_ or (),
        ),
        data,
        precision,
        spike_guard,
        strategy,
        backend,
        plot,
        jobs,
        dry_run,
        json,
    )


@app.command("continued")
def continued(
    models: Annotated[str, typer.Option(help="Comma-separated presets or families.")],
    budgets: Annotated[str, typer.Option(help="Training FLOPs budgets, comma-separated.")],
    seeds: Seeds = 1,
    fraction: Annotated[
        float, typer.Option(help="The first run's share of each budget (its released weights).")
    ] = 0.125,
    shapes: options.Shapes = "papers",
    rates: Rates = None,
    plot: Plot = None,
    data: run_options.Data = run_options.DEFAULT_DATA,
    set_: options.Overrides = None,
    precision: run_options.PrecisionOption = Precision.FLOAT32,
    spike_guard: SpikeGuard = False,
    strategy: run_options.StrategyOption = None,
    backend: run_options.BackendOption = None,
    jobs: Jobs = None,
    dry_run: DryRun = False,
    json: options.Json = False,
):
    """Continued training: each arm's compute-optimal shape per budget trained on a fraction of
    it ("released weights"), continued from those weights on the rest with the rate warmed up
    and decayed again, against a fresh model on the rest and one uninterrupted run."""
    _sweep(
        "sweep_continued",
        dict(
            models=models,
            budgets=budgets,
            seeds=seeds,
            fraction=fraction,
            shapes=shapes,
            rates=rates,
            overrides=set_ or (),
        ),  # fmt: skip
        data,
        precision,
        spike_guard,
        strategy,
        backend,
        plot,
        jobs,
        dry_run,
        json,
    )


FIGURES = {  # the sweeps whose figure is not a fitted law's (compute and isoflop: plot_sweep)
    "epochs": ("zoo.experiments.repetition_plot", "plot_epochs"),
    "continued": ("zoo.experiments.continuation_plot", "plot_continued"),
    "rates": ("zoo.scaling.rates_grid_plot", "plot_rate_grid"),
}


def _sweep(
    function, arguments, data, precision, spike_guard, strategy, backend, plot, jobs, dry_run, json
):
    # As `zoo train` chooses it: `--backend auto` with a one-backend strategy takes that backend.
    options.use_backend(
        run_options.backend_name(backend), strategy=run_options.backend_name(strategy)
    )
    fields = run_options.values(
        data=data, precision=precision, spike_guard=spike_guard, strategy=strategy, backend=backend
    )
    with user_errors() as zoo, run_options.flags_for_fields(zoo):
        if plot:
            from zoo.comparison.plot import check_plot_path

            check_plot_path(plot)  # before hours of training, not after
        from zoo.experiments import pool as parallel, sweep as sweeps

        if jobs is None and arguments.get("storage"):
            jobs = 1  # a shared store's worker trains one cell at a time
        jobs = (
            parallel.default_jobs(fields.get("strategy"))
            if jobs is None
            else parallel.check_jobs(jobs)
        )
        display = _SweepProgress(console(stderr=json))
        with _stopped_by_signal(), display:
            try:
                result = getattr(sweeps, function)(
                    reporter=display, dry_run=dry_run, jobs=jobs, **arguments, **fields
                )
            except zoo.RunFailed as failure:
                typer.echo(f"error: {failure}", err=True)
                raise typer.Exit(RUN_FAILED) from None
    out = console(stderr=json)  # the plots' lines; in JSON mode stdout holds the JSON alone
    if json:
        print_json(result)
    elif dry_run:
        out.print("dry run: nothing trained")
    elif result["kind"] in ("epochs", "continued"):
        tables = epochs_tables if result["kind"] == "epochs" else continued_tables
        for table in tables(result):
            out.print(table)
        out.print(f"wall time {result['wall_seconds']:,.0f} s")
    else:
        out.print(points_table(result))
        out.print(fits_table(result))
        for note in _fit_notes(result):  # e.g. an interval that cannot carry its noise: said
            out.print(f"[yellow]note:[/] {note}")
        out.print(
            f"wall time {result['wall_seconds']:,.0f} s (estimated "
            f"{result['estimated_seconds']:,.0f} s{_estimate_note(result)} before it "
            f"started); the runs' own training time {result['run_seconds']:,.0f} s"
        )
    if plot and not dry_run and result["kind"] in FIGURES:
        with user_errors():
            module, name = FIGURES[result["kind"]]
            draw = getattr(importlib.import_module(module), name)
            out.print(f"plot written to {draw(result, plot)}")
    elif plot and not dry_run:  # after the table: a figure that cannot be drawn must not hide it
        with user_errors():
            from zoo.scaling.sweep_plot import plot_sweep

            paths, notes = plot_sweep(result, plot)
        for note in notes:
            out.print(f"[yellow]note:[/] {escape(note)}")
        if paths:
            out.print("plots written to " + ", ".join(str(p) for p in paths))


class _Terminated(KeyboardInterrupt):
    """SIGTERM, raised where Ctrl-C raises KeyboardInterrupt, so that it stops a sweep alike."""


def _raise_terminated(signum, frame):
    raise _Terminated()


@contextlib.contextmanager
def _stopped_by_signal():
    """Ctrl-C (SIGINT) and SIGTERM stop a sweep one way: the exception unwinds it (its worker
    processes are stopped, `zoo.experiments.pool`), every run finished or committed stays on disk,
    one line says so, and the exit status is 128 + the signal's number, as a shell reports a
    process the signal ended. SIGTERM's handler is installed only where SIGTERM has its default
    action (a process started with it ignored keeps ignoring it) and in the main thread."""
    previous = signal.getsignal(signal.SIGTERM)
    install = previous == signal.SIG_DFL and threading.current_thread() is threading.main_thread()
    if install:
        signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    except KeyboardInterrupt as stop:
        number = signal.SIGTERM if isinstance(stop, _Terminated) else signal.SIGINT
        typer.echo(
            f"stopped by {number.name}: every run finished so far is kept, and a run in "
            "progress from its last checkpoint; run the same command again to continue",
            err=True,
        )
        raise typer.Exit(128 + number) from None
    finally:
        if install:
            signal.signal(signal.SIGTERM, previous)


def plan_table(sweep):
    note = _estimate_note(sweep).rstrip(",")
    table = Table(
        title=f"{sweep['kind']} sweep plan · {len(sweep['plan'])} runs · "
        f"{sweep['data']} · estimated {sweep['estimated_seconds'] / 60:,.1f} min "
        f"on this machine{note} · {_jobs_text(sweep)}"
    )
    for column in (
        "arm",
        "budget",
        "seed",
        "L×d",
        "params",
        "non-emb",
        "batch",
        "steps",
        "tokens",
        "tok/param",
        "epochs",
        "lr",
        "warmup",
        "est. s",
        "status",
    ):
        table.add_column(column, justify="left" if column in ("arm", "status") else "right")
    for r in sweep["plan"]:
        table.add_row(
            r["arm"],
            scientific(r["budget"]),
            str(r["seed"]),
            f"{r['num_layers']}×{r['hidden_dim']}",
            human(r["params"]),
            human(r["non_embedding_params"]),
            str(r["batch_size"]),
            str(r["steps"]),
            human(r["tokens"]),
            f"{r['tokens_per_parameter']:.1f}",
            _epochs(r["epochs"]),
            f"{r['learning_rate']:.1e}",
            str(r["warmup_steps"]),
            f"{r['estimated_seconds']:,.0f}",
            r["status"],
        )
    return table


def _jobs_text(sweep):
    jobs, workers = sweep.get("jobs", 1), sweep.get("workers", 1)
    if workers == 1:
        return "1 job" if jobs == 1 else f"{jobs} jobs asked, 1 used (one run to train)"
    if workers < jobs:
        return f"{jobs} jobs asked, {workers} used (one per run or tuning grid to train)"
    return f"{jobs} jobs side by side"


def _estimate_note(sweep):
    """Side by side, runs share the machine: the estimate is of them one at a time (the speed-up
    of several jobs depends on the machine and the runs, so it is not guessed)."""
    return ", one run at a time," if sweep.get("workers", 1) > 1 else ""


def points_table(sweep):
    from zoo.experiments.sweep import arm_summary

    table = Table(
        title=f"{sweep['kind']} sweep · {sweep['data']} · byte vocabulary",
        caption="loss: validation nats per token (= per byte); epochs over the "
        "unique training tokens, ! above 4 (Muennighoff et al. 2023)",
    )
    for column in ("arm", "budget", "params", "loss", "bits/byte", "± (sd)", "seeds", "epochs"):
        table.add_column(column, justify="left" if column == "arm" else "right")
    for r in arm_summary(sweep["points"]):
        table.add_row(
            r["arm"],
            scientific(r["budget"]),
            human(r["params"]),
            f"{r['loss']:.4f}",
            optional(r["bits_per_byte"], ".4f"),
            optional(r["spread"], ".4f"),
            str(r["seeds"]),
            _epochs(r["epochs"]),
        )
    for f in sweep.get("failed", []):
        table.add_row(
            f"{f['arm']} {f['num_layers']}×{f['hidden_dim']} FAILED at step {f['step']}",
            scientific(f["budget"]),
            human(f["params"]),
            "",
            "",
            "",
            str(f["seed"]),
            "",
        )
    baseline = sweep.get("baseline")
    if baseline:
        table.add_row(
            f"{baseline['name']} (baseline)",
            "",
            "",
            f"{baseline['loss']:.4f}",
            f"{baseline['bits_per_byte']:.4f}",
            "",
            "",
            "",
        )
    return table


def fits_table(sweep):
    table = Table(title="fits (95% bootstrap intervals)")
    for column in ("law", "quantity", "value", "interval"):
        table.add_column(column, justify="left" if column in ("law", "quantity") else "right")
    for law, fit in sweep["fits"].items():
        if "error" in fit:
            table.add_row(law, "not fitted", "", fit["error"])
            continue
        if law == "compute":
            for arm in fit["arms"]:
                low, high = arm["multiplier_ci"] or (None, None)
                where = ", extrapolated" if arm.get("extrapolated") else ""
                table.add_row(
                    law,
                    f"{arm['name']} multiplier ({arm['form']}{where})",
                    optional(arm["multiplier"], ".3g"),
                    f"[{optional(low, '.3g')}, {optional(high, '.3g')}] · {arm['verdict']}",
                )
            for arm in fit["arms"]:
                if "reference_crossing" not in arm:
                    continue
                low, high = arm["reference_crossing_ci"] or (None, None)
                where = " (extrapolated)" if arm["reference_crossing_extrapolated"] else ""
                table.add_row(
                    law,
                    f"{arm['name']} reaches the n-gram baseline at C{where}",
                    _crossing(arm["reference_crossing"]),
                    escape(f"[{_crossing(low)}, {_crossing(high)}]"),
                )
            continue
        if law == "check":
            for row in fit["arms"]:
                table.add_row(
                    law,
                    f"{row['arm']} at {row['budget']:.3g}: rule's rate / grid's best",
                    f"{row['ratio']:.3g}",
                    f"nearest run {row['nearest_loss_excess']:+.2%} · "
                    + ("near-optimal" if row["near_optimal"] else "not near-optimal"),
                )
            continue
        if law == "rates":
            for arm in fit["arms"]:
                for field, symbol in (("learning_rate", "η_opt"), ("batch_tokens", "B_opt")):
                    line = arm[field]
                    if line is None:
                        continue
                    low, high = line["b_ci"] or (None, None)
                    table.add_row(
                        law,
                        f"{arm['name']} {symbol} = {line['a']:.3g}·C^b",
                        f"b = {line['b']:.3g}",
                        f"[{optional(low, '.3g')}, {optional(high, '.3g')}]",
                    )
            continue
        for key in _FIT_KEYS[law]:
            if fit.get(key) is None:
                continue
            interval = fit.get(f"{key}_ci") or (None, None)
            table.add_row(
                law,
                key,
                f"{fit[key]:.4g}",
                f"[{optional(interval[0], '.4g')}, {optional(interval[1], '.4g')}]",
            )
    return table


def _crossing(flops):
    """A crossing's compute; None in the JSON is an infinite one (E above the baseline)."""
    return "never" if flops is None else f"{flops:.2g}"


def _fit_notes(sweep):
    """Each fit's notes, once each, prefixed by its law (`zoo fit` prints the same notes)."""
    notes = [
        f"{law}: {note}" for law, fit in sweep["fits"].items() for note in fit.get("notes", [])
    ]
    return list(dict.fromkeys(notes))


_FIT_KEYS = {
    "isoflop": ("a", "b", "tokens_per_parameter"),
    "parametric": ("E", "A", "B", "alpha", "beta", "a", "b"),
}


def epochs_tables(sweep):
    """Per arm and budget: the fresh-data curve, then each pass count read against it."""
    tables = []
    for cell in sweep["epochs"]:
        fresh = ", ".join(f"{row['fraction']:.3g}: {row['mean']:.3f}" for row in cell["fresh"])
        table = Table(
            title=f"{cell['arm']} @ {cell['budget']:.2g} FLOPs — fresh data (fraction: loss) "
            f"{fresh}",
            title_justify="left",
        )
        for column in ("passes", "loss (95%)", "worth, measured", "Muennighoff",
                       "val lowest at", "rise after", "val − train", "patience: steps",
                       "loss − full"):  # fmt: skip
            table.add_column(column, justify="right")
        for row in cell["passes"]:
            interval = row["interval"]
            stopped = row.get("patience")
            table.add_row(
                f"{row['passes']:g}",
                f"{row['mean']:.3f}"
                + (f" [{interval[0]:.3f}, {interval[1]:.3f}]" if interval else ""),
                optional(row["effective_fraction"], ".0%")
                if row["effective_fraction"] is not None
                else "outside",
                f"{row['predicted_fraction']:.0%}",
                optional(row.get("best_at"), ".0%"),
                optional(row.get("rise_after_best"), ".3f"),
                optional(row.get("final_gap"), ".3f"),
                f"{stopped['steps_fraction']:.0%} ({stopped['stopped']}/{stopped['seeds']} stopped)"
                if stopped
                else "—",
                f"{stopped['loss_minus_full']:+.3f}" if stopped else "—",
            )
        tables.append(table)
    return tables


def continued_tables(sweep):
    """Per arm and budget: each role's loss, and the continued run against the others."""
    tables = []
    for cell in sweep["continued"]:
        table = Table(
            title=f"{cell['arm']} @ {cell['budget']:.2g} FLOPs — continued training "
            f"(the first run on {sweep['fraction']:.3g} of the budget)",
            title_justify="left",
        )
        for column in ("run", "tokens", "loss (95% over seeds)"):
            table.add_column(column, justify="right")
        for role in ("first", "continued", "scratch", "whole"):
            stats = cell[role]
            table.add_row(
                role, human(stats["tokens"]) if stats["tokens"] else "—", _mean_cell(stats)
            )
        for other in ("whole", "scratch"):
            table.add_row(
                f"continued − {other}", "", _mean_cell(cell[f"continued_minus_{other}"], "+.3f")
            )
        tables.append(table)
    return tables


def _mean_cell(stats, spec=".3f"):
    if stats["mean"] is None:
        return "—"
    interval = stats["interval"]
    return format(stats["mean"], spec) + (
        f" [{interval[0]:{spec}}, {interval[1]:{spec}}]" if interval else ""
    )


def _epochs(epochs):
    from zoo.experiments.sweep import EPOCHS_FLAG

    return f"{epochs:.2f}" + (" !" if epochs > EPOCHS_FLAG else "")


class _SweepProgress:
    """The plan, then one bar over the whole sweep in estimated seconds, with an ETA."""

    def __init__(self, console):
        self.console = console
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[stats]}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=console,
        )
        self.task = None
        self.estimates = []
        self.done = 0.0  # estimated seconds of the runs already finished
        self.current = None  # (estimate, steps) of the run in progress
        self.side_by_side = False  # runs trained in worker processes (sweep['workers'] > 1)
        self.running = {}  # index -> label of the runs in progress, side by side
        self.ended = set()  # indices of the runs over, side by side

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.task is not None:  # a bar never started prints nothing, not an empty line
            self.progress.stop()
        return False

    def planned(self, sweep):
        self.estimates = [r["estimated_seconds"] for r in sweep["plan"]]
        self.side_by_side = sweep.get("workers", 1) > 1
        self.console.print(plan_table(sweep))
        for name, rule in sweep["hyperparameters"].items():
            self.console.print(f"[dim]{name}: {rule}[/]")

    def run(self, index, count, label, seed, status):
        if self.task is None:
            self.progress.start()
            self.task = self.progress.add_task(
                "sweep", total=max(sum(self.estimates), 1e-9), stats=""
            )
        if self.side_by_side:  # runs start and end out of order: the bar moves as they end
            self.running[index] = f"{label} seed {seed}"
            self.progress.update(self.task, stats=self._running_text(count))
            self.progress.console.print(f"[bold]{label}[/] seed {seed}: {status}")
            return
        self.done = sum(self.estimates[:index])
        self.current = (self.estimates[index], None)
        self.progress.update(
            self.task, completed=self.done, stats=f"run {index + 1}/{count} · {label} seed {seed}"
        )
        self.progress.console.print(f"[bold]{label}[/] seed {seed}: {status}")

    def finished(self, index, count, label, seed, status):
        if self.task is None:
            return
        self.running.pop(index, None)
        self.ended.add(index)
        self.progress.update(
            self.task,
            completed=sum(self.estimates[i] for i in self.ended),
            stats=self._running_text(count),
        )

    def _running_text(self, count):
        names = list(self.running.values())
        return (
            f"{len(self.ended)}/{count} done · running " + ", ".join(names)
            if names
            else f"{len(self.ended)}/{count} done"
        )

    def start(self, plan, facts):
        if self.current is not None:
            self.current = (self.current[0], plan.budget.steps)

    def step(self, p):
        if self.task is not None and self.current and self.current[1]:
            estimate, steps = self.current
            self.progress.update(self.task, completed=self.done + estimate * p["step"] / steps)

    def evaluation(self, row):
        pass

    def message(self, text):
        self.progress.console.print(f"[yellow]{text}[/]")

    def end(self, summary):
        pass
