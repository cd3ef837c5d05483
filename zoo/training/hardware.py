"""Peak FLOP/s of the device, the denominator of model FLOPs utilisation (MFU).

On CPU there is no datasheet figure worth trusting, so the peak is *measured* once (a float32
2048³ matmul compiled with XLA, best of several runs) and cached per machine. On a known
accelerator the dense peak comes from the table below; an unknown accelerator has no peak and
MFU is reported as unknown rather than guessed.
"""

import json
import os
import platform
import time

from zoo.files import atomic_write_json, cache_dir

# Dense (non-sparse) peaks in FLOP/s from the vendors' datasheets: (bfloat16, float32).
ACCELERATOR_PEAKS = {
    "H200": (989e12, 67e12),
    "H100": (989e12, 67e12),  # SXM
    "A100": (312e12, 19.5e12),
    "L4": (121e12, 30.3e12),
    "A10G": (70e12, 31.2e12),
    "V100": (125e12, 15.7e12),  # fp16 tensor cores
    "T4": (65e12, 8.1e12),  # fp16 tensor cores
    "TPU v4": (275e12, 275e12),
    "TPU v5e": (197e12, 197e12),
}

MATMUL_SIZE = 2048


def device_description():
    """('cpu' | 'gpu' | 'tpu', human-readable name) of the first device the Keras backend sees."""
    import keras

    if keras.backend.backend() == "jax":
        import jax

        device = jax.devices()[0]
        if device.platform != "cpu":
            return device.platform, device.device_kind
        return "cpu", f"{_cpu_name()} × {os.cpu_count()} cores"
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        details = tf.config.experimental.get_device_details(gpus[0])
        return "gpu", details.get("device_name", "GPU")
    return "cpu", f"{_cpu_name()} × {os.cpu_count()} cores"


def peak_flops(precision="float32", fresh=False):
    """(peak FLOP/s or None, how it was obtained) for the device training will run on.

    On CPU the measurement is cached per machine; `fresh=True` measures again now (benchmarks).
    """
    kind, name = device_description()
    if kind == "cpu" and fresh:
        rates = matmul_flops()
        return max(rates), (
            f"measured now: best of {len(rates)} XLA float32 {MATMUL_SIZE}³ matmuls on {name}"
        )
    if kind == "cpu":
        return measured_cpu_peak(), f"measured: XLA float32 {MATMUL_SIZE}³ matmul on {name}"
    for key, (bf16, fp32) in ACCELERATOR_PEAKS.items():
        if key.lower() in name.lower():
            peak = bf16 if precision.startswith("mixed") else fp32
            return peak, f"datasheet: {key} {'bfloat16' if peak == bf16 else 'float32'}"
    return None, f"unknown device {name!r}: no peak, MFU not reported"


def measured_cpu_peak():
    """Best-of-10 float32 matmul FLOP/s on this CPU, measured once and cached."""
    key = f"{_cpu_name()}|{os.cpu_count()}|{MATMUL_SIZE}"
    path = cache_dir() / "cpu_peak.json"
    if path.exists():
        cached = json.loads(path.read_text())
        if cached.get("key") == key:
            return cached["flops"]
    flops = max(matmul_flops())
    atomic_write_json(path, {"key": key, "flops": flops})
    return flops


def matmul_flops(repeats=10, size=MATMUL_SIZE):
    """FLOP/s of each of `repeats` float32 size³ matmuls compiled with XLA (after one compile)."""
    import tensorflow as tf

    a = tf.random.normal((size, size))
    b = tf.random.normal((size, size))
    matmul = tf.function(tf.autograph.experimental.do_not_convert(tf.matmul), jit_compile=True)
    matmul(a, b).numpy()  # compile
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        matmul(a, b).numpy()
        rates.append(2 * size**3 / (time.perf_counter() - start))
    return rates


def _cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()
