-- Who is calling: the sender identity, role membership, and reachability rules
-- shared by the API, the dashboard and the dispatcher.

-- Whether role `member` has been granted `target`, directly or through other
-- roles. A superuser's implied membership in every role does not count.
CREATE FUNCTION messaging._has_granted_role(member oid, target name)
RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    WITH RECURSIVE granted(roleid) AS (
        SELECT m.roleid FROM pg_auth_members m WHERE m.member = $1
        UNION
        SELECT m.roleid FROM pg_auth_members m JOIN granted g ON m.member = g.roleid
    )
    SELECT EXISTS (SELECT FROM pg_roles r WHERE r.oid = $1 AND r.rolname = $2)
        OR EXISTS (SELECT FROM granted g JOIN pg_roles r ON r.oid = g.roleid
                   WHERE r.rolname = $2)
$$;

-- messaging.sender when a SET, SET LOCAL or set_config() of the current transaction
-- gave it its value; NULL for a value left by an earlier transaction or taken from
-- a role, database, connection or server default.
CREATE FUNCTION messaging._sender_setting() RETURNS text
    AS 'MODULE_PATHNAME', 'mis_sender_setting'
    LANGUAGE C VOLATILE;

-- The sender identity: session_user, or for members of messaging_app the
-- acting user named with SET LOCAL messaging.sender in the current transaction
-- (required for them, trimmed of surrounding white space, and at most 200
-- characters, so that it always fits the indexes it is stored in).
CREATE FUNCTION messaging._sender()
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    given text;
    acting text;
BEGIN
    IF NOT messaging._has_granted_role(
            (SELECT oid FROM pg_roles WHERE rolname = session_user), 'messaging_app') THEN
        RETURN session_user;
    END IF;

    given := messaging._sender_setting();
    acting := nullif(btrim(given), '');
    IF acting IS NULL OR acting !~ '[^[:space:]]' THEN
        RAISE EXCEPTION 'messaging.sender is not set'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = CASE WHEN given IS NULL
                      THEN format('Role %s is a member of messaging_app, which acts for its '
                                  'own users; a value from an earlier transaction or a '
                                  'default does not count.', session_user)
                      ELSE 'It was set in this transaction, but to an empty or blank name.'
                  END,
                  HINT = 'Name the acting user in each transaction with '
                         'SET LOCAL messaging.sender = ''...''.';
    END IF;
    IF char_length(acting) > 200 THEN
        RAISE EXCEPTION 'messaging.sender is too long'
            USING ERRCODE = 'string_data_right_truncation',
                  DETAIL = format('It has %s characters; at most 200 are allowed.',
                                  char_length(acting));
    END IF;
    RETURN acting;
END
$$;

-- Whether the caller sees and reruns every sender's messages.
CREATE FUNCTION messaging._is_admin()
RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT r.rolsuper OR messaging._has_granted_role(r.oid, 'messaging_admin')
    FROM pg_roles r WHERE r.rolname = session_user
$$;

-- Why `channel` cannot reach a person, in words a school office can act on;
-- NULL when it can. A disabled account blocks every channel.
CREATE FUNCTION messaging._channel_problem(
    kind messaging.person_kind, disabled boolean, email text, wechat_userid text,
    channel messaging.channel)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE
        WHEN disabled THEN 'account disabled'
        WHEN channel = 'wechat' AND coalesce(btrim(wechat_userid), '') = ''
            THEN 'not registered for WeChat: ask them to register'
        WHEN channel = 'email' AND coalesce(btrim(email), '') = ''
            THEN 'no email address recorded'
        WHEN channel = 'alert' AND kind <> 'staff'
            THEN 'alerts reach staff only'
    END
$$;
