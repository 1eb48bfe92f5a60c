-- Channel configuration: WeCom and SMTP settings, written by admins, with secrets
-- that only the extension's owner and superusers can read back.
--
-- Error messages here name the argument at fault but never repeat its value, and
-- the configure functions raise log_min_error_statement so that a refused call
-- does not copy the statement, secrets included, into the server log.

-- Raises 22023 unless `value` is present, not blank and free of control characters.
CREATE FUNCTION messaging._require_setting(value text, argument text)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF value IS NULL OR btrim(value) = '' THEN
        RAISE EXCEPTION '% must not be empty', argument
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF value ~ '[[:cntrl:]]' THEN
        RAISE EXCEPTION '% must not contain control characters', argument
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM messaging._require_length(value, argument);
END
$$;

-- Refuses a channel setting longer than any real one (2,000 characters).
CREATE FUNCTION messaging._require_length(value text, argument text)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF char_length(value) > 2000 THEN
        RAISE EXCEPTION '% is too long', argument
            USING ERRCODE = 'string_data_right_truncation',
                  DETAIL = format('It has %s characters; at most 2000 are allowed.',
                                  char_length(value));
    END IF;
END
$$;

-- Whether the port a URL gives, if any, is one a server can listen on (1 to 65535).
CREATE FUNCTION messaging._port_in_range(url text)
RETURNS boolean
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce(substring(url FROM '^[A-Za-z]+://(?:[^/@]*\]|[^/@:]*):([0-9]+)(?:/|$)')::int
                        BETWEEN 1 AND 65535, true)
$$;

-- Raises 42501 unless the caller may change channel settings (and, like every API
-- call, 22023 for an application role that has not named its user).
CREATE FUNCTION messaging._require_admin()
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM messaging._sender();
    IF NOT messaging._is_admin() THEN
        RAISE EXCEPTION 'permission denied to configure channels'
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Channel settings are changed by members of messaging_admin.';
    END IF;
END
$$;

-- Sets the school's WeCom application: corp id, agent id, its secret and the API base
-- URL (https, or http for a local test server). Takes effect with the next batch.
CREATE FUNCTION messaging.configure_wecom(
    corp_id text, agent_id int, secret text,
    api_base text DEFAULT 'https://qyapi.weixin.qq.com')
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET log_min_error_statement = panic
AS $$
DECLARE
    base text;
BEGIN
    PERFORM messaging._require_admin();
    PERFORM messaging._require_setting(corp_id, 'corp_id');
    PERFORM messaging._require_setting(secret, 'secret');
    PERFORM messaging._require_setting(api_base, 'api_base');
    IF agent_id IS NULL OR agent_id <= 0 THEN
        RAISE EXCEPTION 'agent_id must be a positive number'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;

    base := rtrim(btrim(api_base), '/');
    IF base !~* '^https?://([a-z0-9.-]+|\[[0-9a-f:.]+\])(:[0-9]{1,5})?(/[^[:space:]?#]*)?$'
       OR NOT messaging._port_in_range(base) THEN
        RAISE EXCEPTION 'api_base must be an https:// or http:// URL'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'The URL needs a host name and may give a port and a path, but no '
                           'user name, password, query or fragment.';
    END IF;

    INSERT INTO messaging.wecom_config AS c (corp_id, agent_id, secret, api_base, updated_at)
    VALUES (btrim(corp_id), agent_id, btrim(secret), base, now())
    ON CONFLICT (only_row) DO UPDATE
        SET corp_id = excluded.corp_id,
            agent_id = excluded.agent_id,
            secret = excluded.secret,
            api_base = excluded.api_base,
            updated_at = excluded.updated_at;
END
$$;

-- Sets the school's mail relay: an smtps:// URL (TLS from the first byte) or smtp://
-- (STARTTLS required unless starttls is false), the From mailbox (a bare address or
-- `Name <address>`) and optional login. Takes effect with the next batch.
CREATE FUNCTION messaging.configure_smtp(
    url text, mail_from text, username text DEFAULT NULL, password text DEFAULT NULL,
    starttls boolean DEFAULT true)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET log_min_error_statement = panic
AS $$
DECLARE
    relay text;
    sender text;
    login text := nullif(btrim(username), '');
    secret text := nullif(password, '');
    address constant text := '[^][:space:]<>@",;:\\()[]+@[^][:space:]<>@",;:\\()[]+';
BEGIN
    PERFORM messaging._require_admin();
    PERFORM messaging._require_setting(url, 'url');
    PERFORM messaging._require_setting(mail_from, 'mail_from');
    IF starttls IS NULL THEN
        RAISE EXCEPTION 'starttls must not be null'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;

    relay := btrim(url);
    IF relay ~ '@' THEN
        RAISE EXCEPTION 'url must not contain a user name or password'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Pass them as username and password instead.';
    END IF;
    IF relay !~* '^smtps?://([a-z0-9.-]+|\[[0-9a-f:.]+\])(:[0-9]{1,5})?/?$'
       OR NOT messaging._port_in_range(relay) THEN
        RAISE EXCEPTION 'url must be an smtp:// or smtps:// URL'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'The URL gives a host name and may give a port, as in '
                           'smtps://mail.example.org:465, but no path or query.';
    END IF;
    relay := rtrim(relay, '/');

    sender := btrim(mail_from);
    IF sender !~ ('^' || address || '$')
       AND sender !~ ('^([^<>[:cntrl:]]*[^<>[:space:]])?[[:space:]]*<' || address || '>$') THEN
        RAISE EXCEPTION 'mail_from must be an email address or "Name <address>"'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;

    IF login IS NOT NULL THEN
        PERFORM messaging._require_setting(login, 'username');
    END IF;
    PERFORM messaging._require_length(secret, 'password');
    IF secret ~ '[\r\n]' THEN
        RAISE EXCEPTION 'password must not contain line breaks'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF (login IS NULL) <> (secret IS NULL) THEN
        RAISE EXCEPTION 'username and password must be given together'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;

    INSERT INTO messaging.smtp_config AS c
        (url, mail_from, username, password, starttls, updated_at)
    VALUES (relay, sender, login, secret, starttls, now())
    ON CONFLICT (only_row) DO UPDATE
        SET url = excluded.url,
            mail_from = excluded.mail_from,
            username = excluded.username,
            password = excluded.password,
            starttls = excluded.starttls,
            updated_at = excluded.updated_at;
END
$$;

-- What each channel is set to, without its secret: one row for wechat, one for email.
CREATE VIEW messaging.channel_settings AS
SELECT 'wechat'::messaging.channel AS channel,
       w.only_row IS NOT NULL AS configured,
       w.api_base AS endpoint,
       CASE WHEN w.only_row THEN format('corp %s, agent %s', w.corp_id, w.agent_id) END
           AS identity,
       coalesce(w.secret <> '', false) AS secret_set,
       w.updated_at
FROM (VALUES (true)) AS one(only_row)
LEFT JOIN messaging.wecom_config w ON w.only_row
UNION ALL
SELECT 'email'::messaging.channel,
       s.only_row IS NOT NULL,
       s.url,
       s.mail_from || coalesce(', user ' || s.username, ''),
       coalesce(s.password <> '', false),
       s.updated_at
FROM (VALUES (true)) AS one(only_row)
LEFT JOIN messaging.smtp_config s ON s.only_row;
