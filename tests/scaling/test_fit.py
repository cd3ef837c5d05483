"""The scaling fits recover known laws, their bootstrap intervals cover the truth at about the
nominal rate, and compute multipliers come out as the compute scale between two arms."""

import json
import math

import numpy as np
import pytest
from scipy import optimize, stats

from zoo.scaling import (
    compute_multiplier,
    fit_compute,
    fit_isoflop,
    fit_parametric,
    optimal_allocation,
    predict_parametric,
)
from zoo.scaling import fit as fitting

CHINCHILLA = {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28}  # Hoffmann et al.
BESIROGLU = {"E": 1.8172, "A": 482.0, "B": 2085.4, "alpha": 0.3478, "beta": 0.3658}


def allocation(law):
    return law["beta"] / (law["alpha"] + law["beta"])


def law_points(
    law, *, noise=0.005, seed=0, sizes=np.logspace(7, 9.5, 6), tokens=np.logspace(9, 11.5, 6)
):
    """A grid of N × D with multiplicative noise on the loss."""
    rng = np.random.default_rng(seed)
    return [
        {
            "params": float(n),
            "tokens": float(d),
            "loss": float(predict_parametric(law, n, d) * math.exp(rng.normal(0, noise))),
        }
        for n in sizes
        for d in tokens
    ]


def within_binomial(hits, trials, rate, tail=1e-3):
    """`hits` of `trials` is a plausible count for a coverage of `rate` (two-sided, `tail`)."""
    low = stats.binom.ppf(tail / 2, trials, rate)
    high = stats.binom.isf(tail / 2, trials, rate)
    return low <= hits <= high


def assert_json_ready(result):
    def walk(value):
        if isinstance(value, dict):
            return all(isinstance(k, str) and walk(v) for k, v in value.items())
        if isinstance(value, list):
            return all(walk(v) for v in value)
        if isinstance(value, float):
            return math.isfinite(value)
        return value is None or type(value) in (str, int, bool)

    assert walk(result)
    json.dumps(result, allow_nan=False)


# --- approach 3: the parametric law ---


@pytest.fixture(scope="module")
def chinchilla():
    points = law_points(CHINCHILLA)
    return points, fit_parametric(points, bootstrap=20)


@pytest.mark.slow
def test_parametric_recovers_chinchilla(chinchilla):
    _, fit = chinchilla
    assert fit["starts"] == 4500 and fit["bootstrap"] == 20  # Hoffmann et al.'s full grid
    assert fit["alpha"] == pytest.approx(CHINCHILLA["alpha"], abs=0.03)
    assert fit["beta"] == pytest.approx(CHINCHILLA["beta"], abs=0.03)
    assert fit["E"] == pytest.approx(CHINCHILLA["E"], rel=0.05)
    assert fit["a"] == pytest.approx(allocation(CHINCHILLA), abs=0.03)
    assert fit["a"] + fit["b"] == pytest.approx(1)
    assert fit["a_ci"][0] <= allocation(CHINCHILLA) <= fit["a_ci"][1]
    for key in ("E", "A", "B", "alpha", "beta", "a", "b", "tokens_per_parameter"):
        low, high = fit[f"{key}_ci"]
        assert low <= high
    assert [row["flops"] for row in fit["optimal"]] == [10.0**k for k in range(17, 22)]
    assert_json_ready(fit)


@pytest.mark.slow
def test_parametric_recovers_besiroglu():
    fit = fit_parametric(law_points(BESIROGLU, seed=1), bootstrap=0)
    assert fit["alpha"] == pytest.approx(BESIROGLU["alpha"], abs=0.03)
    assert fit["beta"] == pytest.approx(BESIROGLU["beta"], abs=0.03)
    assert fit["a"] == pytest.approx(allocation(BESIROGLU), abs=0.03)  # 0.513
    assert fit["a_ci"] is None  # no bootstrap, no interval
    assert_json_ready(fit)


