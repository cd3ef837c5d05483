"""Wall-time estimates for a sweep, from throughput measured on this machine before it trains.

A step costs a fixed overhead plus time proportional to its FLOPs (batch × context × FLOPs per
token): t = a + b·F. Two anchors fix a and b: the plan's cheapest and dearest steps, each compiled
and timed by `zoo.bench.training.zoo_contender`, with `zoo train`'s optimizer, loss and XLA but
no spike guard (which sweeps leave off by default), the whole batch in one update and float32
whatever the run's precision. Every other run is placed on that line, and evaluation (interval
windows plus the final full pass) is charged at a third of a training step's cost per token
(forward only).
Measurements are cached per device and shape, so a repeated `--dry-run` is instant.
"""

import hashlib
import json
import math
import time
import warnings

from zoo.files import atomic_write_json, cache_dir
from zoo.training.plan import EVALUATIONS

CALIBRATION_STEPS = 8  # timed steps per anchor, after two compiling ones
SETUP_SECONDS = 4.0  # per run: data, directory, saving the model and probe (measured ~3–5 s)


def step_flops(planned):
    budget = planned.plan.budget
    return budget.tokens_per_step * budget.flops_per_token


def calibrate(planned_runs):
    """{'overhead_seconds', 'seconds_per_flop', 'compile_seconds', 'anchors'} for the plan."""
    ordered = sorted(planned_runs, key=step_flops)
    anchors = (
        [ordered[0]]
        if step_flops(ordered[0]) == step_flops(ordered[-1])
        else [ordered[0], ordered[-1]]
    )
    measured = [_measure(p) for p in anchors]
    if len(measured) == 1:
        overhead, per_flop = 0.0, measured[0]["step_seconds"] / measured[0]["step_flops"]
    else:
        (f0, t0), (f1, t1) = [(m["step_flops"], m["step_seconds"]) for m in measured]
        per_flop = max((t1 - t0) / (f1 - f0), 0.0)
        overhead = max(t0 - per_flop * f0, 0.0)
        if per_flop == 0.0:  # the dearer step was no slower: all overhead, at its cost
            per_flop, overhead = 0.0, max(t0, t1)
    return {
        "overhead_seconds": overhead,
        "seconds_per_flop": per_flop,
        "compile_seconds": max(m["compile_seconds"] for m in measured),
        "anchors": measured,
    }


def estimate_seconds(planned, calibration, done_fraction=0.0):
    """Seconds `planned` should take from `done_fraction` of its steps to its end."""
    plan = planned.plan
    budget = plan.budget
    step = calibration["overhead_seconds"] + calibration["seconds_per_flop"] * step_flops(planned)
    training = budget.steps * (1.0 - done_fraction) * step
    validation = plan.data.validation_tokens
    windows = max(1, validation // (budget.seq_len + 1)) if validation is not None else 0
    eval_tokens = (EVALUATIONS * plan.run.eval_windows + windows) * budget.seq_len
    evaluation = eval_tokens * budget.flops_per_token / 3 * calibration["seconds_per_flop"]
    return SETUP_SECONDS + calibration["compile_seconds"] + training + evaluation


def _measure(planned):
    """Compile-and-step timings of one planned run's shape, cached by device and shape."""
    from zoo.bench.training import zoo_contender
    from zoo.training.hardware import device_description

    plan = planned.plan
    budget = plan.budget
    key = {
        "device": list(device_description()),
        "model": plan.model.to_dict(),
        "training": plan.training.to_dict(),
        "batch_size": budget.batch_size,
        "seq_len": budget.seq_len,
        "precision": plan.run.precision.value,
    }
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:20]
    path = cache_dir("throughput") / f"{digest}.json"
    if path.exists():
        return json.loads(path.read_text())
    config = plan.model
    contender = zoo_contender(
        "calibration", config, plan.training, budget.batch_size, budget.seq_len
    )
    with warnings.catch_warnings():
        # Keras warns that fit's default shuffle does not apply to a tf.data.Dataset: true,
        # and the contender's batches are random already.
        warnings.filterwarnings("ignore", message=".*shuffle=True.*")
        start = time.perf_counter()
        contender.run(2)
        compile_seconds = time.perf_counter() - start
        best = math.inf
        for _ in range(2):
            start = time.perf_counter()
            contender.run(CALIBRATION_STEPS)
            best = min(best, (time.perf_counter() - start) / CALIBRATION_STEPS)
    result = {
        "step_seconds": best,
        "step_flops": step_flops(planned),
        "compile_seconds": compile_seconds,
        "shape": f"{config.num_layers}×{config.hidden_dim}",
        "batch_size": budget.batch_size,
    }
    atomic_write_json(path, result)
    return result
