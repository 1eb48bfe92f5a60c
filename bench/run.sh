#!/usr/bin/env bash
# Runs the benchmarks on a throwaway cluster of their own and writes the results to
# bench/results/latest.csv, latest.md and latest.png.
#
#   bash bench/run.sh              every benchmark
#   bash bench/run.sh search ...   only those named
#
# Each benchmark is one script in bench/ that measures the product and its baseline
# in the same run, and exits non-zero if the product did not do the work. A new
# benchmark is a script plus one line in the `case` below.
set -uo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
cd "$here"
python=/usr/bin/python3
all=(enqueue search dispatch_wechat dispatch_email latency dashboard memory)
if [ $# -gt 0 ]; then selected=("$@"); else selected=("${all[@]}"); fi

cluster="$(mktemp -d /tmp/mis_messaging_bench.XXXXXX)"
chmod 755 "$cluster"
results="$here/bench/results"
rows="$results/tmp/rows.jsonl"
mkdir -p "$results/tmp"
rm -f "$rows"
failed=()
started=$(date +%s)

cleanup() { bash tests/cluster.sh stop "$cluster"; }
trap cleanup EXIT

# The server's defaults, except room for the 100-times school in memory and no
# checkpoints in the middle of a measurement. Product and baselines share them.
export MIS_EXTRA_CONF="shared_buffers = 512MB
max_wal_size = 4GB
checkpoint_timeout = 30min"

echo "== throwaway cluster in $cluster"
bash tests/cluster.sh start "$cluster" mis_bench || exit 1
# shellcheck disable=SC1091
source "$cluster/env"
export MIS_BENCH_RESULTS="$rows" MIS_BENCH_SCHOOL_DB=school MIS_BENCH_SCHOOL100_DB=school100
export MIS_BENCH_SENDER=bench_office

# The dispatcher serves mis_bench (the dispatch, latency and memory benchmarks);
# the schools and the dashboard's history live in databases it does not serve,
# so that nothing is dispatched while enqueueing is measured.
psql -q -X -v ON_ERROR_STOP=1 -c 'CREATE EXTENSION mis_messaging' \
    -c 'CREATE ROLE bench_office LOGIN IN ROLE messaging_sender' || exit 1
for db in school school100 dashboard; do
    createdb "$db" && psql -q -X -v ON_ERROR_STOP=1 -d "$db" \
        -c 'CREATE EXTENSION mis_messaging' || exit 1
done

bench() {
    local script="$1"
    shift
    echo "== $script $*"
    if ! "$python" "bench/$script.py" "$@"; then
        failed+=("$script $*")
    fi
}

echo "== loading the sample schools"
bench load school 1 1x
bench load school100 100 100x
if [ ${#failed[@]} -gt 0 ]; then
    echo "the sample schools did not load: no benchmark can run" >&2
    exit 1
fi

for name in "${selected[@]}"; do
    case "$name" in
    # Send to every pupil and all their contacts, wechat and email, versus INSERT.
    enqueue)
        bench enqueue school 1x 7
        bench enqueue school100 100x 3
        ;;
    # search_by_name over 200 varied queries on the 100-times school.
    search) bench search school100 5 ;;
    # 100,000 WeChat deliveries through the dispatcher to nginx, versus claiming and
    # updating the same rows with no network, and one HTTP request per delivery.
    dispatch_wechat) bench dispatch_wechat 100000 3 ;;
    # 2,000 mails through the dispatcher to the SMTP sink, versus a libcurl loop.
    dispatch_email) bench dispatch_email 2000 5 ;;
    # Commit of a send to the first request on the wire, 200 sends; 60 s idle.
    latency) bench latency 200 60 ;;
    # The first dashboard page over 2,000,000 deliveries; the counter triggers' cost.
    dashboard) bench dashboard dashboard 5 ;;
    # The dispatcher's private memory across three rounds of 1,000,000 alert deliveries.
    memory) bench memory 100000 10 3 ;;
    *)
        echo "unknown benchmark: $name (known: ${all[*]})" >&2
        failed+=("$name")
        ;;
    esac
done

echo "== results"
note="Measured $(date -u '+%Y-%m-%d %H:%M UTC') on $(nproc) cores ($(uname -m)),"
note+=" PostgreSQL $(psql -X -At -c 'SHOW server_version' | cut -d' ' -f1),"
note+=" in $(($(date +%s) - started)) s."
"$python" bench/report.py "$rows" "$results" "$note"

if [ ${#failed[@]} -gt 0 ]; then
    printf 'FAILED: %s\n' "${failed[@]}" >&2
    exit 1
fi
