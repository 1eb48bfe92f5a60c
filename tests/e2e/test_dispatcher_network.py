"""The dispatcher around a network channel: batches in flight, retries with
doubling delay, final failures, configuration failures logged once, and a
SIGTERM that cuts a slow transfer short.

A minimal WeCom API stub runs in this process on 127.0.0.1; it answers
gettoken and message/send as told, and records what it received.
"""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse

import pytest

from conftest import throwaway_cluster
from test_dispatcher import (DATABASE, OwnCluster, dispatcher_pid, one, rows, set_params,
                             settled, statuses, wait_dispatcher, wait_for)


class StubWecom:
    """Answers message/send with the next queued errcode (0 when none is
    queued), after `delay` seconds; gettoken fails with `token_errcode` if set."""

    def __init__(self):
        self.lock = threading.Lock()
        self.errcodes = []
        self.delay = 0.0
        self.token_errcode = 0
        self.sends = []  # (touser, content) of every message/send received
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def reply(self, payload):
                body = json.dumps(payload).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                if urlparse(self.path).path == "/cgi-bin/gettoken":
                    if stub.token_errcode:
                        self.reply({"errcode": stub.token_errcode, "errmsg": "invalid"})
                    else:
                        self.reply({"errcode": 0, "errmsg": "ok", "access_token": "tok",
                                    "expires_in": 7200})
                else:
                    self.send_error(404)

            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                payload = json.loads(self.rfile.read(length) or b"{}")
                with stub.lock:
                    stub.sends.append((payload.get("touser"),
                                       payload.get("text", {}).get("content")))
                    errcode = stub.errcodes.pop(0) if stub.errcodes else 0
                    delay = stub.delay
                time.sleep(delay)
                self.reply({"errcode": errcode, "errmsg": "ok" if errcode == 0 else "busy",
                            "invaliduser": ""})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def cluster():
    with throwaway_cluster("mis_messaging_network.", DATABASE) as directory:
        yield OwnCluster(directory)


@pytest.fixture
def stub():
    s = StubWecom()
    yield s
    s.stop()


@pytest.fixture
def db(cluster, stub):
    """The served database with two WeChat users, WeChat pointed at the stub, and
    quick retries."""
    wait_dispatcher(cluster)
    conn = cluster.connect()
    conn.cursor().execute(
        "TRUNCATE messaging.message, messaging.person, messaging.person_group CASCADE")
    conn.cursor().execute(
        "INSERT INTO messaging.person (person_id, kind, display_name, wechat_userid)"
        " VALUES (1, 'contact', 'Tom Baker', 'tom.baker'), (2, 'contact', '陈静', 'chenjing')")
    conn.cursor().execute("SELECT messaging.configure_wecom('ww-stub', 1000002, 'stub-secret',"
                          " %s)", (stub.url,))
    set_params(conn, retry_delay="200ms", max_attempts=3, request_timeout="20s")
    time.sleep(0.3)
    yield conn
    conn.close()
    admin = cluster.connect("postgres")
    admin.cursor().execute("ALTER SYSTEM RESET ALL")
    admin.cursor().execute("SELECT pg_reload_conf()")
    admin.close()


def send(conn, body, people):
    [(dispatch,)] = rows(conn, "SELECT dispatch_id FROM messaging.send(NULL, %s, %s::bigint[],"
                               " ARRAY['wechat']::messaging.channel[])", (body, list(people)))
    return dispatch


def test_a_batch_goes_out_in_one_call_and_completes(db, stub):
    dispatch = send(db, "Sports day is on Friday.", [1, 2])
    wait_for(lambda: settled(db, dispatch), 5)
    assert statuses(db, dispatch) == [(1, "complete", 1, None), (2, "complete", 1, None)]
    assert [(sorted(t.split("|")), c) for t, c in stub.sends] == [
        (["chenjing", "tom.baker"], "Sports day is on Friday.")]
    assert rows(db, "SELECT person_id, address FROM messaging.delivery WHERE dispatch_id = %s"
                    " ORDER BY 1", (dispatch,)) == [(1, "tom.baker"), (2, "chenjing")]


def test_in_flight_deliveries_show_in_worker_status_and_as_processing(db, stub):
    stub.delay = 1.5
    dispatch = send(db, "Slow answer", [1, 2])
    wait_for(lambda: len(stub.sends) == 1, 3)
    assert one(db, "SELECT in_flight FROM messaging.worker_status") == 2
    assert [s for _, s, _, _ in statuses(db, dispatch)] == ["processing", "processing"]
    wait_for(lambda: settled(db, dispatch), 5)
    assert one(db, "SELECT in_flight FROM messaging.worker_status") == 0
    assert statuses(db, dispatch) == [(1, "complete", 1, None), (2, "complete", 1, None)]


def test_a_transient_failure_is_retried_after_retry_delay(db, stub):
    stub.errcodes = [-1]
    started = time.time()
    dispatch = send(db, "Busy once", [1])
    wait_for(lambda: settled(db, dispatch), 5)
    assert time.time() - started >= 0.2  # the retry waited retry_delay
    assert statuses(db, dispatch) == [(1, "complete", 2, None)]
    assert len(stub.sends) == 2


def test_retries_double_and_end_with_the_last_reason(db, stub):
    stub.errcodes = [-1, -1, -1, -1]
    started = time.time()
    dispatch = send(db, "Always busy", [1])
    wait_for(lambda: settled(db, dispatch), 10)
    assert time.time() - started >= 0.6  # 200 ms, then 400 ms
    assert statuses(db, dispatch) == [(1, "failed", 3, "WeCom was busy")]
    assert len(stub.sends) == 3  # max_attempts


def test_a_configuration_failure_fails_the_batch_with_one_log_line(cluster, db, stub):
    stub.token_errcode = 40001
    log_before = len(cluster.log())
    dispatch = send(db, "Wrong secret", [1, 2])
    wait_for(lambda: settled(db, dispatch), 5)
    reason = "WeChat is not configured correctly: check the corp id and secret"
    assert statuses(db, dispatch) == [(1, "failed", 1, reason), (2, "failed", 1, reason)]
    assert stub.sends == []
    log = cluster.log()[log_before:]
    assert log.count("mis_messaging failed 2 deliveries: " + reason) == 1
    assert "stub-secret" not in log


def test_sigterm_cuts_a_slow_transfer_short_without_using_a_try(cluster, db, stub):
    stub.delay = 15.0
    dispatch = send(db, "Cut short", [1, 2])
    wait_for(lambda: len(stub.sends) == 1, 3)
    stub.delay = 0.0  # for the next request; this one waits its 15 s
    pid = dispatcher_pid(db)
    log_before = len(cluster.log())
    stopped_at = time.time()
    one(db, "SELECT pg_terminate_backend(%s)", (pid,))
    wait_for(lambda: "dispatcher stopping" in cluster.log()[log_before:], 2)
    assert time.time() - stopped_at < 2

    wait_dispatcher(cluster, timeout=5, not_pid=pid)
    wait_for(lambda: settled(db, dispatch), 5)
    # The try cut short did not count; the next dispatcher sent them again.
    assert statuses(db, dispatch) == [(1, "complete", 1, None), (2, "complete", 1, None)]
    assert len(stub.sends) == 2
