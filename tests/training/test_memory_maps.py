"""A run is refused, in one line and before anything is written, when this process is too close
to the kernel's limit on memory maps to finish it (zoo.training.memory_maps)."""

import pytest

import zoo
from tests.helpers import Interrupt, assert_one_line, invoker
from zoo.training import memory_maps

pytestmark = pytest.mark.usefixtures("isolated")


def test_the_usage_is_read_from_proc():
    used, limit = memory_maps.map_usage()
    assert 0 < used < limit


def test_the_headroom_check_refuses_only_within_the_margin():
    limit = 65_530
    memory_maps.check_map_headroom((limit - memory_maps.MARGIN, limit))
    memory_maps.check_map_headroom(None)  # where /proc does not say: not checked
    with pytest.raises(zoo.ZooError, match="^this process holds 64,000 of the 65,530 memory maps"):
        memory_maps.check_map_headroom((64_000, limit))


def test_a_run_near_the_limit_is_refused_before_anything_is_written(corpus, tmp_path, monkeypatch):
    from zoo_cli.main import app

    monkeypatch.setattr(memory_maps, "map_usage", lambda: (65_000, 65_530))
    out = tmp_path / "run"
    result = invoker(app)("train", "gpt2-nano", "--data", corpus, "--steps", 2, "--out", out)
    assert_one_line(result, "error: this process holds 65,000 of the 65,530 memory maps")
    assert not out.exists()


@pytest.mark.slow  # several trainings: the default suite keeps its 3 minutes
def test_a_resume_near_the_limit_is_refused_and_the_run_kept(corpus, tmp_path, monkeypatch):
    out = tmp_path / "run"
    options = dict(data=str(corpus), steps=6, eval_interval=2, out=str(out))
    with pytest.raises(KeyboardInterrupt):
        zoo.train("gpt2-nano", reporter=Interrupt(4), **options)
    kept = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    usage = memory_maps.map_usage
    monkeypatch.setattr(memory_maps, "map_usage", lambda: (65_000, 65_530))
    with pytest.raises(zoo.ZooError, match="run the same command again"):
        zoo.train("gpt2-nano", resume=True, **options)
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == kept
    monkeypatch.setattr(memory_maps, "map_usage", usage)  # a fresh process: the same command

    assert zoo.train("gpt2-nano", resume=True, **options).complete
