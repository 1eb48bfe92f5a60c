-- Who sees what: two senders, an application acting for its users, an admin and an
-- outsider, through every way in (API functions, views and the tables themselves).
BEGIN;
SELECT plan(51);

-- pgTAP keeps its state in temporary tables; let the test roles write to them.
GRANT ALL ON __tcache__ TO PUBLIC;
GRANT ALL ON SEQUENCE __tcache___id_seq, __tresults___numb_seq TO PUBLIC;

CREATE ROLE t_alice NOLOGIN IN ROLE messaging_sender;
CREATE ROLE t_bob NOLOGIN IN ROLE messaging_sender;
CREATE ROLE t_admin NOLOGIN IN ROLE messaging_admin;
CREATE ROLE t_app NOLOGIN IN ROLE messaging_app;
CREATE ROLE t_outsider NOLOGIN;

INSERT INTO messaging.person (person_id, kind, display_name, email, wechat_userid)
VALUES (1, 'staff', 'Ann Lee', 'ann@school.example', 'annlee'),
       (2, 'pupil', 'Bob Wu', NULL, 'bobwu');
INSERT INTO messaging.message (message_id, subject, body, sent_by)
VALUES (1, 'From Alice', 'a', 't_alice'), (2, 'From Bob', 'b', 't_bob'),
       (3, 'From Carol', 'c', 'carol');
INSERT INTO messaging.dispatch (dispatch_id, message_id, channel, sent_by, updated_at)
VALUES (10, 1, 'wechat', 't_alice', '2026-01-10 00:00+00'),
       (11, 1, 'alert', 't_alice', '2026-01-11 00:00+00'),
       (20, 2, 'wechat', 't_bob', '2026-01-20 00:00+00'),
       (30, 3, 'email', 'carol', '2026-01-30 00:00+00');
INSERT INTO messaging.delivery (delivery_id, dispatch_id, person_id, status, error)
VALUES (101, 10, 1, 'complete', NULL), (102, 10, 2, 'failed', 'WeCom rejected this user id'),
       (111, 11, 1, 'complete', NULL),
       (201, 20, 1, 'failed', 'WeCom rejected this user id'), (202, 20, 2, 'complete', NULL),
       (301, 30, 2, 'failed', 'no email address recorded');
INSERT INTO messaging.alert (alert_id, person_id, message_id, subject, body)
VALUES (1, 1, 1, 'From Alice', 'a'), (2, 1, 2, 'From Bob', 'b');

-- Alice sees her own dispatches only, everywhere.
SET SESSION AUTHORIZATION t_alice;
SELECT results_eq('SELECT dispatch_id FROM messaging.dashboard ORDER BY 1',
                  'VALUES (10::bigint), (11)', 'a sender''s dashboard shows her dispatches');
SELECT results_eq('SELECT dispatch_id, total_rows FROM messaging.dashboard_search()',
                  'VALUES (11::bigint, 2::bigint), (10, 2)',
                  'a sender''s search finds and counts her dispatches only');
SELECT results_eq('SELECT delivery_id FROM messaging.errors(10)', 'VALUES (102::bigint)',
                  'a sender reads the errors of her dispatch');
SELECT throws_ok('SELECT * FROM messaging.errors(20)', 'P0002', 'dispatch 20 does not exist',
                 'another sender''s dispatch does not exist for errors');
SELECT throws_ok('SELECT messaging.rerun(20)', 'P0002', 'dispatch 20 does not exist',
                 'another sender''s dispatch does not exist for rerun');
SELECT throws_ok('SELECT messaging.rerun(30, false)', 'P0002', NULL,
                 'an application user''s dispatch does not exist for a sender');
SELECT is(messaging.rerun(10), 1, 'a sender reruns her own dispatch');
SELECT results_eq('SELECT delivery_id FROM messaging.deliveries ORDER BY 1',
                  'VALUES (101::bigint), (102), (111)',
                  'a sender''s deliveries view shows her deliveries');
