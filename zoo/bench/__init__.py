"""`zoo bench`: benchmarks measured side by side in one run on this machine (never assertions).

Methodology (also `zoo bench --help`): every contender is compiled and warmed up (3 steps)
before timing; each timed repeat trains a fixed number of steps with `fit`; contenders that are
compared with each other run in separate worker processes and are timed in turns; each figure is
the median of its repeats, with min and max kept. MFU divides model FLOPs (PaLM's
6N + 12·L·H·Q·T per token) by the device's peak: on CPU the best of ten XLA float32 2048³
matmuls measured at the start of the same run. Decoding (`zoo.bench.generation`): greedy, with
the key/value cache, batch 1, a 32-token prompt and 224 new tokens, one generation per repeat.
"""

import datetime

from zoo.bench.attention import benchmark_attention
from zoo.bench.generation import benchmark_generation, benchmark_generation_anchor
from zoo.bench.pipeline import benchmark_pipeline
from zoo.bench.training import AnchorShape, benchmark_anchor, benchmark_families
from zoo.files import atomic_write_json
from zoo.training.hardware import device_description, peak_flops


def run_suite(parts=("anchor", "families", "attention", "generate"), steps=10, repeats=5,
              family_steps=5, family_repeats=3, families=None, seq_lens=None,
              generate_repeats=3, generate_batch_size=1, reporter=print):
    """The benchmark `parts` as one JSON-ready dict; `reporter(text)` hears what is running.

    The families use fewer steps and repeats by default: eight compilations already dominate.
    """
    import keras

    from zoo.storage.environment import environment

    peak, source = peak_flops(fresh=True)
    report = {"date": datetime.datetime.now().isoformat(timespec="seconds"),
              "backend": keras.backend.backend(), "device": " ".join(device_description()),
              "peak_flops": peak, "peak_flops_source": source, "environment": environment(),
              "methodology": __doc__.split("Methodology (also `zoo bench --help`): ")[1].strip()}
    if "anchor" in parts:
        reporter("training throughput: the zoo's GPT-2 against keras-hub's GPT2Backbone …")
        report["anchor"] = benchmark_anchor(AnchorShape(), steps=steps, repeats=repeats, peak=peak)
    if "families" in parts:
        reporter("training throughput of each family's -small twin …")
        report["families"] = benchmark_families(families, steps=family_steps,
                                                repeats=family_repeats, peak=peak)
    if "attention" in parts:
        reporter("banded against dense attention by sequence length …")
        kwargs = {"seq_lens": seq_lens} if seq_lens else {}
        report["attention"] = benchmark_attention(repeats=repeats, **kwargs)
    if "generate" in parts:
        reporter("decoding: the zoo's GPT-2 against keras-hub's GPT2CausalLM.generate …")
        report["generate_anchor"] = benchmark_generation_anchor(
            AnchorShape(), batch_size=generate_batch_size, repeats=generate_repeats)
        reporter("decoding speed and key/value cache of each family's -small twin …")
        report["generate"] = benchmark_generation(families, batch_size=generate_batch_size,
                                                  repeats=generate_repeats)
    return report


def write_report(report, path):
    atomic_write_json(path, report)
    return path


__all__ = ["benchmark_anchor", "benchmark_attention", "benchmark_families",
           "benchmark_generation", "benchmark_generation_anchor", "benchmark_pipeline",
           "run_suite", "write_report"]
