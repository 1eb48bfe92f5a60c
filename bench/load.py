#!/usr/bin/python3
"""Load: the sample school into a new database, with the directory's triggers.

Loads tests/sample_school.sql at the given scale with psql, then checks that
every pupil, contact and staff member arrived and that name search has its words.
The figure is the wall time of one load (a database can be loaded only once);
there is no baseline.

    load.py DBNAME SCALE LABEL
"""

import os
import subprocess
import sys

import benchlib as b

HERE = os.path.dirname(os.path.abspath(__file__))
TARGET_S = 120.0
UPDATE_RUNS = 3
UPDATE_TARGET_RATIO = 3.0


def main():
    dbname, scale, label = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    script = os.path.join(HERE, "..", "tests", "sample_school.sql")
    command = ["psql", "-X", "-q", "-1", "-v", "ON_ERROR_STOP=1", "-v", f"scale={scale}",
               "-v", "quiet=1", "-d", dbname, "-f", script]
    seconds, done = b.timed(lambda: subprocess.run(command, check=False))
    if done.returncode != 0:
        b.fail(f"loading the sample school into {dbname} failed")

    conn = b.connect(dbname)
    with conn.cursor() as cur:
        cur.execute("SELECT count(*) FILTER (WHERE kind = 'pupil'), count(*) "
                    "FROM messaging.person")
        pupils, people = cur.fetchone()
        cur.execute("SELECT to_regclass('messaging.person_word') IS NOT NULL")
        has_words = cur.fetchone()[0]
        words = 0
        if has_words:
            cur.execute("SELECT count(DISTINCT person_id) FROM messaging.person_word")
            words = cur.fetchone()[0]
    conn.rollback()
    if pupils != 1000 * scale:
        b.fail(f"{pupils} pupils loaded, expected {1000 * scale}")
    if has_words and words != people:
        b.fail(f"{words} of {people} people have search words after the load")

    b.record(f"load sample school, {label} ({people:,} people)", seconds, "s",
             f"< {TARGET_S:g} s", 1, met=seconds < TARGET_S,
             note="psql -1 -f tests/sample_school.sql, directory triggers included")

    update_directory(dbname, label, people)


def update_directory(dbname, label, people):
    """A sync that touches every person's WeCom user id, with and without the triggers.

    Each run is rolled back, so the directory stays as loaded. The baseline is the
    same UPDATE with the directory's triggers disabled, in the same run.
    """
    update = ("UPDATE messaging.person SET wechat_userid = coalesce(wechat_userid, '') || 'x'")
    product, baseline = [], []
    conn = b.connect(dbname)
    for _ in range(UPDATE_RUNS):
        for triggers, times in ((True, product), (False, baseline)):
            with conn.cursor() as cur:
                if not triggers:
                    cur.execute("ALTER TABLE messaging.person DISABLE TRIGGER USER")
                seconds, _ = b.timed(lambda: cur.execute(update))
                if cur.rowcount != people:
                    b.fail(f"the directory update touched {cur.rowcount} of {people} people")
            conn.rollback()
            times.append(seconds * 1000)
    conn.close()
    figure, base = b.median(product), b.median(baseline)
    b.record(f"update every person's WeCom id, {label}", figure, "ms",
             f"<= {UPDATE_TARGET_RATIO:g}", UPDATE_RUNS, baseline=base,
             baseline_name="the same UPDATE with the directory triggers disabled",
             met=figure / base <= UPDATE_TARGET_RATIO,
             note="median of runs, each rolled back")


if __name__ == "__main__":
    main()
