"""The dispatcher's life: alerts end to end, wake-up latency, idleness, pausing,
reloads, SIGTERM, a crash, DROP EXTENSION and DROP DATABASE.

These tests run on a cluster of their own, since they restart, pause and crash
the worker. They queue work by inserting message, dispatch and delivery rows
(what messaging.send writes) so that they depend on the dispatcher alone.
"""

import os
import signal
import time

import psycopg2
import pytest

from conftest import Cluster, throwaway_cluster

DATABASE = "mis_dispatch"
DISPATCHER = "mis_messaging dispatcher"
LAUNCHER = "mis_messaging launcher"


class OwnCluster(Cluster):
    """A cluster of this module's own, whose connections wait while it restarts."""

    def connect(self, dbname=DATABASE, timeout=30):
        """An autocommit connection, waiting while the server restarts."""
        base = "host={PGHOST} port={PGPORT} user={PGUSER}".format(**self.env)
        deadline = time.time() + timeout
        while True:
            try:
                conn = psycopg2.connect(base + " dbname=" + dbname)
                conn.autocommit = True
                return conn
            except psycopg2.OperationalError:
                if time.time() > deadline:
                    raise
                time.sleep(0.1)

    def log(self):
        return self.server_log()


@pytest.fixture(scope="module")
def cluster():
    with throwaway_cluster("mis_messaging_dispatcher.", DATABASE,
                           extra_conf="max_prepared_transactions = 2") as directory:
        yield OwnCluster(directory)


def one(conn, sql, args=None):
    with conn.cursor() as cur:
        cur.execute(sql, args)
        row = cur.fetchone()
        return row[0] if row else None


def rows(conn, sql, args=None):
    with conn.cursor() as cur:
        cur.execute(sql, args)
        return cur.fetchall()


def wait_for(predicate, timeout, step=0.02):
    """Polls predicate until it is true; returns the seconds it took, or fails."""
    started = time.time()
    while not predicate():
        if time.time() - started > timeout:
            pytest.fail("condition not met within %.1f s" % timeout)
        time.sleep(step)
    return time.time() - started


def dispatcher_pid(conn):
    return one(conn, "SELECT pid FROM pg_stat_activity WHERE backend_type = %s", (DISPATCHER,))


def wait_dispatcher(cluster, timeout=15, not_pid=None):
    """The dispatcher's pid once one (other than not_pid) runs, riding out a
    server restart."""
    deadline = time.time() + timeout
    while True:
        try:
            admin = cluster.connect("postgres", timeout=max(deadline - time.time(), 1))
            try:
                pid = dispatcher_pid(admin)
            finally:
                admin.close()
            if pid is not None and pid != not_pid:
                return pid
        except psycopg2.OperationalError:
            pass
        if time.time() > deadline:
            pytest.fail("no dispatcher within %.1f s" % timeout)
        time.sleep(0.1)


def set_params(conn, **params):
    for name, value in params.items():
        conn.cursor().execute("ALTER SYSTEM SET messaging.%s = %%s" % name, (str(value),))
    conn.cursor().execute("SELECT pg_reload_conf()")


@pytest.fixture
def db(cluster):
    """A connection to the served database with an empty queue and directory."""
    wait_dispatcher(cluster)
    conn = cluster.connect()
    conn.cursor().execute("SET synchronous_commit = on")  # survive the crash tests
    conn.cursor().execute(
        "TRUNCATE messaging.message, messaging.person, messaging.person_group CASCADE")
    conn.cursor().execute(
        "INSERT INTO messaging.person (person_id, kind, display_name, email, wechat_userid)"
        " VALUES (1, 'staff', 'Ann Lee', 'ann@school.example', 'ann.lee'),"
        "        (2, 'staff', 'Dee Roy', 'dee@school.example', NULL),"
        "        (3, 'pupil', 'Bo Chen', NULL, NULL)")
    yield conn
    conn.close()
    admin = cluster.connect("postgres")  # the test may have closed or crashed conn
    admin.cursor().execute("ALTER SYSTEM RESET ALL")
    admin.cursor().execute("SELECT pg_reload_conf()")
    admin.close()


