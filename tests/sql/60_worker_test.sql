-- The dispatcher's parameters, its status view, and the queue functions it
-- calls to claim deliveries, record their results and recover after a crash.
BEGIN;
SELECT plan(56);

-- Parameters: only the dispatcher reads them, so a session SET is refused.
SELECT throws_ok('SET messaging.database = ''other''', '55P02', NULL,
                 'messaging.database cannot be SET in a session');
SELECT throws_ok('SET messaging.enabled = off', '55P02', NULL,
                 'messaging.enabled cannot be SET in a session');
SELECT throws_ok('SET messaging.batch_size = 5', '55P02', NULL,
                 'messaging.batch_size cannot be SET in a session');
SELECT throws_ok('SET messaging.max_connections = 2', '55P02', NULL,
                 'messaging.max_connections cannot be SET in a session');
SELECT throws_ok('SET messaging.request_timeout = ''5s''', '55P02', NULL,
                 'messaging.request_timeout cannot be SET in a session');
SELECT throws_ok('SET messaging.max_attempts = 2', '55P02', NULL,
                 'messaging.max_attempts cannot be SET in a session');
SELECT throws_ok('SET messaging.retry_delay = ''1s''', '55P02', NULL,
                 'messaging.retry_delay cannot be SET in a session');
SELECT throws_ok('SET messaging.ca_file = ''/tmp/ca.pem''', '55P02', NULL,
                 'messaging.ca_file cannot be SET in a session');
SELECT throws_ok('SET LOCAL messaging.batch_size = 5', '55P02', NULL,
                 'SET LOCAL of a dispatcher parameter is refused too');
SELECT throws_ok('SET messaging.bach_size = 5', '42602', NULL,
                 'a misspelt messaging.* parameter is an error, not a placeholder');

SELECT lives_ok('SET LOCAL messaging.sender = ''j.smith''',
                'messaging.sender is a per-request setting any session may SET');
SELECT is(current_setting('messaging.sender'), 'j.smith', 'messaging.sender keeps its value');

SELECT results_eq(
    $$SELECT name::text, boot_val, unit, context::text FROM pg_settings
      WHERE name LIKE 'messaging.%' ORDER BY name$$,
    $$VALUES ('messaging.batch_size', '1000', NULL, 'sighup'),
             ('messaging.ca_file', '', NULL, 'sighup'),
             ('messaging.database', 'postgres', NULL, 'postmaster'),
             ('messaging.enabled', 'on', NULL, 'sighup'),
             ('messaging.max_attempts', '5', NULL, 'sighup'),
             ('messaging.max_connections', '8', NULL, 'sighup'),
             ('messaging.request_timeout', '10000', 'ms', 'sighup'),
             ('messaging.retry_delay', '30000', 'ms', 'sighup'),
             ('messaging.sender', '', NULL, 'user')$$,
    'every parameter with its default, unit and context');

-- The status view shows the one dispatcher, which serves this database.
SELECT is((SELECT count(*) FROM messaging.worker_status), 1::bigint,
          'worker_status has one row while the dispatcher runs');
SELECT is((SELECT database FROM messaging.worker_status), current_database()::text,
          'the dispatcher serves messaging.database');
SELECT is((SELECT w.pid FROM messaging.worker_status w
           JOIN pg_stat_activity a ON a.pid = w.pid
           WHERE a.backend_type = 'mis_messaging dispatcher' AND a.datname = current_database()),
          (SELECT pid FROM messaging.worker_status),
          'its pid is the dispatcher in pg_stat_activity');
SELECT ok((SELECT started_at <= last_heartbeat_at AND last_heartbeat_at <= clock_timestamp()
           FROM messaging.worker_status),
          'the heartbeat is not older than the start');
SELECT is((SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'mis_messaging launcher'),
          1::bigint, 'the launcher shows in pg_stat_activity');
SELECT is(has_table_privilege('messaging_sender', 'messaging.worker_status', 'SELECT'), false,
          'senders cannot read worker_status');
SELECT is(has_table_privilege('messaging_admin', 'messaging.worker_status', 'SELECT'), true,
          'administrators can read worker_status');
