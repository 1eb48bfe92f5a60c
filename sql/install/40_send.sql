-- Queuing a message: validation and fan-out are C++ (extension/send.cpp). A refused
-- call leaves its statement, and so the subject and body, out of the server log.

CREATE FUNCTION messaging.send(
    subject text,
    body text,
    recipients bigint[],
    channels messaging.channel[],
    include_associations boolean DEFAULT false,
    relationships text[] DEFAULT NULL,
    ranks smallint[] DEFAULT NULL,
    request_key text DEFAULT NULL)
RETURNS TABLE (message_id bigint, dispatch_id bigint, channel messaging.channel,
               recipients int, flagged int)
AS 'MODULE_PATHNAME', 'mis_send'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, messaging, pg_temp
SET log_min_error_statement = panic;

REVOKE EXECUTE ON FUNCTION messaging.send(text, text, bigint[], messaging.channel[], boolean,
                                          text[], smallint[], text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION messaging.send(text, text, bigint[], messaging.channel[], boolean,
                                         text[], smallint[], text)
    TO messaging_sender, messaging_admin, messaging_app;
