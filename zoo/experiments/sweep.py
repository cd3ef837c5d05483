"""`zoo.sweep_isoflop()` and `zoo.sweep_compute()`: train a grid of runs and fit it.

Every run of the grid is an ordinary run (`zoo.experiments.store.RunStore`): a finished run with
the same key is reused and an unfinished one resumed, so an interrupted sweep continues where it
stopped and a repeated one only refits. The plan (runs, shapes, tokens, FLOPs, and wall time
estimated from throughput measured on this machine) is reported before anything trains;
`dry_run=True` stops there. `jobs=N` trains up to N of the runs side by side, each in its own
process on its own share of the CPUs (`zoo.experiments.pool`); the result is the same.

Points are final validation losses (nats per token; with the sweep's byte vocabulary, per byte)
of each run, with its parameters counted both ways and its FLOPs under three conventions: PaLM's
6N + 12·L·H·Q·T (the default, the one budgets are stated in), Chinchilla's 6N, and the exact
count of `zoo.accounting` — so the same runs can be refitted under each (`zoo fit --params
non-embedding`, `--flops 6n`) to show how the exponent moves.
"""

import math
import numbers
import statistics
import time

from zoo.accounting import count_non_embedding_params, count_params, flops_per_token
from zoo.experiments.comparison import ComparisonReporter
from zoo.config import ModelConfig
from zoo.data_spec import DataSpec
from zoo.errors import FieldError, Setting, ZooError
from zoo.recipe import Allocation
from zoo.experiments import estimate, pool as parallel
from zoo.experiments.execution import choose as execution_for
from zoo.scaling.fit import fit_compute, fit_isoflop, fit_parametric
from zoo.scaling.points import PARAMS_CONVENTIONS, check_choice
from zoo.experiments.grid import (
    Arm,
    compute_cells,
    hyperparameter_rules,
    isoflop_cells,
    parse_arms,
    parse_allocations,
    DEFAULT_SHAPES,
    RateRule,
    parse_budgets,
    parse_shapes,
    plan_grid,
    plan_row,
    sweep_run_config,
)
from zoo.experiments.continuation import FIRST_FRACTION, first_grid, second_grid
from zoo.experiments.continuation import summarize as summarize_continued
from zoo.experiments.repetition import (
    FRACTIONS,
    PASSES,
    PATIENCE,
    R_STAR,
    muennighoff_fraction,
    repetition_grid,
    summarize,
)
from zoo.experiments.store import RunStore
from zoo.experiments.tuning import LR_GRID, LR_TUNING_FRACTION, RATE_FACTORS, rate_grid
from zoo.scaling.hyperparameters import check_rule, fit_hyperparameter_rule, rule_points
from zoo.storage.runs import RunRecord

EPOCHS_FLAG = 4  # Muennighoff et al. 2023: up to ~4 passes are nearly as good as fresh data
DEFAULT_BOOTSTRAP = 200


class SweepReporter(ComparisonReporter):
    """Adds sweep-level events to the comparison and run events."""

    def planned(self, sweep):
        """The plan is resolved (`sweep['plan']`, `sweep['estimated_seconds']`); nothing trained."""

    def finished(self, index, count, label, seed, status):
        """Run `index` is over, status 'done' or 'failed'. Sent only when runs train side by
        side (`sweep['workers'] > 1`), where their other events arrive in completion order and
        carry no per-step progress."""