def queue(conn, channel, people, subject="Trip", body="The bus leaves at 8.", status=None):
    """Queues a message over one channel to people, as messaging.send would; returns
    the dispatch id. The dispatcher is woken when the transaction commits."""
    with conn.cursor() as cur:
        cur.execute("BEGIN")
        cur.execute("INSERT INTO messaging.message (subject, body, sent_by)"
                    " VALUES (%s, %s, 'tester') RETURNING message_id", (subject, body))
        message_id = cur.fetchone()[0]
        cur.execute("INSERT INTO messaging.dispatch (message_id, channel, sent_by)"
                    " VALUES (%s, %s, 'tester') RETURNING dispatch_id", (message_id, channel))
        dispatch_id = cur.fetchone()[0]
        cur.execute("INSERT INTO messaging.delivery (dispatch_id, person_id, status)"
                    " SELECT %s, p, coalesce(%s, 'not_started')::messaging.delivery_status"
                    " FROM unnest(%s::bigint[]) p", (dispatch_id, status, list(people)))
        cur.execute("SELECT messaging._wake_dispatcher()")
        cur.execute("COMMIT")
    return dispatch_id


def statuses(conn, dispatch_id):
    return rows(conn, "SELECT person_id, status::text, attempts, error FROM messaging.delivery"
                      " WHERE dispatch_id = %s ORDER BY person_id", (dispatch_id,))


def settled(conn, dispatch_id):
    return one(conn, "SELECT count(*) FROM messaging.delivery WHERE dispatch_id = %s"
                     " AND status IN ('not_started', 'processing')", (dispatch_id,)) == 0


def test_alert_reaches_each_staff_inbox_and_completes(db):
    dispatch = queue(db, "alert", [1, 2, 3], subject="Staff meeting", body="Today at 4 pm.")
    wait_for(lambda: settled(db, dispatch), 5)
    assert statuses(db, dispatch) == [
        (1, "complete", 1, None),
        (2, "complete", 1, None),
        (3, "failed", 0, "alerts reach staff only"),
    ]
    assert rows(db, "SELECT person_id, subject, body, read_at FROM messaging.alert"
                    " ORDER BY person_id") == [
        (1, "Staff meeting", "Today at 4 pm.", None),
        (2, "Staff meeting", "Today at 4 pm.", None),
    ]


def test_send_with_alert_reaches_staff_and_the_dashboard_counts_it(db):
    started = time.time()
    [row] = rows(db, "SELECT dispatch_id, recipients, flagged FROM messaging.send("
                     "'Fire drill', 'At 11:00 today.', ARRAY[1, 2, 3]::bigint[],"
                     " ARRAY['alert']::messaging.channel[])")
    dispatch, recipients, flagged = row
    assert (recipients, flagged) == (2, 0)  # the pupil gets no alert delivery
    wait_for(lambda: settled(db, dispatch), 1.0, step=0.005)
    assert time.time() - started < 1.0
    assert statuses(db, dispatch) == [(1, "complete", 1, None), (2, "complete", 1, None)]
    assert rows(db, "SELECT person_id, subject, body FROM messaging.alert"
                    " ORDER BY person_id") == [
        (1, "Fire drill", "At 11:00 today."), (2, "Fire drill", "At 11:00 today.")]
    assert rows(db, "SELECT messages, not_started, processing, complete, failed"
                    " FROM messaging.dispatch WHERE dispatch_id = %s", (dispatch,)) == [
        (2, 0, 0, 2, 0)]


def test_a_committed_alert_completes_within_a_second(db):
    for _ in range(5):
        started = time.time()
        dispatch = queue(db, "alert", [1])
        wait_for(lambda: settled(db, dispatch), 1.0, step=0.005)
        assert time.time() - started < 1.0
        assert statuses(db, dispatch) == [(1, "complete", 1, None)]


def test_uncommitted_work_is_not_sent(db):
    other = psycopg2.connect(db.dsn)
    cur = other.cursor()
    cur.execute("INSERT INTO messaging.message (message_id, body, sent_by)"
                " VALUES (777, 'Not yet', 'tester')")
    cur.execute("INSERT INTO messaging.dispatch (dispatch_id, message_id, channel, sent_by)"
                " VALUES (777, 777, 'alert', 'tester')")
    cur.execute("INSERT INTO messaging.delivery (dispatch_id, person_id) VALUES (777, 1)")
    cur.execute("SELECT messaging._wake_dispatcher()")
    time.sleep(0.5)
    assert one(db, "SELECT count(*) FROM messaging.alert") == 0
    other.rollback()
    other.close()