@pytest.mark.slow
def test_bootstrap_starts_reach_the_full_grid_optimum(chinchilla):
    """A bootstrap refit starts from the full-data optimum and 16 random grid starts; on a
    resampled data set that finds what the full grid of 4,500 finds."""
    points, fit = chinchilla
    logs = [np.log([p[k] for p in points]) for k in ("params", "tokens", "loss")]
    theta = np.array(
        [math.log(fit["A"]), math.log(fit["B"]), math.log(fit["E"]), fit["alpha"], fit["beta"]]
    )
    rng = np.random.default_rng(3)
    pick = rng.integers(0, len(points), len(points))
    data = [x[pick] for x in logs]
    grid = fitting.grid_starts()
    full, full_value = fitting.fit_from_starts(*data, grid)
    subset = grid[rng.choice(len(grid), fitting.BOOTSTRAP_STARTS, replace=False)]
    quick, quick_value = fitting.fit_from_starts(
        *data, np.vstack([theta, subset]), polish=fitting.BOOTSTRAP_POLISH
    )
    assert quick_value == pytest.approx(full_value, rel=1e-6)
    np.testing.assert_allclose(quick[3:], full[3:], atol=1e-3)  # alpha, beta
    assert abs(full[3] - fit["alpha"]) > 1e-3  # the resample's optimum moved: a real refit


def test_the_huber_objective_is_summed_and_its_gradient_exact():
    logs = [np.log([p[k] for p in law_points(CHINCHILLA)]) for k in ("params", "tokens", "loss")]
    theta = np.array([6.0, 6.0, 0.5, 0.34, 0.28])
    value, _ = fitting.huber_objective(theta, *logs)
    doubled, _ = fitting.huber_objective(theta, *[np.concatenate([x, x]) for x in logs])
    assert doubled == pytest.approx(2 * value)  # a sum, not a mean
    for point in (theta, np.array([5.0, 7.0, 0.2, 0.3, 0.35]), np.array([0.0, 25, -1, 2, 0])):
        error = optimize.check_grad(
            lambda t: fitting.huber_objective(t, *logs)[0],
            lambda t: fitting.huber_objective(t, *logs)[1],
            point,
        )
        assert error < 1e-6 * max(1.0, np.abs(fitting.huber_objective(point, *logs)[1]).max())


def test_optimal_allocation_minimises_the_law_at_fixed_compute():
    for flops in (1e18, 1e21, 1e24):
        found = optimize.minimize_scalar(
            lambda log_n: predict_parametric(
                CHINCHILLA, math.exp(log_n), flops / (6 * math.exp(log_n))
            ),
            bounds=(5, 40),
            method="bounded",
            options={"xatol": 1e-10},
        )
        best = optimal_allocation(CHINCHILLA, flops)
        assert best["n_opt"] == pytest.approx(math.exp(found.x), rel=1e-4)
        assert 6 * best["n_opt"] * best["d_opt"] == pytest.approx(flops)
        assert best["tokens_per_parameter"] == pytest.approx(best["d_opt"] / best["n_opt"])


@pytest.mark.slow
def test_parametric_intervals_cover_the_truth():
    trials, hits = 30, 0
    for replicate in range(trials):
        fit = fit_parametric(
            law_points(CHINCHILLA, noise=0.01, seed=100 + replicate),
            bootstrap=40,
            starts=200,
            seed=replicate,
        )
        hits += fit["a_ci"][0] <= allocation(CHINCHILLA) <= fit["a_ci"][1]
    assert within_binomial(hits, trials, 0.95), hits


# --- approach 2: IsoFLOP valleys ---


def isoflop_points(law, budgets, *, spread=1.2, count=7, noise=0.002, seed=0):
    """At each budget, `count` sizes around the law's optimum, tokens = C / 6N."""
    rng = np.random.default_rng(seed)
    points = []
    for flops in budgets:
        centre = optimal_allocation(law, flops)["n_opt"]
        for x in np.linspace(-spread, spread, count):
            n = centre * math.exp(x)
            d = flops / (6 * n)
            loss = predict_parametric(law, n, d) * math.exp(rng.normal(0, noise))
            points.append({"params": n, "tokens": d, "flops": flops, "loss": float(loss)})
    return points


def test_isoflop_recovers_the_allocation_exponent():
    budgets = np.logspace(18, 21, 4)
    fit = fit_isoflop(isoflop_points(CHINCHILLA, budgets), bootstrap=50)
    assert fit["a"] == pytest.approx(allocation(CHINCHILLA), abs=0.02)
    assert fit["b"] == pytest.approx(1 - allocation(CHINCHILLA), abs=0.02)
    assert [b["flops"] for b in fit["budgets"]] == pytest.approx(list(budgets))
    assert all(b["convex"] and b["inside"] and b["used"] and not b["edge"] for b in fit["budgets"])
    for b in fit["budgets"]:  # each valley's minimum is near the law's optimum
        assert b["n_opt"] == pytest.approx(
            optimal_allocation(CHINCHILLA, b["flops"])["n_opt"], rel=0.15
        )
        assert 6 * b["n_opt"] * b["d_opt"] == pytest.approx(b["flops"], rel=1e-6)
    assert fit["a_ci"][0] < fit["a"] < fit["a_ci"][1]
    assert_json_ready(fit)


