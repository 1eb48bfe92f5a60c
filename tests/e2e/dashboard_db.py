"""Scratch databases for the dashboard's end-to-end tests.

The tests run against the cluster that tests/run_all.sh starts (PGHOST, PGPORT,
PGUSER and MIS_PGBIN in the environment). Each test works in a database of its
own, so the dispatcher, which serves only messaging.database, never touches the
deliveries a test moves by hand.
"""

import os
import subprocess
import uuid

import psycopg2
import pytest


def pg_bin(name):
    """Path of a PostgreSQL client program of the test cluster's server."""
    return os.path.join(os.environ["MIS_PGBIN"], name)


def require_cluster():
    if "MIS_PGBIN" not in os.environ or "PGHOST" not in os.environ:
        pytest.skip("needs the cluster environment exported by tests/run_all.sh")


def connect(dbname, autocommit=True):
    conn = psycopg2.connect(dbname=dbname)
    conn.autocommit = autocommit
    return conn


def create_database(prefix, with_extension=True):
    """A new empty database (with mis_messaging installed unless told otherwise)."""
    name = "%s_%s" % (prefix, uuid.uuid4().hex[:8])
    subprocess.run([pg_bin("createdb"), name], check=True)
    if with_extension:
        with connect(name) as conn, conn.cursor() as cur:
            cur.execute("CREATE EXTENSION mis_messaging")
        conn.close()
    return name


def drop_database(name):
    subprocess.run([pg_bin("dropdb"), "--if-exists", "--force", name], check=True)


def query(conn, sql, args=None):
    with conn.cursor() as cur:
        cur.execute(sql, args)
        return cur.fetchall() if cur.description else None


def counters_match_deliveries(conn):
    """Dispatches whose counters differ from a count of their deliveries, or do not
    add up to messages; empty when every counter is right."""
    return query(
        conn,
        """
        SELECT d.dispatch_id, d.messages, d.not_started, d.processing, d.complete, d.failed,
               coalesce(c.total, 0), coalesce(c.not_started, 0), coalesce(c.processing, 0),
               coalesce(c.complete, 0), coalesce(c.failed, 0)
        FROM messaging.dispatch d
        LEFT JOIN (SELECT dispatch_id, count(*) AS total,
                          count(*) FILTER (WHERE status = 'not_started') AS not_started,
                          count(*) FILTER (WHERE status = 'processing') AS processing,
                          count(*) FILTER (WHERE status = 'complete') AS complete,
                          count(*) FILTER (WHERE status = 'failed') AS failed
                   FROM messaging.delivery GROUP BY dispatch_id) c USING (dispatch_id)
        WHERE (d.messages, d.not_started, d.processing, d.complete, d.failed)
              IS DISTINCT FROM (coalesce(c.total, 0)::int, coalesce(c.not_started, 0)::int,
                                coalesce(c.processing, 0)::int, coalesce(c.complete, 0)::int,
                                coalesce(c.failed, 0)::int)
           OR d.messages <> d.not_started + d.processing + d.complete + d.failed
        """,
    )
