"""The learning-rate and batch rule in compute (zoo.scaling.hyperparameters), checked on grids
drawn from a loss surface whose optimum is a known power law (DeepSeek LLM's own fit)."""

import math

import numpy as np
import pytest

from zoo.errors import ZooError
from zoo.scaling.hyperparameters import (
    NEAR_OPTIMAL,
    check_rule,
    fit_hyperparameter_rule,
    noise_tolerance,
    predict_rule,
    rule_points,
    seed_noise,
)

RATE = (0.3118, -0.125)  # DeepSeek LLM: η_opt = 0.3118·C^−0.125
BATCH = (0.2920, 0.3271)  # B_opt = 0.2920·C^0.3271 tokens


def _optimum(law, c):
    return law[0] * c ** law[1]


def _grid(budgets, *, seeds=2, noise=0.0003, seed=0, arm="base", batches=True):
    """Loss = L0(C)·(1 + 0.01·(ln η/η*)² + 0.004·(ln B/B*)²) with seeds' noise; rates and batches
    on a ×2 grid around the optimum (offset so that the optimum is not always a grid point)."""
    rng = np.random.default_rng(seed)
    points = []
    for c in budgets:
        best_rate, best_batch = _optimum(RATE, c), _optimum(BATCH, c)
        for i in np.arange(-3, 4) + 0.3 * rng.uniform(-1, 1):
            for j in np.arange(-2, 3) + 0.3 * rng.uniform(-1, 1) if batches else [0.0]:
                rate, batch = best_rate * 2.0**i, best_batch * 2.0**j
                excess = 0.01 * math.log(rate / best_rate) ** 2
                excess += 0.004 * math.log(batch / best_batch) ** 2
                for s in range(seeds):
                    loss = 2.0 * c**-0.05 * (1 + excess) * math.exp(rng.normal(0, noise))
                    points.append({"arm": arm, "budget": c, "seed": s, "learning_rate": rate,
                                   "batch_tokens": batch if batches else None, "loss": loss})  # fmt: skip
    return points


def test_the_rule_recovers_the_power_laws_it_was_drawn_from():
    budgets = np.logspace(17, 19.3, 5)
    (arm,) = fit_hyperparameter_rule(_grid(budgets), bootstrap=200)["arms"]
    rate, batch = arm["learning_rate"], arm["batch_tokens"]
    assert rate["b"] == pytest.approx(RATE[1], abs=0.03)
    assert batch["b"] == pytest.approx(BATCH[1], abs=0.05)
    for c in budgets:  # the fitted rule predicts the true optimum within the grid's step
        assert predict_rule(rate, c) == pytest.approx(_optimum(RATE, c), rel=0.25)
        assert predict_rule(batch, c) == pytest.approx(_optimum(BATCH, c), rel=0.4)
    assert rate["b_ci"][0] <= rate["b"] <= rate["b_ci"][1]
    assert all(c["seeds"] == 2 for c in arm["near_optimal"])


def test_the_rate_in_parameters_recovers_porians_law_along_a_size_rule():
    """Models sized N = 0.1·C^0.5 (Chinchilla's allocation) whose best rate is Porian et al.'s
    3.7·N^−0.36: the line through the same near-optimal runs against N finds −0.36, and the
    one in compute −0.36 × 0.5 = −0.18; without sizes there is no line in N."""
    budgets = np.logspace(17, 19.3, 5)
    points = []
    for c in budgets:
        n = 0.1 * c**0.5
        for i in np.arange(-3, 4) + 0.25:
            rate = 3.7 * n**-0.36 * 2.0**i
            loss = 2.0 * c**-0.05 * (1 + 0.01 * math.log(rate / (3.7 * n**-0.36)) ** 2)
            points.append({"budget": c, "learning_rate": rate, "loss": loss, "params": n})
    (arm,) = fit_hyperparameter_rule(points, bootstrap=50)["arms"]
    assert arm["learning_rate_in_params"]["b"] == pytest.approx(-0.36, abs=0.02)
    assert arm["learning_rate"]["b"] == pytest.approx(-0.18, abs=0.01)
    low, high = arm["learning_rate_in_params"]["b_ci"]
    assert low <= arm["learning_rate_in_params"]["b"] <= high
    (bare,) = fit_hyperparameter_rule(_grid(budgets, batches=False), bootstrap=10)["arms"]
    assert bare["learning_rate_in_params"] is None


def test_a_rule_extrapolates_and_is_checked_at_a_larger_budget():
    fitted = fit_hyperparameter_rule(_grid(np.logspace(17, 18.5, 4)), bootstrap=50)["arms"][0]
    check = check_rule(fitted, _grid([1e20], seed=3, batches=False))
    assert check["ratio"] == pytest.approx(1.0, rel=0.35) and check["near_optimal"]
    with pytest.raises(ZooError, match="one budget"):
        check_rule(fitted, _grid([1e19, 1e20], batches=False))


