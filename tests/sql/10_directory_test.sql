-- The directory's integrity rules and its name-search words.
BEGIN;
SET LOCAL client_min_messages = warning;
SELECT plan(24);
\ir fixtures/school.sql

-- Blank addresses mean none recorded.
SELECT is((SELECT email FROM messaging.person WHERE person_id = 205), NULL,
    'a blank email is stored as none');
SELECT is((SELECT wechat_userid FROM messaging.person WHERE person_id = 202), NULL,
    'an empty WeCom user id is stored as none');
UPDATE messaging.person SET wechat_userid = E' \t' WHERE person_id = 101;
SELECT is((SELECT wechat_userid FROM messaging.person WHERE person_id = 101), NULL,
    'a WeCom user id updated to blank is stored as none');
UPDATE messaging.person SET wechat_userid = 'jsmith' WHERE person_id = 101;

-- A group's members are of the group's kind.
SELECT throws_ok(
    $$INSERT INTO messaging.group_member VALUES (1, 201)$$, '23514',
    'person 201 is a contact, but group 1 is a pupil group',
    'a contact cannot join a pupil group');
SELECT throws_ok(
    $$INSERT INTO messaging.group_member VALUES (7, 303), (7, 101)$$, '23514', NULL,
    'a multi-row insert with one wrong member is rejected');
SELECT is((SELECT count(*)::int FROM messaging.group_member WHERE group_id = 7), 2,
    'the rejected insert added no member');
SELECT throws_ok(
    $$UPDATE messaging.group_member SET person_id = 301 WHERE group_id = 1 AND person_id = 101$$,
    '23514', 'person 301 is staff, but group 1 is a pupil group',
    'a member cannot be changed to a person of another kind');

-- A relationship joins a pupil to a contact.
SELECT throws_ok(
    $$INSERT INTO messaging.relationship VALUES (101, 102, 'Sibling', 1)$$, '23514',
    'a relationship must join a pupil to a contact, not pupil 101 to pupil 102',
    'a relationship cannot join two pupils');
SELECT throws_ok(
    $$INSERT INTO messaging.relationship VALUES (201, 202, 'Spouse', 1)$$, '23514', NULL,
    'a relationship cannot start from a contact');
SELECT throws_ok(
    $$UPDATE messaging.relationship SET contact_id = 301 WHERE contact_id = 202$$, '23514', NULL,
    'a relationship cannot be changed to reach staff');

-- Later changes of kind may not break these rules.
SELECT throws_ok(
    $$UPDATE messaging.person SET kind = 'staff' WHERE person_id = 105$$, '23514',
    'person 105 cannot become staff: they are a member of pupil group 3',
    'a group member cannot change kind');
SELECT throws_ok(
    $$UPDATE messaging.person SET kind = 'staff' WHERE person_id = 205$$, '23514',
    'person 205 cannot become staff: they have relationships',
    'a contact with relationships cannot change kind');
SELECT throws_ok(
    $$UPDATE messaging.person_group SET kind = 'staff' WHERE group_id = 1$$, '23514',
    'group 1 cannot become a staff group: its member 101 is a pupil',
    'a group with members cannot change kind');
SELECT lives_ok(
    $$UPDATE messaging.person_group SET kind = 'staff' WHERE group_id = 6$$,
    'an empty group can change kind');
INSERT INTO messaging.person (person_id, kind, display_name) VALUES (900, 'contact', 'New Person');
SELECT lives_ok(
    $$UPDATE messaging.person SET kind = 'staff' WHERE person_id = 900$$,
    'a person without groups or relationships can change kind');

-- Search words: names split at white space and hyphens, lower-cased; Han words
-- also by every suffix.
SELECT is(
    (SELECT array_agg(word ORDER BY word) FROM messaging.person_word WHERE person_id = 102),
    ARRAY['ann', 'jones', 'smith'],
    'a hyphenated name is found by each part');
SELECT is(
    (SELECT array_agg(word ORDER BY word) FROM messaging.person_word WHERE person_id = 103),
    ARRAY['小明', '明', '王', '王小明'],
    'a Chinese name is found by every suffix');
SELECT is(
    (SELECT array_agg(word ORDER BY word) FROM messaging.person_word WHERE person_id = 900),
    ARRAY['new', 'person'],
    'a person without given or family name is found by the display name');

UPDATE messaging.person SET display_name = 'Johnny Smythe', family_name = 'Smythe'
WHERE person_id = 101;
SELECT is(
    (SELECT array_agg(word ORDER BY word) FROM messaging.person_word WHERE person_id = 101),
    ARRAY['john', 'johnny', 'smythe'],
    'a renamed person is found by the new name only');
SELECT is(
    (SELECT array_agg(DISTINCT kind::text) FROM messaging.person_word WHERE person_id = 900),
    ARRAY['staff'],
    'a change of kind moves the words to the new kind');

UPDATE messaging.person SET email = 'new@example.org' WHERE person_id = 102;
SELECT is(
    (SELECT count(*)::int FROM messaging.person_word WHERE person_id = 102), 3,
    'an update that keeps the names keeps the words');

DELETE FROM messaging.person WHERE person_id = 900;
SELECT is(
    (SELECT count(*)::int FROM messaging.person_word WHERE person_id = 900), 0,
    'a deleted person leaves no words');

SELECT is(
    (SELECT count(*)::int FROM messaging.person_word), (
        SELECT count(*)::int FROM messaging.person p,
            unnest(messaging._person_words(p.display_name, p.given_name, p.family_name))),
    'the words match the directory');

TRUNCATE messaging.person CASCADE;
SELECT is((SELECT count(*)::int FROM messaging.person_word), 0,
    'truncating the directory empties the words');

SELECT * FROM finish();
ROLLBACK;
