"""One benchmark contender in its own process, driven by one JSON request per line on stdin.

Why separate processes: on this 2-core machine a second model (or only its dataset) living in
the same TensorFlow process doubled the first one's step time under `fit`, with the cores half
idle; so each contender gets a process of its own, and the driver alternates between them.
Idle workers block on stdin and use no CPU. A worker's peak memory is also its own.

Requests and replies (one JSON object each):
    {"op": "build", "spec": {...}}  -> {"params", "flops_per_token", "tokens_per_step",
                                        "warmup_seconds", and the contender's `facts`}
    {"op": "run", "steps": n}       -> {"seconds"}
    {"op": "memory"}                -> {"peak_rss_bytes", "baseline_rss_bytes", "device_peak_bytes"}
"""

import json
import resource
import subprocess
import sys
import tempfile

from zoo.errors import ZooError


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
    from zoo.bench import training
    from zoo.config import ModelConfig
    from zoo.recipe import TrainingRecipe
    from zoo.registry import get_recipe

    if spec["kind"].startswith("generate"):
        from zoo.bench.generation import build_contender

        return build_contender(spec)
    recipe_training = TrainingRecipe.from_dict(spec["training"])
    if spec["kind"] == "keras-hub":
        return training.keras_hub_contender(training.AnchorShape(**spec["shape"]),
                                            recipe_training)
    config = ModelConfig.from_dict(spec["config"]) if "config" in spec \
        else get_recipe(spec["preset"]).model
    return training.zoo_contender(spec["name"], config, recipe_training, spec["batch_size"],
                                  spec["seq_len"])


def serve():
    """The worker's loop (run as `python -m zoo.bench.worker`)."""
    from zoo.bench.timing import seconds

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


class Worker:
    """The driver's handle on a worker process; use as a context manager."""

    def __init__(self, spec, warmup=3):
        self.stderr = tempfile.TemporaryFile(mode="w+")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "zoo.bench.worker"], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=self.stderr, text=True)
        self.built = self.request({"op": "build", "spec": spec, "warmup": warmup})

    def request(self, message):
        self.process.stdin.write(json.dumps(message) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            self.process.wait()
            self.stderr.seek(0)
            tail = self.stderr.read().strip().splitlines()[-1:] or ["(no output)"]
            raise ZooError(f"benchmark worker exited with status {self.process.returncode}: "
                           f"{tail[0]}")
        return json.loads(line)

    def run(self, steps):
        return self.request({"op": "run", "steps": steps})["seconds"]

    def memory(self):
        return self.request({"op": "memory"})

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.process.stdin.close()
        self.process.wait()
        self.stderr.close()
        return False


if __name__ == "__main__":
    serve()
