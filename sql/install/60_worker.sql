-- The dispatcher's side of the queue: claiming, recording, recovery and status.
-- Only the dispatcher (a superuser background worker) calls the underscore
-- functions below; no one else may.

-- Claims up to batch_size due deliveries. Those whose person cannot be reached
-- or whose channel is not configured fail at once, without using a try; the
-- rest become `processing` with the address read from the directory now.
-- Returns every claimed delivery; `problem` is NULL for those to send.
CREATE FUNCTION messaging._claim_deliveries(batch_size integer)
RETURNS TABLE(delivery_id bigint, message_id bigint, channel messaging.channel,
              person_id bigint, address text, display_name text, attempts integer,
              run integer, problem text, configuration_problem boolean)
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
-- The queue index yields due deliveries in order; a bitmap scan would instead
-- read and sort the whole queue for every batch.
SET enable_bitmapscan = off
AS $$
    -- A delivery is claimed only with its dispatch's row, which the counter trigger
    -- updates: deliveries of a dispatch that another transaction holds (a rerun
    -- not yet committed, say) wait for the next turn instead of stalling the batch.
    WITH due AS (
        SELECT d.delivery_id, d.dispatch_id, d.person_id, d.attempts, d.run
        FROM messaging.delivery d
        JOIN messaging.dispatch s ON s.dispatch_id = d.dispatch_id
        WHERE d.status = 'not_started' AND d.next_attempt_at <= now()
        ORDER BY d.next_attempt_at, d.delivery_id
        LIMIT batch_size
        FOR UPDATE OF d SKIP LOCKED
        FOR NO KEY UPDATE OF s SKIP LOCKED
    ), examined AS MATERIALIZED ( -- each person checked once
        SELECT due.delivery_id, s.message_id, s.channel, due.person_id, p.display_name,
               due.attempts, due.run,
               CASE s.channel
                   WHEN 'wechat' THEN nullif(btrim(p.wechat_userid), '')
                   WHEN 'email' THEN nullif(btrim(p.email), '')
               END AS address,
               CASE WHEN p.person_id IS NULL THEN 'no longer in the directory'
                    ELSE messaging._channel_problem(p.kind, p.disabled, p.email,
                                                    p.wechat_userid, s.channel)
               END AS person_problem,
               CASE
                   WHEN s.channel = 'wechat' AND NOT EXISTS (SELECT FROM messaging.wecom_config)
                       THEN 'WeChat is not configured: an administrator must run '
                            'messaging.configure_wecom'
                   WHEN s.channel = 'email' AND NOT EXISTS (SELECT FROM messaging.smtp_config)
                       THEN 'email is not configured: an administrator must run '
                            'messaging.configure_smtp'
               END AS channel_problem
        FROM due
        JOIN messaging.dispatch s ON s.dispatch_id = due.dispatch_id
        -- One index lookup per claimed delivery, however large the directory.
        LEFT JOIN LATERAL (
            SELECT * FROM messaging.person p WHERE p.person_id = due.person_id OFFSET 0
        ) p ON true
    ), marked AS (
        UPDATE messaging.delivery d
        SET status = CASE WHEN e.person_problem IS NULL AND e.channel_problem IS NULL
                          THEN 'processing' ELSE 'failed' END::messaging.delivery_status,
            address = e.address,
            error = coalesce(e.person_problem, e.channel_problem, d.error),
            updated_at = now()
        FROM examined e
        WHERE d.delivery_id = e.delivery_id
        RETURNING e.delivery_id, e.message_id, e.channel, e.person_id, e.address,
                  e.display_name, e.attempts, e.run,
                  coalesce(e.person_problem, e.channel_problem) AS problem,
                  e.person_problem IS NULL AND e.channel_problem IS NOT NULL AS configuration
    )
    SELECT * FROM marked ORDER BY delivery_id
$$;

