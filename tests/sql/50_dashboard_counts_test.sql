-- Dashboard counters follow every delivery through its life, as the worker and
-- reruns move it, and always add up to the number of recipients.
BEGIN;
SELECT plan(42);

INSERT INTO messaging.person (person_id, kind, display_name, email, wechat_userid, disabled)
VALUES (1, 'staff', 'Ann Lee', 'ann@school.example', 'annlee', false),
       (2, 'pupil', 'Bob Wu', NULL, 'bobwu', false),
       (3, 'contact', 'Cy Ma', 'cy@home.example', NULL, false),
       (4, 'staff', 'Dee Ng', 'dee@school.example', 'deeng', false);
INSERT INTO messaging.message (message_id, subject, body, sent_by)
VALUES (1, 'Trip', 'The coach leaves at 8.', 'alice');

-- Counters given with a new dispatch are ignored: only deliveries move them.
INSERT INTO messaging.dispatch (dispatch_id, message_id, channel, sent_by, updated_at,
                                messages, not_started, processing, complete, failed)
VALUES (10, 1, 'wechat', 'alice', '2020-01-01 10:00+00', 9, 9, 9, 9, 9),
       (11, 1, 'email', 'alice', '2020-01-01 10:00+00', 5, 0, 0, 0, 5);

CREATE TEMP VIEW counts AS
SELECT dispatch_id, (messages, not_started, processing, complete, failed)::text AS counts,
       updated_at
FROM messaging.dispatch;

CREATE TEMP VIEW counts_add_up AS
SELECT bool_and(messages = not_started + processing + complete + failed) AS ok
FROM messaging.dispatch;

SELECT is((SELECT counts FROM counts WHERE dispatch_id = 10), '(0,0,0,0,0)',
          'a new dispatch starts with zero counts whatever it is given');

-- send: one delivery per recipient, the unreachable ones failed at once.
INSERT INTO messaging.delivery (delivery_id, dispatch_id, person_id, status, error)
VALUES (101, 10, 1, 'not_started', NULL),
       (102, 10, 2, 'not_started', NULL),
       (103, 10, 3, 'failed', 'not registered for WeChat: ask them to register'),
       (104, 10, 4, 'not_started', NULL),
       (111, 11, 1, 'not_started', NULL),
       (113, 11, 3, 'not_started', NULL);

SELECT is((SELECT counts FROM counts WHERE dispatch_id = 10), '(4,3,0,0,1)',
          'inserted deliveries are counted by status');
SELECT is((SELECT counts FROM counts WHERE dispatch_id = 11), '(2,2,0,0,0)',
          'each dispatch counts only its own deliveries');
SELECT is((SELECT updated_at FROM counts WHERE dispatch_id = 10), '2020-01-01 10:00+00',
          'queueing deliveries is not a status change');

-- The worker claims a batch across both dispatches in one statement.
UPDATE messaging.delivery d SET status = 'processing', attempts = d.attempts + 1
FROM unnest(ARRAY[101, 102, 104, 111, 113]::bigint[]) AS batch(id)
WHERE d.delivery_id = batch.id;

SELECT is((SELECT counts FROM counts WHERE dispatch_id = 10), '(4,0,3,0,1)',
          'claimed deliveries move to processing');
SELECT is((SELECT counts FROM counts WHERE dispatch_id = 11), '(2,0,2,0,0)',
          'a batch spanning dispatches updates each of them');
SELECT cmp_ok((SELECT updated_at FROM counts WHERE dispatch_id = 10), '>',
              '2020-01-01 10:00+00'::timestamptz, 'a status change moves updated_at');
SELECT cmp_ok((SELECT updated_at FROM counts WHERE dispatch_id = 11), '>',
              '2020-01-01 10:00+00'::timestamptz, 'every dispatch in the batch moves');

-- The worker records results: sent, refused, and one back in the queue to retry.
UPDATE messaging.delivery d
SET status = r.status::messaging.delivery_status, error = r.error
FROM (VALUES (101, 'complete', NULL),
             (102, 'failed', 'WeCom rejected this user id'),
             (104, 'not_started', 'WeCom is busy')) AS r(id, status, error)
