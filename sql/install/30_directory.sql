-- The directory's integrity rules, its name-search words, and the functions that
-- find recipients.

-- C++ text rules (extension/name_search.cpp). They expect lower-cased text.
CREATE FUNCTION messaging._index_words(text) RETURNS text[]
    AS 'MODULE_PATHNAME', 'mis_index_words'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION messaging._search_words(text) RETURNS text[]
    AS 'MODULE_PATHNAME', 'mis_search_words'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION messaging._natural_sort_key(text) RETURNS text
    AS 'MODULE_PATHNAME', 'mis_natural_sort_key'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- The words a person is found by: of the display, given and family names.
CREATE FUNCTION messaging._person_words(display_name text, given_name text, family_name text)
RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT messaging._index_words(pg_catalog.lower(pg_catalog.concat_ws(' ', $1, $2, $3)))
$$;

-- ---------------------------------------------------------------------------
-- Integrity of the directory
-- ---------------------------------------------------------------------------

-- A kind of person as said in a sentence: "a pupil", "a contact", "staff".
CREATE FUNCTION messaging._kind_phrase(kind messaging.person_kind) RETURNS text
LANGUAGE sql IMMUTABLE
AS $$
    SELECT CASE WHEN $1 = 'staff' THEN 'staff' ELSE 'a ' || $1::text END
$$;

-- Stores an empty or blank email or WeCom user id as NULL: none recorded.
CREATE FUNCTION messaging._person_blank_to_null() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NEW.email !~ '\S' THEN
        NEW.email := NULL;
    END IF;
    IF NEW.wechat_userid !~ '\S' THEN
        NEW.wechat_userid := NULL;
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER person_blank_to_null
    BEFORE INSERT OR UPDATE OF email, wechat_userid ON messaging.person
    FOR EACH ROW EXECUTE FUNCTION messaging._person_blank_to_null();

-- Rejects group members (in transition table new_members) of another kind than
-- their group.
CREATE FUNCTION messaging._check_new_members() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    bad record;
BEGIN
    SELECT n.person_id, p.kind AS person_kind, n.group_id, g.kind AS group_kind
    INTO bad
    FROM new_members n
    JOIN messaging.person p ON p.person_id = n.person_id
    JOIN messaging.person_group g ON g.group_id = n.group_id
    WHERE p.kind <> g.kind
    LIMIT 1;

    IF FOUND THEN
        RAISE EXCEPTION 'person % is %, but group % is a % group',
                bad.person_id, messaging._kind_phrase(bad.person_kind), bad.group_id,
                bad.group_kind
            USING ERRCODE = 'check_violation',
                  DETAIL = 'A group''s members are all of the group''s kind.';
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER group_member_kind_on_insert
    AFTER INSERT ON messaging.group_member
    REFERENCING NEW TABLE AS new_members
    FOR EACH STATEMENT EXECUTE FUNCTION messaging._check_new_members();
CREATE TRIGGER group_member_kind_on_update
    AFTER UPDATE ON messaging.group_member
    REFERENCING NEW TABLE AS new_members
    FOR EACH STATEMENT EXECUTE FUNCTION messaging._check_new_members();

-- Rejects relationships (in transition table new_relationships) that do not join
-- a pupil to a contact.
CREATE FUNCTION messaging._check_new_relationships() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    bad record;
BEGIN
    SELECT n.pupil_id, pupil.kind AS pupil_kind, n.contact_id, contact.kind AS contact_kind
    INTO bad
    FROM new_relationships n
    JOIN messaging.person pupil ON pupil.person_id = n.pupil_id
    JOIN messaging.person contact ON contact.person_id = n.contact_id
    WHERE pupil.kind <> 'pupil' OR contact.kind <> 'contact'
    LIMIT 1;

    IF FOUND THEN
        RAISE EXCEPTION 'a relationship must join a pupil to a contact, not % % to % %',
                bad.pupil_kind, bad.pupil_id, bad.contact_kind, bad.contact_id
            USING ERRCODE = 'check_violation',
                  DETAIL = 'pupil_id must name a pupil and contact_id a contact.';
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER relationship_kinds_on_insert
    AFTER INSERT ON messaging.relationship
    REFERENCING NEW TABLE AS new_relationships
    FOR EACH STATEMENT EXECUTE FUNCTION messaging._check_new_relationships();
CREATE TRIGGER relationship_kinds_on_update
    AFTER UPDATE ON messaging.relationship
    REFERENCING NEW TABLE AS new_relationships
    FOR EACH STATEMENT EXECUTE FUNCTION messaging._check_new_relationships();

