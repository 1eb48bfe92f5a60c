-- Security: a sender reaches no other sender's messages by any path, nobody but the
-- owner reads a channel secret, no SECURITY DEFINER function can be made to act
-- through the caller's search_path, and the sender identity cannot be borrowed.
BEGIN;
SET LOCAL client_min_messages = warning;
SELECT plan(78);

-- The DETAIL of the error a statement raises (NULL if it raises none).
CREATE FUNCTION pg_temp.error_detail(statement text) RETURNS text
LANGUAGE plpgsql AS $f$
DECLARE
    detail text;
BEGIN
    EXECUTE statement;
    RETURN NULL;
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
    RETURN detail;
END
$f$;
\ir fixtures/school.sql

-- pgTAP keeps its state in temporary tables; let the test roles write to them.
GRANT ALL ON __tcache__ TO PUBLIC;
GRANT ALL ON SEQUENCE __tcache___id_seq, __tresults___numb_seq TO PUBLIC;

CREATE ROLE t_alice NOLOGIN IN ROLE messaging_sender;
CREATE ROLE t_bob NOLOGIN IN ROLE messaging_sender;
CREATE ROLE t_admin NOLOGIN IN ROLE messaging_admin;
CREATE ROLE t_apps NOLOGIN IN ROLE messaging_app;
CREATE ROLE t_app NOLOGIN IN ROLE t_apps; -- an application role through another role
CREATE ROLE t_mallory NOLOGIN IN ROLE messaging_sender;

-- Bob's messages, each with something only Bob should ever read.
SET SESSION AUTHORIZATION t_bob;
CREATE TEMP TABLE bob_sent AS
SELECT * FROM messaging.send('Bob private subject', 'Bob private body', '{102, 105, 303}',
                             '{wechat, alert}', request_key => 'shared-key');
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION t_alice;
CREATE TEMP TABLE alice_sent AS
SELECT * FROM messaging.send('Alice subject', 'Alice body', '{101, 105, 301}',
                             '{wechat, alert}');
RESET SESSION AUTHORIZATION;
GRANT SELECT ON bob_sent, alice_sent TO PUBLIC;
-- The staff inbox rows the dispatcher writes for the alert dispatches.
INSERT INTO messaging.alert (person_id, message_id, subject, body)
SELECT 303, message_id, 'Bob private subject', 'Bob private body' FROM bob_sent LIMIT 1;
INSERT INTO messaging.alert (person_id, message_id, subject, body)
SELECT 301, message_id, 'Alice subject', 'Alice body' FROM alice_sent LIMIT 1;

-- The statistics are where column values can leak: gather them for every table.
ANALYZE messaging.message, messaging.dispatch, messaging.delivery, messaging.alert,
    messaging.wecom_config, messaging.smtp_config;

-- ===========================================================================
-- Another sender's messages, by every path
-- ===========================================================================
SET SESSION AUTHORIZATION t_alice;
SELECT results_eq('SELECT dispatch_id FROM messaging.dashboard ORDER BY 1',
    'SELECT dispatch_id FROM alice_sent ORDER BY 1', 'dashboard: her dispatches only');
SELECT results_eq(
    $$SELECT dispatch_id, total_rows
      FROM messaging.dashboard_search(updated_from => '-infinity', updated_to => 'infinity',
                                      page_size => 1000)
      ORDER BY 1$$,
    'SELECT dispatch_id, 2::bigint FROM alice_sent ORDER BY 1',
    'dashboard_search: her dispatches only, and the total counts only hers');
SELECT is_empty($$SELECT * FROM messaging.dashboard_search(message_type => 'wechat',
                                                           has_error => true)
                  WHERE sent_by <> 't_alice'$$,
    'dashboard_search: no filter lets another sender''s dispatch through');
SELECT throws_ok(format('SELECT * FROM messaging.errors(%s)',
                        (SELECT dispatch_id FROM bob_sent WHERE channel = 'wechat')),
    'P0002', format('dispatch %s does not exist',
                    (SELECT dispatch_id FROM bob_sent WHERE channel = 'wechat')),
    'errors: another sender''s dispatch does not exist, in the words used for a missing one');
