-- The README's trigger-based sync example: inserts, updates and deletes in the
-- sample MIS schema flow through to the messaging directory with exact values.
BEGIN;
\ir ../sync_example.sql
SELECT plan(27);

-- Inserts.
INSERT INTO mis.form (name, year) VALUES ('7A', 7) RETURNING form_id AS form_7a \gset
INSERT INTO mis.form (name, year) VALUES ('7B', 7) RETURNING form_id AS form_7b \gset
INSERT INTO mis.pupil (forename, surname, chinese_name, form_id, email, wecom_userid)
VALUES ('Xiaoming', 'Wang', '王小明', :form_7a, '  ', 'wangxm')
RETURNING pupil_id AS pupil \gset
INSERT INTO mis.contact (forename, surname, email, wecom_userid)
VALUES ('Jane', 'Smith-Jones', 'jane@example.com', NULL)
RETURNING contact_id AS contact \gset
INSERT INTO mis.staff (forename, surname, email, wecom_userid)
VALUES ('Ann', 'Lee', 'ann.lee@example.org', 'annlee')
RETURNING staff_id AS staff \gset
INSERT INTO mis.pupil_contact (pupil_id, contact_id, relationship, priority)
VALUES (:pupil, :contact, 'Mother', 1);

SELECT results_eq(
    'SELECT group_id, kind::text, group_type, name FROM messaging.person_group ORDER BY group_id',
    format('VALUES (%s::bigint, ''pupil'', ''Form'', ''7A''), (%s, ''pupil'', ''Form'', ''7B'')',
           :form_7a, :form_7b),
    'a new form becomes a pupil group of type Form with the same id');
SELECT results_eq(
    format('SELECT kind::text, display_name, given_name, family_name, email, wechat_userid, '
           'disabled '
           'FROM messaging.person WHERE person_id = %s', :pupil),
    $$VALUES ('pupil', '王小明', 'Xiaoming', 'Wang', NULL::text, 'wangxm', false)$$,
    'a new pupil is shown by their Chinese name and a blank email becomes NULL');
SELECT results_eq(
    format('SELECT group_id FROM messaging.group_member WHERE person_id = %s', :pupil),
    format('VALUES (%s::bigint)', :form_7a),
    'a new pupil is a member of their form');
SELECT results_eq(
    format('SELECT kind::text, display_name, given_name, family_name, email, wechat_userid, '
           'disabled '
           'FROM messaging.person WHERE person_id = %s', :contact),
    $$VALUES ('contact', 'Jane Smith-Jones', 'Jane', 'Smith-Jones', 'jane@example.com',
              NULL::text, false)$$,
    'a new contact is shown by forename and surname');
SELECT results_eq(
    format('SELECT kind::text, display_name, email, wechat_userid, disabled '
           'FROM messaging.person WHERE person_id = %s', :staff),
    $$VALUES ('staff', 'Ann Lee', 'ann.lee@example.org', 'annlee', false)$$,
    'a new member of staff is a staff person');
SELECT results_eq(
    'SELECT pupil_id, contact_id, relationship, rank FROM messaging.relationship',
    format('VALUES (%s::bigint, %s::bigint, ''Mother'', 1::smallint)', :pupil, :contact),
    'a new pupil contact link becomes a relationship with the priority as rank');
SELECT is((SELECT count(*)::int FROM messaging.person), 3,
          'the directory holds exactly the three people inserted');
SELECT results_eq(
    $$SELECT person_id, display_name FROM messaging.search_by_name('pupil', '小明')$$,
    format('VALUES (%s::bigint, ''王小明'')', :pupil),
    'a synced pupil is found by part of their Chinese name');
SELECT results_eq(
    $$SELECT person_id, display_name FROM messaging.search_by_name('pupil', 'wang')$$,
    format('VALUES (%s::bigint, ''王小明'')', :pupil),
    'a synced pupil is found by their English family name too');

-- Updates.
UPDATE mis.pupil SET email = 'xm.wang@example.org', wecom_userid = NULL, chinese_name = NULL,
                     form_id = :form_7b
WHERE pupil_id = :pupil;
UPDATE mis.contact SET wecom_userid = 'janesj', email = '' WHERE contact_id = :contact;
UPDATE mis.staff SET left_on = current_date WHERE staff_id = :staff;
UPDATE mis.pupil_contact SET relationship = 'Guardian', priority = 2
WHERE pupil_id = :pupil AND contact_id = :contact;
UPDATE mis.form SET name = '7B (Lab 2)' WHERE form_id = :form_7b;

