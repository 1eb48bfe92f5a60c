-- Types, the directory, messages, deliveries, alerts and channel settings.

CREATE TYPE messaging.person_kind AS ENUM ('pupil', 'contact', 'staff');
CREATE TYPE messaging.channel AS ENUM ('wechat', 'email', 'alert');
CREATE TYPE messaging.delivery_status AS ENUM ('not_started', 'processing', 'complete', 'failed');

-- A person found by a recipient search, with why a channel cannot reach them.
CREATE TYPE messaging.recipient AS (
    person_id bigint,
    kind messaging.person_kind,
    display_name text,
    wechat_ready boolean,
    email_ready boolean,
    disabled boolean,
    problems text[]
);

-- The directory: filled by the MIS (triggers or a periodic sync).
CREATE TABLE messaging.person (
    person_id bigint PRIMARY KEY,
    kind messaging.person_kind NOT NULL,
    display_name text NOT NULL,
    given_name text,
    family_name text,
    email text,
    wechat_userid text,
    disabled boolean NOT NULL DEFAULT false
);

CREATE TABLE messaging.person_group (
    group_id bigint PRIMARY KEY,
    kind messaging.person_kind NOT NULL,
    group_type text NOT NULL,
    name text NOT NULL,
    UNIQUE (kind, group_type, name)
);

CREATE TABLE messaging.group_member (
    group_id bigint NOT NULL REFERENCES messaging.person_group ON DELETE CASCADE,
    person_id bigint NOT NULL REFERENCES messaging.person ON DELETE CASCADE,
    PRIMARY KEY (group_id, person_id)
);
CREATE INDEX group_member_person_idx ON messaging.group_member (person_id);

CREATE TABLE messaging.relationship (
    pupil_id bigint NOT NULL REFERENCES messaging.person ON DELETE CASCADE,
    contact_id bigint NOT NULL REFERENCES messaging.person ON DELETE CASCADE,
    relationship text NOT NULL,
    rank smallint NOT NULL DEFAULT 1,
    PRIMARY KEY (pupil_id, contact_id)
);
CREATE INDEX relationship_contact_idx ON messaging.relationship (contact_id);

-- One row per send: what was said, by whom.
CREATE TABLE messaging.message (
    message_id bigserial PRIMARY KEY,
    subject text,
    body text NOT NULL,
    sent_by text NOT NULL,
    request_key text,
    request_fingerprint text,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (sent_by, request_key)
);

-- One row per message and channel (a "dispatch"), with the dashboard counters.
CREATE TABLE messaging.dispatch (
    dispatch_id bigserial PRIMARY KEY,
    message_id bigint NOT NULL REFERENCES messaging.message ON DELETE CASCADE,
    channel messaging.channel NOT NULL,
    sent_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    messages integer NOT NULL DEFAULT 0,
    not_started integer NOT NULL DEFAULT 0,
    processing integer NOT NULL DEFAULT 0,
    complete integer NOT NULL DEFAULT 0,
    failed integer NOT NULL DEFAULT 0,
    recipients integer NOT NULL DEFAULT 0, -- as send queued it (returned again on a retry)
    flagged integer NOT NULL DEFAULT 0,    -- of those, failed at once as unreachable
    UNIQUE (message_id, channel)
);

-- One row per recipient and dispatch. `address` is the WeCom user id or email
-- address actually used, read from the directory when the delivery is dispatched.
-- `run` counts deliberate reruns (it makes a rerun a new mail and a new WeCom send).
CREATE TABLE messaging.delivery (
    delivery_id bigserial PRIMARY KEY,
    dispatch_id bigint NOT NULL REFERENCES messaging.dispatch ON DELETE CASCADE,
    person_id bigint NOT NULL,
    status messaging.delivery_status NOT NULL DEFAULT 'not_started',
    address text,
    attempts integer NOT NULL DEFAULT 0,
    error text,
    run integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (dispatch_id, person_id)
);
CREATE INDEX delivery_queue_idx ON messaging.delivery (next_attempt_at, delivery_id)
    WHERE status = 'not_started';
CREATE INDEX delivery_processing_idx ON messaging.delivery (delivery_id)
    WHERE status = 'processing';

-- A staff member's in-MIS inbox.
CREATE TABLE messaging.alert (
    alert_id bigserial PRIMARY KEY,
    person_id bigint NOT NULL,
    message_id bigint NOT NULL REFERENCES messaging.message ON DELETE CASCADE,
    subject text,
    body text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    read_at timestamptz
);
CREATE INDEX alert_person_idx ON messaging.alert (person_id, created_at);

-- Channel settings, secrets included: readable by the extension's owner only.
CREATE TABLE messaging.wecom_config (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    corp_id text NOT NULL,
    agent_id integer NOT NULL,
    secret text NOT NULL,
    api_base text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE messaging.smtp_config (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    url text NOT NULL,
    mail_from text NOT NULL,
    username text,
    password text,
    starttls boolean NOT NULL DEFAULT true,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- The roles the extension works with; created here if the cluster lacks them.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'messaging_sender') THEN
        CREATE ROLE messaging_sender NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'messaging_admin') THEN
        CREATE ROLE messaging_admin NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'messaging_app') THEN
        CREATE ROLE messaging_app NOLOGIN;
    END IF;
END
$$;

GRANT USAGE ON SCHEMA messaging TO messaging_sender, messaging_admin, messaging_app;
