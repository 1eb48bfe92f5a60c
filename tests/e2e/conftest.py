"""Fixtures for the end-to-end tests: a throwaway cluster with the extension, the
WeCom API double and the SMTP sink on loopback, a private CA, and helpers to
send messages and wait until every delivery has settled.

The suite starts its own cluster (tests/cluster.sh) rather than the one
tests/run_all.sh shares with pgTAP, because the tests change the dispatcher's
parameters with ALTER SYSTEM and kill the worker.
"""

import base64
import contextlib
import itertools
import json
import os
import re
import signal
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
from email import message_from_bytes, policy

import psycopg2
import psycopg2.extras
import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SERVERS = os.path.join(REPO, "tests", "servers")
PYTHON = "/usr/bin/python3"

# Dispatcher parameters for quick tests: short retries, short timeouts.
BASE_PARAMS = {
    "messaging.retry_delay": "100",
    "messaging.request_timeout": "2000",
    "messaging.max_attempts": "3",
    "messaging.ca_file": "",
}

CORP_ID = "ww-test-corp"
SECRET = "test-secret"
AGENT_ID = 1000002
NOT_REGISTERED = "not registered for WeChat: ask them to register"
NO_EMAIL = "no email address recorded"
DISABLED = "account disabled"

# Failure reasons, as the README's table of failure reasons words them.
INVALID_USER = "WeCom rejected this user id: check the person's WeChat user id"
UNLICENSED = ("this person's WeCom account has no licence for the school's app:"
              " ask the WeCom administrator to license it")
WECOM_CREDENTIALS = "WeChat is not configured correctly: check the corp id and secret"
WECOM_TLS = ("could not verify the TLS certificate of the WeChat API server:"
             " check api_base and messaging.ca_file")
WECOM_BUSY = "WeCom was busy"
WECOM_TIMEOUT = "timed out waiting for the WeChat API"
WECOM_NO_CONNECTION = "could not connect to the WeChat API"
MAILBOX_REFUSED = "the mail server refused the address"
MAIL_DEFERRED = "the mail server deferred the address (SMTP 451)"
MAIL_LOGIN = ("the mail server refused the login:"
              " check messaging.configure_smtp's username and password")
MAIL_GREETING = "the mail server refused the connection (SMTP 554)"
MAIL_LOST = "the connection to the mail server was lost"
MAIL_NO_CONNECTION = "could not connect to the mail server"
MAIL_TLS = ("could not verify the TLS certificate of the mail server:"
            " check the SMTP URL and messaging.ca_file")
MAIL_NO_STARTTLS = ("the mail server does not offer STARTTLS: use an smtps:// URL,"
                    " or starttls false for a relay on a trusted network")


def world_readable_tempdir(prefix):
    """A temporary folder the server (user postgres) can read."""
    path = tempfile.mkdtemp(prefix=prefix, dir="/tmp")
    os.chmod(path, 0o755)
    return path


# ---------------------------------------------------------------- the cluster


class Cluster:
    """A running throwaway cluster made by tests/cluster.sh."""

    def __init__(self, directory):
        self.dir = directory
        self.env = {}
        with open(os.path.join(directory, "env")) as f:
            for line in f:
                for word in line.replace("export ", "").split():
                    key, _, value = word.partition("=")
                    self.env[key] = value.strip("'")
        self.dsn = "host={PGHOST} port={PGPORT} user={PGUSER} dbname={PGDATABASE}".format(
            **self.env
        )

    def connect(self, autocommit=True):
        conn = psycopg2.connect(self.dsn)
        conn.autocommit = autocommit
        return conn

    def server_log(self):
        with open(os.path.join(self.dir, "server.log"), errors="replace") as f:
            return f.read()


@contextlib.contextmanager
def throwaway_cluster(prefix, database, extension=True, extra_conf=None):
    """Starts a cluster of its own with tests/cluster.sh (with the extension created
    in `database` unless told otherwise), yields its folder, and stops it."""
    directory = world_readable_tempdir(prefix)
    script = os.path.join(REPO, "tests", "cluster.sh")
    env = dict(os.environ, MIS_EXTRA_CONF=extra_conf) if extra_conf else None
    subprocess.run(["bash", script, "start", directory, database], check=True,
                   stdout=subprocess.DEVNULL, env=env)
    try:
        if extension:
            conn = Cluster(directory).connect()
            conn.cursor().execute("CREATE EXTENSION mis_messaging")
            conn.close()
        yield directory
    finally:
        subprocess.run(["bash", script, "stop", directory])


@pytest.fixture(scope="session")
def cluster():
    with throwaway_cluster("mis_messaging_e2e.", "mis_test") as directory:
        yield Cluster(directory)