def test_isoflop_flags_budgets_without_an_interior_minimum():
    budgets = [1e18, 1e19, 1e20]
    points = isoflop_points(CHINCHILLA, budgets)
    centre = optimal_allocation(CHINCHILLA, 1e21)["n_opt"]
    for n in centre * np.exp([0.8, 1.4, 2.0, 2.6]):  # all larger than the optimum
        points.append(
            {
                "params": n,
                "flops": 1e21,
                "tokens": 1e21 / (6 * n),
                "loss": float(predict_parametric(CHINCHILLA, n, 1e21 / (6 * n))),
            }
        )
    fit = fit_isoflop(points, bootstrap=10)
    edge = fit["budgets"][-1]
    assert edge["edge"] and not edge["inside"] and not edge["used"]
    assert edge["n_opt"] == pytest.approx(centre * math.exp(0.8), rel=1e-6)  # clipped
    assert [b["used"] for b in fit["budgets"]] == [True, True, True, False]
    assert any("at the edge" in note for note in fit["notes"])
    assert fit["a"] == pytest.approx(allocation(CHINCHILLA), abs=0.03)


def parabola_valleys(rng, exponent=0.5, noise=0.01):
    """Valleys that are exact parabolas in ln N about N_opt = 0.1 · C^exponent, sampled on a
    grid shifted at random, so the parabola's vertex estimates N_opt without bias."""
    points = []
    for flops in np.logspace(12, 15, 4):
        shift = rng.uniform(-0.3, 0.3)
        for x in np.linspace(-1.5, 1.5, 7) + shift:
            n = 0.1 * flops**exponent * math.exp(x)
            loss = 3 * flops**-0.05 + 0.08 * x * x + rng.normal(0, noise)
            points.append({"params": n, "flops": flops, "loss": loss})
    return points


@pytest.mark.parametrize("level", [0.95, 0.8])
def test_isoflop_intervals_cover_the_truth(level):
    rng = np.random.default_rng(1)
    trials, hits = 60, 0
    for replicate in range(trials):
        fit = fit_isoflop(parabola_valleys(rng), bootstrap=100, seed=replicate, level=level)
        hits += fit["a_ci"][0] <= 0.5 <= fit["a_ci"][1]
    assert within_binomial(hits, trials, level), hits


def test_isoflop_parametric_bootstrap_with_the_seed_noise_covers_the_truth():
    """Four sizes and one seed a size, as the second rung's IsoFLOP study: each valley keeps
    one residual degree of freedom. Drawing each loss with the known seed noise (`noise`) gives
    intervals that hold the true exponent about as often as they claim."""
    rng = np.random.default_rng(3)
    sigma, trials, hits = 0.012, 60, 0
    for replicate in range(trials):
        points = []
        for flops in np.logspace(12, 14, 5):
            shift = rng.uniform(-0.3, 0.3)
            for x in np.linspace(-1.5, 1.5, 4) + shift:
                loss = (3 * flops**-0.05 + 0.08 * x * x) * math.exp(rng.normal(0, sigma))
                points.append({"params": 0.1 * flops**0.8 * math.exp(x), "flops": flops,
                               "loss": loss})  # fmt: skip
        fit = fit_isoflop(points, bootstrap=100, seed=replicate, noise={"sigma": sigma})
        hits += fit["a_ci"][0] <= 0.8 <= fit["a_ci"][1]
    assert within_binomial(hits, trials, 0.95), hits
    assert fit["noise"] == sigma and any("parametric bootstrap" in n for n in fit["notes"])


# --- compute multipliers ---


def two_arms(
    scale,
    *,
    budgets=np.logspace(12, 15, 3),
    seeds=4,
    noise=0.002,
    floor=0.0,
    amplitude=40.0,
    gamma=0.1,
    seed=0,
):
    """Arm "v" is arm "base" with its compute scaled: L_v(C) = L_base(scale · C)."""
    rng = np.random.default_rng(seed)
    points = []
    for arm, k in (("base", 1.0), ("v", scale)):
        for flops in budgets:
            for s in range(seeds):
                loss = (floor + amplitude * (k * flops) ** -gamma) * math.exp(rng.normal(0, noise))
                points.append(
                    {
                        "arm": arm,
                        "seed": s,
                        "params": 1e6,
                        "flops": float(flops),
                        "loss": float(loss),
                    }
                )
    return points


