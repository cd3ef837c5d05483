"""The driver's side of a benchmark worker: one contender in its own process (`zoo.bench.serve`),
driven by one JSON request per line on stdin.

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
import os
import subprocess
import sys
import tempfile

from zoo.errors import ZooError


class Worker:
    """The driver's handle on a worker process; use as a context manager."""

    def __init__(self, spec, warmup=3, env=None):
        """`env`: variables set for the worker on top of this process's (e.g. KERAS_BACKEND)."""
        self.stderr = tempfile.TemporaryFile(mode="w+")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "zoo.bench.serve"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            text=True,
            env={**os.environ, **(env or {})},
        )
        self.built = self.request({"op": "build", "spec": spec, "warmup": warmup})

    def request(self, message):
        self.process.stdin.write(json.dumps(message) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            self.process.wait()
            self.stderr.seek(0)
            tail = self.stderr.read().strip().splitlines()[-1:] or ["(no output)"]
            raise ZooError(
                f"benchmark worker exited with status {self.process.returncode}: {tail[0]}"
            )
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
