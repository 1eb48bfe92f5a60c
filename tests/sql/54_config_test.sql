-- Channel configuration: admins set it, input is checked, settings show without
-- their secrets, and no other path leads to a secret.
BEGIN;
SELECT plan(52);

GRANT ALL ON __tcache__ TO PUBLIC;
GRANT ALL ON SEQUENCE __tcache___id_seq, __tresults___numb_seq TO PUBLIC;
CREATE ROLE t_admin NOLOGIN IN ROLE messaging_admin;
CREATE ROLE t_sender NOLOGIN IN ROLE messaging_sender;
CREATE ROLE t_app NOLOGIN IN ROLE messaging_app;

SELECT results_eq(
    'SELECT channel::text, configured, endpoint, identity, secret_set, updated_at
     FROM messaging.channel_settings',
    $$VALUES ('wechat', false, NULL::text, NULL::text, false, NULL::timestamptz),
             ('email', false, NULL, NULL, false, NULL)$$,
    'before configuration both channels show as not configured');

-- An admin configures both channels.
SET SESSION AUTHORIZATION t_admin;
SELECT lives_ok($$SELECT messaging.configure_wecom('ww0123456789', 1000002,
                                                   'wecom-s3cret-value')$$,
                'an admin configures WeCom');
SELECT lives_ok($$SELECT messaging.configure_smtp('smtps://mail.school.example:465',
                                                  'School Office <office@school.example>',
                                                  'office', 'smtp-pa55word')$$,
                'an admin configures SMTP');
SELECT results_eq(
    'SELECT channel::text, configured, endpoint, identity, secret_set, updated_at = now()
     FROM messaging.channel_settings',
    $$VALUES ('wechat', true, 'https://qyapi.weixin.qq.com', 'corp ww0123456789, agent 1000002',
              true, true),
             ('email', true, 'smtps://mail.school.example:465',
              'School Office <office@school.example>, user office', true, true)$$,
    'channel_settings shows endpoint, identity and that a secret is set');
SELECT is((SELECT count(*)::int FROM messaging.channel_settings s
           WHERE s::text LIKE '%s3cret%' OR s::text LIKE '%pa55word%'), 0,
          'channel_settings never shows a secret');

-- A second call replaces the settings.
SELECT lives_ok($$SELECT messaging.configure_wecom('wwABC', 1000003, 'other-secret',
                                                   'http://127.0.0.1:18080/')$$,
                'reconfiguring WeCom replaces the settings');
SELECT lives_ok($$SELECT messaging.configure_smtp('smtp://127.0.0.1:2525', 'office@school.example',
                                                  starttls => false)$$,
                'reconfiguring SMTP without a login');
SELECT results_eq(
    'SELECT channel::text, endpoint, identity, secret_set FROM messaging.channel_settings',
    $$VALUES ('wechat', 'http://127.0.0.1:18080', 'corp wwABC, agent 1000003', true),
             ('email', 'smtp://127.0.0.1:2525', 'office@school.example', false)$$,
    'the new settings show; an SMTP relay without a login has no secret');
RESET SESSION AUTHORIZATION;

SELECT results_eq('SELECT count(*)::int, bool_and(starttls = false), bool_and(username IS NULL)
                   FROM messaging.smtp_config',
                  'VALUES (1, true, true)', 'the SMTP settings are one row');
SELECT results_eq('SELECT corp_id, agent_id, secret, api_base FROM messaging.wecom_config',
                  $$VALUES ('wwABC', 1000003, 'other-secret', 'http://127.0.0.1:18080')$$,
                  'the owner reads the stored WeCom settings');

-- Invalid input is refused with 22023 and changes nothing.
SET SESSION AUTHORIZATION t_admin;
SELECT throws_ok($$SELECT messaging.configure_wecom(NULL, 1, 's')$$, '22023',
                 'corp_id must not be empty', 'a NULL corp id');
SELECT throws_ok($$SELECT messaging.configure_wecom('  ', 1, 's')$$, '22023',
                 'corp_id must not be empty', 'a blank corp id');
SELECT throws_ok($$SELECT messaging.configure_wecom('ww1', NULL, 's')$$, '22023',
                 'agent_id must be a positive number', 'a NULL agent id');
SELECT throws_ok($$SELECT messaging.configure_wecom('ww1', 0, 's')$$, '22023',
                 'agent_id must be a positive number', 'agent id 0');
SELECT throws_ok($$SELECT messaging.configure_wecom('ww1', 1, NULL)$$, '22023',
                 'secret must not be empty', 'a NULL secret');
