"""The epochs study (`zoo sweep epochs`): the grid it plans, Muennighoff et al.'s fraction in
closed form, the reading of a repeated run against the fresh curve, and one small sweep end to
end."""

import json
import math

import pytest

from zoo.errors import ZooError
from zoo.experiments import sweep as sweeps
from zoo.experiments.repetition import effective_fraction, muennighoff_fraction, summarize

pytestmark = pytest.mark.usefixtures("isolated")


def test_muennighoff_fraction_is_the_papers_effective_data():
    """D' = U + U·R*·(1 − e^(−R/R*)) over D = U·P: 93% at 4 passes, 66% at 16, 38% at 40
    (scaling.md), and exactly 1 at one pass."""
    assert muennighoff_fraction(1) == 1.0
    assert round(muennighoff_fraction(4), 2) == 0.93
    assert round(muennighoff_fraction(16), 2) == 0.66
    assert round(muennighoff_fraction(40), 2) == 0.38
    r_star = 15.39
    assert muennighoff_fraction(7) == pytest.approx((1 + r_star * (1 - math.exp(-6 / r_star))) / 7)


def test_effective_fraction_reads_the_fresh_curve_in_log_fraction():
    fresh = [{"fraction": 0.25, "mean": 3.0}, {"fraction": 1.0, "mean": 2.0}]
    assert effective_fraction(2.5, fresh) == pytest.approx(0.5)  # halfway in log: √(0.25·1)
    assert effective_fraction(2.0, fresh) == pytest.approx(1.0)
    assert effective_fraction(3.5, fresh) is None  # worse than the least fresh data: not guessed
    assert effective_fraction(1.9, fresh) is None


def test_summary_reads_each_pass_count_against_fresh_data_and_patience_against_full():
    def point(passes, fraction, patience, seed, loss, steps=100, stopped=False):
        return {"arm": "a", "budget": 1e12, "seed": seed, "loss": loss, "epochs": passes,
                "steps": steps, "stopped_early": stopped, "run": f"r{passes}-{fraction}-{patience}-{seed}",
                "variant": {"passes": passes, "fraction": fraction, "patience": patience}}  # fmt: skip

    points = [point(1, 1.0, None, s, 2.0 + 0.01 * s) for s in range(2)]
    points += [point(1, 0.25, None, s, 3.0 + 0.01 * s) for s in range(2)]
    points += [point(4, 1.0, None, s, 2.5 + 0.01 * s) for s in range(2)]
    points += [point(4, 1.0, 3, s, 2.4 + 0.01 * s, steps=60, stopped=True) for s in range(2)]
    curves = {
        "r4-1.0-None-0": [
            {"step": 50, "train_loss": 2.6, "validation_loss": 2.4},
            {"step": 100, "train_loss": 1.5, "validation_loss": 2.5},
        ]
    }
    (cell,) = summarize(points, curves)
    assert [row["fraction"] for row in cell["fresh"]] == [0.25, 1.0]
    one, four = cell["passes"]
    assert one["effective_fraction"] == pytest.approx(1.0)
    assert four["effective_fraction"] == pytest.approx(0.5)
    assert four["predicted_fraction"] == pytest.approx(muennighoff_fraction(4))
    assert four["mean"] == pytest.approx(2.505)
    assert four["interval"][0] < four["mean"] < four["interval"][1]
    assert four["best_at"] == 0.5 and four["rise_after_best"] == pytest.approx(0.1)
    assert four["final_gap"] == pytest.approx(1.0)
    assert four["patience"]["steps_fraction"] == 0.6 and four["patience"]["stopped"] == 2
    assert four["patience"]["loss_minus_full"] == pytest.approx(-0.1)


def test_bad_pass_counts_fractions_and_patience_are_refused_before_anything_runs():
    for field, value in (("passes", "1,0.5x"), ("passes", "1,1"), ("fractions", "0.5,1"),
                         ("patience", 0)):  # fmt: skip
        with pytest.raises(ZooError, match=f"^{field}"):
            sweeps.sweep_epochs("llama-nano", budgets="1e10", **{field: value})
    # A pass count is a count: the refusal says so (it said "positive multipliers").
    for value in ("0,4", "0.5,4"):
        with pytest.raises(ZooError, match="passes takes pass counts of at least 1, e.g. 1,4,16"):
            sweeps.sweep_epochs("llama-nano", budgets="1e10", passes=value)


@pytest.mark.slow
def test_an_epochs_sweep_trains_each_variant_and_reads_it(corpus, tmp_path):
    request = dict(budgets="1.5e9", passes="1,4", fractions="0.5", patience=2,
                   shapes="family-heads", data=str(corpus))  # fmt: skip
    sweep = sweeps.sweep_epochs("llama-nano", **request)
    assert sweep["kind"] == "epochs" and not sweep["failed"] and len(sweep["points"]) == 4
    variants = sorted(json.dumps(p["variant"], sort_keys=True) for p in sweep["points"])
    assert len(set(variants)) == 4
    (cell,) = sweep["epochs"]
    assert [row["passes"] for row in cell["passes"]] == [1, 4]
    four = cell["passes"][1]
    assert four["epochs"] == pytest.approx(4, rel=0.05) and four["patience"]["seeds"] == 1
    for point in sweep["points"]:  # every run evaluated about 20 times: a curve to read
        assert len(sweep["curves"][point["run"]]) >= 10
    json.dumps(sweep)  # the JSON the CLI writes
    from zoo.experiments.repetition_plot import plot_epochs

    assert plot_epochs(sweep, tmp_path / "epochs.png").stat().st_size > 10_000
