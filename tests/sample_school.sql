-- A realistic sample school for the messaging directory: pupils in Years 7 to 13,
-- their contacts with relationships and ranks, staff, and the groups a school
-- office sends to (forms, year groups, subject sets, houses, departments, custom
-- groups). Deterministic: the same scale and seed always give the same school.
--
--   psql -v scale=1 -v seed=1 -f tests/sample_school.sql
--
-- scale (default 1): 1 is 1,000 pupils, 1,801 contacts (default seed) and 100 staff;
-- 100 is 100,000 pupils and about 290,000 people in all. Forms and subject sets
-- multiply with the scale so that classes keep their size.
-- seed (default 1): another seed gives another school of the same shape.
-- quiet: when set, no summary is printed (for use inside tests).
--
-- Load into an empty directory. Person ids show the kind: pupils from 10,000,001,
-- contacts from 20,000,001, staff from 30,000,001. Email addresses are only under
-- example.org (school) and example.com (families). There is no BEGIN / COMMIT here,
-- so the file can run inside a caller's transaction; use psql -1 for one of its own.

\set ON_ERROR_STOP on
\if :{?scale}
\else
\set scale 1
\endif
\if :{?seed}
\else
\set seed 1
\endif

SELECT (:scale)::int BETWEEN 1 AND 1000 AS sample_scale_ok \gset
\if :sample_scale_ok
\else
DO $$ BEGIN RAISE EXCEPTION 'scale must be between 1 and 1000'; END $$;
\endif