def test_work_of_a_prepared_transaction_goes_out_at_commit_prepared(db):
    other = psycopg2.connect(db.dsn)
    cur = other.cursor()
    cur.execute("INSERT INTO messaging.message (message_id, body, sent_by)"
                " VALUES (778, 'Prepared', 'tester')")
    cur.execute("INSERT INTO messaging.dispatch (dispatch_id, message_id, channel, sent_by)"
                " VALUES (778, 778, 'alert', 'tester')")
    cur.execute("INSERT INTO messaging.delivery (dispatch_id, person_id) VALUES (778, 1)")
    cur.execute("PREPARE TRANSACTION 'mis_alert'")
    other.close()
    time.sleep(0.3)
    assert one(db, "SELECT count(*) FROM messaging.alert") == 0
    db.cursor().execute("COMMIT PREPARED 'mis_alert'")
    wait_for(lambda: settled(db, 778), 1.0, step=0.005)
    assert statuses(db, 778) == [(1, "complete", 1, None)]


def test_unconfigured_channels_fail_with_what_to_fix_and_one_log_line(cluster, db):
    log_before = len(cluster.log())
    wechat = queue(db, "wechat", [1, 2])
    email = queue(db, "email", [1, 3])
    wait_for(lambda: settled(db, wechat) and settled(db, email), 5)
    assert statuses(db, wechat) == [
        (1, "failed", 0, "WeChat is not configured: an administrator must run "
                         "messaging.configure_wecom"),
        (2, "failed", 0, "not registered for WeChat: ask them to register"),
    ]
    assert statuses(db, email) == [
        (1, "failed", 0, "email is not configured: an administrator must run "
                         "messaging.configure_smtp"),
        (3, "failed", 0, "no email address recorded"),
    ]
    assert rows(db, "SELECT delivery_id IS NOT NULL, address FROM messaging.delivery"
                    " WHERE dispatch_id = %s ORDER BY person_id", (email,)) == [
        (True, "ann@school.example"), (True, None)]
    log = cluster.log()[log_before:]
    assert log.count("failed 1 delivery: WeChat is not configured") == 1
    assert log.count("failed 1 delivery: email is not configured") == 1
    assert one(db, "SELECT last_error FROM messaging.worker_status") == (
        "email is not configured: an administrator must run messaging.configure_smtp")


def test_worker_status_counts_and_heartbeat(db):
    before = rows(db, "SELECT pid, sent_total, failed_total FROM messaging.worker_status")
    assert len(before) == 1
    pid, sent, failed = before[0]
    assert pid == dispatcher_pid(db)
    dispatch = queue(db, "alert", [1, 2, 3])
    wait_for(lambda: settled(db, dispatch), 5)
    wait_for(lambda: one(db, "SELECT sent_total FROM messaging.worker_status") == sent + 2, 2)
    assert rows(db, "SELECT pid, database, sent_total, failed_total, in_flight,"
                    " last_heartbeat_at >= started_at FROM messaging.worker_status") == [
        (pid, DATABASE, sent + 2, failed + 1, 0, True)]
    assert one(db, "SELECT backend_type FROM pg_stat_activity WHERE pid = %s", (pid,)) == (
        DISPATCHER)


def test_idle_dispatcher_runs_no_statements_and_uses_no_cpu(cluster, db):
    pid = dispatcher_pid(db)
    db.close()
    admin = cluster.connect("postgres")
    # state_change moves with every transaction the dispatcher runs.
    last_change = "SELECT state_change FROM pg_stat_activity WHERE pid = %s"
    time.sleep(0.5)
    before = one(admin, last_change, (pid,))
    cpu_before = cpu_ticks(pid)
    time.sleep(3.0)
    admin.cursor().execute("SELECT pg_stat_clear_snapshot()")
    assert one(admin, last_change, (pid,)) == before
    assert cpu_ticks(pid) - cpu_before <= 1
    admin.close()


