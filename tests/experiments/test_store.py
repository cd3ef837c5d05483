"""`RunStore`: one scan of the results per comparison or sweep, and each plan obtained from it."""

import pytest

import zoo
from zoo.experiments import store as stores
from zoo.experiments import sweep as sweeps
from tests.helpers import Statuses

pytestmark = pytest.mark.usefixtures("isolated")
BUDGETS = "1e10,3e10"


@pytest.fixture
def scans(monkeypatch):
    """Counts the reads of the results directory by any `RunStore`."""
    calls = []
    original = stores.list_runs

    def counted(root=None):
        calls.append(root)
        return original(root)

    monkeypatch.setattr(stores, "list_runs", counted)
    return calls


@pytest.mark.slow  # two sweeps of two trainings (~25 s)
def test_a_sweep_scans_the_results_once_and_reuses_every_run(corpus, scans):
    args = dict(budgets=BUDGETS, seeds=1, data=str(corpus), bootstrap=0)
    sweeps.sweep_compute("gpt2-nano", **args)
    assert len(scans) == 1  # two cells trained, the directory read once

    class SweepStatuses(sweeps.SweepReporter):
        seen = []

        def run(self, index, count, label, seed, status):
            self.seen.append(status)

    reporter = SweepStatuses()
    sweeps.sweep_compute("gpt2-nano", reporter=reporter, **args)
    assert len(scans) == 2 and reporter.seen == ["reused"] * 2


@pytest.mark.slow  # a comparison of two trainings (~12 s)
def test_a_comparison_scans_once(corpus, scans):
    zoo.compare("gpt2-nano,palm-nano", data=str(corpus), budget=2e8)
    assert len(scans) == 1


@pytest.mark.slow  # a training in process (~8 s): the default suite keeps its 3 minutes
def test_the_store_finds_the_latest_run_of_a_key_and_learns_new_ones(corpus, tmp_path):
    from zoo.training.trainer import plan_run

    plan = plan_run("gpt2-nano", data=str(corpus), steps=2)
    store = stores.RunStore(tmp_path / "runs")
    assert store.status(plan) == stores.TRAINING and store.scans == 1
    record = store.obtain(plan, Statuses(), 0, 1, "gpt2-nano", 0)
    assert store.find(plan.key).path == record.path and store.status(plan) == stores.REUSED
    fresh = stores.RunStore(tmp_path / "runs")
    assert fresh.find(plan.key).path == record.path and store.scans == 1
