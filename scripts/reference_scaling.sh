#!/usr/bin/env bash
# The reference scaling studies of docs/scaling.md, on the default corpus. Every run is reused
# by its key, so this resumes an interrupted study and, once the runs exist, only refits (about a
# minute). Writes results/reference/sweep-*.{json,txt,png}.
set -euo pipefail
cd "$(dirname "$0")/.."
out=results/reference
export COLUMNS=160
budgets=1e12,2e12,4e12,8e12,1.6e13

# 1. IsoFLOP study of the LLaMA recipe: 5 budgets x 5 sizes, approaches 2 and 3, total parameters.
zoo sweep isoflop --model llama --budgets "$budgets" --sizes 5 --json \
    --plot "$out/sweep-isoflop-llama.png" > "$out/sweep-isoflop-llama.json"
zoo sweep isoflop --model llama --budgets "$budgets" --sizes 5 > "$out/sweep-isoflop-llama.txt"
# The same runs refitted with Kaplan's non-embedding parameters, and with C = 6ND.
zoo fit "$out/sweep-isoflop-llama.json" --law isoflop --params non-embedding --json \
    > "$out/sweep-isoflop-llama-isoflop-non-embedding.json"
zoo fit "$out/sweep-isoflop-llama.json" --law parametric --params non-embedding --json \
    > "$out/sweep-isoflop-llama-parametric-non-embedding.json"
zoo fit "$out/sweep-isoflop-llama.json" --law isoflop --flops 6n --json \
    > "$out/sweep-isoflop-llama-isoflop-6n.json"
# And without the runs that repeated their data more than 4 times (Muennighoff et al.'s bound).
zoo fit "$out/sweep-isoflop-llama.json" --law isoflop --max-epochs 4 --json \
    > "$out/sweep-isoflop-llama-isoflop-max-4-epochs.json"

# 2. GPT-2 against LLaMA, loss against compute, 2 seeds, compute-optimal sizes per budget.
zoo sweep compute --models gpt2,llama --budgets 1e11,3e11,1e12 --seeds 2 --json \
    --plot "$out/sweep-compute-gpt2-llama.png" > "$out/sweep-compute-gpt2-llama.json"
zoo sweep compute --models gpt2,llama --budgets 1e11,3e11,1e12 --seeds 2 \
    > "$out/sweep-compute-gpt2-llama.txt"

# The same comparison with each arm's peak rate tuned per budget (x1/3, x1, x3 of the rule).
zoo sweep compute --models gpt2,llama --budgets 1e11,3e11,1e12 --seeds 2 --tune-lr --json \
    --plot "$out/sweep-compute-gpt2-llama-tuned.png" > "$out/sweep-compute-gpt2-llama-tuned.json"

# 3. The n-gram baseline.
zoo baseline --json > "$out/baseline-ngram.json"
