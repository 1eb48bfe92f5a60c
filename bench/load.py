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


if __name__ == "__main__":
    main()
