"""`zoo sweep`: the plan is resolved and refused before anything trains; a tiny real sweep runs,
survives Ctrl-C between runs and inside one, and a rerun trains only what is missing."""

import math
import signal

import pytest

from zoo.accounting import count_params, flops_per_token
from zoo.errors import ZooError
from zoo.experiments import sweep as sweeps
from zoo.experiments.grid import (
    SWEEP_VOCABULARY,
    Arm,
    isoflop_shapes,
    learning_rate_for,
    parse_arms,
    parse_budgets,
    sweep_model,
)

pytestmark = pytest.mark.usefixtures("isolated")

# Three distinct llama-nano shapes exist at each budget (a smaller one would have two).
BUDGETS = (1e10, 3e10)


class Statuses(sweeps.SweepReporter):
    def __init__(self):
        self.seen = []
        self.plan = None

    def planned(self, sweep):
        self.plan = sweep

    def run(self, index, count, label, seed, status):
        self.seen.append(status)


def test_budgets_must_increase_and_be_finite():
    assert parse_budgets("1e10, 3e10") == (1e10, 3e10)
    for text, fragment in [
        ("3e10,1e10", "must increase"),
        ("1e10,1e10", "must increase"),
        ("1e10,inf", "positive and finite"),
        ("1e10,nan", "finite"),
        ("1e10,-1", "positive"),
        ("1e10", "at least two"),
        ("1e10,abc", "separated by commas"),
    ]:
        with pytest.raises(ZooError, match=fragment):
            parse_budgets(text)


def test_arms_are_models_or_one_models_ablations():
    arms = parse_arms("gpt2,llama")
    assert [a.name for a in arms] == ["gpt2-small", "llama-small"]
    ablated = parse_arms("llama", ablate="normalization=layernorm,feedforward=gelu")
    assert [a.changes for a in ablated] == [
        {},
        {"normalization": "layernorm"},
        {"feedforward": "gelu"},
    ]
    with pytest.raises(ZooError, match="nope"):
        parse_arms("gpt2,nope")
    with pytest.raises(ZooError, match="one base model"):
        parse_arms("gpt2,llama", ablate="feedforward=gelu")


def test_isoflop_sizes_span_the_predicted_optimum_along_the_familys_shape():
    config = sweep_model(Arm("llama-small", "llama-small", {}))
    assert config.vocabulary_size == SWEEP_VOCABULARY
    budget = 1.6e13
    shapes = isoflop_shapes(config, budget, 5)
    sizes = [count_params(s) for _, s in shapes]
    assert sizes == sorted(sizes) and len(set(sizes)) == 5
    middle = shapes[2][1]  # the predicted optimum: ~20 tokens per parameter
    tokens = budget / flops_per_token(middle).palm
    assert 15 < tokens / count_params(middle) < 25
    assert sizes[-1] / sizes[0] > 10  # about 1/5× to 5× of the optimum
    for _, shape in shapes:  # the family's proportions: heads and feed-forward ratio kept
        assert shape.num_query_heads == config.num_query_heads
        assert shape.head_dim * shape.num_query_heads == shape.hidden_dim


def test_learning_rate_falls_with_size_as_the_rule_says():
    arm = Arm("llama-small", "llama-small", {})
    config = sweep_model(arm)
    small, large = isoflop_shapes(config, 1.6e13, 3)[0][1], isoflop_shapes(config, 1.6e13, 3)[2][1]
    ratio = learning_rate_for(arm, small) / learning_rate_for(arm, large)
    assert ratio == pytest.approx((count_params(small) / count_params(large)) ** (-1 / 3))
    assert learning_rate_for(Arm("x", "llama-small", {"learning_rate": 1e-3}), small) == 1e-3


@pytest.mark.slow
def test_dry_run_plans_and_estimates_without_training(corpus, tmp_path):
    reporter = Statuses()
    plan = sweeps.sweep_isoflop(
        "llama-nano", budgets=BUDGETS, sizes=3, data=str(corpus), dry_run=True, reporter=reporter
    )
    assert reporter.plan is plan and reporter.seen == []
    assert len(plan["plan"]) == 6 and "points" not in plan
    assert all(r["status"] == "training" and r["estimated_seconds"] > 0 for r in plan["plan"])
    assert plan["estimated_seconds"] == pytest.approx(
        sum(r["estimated_seconds"] for r in plan["plan"])
    )
    for row in plan["plan"]:  # each run is sized to its budget
        assert row["flops"] == pytest.approx(row["budget"], rel=0.05)
    assert not (tmp_path / "results").exists() or not any((tmp_path / "results").iterdir())


