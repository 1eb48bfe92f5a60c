#!/usr/bin/python3
"""Email dispatch: 2,000 mails through the real dispatcher to the SMTP sink
(tests/servers/smtp_sink.py, plain SMTP on loopback, starttls false), versus a
bare libcurl loop (bench/curl_loop.cpp) sending the same mails, byte for byte
as the dispatcher wrote them in an untimed first round, over one reused
connection to the same sink.

The dispatcher is timed from the commit of the send until the dashboard
counters show every delivery complete (polled every 20 ms); the loop from its
first mail to its last reply. Checked: every delivery complete, and the sink
received exactly one mail for each recipient in every run of either.

    dispatch_email.py MAILS RUNS
"""

import base64
import os
import subprocess
import sys

import benchlib as b
import dispatchlib as d

TARGET_RATIO = 1.5
MAIL_FROM = "office@school.example"


def product_run(conn, sink, ids, addresses):
    """One timed dispatch; seconds, and the mails the sink received."""
    d.empty_queue(conn)
    before = sink.count()
    dispatch_ids = d.send(conn, ids, ["email"])
    seconds, (_, failed) = b.timed(lambda: d.wait_finished(conn, dispatch_ids, 600))
    if failed:
        b.fail(f"{failed} mails failed")
    d.check_complete(conn, dispatch_ids, len(ids))
    mails = sink.mails()[before:]
    received = sorted(r for m in mails for r in m["rcpt_tos"])
    if received != addresses:
        b.fail(f"the sink received {len(mails)} mails for {len(set(received))} recipients,"
               f" expected one for each of {len(addresses)}")
    return seconds, mails


def write_mails(mails, folder):
    """The dispatcher's mails as files, and a list of recipient and file."""
    os.makedirs(folder, exist_ok=True)
    listing = os.path.join(folder, "list")
    with open(listing, "w", encoding="utf-8") as out:
        for i, mail in enumerate(mails):
            path = os.path.join(folder, f"{i}.eml")
            with open(path, "wb") as f:
                f.write(base64.b64decode(mail["data_b64"]))
            out.write(f"{mail['rcpt_tos'][0]}\t{path}\n")
    return listing


def baseline_run(sink, listing, addresses):
    before = sink.count()
    out = subprocess.run([d.curl_loop(), "smtp", sink.url, str(len(addresses)), MAIL_FROM,
                          listing], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        b.fail(f"the libcurl loop failed: {out.stderr.strip()}")
    mails = sink.mails()[before:]
    received = sorted(r for m in mails for r in m["rcpt_tos"])
    connections = {m["connection"] for m in mails}
    if received != addresses or len(connections) != 1:
        b.fail(f"the libcurl loop delivered {len(mails)} mails over {len(connections)}"
               f" connections, expected {len(addresses)} over one")
    return float(out.stdout)


def main():
    count, runs = int(sys.argv[1]), int(sys.argv[2])
    conn = d.admin()
    sink = d.SmtpSink("smtp_email")
    try:
        d.set_params(conn, **{"retry_delay": "1000", "max_attempts": "3"})
        d.q(conn, "SELECT messaging.configure_smtp(%s, %s, NULL, NULL, false)",
            (sink.url, f"School Office <{MAIL_FROM}>"))
        ids = d.people(conn, count)
        addresses = sorted(a for (a,) in d.q(
            conn, "SELECT p.email FROM messaging.person p JOIN unnest(%s::bigint[]) i ON p.person_id = i",
            (ids,)))
        b.log(f"dispatch_email: {count:,} mails, {runs} runs each, sink on {sink.url}")
        # The untimed first round gives the baseline its mails, byte for byte.
        _, mails = product_run(conn, sink, ids, addresses)
        listing = write_mails(mails, os.path.join(d.CLUSTER, "mails"))
        baseline_run(sink, listing, addresses)
        product, loop, connections = [], [], 0
        for run in range(runs):
            seconds, mails = product_run(conn, sink, ids, addresses)
            connections = len({m["connection"] for m in mails})
            product.append(seconds)
            loop.append(baseline_run(sink, listing, addresses))
            b.log(f"  run {run + 1}: dispatcher {seconds:.2f} s over {connections} "
                  f"connections, libcurl loop {loop[-1]:.2f} s")
        d.empty_queue(conn)
    finally:
        sink.stop()
        d.reset_params(conn)
        d.cleanup_dirs("mails")

    p, base = b.median(product), b.median(loop)
    b.record(f"email dispatch, {count:,} mails", p * 1000, "ms", f"ratio <= {TARGET_RATIO:g}",
             runs, baseline=base * 1000, baseline_name="bare libcurl loop, one connection",
             met=p / base <= TARGET_RATIO,
             note=f"{count / p:,.0f} mails/s over {connections} connections"
                  f" (messaging.max_connections); the loop {count / base:,.0f} mails/s")


if __name__ == "__main__":
    main()