SELECT throws_ok(format('SELECT messaging.rerun(%s, false)',
                        (SELECT dispatch_id FROM bob_sent WHERE channel = 'wechat')),
    'P0002', NULL, 'rerun: another sender''s dispatch does not exist');
SELECT is_empty('SELECT * FROM messaging.deliveries WHERE dispatch_id IN
                     (SELECT dispatch_id FROM bob_sent)',
    'deliveries: none of another sender''s');
SELECT results_eq('SELECT count(*)::int FROM messaging.deliveries', 'VALUES (4)',
    'deliveries: her four');
SELECT results_eq('SELECT body FROM messaging.message', $$VALUES ('Alice body'::text)$$,
    'message table: her message only');
SELECT results_eq('SELECT dispatch_id FROM messaging.dispatch ORDER BY 1',
    'SELECT dispatch_id FROM alice_sent ORDER BY 1', 'dispatch table: her dispatches only');
SELECT is_empty('SELECT * FROM messaging.delivery WHERE dispatch_id IN
                     (SELECT dispatch_id FROM bob_sent)',
    'delivery table: none of another sender''s');
SELECT results_eq('SELECT body FROM messaging.alert', $$VALUES ('Alice body'::text)$$,
    'alert table: the alerts of her message only');
SELECT is((SELECT count(*)::int FROM pg_stats WHERE schemaname = 'messaging'
             AND tablename IN ('message', 'dispatch', 'delivery', 'alert')), 0,
    'statistics: no column values of the shared history tables');

-- A function of hers in the query sees only rows she may see: row-level security and
-- the deliveries view's barrier filter before any function of the caller runs.
CREATE TEMP TABLE seen (what text);
CREATE FUNCTION pg_temp.spy(what text) RETURNS boolean
LANGUAGE plpgsql COST 0.0001 AS $$
BEGIN
    INSERT INTO seen VALUES (what);
    RETURN true;
END
$$;
DO $$
BEGIN
    PERFORM count(*) FROM messaging.message WHERE pg_temp.spy(body);
    PERFORM count(*) FROM messaging.alert WHERE pg_temp.spy(subject);
    PERFORM count(*) FROM messaging.delivery WHERE pg_temp.spy(dispatch_id::text);
    PERFORM count(*) FROM messaging.deliveries WHERE pg_temp.spy(dispatch_id::text);
    PERFORM count(*) FROM messaging.dashboard WHERE pg_temp.spy(subject);
END
$$;
SELECT is((SELECT count(*)::int FROM seen WHERE what LIKE 'Bob%'
             OR what IN (SELECT dispatch_id::text FROM bob_sent)), 0,
    'a cheap function of hers in WHERE never sees another sender''s rows');
SELECT cmp_ok((SELECT count(*)::int FROM seen), '>', 0, '... while it does see hers');

-- Nothing to write with, and no other identity to take.
SELECT throws_ok($$INSERT INTO messaging.message (body, sent_by) VALUES ('x', 't_bob')$$,
    '42501', NULL, 'she cannot write a message as someone else');
SELECT throws_ok($$UPDATE messaging.delivery SET status = 'not_started'$$, '42501', NULL,
    'she cannot requeue deliveries by hand');
SELECT throws_ok($$DELETE FROM messaging.alert$$, '42501', NULL, 'she cannot delete alerts');
SELECT throws_ok($$TRUNCATE messaging.dispatch$$, '42501', NULL, 'she cannot truncate');
SELECT throws_ok($$SELECT last_value FROM messaging.message_message_id_seq$$, '42501', NULL,
    'she cannot read how many messages were sent');
SELECT throws_ok($$SELECT * FROM messaging.person_word$$, '42501', NULL,
    'she cannot read the directory''s search words');
SELECT throws_ok($$SET ROLE messaging_app$$, '42501', NULL,
    'she cannot take the application role');
