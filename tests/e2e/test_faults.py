"""Faults end to end: network failures, TLS verification, a killed worker, pausing.
Every delivery ends complete or failed with a reason, none stays in flight, and
nobody gets a message twice beyond what the duplicate check absorbs."""

import collections
import os
import signal
import time

import pytest

from conftest import (
    MAIL_NO_STARTTLS, MAIL_TLS, WECOM_NO_CONNECTION, WECOM_TIMEOUT, WECOM_TLS, Mis,
    connect_when_ready, member_name, params_defined, worker_running)

PARENTS = [
    {"person_id": 21, "display_name": "陈静", "wechat_userid": "ChenJing",
     "email": "chen.jing@home.example"},
    {"person_id": 22, "display_name": "Tom Baker", "wechat_userid": "tom.baker",
     "email": "tom@home.example"},
]
FROM = "School Office <office@school.example>"


@pytest.fixture
def ready(mis):
    mis.require("send", "worker", "configure_wecom")
    mis.add_people(PARENTS)
    return mis


def delivered_to(wecom):
    """How many messages each member saw, by WeCom user id (lower-cased, untagged)."""
    return collections.Counter(member_name(m["touser"]) for m in wecom.messages("delivered"))


# ---------------------------------------------------------------- HTTP faults


def test_http_500_is_retried_then_completes(ready, wecom):
    ready.configure_wecom(wecom.url)
    wecom.control(fail_next=1, http_status=500)
    [dispatch] = ready.dispatch_ids(ready.send("Five hundred", [21, 22], ["wechat"]))
    ready.wait_settled([dispatch])
    got = ready.deliveries(dispatch)
    assert {(d["status"], d["attempts"]) for d in got.values()} == {("complete", 2)}
    assert [r["status"] for r in wecom.requests("send")] == [500, 200]
    assert delivered_to(wecom) == {"chenjing": 1, "tom.baker": 1}


def test_http_500_every_time_fails_after_max_attempts(ready, wecom):
    ready.configure_wecom(wecom.url)
    wecom.control(fail_next=100, http_status=500)
    [dispatch] = ready.dispatch_ids(ready.send("Always 500", [21], ["wechat"]))
    ready.wait_settled([dispatch])
    [d] = ready.deliveries(dispatch).values()
    assert (d["status"], d["attempts"], d["error"]) == (
        "failed", 3, "the WeChat API answered HTTP 500")
    assert len(wecom.requests("send")) == 3


def test_a_reset_connection_is_retried_then_completes(ready, wecom):
    ready.configure_wecom(wecom.url)
    wecom.control(fail_next=1, drop_connection=True)
    [dispatch] = ready.dispatch_ids(ready.send("Reset", [21, 22], ["wechat"]))
    ready.wait_settled([dispatch])
    assert ready.status_counts(dispatch) == {"complete": 2}
    assert delivered_to(wecom) == {"chenjing": 1, "tom.baker": 1}


def test_a_server_that_never_answers_times_out_and_fails(ready, wecom):
    ready.set_params(request_timeout=500)
    ready.configure_wecom(wecom.url)
    ready.wait_settled(ready.dispatch_ids(ready.send("Warm up", [21], ["wechat"])))
    wecom.control(fail_next=100, delay_ms=3000)
    [dispatch] = ready.dispatch_ids(ready.send("Silence", [22], ["wechat"]))
    ready.wait_settled([dispatch], timeout=60)
    [d] = ready.deliveries(dispatch).values()
    assert (d["status"], d["attempts"]) == ("failed", 3)
    assert d["error"] == WECOM_TIMEOUT


def test_connection_refused_fails_as_a_connection_error(ready, servers):
    double = servers.wecom()
    url = double.url
    double.stop()
    ready.configure_wecom(url)
    [dispatch] = ready.dispatch_ids(ready.send("Refused", [21], ["wechat"]))
    ready.wait_settled([dispatch])
    [d] = ready.deliveries(dispatch).values()
    assert (d["status"], d["error"]) == ("failed", WECOM_NO_CONNECTION)


def test_gettoken_busy_is_retried(ready, wecom):
    ready.configure_wecom(wecom.url)
    wecom.control(fail_next=1, errcode=-1, on="gettoken")
    [dispatch] = ready.dispatch_ids(ready.send("Token busy", [21], ["wechat"]))
    ready.wait_settled([dispatch])
    assert ready.status_counts(dispatch) == {"complete": 1}
    assert [r["response"]["errcode"] for r in wecom.requests("gettoken")] == [-1, 0]


# ---------------------------------------------------------------- TLS


