"""Email deliveries end to end: send() in SQL, the dispatcher, a real SMTP server."""

import email.utils
import re

import pytest

from conftest import (
    DISABLED, MAIL_DEFERRED, MAIL_GREETING, MAIL_LOGIN, MAIL_LOST, MAIL_NO_CONNECTION,
    MAILBOX_REFUSED, NO_EMAIL)

PEOPLE = [
    {"person_id": 11, "display_name": "王小明", "email": "wang.xiaoming@home.example"},
    {"person_id": 12, "display_name": "Ann Smith-Jones", "email": "ann@home.example"},
    {"person_id": 13, "display_name": "Zoë O'Brien", "email": "zoe@home.example"},
    {"person_id": 14, "display_name": "No Address", "email": None},
    {"person_id": 15, "display_name": "Gone Away", "email": "gone@home.example",
     "disabled": True},
]
FROM = "School Office <office@school.example>"


@pytest.fixture
def mail(mis):
    mis.require("send", "worker", "configure_smtp")
    mis.add_people(PEOPLE)
    return mis


def plain(mis, sink, **kw):
    kw.setdefault("starttls", False)
    mis.configure_smtp("smtp://127.0.0.1:%d" % sink.port, FROM, **kw)


def body_text(msg):
    """The decoded plain-text body, with line ends made \\n."""
    assert msg.get_content_type() == "text/plain"
    assert msg.get_content_charset() == "utf-8"
    assert msg["Content-Transfer-Encoding"].lower() in ("quoted-printable", "base64")
    return msg.get_content().replace("\r\n", "\n")


def test_one_mail_per_recipient_with_exact_outcomes(mail, servers):
    sink = servers.smtp()
    plain(mail, sink)
    rows = mail.send("Sports day is on Monday.", [11, 12, 13, 14, 15], ["email"],
                     subject="Sports day")
    assert [(r["channel"], r["recipients"], r["flagged"]) for r in rows] == [("email", 5, 2)]
    [dispatch] = mail.dispatch_ids(rows)
    mail.wait_settled([dispatch])

    got = mail.deliveries(dispatch)
    assert {p: (d["status"], d["attempts"], d["error"]) for p, d in got.items()} == {
        11: ("complete", 1, None),
        12: ("complete", 1, None),
        13: ("complete", 1, None),
        14: ("failed", 0, NO_EMAIL),
        15: ("failed", 0, DISABLED),
    }
    mails = sink.mails()
    assert sorted(tuple(m["rcpt_tos"]) for m in mails) == [
        ("ann@home.example",), ("wang.xiaoming@home.example",), ("zoe@home.example",)]
    assert {m["mail_from"] for m in mails} == {"office@school.example"}
    for m in mails:
        # No recipient sees another's address.
        others = {"ann@home.example", "wang.xiaoming@home.example", "zoe@home.example"}
        others.discard(m["rcpt_tos"][0])
        assert not any(o.encode() in m["raw"] for o in others)


def test_mails_share_connections(mail, servers):
    sink = servers.smtp()
    plain(mail, sink)
    ids = mail.add_many(60001, 40, wechat_prefix="m")
    [dispatch] = mail.dispatch_ids(mail.send("Many mails", ids, ["email"]))
    mail.wait_settled([dispatch])
    assert mail.status_counts(dispatch) == {"complete": 40}
    mails = sink.mails()
    assert sorted(m["rcpt_tos"][0] for m in mails) == sorted(
        "person%d@school.example" % i for i in ids)
    # Reused connections: far fewer than one per mail (at most one per parallel one).
    assert len({m["connection"] for m in mails}) <= 8