SELECT throws_ok($$SET ROLE t_bob$$, '42501', NULL, 'she cannot take another sender''s role');

-- A plain sender naming someone else still acts as herself.
SET LOCAL messaging.sender = 't_bob';
CREATE TEMP TABLE as_bob AS SELECT * FROM messaging.send('x', 'As Bob?', '{101}', '{email}');
SELECT results_eq(
    'SELECT m.sent_by FROM as_bob JOIN messaging.message m USING (message_id)',
    $$VALUES ('t_alice'::text)$$, 'messaging.sender does not change a plain sender''s identity');
SELECT is_empty($$SELECT * FROM messaging.dashboard WHERE sent_by = 't_bob'$$,
    '... nor what her dashboard shows');
SELECT throws_ok(format('SELECT * FROM messaging.errors(%s)',
                        (SELECT dispatch_id FROM bob_sent WHERE channel = 'wechat')),
    'P0002', NULL, '... nor whose errors she reads');
SELECT results_eq(
    $$SELECT recipients FROM messaging.send('x', 'Her own key', '{101}', '{email}',
                                            request_key => 'shared-key')$$,
    'VALUES (1)', 'request keys are per sender: another sender''s key is new to her');
RESET messaging.sender;
RESET SESSION AUTHORIZATION;

SELECT results_eq(
    $$SELECT status::text, count(*)::int, max(run) FROM messaging.delivery
      WHERE dispatch_id IN (SELECT dispatch_id FROM bob_sent) GROUP BY status ORDER BY 1$$,
    $$VALUES ('failed', 1, 0), ('not_started', 3, 0)$$,
    'the other sender''s deliveries are as they were');

-- ===========================================================================
-- Secrets
-- ===========================================================================
SELECT messaging.configure_wecom('ww0123456789', 1000002, 'wecom-s3cret-value');
SELECT messaging.configure_smtp('smtps://mail.school.example', 'office@school.example',
                                'office', 'smtp-pa55word-value');
ANALYZE messaging.wecom_config, messaging.smtp_config;

SET SESSION AUTHORIZATION t_alice;
SELECT throws_ok('SELECT secret FROM messaging.wecom_config', '42501', NULL,
    'a sender cannot read the WeCom secret');
SELECT throws_ok('SELECT password FROM messaging.smtp_config', '42501', NULL,
    'a sender cannot read the SMTP password');
SELECT throws_ok('SELECT * FROM messaging.channel_settings', '42501', NULL,
    'a sender cannot read the channel settings');
SELECT is((SELECT count(*)::int FROM pg_stats WHERE schemaname = 'messaging'
             AND tablename IN ('wecom_config', 'smtp_config')), 0,
    'a sender sees no statistics of the settings');
RESET SESSION AUTHORIZATION;

SET SESSION AUTHORIZATION t_admin;
SELECT throws_ok('SELECT secret FROM messaging.wecom_config', '42501', NULL,
    'an admin cannot read the WeCom secret');
SELECT throws_ok('SELECT password FROM messaging.smtp_config', '42501', NULL,
    'an admin cannot read the SMTP password');
SELECT is((SELECT count(*)::int FROM messaging.channel_settings s
           WHERE s::text ~ '(s3cret|pa55word)'), 0,
    'channel_settings shows an admin no secret');
SELECT is((SELECT count(*)::int FROM pg_stats WHERE schemaname = 'messaging'
             AND tablename IN ('wecom_config', 'smtp_config')), 0,
    'an admin sees no statistics of the settings');
RESET SESSION AUTHORIZATION;

-- A mistaken grant still shows no row: row-level security without a policy.
GRANT SELECT ON messaging.wecom_config, messaging.smtp_config TO messaging_admin;
SET SESSION AUTHORIZATION t_admin;
SELECT is((SELECT count(*)::int FROM messaging.wecom_config)
          + (SELECT count(*)::int FROM messaging.smtp_config), 0,
    'a mistaken grant shows an admin no setting row');
