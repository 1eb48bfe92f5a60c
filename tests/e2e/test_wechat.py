"""WeChat deliveries end to end: send() in SQL, the dispatcher, the WeCom API double."""

import collections

import pytest

from conftest import (
    DISABLED, INVALID_USER, NOT_REGISTERED, UNLICENSED, WECOM_BUSY, WECOM_CREDENTIALS,
    member_name)

# A form: three registered parents (WeCom ids in mixed case, as schools type them),
# one parent not registered for WeChat, one disabled account.
FORM = [
    {"person_id": 1, "display_name": "王小明", "wechat_userid": "WangXiaoMing"},
    {"person_id": 2, "display_name": "Ann Smith-Jones", "wechat_userid": "ann.smith"},
    {"person_id": 3, "display_name": "李华", "wechat_userid": "LiHua"},
    {"person_id": 4, "display_name": "John Smith", "wechat_userid": None},
    {"person_id": 5, "display_name": "Old Account", "wechat_userid": "old.one",
     "disabled": True},
]


@pytest.fixture
def wechat(mis, wecom):
    """The form in the directory and WeChat pointed at the double."""
    mis.require("send", "worker", "configure_wecom")
    mis.add_people(FORM)
    mis.configure_wecom(wecom.url)
    return mis


def delivered_to(wecom):
    """How many messages each member saw, by WeCom user id (lower-cased, untagged)."""
    return collections.Counter(member_name(m["touser"]) for m in wecom.messages("delivered"))


def test_every_delivery_is_accounted_for_with_exact_reasons(wechat, wecom):
    rows = wechat.send("Trip forms are due on Friday.", [1, 2, 3, 4, 5], ["wechat"],
                       subject="Year 7 trip")
    assert [(r["channel"], r["recipients"], r["flagged"]) for r in rows] == [("wechat", 5, 2)]
    [dispatch] = wechat.dispatch_ids(rows)
    wechat.wait_settled([dispatch])

    got = wechat.deliveries(dispatch)
    assert {p: (d["status"], d["attempts"], d["error"]) for p, d in got.items()} == {
        1: ("complete", 1, None),
        2: ("complete", 1, None),
        3: ("complete", 1, None),
        4: ("failed", 0, NOT_REGISTERED),
        5: ("failed", 0, DISABLED),
    }
    assert {p: got[p]["address"] for p in (1, 2, 3)} == {
        1: wechat.member("WangXiaoMing"), 2: wechat.member("ann.smith"),
        3: wechat.member("LiHua")}

    # One message each for the three reachable people, none for the others.
    assert delivered_to(wecom) == {"wangxiaoming": 1, "ann.smith": 1, "lihua": 1}
    [msg] = {m["content"] for m in wecom.messages()}
    assert msg == "Year 7 trip\n\nTrip forms are due on Friday."
    [send_call] = wecom.requests("send")
    body = send_call["body"]
    assert sorted(member_name(u) for u in body["touser"].split("|")) == [
        "LiHua", "WangXiaoMing", "ann.smith"]
    assert body["msgtype"] == "text" and body["agentid"] == 1000002
    assert body["enable_duplicate_check"] == 1
    assert wechat.status_counts(dispatch) == {"complete": 3, "failed": 2}


def test_a_message_without_subject_is_the_body_alone(wechat, wecom):
    rows = wechat.send("School closes at noon.", [2], ["wechat"])
    wechat.wait_settled(wechat.dispatch_ids(rows))
    assert [m["content"] for m in wecom.messages("delivered")] == ["School closes at noon."]


def test_dashboard_counts_add_up(wechat, wecom):
    wechat.require("dashboard")
    rows = wechat.send("Counts", [1, 2, 3, 4, 5], ["wechat"])
    [dispatch] = wechat.dispatch_ids(rows)
    wechat.wait_settled([dispatch])
    [row] = wechat.q("SELECT * FROM messaging.dashboard WHERE dispatch_id = %s", (dispatch,))
    assert (row["messages"], row["not_started"], row["processing"], row["complete"],
            row["failed"], row["has_error"]) == (5, 0, 0, 3, 2, True)
    assert row["message_type"] == "Weixin / WeChat"


