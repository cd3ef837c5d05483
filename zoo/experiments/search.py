"""`zoo.tune()`: hyperparameter search over any training or model field, with Optuna.

Optuna is used rather than hand-written because it carries every family of search the field
uses — grid, random, Bayesian (a tree-structured Parzen estimator, TPE; a Gaussian process, GP),
CMA-ES and a genetic algorithm (NSGA-II) — with pruners (median, asynchronous successive halving,
Hyperband) and relational storage (an SQLite file here by default; PostgreSQL or MySQL where
several machines share one study).

Every trial is an ordinary run obtained from the `RunStore` by its key: a finished run is
reused (its evaluations replayed to the pruner), an unfinished one resumed, so a repeated study
trains nothing and a killed one continues. A trial left RUNNING by a process that died is failed
and its parameters queued again (on this host: the process is gone; elsewhere: its heartbeat
stopped), so the same run is resumed from its last commit. A run that diverges is a failed
trial, counted, not retried: the same run would diverge again.

The objective is the run's final validation loss (nats per token). Pruning judges the run's
own evaluations (every `eval_interval` steps): a trial the pruner stops ends after the
evaluation that condemned it is committed, so its run can be resumed by a later study.
"""

import dataclasses
import hashlib
import importlib.util
import json
import math
import os
import socket
import time
import warnings

from zoo.errors import FieldError, unknown
from zoo.experiments.comparison import ComparisonReporter
from zoo.experiments.store import RunStore
from zoo.overrides import MODEL_FIELDS, TRAINING_FIELDS
from zoo.storage.runs import results_root
from zoo.training.loop import RunFailed
from zoo.training.memory_maps import MapHeadroomError
from zoo.training.trainer import plan_run, run_config

SAMPLERS = ("grid", "random", "tpe", "gp", "cmaes", "nsga2")
PRUNERS = ("none", "median", "asha", "hyperband")
KINDS = ("log", "float", "int")  # ranges; a comma-separated list of values is a choice
RUN_FIELDS = ("batch_size",)  # RunConfig fields a space may hold besides model and training fields
GRID_POINTS = 5  # the grid sampler's points per range (log-spaced for log), ends included
NSGA2_POPULATION = 8  # the genetic sampler's generation size (see make_sampler)
HEARTBEAT_SECONDS = 30  # a trial's process says it is alive this often ...
GRACE_SECONDS = 120  # ... and a trial silent this long on another host is taken to be dead
STUDIES_FILE = "studies.db"  # the default storage: one SQLite file under the results root
DEFINITION = "zoo_definition"  # the study's user attribute that fixes what its trials mean
WAIT_SECONDS = 2.0  # a worker done with its trials looks this often for the others' to end


@dataclasses.dataclass(frozen=True)
class Dimension:
    """One searched field: a range (`log`, `float`, `int`: low, high) or `choice`s."""

    field: str
    kind: str
    low: float = None
    high: float = None
    choices: tuple = ()

    def suggest(self, trial):
        if self.kind == "choice":
            return trial.suggest_categorical(self.field, list(self.choices))
        if self.kind == "int":
            return trial.suggest_int(self.field, int(self.low), int(self.high))
        return trial.suggest_float(self.field, self.low, self.high, log=self.kind == "log")

    def grid(self):
        """The grid sampler's values: the choices, or `GRID_POINTS` across the range."""
        if self.kind == "choice":
            return list(self.choices)
        if self.kind == "int":
            count = min(GRID_POINTS, int(self.high) - int(self.low) + 1)
            return sorted({int(round(v)) for v in _spaced(self.low, self.high, count, False)})
        return _spaced(self.low, self.high, GRID_POINTS, self.kind == "log")

    def to_dict(self):
        if self.kind == "choice":
            return {"field": self.field, "kind": "choice", "choices": list(self.choices)}
        return {"field": self.field, "kind": self.kind, "low": self.low, "high": self.high}