def test_one_batch_fits_the_rate_only_and_every_arm_gets_its_own_rule():
    points = _grid(np.logspace(17, 18.5, 3), batches=False)
    points += _grid(np.logspace(17, 18.5, 3), batches=False, arm="variant", seed=1)
    base, variant = fit_hyperparameter_rule(points, bootstrap=20)["arms"]
    assert (base["name"], variant["name"]) == ("base", "variant")
    assert base["batch_tokens"] is None and variant["learning_rate"]["b"] < 0


def test_bad_grids_are_refused():
    with pytest.raises(ZooError, match="2 budgets or more"):
        fit_hyperparameter_rule(_grid([1e18]), bootstrap=0)
    with pytest.raises(ZooError, match="^loss must be a positive, finite number"):
        fit_hyperparameter_rule([{"budget": 1e18, "learning_rate": 1e-3, "loss": math.nan}])
    with pytest.raises(ZooError, match="^tolerance"):
        fit_hyperparameter_rule(_grid([1e18, 1e19]), tolerance=1.5)


def test_an_optimum_at_the_edge_of_the_grid_and_single_runs_are_said():
    """A grid whose best rate is its largest, with one run per budget in the band: the fit says
    both instead of passing a line through them silently."""
    points = [p for p in _grid(np.logspace(17, 18, 2), batches=False, seeds=1)
              if p["learning_rate"] <= _optimum(RATE, p["budget"]) * 1.3]  # fmt: skip
    (arm,) = fit_hyperparameter_rule(points, bootstrap=10, tolerance=0.0)["arms"]
    assert any("at the edge of the grid" in note for note in arm["notes"])
    assert any("one near-optimal run per budget" in note for note in arm["notes"])
    (clean,) = fit_hyperparameter_rule(_grid(np.logspace(17, 18, 2)), bootstrap=10)["arms"]
    assert not any("edge" in note for note in clean["notes"])


def test_seed_noise_is_the_spread_the_grid_was_drawn_with():
    """Pooled within-cell standard deviation of ln(loss): recovers the σ the losses were drawn
    with, from cells of 3 seeds; a grid of single runs measures none."""
    measured = seed_noise(_grid(np.logspace(17, 18.5, 4), seeds=3, noise=0.01, batches=False))
    assert measured["sigma"] == pytest.approx(0.01, rel=0.15)
    assert (measured["cells"], measured["runs"], measured["df"]) == (28, 84, 56)
    assert seed_noise(_grid([1e18, 1e19], seeds=1)) is None
    failed = [{"budget": 1e18, "learning_rate": 1e-3, "loss": None}] * 2
    assert seed_noise(failed) is None  # failed runs measure nothing


def test_noise_tolerance_is_the_one_sided_bound_between_two_single_runs():
    # exp(1.645·√2·σ) − 1, closed form; never narrower than DeepSeek's 0.25%.
    assert noise_tolerance(0.01) == pytest.approx(math.exp(1.645 * math.sqrt(2) * 0.01) - 1)
    assert noise_tolerance(0.01) == pytest.approx(0.02354, abs=1e-5)
    assert noise_tolerance(0.0) == NEAR_OPTIMAL
    with pytest.raises(ZooError, match="^noise"):
        noise_tolerance(math.nan)


def test_a_band_from_the_noise_gives_intervals_that_hold():
    """At 1% seed noise (a factor of 2 in rate moves the loss by 0.5% here) a 0.25% band keeps
    about one run per budget, chosen by its seed, and its interval is too narrow to hold the
    true exponent; the band the noise allows keeps its interval honest. Twelve fixed grids."""
    held = {"deepseek": 0, "noise": 0}
    for seed in range(12):
        budgets = np.logspace(17, 18.5, 4)
        grid = _grid(budgets, seeds=1, noise=0.01, seed=seed, batches=False)
        noise = seed_noise(_grid(budgets, seeds=3, noise=0.01, seed=100 + seed, batches=False))
        for name, band in (("deepseek", {}), ("noise", {"noise": noise})):
            fit = fit_hyperparameter_rule(grid, bootstrap=100, **band)
            low, high = fit["arms"][0]["learning_rate"]["b_ci"]
            held[name] += low <= RATE[1] <= high
        assert fit["tolerance"] == noise_tolerance(noise["sigma"]) and fit["noise"] is noise
    assert held["noise"] >= 10 and held["deepseek"] <= 8, held


def test_one_band_at_a_time_and_rule_points_leave_failed_runs_out():
    with pytest.raises(ZooError, match="^tolerance and noise"):
        fit_hyperparameter_rule(_grid([1e18, 1e19]), tolerance=0.01, noise={"sigma": 0.01})
    points = [{"arm": "a", "budget": 1e18, "seed": 0, "learning_rate": 1e-3, "loss": None,
               "batch_tokens": 4096, "params": 10}]  # fmt: skip
    assert rule_points(points) == []
    assert rule_points([{**points[0], "loss": 2.0}]) == [
        {
            "arm": "a",
            "budget": 1e18,
            "seed": 0,
            "learning_rate": 1e-3,
            "batch_tokens": 4096,
            "params": 10,
            "loss": 2.0,
        }  # fmt: skip
    ]