def test_headers_are_proper_and_text_arrives_intact(mail, servers):
    sink = servers.smtp()
    plain(mail, sink)
    subject = "运动会通知 – Sports day 🏃 «déjà vu» " + "长" * 40
    body = ("亲爱的家长：\n请于周五前交回回执。\n"
            ".\n"  # a lone dot must not end the mail
            "From the office: naïve café, 😀, and a long line " + "x" * 300 + "\n"
            "末行")
    [dispatch] = mail.dispatch_ids(mail.send(body, [11, 13], ["email"], subject=subject))
    mail.wait_settled([dispatch])
    assert mail.status_counts(dispatch) == {"complete": 2}

    by_rcpt = {m["rcpt_tos"][0]: m for m in sink.mails()}
    for rcpt, name in (("wang.xiaoming@home.example", "王小明"),
                       ("zoe@home.example", "Zoë O'Brien")):
        m = by_rcpt[rcpt]
        raw, msg = m["raw"], m["msg"]
        # CRLF line ends only, and every header line 7-bit and under 998 octets.
        assert b"\n" not in raw.replace(b"\r\n", b"")
        head = raw.split(b"\r\n\r\n", 1)[0]
        assert all(len(line) <= 998 for line in head.split(b"\r\n"))
        assert all(b < 128 for b in head)
        assert b"=?" in head  # RFC 2047 encoded words for the subject
        assert str(msg["Subject"]) == subject
        assert email.utils.parseaddr(str(msg["From"])) == ("School Office",
                                                           "office@school.example")
        assert email.utils.parseaddr(str(msg["To"])) == (name, rcpt)
        assert email.utils.parsedate_to_datetime(str(msg["Date"])).tzinfo is not None
        assert re.fullmatch(r"<[^<>@\s]+@[^<>@\s]+>", str(msg["Message-ID"]))
        assert msg["MIME-Version"] == "1.0"
        assert body_text(msg).rstrip("\n") == body
        assert [k.lower() for k in msg.keys()].count("subject") == 1
    ids = {str(m["msg"]["Message-ID"]) for m in sink.mails()}
    assert len(ids) == 2


def test_a_message_without_subject_sends_a_mail_without_one(mail, servers):
    sink = servers.smtp()
    plain(mail, sink)
    mail.wait_settled(mail.dispatch_ids(mail.send("Just the body", [12], ["email"])))
    [m] = sink.mails()
    assert str(m["msg"].get("Subject", "")) == ""
    assert body_text(m["msg"]).rstrip("\n") == "Just the body"


def test_no_header_can_be_injected_through_subject_or_name(mail, servers):
    sink = servers.smtp()
    plain(mail, sink)
    mail.add_people([{"person_id": 16, "display_name": "Evil\r\nBcc: victim@evil.example",
                      "email": "evil@home.example"}])
    subject = "Hello\r\nBcc: victim@evil.example\r\nX-Injected: yes"
    try:
        rows = mail.send("Body\r\nBcc: victim@evil.example", [16, 12], ["email"],
                         subject=subject)
    except Exception as e:  # a refusal of control characters is also safe
        assert getattr(e, "pgcode", None) == "22023", e
        rows = mail.send("Body\r\nBcc: victim@evil.example", [16, 12], ["email"],
                         subject="Hello")
    mail.wait_settled(mail.dispatch_ids(rows))
    mails = sink.mails()
    assert sorted(m["rcpt_tos"][0] for m in mails) == ["ann@home.example", "evil@home.example"]
    for m in mails:
        msg = m["msg"]
        assert msg["Bcc"] is None and msg["X-Injected"] is None
        assert [k.lower() for k in msg.keys()].count("to") == 1
        head = m["raw"].split(b"\r\n\r\n", 1)[0].lower()
        assert not re.search(rb"(^|\r\n)(bcc|x-injected):", head)


def test_a_refused_mailbox_fails_only_that_delivery(mail, servers):
    sink = servers.smtp("--refuse-rcpt", "ann@home.example")
    plain(mail, sink)
    [dispatch] = mail.dispatch_ids(mail.send("Refusal", [11, 12, 13], ["email"]))
    mail.wait_settled([dispatch])
    got = mail.deliveries(dispatch)
    assert [(got[p]["status"], got[p]["attempts"]) for p in (11, 12, 13)] == [
        ("complete", 1), ("failed", 1), ("complete", 1)]
    assert got[12]["error"] == MAILBOX_REFUSED
    assert [e["event"] for e in sink.events()] == ["rcpt_refused"]  # not retried
    assert sorted(m["rcpt_tos"][0] for m in sink.mails()) == [
        "wang.xiaoming@home.example", "zoe@home.example"]


