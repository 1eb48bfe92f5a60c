-- Finding recipients: group types, groups, search by group and by name,
-- relationships and associates, and who may call them.
BEGIN;
SET LOCAL client_min_messages = warning;
SELECT plan(56);
\ir fixtures/school.sql

-- group_types
SELECT results_eq($$SELECT * FROM messaging.group_types('pupil')$$,
    ARRAY['Form', 'House', 'Year'], 'group_types lists the pupil group types, sorted');
SELECT results_eq($$SELECT * FROM messaging.group_types('staff')$$,
    ARRAY['Department'], 'group_types lists the staff group types');
SELECT results_eq($$SELECT * FROM messaging.group_types('contact')$$,
    ARRAY['Parent Group'], 'group_types lists the contact group types');
SELECT throws_ok($$SELECT * FROM messaging.group_types(NULL)$$, '22023',
    'kind must not be null', 'group_types needs a kind');

-- groups
SELECT results_eq($$SELECT * FROM messaging.groups('pupil', 'Form')$$,
    $$VALUES (2::bigint, 'Form 7A'::text, 1), (3, 'Form 7B', 2), (1, 'Form 10A', 2)$$,
    'groups sorts numbers inside names as numbers, with member counts');
SELECT results_eq($$SELECT * FROM messaging.groups('pupil', 'Year')$$,
    $$VALUES (4::bigint, 'Year 7'::text, 3), (5, 'Year 10', 2)$$,
    'Year 7 comes before Year 10');
SELECT results_eq($$SELECT * FROM messaging.groups('pupil', 'House')$$,
    $$VALUES (6::bigint, 'Red'::text, 0)$$, 'an empty group has no members');
SELECT is_empty($$SELECT * FROM messaging.groups('staff', 'Form')$$,
    'groups is empty for a type the kind does not have');
SELECT throws_ok($$SELECT * FROM messaging.groups('pupil', NULL)$$, '22023',
    'group_type must not be null', 'groups needs a group type');

-- search_by_group and the recipient type
SELECT results_eq($$SELECT * FROM messaging.search_by_group(1)$$,
    $$VALUES (102::bigint, 'pupil'::messaging.person_kind, 'Ann Smith-Jones'::text,
              true, false, false, ARRAY['no email address']),
             (101, 'pupil', 'John Smith', true, true, false, '{}'::text[])$$,
    'search_by_group returns the members by display name, with their problems');
SELECT results_eq($$SELECT * FROM messaging.search_by_group(3)$$,
    $$VALUES (105::bigint, 'pupil'::messaging.person_kind, 'Jo_Ann Pe.ters'::text,
              false, true, false, ARRAY['not registered for WeChat']),
             (104, 'pupil', 'Li Wei', false, false, true, ARRAY['account disabled'])$$,
    'a disabled account reaches no channel and has only that problem');
SELECT results_eq($$SELECT person_id, problems FROM messaging.search_by_group(8)$$,
    $$VALUES (201::bigint, '{}'::text[]), (203, ARRAY['no email address'])$$,
    'search_by_group finds contacts');
SELECT is_empty($$SELECT * FROM messaging.search_by_group(6)$$,
    'an empty group has no recipients');
SELECT throws_ok($$SELECT * FROM messaging.search_by_group(99)$$, '22023',
    'unknown group id: 99', 'an unknown group is an invalid argument');
SELECT throws_ok($$SELECT * FROM messaging.search_by_group(NULL)$$, '22023',
    'group_id must not be null', 'search_by_group needs a group id');

-- search_by_name
SELECT results_eq($$SELECT person_id FROM messaging.search_by_name('pupil', 'smi jo')$$,
    ARRAY[102::bigint, 101], 'every word matches the start of a name word, in any order');
SELECT results_eq($$SELECT person_id FROM messaging.search_by_name('pupil', 'jones')$$,
    ARRAY[102::bigint], 'a part of a hyphenated name matches');
SELECT is_empty($$SELECT * FROM messaging.search_by_name('pupil', 'mit')$$,
    'a word does not match inside a Latin name word');
SELECT results_eq($$SELECT person_id FROM messaging.search_by_name('pupil', 'SMITH John')$$,
    ARRAY[101::bigint], 'search is case-insensitive');