def has_piece(cur, piece):
    """Whether a part of the product the tests rely on has been built."""
    probes = {
        "send": "SELECT to_regproc('messaging.send') IS NOT NULL",
        "configure_wecom": "SELECT to_regproc('messaging.configure_wecom') IS NOT NULL",
        "configure_smtp": "SELECT to_regproc('messaging.configure_smtp') IS NOT NULL",
        "errors": "SELECT to_regproc('messaging.errors') IS NOT NULL",
        "rerun": "SELECT to_regproc('messaging.rerun') IS NOT NULL",
        "dashboard": "SELECT to_regclass('messaging.dashboard') IS NOT NULL",
        "worker": "SELECT count(*) > 0 FROM pg_settings WHERE name = 'messaging.retry_delay'",
    }
    if piece == "worker":
        return worker_running(cur)
    cur.execute(probes[piece])
    return cur.fetchone()[0]


WORKER_BACKEND = "backend_type = 'mis_messaging dispatcher'"


def params_defined(cur):
    """Whether the library defines the dispatcher's parameters."""
    cur.execute("SELECT count(*) > 0 FROM pg_settings WHERE name = 'messaging.retry_delay'")
    return cur.fetchone()[0]


_worker_seen = []


def worker_running(cur):
    """Whether the dispatcher's parameters exist and its process shows up in
    pg_stat_activity. The first time, it waits a little for the worker to start
    (or restart after a crash test); once seen, it waits longer."""
    if not params_defined(cur):
        return False
    deadline = time.time() + (30.0 if _worker_seen else 10.0)
    while True:
        cur.execute("SELECT count(*) > 0 FROM pg_stat_activity WHERE " + WORKER_BACKEND)
        if cur.fetchone()[0]:
            _worker_seen.append(True)
            return True
        if time.time() > deadline:
            return False
        time.sleep(0.2)


_tags = itertools.count(1)


def member_name(touser):
    """A WeCom user id without the per-test tag that Mis.member adds."""
    return re.sub(r"\.t\d+$", "", touser)


class Mis:
    """The product, seen from an MIS connection (superuser, so sender 'postgres')."""

    def __init__(self, cluster, conn, tag=None):
        self.cluster = cluster
        self.conn = conn
        # WeCom user ids get a tag of their own in each test, because the dispatcher
        # paces each member's messages and remembers them from one test to the next.
        self.tag = tag or "t%d" % next(_tags)

    def member(self, userid):
        """The WeCom user id this test gives the person recorded as `userid`."""
        return "%s.%s" % (userid, self.tag)

    def q(self, sql, args=None):
        with self.conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
            cur.execute(sql, args)
            return cur.fetchall() if cur.description else None

    def one(self, sql, args=None):
        rows = self.q(sql, args)
        return next(iter(rows[0].values())) if rows else None

    def require(self, *pieces):
        with self.conn.cursor() as cur:
            missing = [p for p in pieces if not has_piece(cur, p)]
        if missing:
            pytest.skip("not built yet: " + ", ".join(missing))

    def set_params(self, **params):
        """ALTER SYSTEM the dispatcher's parameters (messaging.NAME) and reload."""
        for name, value in params.items():
            self.q("ALTER SYSTEM SET messaging.%s = %%s" % name, (str(value),))
        self.reload()

    def reload(self):
        self.q("SELECT pg_reload_conf()")
        time.sleep(0.3)  # the worker picks the new values up at its next wake-up

    def add_people(self, people):
        """Insert directory rows: dicts with person_id, kind, display_name, ..."""
        for p in people:
            self.q(
                "INSERT INTO messaging.person (person_id, kind, display_name, given_name,"
                " family_name, email, wechat_userid, disabled)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    p["person_id"], p.get("kind", "contact"), p["display_name"],
                    p.get("given_name"), p.get("family_name"), p.get("email"),
                    self.member(p["wechat_userid"]) if p.get("wechat_userid") else None,
                    p.get("disabled", False),
                ),
            )

    def add_many(self, first_id, count, kind="contact", wechat_prefix="user", email=True):
        """Insert `count` reachable people quickly; returns their ids."""
        self.q(
            "INSERT INTO messaging.person (person_id, kind, display_name, email, wechat_userid)"
            " SELECT i, %s, 'Person ' || i,"
            " CASE WHEN %s THEN 'person' || i || '@school.example' END,"
            " %s || i || '.' || %s FROM generate_series(%s, %s) i",
            (kind, email, wechat_prefix, self.tag, first_id, first_id + count - 1),
        )
        return list(range(first_id, first_id + count))

    def configure_wecom(self, api_base, corp_id=CORP_ID, agent_id=AGENT_ID, secret=SECRET):
        self.require("configure_wecom")
        self.q("SELECT messaging.configure_wecom(%s, %s, %s, %s)",
               (corp_id, agent_id, secret, api_base))

    def configure_smtp(self, url, mail_from="School Office <office@school.example>",
                       username=None, password=None, starttls=True):
        self.require("configure_smtp")
        self.q("SELECT messaging.configure_smtp(%s, %s, %s, %s, %s)",
               (url, mail_from, username, password, starttls))

    def send(self, body, recipients, channels, subject=None, **options):
        """messaging.send(...): one dict per channel row returned."""
        self.require("send")
        extra = "".join(", %s => %%(%s)s" % (k, k) for k in options)
        args = dict(options, subject=subject, body=body, recipients=list(recipients),
                    channels=list(channels))
        return self.q(
            "SELECT * FROM messaging.send(%(subject)s, %(body)s, %(recipients)s::bigint[],"
            " %(channels)s::messaging.channel[]" + extra + ")",
            args,
        )

    def dispatch_ids(self, rows):
        return [r["dispatch_id"] for r in rows]

    def wait_settled(self, dispatch_ids, timeout=30.0):
        """Wait until no delivery of these dispatches is not started or in flight."""
        deadline = time.time() + timeout
        while True:
            pending = self.one(
                "SELECT count(*) FROM messaging.delivery WHERE dispatch_id = ANY(%s)"
                " AND status IN ('not_started', 'processing')",
                (list(dispatch_ids),),
            )
            if pending == 0:
                return
            if time.time() > deadline:
                rows = self.q(
                    "SELECT status, count(*), min(error) FROM messaging.delivery"
                    " WHERE dispatch_id = ANY(%s) GROUP BY status", (list(dispatch_ids),))
                pytest.fail("deliveries not settled after %ss: %s" % (timeout, rows))
            time.sleep(0.1)

    def deliveries(self, dispatch_id):
        """Every delivery of a dispatch, by person id."""
        rows = self.q(
            "SELECT delivery_id, person_id, status::text, address, attempts, error"
            " FROM messaging.delivery WHERE dispatch_id = %s ORDER BY person_id",
            (dispatch_id,),
        )
        return {r["person_id"]: r for r in rows}

    def status_counts(self, dispatch_id):
        rows = self.q(
            "SELECT status::text, count(*)::int AS n FROM messaging.delivery"
            " WHERE dispatch_id = %s GROUP BY status", (dispatch_id,))
        return {r["status"]: r["n"] for r in rows}

    def worker_pids(self):
        where = WORKER_BACKEND.replace("%", "%%")
        rows = self.q("SELECT pid FROM pg_stat_activity WHERE " + where)
        return [r["pid"] for r in rows]


