#!/usr/bin/env bash
# The reference studies of docs/findings.md ("what each step bought"), on the default corpus.
# Every run is reused by its key, so this resumes an interrupted study and, once the runs exist,
# only refits. Writes results/reference/sweep-compute-{recipes,llama-ablations,allocation,
# context}.{json,txt,png}; `zoo explain` reads the JSON.
#
# Shared setup: 4 budgets spanning 33x (3e10 to 1e12 FLOPs: what 2 CPU cores train in about an
# hour per study), 3 seeds per cell, each arm's peak learning rate tuned per budget (--tune-lr:
# x1/3, x1, x3 of the size rule at a quarter of the budget, baseline and variants alike), and,
# unless a study says otherwise, every arm resized compute-optimally per budget.
set -euo pipefail
cd "$(dirname "$0")/.."
out=results/reference
export COLUMNS=160
common=(--budgets "${BUDGETS:-3e10,1e11,3e11,1e12}" --seeds "${SEEDS:-3}" --tune-lr
        --jobs "${JOBS:-2}")

study() {  # study NAME ARGS...: the sweep's JSON and plot, then its table (runs reused)
    local name=$1; shift
    zoo sweep compute "$@" "${common[@]}" --json --plot "$out/sweep-compute-$name.png" \
        > "$out/sweep-compute-$name.json.partial"
    mv "$out/sweep-compute-$name.json.partial" "$out/sweep-compute-$name.json"
    zoo sweep compute "$@" "${common[@]}" > "$out/sweep-compute-$name.txt"
}

# 1. The families' recipes at compute-optimal sizes, against GPT-2.
study recipes --models gpt2,gpt3,gopher,palm,llama

# 2. Allocation: Kaplan-style fixed size (the compute-optimal LLaMA shape at 3e11, 1x40, 40.5K
# parameters, at every budget) against resizing per budget; same recipe, optimizer and rules.
# The --set shape keeps LLaMA's proportions (width per layer 40, feed-forward 2.8 x width), so
# the compute-optimal arm is the LLaMA arm of the recipes study, reused.
study allocation --models llama --allocation fixed,compute-optimal \
    --set num_layers=1 --set hidden_dim=40 --set head_dim=10 --set intermediate_dim=112

# 3. Context length at equal compute: 64, 128, 256 (the baseline) and 512 tokens, the batch
# kept at 4,096 tokens per step (the sweep's batch rule divides by the context).
study context --models llama --ablate "max_sequence_length=64,max_sequence_length=128,\
max_sequence_length=512"

# 4. Single-field changes of the LLaMA recipe. GELU replaces SwiGLU at equal parameters: SwiGLU
# has three d x f matrices, GELU two, so its width is 1.5 x LLaMA's (672 = 1.5 x 448 at the
# -small shape, kept as a ratio by every resize). Banded attention runs on alternate layers
# starting with the first (local,dense), so that the one-layer models most budgets get are
# banded at all; its window is a quarter of the 256-token context.
study llama-ablations --models llama --ablate "position=learned,normalization=layernorm,\
feedforward=gelu+intermediate_dim=672,num_key_value_heads=1,num_key_value_heads=2,\
residual=parallel,use_bias=true,tie_embeddings=true,attention_pattern=local,dense+local_window=64"

# 5. Each study's fit written again with what the fit has gained since it was measured (the
# multiplier at every budget, its trend, the loss change paired by seed), without training.
# zoo fit --update refuses where the refit does not reproduce the committed fit to its numerical
# precision (the learned-position arm's flat curve moves by more): that study stays as measured.
for name in recipes allocation context llama-ablations; do
    zoo fit "$out/sweep-compute-$name.json" --law compute --update > /dev/null \
        || echo "sweep-compute-$name: kept as measured (its refit does not reproduce it)" >&2
done
