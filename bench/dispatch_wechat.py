#!/usr/bin/python3
"""WeChat dispatch: 100,000 deliveries through the real dispatcher to nginx on
loopback, which answers WeCom's gettoken and message/send at once with fixed
JSON. Each delivery goes to a different WeCom user id, new in every run, so the
per-member pacing never has a reason to wait.

Timed from the commit of the send to the moment the dashboard counters show
every delivery complete (polled every 20 ms). Checked: every delivery complete
in the delivery table, and nginx's log holds message/send calls naming each of
the 100,000 user ids exactly once.

Baselines, in the same run:
  (a) the server claiming the same number of rows with FOR UPDATE SKIP LOCKED
      in batches of 1,000 and marking them complete, committed per step as the
      dispatcher does, with no network at all: one PL/pgSQL procedure, in a
      database the dispatcher does not serve, counter triggers included;
  (b) one HTTP request per delivery, as a trigger posting each row would need:
      a bare libcurl loop (bench/curl_loop.cpp) over one keep-alive connection
      to the same nginx.

    dispatch_wechat.py DELIVERIES RUNS
"""

import subprocess
import sys

import benchlib as b
import dispatchlib as d

TARGET_RATIO = 2.0
BATCH = 1000

CLAIM_PROCEDURE = """
CREATE OR REPLACE PROCEDURE public.bench_claim_and_complete(batch integer)
LANGUAGE plpgsql AS $$
DECLARE
    ids bigint[];
BEGIN
    LOOP
        WITH due AS (
            SELECT delivery_id FROM messaging.delivery
            WHERE status = 'not_started' AND next_attempt_at <= now()
            ORDER BY next_attempt_at, delivery_id
            LIMIT batch
            FOR UPDATE SKIP LOCKED
        ), claimed AS (
            UPDATE messaging.delivery v SET status = 'processing', updated_at = now()
            FROM due WHERE v.delivery_id = due.delivery_id
            RETURNING v.delivery_id
        )
        SELECT array_agg(delivery_id) INTO ids FROM claimed;
        EXIT WHEN ids IS NULL;
        COMMIT;
        UPDATE messaging.delivery v
        SET status = 'complete', attempts = v.attempts + 1, error = NULL, updated_at = now()
        FROM unnest(ids) AS u(delivery_id)
        WHERE v.delivery_id = u.delivery_id AND v.status = 'processing';
        COMMIT;
    END LOOP;
END
$$"""


def product_run(conn, nginx, count, run):
    """One timed dispatch of `count` WeChat deliveries to people of its own;
    seconds and calls."""
    d.empty_queue(conn)
    ids, users = d.fresh_people(conn, count, d.FIRST_PERSON + (run + 1) * 1_000_000)
    start_offset = nginx.offset()
    dispatch_ids = d.send(conn, ids, ["wechat"])
    # The send has committed: the dispatcher is at work. Time until it is done.
    finish, (complete, failed) = b.timed(lambda: d.wait_finished(conn, dispatch_ids, 600))
    if failed:
        b.fail(f"{failed} WeChat deliveries failed")
    d.check_complete(conn, dispatch_ids, len(ids))
    sends = nginx.sends(start_offset)
    seen = [u for _, batch in sends for u in batch]
    if len(seen) != len(ids) or set(seen) != set(users):
        b.fail(f"nginx saw {len(seen)} user ids ({len(set(seen))} distinct, "
               f"{len(set(seen) - set(users))} unknown) in {len(sends)} calls, expected "
               f"each of {len(ids)} once")
    return finish, len(sends)