def test_one_token_serves_many_sends(wechat, wecom):
    dispatches = []
    for i in range(4):
        dispatches += wechat.dispatch_ids(wechat.send("Notice %d" % i, [1, 2, 3], ["wechat"]))
        wechat.wait_settled(dispatches)
    assert len(wecom.requests("gettoken")) == 1
    sends = wecom.requests("send")
    assert len(sends) == 4
    assert len({s["access_token"] for s in sends}) == 1
    assert sum(delivered_to(wecom).values()) == 12


def test_an_expired_token_is_refreshed_once(wechat, wecom):
    first = wechat.dispatch_ids(wechat.send("Before", [1, 2, 3], ["wechat"]))
    wechat.wait_settled(first)
    wecom.control(expire_tokens=True)
    second = wechat.dispatch_ids(wechat.send("After", [1, 2, 3], ["wechat"]))
    wechat.wait_settled(second)

    assert wechat.status_counts(second[0]) == {"complete": 3}
    assert len(wecom.requests("gettoken")) == 2
    codes = [r["response"]["errcode"] for r in wecom.requests("send")]
    assert codes == [0, 42001, 0]
    assert delivered_to(wecom) == {"wangxiaoming": 2, "ann.smith": 2, "lihua": 2}


def test_a_revoked_token_is_refreshed_once(wechat, wecom):
    wechat.wait_settled(wechat.dispatch_ids(wechat.send("One", [1], ["wechat"])))
    wecom.control(revoke_tokens=True)
    second = wechat.dispatch_ids(wechat.send("Two", [1], ["wechat"]))
    wechat.wait_settled(second)
    assert wechat.status_counts(second[0]) == {"complete": 1}
    assert len(wecom.requests("gettoken")) == 2
    assert [r["response"]["errcode"] for r in wecom.requests("send")] == [0, 40014, 0]


def test_invalid_user_fails_only_that_person(wechat, wecom):
    # ann.smith has left the school's WeCom account.
    wecom.control(users=[wechat.member("wangxiaoming"), wechat.member("lihua")])
    rows = wechat.send("Parents evening", [1, 2, 3], ["wechat"])
    [dispatch] = wechat.dispatch_ids(rows)
    wechat.wait_settled([dispatch])
    got = wechat.deliveries(dispatch)
    assert [(got[p]["status"], got[p]["attempts"]) for p in (1, 2, 3)] == [
        ("complete", 1), ("failed", 1), ("complete", 1)]
    assert got[2]["error"] == INVALID_USER
    assert len(wecom.requests("send")) == 1  # a permanent failure: no retry
    assert delivered_to(wecom) == {"wangxiaoming": 1, "lihua": 1}


def test_unlicensed_user_fails_only_that_person(wechat, wecom):
    wecom.control(unlicensed_users=[wechat.member("lihua")])
    [dispatch] = wechat.dispatch_ids(wechat.send("Licence", [1, 3], ["wechat"]))
    wechat.wait_settled([dispatch])
    got = wechat.deliveries(dispatch)
    assert (got[1]["status"], got[3]["status"]) == ("complete", "failed")
    assert got[3]["error"] == UNLICENSED
    assert len(wecom.requests("send")) == 1


def test_all_users_invalid_fails_them_at_once(wechat, wecom):
    wecom.control(users=["someone.else"])
    [dispatch] = wechat.dispatch_ids(wechat.send("Nobody", [1, 2, 3], ["wechat"]))
    wechat.wait_settled([dispatch])
    got = wechat.deliveries(dispatch)
    assert {(d["status"], d["attempts"]) for d in got.values()} == {("failed", 1)}
    assert {d["error"] for d in got.values()} == {INVALID_USER}
    assert [r["response"]["errcode"] for r in wecom.requests("send")] == [81013]
    assert wecom.messages() == []