SET LOCAL ROLE messaging_admin;
SELECT is((SELECT count(*) FROM messaging.worker_status), 1::bigint,
          'an administrator sees the dispatcher');
RESET ROLE;
SET LOCAL ROLE messaging_sender;
SELECT throws_ok('SELECT * FROM messaging.worker_status', '42501', NULL,
                 'a sender is refused worker_status');
RESET ROLE;

-- Only the dispatcher may call the queue functions.
SELECT is(has_function_privilege('messaging_admin', 'messaging._claim_deliveries(integer)',
                                 'EXECUTE'), false, 'no one else may claim deliveries');
SELECT is(has_function_privilege('messaging_admin', 'messaging._record_deliveries(bigint[],
          text[], text[], boolean[], bigint[], integer, bigint)', 'EXECUTE'), false,
          'no one else may record results');
SELECT is(has_function_privilege('messaging_admin', 'messaging._requeue_in_flight()', 'EXECUTE'),
          false, 'no one else may requeue deliveries');
SELECT is(has_function_privilege('messaging_sender', 'messaging._wake_dispatcher()', 'EXECUTE'),
          false, 'senders cannot wake the dispatcher at will');
SELECT lives_ok('SELECT messaging._wake_dispatcher()', 'the owner may wake the dispatcher');

-- A small queue. The rows stay uncommitted, so the running dispatcher never
-- sees them; the tests call the queue functions themselves.
INSERT INTO messaging.person (person_id, kind, display_name, email, wechat_userid, disabled)
VALUES (901, 'staff', 'Ann Lee', ' ann@school.example ', 'ann.lee', false),
       (902, 'pupil', 'Bo Chen', NULL, '  ', false),
       (903, 'contact', 'Cai Wu', 'cai@home.example', 'caiwu', true),
       (904, 'staff', 'Dee Roy', 'dee@school.example', 'dee.roy', false);
INSERT INTO messaging.message (message_id, subject, body, sent_by)
VALUES (9001, 'Trip', 'The bus leaves at 8.', 'tester');
INSERT INTO messaging.dispatch (dispatch_id, message_id, channel, sent_by)
VALUES (9101, 9001, 'wechat', 'tester'), (9102, 9001, 'email', 'tester'),
       (9103, 9001, 'alert', 'tester');
INSERT INTO messaging.delivery (delivery_id, dispatch_id, person_id, next_attempt_at)
VALUES (99001, 9101, 901, now()), (99002, 9101, 902, now()), (99003, 9102, 903, now()),
       (99004, 9103, 901, now()), (99005, 9103, 902, now()), (99006, 9101, 904, now()),
       (99007, 9102, 901, now()), (99008, 9103, 904, now() + interval '1 hour'),
       (99009, 9103, 905, now());
INSERT INTO messaging.wecom_config (corp_id, agent_id, secret, api_base)
VALUES ('ww-test', 1000002, 'not-a-real-secret', 'http://127.0.0.1:9');

SELECT is(messaging._next_due_in(), 0::bigint, 'a delivery is due now');

CREATE TEMP TABLE claimed AS SELECT * FROM messaging._claim_deliveries(5);
SELECT results_eq(
    $$SELECT delivery_id, channel::text, address, problem, configuration_problem
      FROM claimed ORDER BY delivery_id$$,
    $$VALUES (99001::bigint, 'wechat', 'ann.lee', NULL::text, false),
             (99002, 'wechat', NULL, 'not registered for WeChat: ask them to register', false),
             (99003, 'email', 'cai@home.example', 'account disabled', false),
             (99004, 'alert', NULL, NULL, false),
             (99005, 'alert', NULL, 'alerts reach staff only', false)$$,
    'a claim takes batch_size due deliveries and checks each person now');
SELECT results_eq(
    $$SELECT delivery_id, status::text, attempts, error FROM messaging.delivery
      WHERE delivery_id BETWEEN 99001 AND 99005 ORDER BY delivery_id$$,
    $$VALUES (99001::bigint, 'processing', 0, NULL::text),
             (99002, 'failed', 0, 'not registered for WeChat: ask them to register'),
             (99003, 'failed', 0, 'account disabled'),
             (99004, 'processing', 0, NULL),
             (99005, 'failed', 0, 'alerts reach staff only')$$,
    'reachable deliveries are in flight; the others fail at once without a try');