def test_compute_multiplier_of_a_scaled_arm():
    fit = fit_compute(two_arms(2.0), bootstrap=300)
    base, variant = fit["arms"]
    assert fit["baseline"] == "base" and base["multiplier"] == 1.0
    assert base["verdict"] == "baseline" and base["form"] == variant["form"] == "power"
    assert variant["multiplier"] == pytest.approx(2.0, rel=0.1)
    low, high = variant["multiplier_ci"]
    assert low <= 2.0 <= high and low > 1
    assert variant["verdict"] == "better"
    assert variant["extrapolated"]  # the baseline never saw a loss this low
    assert variant["c_star"] == 1e15
    assert_json_ready(fit)


def test_compute_multiplier_with_a_floor():
    """L(C) = E + A·C^(−γ) at 6 budgets (this data set's interval covers 2, as 26 of 30 such
    data sets' 95% intervals did; the coverage tests below hold the fits to the rate)."""
    fit = fit_compute(
        two_arms(
            2.0,
            budgets=np.logspace(12, 15, 6),
            seeds=3,
            noise=0.002,
            floor=1.0,
            amplitude=20,
            gamma=0.1,
            seed=2,
        ),
        bootstrap=200,
    )
    base, variant = fit["arms"]
    assert base["form"] == variant["form"] == "saturating"
    assert base["E"] == pytest.approx(1.0, abs=0.05)
    assert base["gamma"] == pytest.approx(0.1, abs=0.01)
    assert variant["multiplier"] == pytest.approx(2.0, rel=0.1)
    assert variant["multiplier_ci"][0] <= 2.0 <= variant["multiplier_ci"][1]
    assert variant["verdict"] == "better"


def test_reference_crossing_is_where_each_curve_reaches_the_reference_loss():
    """L(C) = 1 + 20·C^(−0.1) reaches 1.2 at C = (20 / 0.2)^10 = 1e20 (closed form, within an
    order of magnitude from budgets 5 decades below); inside the budgets the arm with twice the
    efficiency gets there at half the compute; a reference below E is never reached."""
    points = two_arms(
        2.0,
        budgets=np.logspace(12, 15, 6),
        seeds=3,
        noise=0.002,
        floor=1.0,
        amplitude=20,
        gamma=0.1,
        seed=2,
    )
    base, variant = fit_compute(points, bootstrap=200, reference_loss=1.2)["arms"]
    assert math.log10(base["reference_crossing"]) == pytest.approx(20, abs=1.0)
    low, high = base["reference_crossing_ci"]
    assert low <= base["reference_crossing"] <= (high or math.inf)
    assert base["reference_crossing_extrapolated"]  # 1e20 is far beyond the budgets
    never = fit_compute(points, bootstrap=50, reference_loss=0.5)["arms"][0]
    assert never["reference_crossing"] is None  # infinite: E = 1 lies above 0.5
    inside = fit_compute(points, bootstrap=50, reference_loss=1.0 + 20 * 1e13**-0.1)["arms"]
    assert math.log10(inside[0]["reference_crossing"]) == pytest.approx(13, abs=0.1)
    assert inside[1]["reference_crossing"] / inside[0]["reference_crossing"] == pytest.approx(
        0.5, rel=0.1
    )
    assert not inside[0]["reference_crossing_extrapolated"]
    assert_json_ready(fit_compute(points, bootstrap=20, reference_loss=1.2))


def test_equal_arms_are_within_noise():
    fit = fit_compute(two_arms(1.0, noise=0.01, seed=4), bootstrap=300)
    variant = fit["arms"][1]
    low, high = variant["multiplier_ci"]
    assert low < 1 < high
    assert variant["verdict"] == "within noise"