def test_wecom_over_tls_needs_the_private_ca(ready, servers, pki):
    double = servers.wecom(tls=(pki.cert, pki.key))
    ready.configure_wecom(double.url)

    # Without messaging.ca_file the private CA is unknown: a TLS failure, no message.
    [untrusted] = ready.dispatch_ids(ready.send("Untrusted", [21], ["wechat"]))
    ready.wait_settled([untrusted])
    [d] = ready.deliveries(untrusted).values()
    assert d["status"] == "failed"
    assert d["error"] == WECOM_TLS
    assert double.requests() == []

    ready.set_params(ca_file=pki.ca)
    [trusted] = ready.dispatch_ids(ready.send("Trusted", [21, 22], ["wechat"]))
    ready.wait_settled([trusted])
    assert ready.status_counts(trusted) == {"complete": 2}
    assert delivered_to(double) == {"chenjing": 1, "tom.baker": 1}


def test_wecom_with_a_wrong_host_name_fails(ready, servers, pki):
    double = servers.wecom(tls=(pki.wrong_cert, pki.wrong_key))
    ready.set_params(ca_file=pki.ca)
    ready.configure_wecom(double.url)
    [dispatch] = ready.dispatch_ids(ready.send("Wrong host", [21], ["wechat"]))
    ready.wait_settled([dispatch])
    [d] = ready.deliveries(dispatch).values()
    assert d["status"] == "failed"
    assert d["error"] == WECOM_TLS
    assert double.requests() == []


@pytest.mark.parametrize("mode", ["starttls", "implicit"])
def test_smtp_over_tls_needs_the_private_ca(ready, servers, pki, mode):
    ready.require("configure_smtp")
    flag = "--starttls" if mode == "starttls" else "--implicit-tls"
    sink = servers.smtp(flag, "--tls-cert", pki.cert, "--tls-key", pki.key)
    scheme = "smtp" if mode == "starttls" else "smtps"
    ready.configure_smtp("%s://127.0.0.1:%d" % (scheme, sink.port), FROM, starttls=True)

    [untrusted] = ready.dispatch_ids(ready.send("Untrusted", [21], ["email"]))
    ready.wait_settled([untrusted])
    [d] = ready.deliveries(untrusted).values()
    assert d["status"] == "failed"
    assert d["error"] == MAIL_TLS
    assert sink.mails() == []

    ready.set_params(ca_file=pki.ca)
    [trusted] = ready.dispatch_ids(ready.send("Trusted", [21, 22], ["email"]))
    ready.wait_settled([trusted])
    assert ready.status_counts(trusted) == {"complete": 2}
    assert [m["tls"] for m in sink.mails()] == [True, True]


def test_smtp_with_a_wrong_host_name_fails(ready, servers, pki):
    ready.require("configure_smtp")
    sink = servers.smtp("--implicit-tls", "--tls-cert", pki.wrong_cert, "--tls-key",
                        pki.wrong_key)
    ready.set_params(ca_file=pki.ca)
    ready.configure_smtp("smtps://127.0.0.1:%d" % sink.port, FROM)
    [dispatch] = ready.dispatch_ids(ready.send("Wrong host", [21], ["email"]))
    ready.wait_settled([dispatch])
    [d] = ready.deliveries(dispatch).values()
    assert (d["status"], d["error"]) == ("failed", MAIL_TLS)
    assert sink.mails() == []


def test_smtp_requiring_starttls_refuses_a_server_without_it(ready, servers):
    ready.require("configure_smtp")
    sink = servers.smtp()  # offers no STARTTLS
    ready.configure_smtp("smtp://127.0.0.1:%d" % sink.port, FROM, starttls=True)
    [dispatch] = ready.dispatch_ids(ready.send("Plain text refused", [21], ["email"]))
    ready.wait_settled([dispatch])
    [d] = ready.deliveries(dispatch).values()
    assert (d["status"], d["error"]) == ("failed", MAIL_NO_STARTTLS)
    assert sink.mails() == []


# ---------------------------------------------------------------- the worker itself


def reconnect(mis):
    """The product on a new connection, once the server has restarted."""
    return Mis(mis.cluster, connect_when_ready(mis.cluster), tag=mis.tag)


def test_a_worker_killed_mid_batch_loses_nothing_and_sends_nothing_twice(ready, wecom):
    ids = ready.add_many(30001, 40, wechat_prefix="kid")
    ready.configure_wecom(wecom.url)
    wecom.control(fail_next=1, delay_ms=1500)  # hold the first batch on the wire
    [dispatch] = ready.dispatch_ids(ready.send("Crash test", ids, ["wechat"]))

    deadline = time.time() + 10
    while ready.one("SELECT count(*) FROM messaging.delivery WHERE dispatch_id = %s"
                    " AND status = 'processing'", (dispatch,)) == 0:
        assert time.time() < deadline, "the batch was never claimed"
        time.sleep(0.02)
    time.sleep(0.3)
    [pid] = ready.worker_pids()
    kills_before = ready.cluster.server_log().count("terminated by signal 9")
    os.kill(pid, signal.SIGKILL)

    time.sleep(1)
    mis = reconnect(ready)
    mis.wait_settled([dispatch], timeout=40)
    assert mis.status_counts(dispatch) == {"complete": 40}
    counts = delivered_to(wecom)
    assert counts == {"kid%d" % i: 1 for i in ids}  # resends absorbed as duplicates
    assert mis.cluster.server_log().count("terminated by signal 9") == kills_before + 1
    mis.conn.close()


