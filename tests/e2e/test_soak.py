"""Crash soak: 100,000 WeChat deliveries to as many members, while the dispatcher is
killed with SIGKILL ten times with a batch in flight and the server is stopped in
immediate mode once. Afterwards every delivery is complete, the dashboard agrees,
and each member saw the message exactly once, every resend absorbed by the WeCom
duplicate check. The cluster runs with synchronous_commit off, the setting most
likely to lose what the dispatcher recorded just before a crash."""

import os
import re
import signal
import time

import psycopg2

from conftest import Mis, connect_when_ready
from test_faults import pg_ctl

DELIVERIES = 100_000
KILLS = 10
BATCH = 1000  # messaging.batch_size: one WeCom call per batch
HOLD_MS = 2000  # how long the double holds the call a fault lands on
BETWEEN = 2  # batches recorded after each restart before the next fault
REQUEUED = re.compile(r"dispatcher queued (\d+) interrupted deliveries again")


def dispatch_counts(mis, dispatch):
    """The dashboard's row for the dispatch."""
    [row] = mis.q("SELECT messages, not_started, processing, complete, failed, has_error"
                  " FROM messaging.dashboard WHERE dispatch_id = %s", (dispatch,))
    return row


def wait_for_progress(mis, dispatch, batches, batch_size, timeout=30):
    """Waits until the dashboard shows this many more batches complete."""
    target = dispatch_counts(mis, dispatch)["complete"] + batches * batch_size
    deadline = time.time() + timeout
    while dispatch_counts(mis, dispatch)["complete"] < target:
        assert time.time() < deadline, "the dispatch made no progress"
        time.sleep(0.02)


def batch_in_flight(mis, wecom, dispatch, hold, timeout=30):
    """The dispatcher's pid, once worker_status shows a batch in flight, and the
    moment by which the fault must land.

    With `hold`, the double holds the next WeCom call and the batch is the one on the
    wire; its claim is then on disk, as it would be at once with synchronous_commit on,
    so that the restarted dispatcher finds it in processing. Without, the moment may be
    anywhere between the claim and the recording, and nothing is forced to disk."""
    if hold:
        wecom.control(fail_next=1, delay_ms=HOLD_MS)
    deadline = time.time() + timeout
    while True:
        arrived = not hold or not wecom.control()["pending_faults"]
        rows = mis.q("SELECT pid, in_flight FROM messaging.worker_status")
        if arrived and rows and rows[0]["in_flight"] > 0:
            pid = rows[0]["pid"]
            answered_at = time.time() + HOLD_MS / 1000.0
            assert mis.worker_pids() == [pid]
            if hold:
                assert mis.one("SELECT count(*) FROM messaging.delivery WHERE dispatch_id = %s"
                               " AND status = 'processing'", (dispatch,)) > 0
                # Wait for the WAL writer to write out the claim's commit.
                claimed = mis.one("SELECT pg_current_wal_insert_lsn()::text")
                while not mis.one("SELECT pg_current_wal_flush_lsn() >= %s::pg_lsn", (claimed,)):
                    assert time.time() < answered_at - 0.5, "the claim was not written out"
                    time.sleep(0.01)
            return pid, answered_at
        left = dispatch_counts(mis, dispatch)
        assert left["not_started"] + left["processing"] > 0, "the dispatch ended too soon"
        assert time.time() < deadline, "no batch went in flight"
        time.sleep(0.01)


def after_restart(mis, old_pid, timeout=60):
    """The product on a new connection, once a dispatcher other than old_pid runs."""
    mis.conn.close()
    deadline = time.time() + timeout
    while True:
        try:
            conn = connect_when_ready(mis.cluster)
            fresh = Mis(mis.cluster, conn, tag=mis.tag)
            pids = fresh.q("SELECT pid FROM messaging.worker_status")
            if pids and pids[0]["pid"] != old_pid:
                return fresh
            conn.close()
        except psycopg2.Error:
            pass  # the server is still going down or coming back up
        assert time.time() < deadline, "the dispatcher did not come back"
        time.sleep(0.05)


def soak(mis, wecom, deliveries, batch_size, prefix):
    """Queues one WeChat message to `deliveries` members, each with a user id of their
    own so that pacing never defers one; returns the dispatch and the members."""
    mis.require("send", "worker", "configure_wecom")
    assert mis.one("SHOW synchronous_commit") == "off"
    wecom.control(records="counts")  # 100,000 messages would not fit the full records
    ids = mis.add_many(1_000_001, deliveries, wechat_prefix=prefix, email=False)
    mis.set_params(batch_size=batch_size, request_timeout=HOLD_MS + 8000)
    mis.configure_wecom(wecom.url)
    [dispatch] = mis.dispatch_ids(mis.send("Crash soak: one message each.", ids, ["wechat"],
                                           subject="Soak"))
    return dispatch, {"%s%d.%s" % (prefix, i, mis.tag) for i in ids}