def cpu_ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def test_enabled_off_pauses_and_on_resumes(cluster, db):
    log_before = len(cluster.log())
    set_params(db, enabled="off")
    wait_for(lambda: "dispatcher paused" in cluster.log()[log_before:], 5)
    dispatch = queue(db, "alert", [1])
    time.sleep(1.0)
    assert statuses(db, dispatch) == [(1, "not_started", 0, None)]
    set_params(db, enabled="on")
    wait_for(lambda: settled(db, dispatch), 2)
    assert statuses(db, dispatch) == [(1, "complete", 1, None)]
    log = cluster.log()[log_before:]
    assert log.count("dispatcher paused: messaging.enabled is off") == 1
    assert log.count("dispatcher resumed") == 1


def test_a_dispatch_held_by_an_open_transaction_stalls_no_other_message(cluster, db):
    log_before = len(cluster.log())
    set_params(db, enabled="off")
    wait_for(lambda: "dispatcher paused" in cluster.log()[log_before:], 5)
    held = queue(db, "alert", [1, 2], subject="Held")
    # An open transaction holding the dispatch row, as a rerun not yet committed does.
    holder = psycopg2.connect(db.dsn)
    holder.cursor().execute("SELECT 1 FROM messaging.dispatch WHERE dispatch_id = %s"
                            " FOR NO KEY UPDATE", (held,))
    try:
        set_params(db, enabled="on")
        other = queue(db, "alert", [1], subject="Other")
        wait_for(lambda: settled(db, other), 2)
        assert statuses(db, other) == [(1, "complete", 1, None)]
        time.sleep(1.5)  # the dispatcher looks again, and leaves the held one alone
        assert statuses(db, held) == [(1, "not_started", 0, None), (2, "not_started", 0, None)]
        assert "dispatcher error" not in cluster.log()[log_before:]
    finally:
        holder.rollback()
        holder.close()
    wait_for(lambda: settled(db, held), 3)
    assert statuses(db, held) == [(1, "complete", 1, None), (2, "complete", 1, None)]


def test_the_servers_transaction_defaults_do_not_reach_the_dispatcher(cluster, db):
    log_before = len(cluster.log())
    for name, value in (("default_transaction_isolation", "serializable"),
                        ("default_transaction_read_only", "on"),
                        ("session_replication_role", "replica")):
        db.cursor().execute("ALTER SYSTEM SET %s = %%s" % name, (value,))
    db.cursor().execute("SELECT pg_reload_conf()")
    time.sleep(0.5)
    db.cursor().execute("SET default_transaction_read_only = off")
    db.cursor().execute("SET session_replication_role = origin")
    dispatch = queue(db, "alert", [1, 2])
    wait_for(lambda: settled(db, dispatch), 3)
    assert statuses(db, dispatch) == [(1, "complete", 1, None), (2, "complete", 1, None)]
    assert rows(db, "SELECT messages, not_started, processing, complete, failed"
                    " FROM messaging.dispatch WHERE dispatch_id = %s", (dispatch,)) == [
        (2, 0, 0, 2, 0)]
    assert "dispatcher error" not in cluster.log()[log_before:]


def test_reload_is_logged_and_the_new_batch_size_applies(cluster, db):
    log_before = len(cluster.log())
    set_params(db, enabled="off")
    wait_for(lambda: "dispatcher paused" in cluster.log()[log_before:], 5)
    dispatch = queue(db, "alert", [1, 2])
    set_params(db, enabled="on", batch_size=1)
    wait_for(lambda: settled(db, dispatch), 3)
    # With one delivery per batch, the two were recorded in two transactions.
    assert one(db, "SELECT count(DISTINCT updated_at) FROM messaging.delivery"
                   " WHERE dispatch_id = %s", (dispatch,)) == 2
    assert "dispatcher configuration reloaded" in cluster.log()[log_before:]


def test_an_error_in_the_loop_is_logged_once_and_the_dispatcher_carries_on(cluster, db):
    pid = dispatcher_pid(db)
    log_before = len(cluster.log())
    db.cursor().execute("ALTER FUNCTION messaging._claim_deliveries(integer)"
                        " RENAME TO _claim_deliveries_away")
    dispatch = queue(db, "alert", [1])
    wait_for(lambda: "dispatcher error" in cluster.log()[log_before:], 3)
    time.sleep(1.5)  # at least one more try, after a pause
    assert statuses(db, dispatch) == [(1, "not_started", 0, None)]
    assert one(db, "SELECT last_error FROM messaging.worker_status") == (
        "function messaging._claim_deliveries(integer) does not exist")
    db.cursor().execute("ALTER FUNCTION messaging._claim_deliveries_away(integer)"
                        " RENAME TO _claim_deliveries")
    wait_for(lambda: settled(db, dispatch), 5)
    assert statuses(db, dispatch) == [(1, "complete", 1, None)]
    assert dispatcher_pid(db) == pid
    log = cluster.log()[log_before:]
    assert log.count("dispatcher error: function messaging._claim_deliveries(integer)") == 1