SELECT is((SELECT address FROM messaging.delivery WHERE delivery_id = 99001), 'ann.lee',
          'the address used is recorded at claim time');

CREATE TEMP TABLE claimed_again AS SELECT * FROM messaging._claim_deliveries(10);
SELECT results_eq(
    $$SELECT delivery_id, address, problem, configuration_problem
      FROM claimed_again ORDER BY delivery_id$$,
    $$VALUES (99006::bigint, 'dee.roy', NULL::text, false),
             (99007, 'ann@school.example',
              'email is not configured: an administrator must run messaging.configure_smtp', true),
             (99009, NULL, 'no longer in the directory', false)$$,
    'the next claim skips deliveries in flight and not yet due; an unconfigured channel fails');
SELECT is((SELECT count(*) FROM messaging._claim_deliveries(10)), 0::bigint,
          'nothing is left to claim');
SELECT is(messaging._next_due_in() BETWEEN 3599000 AND 3600000, true,
          'the next delivery is due in an hour');

-- Recording: one call for the whole batch.
UPDATE messaging.delivery SET attempts = 4 WHERE delivery_id = 99006;
SET LOCAL synchronous_commit = off;
SELECT results_eq(
    $$SELECT * FROM messaging._record_deliveries(
        ARRAY[99001, 99004, 99006]::bigint[], ARRAY['retry', 'complete', 'retry'],
        ARRAY['the WeCom API was busy', '', 'the WeCom API was busy'],
        ARRAY[true, true, true], ARRAY[0, 0, 0]::bigint[], 5, 2000)$$,
    $$VALUES (1, 1)$$,
    'a recorded batch reports how many ended complete and failed');
SELECT is(current_setting('synchronous_commit'), 'on',
          'recorded results commit synchronously, even where synchronous_commit is off');
SELECT results_eq(
    $$SELECT delivery_id, status::text, attempts, error,
             next_attempt_at - now() AS delay
      FROM messaging.delivery WHERE delivery_id IN (99001, 99004, 99006) ORDER BY 1$$,
    $$VALUES (99001::bigint, 'not_started', 1, 'the WeCom API was busy', interval '2 seconds'),
             (99004, 'complete', 1, NULL, interval '0'),
             (99006, 'failed', 5, 'the WeCom API was busy', interval '0')$$,
    'a retry waits retry_delay; the last allowed try fails with its reason; alerts complete');
SELECT results_eq(
    $$SELECT person_id, message_id, subject, body, read_at FROM messaging.alert
      WHERE message_id = 9001$$,
    $$VALUES (901::bigint, 9001::bigint, 'Trip', 'The bus leaves at 8.', NULL::timestamptz)$$,
    'a complete alert is a row in the staff member''s inbox');

-- The delay doubles with every try.
UPDATE messaging.delivery SET status = 'processing', attempts = 2 WHERE delivery_id = 99001;
SELECT lives_ok($$SELECT messaging._record_deliveries(ARRAY[99001]::bigint[], ARRAY['retry'],
                  ARRAY['timed out'], ARRAY[true], ARRAY[0]::bigint[], 5, 2000)$$,
                'a third try is recorded');
SELECT is((SELECT next_attempt_at - now() FROM messaging.delivery WHERE delivery_id = 99001),
          interval '8 seconds', 'the third retry waits four times retry_delay');

-- A retry counts as a try even when the sender says the network was not reached.
UPDATE messaging.delivery SET status = 'processing', attempts = 0 WHERE delivery_id = 99001;
SELECT lives_ok($$SELECT messaging._record_deliveries(ARRAY[99001]::bigint[], ARRAY['retry'],
                  ARRAY['could not connect'], ARRAY[false], ARRAY[0]::bigint[], 1, 2000)$$,
                'a retry without a network try is recorded');
SELECT results_eq(
    $$SELECT status::text, attempts, error FROM messaging.delivery WHERE delivery_id = 99001$$,
    $$VALUES ('failed', 1, 'could not connect')$$,
    'with max_attempts 1 the first retry is final');

