"""Shared parts of the benchmarks that drive the real dispatcher: the loopback
servers it sends to (nginx with fixed WeCom replies, the SMTP sink), the bench's
people, and waiting for dispatches to finish.

The dispatcher serves the cluster's default database (PGDATABASE, set by
bench/run.sh); the servers live in folders under the cluster's directory, run
as user postgres when the bench runs as root, and are stopped by their pid.
"""

import glob
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time

import benchlib as b

CLUSTER = os.environ.get("MIS_CLUSTER", "/tmp")
DISPATCH_DB = os.environ.get("PGDATABASE", "mis_bench")
REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
PYTHON = "/usr/bin/python3"
ECHO_MODULE = "/usr/lib/nginx/modules/ngx_http_echo_module.so"
WORKER = "backend_type = 'mis_messaging dispatcher'"

# The bench's people: staff with an email address and a WeCom user id each, so
# that every channel reaches them. Ids far above the sample school's.
FIRST_PERSON = 10_000_001


def as_postgres():
    """Popen arguments that run a server as user postgres when we are root."""
    if os.getuid() == 0:
        return {"user": "postgres", "group": "postgres"}
    return {}


def server_dir(name):
    path = os.path.join(CLUSTER, name)
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(os.path.join(path, "tmp"))
    if os.getuid() == 0:
        shutil.chown(path, "postgres", "postgres")
        shutil.chown(os.path.join(path, "tmp"), "postgres", "postgres")
    return path


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, proc, what):
    deadline = time.time() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            if proc.poll() is not None or time.time() > deadline:
                b.fail(f"{what} did not start on port {port}")
            time.sleep(0.02)


