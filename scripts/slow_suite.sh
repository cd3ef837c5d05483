#!/usr/bin/env bash
# The slow suite, one pytest process per test folder (and one for tests/test_*.py); arguments
# go to every pytest, e.g. --deselect NODE. Exit status 0 when every part passed.
#
# Why not one process: TensorFlow keeps every XLA program a process compiles, and the XLA CPU
# JIT maps each program's kernels as separate memory regions: about 510 maps per short
# training run here, never returned (keras.backend.clear_session() and gc do not release them;
# measured with /proc/self/maps, see docs/contributing.md). One process for the whole slow
# suite crossed the kernel's vm.max_map_count (65,530) near its end and died with SIGSEGV
# inside TensorFlow, at the same test in two CI runs. A folder's tests stay far below it.
set -uo pipefail
cd "$(dirname "$0")/.."
failed=()
parts=()
for folder in tests/*/; do
    compgen -G "${folder}test_*.py" >/dev/null && parts+=("$folder")
done
parts+=("tests/test_*.py")  # the top-level files: one process for all of them
for part in "${parts[@]}"; do
    # shellcheck disable=SC2086  # the last part is a glob, expanded here
    python -m pytest -q -m slow "$@" $part
    status=$?
    # 5: no slow test there.
    if [[ $status -ne 0 && $status -ne 5 ]]; then failed+=("$part (exit $status)"); fi
done
if [[ ${#failed[@]} -gt 0 ]]; then
    echo "slow suite: failed in ${failed[*]}" >&2
    exit 1
fi
