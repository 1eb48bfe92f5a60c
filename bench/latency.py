#!/usr/bin/python3
"""Latency and idle cost of the dispatcher.

Latency: 200 sends, one at a time, each of one WeChat message to a different
person, to the WeCom double (tests/servers/wecom_double.py) on loopback, which
stamps each request it answers with the wall clock (time.time(), in
microseconds, taken after it has read and answered the request, so a little
late). The figure is that stamp minus the moment just before the client sent
the COMMIT of the send (time.time() on the same machine). Each send waits until
the previous delivery is complete, so every sample starts from an idle
dispatcher. Baseline, in the same run and measured the same way: the
do-it-yourself way, a client LISTENing on another connection that posts the
row to the same double (Python, one keep-alive connection) when a committed
NOTIFY reaches it.

Idle: 60 s with nothing to do. Statements are counted as the transactions
committed or rolled back in the dispatcher's database (no other client is
connected to it meanwhile, autovacuum is paused, and the counts are read from
another database), and the
dispatcher's query_start in pg_stat_activity must not move. CPU is the
dispatcher's user and system time from /proc/PID/stat.

    latency.py SENDS IDLE_SECONDS
"""

import http.client
import json
import select
import socket
import sys
import threading
import time
import urllib.request

import benchlib as b
import dispatchlib as d

TARGET_MS = 20.0
FIRST = d.FIRST_PERSON + 500_000  # people of their own


def arrival_after(wecom, offset, touser, timeout=10.0):
    """Waits for the next message/send the double answers; its arrival (seconds)."""
    deadline = time.time() + timeout
    while True:
        sends = wecom.sends(offset)
        if sends:
            stamp, errcode, seen = sends[0]
            if errcode != 0 or seen != touser or len(sends) != 1:
                b.fail(f"the double answered {sends}, expected one send to {touser}")
            return stamp
        if time.time() > deadline:
            b.fail("no request reached wecom within %s s" % timeout)
        time.sleep(0.0005)


def product_latencies(conn, wecom, ids, users):
    latencies = []
    for i, pid in enumerate(ids):
        offset = wecom.offset()
        with conn.cursor() as cur:
            cur.execute("BEGIN")
            cur.execute("SELECT dispatch_id FROM messaging.send(%s, %s, %s::bigint[], "
                        "ARRAY['wechat']::messaging.channel[])",
                        ("Latency", f"Message {i}", [pid]))
            dispatch_ids = [r[0] for r in cur.fetchall()]
            committed = time.time()
            cur.execute("COMMIT")
        arrived = arrival_after(wecom, offset, users[pid])
        latencies.append((arrived - committed) * 1000)
        d.wait_finished(conn, dispatch_ids, 10, poll=0.002)
        d.check_complete(conn, dispatch_ids, 1)
    return latencies


def notify_latencies(wecom, count):
    """The baseline: LISTEN on one connection, NOTIFY committed on another, the
    listener posts to wecom at once."""
    token = json.loads(urllib.request.urlopen(
        f"{wecom.api_base}/cgi-bin/gettoken?corpid={d.WecomDouble.CORP_ID}"
        f"&corpsecret={d.WecomDouble.SECRET}", timeout=10).read())["access_token"]
    listener = d.admin()
    d.q(listener, "LISTEN bench_latency")
    notifier = d.admin()
    stop = threading.Event()
    answered = threading.Event()  # the listener is free for the next sample

    def listen():
        web = http.client.HTTPConnection("127.0.0.1", wecom.port)
        web.connect()
        web.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        while not stop.is_set():
            if select.select([listener], [], [], 0.1)[0]:
                listener.poll()
                while listener.notifies:
                    note = listener.notifies.pop(0)
                    body = json.dumps({"touser": note.payload, "msgtype": "text",
                                       "agentid": d.WecomDouble.AGENT_ID,
                                       "text": {"content": "Latency"}}).encode()
                    web.request("POST", f"/cgi-bin/message/send?access_token={token}", body,
                                {"Content-Type": "application/json"})
                    web.getresponse().read()
                    answered.set()
        web.close()

    thread = threading.Thread(target=listen)
    thread.start()
    latencies = []
    try:
        for i in range(count):
            offset = wecom.offset()
            answered.clear()
            committed = time.time()
            d.q(notifier, "SELECT pg_notify('bench_latency', %s)", (f"notify{i}",))
            latencies.append((arrival_after(wecom, offset, f"notify{i}") - committed) * 1000)
            if not answered.wait(10):
                b.fail("the listener got no answer from the double")
    finally:
        stop.set()
        thread.join()
        listener.close()
        notifier.close()
    return latencies


