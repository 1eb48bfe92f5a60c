"""The test servers themselves behave like the real services they stand in for,
so that the end-to-end tests built on them can be trusted."""

import json
import smtplib
import socket
import ssl
import time
import urllib.error
import urllib.request

import pytest

from conftest import AGENT_ID, CORP_ID, SECRET


def get(server, path):
    with urllib.request.urlopen(server.url + path, timeout=10) as resp:
        return resp.status, json.loads(resp.read())


def post(server, path, payload):
    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    req = urllib.request.Request(server.url + path, data=data, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def token(server):
    status, answer = get(server, "/cgi-bin/gettoken?corpid=%s&corpsecret=%s" % (CORP_ID, SECRET))
    assert status == 200 and answer["errcode"] == 0
    return answer["access_token"]


def send(server, tok, touser, content="hello", **extra):
    body = {"touser": touser, "msgtype": "text", "agentid": AGENT_ID,
            "text": {"content": content}, "safe": 0, **extra}
    return post(server, "/cgi-bin/message/send?access_token=" + tok, body)


# ---------------------------------------------------------------- WeCom double


def test_gettoken_gives_a_token_with_its_lifetime(wecom):
    status, answer = get(wecom, "/cgi-bin/gettoken?corpid=%s&corpsecret=%s" % (CORP_ID, SECRET))
    assert status == 200
    assert answer["errcode"] == 0 and answer["errmsg"] == "ok"
    assert answer["expires_in"] == 7200
    assert len(answer["access_token"]) >= 32


@pytest.mark.parametrize("query,errcode", [
    ("corpid=wrong&corpsecret=" + SECRET, 40013),
    ("corpid=%s&corpsecret=wrong" % CORP_ID, 40001),
    ("corpsecret=" + SECRET, 41002),
    ("corpid=" + CORP_ID, 41004),
])
def test_gettoken_refuses_wrong_credentials_with_http_200(wecom, query, errcode):
    status, answer = get(wecom, "/cgi-bin/gettoken?" + query)
    assert status == 200
    assert answer["errcode"] == errcode
    assert "access_token" not in answer


def test_send_needs_a_valid_current_token(wecom):
    assert send(wecom, "", "alice")[1]["errcode"] == 41001
    assert send(wecom, "not-a-token", "alice")[1]["errcode"] == 40014
    tok = token(wecom)
    assert send(wecom, tok, "alice")[1]["errcode"] == 0
    wecom.control(expire_tokens=True)
    status, answer = send(wecom, tok, "alice")
    assert (status, answer["errcode"]) == (200, 42001)
    fresh = token(wecom)
    assert send(wecom, fresh, "alice", "again")[1]["errcode"] == 0
    wecom.control(revoke_tokens=True)
    assert send(wecom, fresh, "alice", "third")[1]["errcode"] == 40014


def test_gettoken_gives_the_same_token_while_it_is_valid(wecom):
    first = token(wecom)
    assert token(wecom) == first
    wecom.control(expire_tokens=True)
    second = token(wecom)
    assert second != first
    assert token(wecom) == second


def test_token_expires_after_its_lifetime(wecom):
    wecom.control(token_ttl=1)
    tok = token(wecom)
    assert send(wecom, tok, "alice")[1]["errcode"] == 0
    time.sleep(1.1)
    assert send(wecom, tok, "alice", "later")[1]["errcode"] == 42001


def test_send_checks_agent_msgtype_and_content(wecom):
    tok = token(wecom)
    body = {"touser": "alice", "msgtype": "text", "agentid": 1, "text": {"content": "x"}}
    assert post(wecom, "/cgi-bin/message/send?access_token=" + tok, body)[1]["errcode"] == 40056
    body.update(agentid=AGENT_ID, msgtype="markdown")
    assert post(wecom, "/cgi-bin/message/send?access_token=" + tok, body)[1]["errcode"] == 40008
    assert send(wecom, tok, "alice", "")[1]["errcode"] == 44004
    status, answer = post(wecom, "/cgi-bin/message/send?access_token=" + tok, b"{not json")
    assert (status, answer["errcode"]) == (200, 40035)
    assert wecom.messages() == []


def test_send_takes_at_most_1000_users(wecom):
    tok = token(wecom)
    assert send(wecom, tok, "|".join("u%d" % i for i in range(1001)))[1]["errcode"] == 40032
    assert wecom.messages() == []
    status, answer = send(wecom, tok, "|".join("u%d" % i for i in range(1000)))
    assert answer["errcode"] == 0 and answer["invaliduser"] == ""
    assert len(wecom.messages("delivered")) == 1000


def test_unknown_users_are_listed_lower_cased(wecom):
    wecom.control(users=["Alice", "bob"])
    tok = token(wecom)
    status, answer = send(wecom, tok, "ALICE|Ghost.One|bob|NoBody")
    assert status == 200
    assert answer["errcode"] == 0
    assert answer["invaliduser"] == "ghost.one|nobody"
    assert sorted(m["touser"] for m in wecom.messages("delivered")) == ["alice", "bob"]


def test_all_users_unknown_is_81013(wecom):
    wecom.control(users=["alice"])
    tok = token(wecom)
    status, answer = send(wecom, tok, "Ghost|Other")
    assert (status, answer["errcode"]) == (200, 81013)
    assert answer["invaliduser"] == "ghost|other"
    assert wecom.messages() == []


def test_unlicensed_users_are_reported_apart(wecom):
    wecom.control(unlicensed_users=["carol"])
    tok = token(wecom)
    answer = send(wecom, tok, "alice|Carol")[1]
    assert (answer["errcode"], answer["unlicenseduser"], answer["invaliduser"]) == (0, "carol", "")
    assert [m["touser"] for m in wecom.messages()] == ["alice"]


def test_text_over_2048_bytes_is_cut_silently(wecom):
    tok = token(wecom)
    text = "学" * 700  # 2,100 bytes of UTF-8
    assert send(wecom, tok, "alice", text)[1]["errcode"] == 0
    [msg] = wecom.messages()
    assert msg["truncated"] is True
    assert msg["content"] == "学" * 682  # 2,046 bytes: whole characters only
    assert msg["sent_bytes"] == 2100
    exact = "a" * 2048
    assert send(wecom, tok, "bob", exact)[1]["errcode"] == 0
    assert wecom.messages()[-1]["truncated"] is False


def test_duplicate_check_suppresses_a_repeat_within_the_interval(wecom):
    tok = token(wecom)
    dup = {"enable_duplicate_check": 1, "duplicate_check_interval": 1}
    for _ in range(2):
        assert send(wecom, tok, "alice", "same", **dup)[1]["errcode"] == 0
    assert send(wecom, tok, "bob", "same", **dup)[1]["errcode"] == 0
    assert [m["outcome"] for m in wecom.messages()] == ["delivered", "duplicate", "delivered"]
    time.sleep(1.1)
    send(wecom, tok, "alice", "same", **dup)
    send(wecom, tok, "alice", "same")  # without the check: delivered again
    assert [m["outcome"] for m in wecom.messages()][3:] == ["delivered", "delivered"]


def test_messages_past_30_a_minute_to_one_member_are_dropped(wecom):
    tok = token(wecom)
    for i in range(32):
        assert send(wecom, tok, "alice|bob" if i == 0 else "alice", "n%d" % i)[1]["errcode"] == 0
    outcomes = [m["outcome"] for m in wecom.messages() if m["touser"] == "alice"]
    assert outcomes == ["delivered"] * 30 + ["dropped"] * 2
    assert [m["outcome"] for m in wecom.messages() if m["touser"] == "bob"] == ["delivered"]


def test_pacing_window_is_configurable(wecom):
    wecom.control(rate_limit=2, rate_window_s=0.5)
    tok = token(wecom)
    for i in range(3):
        send(wecom, tok, "alice", "n%d" % i)
    time.sleep(0.6)
    send(wecom, tok, "alice", "n3")
    assert [m["outcome"] for m in wecom.messages()] == ["delivered", "delivered", "dropped",
                                                        "delivered"]


@pytest.mark.parametrize("errcode", [-1, 45009, 45033, 42001])
def test_injected_errcodes_answer_then_recover(wecom, errcode):
    tok = token(wecom)
    wecom.control(fail_next=2, errcode=errcode)
    assert send(wecom, tok, "alice", "a")[1]["errcode"] == errcode
    assert send(wecom, tok, "alice", "b")[1]["errcode"] == errcode
    assert send(wecom, tok, "alice", "c")[1]["errcode"] == 0
    assert [m["content"] for m in wecom.messages()] == ["c"]
    assert [r["response"]["errcode"] for r in wecom.requests("send")] == [errcode, errcode, 0]


def test_injected_http_status_and_dropped_connection(wecom):
    tok = token(wecom)
    wecom.control(fail_next=1, http_status=500)
    status, _ = send(wecom, tok, "alice")
    assert status == 500
    wecom.control(fail_next=1, drop_connection=True)
    with pytest.raises((urllib.error.URLError, ConnectionError, http_client_errors())):
        send(wecom, tok, "alice")
    assert send(wecom, tok, "alice", "after")[1]["errcode"] == 0
    assert [m["content"] for m in wecom.messages()] == ["after"]


def http_client_errors():
    import http.client

    return http.client.HTTPException


def test_injected_delay_and_faults_on_gettoken(wecom):
    wecom.control(fail_next=1, delay_ms=400, on="gettoken")
    started = time.time()
    token(wecom)
    assert time.time() - started >= 0.4
    wecom.control(fail_next=1, errcode=-1, on="gettoken")
    assert get(wecom, "/cgi-bin/gettoken?corpid=%s&corpsecret=%s" % (CORP_ID, SECRET))[1][
        "errcode"] == -1
    assert [r["kind"] for r in wecom.requests()] == ["gettoken", "gettoken"]


def test_records_keep_each_request_and_reset_clears_them(wecom):
    tok = token(wecom)
    send(wecom, tok, "alice|bob", "hi")
    reqs = wecom.requests()
    assert [r["kind"] for r in reqs] == ["gettoken", "send"]
    assert reqs[1]["body"]["touser"] == "alice|bob"
    assert reqs[1]["access_token"] == tok
    wecom.reset()
    assert wecom.records() == {"requests": [], "messages": []}


def test_counts_per_member_and_outcome_and_a_records_mode_of_counts_only(wecom):
    tok = token(wecom)
    dup = {"enable_duplicate_check": 1}
    send(wecom, tok, "alice|Bob", "hi", **dup)
    wecom.control(records="counts", rate_limit=1)
    send(wecom, tok, "alice|bob|carol", "hi", **dup)
    send(wecom, tok, "carol", "again")
    assert wecom.counts() == {"delivered": {"alice": 1, "bob": 1, "carol": 1},
                              "duplicate": {"alice": 1, "bob": 1}, "dropped": {"carol": 1}}
    # In counts mode no message is kept, and a request keeps its size, not its body.
    assert [m["touser"] for m in wecom.messages()] == ["alice", "bob"]
    reqs = wecom.requests("send")
    assert [r.get("recipients") for r in reqs] == [None, 3, 1]
    assert "body" not in reqs[1] and reqs[2]["response"]["errcode"] == 0
    assert wecom.control()["records"] == "counts"
    wecom.reset()
    assert wecom.counts() == {"delivered": {}, "duplicate": {}, "dropped": {}}


def test_wecom_over_tls_with_the_private_ca(servers, pki):
    double = servers.wecom(tls=(pki.cert, pki.key))
    ctx = ssl.create_default_context(cafile=pki.ca)
    url = double.url + "/cgi-bin/gettoken?corpid=%s&corpsecret=%s" % (CORP_ID, SECRET)
    with urllib.request.urlopen(url, context=ctx, timeout=10) as resp:
        assert json.loads(resp.read())["errcode"] == 0
    with pytest.raises(urllib.error.URLError) as err:
        urllib.request.urlopen(url, context=ssl.create_default_context(), timeout=10)
    assert "CERTIFICATE_VERIFY_FAILED" in str(err.value)


# ---------------------------------------------------------------- SMTP sink


def mail(to, subject="hi"):
    return ("From: office@school.example\r\nTo: %s\r\nSubject: %s\r\n\r\nbody\r\n"
            % (to, subject)).encode()


def test_smtp_sink_stores_envelope_and_raw_data(servers):
    sink = servers.smtp()
    with smtplib.SMTP("127.0.0.1", sink.port, timeout=10) as s:
        s.sendmail("office@school.example", ["a@x.example", "b@x.example"], mail("a@x.example"))
        s.sendmail("office@school.example", ["c@x.example"], mail("c@x.example", "second"))
    mails = sink.mails()
    assert [m["rcpt_tos"] for m in mails] == [["a@x.example", "b@x.example"], ["c@x.example"]]
    assert mails[0]["mail_from"] == "office@school.example"
    assert mails[1]["msg"]["Subject"] == "second"
    assert mails[0]["raw"].endswith(b"body\r\n")
    assert mails[0]["tls"] is False
    assert mails[0]["connection"] == mails[1]["connection"]
    with smtplib.SMTP("127.0.0.1", sink.port, timeout=10) as s:
        s.sendmail("office@school.example", ["d@x.example"], mail("d@x.example"))
    assert sink.mails()[2]["connection"] != mails[0]["connection"]


def test_smtp_sink_refuses_listed_recipients_with_550(servers):
    sink = servers.smtp("--refuse-rcpt", "gone@x.example", "--tempfail-rcpt", "busy@x.example")
    with smtplib.SMTP("127.0.0.1", sink.port, timeout=10) as s:
        s.ehlo()
        s.mail("office@school.example")
        assert s.rcpt("gone@x.example")[0] == 550
        assert s.rcpt("busy@x.example")[0] == 451
        assert s.rcpt("ok@x.example")[0] == 250
        assert s.data(mail("ok@x.example"))[0] == 250
    assert [m["rcpt_tos"] for m in sink.mails()] == [["ok@x.example"]]
    assert [e["event"] for e in sink.events()] == ["rcpt_refused", "rcpt_tempfail"]


def test_smtp_sink_requires_starttls_and_serves_the_private_ca(servers, pki):
    sink = servers.smtp("--starttls", "--tls-cert", pki.cert, "--tls-key", pki.key)
    with smtplib.SMTP("127.0.0.1", sink.port, timeout=10) as s:
        s.ehlo()
        assert s.has_extn("starttls")
        assert s.mail("office@school.example")[0] == 530  # STARTTLS first
    with smtplib.SMTP("127.0.0.1", sink.port, timeout=10) as s:
        s.starttls(context=ssl.create_default_context(cafile=pki.ca))
        s.sendmail("office@school.example", ["a@x.example"], mail("a@x.example"))
    with smtplib.SMTP("127.0.0.1", sink.port, timeout=10) as s:
        with pytest.raises(ssl.SSLCertVerificationError):
            s.starttls(context=ssl.create_default_context())
    assert [m["tls"] for m in sink.mails()] == [True]


def test_smtp_sink_implicit_tls_with_wrong_host_certificate(servers, pki):
    sink = servers.smtp("--implicit-tls", "--tls-cert", pki.wrong_cert, "--tls-key",
                        pki.wrong_key)
    ctx = ssl.create_default_context(cafile=pki.ca)
    with pytest.raises(ssl.SSLCertVerificationError) as err:
        smtplib.SMTP_SSL("127.0.0.1", sink.port, context=ctx, timeout=10)
    assert "mismatch" in str(err.value) or "match" in str(err.value)
    insecure = ssl.create_default_context(cafile=pki.ca)
    insecure.check_hostname = False
    with smtplib.SMTP_SSL("127.0.0.1", sink.port, context=insecure, timeout=10) as s:
        s.sendmail("office@school.example", ["a@x.example"], mail("a@x.example"))
    assert [m["tls"] for m in sink.mails()] == [True]


def test_smtp_sink_requires_auth_with_the_given_credentials(servers):
    sink = servers.smtp("--auth-user", "office", "--auth-password", "s3cret")
    with smtplib.SMTP("127.0.0.1", sink.port, timeout=10) as s:
        s.ehlo()
        assert s.mail("office@school.example")[0] == 530
        with pytest.raises(smtplib.SMTPAuthenticationError):
            s.login("office", "wrong")
    with smtplib.SMTP("127.0.0.1", sink.port, timeout=10) as s:
        s.login("office", "s3cret")
        s.sendmail("office@school.example", ["a@x.example"], mail("a@x.example"))
    assert [m["auth_user"] for m in sink.mails()] == ["office"]
    # smtplib tries each mechanism the server offers (PLAIN, LOGIN) before giving up.
    assert [e["event"] for e in sink.events()] == ["auth_refused", "auth_refused"]


def test_smtp_sink_can_refuse_the_greeting(servers):
    sink = servers.smtp("--refuse-greeting")
    with pytest.raises(smtplib.SMTPConnectError) as err:
        smtplib.SMTP("127.0.0.1", sink.port, timeout=10)
    assert err.value.smtp_code == 554
    assert sink.mails() == []


def test_smtp_sink_can_drop_the_connection_mid_data(servers):
    sink = servers.smtp("--drop-mid-data")
    s = smtplib.SMTP("127.0.0.1", sink.port, timeout=10)
    with pytest.raises((smtplib.SMTPServerDisconnected, ConnectionError, socket.error)):
        s.sendmail("office@school.example", ["a@x.example"], mail("a@x.example") * 200)
    time.sleep(0.2)
    assert sink.mails() == []
    assert [e["event"] for e in sink.events()] == ["dropped_mid_data"]