WHERE d.delivery_id = r.id;

SELECT is((SELECT counts FROM counts WHERE dispatch_id = 10), '(4,1,0,1,2)',
          'results move deliveries to complete, failed or back to not started');
SELECT ok((SELECT ok FROM counts_add_up), 'the four counts add up to messages');

-- Changes that are not status changes leave the dispatch alone.
UPDATE messaging.dispatch SET updated_at = '2021-06-01 12:00+00' WHERE dispatch_id = 11;
UPDATE messaging.delivery SET attempts = attempts + 1, next_attempt_at = now()
WHERE dispatch_id = 11;
SELECT is((SELECT updated_at FROM counts WHERE dispatch_id = 11), '2021-06-01 12:00+00',
          'an update without a status change does not move updated_at');
SELECT is((SELECT counts FROM counts WHERE dispatch_id = 11), '(2,0,2,0,0)',
          'an update without a status change keeps the counts');

-- updated_at never goes backwards.
UPDATE messaging.dispatch SET updated_at = '2999-01-01 00:00+00' WHERE dispatch_id = 11;
UPDATE messaging.delivery SET status = 'complete' WHERE delivery_id = 111;
SELECT is((SELECT updated_at FROM counts WHERE dispatch_id = 11), '2999-01-01 00:00+00',
          'updated_at only ever moves forward');
UPDATE messaging.dispatch SET updated_at = '2020-01-01 10:00+00' WHERE dispatch_id IN (10, 11);

-- Rerun the failed ones.
SELECT is(messaging.rerun(10), 2, 'rerun requeues the failed deliveries');
SELECT is((SELECT counts FROM counts WHERE dispatch_id = 10), '(4,3,0,1,0)',
          'rerun moves failed deliveries to not started');
SELECT cmp_ok((SELECT updated_at FROM counts WHERE dispatch_id = 10), '>',
              '2020-01-01 10:00+00'::timestamptz, 'a rerun moves updated_at');
SELECT results_eq(
    'SELECT delivery_id, status::text, error, address, attempts, run
     FROM messaging.delivery WHERE delivery_id IN (102, 103) ORDER BY delivery_id',
    $$VALUES (102::bigint, 'not_started', NULL::text, NULL::text, 0, 1),
             (103::bigint, 'not_started', NULL::text, NULL::text, 0, 1)$$,
    'a rerun delivery has no error, no address, no attempts and a new run');
SELECT is((SELECT error FROM messaging.delivery WHERE delivery_id = 104), 'WeCom is busy',
          'rerun leaves queued deliveries alone');

-- Rerun everything: one delivery in flight, one complete, three queued.
UPDATE messaging.delivery SET status = 'processing' WHERE delivery_id = 102;
UPDATE messaging.dispatch SET updated_at = '2020-01-01 10:00+00' WHERE dispatch_id = 10;
SELECT is(messaging.rerun(10, false), 1, 'rerun of all requeues the complete deliveries');
SELECT is((SELECT counts FROM counts WHERE dispatch_id = 10), '(4,3,1,0,0)',
          'rerun of all leaves processing deliveries alone');
SELECT is((SELECT status::text FROM messaging.delivery WHERE delivery_id = 102), 'processing',
          'a delivery in flight is not requeued');
SELECT is((SELECT run FROM messaging.delivery WHERE delivery_id = 101), 1,
          'a rerun complete delivery starts a new run');

-- Nothing to rerun: nothing changes.
UPDATE messaging.dispatch SET updated_at = '2020-01-01 10:00+00' WHERE dispatch_id = 10;
SELECT is(messaging.rerun(10), 0, 'rerun with nothing failed requeues nothing');
SELECT is((SELECT updated_at FROM counts WHERE dispatch_id = 10), '2020-01-01 10:00+00',
          'a rerun that requeues nothing does not move updated_at');