def _spaced(low, high, count, log):
    if count == 1:
        return [low]
    if log:
        inner = [math.exp(math.log(low) + (math.log(high) - math.log(low)) * i / (count - 1))
                 for i in range(1, count - 1)]  # fmt: skip
    else:
        inner = [low + (high - low) * i / (count - 1) for i in range(1, count - 1)]
    return [float(low), *map(float, inner), float(high)]  # the ends exactly: inside the range


def parse_space(space):
    """Dimensions from ['learning_rate=log:1e-4:1e-1', 'beta_2=0.95,0.99', ...] or a dict
    {field: spec}; `FieldError('space', ...)` on the first problem."""
    items = list(space.items()) if isinstance(space, dict) else []
    if not isinstance(space, dict):
        for pair in space or ():
            field, sep, spec = str(pair).partition("=")
            if not sep or not field.strip() or not spec.strip():
                raise FieldError("space", f"takes FIELD=SPEC, e.g. learning_rate=log:1e-4:1e-1; "
                                          f"received {pair!r}")  # fmt: skip
            items.append((field.strip(), spec.strip()))
    if not items:
        raise FieldError("space", "is empty: give at least one FIELD=SPEC")
    known = MODEL_FIELDS + TRAINING_FIELDS + list(RUN_FIELDS)
    dimensions, seen = [], set()
    for field, spec in items:
        if field not in known:
            raise FieldError("space", str(unknown("field", field, known)))
        if field in seen:
            raise FieldError("space", f"names {field!r} twice")
        seen.add(field)
        dimensions.append(_dimension(field, str(spec)))
    return tuple(dimensions)


def _dimension(field, spec):
    kind, sep, bounds = spec.partition(":")
    if sep and kind in KINDS:
        low_text, sep, high_text = bounds.partition(":")
        try:
            low, high = float(low_text), float(high_text)
        except ValueError:
            low = high = math.nan
        if not sep or not (math.isfinite(low) and math.isfinite(high)) or not low < high:
            raise FieldError("space", f"{field}={spec}: a range is {kind}:LOW:HIGH with LOW < HIGH")
        if kind == "log" and low <= 0:
            raise FieldError("space", f"{field}={spec}: a log range needs LOW > 0")
        if kind == "int" and (low != int(low) or high != int(high)):
            raise FieldError("space", f"{field}={spec}: an int range has whole ends")
        return Dimension(field, kind, low, high)
    if sep and kind.isalpha():
        raise FieldError("space", f"{field}={spec}: unknown kind {kind!r}; use log, float, int "
                                  "or a comma-separated list of values")  # fmt: skip
    values = [v.strip() for v in spec.split(",")]
    if not all(values) or len(set(values)) != len(values):
        raise FieldError("space", f"{field}={spec}: a choice is distinct values, comma-separated")
    return Dimension(field, "choice", choices=tuple(_value(v) for v in values))


