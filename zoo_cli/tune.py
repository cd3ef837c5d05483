"""`zoo tune MODEL`: hyperparameter search (Optuna), every trial an ordinary run by key."""

from typing import Annotated, List, Optional

import typer
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from zoo_cli import options, run_options
from zoo_cli.output import console, print_json, user_errors
from zoo_cli.sweep import _stopped_by_signal
from zoo_cli.training import RUN_FAILED

app = typer.Typer()


@app.command("tune")
def tune(
    model: options.ModelName,
    space: Annotated[
        List[str],
        typer.Option(
            help="A searched field, repeated: FIELD=log:LOW:HIGH, float:LOW:HIGH, int:LOW:HIGH, "
            "or values a,b,c. Any model or training field, or batch_size "
            "(e.g. learning_rate=log:1e-4:1e-1, warmup_steps=int:0:500, beta_2=0.95,0.99).",
            show_default=False,
        ),
    ],
    trials: Annotated[
        int, typer.Option(help="Trials the study holds when done (more run only if fewer).")
    ] = 20,
    sampler: Annotated[
        str,
        typer.Option(
            help="grid (5 points a range), random, tpe (Bayesian, tree-structured Parzen "
            "estimator), gp (Bayesian, Gaussian process), cmaes (CMA-ES) or nsga2 (genetic, "
            "generations of 8); "
            "several, comma-separated, to compare them (see --sampler-seeds)."
        ),
    ] = "tpe",
    prune: Annotated[
        str,
        typer.Option(
            help="Stop trials early on their own evaluations: none, median, asha (asynchronous "
            "successive halving) or hyperband."
        ),
    ] = "none",
    study: Annotated[
        Optional[str],
        typer.Option(
            help="The study's name (default: one per model, space, run options and sampler).",
            show_default=False,
        ),
    ] = None,
    storage: Annotated[
        Optional[str],
        typer.Option(
            help="Database URL of the study store (default: sqlite:///RESULTS/studies.db; "
            "postgresql://… where several machines share a study).",
            show_default=False,
        ),
    ] = None,
    sampler_seed: Annotated[int, typer.Option(help="Seed of the sampler.")] = 0,
    sampler_seeds: Annotated[
        int,
        typer.Option(
            help="Compare: run each --sampler (comma-separated) with seeds 0 .. N-1, each its "
            "own study, and print best loss after k trials and trials to within --tolerance "
            "of the best, with intervals over seeds.",
        ),
    ] = 1,
    tolerance: Annotated[
        float,
        typer.Option(help="Compare: 'within' this fraction of the best loss any search found."),
    ] = 0.01,
    set_: options.Overrides = None,
    tokens: Annotated[Optional[float], typer.Option(help="Budget per trial in tokens.")] = None,
    flops: Annotated[Optional[float], typer.Option(help="Budget per trial in FLOPs.")] = None,
    steps: Annotated[Optional[int], typer.Option(help="Budget per trial in steps.")] = None,
    data: run_options.Data = run_options.DEFAULT_DATA,
    tokenizer: Annotated[
        run_options.TokenizerMode,
        typer.Option(help="native (the paper's kind) or shared (byte-level BPE for every model)."),
    ] = run_options.TokenizerMode.NATIVE,
    batch_size: run_options.BatchSize = None,
    eval_interval: run_options.EvalInterval = None,
    spike_guard: run_options.SpikeGuard = True,
    seed: Annotated[int, typer.Option(help="Seed of every trial's run.")] = 0,
    json: options.Json = False,
    plot: Annotated[
        Optional[str],
        typer.Option(
            help="Write the study's figure (history and parameter importance) to this "
            ".png/.svg/.pdf.",
            show_default=False,
        ),
    ] = None,
):
    """Search hyperparameters of MODEL: each trial trains a run (reused by key when it exists)
    and is judged by its final validation loss; the study lives in a database, so a rerun
    trains nothing and an interrupted study continues."""
    fields = run_options.values(
        tokens=tokens,
        flops=flops,
        steps=steps,
        data=data,
        tokenizer=tokenizer,
        batch_size=batch_size,
        eval_interval=eval_interval,
        spike_guard=spike_guard,
        seed=seed,
    )
    with user_errors() as zoo, run_options.flags_for_fields(zoo):
        if plot:
            from zoo.files import check_plot_path

            check_plot_path(plot)
        display = _TrialProgress(console(stderr=True))
        comparing = "," in sampler or sampler_seeds != 1
        common = dict(space=space, trials=trials, prune=prune, study=study, storage=storage,
                      overrides=set_ or (), reporter=display, **fields)  # fmt: skip
        with _stopped_by_signal(), display:
            try:
                if comparing:
                    result = zoo.compare_samplers(model, samplers=sampler, seeds=sampler_seeds,
                                                  tolerance=tolerance, **common)  # fmt: skip
                else:
                    result = zoo.tune(model, sampler=sampler, sampler_seed=sampler_seed, **common)
            except zoo.RunFailed as failure:
                typer.echo(f"error: {failure}", err=True)
                raise typer.Exit(RUN_FAILED) from None
        if plot:
            from zoo.experiments.search_plot import plot_comparison, plot_study

            (plot_comparison if comparing else plot_study)(result, plot)
    if json:
        print_json(result)
        return
    out = console()
    if comparing:
        out.print(comparison_table(result))
        out.print(f"{result['trained']} trials trained now, {result['wall_seconds']:,.0f} s")
        if plot:
            out.print(f"plot written to {plot}")
        return
    out.print(trials_table(result))
    best = result["best"]
    if best:
        values = ", ".join(f"{k}={_value(v)}" for k, v in best["params"].items())
        out.print(f"best: trial {best['number']}, loss {best['loss']:.4f}: {values}")
        out.print(f"[dim]{escape(best['run'] or '')}[/]")
    for note in result["notes"]:
        out.print(f"[yellow]note:[/] {escape(note)}")
    out.print(
        f"study {result['study']!r} in {escape(result['storage'])}: {len(result['trials'])} "
        f"trials, {result['trained']} trained now, {result['wall_seconds']:,.0f} s"
    )
    if plot:
        out.print(f"plot written to {plot}")


