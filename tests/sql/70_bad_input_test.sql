-- Bad input: a catalogue of what callers may get wrong, across every function and
-- view of the API. Each case gets its SQLSTATE (and message), or the documented
-- result; every refused call leaves the tables as they were and tried no write at
-- all (pg_stat_xact counts tried writes, even those rolled back), so that refusing
-- always comes before writing.
BEGIN;
SET LOCAL client_min_messages = warning;
SELECT plan(186);
\ir fixtures/school.sql

-- pgTAP keeps its state in temporary tables; let the test roles write to them.
GRANT ALL ON __tcache__ TO PUBLIC;
GRANT ALL ON SEQUENCE __tcache___id_seq, __tresults___numb_seq TO PUBLIC;

CREATE ROLE t_sender NOLOGIN IN ROLE messaging_sender;
CREATE ROLE t_admin NOLOGIN IN ROLE messaging_admin;
CREATE ROLE t_app NOLOGIN IN ROLE messaging_app;
CREATE ROLE t_app_admin NOLOGIN IN ROLE messaging_app, messaging_admin;
CREATE ROLE t_nobody NOLOGIN;

-- Pupils with a quote and a combining accent in their names, and another sender's
-- dispatch with a failure.
INSERT INTO messaging.person (person_id, kind, display_name, given_name, family_name, email)
VALUES (106, 'pupil', 'Siobhán O''Brien', 'Siobhán', 'O''Brien', 'sob@example.org'),
       (107, 'pupil', 'René Dupont', 'Rene' || chr(769), 'Dupont', 'rd@example.org');
INSERT INTO messaging.message (message_id, subject, body, sent_by)
VALUES (900000000, 'Other', 'Someone else''s message', 't_other');
INSERT INTO messaging.dispatch (dispatch_id, message_id, channel, sent_by)
VALUES (900, 900000000, 'email', 't_other');
INSERT INTO messaging.delivery (delivery_id, dispatch_id, person_id, status, error)
VALUES (900000000, 900, 101, 'failed', 'no email address recorded');
SELECT messaging.configure_wecom('ww0123456789', 1000002, 'wecom-s3cret');

-- Rows of the history and settings tables, and writes tried on any table of the
-- extension in this transaction.
CREATE FUNCTION pg_temp.footprint() RETURNS bigint[]
LANGUAGE sql AS $$
    SELECT ARRAY[(SELECT count(*) FROM messaging.message),
                 (SELECT count(*) FROM messaging.dispatch),
                 (SELECT count(*) FROM messaging.delivery),
                 (SELECT count(*) FROM messaging.alert),
                 (SELECT count(*) FROM messaging.wecom_config),
                 (SELECT count(*) FROM messaging.smtp_config),
                 (SELECT count(*) FROM messaging.person),
                 (SELECT coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0)
                  FROM pg_stat_xact_user_tables WHERE schemaname = 'messaging')]::bigint[]
$$;

