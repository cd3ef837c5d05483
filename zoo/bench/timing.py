"""How every benchmark times things: warm up, repeat, interleave contenders, take the median.

A 2-core VM's speed drifts (other tenants, frequency scaling), so contenders compared with each
other are timed in turns (A, B, A, B, …) rather than one after the other, and each reports the
median of its repeats; the spread (min, max) is kept next to it.
"""

import dataclasses
import statistics
import time


@dataclasses.dataclass
class Timing:
    """Repeated measurements of one quantity (e.g. tokens/s), higher is better unless noted."""

    values: list

    @property
    def median(self):
        return statistics.median(self.values)

    def to_dict(self):
        return {
            "median": self.median,
            "min": min(self.values),
            "max": max(self.values),
            "repeats": list(self.values),
        }


def seconds(fn):
    """Wall seconds of one call of `fn` (which must block until its work is done)."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def interleaved(contenders, repeats):
    """{name: [seconds, …]}: each `contenders[name]()` timed once per round, `repeats` rounds."""
    times = {name: [] for name in contenders}
    for _ in range(repeats):
        for name, fn in contenders.items():
            times[name].append(seconds(fn))
    return times