def sweep_isoflop(
    model,
    *,
    budgets,
    sizes=5,
    seeds=1,
    tune_lr=False,
    rates=None,
    center=20.0,
    params="total",
    shapes=DEFAULT_SHAPES,
    bootstrap=DEFAULT_BOOTSTRAP,
    overrides=(),
    reporter=None,
    dry_run=False,
    jobs=1,
    storage=None,
    run=None,
    **fields,
):
    """IsoFLOP study of one model: per budget, `sizes` shapes from 1/5× to 5× the size that
    trains on `center` tokens per parameter (Chinchilla's 20 by default); fitted by Chinchilla approaches 2 (`isoflop`) and 3 (`parametric`).
    `jobs`: runs trained side by side (1 to the CPUs available; see `zoo.experiments.pool`)."""
    parallel.check_jobs(jobs)
    _check_bootstrap(bootstrap)
    budgets = parse_budgets(budgets)
    check_choice("params convention", params, PARAMS_CONVENTIONS)  # not after an hour's training
    arm = parse_arms(model, overrides=overrides)
    if len(arm) != 1:
        raise FieldError("model", f"takes one model; received {len(arm)}")
    rule = parse_shapes(shapes)
    rate_rule = _rate_rule(rates, tune_lr)
    cells = isoflop_cells(arm[0], budgets, sizes, seeds, shapes=rule, center=center)
    sweep = _run(
        cells,
        run,
        fields,
        reporter,
        dry_run,
        tune_lr,
        jobs,
        storage=storage,
        kind="isoflop",
        request={
            "model": arm[0].name,
            "budgets": list(budgets),
            "sizes": sizes,
            "seeds": seeds,
            "params_convention": params,
            "center_tokens_per_parameter": center,
            "shapes": rule.name,
            "rates": rates and str(rates),
        },
        rule=rate_rule,
    )
    if not dry_run:
        sweep["fits"] = {
            "isoflop": _fit(fit_isoflop, sweep["points"], params=params, bootstrap=bootstrap),
            "parametric": _fit(fit_parametric, sweep["points"], params=params, bootstrap=bootstrap),
        }
    return sweep


def sweep_compute(
    models,
    *,
    budgets,
    seeds=1,
    ablate=None,
    allocation=Allocation.COMPUTE_OPTIMAL,
    shapes=DEFAULT_SHAPES,
    tune_lr=False,
    rates=None,
    bootstrap=DEFAULT_BOOTSTRAP * 5,
    metric="loss",
    overrides=(),
    reporter=None,
    dry_run=False,
    jobs=1,
    storage=None,
    run=None,
    **fields,
):
    """Loss against compute for each arm (a model, or one change of a model as `--ablate`
    forms it), fitted as L(C) per arm, with each arm's compute multiplier against the first.
    `jobs`: runs trained side by side (1 to the CPUs available; see `zoo.experiments.pool`).
    `metric`: what is fitted, "loss" (nats per token) or "bits_per_byte", the one measure
    that compares arms whose tokenizers differ (a token is a different amount of text)."""
    parallel.check_jobs(jobs)
    if metric not in METRICS:
        raise FieldError("metric", f"must be one of {', '.join(METRICS)}; received {metric!r}")
    _check_bootstrap(bootstrap)
    budgets = parse_budgets(budgets)
    arms = parse_arms(models, ablate=ablate, overrides=overrides)
    allocations = parse_allocations(allocation)
    rule = parse_shapes(shapes)
    rate_rule = _rate_rule(rates, tune_lr)
    cells = compute_cells(arms, budgets, seeds, allocations, shapes=rule)
    sweep = _run(
        cells,
        run,
        fields,
        reporter,
        dry_run,
        tune_lr,
        jobs,
        storage=storage,
        kind="compute",
        request={
            "models": [a.name for a in arms],
            "budgets": list(budgets),
            "seeds": seeds,
            "allocation": ",".join(a.label for a in allocations),
            "shapes": rule.name,
            "rates": rates and str(rates),
            **({"metric": metric} if metric != "loss" else {}),
        },
        rule=rate_rule,
    )
    if not dry_run:
        reference = (sweep.get("baseline") or {}).get(metric)  # the n-gram baseline's
        points = sweep["points"]
        if metric != "loss":  # the fit reads `loss`: the chosen measure in its place
            points = [{**p, "loss": p[metric]} for p in points]
        sweep["fits"] = {
            "compute": _fit(fit_compute, points, bootstrap=bootstrap, reference_loss=reference)
        }
    return sweep