def trials_table(result):
    fields = [d["field"] for d in result["space"]]
    table = Table(
        title=f"{result['model']} · {result['sampler']} sampler (seed {result['sampler_seed']}) "
        f"· pruner {result['pruner']}",
        caption="loss: final validation nats per token (pruned: at its last evaluation) · "
        "now: trained in this call, else reused",
    )
    for column in ("trial", "state", *fields, "loss", "bits/byte", "steps", "now"):
        table.add_column(column, justify="left" if column == "state" else "right")
    best = result["best"] and result["best"]["number"]
    for row in result["trials"]:
        mark = "[bold]" if row["number"] == best else ""
        table.add_row(
            f"{mark}{row['number']}",
            row["state"],
            *(_value(row["params"].get(f)) for f in fields),
            "—" if row["loss"] is None else f"{row['loss']:.4f}",
            "—" if row["bits_per_byte"] is None else f"{row['bits_per_byte']:.4f}",
            "—" if row["steps"] is None else str(row["steps"]),
            "yes" if row["trained_now"] else "",
        )
    return table


def comparison_table(result):
    c = result["comparison"]
    level = f"{c['level']:.0%}"
    marks = sorted({max(1, c["trials"] // 4), max(1, c["trials"] // 2), c["trials"]})
    table = Table(
        title=f"{result['model']}: samplers compared over {c['trials']} trials, "
        f"{c['samplers'][0]['seeds']} seeds each",
        caption=f"best after k: the mean over seeds of the lowest validation loss in the first k "
        f"trials, {level} bootstrap interval over seeds · within: trials until a seed came "
        f"within {c['tolerance']:.1%} of the best loss any search found ({c['reference']:.4f}), "
        f"median over seeds ({c['trials'] + 1}: never)",
    )
    table.add_column("sampler")
    for k in marks:
        table.add_column(f"best after {k}", justify="right")
    table.add_column("trials to within", justify="right")
    table.add_column("reached", justify="right")
    for row in c["samplers"]:
        cells = []
        for k in marks:
            point = row["best_after"][k - 1]
            ci = point["ci"]
            cells.append("—" if point["mean"] is None else f"{point['mean']:.4f}"
                         + (f" [{ci[0]:.4f}, {ci[1]:.4f}]" if ci else ""))  # fmt: skip
        need = row["trials_to_tolerance"]
        ci = need["ci"]
        table.add_row(
            row["name"],
            *cells,
            f"{need['median']:g}" + (f" [{ci[0]:g}, {ci[1]:g}]" if ci else ""),
            f"{need['reached']}/{need['of']}",
        )
    return table


def _value(value):
    return f"{value:.4g}" if isinstance(value, float) else str(value)


class _TrialProgress:
    """A line per trial (its values and whether its run is trained, resumed or reused) and a
    bar over the run's steps."""

    def __init__(self, console):
        self.console = console
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total} steps"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        self.task = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.task is not None:  # a bar never started prints nothing, not an empty line
            self.progress.stop()
        return False

    def run(self, index, count, label, seed, status):
        # index: the trial's number in its study (a continued study goes on counting)
        self.console.print(f"trial {index}: [bold]{escape(label)}[/]: {status}")

    def start(self, plan, facts):
        self.progress.start()
        if self.task is not None:
            self.progress.remove_task(self.task)
        self.task = self.progress.add_task(
            "training", total=plan.budget.steps, completed=facts.get("resumed_at_step") or 0
        )

    def step(self, progress):
        if self.task is not None:
            self.progress.update(self.task, completed=progress["step"])

    def evaluation(self, row):
        pass

    def message(self, text):
        self.console.print(f"[dim]{escape(text)}[/]")

    def end(self, summary):
        self.progress.stop()