def test_a_long_chinese_message_arrives_whole_in_numbered_parts(wechat, wecom):
    subject = "运动会" * 33 + "通"  # 100 characters
    body = ("请家长于本周五之前签字并交回回执，谢谢合作。" * 28)[:600]  # 600 characters
    assert len(subject) == 100 and len(body) == 600
    text = subject + "\n\n" + body
    assert len(text.encode()) > 2048

    [dispatch] = wechat.dispatch_ids(wechat.send(body, [1, 3], ["wechat"], subject=subject))
    wechat.wait_settled([dispatch])
    assert wechat.status_counts(dispatch) == {"complete": 2}

    for member in ("wangxiaoming", "lihua"):
        parts = [m for m in wecom.messages() if member_name(m["touser"]) == member]
        assert all(m["outcome"] == "delivered" and not m["truncated"] for m in parts)
        assert all(m["sent_bytes"] <= 2048 for m in parts)
        n = len(parts)
        assert n == 2
        rebuilt = ""
        for k, part in enumerate(parts, start=1):
            prefix = "(%d/%d) " % (k, n)
            assert part["content"].startswith(prefix)
            rebuilt += part["content"][len(prefix):]
        assert rebuilt == text


def test_a_text_of_exactly_2048_bytes_is_sent_in_one_piece(wechat, wecom):
    body = "\U0001F600" * 482 + "学" + "a" * 117  # 600 characters, 2,048 bytes
    assert (len(body), len(body.encode())) == (600, 2048)
    [dispatch] = wechat.dispatch_ids(wechat.send(body, [1], ["wechat"]))
    wechat.wait_settled([dispatch])
    assert [(m["content"], m["truncated"]) for m in wecom.messages()] == [(body, False)]


def test_a_text_of_2049_bytes_is_split_in_two(wechat, wecom):
    body = "\U0001F600" * 483 + "a" * 117  # 600 characters, 2,049 bytes
    assert (len(body), len(body.encode())) == (600, 2049)
    [dispatch] = wechat.dispatch_ids(wechat.send(body, [1], ["wechat"]))
    wechat.wait_settled([dispatch])
    parts = [m["content"] for m in wecom.messages("delivered")]
    assert [p[:6] for p in parts] == ["(1/2) ", "(2/2) "]
    assert parts[0][6:] + parts[1][6:] == body
    assert wechat.status_counts(dispatch) == {"complete": 1}


def test_more_than_1000_recipients_are_sent_in_calls_of_at_most_1000(wechat, wecom):
    ids = wechat.add_many(10001, 1205)
    [dispatch] = wechat.dispatch_ids(wechat.send("Whole school", ids, ["wechat"]))
    wechat.wait_settled([dispatch], timeout=60)
    assert wechat.status_counts(dispatch) == {"complete": 1205}
    sends = wecom.requests("send")
    sizes = [len(s["body"]["touser"].split("|")) for s in sends]
    assert max(sizes) <= 1000 and sum(sizes) == 1205
    assert len(sends) == 2
    assert delivered_to(wecom) == {"user%d" % i: 1 for i in ids}


@pytest.mark.parametrize("errcode", [-1, 45009, 45033])
def test_busy_and_limits_are_retried_then_complete(wechat, wecom, errcode):
    wechat.set_params(max_attempts=5)
    wecom.control(fail_next=2, errcode=errcode)
    [dispatch] = wechat.dispatch_ids(wechat.send("Retry me", [1, 2], ["wechat"]))
    wechat.wait_settled([dispatch])
    got = wechat.deliveries(dispatch)
    assert {(d["status"], d["attempts"], d["error"]) for d in got.values()} == {
        ("complete", 3, None)}
    assert [r["response"]["errcode"] for r in wecom.requests("send")] == [errcode, errcode, 0]
    assert delivered_to(wecom) == {"wangxiaoming": 1, "ann.smith": 1}