def _value(text):
    """A choice's value as JSON reads it (numbers, true, null), else the text."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return text
    if isinstance(value, float) and not math.isfinite(value):
        raise FieldError("space", f"values must be finite; received {text!r}")
    return value


def default_storage():
    """The SQLite file under the results root: one machine, nothing to start."""
    return f"sqlite:///{(results_root() / STUDIES_FILE).resolve()}"


def open_storage(url):
    """Optuna's relational storage at `url` (SQLite, PostgreSQL, MySQL), reached now: a
    malformed or unreachable URL is one `FieldError`, before anything trains."""
    import optuna
    import sqlalchemy

    try:
        parsed = sqlalchemy.engine.make_url(url)
    except (sqlalchemy.exc.ArgumentError, ValueError) as error:
        raise FieldError("storage", f"is not a database URL ({error}); received {url!r}") from None
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        os.makedirs(os.path.dirname(os.path.abspath(parsed.database)), exist_ok=True)
    for attempt in range(3):  # workers starting at once on a new database race to make its tables
        try:
            return _rdb_storage(url, parsed)
        except sqlalchemy.exc.SQLAlchemyError as error:
            if "already exists" not in str(error) or attempt == 2:
                reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
                raise FieldError(
                    "storage", f"cannot be opened: {reason} ({_masked(parsed)})"
                ) from None
            time.sleep(0.5)
        except (ImportError, ValueError, optuna.exceptions.StorageInternalError) as error:
            raise FieldError("storage", f"cannot be opened: {error} ({_masked(parsed)})") from None


def _rdb_storage(url, parsed):
    import optuna
    from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback

    postgres = parsed.get_backend_name() == "postgresql"
    with warnings.catch_warnings():  # the heartbeat is "experimental" in Optuna since 2.8
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return RDBStorage(
            url,
            engine_kwargs={"connect_args": {"connect_timeout": 10}} if postgres else None,
            heartbeat_interval=HEARTBEAT_SECONDS,
            grace_period=GRACE_SECONDS,
            heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(),
        )


def _masked(parsed):
    return parsed.render_as_string(hide_password=True)


def masked_url(url):
    """A store's URL as it may be printed: its password hidden."""
    import sqlalchemy

    return _masked(sqlalchemy.engine.make_url(url))


def make_sampler(name, seed, dimensions):
    """Optuna's sampler called `name`, seeded."""
    import optuna.samplers as samplers

    if name not in SAMPLERS:
        raise FieldError("sampler", str(unknown("sampler", name, SAMPLERS)))
    if name == "gp" and importlib.util.find_spec("torch") is None:
        raise FieldError("sampler", "gp needs PyTorch (Optuna's Gaussian process runs on it): "
                                    "pip install torch")  # fmt: skip
    if name == "grid":
        return samplers.GridSampler({d.field: d.grid() for d in dimensions}, seed=seed)
    return {
        "random": lambda: samplers.RandomSampler(seed=seed),
        "tpe": lambda: samplers.TPESampler(seed=seed),
        "gp": lambda: samplers.GPSampler(seed=seed),
        "cmaes": lambda: samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False),
        # A population of 8 (Optuna's default is 50): a study of tens of trials then breeds
        # several generations instead of being its random first one, i.e. `random`.
        "nsga2": lambda: samplers.NSGAIISampler(seed=seed, population_size=NSGA2_POPULATION),
    }[name]()


def make_pruner(name):
    import optuna.pruners as pruners

    if name not in PRUNERS:
        raise FieldError("prune", str(unknown("pruner", name, PRUNERS)))
    return {
        "none": pruners.NopPruner,
        # Half the first trials run to the end before any is judged; then a run is stopped when
        # its evaluation is worse than the median of earlier runs at the same step.
        "median": lambda: pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=0),
        "asha": lambda: pruners.SuccessiveHalvingPruner(),
        "hyperband": lambda: pruners.HyperbandPruner(),
    }[name]()


class TrialReporter(ComparisonReporter):
    """Passes a trial's run events on, reports each evaluation to the trial, and stops the run
    (`optuna.TrialPruned`) at the step after the evaluation the pruner condemned, once that
    evaluation is committed."""

    def __init__(self, trial, outer):
        self.trial, self.outer = trial, outer
        self.pruned_at = self.status = None

    def run(self, index, count, label, seed, status):
        self.status = status  # reused, resumed or training
        self.outer.run(index, count, label, seed, status)

    def start(self, plan, facts):
        self.outer.start(plan, facts)

    def step(self, progress):
        if self.pruned_at is not None:
            import optuna

            raise optuna.TrialPruned(f"pruned after its evaluation at step {self.pruned_at}")
        self.outer.step(progress)

    def evaluation(self, row):
        self.outer.evaluation(row)
        if report(self.trial, row):
            self.pruned_at = row["step"]

    def message(self, text):
        self.outer.message(text)

    def end(self, summary):
        self.outer.end(summary)


