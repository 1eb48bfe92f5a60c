#!/usr/bin/python3
"""Search: search_by_name on the 100-times school, over 200 varied queries.

The queries are what an office types: full names, prefixes of both names in
either order, a family or a given name alone, Chinese names whole or in part,
odd case and spacing, and names that match no one. Each is built from a person
of the directory (picked by a hash of the id, so every run asks the same), and
each answer must contain that person. Every query runs PASSES times (five in
bench/run.sh); its time is the median of its runs, and the figures are the
median and 99th percentile over the 200 queries, all rows fetched by the client.

The baseline is the same search written as plain SQL without the word index (a
regular expression per word over every name, row by row). It runs once for 20
of the queries (two of each sort), and its answers must equal the product's
exactly.

    search.py DBNAME PASSES
"""

import random
import re
import sys

import benchlib as b

QUERIES = 200
HAN = re.compile(r"[\u3400-\u9fff]")
TARGET_MS = 10.0



def reference_sql(text):
    """The search as plain SQL: each word starts a word of the names (split at white
    space and hyphens), or for a word with Han characters, occurs anywhere in them."""
    conditions, values = [], []
    for word in (w for w in re.split(r"[\s-]+", text.lower()) if w):
        if HAN.search(word):
            conditions.append("strpos(n.names, %s) > 0")
            values.append(word)
        else:
            conditions.append("n.names ~ %s")
            values.append("(^|[[:space:]-])" + re.sub(r"(\W)", r"\\\1", word))
    sql = ("SELECT p.person_id FROM messaging.person p "
           "CROSS JOIN LATERAL (SELECT lower(concat_ws(' ', p.display_name, p.given_name, "
           "p.family_name)) AS names) n "
           "WHERE p.kind = %s::messaging.person_kind AND " + " AND ".join(conditions or ["true"])
           + " ORDER BY p.person_id")
    return sql, values


def people(conn):
    """A fixed, varied sample of the directory: English and Chinese names, every kind."""
    with conn.cursor() as cur:
        cur.execute("SELECT person_id, kind::text, display_name, given_name, family_name "
                    "FROM messaging.person ORDER BY hashint8(person_id), person_id LIMIT 2000")
        rows = cur.fetchall()
    conn.rollback()
    chinese = [r for r in rows if HAN.search(r[2])]
    english = [r for r in rows if not HAN.search(r[2])]
    if len(chinese) < 100 or len(english) < 100:
        b.fail("the sample school has too few English or Chinese names to search for")
    return chinese, english


def queries(chinese, english):
    """200 queries of ten sorts: (kind, text, person expected in the answer or None)."""
    pick = random.Random(20261204)
    made = []
    for i in range(QUERIES):
        sort = i % 10
        pid, kind, display, given, family = pick.choice(chinese if sort in (4, 5, 6) else english)
        if sort == 0:
            text = f"{given} {family}".lower()
        elif sort == 1:
            text = f"{family[:4]} {given[:3]}".lower()
        elif sort == 2:
            text = family.lower()
        elif sort == 3:
            text = given
        elif sort == 4:
            text = display
        elif sort == 5:
            text = given
        elif sort == 6:
            text = f"{family} {given}"
        elif sort == 7:
            text = f"{given[:2]} {family}"
        elif sort == 8:
            text = f"  {given.upper()}   {family.upper()} "
        else:
            text, pid = f"{given[:3]} zq{i}x", None
        made.append((kind, text, pid))
    return made


def search(conn, kind, text):
    with conn.cursor() as cur:
        cur.execute("SELECT person_id "
                    "FROM messaging.search_by_name(%s::messaging.person_kind, %s)", (kind, text))
        found = [r[0] for r in cur.fetchall()]
    conn.rollback()
    return found


def reference(conn, kind, text):
    with conn.cursor() as cur:
        sql, values = reference_sql(text)
        cur.execute(sql, [kind] + values)
        found = [r[0] for r in cur.fetchall()]
    conn.rollback()
    return found


def main():
    dbname, passes = sys.argv[1], int(sys.argv[2])
    admin = b.connect(dbname)
    office = b.connect(dbname, b.SENDER_ROLE)
    b.require_function(admin, "messaging.search_by_name(messaging.person_kind, text)")
    with admin.cursor() as cur:
        cur.execute("SELECT count(*) FROM messaging.person")
        size = cur.fetchone()[0]
    admin.rollback()
    asked = queries(*people(admin))
    b.log(f"search, {size:,} people: {len(asked)} queries, {passes} passes")

    times = [[] for _ in asked]
    answers = [None] * len(asked)
    for _ in range(passes):
        for i, (kind, text, pid) in enumerate(asked):
            seconds, found = b.timed(lambda: search(office, kind, text))
            times[i].append(seconds)
            if pid is not None and pid not in found:
                b.fail(f"search_by_name({kind}, {text!r}) did not find person {pid}")
            if pid is None and found:
                b.fail(f"search_by_name({kind}, {text!r}) found {len(found)} people,"
                       " expected none")
            answers[i] = found

    per_query = [b.median(t) * 1000 for t in times]
    checked = [i for i in range(len(asked)) if i % 10 == (i // 10) % 10]
    baseline = []
    for i in checked:
        kind, text, _ = asked[i]
        seconds, expected = b.timed(lambda: reference(admin, kind, text))
        baseline.append(seconds * 1000)
        if sorted(answers[i]) != expected:
            b.fail(f"search_by_name({kind}, {text!r}) found {len(answers[i])} people,"
                   f" plain SQL finds {len(expected)}")

    rows = sorted(len(a) for a in answers)
    note = (f"{len(asked)} queries x {passes}; answers of {rows[0]} to {rows[-1]} rows"
            f" (median {b.median(rows):g}); baseline: {len(checked)} queries once")
    median_ms = b.median(per_query)
    b.record(f"search_by_name, {size:,} people: median", median_ms, "ms",
             f"< {TARGET_MS:g} ms", passes, baseline=b.median(baseline),
             baseline_name="plain SQL, no index", met=median_ms < TARGET_MS, note=note)
    b.record(f"search_by_name, {size:,} people: p99", b.percentile(per_query, 99), "ms",
             "", passes, baseline=b.percentile(baseline, 99),
             baseline_name="plain SQL, no index", note=note)


if __name__ == "__main__":
    main()
