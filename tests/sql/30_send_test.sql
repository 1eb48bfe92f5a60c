-- send: validation, fan-out, associations, flagged deliveries, request_key
-- retries, and the sender identity.
BEGIN;
SET LOCAL client_min_messages = warning;
SELECT plan(64);
\ir fixtures/school.sql

-- How many rows the queue tables hold: a failed send must not change it.
CREATE FUNCTION pg_temp.rows_written() RETURNS bigint[] LANGUAGE sql AS $$
    SELECT ARRAY[(SELECT count(*) FROM messaging.message),
                 (SELECT count(*) FROM messaging.dispatch),
                 (SELECT count(*) FROM messaging.delivery)]
$$;

-- The deliveries of the dispatch of `message` on `channel`, as person, status, error.
CREATE FUNCTION pg_temp.deliveries(message bigint, channel messaging.channel)
RETURNS TABLE (person_id bigint, status text, error text, attempts int)
LANGUAGE sql AS $$
    SELECT l.person_id, l.status::text, l.error, l.attempts
    FROM messaging.delivery l JOIN messaging.dispatch d USING (dispatch_id)
    WHERE d.message_id = $1 AND d.channel = $2
    ORDER BY l.person_id
$$;

-- ---------------------------------------------------------------------------
-- A plain send
-- ---------------------------------------------------------------------------
CREATE TEMP TABLE trip AS
SELECT * FROM messaging.send('Trip', 'Coaches leave at 8.', '{101, 105, 104, 101}',
                             '{wechat, email, wechat}');

SELECT results_eq($$SELECT channel::text, recipients, flagged FROM trip$$,
    $$VALUES ('wechat', 3, 2), ('email', 3, 1)$$,
    'one row per channel, duplicates counted once, unreachable people flagged');
SELECT is((SELECT count(DISTINCT message_id)::int FROM trip), 1, 'both rows are one message');
SELECT results_eq(
    $$SELECT subject, body, sent_by, request_key FROM messaging.message
      WHERE message_id = (SELECT message_id FROM trip LIMIT 1)$$,
    $$VALUES ('Trip'::text, 'Coaches leave at 8.'::text, session_user::text COLLATE "default",
              NULL::text)$$,
    'the message is stored with the session user as its sender');
SELECT results_eq(
    $$SELECT dispatch_id, channel::text, sent_by, recipients, flagged FROM messaging.dispatch
      WHERE message_id = (SELECT message_id FROM trip LIMIT 1) ORDER BY dispatch_id$$,
    $$SELECT dispatch_id, channel::text, session_user::text COLLATE "default", recipients, flagged
      FROM trip$$,
    'each returned row is a dispatch of the message');
SELECT results_eq(
    $$SELECT * FROM pg_temp.deliveries((SELECT message_id FROM trip LIMIT 1), 'wechat')$$,
    $$VALUES (101::bigint, 'not_started', NULL::text, 0),
             (104, 'failed', 'account disabled', 0),
             (105, 'failed', 'not registered for WeChat: ask them to register', 0)$$,
    'WeChat: unreachable people are failed at once with the reason, without a try');
SELECT results_eq(
    $$SELECT * FROM pg_temp.deliveries((SELECT message_id FROM trip LIMIT 1), 'email')$$,
    $$VALUES (101::bigint, 'not_started', NULL::text, 0),
             (104, 'failed', 'account disabled', 0),
             (105, 'not_started', NULL, 0)$$,
    'email: a disabled account is failed, the others queued');
SELECT is(
    (SELECT count(*)::int FROM messaging.delivery l JOIN trip USING (dispatch_id)
     WHERE l.address IS NOT NULL),
    0, 'addresses are read at dispatch time, not when queued');

SELECT results_eq(
    $$SELECT channel::text, recipients, flagged
      FROM messaging.send('Lunch', '午饭在十二点。', '{103, 203}', '{email}')$$,
    $$VALUES ('email', 2, 1)$$, 'a Chinese message to a pupil and a contact');
SELECT results_eq(
    $$SELECT subject FROM messaging.message ORDER BY message_id DESC LIMIT 1$$,
    $$VALUES ('Lunch'::text)$$, 'the subject is kept');
SELECT results_eq(
    $$SELECT channel::text, recipients, flagged
      FROM messaging.send(NULL, 'No subject.', '{101}', '{wechat}')$$,
    $$VALUES ('wechat', 1, 0)$$, 'the subject is optional');
SELECT results_eq(
    $$SELECT channel::text FROM messaging.send('  ', 'Blank subject.', '{101}', '{email}')$$,
    $$VALUES ('email')$$, 'a blank subject is accepted');