-- Names, as lists split at white space. Chinese names come with their pinyin,
-- used for email addresses.
CREATE TEMP TABLE sample_list (list text PRIMARY KEY, names text[]);
INSERT INTO sample_list
SELECT list, regexp_split_to_array(btrim(names, E' \n'), '\s+')
FROM (VALUES
    ('en_female', '
        Olivia Amelia Isla Ava Mia Ivy Lily Isabella Rosie Sophia Grace Freya Poppy Evie
        Emily Charlotte Ella Daisy Alice Florence Sienna Matilda Evelyn Harper Phoebe Ruby
        Willow Scarlett Chloe Lucy Hannah Jessica Sarah Emma Rachel Laura Helen Claire Karen
        Joanne Anne Mary Margaret Susan Elizabeth Catherine Victoria Zoe Niamh Aoife
        Mary-Jane Anna-Louise'),
    ('en_male', '
        Oliver George Noah Arthur Leo Oscar Harry Archie Jack Henry Charlie Freddie Theodore
        Thomas Jacob Alfie William James Samuel Joshua Isaac Max Lucas Ethan Daniel Benjamin
        Edward Harrison Mohammed Sebastian David John Michael Paul Richard Andrew Mark Peter
        Robert Stephen Christopher Matthew Simon Jonathan Patrick Connor Liam Sean Rhys Owen
        Jean-Luc'),
    ('en_family', '
        Smith Jones Williams Taylor Brown Davies Evans Wilson Thomas Johnson Roberts
        Robinson Thompson Wright Walker White Edwards Hughes Green Hall Lewis Harris Clarke
        Patel Jackson Wood Turner Martin Cooper Hill Ward Morris Moore Clark Lee King Baker
        Harrison Morgan Allen James Scott Phillips Watson Davis Parker Price Bennett Young
        Griffiths Mitchell Kelly Cook Carter Richardson Bailey Collins Bell Shaw Murphy
        Miller Cox Richards Khan Marshall Anderson Simpson Ellis Adams Singh Begum Wilkinson
        Foster Chapman Powell Webb Rogers Gray Mason Ali Hunt Hussain Campbell Matthews Owen
        Palmer O''Brien O''Connor McDonald MacLeod Smith-Jones Fraser-Hughes Ashworth-Clarke
        Lloyd-Evans'),
    ('zh_family', '
        王 李 张 刘 陈 杨 黄 赵 吴 周 徐 孙 马 朱 胡 郭 何 高 林 罗 郑 梁
        谢 宋 唐 许 韩 冯 邓 曹 彭 曾 萧 田 董 潘 袁 蔡 蒋 余 欧阳 司马'),
    ('zh_family_latin', '
        wang li zhang liu chen yang huang zhao wu zhou xu sun ma zhu hu guo he gao lin luo
        zheng liang xie song tang xu han feng deng cao peng zeng xiao tian dong pan yuan cai
        jiang yu ouyang sima'),
    ('zh_female', '
        秀英 丽 芳 娜 敏 静 婷 雪 欣怡 梓涵 诗涵 子涵
        雨桐 可欣 佳怡 思琪 梦瑶 紫萱 晓燕 美玲 慧敏 雅琴
        凤英 淑珍 一诺 若曦 语嫣 心怡 小红 丹 玉兰 海燕
        欣妍 梓萱 佳琪 雨涵'),
    ('zh_female_latin', '
        xiuying li fang na min jing ting xue xinyi zihan shihan zihan yutong kexin jiayi
        siqi mengyao zixuan xiaoyan meiling huimin yaqin fengying shuzhen yinuo ruoxi yuyan
        xinyi xiaohong dan yulan haiyan xinyan zixuan jiaqi yuhan'),
    ('zh_male', '
        伟 强 磊 军 洋 勇 杰 涛 明 超 浩然 宇轩 子轩 俊杰
        博文 天佑 梓豪 皓轩 志强 建国 建华 国强 文博 小明
        嘉豪 家明 振华 海峰 鹏 亮 宇航 思远 一鸣 子墨
        晨阳 俊熙'),
    ('zh_male_latin', '
        wei qiang lei jun yang yong jie tao ming chao haoran yuxuan zixuan junjie bowen
        tianyou zihao haoxuan zhiqiang jianguo jianhua guoqiang wenbo xiaoming jiahao
        jiaming zhenhua haifeng peng liang yuhang siyuan yiming zimo chenyang junxi')
) l(list, names);

-- A deterministic pseudo-random number in 0 .. m-1 for a key and a salt.
SELECT format(
    'CREATE FUNCTION pg_temp.sample_rnd(key bigint, salt int, m int) RETURNS int '
    'LANGUAGE sql IMMUTABLE PARALLEL SAFE AS %L',
    format('SELECT ((hashint8extended($1 * 1000 + $2, %s) %% $3 + $3) %% $3)::int',
           (:seed)::bigint)) \gexec

-- Given and family names, with the latin forms used in addresses.
CREATE TEMP TABLE sample_name AS
SELECT s.chinese, s.sex, u.idx::int, u.given,
       coalesce(u.given_latin, lower(regexp_replace(u.given, '[^A-Za-z]', '', 'g'))) AS given_latin
FROM (VALUES (false, 'F', 'en_female', NULL), (false, 'M', 'en_male', NULL),
             (true, 'F', 'zh_female', 'zh_female_latin'), (true, 'M', 'zh_male', 'zh_male_latin'))
    s(chinese, sex, list, latin)
JOIN sample_list n ON n.list = s.list
LEFT JOIN sample_list l ON l.list = s.latin
CROSS JOIN LATERAL unnest(n.names, l.names) WITH ORDINALITY u(given, given_latin, idx);

CREATE TEMP TABLE sample_family_name AS
SELECT s.chinese, u.idx::int, u.family,
       coalesce(u.family_latin, lower(regexp_replace(u.family, '[^A-Za-z]', '', 'g')))
           AS family_latin
FROM (VALUES (false, 'en_family', NULL), (true, 'zh_family', 'zh_family_latin'))
    s(chinese, list, latin)
JOIN sample_list n ON n.list = s.list
LEFT JOIN sample_list l ON l.list = s.latin
CROSS JOIN LATERAL unnest(n.names, l.names) WITH ORDINALITY u(family, family_latin, idx);

-- Pupils: 150 a year in Years 7 to 11 and 125 in Years 12 and 13, per unit of scale.
CREATE TEMP TABLE sample_pupil AS
SELECT row_number() OVER (ORDER BY y.year, p.pos)::int AS n, y.year, p.pos,
       p.pos % (CASE WHEN y.year + 2 >= 12 THEN 125 ELSE 150 END * (:scale)::int) AS sibling_pos,
       0 AS family
FROM (VALUES (7, 150), (8, 150), (9, 150), (10, 150), (11, 150), (12, 125), (13, 125))
     y(year, size)
CROSS JOIN LATERAL generate_series(0, y.size * (:scale)::int - 1) p(pos);
UPDATE sample_pupil SET family = n;

-- Siblings: about one pupil in six in Years 7 to 11 has an older brother or
-- sister two years up, and so shares that pupil's family and contacts.
DO $$
BEGIN
    FOR y IN REVERSE 11..7 LOOP
        UPDATE sample_pupil p SET family = t.family
        FROM sample_pupil t
        WHERE p.year = y AND pg_temp.sample_rnd(p.n, 1, 100) < 18
          AND t.year = y + 2 AND t.pos = p.sibling_pos;
    END LOOP;
END
$$;

-- Families: Chinese or English names, and who the contacts are (the pattern).
CREATE TEMP TABLE sample_family AS
SELECT family,
       pg_temp.sample_rnd(family, 2, 100) < 55 AS chinese,
       pg_temp.sample_rnd(family, 3, 100) AS pattern,
       CASE WHEN pg_temp.sample_rnd(family, 4, 100) < 12 THEN 1
            WHEN pg_temp.sample_rnd(family, 4, 100) < 20 THEN 2 ELSE 0 END AS grandparents,
       pg_temp.sample_rnd(family, 5, 100) < 5 AS relative
FROM (SELECT DISTINCT family FROM sample_pupil) f;

-- Contacts: rank 1 is the first person to call, as the school records it.
CREATE TEMP TABLE sample_contact AS
WITH pattern(lo, hi, slot, relationship, rank, sex) AS (
    VALUES (0, 49, 1, 'Mother', 1, 'F'), (0, 49, 2, 'Father', 2, 'M'),
           (50, 59, 1, 'Father', 1, 'M'), (50, 59, 2, 'Mother', 2, 'F'),
           (60, 74, 1, 'Mother', 1, 'F'),
           (75, 81, 1, 'Father', 1, 'M'),
           (82, 88, 1, 'Mother', 1, 'F'), (82, 88, 2, 'Stepfather', 2, 'M'),
           (89, 94, 1, 'Guardian', 1, NULL),
           (95, 99, 1, 'Grandparent', 1, 'F'), (95, 99, 2, 'Grandparent', 2, 'M')
), parents AS (
    SELECT f.family, count(*)::int AS n FROM sample_family f
    JOIN pattern p ON f.pattern BETWEEN p.lo AND p.hi GROUP BY f.family
), slot AS (
    SELECT f.family, p.slot, p.relationship, p.rank, p.sex
    FROM sample_family f JOIN pattern p ON f.pattern BETWEEN p.lo AND p.hi
    UNION ALL
    SELECT f.family, 2 + g.k, 'Grandparent', n.n + g.k, CASE g.k WHEN 1 THEN 'M' ELSE 'F' END
    FROM sample_family f JOIN parents n USING (family)
    CROSS JOIN generate_series(1, 2) g(k)
    WHERE f.pattern < 95 AND g.k <= f.grandparents
    UNION ALL
    SELECT f.family, 5, NULL, n.n + f.grandparents + 1, NULL
    FROM sample_family f JOIN parents n USING (family)
    WHERE f.relative
)
SELECT row_number() OVER (ORDER BY s.family, s.slot)::int AS n, s.family, s.slot, s.rank,
       s.relationship, s.sex
FROM slot s;
UPDATE sample_contact SET sex = CASE pg_temp.sample_rnd(n, 6, 2) WHEN 0 THEN 'F' ELSE 'M' END
WHERE sex IS NULL;
UPDATE sample_contact SET relationship = CASE sex WHEN 'F' THEN 'Aunt' ELSE 'Uncle' END
WHERE relationship IS NULL;

-- Staff: three in four teach; the rest keep the school running.
CREATE TEMP TABLE sample_staff AS
SELECT n, CASE
        WHEN (n - 1) % 100 < 12 THEN 'Mathematics'
        WHEN (n - 1) % 100 < 24 THEN 'English'
        WHEN (n - 1) % 100 < 38 THEN 'Science'
        WHEN (n - 1) % 100 < 46 THEN 'Humanities'
        WHEN (n - 1) % 100 < 56 THEN 'Languages'
        WHEN (n - 1) % 100 < 63 THEN 'Arts'
        WHEN (n - 1) % 100 < 69 THEN 'Physical Education'
        WHEN (n - 1) % 100 < 74 THEN 'Computing'
        WHEN (n - 1) % 100 < 78 THEN 'Learning Support'
        WHEN (n - 1) % 100 < 90 THEN 'Administration'
        WHEN (n - 1) % 100 < 95 THEN 'Facilities'
        ELSE 'IT Support' END AS department
FROM generate_series(1, 100 * (:scale)::int) n;

-- Every person with names chosen from the lists, before the directory columns.
CREATE TEMP TABLE sample_person AS
WITH raw AS (
    SELECT 10000000 + p.n AS person_id, 'pupil'::messaging.person_kind AS kind, p.n,
           f.chinese,
           CASE pg_temp.sample_rnd(p.n, 7, 2) WHEN 0 THEN 'F' ELSE 'M' END AS sex,
           -- Children take the family name (in a Chinese family, the father's).
           pg_temp.sample_rnd(f.family, 8, 1000) AS family_pick
    FROM sample_pupil p JOIN sample_family f USING (family)
    UNION ALL
    SELECT 20000000 + c.n, 'contact', c.n, f.chinese, c.sex,
           CASE WHEN c.relationship = 'Father' OR (c.relationship IN ('Grandparent', 'Uncle')
                                                   AND c.sex = 'M')
                     OR (NOT f.chinese AND c.relationship = 'Mother'
                         AND pg_temp.sample_rnd(c.n, 9, 100) < 85)
                THEN pg_temp.sample_rnd(f.family, 8, 1000)
                ELSE pg_temp.sample_rnd(c.n, 10, 1000) END
    FROM sample_contact c JOIN sample_family f USING (family)
    UNION ALL
    SELECT 30000000 + s.n, 'staff', s.n, pg_temp.sample_rnd(s.n, 11, 100) < 40,
           CASE pg_temp.sample_rnd(s.n, 12, 2) WHEN 0 THEN 'F' ELSE 'M' END,
           pg_temp.sample_rnd(s.n, 13, 1000)
    FROM sample_staff s
), counts AS (
    SELECT chinese, sex, count(*)::int AS given_count FROM sample_name GROUP BY chinese, sex
), family_counts AS (
    SELECT chinese, count(*)::int AS family_count FROM sample_family_name GROUP BY chinese
)
SELECT r.person_id, r.kind, r.n, r.chinese, g.given, g.given_latin, fn.family, fn.family_latin
FROM raw r
JOIN counts c USING (chinese, sex)
JOIN family_counts fc USING (chinese)
JOIN sample_name g ON g.chinese = r.chinese AND g.sex = r.sex
    AND g.idx = 1 + pg_temp.sample_rnd(r.person_id, 14, c.given_count)
JOIN sample_family_name fn ON fn.chinese = r.chinese
    AND fn.idx = 1 + r.family_pick % fc.family_count;

-- The directory: some people not registered for WeChat, some without email
-- (a few recorded as blank), a few accounts disabled.
INSERT INTO messaging.person
    (person_id, kind, display_name, given_name, family_name, email, wechat_userid, disabled)
SELECT p.person_id, p.kind,
       CASE WHEN p.chinese THEN p.family || p.given ELSE p.given || ' ' || p.family END,
       p.given, p.family,
       CASE WHEN p.kind = 'pupil' AND pg_temp.sample_rnd(p.person_id, 20, 100) < 4 THEN NULL
            WHEN p.kind = 'pupil' AND pg_temp.sample_rnd(p.person_id, 20, 100) < 5 THEN ''
            WHEN p.kind = 'pupil'
                THEN p.given_latin || '.' || p.family_latin || p.n || '@pupils.example.org'
            WHEN p.kind = 'contact' AND pg_temp.sample_rnd(p.person_id, 20, 100) < 10 THEN NULL
            WHEN p.kind = 'contact' AND pg_temp.sample_rnd(p.person_id, 20, 100) < 12 THEN ' '
            WHEN p.kind = 'contact'
                THEN p.given_latin || '.' || p.family_latin || (p.n % 1000) || '@example.com'
            ELSE p.given_latin || '.' || p.family_latin || p.n || '@staff.example.org' END,
       CASE WHEN pg_temp.sample_rnd(p.person_id, 21, 100)
                 < CASE p.kind WHEN 'pupil' THEN 10 WHEN 'contact' THEN 15 ELSE 3 END
            THEN NULL
            ELSE left(p.kind::text, 1) || p.person_id END,
       pg_temp.sample_rnd(p.person_id, 22, 1000)
           < CASE p.kind WHEN 'pupil' THEN 5 WHEN 'contact' THEN 10 ELSE 30 END
FROM sample_person p
ORDER BY p.person_id;

INSERT INTO messaging.relationship (pupil_id, contact_id, relationship, rank)
SELECT 10000000 + p.n, 20000000 + c.n, c.relationship, c.rank
FROM sample_pupil p JOIN sample_contact c USING (family)
ORDER BY 1, 2;

-- Group memberships, from which the groups themselves follow.
CREATE TEMP TABLE sample_member AS
-- Year groups and forms ("7A" .. "13D"; more letters at a larger scale).
SELECT 'pupil'::messaging.person_kind AS kind, 'Year' AS group_type, 'Year ' || year AS name,
       10000000 + n AS person_id
FROM sample_pupil
UNION ALL
SELECT 'pupil', 'Form',
       year || chr(65 + (pos % (4 * (:scale)::int)) % 26)
           || CASE WHEN pos % (4 * (:scale)::int) >= 26
                   THEN ((pos % (4 * (:scale)::int)) / 26 + 1)::text ELSE '' END,
       10000000 + n
FROM sample_pupil
UNION ALL
-- Sets in the core subjects up to Year 11.
SELECT 'pupil', 'Subject Set',
       p.year || ' ' || s.subject || ' Set '
           || (1 + pg_temp.sample_rnd(p.n, 30 + s.i, 4 * (:scale)::int)),
       10000000 + p.n
FROM sample_pupil p
CROSS JOIN (VALUES (1, 'Maths'), (2, 'English'), (3, 'Science'), (4, 'Chinese')) s(i, subject)
WHERE p.year <= 11
UNION ALL
-- Three A-level subjects each in Years 12 and 13.
SELECT 'pupil', 'Subject Set',
       year || ' ' || subject
           || CASE WHEN (:scale)::int > 1
                   THEN ' Set ' || (1 + pg_temp.sample_rnd(n, 40 + i, (:scale)::int)) ELSE '' END,
       10000000 + n
FROM (
    SELECT p.n, p.year, s.i, s.subject,
           row_number() OVER (PARTITION BY p.n
                              ORDER BY pg_temp.sample_rnd(p.n, 50 + s.i, 1000000), s.i)
               AS choice
    FROM sample_pupil p
    CROSS JOIN (VALUES (1, 'Maths'), (2, 'Further Maths'), (3, 'Physics'), (4, 'Chemistry'),
                       (5, 'Biology'), (6, 'Economics'), (7, 'History'),
                       (8, 'English Literature'), (9, 'Art'), (10, 'Computer Science'))
        s(i, subject)
    WHERE p.year >= 12
) a
WHERE choice <= 3
UNION ALL
-- Houses: brothers and sisters share one.
SELECT 'pupil', 'House',
       (ARRAY['Kingfisher', 'Heron', 'Falcon', 'Osprey'])[1 + pg_temp.sample_rnd(family, 60, 4)],
       10000000 + n
FROM sample_pupil
UNION ALL
SELECT 'pupil', 'Pupil Custom Group', g.name, 10000000 + p.n
FROM sample_pupil p
JOIN (VALUES (1, 'Year 9 Paris Trip', 9, 9, 25), (2, 'Choir', 7, 13, 6),
             (3, 'Football Team', 7, 11, 4), (4, 'Chess Club', 7, 13, 3),
             (5, 'Duke of Edinburgh Bronze', 10, 10, 20), (6, 'Learning Support', 7, 13, 5))
    g(i, name, first_year, last_year, percent)
    ON p.year BETWEEN g.first_year AND g.last_year
   AND pg_temp.sample_rnd(p.n, 70 + g.i, 100) < g.percent
UNION ALL
SELECT 'contact', 'Contact Custom Group', g.name, 20000000 + c.n
FROM sample_contact c
JOIN (VALUES (1, 'PTA Committee', 1), (2, 'Parent Volunteers', 4)) g(i, name, percent)
    ON pg_temp.sample_rnd(c.n, 80 + g.i, 100) < g.percent
UNION ALL
SELECT 'staff', 'Department', department, 30000000 + n
FROM sample_staff
UNION ALL
SELECT 'staff', 'Staff Custom Group', g.name, 30000000 + s.n
FROM sample_staff s
JOIN (VALUES ('Senior Leadership Team'), ('Form Tutors'), ('Year 9 Paris Trip Staff'),
             ('Safeguarding Team'), ('Exam Invigilators')) g(name)
    ON CASE g.name
        WHEN 'Senior Leadership Team' THEN (s.n - 1) % 100 IN (0, 12, 24, 38, 46, 78)
        WHEN 'Form Tutors' THEN (s.n - 1) % 100 < 28
        WHEN 'Year 9 Paris Trip Staff' THEN (s.n - 1) % 100 IN (1, 47, 57, 64)
        WHEN 'Safeguarding Team' THEN (s.n - 1) % 100 IN (0, 2, 75, 79)
        ELSE s.department = 'Administration' AND pg_temp.sample_rnd(s.n, 90, 100) < 50 END;

INSERT INTO messaging.person_group (group_id, kind, group_type, name)
SELECT row_number() OVER (ORDER BY kind, group_type COLLATE "C", name COLLATE "C"),
       kind, group_type, name
FROM (SELECT DISTINCT kind, group_type, name FROM sample_member) g;

INSERT INTO messaging.group_member (group_id, person_id)
SELECT g.group_id, m.person_id
FROM sample_member m
JOIN messaging.person_group g USING (kind, group_type, name)
ORDER BY 1, 2;

DROP TABLE sample_member, sample_person, sample_staff, sample_contact, sample_family,
    sample_pupil, sample_family_name, sample_name, sample_list;
DROP FUNCTION pg_temp.sample_rnd(bigint, int, int);

ANALYZE messaging.person;
ANALYZE messaging.person_group;
ANALYZE messaging.group_member;
ANALYZE messaging.relationship;

\if :{?quiet}
\else
SELECT kind, count(*) AS people,
       count(*) FILTER (WHERE wechat_userid IS NULL) AS no_wechat,
       count(*) FILTER (WHERE coalesce(btrim(email), '') = '') AS no_email,
       count(*) FILTER (WHERE disabled) AS disabled
FROM messaging.person GROUP BY kind ORDER BY kind;
\endif
