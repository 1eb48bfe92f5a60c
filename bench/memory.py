#!/usr/bin/python3
"""Memory: the dispatcher's private memory across rounds of 1,000,000 deliveries.

The deliveries are in-MIS alerts (one inbox row each, written by the
dispatcher), ten sends to the same 100,000 staff per round, queued one after
the other: alerts need no network, so a million of them go through in about a
minute, and every claim, record and inbox row of the dispatcher's loop is
exercised. One untimed send to the same people comes first, so that caches and
the plans of the dispatcher's statements are warm. Each round is measured from
/proc/PID/status just before and just after it; the figure is the median over
the rounds of the growth of RssAnon, the process's own memory. VmRSS also
counts the pages of shared buffers the process has touched (RssShmem), which
are PostgreSQL's shared cache, bounded by shared_buffers and shared with every
backend, and mapped files (RssFile): its growth is shown in the note only. The
memory contexts the dispatcher logs on request (pg_log_backend_memory_contexts)
are printed during each round, to tell PostgreSQL's allocations from others. Checked: every delivery
complete, and exactly one inbox row per delivery.

    memory.py DELIVERIES_PER_SEND SENDS_PER_ROUND ROUNDS
"""

import os
import re
import sys
import time

import benchlib as b
import dispatchlib as d

TARGET_MB = 10.0
FIRST = d.FIRST_PERSON + 20_000_000  # people of their own


def alerts(conn, ids, sends, busy=None):
    """Sends and waits; busy() runs while the dispatcher works on the sends."""
    before = d.q(conn, "SELECT count(*) FROM messaging.alert")[0][0]
    dispatch_ids = []
    for i in range(sends):
        dispatch_ids += d.send(conn, ids, ["alert"], subject=f"Alert {i}")
    if busy:
        busy()
    d.wait_finished(conn, dispatch_ids, 900, poll=0.2)
    d.check_complete(conn, dispatch_ids, len(ids) * sends)
    after = d.q(conn, "SELECT count(*) FROM messaging.alert")[0][0]
    if after - before != len(ids) * sends:
        b.fail(f"{after - before} inbox rows written, expected {len(ids) * sends}")


def smaps(pid):
    """Anonymous and private-dirty memory of a process, in kB, from smaps_rollup."""
    values = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in ("Anonymous", "Private_Dirty", "Shared_Dirty"):
                values[key] = int(rest.split()[0])
    return values


def memory_contexts(conn, pid, label):
    """Asks the dispatcher to log its memory contexts (handled at its next statement)
    and prints their grand total and the largest ones from the server's log."""
    log_path = os.path.join(os.environ.get("MIS_CLUSTER", ""), "server.log")
    if not os.path.exists(log_path):
        return
    offset = os.path.getsize(log_path)
    d.q(conn, "SELECT pg_log_backend_memory_contexts(%s)", (pid,))
    for _ in range(100):
        time.sleep(0.1)
        with open(log_path, encoding="utf-8", errors="replace") as f:
            f.seek(offset)
            lines = [line for line in f if f"[{pid}]" in line]
        if any("Grand total" in line for line in lines):
            break
    else:
        b.log(f"  memory contexts {label}: not logged")
        return
    contexts = []
    for line in lines:
        m = re.search(r"level: (\d+); ([^:]+): (.*?)(\d+) total in", line)
        if m:
            contexts.append((int(m.group(4)), m.group(2) + " " + m.group(3).strip()))
        elif "Grand total" in line:
            b.log(f"  memory contexts {label}: {line.split('Grand total', 1)[1].strip()}")
    for size, name in sorted(contexts, reverse=True)[:5]:
        b.log(f"    {size / 1024:,.0f} kB {name}")


def mapped_libraries(pid, word):
    """The files mapped into a process whose names contain word (e.g. JIT's LLVM)."""
    with open(f"/proc/{pid}/maps") as f:
        return sorted({line.split()[-1].rsplit("/", 1)[-1] for line in f
                       if word in line.lower() and "/" in line})


def mb(kb):
    return kb / 1024


def main():
    per_send, sends, rounds = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    total = per_send * sends
    conn = d.admin()
    d.empty_queue(conn)
    ids, _ = d.fresh_people(conn, per_send, FIRST)
    pid = d.worker_pid(conn)
    b.log(f"memory: {rounds} rounds of {total:,} alert deliveries ({sends} sends of"
          f" {per_send:,}), dispatcher pid {pid}")
    start = d.proc_status(pid)
    alerts(conn, ids, 1)  # warm-up, untimed
    d.empty_queue(conn)

    anon, rss, shmem, files, rates = [], [], [], [], []
    for n in range(1, rounds + 1):
        before, smaps_before = d.proc_status(pid), smaps(pid)
        seconds, _ = b.timed(lambda: alerts(conn, ids, sends,
                                            lambda: memory_contexts(conn, pid, f"round {n}")))
        time.sleep(0.5)
        after, smaps_after = d.proc_status(pid), smaps(pid)
        if d.worker_pid(conn) != pid:
            b.fail("the dispatcher restarted during the run")
        d.empty_queue(conn)
        anon.append(mb(after["RssAnon"] - before["RssAnon"]))
        rss.append(mb(after["VmRSS"] - before["VmRSS"]))
        shmem.append(mb(after["RssShmem"] - before["RssShmem"]))
        files.append(mb(after["RssFile"] - before["RssFile"]))
        rates.append(total / seconds)
        b.log(f"  round {n}: {seconds:.0f} s; RssAnon {mb(before['RssAnon']):.1f} ->"
              f" {mb(after['RssAnon']):.1f} MB ({anon[-1]:+.2f}), RssShmem"
              f" {mb(before['RssShmem']):.1f} -> {mb(after['RssShmem']):.1f} MB, VmRSS"
              f" {mb(before['VmRSS']):.1f} -> {mb(after['VmRSS']):.1f} MB ({rss[-1]:+.1f}), RssFile"
              f" {files[-1]:+.1f} MB;"
              f" smaps Private_Dirty {mb(smaps_before['Private_Dirty']):.1f} ->"
              f" {mb(smaps_after['Private_Dirty']):.1f} MB, Shared_Dirty"
              f" {mb(smaps_before['Shared_Dirty']):.1f} ->"
              f" {mb(smaps_after['Shared_Dirty']):.1f} MB; LLVM (JIT) mapped:"
              f" {', '.join(mapped_libraries(pid, 'llvm')) or 'no'}")
    end = d.proc_status(pid)
    alerts(conn, ids, 1, lambda: memory_contexts(conn, pid, "after the rounds"))
    d.empty_queue(conn)

    figure = b.median(anon)
    note = (f"RssAnon growth per round {', '.join(f'{g:.2f}' for g in anon)} MB"
            f" ({mb(start['RssAnon']):.1f} MB at start, {mb(end['RssAnon']):.1f} MB at end);"
            f" VmRSS growth per round {', '.join(f'{g:.1f}' for g in rss)} MB, of which"
            f" RssShmem (pages of PostgreSQL's shared buffers touched, bounded by"
            f" shared_buffers) {', '.join(f'{g:.1f}' for g in shmem)} MB and RssFile (mapped"
            f" files) {', '.join(f'{g:.1f}' for g in files)} MB;"
            f" {b.median(rates):,.0f} alerts/s")
    b.record(f"dispatcher private memory (RssAnon) growth per {total:,} deliveries",
             figure, "MB", f"< {TARGET_MB:g} MB", rounds, met=figure < TARGET_MB, note=note)


if __name__ == "__main__":
    main()