-- Rejects a change of a person's kind that would break a group or a relationship.
CREATE FUNCTION messaging._check_person_kind() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    bad record;
BEGIN
    -- People whose kind changed: an EXCEPT hashes the two transition tables,
    -- where a join of them (no statistics, no index) would compare every pair.
    WITH changed AS (
        SELECT person_id, kind FROM new_people
        EXCEPT
        SELECT person_id, kind FROM old_people
    )
    SELECT c.person_id, c.kind AS person_kind, g.group_id, g.kind AS group_kind
    INTO bad
    FROM changed c
    JOIN messaging.group_member m ON m.person_id = c.person_id
    JOIN messaging.person_group g ON g.group_id = m.group_id
    WHERE g.kind <> c.kind
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'person % cannot become %: they are a member of % group %',
                bad.person_id, messaging._kind_phrase(bad.person_kind), bad.group_kind,
                bad.group_id
            USING ERRCODE = 'check_violation',
                  HINT = 'Remove them from the group first.';
    END IF;

    WITH changed AS (
        SELECT person_id, kind FROM new_people
        EXCEPT
        SELECT person_id, kind FROM old_people
    )
    SELECT c.person_id, c.kind AS person_kind
    INTO bad
    FROM changed c
    WHERE (c.kind <> 'pupil'
           AND EXISTS (SELECT FROM messaging.relationship r WHERE r.pupil_id = c.person_id))
       OR (c.kind <> 'contact'
           AND EXISTS (SELECT FROM messaging.relationship r WHERE r.contact_id = c.person_id))
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'person % cannot become %: they have relationships',
                bad.person_id, messaging._kind_phrase(bad.person_kind)
            USING ERRCODE = 'check_violation',
                  DETAIL = 'A relationship joins a pupil to a contact.',
                  HINT = 'Remove their relationships first.';
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER person_kind_change
    AFTER UPDATE ON messaging.person
    REFERENCING OLD TABLE AS old_people NEW TABLE AS new_people
    FOR EACH STATEMENT EXECUTE FUNCTION messaging._check_person_kind();

-- Rejects a change of a group's kind while it has members of the old kind.
CREATE FUNCTION messaging._check_group_kind() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    bad record;
BEGIN
    SELECT n.group_id, n.kind AS group_kind, p.person_id, p.kind AS person_kind
    INTO bad
    FROM new_groups n
    JOIN messaging.group_member m ON m.group_id = n.group_id
    JOIN messaging.person p ON p.person_id = m.person_id
    WHERE p.kind <> n.kind
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'group % cannot become a % group: its member % is %',
                bad.group_id, bad.group_kind, bad.person_id,
                messaging._kind_phrase(bad.person_kind)
            USING ERRCODE = 'check_violation',
                  HINT = 'Remove the members of the other kind first.';
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER person_group_kind_change
    AFTER UPDATE ON messaging.person_group
    REFERENCING NEW TABLE AS new_groups
    FOR EACH STATEMENT EXECUTE FUNCTION messaging._check_group_kind();

-- ---------------------------------------------------------------------------
-- Name search words
-- ---------------------------------------------------------------------------

-- Every word a person is found by (see messaging._person_words), kept by the
-- triggers below. Prefix search runs on the (kind, word) index: in the "C"
-- collation, the words starting with w are those from w up to w || U+10FFFF.
CREATE TABLE messaging.person_word (
    person_id bigint NOT NULL,
    word text COLLATE "C" NOT NULL,
    kind messaging.person_kind NOT NULL,
    PRIMARY KEY (person_id, word)
);
CREATE INDEX person_word_search_idx ON messaging.person_word (kind, word) INCLUDE (person_id);

-- Adds the words of new people (transition table new_people).
CREATE FUNCTION messaging._person_words_insert() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    INSERT INTO messaging.person_word (person_id, word, kind)
    SELECT n.person_id, w.word, n.kind
    FROM new_people n,
         unnest(messaging._person_words(n.display_name, n.given_name, n.family_name)) AS w(word);
    RETURN NULL;
END
$$;

-- Replaces the words of people whose names or kind changed.
CREATE FUNCTION messaging._person_words_update() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    WITH gone AS (
        SELECT person_id, kind, display_name, given_name, family_name FROM old_people
        EXCEPT
        SELECT person_id, kind, display_name, given_name, family_name FROM new_people
    )
    DELETE FROM messaging.person_word w USING gone WHERE w.person_id = gone.person_id;

    INSERT INTO messaging.person_word (person_id, word, kind)
    SELECT c.person_id, w.word, c.kind
    FROM (SELECT person_id, kind, display_name, given_name, family_name FROM new_people
          EXCEPT
          SELECT person_id, kind, display_name, given_name, family_name FROM old_people) c,
         unnest(messaging._person_words(c.display_name, c.given_name, c.family_name)) AS w(word)
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$;