class Nginx:
    """nginx on 127.0.0.1 answering WeCom's gettoken and message/send at once
    with fixed JSON. Each message/send is logged with its arrival time ($msec,
    wall clock in milliseconds) and its body, read by the echo module, so that
    the bench can check every recipient that reached the wire."""

    def __init__(self, name="nginx"):
        if not os.path.exists(ECHO_MODULE):
            b.fail(f"{ECHO_MODULE} is missing: run make deps")
        self.dir = server_dir(name)
        self.port = free_port()
        self.log = os.path.join(self.dir, "sends.log")
        conf = os.path.join(self.dir, "nginx.conf")
        temp = os.path.join(self.dir, "tmp")
        with open(conf, "w", encoding="utf-8") as out:
            out.write(f"""load_module {ECHO_MODULE};
worker_processes 1;
pid {self.dir}/nginx.pid;
error_log {self.dir}/error.log;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {temp};
    proxy_temp_path {temp};
    fastcgi_temp_path {temp};
    uwsgi_temp_path {temp};
    scgi_temp_path {temp};
    client_body_buffer_size 1m;
    client_max_body_size 16m;
    keepalive_requests 10000000;
    keepalive_timeout 300s;
    log_format sends '$msec $request_body';
    server {{
        listen 127.0.0.1:{self.port};
        default_type application/json;
        location = /cgi-bin/gettoken {{
            return 200 '{{"errcode":0,"errmsg":"ok","access_token":"bench-token","expires_in":7200}}';
        }}
        location = /cgi-bin/message/send {{
            access_log {self.log} sends;
            echo_read_request_body;
            echo -n '{{"errcode":0,"errmsg":"ok"}}';
        }}
    }}
}}
""")
        self.proc = subprocess.Popen(
            ["nginx", "-p", self.dir, "-c", conf, "-g", "daemon off;"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **as_postgres())
        wait_for_port(self.port, self.proc, "nginx")

    @property
    def api_base(self):
        return f"http://127.0.0.1:{self.port}"

    def offset(self):
        """Where the log ends now: sends() from here on are the new ones."""
        return os.path.getsize(self.log) if os.path.exists(self.log) else 0

    def sends(self, offset=0):
        """Every message/send logged since offset: (arrival seconds, [user ids])."""
        if not os.path.exists(self.log):
            return []
        with open(self.log, "rb") as f:
            f.seek(offset)
            data = f.read()
        lines = data[:data.rfind(b"\n") + 1].decode("utf-8", "replace").splitlines()
        found = []
        for line in lines:
            stamp, _, body = line.partition(" ")
            match = re.search(r'\\x22touser\\x22:\\x22([^\\]*)\\x22', body)
            found.append((float(stamp), match.group(1).split("|") if match else []))
        return found

    def stop(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGQUIT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


class SmtpSink:
    """tests/servers/smtp_sink.py on 127.0.0.1, plain SMTP (no STARTTLS)."""

    def __init__(self, name="smtp"):
        self.dir = server_dir(name)
        port_file = os.path.join(self.dir, "port")
        self.proc = subprocess.Popen(
            [PYTHON, os.path.join(REPO, "tests", "servers", "smtp_sink.py"),
             "--store", os.path.join(self.dir, "store"), "--port-file", port_file],
            stdout=subprocess.DEVNULL, stderr=open(os.path.join(self.dir, "stderr"), "w"),
            **as_postgres())
        deadline = time.time() + 10
        while not os.path.exists(port_file) or not open(port_file).read().strip():
            if self.proc.poll() is not None or time.time() > deadline:
                b.fail("the SMTP sink did not start")
            time.sleep(0.02)
        self.port = int(open(port_file).read())
        self.mails_file = os.path.join(self.dir, "store", "mails.jsonl")

    @property
    def url(self):
        return f"smtp://127.0.0.1:{self.port}"

    def mails(self):
        if not os.path.exists(self.mails_file):
            return []
        with open(self.mails_file, encoding="utf-8") as f:
            return [json.loads(line) for line in f if line.strip()]

    def count(self):
        if not os.path.exists(self.mails_file):
            return 0
        with open(self.mails_file, "rb") as f:
            return sum(1 for _ in f)

    def stop(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


class WecomDouble:
    """tests/servers/wecom_double.py on 127.0.0.1, appending every request it
    answers, stamped with the wall clock in microseconds, to a JSONL file."""

    CORP_ID, SECRET, AGENT_ID = "ww-bench", "bench-secret", 1000002

    def __init__(self, name="wecom"):
        self.dir = server_dir(name)
        port_file = os.path.join(self.dir, "port")
        self.records = os.path.join(self.dir, "records.jsonl")
        self.proc = subprocess.Popen(
            [PYTHON, os.path.join(REPO, "tests", "servers", "wecom_double.py"),
             "--port-file", port_file, "--records", self.records, "--corp-id", self.CORP_ID,
             "--secret", self.SECRET, "--agent-id", str(self.AGENT_ID)],
            stdout=subprocess.DEVNULL, stderr=open(os.path.join(self.dir, "stderr"), "w"),
            **as_postgres())
        deadline = time.time() + 10
        while not os.path.exists(port_file) or not open(port_file).read().strip():
            if self.proc.poll() is not None or time.time() > deadline:
                b.fail("the WeCom double did not start")
            time.sleep(0.02)
        self.port = int(open(port_file).read())

    @property
    def api_base(self):
        return f"http://127.0.0.1:{self.port}"

    def offset(self):
        return os.path.getsize(self.records) if os.path.exists(self.records) else 0

    def sends(self, offset=0):
        """message/send requests recorded since offset: (time, errcode, touser)."""
        if not os.path.exists(self.records):
            return []
        with open(self.records, "rb") as f:
            f.seek(offset)
            data = f.read()
        # A line the double is still writing is left for the next look.
        data = data[:data.rfind(b"\n") + 1]
        found = []
        for line in data.decode("utf-8").splitlines():
            request = json.loads(line).get("request")
            if request and request["kind"] == "send":
                body = request.get("body") or {}
                answer = request.get("response") or {}
                found.append((request["time"], answer.get("errcode"), body.get("touser")))
        return found

    stop = SmtpSink.stop


def curl_loop():
    """Builds bench/curl_loop.cpp (the bare libcurl baselines) once; its path."""
    binary = os.path.join(CLUSTER, "curl_loop")
    if not os.path.exists(binary):
        subprocess.run(["g++", "-std=c++17", "-O2", "-Wall", "-Wextra", "-Werror", "-o", binary,
                        os.path.join(REPO, "bench", "curl_loop.cpp"), "-lcurl"], check=True)
    return binary


def admin():
    """An autocommit superuser connection to the dispatcher's database."""
    conn = b.connect(DISPATCH_DB)
    conn.autocommit = True
    return conn


def q(conn, sql, args=None):
    with conn.cursor() as cur:
        cur.execute(sql, args)
        return cur.fetchall() if cur.description else None


def set_params(conn, **params):
    """ALTER SYSTEM the dispatcher's parameters and reload."""
    for name, value in params.items():
        q(conn, f"ALTER SYSTEM SET messaging.{name} = %s", (str(value),))
    q(conn, "SELECT pg_reload_conf()")
    time.sleep(0.3)


def reset_params(conn):
    q(conn, "ALTER SYSTEM RESET ALL")
    q(conn, "SELECT pg_reload_conf()")


def people(conn, count):
    """Makes sure the bench's first `count` people exist; their ids."""
    q(conn, """
        INSERT INTO messaging.person (person_id, kind, display_name, email, wechat_userid)
        SELECT i, 'staff', 'Bench ' || i, 'bench' || i || '@school.example', 'bench' || i
        FROM generate_series(%s, %s) i
        ON CONFLICT (person_id) DO NOTHING""", (FIRST_PERSON, FIRST_PERSON + count - 1))
    return list(range(FIRST_PERSON, FIRST_PERSON + count))


def fresh_people(conn, count, first):
    """`count` new people from id `first`, with WeCom user ids and email addresses
    never used before, so that the dispatcher's per-member pacing never has a
    reason to wait; their ids, and the person id of each WeCom user id."""
    ids = list(range(first, first + count))
    q(conn, """
        INSERT INTO messaging.person (person_id, kind, display_name, email, wechat_userid)
        SELECT i, 'staff', 'Bench ' || i, 'bench' || i || '@school.example', 'bench' || i
        FROM generate_series(%s, %s) i""", (first, first + count - 1))
    return ids, {f"bench{i}": i for i in ids}


def empty_queue(conn):
    q(conn, "TRUNCATE messaging.message CASCADE")


def send(conn, ids, channels, subject="Bench notice",
         body="The school is closed on Friday for staff training. 星期五学校停课。"):
    """One committed send; its dispatch ids."""
    rows = q(conn, "SELECT dispatch_id, recipients, flagged FROM messaging.send("
                   "%s, %s, %s::bigint[], %s::messaging.channel[])",
             (subject, body, ids, list(channels)))
    for dispatch_id, recipients, flagged in rows:
        if recipients != len(ids) or flagged != 0:
            b.fail(f"send queued {recipients} with {flagged} flagged, expected {len(ids)}")
    return [r[0] for r in rows]


def wait_finished(conn, dispatch_ids, timeout, poll=0.02):
    """Waits until no delivery of these dispatches is queued or in flight, reading
    the dashboard counters; returns (complete, failed)."""
    deadline = time.time() + timeout
    while True:
        complete, failed, pending = q(
            conn, "SELECT sum(complete), sum(failed), sum(not_started + processing) "
                  "FROM messaging.dispatch WHERE dispatch_id = ANY(%s)", (dispatch_ids,))[0]
        if pending == 0:
            return complete, failed
        if time.time() > deadline:
            b.fail(f"not finished after {timeout} s: {complete} complete, {failed} failed,"
                   f" {pending} still queued or in flight")
        time.sleep(poll)


def check_complete(conn, dispatch_ids, expected):
    """Fails unless exactly `expected` deliveries of these dispatches are complete,
    counted in the delivery table itself, and none is anything else."""
    rows = q(conn, "SELECT status::text, count(*), min(error) FROM messaging.delivery "
                   "WHERE dispatch_id = ANY(%s) GROUP BY 1", (dispatch_ids,))
    got = {status: n for status, n, _ in rows}
    if got != {"complete": expected}:
        b.fail(f"deliveries {got} (first error: {[r[2] for r in rows]}),"
               f" expected {expected} complete")


def worker_pid(conn):
    rows = q(conn, "SELECT pid FROM pg_stat_activity WHERE " + WORKER)
    if not rows:
        b.fail("the dispatcher is not running")
    return rows[0][0]


def proc_status(pid):
    """VmRSS and RssAnon of a process, in kB, from /proc."""
    values = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "RssAnon", "RssShmem", "RssFile"):
                values[key] = int(rest.split()[0])
    return values


def cpu_seconds(pid):
    """User plus system CPU time of a process, from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cleanup_dirs(*names):
    for name in names:
        for path in glob.glob(os.path.join(CLUSTER, name)):
            shutil.rmtree(path, ignore_errors=True)
