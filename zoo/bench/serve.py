"""A benchmark worker process: builds one contender and times it on request (`zoo.bench.worker`
describes the protocol and is the driver's side). Run as `python -m zoo.bench.serve`."""

import json
import resource
import sys

from zoo.bench import generation, training
from zoo.bench.timing import seconds
from zoo.config import ModelConfig
from zoo.recipe import TrainingRecipe
from zoo.registry import get_recipe


def _rss_bytes():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return None


def _device_peak_bytes():
    import keras

    if keras.backend.backend() != "tensorflow":
        return None
    import tensorflow as tf

    if not tf.config.list_physical_devices("GPU"):
        return None
    return tf.config.experimental.get_memory_info("GPU:0")["peak"]


def _build(spec):
    if spec["kind"].startswith("generate"):
        return generation.build_contender(spec)
    recipe_training = TrainingRecipe.from_dict(spec["training"])
    if spec["kind"] == "keras-hub":
        return training.keras_hub_contender(training.AnchorShape(**spec["shape"]),
                                            recipe_training)
    config = ModelConfig.from_dict(spec["config"]) if "config" in spec \
        else get_recipe(spec["preset"]).model
    return training.zoo_contender(spec["name"], config, recipe_training, spec["batch_size"],
                                  spec["seq_len"])


def serve():
    """The worker's loop (run as `python -m zoo.bench.serve`)."""
    baseline = _rss_bytes()
    contender = None
    for line in sys.stdin:
        request = json.loads(line)
        op = request["op"]
        if op == "build":
            contender = _build(request["spec"])
            reply = {"params": contender.model.count_params(),
                     "flops_per_token": contender.model_flops,
                     "tokens_per_step": contender.tokens_per_step,
                     "warmup_seconds": seconds(lambda: contender.run(request.get("warmup", 3))),
                     **getattr(contender, "facts", {})}
        elif op == "run":
            reply = {"seconds": seconds(lambda: contender.run(request["steps"]))}
        elif op == "memory":
            reply = {"peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
                     "baseline_rss_bytes": baseline, "device_peak_bytes": _device_peak_bytes()}
        else:
            raise ValueError(f"unknown request {op!r}")
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    serve()
