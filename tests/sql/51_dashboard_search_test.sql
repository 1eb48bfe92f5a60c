-- dashboard_search: every filter, inclusive calendar days in the session's time zone,
-- newest first, paging with total_rows, and refused page arguments.
BEGIN;
SELECT plan(36);

SET LOCAL TimeZone = 'Asia/Shanghai';

INSERT INTO messaging.person (person_id, kind, display_name, email, wechat_userid)
VALUES (1, 'staff', 'Ann Lee', 'ann@school.example', 'annlee'),
       (2, 'staff', 'Bob Wu', 'bob@school.example', 'bobwu');

-- Six dispatches; times are Shanghai local (UTC+8).
INSERT INTO messaging.message (message_id, subject, body, sent_by, created_at)
SELECT g, 'Notice ' || g, 'Body', 'alice', '2026-02-27 09:00+08' FROM generate_series(1, 6) g;
INSERT INTO messaging.dispatch (dispatch_id, message_id, channel, sent_by, created_at, updated_at)
VALUES (1, 1, 'wechat', 'alice', '2026-02-27 09:00+08', '2026-02-28 10:00+08'),
       (2, 2, 'email',  'alice', '2026-02-28 09:00+08', '2026-03-01 00:00+08'),
       (3, 3, 'alert',  'alice', '2026-03-01 12:00+08', '2026-03-01 23:59:59+08'),
       (4, 4, 'wechat', 'alice', '2026-03-01 23:00+08', '2026-03-02 07:30+08'),
       (5, 5, 'email',  'alice', '2026-03-02 07:00+08', '2026-03-02 07:30+08'),
       (6, 6, 'wechat', 'alice', '2026-03-03 00:00+08', '2026-03-03 00:00+08');
-- Dispatches 2, 4 and 6 have a failure.
INSERT INTO messaging.delivery (dispatch_id, person_id, status, error)
SELECT d, p,
       CASE WHEN d % 2 = 0 AND p = 2 THEN 'failed' ELSE 'complete' END::messaging.delivery_status,
       CASE WHEN d % 2 = 0 AND p = 2 THEN 'no email address recorded' END
FROM generate_series(1, 6) d, generate_series(1, 2) p;

