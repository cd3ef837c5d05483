#!/usr/bin/env bash
# The seed's question, how hyperparameters are chosen, as a study (issue 25, item 3): the six
# samplers of zoo tune on one tuning problem, the same 20 trials each, over 5 sampler seeds.
# The problem: the peak learning rate, warmup, batch and beta_2 of the LLaMA recipe at a budget
# of the first rung of reference studies (1e11 FLOPs), at that rung's compute-optimal shape for
# 1e11 with the papers' proportions (2 layers, one 32-wide head, LLaMA's feed-forward ratio) and
# the sweeps' byte vocabulary, so that the answer can be read beside the studies. Every trial is
# a run by key and every study is in results/studies.db: running this again continues it.
#   bash scripts/samplers_study.sh            # about 600 runs of ~10 s: 2 hours on 2 cores
set -euo pipefail
cd "$(dirname "$0")/.."
out=results/reference/samplers-llama.json
zoo tune llama-small --flops 1e11 --tokenizer shared --no-spike-guard \
    --set num_layers=2 --set hidden_dim=32 --set num_query_heads=1 --set head_dim=32 \
    --set num_key_value_heads=1 --set intermediate_dim=86 --set vocabulary_size=257 \
    --space learning_rate=log:1e-4:1e-1 --space warmup_steps=int:0:50 \
    --space batch_size=int:4:32 --space beta_2=float:0.9:0.999 \
    --sampler grid,random,tpe,gp,cmaes,nsga2 --sampler-seeds 5 --trials 20 --tolerance 0.01 \
    --plot "${out%.json}.png" --json > "$out.partial"
mv "$out.partial" "$out"
