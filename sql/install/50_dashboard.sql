-- The dashboard: per-dispatch counters kept by triggers on messaging.delivery, the
-- views and searches over them, failure reasons, reruns and retention.

-- Counters --------------------------------------------------------------------

-- A new dispatch starts with zero counts: only the delivery triggers move them, so
-- the counts stay right however dispatch rows arrive (send, or a restored dump).
CREATE FUNCTION messaging._dispatch_counters_start_at_zero()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    NEW.messages := 0;
    NEW.not_started := 0;
    NEW.processing := 0;
    NEW.complete := 0;
    NEW.failed := 0;
    RETURN NEW;
END
$$;

CREATE TRIGGER dispatch_counters_start_at_zero
    BEFORE INSERT ON messaging.dispatch
    FOR EACH ROW EXECUTE FUNCTION messaging._dispatch_counters_start_at_zero();

-- Applies one statement's net counter changes to its dispatches (C++, in
-- extension/delivery_counts.cpp). The statement's delivery rows are netted per
-- dispatch first, so a batch of hundreds of rows costs one dispatch update; a row
-- whose dispatch, status and run did not change counts for nothing. Dispatches are
-- updated in dispatch_id order, so writers that touch several dispatches take their
-- row locks in the same order and never deadlock each other. Counts are adjusted
-- relative to the row's current value, which under concurrent writers is re-read
-- after the lock wait, so no change is ever lost. `updated_at` moves (never
-- backwards) when a delivery changed status or was rerun.
CREATE FUNCTION messaging._count_deliveries()
RETURNS trigger
LANGUAGE c
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'mis_count_deliveries';

CREATE TRIGGER delivery_counts_insert
    AFTER INSERT ON messaging.delivery
    REFERENCING NEW TABLE AS new_deliveries
    FOR EACH STATEMENT EXECUTE FUNCTION messaging._count_deliveries();

CREATE TRIGGER delivery_counts_update
    AFTER UPDATE ON messaging.delivery
    REFERENCING OLD TABLE AS old_deliveries NEW TABLE AS new_deliveries
    FOR EACH STATEMENT EXECUTE FUNCTION messaging._count_deliveries();

CREATE TRIGGER delivery_counts_delete
    AFTER DELETE ON messaging.delivery
    REFERENCING OLD TABLE AS old_deliveries
    FOR EACH STATEMENT EXECUTE FUNCTION messaging._count_deliveries();

-- TRUNCATE has no transition table: it empties every dispatch.
CREATE FUNCTION messaging._zero_counts()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    UPDATE messaging.dispatch
    SET messages = 0, not_started = 0, processing = 0, complete = 0, failed = 0
    WHERE messages <> 0;
    RETURN NULL;
END
$$;

CREATE TRIGGER delivery_counts_truncate
    AFTER TRUNCATE ON messaging.delivery
    FOR EACH STATEMENT EXECUTE FUNCTION messaging._zero_counts();

-- The dashboard's order, for everyone and per sender; failed deliveries per dispatch.
CREATE INDEX dispatch_recent_idx ON messaging.dispatch (updated_at DESC, dispatch_id DESC);
CREATE INDEX dispatch_sender_recent_idx
    ON messaging.dispatch (sent_by, updated_at DESC, dispatch_id DESC);
-- A created_at range far from the newest updates is found directly, not by walking
-- the dashboard's order until a page of matches turns up.
CREATE INDEX dispatch_created_idx ON messaging.dispatch (created_at);
CREATE INDEX delivery_failed_idx ON messaging.delivery (dispatch_id) WHERE status = 'failed';

-- Views -----------------------------------------------------------------------

-- The label people see for a channel (the dashboard view spells it out inline, so
-- that reading the whole view costs no function call per row).
CREATE FUNCTION messaging._channel_label(channel messaging.channel)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE channel
        WHEN 'wechat' THEN 'Weixin / WeChat'
        WHEN 'email' THEN 'Email'
        WHEN 'alert' THEN 'Alert'
    END
$$;

