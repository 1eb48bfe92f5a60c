#!/usr/bin/python3
"""Turns the rows the benchmarks recorded into a table, a CSV, a Markdown table and
a chart (gnuplot, PNG).

    report.py ROWS.jsonl OUTDIR "NOTE ABOUT THE RUN"
"""

import csv
import json
import os
import shutil
import subprocess
import sys

COLUMNS = ["benchmark", "figure", "unit", "baseline", "baseline_name", "ratio", "target",
           "met", "runs", "note"]


def number(value):
    if value is None:
        return ""
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def verdict(met):
    return {True: "met", False: "MISSED", None: ""}[met]


def rows_from(path):
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as source:
        return [json.loads(line) for line in source if line.strip()]


def table(rows):
    """The rows as text columns: figure, baseline, ratio, target, runs."""
    header = ["benchmark", "figure", "baseline (same run)", "ratio", "target", "runs"]
    body = []
    for r in rows:
        baseline = ""
        if r["baseline"] is not None:
            baseline = f"{number(r['baseline'])} {r['unit']} ({r['baseline_name']})"
        target = f"{r['target']} {verdict(r['met'])}".strip()
        body.append([r["benchmark"], f"{number(r['figure'])} {r['unit']}", baseline,
                     number(r["ratio"]), target, str(r["runs"])])
    return header, body


def print_table(header, body):
    widths = [max(len(row[i]) for row in [header] + body) for i in range(len(header))]
    for row in [header, ["-" * w for w in widths]] + body:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())


def write_markdown(path, header, body, rows, run_note):
    with open(path, "w", encoding="utf-8") as out:
        out.write("| " + " | ".join(header) + " |\n")
        out.write("|" + " --- |" * len(header) + "\n")
        for row in body:
            out.write("| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |\n")
        out.write("\n")
        noted = set()
        for r in rows:
            if r["note"] and r["note"] not in noted:
                noted.add(r["note"])
                out.write(f"- {r['benchmark']}: {r['note']}\n")
        out.write(f"\n{run_note}\n")


def write_csv(path, rows):
    with open(path, "w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(COLUMNS)
        for r in rows:
            writer.writerow(["" if r[c] is None else r[c] for c in COLUMNS])


def write_chart(path, rows, workdir):
    """Product versus baseline for each benchmark that has one, log scale."""
    if not shutil.which("gnuplot"):
        print("gnuplot is missing: no chart (run make deps)", file=sys.stderr)
        return False
    paired = [r for r in rows if r["baseline"] and r["unit"] == "ms"]
    if not paired:
        return False
    values = [v for r in paired for v in (r["figure"], r["baseline"])]
    low, high = min(values) / 3, max(values) * 3
    data = os.path.join(workdir, "chart.dat")
    with open(data, "w", encoding="utf-8") as out:
        for r in paired:
            label = r["benchmark"].replace('"', "'")
            out.write(f'"{label}" {r["figure"]} {r["baseline"]} "{r["unit"]}"\n')
    script = f"""
set terminal pngcairo size 1200,640 font "sans,9" noenhanced
set output "{path}"
set bmargin 17
set lmargin 16
set rmargin 4
set title "mis_messaging: product versus baseline measured in the same run (lower is better)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set logscale y
set yrange [{low}:{high}]
set ylabel "milliseconds (log scale)"
set grid ytics
set key top left
set xtics font "sans,8" rotate by 35 right
plot "{data}" using 2:xtic(1) title "mis_messaging" lc rgb "#2b6cb0", \\
     "" using 3 title "baseline" lc rgb "#a0aec0"
"""
    done = subprocess.run(["gnuplot"], input=script, text=True, check=False)
    return done.returncode == 0


def main():
    source, outdir, run_note = sys.argv[1], sys.argv[2], sys.argv[3]
    rows = rows_from(source)
    header, body = table(rows)
    print_table(header, body)
    os.makedirs(outdir, exist_ok=True)
    write_csv(os.path.join(outdir, "latest.csv"), rows)
    write_markdown(os.path.join(outdir, "latest.md"), header, body, rows, run_note)
    charted = write_chart(os.path.join(outdir, "latest.png"), rows, os.path.dirname(source))
    print(f"\nwritten: {outdir}/latest.csv, latest.md" + (", latest.png" if charted else ""))


if __name__ == "__main__":
    main()