def report(trial, row):
    """Report an evaluation row to `trial`; True when the pruner would stop it here."""
    loss = row.get("validation_loss")
    if loss is None or not math.isfinite(loss):
        return False
    trial.report(float(loss), int(row["step"]))
    return trial.should_prune()


def tune(
    model,
    *,
    space,
    trials,
    sampler="tpe",
    prune="none",
    study=None,
    storage=None,
    sampler_seed=0,
    overrides=(),
    run=None,
    reporter=None,
    **fields,
):
    """Search `space` for the `model` preset's lowest validation loss in `trials` trials.

    `space`: FIELD=SPEC strings or a dict (`log:LOW:HIGH`, `float:LOW:HIGH`, `int:LOW:HIGH`, or
    values `a,b,c`); any model or training field, or `batch_size`. `sampler` one of `SAMPLERS`
    (seeded by `sampler_seed`), `prune` one of `PRUNERS`. `study` names the study (default: one
    name per model, space, run options and sampler); `storage` a database URL (default: an
    SQLite file under the results root). `run` and `fields` set the options every trial shares
    (a budget: `flops`, `tokens` or `steps`; `data`, `seed`, `eval_interval`, ...);
    `overrides` ("key=value" or a dict) fix model or training fields for every trial.

    Returns {'kind': 'tune', 'model', 'study', 'storage', 'sampler', 'sampler_seed', 'pruner',
    'space', 'run', 'trials': [...], 'best', 'trained', 'wall_seconds', 'notes'}."""
    import optuna

    reporter = reporter or ComparisonReporter()
    if isinstance(trials, bool) or not isinstance(trials, int) or trials < 1:
        raise FieldError("trials", f"must be a whole number of trials, 1 or more; received "
                                   f"{trials!r}")  # fmt: skip
    dimensions = parse_space(space)
    fixed = _fixed(overrides, dimensions)
    base = run_config(run, **fields)
    sampler_object = make_sampler(sampler, sampler_seed, dimensions)
    pruner = make_pruner(prune)
    probe = _plan(model, base, {**fixed, **{d.field: d.grid()[0] for d in dimensions}})
    definition = {
        "model": probe.preset,
        "overrides": fixed,
        "space": [d.to_dict() for d in dimensions],
        "run": {k: v for k, v in base.to_dict().items() if k not in ("strategy", "backend")},
        "pruner": prune,
        "objective": "validation_loss",
    }
    name = study or _study_name(definition, sampler, sampler_seed)
    url = storage or default_storage()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    handle = _open_study(name, open_storage(url), definition, sampler_object, pruner)
    if handle.trials:
        # A seeded sampler starts its stream again in every process: continuing a study with
        # the same seed would draw its first trials' values again (the same runs, reused), so
        # a continued study's stream is seeded by the seed and the trials it already holds.
        sampler_object = make_sampler(sampler, _continued_seed(sampler_seed, len(handle.trials)),
                                      dimensions)  # fmt: skip
        handle.sampler = sampler_object
    notes = _requeue_dead_local_trials(handle)

    store = RunStore()
    started, trained = time.perf_counter(), []
    objective = _objective(model, base, dimensions, fixed, store, reporter, trained, sampler,
                           trials)  # fmt: skip
    while True:
        # Workers sharing the study: a trial running elsewhere counts (no worker starts one the
        # study does not need), one queued again (a dead worker's) is taken before a new one,
        # and a worker with nothing left to start waits for the others' last trials, so that
        # every worker prints the whole study.
        with warnings.catch_warnings():  # "experimental" in Optuna since 2.9
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            optuna.storages.fail_stale_trials(handle)  # a dead worker's: failed and requeued
        counts = _states(handle)
        if counts["waiting"] or counts["counted"] + counts["running"] < trials:
            if not counts["waiting"] and sampler == "grid" and sampler_object.is_exhausted(handle):
                notes.append(f"the grid has {_grid_size(dimensions)} points, all tried: "
                             f"{counts['counted']} trials, not {trials}")  # fmt: skip
                break
            handle.optimize(objective, n_trials=1, catch=(RunFailed,))
        elif counts["running"]:
            time.sleep(WAIT_SECONDS)
        else:
            break
    return _result(handle, definition, url, sampler, sampler_seed, prune, notes, trained,
                   time.perf_counter() - started)  # fmt: skip


