#!/usr/bin/env python3
"""bench/tools/report.py: bench/tools/compare.sh's runs (a TSV) -> RESULTS-tools.md and plots.

TSV columns: part, file, tool, rep, wall_us, user_s, sys_s, maxrss_kib, rows. Within a part and
file, each run of another tool follows a streambatch run: the ratio of a run is its wall time
over that streambatch run's (paired). Called by compare.sh; not meant to be run alone."""
import argparse
import collections
import os
import platform
import statistics
import subprocess
import time

NAMES = {
    "streambatch": "streambatch `csv::reader` (C++)",
    "libcsv": "libcsv 3.0.3 (C, CSV_STRICT)",
    "python_csv": "Python `csv` module",
    "pandas": "pandas `read_csv(chunksize=100000)`",
    "duckdb_t1": "DuckDB `read_csv`, threads=1",
    "duckdb_t2": "DuckDB `read_csv`, threads=2",
    "wc_l": "`wc -l` (the floor: counts newlines only)",
    "sqlite3_import": "sqlite3 shell `.import --csv`",
    "psql_copy": "`psql \\copy` (FORMAT csv)",
}
SHORT = {
    "streambatch": "streambatch", "libcsv": "libcsv", "python_csv": "Python csv",
    "pandas": "pandas", "duckdb_t1": "DuckDB 1 thr", "duckdb_t2": "DuckDB 2 thr",
    "wc_l": "wc -l", "sqlite3_import": "sqlite3 .import", "psql_copy": "psql \\\\copy",
}


def mid(v, fmt):
    return f"{fmt(statistics.median(v))} ({fmt(min(v))}-{fmt(max(v))})"


