#!/usr/bin/python3
"""Dashboard: the first page of dashboard_search over 20,000 dispatches and
2,000,000 deliveries, and what the counter triggers cost the dispatcher.

The history is generated straight into message, dispatch and delivery with
INSERT ... SELECT (the counter triggers fill the counters), in a database the
dispatcher does not serve, every delivery already complete or failed. One
dispatch in ten is the bench sender's, spread over a year.

First page: dashboard_search with five filter sets (none, channel, has_error,
an updated_at month, a created_at week with a channel), each timed RUNS times
from the client, as an administrator and as a sender; the figure is the worst
filter set's median. Baseline: the same page and total as one plain query over
the same tables (count(*) OVER (), no visibility rule, no function).

Trigger cost: 100,000 deliveries set from processing to complete in batches
of 500, one transaction each, with an UPDATE ... FROM unnest like the
dispatcher's, on messaging.delivery (counter triggers on) versus a copy of the
table with the same rows and indexes and no triggers, alternating, RUNS each.
Before each timed run the table's rows are set back to processing, the table and
messaging.dispatch vacuumed and a checkpoint taken, so that no run pays for the
dead rows of the one before it or has autovacuum start in its middle (unsettled,
single runs varied from -60% to +260%).

Then, where perf is installed (package linux-perf), one more untimed round with
the triggers runs under `perf record --call-graph dwarf` on the backend, and the
note gives the shares of the backend's CPU time spent in the statement-level
triggers (AfterTriggerEndQuery), in the dispatch updates they run
(SPI_execute_plan) and in capturing the old and new rows (ExecARUpdateTriggers).

    dashboard.py DBNAME RUNS
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import benchlib as b

PAGE_TARGET_MS = 5.0
TRIGGER_TARGET = 0.25
DISPATCHES = 20_000
PER_DISPATCH = 100
UPDATES = 100_000
BATCH = 500

FILTERS = [
    ("no filter", {}, ""),
    ("email only", {"message_type": "email"}, "d.channel = 'email'"),
    ("with errors", {"has_error": True}, "d.failed > 0"),
    ("updated in a month", {"updated_from": "2026-06-01", "updated_to": "2026-06-30"},
     "d.updated_at >= '2026-06-01' AND d.updated_at < '2026-07-01'"),
    ("created in a week, wechat",
     {"created_from": "2026-03-02", "created_to": "2026-03-08", "message_type": "wechat"},
     "d.created_at >= '2026-03-02' AND d.created_at < '2026-03-09' AND d.channel = 'wechat'"),
]


def generate(conn):
    with conn.cursor() as cur:
        cur.execute("SET TIME ZONE 'UTC'")
        cur.execute("TRUNCATE messaging.message CASCADE")
        cur.execute("""
            INSERT INTO messaging.message (message_id, subject, body, sent_by, created_at)
            SELECT i, 'Notice ' || i, 'Body of notice ' || i,
                   CASE WHEN i %% 10 = 0 THEN %s ELSE 'office' || i %% 7 END,
                   timestamptz '2026-01-01' + (i * interval '26 minutes')
            FROM generate_series(1, %s) i""", (b.SENDER_ROLE, DISPATCHES // 2))
        cur.execute("""
            INSERT INTO messaging.dispatch (dispatch_id, message_id, channel, sent_by,
                                            created_at, updated_at)
            SELECT m.message_id * 2 - (c = 'wechat')::int, m.message_id, c, m.sent_by,
                   m.created_at, m.created_at + interval '3 hours'
            FROM messaging.message m,
                 unnest(ARRAY['wechat', 'email']::messaging.channel[]) c""")
        cur.execute("""
            INSERT INTO messaging.delivery (dispatch_id, person_id, status, address, attempts,
                                            error, created_at, updated_at, next_attempt_at)
            SELECT d.dispatch_id, p,
                   CASE WHEN (d.dispatch_id + p) %% 37 = 0 THEN 'failed'
                        ELSE 'complete' END::messaging.delivery_status,
                   'person' || p, 1,
                   CASE WHEN (d.dispatch_id + p) %% 37 = 0
                        THEN 'no email address recorded' END,
                   d.created_at, d.updated_at, d.created_at
            FROM messaging.dispatch d, generate_series(1, %s) p
            ORDER BY d.dispatch_id, p""", (PER_DISPATCH,))
        # The triggers moved updated_at to now(): put it back in the past.
        cur.execute("UPDATE messaging.dispatch SET updated_at = created_at + interval '3 hours'")
        cur.execute("SELECT count(*), sum(messages), sum(complete + failed) "
                    "FROM messaging.dispatch")
        counts = cur.fetchone()
    conn.commit()
    want = (DISPATCHES, DISPATCHES * PER_DISPATCH, DISPATCHES * PER_DISPATCH)
    if counts != want:
        b.fail(f"generated {counts} (dispatches, messages, complete + failed), expected {want}")
    conn.autocommit = True
    conn.cursor().execute("VACUUM ANALYZE")
    conn.autocommit = False


def page(conn, args):
    names = ", ".join(f"{k} => %({k})s" for k in args)
    with conn.cursor() as cur:
        cur.execute(f"SELECT * FROM messaging.dashboard_search({names})", args)
        rows = cur.fetchall()
    conn.commit()
    return rows


def plain_page(conn, where, sender):
    clauses = [c for c in (where, f"d.sent_by = '{sender}'" if sender else "") if c]
    with conn.cursor() as cur:
        cur.execute("SELECT d.dispatch_id, m.subject, d.messages, d.complete, d.failed, "
                    "count(*) OVER () FROM messaging.dispatch d "
                    "JOIN messaging.message m ON m.message_id = d.message_id "
                    f"WHERE {' AND '.join(clauses) or 'true'} "
                    "ORDER BY d.updated_at DESC, d.dispatch_id DESC LIMIT 25")
        rows = cur.fetchall()
    conn.commit()
    return rows


def first_pages(admin, office, runs):
    """{role: [(filter, product median ms, baseline median ms)]}."""
    results = {}
    for role, conn, sender in (("administrator", admin, None),
                               ("sender", office, b.SENDER_ROLE)):
        results[role] = []
        for name, args, where in FILTERS:
            expected = plain_page(admin, where, sender)
            got = page(conn, args)
            if [r[0] for r in got] != [r[0] for r in expected] or \
                    (got and got[0][-1] != expected[0][-1]) or len(got) != 25:
                b.fail(f"dashboard_search ({role}, {name}) answered "
                       f"{[r[0] for r in got][:5]}..., expected {[r[0] for r in expected][:5]}")
            product = [b.timed(lambda: page(conn, args))[0] for _ in range(runs)]
            plain = [b.timed(lambda: plain_page(admin, where, sender))[0] for _ in range(runs)]
            results[role].append((name, b.median(product) * 1000, b.median(plain) * 1000,
                                  got[0][-1]))
    return results


def prepare_updates(conn):
    """100,000 deliveries in flight, and a trigger-free copy of the table."""
    with conn.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS public.delivery_copy")
        cur.execute("CREATE TABLE public.delivery_copy "
                    "(LIKE messaging.delivery INCLUDING ALL)")
        cur.execute("SELECT array_agg(delivery_id ORDER BY delivery_id) FROM ("
                    "SELECT delivery_id FROM messaging.delivery ORDER BY dispatch_id DESC, "
                    "delivery_id LIMIT %s) s", (UPDATES,))
        ids = cur.fetchone()[0]
    conn.commit()
    return ids


def reset(conn, table, ids):
    with conn.cursor() as cur:
        cur.execute(f"UPDATE {table} SET status = 'processing', error = NULL "
                    f"WHERE delivery_id = ANY(%s::bigint[])", (ids,))
    conn.commit()
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f"VACUUM {table}, messaging.dispatch")
        cur.execute("CHECKPOINT")
    conn.autocommit = False


def copy_table(conn):
    with conn.cursor() as cur:
        cur.execute("TRUNCATE public.delivery_copy")
        cur.execute("INSERT INTO public.delivery_copy SELECT * FROM messaging.delivery")
    conn.commit()
    conn.autocommit = True
    conn.cursor().execute("VACUUM ANALYZE public.delivery_copy, messaging.delivery")
    conn.autocommit = False


def complete_in_batches(conn, table, ids):
    updated = 0
    with conn.cursor() as cur:
        for at in range(0, len(ids), BATCH):
            cur.execute(f"UPDATE {table} d SET status = 'complete', attempts = d.attempts + 1, "
                        "error = NULL, updated_at = now() "
                        "FROM unnest(%s::bigint[]) AS u(delivery_id) "
                        "WHERE d.delivery_id = u.delivery_id AND d.status = 'processing'",
                        (ids[at:at + BATCH],))
            updated += cur.rowcount
            conn.commit()
    return updated


def check_counters(conn):
    with conn.cursor() as cur:
        cur.execute("""
            SELECT count(*) FROM messaging.dispatch d
            LEFT JOIN (SELECT dispatch_id, count(*) n,
                              count(*) FILTER (WHERE status = 'complete') c,
                              count(*) FILTER (WHERE status = 'processing') p
                       FROM messaging.delivery GROUP BY 1) v USING (dispatch_id)
            WHERE (d.messages, d.complete, d.processing) IS DISTINCT FROM (v.n, v.c, v.p)""")
        wrong = cur.fetchone()[0]
    conn.rollback()
    if wrong:
        b.fail(f"{wrong} dispatches' counters do not match their deliveries")


PROFILED = [("AfterTriggerEndQuery", "counter trigger"),
            ("SPI_execute_plan", "its dispatch updates"),
            ("ExecARUpdateTriggers", "capturing old and new rows")]


def profile(conn, ids):
    """Shares of the backend's CPU time in one more round with the triggers, by perf."""
    if shutil.which("perf") is None:
        b.log("  perf is not installed (package linux-perf): no profile")
        return ""
    reset(conn, "messaging.delivery", ids)
    with tempfile.TemporaryDirectory() as folder:
        data = os.path.join(folder, "perf.data")
        recorder = subprocess.Popen(
            ["perf", "record", "--call-graph", "dwarf,65528", "-F", "1000", "-o", data,
             "-p", str(conn.get_backend_pid())],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1)  # until perf is attached
        updated = complete_in_batches(conn, "messaging.delivery", ids)
        recorder.send_signal(signal.SIGINT)
        recorder.wait()
        if updated != len(ids):
            b.fail(f"profiled round: {updated} rows updated, expected {len(ids)}")
        report = subprocess.run(["perf", "report", "-i", data, "--children", "--sort", "symbol",
                                 "-g", "none", "--stdio"],
                                capture_output=True, text=True).stdout
    shares = {}
    for line in report.splitlines():
        found = re.match(r"\s*([\d.]+)%\s+[\d.]+%\s+\[\.\]\s+(\S+)", line)
        if found:
            shares.setdefault(found.group(2), float(found.group(1)))
    text = ", ".join(f"{label} {shares.get(symbol, 0.0):.1f}%" for symbol, label in PROFILED)
    b.log(f"  perf, share of the backend's CPU time: {text}")
    return f"; perf, share of the backend's CPU time: {text}"


