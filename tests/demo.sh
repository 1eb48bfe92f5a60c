#!/usr/bin/env bash
# `make demo`: a sample school sends real messages through the whole path.
#
# Starts a throwaway cluster with the library preloaded, loads the sample school,
# starts the WeCom API double and the SMTP sink on 127.0.0.1, points the channels
# at them, sends a few realistic messages, waits until the dispatcher has settled
# every delivery, and prints the dashboard and the errors. Everything it starts
# is stopped when it ends, however it ends.
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
cd "$here"
python=/usr/bin/python3
work="$(mktemp -d /tmp/mis_messaging_demo.XXXXXX)"
chmod 755 "$work"
pids=()

cleanup() {
    for pid in "${pids[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${pids[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    bash tests/cluster.sh stop "$work/cluster" || true
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

# Waits for a test server to write the port it listens on.
wait_port() {
    local file="$1"
    for _ in $(seq 1 100); do
        [ -s "$file" ] && { cat "$file"; return; }
        sleep 0.05
    done
    echo "a test server did not start" >&2
    return 1
}

say "Throwaway PostgreSQL cluster with mis_messaging preloaded"
MIS_EXTRA_CONF="messaging.retry_delay = 2000
messaging.max_attempts = 3" bash tests/cluster.sh start "$work/cluster" mis_demo
# shellcheck disable=SC1091
source "$work/cluster/env"
sql() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }
sql -c 'CREATE EXTENSION mis_messaging'
echo "cluster in $MIS_CLUSTER, database $PGDATABASE"

say "Sample school"
sql -f tests/sample_school.sql

say "WeCom API double and SMTP server on 127.0.0.1"
mkdir -p "$work/wecom" "$work/smtp"
"$python" tests/servers/wecom_double.py --port-file "$work/wecom/port" \
    --corp-id ww-riverside --secret demo-secret --agent-id 1000002 \
    --records "$work/wecom/records.jsonl" >/dev/null &
pids+=($!)
"$python" tests/servers/smtp_sink.py --store "$work/smtp" --port-file "$work/smtp/port" \
    >/dev/null &
pids+=($!)
wecom_port="$(wait_port "$work/wecom/port")"
smtp_port="$(wait_port "$work/smtp/port")"
echo "WeCom API double on 127.0.0.1:$wecom_port, SMTP server on 127.0.0.1:$smtp_port"

# One parent of Form 7A has left the school's WeCom account since the MIS was
# last synced: the API will report that user id as invalid.
left="$(sql -At -c "SELECT lower(p.wechat_userid)
    FROM messaging.person_group g
    JOIN messaging.group_member m USING (group_id)
    JOIN messaging.relationship r ON r.pupil_id = m.person_id
    JOIN messaging.person p ON p.person_id = r.contact_id
    WHERE g.kind = 'pupil' AND g.group_type = 'Form' AND g.name = '7A'
      AND p.wechat_userid IS NOT NULL AND NOT p.disabled
    ORDER BY p.person_id LIMIT 1")"
"$python" - "$wecom_port" "$left" <<'PY'
import json, sys, urllib.request

url = "http://127.0.0.1:%s/_control" % sys.argv[1]
body = json.dumps({"invalid_users": [sys.argv[2]]}).encode()
urllib.request.urlopen(urllib.request.Request(url, data=body, method="POST"), timeout=10)
PY

say "Channels"
sql -v wecom="http://127.0.0.1:$wecom_port" -v smtp="smtp://127.0.0.1:$smtp_port" <<'SQL'
\o /dev/null
SELECT messaging.configure_wecom('ww-riverside', 1000002, 'demo-secret', :'wecom');
-- The sink is a relay on a trusted network (loopback): no STARTTLS.
SELECT messaging.configure_smtp(:'smtp', 'Riverside School Office <office@example.org>',
                                NULL, NULL, false);
\o
\pset border 2
SELECT channel, configured, endpoint, identity, secret_set FROM messaging.channel_settings;
SQL

say "Sending"
sql <<'SQL'
\pset border 2
\pset title 'Form 7A pupils and their parents, over WeChat and email'
SELECT channel, recipients, flagged
FROM messaging.send(
    'Year 7 trip to the Science Museum',
    E'The Year 7 trip to the Science Museum is on Thursday 12 March.\n'
    'Please return the signed consent form to your form tutor by Friday.\n'
    '科学博物馆参观活动定于3月12日（星期四），请于本周五前将签好的回执交给班主任。',
    ARRAY(SELECT person_id FROM messaging.search_by_group(
              (SELECT group_id FROM messaging.groups('pupil', 'Form') WHERE name = '7A'))),
    ARRAY['wechat', 'email']::messaging.channel[],
    include_associations => true,
    request_key => 'demo-7a-trip');