@pytest.fixture
def ctrl_c():
    """Python's own SIGINT handler (KeyboardInterrupt), as in a terminal. A process started in
    the background by a non-interactive shell inherits SIGINT ignored, and Python then keeps it
    ignored, so the test installs the handler instead of relying on how it was launched."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


@pytest.mark.slow
def test_a_tiny_sweep_survives_interruption_and_reruns_only_what_is_missing(corpus, ctrl_c):
    args = dict(budgets=BUDGETS, sizes=3, data=str(corpus), batch_size=64, bootstrap=20)

    class BetweenRuns(Statuses):  # SIGINT (Ctrl-C) as the third run is about to start
        def run(self, index, count, label, seed, status):
            super().run(index, count, label, seed, status)
            if index == 2:
                signal.raise_signal(signal.SIGINT)

    class InsideRun(Statuses):  # SIGINT in the middle of the fourth run
        def step(self, progress):
            if len(self.seen) == 4 and progress["step"] >= 100:  # after its first commit
                signal.raise_signal(signal.SIGINT)

    first = BetweenRuns()
    with pytest.raises(KeyboardInterrupt):
        sweeps.sweep_isoflop("llama-nano", reporter=first, **args)
    assert first.seen == ["training", "training", "training"]
    second = InsideRun()
    with pytest.raises(KeyboardInterrupt):
        sweeps.sweep_isoflop("llama-nano", reporter=second, **args)
    assert [r["status"] for r in second.plan["plan"]][:3] == ["reused", "reused", "training"]
    assert second.seen == ["reused", "reused", "training", "training"]
    third = Statuses()
    result = sweeps.sweep_isoflop("llama-nano", reporter=third, **args)
    assert third.seen == ["reused"] * 3 + ["resumed", "training", "training"]
    assert len(result["points"]) == 6
    for point in result["points"]:
        assert math.isfinite(point["loss"]) and point["params"] > 0
        assert point["flops"] == pytest.approx(
            point["budget"], rel=0.1
        )  # whole steps of 4,096 tokens
        assert point["epochs"] > 0
    assert set(result["fits"]) == {"isoflop", "parametric"}
    repeat = Statuses()
    again = sweeps.sweep_isoflop("llama-nano", reporter=repeat, **args)
    assert repeat.seen == ["reused"] * 6
    assert again["points"] == result["points"]
    assert again["fits"] == result["fits"]  # the bootstrap is seeded


def test_bad_input_fails_before_anything_trains(corpus, tmp_path):
    for kwargs, fragment in [
        (dict(budgets="3e10,1e10"), "must increase"),
        (dict(budgets="1e10,inf"), "finite"),
        (dict(budgets=BUDGETS, sizes=1), "^sizes must be at least 3"),
        (dict(budgets=BUDGETS, seeds=0), "^seeds"),
        (dict(budgets=BUDGETS, params="kaplan"), "params convention"),
    ]:
        with pytest.raises(ZooError, match=fragment):
            sweeps.sweep_isoflop("llama-nano", data=str(corpus), **kwargs)
    with pytest.raises(ZooError, match="nope"):
        sweeps.sweep_compute("gpt2-nano,nope", budgets=BUDGETS, data=str(corpus))
    with pytest.raises(ZooError, match="allocation"):
        sweeps.sweep_compute("gpt2-nano", budgets=BUDGETS, allocation="greedy", data=str(corpus))
    assert not (tmp_path / "results").exists() or not any((tmp_path / "results").iterdir())


@pytest.mark.parametrize("bad", [-1, -1000, 2.5, True, "20"])
def test_a_bootstrap_count_below_zero_or_not_whole_is_refused_before_anything_trains(
    corpus, tmp_path, bad
):
    for sweep, model in ((sweeps.sweep_isoflop, "llama-nano"), (sweeps.sweep_compute, "gpt2-nano")):
        with pytest.raises(
            ZooError,
            match=r"^bootstrap must be a whole number of resamples, "
            rf"0 or more; received {bad!r}$",
        ):
            sweep(model, budgets=BUDGETS, bootstrap=bad, data=str(corpus))
    assert not (tmp_path / "results").exists() or not any((tmp_path / "results").iterdir())


def _point(arm, budget, params, loss, seed=0):
    """A sweep's point (`zoo.experiments.sweep._point`'s columns), tokens from the budget."""
    tokens = budget / (6 * params)
    return {
        "arm": arm,
        "budget": budget,
        "seed": seed,
        "params": params,
        "non_embedding_params": params // 2,
        "num_layers": 1,
        "hidden_dim": 16,
        "tokens": tokens,
        "flops": budget,
        "flops_6n": budget,
        "flops_exact": budget,
        "loss": loss,
        "bits_per_byte": loss / math.log(2),
        "final_train_loss": loss,
        "epochs": 0.1,
        "learning_rate": 1e-3,
        "warmup_steps": 10,
        "batch_size": 4,
        "wall_seconds": 1.0,
        "run": f"results/{arm}-{budget}-{seed}",
    }


def _unfitted_sweep(kind, points):
    """A finished sweep whose fits could not be made, as `sweep_compute`/`sweep_isoflop` return
    it (their `_fit`: {'error': why})."""
    from zoo.scaling.fit import fit_compute, fit_isoflop, fit_parametric

    laws = (
        {"compute": fit_compute}
        if kind == "compute"
        else {"isoflop": fit_isoflop, "parametric": fit_parametric}
    )
    return {
        "kind": kind,
        "points": points,
        "failed": [],
        "baseline": {"name": "KN 8-gram", "order": 8, "bits_per_byte": 2.0, "loss": 1.4},
        "fits": {law: sweeps._fit(fit, points, bootstrap=5) for law, fit in laws.items()},
    }


def test_a_sweep_whose_fit_could_not_be_made_plots_its_points_alone(tmp_path):
    """Before: KeyError 'arms' (and 'budgets', 'E') in zoo.scaling.fit_plot."""
    from zoo.scaling.sweep_plot import plot_sweep

    one_budget = _unfitted_sweep(
        "compute", [_point("gpt2-nano", 1e10, 8000, 3.1), _point("llama-nano", 1e10, 9000, 3.0)]
    )
    assert "needs more points" in one_budget["fits"]["compute"]["error"]
    paths, notes = plot_sweep(one_budget, tmp_path / "compute.svg")
    assert paths == [tmp_path / "compute.svg"]
    figure = (tmp_path / "compute.svg").read_text()
    assert "not fitted" in figure and "llama-nano" in figure and "KN 8-gram" in figure
    assert notes == [
        f"{tmp_path / 'compute.svg'}: the points alone, without the compute fit "
        f"({one_budget['fits']['compute']['error']})"
    ]

    two_sizes = _unfitted_sweep(
        "isoflop",
        [_point("llama-nano", b, n, 3.0 - n / 1e5) for b in BUDGETS for n in (8000, 20000)],
    )
    assert all("error" in fit for fit in two_sizes["fits"].values())
    paths, notes = plot_sweep(two_sizes, tmp_path / "isoflop.png")
    assert paths == [tmp_path / "isoflop.png", tmp_path / "isoflop-parametric.png"]
    assert all(path.read_bytes().startswith(b"\x89PNG") for path in paths)
    assert [note.split(":")[0] for note in notes] == [str(path) for path in paths]


def test_a_sweep_with_no_finished_run_writes_no_plot_and_says_why(tmp_path):
    from zoo.scaling.sweep_plot import plot_sweep

    for kind in ("compute", "isoflop"):
        sweep = _unfitted_sweep(kind, [])
        assert plot_sweep(sweep, tmp_path / f"{kind}.pdf") == (
            [],
            [
                f"no plot written to {tmp_path / f'{kind}.pdf'}: no run finished, so there is "
                "no point to draw"
            ],
        )
    assert not any(tmp_path.glob("*.pdf"))


def test_an_allocation_is_the_recipes_type_in_either_spelling():
    """One `Allocation` for recipes and sweeps: the command line's `compute-optimal` and the
    recipe's `compute_optimal` are one value; arms and records keep the dashed name."""
    from zoo.experiments.grid import Arm, compute_cells, parse_allocations
    from zoo.recipe import Allocation

    both = (Allocation.FIXED, Allocation.COMPUTE_OPTIMAL)
    assert parse_allocations("fixed,compute-optimal") == both
    assert parse_allocations("fixed, compute_optimal") == both
    assert parse_allocations([Allocation.FIXED, "compute-optimal"]) == both
    for bad, fragment in [("greedy", "received 'greedy'"), ("fixed,fixed", "at most once")]:
        with pytest.raises(ZooError, match=f"^allocation .*{fragment}"):
            parse_allocations(bad)
    cells = compute_cells([Arm("gpt2-nano", "gpt2-nano", {})], (1e10,), 1, "fixed,compute_optimal")
    assert [arm.name for arm, *_ in cells] == ["gpt2-nano (fixed)", "gpt2-nano (compute-optimal)"]


