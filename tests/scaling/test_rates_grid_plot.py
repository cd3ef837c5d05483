"""The rates grid's figure (`zoo sweep rates --plot`): drawn from the sweep's points as they are,
with the output logits' rows only where the runs measured them."""

import json
import pathlib

import pytest

from zoo.scaling import rates_grid_plot
from zoo.scaling.rates_grid_plot import plot_rate_grid

REFERENCE = pathlib.Path(__file__).parents[2] / "results/reference"


def _sweep(logits):
    points = [
        {"arm": arm, "budget": budget, "seed": seed, "learning_rate": rate,
         "loss": 2.0 + (rate - 0.01) ** 2 + 0.01 * seed,
         **({"output_log_z": 7.0 - rate, "output_max_abs_logit": 10 + rate} if logits else {})}
        for arm in ("a", "b") for budget in (1e12, 3e12) for seed in (0, 1)
        for rate in (0.005, 0.01, 0.02)
    ]  # fmt: skip
    return {"kind": "rates", "seeds": 2, "points": points, "fits": {}}


@pytest.mark.parametrize("logits, rows", [(False, 1), (True, 3)])
def test_one_row_per_quantity_the_runs_measured(tmp_path, monkeypatch, logits, rows):
    drawn = []
    original = rates_grid_plot._save
    monkeypatch.setattr(
        rates_grid_plot, "_save",
        lambda plt, figure, path: drawn.append(figure.axes) or original(plt, figure, path),
    )  # fmt: skip
    path = plot_rate_grid(_sweep(logits), tmp_path / "grid.png")
    assert path.stat().st_size > 10_000
    assert len(drawn[0]) == rows * 2  # two budgets
    labels = {ax.get_ylabel() for ax in drawn[0]}
    assert any("log Z" in label for label in labels) == logits


def test_the_committed_z_loss_studys_figure_is_drawn_from_its_json(tmp_path):
    sweep = json.loads((REFERENCE / "zloss-llama.json").read_text())
    assert plot_rate_grid(sweep, tmp_path / "zloss.png").stat().st_size > 10_000