def sh(*cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True).stdout.strip()
    except OSError:
        return "?"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tsv", required=True)
    ap.add_argument("--out-dir", required=True)
    ap.add_argument("--smoke", default="0")
    ap.add_argument("--command", required=True)
    ap.add_argument("--reps", required=True)
    ap.add_argument("--load-before", required=True)
    ap.add_argument("--load-after", required=True)
    ap.add_argument("--file", action="append", default=[])
    ap.add_argument("--load-rows", required=True)
    ap.add_argument("--versions", required=True)
    a = ap.parse_args()

    runs = collections.defaultdict(list)  # (part, file, tool) -> [run]
    ratios = collections.defaultdict(list)  # (part, file, tool) -> [tool wall / sb wall]
    cpu_ratios = collections.defaultdict(list)  # the same with CPU time
    last_sb = {}
    raw = []
    for line in open(a.tsv, encoding="utf-8"):
        part, file, tool, rep, wall_us, user, sys_, rss, rows = line.rstrip("\n").split("\t")
        r = {"wall": int(wall_us) / 1e6, "cpu": float(user) + float(sys_),
             "rss": int(rss) / 1024, "rows": int(rows)}
        runs[(part, file, tool)].append(r)
        raw.append(line.rstrip("\n").replace("\t", " "))
        if tool == "streambatch":
            last_sb[(part, file)] = r
        else:
            sb = last_sb[(part, file)]
            ratios[(part, file, tool)].append(r["wall"] / sb["wall"])
            if sb["cpu"] > 0:
                cpu_ratios[(part, file, tool)].append(r["cpu"] / sb["cpu"])

    files = {}
    for f in a.file:
        key, size, check, how = f.split("|", 3)
        files[key] = (int(size), check, how)

    def row_of(part, file, tool, nbytes=None):
        v = runs[(part, file, tool)]
        wall = [r["wall"] for r in v]
        rows = v[0]["rows"]
        cells = [NAMES[tool], mid(wall, lambda x: f"{x:.3f}"),
                 mid([rows / w for w in wall], lambda x: f"{x:,.0f}")]
        if nbytes is not None:
            cells.append(f"{statistics.median([nbytes / w / 1e6 for w in wall]):,.0f}")
        cells += [mid([r["cpu"] for r in v], lambda x: f"{x:.2f}"),
                  mid([r["rss"] for r in v], lambda x: f"{x:,.1f}")]
        if tool == "streambatch":
            cells += ["1 (the baseline)", "1"]
        else:
            cells.append(mid(ratios[(part, file, tool)], lambda x: f"{x:.2f}") + "×")
            c = cpu_ratios[(part, file, tool)]
            cells.append(mid(c, lambda x: f"{x:.2f}") + "×" if c else "-")
        cells.append(str(len(v)))
        return "| " + " | ".join(cells) + " |"

    smoke = a.smoke == "1"
    out = []
    w = out.append
    w("# streambatch against the tools users know (bench/tools/compare.sh)")
    w("")
    if smoke:
        w("**A smoke run (tiny files, one rep): these figures mean nothing.**")
        w("")
    w(f"Written by `{a.command}` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
      f"commit {sh('git', 'rev-parse', '--short', 'HEAD')}"
      f"{' + uncommitted changes' if sh('git', 'status', '--porcelain', '--untracked-files=no') else ''}. "
      "Rerun it rather than edit this file.")
    w("")
    model = "?"
    try:
        for l in open("/proc/cpuinfo", encoding="utf-8"):
            if l.startswith("model name"):
                model = l.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    w(f"Machine: {os.cpu_count()} vCPUs ({model}), {mem:.0f} GiB RAM, {platform.system()} "
      f"{platform.release()}; shared with other builds (the load below), so the times are noisy; "
      "the paired ratios less so.")
    w("")
    w(f"- `uptime` before: `{a.load_before.strip()}`")
    w(f"- `uptime` after: `{a.load_after.strip()}`")
    w(f"- Versions: {a.versions}; streambatch built Release (`release` preset, g++).")
    w("")
    w("How to read the tables: wall seconds of the whole process, median (min-max) over the reps; "
      "rows/s = the file's data rows over the wall time; CPU = user + sys seconds; peak RSS = "
      "`/usr/bin/time`'s maximum resident set size (the same figure as `time -v`'s), MiB, of the "
      "whole process (a Python or Node runtime included). **Time ÷ streambatch's**: each run's "
      "wall time over the streambatch run just before it (runs alternate A B A C ...), median "
      "(min-max): 2.00× means the tool took twice streambatch's time; below 1 it was faster.")
    w("")

    w("## CSV reading")
    w("")
    w("The same work for every tool: read the file, count its data rows and fields and sum the "
      "fields' byte lengths (every field as text: no type inference), printing "
      "`rows=R fields=F bytes=B`; the script stops unless every tool prints streambatch's line. "
      "`wc -l` only counts newlines: the floor, not the same work. DuckDB: one query "
      "`SELECT count(*), sum(strlen(...)) FROM read_csv(FILE, header=true, all_varchar=true)` "
      "from Node (`@duckdb/node-api`, installed into a scratch directory); pandas: "
      "`dtype=str, keep_default_na=False, na_filter=False`, C engine, `Series.str.len().sum()` "
      "per column and chunk; Python: `csv.reader` over the file opened with `newline=\"\"`; both Python tools decode Latin-1 (one character a byte: lengths are byte lengths, and no UTF-8 decoding cost).")
    w("")
    plot_csv = []
    for key, title in (("main", "the main job's CSV"), ("bench", "the benchmark's CSV")):
        if key not in files:
            continue
        size, check, how = files[key]
        w(f"### File: {title} ({size / 1e6:,.1f} MB)")
        w("")
        w(f"Made by {how}: {size:,} bytes, `{check}`.")
        w("")
        w(f"| tool ({key} file) | wall s | rows/s | MB/s | CPU s | peak RSS MiB | time ÷ streambatch's | CPU ÷ streambatch's | runs |")
        w("|---|---|---|---|---|---|---|---|---|")
        for tool in ("streambatch", "libcsv", "python_csv", "pandas", "duckdb_t1", "duckdb_t2", "wc_l"):
            if runs.get(("csv", key, tool)):
                w(row_of("csv", key, tool, size))
                if key == "main":
                    v = runs[("csv", key, tool)]
                    plot_csv.append((tool, statistics.median([r["rows"] / r["wall"] for r in v]),
                                     statistics.median([r["rss"] for r in v])))
        w("")
        w(f"streambatch ran before each other tool's run, {len(runs[('csv', key, 'streambatch')])} "
          "runs in all (its row: all of them); pandas, the slowest, ran min(3, reps) times (the "
          "runs column).")
        w("")

    w("## Loading: SQLite")
    w("")
    lr = int(a.load_rows)
    w(f"{lr:,} rows of the main job's CSV (`csv_to_sqlite --rows {lr}`), a new database file each "
      "run, both with `PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL` and the table "
      "`customers(id INTEGER, name TEXT, email TEXT, country TEXT, balance REAL)`; the row count "
      "is checked after each run. streambatch: `csv_to_sqlite --csv load.csv --db a.db --jobs 1` "
      "(batches of 1000, each row cleaned: id and balance parsed, name trimmed, email "
      "lower-cased; the CSV's identity hashed; the checkpoint row in every batch's transaction: "
      "exactly once). sqlite3: `.import --csv --skip 1` (text as is, no cleaning, no checkpoint).")
    w("")
    w("| tool (load file) | wall s | rows/s | CPU s | peak RSS MiB | time ÷ streambatch's | CPU ÷ streambatch's | runs |")
    w("|---|---|---|---|---|---|---|---|")
    plot_load = []
    for tool in ("streambatch", "sqlite3_import"):
        if runs.get(("sqlite", "load", tool)):
            w(row_of("sqlite", "load", tool).replace(NAMES["streambatch"], "streambatch `csv_to_sqlite --jobs 1`"))
            v = runs[("sqlite", "load", tool)]
            plot_load.append(("SQLite: " + ("csv_to_sqlite" if tool == "streambatch" else SHORT[tool]),
                              statistics.median([r["rows"] / r["wall"] for r in v]),
                              statistics.median([r["rss"] for r in v])))
    w("")
    w("## Loading: PostgreSQL")
    w("")
    w(f"The same {lr:,}-row file into a throw-away PostgreSQL server started by the script "
      "(tests/io/sql/pg_server.sh: a temp dir, 127.0.0.1, fsync=off, synchronous_commit=off, "
      "full_page_writes=off; stopped by a trap), tables of the same schema "
      "`(id bigint, name text, email text, country text, balance double precision)`, each "
      "truncated at the start of its run, the row count checked after. streambatch: "
      "`csv_to_postgres --csv load.csv --table customers_sb --conninfo ... --fresh` (defaults: "
      "--jobs 1, batches of 1 000 sent into transactions of 50 000 rows, one binary-format COPY "
      "each, with the checkpoint row of its last batch in the transaction: exactly once). psql: `psql -c 'TRUNCATE customers_psql' -c \"\\copy customers_psql FROM "
      "'load.csv' WITH (FORMAT csv, HEADER true)\"` (one COPY, text as is). Peak RSS is the "
      "client's (the server's is not counted for either).")
    w("")
    w("| tool (load file) | wall s | rows/s | CPU s | peak RSS MiB | time ÷ streambatch's | CPU ÷ streambatch's | runs |")
    w("|---|---|---|---|---|---|---|---|")
    for tool in ("streambatch", "psql_copy"):
        if runs.get(("postgres", "load", tool)):
            w(row_of("postgres", "load", tool).replace(NAMES["streambatch"], "streambatch `csv_to_postgres`"))
            v = runs[("postgres", "load", tool)]
            plot_load.append(("PostgreSQL: " + ("csv_to_postgres" if tool == "streambatch" else "psql copy"),
                              statistics.median([r["rows"] / r["wall"] for r in v]),
                              statistics.median([r["rss"] for r in v])))
    w("")
    w("## Plots")
    w("")
    w("- [plots/tools_csv_read.svg](plots/tools_csv_read.svg): CSV reading of the main job's file, "
      "rows/s and peak RSS per tool (medians).")
    w("- [plots/tools_load.svg](plots/tools_load.svg): the SQLite and PostgreSQL loads, rows/s and "
      "peak RSS (medians).")
    w("")
    w("## The raw runs")
    w("")
    w("<details><summary>part, file, tool, rep, wall µs, user s, sys s, peak RSS KiB, rows</summary>")
    w("")
    w("```")
    out.extend(raw)
    w("```")
    w("")
    w("</details>")
    w("")
    os.makedirs(os.path.join(a.out_dir, "plots"), exist_ok=True)
    with open(os.path.join(a.out_dir, "RESULTS-tools.md"), "w", encoding="utf-8") as f:
        f.write("\n".join(out))
    plot(os.path.join(a.out_dir, "plots", "tools_csv_read.svg"),
         "CSV reading, the main job's file", [(SHORT[t], x, y) for t, x, y in plot_csv])
    plot(os.path.join(a.out_dir, "plots", "tools_load.svg"),
         f"Loading {lr:,} rows", [(n.replace("\\", "\\\\"), x, y) for n, x, y in plot_load])