SELECT throws_ok($$SELECT messaging.configure_wecom('ww1', 1, ' ')$$, '22023',
                 'secret must not be empty', 'a blank secret');
SELECT throws_ok($$SELECT messaging.configure_wecom('ww1', 1, 's', NULL)$$, '22023',
                 'api_base must not be empty', 'a NULL api_base');
SELECT throws_ok($$SELECT messaging.configure_wecom('ww1', 1, 's', 'ftp://qyapi.example')$$,
                 '22023', 'api_base must be an https:// or http:// URL', 'an ftp api_base');
SELECT throws_ok($$SELECT messaging.configure_wecom('ww1', 1, 's', 'qyapi.weixin.qq.com')$$,
                 '22023', NULL, 'an api_base without a scheme');
SELECT throws_ok($$SELECT messaging.configure_wecom('ww1', 1, 's', 'https://u:p@qyapi.example')$$,
                 '22023', NULL, 'an api_base with credentials');
SELECT throws_ok($$SELECT messaging.configure_wecom(E'ww1\n', 1, 's')$$, '22023',
                 'corp_id must not contain control characters', 'a corp id with a line break');
SELECT throws_ok($$SELECT messaging.configure_smtp(NULL, 'a@b.example')$$, '22023',
                 'url must not be empty', 'a NULL SMTP URL');
SELECT throws_ok($$SELECT messaging.configure_smtp('https://mail.example', 'a@b.example')$$,
                 '22023', 'url must be an smtp:// or smtps:// URL', 'an https SMTP URL');
SELECT throws_ok($$SELECT messaging.configure_smtp('mail.example:25', 'a@b.example')$$,
                 '22023', NULL, 'an SMTP URL without a scheme');
SELECT throws_ok($$SELECT messaging.configure_smtp('smtp://', 'a@b.example')$$,
                 '22023', NULL, 'an SMTP URL without a host');
SELECT throws_ok($$SELECT messaging.configure_smtp('smtp://u:pw@mail.example', 'a@b.example')$$,
                 '22023', 'url must not contain a user name or password',
                 'an SMTP URL with credentials');
SELECT throws_ok($$SELECT messaging.configure_smtp('smtp://mail.example', NULL)$$, '22023',
                 'mail_from must not be empty', 'a NULL mail_from');
SELECT throws_ok($$SELECT messaging.configure_smtp('smtp://mail.example', 'office')$$, '22023',
                 'mail_from must be an email address or "Name <address>"', 'mail_from without @');
SELECT throws_ok($$SELECT messaging.configure_smtp('smtp://mail.example', 'a@b@c.example')$$,
                 '22023', NULL, 'mail_from with two @');
SELECT throws_ok($$SELECT messaging.configure_smtp('smtp://mail.example', 'Office <office>')$$,
                 '22023', NULL, 'a named mail_from without an address');
SELECT throws_ok($$SELECT messaging.configure_smtp('smtp://mail.example',
                                                   E'Office\r\nBcc: x@y.example <o@s.example>')$$,
                 '22023', NULL, 'a mail_from that would inject a header');
SELECT throws_ok($$SELECT messaging.configure_smtp('smtp://mail.example', 'o@s.example',
                                                   'office')$$,
                 '22023', 'username and password must be given together',
                 'a login without a password');
SELECT throws_ok($$SELECT messaging.configure_smtp('smtp://mail.example', 'o@s.example',
                                                   starttls => NULL)$$,
                 '22023', 'starttls must not be null', 'starttls NULL');
SELECT throws_ok($$SELECT messaging.configure_smtp('smtp://127.0.0.1:25/path?x=1',
                                                   'o@s.example')$$,
                 '22023', 'url must be an smtp:// or smtps:// URL',
                 'an SMTP URL with a path and a query');
SELECT throws_ok($$SELECT messaging.configure_smtp('smtps://mail.example/relay', 'o@s.example')$$,
                 '22023', 'url must be an smtp:// or smtps:// URL', 'an SMTP URL with a path');
SELECT throws_ok($$SELECT messaging.configure_smtp('smtp://mail.example:25?x=1', 'o@s.example')$$,
                 '22023', 'url must be an smtp:// or smtps:// URL', 'an SMTP URL with a query');
SELECT throws_ok($$SELECT messaging.configure_smtp('smtp://mail.example//', 'o@s.example')$$,
                 '22023', 'url must be an smtp:// or smtps:// URL',
                 'an SMTP URL with more than one trailing slash');
SELECT throws_ok($$SELECT messaging.configure_wecom('ww1', 1, 's',
                                                   'https://proxy.example/wecom?x=1')$$,
                 '22023', 'api_base must be an https:// or http:// URL',
                 'an api_base with a query');
