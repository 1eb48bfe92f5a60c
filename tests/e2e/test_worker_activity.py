"""What the dispatcher says about itself: the step it is in (pg_stat_activity), its
LOG lines and last_error around a DROP EXTENSION in the middle of a batch, and the
reason given when the TLS handshake itself fails."""

import os
import re
import signal
import time

import psycopg2
import pytest

from conftest import WORKER_BACKEND, connect_when_ready

PARENTS = [
    {"person_id": 21, "display_name": "陈静", "wechat_userid": "ChenJing",
     "email": "chen.jing@home.example"},
    {"person_id": 22, "display_name": "Tom Baker", "wechat_userid": "tom.baker",
     "email": "tom@home.example"},
]
FROM = "School Office <office@school.example>"

WAITING_FOR_WORK = ("idle", "mis_messaging: waiting for work")
WAITING_FOR_EXTENSION = ("idle", "mis_messaging: waiting for extension mis_messaging")
RECORDING = ("active", "mis_messaging: recording results")

MAIL_TLS_HANDSHAKE = (
    "TLS handshake with the mail server failed: check that the SMTP URL's scheme matches"
    " the server (smtps:// for TLS from the first byte, smtp:// for STARTTLS)")
WECOM_TLS_HANDSHAKE = (
    "TLS handshake with the WeChat API server failed: check that api_base's scheme"
    " matches the server (https:// for TLS, http:// for a plain test server)")


@pytest.fixture
def ready(mis):
    mis.require("send", "worker", "configure_wecom", "configure_smtp")
    mis.add_people(PARENTS)
    return mis


def activity(mis):
    """The dispatcher's (state, query) in pg_stat_activity."""
    rows = mis.q("SELECT state, query FROM pg_stat_activity WHERE "
                 + WORKER_BACKEND.replace("%", "%%"))
    assert len(rows) == 1, rows
    return rows[0]["state"], rows[0]["query"]


def wait_for_activity(mis, expected, timeout=10.0):
    """Samples pg_stat_activity until the dispatcher shows `expected`."""
    deadline = time.time() + timeout
    seen = []
    while True:
        now = activity(mis)
        if now == expected:
            return
        if not seen or seen[-1] != now:
            seen.append(now)
        if time.time() > deadline:
            pytest.fail("the dispatcher never showed %r; it showed %r" % (expected, seen))
        time.sleep(0.02)


def in_flight(mis):
    return mis.one("SELECT in_flight FROM messaging.worker_status")


# ---------------------------------------------------------------- the step in pg_stat_activity


def test_sending_email_shows_while_the_mail_server_is_stopped(ready, servers):
    sink = servers.smtp()
    ready.set_params(request_timeout=10000)
    ready.configure_smtp("smtp://127.0.0.1:%d" % sink.port, FROM, starttls=False)
    ready.wait_settled(ready.dispatch_ids(ready.send("Warm up", [21], ["email"])))
    wait_for_activity(ready, WAITING_FOR_WORK)

    os.kill(sink.proc.pid, signal.SIGSTOP)  # connections are accepted, nothing answers
    try:
        [dispatch] = ready.dispatch_ids(ready.send("Stopped", [21, 22], ["email"]))
        wait_for_activity(ready, ("active", "mis_messaging: sending 2 emails"))
        assert in_flight(ready) == 2
        time.sleep(0.5)  # still on the wire: the step does not change by itself
        assert activity(ready) == ("active", "mis_messaging: sending 2 emails")
    finally:
        os.kill(sink.proc.pid, signal.SIGCONT)
    ready.wait_settled([dispatch])
    assert ready.status_counts(dispatch) == {"complete": 2}
    wait_for_activity(ready, WAITING_FOR_WORK)
    assert in_flight(ready) == 0


def test_sending_wechat_shows_the_number_of_deliveries(ready, wecom):
    ready.configure_wecom(wecom.url)
    wecom.control(fail_next=1, delay_ms=1500)
    [dispatch] = ready.dispatch_ids(ready.send("Slow answer", [21, 22], ["wechat"]))
    wait_for_activity(ready, ("active", "mis_messaging: sending 2 WeChat deliveries"))
    assert in_flight(ready) == 2
    ready.wait_settled([dispatch])
    wait_for_activity(ready, WAITING_FOR_WORK)


def test_a_paced_dispatcher_shows_it_is_waiting(ready, wecom):
    """31 messages to one member in a minute: the last one waits for the pacing."""
    ready.configure_wecom(wecom.url)
    rows = [ready.send("Paced %d" % i, [21], ["wechat"])[0] for i in range(31)]
    dispatches = ready.dispatch_ids(rows)
    deadline = time.time() + 20
    while ready.one("SELECT count(*) FROM messaging.delivery WHERE dispatch_id = ANY(%s)"
                    " AND status = 'complete'", (dispatches,)) < 30:
        assert time.time() < deadline
        time.sleep(0.1)
    assert ready.one("SELECT count(*) FROM messaging.delivery WHERE dispatch_id = ANY(%s)"
                     " AND status = 'not_started'", (dispatches,)) == 1
    wait_for_activity(ready, WAITING_FOR_WORK)