def _fixed(overrides, dimensions):
    """The fields every trial fixes (`--set`), as parsed values; a searched one is refused."""
    from zoo.overrides import parse_overrides

    model, training = parse_overrides(overrides)
    fixed = {**model, **training}
    searched = [d.field for d in dimensions if d.field in fixed]
    if searched:
        raise FieldError("overrides", f"fix {searched[0]!r}, which the space searches")
    return json.loads(json.dumps(fixed))  # tuples as lists: the definition is stored as JSON


def compare_samplers(model, *, samplers, seeds, space, trials, tolerance=None, study=None,
                     reporter=None, **options):  # fmt: skip
    """The seed's question, how to choose hyperparameters, as a study: every sampler in
    `samplers` searches the same `space` of `model` for `trials` trials, once per sampler seed
    0 .. `seeds` - 1 (each its own study; `options` as for `tune`), and
    `zoo.scaling.search_curves.compare_searches` reads the trials: best loss after k trials and
    trials to within `tolerance` of the best any search found, with intervals over seeds.
    Every trial is a run by key, so a repeated comparison trains nothing."""
    from zoo.scaling.search_curves import TOLERANCE, compare_searches

    names = [samplers] if isinstance(samplers, str) else list(samplers)
    names = [n.strip() for name in names for n in str(name).split(",") if n.strip()]
    if not names or len(set(names)) != len(names):
        raise FieldError(
            "sampler", f"takes distinct samplers, e.g. tpe,random; received {samplers!r}"
        )
    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
        raise FieldError("sampler_seeds", f"must be 1 or more; received {seeds!r}")
    dimensions = parse_space(space)
    for name in names:  # every name checked before the first trial trains
        make_sampler(name, 0, dimensions)
    tolerance = TOLERANCE if tolerance is None else tolerance
    compare_searches([{"sampler": "check", "seed": 0, "losses": [1.0]}], tolerance=tolerance,
                     bootstrap=0)  # fmt: skip
    studies = []
    for name in names:
        for seed in range(seeds):
            result = tune(model, space=space, trials=trials, sampler=name, sampler_seed=seed,
                          study=study and f"{study}-{name}-s{seed}", reporter=reporter,
                          **options)  # fmt: skip
            rows = result["trials"][:trials]
            losses = [r["loss"] if r["state"] == "complete" else None for r in rows]
            studies.append({
                "sampler": name, "seed": seed, "study": result["study"],
                "losses": losses + [None] * (trials - len(losses)),  # an exhausted grid: flat
                # each trial's settings, in trial order: where the good ones lie, read later
                "params": [r["params"] for r in rows],
                "best": result["best"], "importance": result["importance"],
                "trained": result["trained"], "wall_seconds": result["wall_seconds"],
                "notes": result["notes"],
            })  # fmt: skip
    return {
        "kind": "samplers",
        "model": result["model"],
        "space": result["space"],
        "overrides": options.get("overrides") or {},
        "run": result["run"],
        "pruner": result["pruner"],
        "trials": trials,
        "studies": studies,
        "comparison": compare_searches(studies, tolerance=tolerance),
        "best": _best_found(studies),
        "importance": _mean_importance(studies),
        "trained": sum(s["trained"] for s in studies),
        "wall_seconds": sum(s["wall_seconds"] for s in studies),
    }


