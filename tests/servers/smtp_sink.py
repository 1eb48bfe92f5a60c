#!/usr/bin/python3
"""A real SMTP server that keeps every mail it accepts, for tests and the demo.

Listens on 127.0.0.1 only. Each accepted mail is one line of JSON appended to
STORE/mails.jsonl: envelope sender, recipients, the raw message (base64, exact
bytes) and how the session went (TLS, authenticated user, the client's address
and port, which tells mails sent over one connection apart). Each refused or
broken transaction is a line in STORE/events.jsonl.

Options choose how the server behaves:
  --starttls / --implicit-tls with --tls-cert and --tls-key
  --auth-user U --auth-password P      AUTH required, with these credentials
  --refuse-rcpt ADDR                   answer 550 to RCPT TO:<ADDR> (repeatable)
  --tempfail-rcpt ADDR                 answer 451 to RCPT TO:<ADDR> (repeatable)
  --refuse-greeting                    greet with 554 and accept nothing
  --drop-mid-data                      close the connection in the middle of DATA

Usage: smtp_sink.py --store DIR [--port N] [--port-file F] [options]
"""

import argparse
import asyncio
import base64
import json
import os
import signal
import ssl
import sys
import time

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


class Store:
    """Appends accepted mails and refusals to JSONL files."""

    def __init__(self, directory, implicit_tls=False):
        self.implicit_tls = implicit_tls  # aiosmtpd notes only STARTTLS in session.ssl
        os.makedirs(directory, exist_ok=True)
        self.mails = os.path.join(directory, "mails.jsonl")
        self.events = os.path.join(directory, "events.jsonl")
        self.seq = 0

    def append(self, path, entry):
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps(entry, ensure_ascii=False) + "\n")
            f.flush()

    def mail(self, session, envelope):
        self.seq += 1
        self.append(self.mails, {
            "seq": self.seq,
            "time": time.time(),
            "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "data_b64": base64.b64encode(envelope.original_content).decode("ascii"),
            "tls": self.implicit_tls or session.ssl is not None,
            "connection": "%s:%s" % tuple(session.peer[:2]),  # the client's address and port
            "auth_user": auth_user(session),
        })

    def event(self, what, **details):
        self.append(self.events, {"time": time.time(), "event": what, **details})


def auth_user(session):
    """The user name the client authenticated as, or None."""
    data = getattr(session, "auth_data", None)
    return data.login.decode() if isinstance(data, LoginPassword) else None


class Handler:
    """aiosmtpd hooks: refuse the recipients we were told to, store the rest."""

    def __init__(self, store, refuse, tempfail):
        self.store = store
        self.refuse = {a.lower() for a in refuse}
        self.tempfail = {a.lower() for a in tempfail}

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in self.refuse:
            self.store.event("rcpt_refused", rcpt=address)
            return "550 5.1.1 <%s>: mailbox unavailable" % address
        if address.lower() in self.tempfail:
            self.store.event("rcpt_tempfail", rcpt=address)
            return "451 4.3.0 <%s>: try again later" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.store.mail(session, envelope)
        return "250 2.0.0 OK: queued"


class DroppingSMTP(SMTP):
    """An SMTP session that hangs up in the middle of DATA."""

    store = None

    async def smtp_DATA(self, arg):
        if await self.check_helo_needed() or await self.check_auth_needed("DATA"):
            return
        if not self.envelope.rcpt_tos:
            await self.push("503 Error: need RCPT command")
            return
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        await self._reader.readuntil(b"\r\n")  # the first line of the mail, then hang up
        self.store.event("dropped_mid_data", rcpt_tos=list(self.envelope.rcpt_tos))
        self.transport.close()


class RefusingGreeting(asyncio.Protocol):
    """Greets with 554 and answers every command with 554 until QUIT."""

    def __init__(self, store):
        self.store = store

    def connection_made(self, transport):
        self.transport = transport
        self.store.event("greeting_refused")
        transport.write(b"554 5.3.2 No SMTP service here\r\n")

    def data_received(self, data):
        for line in data.split(b"\r\n"):
            if line.upper().startswith(b"QUIT"):
                self.transport.write(b"221 2.0.0 Bye\r\n")
                self.transport.close()
                return
            if line:
                self.transport.write(b"503 5.5.1 No SMTP service here\r\n")


def make_authenticator(store, user, password):
    def authenticate(server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == user
            and auth_data.password.decode() == password
        )
        if not ok:
            store.event("auth_refused", mechanism=mechanism)
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

    return authenticate



def main():
    parser = argparse.ArgumentParser(description="SMTP sink (127.0.0.1 only)")
    parser.add_argument("--store", required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file")
    parser.add_argument("--tls-cert")
    parser.add_argument("--tls-key")
    parser.add_argument("--starttls", action="store_true")
    parser.add_argument("--implicit-tls", action="store_true")
    parser.add_argument("--auth-user")
    parser.add_argument("--auth-password")
    parser.add_argument("--refuse-rcpt", action="append", default=[])
    parser.add_argument("--tempfail-rcpt", action="append", default=[])
    parser.add_argument("--refuse-greeting", action="store_true")
    parser.add_argument("--drop-mid-data", action="store_true")
    args = parser.parse_args()

    store = Store(args.store, implicit_tls=args.implicit_tls)
    tls = None
    if args.starttls or args.implicit_tls:
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(args.tls_cert, args.tls_key)
    handler = Handler(store, args.refuse_rcpt, args.tempfail_rcpt)
    DroppingSMTP.store = store
    session_class = DroppingSMTP if args.drop_mid_data else SMTP

    def new_session():
        if args.refuse_greeting:
            return RefusingGreeting(store)
        options = {"hostname": "localhost", "ident": "smtp-sink", "timeout": 30}
        if args.starttls:
            options.update(tls_context=tls, require_starttls=True)
        if args.auth_user:
            options.update(
                authenticator=make_authenticator(store, args.auth_user, args.auth_password),
                auth_required=True,
                auth_require_tls=tls is not None,
            )
        return session_class(handler, **options)

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    server = loop.run_until_complete(
        loop.create_server(
            new_session, "127.0.0.1", args.port, ssl=tls if args.implicit_tls else None
        )
    )
    port = server.sockets[0].getsockname()[1]
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(f"{port}\n")
        os.replace(tmp, args.port_file)
    print(f"smtp sink listening on 127.0.0.1:{port}", flush=True)

    loop.add_signal_handler(signal.SIGTERM, loop.stop)
    loop.add_signal_handler(signal.SIGINT, loop.stop)
    try:
        loop.run_forever()
    finally:
        server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