def test_a_worse_arm_and_an_unreachable_loss():
    worse = fit_compute(two_arms(0.5), bootstrap=200)["arms"][1]
    assert worse["multiplier"] == pytest.approx(0.5, rel=0.1) and worse["verdict"] == "worse"
    points = two_arms(1.0, budgets=np.logspace(12, 15, 5), floor=2.0, amplitude=50, gamma=0.2)
    for p in points:
        if p["arm"] == "v":
            p["loss"] -= 0.5  # below the baseline's floor: never reached
    fit = fit_compute(points, bootstrap=50)
    variant = fit["arms"][1]
    assert variant["unreachable"] and variant["multiplier"] is None
    assert variant["verdict"] == "better"
    assert_json_ready(fit)


def test_compute_multiplier_closed_form():
    baseline = {"E": 1.0, "A": 100.0, "gamma": 0.25}
    for k in (0.5, 1.0, 3.0):
        variant = {"E": 1.0, "A": 100.0 * k**-0.25, "gamma": 0.25}  # L_v(C) = L_b(kC)
        assert compute_multiplier(baseline, variant, 1e14) == pytest.approx(k)
    assert compute_multiplier(baseline, {"E": 0.9, "A": 1e-9, "gamma": 0.25}, 1e14) == math.inf


@pytest.mark.parametrize("level", [0.95, 0.8])
def test_compute_intervals_cover_the_truth(level):
    trials, hits = 60, 0
    for replicate in range(trials):
        fit = fit_compute(
            two_arms(1.5, noise=0.004, seed=200 + replicate),
            bootstrap=200,
            seed=replicate,
            level=level,
        )
        low, high = fit["arms"][1]["multiplier_ci"]
        hits += low <= 1.5 <= high
    assert within_binomial(hits, trials, level), hits


def test_plots_are_written_with_a_baseline_line(tmp_path):
    from zoo.scaling import plot_compute, plot_isoflop, plot_parametric

    valleys = isoflop_points(CHINCHILLA, [1e18, 1e19, 1e20])
    plot_isoflop(
        fit_isoflop(valleys, bootstrap=5),
        valleys,
        tmp_path / "valleys.png",
        baseline=(3.2, "7-gram"),
    )
    arms = two_arms(2.0)
    plot_compute(
        fit_compute(arms, bootstrap=5),
        arms,
        tmp_path / "arms.svg",
        baseline={"loss": 2.6, "label": "7-gram"},
    )
    grid = law_points(CHINCHILLA, sizes=np.logspace(7, 9, 3), tokens=np.logspace(9, 11, 3))
    plot_parametric(
        fit_parametric(grid, bootstrap=0, starts=20), grid, tmp_path / "law.pdf", baseline=2.5
    )
    assert (tmp_path / "valleys.png").read_bytes().startswith(b"\x89PNG")
    assert "7-gram (2.600)" in (tmp_path / "arms.svg").read_text()
    # With several budgets per arm, a second panel: the multiplier at every budget and its trend.
    assert "compute multiplier against" in (tmp_path / "arms.svg").read_text()
    assert (tmp_path / "law.pdf").read_bytes().startswith(b"%PDF")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["arms.svg", "law.pdf", "valleys.png"]


def test_the_multiplier_panel_draws_each_budgets_multiplier_and_the_trend(tmp_path, monkeypatch):
    """A compute figure's second panel: one line per arm through its per-budget multipliers
    (here a known 2 everywhere), the trend's verdict in its label, the baseline at 1."""
    from zoo.scaling import fit_plot

    drawn = []
    original = fit_plot._save
    monkeypatch.setattr(
        fit_plot,
        "_save",
        lambda plt, figure, path: drawn.append(figure) or original(plt, figure, path),
    )
    points = _trending(lambda c: 2.0)
    fit = fit_compute(points, bootstrap=20)
    fit_plot.plot_compute(fit, points, tmp_path / "trend.png")
    left, right = drawn[0].axes
    (bars,) = [c for c in right.containers if c.get_label().startswith("v:")]
    assert bars.lines[0].get_ydata() == pytest.approx([2.0] * 4, rel=0.3)
    assert "stable" in bars.get_label() and right.get_yscale() == "log"
    drawn.clear()  # a fit written before per-budget multipliers existed: one panel, as then
    older = {**fit, "arms": [{k: v for k, v in a.items() if k != "by_budget"} for a in fit["arms"]]}
    fit_plot.plot_compute(older, points, tmp_path / "older.png")
    assert len(drawn[0].axes) == 1