METRICS = ("loss", "bits_per_byte")


def sweep_rates(
    models,
    *,
    budgets,
    seeds=1,
    rate_factors=RATE_FACTORS,
    batch_factors=(1.0,),
    shapes="papers",
    check=None,
    ablate=None,
    bootstrap=DEFAULT_BOOTSTRAP,
    overrides=(),
    reporter=None,
    dry_run=False,
    jobs=1,
    storage=None,
    run=None,
    **fields,
):
    """Learning rate (and batch) as power laws in compute, DeepSeek LLM's way: at each budget
    every arm's compute-optimal shape (`shapes`, the papers' by default) is trained to its full
    length at the size rule's rate × each of `rate_factors` (and its batch × each of
    `batch_factors`); the near-optimal runs by validation loss (within 0.25% of the budget's
    best) give η_opt = a·C^b (and B_opt = c·C^d) per arm (`zoo.scaling.hyperparameters`).

    `check`: the JSON of an earlier rates sweep; the grid is then centred on its fitted rule
    (at larger budgets, one is enough) and each arm's rule is checked against it instead of
    fitted (`check_rule`: the grid's best rate against the rule's, and whether the run nearest
    the rule's rate is near-optimal)."""
    parallel.check_jobs(jobs)
    _check_bootstrap(bootstrap)
    rate_rule = _rate_rule(check, False, field="check")
    budgets = parse_budgets(budgets, for_fit=check is None)
    rate_factors = _factors("rate_factors", rate_factors)
    batch_factors = _factors("batch_factors", batch_factors)
    rule = parse_shapes(shapes)
    arms = parse_arms(models, ablate=ablate, overrides=overrides)
    cells = compute_cells(arms, budgets, seeds, Allocation.COMPUTE_OPTIMAL, shapes=rule)
    sweep = _run(
        cells,
        run,
        fields,
        reporter,
        dry_run,
        False,
        jobs,
        storage=storage,
        kind="rates",
        request={
            "models": [a.name for a in arms],
            "budgets": list(budgets),
            "seeds": seeds,
            "rate_factors": list(rate_factors),
            "batch_factors": list(batch_factors),
            "shapes": rule.name,
            "check": check and str(check),
        },
        transform=lambda planned: rate_grid(planned, rate_factors, batch_factors),
        rule=rate_rule,
    )
    if not dry_run and rate_rule is not None:
        sweep["fits"] = {"check": _check(rate_rule, arms, rule_points(sweep["points"]))}
    elif not dry_run:
        sweep["fits"] = {
            "rates": _fit(
                fit_hyperparameter_rule, rule_points(sweep["points"]), bootstrap=bootstrap
            )  # fmt: skip
        }
    return sweep


