#!/usr/bin/env bash
# Runs every test: GoogleTest units, then pgTAP and end-to-end tests against a
# throwaway cluster started for the run. Exits non-zero on any failure.
set -uo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
cd "$here"
cluster="$(mktemp -d /tmp/mis_messaging_test.XXXXXX)"
chmod 755 "$cluster"
failures=0
summary=()

cleanup() { bash tests/cluster.sh stop "$cluster"; }
trap cleanup EXIT

echo "== GoogleTest"
if make -s unit; then summary+=("unit: passed"); else summary+=("unit: FAILED"); failures=$((failures + 1)); fi

echo "== GoogleTest under AddressSanitizer and UndefinedBehaviorSanitizer"
if cmake -S . -B build/sanitize -DCMAKE_BUILD_TYPE=Debug -DMIS_SANITIZE=ON >/dev/null &&
    cmake --build build/sanitize -j2 >/dev/null &&
    (cd build/sanitize && ctest --output-on-failure | tail -3); then
    summary+=("unit under ASan/UBSan: passed")
else
    summary+=("unit under ASan/UBSan: FAILED")
    failures=$((failures + 1))
fi

echo "== libFuzzer, ${MIS_FUZZ_SECONDS:-20} s a target"
if bash tests/fuzz/run.sh "${MIS_FUZZ_SECONDS:-20}"; then
    summary+=("fuzz: passed")
else
    summary+=("fuzz: FAILED")
    failures=$((failures + 1))
fi

echo "== throwaway cluster in $cluster"
bash tests/cluster.sh start "$cluster" mis_test || exit 1
# shellcheck disable=SC1091
source "$cluster/env"

echo "== pgTAP"
psql -q -v ON_ERROR_STOP=1 -c 'CREATE EXTENSION pgtap' -c 'CREATE EXTENSION mis_messaging' >/dev/null || exit 1
if pg_prove --failures tests/sql/*.sql; then summary+=("pgtap: passed"); else summary+=("pgtap: FAILED"); failures=$((failures + 1)); fi

if ls tests/e2e/test_*.py >/dev/null 2>&1; then
    echo "== end-to-end"
    if /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/e2e; then
        summary+=("e2e: passed")
    else
        summary+=("e2e: FAILED")
        failures=$((failures + 1))
    fi
fi

echo "== summary"
printf '  %s\n' "${summary[@]}"
echo "suites: $((${#summary[@]} - failures)) passed, $failures failed"
exit $((failures > 0))