SELECT results_eq($$SELECT person_id FROM messaging.search_by_name('pupil', 'smith-jo')$$,
    ARRAY[102::bigint, 101], 'a hyphen in the search text splits it too');
SELECT is_empty($$SELECT * FROM messaging.search_by_name('pupil', 'john ann')$$,
    'a person must match every word');
SELECT results_eq($$SELECT person_id FROM messaging.search_by_name('pupil', '小明')$$,
    ARRAY[103::bigint], 'a Han word matches inside a Chinese name');
SELECT results_eq($$SELECT person_id FROM messaging.search_by_name('pupil', '王小明')$$,
    ARRAY[103::bigint], 'a whole Chinese name matches');
SELECT results_eq($$SELECT person_id FROM messaging.search_by_name('contact', '王')$$,
    ARRAY[203::bigint], 'a Chinese family name finds only people of the kind');
SELECT is_empty($$SELECT * FROM messaging.search_by_name('pupil', '小红')$$,
    'a Han word that is not in the name does not match');
SELECT results_eq($$SELECT person_id FROM messaging.search_by_name('staff', '张伟')$$,
    ARRAY[303::bigint], 'Chinese staff names are found');
SELECT is_empty($$SELECT * FROM messaging.search_by_name('pupil', '%')$$,
    'a percent sign is not a wildcard');
SELECT is_empty($$SELECT * FROM messaging.search_by_name('pupil', '_o')$$,
    'an underscore is not a wildcard');
SELECT results_eq($$SELECT person_id FROM messaging.search_by_name('pupil', 'jo_')$$,
    ARRAY[105::bigint], 'an underscore matches itself');
SELECT results_eq($$SELECT person_id FROM messaging.search_by_name('pupil', 'pe.')$$,
    ARRAY[105::bigint], 'a full stop matches itself');
SELECT is_empty($$SELECT * FROM messaging.search_by_name('pupil', 'p.')$$,
    'a full stop is not a wildcard');
SELECT results_eq($$SELECT person_id FROM messaging.search_by_name('pupil', 'li')$$,
    ARRAY[104::bigint], 'disabled people are found, too');
SELECT results_eq($$SELECT person_id FROM messaging.search_by_name('pupil')$$,
    ARRAY[102::bigint, 105, 101, 104, 103], 'no name returns every pupil by display name');
SELECT results_eq($$SELECT person_id FROM messaging.search_by_name('pupil', NULL)$$,
    ARRAY[102::bigint, 105, 101, 104, 103], 'a NULL name returns every pupil');
SELECT results_eq($$SELECT person_id FROM messaging.search_by_name('staff', E' \t')$$,
    ARRAY[301::bigint, 302, 303], 'a blank name returns all staff, the disabled included');
SELECT results_eq($$SELECT * FROM messaging.search_by_name('contact', 'smith d')$$,
    $$VALUES (202::bigint, 'contact'::messaging.person_kind, 'David Smith'::text,
              false, true, false, ARRAY['not registered for WeChat'])$$,
    'search_by_name returns recipients');
SELECT results_eq($$SELECT person_id FROM messaging.search_by_name('contact', 'smith')$$,
    ARRAY[202::bigint, 204, 201], 'the family name finds a contact whose display name lacks it');
SELECT throws_ok($$SELECT * FROM messaging.search_by_name(NULL, 'smith')$$, '22023',
    'kind must not be null', 'search_by_name needs a kind');

-- When every search word is common, the matches are intersected instead.
INSERT INTO messaging.person (person_id, kind, display_name)
SELECT 10000 + i, 'pupil', CASE WHEN i % 2 = 0 THEN 'Many Twin' ELSE 'Many Twins' END
FROM generate_series(1, 2100) AS i;
SELECT is((SELECT count(*)::int FROM messaging.search_by_name('pupil', 'twins many')), 1050,
    'two common words find the people who have both');
SELECT results_eq(
    $$SELECT person_id FROM messaging.search_by_name('pupil', 'many twin') LIMIT 3$$,
    ARRAY[10002::bigint, 10004, 10006], 'common words return results by display name, then id');
SELECT is((SELECT count(*)::int FROM messaging.search_by_name('pupil', 'many twins 1')), 0,
    'a rare word among common ones still has to match');