SELECT results_eq(
    format('SELECT display_name, email, wechat_userid, disabled '
           'FROM messaging.person WHERE person_id = %s', :pupil),
    $$VALUES ('Xiaoming Wang', 'xm.wang@example.org', NULL::text, false)$$,
    'a changed pupil is changed in the directory, by forename and surname without a Chinese name');
SELECT results_eq(
    format('SELECT group_id FROM messaging.group_member WHERE person_id = %s', :pupil),
    format('VALUES (%s::bigint)', :form_7b),
    'a pupil who moves form leaves the old form group and joins the new one');
SELECT results_eq(
    format('SELECT email, wechat_userid FROM messaging.person WHERE person_id = %s', :contact),
    $$VALUES (NULL::text, 'janesj')$$,
    'a contact registered for WeChat gets a user id and an emptied email becomes NULL');
SELECT is((SELECT disabled FROM messaging.person WHERE person_id = :staff), true,
          'a member of staff who has left is disabled');
SELECT results_eq(
    'SELECT pupil_id, contact_id, relationship, rank FROM messaging.relationship',
    format('VALUES (%s::bigint, %s::bigint, ''Guardian'', 2::smallint)', :pupil, :contact),
    'a changed link changes the relationship and its rank');
SELECT is((SELECT name FROM messaging.person_group WHERE group_id = :form_7b), '7B (Lab 2)',
          'a renamed form renames its group');

UPDATE mis.pupil SET on_roll = false WHERE pupil_id = :pupil;
SELECT is((SELECT disabled FROM messaging.person WHERE person_id = :pupil), true,
          'a pupil taken off roll is disabled, not removed');
UPDATE mis.pupil SET form_id = NULL WHERE pupil_id = :pupil;
SELECT is((SELECT count(*)::int FROM messaging.group_member), 0,
          'a pupil without a form is in no form group');

-- Deletes.
UPDATE mis.pupil SET form_id = :form_7a WHERE pupil_id = :pupil;
DELETE FROM mis.form WHERE form_id = :form_7a;
SELECT results_eq(
    'SELECT group_id FROM messaging.person_group',
    format('VALUES (%s::bigint)', :form_7b),
    'a deleted form deletes its group');
SELECT is((SELECT count(*)::int FROM messaging.group_member), 0,
          'the members of a deleted form group go with it');

DELETE FROM mis.pupil_contact WHERE pupil_id = :pupil AND contact_id = :contact;
SELECT is((SELECT count(*)::int FROM messaging.relationship), 0,
          'a deleted link deletes the relationship');

INSERT INTO mis.pupil_contact (pupil_id, contact_id, relationship, priority)
VALUES (:pupil, :contact, 'Mother', 1);
DELETE FROM mis.contact WHERE contact_id = :contact;
SELECT is((SELECT count(*)::int FROM messaging.person WHERE person_id = :contact), 0,
          'a deleted contact leaves the directory');
SELECT is((SELECT count(*)::int FROM messaging.relationship), 0,
          'a deleted contact takes their relationships along');

DELETE FROM mis.pupil WHERE pupil_id = :pupil;
DELETE FROM mis.staff WHERE staff_id = :staff;
SELECT is((SELECT count(*)::int FROM messaging.person), 0,
          'deleted pupils and staff leave the directory');
SELECT is((SELECT count(*)::int FROM messaging.person_group), 1,
          'deleting people leaves the remaining form group in place');

-- Who may write the directory through the example.
CREATE ROLE sync_example_app;
GRANT USAGE ON SCHEMA mis TO sync_example_app;
GRANT INSERT, SELECT ON mis.contact TO sync_example_app;
GRANT USAGE ON SEQUENCE mis.person_id_seq TO sync_example_app;
SET LOCAL ROLE sync_example_app;
SELECT lives_ok(
    $$INSERT INTO mis.contact (forename, surname) VALUES ('Li', 'Na')$$,
    'an MIS role without rights on schema messaging still syncs through the triggers');
SELECT throws_ok(
    $$SELECT mis.upsert_person(1, 'staff', 'Eve', 'Intruder', NULL, NULL, NULL, false)$$,
    '42501', 'permission denied for function upsert_person',
    'nobody but the triggers may write the directory through mis.upsert_person');
RESET ROLE;
SELECT is((SELECT kind::text FROM messaging.person WHERE display_name = 'Li Na'), 'contact',
          'the MIS role''s new contact is in the directory');

SELECT * FROM finish();
ROLLBACK;