def connect_when_ready(cluster, timeout=30):
    """A connection, waiting while the server restarts after a crash."""
    deadline = time.time() + timeout
    while True:
        try:
            conn = cluster.connect()
            conn.cursor().execute("SELECT 1")
            return conn
        except psycopg2.Error:
            if time.time() > deadline:
                raise
            time.sleep(0.2)


@pytest.fixture
def mis(cluster):
    """A clean product: empty directory and queue, no channels, base parameters."""
    conn = connect_when_ready(cluster)
    m = Mis(cluster, conn)
    m.q("TRUNCATE messaging.message, messaging.person, messaging.person_group CASCADE")
    m.q("DELETE FROM messaging.wecom_config")
    m.q("DELETE FROM messaging.smtp_config")
    worker = params_defined(conn.cursor())
    if worker:
        for name, value in BASE_PARAMS.items():
            m.q("ALTER SYSTEM SET %s = %%s" % name, (value,))
        m.reload()
    yield m
    conn.close()
    if worker:
        # A test may have crashed the server: clean up on a fresh connection.
        after = connect_when_ready(cluster)
        with after.cursor() as cur:
            cur.execute("ALTER SYSTEM RESET ALL")
            cur.execute("SELECT pg_reload_conf()")
        after.close()


# ---------------------------------------------------------------- the private CA


class Pki:
    """A private CA, a server certificate for 127.0.0.1/localhost signed by it,
    and one for the wrong host name."""

    def __init__(self, directory):
        self.dir = directory
        self.ca = os.path.join(directory, "ca.pem")
        self.cert = os.path.join(directory, "server.pem")
        self.key = os.path.join(directory, "server.key")
        self.wrong_cert = os.path.join(directory, "wrong.pem")
        self.wrong_key = os.path.join(directory, "wrong.key")

    def make(self):
        def ssl(*args):
            subprocess.run(["openssl", *args], check=True, cwd=self.dir,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        ssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-subj", "/CN=mis_messaging test CA", "-keyout", "ca.key", "-out", "ca.pem",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        for name, san in (("server", "IP:127.0.0.1,DNS:localhost"),
                          ("wrong", "DNS:wrong.example")):
            ssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=" + name,
                "-keyout", name + ".key", "-out", name + ".csr")
            with open(os.path.join(self.dir, name + ".ext"), "w") as f:
                f.write("subjectAltName=%s\nextendedKeyUsage=serverAuth\n" % san)
            ssl("x509", "-req", "-in", name + ".csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                "-CAcreateserial", "-days", "2", "-extfile", name + ".ext",
                "-out", name + ".pem")
        for f in os.listdir(self.dir):
            os.chmod(os.path.join(self.dir, f), 0o644)
        return self


