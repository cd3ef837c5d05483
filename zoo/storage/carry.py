"""Finished runs carried between sittings: their records packed into one archive, weights left out.

A reference study can take longer than one sitting of the machine that trains it, and a fresh
checkout holds only what git holds: the runs under `results/` are not in git (their checkpoints
and models are megabytes each). A finished run's *record* is small, though: its settings
(`config.json`, with the key a sweep finds it by), its summary, its evaluations, its state and its
tokenizer, some 10 KB. That record is all a sweep reads of a run it reuses (`RunStore.obtain`
returns it when `summary.json` is there; a failed run's `failure.json` keeps it from being
retried), so packing the records of the finished runs into one committed archive and unpacking
it in the next checkout lets a study continue where it stopped. The models are not carried: a
carried run can be reused by its key, not exported or continued.

    python -m zoo.storage.carry pack ROOT ARCHIVE     # every finished run under ROOT
    python -m zoo.storage.carry unpack ARCHIVE ROOT   # those not already there
"""

import gzip
import io
import pathlib
import sys
import tarfile
import tempfile

from zoo.errors import ZooError
from zoo.files import atomic_write_bytes

# What a run's record is made of; everything else (models, checkpoints, the probe batch,
# TensorBoard events, the lock) stays behind.
RECORD = ("config.json", "summary.json", "failure.json", "metrics.jsonl", "state.json")
RECORD_DIRECTORIES = ("tokenizer",)


def finished_runs(root):
    """The run directories under `root` that finished (a summary) or failed for good (a
    failure record), sorted by name."""
    root = pathlib.Path(root)
    return sorted(
        path
        for path in (root.iterdir() if root.is_dir() else ())
        if (path / "config.json").is_file()
        and ((path / "summary.json").is_file() or (path / "failure.json").is_file())
    )


def pack(root, archive):
    """Write the records of every finished run under `root` to the gzip tar `archive` (moved
    into place when complete); returns how many runs it holds."""
    runs = finished_runs(root)
    buffer = io.BytesIO()
    # Fixed times and sorted names: the same runs give the same bytes, so an unchanged archive
    # is no change in git.
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for run in runs:
            for path in _record_files(run):
                info = tarfile.TarInfo(path.relative_to(run.parent).as_posix())
                data = path.read_bytes()
                info.size, info.mtime, info.mode = len(data), 0, 0o644
                tar.addfile(info, io.BytesIO(data))
    atomic_write_bytes(pathlib.Path(archive), gzip.compress(buffer.getvalue(), mtime=0))
    return len(runs)


def unpack(archive, root):
    """Unpack the runs of `archive` into `root`, each one whole or not at all; a run whose
    directory exists is left as it is (a run is never overwritten). Returns the runs added."""
    archive, root = pathlib.Path(archive), pathlib.Path(root)
    if not archive.is_file():
        raise ZooError(f"no archive of runs at {archive}")
    root.mkdir(parents=True, exist_ok=True)
    added = 0
    with tempfile.TemporaryDirectory(dir=root, prefix=".carried-") as staging:
        try:
            with tarfile.open(archive, mode="r:gz") as tar:
                tar.extractall(staging, filter="data")  # no links, no paths outside staging
        except (tarfile.TarError, OSError, EOFError) as error:
            raise ZooError(f"{archive} is damaged ({type(error).__name__}: {error})") from None
        for run in sorted(pathlib.Path(staging).iterdir()):
            target = root / run.name
            if not (run / "config.json").is_file() or target.exists():
                continue
            run.rename(target)  # one rename: the run appears whole
            added += 1
    return added


def _record_files(run):
    files = [run / name for name in RECORD if (run / name).is_file()]
    for name in RECORD_DIRECTORIES:
        if (run / name).is_dir():
            files += sorted(p for p in (run / name).rglob("*") if p.is_file())
    return files


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 3 or argv[0] not in ("pack", "unpack"):
        print("usage: python -m zoo.storage.carry pack ROOT ARCHIVE | unpack ARCHIVE ROOT",
              file=sys.stderr)  # fmt: skip
        return 2
    try:
        if argv[0] == "pack":
            print(f"{pack(argv[1], argv[2])} finished runs of {argv[1]} packed into {argv[2]}")
        else:
            print(f"{unpack(argv[1], argv[2])} runs unpacked from {argv[1]} into {argv[2]}")
    except ZooError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())


__all__ = ["RECORD", "finished_runs", "pack", "unpack"]
