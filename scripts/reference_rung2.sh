#!/usr/bin/env bash
# The reference studies again, about 30x higher than the first rung (3e10-1e12 FLOPs, the studies
# under results/reference/ themselves): budgets 1e12, 3e12, 1e13 and 3e13 FLOPs, with
#   - the papers' shapes (zoo sweep --shapes papers: at least 2 layers, 32-wide heads), so GPT-3's
#     banded layers, the parallel block and depth can show at all;
#   - every arm's peak learning rate from its own law in compute, DeepSeek LLM's procedure:
#     a full-length grid (x1/8 ... x8 of the size rule) at 1e12, 3e12 and 1e13 FLOPs (zoo sweep
#     rates), eta_opt = a*C^b fitted per arm through the runs "near-optimal" within the band the
#     measured seed noise allows (rates-noise, zoo fit --law rates --noise: rule-*.json),
#     extrapolated, and checked at 3e13 with a small grid for the baseline and one variant
#     (zoo sweep rates --check);
#   - 3 seeds per cell, the same seeds for every arm.
# Every run is reused by its key, so running this again continues where it stopped; a study's
# JSON is moved into place only when the study is complete. Writes results/reference/rung2/.
# and the IsoFLOP study of the LLaMA recipe over 100x in compute (1e12 ... 1e14).
# A study can take longer than one sitting of the machine, and a fresh checkout holds only what
# git holds. So the rung's runs live in a results root of their own (results/rung2-runs/, not in
# git), and `carry` packs the records of its finished runs (settings, summary, evaluations; no
# weights: zoo.storage.carry) into results/reference/rung2/carried-runs.tar.gz, committed while a
# study is unfinished; every start unpacks it, so the next sitting reuses those runs by key.
#   bash scripts/reference_rung2.sh [rates|noise|check|studies|figures|isoflop|tied|refit|all|carry] [--dry-run]
set -euo pipefail
cd "$(dirname "$0")/.."
out=results/reference/rung2
mkdir -p "$out"
export ZOO_RESULTS=${ZOO_RESULTS:-results/rung2-runs}
carried=$out/carried-runs.tar.gz
if [[ -e $carried && ${1:-} != carry ]]; then python -m zoo.storage.carry unpack "$carried" "$ZOO_RESULTS"; fi
export COLUMNS=160
step=${1:-all}
shift || true
extra=("$@")  # e.g. --dry-run: print each plan and its estimate, train nothing
jobs=(--jobs "${JOBS:-2}")
budgets=1e12,3e12,1e13,3e13
recipes=gpt2,gpt3,gopher,palm,llama
# The single-field changes of the LLaMA recipe (docs/findings.md), as in the first rung, less the
# one-layer workaround for banded attention: with 2 or more layers GPT-3's own alternation
# (dense first, then banded) is what is tested.
ablations="position=learned,normalization=layernorm,feedforward=gelu+intermediate_dim=672,\
num_key_value_heads=1,residual=parallel,use_bias=true,tie_embeddings=true,\
attention_pattern=dense,local+local_window=64"
contexts="max_sequence_length=64,max_sequence_length=128,max_sequence_length=512"

write() {  # write NAME COMMAND...: the JSON of a complete sweep, moved into place at the end
    local name=$1; shift
    if [[ " ${extra[*]} " == *" --dry-run "* ]]; then "$@" "${extra[@]}"; return; fi
    # A complete study stays as it was measured (its plan, estimate and wall time): rerunning
    # would only reuse its runs and record a wall time of nothing. Delete its JSON to redo it.
    if [[ -e "$out/$name.json" ]]; then echo "$name: complete, kept ($out/$name.json)"; return; fi
    "$@" --json > "$out/$name.json.partial"
    mv "$out/$name.json.partial" "$out/$name.json"
}

rule() {  # rule NAME: rates-NAME.json refitted with the band the seed noise allows -> rule-NAME.json
    # (nothing trains; the grid's own fit, at DeepSeek's 0.25%, stays in rates-NAME.json)
    local name=$1
    if [[ " ${extra[*]} " == *" --dry-run "* || -e "$out/rule-$name.json" ]]; then return; fi
    zoo fit "$out/rates-$name.json" --law rates --noise "$out/rates-noise.json" \
        --plot "$out/rule-$name.png" --json > "$out/rule-$name.json.partial"
    mv "$out/rule-$name.json.partial" "$out/rule-$name.json"
}