def test_results_that_could_not_be_recorded_are_recorded_later_not_sent_again(cluster, db):
    log_before = len(cluster.log())
    db.cursor().execute("ALTER FUNCTION messaging._record_deliveries(bigint[], text[], text[],"
                        " boolean[], bigint[], integer, bigint) RENAME TO _record_away")
    dispatch = queue(db, "alert", [1, 2])
    wait_for(lambda: "dispatcher error" in cluster.log()[log_before:], 3)
    assert [s for _, s, _, _ in statuses(db, dispatch)] == ["processing", "processing"]
    db.cursor().execute("ALTER FUNCTION messaging._record_away(bigint[], text[], text[],"
                        " boolean[], bigint[], integer, bigint) RENAME TO _record_deliveries")
    wait_for(lambda: settled(db, dispatch), 5)
    assert statuses(db, dispatch) == [(1, "complete", 1, None), (2, "complete", 1, None)]
    assert one(db, "SELECT count(*) FROM messaging.alert") == 2
    assert "interrupted deliveries again" not in cluster.log()[log_before:]


def test_sigterm_stops_the_dispatcher_and_the_launcher_starts_another(cluster, db):
    pid = dispatcher_pid(db)
    log_before = len(cluster.log())
    assert one(db, "SELECT pg_terminate_backend(%s)", (pid,)) is True
    wait_for(lambda: "dispatcher stopping" in cluster.log()[log_before:], 2)
    wait_dispatcher(cluster, timeout=5, not_pid=pid)
    conn = cluster.connect()
    dispatch = queue(conn, "alert", [1])
    wait_for(lambda: settled(conn, dispatch), 2)
    assert "exited with exit code 1" not in cluster.log()[log_before:]
    conn.close()


def test_a_stopped_launcher_is_restarted_and_leaves_the_dispatcher_running(cluster, db):
    launcher = one(db, "SELECT pid FROM pg_stat_activity WHERE backend_type = %s", (LAUNCHER,))
    pid = dispatcher_pid(db)
    assert one(db, "SELECT pg_terminate_backend(%s)", (launcher,)) is True
    dispatch = queue(db, "alert", [1])
    wait_for(lambda: settled(db, dispatch), 2)
    wait_for(lambda: one(db, "SELECT pid FROM pg_stat_activity WHERE backend_type = %s",
                         (LAUNCHER,)) not in (None, launcher), 10, step=0.1)
    time.sleep(0.5)
    assert dispatcher_pid(db) == pid
    assert one(db, "SELECT count(*) FROM pg_stat_activity WHERE backend_type = %s",
               (DISPATCHER,)) == 1


def test_sigkill_mid_batch_leaves_nothing_processing(cluster, db):
    # A batch the dispatcher had claimed when it was killed.
    dispatch = queue(db, "alert", [1, 2], status="processing")
    pid = dispatcher_pid(db)
    log_before = len(cluster.log())
    os.kill(pid, signal.SIGKILL)
    db.close()

    wait_dispatcher(cluster, timeout=20, not_pid=pid)
    conn = cluster.connect()
    wait_for(lambda: settled(conn, dispatch), 10)
    assert statuses(conn, dispatch) == [(1, "complete", 1, None), (2, "complete", 1, None)]
    assert one(conn, "SELECT count(*) FROM messaging.delivery WHERE status = 'processing'") == 0
    assert one(conn, "SELECT count(*) FROM messaging.alert") == 2
    assert "dispatcher queued 2 interrupted deliveries again" in cluster.log()[log_before:]
    conn.close()


