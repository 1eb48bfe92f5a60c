-- Who sees what. Senders (and applications acting for their users) see and rerun
-- only their own dispatches; admins see and rerun everyone's and configure channels;
-- channel secrets are readable by the extension's owner and superusers only.
--
-- The API functions run as the owner and filter on the caller's identity; the views
-- do the same. Reporting tools may also read the message, dispatch, delivery and
-- alert tables directly, where row-level security applies the same rule. The
-- identity calls sit in scalar subqueries so that they run once per query.

ALTER TABLE messaging.message ENABLE ROW LEVEL SECURITY;
ALTER TABLE messaging.dispatch ENABLE ROW LEVEL SECURITY;
ALTER TABLE messaging.delivery ENABLE ROW LEVEL SECURITY;
ALTER TABLE messaging.alert ENABLE ROW LEVEL SECURITY;

CREATE POLICY message_visible ON messaging.message FOR SELECT
    USING ((SELECT messaging._is_admin()) OR sent_by = (SELECT messaging._sender()));

CREATE POLICY dispatch_visible ON messaging.dispatch FOR SELECT
    USING ((SELECT messaging._is_admin()) OR sent_by = (SELECT messaging._sender()));

CREATE POLICY delivery_visible ON messaging.delivery FOR SELECT
    USING ((SELECT messaging._is_admin())
           OR dispatch_id IN (SELECT d.dispatch_id FROM messaging.dispatch d
                              WHERE d.sent_by = (SELECT messaging._sender())));

CREATE POLICY alert_visible ON messaging.alert FOR SELECT
    USING ((SELECT messaging._is_admin())
           OR message_id IN (SELECT m.message_id FROM messaging.message m
                             WHERE m.sent_by = (SELECT messaging._sender())));

-- Channel settings: no policy, so even a mistaken grant shows no row.
ALTER TABLE messaging.wecom_config ENABLE ROW LEVEL SECURITY;
ALTER TABLE messaging.smtp_config ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON messaging.wecom_config, messaging.smtp_config
    FROM PUBLIC, messaging_sender, messaging_admin, messaging_app;

-- What reporting may read.
GRANT SELECT ON messaging.message, messaging.dispatch, messaging.delivery, messaging.alert,
                messaging.dashboard, messaging.deliveries
    TO messaging_sender, messaging_admin, messaging_app;
GRANT SELECT ON messaging.channel_settings TO messaging_admin;

-- The dashboard API.
REVOKE ALL ON FUNCTION
    messaging.dashboard_search(messaging.channel, date, date, date, date, boolean, int, int),
    messaging.errors(bigint),
    messaging.rerun(bigint, boolean),
    messaging.purge(interval),
    messaging.configure_wecom(text, int, text, text),
    messaging.configure_smtp(text, text, text, text, boolean)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    messaging.dashboard_search(messaging.channel, date, date, date, date, boolean, int, int),
    messaging.errors(bigint),
    messaging.rerun(bigint, boolean)
    TO messaging_sender, messaging_admin, messaging_app;
GRANT EXECUTE ON FUNCTION
    messaging.purge(interval),
    messaging.configure_wecom(text, int, text, text),
    messaging.configure_smtp(text, text, text, text, boolean)
    TO messaging_admin;

-- Internals that act as the owner are reached only through the API above.
REVOKE ALL ON FUNCTION
    messaging._dashboard_page(messaging.channel, date, date, date, date, boolean, int, int),
    messaging._visible_dispatch(bigint, boolean),
    messaging._wake_dispatcher_if_present(),
    messaging._dispatch_counters_start_at_zero(),
    messaging._count_deliveries(),
    messaging._zero_counts(),
    messaging._require_admin(),
    messaging._require_setting(text, text),
    messaging._require_length(text, text)
    FROM PUBLIC;
