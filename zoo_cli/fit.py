"""`zoo fit`: scaling laws from a points table (CSV, JSONL or a sweep's JSON), with intervals."""

import enum
import time
from typing import Annotated, Optional

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from zoo_cli import options
from zoo_cli.output import console, human, print_json, scientific, user_errors

app = typer.Typer()
LINE_SECONDS = 30  # without a terminal (a log, a pipe): a progress line this often at most
UNITS = {
    "parametric": "L-BFGS-B runs",
    "isoflop": "bootstrap refits",
    "compute": "bootstrap refits",
    "rates": "bootstrap refits",
}


class Law(str, enum.Enum):
    PARAMETRIC = "parametric"
    ISOFLOP = "isoflop"
    COMPUTE = "compute"
    RATES = "rates"


class ParamsConvention(str, enum.Enum):
    TOTAL = "total"
    NON_EMBEDDING = "non-embedding"


class FlopsConvention(str, enum.Enum):
    PALM = "palm"
    SIX_N = "6n"
    EXACT = "exact"


@app.command("fit")
def fit(
    points: Annotated[
        str,
        typer.Argument(
            help="A points table: CSV, JSONL, or a sweep's JSON (its 'points'). Columns: params, "
            "loss, tokens or flops; optional budget, arm, seed, non_embedding_params, "
            "flops_6n, flops_exact.",
            metavar="POINTS",
            show_default=False,
        ),
    ],
    law: Annotated[
        Law,
        typer.Option(
            case_sensitive=False,
            help="parametric: L(N, D) = E + A/N^α + B/D^β (Chinchilla approach 3); isoflop: a "
            "parabola per budget (approach 2); compute: L(C) per arm and compute multipliers "
            "against the first arm; rates: η_opt = a·C^b (and B_opt) per arm from a rates "
            "sweep's grid (DeepSeek LLM).",
        ),
    ] = Law.PARAMETRIC,
    params: Annotated[
        ParamsConvention,
        typer.Option(
            case_sensitive=False,
            help="N is total parameters (column params) or non-embedding ones "
            "(non_embedding_params).",
        ),
    ] = ParamsConvention.TOTAL,
    flops: Annotated[
        FlopsConvention,
        typer.Option(
            case_sensitive=False,
            help="C is the column flops (palm: 6N + attention), flops_6n (6n; else 6·N·D) or "
            "flops_exact (exact).",
        ),
    ] = FlopsConvention.PALM,
    bootstrap: Annotated[
        Optional[int],
        typer.Option(
            min=0, help="Bootstrap refits for the intervals; default 200 (1000 for compute)."
        ),
    ] = None,
    starts: Annotated[
        Optional[int],
        typer.Option(
            min=1,
            help="Parametric only: this many random starts from the grid instead of all "
            "4,500 (a quicker, rougher fit).",
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the bootstrap and the random starts.")] = 0,
    tolerance: Annotated[
        Optional[float],
        typer.Option(
            help="Rates only: a run is near-optimal within this fraction of its budget's best "
            "loss (default 0.0025, DeepSeek LLM's).",
            show_default=False,
        ),
    ] = None,
    noise: Annotated[
        Optional[str],
        typer.Option(
            help="A sweep's JSON (or points table) with cells run at several seeds, whose "
            "seed noise σ is measured. Rates: the near-optimal band becomes what it allows "
            "between single runs (1.645·√2·σ, one-sided 95%; at least 0.25%), instead of "
            "--tolerance. IsoFLOP: the bootstrap draws each run's loss about its parabola "
            "with that noise (parametric), for valleys of one seed a size.",
            show_default=False,
        ),
    ] = None,
    max_epochs: Annotated[
        Optional[float],
        typer.Option(
            help="Leave out the points whose runs passed over their training data more than "
            "this many times (column epochs; Muennighoff et al.: up to about 4, repeated data "
            "is almost as good as fresh): the fit without the repetition's penalty.",
            show_default=False,
        ),
    ] = None,
    budgets: Annotated[
        Optional[str],
        typer.Option(
            help="Fit only the points of these budgets (FLOPs separated by commas, as the "
            "sweep planned them): a law over part of a study's range.",
            show_default=False,
        ),
    ] = None,
    update: Annotated[
        bool,
        typer.Option(
            "--update",
            help="Write the fit back into POINTS, a sweep's JSON, in place of its own fit of "
            "this law: for a study fitted before the fit gained a field. The study's own "
            "bootstrap count and seed; refused unless the refit reproduces every value the "
            "earlier fit holds.",
        ),
    ] = False,
    json: options.Json = False,
    plot: Annotated[
        Optional[str],
        typer.Option(
            help="Write the fit's figure to this .png/.svg/.pdf (checked before anything else: "
            "format, and that it can be written)."
        ),
    ] = None,
):
    """Fit a scaling law to finished runs and print its parameters with 95% intervals.

    The parametric fit runs L-BFGS-B from Hoffmann et al.'s 4,500 starts on log loss with a
    summed Huber loss (δ = 1e-3), as Besiroglu et al. (2024) replicated it.
    """
    law = Law(law).value
    with user_errors(keras=False):
        from zoo.files import check_plot_path  # light: before numpy, scipy, matplotlib

        if plot:
            check_plot_path(plot)  # before anything heavy is imported, and before the fit
        from zoo.scaling import FITS, load_points, plot_fit

        if update:
            from zoo.scaling.refit import check_updatable

            study = check_updatable(points, law, {"--max-epochs": max_epochs, "--budgets": budgets})
        rows, notes = load_points(points)
        if max_epochs is not None:
            from zoo.scaling.points import within_epochs

            rows, dropped = within_epochs(rows, max_epochs)
            notes.append(dropped)
        if budgets is not None:
            from zoo.scaling.points import within_budgets

            rows, dropped = within_budgets(rows, budgets)
            notes.append(dropped)
        kwargs = {"seed": seed}
        if bootstrap is not None:
            kwargs["bootstrap"] = bootstrap
        ignored = []
        if law in ("parametric", "isoflop"):
            kwargs["params"] = ParamsConvention(params).value
        elif params != ParamsConvention.TOTAL:
            ignored.append("--params")
        if law in ("isoflop", "compute"):
            kwargs["flops"] = FlopsConvention(flops).value
        elif flops != FlopsConvention.PALM:
            ignored.append("--flops")
        if law == "parametric" and starts is not None:
            kwargs["starts"] = starts
        elif starts is not None:
            ignored.append("--starts")
        for flag, value in (("--tolerance", tolerance), ("--noise", noise)):
            if law == "rates" and value is not None:
                kwargs[flag[2:]] = _noise(value) if flag == "--noise" else value
            elif law == "isoflop" and flag == "--noise" and value is not None:
                kwargs["noise"] = _noise(value)  # a parametric bootstrap
            elif value is not None:
                ignored.append(flag)
        if ignored:
            verb = "does" if len(ignored) == 1 else "do"
            notes.append(f"{' and '.join(ignored)} {verb} not apply to the {law} law: ignored")
        if update:  # the study's own bootstrap and seed, and the crossing of its reference
            own = study["fits"][law]
            if bootstrap is None and isinstance(own.get("bootstrap"), int):
                kwargs["bootstrap"] = own["bootstrap"]
            if isinstance(own.get("seed"), int):
                kwargs["seed"] = own["seed"]
            if law == "compute":
                kwargs["reference_loss"] = own.get("reference_loss")
        with FitProgress(f"fitting the {law} law", UNITS[law]) as progress:
            result = FITS[law](rows, progress=progress, **kwargs)
        if plot:
            plot_fit(law, result, rows, plot)
        if update:
            from zoo.scaling.refit import write_refit

            write_refit(points, study, law, result)
    notes = list(dict.fromkeys(notes + result["notes"]))
    if json:
        filtered = {} if max_epochs is None else {"max_epochs": max_epochs}
        if budgets is not None:
            filtered["budgets"] = budgets
        print_json({"points_file": points, **filtered, "notes": notes, "fits": {law: result}})
        return
    out = console()
    for table in TABLES[law](result):
        out.print(table)
    for note in notes:
        out.print(f"[yellow]note:[/] {note}")
    if plot:
        out.print(f"plot written to {plot}")
    if update:
        out.print(f"fit written into {points} (every earlier value reproduced)")


def _noise(path):
    """The seed noise measured by the repeated cells of the sweep at `path` (`seed_noise`)."""
    from zoo.errors import FieldError
    from zoo.scaling import load_points
    from zoo.scaling.hyperparameters import rule_points, seed_noise

    measured = seed_noise(rule_points(load_points(path)[0]))
    if measured is None:
        raise FieldError("noise", f"{path!r} has no cell run at 2 seeds or more: no noise in it")
    return {**measured, "source": path}


class FitProgress:
    """A fit's progress on stderr with the time it has left, as `zoo train` shows its steps: a
    rich bar on a terminal (gone once the fit ends); elsewhere (a log file, a pipe) a plain line
    every `LINE_SECONDS` at most, so that a fit of many points is never silent for minutes.
    Called by the fit as `progress(done, total)`."""

    def __init__(self, description, unit):
        self.description, self.unit = description, unit
        self.console = console(stderr=True)
        self.bar = self.task = None
        self.started = self.shown = time.monotonic()

    def __enter__(self):
        if self.console.is_terminal:
            self.bar = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                TextColumn("{task.completed:,}/{task.total:,} " + self.unit),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                console=self.console,
                transient=True,
            )
            self.bar.start()
        return self

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.stop()
        return False

    def __call__(self, done, total):
        if self.bar is not None:
            if self.task is None:  # the total is known from the fit's first call
                self.task = self.bar.add_task(self.description, total=total)
            self.bar.update(self.task, completed=done)
            return
        now = time.monotonic()
        if done == 0 or now - self.shown < LINE_SECONDS:
            return
        self.shown = now
        left = (now - self.started) / done * (total - done)
        self.console.print(
            f"{self.description}: {done:,}/{total:,} {self.unit} "
            f"({done / total:.0%}), about {_duration(left)} left",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )


def _duration(seconds):
    """'1h05m', '12m30s', '40s'."""
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def _parametric_tables(fit):
    level = _level(fit)
    table = Table(title="L(N, D) = E + A/N^α + B/D^β (Chinchilla approach 3)",
                  caption=f"{fit['points']} points · {fit['params_convention']} parameters · "
                          f"{fit['starts']} L-BFGS-B starts · {fit['bootstrap']} bootstrap refits "
                          f"· summed Huber loss {fit['huber_loss']:.3g}")  # fmt: skip
    for column in ("parameter", "value", f"{level} interval", "meaning"):
        table.add_column(column, justify="left" if column in ("parameter", "meaning") else "right")
    meanings = {
        "E": "irreducible loss",
        "A": "size term",
        "B": "data term",
        "alpha": "size exponent α",
        "beta": "data exponent β",
        "a": "N_opt ∝ C^a, a = β/(α+β)",
        "b": "D_opt ∝ C^b, b = α/(α+β)",
    }
    for key, meaning in meanings.items():
        table.add_row(key, _g(fit[key]), _interval(fit[f"{key}_ci"]), meaning)
    table.add_row(
        "tokens/param",
        _g(fit["tokens_per_parameter"]),
        _interval(fit["tokens_per_parameter_ci"]),
        f"D_opt/N_opt at C = {scientific(fit['tokens_per_parameter_flops'])}",
    )
    tables = [table]
    if fit["optimal"]:
        optimal = Table(title="compute-optimal allocation of the fitted law (C = 6ND)")
        for column in ("FLOPs", "N_opt", "D_opt", "tokens/param"):
            optimal.add_column(column, justify="right")
        for row in fit["optimal"]:
            optimal.add_row(
                scientific(row["flops"]),
                human(row["n_opt"]),
                human(row["d_opt"]),
                _g(row["tokens_per_parameter"]),
            )
        tables.append(optimal)
    return tables


def _isoflop_tables(fit):
    level = _level(fit)
    summary = Table(title="IsoFLOP valleys (Chinchilla approach 2)",
                    caption=f"{fit['points']} points · {fit['params_convention']} parameters · "
                            f"{fit['flops_convention']} FLOPs · {fit['bootstrap']} bootstrap "
                            "refits")  # fmt: skip
    for column in ("quantity", "value", f"{level} interval"):
        summary.add_column(column, justify="left" if column == "quantity" else "right")
    summary.add_row("a (N_opt ∝ C^a)", _g(fit["a"]), _interval(fit["a_ci"]))
    summary.add_row("b (D_opt ∝ C^b)", _g(fit["b"]), _interval(fit["b_ci"]))
    summary.add_row(
        "tokens/param at the optimum (median)",
        _g(fit["tokens_per_parameter"]),
        _interval(fit["tokens_per_parameter_ci"]),
    )
    budgets = Table(
        title="per budget",
        caption="edge: the parabola opens downward or its minimum lies outside the sampled sizes",
    )
    for column in (
        "budget",
        "FLOPs",
        "sizes",
        "N_opt",
        "D_opt",
        "tokens/param",
        "loss",
        "edge",
        "used",
    ):
        budgets.add_column(column, justify="right")
    for b in fit["budgets"]:
        budgets.add_row(
            _budget(b["budget"]),
            scientific(b["flops"]),
            str(b["sizes"]),
            human(b["n_opt"]),
            human(b["d_opt"]),
            _g(b["tokens_per_parameter"]),
            f"{b['loss_opt']:.4f}",
            "yes" if b["edge"] else "no",
            "yes" if b["used"] else "no",
        )
    return [summary, budgets]


def _compute_tables(fit):
    level = _level(fit)
    table = Table(title=f"L(C) per arm; compute multiplier against {fit['baseline']!r}",
                  caption=f"{fit['flops_convention']} FLOPs · {fit['bootstrap']} bootstrap refits "
                          "· multiplier: the baseline's compute to reach the arm's loss at C*, "
                          "over C*")  # fmt: skip
    for column in (
        "arm",
        "form",
        "points",
        "E",
        "A",
        "γ",
        "C*",
        "multiplier",
        f"{level} interval",
        "verdict",
    ):
        table.add_column(
            column, justify="left" if column in ("arm", "form", "verdict") else "right"
        )
    for arm in fit["arms"]:
        baseline = arm["verdict"] == "baseline"
        multiplier = "1" if baseline else ("∞" if arm["unreachable"] else _g(arm["multiplier"]))
        verdict = arm["verdict"] + (" (extrapolated)" if arm["extrapolated"] else "")
        table.add_row(
            arm["name"],
            arm["form"],
            str(arm["points"]),
            _g(arm["E"]),
            _g(arm["A"]),
            _g(arm["gamma"]),
            scientific(arm["c_star"]),
            multiplier,
            "" if baseline else _interval(arm["multiplier_ci"], unbounded="∞"),
            verdict,
        )
    return [table, *_trend_table(fit, level)]


def _trend_table(fit, level):
    """Each arm's multiplier at every budget both it and the baseline trained, and its trend."""
    arms = [arm for arm in fit["arms"] if arm.get("trend")]
    if not arms:
        return []
    budgets = list(dict.fromkeys(b["budget"] for arm in arms for b in arm["by_budget"]))
    table = Table(title="compute multiplier at each budget, and its trend across them",
                  caption="at a budget: the baseline's compute to reach the arm's observed loss "
                          f"there, over that budget, with its {level} interval · trend: the "
                          "slope of ln(multiplier) on ln C; at top: the fitted line at the top "
                          "budget")  # fmt: skip
    for column in ("arm", *(_budget(b) for b in budgets), "trend", "slope", "at top"):
        table.add_column(column, justify="left" if column in ("arm", "trend") else "right")
    for arm in arms:
        cells = {b["budget"]: b for b in arm["by_budget"]}
        trend = arm["trend"]
        table.add_row(
            arm["name"],
            *(
                f"{_g(cells[b]['multiplier'])} {_interval(cells[b]['multiplier_ci'], '∞')}"
                if b in cells
                else "—"
                for b in budgets
            ),
            trend["verdict"],
            f"{_g(trend['slope'])} {_interval(trend['slope_ci'])}",
            f"{_g(trend['at_top'])} {_interval(trend['at_top_ci'])}",
        )
    return [table]


def _rates_tables(fit):
    level = _level(fit)
    band = f"near-optimal: within {fit['tolerance']:.3%} of the budget's best loss"
    if fit.get("noise"):
        noise = fit["noise"]
        band += (f", the band the seed noise σ = {noise['sigma']:.3%} of {noise['source']} "
                 f"({noise['cells']} cells, {noise['runs']} runs) allows")  # fmt: skip
    table = Table(title="η_opt = a·C^b (and B_opt = c·C^d) per arm (DeepSeek LLM)",
                  caption=f"{band} · {fit['bootstrap']} bootstrap refits")  # fmt: skip
    for column in ("arm", "law", "a", "b", f"b {level} interval", "near-optimal runs", "budgets"):
        table.add_column(column, justify="left" if column in ("arm", "law") else "right")
    for arm in fit["arms"]:
        for field, symbol in (("learning_rate", "η_opt"), ("batch_tokens", "B_opt")):
            line = arm[field]
            if line is None:
                continue
            table.add_row(
                arm["name"],
                symbol,
                _g(line["a"]),
                _g(line["b"]),
                _interval(line["b_ci"]),
                str(len(arm["near_optimal"])),
                str(len(arm["budgets"])),
            )
    return [table]


TABLES = {
    "parametric": _parametric_tables,
    "isoflop": _isoflop_tables,
    "compute": _compute_tables,
    "rates": _rates_tables,
}


def _g(value):
    return "—" if value is None else f"{value:.4g}"


def _interval(ci, unbounded="—"):
    if not ci:
        return "—"
    low, high = ci
    return f"[{_g(low)}, {unbounded if high is None else _g(high)}]"


def _level(fit):
    return f"{fit['level']:.0%}"


def _budget(budget):
    return scientific(budget) if isinstance(budget, float) else str(budget)
