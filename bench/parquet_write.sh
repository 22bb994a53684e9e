#!/usr/bin/env bash
# Writing speed (issue 14): our parquet::writer against DuckDB's COPY ... TO ... (FORMAT
# parquet), the same rows (bench_parquet_write.cpp and parquet_write_duckdb.mjs generate the
# same values: a BIGINT id, an INTEGER, a DOUBLE, a short string of 997 values, a unique
# 32-hex-digit string, a nullable INTEGER; about 50 MB of snappy Parquet a million rows), both
# with one thread, SNAPPY and row groups of 122880 rows (DuckDB's default). Pairs run side by
# side, A B A B: A = DuckDB COPY (`SET threads=1`, @duckdb/node-api), B = our writer; each
# pair also runs each side's generator alone (DuckDB: the same SELECT aggregated, no COPY;
# ours: the same loop checksumming the rows, no writer), so that the figures come raw and with
# the generator's time subtracted (each side its own generator's median wall time). Every run
# under /usr/bin/time -v (peak RSS); the wall and CPU time are each program's own, of the query
# or of the generate+write loop (node's and the binary's start-up left out).
# Writes Markdown to stdout, and to OUT when given.
#     parquet_write.sh BENCH_BIN [ROWS] [PAIRS] [OUT]      (BENCH_BIN: bench_parquet_write)
#     parquet_write.sh --smoke BENCH_BIN                    (20000 rows, one pair; CTest)
# DuckDB comes from npm into ${PARQUET_BENCH_NPM:-~/.cache/streambatch/parquet-bench}
# (tests/io/parquet/oracle/install.sh). In --smoke mode a missing node/npm or DuckDB install
# leaves DuckDB's side out (the smoke run checks our side runs, never how fast).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
smoke=0
if [[ ${1:-} == --smoke ]]; then
    smoke=1
    shift