\pset title 'Staff alert to the Senior Leadership Team, also over WeChat'
SELECT channel, recipients, flagged
FROM messaging.send(
    'Fire drill at 10:15',
    'There will be a fire drill at 10:15 today. Please lead your classes to the field.',
    ARRAY(SELECT person_id FROM messaging.search_by_group(
              (SELECT group_id FROM messaging.groups('staff', 'Staff Custom Group')
               WHERE name = 'Senior Leadership Team'))),
    ARRAY['alert', 'wechat']::messaging.channel[]);

\pset title 'The Year 9 Paris trip group with mothers and guardians (some not registered)'
-- A long notice in Chinese: over the 2,048 bytes one WeCom text may carry, so it
-- reaches WeChat in numbered parts.
SELECT channel, recipients, flagged
FROM messaging.send(
    '关于九年级巴黎游学行前说明会的通知：时间地点、行程安排、行李清单、护照与签证材料、'
    '旅行保险、费用缴纳方式、家长同意书、紧急联系人、学生安全守则及出发当天集合安排等事项的说明',
    left(repeat('九年级巴黎游学行前说明会将于下周二晚上七点在学校礼堂举行，请学生和家长准时参加。'
                '会上将介绍行程安排、住宿与饮食、安全守则和紧急联系方式，并回答家长的问题。'
                '请携带护照复印件和已签字的家长同意书。', 7), 600),
    ARRAY(SELECT person_id FROM messaging.search_by_group(
              (SELECT group_id FROM messaging.groups('pupil', 'Pupil Custom Group')
               WHERE name = 'Year 9 Paris Trip'))),
    ARRAY['wechat', 'email']::messaging.channel[],
    relationships => ARRAY['Mother', 'Guardian']);
SQL

say "Waiting for the dispatcher"
for i in $(seq 1 240); do
    pending="$(sql -At -c "SELECT count(*) FROM messaging.delivery
                            WHERE status IN ('not_started', 'processing')")"
    [ "$pending" -eq 0 ] && break
    [ $((i % 20)) -eq 0 ] && echo "$pending deliveries still queued or in flight"
    sleep 0.5
done
[ "$pending" -eq 0 ] || echo "gave up waiting: $pending deliveries not settled"

say "Dashboard"
sql <<'SQL'
\pset border 2
-- Subjects cut to fit the screen (Chinese characters are twice as wide).
SELECT dispatch_id AS id, message_type AS channel,
       CASE WHEN length(subject) <= 34 AND octet_length(subject) = length(subject) THEN subject
            WHEN octet_length(subject) = length(subject) THEN left(subject, 33) || '…'
            ELSE left(subject, 16) || '…' END AS subject,
       messages, not_started, processing, complete, failed, has_error
FROM messaging.dashboard ORDER BY dispatch_id;
SQL

say "Errors, by reason"
sql <<'SQL'
\pset border 2
SELECT d.dispatch_id AS id, d.message_type AS channel, e.error, count(*) AS deliveries
FROM messaging.dashboard d, LATERAL messaging.errors(d.dispatch_id) e
GROUP BY 1, 2, 3 ORDER BY 1, 4 DESC, 3;
\pset title 'A few of them, as the office sees them'
SELECT d.dispatch_id AS id, e.display_name, e.address, e.error, e.attempts
FROM messaging.dashboard d, LATERAL messaging.errors(d.dispatch_id) e
ORDER BY e.attempts DESC, d.dispatch_id, e.display_name LIMIT 8;
SQL

say "What the services received"
"$python" - "$work" <<'PY'
import base64, json, sys
from email import message_from_bytes, policy

work = sys.argv[1]


def lines(path):
    try:
        with open(path, encoding="utf-8") as f:
            return [json.loads(line) for line in f if line.strip()]
    except FileNotFoundError:
        return []


outcomes = {}
records = lines(work + "/wecom/records.jsonl")
calls = [r["request"] for r in records if "request" in r]
messages = [r["message"] for r in records if "message" in r]
for m in messages:
    outcomes[m["outcome"]] = outcomes.get(m["outcome"], 0) + 1
print("WeCom API: %d gettoken, %d message/send calls; messages %s"
      % (sum(c["kind"] == "gettoken" for c in calls), sum(c["kind"] == "send" for c in calls),
         ", ".join("%s %d" % kv for kv in sorted(outcomes.items())) or "none"))
firsts = [m for m in messages if m["content"].startswith("(1/")]
if firsts:
    n = firsts[0]["content"][3:].split(")")[0]
    print("the long notice reached %d people in %s numbered parts each, the first starting: %s…"
          % (len(firsts), n, firsts[0]["content"][:24]))
mails = lines(work + "/smtp/mails.jsonl")
print("SMTP server: %d mails" % len(mails))
if mails:
    msg = message_from_bytes(base64.b64decode(mails[0]["data_b64"]), policy=policy.default)
    print("the first one:")
    for name in ("From", "To", "Subject", "Date", "Message-ID"):
        print("  %-11s %s" % (name + ":", msg[name]))
PY
echo
echo "Done: everything the demo started is being stopped."
