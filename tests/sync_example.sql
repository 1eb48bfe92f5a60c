-- Keeping the messaging directory in step with an MIS, by triggers: a small sample
-- MIS schema (pupils, contacts, staff, forms, and who is whose contact) whose
-- triggers copy every insert, update and delete into messaging.person,
-- messaging.person_group, messaging.group_member and messaging.relationship.
--
-- Run it as a role that may write the messaging tables (the extension's owner):
-- the trigger functions are SECURITY DEFINER, so the MIS application itself needs
-- no rights on schema messaging. There is no BEGIN / COMMIT here, so the file can
-- run inside a caller's transaction.

CREATE SCHEMA mis;

-- One id sequence for pupils, contacts and staff, so that an MIS id is also a
-- directory person id and ids never clash between kinds.
CREATE SEQUENCE mis.person_id_seq;

CREATE TABLE mis.form (
    form_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL UNIQUE,
    year int NOT NULL
);

CREATE TABLE mis.pupil (
    pupil_id bigint PRIMARY KEY DEFAULT nextval('mis.person_id_seq'),
    forename text NOT NULL,
    surname text NOT NULL,
    chinese_name text,
    form_id bigint REFERENCES mis.form ON DELETE SET NULL,
    email text,
    wecom_userid text,
    on_roll boolean NOT NULL DEFAULT true
);

CREATE TABLE mis.contact (
    contact_id bigint PRIMARY KEY DEFAULT nextval('mis.person_id_seq'),
    forename text NOT NULL,
    surname text NOT NULL,
    chinese_name text,
    email text,
    wecom_userid text
);

CREATE TABLE mis.staff (
    staff_id bigint PRIMARY KEY DEFAULT nextval('mis.person_id_seq'),
    forename text NOT NULL,
    surname text NOT NULL,
    chinese_name text,
    email text,
    wecom_userid text,
    left_on date
);

CREATE TABLE mis.pupil_contact (
    pupil_id bigint NOT NULL REFERENCES mis.pupil ON DELETE CASCADE,
    contact_id bigint NOT NULL REFERENCES mis.contact ON DELETE CASCADE,
    relationship text NOT NULL,
    priority smallint NOT NULL DEFAULT 1,
    PRIMARY KEY (pupil_id, contact_id)
);

-- Inserts or updates one directory person. The display name is the Chinese name
-- when there is one, else forename and surname; blank addresses become NULL.
CREATE FUNCTION mis.upsert_person(
    id bigint, kind messaging.person_kind, forename text, surname text,
    chinese_name text, email text, wecom_userid text, disabled boolean)
RETURNS void
LANGUAGE sql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    INSERT INTO messaging.person AS p
        (person_id, kind, display_name, given_name, family_name, email, wechat_userid, disabled)
    VALUES (id, kind,
            coalesce(nullif(btrim(chinese_name), ''), forename || ' ' || surname),
            forename, surname, nullif(btrim(email), ''), nullif(btrim(wecom_userid), ''),
            disabled)
    ON CONFLICT (person_id) DO UPDATE
        SET display_name = excluded.display_name, given_name = excluded.given_name,
            family_name = excluded.family_name, email = excluded.email,
            wechat_userid = excluded.wechat_userid, disabled = excluded.disabled
$$;
-- Only the triggers below (running as this function's owner) may write through it.
REVOKE EXECUTE ON FUNCTION mis.upsert_person(bigint, messaging.person_kind, text, text, text,
                                             text, text, boolean) FROM PUBLIC;

-- Forms become pupil groups of type 'Form', with the form's id as group id.
CREATE FUNCTION mis.sync_form() RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        DELETE FROM messaging.person_group WHERE group_id = OLD.form_id;
        RETURN OLD;
    END IF;
    INSERT INTO messaging.person_group (group_id, kind, group_type, name)
    VALUES (NEW.form_id, 'pupil', 'Form', NEW.name)
    ON CONFLICT (group_id) DO UPDATE SET name = excluded.name;
    RETURN NEW;
END
$$;

-- A pupil is a person, disabled once off roll, and a member of their form.
CREATE FUNCTION mis.sync_pupil() RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        -- Form membership and relationships go with the person.
        DELETE FROM messaging.person WHERE person_id = OLD.pupil_id;
        RETURN OLD;
    END IF;
    PERFORM mis.upsert_person(NEW.pupil_id, 'pupil', NEW.forename, NEW.surname,
                              NEW.chinese_name, NEW.email, NEW.wecom_userid, NOT NEW.on_roll);

    IF TG_OP = 'UPDATE' AND OLD.form_id IS DISTINCT FROM NEW.form_id THEN
        DELETE FROM messaging.group_member
        WHERE group_id = OLD.form_id AND person_id = OLD.pupil_id;
    END IF;
    IF NEW.form_id IS NOT NULL THEN
        INSERT INTO messaging.group_member (group_id, person_id)
        VALUES (NEW.form_id, NEW.pupil_id)
        ON CONFLICT DO NOTHING;
    END IF;
    RETURN NEW;
END
$$;

-- A contact is a person; their links to pupils come from mis.pupil_contact.
CREATE FUNCTION mis.sync_contact() RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        DELETE FROM messaging.person WHERE person_id = OLD.contact_id;
        RETURN OLD;
    END IF;
    PERFORM mis.upsert_person(NEW.contact_id, 'contact', NEW.forename, NEW.surname,
                              NEW.chinese_name, NEW.email, NEW.wecom_userid, false);
    RETURN NEW;
END
$$;

-- A member of staff is a person, disabled from the day they leave.
CREATE FUNCTION mis.sync_staff() RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        DELETE FROM messaging.person WHERE person_id = OLD.staff_id;
        RETURN OLD;
    END IF;
    PERFORM mis.upsert_person(NEW.staff_id, 'staff', NEW.forename, NEW.surname,
                              NEW.chinese_name, NEW.email, NEW.wecom_userid,
                              coalesce(NEW.left_on <= current_date, false));
    RETURN NEW;
END
$$;

-- Who is whose contact, with the MIS priority as the relationship's rank.
CREATE FUNCTION mis.sync_pupil_contact() RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        DELETE FROM messaging.relationship
        WHERE pupil_id = OLD.pupil_id AND contact_id = OLD.contact_id;
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    INSERT INTO messaging.relationship (pupil_id, contact_id, relationship, rank)
    VALUES (NEW.pupil_id, NEW.contact_id, NEW.relationship, NEW.priority);
    RETURN NEW;
END
$$;

CREATE TRIGGER sync_directory AFTER INSERT OR UPDATE OR DELETE ON mis.form
    FOR EACH ROW EXECUTE FUNCTION mis.sync_form();
CREATE TRIGGER sync_directory AFTER INSERT OR UPDATE OR DELETE ON mis.pupil
    FOR EACH ROW EXECUTE FUNCTION mis.sync_pupil();
CREATE TRIGGER sync_directory AFTER INSERT OR UPDATE OR DELETE ON mis.contact
    FOR EACH ROW EXECUTE FUNCTION mis.sync_contact();
CREATE TRIGGER sync_directory AFTER INSERT OR UPDATE OR DELETE ON mis.staff
    FOR EACH ROW EXECUTE FUNCTION mis.sync_staff();
CREATE TRIGGER sync_directory AFTER INSERT OR UPDATE OR DELETE ON mis.pupil_contact
    FOR EACH ROW EXECUTE FUNCTION mis.sync_pupil_contact();