SELECT is((SELECT subject FROM messaging.message ORDER BY message_id DESC LIMIT 1), NULL,
    'a blank subject is stored as no subject');

-- ---------------------------------------------------------------------------
-- Lengths are counted in characters
-- ---------------------------------------------------------------------------
SELECT lives_ok(
    $$SELECT messaging.send(repeat('好', 100), repeat('好', 600), '{101}', '{email}')$$,
    '100 Chinese characters of subject and 600 of body are allowed');
SELECT lives_ok(
    $$SELECT messaging.send(repeat('😀', 100), repeat('😀', 600), '{101}', '{email}')$$,
    '100 and 600 emoji are allowed');
SELECT is((SELECT length(body) FROM messaging.message ORDER BY message_id DESC LIMIT 1), 600,
    'the body is stored whole');
SELECT throws_ok($$SELECT messaging.send('x', repeat('好', 601), '{101}', '{email}')$$,
    '22001', 'body is too long', '601 Chinese characters of body are too many');
SELECT throws_ok($$SELECT messaging.send('x', repeat('😀', 601), '{101}', '{email}')$$,
    '22001', 'body is too long', '601 emoji of body are too many');
SELECT throws_ok($$SELECT messaging.send(repeat('a', 101), 'x', '{101}', '{email}')$$,
    '22001', 'subject is too long', 'a subject of 101 characters is too long');

-- ---------------------------------------------------------------------------
-- Invalid arguments: 22023, and nothing written
-- ---------------------------------------------------------------------------
CREATE TEMP TABLE before_errors AS SELECT pg_temp.rows_written() AS counts;

SELECT throws_ok($$SELECT messaging.send('x', NULL, '{101}', '{email}')$$,
    '22023', 'body must not be null', 'the body is required');
SELECT throws_ok($$SELECT messaging.send('x', '', '{101}', '{email}')$$,
    '22023', 'body must not be blank', 'an empty body is refused');
SELECT throws_ok($$SELECT messaging.send('x', E' \n\u3000', '{101}', '{email}')$$,
    '22023', 'body must not be blank', 'a body of white space is refused');
SELECT throws_ok($$SELECT messaging.send('x', 'y', NULL, '{email}')$$,
    '22023', 'recipients must not be null', 'recipients are required');
SELECT throws_ok($$SELECT messaging.send('x', 'y', '{}', '{email}')$$,
    '22023', 'recipients must not be empty', 'an empty recipient list is refused');
SELECT throws_ok($$SELECT messaging.send('x', 'y', '{101, NULL}', '{email}')$$,
    '22023', 'recipients must not contain null', 'a NULL recipient is refused');
SELECT throws_ok($$SELECT messaging.send('x', 'y', '{101}', NULL)$$,
    '22023', 'channels must not be null', 'channels are required');
SELECT throws_ok($$SELECT messaging.send('x', 'y', '{101}', '{}')$$,
    '22023', 'channels must not be empty', 'an empty channel list is refused');
SELECT throws_ok($$SELECT messaging.send('x', 'y', '{101}', '{email, NULL}')$$,
    '22023', 'channels must not contain null', 'a NULL channel is refused');
SELECT throws_ok($$SELECT messaging.send('x', 'y', '{101, 999, 998, 101}', '{email}')$$,
    '22023', 'unknown person ids: 998, 999', 'unknown recipients are named');
SELECT throws_ok($$SELECT messaging.send('x', 'y', '{0}', '{email}')$$,
    '22023', 'unknown person id: 0', 'an unknown recipient is named');
SELECT throws_ok($$SELECT messaging.send('x', 'y', '{101, 201}', '{email, alert}')$$,
    '22023', 'alerts reach staff only', 'an alert without a staff recipient is refused');
SELECT throws_ok($$SELECT messaging.send('x', 'y', '{101}', '{alert}', true)$$,
    '22023', 'alerts reach staff only', 'associations add no staff for an alert');
SELECT throws_ok($$SELECT messaging.send('x', 'y', '{101}', '{email}', NULL)$$,
    '22023', 'include_associations must not be null', 'include_associations is required');
SELECT throws_ok($$SELECT messaging.send('x', 'y', '{101}', '{email}', true, '{Mother, NULL}')$$,
    '22023', 'relationships must not contain null', 'a NULL relationship is refused');
SELECT throws_ok($$SELECT messaging.send('x', 'y', '{101}', '{email}', ranks => '{NULL}')$$,
    '22023', 'ranks must not contain null', 'a NULL rank is refused');
SELECT throws_ok($$SELECT messaging.send('x', 'y', '{101}', '{email}', request_key => ' ')$$,
    '22023', 'request_key must not be blank', 'a blank request_key is refused');