SELECT results_eq('SELECT DISTINCT display_name FROM messaging.deliveries ORDER BY 1',
                  $$VALUES ('Ann Lee'), ('Bob Wu')$$,
                  'the deliveries view names the recipients');
SELECT results_eq('SELECT message_id FROM messaging.message', 'VALUES (1::bigint)',
                  'row-level security: her messages only');
SELECT results_eq('SELECT dispatch_id FROM messaging.dispatch ORDER BY 1',
                  'VALUES (10::bigint), (11)', 'row-level security: her dispatches only');
SELECT results_eq('SELECT delivery_id FROM messaging.delivery ORDER BY 1',
                  'VALUES (101::bigint), (102), (111)',
                  'row-level security: her deliveries only');
SELECT results_eq('SELECT alert_id FROM messaging.alert', 'VALUES (1::bigint)',
                  'row-level security: alerts of her messages only');
SELECT is_empty('SELECT * FROM messaging.dashboard WHERE dispatch_id = 20',
                'asking for another sender''s dispatch by id finds nothing');
SELECT throws_ok('SELECT * FROM messaging.person', '42501', NULL,
                 'the directory is not readable directly');
SELECT throws_ok('UPDATE messaging.dispatch SET failed = 0', '42501', NULL,
                 'a sender cannot write the counters');
SELECT throws_ok('UPDATE messaging.delivery SET status = ''not_started''', '42501', NULL,
                 'a sender cannot requeue by hand');
SELECT throws_ok('SELECT messaging.purge(''1 day'')', '42501', NULL, 'a sender cannot purge');
SELECT throws_ok('SELECT * FROM messaging._dashboard_page(NULL, NULL, NULL, NULL, NULL, NULL,
                                                          1, 25)',
                 '42501', NULL, 'the owner-rights internals are not callable');
RESET SESSION AUTHORIZATION;

SELECT is((SELECT status::text FROM messaging.delivery WHERE delivery_id = 201), 'failed',
          'another sender''s failed delivery was not rerun');
SELECT is((SELECT status::text FROM messaging.delivery WHERE delivery_id = 102), 'not_started',
          'her own failed delivery was rerun');

-- Bob sees his.
SET SESSION AUTHORIZATION t_bob;
SELECT results_eq('SELECT dispatch_id FROM messaging.dashboard', 'VALUES (20::bigint)',
                  'the second sender sees his dispatch only');
SELECT results_eq('SELECT dispatch_id, total_rows
                   FROM messaging.dashboard_search(has_error => true)',
                  'VALUES (20::bigint, 1::bigint)', 'the second sender''s search');
SELECT results_eq('SELECT delivery_id FROM messaging.deliveries ORDER BY 1',
                  'VALUES (201::bigint), (202)', 'the second sender''s deliveries');
SELECT throws_ok('SELECT * FROM messaging.errors(10)', 'P0002', NULL,
                 'the first sender''s dispatch does not exist for him');
SELECT results_eq('SELECT alert_id FROM messaging.alert', 'VALUES (2::bigint)',
                  'the second sender''s alerts');
RESET SESSION AUTHORIZATION;

-- An application acts for the user it names; without a name it is refused.
SET SESSION AUTHORIZATION t_app;
SELECT throws_ok('SELECT * FROM messaging.dashboard_search()', '22023', NULL,
                 'an application must name its user for the search');
SELECT throws_ok('SELECT * FROM messaging.dashboard', '22023', NULL,
                 'an application must name its user for the dashboard');
SET LOCAL messaging.sender = 'carol';
SELECT results_eq('SELECT dispatch_id FROM messaging.dashboard_search()', 'VALUES (30::bigint)',
                  'an application sees its user''s dispatches');
SELECT results_eq('SELECT dispatch_id FROM messaging.dashboard', 'VALUES (30::bigint)',
                  'an application''s dashboard shows its user''s dispatches');
SELECT results_eq('SELECT delivery_id FROM messaging.errors(30)', 'VALUES (301::bigint)',
                  'an application reads its user''s errors');
