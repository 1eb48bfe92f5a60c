"""A refused send or name search keeps the message text and the name searched for
out of the server log: the statement that carries them is not logged.

A refused call's error reaches the client uncaught here (as from an application), so
the server logs it as it would in production. Uses the cluster tests/run_all.sh
started (MIS_CLUSTER holds server.log) and a database and login roles of its own.
"""

import os
import time
import uuid

import psycopg2
import pytest

from dashboard_db import create_database, drop_database, require_cluster

PRIVATE = "Private-" + uuid.uuid4().hex[:8]

# Each call carries PRIVATE in a subject, a body or a name, and is refused.
REFUSED = [
    ("sender", "SELECT * FROM messaging.send('{p} subject', 'About {p}', ARRAY[999999]::bigint[],"
     " ARRAY['email']::messaging.channel[])"),
    ("sender", "SELECT * FROM messaging.send('Trip', 'Dear {p}', ARRAY[1]::bigint[],"
     " ARRAY[]::messaging.channel[])"),
    ("sender", "SELECT * FROM messaging.send('{p}', '  ', ARRAY[1]::bigint[],"
     " ARRAY['alert']::messaging.channel[])"),
    ("app", "SELECT * FROM messaging.send('Trip', 'Dear {p}', ARRAY[1]::bigint[],"
     " ARRAY['alert']::messaging.channel[])"),
    ("sender", "SELECT * FROM messaging.search_by_name(NULL, '{p}')"),
    ("app", "SELECT * FROM messaging.search_by_name('staff', '{p}')"),
]


def server_log():
    with open(os.path.join(os.environ["MIS_CLUSTER"], "server.log"), encoding="utf-8",
              errors="replace") as log:
        return log.read()


@pytest.fixture(scope="module")
def sessions():
    """Connections of a login role in messaging_sender and one in messaging_app, to a
    database of this test's own with one staff member."""
    require_cluster()
    if "MIS_CLUSTER" not in os.environ:
        pytest.skip("needs the cluster environment exported by tests/run_all.sh")
    dbname = create_database("mis_message_log")
    suffix = uuid.uuid4().hex[:8]
    sender_role, app_role = "mis_log_sender_" + suffix, "mis_log_app_" + suffix
    owner = psycopg2.connect(dbname=dbname)
    owner.autocommit = True
    owner.cursor().execute(f"CREATE ROLE {sender_role} LOGIN IN ROLE messaging_sender")
    owner.cursor().execute(f"CREATE ROLE {app_role} LOGIN IN ROLE messaging_app")
    owner.cursor().execute("INSERT INTO messaging.person (person_id, kind, display_name)"
                           " VALUES (1, 'staff', 'Ann Lee')")
    connections = {}
    for name, role in (("sender", sender_role), ("app", app_role)):
        connections[name] = psycopg2.connect(dbname=dbname, user=role)
        connections[name].autocommit = True
    try:
        yield connections
    finally:
        for conn in connections.values():
            conn.close()
        drop_database(dbname)
        owner.close()
        cleanup = psycopg2.connect(dbname="postgres")
        cleanup.autocommit = True
        cleanup.cursor().execute(f"DROP ROLE {sender_role}")
        cleanup.cursor().execute(f"DROP ROLE {app_role}")
        cleanup.close()


def test_refused_sends_and_searches_keep_personal_text_out_of_the_log(sessions):
    marker = "log-marker-" + uuid.uuid4().hex[:8]
    start = len(server_log())

    for who, call in REFUSED:
        with pytest.raises(psycopg2.Error) as refused:
            sessions[who].cursor().execute(call.replace("{p}", PRIVATE))
        assert refused.value.pgcode == "22023", call
        assert PRIVATE not in str(refused.value), call

    # Control: an ordinary failing statement is logged with its text.
    with pytest.raises(psycopg2.Error):
        sessions["sender"].cursor().execute(f"SELECT '{marker}'::int")
    for _ in range(50):
        if marker in server_log()[start:]:
            break
        time.sleep(0.1)

    written = server_log()[start:]
    assert f"STATEMENT:  SELECT '{marker}'::int" in written
    assert written.count("ERROR:") >= len(REFUSED) + 1
    assert PRIVATE not in written