@pytest.mark.slow
def test_the_committed_studies_grids_plan_the_recorded_keys(monkeypatch):
    """Every cell of the four committed sweep studies, planned through the grid as a rerun of
    the study would plan it (scripts/record_plan_keys.py), has the key recorded for it, so a
    change to shapes, rates or batches that moved a key would show here, not as retraining."""
    import importlib.util
    import json
    import pathlib

    from zoo.experiments import grid

    root = pathlib.Path(__file__).parents[2]
    spec = importlib.util.spec_from_file_location("record", root / "scripts/record_plan_keys.py")
    record = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(record)
    monkeypatch.delenv("ZOO_CACHE")  # the recorded keys are of Shakespeare's shared tokenizer
    monkeypatch.chdir(root)  # the studies are read from results/reference
    recorded = json.loads((root / "tests/training/data/plan-keys.json").read_text())
    base = grid.sweep_run_config()
    for name in ("compute-gpt2-llama", "isoflop-llama", "compute-allocation", "compute-recipes"):
        keys = [p.plan.key for p in grid.plan_grid(record._sweep_cells(name), base)]
        assert keys == [r["key"] for r in recorded if r["study"] == name], name


def test_papers_shapes_give_every_cell_two_layers_and_32_wide_heads(corpus):
    """`shapes="papers"`: the rule issue 24's studies use; recorded in the sweep's request."""
    from zoo.experiments.grid import compute_cells, isoflop_shapes, parse_arms, sweep_model

    arms = parse_arms("gpt2,gpt3,palm,llama")
    for arm, budget, _, _, shape in compute_cells(arms, (1e12, 3e13), 1, shapes="papers"):
        assert shape.num_layers >= 2 and shape.head_dim == 32, (arm.name, budget)
    llama = sweep_model(parse_arms("llama")[0])
    sizes = [s for _, s in isoflop_shapes(llama, 1e13, 5, shapes="papers")]
    assert all(s.num_layers >= 2 and s.head_dim == 32 for s in sizes)
    counted = [count_params(s) for s in sizes]
    assert counted == sorted(counted) and len(set(counted)) == 5
    from zoo.experiments.grid import hyperparameter_rules

    assert hyperparameter_rules(False, shapes="papers")["shapes"].startswith("papers: at least 2")
    # The plan's vocabulary line says what the runs use: bytes by default, each arm's own
    # tokenizer with --tokenizer native (it said "bytes" for both).
    assert hyperparameter_rules(False)["vocabulary"].startswith("bytes: the byte-level BPE")
    native = hyperparameter_rules(False, tokenizer="native")["vocabulary"]
    assert native.startswith("native: each arm's own kind") and "bits per byte" in native
    with pytest.raises(ZooError, match="^shapes must be one of family-heads, papers; received 'x'"):
        sweeps.sweep_compute("llama-nano", budgets="1e12,3e12", shapes="x", data=str(corpus))


