"""Finished runs carried between checkouts (`zoo.storage.carry`): a run's record without its
weights is reused by key, the archive is the same bytes for the same runs, and unpacking never
overwrites a run."""

import json
import tarfile

import pytest

from tests.helpers import Statuses
from zoo.errors import ZooError
from zoo.experiments import store as stores
from zoo.storage import carry

pytestmark = pytest.mark.usefixtures("isolated")


@pytest.mark.slow  # trains one run (~8 s idle): the default suite keeps its 3 minutes
def test_a_carried_run_is_reused_by_key_in_a_fresh_checkout(corpus, tmp_path):
    from zoo.training.trainer import plan_run

    plan = plan_run("gpt2-nano", data=str(corpus), steps=2)
    here = tmp_path / "here"
    record = stores.RunStore(here).obtain(plan, Statuses(), 0, 1, "gpt2-nano", 0)
    (here / "unfinished").mkdir()  # a run that never finished is not carried
    (here / "unfinished" / "config.json").write_text("{}")
    archive = tmp_path / "carried.tar.gz"
    assert carry.pack(here, archive) == 1
    first = archive.read_bytes()
    assert carry.pack(here, archive) == 1 and archive.read_bytes() == first  # same bytes
    with tarfile.open(archive) as tar:
        names = tar.getnames()
    assert f"{record.path.name}/summary.json" in names
    assert not any(n.endswith((".keras", ".npz", ".lock")) or "tensorboard" in n for n in names)

    there = tmp_path / "there"
    assert carry.unpack(archive, there) == 1
    carried = there / record.path.name
    kept = {name for name in carry.RECORD if (record.path / name).exists()}
    assert {p.name for p in carried.iterdir()} == kept | {"tokenizer"}
    fresh = stores.RunStore(there)
    assert fresh.status(plan) == stores.REUSED
    reused = fresh.obtain(plan, Statuses(), 0, 1, "gpt2-nano", 0)
    assert reused.summary() == record.summary() and reused.metrics() == record.metrics()

    (carried / "summary.json").write_text('{"mine": true}')
    assert carry.unpack(archive, there) == 0  # an existing run is never overwritten
    assert json.loads((carried / "summary.json").read_text()) == {"mine": True}
    assert [p.name for p in there.iterdir() if p.name.startswith(".carried")] == []

    (tmp_path / "damaged.tar.gz").write_bytes(first[: len(first) // 2])
    with pytest.raises(ZooError, match="damaged"):
        carry.unpack(tmp_path / "damaged.tar.gz", tmp_path / "elsewhere")
    assert carry.main(["unpack", str(tmp_path / "absent.tar.gz"), str(there)]) == 2
