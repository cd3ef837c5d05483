"""The learning-rate and batch rule in compute (zoo.scaling.hyperparameters), checked on grids
drawn from a loss surface whose optimum is a known power law (DeepSeek LLM's own fit)."""

import math

import numpy as np
import pytest

from zoo.errors import ZooError
from zoo.scaling.hyperparameters import check_rule, fit_hyperparameter_rule, predict_rule

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
