#!/usr/bin/python3
"""Memory: the dispatcher's resident size before and after 1,000,000 deliveries.

The deliveries are in-MIS alerts (one inbox row each, written by the
dispatcher), ten sends to the same 100,000 staff, queued one after the other:
alerts need no network, so a million of them go through in a minute or two,
and every claim, record and inbox row of the dispatcher's loop is exercised.
Before is measured after one untimed send to the same people, so that caches
and the plans of the dispatcher's statements are warm. VmRSS counts the pages
of shared buffers the process has touched (RssShmem) as well as its own memory
(RssAnon); both are shown. Checked: every delivery complete, and exactly one
inbox row per delivery.

    memory.py DELIVERIES_PER_SEND SENDS
"""

import sys
import time

import benchlib as b
import dispatchlib as d

TARGET_MB = 10.0
FIRST = d.FIRST_PERSON + 20_000_000  # people of their own


def alerts(conn, ids, sends):
    before = d.q(conn, "SELECT count(*) FROM messaging.alert")[0][0]
    dispatch_ids = []
    for i in range(sends):
        dispatch_ids += d.send(conn, ids, ["alert"], subject=f"Alert {i}")
    d.wait_finished(conn, dispatch_ids, 900, poll=0.2)
    d.check_complete(conn, dispatch_ids, len(ids) * sends)
    after = d.q(conn, "SELECT count(*) FROM messaging.alert")[0][0]
    if after - before != len(ids) * sends:
        b.fail(f"{after - before} inbox rows written, expected {len(ids) * sends}")


def main():
    per_send, sends = int(sys.argv[1]), int(sys.argv[2])
    total = per_send * sends
    conn = d.admin()
    d.empty_queue(conn)
    ids, _ = d.fresh_people(conn, per_send, FIRST)
    pid = d.worker_pid(conn)
    b.log(f"memory: {total:,} alert deliveries ({sends} sends of {per_send:,}),"
          f" dispatcher pid {pid}")
    start = d.proc_status(pid)
    alerts(conn, ids, 1)  # warm-up, untimed
    d.empty_queue(conn)
    before = d.proc_status(pid)
    seconds, _ = b.timed(lambda: alerts(conn, ids, sends))
    time.sleep(0.5)
    after = d.proc_status(pid)
    if d.worker_pid(conn) != pid:
        b.fail("the dispatcher restarted during the run")
    d.empty_queue(conn)

    growth = (after["VmRSS"] - before["VmRSS"]) / 1024
    anon = (after["RssAnon"] - before["RssAnon"]) / 1024
    note = (f"{total:,} alerts in {seconds:.0f} s ({total / seconds:,.0f}/s); VmRSS"
            f" {start['VmRSS'] / 1024:.1f} MB at start, {before['VmRSS'] / 1024:.1f} MB"
            f" before, {after['VmRSS'] / 1024:.1f} MB after; RssAnon"
            f" {before['RssAnon'] / 1024:.1f} -> {after['RssAnon'] / 1024:.1f} MB, RssShmem"
            f" {before['RssShmem'] / 1024:.1f} -> {after['RssShmem'] / 1024:.1f} MB")
    b.record(f"dispatcher VmRSS growth over {total:,} deliveries", growth, "MB",
             f"< {TARGET_MB:g} MB", 1, met=growth < TARGET_MB, note=note)
    b.record(f"dispatcher private memory (RssAnon) growth over {total:,} deliveries", anon,
             "MB", f"< {TARGET_MB:g} MB", 1, met=anon < TARGET_MB, note=note)


if __name__ == "__main__":
    main()