SELECT throws_ok($$SELECT messaging.configure_wecom('ww1', 1, 's',
                                                   'https://proxy.example/w#top')$$,
                 '22023', 'api_base must be an https:// or http:// URL',
                 'an api_base with a fragment');
RESET SESSION AUTHORIZATION;
SELECT results_eq('SELECT corp_id, api_base FROM messaging.wecom_config',
                  $$VALUES ('wwABC', 'http://127.0.0.1:18080')$$,
                  'refused calls changed nothing');

-- A relay URL may end in one slash; a WeCom API base may have a path (a proxy's).
SET SESSION AUTHORIZATION t_admin;
SELECT messaging.configure_smtp('smtp://127.0.0.1:2525/', 'office@school.example',
                                starttls => false);
SELECT messaging.configure_wecom('wwABC', 1000003, 'other-secret',
                                 'http://127.0.0.1:18080/proxy/wecom/');
SELECT results_eq('SELECT endpoint FROM messaging.channel_settings ORDER BY 1',
                  $$VALUES ('http://127.0.0.1:18080/proxy/wecom'), ('smtp://127.0.0.1:2525')$$,
                  'a trailing slash is dropped and an API base keeps its path');
RESET SESSION AUTHORIZATION;

-- A refused call never repeats a secret, and keeps the statement out of the log.
CREATE TEMP TABLE refusal (message text, detail text, hint text);
DO $$
DECLARE m text; d text; h text;
BEGIN
    BEGIN
        PERFORM messaging.configure_smtp('smtp://relay-pa55word.example/a/b', 'o@s.example',
                                         'office', 'pa55word');
    EXCEPTION WHEN invalid_parameter_value THEN
        GET STACKED DIAGNOSTICS m = MESSAGE_TEXT, d = PG_EXCEPTION_DETAIL, h = PG_EXCEPTION_HINT;
        INSERT INTO refusal VALUES (m, d, h);
    END;
    BEGIN
        PERFORM messaging.configure_wecom('ww1', -1, 'wecom-s3cret', 'https://x.example');
    EXCEPTION WHEN invalid_parameter_value THEN
        GET STACKED DIAGNOSTICS m = MESSAGE_TEXT, d = PG_EXCEPTION_DETAIL, h = PG_EXCEPTION_HINT;
        INSERT INTO refusal VALUES (m, d, h);
    END;
END $$;
SELECT is((SELECT count(*)::int FROM refusal), 2, 'both calls were refused');
SELECT is((SELECT count(*)::int FROM refusal r
           WHERE concat_ws(' ', r.message, r.detail, r.hint) ~ '(pa55word|s3cret)'), 0,
          'no error repeats a secret');
SELECT is((SELECT count(*)::int FROM pg_proc
           WHERE proname IN ('configure_wecom', 'configure_smtp')
             AND 'log_min_error_statement=panic' = ANY (proconfig)), 2,
          'a refused configure call does not copy its statement into the log');

-- Senders and applications have no way to a secret, or to configuring.
ANALYZE messaging.wecom_config, messaging.smtp_config;
SET SESSION AUTHORIZATION t_sender;
SELECT throws_ok($$SELECT messaging.configure_wecom('ww1', 1, 's')$$, '42501', NULL,
                 'a sender cannot configure WeCom');
SELECT throws_ok($$SELECT messaging.configure_smtp('smtp://mail.example', 'o@s.example')$$,
                 '42501', NULL, 'a sender cannot configure SMTP');
SELECT throws_ok('SELECT * FROM messaging.channel_settings', '42501', NULL,
                 'a sender cannot read the channel settings');
SELECT throws_ok('SELECT secret FROM messaging.wecom_config', '42501', NULL,
                 'a sender cannot read the WeCom secret');
SELECT throws_ok('SELECT password FROM messaging.smtp_config', '42501', NULL,
                 'a sender cannot read the SMTP password');
SELECT is((SELECT count(*)::int FROM pg_stats WHERE schemaname = 'messaging'
             AND tablename IN ('wecom_config', 'smtp_config')), 0,
          'a sender cannot read the secrets from the statistics');
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION t_app;
SET LOCAL messaging.sender = 'someone';
SELECT throws_ok($$SELECT messaging.configure_wecom('ww1', 1, 's')$$, '42501', NULL,
                 'an application cannot configure');
SELECT throws_ok('SELECT * FROM messaging.channel_settings', '42501', NULL,
                 'an application cannot read the channel settings');
RESET messaging.sender;
RESET SESSION AUTHORIZATION;

SELECT * FROM finish();
ROLLBACK;
