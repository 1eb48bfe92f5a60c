"""The extension's data survives pg_dump and restore of the MIS database: directory,
messages, deliveries, dashboard counters, channel settings and id sequences, with
row-level security and the counter triggers still in force afterwards."""

import os
import subprocess
import tempfile

import pytest

from dashboard_db import (
    connect,
    counters_match_deliveries,
    create_database,
    drop_database,
    pg_bin,
    query,
    require_cluster,
)

TABLES = {
    "person": "person_id",
    "person_group": "group_id",
    "group_member": "group_id, person_id",
    "relationship": "pupil_id, contact_id",
    "message": "message_id",
    "dispatch": "dispatch_id",
    "delivery": "delivery_id",
    "alert": "alert_id",
    "wecom_config": "only_row",
    "smtp_config": "only_row",
}
SEQUENCES = ["message_message_id_seq", "dispatch_dispatch_id_seq",
             "delivery_delivery_id_seq", "alert_alert_id_seq"]


def fill(conn):
    """A small school with a history: sends, worker results, a rerun, settings."""
    query(conn, """
        INSERT INTO messaging.person (person_id, kind, display_name, given_name, family_name,
                                      email, wechat_userid, disabled)
        VALUES (1, 'pupil', '王小明', '小明', '王', NULL, 'wxm', false),
               (2, 'contact', 'Li Na', 'Na', 'Li', 'lina@home.example', NULL, false),
               (3, 'staff', 'Ann Lee', 'Ann', 'Lee', 'ann@school.example', 'annlee', false),
               (4, 'contact', 'Old Account', NULL, NULL, NULL, NULL, true);
        INSERT INTO messaging.person_group (group_id, kind, group_type, name)
        VALUES (1, 'pupil', 'Form', 'Form 7A'), (2, 'staff', 'Department', 'Science');
        INSERT INTO messaging.group_member VALUES (1, 1), (2, 3);
        INSERT INTO messaging.relationship VALUES (1, 2, 'Mother', 1), (1, 4, 'Guardian', 2);
    """)
    # Three sends made through the sequences, as send() makes them.
    for n, (subject, sender) in enumerate([("Trip", "alice"), ("Fees", "bob"), (None, "alice")]):
        (message_id,) = query(conn, """
            INSERT INTO messaging.message (subject, body, sent_by, request_key)
            VALUES (%s, %s, %s, %s) RETURNING message_id""",
            (subject, "Body %d 😀" % n, sender, "key-%d" % n))[0]
        for channel in ("wechat", "email", "alert"):
            (dispatch_id,) = query(conn, """
                INSERT INTO messaging.dispatch (message_id, channel, sent_by)
                VALUES (%s, %s, %s) RETURNING dispatch_id""", (message_id, channel, sender))[0]
            query(conn, """
                INSERT INTO messaging.delivery (dispatch_id, person_id, status, error)
                SELECT %s, p.person_id,
                       CASE WHEN r.problem IS NULL THEN 'not_started' ELSE 'failed' END
                           ::messaging.delivery_status,
                       r.problem
                FROM messaging.person p,
                     LATERAL (SELECT messaging._channel_problem(p.kind, p.disabled, p.email,
                                                                 p.wechat_userid, %s) AS problem) r
                """, (dispatch_id, channel))
    # The worker's results, then a rerun.
    query(conn, """
        UPDATE messaging.delivery d SET status = 'processing', attempts = 1
        FROM (SELECT delivery_id FROM messaging.delivery WHERE status = 'not_started'
              ORDER BY delivery_id LIMIT 6) b WHERE d.delivery_id = b.delivery_id;
        UPDATE messaging.delivery SET status = 'complete', address = 'sent-to'
        WHERE status = 'processing' AND delivery_id % 2 = 0;
        UPDATE messaging.delivery SET status = 'failed', error = 'WeCom rejected this user id'
        WHERE status = 'processing' AND delivery_id % 3 = 0;
        INSERT INTO messaging.alert (person_id, message_id, subject, body)
        VALUES (3, 1, 'Trip', 'Body 0');
    """)
    query(conn, "SELECT messaging.rerun(1)")
    query(conn, """
        SELECT messaging.configure_wecom('ww-corp', 1000002, 'wecom-secret', 'http://127.0.0.1:9');
        SELECT messaging.configure_smtp('smtp://127.0.0.1:2525', 'Office <office@school.example>',
                                        'office', 'smtp-password', false);
    """)