def test_a_temporary_refusal_is_retried_then_fails(mail, servers):
    sink = servers.smtp("--tempfail-rcpt", "ann@home.example")
    plain(mail, sink)
    [dispatch] = mail.dispatch_ids(mail.send("Later", [12], ["email"]))
    mail.wait_settled([dispatch])
    [d] = mail.deliveries(dispatch).values()
    assert (d["status"], d["attempts"], d["error"]) == ("failed", 3, MAIL_DEFERRED)
    assert [e["event"] for e in sink.events()] == ["rcpt_tempfail"] * 3
    assert sink.mails() == []


def test_authentication_with_the_right_credentials(mail, servers, pki):
    sink = servers.smtp("--starttls", "--tls-cert", pki.cert, "--tls-key", pki.key,
                        "--auth-user", "office", "--auth-password", "pa55word")
    mail.set_params(ca_file=pki.ca)
    mail.configure_smtp("smtp://127.0.0.1:%d" % sink.port, FROM, username="office",
                        password="pa55word", starttls=True)
    [dispatch] = mail.dispatch_ids(mail.send("Authenticated", [11], ["email"]))
    mail.wait_settled([dispatch])
    assert mail.status_counts(dispatch) == {"complete": 1}
    assert [(m["auth_user"], m["tls"]) for m in sink.mails()] == [("office", True)]


def test_refused_authentication_fails_with_a_configuration_reason(mail, servers, pki):
    sink = servers.smtp("--starttls", "--tls-cert", pki.cert, "--tls-key", pki.key,
                        "--auth-user", "office", "--auth-password", "pa55word")
    mail.set_params(ca_file=pki.ca)
    mail.configure_smtp("smtp://127.0.0.1:%d" % sink.port, FROM, username="office",
                        password="wrong", starttls=True)
    [dispatch] = mail.dispatch_ids(mail.send("Wrong password", [11, 12], ["email"]))
    mail.wait_settled([dispatch])
    got = mail.deliveries(dispatch)
    assert {d["status"] for d in got.values()} == {"failed"}
    assert {d["error"] for d in got.values()} == {MAIL_LOGIN}
    assert all(d["attempts"] <= 1 for d in got.values())  # not retried
    assert sink.mails() == []
    # Each connection may try each mechanism the server offers (PLAIN, LOGIN) once.
    assert 1 <= len(sink.events()) <= 4


def test_a_refused_greeting_is_retried_then_fails(mail, servers):
    sink = servers.smtp("--refuse-greeting")
    plain(mail, sink)
    [dispatch] = mail.dispatch_ids(mail.send("Greeting", [11], ["email"]))
    mail.wait_settled([dispatch])
    [d] = mail.deliveries(dispatch).values()
    assert (d["status"], d["error"]) == ("failed", MAIL_GREETING)
    assert sink.mails() == []


def test_a_connection_dropped_mid_data_is_never_complete(mail, servers):
    sink = servers.smtp("--drop-mid-data")
    plain(mail, sink)
    [dispatch] = mail.dispatch_ids(mail.send("Dropped", [11], ["email"]))
    mail.wait_settled([dispatch])
    [d] = mail.deliveries(dispatch).values()
    assert (d["status"], d["attempts"], d["error"]) == ("failed", 3, MAIL_LOST)
    assert [e["event"] for e in sink.events()] == ["dropped_mid_data"] * 3


def test_connection_refused_is_retried_then_fails(mail, servers):
    sink = servers.smtp()
    port = sink.port
    sink.stop()
    mail.configure_smtp("smtp://127.0.0.1:%d" % port, FROM, starttls=False)
    [dispatch] = mail.dispatch_ids(mail.send("Nobody home", [11], ["email"]))
    mail.wait_settled([dispatch])
    [d] = mail.deliveries(dispatch).values()
    assert (d["status"], d["attempts"], d["error"]) == ("failed", 3, MAIL_NO_CONNECTION)


def test_a_rerun_sends_again_with_a_new_message_id(mail, servers):
    mail.require("rerun")
    sink = servers.smtp()
    plain(mail, sink)
    [dispatch] = mail.dispatch_ids(mail.send("Twice", [11], ["email"]))
    mail.wait_settled([dispatch])
    assert mail.one("SELECT messaging.rerun(%s, false)", (dispatch,)) == 1
    mail.wait_settled([dispatch])
    ids = [str(m["msg"]["Message-ID"]) for m in sink.mails()]
    assert len(ids) == 2 and ids[0] != ids[1]