@pytest.fixture(scope="session")
def pki():
    directory = world_readable_tempdir("mis_messaging_pki.")
    yield Pki(directory).make()
    subprocess.run(["rm", "-rf", directory])


# ---------------------------------------------------------------- the doubles


class Server:
    """A test server process started by us, stopped by its pid."""

    def __init__(self, script, args, workdir):
        self.workdir = workdir
        self.port_file = os.path.join(workdir, "port")
        self.proc = subprocess.Popen(
            [PYTHON, os.path.join(SERVERS, script), "--port-file", self.port_file, *args],
            stdout=subprocess.DEVNULL,
            stderr=open(os.path.join(workdir, "stderr"), "w"),
        )
        deadline = time.time() + 10
        while not os.path.exists(self.port_file):
            if self.proc.poll() is not None or time.time() > deadline:
                raise RuntimeError("%s did not start: %s" % (script, self.stderr()))
            time.sleep(0.02)
        with open(self.port_file) as f:
            self.port = int(f.read())

    def stderr(self):
        with open(os.path.join(self.workdir, "stderr")) as f:
            return f.read()

    def stop(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


class WeCom(Server):
    """The WeCom API double, with its control and records endpoints."""

    def __init__(self, workdir, tls=None, **kw):
        args = ["--corp-id", CORP_ID, "--secret", SECRET, "--agent-id", str(AGENT_ID)]
        self.scheme = "http"
        if tls:
            args += ["--tls-cert", tls[0], "--tls-key", tls[1]]
            self.scheme = "https"
        super().__init__("wecom_double.py", args, workdir)
        self.url = "%s://127.0.0.1:%d" % (self.scheme, self.port)

    def _call(self, method, path, payload=None):
        data = json.dumps(payload).encode() if payload is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        # The test itself talks to its own double: no need to verify it.
        ctx = ssl._create_unverified_context() if self.scheme == "https" else None
        with urllib.request.urlopen(req, timeout=10, context=ctx) as resp:
            return json.loads(resp.read())

    def control(self, **settings):
        return self._call("POST", "/_control", settings)

    def reset(self):
        return self._call("POST", "/_reset", {})

    def records(self):
        return self._call("GET", "/_records")

    def requests(self, kind=None):
        reqs = self.records()["requests"]
        return [r for r in reqs if kind is None or r["kind"] == kind]

    def messages(self, outcome=None):
        msgs = self.records()["messages"]
        return [m for m in msgs if outcome is None or m["outcome"] == outcome]

    def counts(self):
        """Messages per outcome ("delivered", "duplicate", "dropped") and member."""
        return self._call("GET", "/_counts")


class SmtpSink(Server):
    """The SMTP sink, and the mails it stored."""

    def __init__(self, workdir, *options):
        self.store = os.path.join(workdir, "store")
        super().__init__("smtp_sink.py", ["--store", self.store, *options], workdir)

    def _lines(self, name):
        path = os.path.join(self.store, name)
        if not os.path.exists(path):
            return []
        with open(path, encoding="utf-8") as f:
            return [json.loads(line) for line in f if line.strip()]

    def mails(self):
        """Stored mails, each with `raw` bytes and `msg` (an email.message)."""
        mails = self._lines("mails.jsonl")
        for m in mails:
            m["raw"] = base64.b64decode(m["data_b64"])
            m["msg"] = message_from_bytes(m["raw"], policy=policy.default)
        return mails

    def events(self):
        return self._lines("events.jsonl")


@pytest.fixture
def servers(tmp_path):
    """A factory of doubles; every one started is stopped after the test."""
    started = []

    def workdir(name):
        path = tmp_path / ("%s%d" % (name, len(started)))
        path.mkdir()
        return str(path)

    class Factory:
        def wecom(self, tls=None):
            s = WeCom(workdir("wecom"), tls=tls)
            started.append(s)
            return s

        def smtp(self, *options):
            s = SmtpSink(workdir("smtp"), *options)
            started.append(s)
            return s

    yield Factory()
    for s in started:
        s.stop()


@pytest.fixture
def wecom(servers):
    return servers.wecom()


def pytest_report_header(config):
    return "e2e: python %s, servers in %s" % (sys.version.split()[0], SERVERS)