def snapshot(conn):
    """Every row of every table and every sequence position, in a comparable form."""
    tables = {
        table: query(conn, "SELECT t::text FROM messaging.%s t ORDER BY %s" % (table, key))
        for table, key in TABLES.items()
    }
    sequences = {
        seq: query(conn, "SELECT last_value, is_called FROM messaging.%s" % seq)[0]
        for seq in SEQUENCES
    }
    dashboard = query(conn, "SELECT d::text FROM messaging.dashboard d ORDER BY dispatch_id")
    return tables, sequences, dashboard


@pytest.fixture
def databases():
    require_cluster()
    made = []
    yield made
    for name in made:
        drop_database(name)


def restore_custom(source, target, workdir):
    dump = os.path.join(workdir, "mis.dump")
    subprocess.run([pg_bin("pg_dump"), "-Fc", "-f", dump, source], check=True)
    subprocess.run([pg_bin("createdb"), target], check=True)
    subprocess.run([pg_bin("pg_restore"), "--exit-on-error", "-d", target, dump], check=True)


def restore_plain(source, target, workdir):
    dump = os.path.join(workdir, "mis.sql")
    subprocess.run([pg_bin("pg_dump"), "-f", dump, source], check=True)
    subprocess.run([pg_bin("createdb"), target], check=True)
    subprocess.run([pg_bin("psql"), "-q", "-X", "-v", "ON_ERROR_STOP=1", "-d", target,
                    "-f", dump], check=True, stdout=subprocess.DEVNULL)


@pytest.mark.parametrize("restore", [restore_custom, restore_plain], ids=["custom", "plain"])
def test_dump_and_restore_keeps_everything(databases, restore):
    source = create_database("mis_dump_src")
    databases.append(source)
    with connect(source) as conn:
        fill(conn)
        before = snapshot(conn)
        assert not counters_match_deliveries(conn)
    conn.close()
    assert len(before[0]["delivery"]) == 36
    assert len(before[2]) == 9

    target = source.replace("src", "dst")
    databases.append(target)
    with tempfile.TemporaryDirectory() as workdir:
        os.chmod(workdir, 0o755)
        restore(source, target, workdir)

    with connect(target) as conn:
        after = snapshot(conn)
        assert after[0] == before[0], "table rows differ after restore"
        assert after[1] == before[1], "sequence positions differ after restore"
        assert after[2] == before[2], "dashboard differs after restore"

        # New rows continue the sequences instead of colliding with restored ones.
        (message_id,) = query(conn, """
            INSERT INTO messaging.message (body, sent_by) VALUES ('after', 'alice')
            RETURNING message_id""")[0]
        assert message_id == 4

        # The counter triggers work in the restored database.
        query(conn, "UPDATE messaging.delivery SET status = 'complete'"
                    " WHERE status = 'not_started'")
        assert not counters_match_deliveries(conn)
        assert query(conn, "SELECT sum(not_started)::int FROM messaging.dispatch") == [(0,)]

        # So do row-level security and the grants.
        assert query(conn, """
            SELECT count(*)::int FROM pg_policy
            WHERE polrelid IN ('messaging.message'::regclass, 'messaging.dispatch'::regclass,
                               'messaging.delivery'::regclass, 'messaging.alert'::regclass)""") \
            == [(4,)]
        # An application acting for alice sees alice's dispatches only.
        query(conn, "BEGIN")
        try:
            query(conn, "CREATE ROLE %s NOLOGIN IN ROLE messaging_app" % target)
            query(conn, "SET SESSION AUTHORIZATION %s" % target)
            query(conn, "SET LOCAL messaging.sender = 'alice'")
            assert query(conn, "SELECT count(*)::int FROM messaging.dispatch") == [(6,)]
            assert query(conn, "SELECT count(*)::int FROM messaging.dashboard") == [(6,)]
            with pytest.raises(Exception) as refused:
                query(conn, "SELECT * FROM messaging.smtp_config")
            assert refused.value.pgcode == "42501"
        finally:
            query(conn, "ROLLBACK")
    conn.close()