rates() {  # the rule per arm, from full-length grids at the two smallest budgets
    # Seven rates a factor of 2 apart at three budgets: a first try with five rates at two
    # budgets left PaLM's best rate at the grid's edge and one run per budget in each band.
    local grid=(--budgets 1e12,3e12,1e13 --rate-factors 0.125,0.25,0.5,1,2,4,8 --shapes papers
                "${jobs[@]}")
    write rates-recipes zoo sweep rates --models "$recipes" "${grid[@]}"
    noise
    rule recipes
    write rates-llama-ablations zoo sweep rates --models llama --ablate "$ablations" "${grid[@]}"
    rule llama-ablations
    write rates-context zoo sweep rates --models llama --ablate "$contexts" "${grid[@]}"
    rule context
}

noise() {  # how far apart two seeds of one run land: what "near-optimal" can mean at this scale
    # DeepSeek's 0.25% band was drawn at 1e17-2e19 FLOPs; here one run's loss moves by more than
    # that from seed to seed, and a band narrower than the noise keeps one run per budget, picked
    # by its seed. Every recipe at the size rule's rate, 3 seeds (seed 0 is the grid's own run).
    write rates-noise zoo sweep rates --models "$recipes" --budgets 1e12,3e12,1e13 \
        --rate-factors 1 --seeds 3 --shapes papers "${jobs[@]}"
}

check() {  # the rule extrapolated 10x past its grids, checked for the baseline and one variant
    write check-recipes zoo sweep rates --models gpt2,llama --budgets 3e13 --rate-factors 0.5,1,2 \
        --shapes papers --check "$out/rule-recipes.json" "${jobs[@]}"
}

studies() {
    local common=(--budgets "$budgets" --seeds 3 --shapes papers "${jobs[@]}")
    write compute-recipes zoo sweep compute --models "$recipes" "${common[@]}" \
        --rates "$out/rule-recipes.json"
    write compute-llama-ablations zoo sweep compute --models llama --ablate "$ablations" \
        "${common[@]}" --rates "$out/rule-llama-ablations.json"
    write compute-context zoo sweep compute --models llama --ablate "$contexts" "${common[@]}" \
        --rates "$out/rule-context.json"
    # Allocation: a fixed size (the papers-shape compute-optimal LLaMA at 3e12, 2x64 with two
    # 32-wide heads and LLaMA's feed-forward ratio) at every budget against resizing per
    # budget; both arms take LLaMA's rule (its runs are the recipes study's where the shapes agree).
    write compute-allocation zoo sweep compute --models llama --allocation fixed,compute-optimal \
        --set num_layers=2 --set hidden_dim=64 --set num_query_heads=2 --set head_dim=32 \
        --set num_key_value_heads=2 --set intermediate_dim=179 "${common[@]}" \
        --rates "$out/rule-recipes.json"
}