-- The ids a search returns, in order, and the total it reports.
CREATE FUNCTION pg_temp.ids(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE result text;
BEGIN
    EXECUTE format('SELECT coalesce(string_agg(dispatch_id::text, '','' ORDER BY n), '''')
                           || '' of '' || coalesce(max(total_rows), 0)
                    FROM (SELECT row_number() OVER () AS n, * FROM %s) s', q)
    INTO result;
    RETURN result;
END $$;

SELECT is(pg_temp.ids('messaging.dashboard_search()'), '6,5,4,3,2,1 of 6',
          'newest updated_at first, then highest dispatch_id');
SELECT is(pg_temp.ids($$messaging.dashboard_search(message_type => 'wechat')$$),
          '6,4,1 of 3', 'message_type filters by channel');
SELECT is(pg_temp.ids($$messaging.dashboard_search(message_type => 'alert')$$),
          '3 of 1', 'message_type alert');
SELECT is(pg_temp.ids('messaging.dashboard_search(has_error => true)'), '6,4,2 of 3',
          'has_error true keeps dispatches with a failure');
SELECT is(pg_temp.ids('messaging.dashboard_search(has_error => false)'), '5,3,1 of 3',
          'has_error false keeps dispatches without one');
SELECT is(pg_temp.ids($$messaging.dashboard_search(updated_from => '2026-03-01')$$),
          '6,5,4,3,2 of 5', 'updated_from includes the whole first day from midnight');
SELECT is(pg_temp.ids($$messaging.dashboard_search(updated_to => '2026-03-01')$$),
          '3,2,1 of 3', 'updated_to includes the whole last day');
SELECT is(pg_temp.ids($$messaging.dashboard_search(updated_from => '2026-03-01',
                                                   updated_to => '2026-03-01')$$),
          '3,2 of 2', 'a one-day updated range');
SELECT is(pg_temp.ids($$messaging.dashboard_search(created_from => '2026-03-01',
                                                   created_to => '2026-03-01')$$),
          '4,3 of 2', 'a one-day created range');
SELECT is(pg_temp.ids($$messaging.dashboard_search(created_to => '2026-02-28')$$),
          '2,1 of 2', 'created_to alone');
SELECT is(pg_temp.ids($$messaging.dashboard_search(created_from => '2026-03-02')$$),
          '6,5 of 2', 'created_from alone');
SELECT is(pg_temp.ids($$messaging.dashboard_search(updated_from => '2026-03-04')$$),
          ' of 0', 'a range with nothing in it returns no rows');
SELECT is(pg_temp.ids($$messaging.dashboard_search('wechat', '2026-03-02', NULL, NULL, NULL,
                                                   true)$$),
          '6,4 of 2', 'filters combine');
SELECT is(pg_temp.ids($$messaging.dashboard_search(updated_to => '2026-03-01',
                                                   created_from => '2026-02-28',
                                                   message_type => 'email', has_error => true)$$),
          '2 of 1', 'all filters at once');

-- Calendar days are the session's.
SELECT is(pg_temp.ids($$messaging.dashboard_search(updated_from => '2026-03-02')$$),
          '6,5,4 of 3', 'days follow the session time zone (Shanghai)');
SET LOCAL TimeZone = 'UTC';
SELECT is(pg_temp.ids($$messaging.dashboard_search(updated_from => '2026-03-02')$$),
          '6 of 1', 'the same day in UTC starts eight hours later');
SELECT is(pg_temp.ids($$messaging.dashboard_search(updated_to => '2026-02-28')$$),
          '2,1 of 2', 'midnight in Shanghai is the previous day in UTC');
SET LOCAL TimeZone = 'Asia/Shanghai';

-- Paging.
SELECT is(pg_temp.ids('messaging.dashboard_search(page_size => 2)'), '6,5 of 6',
          'page 1 of 3');
SELECT is(pg_temp.ids('messaging.dashboard_search(page => 2, page_size => 2)'), '4,3 of 6',
          'page 2 of 3');
SELECT is(pg_temp.ids('messaging.dashboard_search(page => 3, page_size => 2)'), '2,1 of 6',
          'page 3 of 3');
SELECT is(pg_temp.ids('messaging.dashboard_search(page => 4, page_size => 2)'), ' of 0',
          'a page past the end is empty');
SELECT is(pg_temp.ids('messaging.dashboard_search(has_error => true, page => 2, page_size => 2)'),
          '2 of 3', 'total_rows counts the filtered rows, not the page');
SELECT is(pg_temp.ids('messaging.dashboard_search(page_size => 1000)'), '6,5,4,3,2,1 of 6',
          'page_size 1000 is allowed');

SELECT throws_ok('SELECT * FROM messaging.dashboard_search(page => 0)', '22023',
                 'page must be 1 or more', 'page 0 is refused');
SELECT throws_ok('SELECT * FROM messaging.dashboard_search(page => NULL)', '22023', NULL,
                 'a NULL page is refused');
SELECT throws_ok('SELECT * FROM messaging.dashboard_search(page_size => 0)', '22023',
                 'page_size must be between 1 and 1000', 'page_size 0 is refused');
SELECT throws_ok('SELECT * FROM messaging.dashboard_search(page_size => 1001)', '22023', NULL,
                 'page_size 1001 is refused');
SELECT throws_ok('SELECT * FROM messaging.dashboard_search(page => -1, page_size => -1)', '22023',
                 NULL, 'negative page arguments are refused');

-- What a row holds.
SELECT results_eq(
    $$SELECT dispatch_id, message_id, channel::text, message_type, subject, sent_by,
             messages, not_started, processing, complete, failed, has_error
      FROM messaging.dashboard_search(page_size => 3)$$,
    $$VALUES (6::bigint, 6::bigint, 'wechat', 'Weixin / WeChat', 'Notice 6', 'alice',
              2, 0, 0, 1, 1, true),
             (5, 5, 'email', 'Email', 'Notice 5', 'alice', 2, 0, 0, 2, 0, false),
             (4, 4, 'wechat', 'Weixin / WeChat', 'Notice 4', 'alice', 2, 0, 0, 1, 1, true)$$,
    'a search row carries the dispatch, its label, subject and counts');
SELECT is((SELECT (created_at, updated_at)::text FROM messaging.dashboard_search()
           WHERE dispatch_id = 3),
          ('2026-03-01 12:00+08'::timestamptz, '2026-03-01 23:59:59+08'::timestamptz)::text,
          'a search row carries created_at and updated_at');
SELECT is((SELECT message_type FROM messaging.dashboard WHERE dispatch_id = 3), 'Alert',
          'the dashboard labels alerts');
SELECT results_eq(
    'SELECT * FROM messaging.dashboard ORDER BY updated_at DESC, dispatch_id DESC',
    $$SELECT dispatch_id, message_id, channel, message_type, subject, sent_by, created_at,
             updated_at, messages, not_started, processing, complete, failed, has_error
      FROM messaging.dashboard_search()$$,
    'the dashboard view and the search agree');
SELECT is((SELECT array_agg(attname::text ORDER BY attnum) FROM pg_attribute
           WHERE attrelid = 'messaging.dashboard'::regclass AND attnum > 0),
          ARRAY['dispatch_id', 'message_id', 'channel', 'message_type', 'subject', 'sent_by',
                'created_at', 'updated_at', 'messages', 'not_started', 'processing',
                'complete', 'failed', 'has_error'],
          'the dashboard view has the documented columns');

SELECT is((SELECT array_agg(attname::text ORDER BY attnum) FROM pg_attribute
           WHERE attrelid = 'messaging.deliveries'::regclass AND attnum > 0),
          ARRAY['delivery_id', 'dispatch_id', 'message_id', 'channel', 'person_id',
                'display_name', 'address', 'status', 'attempts', 'error', 'created_at',
                'updated_at'],
          'the deliveries view has the documented columns');
SELECT is((SELECT proargnames FROM pg_proc
           WHERE oid = 'messaging.dashboard_search(messaging.channel, date, date, date, date,
                                                   boolean, int, int)'::regprocedure),
          ARRAY['message_type', 'updated_from', 'updated_to', 'created_from', 'created_to',
                'has_error', 'page', 'page_size', 'dispatch_id', 'message_id', 'channel',
                'message_type', 'subject', 'sent_by', 'created_at', 'updated_at', 'messages',
                'not_started', 'processing', 'complete', 'failed', 'has_error', 'total_rows'],
          'dashboard_search has the documented arguments and columns');
SELECT is((SELECT array_agg(attname::text ORDER BY attnum) FROM pg_attribute
           WHERE attrelid = 'messaging.channel_settings'::regclass AND attnum > 0),
          ARRAY['channel', 'configured', 'endpoint', 'identity', 'secret_set', 'updated_at'],
          'channel_settings has the documented columns');

SELECT * FROM finish();
ROLLBACK;
