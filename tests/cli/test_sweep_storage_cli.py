"""`zoo sweep ... --storage URL`: bad input is one line, exit 2, before anything trains."""

import pytest

from tests.helpers import assert_one_line, invoker
from zoo_cli import main

invoke = invoker(main.app, prefix=["sweep", "compute"])


@pytest.mark.parametrize("args, fragment", [
    (["--storage", "not a url"], "--storage is not a database URL"),
    (["--storage", "nosuchdb://host/x"], "--storage cannot be opened"),
    (["--storage", "sqlite:///S", "--jobs", "2"], "--jobs must be 1 with a shared store"),
])  # fmt: skip
def test_bad_storage_is_one_line_and_nothing_trains(args, fragment, corpus, isolated, tmp_path):
    args = [a.replace("sqlite:///S", f"sqlite:///{tmp_path / 'store.db'}") for a in args]
    result = invoke("--models", "llama", "--budgets", "1e9,3e9", "--data", corpus, *args)
    assert_one_line(result, fragment, empty_stdout=True)
    assert not (tmp_path / "results").exists() and not (tmp_path / "store.db").exists()


def test_bench_store_times_the_sqlite_anchor():
    """`zoo bench store` with no --storage: the SQLite anchor alone, both paths timed."""
    import json

    result = invoker(main.app, prefix=["bench", "store"])("--trials", "3", "--rounds", "1",
                                                          "--evaluations", "2", "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    (store,) = json.loads(result.stdout)["stores"]
    assert store["backend"] == "sqlite"
    for key in ("tune_ms_per_trial", "sweep_ms_per_cell"):
        assert 0 < store[key]["min"] <= store[key]["median"] <= store[key]["max"]
