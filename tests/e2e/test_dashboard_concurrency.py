"""Dashboard counters under concurrency: a worker recording results while reruns
requeue the same dispatches. No count is lost, the four counts always add up, and
nobody deadlocks."""

import threading
import time

import psycopg2
import pytest

from dashboard_db import (
    connect,
    counters_match_deliveries,
    create_database,
    drop_database,
    query,
    require_cluster,
)

DISPATCHES = 4
RECIPIENTS = 300


@pytest.fixture
def db():
    require_cluster()
    name = create_database("mis_dash_conc")
    with connect(name) as conn:
        query(conn, """
            INSERT INTO messaging.person (person_id, kind, display_name, email)
            SELECT g, 'staff', 'Person ' || g, 'p' || g || '@school.example'
            FROM generate_series(1, %s) g;
            INSERT INTO messaging.message (message_id, body, sent_by) VALUES (1, 'Hello', 'alice');
            INSERT INTO messaging.dispatch (dispatch_id, message_id, channel, sent_by)
            SELECT g, 1, (ARRAY['wechat', 'email', 'alert'])[g]::messaging.channel, 'alice'
            FROM generate_series(1, 3) g;
            INSERT INTO messaging.message (message_id, body, sent_by) VALUES (2, 'Again', 'alice');
            INSERT INTO messaging.dispatch (dispatch_id, message_id, channel, sent_by)
            VALUES (4, 2, 'email', 'alice');
            INSERT INTO messaging.delivery (dispatch_id, person_id)
            SELECT d, p FROM generate_series(1, %s) d, generate_series(1, %s) p;
        """, (RECIPIENTS, DISPATCHES, RECIPIENTS))
    conn.close()
    yield name
    drop_database(name)


def session(dbname):
    conn = connect(dbname, autocommit=False)
    with conn.cursor() as cur:
        cur.execute("SET lock_timeout = '20s'")
    conn.commit()
    return conn


def worker_loop(dbname, stop, errors, stats):
    """Claims batches across all dispatches and records results in the same
    transaction's second statement, as the dispatcher does."""
    conn = session(dbname)
    try:
        while not stop.is_set():
            with conn.cursor() as cur:
                cur.execute("""
                    UPDATE messaging.delivery d
                    SET status = 'processing', attempts = d.attempts + 1, updated_at = now()
                    FROM (SELECT delivery_id FROM messaging.delivery
                          WHERE status = 'not_started' ORDER BY delivery_id
                          LIMIT 120 FOR UPDATE SKIP LOCKED) batch
                    WHERE d.delivery_id = batch.delivery_id
                    RETURNING d.delivery_id""")
                claimed = [row[0] for row in cur.fetchall()]
            conn.commit()
            if not claimed:
                time.sleep(0.002)
                continue
            with conn.cursor() as cur:
                cur.execute("""
                    UPDATE messaging.delivery d
                    SET status = 'complete', updated_at = now()
                    FROM unnest(%s::bigint[]) AS done(id)
                    WHERE d.delivery_id = done.id AND done.id %% 4 <> 0""", (claimed,))
                cur.execute("""
                    UPDATE messaging.delivery d
                    SET status = 'failed', error = 'mail server refused the address',
                        updated_at = now()
                    FROM unnest(%s::bigint[]) AS done(id)
                    WHERE d.delivery_id = done.id AND done.id %% 4 = 0""", (claimed,))
            conn.commit()
            stats["batches"] += 1
    except psycopg2.Error as e:
        errors.append("worker: %s %s" % (e.pgcode, e))
    finally:
        conn.close()


def rerun_loop(dbname, stop, errors, stats):
    """Reruns the dispatches over and over, failed only and everything in turn."""
    conn = session(dbname)
    try:
        n = 0
        while not stop.is_set():
            n += 1
            with conn.cursor() as cur:
                cur.execute("SELECT messaging.rerun(%s, %s)", (1 + n % DISPATCHES, n % 3 != 0))
                stats["requeued"] += cur.fetchone()[0]
            conn.commit()
    except psycopg2.Error as e:
        errors.append("rerun: %s %s" % (e.pgcode, e))
    finally:
        conn.close()


