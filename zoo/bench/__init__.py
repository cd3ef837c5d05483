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
import importlib

from zoo.files import atomic_write_json

# Deferred (PEP 562): a benchmark worker (`python -m zoo.bench.serve`) imports this package
# first, and a `transformers` worker must not start Keras or TensorFlow by doing so.
_API = {
    "benchmark_attention": "zoo.bench.attention",
    "benchmark_generation": "zoo.bench.generation",
    "benchmark_generation_anchor": "zoo.bench.generation",
    "benchmark_parallel": "zoo.bench.parallel",
    "benchmark_pipeline": "zoo.bench.pipeline",
    "benchmark_anchor": "zoo.bench.training",
    "benchmark_families": "zoo.bench.training",
    "AnchorShape": "zoo.bench.training",
    "benchmark_sizes": "zoo.bench.sizes",
    "FIXED_LADDER": "zoo.bench.sizes",
    "SizeShape": "zoo.bench.sizes",
}


def __getattr__(name):
    if name in _API:
        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'zoo.bench' has no attribute {name!r}")


def run_suite(
    parts=("anchor", "families", "attention", "generate"),
    steps=10,
    repeats=5,
    family_steps=5,
    family_repeats=3,
    families=None,
    seq_lens=None,
    generate_repeats=3,
    generate_batch_size=1,
    size_shapes=None,
    size_seconds=1.0,
    window=None,
    reporter=print,
):
    """The benchmark `parts` as one JSON-ready dict; `reporter(text)` hears what is running.

    The families use fewer steps and repeats by default: eight compilations already dominate.
    `size_shapes`: the ladder of `sizes` (default `FIXED_LADDER`).
    """
    import keras

    from zoo.bench.attention import benchmark_attention
    from zoo.bench.generation import benchmark_generation, benchmark_generation_anchor
    from zoo.bench.sizes import FIXED_LADDER, benchmark_sizes
    from zoo.bench.training import AnchorShape, benchmark_anchor, benchmark_families
    from zoo.storage.environment import environment
    from zoo.training.hardware import device_description, peak_flops

    peak, source = peak_flops(fresh=True)
    report = {
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "backend": keras.backend.backend(),
        "device": " ".join(device_description()),
        "peak_flops": peak,
        "peak_flops_source": source,
        "environment": environment(),
        "methodology": __doc__.split("Methodology (also `zoo bench --help`): ")[1].strip(),
    }
    if "anchor" in parts:
        reporter("training throughput: the zoo's GPT-2 against keras-hub's GPT2Backbone …")
        report["anchor"] = benchmark_anchor(AnchorShape(), steps=steps, repeats=repeats, peak=peak)
    if "families" in parts:
        reporter("training throughput of each family's -small twin …")
        report["families"] = benchmark_families(
            families, steps=family_steps, repeats=family_repeats, peak=peak
        )
    if "sizes" in parts:
        reporter(
            "training throughput over the size ladder: the zoo on each backend against "
            "keras-hub and transformers …"
        )
        report["sizes"] = benchmark_sizes(
            size_shapes or FIXED_LADDER,
            repeats=repeats,
            seconds_per_repeat=size_seconds,
            peak=peak,
            reporter=reporter,
        )
    if "attention" in parts:
        reporter("dense, banded and fused attention by sequence length …")
        kwargs = {"seq_lens": seq_lens} if seq_lens else {}
        kwargs.update({"window": window} if window else {})
        report["attention"] = benchmark_attention(repeats=repeats, reporter=reporter, **kwargs)
    if "parallel" in parts:
        from zoo.bench.parallel import benchmark_parallel

        reporter("memory per device under data, tensor and ZeRO-1 layouts …")
        report["parallel"] = benchmark_parallel(steps=steps, reporter=reporter)
    if "generate" in parts:
        reporter("decoding: the zoo's GPT-2 against keras-hub's GPT2CausalLM.generate …")
        report["generate_anchor"] = benchmark_generation_anchor(
            AnchorShape(), batch_size=generate_batch_size, repeats=generate_repeats
        )
        reporter("decoding speed and key/value cache of each family's -small twin …")
        report["generate"] = benchmark_generation(
            families, batch_size=generate_batch_size, repeats=generate_repeats
        )
    return report


def write_report(report, path):
    atomic_write_json(path, report)
    return path


__all__ = [*_API, "run_suite", "write_report"]