fi
[[ $# -ge 1 ]] || { sed -n '2,20p' "$0" >&2; exit 2; }
bin=$(realpath "$1")
rows=${2:-20000000} pairs=${3:-5} out=${4:-}
if ((smoke)); then rows=20000 pairs=1 out=""; fi
[[ -z $out ]] || out=$(realpath -m "$out")
command -v /usr/bin/time > /dev/null || { echo "parquet_write.sh: needs /usr/bin/time (Debian: time)" >&2; exit 1; }
npmdir=${PARQUET_BENCH_NPM:-${XDG_CACHE_HOME:-$HOME/.cache}/streambatch/parquet-bench}
duck=1
if ((smoke)); then
    [[ -d $npmdir/node_modules/@duckdb/node-api ]] && command -v node > /dev/null || duck=0
else
    bash "$here/../tests/io/parquet/oracle/install.sh" "$npmdir" > /dev/null
fi
((duck == 0)) || cp "$here/parquet_write_duckdb.mjs" "$npmdir/"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

commit=$(git -C "$here" rev-parse --short HEAD 2> /dev/null || echo unknown)
load_before=$(uptime)
results=$work/results.txt
# One run: "<label> <program's own line> maxrss_kib=<n> file_bytes=<n>"
run() {
    local label=$1
    shift
    rm -f f.parquet
    /usr/bin/time -v -o time.txt "$@" > line.txt
    local rss size=0
    rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' time.txt)
    [[ ! -f f.parquet ]] || size=$(stat -c %s f.parquet)
    echo "$label $(tail -1 line.txt) maxrss_kib=$rss disk_bytes=$size" >> "$results"
    rm -f f.parquet
}
for ((p = 0; p < pairs; ++p)); do
    ((duck == 0)) || run A node "$npmdir/parquet_write_duckdb.mjs" copy "$rows" f.parquet 122880
    run B "$bin" --mode write --rows "$rows" --out f.parquet --row-group-rows 122880 --codec snappy
    ((duck == 0)) || run Agen node "$npmdir/parquet_write_duckdb.mjs" gen "$rows" f.parquet
    run Bgen "$bin" --mode gen --rows "$rows"
done
load_after=$(uptime)

python3 - "$results" "$rows" "$pairs" "$load_before" "$load_after" "$commit" "$bin" <<'PY' | tee "${out:-/dev/null}"
import statistics, sys, datetime
path, rows, pairs, before, after, commit, binary = sys.argv[1:8]
rows = int(rows)
runs = {}
for line in open(path):
    f = line.split()
    d = {}
    for kv in f[1:]:
        if "=" in kv:
            k, v = kv.split("=", 1)
            d[k] = float(v)
    runs.setdefault(f[0], []).append(d)
med = statistics.median
def mm(v, fmt="{:,.0f}"):
    return f"{fmt.format(med(v))} ({fmt.format(min(v))}–{fmt.format(max(v))})"
mib = 1024 * 1024
print(f"# Parquet writing speed: parquet::writer vs DuckDB COPY\n")
print(f"Date {datetime.datetime.utcnow():%Y-%m-%d %H:%M} UTC, commit {commit}, {rows:,} rows, {pairs} pair(s) A B A B "
      f"(A = DuckDB COPY ... (FORMAT parquet, COMPRESSION snappy, ROW_GROUP_SIZE 122880), `SET threads=1`; "
      f"B = parquet::writer, SNAPPY, a row group every 122880 rows, one thread).\n")
print(f"Load before: `{before.strip()}`; after: `{after.strip()}`\n")
print(f"Command: `bash bench/parquet_write.sh {('build/' + binary.split('/build/')[-1]) if '/build/' in binary else binary} {rows} {pairs} bench/RESULTS-parquet-write.md` "
      f"(after `cmake --preset release && cmake --build --preset release --target bench_parquet_write`).\n")
gen = {k: med([r["wall_s"] for r in runs[k]]) for k in ("Agen", "Bgen") if k in runs}
genc = {k: med([r["cpu_s"] for r in runs[k]]) for k in ("Agen", "Bgen") if k in runs}
print("| run | wall s | CPU s | rows/s (wall) | rows/s, generator subtracted | peak RSS MiB | file MB |")
print("|---|---|---|---|---|---|---|")
names = {"A": "A: DuckDB COPY", "B": "B: parquet::writer", "Agen": "DuckDB generator alone", "Bgen": "our generator alone"}
for k in ("A", "B", "Agen", "Bgen"):
    v = runs.get(k)
    if not v:
        continue
    wall = [r["wall_s"] for r in v]
    cpu = [r["cpu_s"] for r in v]
    rate = [rows / max(w, 1e-6) for w in wall]
    sub = "–"
    if k in ("A", "B") and (k + "gen") in gen:
        sub = mm([rows / max(w - gen[k + "gen"], 1e-9) for w in wall])
    rss = [r["maxrss_kib"] / 1024 for r in v]
    size = [r["disk_bytes"] / 1e6 for r in v]
    print(f"| {names[k]} | {mm(wall, '{:.2f}')} | {mm(cpu, '{:.2f}')} | {mm(rate)} | {sub} | {mm(rss, '{:.1f}')} | "
          f"{mm(size, '{:.1f}') if k in ('A', 'B') else '–'} |")
if "A" in runs and "B" in runs:
    A, B = runs["A"], runs["B"]
    raw = [a["wall_s"] / b["wall_s"] for a, b in zip(A, B)]
    cpu = [a["cpu_s"] / b["cpu_s"] for a, b in zip(A, B)]
    print()
    print(f"B / A, rows/s of each pair (wall, raw): **{mm(raw, '{:.2f}')}**; by CPU time: {mm(cpu, '{:.2f}')}.")
    if "Agen" in gen and "Bgen" in gen:
        sub = [(a["wall_s"] - gen["Agen"]) / (b["wall_s"] - gen["Bgen"]) for a, b in zip(A, B)]
        subc = [(a["cpu_s"] - genc["Agen"]) / (b["cpu_s"] - genc["Bgen"]) for a, b in zip(A, B)]
        print(f"B / A with each side's generator median subtracted (wall): **{mm(sub, '{:.2f}')}**; by CPU time: {mm(subc, '{:.2f}')}.")
    print("(Target: ≥ 0.8.)")
B = runs.get("B")
if B:
    lg = max(r["largest_row_group"] for r in B)
    lgu = max(r["largest_row_group_uncompressed"] for r in B)
    peak = max(r["peak_rss"] for r in B)
    base = med([r["peak_rss"] for r in runs["Bgen"]]) if "Bgen" in runs else 0
    # the bound counts a row group as the reader's does: the footer's total_uncompressed_size
    # (what the row group's pages hold decoded); the size as written is shown beside it
    bound = lgu + 8 * mib
    bound_c = lg + 8 * mib
    print()
    print(f"Peak RSS of B (VmHWM, the whole process): max {peak / mib:.1f} MiB; of our generator alone: {base / mib:.1f} MiB; "
          f"so the writer's share ≤ {(peak - base) / mib:.1f} MiB. Largest row group: {lgu / mib:.2f} MiB uncompressed "
          f"({lg / mib:.2f} MiB as written); largest row group + 8 MiB = {bound / mib:.2f} MiB: "
          f"the process's peak is {'within' if peak <= bound else 'over'} it, the writer's share is {'within' if peak - base <= bound else 'over'} it "
          f"(against the size as written + 8 MiB, {bound_c / mib:.2f} MiB: the process {'within' if peak <= bound_c else 'over'}, "
          f"the writer's share {'within' if peak - base <= bound_c else 'over'}).")
PY