-- One row per dispatch, read from the counters. The view runs with the caller's
-- rights, so the row-level security of dispatch and message decides what it shows
-- (see the security part), and a page of it is an index scan in dashboard order.
CREATE VIEW messaging.dashboard WITH (security_invoker = true) AS
SELECT d.dispatch_id,
       d.message_id,
       d.channel,
       CASE d.channel
           WHEN 'wechat' THEN 'Weixin / WeChat'
           WHEN 'email' THEN 'Email'
           WHEN 'alert' THEN 'Alert'
       END AS message_type,
       m.subject,
       d.sent_by,
       d.created_at,
       d.updated_at,
       d.messages,
       d.not_started,
       d.processing,
       d.complete,
       d.failed,
       d.failed > 0 AS has_error
FROM messaging.dispatch d
JOIN messaging.message m ON m.message_id = d.message_id;

-- One row per delivery, for DBAs and reports. It needs the directory's names, which
-- senders may not read directly, so it runs with its owner's rights and applies the
-- dashboard's visibility rule itself; security_barrier keeps a caller's own functions
-- from seeing rows before that filter. The identity calls are scalar subqueries, so
-- they run once per query rather than once per row.
CREATE VIEW messaging.deliveries WITH (security_barrier) AS
SELECT dl.delivery_id,
       dl.dispatch_id,
       d.message_id,
       d.channel,
       dl.person_id,
       p.display_name,
       dl.address,
       dl.status,
       dl.attempts,
       dl.error,
       dl.created_at,
       dl.updated_at
FROM messaging.delivery dl
JOIN messaging.dispatch d ON d.dispatch_id = dl.dispatch_id
LEFT JOIN messaging.person p ON p.person_id = dl.person_id
WHERE (SELECT messaging._is_admin()) OR d.sent_by = (SELECT messaging._sender());

-- Searching -------------------------------------------------------------------

-- Raises 22023 unless `page` and `page_size` describe a page.
CREATE FUNCTION messaging._check_page(page int, page_size int)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF page IS NULL OR page < 1 THEN
        RAISE EXCEPTION 'page must be 1 or more'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF page_size IS NULL OR page_size NOT BETWEEN 1 AND 1000 THEN
        RAISE EXCEPTION 'page_size must be between 1 and 1000'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
END
$$;

-- Where calendar day `day` begins in the session's time zone (with `after`, where it
-- ends: the next day's start). A day beyond the range of timestamptz begins at
-- -infinity or infinity, so that any date the type accepts is a usable bound.
CREATE FUNCTION messaging._day_start(day date, after boolean DEFAULT false)
RETURNS timestamptz
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF after THEN
        RETURN (day + 1)::timestamptz;
    END IF;
    RETURN day::timestamptz;
EXCEPTION WHEN datetime_field_overflow THEN
    RETURN CASE WHEN day < date '2000-01-01' THEN '-infinity' ELSE 'infinity' END;
END
$$;

-- One page of the dashboard; see dashboard_search. Only the filters given become
-- part of the query, so each search is planned for exactly what it asks.
CREATE FUNCTION messaging._dashboard_page(
    p_channel messaging.channel, p_updated_from date, p_updated_to date,
    p_created_from date, p_created_to date, p_has_error boolean, p_page int, p_page_size int)
RETURNS TABLE (
    dispatch_id bigint, message_id bigint, channel messaging.channel, message_type text,
    subject text, sent_by text, created_at timestamptz, updated_at timestamptz,
    messages int, not_started int, processing int, complete int, failed int,
    has_error boolean, total_rows bigint)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    caller text := messaging._sender();
    filters text[] := '{}';
    matching text;
    total bigint;
    updated_from timestamptz;
    updated_before timestamptz;
    created_from timestamptz;
    created_before timestamptz;