-- Removes the words of deleted people (transition table old_people).
CREATE FUNCTION messaging._person_words_delete() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    DELETE FROM messaging.person_word w USING old_people o WHERE w.person_id = o.person_id;
    RETURN NULL;
END
$$;

-- Empties the words when the directory is truncated.
CREATE FUNCTION messaging._person_words_truncate() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    TRUNCATE messaging.person_word;
    RETURN NULL;
END
$$;

CREATE TRIGGER person_words_insert
    AFTER INSERT ON messaging.person
    REFERENCING NEW TABLE AS new_people
    FOR EACH STATEMENT EXECUTE FUNCTION messaging._person_words_insert();
CREATE TRIGGER person_words_update
    AFTER UPDATE ON messaging.person
    REFERENCING OLD TABLE AS old_people NEW TABLE AS new_people
    FOR EACH STATEMENT EXECUTE FUNCTION messaging._person_words_update();
CREATE TRIGGER person_words_delete
    AFTER DELETE ON messaging.person
    REFERENCING OLD TABLE AS old_people
    FOR EACH STATEMENT EXECUTE FUNCTION messaging._person_words_delete();
CREATE TRIGGER person_words_truncate
    AFTER TRUNCATE ON messaging.person
    FOR EACH STATEMENT EXECUTE FUNCTION messaging._person_words_truncate();

-- The directory is the MIS's data: pg_dump keeps it (the search words are
-- rebuilt by the triggers when it is restored).
SELECT pg_catalog.pg_extension_config_dump('messaging.person', '');
SELECT pg_catalog.pg_extension_config_dump('messaging.person_group', '');
SELECT pg_catalog.pg_extension_config_dump('messaging.group_member', '');
SELECT pg_catalog.pg_extension_config_dump('messaging.relationship', '');

-- ---------------------------------------------------------------------------
-- Shared rules of the recipient functions
-- ---------------------------------------------------------------------------

-- Each person as a recipient: which channels reach them and, in words a school
-- office reads, why the others do not. A disabled account blocks every channel.
CREATE VIEW messaging._recipients AS
SELECT p.person_id,
       p.kind,
       p.display_name,
       NOT p.disabled AND coalesce(btrim(p.wechat_userid), '') <> '' AS wechat_ready,
       NOT p.disabled AND coalesce(btrim(p.email), '') <> '' AS email_ready,
       p.disabled,
       CASE
           WHEN p.disabled THEN ARRAY['account disabled']
           ELSE array_remove(ARRAY[
               CASE WHEN coalesce(btrim(p.wechat_userid), '') = ''
                    THEN 'not registered for WeChat' END,
               CASE WHEN coalesce(btrim(p.email), '') = ''
                    THEN 'no email address' END], NULL)
       END AS problems
FROM messaging.person p;

-- The contacts associated with pupils, by relationship (case-insensitive) and
-- rank; a NULL filter lets every value through.
CREATE FUNCTION messaging._associations(pupil_ids bigint[], relationships text[], ranks smallint[])
RETURNS TABLE (pupil_id bigint, contact_id bigint, relationship text, rank smallint)
LANGUAGE sql STABLE
AS $$
    SELECT r.pupil_id, r.contact_id, r.relationship, r.rank
    FROM messaging.relationship r
    WHERE r.pupil_id = ANY ($1)
      AND ($2 IS NULL
           OR pg_catalog.lower(r.relationship) = ANY (
               SELECT pg_catalog.lower(x) FROM pg_catalog.unnest($2) AS x))
      AND ($3 IS NULL OR r.rank = ANY ($3))
$$;

-- Raises 22023 when a required argument is NULL.
CREATE FUNCTION messaging._require(value anyelement, name text) RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF value IS NULL THEN
        RAISE EXCEPTION '% must not be null', name USING ERRCODE = 'invalid_parameter_value';
    END IF;
END
$$;