def baseline_claim(server, count):
    """(a): claim and complete `count` rows in batches of 1,000, no network."""
    d.q(server, "TRUNCATE messaging.message CASCADE")
    message = d.q(server, "INSERT INTO messaging.message (body, sent_by) "
                          "VALUES ('baseline', 'baseline') RETURNING message_id")[0][0]
    dispatch = d.q(server, "INSERT INTO messaging.dispatch (message_id, channel, sent_by) "
                           "VALUES (%s, 'wechat', 'baseline') RETURNING dispatch_id",
                   (message,))[0][0]
    d.q(server, "INSERT INTO messaging.delivery (dispatch_id, person_id) "
                "SELECT %s, i FROM generate_series(1, %s) i", (dispatch, count))
    d.q(server, "VACUUM ANALYZE messaging.delivery")
    seconds, _ = b.timed(lambda: d.q(server, "CALL public.bench_claim_and_complete(%s)",
                                     (BATCH,)))
    done = d.q(server, "SELECT count(*) FILTER (WHERE status = 'complete'), count(*), "
                       "(SELECT complete FROM messaging.dispatch WHERE dispatch_id = %s) "
                       "FROM messaging.delivery", (dispatch,))[0]
    if done != (count, count, count):
        b.fail(f"baseline (a) completed {done}, expected {count}")
    return seconds


def baseline_http(nginx, count):
    """(b): one HTTP request per delivery over one keep-alive connection."""
    start_offset = nginx.offset()
    out = subprocess.run([d.curl_loop(), "http", nginx.api_base + "/cgi-bin/message/send"
                          "?access_token=bench-token", str(count), "The school is closed"],
                         capture_output=True, text=True, check=False)
    if out.returncode != 0:
        b.fail(f"baseline (b) failed: {out.stderr.strip()}")
    logged = len(nginx.sends(start_offset))
    if logged != count:
        b.fail(f"baseline (b): nginx logged {logged} requests, expected {count}")
    return float(out.stdout)


def main():
    count, runs = int(sys.argv[1]), int(sys.argv[2])
    conn = d.admin()
    server = b.connect(b.SCHOOL_DB)
    server.autocommit = True
    d.q(server, CLAIM_PROCEDURE)
    nginx = d.Nginx("nginx_wechat")
    try:
        d.set_params(conn, **{"retry_delay": "1000", "max_attempts": "3"})
        d.q(conn, "SELECT messaging.configure_wecom('ww-bench', 1000002, 'bench-secret', %s)",
            (nginx.api_base,))
        b.log(f"dispatch_wechat: {count:,} deliveries, {runs} runs each, nginx on "
              f"{nginx.api_base}")
        # One untimed round of each first: token fetched, caches warm.
        product_run(conn, nginx, count, 0)
        baseline_claim(server, count)
        product, claim, http, calls = [], [], [], 0
        for run in range(1, runs + 1):
            seconds, calls = product_run(conn, nginx, count, run)
            product.append(seconds)
            claim.append(baseline_claim(server, count))
            http.append(baseline_http(nginx, count))
            b.log(f"  run {run}: dispatcher {seconds:.2f} s ({calls} calls), claim and "
                  f"update {claim[-1]:.2f} s, one request each {http[-1]:.2f} s")
        d.empty_queue(conn)
        d.q(server, "TRUNCATE messaging.message CASCADE")
    finally:
        nginx.stop()
        d.reset_params(conn)

    p, a, h = b.median(product), b.median(claim), b.median(http)
    label = f"WeChat dispatch, {count:,} deliveries"
    note = (f"{count / p:,.0f} deliveries/s in {calls} message/send calls; nginx with the echo"
            f" module logging each body; baseline (b): {count / h:,.0f} requests/s")
    b.record(f"{label}: vs claim+update", p * 1000, "ms", f"ratio <= {TARGET_RATIO:g}", runs,
             baseline=a * 1000, baseline_name="SKIP LOCKED claim + update, no network",
             met=p / a <= TARGET_RATIO, note=note)
    b.record(f"{label}: vs one request each", p * 1000, "ms", "", runs, baseline=h * 1000,
             baseline_name="libcurl, one POST per delivery, keep-alive", note=note)


if __name__ == "__main__":
    main()