def plot(path, title, data):
    """Two panels side by side: rows/s (log scale) and peak RSS MiB (log scale), one bar a tool."""
    if not data:
        return
    dat = path + ".dat"
    with open(dat, "w", encoding="utf-8") as f:
        for name, rate, rss in data:
            f.write(f"\"{name}\" {rate:.0f} {rss:.1f}\n")
    script = f"""
set terminal svg size 1000,420 dynamic font "sans,11" background rgb "white"
set output "{path}"
set multiplot layout 1,2 title "{title} (medians; bench/tools/compare.sh)"
set style fill solid 0.8 border -1
set boxwidth 0.7
set yrange [*:*]
set logscale y
set grid ytics
set xtics rotate by -35 nomirror
unset key
set title "rows/s (higher is better)"
plot "{dat}" using 0:2:xtic(1) with boxes lc rgb "#3b7dd8", \\
     "" using 0:2:(sprintf("%.3g", $2)) with labels offset 0,0.7 font ",9"
set title "peak RSS, MiB (lower is better)"
plot "{dat}" using 0:3:xtic(1) with boxes lc rgb "#d8703b", \\
     "" using 0:3:(sprintf("%.3g", $3)) with labels offset 0,0.7 font ",9"
unset multiplot
"""
    subprocess.run(["gnuplot"], input=script, text=True, check=True)
    os.remove(dat)


main()