-- Raises 22023 naming the ids that are not people in the directory (the first 20,
-- then how many more), so that a long list of unknown ids makes a short message.
CREATE FUNCTION messaging._require_people(ids bigint[], name text) RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    unknown bigint[];
BEGIN
    IF ids IS NULL THEN
        RAISE EXCEPTION '% must not be null', name USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF EXISTS (SELECT FROM unnest(ids) AS u(id) WHERE u.id IS NULL) THEN
        RAISE EXCEPTION '% must not contain null', name USING ERRCODE = 'invalid_parameter_value';
    END IF;

    SELECT array_agg(DISTINCT u.id ORDER BY u.id) INTO unknown
    FROM unnest(ids) AS u(id)
    WHERE NOT EXISTS (SELECT FROM messaging.person p WHERE p.person_id = u.id);
    IF unknown IS NOT NULL THEN
        RAISE EXCEPTION 'unknown person %: %',
                CASE WHEN cardinality(unknown) = 1 THEN 'id' ELSE 'ids' END,
                array_to_string(unknown[1:20], ', ')
                    || CASE WHEN cardinality(unknown) > 20
                            THEN format(' and %s more', cardinality(unknown) - 20) ELSE '' END
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('Every id in %s must be a person in the directory.', name);
    END IF;
END
$$;

REVOKE EXECUTE ON FUNCTION messaging._associations(bigint[], text[], smallint[]),
    messaging._require(anyelement, text), messaging._require_people(bigint[], text)
    FROM PUBLIC;

-- ---------------------------------------------------------------------------
-- Finding recipients
-- ---------------------------------------------------------------------------

-- The group types that exist for a kind of person, sorted.
CREATE FUNCTION messaging.group_types(kind messaging.person_kind)
RETURNS SETOF text
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, messaging, pg_temp
AS $$
BEGIN
    PERFORM messaging._sender();
    PERFORM messaging._require($1, 'kind');

    RETURN QUERY
    SELECT DISTINCT g.group_type FROM messaging.person_group g WHERE g.kind = $1
    ORDER BY 1;
END
$$;

-- The groups of a type, numbers inside names sorted as numbers, with their sizes.
CREATE FUNCTION messaging.groups(kind messaging.person_kind, group_type text)
RETURNS TABLE (group_id bigint, name text, members int)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, messaging, pg_temp
AS $$
#variable_conflict use_column
BEGIN
    PERFORM messaging._sender();
    PERFORM messaging._require($1, 'kind');
    PERFORM messaging._require($2, 'group_type');

    RETURN QUERY
    SELECT g.group_id, g.name,
           (SELECT count(*)::int FROM messaging.group_member m WHERE m.group_id = g.group_id)
    FROM messaging.person_group g
    WHERE g.kind = $1 AND g.group_type = $2
    ORDER BY messaging._natural_sort_key(g.name), g.name, g.group_id;
END
$$;

-- The members of a group, as recipients.
CREATE FUNCTION messaging.search_by_group(group_id bigint)
RETURNS SETOF messaging.recipient
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, messaging, pg_temp
AS $$
#variable_conflict use_column
BEGIN
    PERFORM messaging._sender();
    PERFORM messaging._require($1, 'group_id');
    IF NOT EXISTS (SELECT FROM messaging.person_group g WHERE g.group_id = $1) THEN
        RAISE EXCEPTION 'unknown group id: %', $1
            USING ERRCODE = 'invalid_parameter_value';
    END IF;

    RETURN QUERY
    SELECT r.*
    FROM messaging.group_member m
    JOIN messaging._recipients r ON r.person_id = m.person_id
    WHERE m.group_id = $1
    ORDER BY r.display_name, r.person_id;
END
$$;

-- People of a kind whose names match every word of the search text at the start
-- of one of their name words (anywhere inside, for a word with Han characters).
-- A refused call leaves its statement, and so the name searched for, out of the
-- server log.
CREATE FUNCTION messaging.search_by_name(kind messaging.person_kind, name text DEFAULT '')
RETURNS SETOF messaging.recipient
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, messaging, pg_temp
SET log_min_error_statement = panic
AS $$
#variable_conflict use_column
DECLARE
    words text[];
    search_word text;
    matches int;
    fewest int;
    narrowing text;
