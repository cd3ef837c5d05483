#!/usr/bin/env bash
# The GPU check, one prepared script that fits in 10 minutes: GPT-2 124M, mixed_bfloat16, trained
# by `zoo train` on one GPU on each Keras backend the trainer supports (TensorFlow, JAX), then
# tokens/s and MFU against the GPU's datasheet bfloat16 dense peak (H200: 989 TFLOP/s, from
# zoo/training/hardware.py). JAX takes cuDNN flash attention through keras.ops.
# dot_product_attention (zoo/layers/attention_kernels.py: fused_attention_available); Keras's
# TensorFlow backend has no flash kernel, so TensorFlow runs the zoo's own attention under XLA.
# The project's goal: at least 45% MFU on the best backend.
#
#   bash scripts/gpu_check.sh                     # every backend, 200 steps each
#   BACKENDS=jax STEPS=300 bash scripts/gpu_check.sh
#
# Budget: each backend gets at most $BACKEND_SECONDS (default 240 s: compile ~1 min, then steps),
# so two backends fit in 10 minutes. A backend without a GPU build, or that sees no GPU, is
# reported and skipped, not fatal. Needs no network: the tokens are random, which is all a
# throughput check needs. Writes one JSON per backend and gpu-check.json to ${OUT:-results/gpu}.
set -uo pipefail

STEPS="${STEPS:-200}"
PRESET="${PRESET:-gpt2-124m}"
ALLOW_CPU="${ALLOW_CPU:-0}"  # 1: run on the CPU too (the script's own smoke test, tiny PRESET)
BATCH="${BATCH:-16}"
PRECISION="${PRECISION:-mixed_bfloat16}"
BACKENDS="${BACKENDS:-tensorflow jax}"
BACKEND_SECONDS="${BACKEND_SECONDS:-240}"
RESULTS="${OUT:-results/gpu}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$RESULTS"

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader \
  || echo "nvidia-smi: not available"
python - "$WORK" "$PRESET" "${TOKENS:-40000000}" <<'PY'
import sys
import numpy as np
import zoo
# Random token ids of the preset's vocabulary; the last 10% become the validation split.
vocabulary = zoo.get_recipe(sys.argv[2]).model.vocabulary_size
np.save(f"{sys.argv[1]}/tokens.npy", np.random.default_rng(0).integers(
    0, vocabulary, int(sys.argv[3]), dtype=np.uint16 if vocabulary <= 65536 else np.uint32))
PY

for BACKEND in $BACKENDS; do
  echo "== $BACKEND"
  if ! KERAS_BACKEND="$BACKEND" python - "$BACKEND" "$ALLOW_CPU" <<'PY'
import sys
backend, allow_cpu = sys.argv[1], sys.argv[2] == "1"
try:
    if backend == "jax":
        import jax
        gpus = [d for d in jax.devices() if d.platform == "gpu"]
    else:
        import tensorflow as tf
        gpus = tf.config.list_physical_devices("GPU")
except ImportError as error:
    sys.exit(f"{backend}: not installed ({error})")
if not gpus and allow_cpu:
    print(f"{backend} sees no GPU: running on the CPU (ALLOW_CPU=1)")
    sys.exit(0)
if not gpus:
    sys.exit(f"{backend}: sees no GPU (install its CUDA build: jax[cuda12] or "
             "tensorflow[and-cuda])")
print(f"{backend} sees {len(gpus)} GPU(s): {gpus[0]}")
PY
  then
    echo "{\"backend\": \"$BACKEND\", \"skipped\": \"no GPU build or no GPU visible\"}" \
      > "$RESULTS/$BACKEND.json"
    continue
  fi
  ZOO_RESULTS="$WORK/results" timeout "$BACKEND_SECONDS" zoo train "$PRESET" \
    --data "tokens:$WORK/tokens.npy" --steps "$STEPS" --batch-size "$BATCH" \
    --eval-interval "$STEPS" --precision "$PRECISION" --backend "$BACKEND" --strategy none \
    --out "$WORK/results/$BACKEND" > "$WORK/$BACKEND.log" 2>&1
  status=$?
  python - "$WORK/results/$BACKEND" "$BACKEND" "$status" "$RESULTS/$BACKEND.json" <<'PY'
import json, pathlib, sys

run, backend, status, out = pathlib.Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
row = {"backend": backend, "exit_status": status}
if (run / "summary.json").exists():
    summary = json.loads((run / "summary.json").read_text())
    config = json.loads((run / "config.json").read_text())
    row.update(params=summary["params"], steps=summary["steps"],
               tokens_per_second=summary["tokens_per_second"], mfu=summary["mfu"],
               peak_flops=config["peak_flops"], peak_flops_source=config["peak_flops_source"],
               batch_size=config["budget"]["batch_size"], seq_len=config["budget"]["seq_len"],
               precision=config["run"]["precision"], xla=config["xla"])
    mfu = summary["mfu"]
    print(f"{backend}: {summary['params']:,} parameters, {summary['steps']} steps of "
          f"{row['batch_size']} x {row['seq_len']} tokens, {row['precision']}: "
          f"{summary['tokens_per_second']:,.0f} tokens/s, MFU "
          + (f"{mfu:.1%} of {row['peak_flops'] / 1e12:.3g} TFLOP/s" if mfu is not None
             else "unknown (no datasheet peak for this GPU)"))
else:
    row["error"] = "timed out" if status == 124 else "no summary (see the log tail below)"
    print(f"{backend}: {row['error']} (exit {status})")
pathlib.Path(out).write_text(json.dumps(row, indent=2) + "\n")
PY
  [ "$status" -eq 0 ] || tail -5 "$WORK/$BACKEND.log"
done

python - "$RESULTS" <<'PY'
import json, pathlib, sys

results = pathlib.Path(sys.argv[1])
rows = [json.loads(p.read_text()) for p in sorted(results.glob("*.json"))
        if p.name != "gpu-check.json"]
measured = [r for r in rows if r.get("mfu") is not None]
best = max(measured, key=lambda r: r["mfu"], default=None)
report = {"rows": rows, "best_backend": best and best["backend"],
          "best_mfu": best and best["mfu"], "goal_mfu": 0.45,
          "goal_met": bool(best and best["mfu"] >= 0.45)}
(results / "gpu-check.json").write_text(json.dumps(report, indent=2) + "\n")
print("best: " + (f"{best['backend']} at {best['mfu']:.1%} MFU (goal 45%: "
                  f"{'met' if report['goal_met'] else 'not met'})" if best else "no backend ran"))
PY
