"""Retries of send with a request_key racing the first call in another session.

Uses the cluster tests/run_all.sh started (PGHOST, PGPORT, PGUSER in the
environment) and a database of its own, because the sessions must commit.
"""

import os
import threading
import uuid

import psycopg2
import pytest

SEND = (
    "SELECT message_id, dispatch_id, channel::text, recipients, flagged"
    " FROM messaging.send('Trip', %s, '{1, 2}', '{wechat, email}', request_key => %s)"
)


def connect(dbname):
    return psycopg2.connect(dbname=dbname)


@pytest.fixture(scope="module")
def database():
    """A database with the extension and two pupils; dropped afterwards."""
    if "PGHOST" not in os.environ:
        pytest.skip("needs the cluster started by tests/run_all.sh")
    name = "mis_send_retry_" + uuid.uuid4().hex[:8]
    admin = connect("postgres")
    admin.autocommit = True
    admin.cursor().execute(f"CREATE DATABASE {name}")
    try:
        with connect(name) as setup, setup.cursor() as cursor:
            cursor.execute("CREATE EXTENSION mis_messaging")
            cursor.execute(
                "INSERT INTO messaging.person (person_id, kind, display_name, email,"
                " wechat_userid) VALUES (1, 'pupil', 'John Smith', 'j@example.org', 'js'),"
                " (2, 'pupil', 'Ann Lee', NULL, 'al')"
            )
        yield name
    finally:
        admin.cursor().execute(f"DROP DATABASE {name} WITH (FORCE)")
        admin.close()


def count_messages(dbname, key):
    with connect(dbname) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM messaging.message WHERE request_key = %s", (key,))
        return cursor.fetchone()[0]


def race(dbname, key, first_body, second_body, finish_first):
    """Starts a send in one session, the same key in another, then ends the first.

    Returns the first call's rows and the second call's rows (or its error)."""
    first = connect(dbname)
    first_rows = first.cursor()
    first_rows.execute(SEND, (first_body, key))
    first_result = first_rows.fetchall()

    outcome = {}

    def second_call():
        conn = connect(dbname)
        try:
            with conn, conn.cursor() as cursor:
                cursor.execute(SEND, (second_body, key))
                outcome["rows"] = cursor.fetchall()
        except psycopg2.Error as error:
            outcome["error"] = error
        finally:
            conn.close()

    second = threading.Thread(target=second_call)
    second.start()
    second.join(0.5)
    assert second.is_alive(), "the second call must wait for the first"

    finish_first(first)
    first.close()
    second.join(10)
    assert not second.is_alive()
    return first_result, outcome


def test_a_retry_during_the_first_call_returns_its_rows(database):
    key = "race-commit"
    first, second = race(database, key, "Coaches at 8.", "Coaches at 8.", lambda c: c.commit())
    assert second["rows"] == first
    assert [row[2:] for row in first] == [("wechat", 2, 0), ("email", 2, 1)]
    assert count_messages(database, key) == 1


def test_a_rolled_back_first_call_leaves_the_key_free(database):
    key = "race-rollback"
    first, second = race(database, key, "Coaches at 8.", "Coaches at 8.", lambda c: c.rollback())
    assert "error" not in second
    assert second["rows"] != first
    assert count_messages(database, key) == 1


def test_other_content_racing_the_first_call_is_refused(database):
    key = "race-other"
    _, second = race(database, key, "Coaches at 8.", "Coaches at 9.", lambda c: c.commit())
    assert second["error"].pgcode == "22023"
    assert count_messages(database, key) == 1