def _best_found(studies):
    """The best trial any search found: {'sampler', 'seed', 'loss', 'params', 'run'}."""
    found = [(s["best"]["loss"], i) for i, s in enumerate(studies) if s["best"]]
    if not found:
        return None
    study = studies[min(found)[1]]
    return {"sampler": study["sampler"], "seed": study["seed"], "loss": study["best"]["loss"],
            "params": study["best"]["params"], "run": study["best"]["run"]}  # fmt: skip


def _mean_importance(studies):
    """Each searched field's importance (Optuna's evaluator, per study) as the mean and range
    over the studies that have one: one study's 20 trials say little alone."""
    scores = [s["importance"] for s in studies if s.get("importance")]
    fields = sorted({f for score in scores for f in score})
    out = {}
    for f in fields:
        values = [score.get(f, 0.0) for score in scores]
        out[f] = {"mean": sum(values) / len(values), "range": [min(values), max(values)],
                  "studies": len(values)}  # fmt: skip
    return dict(sorted(out.items(), key=lambda item: -item[1]["mean"]))


def _plan(model, base, values):
    run_values = {k: v for k, v in values.items() if k in RUN_FIELDS}
    overrides = {k: v for k, v in values.items() if k not in RUN_FIELDS}
    return plan_run(model, base.replace(**run_values) if run_values else base,
                    overrides=overrides)  # fmt: skip


def _continued_seed(seed, trials):
    return int.from_bytes(hashlib.sha256(f"{seed}:{trials}".encode()).digest()[:4], "little")


def _study_name(definition, sampler, seed):
    digest = hashlib.sha256(json.dumps(definition, sort_keys=True).encode()).hexdigest()[:8]
    return f"{definition['model']}-{digest}-{sampler}-s{seed}"


def _open_study(name, storage, definition, sampler, pruner):
    import optuna

    study = optuna.create_study(study_name=name, storage=storage, sampler=sampler, pruner=pruner,
                                direction="minimize", load_if_exists=True)  # fmt: skip
    recorded = study.user_attrs.get(DEFINITION)
    if recorded is None:
        study.set_user_attr(DEFINITION, definition)
    elif recorded != json.loads(json.dumps(definition)):
        changed = [
            k for k in definition if recorded.get(k) != json.loads(json.dumps(definition[k]))
        ]
        raise FieldError("study", f"{name!r} exists with another {', '.join(changed)}: give "
                                  "another study name, or the same settings")  # fmt: skip
    return study


def _requeue_dead_local_trials(study):
    """Trials left RUNNING by a process of this host that no longer exists: failed, and their
    parameters queued again (the heartbeat does the same for other hosts, after its grace)."""
    import optuna

    notes = []
    for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        host, pid = trial.user_attrs.get("host"), trial.user_attrs.get("pid")
        if host != socket.gethostname() or pid is None or process_alive(pid):
            continue
        study._storage.set_trial_state_values(trial._trial_id, optuna.trial.TrialState.FAIL)
        study.enqueue_trial(trial.params, user_attrs={"retry_of": trial.number})
        notes.append(f"trial {trial.number} was left running by a process that stopped: "
                     "queued again, its run resumed")  # fmt: skip
    return notes


def process_alive(pid):
    """Whether process `pid` of this host still exists (another user's counts as alive)."""
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    return True


