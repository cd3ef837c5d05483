"""A benchmark worker process: builds one contender and times it on request (`zoo.bench.worker`
describes the protocol and is the driver's side). Run as `python -m zoo.bench.serve`."""

import json
import resource
import sys

from zoo.bench.timing import seconds


def _rss_bytes():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return None


def _device_peak_bytes():
    if "keras" not in sys.modules:  # a worker that never started Keras (transformers)
        return None
    import keras

    if keras.backend.backend() != "tensorflow":
        return None
    import tensorflow as tf

    if not tf.config.list_physical_devices("GPU"):
        return None
    return tf.config.experimental.get_memory_info("GPU:0")["peak"]


def _build(spec):
    """The contender `spec` names. Imports are deferred so that a worker loads only the
    framework its contender runs on (a `transformers` worker never starts TensorFlow)."""
    kind = spec["kind"]
    if kind.startswith("size-"):
        from zoo.bench import sizes

        return {
            "size-zoo": sizes.zoo_size_contender,
            "size-keras-hub": sizes.keras_hub_size_contender,
            "size-transformers": sizes.TransformersContender,
        }[kind](spec)
    if kind.startswith("generate"):
        from zoo.bench import generation

        return generation.build_contender(spec)
    from zoo.bench import training
    from zoo.config import ModelConfig
    from zoo.recipe import TrainingRecipe
    from zoo.registry import get_recipe

    recipe_training = TrainingRecipe.from_dict(spec["training"])
    if spec["kind"] == "keras-hub":
        return training.keras_hub_contender(training.AnchorShape(**spec["shape"]), recipe_training)
    config = (
        ModelConfig.from_dict(spec["config"])
        if "config" in spec
        else get_recipe(spec["preset"]).model
    )
    return training.zoo_contender(
        spec["name"], config, recipe_training, spec["batch_size"], spec["seq_len"]
    )


def serve():
    """The worker's loop (run as `python -m zoo.bench.serve`)."""
    baseline = _rss_bytes()
    contender = None
    for line in sys.stdin:
        request = json.loads(line)
        op = request["op"]
        if op == "build":
            contender = _build(request["spec"])
            reply = {
                "params": contender.model.count_params(),
                "flops_per_token": contender.model_flops,
                "tokens_per_step": contender.tokens_per_step,
                "warmup_seconds": seconds(lambda: contender.run(request.get("warmup", 3))),
                **getattr(contender, "facts", {}),
            }
        elif op == "run":
            reply = {"seconds": seconds(lambda: contender.run(request["steps"]))}
        elif op == "memory":
            reply = {
                "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
                "baseline_rss_bytes": baseline,
                "device_peak_bytes": _device_peak_bytes(),
            }
        else:
            raise ValueError(f"unknown request {op!r}")
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    serve()