def test_a_rate_grid_trains_each_cell_at_every_rate_and_batch_for_its_whole_budget(corpus):
    """`rate_grid`: a transform of a planned grid; each run keeps its budget and its shape."""
    from zoo.experiments.grid import compute_cells, parse_arms, plan_grid, sweep_run_config
    from zoo.experiments.tuning import rate_grid

    base = sweep_run_config(data=str(corpus))
    planned = plan_grid(compute_cells(parse_arms("llama-nano"), (1e10, 3e10), 1), base)
    grid = rate_grid(planned, (0.5, 1.0, 2.0), (0.5, 1.0))
    assert len(grid) == 2 * 3 * 2
    for p in planned:
        mine = [g for g in grid if g.flops == p.flops]
        rates = sorted({g.learning_rate for g in mine})
        assert rates == pytest.approx([p.learning_rate * f for f in (0.5, 1.0, 2.0)])
        assert {g.plan.run.batch_size for g in mine} == {
            p.plan.run.batch_size,
            max(1, round(p.plan.run.batch_size / 2)),
        }
        assert all(g.plan.run.flops == p.flops and g.config == p.config for g in mine)
        assert all(g.plan.training.learning_rate == g.learning_rate for g in mine)
        assert len({g.plan.key for g in mine}) == 6 and len({g.label for g in mine}) == 6
    for bad in ("0.5,-1", "1,1", "x"):
        with pytest.raises(ZooError, match="^rate_factors"):
            sweeps.sweep_rates("llama-nano", budgets="1e10,3e10", rate_factors=bad)


