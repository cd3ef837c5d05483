#!/usr/bin/env bash
# The learner's questions of issue 26, measured (docs/findings.md, sections 8 on):
#   activations  the feed-forward activations at equal parameters and equal compute: the LLaMA
#                recipe (SwiGLU, the baseline) against GELU, ReLU, leaky ReLU, tanh and sigmoid
#                at 1.5x the width (one matrix fewer) and the gated GEGLU and ReGLU, at 1e12 and
#                3e12 FLOPs, the papers' shapes, 3 seeds; every arm at the LLaMA recipe's own
#                fitted rate rule (rung2/rule-recipes.json: one rule, so no arm is tuned better)
#   epochs       1, 4, 16 and 40 passes at equal compute, fresh data at 1/40 ... 1/2 of each
#                budget, and patience 3, the LLaMA recipe at 1e12 and 3e12 FLOPs, 3 seeds
#   continued    continued training: the LLaMA recipe trained on 1/8 of 1e12 and 3e12 FLOPs,
#                continued on the rest, against a fresh model on the rest and one whole run
#   tokenizers   byte-level BPE, SentencePiece BPE and SentencePiece unigram at 1,024, 4,096 and
#                16,384 tokens, each trained on the corpus (--tokenizer native), the LLaMA
#                recipe's shape at 1e12 and 3e12 FLOPs, 3 seeds, fitted in bits per byte
#                (the baseline: SentencePiece BPE at 4,096, LLaMA's kind)
#   zloss        PaLM's z-loss at high learning rates: the LLaMA recipe at 1e12 FLOPs with and
#                without z-loss 1e-4, at 1, 4, 16 and 64 times its fitted rate rule, 2 seeds;
#                each point carries the final output log Z on the probe batch
#   attention    zoo bench attention on JAX (the backend with a fused kernel), 256 ... 8,192
#   parallel     zoo bench parallel: 1, 2, 4 and 8 virtual devices
# Runs live in results/learner-runs/ (not in git) and are reused by key, so the same command
# continues an interrupted study; a study's JSON is moved into place only when it completes.
# A study unfinished at the end of a sitting is carried as scripts/reference_rung2.sh carries
# its own: `carry` packs the finished runs' records (zoo.storage.carry, no weights) into
# results/reference/learner-carried-runs.tar.gz, which every start unpacks.
#   bash scripts/learner_studies.sh \
#       [activations|epochs|continued|tokenizers|zloss|attention|parallel|all|carry] [--dry-run]
set -euo pipefail
cd "$(dirname "$0")/.."
out=results/reference
export ZOO_RESULTS=${ZOO_RESULTS:-results/learner-runs}
export COLUMNS=160
carried=$out/learner-carried-runs.tar.gz
if [[ -e $carried && ${1:-} != carry ]]; then python -m zoo.storage.carry unpack "$carried" "$ZOO_RESULTS"; fi
step=${1:-all}
shift || true
extra=("$@")
jobs=(--jobs "${JOBS:-2}")
rule=results/reference/rung2/rule-recipes.json

write() {  # write NAME COMMAND...: the JSON of a complete study, moved into place at the end
    local name=$1; shift
    if [[ " ${extra[*]} " == *" --dry-run "* ]]; then "$@" "${extra[@]}"; return; fi
    if [[ -e "$out/$name.json" ]]; then echo "$name: complete, kept ($out/$name.json)"; return; fi
    "$@" --json > "$out/$name.json.partial"
    mv "$out/$name.json.partial" "$out/$name.json"
}

activations() {
    local arms="feedforward=gelu+intermediate_dim=672,feedforward=relu+intermediate_dim=672,\
feedforward=leaky_relu+intermediate_dim=672,feedforward=tanh+intermediate_dim=672,\
feedforward=sigmoid+intermediate_dim=672,feedforward=geglu,feedforward=reglu"
    write activations zoo sweep compute --models llama --ablate "$arms" --budgets 1e12,3e12 \
        --seeds 3 --shapes papers --rates "$rule" --plot "$out/activations.png" "${jobs[@]}"
    # A study measured before the fit gained its per-budget loss change (paired by seed) gets it
    # without training: refused unless every earlier value of the fit comes out the same
    if [[ " ${extra[*]} " != *" --dry-run "* ]]; then
        zoo fit "$out/activations.json" --law compute --update > /dev/null
    fi
}

epochs() {
    write epochs-llama zoo sweep epochs --models llama --budgets 1e12,3e12 --seeds 3 \
        --rates "$rule" --plot "$out/epochs-llama.png" "${jobs[@]}"
}

continued() {
    write continued-llama zoo sweep continued --models llama --budgets 1e12,3e12 --seeds 3 \
        --rates "$rule" --plot "$out/continued-llama.png" "${jobs[@]}"
}

tokenizers() {
    local arms="tokenizer=byte_bpe+vocabulary_size=1024,tokenizer=byte_bpe+vocabulary_size=4096,\
tokenizer=byte_bpe+vocabulary_size=16384,tokenizer=sentencepiece+vocabulary_size=1024,\
tokenizer=sentencepiece+vocabulary_size=16384,tokenizer=sentencepiece_unigram+vocabulary_size=1024,\
tokenizer=sentencepiece_unigram+vocabulary_size=4096,\
tokenizer=sentencepiece_unigram+vocabulary_size=16384"
    write tokenizers zoo sweep compute --models llama --set vocabulary_size=4096 \
        --set tokenizer=sentencepiece --tokenizer native --metric bits_per_byte --ablate "$arms" \
        --budgets 1e12,3e12 --seeds 3 --shapes papers --rates "$rule" \
        --plot "$out/tokenizers.png" "${jobs[@]}"
}

zloss() {
    write zloss-llama zoo sweep rates --models llama --ablate z_loss_weight=1e-4 --budgets 1e12 \
        --check "$rule" --rate-factors 1,4,16,64 --seeds 2 --plot "$out/zloss-llama.png" "${jobs[@]}"
}

attention() {  # timings: run on an otherwise idle machine
    if [[ " ${extra[*]} " == *" --dry-run "* || -e $out/bench-attention.json ]]; then return; fi
    zoo bench attention --backend jax --out "$out/bench-attention.json.partial" \
        --plot "$out/bench-attention.png"
    mv "$out/bench-attention.json.partial" "$out/bench-attention.json"
}

parallel() {
    if [[ " ${extra[*]} " == *" --dry-run "* || -e $out/bench-parallel.json ]]; then return; fi
    zoo bench parallel --out "$out/bench-parallel.json.partial" --plot "$out/bench-parallel.png"
    mv "$out/bench-parallel.json.partial" "$out/bench-parallel.json"
}

case $step in
    activations|epochs|continued|tokenizers|zloss|attention|parallel) $step ;;
    all) attention; parallel; epochs; continued; zloss; activations; tokenizers ;;
    carry) python -m zoo.storage.carry pack "$ZOO_RESULTS" "$carried" ;;
    *) echo "usage: $0 [activations|epochs|continued|tokenizers|zloss|attention|parallel|all|carry]" >&2
       exit 2 ;;
esac