def test_concurrent_reruns_and_results_keep_counts(db):
    stop = threading.Event()
    errors = []
    stats = {"batches": 0, "requeued": 0}
    threads = [threading.Thread(target=worker_loop, args=(db, stop, errors, stats)),
               threading.Thread(target=rerun_loop, args=(db, stop, errors, stats)),
               threading.Thread(target=rerun_loop, args=(db, stop, errors, stats))]
    for t in threads:
        t.start()
    watcher = connect(db)
    mismatches = []
    try:
        deadline = time.time() + 4
        while time.time() < deadline and not errors:
            # Every committed state adds up.
            rows = query(watcher, """
                SELECT dispatch_id FROM messaging.dispatch
                WHERE messages <> not_started + processing + complete + failed
                   OR messages <> %s""", (RECIPIENTS,))
            mismatches.extend(rows)
            time.sleep(0.05)
    finally:
        stop.set()
        for t in threads:
            t.join(60)
    assert not errors, errors
    assert not mismatches, mismatches
    assert stats["batches"] > 5 and stats["requeued"] > 0, stats
    assert not counters_match_deliveries(watcher)
    watcher.close()


def wait_until_blocked(conn, pid):
    for _ in range(200):
        if query(conn, "SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s",
                 (pid,)) == [("Lock",)]:
            return
        time.sleep(0.02)
    raise AssertionError("session %d never waited for a lock" % pid)


def test_rerun_waits_for_a_worker_transaction_and_counts_its_failures(db):
    worker = session(db)
    rerun = session(db)
    watcher = connect(db)
    try:
        with worker.cursor() as cur:
            cur.execute("UPDATE messaging.delivery SET status = 'processing'"
                        " WHERE dispatch_id = 1")
        worker.commit()
        # The worker records results in two statements of one transaction...
        with worker.cursor() as cur:
            cur.execute("""UPDATE messaging.delivery SET status = 'failed', error = 'refused'
                           WHERE dispatch_id = 1 AND person_id <= 100""")

        # ...while a rerun of the same dispatch starts: it waits for the worker.
        result = {}

        def do_rerun():
            try:
                with rerun.cursor() as cur:
                    cur.execute("SELECT messaging.rerun(1)")
                    result["requeued"] = cur.fetchone()[0]
                rerun.commit()
            except psycopg2.Error as e:
                result["error"] = "%s %s" % (e.pgcode, e)

        t = threading.Thread(target=do_rerun)
        t.start()
        wait_until_blocked(watcher, rerun.get_backend_pid())

        with worker.cursor() as cur:
            cur.execute("""UPDATE messaging.delivery SET status = 'failed', error = 'refused'
                           WHERE dispatch_id = 1 AND person_id BETWEEN 101 AND 150""")
            cur.execute("""UPDATE messaging.delivery SET status = 'complete'
                           WHERE dispatch_id = 1 AND person_id > 150""")
        worker.commit()
        t.join(30)

        assert "error" not in result, result
        assert result["requeued"] == 150, "the rerun takes every failure the worker committed"
        assert query(watcher, """SELECT messages, not_started, processing, complete, failed
                                 FROM messaging.dispatch WHERE dispatch_id = 1""") \
            == [(RECIPIENTS, 150, 0, 150, 0)]
        assert not counters_match_deliveries(watcher)
    finally:
        for conn in (worker, rerun, watcher):
            conn.close()


def test_worker_waits_for_an_open_rerun_without_deadlock(db):
    worker = session(db)
    rerun = session(db)
    watcher = connect(db)
    try:
        query(watcher, """UPDATE messaging.delivery SET status = 'failed', error = 'refused'
                          WHERE dispatch_id = 2 AND person_id <= 10""")
        query(watcher, """UPDATE messaging.delivery SET status = 'processing'
                          WHERE dispatch_id = 2 AND person_id > 10""")
        # A rerun that has not committed yet holds the dispatch.
        with rerun.cursor() as cur:
            cur.execute("SELECT messaging.rerun(2)")
            assert cur.fetchone()[0] == 10

        done = {}

        def record_results():
            try:
                with worker.cursor() as cur:
                    cur.execute("""UPDATE messaging.delivery SET status = 'complete'
                                   WHERE dispatch_id = 2 AND status = 'processing'""")
                    done["rows"] = cur.rowcount
                worker.commit()
            except psycopg2.Error as e:
                done["error"] = "%s %s" % (e.pgcode, e)

        t = threading.Thread(target=record_results)
        t.start()
        wait_until_blocked(watcher, worker.get_backend_pid())

        # The rerun's transaction goes on without waiting for the worker (a second rerun
        # finds nothing finished to take), then commits and lets the worker on.
        with rerun.cursor() as cur:
            cur.execute("SELECT messaging.rerun(2, false)")
            assert cur.fetchone()[0] == 0
        rerun.commit()
        t.join(30)

        assert done == {"rows": RECIPIENTS - 10}
        assert query(watcher, """SELECT messages, not_started, processing, complete, failed
                                 FROM messaging.dispatch WHERE dispatch_id = 2""") \
            == [(RECIPIENTS, 10, 0, RECIPIENTS - 10, 0)]
        assert not counters_match_deliveries(watcher)
    finally:
        for conn in (worker, rerun, watcher):
            conn.close()