BEGIN
    PERFORM messaging._sender();
    PERFORM messaging._require($1, 'kind');
    words := messaging._search_words(lower(coalesce($2, '')));

    IF cardinality(words) = 0 THEN
        RETURN QUERY
        SELECT r.* FROM messaging._recipients r WHERE r.kind = $1
        ORDER BY r.display_name, r.person_id;
        RETURN;
    END IF;

    -- The rarest word finds the candidates, whom the other words then filter.
    -- Counting stops at 1,000 matches, so that a common word costs little.
    FOREACH search_word IN ARRAY words LOOP
        SELECT count(*) INTO matches
        FROM (SELECT FROM messaging.person_word pw
              WHERE pw.kind = $1
                AND pw.word >= search_word AND pw.word < search_word || chr(1114111)
              LIMIT 1000) m;
        IF narrowing IS NULL OR matches < fewest THEN
            narrowing := search_word;
            fewest := matches;
        END IF;
    END LOOP;

    IF fewest < 1000 OR cardinality(words) = 1 THEN
        RETURN QUERY EXECUTE $q$
            SELECT r.*
            FROM (SELECT DISTINCT pw.person_id
                  FROM messaging.person_word pw
                  WHERE pw.kind = $1 AND pw.word >= $2 AND pw.word < $2 || chr(1114111)) c
            JOIN messaging._recipients r ON r.person_id = c.person_id
            WHERE NOT EXISTS (
                SELECT FROM unnest($3) AS w
                WHERE NOT EXISTS (
                    SELECT FROM messaging.person_word x
                    WHERE x.person_id = c.person_id
                      AND x.word >= w AND x.word < w || chr(1114111)))
            ORDER BY r.display_name, r.person_id
        $q$ USING $1, narrowing, array_remove(words, narrowing);
        RETURN;
    END IF;

    -- Every word is common: intersecting the index ranges is cheaper than
    -- checking each candidate.
    RETURN QUERY EXECUTE format($q$
        SELECT r.*
        FROM (%s) c
        JOIN messaging._recipients r ON r.person_id = c.person_id
        ORDER BY r.display_name, r.person_id
    $q$, (SELECT string_agg(format(
              'SELECT pw.person_id FROM messaging.person_word pw WHERE pw.kind = $1'
              ' AND pw.word >= $2[%1$s] AND pw.word < $2[%1$s] || chr(1114111)', i),
              ' INTERSECT ')
          FROM generate_subscripts(words, 1) AS i))
    USING $1, words;
END
$$;

-- The relationships (and ranks) the given pupils have, with how many distinct
-- contacts each would reach.
CREATE FUNCTION messaging.relationship_types(pupil_ids bigint[])
RETURNS TABLE (relationship text, rank smallint, contacts int)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, messaging, pg_temp
AS $$
#variable_conflict use_column
BEGIN
    PERFORM messaging._sender();
    PERFORM messaging._require_people($1, 'pupil_ids');

    RETURN QUERY
    SELECT r.relationship, r.rank, count(DISTINCT r.contact_id)::int
    FROM messaging.relationship r
    WHERE r.pupil_id = ANY ($1)
    GROUP BY r.relationship, r.rank
    ORDER BY r.rank, r.relationship;
END
$$;

-- The contacts associated with pupils, one row per contact and pupil.
CREATE FUNCTION messaging.associates(pupil_ids bigint[], relationships text[] DEFAULT NULL,
                                     ranks smallint[] DEFAULT NULL)
RETURNS TABLE (contact_id bigint, display_name text, pupil_id bigint, pupil_name text,
               relationship text, rank smallint, wechat_ready boolean, email_ready boolean,
               problems text[])
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, messaging, pg_temp
AS $$
#variable_conflict use_column
BEGIN
    PERFORM messaging._sender();
    PERFORM messaging._require_people($1, 'pupil_ids');
    IF EXISTS (SELECT FROM unnest($2) AS u(name) WHERE u.name IS NULL) THEN
        RAISE EXCEPTION 'relationships must not contain null'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF EXISTS (SELECT FROM unnest($3) AS u(rank) WHERE u.rank IS NULL) THEN
        RAISE EXCEPTION 'ranks must not contain null'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;

    RETURN QUERY
    SELECT a.contact_id, c.display_name, a.pupil_id, p.display_name, a.relationship, a.rank,
           c.wechat_ready, c.email_ready, c.problems
    FROM messaging._associations($1, $2, $3) a
    JOIN messaging._recipients c ON c.person_id = a.contact_id
    JOIN messaging.person p ON p.person_id = a.pupil_id
    ORDER BY c.display_name, a.contact_id, p.display_name, a.pupil_id;
END
$$;

REVOKE EXECUTE ON FUNCTION messaging.group_types(messaging.person_kind),
    messaging.groups(messaging.person_kind, text),
    messaging.search_by_group(bigint),
    messaging.search_by_name(messaging.person_kind, text),
    messaging.relationship_types(bigint[]),
    messaging.associates(bigint[], text[], smallint[])
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION messaging.group_types(messaging.person_kind),
    messaging.groups(messaging.person_kind, text),
    messaging.search_by_group(bigint),
    messaging.search_by_name(messaging.person_kind, text),
    messaging.relationship_types(bigint[]),
    messaging.associates(bigint[], text[], smallint[])
    TO messaging_sender, messaging_admin, messaging_app;