def test_the_worker_runs_when_the_library_is_preloaded(mis):
    """The dispatcher shows in pg_stat_activity; without it every other test here
    would only skip."""
    with mis.conn.cursor() as cur:
        if not params_defined(cur):
            pytest.skip("not built yet: worker")
        assert worker_running(cur), "the dispatcher is not in pg_stat_activity"


def test_enabled_off_pauses_and_on_resumes(ready, wecom):
    ready.configure_wecom(wecom.url)
    ready.set_params(enabled="off")
    [dispatch] = ready.dispatch_ids(ready.send("Paused", [21, 22], ["wechat"]))
    time.sleep(1.5)
    assert ready.status_counts(dispatch) == {"not_started": 2}
    assert wecom.requests() == []
    ready.set_params(enabled="on")
    ready.wait_settled([dispatch], timeout=10)
    assert ready.status_counts(dispatch) == {"complete": 2}


def test_a_changed_configuration_takes_effect_without_restart(ready, servers):
    first, second = servers.wecom(), servers.wecom()
    ready.configure_wecom(first.url)
    ready.wait_settled(ready.dispatch_ids(ready.send("To first", [21], ["wechat"])))
    ready.configure_wecom(second.url)
    ready.wait_settled(ready.dispatch_ids(ready.send("To second", [21], ["wechat"])))
    assert [m["content"] for m in first.messages()] == ["To first"]
    assert [m["content"] for m in second.messages()] == ["To second"]


def test_work_starts_within_a_second_of_commit(ready, wecom):
    ready.configure_wecom(wecom.url)
    ready.wait_settled(ready.dispatch_ids(ready.send("Warm up", [21], ["wechat"])))
    started = time.time()
    [dispatch] = ready.dispatch_ids(ready.send("Quick", [22], ["wechat"]))
    ready.wait_settled([dispatch])
    [req] = [r for r in wecom.requests("send") if "Quick" in r["body"]["text"]["content"]]
    assert req["time"] - started < 1.0


def test_alerts_become_inbox_rows_for_staff_only(mis):
    mis.require("send", "worker")
    mis.add_people([
        {"person_id": 31, "kind": "staff", "display_name": "Ms Patel"},
        {"person_id": 32, "kind": "staff", "display_name": "Mr Zhou"},
        {"person_id": 33, "kind": "pupil", "display_name": "Amy Lee"},
    ])
    rows = mis.send("Fire drill at 10:00.", [31, 32, 33], ["alert"], subject="Fire drill")
    assert [(r["channel"], r["recipients"], r["flagged"]) for r in rows] == [("alert", 2, 0)]
    [dispatch] = mis.dispatch_ids(rows)
    mis.wait_settled([dispatch])
    assert mis.status_counts(dispatch) == {"complete": 2}
    alerts = mis.q("SELECT person_id, subject, body, read_at FROM messaging.alert"
                   " ORDER BY person_id")
    assert [tuple(a.values()) for a in alerts] == [
        (31, "Fire drill", "Fire drill at 10:00.", None),
        (32, "Fire drill", "Fire drill at 10:00.", None)]


def test_no_secret_and_no_message_body_reach_the_server_log(mis, servers):
    mis.require("send", "worker", "configure_wecom", "configure_smtp")
    mis.add_people(PARENTS)
    double = servers.wecom()
    sink = servers.smtp("--auth-user", "office", "--auth-password", "right-password")
    mis.configure_wecom(double.url, secret="Secret-Never-Logged-1")
    mis.configure_smtp("smtp://127.0.0.1:%d" % sink.port, FROM, username="office",
                       password="Password-Never-Logged-2", starttls=False)
    body = "Body-Never-Logged-3 请勿记录"
    rows = mis.send(body, [21, 22], ["wechat", "email"], subject="Subject-Never-Logged-4")
    mis.wait_settled(mis.dispatch_ids(rows))
    log = mis.cluster.server_log()
    for secret in ("Secret-Never-Logged-1", "Password-Never-Logged-2", "Body-Never-Logged-3",
                   "Subject-Never-Logged-4"):
        assert secret not in log
    # Both channels failed on configuration (wrong secret, refused login), the paths
    # most tempted to log what they were given.
    assert {r["channel"] for r in rows} == {"wechat", "email"}
    for dispatch in mis.dispatch_ids(rows):
        assert mis.status_counts(dispatch) == {"failed": 2}