BEGIN
    PERFORM messaging._check_page(p_page, p_page_size);
    updated_from := messaging._day_start(p_updated_from);
    updated_before := messaging._day_start(p_updated_to, true);
    created_from := messaging._day_start(p_created_from);
    created_before := messaging._day_start(p_created_to, true);

    IF NOT messaging._is_admin() THEN
        filters := filters || 'd.sent_by = $1'::text;
    END IF;
    IF p_channel IS NOT NULL THEN
        filters := filters || 'd.channel = $2'::text;
    END IF;
    -- Calendar days are the session's: a day starts at its local midnight and ends
    -- where the next one begins.
    IF p_updated_from IS NOT NULL THEN
        filters := filters || 'd.updated_at >= $3'::text;
    END IF;
    IF p_updated_to IS NOT NULL THEN
        filters := filters || 'd.updated_at < $4'::text;
    END IF;
    IF p_created_from IS NOT NULL THEN
        filters := filters || 'd.created_at >= $5'::text;
    END IF;
    IF p_created_to IS NOT NULL THEN
        filters := filters || 'd.created_at < $6'::text;
    END IF;
    IF p_has_error THEN
        filters := filters || 'd.failed > 0'::text;
    ELSIF NOT p_has_error THEN
        filters := filters || 'd.failed = 0'::text;
    END IF;
    matching := 'FROM messaging.dispatch d WHERE '
        || coalesce(nullif(array_to_string(filters, ' AND '), ''), 'true');

    EXECUTE 'SELECT count(*) ' || matching
        INTO total
        USING caller, p_channel, updated_from, updated_before,
              created_from, created_before;
    IF total <= (p_page - 1)::bigint * p_page_size THEN
        RETURN;
    END IF;

    RETURN QUERY EXECUTE
        'SELECT d.dispatch_id, d.message_id, d.channel, messaging._channel_label(d.channel),'
        '       m.subject, d.sent_by, d.created_at, d.updated_at, d.messages, d.not_started,'
        '       d.processing, d.complete, d.failed, d.failed > 0, $9'
        '  FROM (SELECT d.* ' || matching
        || '     ORDER BY d.updated_at DESC, d.dispatch_id DESC LIMIT $7 OFFSET $8) d'
        '  JOIN messaging.message m ON m.message_id = d.message_id'
        ' ORDER BY d.updated_at DESC, d.dispatch_id DESC'
        USING caller, p_channel, updated_from, updated_before,
              created_from, created_before, p_page_size,
              (p_page - 1)::bigint * p_page_size, total;
END
$$;

-- The dashboard, filtered and paged: newest updated_at first, then highest
-- dispatch_id; date bounds are inclusive calendar days in the session's time zone;
-- total_rows counts every row the filters match.
CREATE FUNCTION messaging.dashboard_search(
    message_type messaging.channel DEFAULT NULL,
    updated_from date DEFAULT NULL,
    updated_to date DEFAULT NULL,
    created_from date DEFAULT NULL,
    created_to date DEFAULT NULL,
    has_error boolean DEFAULT NULL,
    page int DEFAULT 1,
    page_size int DEFAULT 25)
RETURNS TABLE (
    dispatch_id bigint, message_id bigint, channel messaging.channel, message_type text,
    subject text, sent_by text, created_at timestamptz, updated_at timestamptz,
    messages int, not_started int, processing int, complete int, failed int,
    has_error boolean, total_rows bigint)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT * FROM messaging._dashboard_page($1, $2, $3, $4, $5, $6, $7, $8)
$$;

-- Errors and reruns -----------------------------------------------------------

-- The dispatch's sender, locked against concurrent reruns and counter updates when
-- `for_update` is true; P0002 when it does not exist or the caller may not see it.
CREATE FUNCTION messaging._visible_dispatch(wanted bigint, for_update boolean)
RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    viewer text := messaging._sender();
    owner_name text;
BEGIN
    IF wanted IS NULL THEN
        RAISE EXCEPTION 'dispatch_id must not be null'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;

    IF for_update THEN
        SELECT d.sent_by INTO owner_name FROM messaging.dispatch d
        WHERE d.dispatch_id = wanted
          AND (messaging._is_admin() OR d.sent_by = viewer)
        FOR NO KEY UPDATE;
    ELSE
        SELECT d.sent_by INTO owner_name FROM messaging.dispatch d
        WHERE d.dispatch_id = wanted
          AND (messaging._is_admin() OR d.sent_by = viewer);
    END IF;

    IF NOT FOUND THEN
        RAISE EXCEPTION 'dispatch % does not exist', wanted
            USING ERRCODE = 'no_data_found';
    END IF;
    RETURN owner_name;
END
$$;

-- The failed deliveries of a dispatch and why, by recipient name.
CREATE FUNCTION messaging.errors(dispatch_id bigint)
RETURNS TABLE (
    delivery_id bigint, person_id bigint, display_name text, address text, error text,
    attempts int, updated_at timestamptz)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM messaging._visible_dispatch(errors.dispatch_id, false);

    RETURN QUERY
        SELECT dl.delivery_id, dl.person_id, p.display_name, dl.address,
               coalesce(dl.error, 'failed without a recorded reason'), dl.attempts,
               dl.updated_at
        FROM messaging.delivery dl
        LEFT JOIN messaging.person p ON p.person_id = dl.person_id
        WHERE dl.dispatch_id = errors.dispatch_id AND dl.status = 'failed'
        ORDER BY p.display_name, dl.person_id, dl.delivery_id;