SELECT is(pg_temp.rows_written(), (SELECT counts FROM before_errors),
    'failed sends wrote no message, dispatch or delivery');

-- ---------------------------------------------------------------------------
-- Alerts reach staff only
-- ---------------------------------------------------------------------------
CREATE TEMP TABLE meeting AS
SELECT * FROM messaging.send('Staff meeting', 'At 4pm.', '{301, 302, 101}', '{email, alert}');
SELECT results_eq($$SELECT channel::text, recipients, flagged FROM meeting$$,
    $$VALUES ('email', 3, 1), ('alert', 2, 1)$$,
    'the alert goes to staff only; email to everyone');
SELECT results_eq(
    $$SELECT * FROM pg_temp.deliveries((SELECT message_id FROM meeting LIMIT 1), 'alert')$$,
    $$VALUES (301::bigint, 'not_started', NULL::text, 0), (302, 'failed', 'account disabled', 0)$$,
    'a disabled staff account gets a failed alert');

-- ---------------------------------------------------------------------------
-- Associations
-- ---------------------------------------------------------------------------
CREATE TEMP TABLE evening AS
SELECT * FROM messaging.send('Parents evening', 'Tuesday at 6pm.', '{101, 102}', '{email}', true);
SELECT results_eq($$SELECT channel::text, recipients, flagged FROM evening$$,
    $$VALUES ('email', 5, 2)$$, 'pupils and all their contacts, each once');
SELECT results_eq(
    $$SELECT * FROM pg_temp.deliveries((SELECT message_id FROM evening), 'email')$$,
    $$VALUES (101::bigint, 'not_started', NULL::text, 0),
             (102, 'failed', 'no email address recorded', 0),
             (201, 'not_started', NULL, 0),
             (202, 'not_started', NULL, 0),
             (204, 'failed', 'account disabled', 0)$$,
    'the mother of two siblings gets one delivery');
SELECT results_eq(
    $$SELECT recipients FROM messaging.send('x', 'y', '{101, 102}', '{email}',
                                            relationships => '{MOTHER}')$$,
    ARRAY[3], 'a relationship filter implies associations and matches case-insensitively');
SELECT results_eq(
    $$SELECT recipients FROM messaging.send('x', 'y', '{101, 102}', '{email}', ranks => '{2, 3}')$$,
    ARRAY[4], 'a rank filter implies associations');
SELECT results_eq(
    $$SELECT recipients FROM messaging.send('x', 'y', '{101, 103}', '{email}', true,
                                            '{mother, father}', '{1}')$$,
    ARRAY[4], 'relationship and rank filters both apply');
SELECT results_eq(
    $$SELECT recipients FROM messaging.send('x', 'y', '{101, 201}', '{wechat}', true)$$,
    ARRAY[4], 'a contact picked by hand and by association gets one delivery');
SELECT results_eq(
    $$SELECT recipients FROM messaging.send('x', 'y', '{101, 102}', '{email}', false)$$,
    ARRAY[2], 'without associations only the pupils');
SELECT results_eq(
    $$SELECT channel::text, recipients, flagged
      FROM messaging.send('x', 'y', '{101, 301}', '{wechat, alert}', true)$$,
    $$VALUES ('wechat', 5, 2), ('alert', 1, 0)$$,
    'associations widen every channel, but alerts still reach staff only');
SELECT results_eq(
    $$SELECT recipients FROM messaging.send('x', 'y', '{105}', '{email}', true)$$,
    ARRAY[1], 'a pupil without contacts is still a recipient');

-- ---------------------------------------------------------------------------
-- request_key: a retry returns the first call's rows and queues nothing
-- ---------------------------------------------------------------------------
CREATE TEMP TABLE keyed AS
SELECT * FROM messaging.send('Trip', 'Coaches leave at 8.', '{101, 105}', '{wechat, email}',
                             true, '{Mother}', request_key => 'trip-1');
CREATE TEMP TABLE before_retry AS SELECT pg_temp.rows_written() AS counts;

SELECT results_eq(
    $$SELECT * FROM messaging.send('Trip', 'Coaches leave at 8.', '{101, 105}',
                                   '{wechat, email}', true, '{Mother}', request_key => 'trip-1')$$,
    $$SELECT * FROM keyed$$, 'a retry returns the first call''s rows');
SELECT results_eq(
    $$SELECT * FROM messaging.send('Trip', 'Coaches leave at 8.', '{105, 101, 105}',
                                   '{email, wechat}', false, '{mother}', request_key => 'trip-1')$$,
    $$SELECT * FROM keyed$$,
    'the same content in another order or case is the same request');
SELECT is(pg_temp.rows_written(), (SELECT counts FROM before_retry), 'a retry queues nothing');