# ---------------------------------------------------------------- DROP EXTENSION mid-batch


def dispatcher_log_lines(text):
    return [line for line in text.splitlines() if "LOG:" in line and "mis_messaging" in line]


def test_drop_extension_while_results_are_recorded_logs_one_line(ready, wecom):
    """The DROP commits while the dispatcher waits for its lock to record a batch: the
    error that follows is the extension going away, not a dispatcher error."""
    ready.configure_wecom(wecom.url)
    wecom.control(fail_next=1, delay_ms=1500)
    [dispatch] = ready.dispatch_ids(ready.send("Dropped", [21, 22], ["wechat"]))
    wait_for_activity(ready, ("active", "mis_messaging: sending 2 WeChat deliveries"))
    [pid] = ready.worker_pids()

    log_before = len(ready.cluster.server_log())
    dropper = ready.cluster.connect(autocommit=False)
    try:
        dropper.cursor().execute("DROP EXTENSION mis_messaging CASCADE")
        # The answer comes; recording waits for the DROP's locks.
        deadline = time.time() + 10
        while ready.one("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s",
                        (pid,)) != "Lock":
            assert time.time() < deadline, "the dispatcher never waited for the DROP"
            time.sleep(0.02)
        assert activity(ready) == RECORDING
        dropper.commit()
        wait_for_activity(ready, WAITING_FOR_EXTENSION)
        time.sleep(2.5)  # past the first error pause: nothing more is logged
        assert activity(ready) == WAITING_FOR_EXTENSION
        log = ready.cluster.server_log()[log_before:]
    finally:
        dropper.rollback()
        dropper.close()
        ready.q("CREATE EXTENSION IF NOT EXISTS mis_messaging")

    lines = dispatcher_log_lines(log)
    assert len(lines) == 1, lines
    assert lines[0].endswith('mis_messaging dispatcher is waiting for the extension to be'
                             ' created in database "mis_test"')
    assert "does not exist" not in log
    assert "dispatcher error" not in log

    # Served again, with no stale error, and the old batch does not come back.
    wait_for_activity(ready, WAITING_FOR_WORK)
    status = ready.q("SELECT in_flight, last_error FROM messaging.worker_status")
    assert [tuple(r.values()) for r in status] == [(0, None)]
    ready.add_people(PARENTS)
    ready.configure_wecom(wecom.url)
    [after] = ready.dispatch_ids(ready.send("After", [21, 22], ["wechat"]))
    ready.wait_settled([after])
    assert ready.status_counts(after) == {"complete": 2}
    assert [m["content"] for m in wecom.messages("delivered")] == [
        "Dropped", "Dropped", "After", "After"]
    later = dispatcher_log_lines(ready.cluster.server_log()[log_before:])
    assert [re.sub(r"^.* LOG:  ", "", line) for line in later[1:]] == [
        'mis_messaging dispatcher serving database "mis_test"']


def test_drop_extension_during_sending_logs_one_line(ready, wecom):
    ready.configure_wecom(wecom.url)
    wecom.control(fail_next=1, delay_ms=1500)
    ready.send("Dropped", [21, 22], ["wechat"])
    wait_for_activity(ready, ("active", "mis_messaging: sending 2 WeChat deliveries"))
    log_before = len(ready.cluster.server_log())
    try:
        ready.q("DROP EXTENSION mis_messaging CASCADE")
        wait_for_activity(ready, WAITING_FOR_EXTENSION)
        time.sleep(0.5)
        log = ready.cluster.server_log()[log_before:]
    finally:
        ready.q("CREATE EXTENSION IF NOT EXISTS mis_messaging")
    lines = dispatcher_log_lines(log)
    assert len(lines) == 1, lines
    assert "waiting for the extension to be created" in lines[0]
    wait_for_activity(ready, WAITING_FOR_WORK)


# ---------------------------------------------------------------- TLS handshake failures


def test_smtps_to_a_plain_mail_server_names_the_handshake(ready, servers):
    sink = servers.smtp()  # plain SMTP, no TLS at all
    ready.configure_smtp("smtps://127.0.0.1:%d" % sink.port, FROM)
    [dispatch] = ready.dispatch_ids(ready.send("Wrong scheme", [21, 22], ["email"]))
    ready.wait_settled([dispatch])
    got = ready.deliveries(dispatch)
    assert {(d["status"], d["error"]) for d in got.values()} == {("failed", MAIL_TLS_HANDSHAKE)}
    assert sink.mails() == []
    assert MAIL_TLS_HANDSHAKE in ready.cluster.server_log()


def test_https_to_a_plain_wecom_api_names_the_handshake(ready, wecom):
    ready.configure_wecom(wecom.url.replace("http://", "https://"))
    [dispatch] = ready.dispatch_ids(ready.send("Wrong scheme", [21, 22], ["wechat"]))
    ready.wait_settled([dispatch])
    got = ready.deliveries(dispatch)
    assert {(d["status"], d["error"]) for d in got.values()} == {
        ("failed", WECOM_TLS_HANDSHAKE)}
    assert wecom.messages() == []