def sweep_epochs(
    models,
    *,
    budgets,
    seeds=1,
    passes=PASSES,
    fractions=FRACTIONS,
    patience=PATIENCE,
    shapes="papers",
    rates=None,
    ablate=None,
    overrides=(),
    reporter=None,
    dry_run=False,
    jobs=1,
    run=None,
    **fields,
):
    """Epochs at equal compute (`zoo.experiments.repetition`): each arm's compute-optimal shape
    at each budget trained as `passes` passes over proportionally smaller slices, on fresh
    data at `fractions` of the budget, and with `patience`; the repeated runs read against the
    fresh curve and Muennighoff et al.'s effective data, with each run's curves."""
    parallel.check_jobs(jobs)
    budgets = parse_budgets(budgets, for_fit=False)
    passes = _factors("passes", passes, minimum=1, noun="pass counts", example="1,4,16")
    fractions = _factors("fractions", fractions, noun="fractions of the budget", example="0.25,0.5")
    if max(fractions) >= 1:
        raise FieldError("fractions", f"must each be below 1; received {list(fractions)}")
    if isinstance(patience, bool) or not isinstance(patience, int) or patience < 1:
        raise FieldError("patience", f"must be a whole number of at least 1; received {patience!r}")
    rule = parse_shapes(shapes)
    rate_rule = _rate_rule(rates, False)
    arms = parse_arms(models, ablate=ablate, overrides=overrides)
    cells = compute_cells(arms, budgets, seeds, Allocation.COMPUTE_OPTIMAL, shapes=rule)
    sweep = _run(
        cells,
        run,
        fields,
        reporter,
        dry_run,
        False,
        jobs,
        kind="epochs",
        request={
            "models": [a.name for a in arms],
            "budgets": list(budgets),
            "seeds": seeds,
            "passes": list(passes),
            "fractions": list(fractions),
            "patience": patience,
            "shapes": rule.name,
            "rates": rates and str(rates),
        },
        transform=lambda planned: repetition_grid(planned, passes, fractions, patience),
        rule=rate_rule,
    )
    if not dry_run:
        curves = {point["run"]: _curve(point["run"]) for point in sweep["points"]}
        sweep["curves"] = curves
        sweep["epochs"] = summarize(sweep["points"], curves)
        sweep["muennighoff"] = {
            "r_star": R_STAR,
            "source": "Muennighoff et al. 2023, arXiv:2305.16264",
            "fractions": {f"{k:g}": muennighoff_fraction(k) for k in passes},
        }
    return sweep


def sweep_continued(
    models,
    *,
    budgets,
    seeds=1,
    fraction=FIRST_FRACTION,
    shapes="papers",
    rates=None,
    ablate=None,
    overrides=(),
    reporter=None,
    dry_run=False,
    jobs=1,
    run=None,
    **fields,
):
    """Continued training (`zoo.experiments.continuation`): each arm's compute-optimal shape
    per budget trained on `fraction` of it, then continued from those weights on the rest with
    a rewarmed, re-decayed rate, against a fresh model on the rest and one run on the whole.
    Two phases: the continued runs are planned once the first runs' weights exist."""
    parallel.check_jobs(jobs)
    budgets = parse_budgets(budgets, for_fit=False)
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0 < fraction < 1:
        raise FieldError("fraction", f"must be between 0 and 1; received {fraction!r}")
    rule = parse_shapes(shapes)
    rate_rule = _rate_rule(rates, False)
    arms = parse_arms(models, ablate=ablate, overrides=overrides)
    cells = compute_cells(arms, budgets, seeds, Allocation.COMPUTE_OPTIMAL, shapes=rule)
    request = {
        "models": [a.name for a in arms],
        "budgets": list(budgets),
        "seeds": seeds,
        "fraction": fraction,
        "shapes": rule.name,
        "rates": rates and str(rates),
    }

    def phase(transform):
        return _run(cells, run, fields, reporter, dry_run, False, jobs, kind="continued",
                    request=request, transform=transform, rule=rate_rule)  # fmt: skip

    first = phase(lambda planned: first_grid(planned, fraction))
    if dry_run or first["failed"]:
        return first  # the second phase's plan needs the first's weights
    firsts = {(p["arm"], p["budget"], p["seed"]): p["run"] for p in first["points"]}
    second = phase(lambda planned: second_grid(planned, firsts, fraction))
    sweep = {**second, "plan": first["plan"] + second["plan"], "failed": second["failed"]}
    sweep["points"] = first["points"] + second["points"]
    for key in ("wall_seconds", "run_seconds", "estimated_seconds"):
        sweep[key] = first[key] + second[key]
    sweep["curves"] = {point["run"]: _curve(point["run"]) for point in sweep["points"]}
    sweep["continued"] = summarize_continued(sweep["points"])
    return sweep


def _curve(run):
    """A run's evaluations (step, tokens, training and validation loss), from its metrics."""
    keep = ("step", "tokens", "train_loss", "validation_loss")
    return [{k: row.get(k) for k in keep} for row in RunRecord(run).metrics()]


