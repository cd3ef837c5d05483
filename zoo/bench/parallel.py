"""Memory per device under data parallelism, Megatron tensor parallelism and ZeRO stage 1.

For 1, 2, 4 and 8 devices (virtual CPU devices here: `ZOO_CPU_DEVICES`, one process per count,
as the count is fixed when JAX starts) and each layout of them, a small LLaMA-shaped model is
built under the layout's distribution with AdamW, the optimizer state optionally divided over
the data axis (`shard_optimizer_state`, as `zoo train --shard-optimizer` does), and measured:
    parameters, optimizer  bytes of the shards each device holds (`addressable_shards`), the
                           largest device's;
    gradients              bytes of each device's shards of the gradients a jitted
                           `jax.grad` returns under the layout (XLA's partitioner chooses);
    step                   median seconds of a Keras training step (batch over the data axis).
Beside each measured row, `zoo.training.sharding.device_memory`'s accounting for the same model
and layout (they must agree; tested), and the accounting alone for `llama-7b` and `palm-540b`.

Virtual devices share this machine's cores: the step time shows what the layout costs in
exchanged activations and gathered weights, not the speed-up real devices would give.
"""

import json
import os
import subprocess
import sys

from zoo.errors import ZooError

DEVICE_COUNTS = (1, 2, 4, 8)
ACCOUNTED = ("llama-7b", "palm-540b")
# LLaMA's shape at a width every device count here divides (heads 8, feed-forward 688 = 8·86).
SMALL = dict(
    num_layers=4,
    hidden_dim=256,
    num_query_heads=8,
    num_key_value_heads=8,
    head_dim=32,
    intermediate_dim=688,
    vocabulary_size=512,
    max_sequence_length=128,
)
BATCH = 8  # sequences per step: every data axis here divides it


def layouts(devices):
    """[(name, model_axis, shard_optimizer)] for `devices` devices."""
    rows = [("data", 1, False)]
    if devices > 1:  # one device has no data axis to divide the optimizer state over
        rows.append(("data + ZeRO-1", 1, True))
        rows.append(("tensor", devices, False))
    if devices >= 4:
        rows.append(("tensor 2 × data", 2, False))
        rows.append(("tensor 2 × data + ZeRO-1", 2, True))
    return rows


def benchmark_parallel(device_counts=DEVICE_COUNTS, steps=5, reporter=None):
    """{"model", "measured": rows, "accounted": rows}: the small model measured on each device
    count in a worker process of its own, then the accounting for `ACCOUNTED`."""
    from zoo.registry import get_recipe, resolve_config
    from zoo.training.sharding import device_memory

    measured = []
    for devices in device_counts:
        if reporter:
            reporter(f"{devices} virtual device{'s' * (devices > 1)} …")
        measured += _in_worker(devices, steps)
    accounted = []
    for name in ACCOUNTED:
        config = get_recipe(name).model
        for devices in device_counts:
            for layout, model_axis, zero in layouts(devices):
                accounted.append({
                    "model": name,
                    "devices": devices,
                    "layout": layout,
                    **device_memory(config, devices, model_axis, zero),
                })  # fmt: skip
    config = resolve_config("llama-nano", **SMALL)
    return {
        "model": {**SMALL, "params": sum(_sizes(config))},
        "batch": BATCH,
        "steps": steps,
        "measured": measured,
        "accounted": accounted,
    }


def _sizes(config):
    import math

    from zoo.training.sharding import variable_shapes

    return [math.prod(shape) for shape in variable_shapes(config).values()]


def _in_worker(devices, steps):
    env = {
        **os.environ,
        "KERAS_BACKEND": "jax",
        "ZOO_CPU_DEVICES": str(devices),
        "TF_CPP_MIN_LOG_LEVEL": "3",
    }
    done = subprocess.run(
        [sys.executable, "-m", "zoo.bench.parallel", str(devices), str(steps)],
        env=env,
        capture_output=True,
        text=True,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        tail = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise ZooError(f"parallel memory worker on {devices} devices failed: {tail}")
    return [json.loads(line) for line in lines]


# === The worker: one device count ===


def _measure(devices, steps):
    import time

    from zoo.training.distribution import select_backend

    select_backend("jax")  # applies ZOO_CPU_DEVICES before JAX starts

    import jax
    import keras
    import numpy as np

    from zoo.model import DecoderLM
    from zoo.registry import resolve_config
    from zoo.training.distribution import megatron_distribution, shard_optimizer_state
    from zoo.training.sharding import device_memory

    config = resolve_config("llama-nano", **SMALL)
    found = keras.distribution.list_devices()
    if len(found) != devices:
        raise ZooError(f"asked for {devices} devices, JAX shows {len(found)}")
    rng = np.random.default_rng(0)
    tokens = rng.integers(0, config.vocabulary_size, (BATCH, config.max_sequence_length + 1))
    x, y = tokens[:, :-1].astype("int32"), tokens[:, 1:].astype("int32")
    for layout, model_axis, zero in layouts(devices):
        distribution = megatron_distribution(config, found, model_axis)
        keras.utils.set_random_seed(0)
        with distribution.scope():
            model = DecoderLM(config)
            loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
            model.compile(optimizer=keras.optimizers.AdamW(1e-3), loss=loss, jit_compile=True)
            model.optimizer.build(model.trainable_variables)
            if zero:
                shard_optimizer_state(model.optimizer, distribution)
            slots = [v for v in model.optimizer.variables if len(v.shape)]
            gradients = _gradients(model, loss, x, y, distribution)
            model.train_on_batch(x, y)  # compiled here
            times = []
            for _ in range(steps):
                start = time.perf_counter()
                model.train_on_batch(x, y)
                times.append(time.perf_counter() - start)
        print(
            json.dumps({
                "devices": devices,
                "layout": layout,
                "mesh": distribution.mesh,
                "parameters": _largest_device(model.trainable_variables),
                "gradients": _largest_device(gradients),
                "optimizer": _largest_device(slots),
                "step_seconds": float(np.median(times)),
                "accounted": {
                    k: v
                    for k, v in device_memory(config, devices, model_axis, zero).items()
                    if k != "mesh"
                },
            }),
            flush=True,
        )  # fmt: skip
        del model, gradients, slots
        jax.clear_caches()


def _gradients(model, loss, x, y, distribution):
    """The gradients a jitted `jax.grad` returns for one batch laid out over the data axis."""
    import jax

    batch = distribution.keras_distribution.get_data_layout(x.shape).backend_layout
    x, y = jax.device_put(x, batch), jax.device_put(y, batch)

    def value(trainable):
        logits, _ = model.stateless_call(trainable, model.non_trainable_variables, x)
        return loss(y, logits)

    return jax.jit(jax.grad(value))([v.value for v in model.trainable_variables])


def _largest_device(arrays):
    """Bytes the fullest device holds of `arrays` (variables or jax arrays)."""
    held = {}
    for array in arrays:
        for shard in getattr(array, "value", array).addressable_shards:
            held[shard.device] = held.get(shard.device, 0) + shard.data.nbytes
    return max(held.values())


if __name__ == "__main__":
    _measure(int(sys.argv[1]), int(sys.argv[2]))
