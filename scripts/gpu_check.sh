#!/usr/bin/env bash
# GPU readiness check: train a GPT-2 124M-sized model for a few hundred steps on one GPU and
# print tokens/s and MFU (against the GPU's datasheet bfloat16 peak; see zoo/training/hardware.py).
#
#   bash scripts/gpu_check.sh                      # TensorFlow, mixed_bfloat16, 300 steps
#   KERAS_BACKEND=jax STEPS=200 bash scripts/gpu_check.sh   # JAX (flash attention via cuDNN)
#
# Needs a GPU build of the backend in the active environment (pip install -e . plus
# "tensorflow[and-cuda]==2.21.0", or jax[cuda12]); needs no network: the tokens are random,
# which is all a throughput check needs. Exits non-zero if no GPU is visible.
set -euo pipefail

STEPS="${STEPS:-300}"
BATCH="${BATCH:-16}"
PRECISION="${PRECISION:-mixed_bfloat16}"
BACKEND="${KERAS_BACKEND:-tensorflow}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader

python - "$WORK" "$BACKEND" <<'PY'
import os, sys
import numpy as np

work, backend = sys.argv[1], sys.argv[2]
os.environ["KERAS_BACKEND"] = backend
if backend == "jax":
    import jax
    gpus = [d for d in jax.devices() if d.platform == "gpu"]
else:
    import tensorflow as tf
    gpus = tf.config.list_physical_devices("GPU")
if not gpus:
    sys.exit(f"no GPU visible to {backend}: install its CUDA build first")
print(f"{backend} sees {len(gpus)} GPU(s): {gpus[0]}")
# 40M random GPT-2 token ids; the last 10% become the validation split.
np.save(f"{work}/tokens.npy", np.random.default_rng(0).integers(0, 50257, 40_000_000, dtype=np.uint16))
PY

ZOO_RESULTS="$WORK/results" zoo train gpt2-124m --data "tokens:$WORK/tokens.npy" \
  --steps "$STEPS" --batch-size "$BATCH" --eval-interval "$STEPS" --precision "$PRECISION" \
  --backend "$BACKEND" --strategy none --out "$WORK/results/gpu-check"

python - "$WORK/results/gpu-check" <<'PY'
import json, sys

summary = json.load(open(f"{sys.argv[1]}/summary.json"))
config = json.load(open(f"{sys.argv[1]}/config.json"))
mfu = summary["mfu"]
print(f"GPU check: {summary['params']:,} parameters, {summary['steps']} steps of "
      f"{config['budget']['batch_size']} x {config['budget']['seq_len']} tokens, "
      f"{config['precision']}, XLA {config['xla']['compiled']}")
print(f"tokens/s {summary['tokens_per_second']:,.0f}   MFU "
      + (f"{mfu:.1%} of {config['peak_flops'] / 1e12:.0f} TFLOP/s ({config['peak_flops_source']})"
         if mfu is not None else "unknown (no datasheet peak for this GPU)"))
PY