@pytest.mark.slow
def test_a_rates_sweep_fits_the_rule_per_arm_reruns_and_checks_it_higher(corpus, tmp_path):
    import json

    from zoo.scaling.hyperparameters import predict_rule

    class Statuses(sweeps.SweepReporter):
        def __init__(self):
            self.seen = []

        def run(self, index, count, label, seed, status):
            self.seen.append(status)

    request = dict(budgets="1e10,3e10", rate_factors="0.5,1,2", shapes="family-heads",
                   data=str(corpus), bootstrap=20)  # fmt: skip
    sweep = sweeps.sweep_rates("llama-nano", **request)
    assert sweep["kind"] == "rates" and len(sweep["points"]) == 6 and not sweep["failed"]
    (arm,) = sweep["fits"]["rates"]["arms"]
    assert arm["name"] == "llama-nano" and arm["batch_tokens"] is None
    rate = arm["learning_rate"]
    assert rate["a"] > 0 and math.isfinite(rate["b"]) and rate["b_ci"][0] <= rate["b"]
    assert {p["learning_rate"] for p in sweep["points"]} >= {c["learning_rate"]
                                                           for c in arm["near_optimal"]}  # fmt: skip
    statuses = Statuses()
    again = sweeps.sweep_rates("llama-nano", reporter=statuses, **request)
    assert statuses.seen == ["reused"] * 6 and again["fits"] == sweep["fits"]

    # The rule extrapolated to a larger budget, and checked there by a grid centred on it.
    fitted = tmp_path / "rates.json"
    fitted.write_text(json.dumps(sweep))
    check = sweeps.sweep_rates("llama-nano", budgets="1e11", rate_factors="0.5,1,2", check=fitted,
                               shapes="family-heads", data=str(corpus))  # fmt: skip
    (row,) = check["fits"]["check"]["arms"]
    assert row["budget"] == 1e11 and row["arm"] == "llama-nano"
    assert row["predicted_learning_rate"] == pytest.approx(predict_rule(rate, 1e11))
    assert row["ratio"] in [pytest.approx(1 / f) for f in (0.5, 1.0, 2.0)]


def test_a_fitted_rule_sets_each_arms_rate_and_batch(corpus, tmp_path):
    import json

    from zoo.experiments.grid import RateRule, compute_cells, parse_arms, plan_grid
    from zoo.experiments.grid import sweep_run_config

    rule = tmp_path / "rates.json"
    line = {"a": 0.5, "b": -0.1}
    batch = {"a": 2.0, "b": 0.3}
    arms = [{"name": "llama-nano", "learning_rate": line, "batch_tokens": batch}]
    rule.write_text(json.dumps({"kind": "rates", "fits": {"rates": {"arms": arms}}}))
    base = sweep_run_config(data=str(corpus))
    cells = compute_cells(parse_arms("llama-nano"), (1e10, 3e10), 1)
    for p in plan_grid(cells, base, rule=RateRule.load(rule)):
        assert p.learning_rate == pytest.approx(0.5 * p.flops**-0.1)
        wanted = round(2.0 * p.flops**0.3 / p.config.max_sequence_length)
        assert p.plan.run.batch_size == min(wanted, p.plan.run.batch_size) >= 1
        assert p.plan.training.learning_rate == p.learning_rate
    with pytest.raises(ZooError, match="^rates .* has no rule for gpt2-nano .it has llama-nano"):
        sweeps.sweep_compute("gpt2-nano", budgets="1e10,3e10", rates=rule, data=str(corpus))
    with pytest.raises(ZooError, match="^tune_lr cannot be combined with a fitted rule"):
        sweeps.sweep_compute("llama-nano", budgets="1e10,3e10", rates=rule, tune_lr=True)
    (tmp_path / "bad.json").write_text('{"fits": {}}')
    with pytest.raises(ZooError, match="^check .* is not a rates sweep's JSON"):
        sweeps.sweep_rates("llama-nano", budgets="1e10", check=tmp_path / "bad.json")


