"""Shared parts of the benchmarks: connections, timing, statistics, results.

Each benchmark is a script run by bench/run.sh against its throwaway cluster. It
measures the product and a baseline in the same run, checks that the product
did the work (exiting non-zero through `fail` if not), and appends its figures
with `record` to the results file that bench/report.py turns into a table.
"""

import json
import os
import statistics
import sys
import time

import psycopg2

RESULTS = os.environ.get("MIS_BENCH_RESULTS", "bench/results/tmp/rows.jsonl")
SCHOOL_DB = os.environ.get("MIS_BENCH_SCHOOL_DB", "school")
SCHOOL100_DB = os.environ.get("MIS_BENCH_SCHOOL100_DB", "school100")
# The role an MIS would send as: a member of messaging_sender.
SENDER_ROLE = os.environ.get("MIS_BENCH_SENDER", "bench_office")


def connect(dbname, user=None):
    """A connection to dbname on the benchmark cluster (PGHOST, PGPORT from run.sh)."""
    conn = psycopg2.connect(dbname=dbname, user=user or os.environ.get("PGUSER", "postgres"))
    conn.autocommit = False
    return conn


def log(message):
    print(message, flush=True)


def fail(message):
    """Stops the benchmark: the product did not do the work, so no figure counts."""
    print(f"FAILED: {message}", file=sys.stderr, flush=True)
    sys.exit(1)


def require_function(conn, signature):
    """Fails unless the product's function exists (e.g. 'messaging.send(...)')."""
    with conn.cursor() as cur:
        cur.execute("SELECT to_regprocedure(%s) IS NOT NULL", (signature,))
        found = cur.fetchone()[0]
    conn.rollback()
    if not found:
        fail(f"{signature} does not exist in this build")


def timed(action):
    """Runs action() and returns (seconds, its result)."""
    start = time.perf_counter()
    result = action()
    return time.perf_counter() - start, result


def median(values):
    return statistics.median(values)


def percentile(values, p):
    """The nearest-rank p-th percentile (p99 of 200 values is the 198th smallest)."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 100))
    return ordered[int(rank) - 1]


def record(benchmark, figure, unit, target, runs, baseline=None, baseline_name="",
           ratio=None, met=None, note=""):
    """Appends one row of results.

    target is the text shown (e.g. "<= 3"); met is True, False or None (no target).
    ratio defaults to figure / baseline.
    """
    if ratio is None and baseline:
        ratio = figure / baseline
    row = {
        "benchmark": benchmark, "figure": figure, "unit": unit,
        "baseline": baseline, "baseline_name": baseline_name, "ratio": ratio,
        "target": target, "met": met, "runs": runs, "note": note,
    }
    os.makedirs(os.path.dirname(RESULTS) or ".", exist_ok=True)
    with open(RESULTS, "a", encoding="utf-8") as out:
        out.write(json.dumps(row, ensure_ascii=False) + "\n")
    shown = f"{figure:.4g} {unit}"
    if baseline:
        shown += f" (baseline {baseline:.4g} {unit}, ratio {ratio:.3g})"
    log(f"  {benchmark}: {shown}")