RESET SESSION AUTHORIZATION;
REVOKE SELECT ON messaging.wecom_config, messaging.smtp_config FROM messaging_admin;

SELECT is((SELECT array_agg(attname::text ORDER BY attnum) FROM pg_attribute
           WHERE attrelid = 'messaging.channel_settings'::regclass AND attnum > 0),
    '{channel, configured, endpoint, identity, secret_set, updated_at}'::text[],
    'channel_settings has no column for a secret');
SELECT is((SELECT array_agg(p.proname::text ORDER BY p.proname) FROM pg_proc p
           WHERE p.pronamespace = 'messaging'::regnamespace
             AND p.prosrc ~ '(wecom|smtp)_config'
             AND p.proname NOT IN ('configure_wecom', 'configure_smtp')
             AND (has_function_privilege('messaging_sender', p.oid, 'EXECUTE')
                  OR has_function_privilege('messaging_app', p.oid, 'EXECUTE')
                  OR has_function_privilege('messaging_admin', p.oid, 'EXECUTE'))),
    NULL, 'no function the roles may call reads the settings, except to write them');

-- Refused configure calls never repeat a secret: not in the message, detail, hint or
-- context, whichever argument is at fault and whoever calls.
CREATE TEMP TABLE refusal (call text, state text, said text);
GRANT ALL ON refusal TO PUBLIC;
CREATE FUNCTION pg_temp.refusal(call text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    state text;
    m text;
    d text;
    h text;
    c text;
BEGIN
    BEGIN
        EXECUTE call;
        state := 'no error';
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, m = MESSAGE_TEXT,
                                d = PG_EXCEPTION_DETAIL, h = PG_EXCEPTION_HINT,
                                c = PG_EXCEPTION_CONTEXT;
        -- The context ends with this test's own EXECUTE of the call: not the product's.
        c := left(c, strpos(c, 'SQL statement "' || call) - 1);
    END;
    INSERT INTO refusal VALUES (call, state, concat_ws(' | ', m, d, h, c));
END
$$;
SET SESSION AUTHORIZATION t_admin;
SELECT pg_temp.refusal(call) FROM (VALUES
    ($$SELECT messaging.configure_wecom('ww1', 1, E'TOPs3cret\n')$$),
    ($$SELECT messaging.configure_wecom('ww1', 0, 'TOPs3cret')$$),
    ($$SELECT messaging.configure_wecom(' ', 1, 'TOPs3cret')$$),
    ($$SELECT messaging.configure_wecom('ww1', 1, 'TOPs3cret',
                                        'https://ww1:TOPs3cret@q.example')$$),
    ($$SELECT messaging.configure_wecom('TOPs3cret' || chr(1), 1, 'x')$$),
    ($$SELECT messaging.configure_smtp('smtps://office:TOPs3cret@mail.example',
                                       'o@s.example')$$),
    ($$SELECT messaging.configure_smtp('smtps://mail.example', 'o@s.example', 'office',
                                       E'TOPs3cret\r\n')$$),
    ($$SELECT messaging.configure_smtp('smtps://mail.example', 'o@s.example', NULL,
                                       'TOPs3cret')$$),
    ($$SELECT messaging.configure_smtp('smtps://mail.example', 'TOPs3cret', 'office',
                                       'TOPs3cret')$$),
    ($$SELECT messaging.configure_smtp('smtps://mail.example/TOPs3cret/x', 'o@s.example')$$)
) AS calls(call);
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION t_alice;
SELECT pg_temp.refusal($$SELECT messaging.configure_wecom('ww1', 1, 'TOPs3cret')$$);
RESET SESSION AUTHORIZATION;
SELECT results_eq('SELECT state, count(*)::int FROM refusal GROUP BY state ORDER BY state',
    $$VALUES ('22023'::text, 10), ('42501', 1)$$, 'every one of those calls was refused');
SELECT is_empty($$SELECT call, said FROM refusal WHERE said ~* 's3cret'$$,
    'no refusal repeats the secret it was given');
SELECT results_eq('SELECT count(*)::int FROM messaging.wecom_config WHERE secret ~ ''TOP''',
    'VALUES (0)', 'and none of them stored it');

-- ===========================================================================
-- search_path
-- ===========================================================================
SELECT is((SELECT array_agg(p.proname::text ORDER BY p.proname) FROM pg_proc p
           WHERE p.pronamespace = 'messaging'::regnamespace AND p.prosecdef
             AND NOT EXISTS (SELECT FROM unnest(p.proconfig) c
                             WHERE c IN ('search_path=pg_catalog, pg_temp',
                                         'search_path=pg_catalog, messaging, pg_temp'))),
    NULL, 'every SECURITY DEFINER function pins search_path to pg_catalog first, pg_temp last');
SELECT is((SELECT array_agg(p.proname::text ORDER BY p.proname) FROM pg_proc p
           WHERE p.pronamespace = 'messaging'::regnamespace
             AND p.proname IN ('group_types', 'groups', 'search_by_group', 'search_by_name',
                               'relationship_types', 'associates', 'send', 'dashboard_search',
                               'errors', 'rerun', 'purge', 'configure_wecom', 'configure_smtp')
             AND NOT p.prosecdef),
    NULL, 'every API function is SECURITY DEFINER (so the check above covers it)');
SELECT is((SELECT array_agg(DISTINCT p.proname::text) FROM pg_trigger t
           JOIN pg_proc p ON p.oid = t.tgfoid
           WHERE p.pronamespace = 'messaging'::regnamespace
             AND NOT EXISTS (SELECT FROM unnest(p.proconfig) c
                             WHERE c = 'search_path=pg_catalog, pg_temp')),
    NULL, 'every trigger function pins its search_path, whoever writes the tables');
SELECT is((SELECT array_agg(r ORDER BY r)
           FROM unnest(ARRAY['public', 'messaging_sender', 'messaging_admin', 'messaging_app']) r
           WHERE has_schema_privilege(r, 'messaging', 'CREATE')),
    NULL, 'no role but the owner may create objects in schema messaging');

-- Mallory, a sender, plants functions and operators that every API function might
-- use, in a schema of hers, and puts it first in her search_path.
CREATE SCHEMA evil AUTHORIZATION t_mallory;
SET SESSION AUTHORIZATION t_mallory;
GRANT USAGE ON SCHEMA evil TO PUBLIC;
DO $$
DECLARE
    signature text;
    op record;
BEGIN
    FOREACH signature IN ARRAY ARRAY[
            'lower(text) RETURNS text', 'btrim(text) RETURNS text',
            'rtrim(text, text) RETURNS text', 'chr(integer) RETURNS text',
            'unnest(bigint[]) RETURNS SETOF bigint', 'unnest(text[]) RETURNS SETOF text',
            'cardinality(text[]) RETURNS integer', 'cardinality(bigint[]) RETURNS integer',
            'array_position(bigint[], bigint) RETURNS integer',
            'array_to_string(bigint[], text) RETURNS text',
            'current_setting(text, boolean) RETURNS text', 'now() RETURNS timestamptz',
            'format(text) RETURNS text', 'encode(bytea, text) RETURNS text',
            'sha256(bytea) RETURNS bytea', 'to_regprocedure(text) RETURNS regprocedure',
            'array_remove(text[], text) RETURNS text[]']
    LOOP
        EXECUTE format('CREATE FUNCTION evil.%s LANGUAGE plpgsql AS '
                       '$b$BEGIN RAISE EXCEPTION ''search_path hijack''; END$b$', signature);
    END LOOP;
    FOR op IN
        SELECT o, t FROM unnest(ARRAY['=', '<>', '<', '<=', '>', '>=']) o,
                         unnest(ARRAY['text', 'bigint', 'integer', 'messaging.person_kind',
                                      'messaging.channel']) t
        UNION ALL
        SELECT o, 'text' FROM unnest(ARRAY['~', '!~', '~*', '!~*']) o
    LOOP
        EXECUTE format('CREATE FUNCTION evil.%s(%s, %s) RETURNS boolean LANGUAGE plpgsql AS '
                       '$b$BEGIN RAISE EXCEPTION ''search_path hijack''; END$b$',
                       'op_' || md5(op.o || op.t), op.t, op.t);
        EXECUTE format('CREATE OPERATOR evil.%s (FUNCTION = evil.%s, LEFTARG = %s, '
                       'RIGHTARG = %s)', op.o, 'op_' || md5(op.o || op.t), op.t, op.t);
    END LOOP;
    CREATE FUNCTION evil.concat_text(text, text) RETURNS text LANGUAGE plpgsql AS
        $b$BEGIN RAISE EXCEPTION 'search_path hijack'; END$b$;
    CREATE OPERATOR evil.|| (FUNCTION = evil.concat_text, LEFTARG = text, RIGHTARG = text);
END
$$;
-- She also shadows the tables with temporary ones, in case anything named them bare,
-- and plants functions in pg_temp too.
CREATE TEMP TABLE person AS SELECT * FROM (VALUES (1)) AS x(person_id);
CREATE TEMP TABLE dispatch AS SELECT * FROM (VALUES (1)) AS x(dispatch_id);
CREATE TEMP TABLE message AS SELECT * FROM (VALUES (1)) AS x(message_id);
CREATE FUNCTION pg_temp.lower(text) RETURNS text LANGUAGE plpgsql AS
    $b$BEGIN RAISE EXCEPTION 'search_path hijack'; END$b$;
CREATE FUNCTION pg_temp.unnest(bigint[]) RETURNS SETOF bigint LANGUAGE plpgsql AS
    $b$BEGIN RAISE EXCEPTION 'search_path hijack'; END$b$;
RESET SESSION AUTHORIZATION;

-- Runs `call` with Mallory's search_path (her schema first, then pg_catalog) and
-- returns its one text value, or the error it raised.
CREATE FUNCTION pg_temp.with_evil_path(call text) RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    result text;
BEGIN
    PERFORM pg_catalog.set_config('search_path', 'evil, pg_catalog, pg_temp', true);
    EXECUTE call INTO result;
    RETURN result;
EXCEPTION WHEN OTHERS THEN
    RETURN 'error: ' || SQLERRM;
END
$$;

SET SESSION AUTHORIZATION t_mallory;
-- The traps work: code that does not pin its search_path falls into them.
SELECT is(pg_temp.with_evil_path($$SELECT lower('A')$$), 'error: search_path hijack',
    'control: an unpinned lower() is hers');
SELECT is(pg_temp.with_evil_path($$SELECT (1::bigint = 1::bigint)::text$$),
    'error: search_path hijack', 'control: an unpinned bigint = is hers');
SELECT is(pg_temp.with_evil_path($$SELECT 'a'::text || 'b'::text$$),
    'error: search_path hijack', 'control: an unpinned text || is hers');
SELECT is(pg_temp.with_evil_path($$SELECT count(*)::text FROM unnest('{1}'::bigint[])$$),
    'error: search_path hijack', 'control: an unpinned unnest(bigint[]) is hers');
SELECT is(pg_temp.with_evil_path($$SELECT pg_temp.lower('A')$$), 'error: search_path hijack',
    'control: her pg_temp.lower() exists, and is reached only by naming pg_temp');

-- Every API function and view works as if the traps were not there.
SELECT is(pg_temp.with_evil_path(
    $$SELECT array_agg(t ORDER BY t)::text FROM messaging.group_types('pupil') t$$),
    '{Form,House,Year}', 'group_types ignores her search_path');
SELECT is(pg_temp.with_evil_path(
    $$SELECT array_agg(name ORDER BY name)::text FROM messaging.groups('pupil', 'Form')$$),
    '{"Form 10A","Form 7A","Form 7B"}', 'groups ignores her search_path');
SELECT is(pg_temp.with_evil_path(
    $$SELECT array_agg(person_id ORDER BY person_id)::text FROM messaging.search_by_group(4)$$),
    '{103,104,105}', 'search_by_group ignores her search_path');
SELECT is(pg_temp.with_evil_path(
    $$SELECT array_agg(person_id ORDER BY person_id)::text
      FROM messaging.search_by_name('pupil', 'smi jo')$$),
    '{101,102}', 'search_by_name ignores her search_path');
SELECT is(pg_temp.with_evil_path(
    $$SELECT count(*)::text FROM messaging.search_by_name('pupil', NULL)$$),
    '5', 'search_by_name for everyone ignores her search_path');
SELECT is(pg_temp.with_evil_path(
    $$SELECT array_agg(relationship ORDER BY relationship)::text
      FROM messaging.relationship_types('{101}')$$),
    '{Father,Grandparent,Mother}', 'relationship_types ignores her search_path');
SELECT is(pg_temp.with_evil_path(
    $$SELECT array_agg(contact_id ORDER BY contact_id)::text
      FROM messaging.associates('{101, 103}', '{MOTHER}', '{1}')$$),
    '{201,203}', 'associates ignores her search_path');
SELECT is(pg_temp.with_evil_path(
    $$SELECT array_agg(recipients ORDER BY channel)::text
      FROM messaging.send('Mallory', 'Hello', '{101, 201}', '{wechat, email}', true,
                          '{Mother}', '{1}', 'mallory-key')$$),
    '{2,2}', 'send ignores her search_path');
SELECT is(pg_temp.with_evil_path(
    $$SELECT array_agg(recipients ORDER BY channel)::text
      FROM messaging.send('Mallory', 'Hello', '{101, 201}', '{wechat, email}', true,
                          '{Mother}', '{1}', 'mallory-key')$$),
    '{2,2}', 'a retried send with a key ignores her search_path');
SELECT is(pg_temp.with_evil_path(
    $$SELECT format('%s', array_agg(total_rows))
      FROM messaging.dashboard_search(message_type => 'wechat', updated_from => '-infinity',
                                      updated_to => 'infinity', has_error => false)$$),
    '{1}', 'dashboard_search ignores her search_path');
SELECT is(pg_temp.with_evil_path(
    $$SELECT count(*)::text FROM messaging.errors(
          (SELECT min(dispatch_id) FROM messaging.dashboard_search()))$$),
    '0', 'errors ignores her search_path');
SELECT is(pg_temp.with_evil_path(
    $$SELECT messaging.rerun((SELECT min(dispatch_id) FROM messaging.dashboard_search()),
                             false)::text$$),
    '0', 'rerun ignores her search_path');
SELECT is(pg_temp.with_evil_path($$SELECT count(*)::text FROM messaging.dashboard$$),
    '2', 'the dashboard view ignores her search_path');
SELECT is(pg_temp.with_evil_path($$SELECT count(*)::text FROM messaging.deliveries$$),
    '4', 'the deliveries view ignores her search_path');
SELECT is(pg_temp.with_evil_path($$SELECT count(*)::text FROM messaging.delivery$$),
    '4', 'row-level security ignores her search_path');
SELECT is(pg_temp.with_evil_path(
    $$SELECT messaging.dashboard_search(page => 0)::text$$),
    'error: page must be 1 or more', 'refusals ignore her search_path too');
RESET SESSION AUTHORIZATION;

-- An admin with the same search_path configures and purges as usual.
SET SESSION AUTHORIZATION t_admin;
SELECT is(pg_temp.with_evil_path(
    $$SELECT messaging.configure_wecom(' wwEVIL ', 7, ' s3 ', 'https://q.example/')::text$$),
    '', 'configure_wecom ignores an admin''s search_path');
SELECT is(pg_temp.with_evil_path(
    $$SELECT messaging.configure_smtp('smtp://m.example:25/', 'A <a@b.example>', ' u ', 'p',
                                      false)::text$$),
    '', 'configure_smtp ignores an admin''s search_path');
SELECT is(pg_temp.with_evil_path($$SELECT messaging.purge('1000 years')::text$$), '0',
    'purge ignores an admin''s search_path');
RESET SESSION AUTHORIZATION;
SELECT results_eq(
    $$SELECT corp_id, agent_id, secret, api_base FROM messaging.wecom_config$$,
    $$VALUES ('wwEVIL', 7, 's3', 'https://q.example')$$,
    'the WeCom settings were stored as under any search_path');
SELECT results_eq(
    $$SELECT url, mail_from, username, password, starttls FROM messaging.smtp_config$$,
    $$VALUES ('smtp://m.example:25', 'A <a@b.example>', 'u', 'p', false)$$,
    'the SMTP settings were stored as under any search_path');
SELECT results_eq(
    $$SELECT count(*)::int, count(DISTINCT m.message_id)::int FROM messaging.dispatch d
      JOIN messaging.message m USING (message_id) WHERE m.sent_by = 't_mallory'$$,
    'VALUES (2, 1)', 'her send and its retry queued one message on two channels');

-- ===========================================================================
-- The sender identity
-- ===========================================================================
-- An application role (here through another role) must name its user for every call.
CREATE TEMP TABLE app_calls (call text, state text);
GRANT ALL ON app_calls TO PUBLIC;
CREATE FUNCTION pg_temp.app_call(call text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    state text := 'no error';
BEGIN
    BEGIN
        EXECUTE call;
    EXCEPTION WHEN OTHERS THEN
        state := SQLSTATE;
    END;
    INSERT INTO app_calls VALUES (call, state);
END
$$;
SET SESSION AUTHORIZATION t_app;
SELECT pg_temp.app_call(call) FROM (VALUES
    ($$SELECT messaging.group_types('pupil')$$),
    ($$SELECT messaging.groups('pupil', 'Form')$$),
    ($$SELECT messaging.search_by_group(1)$$),
    ($$SELECT messaging.search_by_name('pupil', 'smith')$$),
    ($$SELECT messaging.relationship_types('{101}')$$),
    ($$SELECT messaging.associates('{101}')$$),
    ($$SELECT messaging.send('s', 'b', '{101}', '{email}')$$),
    ($$SELECT messaging.dashboard_search()$$),
    ($$SELECT messaging.errors(1)$$),
    ($$SELECT messaging.rerun(1)$$),
    ($$SELECT * FROM messaging.dashboard$$),
    ($$SELECT * FROM messaging.deliveries$$)
) AS calls(call);
RESET SESSION AUTHORIZATION;
SELECT is((SELECT array_agg(DISTINCT state) FROM app_calls), '{22023}',
    'an application role without messaging.sender gets 22023 from every function and view');
SELECT is((SELECT count(*)::int FROM app_calls), 12, '... twelve calls tried');

SET SESSION AUTHORIZATION t_app;
SET LOCAL messaging.sender = E' \t';
SELECT throws_ok($$SELECT messaging.group_types('pupil')$$, '22023',
    'messaging.sender is not set', 'a blank messaging.sender names nobody');
SELECT is(pg_temp.error_detail($$SELECT messaging.group_types('pupil')$$),
    'It was set in this transaction, but to an empty or blank name.',
    'a blank messaging.sender is told apart from a missing one');
SET LOCAL messaging.sender = 't_alice';
SELECT results_eq('SELECT dispatch_id FROM messaging.dashboard ORDER BY 1',
    $$SELECT dispatch_id FROM messaging.dispatch WHERE sent_by = 't_alice' ORDER BY 1$$,
    'an application acting for a user sees that user''s dispatches');
RESET messaging.sender;
RESET SESSION AUTHORIZATION;

-- The superuser's implied membership of messaging_app does not count.
SELECT lives_ok($$SELECT messaging.group_types('pupil')$$,
    'a superuser needs no messaging.sender');

SELECT * FROM finish();
ROLLBACK;
