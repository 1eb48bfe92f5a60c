#!/usr/bin/python3
"""A stand-in for the WeCom API, for tests and the demo. Loopback only.

It answers the two calls the dispatcher makes, the way the real API does:

  GET  /cgi-bin/gettoken?corpid=ID&corpsecret=SECRET
  POST /cgi-bin/message/send?access_token=TOKEN   (JSON body, msgtype "text")

and keeps the rules that matter to a sender: HTTP 200 with an `errcode` for API
errors; 40013 for a wrong corp id, 40001 for a wrong secret; the same token
again while it is valid; 41001 without a token, 40014 for an unknown one, 42001
for an expired one; at most 1,000 user ids per send (40032); unknown user ids
listed lower-cased in `invaliduser` (81013 when no recipient was valid); texts
over 2,048 bytes of UTF-8 cut silently; the duplicate check; and the limit of
30 messages a minute (1,000 an hour) to one member from one app, past which
messages are dropped silently.

Everything received is recorded and can be read back as JSON:

  GET  /_records          {"requests": [...], "messages": [...]}
  GET  /_counts           messages per outcome and member, e.g.
                          {"delivered": {"alice": 1}, "duplicate": {}, "dropped": {}}
  POST /_reset            forget records, counts, tokens and pacing history
  POST /_control          change the directory or inject faults, for example
       {"fail_next": 3, "errcode": -1}          the next 3 sends answer -1
       {"fail_next": 1, "http_status": 500}     the next send answers HTTP 500
       {"fail_next": 2, "drop_connection": true, "on": "gettoken"}
       {"fail_next": 1, "delay_ms": 3000}       answer the next send late
       {"expire_tokens": true}                  every issued token now gives 42001
       {"revoke_tokens": true}                  every issued token now gives 40014
       {"users": ["a", "b"]}                    the directory (null: everyone exists)
       {"invalid_users": ["x"], "unlicensed_users": ["y"]}
       {"token_ttl": 7200, "rate_limit": 30, "rate_window_s": 60}
       {"records": "counts"}                    keep only counts (for large runs):
                                                no messages, requests without body
  GET  /_control          the current settings

Each message a member would see is one entry of "messages", with its outcome:
"delivered", "duplicate" (suppressed by the duplicate check) or "dropped"
(over the pacing limit). Requests are recorded with what was answered.

Usage: wecom_double.py [--port N] [--port-file F] [--corp-id ID] [--secret S]
                       [--agent-id N] [--tls-cert F --tls-key F] [--records F]
"""

import argparse
import json
import os
import secrets
import signal
import socket
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

MAX_TEXT_BYTES = 2048
MAX_USERS = 1000
DEFAULT_DUPLICATE_INTERVAL_S = 1800
HOURLY_LIMIT = 1000

ERRMSG = {
    -1: "system busy",
    0: "ok",
    40001: "invalid credential",
    40008: "invalid message type",
    40013: "invalid corpid",
    40014: "invalid access_token",
    40032: "invalid user id list size",
    40035: "invalid parameter",
    40056: "invalid agentid",
    41001: "access_token missing",
    41002: "corpid missing",
    41004: "corpsecret missing",
    42001: "access_token expired",
    44004: "empty content",
    45009: "reach max api daily quota limit",
    45033: "api concurrent out of limit",
    81013: "user & party & tag all invalid",
}


def truncate_utf8(text, limit):
    """The longest prefix of `text` whose UTF-8 encoding fits in `limit` bytes."""
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    return data[:limit].decode("utf-8", errors="ignore")


