"""Continued training (`zoo sweep continued`): the paired reading, and one small sweep end to
end, its continued runs starting from their first runs' weights."""

import json
import pathlib

import pytest

from zoo.errors import ZooError
from zoo.experiments import sweep as sweeps
from zoo.experiments.continuation import summarize

pytestmark = pytest.mark.usefixtures("isolated")


def test_summary_pairs_each_continued_run_with_the_same_seeds_others():
    losses = {"first": 3.0, "continued": 2.2, "scratch": 2.5, "whole": 2.1}
    points = [
        {"arm": "a", "budget": 1e12, "seed": s, "tokens": 100, "variant": {"role": role},
         "loss": loss + 0.01 * s + (0.05 * s if role == "continued" else 0)}
        for role, loss in losses.items() for s in range(3)
    ]  # fmt: skip
    (cell,) = summarize(points)
    assert cell["whole"]["mean"] == pytest.approx(2.11) and cell["whole"]["seeds"] == 3
    assert cell["continued_minus_whole"]["values"] == pytest.approx([0.1, 0.15, 0.2])
    low, high = cell["continued_minus_scratch"]["interval"]
    assert cell["continued_minus_scratch"]["mean"] == pytest.approx(-0.25)
    assert low < cell["continued_minus_scratch"]["mean"] < high


def test_a_fraction_outside_zero_and_one_is_refused():
    for fraction in (0, 1, 1.5, True):
        with pytest.raises(ZooError, match="^fraction"):
            sweeps.sweep_continued("llama-nano", budgets="1e10", fraction=fraction)


@pytest.mark.slow
def test_a_continued_sweep_starts_from_its_first_runs_weights(corpus, tmp_path):
    sweep = sweeps.sweep_continued(
        "llama-nano", budgets="1.5e9", fraction=0.25, shapes="family-heads", data=str(corpus)
    )
    assert sweep["kind"] == "continued" and not sweep["failed"] and len(sweep["points"]) == 4
    roles = {p["variant"]["role"]: p for p in sweep["points"]}
    assert set(roles) == {"first", "continued", "scratch", "whole"}
    settings = json.loads(pathlib.Path(roles["continued"]["run"], "config.json").read_text())
    first = pathlib.Path(roles["first"]["run"]).name
    assert pathlib.Path(settings["init_from"]["path"]).parent.name == first  # its model.keras
    assert roles["continued"]["tokens"] == pytest.approx(roles["scratch"]["tokens"], rel=0.01)
    assert roles["whole"]["tokens"] > roles["continued"]["tokens"] > roles["first"]["tokens"]
    (cell,) = sweep["continued"]
    assert cell["continued_minus_whole"]["values"] == [
        pytest.approx(roles["continued"]["loss"] - roles["whole"]["loss"])
    ]
    from zoo.experiments.continuation_plot import plot_continued

    # One seed: each difference a point without an interval.
    assert plot_continued(sweep, tmp_path / "continued.png").stat().st_size > 10_000


def test_the_committed_studys_figure_is_drawn_from_its_json(tmp_path):
    from zoo.experiments.continuation_plot import plot_continued

    committed = pathlib.Path(__file__).parents[2] / "results/reference/continued-llama.json"
    sweep = json.loads(committed.read_text())
    assert plot_continued(sweep, tmp_path / "continued.png").stat().st_size > 10_000
