"""Train one tiny preset under several strategies in one process; print a JSON line per run.

Run by tests/training/test_distribution.py in a fresh process, because the backend and the
virtual devices (ZOO_CPU_DEVICES) are fixed when the backend starts:

    ZOO_CPU_DEVICES=2 KERAS_BACKEND=jax python distributed_training.py CORPUS OUT PRESET none data-parallel

or, with `shards CASES_JSON`, build each case's model under model parallelism and print which
heads of each attention variable every device holds, found by content (matched against the
whole variable's heads), one JSON line per case:

    XLA_FLAGS=--xla_force_host_platform_device_count=4 KERAS_BACKEND=jax \
        python distributed_training.py shards '[["llama-nano", 2, {}]]'
"""

import json
import pathlib
import sys

import zoo
from zoo.training.loop import Reporter


class StepLosses(Reporter):
    def __init__(self):
        self.losses = []

    def step(self, progress):
        self.losses.append(progress["loss"])


def main(corpus, out, preset, *strategies):
    """A strategy name ending in "+zero" trains with `shard_optimizer` (ZeRO stage 1)."""
    for strategy in strategies:
        reporter = StepLosses()
        name, zero = strategy.removesuffix("+zero"), strategy.endswith("+zero")
        record = zoo.train(
            preset,
            data=corpus,
            steps=6,
            eval_interval=3,
            batch_size=4,
            strategy=name,
            shard_optimizer=zero,
            out=pathlib.Path(out) / strategy,
            reporter=reporter,
        )
        config, summary = record.config(), record.summary()
        print(
            json.dumps(
                {
                    "strategy": strategy,
                    "losses": reporter.losses,
                    "validation_loss": summary["validation_loss"],
                    "xla": config["xla"],
                    "distribution": config["distribution"],
                }
            ),
            flush=True,
        )


def head_shards(cases):
    import jax
    import keras
    import numpy as np

    from zoo.training.distribution import Distribution

    devices = keras.distribution.list_devices()
    for preset, count, overrides in json.loads(cases):
        config = zoo.resolve_config(preset, **overrides)
        distribution = Distribution("model-parallel", "jax", devices[:count]).configure(config)
        with distribution.scope():
            model = zoo.DecoderLM(config)
        mesh = distribution.keras_distribution.device_mesh
        position = {
            jax.devices()[int(d.split(":")[1])]: i  # place on the "model" axis
            for i, d in enumerate(np.asarray(mesh.devices).reshape(-1))
        }
        held = {}
        for variable in model.weights:
            leaf = variable.path.split("/self_attention/")[-1]
            if "/self_attention/" not in variable.path or leaf.startswith(
                ("relative", "content", "position")
            ):
                continue
            axis = 0 if leaf == "output/kernel" or leaf.endswith("bias") else 1
            if leaf == "output/bias":
                continue  # (d,): no head axis
            rng = np.random.default_rng(len(held))  # distinct heads, biases included
            variable.assign(rng.standard_normal(variable.shape).astype(variable.dtype))
            whole = np.asarray(variable.value)
            heads = [np.take(whole, n, axis=axis) for n in range(whole.shape[axis])]
            held[variable.path] = {}
            for shard in variable.value.addressable_shards:
                data = np.asarray(shard.data)
                found = [
                    next(
                        n
                        for n, head in enumerate(heads)
                        if np.array_equal(np.take(data, j, axis=axis), head)
                    )
                    for j in range(data.shape[axis])
                ]
                held[variable.path][position[shard.device]] = found
        print(json.dumps({"case": [preset, count, overrides], "held": held}), flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "shards":
        head_shards(sys.argv[2])
    else:
        main(*sys.argv[1:])
