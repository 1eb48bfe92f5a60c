"""An application names its user in each transaction: messaging.sender counts only
when a SET, SET LOCAL or set_config() of the current transaction gave it its
value, so that on a pooled connection one request never acts as the previous one's
user, and a role, database, connection or server default never names anyone.

Uses the cluster tests/run_all.sh started, with a database and login role of its
own.
"""

import time
import uuid

import psycopg2
import pytest

from dashboard_db import create_database, drop_database, require_cluster

HINT = "Name the acting user in each transaction with SET LOCAL messaging.sender = '...'."


@pytest.fixture(scope="module")
def app():
    """(database, login role in messaging_app, owner connection)."""
    require_cluster()
    dbname = create_database("mis_sender_tx")
    role = "mis_tx_app_" + uuid.uuid4().hex[:8]
    owner = psycopg2.connect(dbname=dbname)
    owner.autocommit = True
    owner.cursor().execute(f"CREATE ROLE {role} LOGIN IN ROLE messaging_app")
    try:
        yield dbname, role, owner
    finally:
        owner.close()
        drop_database(dbname)
        cleanup = psycopg2.connect(dbname="postgres")
        cleanup.autocommit = True
        cleanup.cursor().execute(f"DROP ROLE {role}")
        cleanup.close()


def sender_of(conn):
    """The sender identity of the current transaction (an API call's first step)."""
    cursor = conn.cursor()
    cursor.execute("SELECT messaging._sender()")
    return cursor.fetchone()[0]


def refused(conn):
    """The error of a dashboard_search call that must be refused for want of a sender."""
    with pytest.raises(psycopg2.Error) as error:
        conn.cursor().execute("SELECT * FROM messaging.dashboard_search()")
    conn.rollback()
    return error.value


def assert_unnamed(error):
    assert error.pgcode == "22023"
    assert error.diag.message_primary == "messaging.sender is not set"
    assert error.diag.message_hint == HINT


def test_set_local_names_the_user_of_its_transaction_only(app):
    dbname, role, _ = app
    conn = psycopg2.connect(dbname=dbname, user=role)
    try:
        conn.cursor().execute("SET LOCAL messaging.sender = ' j.smith '")
        assert sender_of(conn) == "j.smith"
        conn.cursor().execute("SELECT * FROM messaging.dashboard_search()")
        conn.commit()
        assert_unnamed(refused(conn))
    finally:
        conn.close()


def test_a_session_set_counts_in_its_own_transaction_only(app):
    dbname, role, _ = app
    conn = psycopg2.connect(dbname=dbname, user=role)
    try:
        conn.cursor().execute("SET messaging.sender = 'request.one'")
        assert sender_of(conn) == "request.one"
        conn.commit()
        # The next request on the pooled connection forgot to name its user.
        cursor = conn.cursor()
        cursor.execute("SHOW messaging.sender")
        assert cursor.fetchone()[0] == "request.one"
        assert_unnamed(refused(conn))
        conn.autocommit = True
        assert_unnamed(refused(conn))
    finally:
        conn.close()


def test_set_config_and_savepoints_keep_the_transaction_s_user(app):
    dbname, role, _ = app
    conn = psycopg2.connect(dbname=dbname, user=role)
    try:
        cursor = conn.cursor()
        cursor.execute("SELECT set_config('messaging.sender', 'a.lee', true)")
        cursor.execute("SAVEPOINT s")
        cursor.execute("SET LOCAL messaging.sender = 'b.wu'")
        assert sender_of(conn) == "b.wu"
        cursor.execute("ROLLBACK TO SAVEPOINT s")
        assert sender_of(conn) == "a.lee"
        cursor.execute("SET LOCAL messaging.sender = ''")
        assert_unnamed(refused(conn))
    finally:
        conn.close()


def test_role_database_and_connection_defaults_name_nobody(app):
    dbname, role, owner = app
    owner.cursor().execute(f"ALTER ROLE {role} IN DATABASE {dbname} "
                           "SET messaging.sender = 'role.default'")
    try:
        conn = psycopg2.connect(dbname=dbname, user=role)
        try:
            cursor = conn.cursor()
            cursor.execute("SHOW messaging.sender")
            assert cursor.fetchone()[0] == "role.default"
            assert_unnamed(refused(conn))
            cursor.execute("RESET messaging.sender")
            assert_unnamed(refused(conn))
        finally:
            conn.close()
    finally:
        owner.cursor().execute(f"ALTER ROLE {role} IN DATABASE {dbname} RESET ALL")

    owner.cursor().execute(f"ALTER DATABASE {dbname} SET messaging.sender = 'db.default'")
    try:
        conn = psycopg2.connect(dbname=dbname, user=role)
        try:
            assert_unnamed(refused(conn))
        finally:
            conn.close()
    finally:
        owner.cursor().execute(f"ALTER DATABASE {dbname} RESET messaging.sender")

    conn = psycopg2.connect(dbname=dbname, user=role,
                            options="-c messaging.sender=connection.default")
    try:
        cursor = conn.cursor()
        cursor.execute("SHOW messaging.sender")
        assert cursor.fetchone()[0] == "connection.default"
        assert_unnamed(refused(conn))
    finally:
        conn.close()


def test_a_server_default_names_nobody(app):
    dbname, role, _ = app
    admin = psycopg2.connect(dbname="postgres")
    admin.autocommit = True
    admin.cursor().execute("ALTER SYSTEM SET messaging.sender = 'server.default'")
    try:
        admin.cursor().execute("SELECT pg_reload_conf()")
        conn = None
        for _ in range(50):
            conn = psycopg2.connect(dbname=dbname, user=role)
            cursor = conn.cursor()
            cursor.execute("SHOW messaging.sender")
            if cursor.fetchone()[0] == "server.default":
                break
            conn.close()
            conn = None
            time.sleep(0.1)
        assert conn is not None, "the reloaded default never reached a new session"
        try:
            conn.rollback()
            assert_unnamed(refused(conn))
        finally:
            conn.close()
    finally:
        admin.cursor().execute("ALTER SYSTEM RESET messaging.sender")
        admin.cursor().execute("SELECT pg_reload_conf()")
        admin.close()
