-- errors() lists a dispatch's failed deliveries and why; rerun() requeues them.
BEGIN;
SELECT plan(18);

INSERT INTO messaging.person (person_id, kind, display_name, email, wechat_userid, disabled)
VALUES (1, 'staff', 'Zoe Xu', 'zoe@school.example', 'zoexu', false),
       (2, 'pupil', 'Ann Lee', NULL, NULL, false),
       (3, 'contact', 'Mia Ko', 'mia@home.example', 'miako', true),
       (4, 'staff', 'Ben Orr', 'ben@school.example', 'benorr', false);
INSERT INTO messaging.message (message_id, subject, body, sent_by)
VALUES (1, 'Sports day', 'Bring a hat.', 'alice');
INSERT INTO messaging.dispatch (dispatch_id, message_id, channel, sent_by, updated_at)
VALUES (7, 1, 'wechat', 'alice', '2020-01-01 00:00+00'),
       (8, 1, 'email', 'alice', '2020-01-01 00:00+00');
INSERT INTO messaging.delivery (delivery_id, dispatch_id, person_id, status, address, attempts,
                                error, updated_at)
VALUES (71, 7, 1, 'failed', 'zoexu', 1, 'WeCom rejected this user id', '2026-05-01 09:00+00'),
       (72, 7, 2, 'failed', NULL, 0, 'not registered for WeChat: ask them to register',
        '2026-05-01 08:00+00'),
       (73, 7, 3, 'failed', NULL, 0, 'account disabled', '2026-05-01 08:00+00'),
       (74, 7, 4, 'complete', 'benorr', 1, NULL, '2026-05-01 09:00+00'),
       (75, 7, 99, 'failed', NULL, 0, NULL, '2026-05-01 08:00+00'),
       (81, 8, 4, 'not_started', NULL, 0, NULL, '2026-05-01 08:00+00');

SELECT results_eq(
    'SELECT * FROM messaging.errors(7)',
    $$VALUES (72::bigint, 2::bigint, 'Ann Lee', NULL::text,
              'not registered for WeChat: ask them to register', 0,
              '2026-05-01 08:00+00'::timestamptz),
             (73, 3, 'Mia Ko', NULL, 'account disabled', 0, '2026-05-01 08:00+00'),
             (71, 1, 'Zoe Xu', 'zoexu', 'WeCom rejected this user id', 1, '2026-05-01 09:00+00'),
             (75, 99, NULL, NULL, 'failed without a recorded reason', 0, '2026-05-01 08:00+00')$$,
    'errors lists the failed deliveries by name, with address, reason and attempts');
SELECT is_empty('SELECT * FROM messaging.errors(8)', 'a dispatch without failures has no errors');
SELECT throws_ok('SELECT * FROM messaging.errors(12345)', 'P0002', 'dispatch 12345 does not exist',
                 'errors of an unknown dispatch is P0002');
SELECT throws_ok('SELECT * FROM messaging.errors(NULL)', '22023', NULL,
                 'errors of NULL is 22023');

SELECT throws_ok('SELECT messaging.rerun(12345)', 'P0002', 'dispatch 12345 does not exist',
                 'rerun of an unknown dispatch is P0002');
SELECT throws_ok('SELECT messaging.rerun(NULL)', '22023', NULL, 'rerun of NULL is 22023');
SELECT throws_ok('SELECT messaging.rerun(7, NULL)', '22023', 'failed_only must not be null',
                 'rerun with failed_only NULL is 22023');
SELECT is((SELECT status::text FROM messaging.delivery WHERE delivery_id = 71), 'failed',
          'a refused rerun changes nothing');

-- The dispatcher is told about requeued work. Until its own wake function is
-- installed, a stand-in records the calls.
CREATE TEMP TABLE wakes (at timestamptz);
GRANT ALL ON wakes TO PUBLIC;
DO $$
BEGIN
    IF to_regprocedure('messaging._wake_dispatcher()') IS NULL THEN
        CREATE FUNCTION messaging._wake_dispatcher() RETURNS void LANGUAGE sql
            AS 'INSERT INTO pg_temp.wakes VALUES (clock_timestamp())';
    END IF;
END $$;
CREATE TEMP VIEW stand_in AS
SELECT NOT EXISTS (SELECT FROM pg_depend
                   WHERE objid = 'messaging._wake_dispatcher()'::regprocedure
                     AND deptype = 'e') AS installed;

SELECT is(messaging.rerun(8), 0, 'rerun with no failures requeues nothing');
SELECT CASE WHEN (SELECT installed FROM stand_in)
            THEN is((SELECT count(*)::int FROM wakes), 0, 'nothing requeued wakes nobody')
            ELSE skip('the dispatcher''s own wake function is installed', 1) END;

SELECT is(messaging.rerun(7), 4, 'rerun requeues every failed delivery');
SELECT CASE WHEN (SELECT installed FROM stand_in)
            THEN is((SELECT count(*)::int FROM wakes), 1, 'a rerun wakes the dispatcher once')
            ELSE skip('the dispatcher''s own wake function is installed', 1) END;
SELECT is_empty('SELECT * FROM messaging.errors(7)', 'rerun deliveries are no longer errors');
SELECT results_eq(
    'SELECT delivery_id, status::text, address, attempts, error, run, next_attempt_at <= now(),
            updated_at = now()
     FROM messaging.delivery WHERE dispatch_id = 7 ORDER BY delivery_id',
    $$VALUES (71::bigint, 'not_started', NULL::text, 0, NULL::text, 1, true, true),
             (72, 'not_started', NULL, 0, NULL, 1, true, true),
             (73, 'not_started', NULL, 0, NULL, 1, true, true),
             (74, 'complete', 'benorr', 1, NULL, 0, true, false),
             (75, 'not_started', NULL, 0, NULL, 1, true, true)$$,
    'requeued deliveries are due now, with the address to be read again and a new run');

-- The worker fails one again; a full rerun takes it and the complete one.
UPDATE messaging.delivery SET status = 'failed', error = 'account disabled' WHERE delivery_id = 73;
UPDATE messaging.delivery SET status = 'processing' WHERE delivery_id = 71;
SELECT is(messaging.rerun(7, false), 2, 'rerun of all requeues failed and complete deliveries');
SELECT results_eq(
    'SELECT delivery_id, status::text, run FROM messaging.delivery
     WHERE dispatch_id = 7 ORDER BY delivery_id',
    $$VALUES (71::bigint, 'processing', 1), (72, 'not_started', 1), (73, 'not_started', 2),
             (74, 'not_started', 1), (75, 'not_started', 1)$$,
    'each rerun is a new run; queued and in-flight deliveries keep theirs');
SELECT is((SELECT (messages, not_started, processing, complete, failed)::text
           FROM messaging.dispatch WHERE dispatch_id = 7), '(5,4,1,0,0)',
          'the dashboard counts follow the reruns');

SELECT function_privs_are('messaging', 'rerun', ARRAY['bigint', 'boolean'], 'public', '{}',
                          'PUBLIC may not rerun');

SELECT * FROM finish();
ROLLBACK;