def pg_ctl(mis, *args):
    """Runs the cluster's pg_ctl as the user that owns the data folder."""
    import subprocess

    pg_ctl_bin = os.path.join(mis.cluster.env["MIS_PGBIN"], "pg_ctl")
    run_as = ["runuser", "-u", "postgres", "--"] if os.getuid() == 0 else []
    data = os.path.join(mis.cluster.dir, "data")
    log = os.path.join(mis.cluster.dir, "server.log")
    subprocess.run([*run_as, pg_ctl_bin, "-D", data, "-l", log, "-w", *args], check=True,
                   stdout=subprocess.DEVNULL)


def test_an_immediate_server_stop_mid_batch_loses_nothing(ready, wecom):
    ids = ready.add_many(40001, 30, wechat_prefix="imm")
    ready.configure_wecom(wecom.url)
    wecom.control(fail_next=1, delay_ms=1500)
    [dispatch] = ready.dispatch_ids(ready.send("Immediate stop", ids, ["wechat"]))
    deadline = time.time() + 10
    while ready.one("SELECT count(*) FROM messaging.delivery WHERE dispatch_id = %s"
                    " AND status = 'processing'", (dispatch,)) == 0:
        assert time.time() < deadline, "the batch was never claimed"
        time.sleep(0.02)
    ready.conn.close()
    pg_ctl(ready, "stop", "-m", "immediate")
    pg_ctl(ready, "start")
    mis = reconnect(ready)
    mis.wait_settled([dispatch], timeout=40)
    assert mis.status_counts(dispatch) == {"complete": 30}
    assert delivered_to(wecom) == {"imm%d" % i: 1 for i in ids}
    mis.conn.close()


def test_repeated_worker_kills_during_a_large_dispatch_lose_nothing(ready, wecom):
    ids = ready.add_many(50001, 3000, wechat_prefix="big")
    ready.configure_wecom(wecom.url)
    ready.set_params(batch_size=200)
    [dispatch] = ready.dispatch_ids(ready.send("Many kills", ids, ["wechat"]))
    kills_before = ready.cluster.server_log().count("terminated by signal 9")
    mis = ready
    kills = 0
    for _ in range(3):
        wecom.control(fail_next=1, delay_ms=800)  # a batch on the wire when the kill lands
        deadline = time.time() + 30
        while not mis.worker_pids() or mis.one(
                "SELECT count(*) FROM messaging.delivery WHERE dispatch_id = %s"
                " AND status = 'processing'", (dispatch,)) == 0:
            if mis.one("SELECT count(*) FROM messaging.delivery WHERE dispatch_id = %s"
                       " AND status IN ('not_started', 'processing')", (dispatch,)) == 0:
                break
            assert time.time() < deadline, "no batch in flight"
            time.sleep(0.02)
        for pid in mis.worker_pids():
            os.kill(pid, signal.SIGKILL)
            kills += 1
        mis.conn.close()
        time.sleep(1)
        mis = reconnect(mis)
    mis.wait_settled([dispatch], timeout=90)
    assert mis.status_counts(dispatch) == {"complete": 3000}
    assert mis.one("SELECT count(*) FROM messaging.delivery WHERE dispatch_id = %s"
                   " AND attempts < 1", (dispatch,)) == 0
    assert delivered_to(wecom) == {"big%d" % i: 1 for i in ids}
    assert kills >= 2  # the dispatch outlasted at least two of the kills
    assert mis.cluster.server_log().count("terminated by signal 9") == kills_before + kills
    mis.conn.close()


def test_drop_extension_mid_batch_is_quick_and_create_extension_resumes(ready, wecom):
    ready.configure_wecom(wecom.url)
    wecom.control(fail_next=1, delay_ms=2000)
    ready.send("In flight", [21, 22], ["wechat"])
    time.sleep(0.3)
    log_before = len(ready.cluster.server_log())
    started = time.time()
    try:
        ready.q("DROP EXTENSION mis_messaging CASCADE")
        assert time.time() - started < 5
        time.sleep(2)  # the worker notices and waits quietly
    finally:
        ready.q("CREATE EXTENSION IF NOT EXISTS mis_messaging")
    ready.add_people(PARENTS)
    ready.configure_wecom(wecom.url)
    [dispatch] = ready.dispatch_ids(ready.send("After", [21, 22], ["wechat"]))
    ready.wait_settled([dispatch], timeout=30)
    assert ready.status_counts(dispatch) == {"complete": 2}
    assert [m["content"] for m in wecom.messages("delivered")][-2:] == ["After", "After"]
    # No crash loop: at most one worker exit while the extension was missing.
    log = ready.cluster.server_log()[log_before:]
    assert log.count("exited with exit code") <= 1
    assert "terminated by signal" not in log