-- A delivery moved to another dispatch leaves one and joins the other.
UPDATE messaging.delivery SET dispatch_id = 11, person_id = 4 WHERE delivery_id = 104;
SELECT is((SELECT counts FROM counts WHERE dispatch_id = 10), '(3,2,1,0,0)',
          'a delivery moved away is no longer counted');
SELECT is((SELECT counts FROM counts WHERE dispatch_id = 11), '(3,1,1,1,0)',
          'a delivery moved in is counted');

-- A rerun that leaves the status as it was still moves updated_at, and nothing else.
UPDATE messaging.dispatch SET updated_at = '2020-01-01 10:00+00' WHERE dispatch_id = 11;
UPDATE messaging.delivery SET run = run + 1 WHERE delivery_id = 111;
SELECT is((SELECT counts FROM counts WHERE dispatch_id = 11), '(3,1,1,1,0)',
          'a new run in the same status moves no count');
SELECT cmp_ok((SELECT updated_at FROM counts WHERE dispatch_id = 11), '>',
              '2020-01-01 10:00+00'::timestamptz, 'a new run moves updated_at');

-- Two status changes within one statement's time each move updated_at.
CREATE FUNCTION pg_temp.two_changes() RETURNS boolean LANGUAGE plpgsql AS $f$
DECLARE
    first timestamptz;
BEGIN
    UPDATE messaging.delivery
    SET status = CASE WHEN status = 'failed' THEN 'complete'
                      ELSE 'failed' END::messaging.delivery_status
    WHERE delivery_id = 111;
    first := (SELECT updated_at FROM messaging.dispatch WHERE dispatch_id = 11);
    PERFORM pg_sleep(0.01);
    UPDATE messaging.delivery
    SET status = CASE WHEN status = 'failed' THEN 'complete'
                      ELSE 'failed' END::messaging.delivery_status
    WHERE delivery_id = 111;
    RETURN (SELECT updated_at FROM messaging.dispatch WHERE dispatch_id = 11) > first;
END
$f$;
SELECT ok(pg_temp.two_changes(), 'each status change moves updated_at, even within one call');
UPDATE messaging.delivery SET status = 'not_started' WHERE delivery_id = 111;

-- A statement of many rows, in any mix of statuses and dispatches, nets exactly.
INSERT INTO messaging.message (message_id, subject, body, sent_by)
VALUES (2, 'Fees', 'Fees are due.', 'alice');
INSERT INTO messaging.dispatch (dispatch_id, message_id, channel, sent_by)
VALUES (20, 2, 'email', 'alice'), (21, 2, 'alert', 'alice');
INSERT INTO messaging.delivery (delivery_id, dispatch_id, person_id)
SELECT 1000 + p, 20 + p % 2, p FROM generate_series(1, 1500) p;
SELECT is((SELECT string_agg(counts, ' ' ORDER BY dispatch_id) FROM counts
           WHERE dispatch_id IN (20, 21)),
          '(750,750,0,0,0) (750,750,0,0,0)', 'a bulk insert counts every row');
UPDATE messaging.delivery
SET status = (ARRAY['processing', 'complete', 'failed']::messaging.delivery_status[])
                 [1 + person_id % 3]
WHERE dispatch_id IN (20, 21) AND person_id <= 1200;
SELECT is((SELECT string_agg(counts, ' ' ORDER BY dispatch_id) FROM counts
           WHERE dispatch_id IN (20, 21)),
          '(750,150,200,200,200) (750,150,200,200,200)',
          'a bulk update of 1,200 rows over two dispatches nets per status');

-- INSERT ... ON CONFLICT DO UPDATE and MERGE count each of their actions.
INSERT INTO messaging.dispatch (dispatch_id, message_id, channel, sent_by)
VALUES (22, 2, 'wechat', 'alice');
INSERT INTO messaging.delivery (delivery_id, dispatch_id, person_id)
VALUES (5001, 22, 1), (5002, 22, 2);
INSERT INTO messaging.delivery (delivery_id, dispatch_id, person_id, status)
VALUES (5002, 22, 2, 'complete'), (5003, 22, 3, 'failed')
ON CONFLICT (delivery_id) DO UPDATE SET status = excluded.status;
SELECT is((SELECT counts FROM counts WHERE dispatch_id = 22), '(3,1,0,1,1)',
          'an upsert counts its insert and its update');