def _trending(multiplier_at, *, budgets=np.logspace(12, 13.5, 4), seeds=3, noise=0.002, seed=0):
    """Arm "v" reaches at C what the baseline reaches at multiplier_at(C)·C: a known per-budget
    multiplier, with seeds' noise on ln L. The baseline has a floor (4 budgets: saturating)."""
    rng = np.random.default_rng(seed)

    def law(c):
        return 1.5 + 60.0 * c**-0.15

    points = []
    for arm in ("base", "v"):
        for flops in budgets:
            scale = 1.0 if arm == "base" else multiplier_at(flops)
            for s in range(seeds):
                loss = law(scale * flops) * math.exp(rng.normal(0, noise))
                points.append({"arm": arm, "seed": s, "params": 1e6, "flops": float(flops),
                               "budget": float(flops), "loss": float(loss)})  # fmt: skip
    return points


@pytest.mark.parametrize(
    "multiplier_at, verdict",
    [
        (lambda c: 2.0, "stable"),
        (lambda c: 2.0 * (c / 1e12) ** 0.4, "growing"),
        (lambda c: 4.0 * (c / 1e12) ** -0.35, "shrinking"),
        (lambda c: 0.4 * (c / 1e12) ** -0.3, "growing"),  # worse, and more so with compute
        (lambda c: 0.3 * (c / 1e12) ** 0.3, "shrinking"),  # worse, and less so
        (lambda c: 0.3 * (c / 1e12) ** 0.55, "sign flips"),  # worse at 1e12, better at 3e13
    ],
)
def test_each_arm_gets_a_multiplier_per_budget_and_a_trend(multiplier_at, verdict):
    fit = fit_compute(_trending(multiplier_at), bootstrap=300)
    base, variant = fit["arms"]
    assert [b["multiplier"] for b in base["by_budget"]] == [1.0] * 4 and base["trend"] is None
    for row in variant["by_budget"]:
        truth = multiplier_at(row["budget"])
        assert row["multiplier"] == pytest.approx(truth, rel=0.25)
        low, high = row["multiplier_ci"]
        assert low <= row["multiplier"] <= high
    trend = variant["trend"]
    assert trend["verdict"] == verdict, trend
    top = 10**13.5
    assert trend["at_top"] == pytest.approx(multiplier_at(top), rel=0.3)
    assert trend["at_top_ci"][0] <= trend["at_top"] <= trend["at_top_ci"][1]
    assert_json_ready(fit)


def test_a_trend_needs_two_budgets_both_arms_trained():
    budgets = np.logspace(12, 13.5, 4)
    points = [p for p in _trending(lambda c: 2.0)
              if p["flops"] in (budgets[:2] if p["arm"] == "base" else budgets[1:])]  # fmt: skip
    variant = fit_compute(points, bootstrap=50)["arms"][1]
    assert len(variant["by_budget"]) == 1 and variant["trend"]["verdict"] == "one budget"


def test_each_budget_has_the_loss_change_of_runs_paired_by_seed():
    """Against closed-form ratios: arm v's loss is exactly the baseline's of the same seed times
    1.03 (seed 0), 1.01 and 1.02, so the paired change is their geometric mean less 1 and its
    t-interval is that of three known logarithms; seeds without a partner are left out."""
    ratios = {0: 1.03, 1: 1.01, 2: 1.02}
    points = []
    for flops in np.logspace(12, 13.5, 4):
        for s in range(3):
            base = 1.5 + 60.0 * flops**-0.15 + 0.01 * s
            points.append({"arm": "base", "seed": s, "params": 1e6, "flops": float(flops),
                           "budget": float(flops), "loss": base})  # fmt: skip
            points.append({"arm": "v", "seed": s, "params": 1e6, "flops": float(flops),
                           "budget": float(flops), "loss": base * ratios[s]})  # fmt: skip
        points.append(
            {
                "arm": "v",
                "seed": 9,
                "params": 1e6,
                "flops": float(flops),
                "budget": float(flops),
                "loss": 99.0,
            }
        )  # fmt: skip  (no partner)
    logs = np.log(list(ratios.values()))
    half = stats.t.ppf(0.975, 2) * logs.std(ddof=1) / math.sqrt(3)
    for row in fit_compute(points, bootstrap=20)["arms"][1]["by_budget"]:
        assert row["pairs"] == 3
        assert row["loss_change"] == pytest.approx(math.exp(logs.mean()) - 1, rel=1e-9)
        assert row["loss_change_ci"] == pytest.approx(
            [math.exp(logs.mean() - half) - 1, math.exp(logs.mean() + half) - 1], rel=1e-9
        )
