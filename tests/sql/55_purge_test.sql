-- purge() removes finished history older than a given age, and nothing else.
BEGIN;
SELECT plan(15);

GRANT ALL ON __tcache__ TO PUBLIC;
GRANT ALL ON SEQUENCE __tcache___id_seq, __tresults___numb_seq TO PUBLIC;
CREATE ROLE t_admin NOLOGIN IN ROLE messaging_admin;
CREATE ROLE t_sender NOLOGIN IN ROLE messaging_sender;

INSERT INTO messaging.person (person_id, kind, display_name) VALUES (1, 'staff', 'Ann Lee'),
    (2, 'staff', 'Bob Wu');
INSERT INTO messaging.message (message_id, body, sent_by, created_at)
VALUES (1, 'old and finished', 'alice', '2020-01-01'),
       (2, 'old, one still queued', 'alice', '2020-01-01'),
       (3, 'old, one in flight', 'alice', '2020-01-01'),
       (4, 'recent and finished', 'alice', now()),
       (5, 'old and finished, in an inbox', 'alice', '2020-01-01');
INSERT INTO messaging.dispatch (dispatch_id, message_id, channel, sent_by, created_at, updated_at)
VALUES (1, 1, 'wechat', 'alice', '2020-01-01', '2020-01-02'),
       (2, 1, 'email', 'alice', '2020-01-01', '2020-01-02'),
       (3, 2, 'wechat', 'alice', '2020-01-01', '2020-01-02'),
       (4, 3, 'wechat', 'alice', '2020-01-01', '2020-01-02'),
       (5, 4, 'wechat', 'alice', now(), now()),
       (6, 5, 'alert', 'alice', '2020-01-01', '2020-01-02');
INSERT INTO messaging.delivery (dispatch_id, person_id, status)
VALUES (1, 1, 'complete'), (1, 2, 'failed'), (2, 1, 'failed'),
       (3, 1, 'complete'), (3, 2, 'not_started'),
       (4, 1, 'failed'), (4, 2, 'processing'),
       (5, 1, 'complete'),
       (6, 1, 'complete');
INSERT INTO messaging.alert (person_id, message_id, body)
VALUES (1, 5, 'old and finished, in an inbox');

SELECT throws_ok($$SELECT messaging.purge(NULL)$$, '22023', NULL, 'purge(NULL) is refused');
SELECT throws_ok($$SELECT messaging.purge('-1 day')$$, '22023',
                 'older_than must be a positive interval', 'a negative age is refused');
SELECT throws_ok($$SELECT messaging.purge('0')$$, '22023',
                 'older_than must be a positive interval', 'an age of zero is refused');
SELECT throws_ok($$SELECT messaging.purge('1 month -30 days')$$, '22023',
                 'older_than must be a positive interval',
                 'an age that adds up to zero is refused');

SET SESSION AUTHORIZATION t_sender;
SELECT throws_ok($$SELECT messaging.purge('30 days')$$, '42501', NULL, 'senders cannot purge');
RESET SESSION AUTHORIZATION;

SET SESSION AUTHORIZATION t_admin;
SELECT is(messaging.purge('30 days'), 3::bigint, 'purge reports the dispatches it removed');
RESET SESSION AUTHORIZATION;

SELECT results_eq('SELECT dispatch_id FROM messaging.dispatch ORDER BY 1',
                  'VALUES (3::bigint), (4), (5)',
                  'old finished dispatches are gone; queued, in-flight and recent ones stay');
SELECT results_eq('SELECT dispatch_id, status::text FROM messaging.delivery ORDER BY 1, 2',
                  $$VALUES (3::bigint, 'complete'), (3, 'not_started'), (4, 'failed'),
                           (4, 'processing'), (5, 'complete')$$,
                  'a dispatch with queued or in-flight deliveries keeps all of them');
SELECT results_eq('SELECT message_id FROM messaging.message ORDER BY 1',
                  'VALUES (2::bigint), (3), (4), (5)',
                  'a message with no dispatch left goes, unless an inbox still holds it');
SELECT is((SELECT count(*)::int FROM messaging.alert), 1, 'inbox alerts are not purged');
SELECT is((SELECT string_agg((messages, not_started, processing, complete, failed)::text, ' '
                             ORDER BY dispatch_id) FROM messaging.dispatch),
          '(2,1,0,1,0) (2,0,1,0,1) (1,0,0,1,0)', 'the remaining counts are untouched');

SELECT is(messaging.purge('30 days'), 0::bigint, 'a second purge finds nothing');
UPDATE messaging.delivery SET status = 'complete' WHERE status IN ('not_started', 'processing');
UPDATE messaging.dispatch SET updated_at = '2020-01-03' WHERE dispatch_id IN (3, 4);
SELECT is(messaging.purge('30 days'), 2::bigint, 'once finished, old history goes');
UPDATE messaging.dispatch SET updated_at = now() - interval '1 second' WHERE dispatch_id = 5;
SELECT is(messaging.purge('1 millisecond'), 1::bigint,
          'the shortest age purges everything finished before it');
SELECT is((SELECT count(*)::int FROM messaging.delivery), 0, 'no delivery is left behind');

SELECT * FROM finish();
ROLLBACK;