MERGE INTO messaging.delivery d
USING (VALUES (5001::bigint, 'processing'::messaging.delivery_status),
              (5003, 'complete'), (5004, 'failed')) AS v(id, status)
ON d.delivery_id = v.id
WHEN MATCHED AND v.id = 5003 THEN DELETE
WHEN MATCHED THEN UPDATE SET status = v.status
WHEN NOT MATCHED THEN INSERT (delivery_id, dispatch_id, person_id, status)
                      VALUES (v.id, 22, 4, v.status);
SELECT is((SELECT counts FROM counts WHERE dispatch_id = 22), '(3,0,1,1,1)',
          'a MERGE counts its update, delete and insert');

-- The counter function refuses to run where it cannot count.
CREATE TEMP TABLE not_deliveries (delivery_id bigint);
CREATE TRIGGER wrong_level AFTER INSERT ON not_deliveries
    FOR EACH ROW EXECUTE FUNCTION messaging._count_deliveries();
SELECT throws_ok('INSERT INTO not_deliveries VALUES (1)', '39P01',
                 'messaging._count_deliveries() must fire AFTER, FOR EACH STATEMENT',
                 'the counter function refuses to fire per row');
DROP TRIGGER wrong_level ON not_deliveries;
CREATE TRIGGER no_tables AFTER INSERT ON messaging.delivery
    FOR EACH STATEMENT EXECUTE FUNCTION messaging._count_deliveries();
SELECT throws_ok('INSERT INTO messaging.delivery (dispatch_id, person_id) VALUES (20, 9999)',
                 '39P01', NULL, 'the counter function refuses to fire without transition tables');
DROP TRIGGER no_tables ON messaging.delivery;
SELECT throws_ok('SELECT messaging._count_deliveries()', '39P01',
                 'messaging._count_deliveries() must be called as a trigger',
                 'the counter function cannot be called as a function');

-- The counters equal a count of the deliveries themselves.
SELECT results_eq(
    'SELECT dispatch_id, messages::bigint, not_started::bigint, processing::bigint,
            complete::bigint, failed::bigint
     FROM messaging.dispatch ORDER BY dispatch_id',
    'SELECT dispatch_id, count(*), count(*) FILTER (WHERE status = ''not_started''),
            count(*) FILTER (WHERE status = ''processing''),
            count(*) FILTER (WHERE status = ''complete''),
            count(*) FILTER (WHERE status = ''failed'')
     FROM messaging.delivery GROUP BY dispatch_id ORDER BY dispatch_id',
    'the counters match the deliveries');

-- Deleting and truncating.
DELETE FROM messaging.delivery WHERE delivery_id IN (101, 102);
SELECT is((SELECT counts FROM counts WHERE dispatch_id = 10), '(1,1,0,0,0)',
          'deleted deliveries are no longer counted');
SELECT ok((SELECT ok FROM counts_add_up), 'the counts still add up after deletes');

TRUNCATE messaging.delivery;
SELECT is((SELECT string_agg(counts, ' ' ORDER BY dispatch_id) FROM counts),
          '(0,0,0,0,0) (0,0,0,0,0) (0,0,0,0,0) (0,0,0,0,0) (0,0,0,0,0)',
          'truncating the deliveries empties every dispatch');

-- Counters are written by the trigger functions, never by hand through the API.
SELECT is((SELECT count(*)::int FROM pg_trigger
           WHERE tgrelid = 'messaging.delivery'::regclass AND NOT tgisinternal
             AND tgname LIKE 'delivery_counts_%'), 4,
          'the delivery table carries the four counter triggers');
SELECT ok((SELECT bool_and(NOT (tgtype::int & 1 = 1)) FROM pg_trigger
           WHERE tgrelid = 'messaging.delivery'::regclass
             AND tgname LIKE 'delivery_counts_%'),
          'the counter triggers fire once per statement');

SELECT * FROM finish();
ROLLBACK;
