#!/usr/bin/env bash
# The slow suite, one pytest process per test folder (and one for tests/test_*.py), two at a
# time; arguments go to every pytest, e.g. --deselect NODE. Exit status 0 when every part
# passed. Each part's output is printed whole when it ends, with its wall time.
#
# Why not one process: TensorFlow keeps every XLA program a process compiles, and the XLA CPU
# JIT maps each program's kernels as separate memory regions: about 510 maps per short
# training run here, never returned (keras.backend.clear_session() and gc do not release them;
# measured with /proc/self/maps, see docs/contributing.md). One process for the whole slow
# suite crossed the kernel's vm.max_map_count (65,530) near its end and died with SIGSEGV
# inside TensorFlow, at the same test in two CI runs. A folder's tests stay far below it.
#
# Why two at a time (ZOO_SLOW_LANES, default 2): most of a nano model's slow test is
# single-threaded (interpreter and TensorFlow start-up in each subprocess, XLA compilation),
# so a second part fills the second core; one lane at a time took 75 of CI's 90 minutes.
# The parts start longest first (the order below) so the last to finish is a short one.
set -uo pipefail
cd "$(dirname "$0")/.."
lanes=${ZOO_SLOW_LANES:-2}
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
parts=()
for folder in tests/training/ tests/faults/ tests/cli/ tests/experiments/ tests/*/; do
    [[ " ${parts[*]} " == *" $folder "* ]] && continue
    compgen -G "${folder}test_*.py" >/dev/null && parts+=("$folder")
done
parts+=("tests/test_*.py")  # the top-level files: one process for all of them
run_part() {  # part, index: runs one part into its own log, its status into another file
    local part=$1 log="$logs/$2" start=$SECONDS
    # shellcheck disable=SC2086  # the top-level part is a glob, expanded here
    python -m pytest -q -m slow "${args[@]}" $part >"$log.out" 2>&1
    echo $? >"$log.status"
    { echo "== $part ($((SECONDS - start)) s)"; cat "$log.out"; } | flock "$logs/print" cat
}
args=("$@")
for index in "${!parts[@]}"; do
    while (($(jobs -rp | wc -l) >= lanes)); do wait -n; done
    run_part "${parts[$index]}" "$index" &
done
wait
failed=()
for index in "${!parts[@]}"; do
    status=$(cat "$logs/$index.status" 2>/dev/null || echo missing)
    # 5: no slow test there.
    if [[ $status != 0 && $status != 5 ]]; then failed+=("${parts[$index]} (exit $status)"); fi
done
if [[ ${#failed[@]} -gt 0 ]]; then
    echo "slow suite: failed in ${failed[*]}" >&2
    exit 1
fi