def test_drop_extension_waits_quietly_and_create_extension_resumes(cluster, db):
    pid = dispatcher_pid(db)
    log_before = len(cluster.log())
    started = time.time()
    db.cursor().execute("DROP EXTENSION mis_messaging")
    assert time.time() - started < 2
    wait_for(lambda: "waiting for the extension" in cluster.log()[log_before:], 15)
    time.sleep(0.5)
    assert dispatcher_pid(db) == pid  # waiting, not crashing and restarting

    db.cursor().execute("CREATE EXTENSION mis_messaging")
    db.cursor().execute(
        "INSERT INTO messaging.person (person_id, kind, display_name)"
        " VALUES (1, 'staff', 'Ann Lee')")
    started = time.time()
    dispatch = queue(db, "alert", [1])
    wait_for(lambda: settled(db, dispatch), 2)
    assert statuses(db, dispatch) == [(1, "complete", 1, None)]
    log = cluster.log()[log_before:]
    assert log.count("waiting for the extension") == 1
    assert "exited with exit code" not in log
    assert dispatcher_pid(db) == pid


def test_drop_database_is_not_blocked_and_a_new_database_is_served(cluster, db):
    db.close()
    admin = cluster.connect("postgres")
    admin.cursor().execute("CREATE EXTENSION IF NOT EXISTS mis_messaging")
    log_before = len(cluster.log())

    started = time.time()
    admin.cursor().execute("DROP DATABASE " + DATABASE)
    assert time.time() - started < 5
    wait_for(lambda: dispatcher_pid(admin) is None, 2)
    assert one(admin, "SELECT count(*) FROM pg_stat_activity WHERE backend_type = %s",
               (LAUNCHER,)) == 1
    # No dispatcher runs: the status view (here in another database) is empty.
    assert rows(admin, "SELECT * FROM messaging.worker_status") == []
    time.sleep(1.0)
    assert dispatcher_pid(admin) is None

    admin.cursor().execute("CREATE DATABASE " + DATABASE)
    conn = cluster.connect()
    conn.cursor().execute("CREATE EXTENSION mis_messaging")
    conn.cursor().execute("SET synchronous_commit = on")
    conn.cursor().execute(
        "INSERT INTO messaging.person (person_id, kind, display_name)"
        " VALUES (1, 'staff', 'Ann Lee')")
    wait_dispatcher(cluster, timeout=5)
    dispatch = queue(conn, "alert", [1])
    wait_for(lambda: settled(conn, dispatch), 5)
    assert statuses(conn, dispatch) == [(1, "complete", 1, None)]

    log = cluster.log()[log_before:]
    assert log.count('waiting for database "%s"' % DATABASE) <= 1
    assert "terminated by signal" not in log
    assert "exited with exit code 1" not in log
    admin.cursor().execute("DROP EXTENSION mis_messaging")
    admin.close()
    conn.close()


def test_a_database_closed_to_connections_is_waited_for_quietly(cluster, db):
    pid = dispatcher_pid(db)
    db.close()
    admin = cluster.connect("postgres")
    log_before = len(cluster.log())
    admin.cursor().execute("ALTER DATABASE %s ALLOW_CONNECTIONS false" % DATABASE)
    admin.cursor().execute("SELECT pg_terminate_backend(%s)", (pid,))
    wait_for(lambda: "to accept connections" in cluster.log()[log_before:], 5)
    time.sleep(1.0)
    assert dispatcher_pid(admin) is None
    admin.cursor().execute("ALTER DATABASE %s ALLOW_CONNECTIONS true" % DATABASE)
    wait_dispatcher(cluster, timeout=2, not_pid=pid)
    log = cluster.log()[log_before:]
    assert log.count('waiting for database "%s" to accept connections' % DATABASE) == 1
    assert "FATAL" not in log
    admin.close()


def test_renaming_the_database_is_not_blocked_and_renaming_it_back_resumes(cluster, db):
    pid = dispatcher_pid(db)
    db.close()
    admin = cluster.connect("postgres")
    started = time.time()
    admin.cursor().execute("ALTER DATABASE %s RENAME TO mis_renamed" % DATABASE)
    assert time.time() - started < 5
    wait_for(lambda: dispatcher_pid(admin) is None, 2)
    admin.cursor().execute("ALTER DATABASE mis_renamed RENAME TO %s" % DATABASE)
    new_pid = wait_dispatcher(cluster, timeout=15, not_pid=pid)
    admin.close()

    conn = cluster.connect()
    dispatch = queue(conn, "alert", [1])
    wait_for(lambda: settled(conn, dispatch), 2)
    assert statuses(conn, dispatch) == [(1, "complete", 1, None)]
    assert dispatcher_pid(conn) == new_pid
    conn.close()
