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