-- Records the outcome of one batch's tries, in one statement:
--   complete  delivered (an alert's inbox row is written here);
--   retry     queued again after retry_delay_ms * 2^(attempts - 1), or failed
--             with this reason once attempts reaches max_attempts;
--   failed    failed with this reason;
--   deferred  queued again after defer_ms, without using a try.
-- `tried` says whether the try reached the network; a retry always counts.
-- Deliveries no longer `processing` are left alone. Returns how many ended
-- complete and failed. The calling transaction commits synchronously even on a
-- server running with synchronous_commit off: results lost in a crash would send
-- a finished batch again, besides the one in flight.
CREATE FUNCTION messaging._record_deliveries(
    delivery_ids bigint[], outcomes text[], reasons text[], tried boolean[],
    defer_ms bigint[], max_attempts integer, retry_delay_ms bigint,
    OUT complete integer, OUT failed integer)
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT set_config('synchronous_commit', 'on', true);

    WITH outcome AS (
        SELECT o.delivery_id, o.outcome, o.reason, o.defer_ms,
               CASE WHEN o.tried OR o.outcome = 'retry' THEN 1 ELSE 0 END AS try
        FROM unnest(delivery_ids, outcomes, reasons, tried, defer_ms)
             AS o(delivery_id, outcome, reason, tried, defer_ms)
    ), recorded AS (
        UPDATE messaging.delivery d
        SET status = CASE
                WHEN o.outcome = 'complete' THEN 'complete'
                WHEN o.outcome = 'deferred' THEN 'not_started'
                WHEN o.outcome = 'retry' AND d.attempts + o.try < max_attempts
                    THEN 'not_started'
                ELSE 'failed'
            END::messaging.delivery_status,
            attempts = d.attempts + o.try,
            error = CASE
                WHEN o.outcome = 'complete' THEN NULL
                WHEN o.outcome = 'deferred' THEN d.error
                ELSE o.reason
            END,
            next_attempt_at = CASE
                WHEN o.outcome = 'deferred'
                    THEN now() + make_interval(secs => greatest(o.defer_ms, 0) / 1000.0)
                WHEN o.outcome = 'retry' AND d.attempts + o.try < max_attempts
                    THEN now() + make_interval(
                        secs => retry_delay_ms / 1000.0
                                * power(2, least(greatest(d.attempts + o.try, 1) - 1, 30)))
                ELSE d.next_attempt_at
            END,
            updated_at = now()
        FROM outcome o
        WHERE d.delivery_id = o.delivery_id AND d.status = 'processing'
        RETURNING d.delivery_id, d.dispatch_id, d.person_id, d.status
    ), alerts AS (
        INSERT INTO messaging.alert (person_id, message_id, subject, body)
        SELECT r.person_id, m.message_id, m.subject, m.body
        FROM recorded r
        JOIN messaging.dispatch s ON s.dispatch_id = r.dispatch_id
        JOIN messaging.message m ON m.message_id = s.message_id
        WHERE r.status = 'complete' AND s.channel = 'alert'
        ORDER BY r.delivery_id
    )
    SELECT count(*) FILTER (WHERE r.status = 'complete')::integer,
           count(*) FILTER (WHERE r.status = 'failed')::integer
    FROM recorded r
$$;

-- Puts every delivery left `processing` (by a dispatcher that crashed or was
-- stopped mid-batch) back in the queue. Only one dispatcher runs, so at its
-- start nothing is really in flight. Returns how many were queued again.
CREATE FUNCTION messaging._requeue_in_flight()
RETURNS integer
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
    WITH requeued AS (
        UPDATE messaging.delivery
        SET status = 'not_started', updated_at = now()
        WHERE status = 'processing'
        RETURNING 1
    )
    SELECT count(*)::integer FROM requeued
$$;

-- Milliseconds until the next queued delivery is due (0 if one is due now),
-- or NULL when the queue is empty.
CREATE FUNCTION messaging._next_due_in()
RETURNS bigint
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE WHEN min(next_attempt_at) IS NOT NULL
                THEN greatest(0, ceil(extract(epoch FROM min(next_attempt_at) - now()) * 1000))
           END::bigint
    FROM messaging.delivery
    WHERE status = 'not_started'
$$;

REVOKE ALL ON FUNCTION messaging._claim_deliveries(integer),
    messaging._record_deliveries(bigint[], text[], text[], boolean[], bigint[], integer, bigint),
    messaging._requeue_in_flight(), messaging._next_due_in() FROM PUBLIC;

-- Wakes the dispatcher when the calling transaction commits (used after
-- queueing work, for example by a rerun). Not for everyone: a stream of
-- wake-ups would keep the dispatcher claiming.
CREATE FUNCTION messaging._wake_dispatcher()
RETURNS void
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'mis_wake_dispatcher';
REVOKE ALL ON FUNCTION messaging._wake_dispatcher() FROM PUBLIC;

CREATE FUNCTION messaging._worker_status(
    OUT pid integer, OUT database text, OUT started_at timestamptz,
    OUT last_heartbeat_at timestamptz, OUT in_flight integer, OUT sent_total bigint,
    OUT failed_total bigint, OUT last_error text)
RETURNS SETOF record
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'mis_worker_status';
REVOKE ALL ON FUNCTION messaging._worker_status() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION messaging._worker_status() TO messaging_admin;

-- The running dispatcher, read from shared memory: one row while it runs.
CREATE VIEW messaging.worker_status AS
    SELECT pid, database, started_at, last_heartbeat_at, in_flight, sent_total,
           failed_total, last_error
    FROM messaging._worker_status();

GRANT SELECT ON messaging.worker_status TO messaging_admin;