SELECT throws_ok(
    $$SELECT messaging.send('Trip', 'Coaches leave at 9.', '{101, 105}', '{wechat, email}',
                            true, '{Mother}', request_key => 'trip-1')$$,
    '22023', 'request_key "trip-1" was already used for another message',
    'the same key with another body is refused');
SELECT throws_ok(
    $$SELECT messaging.send('Trip', 'Coaches leave at 8.', '{101, 105}', '{wechat}',
                            true, '{Mother}', request_key => 'trip-1')$$,
    '22023', NULL, 'the same key with other channels is refused');
SELECT throws_ok(
    $$SELECT messaging.send('Trip', 'Coaches leave at 8.', '{101, 105}', '{wechat, email}',
                            true, request_key => 'trip-1')$$,
    '22023', NULL, 'the same key with other association filters is refused');
SELECT throws_ok(
    $$SELECT messaging.send('Trip', 'Coaches leave at 8.', '{101}', '{wechat, email}',
                            true, '{Mother}', request_key => 'trip-1')$$,
    '22023', NULL, 'the same key with other recipients is refused');

SELECT throws_ok(
    $$SELECT messaging.send('Fail', 'y', '{101, 999}', '{email}', request_key => 'retry-me')$$,
    '22023', 'unknown person id: 999', 'a failing call with a key');
SELECT results_eq(
    $$SELECT channel::text, recipients FROM messaging.send('Other', 'z', '{101}', '{email}',
                                                          request_key => 'retry-me')$$,
    $$VALUES ('email', 1)$$, 'a call that failed did not use up its key');
SELECT is(
    (SELECT request_fingerprint IS NOT NULL FROM messaging.message
     WHERE request_key = 'retry-me'), true, 'a keyed message keeps a fingerprint of its content');

-- ---------------------------------------------------------------------------
-- The sender identity
-- ---------------------------------------------------------------------------
CREATE ROLE mis_test_nobody;
CREATE ROLE mis_test_office IN ROLE messaging_sender;
CREATE ROLE mis_test_head IN ROLE messaging_admin;
CREATE ROLE mis_test_apps IN ROLE messaging_app;
CREATE ROLE mis_test_portal IN ROLE mis_test_apps;

SET SESSION AUTHORIZATION mis_test_nobody;
SELECT throws_ok($$SELECT messaging.send('x', 'y', '{101}', '{email}')$$, '42501', NULL,
    'a role without a messaging role may not send');

SET SESSION AUTHORIZATION mis_test_portal;
SELECT throws_ok($$SELECT messaging.send('x', NULL, '{101}', '{email}')$$, '22023',
    'messaging.sender is not set',
    'an application role (through another role) must name its user before anything else');
SET LOCAL messaging.sender = 'alice';
CREATE TEMP TABLE portal_sent AS
SELECT * FROM messaging.send('From the portal', 'y', '{101}', '{email}', request_key => 'same');
CREATE TEMP TABLE portal_repeat AS
SELECT * FROM messaging.send('From the portal', 'y', '{101}', '{email}', request_key => 'same');

SET SESSION AUTHORIZATION mis_test_office;
CREATE TEMP TABLE office_sent AS
SELECT * FROM messaging.send('From the office', 'y', '{101}', '{email}', request_key => 'same');

SET SESSION AUTHORIZATION mis_test_head;
CREATE TEMP TABLE head_sent AS
SELECT * FROM messaging.send('From the head', 'y', '{301}', '{alert}');
RESET SESSION AUTHORIZATION;

SELECT results_eq(
    $$SELECT m.sent_by, d.sent_by FROM messaging.message m
      JOIN messaging.dispatch d USING (message_id) JOIN portal_sent USING (dispatch_id)$$,
    $$VALUES ('alice'::text, 'alice'::text)$$,
    'an application''s message is sent by the user it names');
SELECT results_eq($$SELECT * FROM portal_repeat$$, $$SELECT * FROM portal_sent$$,
    'the application user''s retry returns the first rows');
SELECT results_eq(
    $$SELECT m.sent_by, d.sent_by FROM messaging.message m
      JOIN messaging.dispatch d USING (message_id) JOIN office_sent USING (dispatch_id)$$,
    $$VALUES ('mis_test_office'::text, 'mis_test_office'::text)$$,
    'a plain sender is themselves even with messaging.sender set');
SELECT isnt((SELECT message_id FROM office_sent), (SELECT message_id FROM portal_sent),
    'request keys are per sender');
SELECT results_eq(
    $$SELECT m.sent_by FROM messaging.message m JOIN head_sent USING (message_id)$$,
    $$VALUES ('mis_test_head'::text)$$, 'a member of messaging_admin may send');

SELECT * FROM finish();
ROLLBACK;