def idle_cost(conn, seconds):
    """Statements and CPU of the dispatcher over `seconds` with nothing to do."""
    pid = d.worker_pid(conn)
    conn.close()  # nobody connected to the dispatcher's database meanwhile
    watcher = b.connect("postgres")
    watcher.autocommit = True

    def sample():
        xacts = d.q(watcher, "SELECT xact_commit + xact_rollback FROM pg_stat_database "
                             "WHERE datname = %s", (d.DISPATCH_DB,))[0][0]
        started = d.q(watcher, "SELECT query_start FROM pg_stat_activity WHERE pid = %s",
                      (pid,))[0][0]
        return xacts, started, d.cpu_seconds(pid)

    # Autovacuum's transactions would count too: pause it for the window.
    d.q(watcher, "ALTER SYSTEM SET autovacuum = off")
    d.q(watcher, "SELECT pg_reload_conf()")
    try:
        time.sleep(2)  # past the last wake-up of the latency runs
        before = sample()
        time.sleep(seconds)
        after = sample()
    finally:
        d.q(watcher, "ALTER SYSTEM RESET autovacuum")
        d.q(watcher, "SELECT pg_reload_conf()")
        watcher.close()
    return after[0] - before[0], after[1] != before[1], after[2] - before[2]


def main():
    count, idle_seconds = int(sys.argv[1]), int(sys.argv[2])
    conn = d.admin()
    wecom = d.WecomDouble("wecom_latency")
    try:
        d.q(conn, "SELECT messaging.configure_wecom(%s, %s, %s, %s)",
            (d.WecomDouble.CORP_ID, d.WecomDouble.AGENT_ID, d.WecomDouble.SECRET,
             wecom.api_base))
        d.q(conn, """
            INSERT INTO messaging.person (person_id, kind, display_name, wechat_userid)
            SELECT i, 'staff', 'Latency ' || i, 'lat' || i || '.' || %s
            FROM generate_series(%s, %s) i
            ON CONFLICT (person_id) DO UPDATE SET wechat_userid = excluded.wechat_userid""",
            (int(time.time()), FIRST, FIRST + count))
        users = dict(d.q(conn, "SELECT person_id, wechat_userid FROM messaging.person "
                               "WHERE person_id BETWEEN %s AND %s", (FIRST, FIRST + count)))
        d.empty_queue(conn)
        ids = list(range(FIRST + 1, FIRST + count + 1))
        b.log(f"latency: {count} sends, one at a time; then {idle_seconds} s idle")
        product_latencies(conn, wecom, [FIRST], users)  # the token, once, untimed
        product = product_latencies(conn, wecom, ids, users)
        baseline = notify_latencies(wecom, count)
        d.empty_queue(conn)
    finally:
        wecom.stop()
    statements, moved, cpu = idle_cost(conn, idle_seconds)

    note = (f"{count} sends; the WeCom double's stamp of the request minus the moment the"
            f" client sent COMMIT")
    name = "LISTEN/NOTIFY client posting each row"
    pm, bm = b.median(product), b.median(baseline)
    b.record("commit to first request on the wire: median", pm, "ms", f"< {TARGET_MS:g} ms",
             count, baseline=bm, baseline_name=name, met=pm < TARGET_MS, note=note)
    b.record("commit to first request on the wire: p99", b.percentile(product, 99), "ms", "",
             count, baseline=b.percentile(baseline, 99), baseline_name=name, note=note)
    idle_note = (f"{idle_seconds} s: transactions in the dispatcher's database (no client"
                 f" connected, autovacuum paused), dispatcher's query_start {'MOVED' if moved else 'unchanged'}")
    b.record(f"idle {idle_seconds} s: dispatcher statements", statements, "statements",
             "0", 1, met=statements == 0 and not moved, note=idle_note)
    b.record(f"idle {idle_seconds} s: dispatcher CPU", cpu, "s", "~0 (< 0.05 s)", 1,
             met=cpu < 0.05, note=idle_note)


if __name__ == "__main__":
    main()
