"""No channel secret reaches the server log, even when a configure call is refused,
and no sender sees it in pg_stat_activity while an admin's configure call runs.

A refused call's error reaches the client uncaught here (as from an application), so
the server logs it as it would in production. Uses the cluster tests/run_all.sh
started (MIS_CLUSTER holds server.log) and a database and login roles of its own.
"""

import os
import threading
import time
import uuid

import psycopg2
import pytest

from dashboard_db import create_database, drop_database, require_cluster

SECRET = "Log-S3cret-" + uuid.uuid4().hex[:8]

REFUSED = [
    "SELECT messaging.configure_wecom('ww1', 1, E'{s}\\n')",
    "SELECT messaging.configure_wecom('ww1', 0, '{s}')",
    "SELECT messaging.configure_wecom(' ', 1, '{s}')",
    "SELECT messaging.configure_wecom('ww1', 1, '{s}', 'https://ww1:{s}@q.example')",
    "SELECT messaging.configure_smtp('smtps://office:{s}@mail.example', 'o@s.example')",
    "SELECT messaging.configure_smtp('smtps://mail.example', 'o@s.example', 'office',"
    " E'{s}\\r\\n')",
    "SELECT messaging.configure_smtp('smtps://mail.example', 'o@s.example', NULL, '{s}')",
    "SELECT messaging.configure_smtp('smtp://mail.example:0', 'o@s.example', 'office', '{s}')",
]


def server_log():
    with open(os.path.join(os.environ["MIS_CLUSTER"], "server.log"), encoding="utf-8",
              errors="replace") as log:
        return log.read()


@pytest.fixture(scope="module")
def sessions():
    """Login roles in messaging_admin and messaging_sender, each connected to a
    database of its own making."""
    require_cluster()
    if "MIS_CLUSTER" not in os.environ:
        pytest.skip("needs the cluster environment exported by tests/run_all.sh")
    dbname = create_database("mis_secret_log")
    suffix = uuid.uuid4().hex[:8]
    admin_role, sender_role = "mis_log_admin_" + suffix, "mis_log_sender_" + suffix
    owner = psycopg2.connect(dbname=dbname)
    owner.autocommit = True
    owner.cursor().execute(f"CREATE ROLE {admin_role} LOGIN IN ROLE messaging_admin")
    owner.cursor().execute(f"CREATE ROLE {sender_role} LOGIN IN ROLE messaging_sender")
    admin = psycopg2.connect(dbname=dbname, user=admin_role)
    admin.autocommit = True
    sender = psycopg2.connect(dbname=dbname, user=sender_role)
    sender.autocommit = True
    try:
        yield admin, sender, admin_role
    finally:
        admin.close()
        sender.close()
        drop_database(dbname)
        owner.close()
        cleanup = psycopg2.connect(dbname="postgres")
        cleanup.autocommit = True
        cleanup.cursor().execute(f"DROP ROLE {admin_role}")
        cleanup.cursor().execute(f"DROP ROLE {sender_role}")
        cleanup.close()


def test_refused_and_accepted_configure_calls_keep_the_secret_out_of_the_log(sessions):
    admin_session = sessions[0]
    marker = "log-marker-" + uuid.uuid4().hex[:8]
    start = len(server_log())

    for call in REFUSED:
        with pytest.raises(psycopg2.Error) as refused:
            admin_session.cursor().execute(call.replace("{s}", SECRET))
        assert refused.value.pgcode == "22023", call
        assert SECRET not in str(refused.value), call
    admin_session.cursor().execute(
        "SELECT messaging.configure_wecom('ww1', 1, %s)", (SECRET,))

    # Control: an ordinary failing statement is logged with its text.
    with pytest.raises(psycopg2.Error):
        admin_session.cursor().execute(f"SELECT '{marker}'::int")
    for _ in range(50):
        if marker in server_log()[start:]:
            break
        time.sleep(0.1)

    written = server_log()[start:]
    assert f"STATEMENT:  SELECT '{marker}'::int" in written
    assert written.count("ERROR:") >= len(REFUSED) + 1
    assert SECRET not in written


def test_a_sender_does_not_see_the_secret_in_a_running_configure_call(sessions):
    admin, sender, admin_role = sessions
    call = threading.Thread(target=lambda: admin.cursor().execute(
        "SELECT messaging.configure_wecom('ww1', 1, %s), pg_sleep(2)", (SECRET,)))
    call.start()
    try:
        time.sleep(0.5)  # the call sleeps two seconds after configuring
        cursor = sender.cursor()
        cursor.execute("SELECT query FROM pg_stat_activity WHERE usename = %s", (admin_role,))
        seen = [row[0] for row in cursor.fetchall()]
    finally:
        call.join()
    assert seen == ["<insufficient privilege>"]