DELETE FROM messaging.person WHERE person_id > 10000;

-- relationship_types
SELECT results_eq($$SELECT * FROM messaging.relationship_types('{101, 102}')$$,
    $$VALUES ('Mother'::text, 1::smallint, 1), ('Father', 2::smallint, 1),
             ('Grandparent', 3::smallint, 1)$$,
    'relationship_types counts distinct contacts: siblings share their mother');
SELECT results_eq($$SELECT * FROM messaging.relationship_types('{101, 103, 104}')$$,
    $$VALUES ('Guardian'::text, 1::smallint, 1), ('Mother', 1::smallint, 2),
             ('Father', 2::smallint, 1), ('Grandparent', 3::smallint, 1)$$,
    'relationship_types sorts by rank, then relationship');
SELECT is_empty($$SELECT * FROM messaging.relationship_types('{105}')$$,
    'a pupil without contacts offers no relationships');
SELECT throws_ok($$SELECT * FROM messaging.relationship_types('{101, 998, 999}')$$, '22023',
    'unknown person ids: 998, 999', 'unknown pupil ids are named');
SELECT throws_ok($$SELECT * FROM messaging.relationship_types(NULL)$$, '22023',
    'pupil_ids must not be null', 'relationship_types needs pupil ids');

-- associates
SELECT results_eq($$SELECT * FROM messaging.associates('{101, 102}')$$,
    $$VALUES
        (202::bigint, 'David Smith'::text, 101::bigint, 'John Smith'::text, 'Father'::text,
         2::smallint, false, true, ARRAY['not registered for WeChat']),
        (204, 'Grandpa Joe', 101, 'John Smith', 'Grandparent', 3::smallint, false, false,
         ARRAY['account disabled']),
        (201, 'Mary Smith', 102, 'Ann Smith-Jones', 'Mother', 1::smallint, true, true,
         '{}'::text[]),
        (201, 'Mary Smith', 101, 'John Smith', 'Mother', 1::smallint, true, true, '{}')$$,
    'associates lists each contact and pupil, by contact name');
SELECT results_eq(
    $$SELECT contact_id, pupil_id FROM messaging.associates('{101, 102, 103}', '{MOTHER}')$$,
    $$VALUES (201::bigint, 102::bigint), (201, 101), (203, 103)$$,
    'relationship names match case-insensitively');
SELECT results_eq(
    $$SELECT contact_id FROM messaging.associates('{101}', ranks => '{2, 3}')$$,
    ARRAY[202::bigint, 204], 'ranks filter the contacts');
SELECT results_eq(
    $$SELECT contact_id FROM messaging.associates('{101}', '{father, mother}', '{1}')$$,
    ARRAY[201::bigint], 'relationship and rank filters both apply');
SELECT throws_ok($$SELECT * FROM messaging.associates('{101, 0}')$$, '22023',
    'unknown person id: 0', 'an unknown pupil id is named');

-- Who may call: members of the three roles; an application names its user.
CREATE ROLE mis_test_nobody;
CREATE ROLE mis_test_office IN ROLE messaging_sender;
CREATE ROLE mis_test_app IN ROLE messaging_app;

SET SESSION AUTHORIZATION mis_test_nobody;
SELECT throws_ok($$SELECT * FROM messaging.search_by_name('pupil', 'smith')$$, '42501', NULL,
    'a role without a messaging role may not search');
SELECT throws_ok($$SELECT * FROM messaging.groups('pupil', 'Form')$$, '42501', NULL,
    'a role without a messaging role may not list groups');

SET SESSION AUTHORIZATION mis_test_office;
SELECT results_eq($$SELECT person_id FROM messaging.search_by_name('pupil', 'smith')$$,
    ARRAY[102::bigint, 101], 'a member of messaging_sender may search');

SET SESSION AUTHORIZATION mis_test_app;
SELECT throws_ok($$SELECT * FROM messaging.group_types('pupil')$$, '22023',
    'messaging.sender is not set', 'an application must name its user');
SET LOCAL messaging.sender = 'office.clerk';
SELECT results_eq($$SELECT * FROM messaging.group_types('staff')$$, ARRAY['Department'],
    'an application that names its user may search');
RESET SESSION AUTHORIZATION;

SELECT * FROM finish();
ROLLBACK;