def test_busy_beyond_max_attempts_fails_with_the_last_reason(wechat, wecom):
    wecom.control(fail_next=50, errcode=-1)
    [dispatch] = wechat.dispatch_ids(wechat.send("Never", [1], ["wechat"]))
    wechat.wait_settled([dispatch])
    [d] = wechat.deliveries(dispatch).values()
    assert (d["status"], d["attempts"], d["error"]) == ("failed", 3, WECOM_BUSY)
    assert len(wecom.requests("send")) == 3
    assert wecom.messages() == []


def test_wrong_secret_fails_with_a_configuration_reason_and_no_storm(mis, wecom):
    mis.require("send", "worker", "configure_wecom")
    mis.add_people(FORM)
    mis.configure_wecom(wecom.url, secret="wrong-secret")
    log_before = len(mis.cluster.server_log())
    [dispatch] = mis.dispatch_ids(mis.send("Hello", [1, 2, 3], ["wechat"]))
    mis.wait_settled([dispatch])
    # One LOG line for the DBA for the batch, not one per delivery.
    log = mis.cluster.server_log()[log_before:].splitlines()
    assert len([line for line in log if " LOG: " in line and WECOM_CREDENTIALS in line]) == 1
    assert "wrong-secret" not in "\n".join(log)
    got = mis.deliveries(dispatch)
    assert {d["status"] for d in got.values()} == {"failed"}
    assert {d["error"] for d in got.values()} == {WECOM_CREDENTIALS}
    # One batch: one token request (at most one more for the single refresh), no sends.
    assert len(wecom.requests("gettoken")) in (1, 2)
    assert wecom.requests("send") == []


def test_wrong_corp_id_fails_with_a_configuration_reason(mis, wecom):
    mis.require("send", "worker", "configure_wecom")
    mis.add_people(FORM)
    mis.configure_wecom(wecom.url, corp_id="ww-someone-else")
    [dispatch] = mis.dispatch_ids(mis.send("Hello", [1, 2], ["wechat"]))
    mis.wait_settled([dispatch])
    got = mis.deliveries(dispatch)
    assert {(d["status"], d["error"]) for d in got.values()} == {("failed", WECOM_CREDENTIALS)}
    assert wecom.requests("send") == []


def test_no_wecom_configuration_fails_with_a_reason(mis):
    mis.require("send", "worker")
    mis.add_people(FORM)
    [dispatch] = mis.dispatch_ids(mis.send("Hello", [1], ["wechat"]))
    mis.wait_settled([dispatch])
    [d] = mis.deliveries(dispatch).values()
    assert d["status"] == "failed" and d["attempts"] == 0
    assert "wechat" in d["error"].lower() and "configured" in d["error"]


def test_a_rerun_reaches_people_again_despite_the_duplicate_check(wechat, wecom):
    wechat.require("rerun")
    [dispatch] = wechat.dispatch_ids(wechat.send("Once more", [1, 2], ["wechat"]))
    wechat.wait_settled([dispatch])
    assert wechat.one("SELECT messaging.rerun(%s, false)", (dispatch,)) == 2
    wechat.wait_settled([dispatch])
    assert wechat.status_counts(dispatch) == {"complete": 2}
    assert delivered_to(wecom) == {"wangxiaoming": 2, "ann.smith": 2}
    assert wecom.messages("duplicate") == []


def test_a_member_gets_more_than_30_messages_in_a_minute_without_drops(wechat, wecom):
    # A member of its own: the dispatcher's pacing remembers members across tests.
    wechat.add_people([{"person_id": 9, "display_name": "Busy Parent",
                        "wechat_userid": "Busy.Parent"}])
    dispatches = []
    for i in range(32):
        dispatches += wechat.dispatch_ids(wechat.send("Notice %d" % i, [9], ["wechat"]))
    wechat.wait_settled(dispatches, timeout=120)
    assert wecom.messages("dropped") == []
    contents = [m["content"] for m in wecom.messages("delivered")]
    assert sorted(contents) == sorted("Notice %d" % i for i in range(32))
    assert all(wechat.status_counts(d) == {"complete": 1} for d in dispatches)