END
$$;

-- Requeues a dispatch's failed deliveries (with failed_only false, its complete ones
-- too) as a deliberate resend: a new run, no attempts yet, the address to be read
-- again from the directory. Queued and in-flight deliveries are left alone. The
-- dispatch row is locked first, so reruns of one dispatch take turns; deliveries a
-- concurrent worker holds are skipped rather than waited for, as they are being
-- written and are not finished as far as this rerun can know.
CREATE FUNCTION messaging.rerun(dispatch_id bigint, failed_only boolean DEFAULT true)
RETURNS int
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    requeued int;
BEGIN
    IF failed_only IS NULL THEN
        RAISE EXCEPTION 'failed_only must not be null'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM messaging._visible_dispatch(rerun.dispatch_id, true);

    UPDATE messaging.delivery dl
    SET status = 'not_started',
        error = NULL,
        address = NULL,
        attempts = 0,
        run = dl.run + 1,
        next_attempt_at = now(),
        updated_at = now()
    WHERE dl.delivery_id IN (
        SELECT f.delivery_id FROM messaging.delivery f
        WHERE f.dispatch_id = rerun.dispatch_id
          AND (f.status = 'failed' OR (NOT failed_only AND f.status = 'complete'))
        FOR UPDATE SKIP LOCKED);
    GET DIAGNOSTICS requeued = ROW_COUNT;

    IF requeued > 0 THEN
        PERFORM messaging._wake_dispatcher_if_present();
    END IF;
    RETURN requeued;
END
$$;

-- Asks the dispatcher to start on newly queued work when this transaction commits.
-- The C function messaging._wake_dispatcher() does that; an installation without it
-- still works, as the dispatcher also finds queued work on its own.
CREATE FUNCTION messaging._wake_dispatcher_if_present()
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF to_regprocedure('messaging._wake_dispatcher()') IS NOT NULL THEN
        EXECUTE 'SELECT messaging._wake_dispatcher()';
    END IF;
END
$$;

-- Retention -------------------------------------------------------------------

-- Deletes finished history: dispatches last updated before now() - older_than whose
-- deliveries are all complete or failed, with those deliveries, and then the
-- messages left with no dispatch and no alert. Queued and in-flight deliveries are
-- never touched: the dispatches are locked first and re-checked, so a concurrent
-- rerun either wins (and its dispatch is kept) or waits and then finds it gone.
-- Returns the number of dispatches deleted.
CREATE FUNCTION messaging.purge(older_than interval)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    cutoff timestamptz;
    finished bigint[];
    purged bigint;
BEGIN
    PERFORM messaging._sender();
    IF older_than IS NULL OR older_than <= interval '0' THEN
        RAISE EXCEPTION 'older_than must be a positive interval'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    BEGIN
        cutoff := now() - older_than;
    EXCEPTION WHEN datetime_field_overflow THEN
        cutoff := '-infinity'; -- longer ago than any time can be: nothing is that old
    END;

    finished := ARRAY(
        SELECT d.dispatch_id FROM messaging.dispatch d
        WHERE d.updated_at < cutoff
          AND d.not_started = 0 AND d.processing = 0
          AND NOT EXISTS (SELECT FROM messaging.delivery dl
                          WHERE dl.dispatch_id = d.dispatch_id
                            AND dl.status IN ('not_started', 'processing'))
        ORDER BY d.dispatch_id
        FOR UPDATE SKIP LOCKED);

    DELETE FROM messaging.delivery dl
    WHERE dl.dispatch_id = ANY (finished) AND dl.status IN ('complete', 'failed');

    DELETE FROM messaging.dispatch d
    WHERE d.dispatch_id = ANY (finished)
      AND NOT EXISTS (SELECT FROM messaging.delivery dl WHERE dl.dispatch_id = d.dispatch_id);
    GET DIAGNOSTICS purged = ROW_COUNT;

    DELETE FROM messaging.message m
    WHERE m.created_at < cutoff
      AND NOT EXISTS (SELECT FROM messaging.dispatch d WHERE d.message_id = m.message_id)
      AND NOT EXISTS (SELECT FROM messaging.alert a WHERE a.message_id = m.message_id);
    RETURN purged;
END
$$;