def once_each(wecom, members):
    """Checks that each member saw the message exactly once, resends suppressed as
    duplicates; returns how many resends the duplicate check absorbed."""
    seen = wecom.counts()
    delivered = seen["delivered"]
    assert len(members - delivered.keys()) == 0  # lost: 0
    assert delivered.keys() == members
    assert set(delivered.values()) == {1}
    assert seen["dropped"] == {}
    assert seen["duplicate"].keys() <= members
    return sum(seen["duplicate"].values())


def test_ten_kills_and_an_immediate_stop_during_100000_deliveries_lose_nothing(
        mis, wecom, capsys):
    started = time.time()
    dispatch, members = soak(mis, wecom, DELIVERIES, BATCH, "soak")
    log_start = len(mis.cluster.server_log())

    held = 0
    for kill in range(KILLS):
        wait_for_progress(mis, dispatch, BETWEEN, BATCH)
        hold = kill % 2 == 0
        pid, answered_at = batch_in_flight(mis, wecom, dispatch, hold=hold)
        os.kill(pid, signal.SIGKILL)
        assert not hold or time.time() < answered_at, "the kill came after the answer"
        held += hold
        mis = after_restart(mis, pid)

    wait_for_progress(mis, dispatch, BETWEEN, BATCH)
    pid, answered_at = batch_in_flight(mis, wecom, dispatch, hold=True)
    mis.conn.close()
    pg_ctl(mis, "stop", "-m", "immediate")
    assert time.time() < answered_at, "the server stopped after the answer"
    pg_ctl(mis, "start")
    held += 1
    faults = KILLS + 1
    mis = after_restart(mis, pid)

    mis.wait_settled([dispatch], timeout=90)
    assert mis.status_counts(dispatch) == {"complete": DELIVERIES}
    assert dispatch_counts(mis, dispatch) == {
        "messages": DELIVERIES, "not_started": 0, "processing": 0, "complete": DELIVERIES,
        "failed": 0, "has_error": False}
    attempts = {r["attempts"]: r["n"] for r in mis.q(
        "SELECT attempts, count(*)::int AS n FROM messaging.delivery"
        " WHERE dispatch_id = %s GROUP BY attempts ORDER BY attempts", (dispatch,))}
    assert min(attempts) >= 1  # every complete delivery reached the network

    time.sleep(max(0.0, answered_at + 0.5 - time.time()))  # the last held call answered
    resends = once_each(wecom, members)
    # A held batch reached the double before the fault, so it went again in full; no
    # fault sent more than the batch in flight again.
    assert held * BATCH <= resends <= faults * BATCH
    log = mis.cluster.server_log()[log_start:]
    assert log.count("terminated by signal 9") == KILLS
    # Each held batch was found in processing after the restart and queued again.
    requeued = [int(n) for n in REQUEUED.findall(log)]
    assert len(requeued) <= faults and requeued.count(BATCH) >= held
    assert max(requeued) == BATCH
    mis.conn.close()

    with capsys.disabled():
        print("\ncrash soak: %d deliveries; %d SIGKILLs and 1 immediate stop, each with a"
              " batch in flight (%d held on the wire); %d deliveries queued again after"
              " restarts; %d resends absorbed by the duplicate check; attempts %s;"
              " lost: 0; twice unsuppressed: 0; %.0f s"
              % (DELIVERIES, KILLS, held, sum(requeued), resends, attempts,
                 time.time() - started))


def test_a_crash_sends_at_most_the_batch_in_flight_again(mis, wecom, capsys):
    """With small batches many commits share a page of WAL, and a crash with
    synchronous_commit off would lose the results of the batch before the one in
    flight, sending it again too."""
    batch = 10
    dispatch, members = soak(mis, wecom, 3000, batch, "small")
    for _ in range(KILLS):
        wait_for_progress(mis, dispatch, BETWEEN, batch)
        pid, _ = batch_in_flight(mis, wecom, dispatch, hold=False)
        os.kill(pid, signal.SIGKILL)
        mis = after_restart(mis, pid)
    mis.wait_settled([dispatch], timeout=60)
    assert mis.status_counts(dispatch) == {"complete": 3000}
    resends = once_each(wecom, members)
    assert resends <= KILLS * batch
    mis.conn.close()
    with capsys.disabled():
        print("\nsmall batches: 3000 deliveries in batches of %d, %d SIGKILLs, %d resends"
              " absorbed, lost: 0" % (batch, KILLS, resends))