def _rate_rule(path, tune_lr, field="rates"):
    """The `RateRule` of a rates sweep's JSON at `path` (None: none given)."""
    if path is None:
        return None
    if tune_lr:
        raise FieldError(
            "tune_lr", "cannot be combined with a fitted rule (", Setting(field, str(path)), ")"
        )
    return RateRule.load(path, field)


def _check(rule, arms, points):
    """Each arm's rule against the check grid, per budget (`check_rule`)."""
    rows = []
    for arm in arms:
        mine = [p for p in points if p["arm"] == arm.name]
        for budget in sorted({p["budget"] for p in mine}):
            at = [p for p in mine if p["budget"] == budget]
            rows.append(
                {"arm": arm.name, **check_rule(rule.for_arm(arm), at, tolerance=rule.tolerance)}
            )
    return {"arms": rows}


def _factors(field, factors, minimum=None, noun="multipliers", example="0.5,1,2"):
    """'0.5,1,2' or numbers -> a tuple of distinct, positive, finite multipliers (each at least
    `minimum` where given; `noun` and `example` name them in a refusal)."""
    if isinstance(factors, str):
        parts = [p.strip() for p in factors.split(",") if p.strip()]
    else:
        parts = list(factors or ())
    values = []
    for part in parts:
        try:
            value = float(part)
        except (TypeError, ValueError):
            value = math.nan
        if not math.isfinite(value) or value <= 0 or value < (minimum or 0):
            kind = f"positive {noun}" if minimum is None else f"{noun} of at least {minimum:g}"
            raise FieldError(field, f"takes {kind}, e.g. {example}; received {part!r}")
        values.append(value)
    if not values or len(set(values)) != len(values):
        raise FieldError(field, f"needs distinct {noun}; received {factors!r}")
    return tuple(values)


def _check_bootstrap(bootstrap):
    """Resamples for the intervals: 0 (no intervals) or more; a negative count would resample
    nothing and print intervals that mean nothing, after the whole sweep had trained."""
    if isinstance(bootstrap, bool) or not isinstance(bootstrap, numbers.Integral) or bootstrap < 0:
        raise FieldError(
            "bootstrap", f"must be a whole number of resamples, 0 or more; received {bootstrap!r}"
        )


def _fit(law, points, **options):
    """The fit, or {'error': why} when the finished points cannot support it (failed cells):
    the runs are kept and the table says so, rather than hours of training ending in exit 2."""
    try:
        return law(points, **options)
    except ZooError as error:
        return {"error": str(error)}