def trigger_cost(conn, runs):
    ids = prepare_updates(conn)
    reset(conn, "messaging.delivery", ids)
    copy_table(conn)
    with_triggers, without = [], []
    for run in range(runs + 1):  # the first round is untimed
        order = ("messaging.delivery", "public.delivery_copy")
        for table in order if run % 2 == 0 else reversed(order):
            reset(conn, table, ids)
            seconds, updated = b.timed(lambda: complete_in_batches(conn, table, ids))
            if updated != len(ids):
                b.fail(f"{table}: {updated} rows updated, expected {len(ids)}")
            if run:
                (with_triggers if table == "messaging.delivery" else without).append(seconds)
    check_counters(conn)
    profiled = profile(conn, ids)
    check_counters(conn)
    with conn.cursor() as cur:
        cur.execute("DROP TABLE public.delivery_copy")
    conn.commit()
    return b.median(with_triggers), b.median(without), profiled


def main():
    dbname, runs = sys.argv[1], int(sys.argv[2])
    admin = b.connect(dbname)
    office = b.connect(dbname, b.SENDER_ROLE)
    b.log(f"dashboard: generating {DISPATCHES:,} dispatches and "
          f"{DISPATCHES * PER_DISPATCH:,} deliveries")
    seconds, _ = b.timed(lambda: generate(admin))
    b.log(f"  generated in {seconds:.1f} s")
    for conn in (admin, office):
        conn.cursor().execute("SET TIME ZONE 'UTC'")
        conn.commit()

    pages = first_pages(admin, office, runs)
    for role, rows in pages.items():
        name, worst, plain, _ = max(rows, key=lambda r: r[1])
        note = "; ".join(f"{n} {p:.2f} ms (plain {q:.2f} ms, {t:,} rows)"
                         for n, p, q, t in rows)
        b.record(f"dashboard first page, {DISPATCHES:,} dispatches, as {role}: worst filter",
                 worst, "ms", f"< {PAGE_TARGET_MS:g} ms", runs, baseline=plain,
                 baseline_name="one plain SQL query", met=worst < PAGE_TARGET_MS,
                 note=f"worst: {name}; " + note)

    with_t, without_t, profiled = trigger_cost(admin, runs)
    extra = with_t / without_t - 1
    b.record(f"{UPDATES:,} status updates in batches of {BATCH}, counter triggers on",
             with_t * 1000, "ms", f"<= {TRIGGER_TARGET:.0%} extra", runs,
             baseline=without_t * 1000, baseline_name="copy of the table, no triggers",
             met=extra <= TRIGGER_TARGET, note=f"{extra:+.0%} for the counters{profiled}")
    with admin.cursor() as cur:
        cur.execute("TRUNCATE messaging.message CASCADE")
    admin.commit()


if __name__ == "__main__":
    main()
