#!/usr/bin/env bash
# Builds the libFuzzer targets with clang and runs each for a bounded time.
# Usage: tests/fuzz/run.sh [seconds per target, default 30]
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds="${1:-30}"
build=build/fuzz
CXX=clang++ cmake -S . -B "$build" -DMIS_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j2 --target wecom_reply_fuzz mime_fuzz
for target in wecom_reply_fuzz mime_fuzz; do
    mkdir -p "$build/corpus/$target" "$build/artifacts"
    if ! "$build/$target" -max_total_time="$seconds" -max_len=8192 -print_final_stats=1 \
        -artifact_prefix="$build/artifacts/$target-" "$build/corpus/$target" \
        >"$build/$target.log" 2>&1; then
        tail -40 "$build/$target.log" >&2
        echo "fuzz target $target failed; the input is in $build/artifacts" >&2
        exit 1
    fi
    grep -E '^(Done|stat::number_of_executed_units)' "$build/$target.log"
done