def _run(
    cells,
    run,
    fields,
    reporter,
    dry_run,
    tune_lr,
    jobs,
    *,
    storage=None,
    kind,
    request,
    transform=None,
    rule=None,
):
    """Plan the cells (then `transform` the planned runs, e.g. into a rate grid), estimate,
    report the plan, train what is not reused, and collect the points."""
    reporter = reporter or SweepReporter()
    base = sweep_run_config(run, **fields)
    parallel.check_strategy(jobs, base.strategy.value)
    if storage is not None and jobs != 1:
        raise FieldError("jobs", "must be 1 with a shared store (", Setting("storage", storage),
                         "): each worker trains one cell at a time; start more workers")  # fmt: skip
    if storage is not None and not dry_run:
        from zoo.experiments.search import open_storage

        open_storage(storage)  # malformed or unreachable: said before the grid is planned
    planned = plan_grid(cells, base, rule=rule)
    if transform is not None:
        planned = transform(planned)
    store = RunStore()  # the one scan of the results this sweep makes
    status = [store.status(p.plan) for p in planned]
    to_train = [p for p, s in zip(planned, status) if s != "reused"]
    calibration = estimate.calibrate(to_train) if to_train else None
    for p, s in zip(planned, status):
        if s == "reused":
            p.estimated_seconds = 0.0
        else:
            tuning = len(LR_GRID) * LR_TUNING_FRACTION if tune_lr else 0.0  # its grid's runs
            p.estimated_seconds = estimate.estimate_seconds(p, calibration) * (1 + tuning)
    execution = execution_for(planned, status, tune_lr, jobs)
    hyperparameters = hyperparameter_rules(
        tune_lr,
        base.spike_guard,
        request.get("shapes", DEFAULT_SHAPES),
        request.get("rate_factors"),
        request.get("rates") or request.get("check"),
        base.tokenizer,
    )
    # --set learning_rate=X fixes the rate of every run: the plan says so, not the rule it
    # replaced (the rate of each run is in the plan's rows either way)
    fixed = {p.arm.changes["learning_rate"] for p in planned if "learning_rate" in p.arm.changes}
    if fixed and all("learning_rate" in p.arm.changes for p in planned):
        hyperparameters["learning_rate"] = (
            f"fixed by --set learning_rate: {', '.join(sorted(str(r) for r in fixed))} for "
            "every run (no rule)"
        )
    sweep = {
        "kind": kind,
        **request,
        "data": base.data,
        "tokenizer": base.tokenizer.value,
        "tune_lr": tune_lr,
        "hyperparameters": hyperparameters,
        "plan": [plan_row(p, s) for p, s in zip(planned, status)],
        # The runs' estimates added up: one run at a time. Side by side a sweep takes less
        # (1.28× less measured with 2 jobs on 2 cores, zoo.experiments.pool), by a factor that
        # depends on the machine and the runs' sizes, so the estimate is not divided by one.
        "estimated_seconds": sum(p.estimated_seconds for p in planned),
        "calibration": calibration,
        "jobs": jobs,
        "workers": execution.workers,
        "baseline": None,
    }
    queue = None
    if storage is not None and not dry_run:  # reached before the plan is shown: a bad URL is input
        from zoo.experiments.shared import CellQueue

        definition = {"kind": kind, **request, "run": base.to_dict(),
                      "keys": [p.plan.key for p in planned]}  # fmt: skip
        queue = CellQueue(storage, f"{kind}-{_digest(definition)}", definition)
    reporter.planned(sweep)
    if dry_run:
        return sweep
    started = time.perf_counter()
    if queue is not None:
        from zoo.experiments.shared import train_shared

        queue.register(planned)
        points, failed, here = train_shared(planned, queue, store, reporter, _point)
        queue.close()
        sweep["wall_seconds"] = time.perf_counter() - started
        sweep["points"], sweep["storage"], sweep["trained_here"] = points, queue.masked, here
    else:
        finished, failed = execution.run(planned, status, store, base, reporter, tune_lr)
        sweep["wall_seconds"] = time.perf_counter() - started
        sweep["points"] = [_point(p, r) for p, r in finished]
    # The runs' own training time, whether trained now or reused: what the sweep cost.
    sweep["run_seconds"] = sum(point["wall_seconds"] or 0.0 for point in sweep["points"])
    sweep["failed"] = failed
    sweep["baseline"] = _baseline(base.data, planned[0].plan.data if planned else None)
    return sweep


def _digest(definition):
    import hashlib
    import json

    return hashlib.sha256(json.dumps(definition, sort_keys=True).encode()).hexdigest()[:12]


