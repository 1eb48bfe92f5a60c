#!/usr/bin/python3
"""Enqueue: send to a whole school versus a plain INSERT of as many delivery rows.

The send goes to every pupil with all their associated contacts over two
channels (wechat and email), as an office would for a school-wide notice. The
baseline inserts the same number of rows into messaging.delivery (after one
message row and two dispatch rows) with a single INSERT ... SELECT. Both are
timed from the client, commit included, and alternate run by run; the tables
are emptied (untimed) before each run. The database is not the one the
dispatcher serves, so nothing is dispatched while this runs.

    enqueue.py DBNAME LABEL RUNS
"""

import sys

import benchlib as b

SUBJECT = "Sports day moved"
BODY = ("Sports day is moved to Friday because of the weather forecast. "
        "Pupils should bring their PE kit and a water bottle. 运动会改到星期五。")
TARGET_RATIO = 3.0


def school(conn):
    """The pupils, and what a correct send must produce from them."""
    with conn.cursor() as cur:
        cur.execute("SELECT array_agg(person_id ORDER BY person_id) FROM messaging.person "
                    "WHERE kind = 'pupil'")
        pupils = cur.fetchone()[0]
        # Every pupil and every contact related to a pupil, once each.
        cur.execute("""
            SELECT array_agg(person_id ORDER BY person_id) FROM (
                SELECT person_id FROM messaging.person WHERE kind = 'pupil'
                UNION SELECT contact_id FROM messaging.relationship) r""")
        everyone = cur.fetchone()[0]
        # Those each channel cannot reach, by the directory's rules.
        cur.execute("""
            SELECT c.channel, count(*) FILTER (WHERE messaging._channel_problem(
                       p.kind, p.disabled, p.email, p.wechat_userid, c.channel) IS NOT NULL)
            FROM messaging.person p
            CROSS JOIN unnest(ARRAY['wechat', 'email']::messaging.channel[]) c(channel)
            WHERE p.kind = 'pupil'
               OR p.person_id IN (SELECT contact_id FROM messaging.relationship)
            GROUP BY c.channel""")
        flagged = {channel: n for channel, n in cur.fetchall()}
    conn.rollback()
    return pupils, everyone, flagged


def empty(admin):
    """Removes every message, dispatch, delivery and alert (not timed)."""
    with admin.cursor() as cur:
        cur.execute("TRUNCATE messaging.message CASCADE")
    admin.commit()


def send(office, pupils):
    """The product: one call, committed."""
    with office.cursor() as cur:
        cur.execute("SELECT channel::text, recipients, flagged FROM messaging.send("
                    "%s, %s, %s::bigint[], ARRAY['wechat', 'email']::messaging.channel[], true)",
                    (SUBJECT, BODY, pupils))
        rows = cur.fetchall()
    office.commit()
    return rows


def plain_insert(admin, everyone):
    """The baseline: the same number of delivery rows, inserted as plainly as possible."""
    with admin.cursor() as cur:
        cur.execute("INSERT INTO messaging.message (subject, body, sent_by) "
                    "VALUES (%s, %s, 'baseline') RETURNING message_id", (SUBJECT, BODY))
        message_id = cur.fetchone()[0]
        cur.execute("INSERT INTO messaging.dispatch (message_id, channel, sent_by) "
                    "SELECT %s, c, 'baseline' "
                    "FROM unnest(ARRAY['wechat', 'email']::messaging.channel[]) c "
                    "RETURNING dispatch_id", (message_id,))
        dispatches = [r[0] for r in cur.fetchall()]
        cur.execute("INSERT INTO messaging.delivery (dispatch_id, person_id) "
                    "SELECT d, p FROM unnest(%s::bigint[]) d, unnest(%s::bigint[]) p",
                    (dispatches, everyone))
        inserted = cur.rowcount
    admin.commit()
    return inserted


def check_send(admin, rows, everyone, flagged):
    """Fails unless the send queued exactly one delivery per person and channel."""
    expected = {"wechat": (len(everyone), flagged["wechat"]),
                "email": (len(everyone), flagged["email"])}
    got = {channel: (recipients, flags) for channel, recipients, flags in rows}
    if got != expected:
        b.fail(f"send returned {got}, expected {expected}")
    with admin.cursor() as cur:
        cur.execute("""
            SELECT d.channel::text, count(*), count(DISTINCT v.person_id),
                   count(*) FILTER (WHERE v.status = 'failed'),
                   count(*) FILTER (WHERE v.status NOT IN ('failed', 'not_started')),
                   count(*) FILTER (WHERE e.person_id IS NULL)
            FROM messaging.delivery v
            JOIN messaging.dispatch d USING (dispatch_id)
            LEFT JOIN unnest(%s::bigint[]) e(person_id) USING (person_id)
            GROUP BY d.channel ORDER BY 1""", (everyone,))
        stored = cur.fetchall()
    admin.rollback()
    for channel, total, distinct, failed, other, strangers in stored:
        want, want_failed = expected[channel]
        if (total, distinct, failed, other, strangers) != (want, want, want_failed, 0, 0):
            b.fail(f"{channel}: {total} deliveries stored ({distinct} people, {failed} failed,"
                   f" {other} neither failed nor queued, {strangers} to people not in the"
                   f" school), expected {want} with {want_failed} failed and the rest queued")
    if len(stored) != 2:
        b.fail(f"deliveries stored on {len(stored)} channels, expected 2")


def main():
    dbname, label, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
    admin = b.connect(dbname)
    office = b.connect(dbname, b.SENDER_ROLE)
    b.require_function(admin, "messaging.send(text, text, bigint[], messaging.channel[], "
                              "boolean, text[], smallint[], text)")
    pupils, everyone, flagged = school(admin)
    rows = 2 * len(everyone)
    b.log(f"enqueue, {label}: {len(pupils)} pupils, {len(everyone)} people,"
          f" {rows} deliveries, {runs} runs each")

    # One untimed round first, so that both start with warm caches.
    empty(admin)
    check_send(admin, send(office, pupils), everyone, flagged)
    empty(admin)
    plain_insert(admin, everyone)

    send_times, insert_times = [], []
    for run in range(runs):
        # Alternate which goes first, so that neither always follows the other.
        order = ("send", "insert") if run % 2 == 0 else ("insert", "send")
        for which in order:
            empty(admin)
            if which == "send":
                seconds, result = b.timed(lambda: send(office, pupils))
                check_send(admin, result, everyone, flagged)
                send_times.append(seconds)
            else:
                seconds, inserted = b.timed(lambda: plain_insert(admin, everyone))
                if inserted != rows:
                    b.fail(f"baseline inserted {inserted} rows, expected {rows}")
                insert_times.append(seconds)
    empty(admin)

    send_ms = b.median(send_times) * 1000
    insert_ms = b.median(insert_times) * 1000
    ratio = send_ms / insert_ms
    b.record(f"send to whole school, {label} ({rows:,} deliveries)", send_ms, "ms",
             f"ratio <= {TARGET_RATIO:g}", runs, baseline=insert_ms,
             baseline_name="plain INSERT of as many rows", ratio=ratio,
             met=ratio <= TARGET_RATIO,
             note=f"{rows / (send_ms / 1000):,.0f} deliveries/s")


if __name__ == "__main__":
    main()
