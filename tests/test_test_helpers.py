"""The test suite's own plumbing: collecting tests that need no backend loads none, and the
shared helpers (tests/helpers.py) do what the copies they replaced did."""

import pathlib
import subprocess
import sys

import pytest

from tests.helpers import write_verse

ROOT = pathlib.Path(__file__).parents[1]

# Test files that import no backend themselves; the second and this one import tests.helpers.
BACKEND_FREE = [
    "tests/test_registry.py",
    "tests/cli/test_models_cli.py",
    "tests/test_test_helpers.py",
]


def test_collecting_backend_free_tests_imports_no_backend():
    """conftest.py (its autouse seeding fixture) and tests/helpers.py import keras only when a
    test runs, so `--collect-only` of these files leaves keras, tensorflow and jax unloaded."""
    code = (
        "import sys, pytest; "
        "code = pytest.main(['--collect-only', '-q', '-p', 'no:cacheprovider', "
        "*sys.argv[1:]]); "
        "print(int(code), *(name in sys.modules for name in ('keras', 'tensorflow', 'jax')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, *BACKEND_FREE],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert result.stdout.splitlines()[-1:] == ["0 False False False"], (
        result.stdout,
        result.stderr,
    )


def test_verse_is_the_same_for_the_same_arguments(tmp_path):
    one = write_verse(tmp_path / "one", count=3, lines=5, line_words=(4, 12))
    two = write_verse(tmp_path / "two", count=3, lines=5)
    assert sorted(p.name for p in one.iterdir()) == ["work_00.txt", "work_01.txt", "work_02.txt"]
    for name in ("work_00.txt", "work_01.txt", "work_02.txt"):
        assert (one / name).read_text() == (two / name).read_text()
    fixed = write_verse(tmp_path / "fixed", count=2, lines=4, words=["a", "b"], line_words=3)
    lines = (fixed / "work_01.txt").read_text().splitlines()
    assert len(lines) == 4 and all(len(line.split()) == 3 for line in lines)
    assert set(" ".join(lines).split()) <= {"a", "b"}


@pytest.mark.parametrize("at_step, interrupted_at", [(None, None), (2, 2), (0, 0)])
def test_interrupt_stops_at_its_step_and_keeps_the_plans(at_step, interrupted_at):
    import zoo
    from tests.helpers import Interrupt

    reporter = Interrupt(at_step)
    assert isinstance(reporter, zoo.Reporter)
    reporter.start("plan", {"run_id": "r"})
    assert reporter.plans == [("plan", {"run_id": "r"})]
    stopped = None
    for step in range(5):
        try:
            reporter.step({"step": step})
        except KeyboardInterrupt:
            stopped = step
            break
    assert stopped == interrupted_at