def _point(p, record):
    summary = record.summary()
    settings = record.config()
    config = ModelConfig.from_dict(settings["model"])
    tokens = summary["tokens"]
    n = count_params(config)
    per_token = flops_per_token(config, config.max_sequence_length)
    return {
        "arm": p.arm.name, "budget": p.flops, "seed": p.seed,
        "params": n, "non_embedding_params": count_non_embedding_params(config),
        "num_layers": config.num_layers, "hidden_dim": config.hidden_dim,
        "tokens": tokens, "flops": summary["flops"], "flops_6n": 6.0 * n * tokens,
        "flops_exact": per_token.training * tokens,
        "loss": summary["validation_loss"], "bits_per_byte": summary["validation_bits_per_byte"],
        # Text per token (nats per token over nats per byte) and the embedding's share of N:
        # what a tokenizer's vocabulary trades.
        "bytes_per_token": _bytes_per_token(summary),
        "embedding_share": 1 - count_non_embedding_params(config) / n,
        "final_train_loss": summary["final_train_loss"],
        "epochs": tokens / settings["data"]["train_tokens"],
        "learning_rate": settings["training"]["learning_rate"],
        "warmup_steps": settings["training"]["warmup_steps"],
        "batch_size": settings["budget"]["batch_size"],
        "batch_tokens": settings["budget"]["batch_size"] * config.max_sequence_length,
        "wall_seconds": summary.get("wall_time"), "run": str(record.path),
        **({"variant": p.variant, "steps": summary["steps"],
            "stopped_early": summary["stopped_early"]} if p.variant else {}),
        **_output_logits(record),
    }  # fmt: skip


def _bytes_per_token(summary):
    bits = summary.get("validation_bits_per_byte")
    if not bits:
        return None  # token ids without text: no bytes to count
    return summary["validation_loss"] / (bits * math.log(2))


def _output_logits(record):
    """The final model's output log-partition log Z = logsumexp(logits) on the run's probe
    batch (two validation windows): its mean, its mean magnitude (what z-loss, z·log²Z, pulls
    to 0; Wortsman et al. 2023 watch it drift at high learning rates) and the largest logit
    magnitude. Empty for a run without a probe (pre-tokenized data has none)."""
    import numpy as np

    if not record.probe_path.exists():
        return {}
    logits = np.load(record.probe_path)["logits"].astype("float64")
    peak = logits.max(axis=-1, keepdims=True)
    log_z = (peak + np.log(np.exp(logits - peak).sum(axis=-1, keepdims=True)))[..., 0]
    return {
        "output_log_z": float(log_z.mean()),
        "output_abs_log_z": float(np.abs(log_z).mean()),
        "output_max_abs_logit": float(np.abs(logits).max()),
    }


def _baseline(data, facts):
    """The n-gram baseline in bits per byte and, for loss plots, in the runs' nats per token
    (`facts`: the grid's data facts, one corpus read for every run)."""
    if not DataSpec.of(data).has_text or facts is None or not facts.validation_bytes:
        return None  # no text to count characters of, or no run to convert units with
    from zoo.baselines import ngram_baseline

    baseline = ngram_baseline(data)
    tokens, nbytes = facts.validation_tokens, facts.validation_bytes
    nats_per_token = baseline["bits_per_byte"] * math.log(2) * nbytes / tokens
    return {
        "name": f"KN {baseline['order']}-gram",
        "order": baseline["order"],
        "bits_per_byte": baseline["bits_per_byte"],
        "loss": nats_per_token,
    }


def arm_summary(points):
    """Mean and spread of loss per (arm, budget) over seeds, for tables."""
    groups = {}
    for point in points:
        groups.setdefault((point["arm"], point["budget"], point["params"]), []).append(point)
    rows = []
    for (arm, budget, params), group in groups.items():
        bpb = [g["bits_per_byte"] for g in group if g["bits_per_byte"] is not None]
        rows.append(
            {
                "arm": arm,
                "budget": budget,
                "params": params,
                "loss": statistics.fmean(g["loss"] for g in group),
                "bits_per_byte": statistics.fmean(bpb) if bpb else None,
                "spread": statistics.stdev(bpb) if len(bpb) > 1 else None,
                "seeds": len(group),
                "epochs": max(g["epochs"] for g in group),
            }
        )
    return rows


__all__ = [
    "Arm",
    "EPOCHS_FLAG",
    "SweepReporter",
    "arm_summary",
    "sweep_compute",
    "sweep_isoflop",
    "sweep_rates",
]