SELECT throws_ok('SELECT messaging.rerun(10)', 'P0002', NULL,
                 'an application cannot rerun another sender''s dispatch');
SET LOCAL messaging.sender = 't_alice';
SELECT results_eq('SELECT dispatch_id FROM messaging.dashboard ORDER BY 1',
                  'VALUES (10::bigint), (11)', 'an application acting for another user sees hers');
RESET messaging.sender;
RESET SESSION AUTHORIZATION;

-- The admin sees and reruns everyone's.
SET SESSION AUTHORIZATION t_admin;
SELECT results_eq('SELECT dispatch_id FROM messaging.dashboard ORDER BY 1',
                  'VALUES (10::bigint), (11), (20), (30)', 'an admin sees every dispatch');
SELECT results_eq('SELECT dispatch_id, total_rows FROM messaging.dashboard_search()',
                  'VALUES (10::bigint, 4::bigint), (30, 4), (20, 4), (11, 4)',
                  'an admin''s search covers every sender, the rerun one first');
SELECT results_eq('SELECT count(*)::int FROM messaging.deliveries', 'VALUES (6)',
                  'an admin sees every delivery');
SELECT results_eq('SELECT count(*)::int FROM messaging.delivery', 'VALUES (6)',
                  'row-level security lets an admin read every delivery');
SELECT results_eq('SELECT count(*)::int FROM messaging.alert', 'VALUES (2)',
                  'row-level security lets an admin read every alert');
SELECT results_eq('SELECT delivery_id FROM messaging.errors(20)', 'VALUES (201::bigint)',
                  'an admin reads any sender''s errors');
SELECT is(messaging.rerun(30), 1, 'an admin reruns any sender''s dispatch');
SELECT is((SELECT count(*)::int FROM messaging.channel_settings), 2,
          'an admin reads the channel settings');
SELECT throws_ok('SELECT * FROM messaging.wecom_config', '42501', NULL,
                 'not even an admin reads the WeCom secret');
SELECT throws_ok('SELECT * FROM messaging.smtp_config', '42501', NULL,
                 'not even an admin reads the SMTP password');
RESET SESSION AUTHORIZATION;

-- Someone with none of the roles gets nothing at all.
SET SESSION AUTHORIZATION t_outsider;
SELECT throws_ok('SELECT * FROM messaging.dashboard', '42501', NULL,
                 'an outsider cannot read the dashboard');
SELECT throws_ok('SELECT * FROM messaging.dashboard_search()', '42501', NULL,
                 'an outsider cannot search');
SELECT throws_ok('SELECT * FROM messaging.errors(10)', '42501', NULL,
                 'an outsider cannot read errors');
SELECT throws_ok('SELECT messaging.rerun(10)', '42501', NULL, 'an outsider cannot rerun');
SELECT throws_ok('SELECT * FROM messaging.deliveries', '42501', NULL,
                 'an outsider cannot read deliveries');
SELECT throws_ok('SELECT * FROM messaging.dispatch', '42501', NULL,
                 'an outsider cannot read the dispatch table');
RESET SESSION AUTHORIZATION;

-- Each API function pins its search_path.
SELECT is((SELECT array_agg(p.proname::text ORDER BY p.proname) FROM pg_proc p
           WHERE p.pronamespace = 'messaging'::regnamespace AND p.prosecdef
             AND NOT EXISTS (SELECT FROM unnest(p.proconfig) c WHERE c LIKE 'search_path=%')),
          NULL, 'every SECURITY DEFINER function pins its search_path');
SELECT is((SELECT array_agg(p.proname::text ORDER BY p.proname) FROM pg_proc p
           WHERE p.pronamespace = 'messaging'::regnamespace AND p.prosecdef
             AND has_function_privilege('public', p.oid, 'EXECUTE')),
          NULL, 'no SECURITY DEFINER function is executable by PUBLIC');

SELECT * FROM finish();
ROLLBACK;