class State:
    """The double's memory: settings, tokens, faults, pacing history and records."""

    def __init__(self, corp_id, secret, agent_id, records_path):
        self.lock = threading.Lock()
        self.corp_id = corp_id
        self.secret = secret
        self.agent_id = agent_id
        self.records_path = records_path
        self.users = None
        self.invalid_users = set()
        self.unlicensed_users = set()
        self.token_ttl = 7200
        self.rate_limit = 30
        self.rate_window_s = 60.0
        self.records_mode = "full"  # or "counts"
        self.reset()

    def reset(self):
        self.tokens = {}  # token -> {"expires": t, "state": "valid"|"expired"|"revoked"}
        self.faults = []  # [{"count", "on", "errcode", "http_status", "delay_ms", "drop"}]
        self.sent_at = {}  # member -> [times delivered]
        self.last_content = {}  # (member, content) -> time delivered
        self.requests = []
        self.messages = []
        self.counts = {"delivered": {}, "duplicate": {}, "dropped": {}}
        self.msg_seq = 0

    def settings(self):
        return {
            "corp_id": self.corp_id,
            "agent_id": self.agent_id,
            "users": None if self.users is None else sorted(self.users),
            "invalid_users": sorted(self.invalid_users),
            "unlicensed_users": sorted(self.unlicensed_users),
            "token_ttl": self.token_ttl,
            "rate_limit": self.rate_limit,
            "rate_window_s": self.rate_window_s,
            "records": self.records_mode,
            "pending_faults": [dict(f) for f in self.faults],
            "tokens_issued": len(self.tokens),
        }

    def control(self, req):
        """Apply one /_control request."""
        if "users" in req:
            self.users = None if req["users"] is None else {u.lower() for u in req["users"]}
        if "invalid_users" in req:
            self.invalid_users = {u.lower() for u in req["invalid_users"]}
        if "unlicensed_users" in req:
            self.unlicensed_users = {u.lower() for u in req["unlicensed_users"]}
        for key in ("token_ttl", "rate_limit"):
            if key in req:
                setattr(self, key, int(req[key]))
        if "rate_window_s" in req:
            self.rate_window_s = float(req["rate_window_s"])
        if req.get("records") in ("full", "counts"):
            self.records_mode = req["records"]
        if "corp_id" in req:
            self.corp_id = req["corp_id"]
        if "secret" in req:
            self.secret = req["secret"]
        if req.get("expire_tokens"):
            for tok in self.tokens.values():
                tok["state"] = "expired"
        if req.get("revoke_tokens"):
            for tok in self.tokens.values():
                tok["state"] = "revoked"
        if req.get("clear_faults"):
            self.faults = []
        if "fail_next" in req or "delay_ms" in req:
            self.faults.append({
                "count": int(req.get("fail_next", 1)),
                "on": req.get("on", "send"),
                "errcode": req.get("errcode"),
                "http_status": req.get("http_status"),
                "delay_ms": int(req.get("delay_ms", 0)),
                "drop": bool(req.get("drop_connection", False)),
            })

    def take_fault(self, kind):
        """The fault to apply to this request of `kind`, if one is pending."""
        for fault in self.faults:
            if fault["on"] in (kind, "any") and fault["count"] > 0:
                fault["count"] -= 1
                result = dict(fault)
                self.faults = [f for f in self.faults if f["count"] > 0]
                return result
        return None

    def record_request(self, entry):
        if self.records_mode == "counts" and "body" in entry:
            body = entry.pop("body")
            touser = body.get("touser") if isinstance(body, dict) else None
            entry["recipients"] = len(touser.split("|")) if isinstance(touser, str) else 0
        entry["seq"] = len(self.requests) + 1
        entry["time"] = time.time()
        self.requests.append(entry)
        if self.records_path:
            with open(self.records_path, "a", encoding="utf-8") as f:
                f.write(json.dumps({"request": entry}, ensure_ascii=False) + "\n")

    def record_message(self, entry):
        self.msg_seq += 1
        per_member = self.counts[entry["outcome"]]
        per_member[entry["touser"]] = per_member.get(entry["touser"], 0) + 1
        if self.records_mode == "counts":
            return
        entry["seq"] = self.msg_seq
        entry["time"] = time.time()
        self.messages.append(entry)
        if self.records_path:
            with open(self.records_path, "a", encoding="utf-8") as f:
                f.write(json.dumps({"message": entry}, ensure_ascii=False) + "\n")

    def gettoken(self, query):
        corp_id = query.get("corpid", [None])[0]
        secret = query.get("corpsecret", [None])[0]
        if not corp_id:
            return {"errcode": 41002}
        if corp_id != self.corp_id:
            return {"errcode": 40013}
        if not secret:
            return {"errcode": 41004}
        if secret != self.secret:
            return {"errcode": 40001}
        # While a token is valid, asking again gives the same token, as WeCom does.
        now = time.time()
        for token, tok in self.tokens.items():
            if tok["state"] == "valid" and now < tok["expires"]:
                return {"errcode": 0, "access_token": token,
                        "expires_in": max(1, int(tok["expires"] - now))}
        token = secrets.token_hex(24)
        self.tokens[token] = {"expires": now + self.token_ttl, "state": "valid"}
        return {"errcode": 0, "access_token": token, "expires_in": self.token_ttl}

    def token_error(self, token):
        """The errcode for a request bearing `token`, or 0 when it is good."""
        if not token:
            return 41001
        tok = self.tokens.get(token)
        if tok is None or tok["state"] == "revoked":
            return 40014
        if tok["state"] == "expired" or time.time() >= tok["expires"]:
            return 42001
        return 0

    def member_exists(self, user):
        if user in self.invalid_users:
            return False
        return self.users is None or user in self.users

    def deliver(self, member, content, body, now):
        """Record what `member` sees of one message: delivered, duplicate or dropped."""
        shown = truncate_utf8(content, MAX_TEXT_BYTES)
        entry = {
            "touser": member,
            "content": shown,
            "truncated": shown != content,
            "sent_bytes": len(content.encode("utf-8")),
        }
        if body.get("enable_duplicate_check") in (1, "1", True):
            interval = int(body.get("duplicate_check_interval") or DEFAULT_DUPLICATE_INTERVAL_S)
            last = self.last_content.get((member, content))
            if last is not None and now - last < interval:
                entry["outcome"] = "duplicate"
                self.record_message(entry)
                return
        history = [t for t in self.sent_at.get(member, []) if now - t < 3600]
        in_window = [t for t in history if now - t < self.rate_window_s]
        if len(in_window) >= self.rate_limit or len(history) >= HOURLY_LIMIT:
            entry["outcome"] = "dropped"
            self.record_message(entry)
            return
        history.append(now)
        self.sent_at[member] = history
        self.last_content[(member, content)] = now
        entry["outcome"] = "delivered"
        self.record_message(entry)

    def send(self, query, body):
        """Answer one message/send call whose token has been checked."""
        if not isinstance(body, dict):
            return {"errcode": 40035, "errmsg": "invalid parameter, Warning: wrong json format."}
        if str(body.get("agentid")) != str(self.agent_id):
            return {"errcode": 40056}
        if body.get("msgtype") != "text":
            return {"errcode": 40008}
        text = body.get("text") or {}
        content = text.get("content") if isinstance(text, dict) else None
        if not isinstance(content, str) or content == "":
            return {"errcode": 44004}
        touser = body.get("touser") or ""
        if not isinstance(touser, str):
            return {"errcode": 40035}
        users = [u for u in touser.split("|") if u != ""]
        if len(users) > MAX_USERS:
            return {"errcode": 40032}
        invalid, unlicensed, members, seen = [], [], [], set()
        for user in users:
            low = user.lower()
            if not self.member_exists(low):
                invalid.append(low)
            elif low in self.unlicensed_users:
                unlicensed.append(low)
            elif low not in seen:
                seen.add(low)
                members.append(low)
        answer = {
            "invaliduser": "|".join(invalid),
            "invalidparty": "",
            "invalidtag": "",
            "unlicenseduser": "|".join(unlicensed),
        }
        if not members:
            answer["errcode"] = 81013
            return answer
        now = time.time()
        for member in members:
            self.deliver(member, content, body, now)
        answer["errcode"] = 0
        answer["msgid"] = secrets.token_hex(16)
        return answer


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "wecom-double/1.0"

    def log_message(self, *args):  # quiet: the records say what happened
        pass

    def reply(self, status, payload):
        data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def drop(self):
        """Close the connection without an answer."""
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def do_GET(self):
        url = urlsplit(self.path)
        state = self.server.state
        if url.path == "/_records":
            with state.lock:
                self.reply(200, {"requests": state.requests, "messages": state.messages})
            return
        if url.path == "/_counts":
            with state.lock:
                self.reply(200, state.counts)
            return
        if url.path == "/_control":
            with state.lock:
                self.reply(200, state.settings())
            return
        if url.path == "/cgi-bin/gettoken":
            self.api_call("gettoken", url, None)
            return
        self.reply(404, {"errcode": 404, "errmsg": "not found"})

    def do_POST(self):
        url = urlsplit(self.path)
        state = self.server.state
        raw = self.read_body()
        if url.path == "/_reset":
            with state.lock:
                state.reset()
            self.reply(200, {"ok": True})
            return
        if url.path == "/_control":
            try:
                req = json.loads(raw or b"{}")
            except ValueError:
                self.reply(400, {"error": "control body must be JSON"})
                return
            with state.lock:
                state.control(req)
                self.reply(200, state.settings())
            return
        if url.path == "/cgi-bin/message/send":
            self.api_call("send", url, raw)
            return
        self.reply(404, {"errcode": 404, "errmsg": "not found"})

    def api_call(self, kind, url, raw):
        """Answer a gettoken or message/send call, applying any pending fault."""
        state = self.server.state
        query = parse_qs(url.query)
        body = None
        if raw is not None:
            try:
                body = json.loads(raw.decode("utf-8"))
            except (ValueError, UnicodeDecodeError):
                body = ValueError
        with state.lock:
            fault = state.take_fault(kind)
        entry = {"kind": kind, "path": url.path}
        if kind == "send":
            entry["access_token"] = query.get("access_token", [""])[0]
            entry["body"] = body if body is not ValueError else None
            entry["raw_bytes"] = len(raw)
        else:
            entry["corpid"] = query.get("corpid", [""])[0]
        if fault:
            entry["fault"] = fault
            if fault["delay_ms"]:
                time.sleep(fault["delay_ms"] / 1000.0)
            if fault["drop"]:
                with state.lock:
                    entry["status"] = None
                    state.record_request(entry)
                self.drop()
                return
            if fault["http_status"]:
                with state.lock:
                    entry["status"] = fault["http_status"]
                    state.record_request(entry)
                self.reply(fault["http_status"], {"errcode": -1, "errmsg": "server error"})
                return
            if fault["errcode"] is not None:
                answer = {"errcode": fault["errcode"]}
                self.finish_call(entry, answer)
                return
        with state.lock:
            if kind == "gettoken":
                answer = state.gettoken(query)
            else:
                err = state.token_error(entry["access_token"])
                answer = {"errcode": err} if err else state.send(query, body)
        self.finish_call(entry, answer)

    def finish_call(self, entry, answer):
        state = self.server.state
        code = answer["errcode"]
        answer.setdefault("errmsg", ERRMSG.get(code, "error"))
        ordered = {"errcode": code, "errmsg": answer["errmsg"]}
        ordered.update({k: v for k, v in answer.items() if k not in ordered})
        with state.lock:
            entry["status"] = 200
            entry["response"] = ordered
            state.record_request(entry)
        self.reply(200, ordered)


def main():
    parser = argparse.ArgumentParser(description="WeCom API double (127.0.0.1 only)")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file")
    parser.add_argument("--corp-id", default="ww-test-corp")
    parser.add_argument("--secret", default="test-secret")
    parser.add_argument("--agent-id", type=int, default=1000002)
    parser.add_argument("--tls-cert")
    parser.add_argument("--tls-key")
    parser.add_argument("--records", help="also append every record to this JSONL file")
    args = parser.parse_args()

    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    server.state = State(args.corp_id, args.secret, args.agent_id, args.records)
    if args.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
        # The handshake happens in the request's thread, so a client that fails
        # it (an untrusted certificate) cannot hold up the others.
        server.socket = ctx.wrap_socket(
            server.socket, server_side=True, do_handshake_on_connect=False
        )
    port = server.server_address[1]
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(f"{port}\n")
        os.replace(tmp, args.port_file)
    print(f"wecom double listening on 127.0.0.1:{port}", flush=True)

    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
