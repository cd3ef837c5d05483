"""Refusing a run this process could not finish: the kernel's limit on memory maps.

TensorFlow keeps every XLA program a process compiles for as long as the process lives, and the
XLA CPU JIT maps each program's kernels as separate memory regions: measured here, about 510
maps per short `zoo train` of a nano model, none returned by `keras.backend.clear_session()` or
`gc.collect()` (docs/contributing.md, "Memory maps"). A process that trains run after run (a
comparison or sweep with `jobs=1`, a worker of `jobs=N`, a long test session) therefore nears
Linux's `vm.max_map_count` (65,530 by default); past it an `mmap` inside TensorFlow fails and the
process dies with SIGSEGV in the middle of a step, saying nothing. So before a run starts, the
trainer checks the headroom and refuses, in one line and before writing anything, a run that
would start with fewer than `MARGIN` maps to spare. Nothing is lost: the runs already trained
are on disk, and the same command run again (a fresh process) reuses them and goes on.
"""

import pathlib

from zoo.errors import ZooError

MAPS = pathlib.Path("/proc/self/maps")
LIMIT = pathlib.Path("/proc/sys/vm/max_map_count")
# About ten nano runs' worth (510 each); larger models compile more kernels, still well inside.
MARGIN = 5_000


def map_usage():
    """(maps this process holds, the kernel's limit), or None where /proc does not say (not
    Linux): there the check is skipped."""
    try:
        with MAPS.open() as maps:
            used = sum(1 for _ in maps)
        limit = int(LIMIT.read_text())
    except (OSError, ValueError):
        return None
    return used, limit


class MapHeadroomError(ZooError):
    """This process could not finish another run; a fresh process can (`zoo tune` queues the
    refused trial's settings again, so the same command run again trains them first)."""


def check_map_headroom(usage=None):
    """Raise `MapHeadroomError` when this process is within `MARGIN` maps of the kernel's limit."""
    usage = map_usage() if usage is None else usage
    if usage is None:
        return
    used, limit = usage
    if limit - used < MARGIN:
        raise MapHeadroomError(
            f"this process holds {used:,} of the {limit:,} memory maps Linux allows a process "
            "(vm.max_map_count), and TensorFlow keeps the XLA programs of every run it trained; "
            "a run started now could die mid-step. The runs so far are saved: run the same "
            "command again (a fresh process) to go on"
        )


__all__ = ["MARGIN", "MapHeadroomError", "check_map_headroom", "map_usage"]