-- Deferred: queued again later, no try used, the earlier reason kept.
UPDATE messaging.delivery SET status = 'processing', attempts = 1, error = 'timed out'
WHERE delivery_id = 99001;
SELECT lives_ok($$SELECT messaging._record_deliveries(ARRAY[99001]::bigint[],
                  ARRAY['deferred'], ARRAY[''], ARRAY[false], ARRAY[1500]::bigint[], 5, 2000)$$,
                'a deferral is recorded');
SELECT results_eq(
    $$SELECT status::text, attempts, error, next_attempt_at - now()
      FROM messaging.delivery WHERE delivery_id = 99001$$,
    $$VALUES ('not_started', 1, 'timed out', interval '1.5 seconds')$$,
    'a deferred delivery waits defer_ms and keeps its tries');

-- Failed: final at once.
UPDATE messaging.delivery SET status = 'processing' WHERE delivery_id = 99001;
SELECT lives_ok($$SELECT messaging._record_deliveries(ARRAY[99001]::bigint[], ARRAY['failed'],
                  ARRAY['not a member of the WeCom corporation'], ARRAY[true],
                  ARRAY[0]::bigint[], 5, 2000)$$, 'a permanent failure is recorded');
SELECT results_eq(
    $$SELECT status::text, attempts, error FROM messaging.delivery WHERE delivery_id = 99001$$,
    $$VALUES ('failed', 2, 'not a member of the WeCom corporation')$$,
    'a permanent failure is final and counts its try');

-- Results for deliveries no longer in flight change nothing.
SELECT results_eq(
    $$SELECT * FROM messaging._record_deliveries(ARRAY[99001, 99004, 424242]::bigint[],
        ARRAY['complete', 'retry', 'complete'], ARRAY['', 'x', ''], ARRAY[true, true, true],
        ARRAY[0, 0, 0]::bigint[], 5, 2000)$$,
    $$VALUES (0, 0)$$,
    'results for deliveries not in flight are ignored');
SELECT results_eq(
    $$SELECT delivery_id, status::text FROM messaging.delivery
      WHERE delivery_id IN (99001, 99004) ORDER BY 1$$,
    $$VALUES (99001::bigint, 'failed'), (99004, 'complete')$$,
    'finished deliveries stay as they were');
SELECT is((SELECT count(*) FROM messaging.alert WHERE message_id = 9001), 1::bigint,
          'an ignored result writes no alert');

-- A rerun alert is a new inbox row.
UPDATE messaging.delivery SET status = 'processing', run = 1 WHERE delivery_id = 99004;
SELECT lives_ok($$SELECT messaging._record_deliveries(ARRAY[99004]::bigint[], ARRAY['complete'],
                  ARRAY[''], ARRAY[true], ARRAY[0]::bigint[], 5, 2000)$$,
                'a rerun alert is recorded');
SELECT is((SELECT count(*) FROM messaging.alert WHERE message_id = 9001 AND person_id = 901),
          2::bigint, 'a rerun alert is a second inbox row');

-- Recovery: whatever was in flight goes back to the queue as it was.
UPDATE messaging.delivery SET status = 'processing', attempts = 3, error = 'timed out'
WHERE delivery_id IN (99001, 99006);
SELECT is(messaging._requeue_in_flight(), 2, 'requeue reports how many it queued again');
SELECT results_eq(
    $$SELECT delivery_id, status::text, attempts, error FROM messaging.delivery
      WHERE delivery_id IN (99001, 99006) ORDER BY 1$$,
    $$VALUES (99001::bigint, 'not_started', 3, 'timed out'),
             (99006, 'not_started', 3, 'timed out')$$,
    'requeued deliveries keep their tries and last reason');
SELECT is(messaging._requeue_in_flight(), 0, 'a second requeue finds nothing');

-- An empty queue has no next delivery.
DELETE FROM messaging.delivery WHERE dispatch_id IN (9101, 9102, 9103);
SELECT is(messaging._next_due_in(), NULL::bigint, 'an empty queue has no next delivery');
SELECT is((SELECT count(*) FROM messaging._claim_deliveries(10)), 0::bigint,
          'an empty queue gives an empty claim');

SELECT * FROM finish();
ROLLBACK;