def test_an_isoflop_study_centres_its_sizes_where_it_is_asked():
    """`center`: the middle size trains on that many tokens per parameter (an earlier study's
    measured optimum instead of Chinchilla's 20): more tokens per parameter, smaller sizes."""
    from zoo.comparison.allocation import tokens_per_parameter
    from zoo.experiments.grid import isoflop_cells, parse_arms

    arm = parse_arms("llama")[0]
    chinchilla = isoflop_cells(arm, (3e13,), 5, 1, shapes="papers")
    measured = isoflop_cells(arm, (3e13,), 5, 1, shapes="papers", center=95.0)
    middle = [count_params(cell[4]) for cell in (chinchilla[2], measured[2])]
    assert middle[1] < middle[0]
    assert tokens_per_parameter(measured[2][4], 3e13) == pytest.approx(95.0, rel=0.5)
    with pytest.raises(ZooError, match="^center must be a positive number"):
        isoflop_cells(arm, (1e13,), 5, 1, center=0)


def test_output_logits_are_read_from_the_probe_as_scipy_computes_log_z(tmp_path):
    """A sweep point's output log Z (what z-loss pulls to 0) against scipy's logsumexp."""
    import types

    import numpy as np
    from scipy.special import logsumexp

    logits = np.random.default_rng(0).normal(0, 30, size=(2, 5, 11)).astype("float32")
    probe = tmp_path / "probe.npz"
    np.savez(probe, tokens=np.zeros((2, 5), "int32"), logits=logits)
    read = sweeps._output_logits(types.SimpleNamespace(probe_path=probe))
    log_z = logsumexp(logits.astype("float64"), axis=-1)
    assert read["output_log_z"] == pytest.approx(log_z.mean())
    assert read["output_abs_log_z"] == pytest.approx(np.abs(log_z).mean())
    assert read["output_max_abs_logit"] == pytest.approx(np.abs(logits).max())
    assert sweeps._output_logits(types.SimpleNamespace(probe_path=tmp_path / "none.npz")) == {}


def test_a_sweep_fitted_in_bits_per_byte_plots_bits_per_byte(tmp_path):
    """Tokenizers differ in what a token is: such a sweep (metric bits_per_byte) draws each
    point at its bits per byte, the baseline line at its own, and says so on the axis."""
    from zoo.scaling.sweep_plot import plot_sweep

    points = [_point("llama-nano", 1e10, 8000, 3.1), _point("llama-nano", 1e10, 9000, 3.0)]
    for p in points:
        p["bits_per_byte"] = 1.0 + p["loss"] / 10  # no longer loss / ln 2
    sweep = {**_unfitted_sweep("compute", points), "metric": "bits_per_byte"}
    plot_sweep(sweep, tmp_path / "bits.svg")
    figure = (tmp_path / "bits.svg").read_text()
    assert "bits per byte" in figure and "nats per token" not in figure


def test_an_unknown_metric_is_refused_before_anything_runs():
    with pytest.raises(ZooError, match="^metric must be one of loss, bits_per_byte"):
        sweeps.sweep_compute("llama-nano", budgets="1e10,3e10", metric="perplexity")


@pytest.mark.slow  # a dry run calibrates its estimate by timing a few compiled steps
def test_a_rate_fixed_by_set_is_what_the_plan_says(corpus):
    """--set learning_rate=X replaces the size rule for every run; the plan's words say so
    (and each row carries X), not the rule it replaced."""
    plan = sweeps.sweep_compute(
        "llama-nano", budgets=BUDGETS, overrides=("learning_rate=0.004",), data=str(corpus),
        dry_run=True,
    )  # fmt: skip
    assert plan["hyperparameters"]["learning_rate"].startswith("fixed by --set learning_rate")
    assert {row["learning_rate"] for row in plan["plan"]} == {0.004}
    ruled = sweeps.sweep_compute("llama-nano", budgets=BUDGETS, data=str(corpus), dry_run=True)
    assert ruled["hyperparameters"]["learning_rate"].startswith("peak learning rate = ")