isoflop() {
    # Chinchilla's second approach again, over 100x in compute (1e12 ... 1e14 FLOPs, half a
    # decade apart; the first rung's spanned 16x and left a = 0.90 [0.42, 1.00]), sizes per
    # budget centred on the optimum that study measured (95 tokens per parameter, not
    # Chinchilla's 20, so each valley's minimum lies inside its sizes), shaped and given rates as
    # in the first rung (the family's heads, the size rule), so the two can be read together.
    # Four sizes, not five: at 1e12 FLOPs only four distinct llama-small shapes lie within 5x of
    # that optimum (the smallest, 1x16, is already mostly embedding), and a doubling ladder to
    # 1.28e14 with five sizes was estimated at 12.9 hours one run at a time against 6.1 for this.
    # The smallest sizes at the top budgets repeat the corpus 13-39 times (the plan marks them
    # with "!"), which the epochs study (findings section 8) shows is worth far less than fresh
    # data: read the fit beside that.
    # Then the refit under the other parameter convention (non-embedding), without training.
    write isoflop-llama zoo sweep isoflop --model llama \
        --budgets 1e12,3e12,1e13,3e13,1e14 --sizes 4 --center 95 \
        --plot "$out/isoflop-llama.png" "${jobs[@]}"
    if [[ " ${extra[*]} " != *" --dry-run "* ]]; then
        zoo fit "$out/isoflop-llama.json" --law isoflop --params non-embedding --json \
            > "$out/isoflop-llama-non-embedding.json"
        # With one seed and four sizes a valley keeps one residual degree of freedom: both
        # conventions again with a parametric bootstrap at the seed noise rates-noise measured
        zoo fit "$out/isoflop-llama.json" --law isoflop --noise "$out/rates-noise.json" --json \
            > "$out/isoflop-llama-noise.json"
        zoo fit "$out/isoflop-llama.json" --law isoflop --params non-embedding \
            --noise "$out/rates-noise.json" --json > "$out/isoflop-llama-non-embedding-noise.json"
        # and over the top 4 budgets only: the 1e12 valley's minimum sits on the smallest
        # llama-small shape (11.5K parameters, 72% of them embedding)
        zoo fit "$out/isoflop-llama.json" --law isoflop --budgets 3e12,1e13,3e13,1e14 \
            --noise "$out/rates-noise.json" --json > "$out/isoflop-llama-from-3e12-noise.json"
        zoo fit "$out/isoflop-llama.json" --law isoflop --params non-embedding \
            --budgets 3e12,1e13,3e13,1e14 --noise "$out/rates-noise.json" --json \
            > "$out/isoflop-llama-non-embedding-from-3e12-noise.json"
        # and without the runs that repeat the corpus more than 4 times (Muennighoff et al.: up
        # to about 4 passes, repeated data is almost as good as fresh; only 1e12-1e13 keep 3
        # sizes) or more than 16 (their R* = 15.4: beyond it repetition is worth little)
        local epochs
        for epochs in 4 16; do
            zoo fit "$out/isoflop-llama.json" --law isoflop --max-epochs $epochs --json \
                > "$out/isoflop-llama-max-$epochs-epochs.json"
            zoo fit "$out/isoflop-llama.json" --law isoflop --params non-embedding \
                --max-epochs $epochs --json \
                > "$out/isoflop-llama-non-embedding-max-$epochs-epochs.json"
        done
    fi
}

tied() {  # why tying costs 9x at 1e12 (findings section 5): the tied arm there is 2x64 (tying frees
    # 257*d parameters, so the size rule picks a wider model with fewer tokens) where the recipe
    # is 2x32. Both arms at the recipe's 1e12 shape, 2x32, at 1e12 and 3e12 (the sweep fits a curve),
    # 2 paired seeds: first each at its own rule's rate (what is left of the penalty is tying,
    # with the lower rate its grid chose), then both at the recipe's 1e12 rate (tying alone).
    local shape=(--allocation fixed --set num_layers=2 --set hidden_dim=32 --set num_query_heads=1
                 --set head_dim=32 --set num_key_value_heads=1 --set intermediate_dim=90
                 --budgets 1e12,3e12 --seeds 2 --shapes papers --jobs "${TIED_JOBS:-1}")
    write tied-fixed-shape zoo sweep compute --models llama --ablate tie_embeddings=true \
        "${shape[@]}" --rates "$out/rule-llama-ablations.json"
    write tied-same-rate zoo sweep compute --models llama --ablate tie_embeddings=true \
        "${shape[@]}" --set learning_rate=0.008120720665141572
}

figures() {  # each complete compute study's figure, from its committed JSON (nothing trains):
    # zoo fit --law compute refits exactly the sweep's own fit (same bootstrap and seed) and draws
    # loss against compute beside the multiplier at every budget
    local name
    for name in compute-recipes compute-llama-ablations compute-context compute-allocation; do
        if [[ -e $out/$name.json && ! -e $out/$name.png ]]; then
            zoo fit "$out/$name.json" --law compute --plot "$out/$name.png" > /dev/null
        fi
    done
}

refit() {  # each complete compute study's fit written again with the fields the fit has gained
    # since it was measured (the per-budget loss change, paired by seed); nothing trains, and
    # zoo fit --update refuses unless every earlier value comes out the same
    local name
    for name in compute-recipes compute-llama-ablations compute-context compute-allocation \
        tied-fixed-shape tied-same-rate; do
        if [[ -e $out/$name.json ]]; then
            zoo fit "$out/$name.json" --law compute --update > /dev/null
        fi
    done
}

case $step in
    rates) rates ;;
    noise) noise ;;
    check) check ;;
    studies) studies; figures ;;
    figures) figures ;;
    isoflop) isoflop ;;
    tied) tied ;;
    refit) refit ;;
    all) rates; check; studies; figures; isoflop; tied; refit ;;
    carry) python -m zoo.storage.carry pack "$ZOO_RESULTS" "$carried" ;;
    *) echo "usage: $0 [rates|noise|check|studies|figures|isoflop|tied|refit|all|carry] [--dry-run]" >&2; exit 2 ;;
esac
