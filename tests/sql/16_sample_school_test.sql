-- The sample school generator: the same seed always gives the same school, and
-- the school has the shape the demo and the benchmarks rely on.
BEGIN;
\set quiet 1
\set scale 1
\set seed 1
\ir ../sample_school.sql
SELECT plan(20);

SELECT results_eq(
    'SELECT kind::text, count(*)::int FROM messaging.person GROUP BY kind ORDER BY kind',
    $$VALUES ('contact', 1801), ('pupil', 1000), ('staff', 100)$$,
    'scale 1 has 1,000 pupils, their contacts and 100 staff');
SELECT results_eq(
    'SELECT year, count(*)::int FROM (SELECT substring(g.name from 6)::int AS year
         FROM messaging.person_group g JOIN messaging.group_member USING (group_id)
         WHERE g.group_type = ''Year'') y GROUP BY year ORDER BY year',
    $$VALUES (7, 150), (8, 150), (9, 150), (10, 150), (11, 150), (12, 125), (13, 125)$$,
    'every pupil is in one year group from Year 7 to Year 13');
SELECT is(
    (SELECT string_agg(name, ' ' ORDER BY group_id) FROM messaging.person_group
     WHERE group_type = 'Form' AND name LIKE '7%'),
    '7A 7B 7C 7D',
    'Year 7 has forms 7A to 7D');
SELECT is((SELECT count(*)::int FROM messaging.person_group WHERE group_type = 'Form'), 28,
          'there are 28 forms, 7A to 13D');
SELECT is(
    (SELECT count(*)::int FROM messaging.person p
     WHERE p.kind = 'pupil'
       AND (SELECT count(*) FROM messaging.group_member m
            JOIN messaging.person_group g USING (group_id)
            WHERE m.person_id = p.person_id AND g.group_type = 'Form') <> 1),
    0, 'every pupil is in exactly one form');
SELECT results_eq(
    'SELECT kind::text, group_type, count(*)::int FROM messaging.person_group
     GROUP BY kind, group_type ORDER BY kind, group_type COLLATE "C"',
    $$VALUES ('contact', 'Contact Custom Group', 2),
             ('pupil', 'Form', 28), ('pupil', 'House', 4), ('pupil', 'Pupil Custom Group', 6),
             ('pupil', 'Subject Set', 100), ('pupil', 'Year', 7),
             ('staff', 'Department', 12), ('staff', 'Staff Custom Group', 5)$$,
    'the groups are forms, houses, subject sets, year groups, departments and custom groups');
SELECT is(
    (SELECT count(*)::int FROM messaging.group_member m
     JOIN messaging.person_group g USING (group_id)
     JOIN messaging.person p USING (person_id)
     WHERE p.kind <> g.kind),
    0, 'every group member is of the group''s kind');
SELECT is(
    (SELECT count(*)::int FROM messaging.relationship r
     JOIN messaging.person p ON p.person_id = r.pupil_id
     JOIN messaging.person c ON c.person_id = r.contact_id
     WHERE p.kind <> 'pupil' OR c.kind <> 'contact'),
    0, 'every relationship joins a pupil to a contact');
SELECT is(
    (SELECT count(*)::int FROM messaging.person WHERE kind = 'pupil'
     AND person_id NOT IN (SELECT pupil_id FROM messaging.relationship WHERE rank = 1)),
    0, 'every pupil has a rank 1 contact');
SELECT results_eq(
    'SELECT relationship FROM messaging.relationship GROUP BY relationship ORDER BY relationship',
    $$VALUES ('Aunt'), ('Father'), ('Grandparent'), ('Guardian'), ('Mother'), ('Stepfather'),
             ('Uncle')$$,
    'contacts are parents, step-parents, guardians, grandparents, aunts and uncles');
SELECT is(
    (SELECT count(*)::int FROM (SELECT contact_id FROM messaging.relationship
                                GROUP BY contact_id HAVING count(*) > 1) s),
    250, 'brothers and sisters share their contacts');
SELECT is(
    (SELECT count(*)::int FROM messaging.person
     WHERE btrim(email) <> '' AND email !~ '^[a-z0-9.]+@([a-z]+\.)?example\.(org|com)$'),
    0, 'every email address is under example.org or example.com');
SELECT results_eq(
    $$SELECT kind::text, count(*)::int FROM messaging.person
      WHERE display_name ~ '^[\u4e00-\u9fff]{2,4}$' AND display_name = family_name || given_name
      GROUP BY kind ORDER BY kind$$,
    $$VALUES ('contact', 1040), ('pupil', 571), ('staff', 45)$$,
    'Chinese names are family name then given name, without a space');
SELECT is((SELECT display_name FROM messaging.person WHERE person_id = 10000001),
          'Sophia Jackson', 'English names are given name then family name');
SELECT results_eq(
    $$SELECT kind::text,
             count(*) FILTER (WHERE wechat_userid IS NULL)::int,
             count(*) FILTER (WHERE coalesce(btrim(email), '') = '')::int,
             count(*) FILTER (WHERE disabled)::int
      FROM messaging.person GROUP BY kind ORDER BY kind$$,
    $$VALUES ('contact', 244, 213, 21), ('pupil', 101, 33, 3), ('staff', 4, 0, 2)$$,
    'some people are not registered for WeChat, some have no email, a few are disabled');

-- The same seed gives the same school, to the byte.
SELECT is(
    (SELECT md5(string_agg(format('%s|%s|%s|%s|%s|%s|%s|%s', person_id, kind, display_name,
                                  given_name, family_name, nullif(btrim(email), ''),
                                  wechat_userid, disabled),
                           ',' ORDER BY person_id))
     FROM messaging.person),
    'ef3616659a01882b6c125c18d3bf355d', 'seed 1 always gives the same people');
SELECT is(
    (SELECT md5(string_agg(format('%s|%s|%s|%s', pupil_id, contact_id, relationship, rank),
                           ',' ORDER BY pupil_id, contact_id))
     FROM messaging.relationship),
    'f4d02bc649bb4bf685e6cab3c17a5998', 'seed 1 always gives the same relationships');
SELECT is(
    (SELECT md5(string_agg(format('%s|%s', g.name, m.person_id), ','
                           ORDER BY g.group_id, m.person_id))
     FROM messaging.group_member m JOIN messaging.person_group g USING (group_id)),
    '688840d3aaf75eb8958e0a09be002021', 'seed 1 always gives the same groups and members');

-- Another seed and a larger scale: a different school of the same shape.
DELETE FROM messaging.person;
DELETE FROM messaging.person_group;
\set scale 2
\set seed 7
\ir ../sample_school.sql
SELECT results_eq(
    'SELECT kind::text, count(*)::int FROM messaging.person WHERE kind <> ''contact''
     GROUP BY kind ORDER BY kind',
    $$VALUES ('pupil', 2000), ('staff', 200)$$,
    'scale 2 doubles the pupils and the staff');
SELECT is((SELECT count(*)::int FROM messaging.person_group WHERE group_type = 'Form'), 56,
          'scale 2 doubles the forms, so that forms keep their size');

SELECT * FROM finish();
ROLLBACK;