def _objective(model, base, dimensions, fixed, store, reporter, trained, sampler, trials):
    import optuna

    def objective(trial):
        trial.set_user_attr("host", socket.gethostname())
        trial.set_user_attr("pid", os.getpid())
        trial.set_user_attr("sampler", sampler)
        values = {d.field: d.suggest(trial) for d in dimensions}
        plan = _plan(model, base, {**fixed, **values})
        trial.set_user_attr("run_key", plan.key)
        label = " ".join(f"{k}={_short(v)}" for k, v in values.items())
        record = store.find(plan.key)
        for row in record.metrics() if record is not None else ():
            if report(trial, row) and not record.complete:
                trial.set_user_attr("run", str(record.path))
                raise optuna.TrialPruned(f"pruned at its committed step {row['step']}")
        listener = TrialReporter(trial, reporter)
        try:
            record = store.obtain(plan, listener, trial.number, trials, label, base.seed)
        except RunFailed as failure:
            trial.set_user_attr("diverged", str(failure))
            found = store.find(plan.key)
            if found is not None:
                trial.set_user_attr("run", str(found.path))
            raise
        except MapHeadroomError:
            # Not this trial's fault: this process has compiled too much to train another run.
            # Its settings go back to the queue, so the same command, a fresh process, trains
            # them first (the study's trials stay the sampler's, in its order).
            trial.study.enqueue_trial(trial.params, user_attrs={"retry_of": trial.number})
            raise
        except optuna.TrialPruned:
            found = store.find(plan.key)
            if found is not None:
                trial.set_user_attr("run", str(found.path))
            trained.append(trial.number)
            raise
        if listener.status != "reused":
            trained.append(trial.number)
        summary = record.summary()
        trial.set_user_attr("run", str(record.path))
        trial.set_user_attr("bits_per_byte", summary.get("validation_bits_per_byte"))
        return float(summary["validation_loss"])

    return objective


def _states(study):
    """{'counted': trials that count toward `trials` (complete, pruned, or failed by divergence;
    a dead process's failure is retried instead), 'running', 'waiting' (queued)}."""
    import optuna

    state = optuna.trial.TrialState
    counts = {"counted": 0, "running": 0, "waiting": 0}
    for t in study.get_trials(deepcopy=False):
        if t.state in (state.COMPLETE, state.PRUNED) or (
            t.state == state.FAIL and "diverged" in t.user_attrs
        ):
            counts["counted"] += 1
        elif t.state == state.RUNNING:
            counts["running"] += 1
        elif t.state == state.WAITING:
            counts["waiting"] += 1
    return counts


def _grid_size(dimensions):
    return math.prod(len(d.grid()) for d in dimensions)


def _short(value):
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def _result(study, definition, url, sampler, seed, prune, notes, trained, wall):
    import optuna

    rows = []
    for t in study.get_trials(deepcopy=False):
        if t.state == optuna.trial.TrialState.FAIL and "diverged" not in t.user_attrs:
            continue  # a dead process's trial: its parameters were queued again
        rows.append({
            "number": t.number,
            "state": "diverged" if "diverged" in t.user_attrs else t.state.name.lower(),
            "params": dict(t.params),
            "loss": t.value if t.state == optuna.trial.TrialState.COMPLETE else
            (max(t.intermediate_values.items())[1] if t.intermediate_values else None),
            "bits_per_byte": t.user_attrs.get("bits_per_byte"),
            "steps": max(t.intermediate_values) if t.intermediate_values else None,
            "run": t.user_attrs.get("run"),
            "sampler": t.user_attrs.get("sampler"),
            "trained_now": t.number in trained,
        })  # fmt: skip
    complete = [r for r in rows if r["state"] == "complete"]
    best = min(complete, key=lambda r: r["loss"]) if complete else None
    importance = None
    if len(complete) >= 2:  # Optuna's default evaluator (PED-ANOVA) over the complete trials
        with warnings.catch_warnings():  # a few trials: "importances will be equal", as shown
            warnings.simplefilter("ignore", UserWarning)
            found = optuna.importance.get_param_importances(study)
        importance = {k: float(v) for k, v in found.items()}
    return {
        "kind": "tune",
        "model": definition["model"],
        "study": study.study_name,
        "storage": masked_url(url),
        "sampler": sampler,
        "sampler_seed": seed,
        "pruner": prune,
        "space": definition["space"],
        "run": definition["run"],
        "trials": rows,
        "best": best,
        "importance": importance,
        "trained": len(trained),
        "wall_seconds": wall,
        "notes": notes,
    }


__all__ = [
    "Dimension",
    "PRUNERS",
    "SAMPLERS",
    "compare_samplers",
    "default_storage",
    "parse_space",
    "tune",
]