-- Passes when `call`, run by role `who` (NULL: the superuser running the tests),
-- fails with SQLSTATE `state` and, unless `message` is NULL, exactly that message,
-- having written nothing and tried no write.
CREATE FUNCTION pg_temp.refused(call text, state text, message text, description text,
                                who name DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    before bigint[] := pg_temp.footprint();
    after bigint[];
    got_state text := 'no error';
    got_message text;
BEGIN
    BEGIN
        IF who IS NOT NULL THEN
            EXECUTE format('SET SESSION AUTHORIZATION %I', who);
        END IF;
        EXECUTE call;
        RESET SESSION AUTHORIZATION;
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS got_state = RETURNED_SQLSTATE, got_message = MESSAGE_TEXT;
    END;
    after := pg_temp.footprint();
    IF got_state = state AND (message IS NULL OR got_message = message) AND after = before THEN
        RETURN ok(true, description);
    END IF;
    RETURN ok(false, description) || E'\n' || diag(format(
        E'    wanted: %s %s\n    got:    %s %s\n    footprint before %s, after %s',
        state, coalesce(message, '(any message)'), got_state, got_message, before, after));
END
$$;

-- The message of the error `call` raises, or NULL.
CREATE FUNCTION pg_temp.error_message(call text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    got text;
BEGIN
    EXECUTE call;
    RETURN NULL;
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS got = MESSAGE_TEXT;
    RETURN got;
END
$$;

-- The footprint sees a write even when it was rolled back, so the check can fail.
CREATE TEMP TABLE footprint_before AS SELECT pg_temp.footprint() AS counts;
SELECT throws_ok(
    $$SELECT 1 / (recipients - 1) FROM messaging.send('s', 'b', '{101}', '{email}')$$,
    '22012', NULL, 'a call that writes and then fails');
SELECT is((pg_temp.footprint())[1:7], (SELECT counts[1:7] FROM footprint_before),
    'its rows are gone');
SELECT cmp_ok((pg_temp.footprint())[8], '>', (SELECT counts[8] FROM footprint_before),
    'but the footprint counts the writes it tried');

-- ===========================================================================
-- group_types
-- ===========================================================================
SELECT pg_temp.refused($$SELECT messaging.group_types(NULL)$$, '22023',
    'kind must not be null', 'group_types: NULL kind');
SELECT pg_temp.refused($$SELECT messaging.group_types('teacher')$$, '22P02', NULL,
    'group_types: a kind that does not exist is refused by its type');
SELECT pg_temp.refused($$SELECT messaging.group_types('pupil')$$, '42501', NULL,
    'group_types: a role without a messaging role', 't_nobody');
SELECT pg_temp.refused($$SELECT messaging.group_types('pupil')$$, '22023',
    'messaging.sender is not set', 'group_types: an application that names no user', 't_app');

-- ===========================================================================
-- groups
-- ===========================================================================
SELECT pg_temp.refused($$SELECT messaging.groups(NULL, 'Form')$$, '22023',
    'kind must not be null', 'groups: NULL kind');
SELECT pg_temp.refused($$SELECT messaging.groups('pupil', NULL)$$, '22023',
    'group_type must not be null', 'groups: NULL group_type');
SELECT is_empty(
    $$SELECT * FROM messaging.groups('pupil', 'Form''; DROP TABLE messaging.person; --')$$,
    'groups: an injection-looking group type is a name that matches nothing');
SELECT is_empty($$SELECT * FROM messaging.groups('pupil', '%')$$,
    'groups: % is not a wildcard');
SELECT is_empty($$SELECT * FROM messaging.groups('pupil', '')$$,
    'groups: an empty group type matches nothing');
SELECT is_empty($$SELECT * FROM messaging.groups('pupil', 'form')$$,
    'groups: group types match exactly, case included');
SELECT pg_temp.refused($$SELECT messaging.groups('pupil', 'Form')$$, '42501', NULL,
    'groups: a role without a messaging role', 't_nobody');

-- ===========================================================================
-- search_by_group
-- ===========================================================================
SELECT pg_temp.refused($$SELECT messaging.search_by_group(NULL)$$, '22023',
    'group_id must not be null', 'search_by_group: NULL group id');
SELECT pg_temp.refused($$SELECT messaging.search_by_group(999)$$, '22023',
    'unknown group id: 999', 'search_by_group: an unknown group id is named');
SELECT pg_temp.refused($$SELECT messaging.search_by_group(-1)$$, '22023',
    'unknown group id: -1', 'search_by_group: a negative group id');
SELECT pg_temp.refused($$SELECT messaging.search_by_group(9223372036854775807)$$, '22023',
    'unknown group id: 9223372036854775807', 'search_by_group: the largest bigint');
SELECT pg_temp.refused($$SELECT messaging.search_by_group(101)$$, '22023',
    'unknown group id: 101', 'search_by_group: a person id is not a group id');
SELECT pg_temp.refused($$SELECT messaging.search_by_group(1)$$, '42501', NULL,
    'search_by_group: a role without a messaging role', 't_nobody');

-- ===========================================================================
-- search_by_name
-- ===========================================================================
SELECT pg_temp.refused($$SELECT messaging.search_by_name(NULL, 'smith')$$, '22023',
    'kind must not be null', 'search_by_name: NULL kind');
SELECT results_eq($$SELECT person_id FROM messaging.search_by_name('pupil', NULL)$$,
    $$SELECT person_id FROM messaging.person WHERE kind = 'pupil'
      ORDER BY display_name, person_id$$,
    'search_by_name: a NULL name returns everyone of the kind');
SELECT results_eq(
    $$SELECT count(*)::int FROM messaging.search_by_name('pupil', E'\u3000\u00a0\t\n ')$$,
    'VALUES (7)', 'search_by_name: a name of Unicode white space returns everyone of the kind');
SELECT is_empty($$SELECT * FROM messaging.search_by_name('pupil', '%')$$,
    'search_by_name: % is not a wildcard');
SELECT is_empty($$SELECT * FROM messaging.search_by_name('pupil', '_')$$,
    'search_by_name: _ is not a wildcard');
SELECT results_eq($$SELECT person_id FROM messaging.search_by_name('pupil', 'jo_')$$,
    'VALUES (105::bigint)', 'search_by_name: _ is an ordinary character');
SELECT is_empty($$SELECT * FROM messaging.search_by_name('pupil', E'\\')$$,
    'search_by_name: a backslash matches nothing');
SELECT is_empty($$SELECT * FROM messaging.search_by_name('pupil', E'smi\\')$$,
    'search_by_name: a backslash is not an escape');
SELECT results_eq($$SELECT person_id FROM messaging.search_by_name('pupil', 'o''b')$$,
    'VALUES (106::bigint)', 'search_by_name: a quote is an ordinary character');
SELECT is_empty(
    $$SELECT * FROM messaging.search_by_name('pupil', 'x''; DROP TABLE messaging.person; --')$$,
    'search_by_name: an injection-looking search matches nothing');
SELECT is_empty($$SELECT * FROM messaging.search_by_name('pupil', ''' OR ''1''=''1')$$,
    'search_by_name: a quoted tautology matches nothing');
SELECT is((SELECT count(*)::int FROM messaging.person), 15,
    'search_by_name: the injection-looking searches dropped nothing');
SELECT results_eq($$SELECT person_id FROM messaging.search_by_name('pupil', E'smi\tjo')$$,
    'VALUES (102::bigint), (101)', 'search_by_name: a tab separates words');
SELECT is_empty($$SELECT * FROM messaging.search_by_name('pupil', E'john\x01')$$,
    'search_by_name: a control character is part of the word');
SELECT is_empty($$SELECT * FROM messaging.search_by_name('pupil', '😀')$$,
    'search_by_name: an emoji matches nothing');
SELECT results_eq(
    $$SELECT person_id FROM messaging.search_by_name('pupil', 'rene' || chr(769))$$,
    'VALUES (107::bigint)', 'search_by_name: a combining accent is part of the word');
SELECT is_empty($$SELECT * FROM messaging.search_by_name('pupil', repeat('x', 1000000))$$,
    'search_by_name: a search of a million characters matches nothing');
SELECT is_empty(
    $$SELECT * FROM messaging.search_by_name('pupil',
                                            (SELECT string_agg('w' || g, ' ')
                                             FROM generate_series(1, 5000) g))$$,
    'search_by_name: a search of 5,000 words matches nothing');
SELECT pg_temp.refused($$SELECT messaging.search_by_name('pupil', 'smith')$$, '42501', NULL,
    'search_by_name: a role without a messaging role', 't_nobody');

-- ===========================================================================
-- relationship_types
-- ===========================================================================
SELECT pg_temp.refused($$SELECT messaging.relationship_types(NULL)$$, '22023',
    'pupil_ids must not be null', 'relationship_types: NULL pupil ids');
SELECT is_empty($$SELECT * FROM messaging.relationship_types('{}')$$,
    'relationship_types: no pupils offer no relationships');
SELECT pg_temp.refused($$SELECT messaging.relationship_types('{101, NULL}')$$, '22023',
    'pupil_ids must not contain null', 'relationship_types: a NULL inside the ids');
SELECT pg_temp.refused($$SELECT messaging.relationship_types('{{101, NULL}}')$$, '22023',
    'pupil_ids must not contain null', 'relationship_types: a NULL inside a 2-D array');
SELECT pg_temp.refused($$SELECT messaging.relationship_types('{101, -7, 998}')$$, '22023',
    'unknown person ids: -7, 998', 'relationship_types: unknown ids are named, sorted');
SELECT results_eq($$SELECT * FROM messaging.relationship_types('{201, 301}')$$,
    'SELECT NULL::text, NULL::smallint, NULL::int WHERE false',
    'relationship_types: contacts and staff are no pupils and offer nothing');
SELECT results_eq($$SELECT * FROM messaging.relationship_types('{101, 101, 102}')$$,
    $$VALUES ('Mother'::text, 1::smallint, 1), ('Father', 2::smallint, 1),
             ('Grandparent', 3::smallint, 1)$$,
    'relationship_types: repeated ids count once');
SELECT pg_temp.refused($$SELECT messaging.relationship_types('{101}')$$, '42501', NULL,
    'relationship_types: a role without a messaging role', 't_nobody');
SELECT pg_temp.refused(
    $$SELECT messaging.relationship_types(
          ARRAY(SELECT g FROM generate_series(1000000, 1099999) g))$$,
    '22023', 'unknown person ids: ' || (SELECT string_agg(g::text, ', ')
                                        FROM generate_series(1000000, 1000019) g)
             || ' and 99980 more',
    'relationship_types: 100,000 unknown ids are named by the first 20 and a count');

-- ===========================================================================
-- associates
-- ===========================================================================
SELECT pg_temp.refused($$SELECT messaging.associates(NULL)$$, '22023',
    'pupil_ids must not be null', 'associates: NULL pupil ids');
SELECT is_empty($$SELECT * FROM messaging.associates('{}')$$,
    'associates: no pupils have no contacts');
SELECT pg_temp.refused($$SELECT messaging.associates('{NULL}')$$, '22023',
    'pupil_ids must not contain null', 'associates: a NULL pupil id');
SELECT pg_temp.refused($$SELECT messaging.associates('{101, 5000000000}')$$, '22023',
    'unknown person id: 5000000000', 'associates: an unknown id is named');
SELECT pg_temp.refused($$SELECT messaging.associates('{101}', '{Mother, NULL}')$$, '22023',
    'relationships must not contain null', 'associates: a NULL relationship, as for send');
SELECT pg_temp.refused($$SELECT messaging.associates('{101}', ranks => '{1, NULL}')$$, '22023',
    'ranks must not contain null', 'associates: a NULL rank, as for send');
SELECT results_eq($$SELECT contact_id FROM messaging.associates('{101}', NULL, NULL)$$,
    'VALUES (202::bigint), (204), (201)', 'associates: NULL filters let every contact through');
SELECT is_empty($$SELECT * FROM messaging.associates('{101}', '{}')$$,
    'associates: an empty relationship filter matches nothing');
SELECT is_empty($$SELECT * FROM messaging.associates('{101}', ranks => '{}')$$,
    'associates: an empty rank filter matches nothing');
SELECT is_empty($$SELECT * FROM messaging.associates('{101}', '{"Mother'' OR ''x''=''x"}')$$,
    'associates: an injection-looking relationship matches nothing');
SELECT is_empty($$SELECT * FROM messaging.associates('{101}', '{%}')$$,
    'associates: % is not a wildcard');
SELECT results_eq($$SELECT contact_id FROM messaging.associates('{101}', '{MOTHER}')$$,
    'VALUES (201::bigint)', 'associates: relationship names match case-insensitively');
SELECT is_empty($$SELECT * FROM messaging.associates('{101}', ranks => '{-1, 32767}')$$,
    'associates: ranks nobody has match nothing');
SELECT pg_temp.refused($$SELECT messaging.associates('{101}', ranks => '{40000}')$$, '22003',
    NULL, 'associates: a rank outside smallint is refused by its type');
SELECT is_empty($$SELECT * FROM messaging.associates('{201, 301}')$$,
    'associates: contacts and staff are no pupils and have no contacts');
SELECT pg_temp.refused($$SELECT messaging.associates('{101}')$$, '42501', NULL,
    'associates: a role without a messaging role', 't_nobody');
SELECT cmp_ok(length(pg_temp.error_message(
    $$SELECT messaging.associates(ARRAY(SELECT g FROM generate_series(1000000, 1099999) g))$$)),
    '<', 300, 'associates: 100,000 unknown ids make a short message');

-- ===========================================================================
-- send
-- ===========================================================================
SELECT pg_temp.refused($$SELECT messaging.send('s', NULL, '{101}', '{email}')$$, '22023',
    'body must not be null', 'send: NULL body');
SELECT pg_temp.refused($$SELECT messaging.send('s', 'b', NULL, '{email}')$$, '22023',
    'recipients must not be null', 'send: NULL recipients');
SELECT pg_temp.refused($$SELECT messaging.send('s', 'b', '{101}', NULL)$$, '22023',
    'channels must not be null', 'send: NULL channels');
SELECT pg_temp.refused($$SELECT messaging.send('s', 'b', '{101}', '{email}', NULL)$$, '22023',
    'include_associations must not be null', 'send: NULL include_associations');
SELECT results_eq(
    $$SELECT channel::text, recipients, flagged
      FROM messaging.send(NULL, 'b', '{101}', '{email}', false, NULL, NULL, NULL)$$,
    $$VALUES ('email', 1, 0)$$,
    'send: NULL subject, relationships, ranks and request_key are "none"');
SELECT pg_temp.refused($$SELECT messaging.send('s', 'b', '{}', '{email}')$$, '22023',
    'recipients must not be empty', 'send: empty recipients');
SELECT pg_temp.refused($$SELECT messaging.send('s', 'b', '{101}', '{}')$$, '22023',
    'channels must not be empty', 'send: empty channels');
SELECT pg_temp.refused($$SELECT messaging.send('s', 'b', '{NULL}', '{email}')$$, '22023',
    'recipients must not contain null', 'send: a NULL recipient');
SELECT pg_temp.refused($$SELECT messaging.send('s', 'b', '{101}', '{NULL, wechat}')$$, '22023',
    'channels must not contain null', 'send: a NULL channel');
SELECT pg_temp.refused($$SELECT messaging.send('s', 'b', '{101}', '{sms}')$$, '22P02', NULL,
    'send: a channel that does not exist is refused by its type');
SELECT pg_temp.refused($$SELECT messaging.send('s', 'b', '{101}', '{email}', true, '{NULL}')$$,
    '22023', 'relationships must not contain null', 'send: a NULL relationship');
SELECT pg_temp.refused($$SELECT messaging.send('s', 'b', '{101}', '{email}', ranks => '{NULL}')$$,
    '22023', 'ranks must not contain null', 'send: a NULL rank');

-- Lengths are counted in code points: Chinese, emoji and combining characters.
SELECT results_eq(
    $$SELECT recipients
      FROM messaging.send(repeat('字', 100), repeat('字', 600), '{101}', '{email}')$$,
    'VALUES (1)', 'send: 100 Chinese characters of subject and 600 of body fit');
SELECT pg_temp.refused($$SELECT messaging.send(repeat('字', 101), 'b', '{101}', '{email}')$$,
    '22001', 'subject is too long', 'send: 101 Chinese characters of subject');
SELECT pg_temp.refused($$SELECT messaging.send('s', repeat('字', 601), '{101}', '{email}')$$,
    '22001', 'body is too long', 'send: 601 Chinese characters of body');
SELECT results_eq(
    $$SELECT recipients
      FROM messaging.send(repeat('😀', 100), repeat('😀', 600), '{101}', '{email}')$$,
    'VALUES (1)', 'send: 100 emoji of subject and 600 of body fit (2,400 bytes)');
SELECT pg_temp.refused($$SELECT messaging.send(repeat('😀', 101), 'b', '{101}', '{email}')$$,
    '22001', 'subject is too long', 'send: 101 emoji of subject');
SELECT pg_temp.refused($$SELECT messaging.send('s', repeat('😀', 601), '{101}', '{email}')$$,
    '22001', 'body is too long', 'send: 601 emoji of body');
SELECT results_eq(
    $$SELECT recipients FROM messaging.send(repeat('e' || chr(769), 50),
                                            repeat('e' || chr(769), 300), '{101}', '{email}')$$,
    'VALUES (1)', 'send: 50 accented letters (100 code points) of subject and 300 of body fit');
SELECT pg_temp.refused(
    $$SELECT messaging.send(repeat('e' || chr(769), 50) || 'x', 'b', '{101}', '{email}')$$,
    '22001', 'subject is too long',
    'send: 51 letters that are 101 code points are too long a subject');
SELECT pg_temp.refused(
    $$SELECT messaging.send('s', repeat('e' || chr(769), 300) || chr(769), '{101}', '{email}')$$,
    '22001', 'body is too long', 'send: a 601st code point that is a combining mark');
SELECT pg_temp.refused(
    $$SELECT messaging.send('s', repeat('👨‍👩‍👧‍👦', 86), '{101}', '{email}')$$,
    '22001', 'body is too long', 'send: 86 family emoji are 602 code points');
SELECT results_eq(
    $$SELECT recipients FROM messaging.send('s', 'b', '{101}', '{email}',
                                            request_key => repeat('键', 200))$$,
    'VALUES (1)', 'send: a request_key of 200 characters fits');
SELECT pg_temp.refused(
    $$SELECT messaging.send('s', 'b', '{101}', '{email}', request_key => repeat('键', 201))$$,
    '22001', 'request_key is too long', 'send: a request_key of 201 characters');
SELECT pg_temp.refused($$SELECT messaging.send('s', E'\u3000\u00a0\u2003', '{101}', '{email}')$$,
    '22023', 'body must not be blank', 'send: a body of Unicode white space');
SELECT pg_temp.refused(
    $$SELECT messaging.send('s', 'b', '{101}', '{email}', request_key => E'\t')$$,
    '22023', 'request_key must not be blank', 'send: a blank request_key');
SELECT pg_temp.refused($$SELECT messaging.send(repeat(' ', 101), 'b', '{101}', '{email}')$$,
    '22001', 'subject is too long', 'send: a blank subject is still held to 100 characters');

-- Control characters and injection-looking text are stored exactly as given.
CREATE TEMP TABLE odd AS
SELECT * FROM messaging.send(E'Hi\r\nBcc: all@example.org', E'a\x01b\x7fc\r\n''; DROP TABLE x; --',
                             '{101}', '{email}');
SELECT results_eq(
    $$SELECT subject, body FROM messaging.message
      WHERE message_id = (SELECT message_id FROM odd)$$,
    $$VALUES (E'Hi\r\nBcc: all@example.org', E'a\x01b\x7fc\r\n''; DROP TABLE x; --')$$,
    'send: control characters and quotes are kept verbatim, never executed');

-- Random text (a fixed seed, so every run tries the same): ASCII with control
-- characters, Chinese, emoji, combining marks, punctuation and private-use
-- characters, of lengths around the limits. Every outcome is a send or a 22001/22023.
CREATE FUNCTION pg_temp.random_text(length int) RETURNS text
LANGUAGE sql VOLATILE AS $$
    SELECT coalesce(string_agg(chr(CASE floor(random() * 6)::int
                                       WHEN 0 THEN 1 + floor(random() * 127)::int
                                       WHEN 1 THEN 19968 + floor(random() * 20000)::int
                                       WHEN 2 THEN 128512 + floor(random() * 80)::int
                                       WHEN 3 THEN 768 + floor(random() * 112)::int
                                       WHEN 4 THEN 8192 + floor(random() * 112)::int
                                       ELSE 57344 + floor(random() * 6400)::int
                                   END), ''), '')
    FROM generate_series(1, length)
$$;
CREATE TEMP TABLE random_outcome (state text);
SELECT setseed(0.42);
DO $$
DECLARE
    state text;
BEGIN
    FOR i IN 1..300 LOOP
        BEGIN
            PERFORM messaging.send(pg_temp.random_text(floor(random() * 110)::int),
                                   pg_temp.random_text(floor(random() * 620)::int),
                                   '{101, 201, 301}', '{wechat, email, alert}',
                                   request_key => CASE WHEN random() < 0.5
                                       THEN pg_temp.random_text(floor(random() * 210)::int) END);
            PERFORM messaging.search_by_name('pupil', pg_temp.random_text(i % 12));
            state := 'sent';
        EXCEPTION WHEN OTHERS THEN
            state := SQLSTATE;
        END;
        INSERT INTO random_outcome VALUES (state);
    END LOOP;
END
$$;
SELECT results_eq(
    $$SELECT DISTINCT state FROM random_outcome ORDER BY 1$$,
    $$VALUES ('22001'::text), ('sent')$$,
    'send and search_by_name: 300 random texts are sent or refused as too long, nothing else');

-- Ids.
SELECT results_eq(
    $$SELECT recipients FROM messaging.send('s', 'b', '{{101, 102}, {103, 101}}', '{email}')$$,
    'VALUES (3)', 'send: a two-dimensional recipient array counts as its elements');
SELECT pg_temp.refused($$SELECT messaging.send('s', 'b', '{101, -1, 0}', '{email}')$$, '22023',
    'unknown person ids: -1, 0', 'send: unknown ids are named');
SELECT pg_temp.refused($$SELECT messaging.send('s', 'b', '{1}', '{email}')$$, '22023',
    'unknown person id: 1', 'send: a group id is not a person id');
SELECT pg_temp.refused($$SELECT messaging.send('s', 'b', '{101, 201}', '{alert}')$$, '22023',
    'alerts reach staff only', 'send: an alert with no staff recipient');
SELECT results_eq(
    $$SELECT channel::text, recipients
      FROM messaging.send('s', 'b', '{201, 301}', '{email}', true)$$,
    $$VALUES ('email', 2)$$, 'send: associations of contacts and staff add nobody');
SELECT pg_temp.refused(
    $$SELECT messaging.send('s', 'b', ARRAY(SELECT g FROM generate_series(1000000, 1099999) g),
                            '{email}')$$,
    '22023', 'unknown person ids: ' || (SELECT string_agg(g::text, ', ')
                                        FROM generate_series(1000000, 1000019) g)
             || ' and 99980 more',
    'send: 100,000 unknown ids are named by the first 20 and a count');
SELECT pg_temp.refused(
    $$SELECT messaging.send('s', 'b',
                            '{101}' || ARRAY(SELECT g FROM generate_series(1000000, 1099999) g),
                            '{email}', request_key => 'big')$$,
    '22023', NULL, 'send: one known id among 100,000 unknown is refused whole');
SELECT pg_temp.refused($$SELECT messaging.send('s', 'b', '{101}', '{email}')$$, '42501', NULL,
    'send: a role without a messaging role', 't_nobody');
SELECT pg_temp.refused($$SELECT messaging.send('s', 'b', '{101}', '{email}')$$, '22023',
    'messaging.sender is not set', 'send: an application that names no user', 't_app');

-- The user an application names: at most 200 characters, counted as code points.
SELECT pg_temp.refused(
    $$SELECT * FROM (SELECT set_config('messaging.sender', repeat('字', 201), true)) s,
                    LATERAL messaging.send('s', 'b', '{101}', '{email}')$$,
    '22001', 'messaging.sender is too long', 'send: an application user of 201 characters',
    't_app');
SELECT pg_temp.refused(
    $$SELECT * FROM (SELECT set_config('messaging.sender',
                                       (SELECT string_agg(chr(19968 + g * 7919 % 20000), '')
                                        FROM generate_series(1, 3000) g), true)) s,
                    LATERAL messaging.send('s', 'b', '{101}', '{email}', request_key => 'k')$$,
    '22001', 'messaging.sender is too long',
    'send: an application user of 3,000 characters is refused, not left to the indexes',
    't_app');
SET SESSION AUTHORIZATION t_app;
DO $$
BEGIN
    PERFORM set_config('messaging.sender', string_agg(chr(19968 + g * 7919 % 20000), ''), true)
    FROM generate_series(1, 200) g;
END
$$;
CREATE TEMP TABLE long_sender AS
SELECT * FROM messaging.send('s', 'b', '{101}', '{email}', request_key => repeat('😀', 200));
RESET messaging.sender;
RESET SESSION AUTHORIZATION;
SELECT results_eq(
    $$SELECT char_length(m.sent_by), char_length(m.request_key)
      FROM long_sender JOIN messaging.message m USING (message_id)$$,
    'VALUES (200, 200)', 'send: an application user and a request_key of 200 characters fit');

-- A reused key with other content.
SELECT lives_ok($$SELECT messaging.send('s', 'first', '{101}', '{email}', request_key => 'k1')$$,
    'send: a first call with a key');
SELECT pg_temp.refused(
    $$SELECT messaging.send('s', 'second', '{101}', '{email}', request_key => 'k1')$$, '22023',
    'request_key "k1" was already used for another message', 'send: a reused key, other body');

-- 100,000 known people in one call.
INSERT INTO messaging.person (person_id, kind, display_name, email)
SELECT g, 'contact', 'Contact ' || g, 'c' || g || '@example.org'
FROM generate_series(1000000, 1099999) g;
SELECT results_eq(
    $$SELECT channel::text, recipients, flagged
      FROM messaging.send('s', 'b', ARRAY(SELECT g FROM generate_series(1000000, 1099999) g),
                          '{email}')$$,
    $$VALUES ('email', 100000, 0)$$, 'send: 100,000 known ids queue 100,000 deliveries');
DELETE FROM messaging.person WHERE person_id >= 1000000;

-- ===========================================================================
-- dashboard_search
-- ===========================================================================
SELECT pg_temp.refused($$SELECT messaging.dashboard_search(page => 0)$$, '22023',
    'page must be 1 or more', 'dashboard_search: page 0');
SELECT pg_temp.refused($$SELECT messaging.dashboard_search(page => -2147483648)$$, '22023',
    'page must be 1 or more', 'dashboard_search: the smallest int page');
SELECT pg_temp.refused($$SELECT messaging.dashboard_search(page => NULL)$$, '22023',
    'page must be 1 or more', 'dashboard_search: NULL page');
SELECT pg_temp.refused($$SELECT messaging.dashboard_search(page_size => 0)$$, '22023',
    'page_size must be between 1 and 1000', 'dashboard_search: page_size 0');
SELECT pg_temp.refused($$SELECT messaging.dashboard_search(page_size => 1001)$$, '22023',
    'page_size must be between 1 and 1000', 'dashboard_search: page_size 1001');
SELECT pg_temp.refused($$SELECT messaging.dashboard_search(page_size => NULL)$$, '22023',
    'page_size must be between 1 and 1000', 'dashboard_search: NULL page_size');
SELECT pg_temp.refused($$SELECT messaging.dashboard_search(page => 2147483648)$$, '42883', NULL,
    'dashboard_search: a page beyond int is refused by its type');
SELECT is_empty(
    $$SELECT * FROM messaging.dashboard_search(page => 2147483647, page_size => 1000)$$,
    'dashboard_search: the last int page of 1,000 is past the end and empty');
SELECT results_eq($$SELECT count(*)::int FROM messaging.dashboard_search(page_size => 1000)$$,
    $$SELECT count(*)::int FROM messaging.dispatch$$, 'dashboard_search: page_size 1000 works');
SELECT results_eq(
    $$SELECT count(*)::int FROM messaging.dashboard_search(NULL, NULL, NULL, NULL, NULL, NULL,
                                                           1, 1000)$$,
    $$SELECT count(*)::int FROM messaging.dispatch$$,
    'dashboard_search: NULL filters filter nothing');
SELECT pg_temp.refused($$SELECT messaging.dashboard_search(updated_from => '2026-02-30')$$,
    '22008', NULL, 'dashboard_search: a day that does not exist is refused by its type');
SELECT pg_temp.refused($$SELECT messaging.dashboard_search(updated_from => 'yesterday-ish')$$,
    '22007', NULL, 'dashboard_search: text that is no date is refused by its type');
SELECT pg_temp.refused($$SELECT messaging.dashboard_search(message_type => 'sms')$$, '22P02',
    NULL, 'dashboard_search: a message type that does not exist is refused by its type');
SELECT is_empty(
    $$SELECT * FROM messaging.dashboard_search(updated_from => current_date + 1,
                                               updated_to => current_date - 1)$$,
    'dashboard_search: a range that ends before it starts is empty');
SELECT results_eq(
    $$SELECT count(*)::int FROM messaging.dashboard_search(updated_from => '-infinity',
                                                           updated_to => 'infinity',
                                                           created_from => '-infinity',
                                                           created_to => 'infinity',
                                                           page_size => 1000)$$,
    $$SELECT count(*)::int FROM messaging.dispatch$$,
    'dashboard_search: infinite bounds let everything through');
SELECT results_eq(
    $$SELECT count(*)::int FROM messaging.dashboard_search(updated_to => '5874897-12-31',
                                                           created_to => '294276-12-31',
                                                           page_size => 1000)$$,
    $$SELECT count(*)::int FROM messaging.dispatch$$,
    'dashboard_search: the last dates a date can hold are an upper bound beyond every row');
SELECT is_empty(
    $$SELECT * FROM messaging.dashboard_search(updated_from => '300000-01-01')$$,
    'dashboard_search: a start beyond the range of timestamps matches nothing');
SET LOCAL timezone = 'Asia/Shanghai';
SELECT is_empty(
    $$SELECT * FROM messaging.dashboard_search(created_to => '4714-11-24 BC')$$,
    'dashboard_search: the first day a date can hold, east of Greenwich, matches nothing');
RESET timezone;
SELECT pg_temp.refused($$SELECT messaging.dashboard_search()$$, '42501', NULL,
    'dashboard_search: a role without a messaging role', 't_nobody');
SELECT pg_temp.refused($$SELECT messaging.dashboard_search()$$, '22023',
    'messaging.sender is not set', 'dashboard_search: an application that names no user',
    't_app');

-- ===========================================================================
-- errors
-- ===========================================================================
SELECT pg_temp.refused($$SELECT messaging.errors(NULL)$$, '22023',
    'dispatch_id must not be null', 'errors: NULL dispatch id');
SELECT pg_temp.refused($$SELECT messaging.errors(123456)$$, 'P0002',
    'dispatch 123456 does not exist', 'errors: an unknown dispatch');
SELECT pg_temp.refused($$SELECT messaging.errors(-1)$$, 'P0002',
    'dispatch -1 does not exist', 'errors: a negative dispatch id');
SELECT pg_temp.refused($$SELECT messaging.errors(900)$$, 'P0002',
    'dispatch 900 does not exist', 'errors: another sender''s dispatch', 't_sender');
SELECT pg_temp.refused($$SELECT messaging.errors(900)$$, '42501', NULL,
    'errors: a role without a messaging role', 't_nobody');
SELECT pg_temp.refused($$SELECT messaging.errors(123456)$$, '22023',
    'messaging.sender is not set', 'errors: an application that names no user', 't_app');

-- ===========================================================================
-- rerun
-- ===========================================================================
SELECT pg_temp.refused($$SELECT messaging.rerun(NULL)$$, '22023',
    'dispatch_id must not be null', 'rerun: NULL dispatch id');
SELECT pg_temp.refused($$SELECT messaging.rerun(900, NULL)$$, '22023',
    'failed_only must not be null', 'rerun: NULL failed_only');
SELECT pg_temp.refused($$SELECT messaging.rerun(123456)$$, 'P0002',
    'dispatch 123456 does not exist', 'rerun: an unknown dispatch');
SELECT pg_temp.refused($$SELECT messaging.rerun(900, false)$$, 'P0002',
    'dispatch 900 does not exist', 'rerun: another sender''s dispatch', 't_sender');
SELECT pg_temp.refused($$SELECT messaging.rerun(900)$$, '42501', NULL,
    'rerun: a role without a messaging role', 't_nobody');
SELECT pg_temp.refused($$SELECT messaging.rerun(123456)$$, '22023',
    'messaging.sender is not set', 'rerun: an application that names no user', 't_app');

-- ===========================================================================
-- purge
-- ===========================================================================
SELECT pg_temp.refused($$SELECT messaging.purge(NULL)$$, '22023',
    'older_than must be a positive interval', 'purge: NULL interval');
SELECT pg_temp.refused($$SELECT messaging.purge('-1 second')$$, '22023',
    'older_than must be a positive interval', 'purge: a negative interval');
SELECT pg_temp.refused($$SELECT messaging.purge('0')$$, '22023',
    'older_than must be a positive interval', 'purge: an interval of zero');
SELECT is(messaging.purge('178000000 years'), 0::bigint,
    'purge: an interval longer than time can go back purges nothing');
SELECT pg_temp.refused($$SELECT messaging.purge('not long')$$, '22007', NULL,
    'purge: text that is no interval is refused by its type');
SELECT pg_temp.refused($$SELECT messaging.purge('1 day')$$, '42501', NULL,
    'purge: a sender may not purge', 't_sender');
SELECT pg_temp.refused($$SELECT messaging.purge('1 day')$$, '22023',
    'messaging.sender is not set', 'purge: an application admin that names no user',
    't_app_admin');

-- ===========================================================================
-- configure_wecom
-- ===========================================================================
SELECT pg_temp.refused($$SELECT messaging.configure_wecom(NULL, 1, 'x')$$, '22023',
    'corp_id must not be empty', 'configure_wecom: NULL corp_id');
SELECT pg_temp.refused($$SELECT messaging.configure_wecom('ww1', NULL, 'x')$$, '22023',
    'agent_id must be a positive number', 'configure_wecom: NULL agent_id');
SELECT pg_temp.refused($$SELECT messaging.configure_wecom('ww1', -5, 'x')$$, '22023',
    'agent_id must be a positive number', 'configure_wecom: a negative agent_id');
SELECT pg_temp.refused($$SELECT messaging.configure_wecom('ww1', 1, NULL)$$, '22023',
    'secret must not be empty', 'configure_wecom: NULL secret');
SELECT pg_temp.refused($$SELECT messaging.configure_wecom('ww1', 1, 'x', NULL)$$, '22023',
    'api_base must not be empty', 'configure_wecom: NULL api_base');
SELECT pg_temp.refused($$SELECT messaging.configure_wecom('ww1', 1, E'x\ty')$$, '22023',
    'secret must not contain control characters', 'configure_wecom: a secret with a tab');
SELECT pg_temp.refused(
    $$SELECT messaging.configure_wecom('ww1''; DROP TABLE messaging.person; --', 1, 'x',
                                       'javascript:alert(1)')$$,
    '22023', 'api_base must be an https:// or http:// URL',
    'configure_wecom: a javascript: api_base');
SELECT pg_temp.refused($$SELECT messaging.configure_wecom('ww1', 1, 'x', 'https://')$$, '22023',
    'api_base must be an https:// or http:// URL', 'configure_wecom: an api_base with no host');
SELECT pg_temp.refused(
    $$SELECT messaging.configure_wecom('ww1', 1, 'x', 'https://qyapi.example/a b')$$, '22023',
    'api_base must be an https:// or http:// URL', 'configure_wecom: a space in the path');
SELECT pg_temp.refused(
    $$SELECT messaging.configure_wecom('ww1', 1, 'x', 'https://qyapi.example:99999')$$, '22023',
    'api_base must be an https:// or http:// URL', 'configure_wecom: a port above 65535');
SELECT pg_temp.refused(
    $$SELECT messaging.configure_wecom('ww1', 1, 'x', 'https://企业.example')$$,
    '22023', 'api_base must be an https:// or http:// URL',
    'configure_wecom: a host name that is not ASCII (its xn-- form is accepted)');
SELECT pg_temp.refused(
    format($$SELECT messaging.configure_wecom(%L, 1, 'x')$$, repeat('w', 2001)), '22001',
    'corp_id is too long', 'configure_wecom: a corp_id of 2,001 characters');
SELECT pg_temp.refused(
    format($$SELECT messaging.configure_wecom('ww1', 1, 'x', %L)$$,
           'https://qyapi.example/' || repeat('a', 1979)), '22001',
    'api_base is too long', 'configure_wecom: an api_base of 2,001 characters');
SELECT lives_ok(format($$SELECT messaging.configure_wecom(%L, 1, 'x')$$, repeat('w', 2000)),
    'configure_wecom: a corp_id of 2,000 characters is accepted');
SELECT messaging.configure_wecom('ww0123456789', 1000002, 'wecom-s3cret');
SELECT pg_temp.refused($$SELECT messaging.configure_wecom('ww1', 1, 'x')$$, '42501', NULL,
    'configure_wecom: a sender may not configure', 't_sender');
SELECT pg_temp.refused($$SELECT messaging.configure_wecom('ww1', 1, 'x')$$, '22023',
    'messaging.sender is not set', 'configure_wecom: an application admin that names no user',
    't_app_admin');

-- ===========================================================================
-- configure_smtp
-- ===========================================================================
SELECT pg_temp.refused($$SELECT messaging.configure_smtp(NULL, 'o@s.example')$$, '22023',
    'url must not be empty', 'configure_smtp: NULL url');
SELECT pg_temp.refused($$SELECT messaging.configure_smtp('smtps://mail.example', NULL)$$, '22023',
    'mail_from must not be empty', 'configure_smtp: NULL mail_from');
SELECT pg_temp.refused(
    $$SELECT messaging.configure_smtp('smtps://mail.example', 'o@s.example', starttls => NULL)$$,
    '22023', 'starttls must not be null', 'configure_smtp: NULL starttls');
SELECT pg_temp.refused(
    $$SELECT messaging.configure_smtp('smtps://mail.example', 'o@s.example', 'office', NULL)$$,
    '22023', 'username and password must be given together',
    'configure_smtp: a user name without a password');
SELECT pg_temp.refused(
    $$SELECT messaging.configure_smtp('smtps://mail.example', 'o@s.example', NULL, 'pw')$$,
    '22023', 'username and password must be given together',
    'configure_smtp: a password without a user name');
SELECT pg_temp.refused(
    $$SELECT messaging.configure_smtp('smtps://mail.example',
                                      E'o@s.example\r\nBcc: x@y.example')$$,
    '22023', 'mail_from must not contain control characters',
    'configure_smtp: a mail_from that would add a header');
SELECT pg_temp.refused(
    format($$SELECT messaging.configure_smtp('smtps://mail.example', 'o@s.example', 'office',
                                             %L)$$, repeat('p', 2001)),
    '22001', 'password is too long', 'configure_smtp: a password of 2,001 characters');
SELECT pg_temp.refused(
    $$SELECT messaging.configure_smtp('smtps://mail.example', 'o@s.example', 'office',
                                      E'pw\nRCPT TO:<x@y.example>')$$,
    '22023', 'password must not contain line breaks',
    'configure_smtp: a password that would add an SMTP command');
SELECT pg_temp.refused(
    $$SELECT messaging.configure_smtp('smtps://mail.example', 'o@s.example',
                                      E'office\x01', 'pw')$$,
    '22023', 'username must not contain control characters',
    'configure_smtp: a user name with a control character');
SELECT pg_temp.refused(
    $$SELECT messaging.configure_smtp('smtps://mail.example', '"; DROP TABLE x; --@s.example')$$,
    '22023', 'mail_from must be an email address or "Name <address>"',
    'configure_smtp: an injection-looking mail_from');
SELECT pg_temp.refused($$SELECT messaging.configure_smtp('smtp://[::1]:0', 'o@s.example')$$,
    '22023', 'url must be an smtp:// or smtps:// URL', 'configure_smtp: port 0');
SELECT pg_temp.refused($$SELECT messaging.configure_smtp('smtps://mail.example', 'o@s.example')$$,
    '42501', NULL, 'configure_smtp: a sender may not configure', 't_sender');
SELECT pg_temp.refused($$SELECT messaging.configure_smtp('smtps://mail.example', 'o@s.example')$$,
    '22023', 'messaging.sender is not set',
    'configure_smtp: an application admin that names no user', 't_app_admin');

SELECT lives_ok(
    $$SELECT messaging.configure_smtp('smtp://relay.example', 'o@s.example', NULL, NULL)$$,
    'configure_smtp: NULL user name and password mean a relay without a login');
SELECT results_eq(
    $$SELECT endpoint, identity, secret_set FROM messaging.channel_settings
      WHERE channel = 'email'$$,
    $$VALUES ('smtp://relay.example'::text, 'o@s.example'::text, false)$$,
    'configure_smtp: the relay without a login is stored as such');

-- ===========================================================================
-- Views
-- ===========================================================================
SELECT pg_temp.refused($$SELECT * FROM messaging.dashboard$$, '42501', NULL,
    'dashboard: a role without a messaging role', 't_nobody');
SELECT pg_temp.refused($$SELECT * FROM messaging.deliveries$$, '42501', NULL,
    'deliveries: a role without a messaging role', 't_nobody');
SELECT pg_temp.refused($$SELECT * FROM messaging.channel_settings$$, '42501', NULL,
    'channel_settings: a sender may not read it', 't_sender');
SELECT pg_temp.refused($$SELECT * FROM messaging.deliveries$$, '22023',
    'messaging.sender is not set', 'deliveries: an application that names no user', 't_app');
SELECT pg_temp.refused($$SELECT * FROM messaging.dashboard$$, '22023',
    'messaging.sender is not set', 'dashboard: an application that names no user', 't_app');
SELECT pg_temp.refused($$INSERT INTO messaging.message (body, sent_by) VALUES ('b', 'x')$$,
    '42501', NULL, 'message: a sender may not write the table', 't_sender');

-- Nothing above changed the settings.
SELECT results_eq('SELECT corp_id, agent_id, secret FROM messaging.wecom_config',
    $$VALUES ('ww0123456789', 1000002, 'wecom-s3cret')$$,
    'the refused configure calls left the settings alone');

SELECT * FROM finish();
ROLLBACK;
