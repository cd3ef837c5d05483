#!/usr/bin/env bash
# The vanishing gradient as a picture (issue 26, item 1): the gradient norm of every layer of a
# deep narrow GPT-2 (24 blocks of width 64, two 32-wide heads, the papers' small-model heads;
# the family's feed-forward ratio of 4) at initialisation and over its first 30 updates, with the
# norm after each residual sum (post: the original Transformer, GPT-1) or before each branch
# (pre: GPT-2 on), and non-saturating (gelu, relu) or saturating (tanh, sigmoid) activations.
# Batch 4 of the recipe's context on the default corpus, seed 0. One JSON and figure each:
#   results/reference/gradients/PLACEMENT-ACTIVATION.{json,png}
#   bash scripts/gradients_study.sh        # 8 runs of about a minute each on 2 cores
set -euo pipefail
cd "$(dirname "$0")/.."
out=results/reference/gradients
mkdir -p "$out"
for placement in post pre; do
    for activation in gelu relu tanh sigmoid; do
        name=$out/$placement-$activation
        if [[ -e $name.json ]]; then echo "$name.json: kept"; continue; fi
        zoo gradients gpt2-small --set num_layers=24 --set hidden_dim=64 \
            --set num_query_heads=2 --set num_key_value_heads=2 --set head_dim=32 \
            --set intermediate_dim=256 --set norm_placement=$placement \
            --set feedforward=$activation --batch-size 4 --steps 30 \
            --plot "$name.png" --json > "$name.json.partial"
        mv "$name.json.partial" "$name.json"
    done
done
