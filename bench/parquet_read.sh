#!/usr/bin/env bash
# Reading a ~1 GB snappy Parquet file (issue 14): streambatch's columnar path
# (parquet::column_batches) and its row path (parquet::rows) against DuckDB (threads=1), the same
# work: count(*), sum(a), sum(b), sum(c), sum(strlen(s)), sum(strlen(t)) over columns a BIGINT,
# b INTEGER (10% nulls), c DOUBLE (random), s VARCHAR (100 000 distinct), t VARCHAR (md5, 6%
# nulls), written by DuckDB (snappy, row groups of 122 880 rows).
#
# The file is generated ONCE into the scratch directory (DuckDB from a scratch npm install made
# by tests/io/parquet/oracle/install.sh; never into the repository), then read once by each
# engine (a warm page cache), then PAIRS rounds of DuckDB, columns, rows, one after the other, so
# that drift in the machine's load hits them alike. Each run under /usr/bin/time -v (wall, user+sys
# CPU, peak RSS of the process); DuckDB's node script also reports its query's own wall and CPU
# time and its RSS before the query (node's own), bench_parquet_read its own (from open to the
# last sum). The sums of every run must agree. Figures: medians (min-max); rows/s ratios against
# DuckDB's query (in-process times: neither node's start nor ours counted); peak RSS against
# DuckDB's process and against its growth during the query; the largest projected row group
# (the footer's total_uncompressed_size of a..t) to check peak RSS <= it + 8 MiB.
#
# Usage: bench/parquet_read.sh [--smoke] [--rows N] [--pairs P] [--bin PATH] [--scratch DIR]
#                              [--out FILE]
#   default: 20 000 000 rows (~1 GB), 5 pairs, bin build/release/bench/bench_parquet_read (built
#   with the release preset when missing), scratch ${XDG_CACHE_HOME:-~/.cache}/streambatch/
#   parquet-read-bench, out bench/RESULTS-parquet-read.md.
#   --smoke: 100 000 rows, 1 pair, out in the scratch directory (CTest bench.parquet_read).
# Exit: 0; 77 when node or npm is missing (install.sh's rule: 1 in CI); 1 when sums differ.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
rows=20000000 pairs=5 bin= scratch=${XDG_CACHE_HOME:-$HOME/.cache}/streambatch/parquet-read-bench
out=$repo/bench/RESULTS-parquet-read.md smoke=0
while (($#)); do
    case $1 in
    --smoke) smoke=1 rows=100000 pairs=1 ;;
    --rows) rows=$2; shift ;;
    --pairs) pairs=$2; shift ;;
    --bin) bin=$2; shift ;;
    --scratch) scratch=$2; shift ;;
    --out) out=$2; shift ;;
    *) echo "parquet_read.sh: unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done
((smoke)) && [[ $out == "$repo/bench/RESULTS-parquet-read.md" ]] && out=$scratch/RESULTS-parquet-read-smoke.md
command -v /usr/bin/time > /dev/null || { echo "parquet_read.sh: needs /usr/bin/time (Debian: time)" >&2; exit 1; }
if [[ -z $bin ]]; then
    bin=$repo/build/release/bench/bench_parquet_read
    if [[ ! -x $bin ]]; then
        (cd "$repo" && cmake --preset release > /dev/null && cmake --build --preset release --target bench_parquet_read -j1 > /dev/null)
    fi
fi
bin=$(realpath "$bin")
mkdir -p "$scratch"
scratch=$(realpath "$scratch")
npm_dir=$scratch/npm
rc=0
bash "$repo/tests/io/parquet/oracle/install.sh" "$npm_dir" > /dev/null || rc=$?
((rc == 0)) || exit "$rc"
cp "$here/parquet_read_duckdb.mjs" "$npm_dir/"
file=$scratch/bench_$rows.parquet
if [[ ! -f $file ]]; then
    node "$npm_dir/parquet_read_duckdb.mjs" gen "$rows" "$file.tmp"
    mv "$file.tmp" "$file"
fi
size=$(stat -L -c %s "$file")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# One run: "engine wall cpu rss_kib in_wall in_cpu rss_before_kib largest sums..."
run() {
    local engine=$1
    case $engine in
    duckdb) /usr/bin/time -v -o "$work/time.txt" node "$npm_dir/parquet_read_duckdb.mjs" query "$file" > "$work/run.txt" ;;
    *) /usr/bin/time -v -o "$work/time.txt" "$bin" --mode "$engine" "$file" > "$work/run.txt" ;;
    esac
    local wall cpu rss
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {n = split($2, p, ":"); s = 0; for (i = 1; i <= n; ++i) s = s * 60 + p[i]; print s}' "$work/time.txt")
    cpu=$(awk -F': ' '/User time|System time/ {s += $2} END {print s}' "$work/time.txt")
    rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$work/time.txt")
    python3 - "$engine" "$wall" "$cpu" "$rss" "$work/run.txt" <<'EOF'
import json, sys
engine, wall, cpu, rss, path = sys.argv[1:6]
text = open(path).read().strip()
if engine == "duckdb":
    j = json.loads(text)
    inner = (j["wall_s"], j["cpu_s"], j["rss_before_kib"], 0)
    sums = (j["rows"], j["sum_a"], j["sum_b"], j["sum_c"], j["len_s"], j["len_t"])
else:
    kv = dict(f.split("=", 1) for f in text.split() if "=" in f)
    inner = (kv["wall_s"], kv["cpu_s"], 0, kv["largest_group_bytes"])
    sums = (kv["rows"], kv["sum_a"], kv["sum_b"], kv["sum_c"], kv["len_s"], kv["len_t"])
print(engine, wall, cpu, rss, *inner, *sums)
EOF
}

results=$work/results.txt
for engine in duckdb columns rows; do run "$engine" > /dev/null; done # warm the page cache
load_before=$(uptime)
for ((p = 0; p < pairs; ++p)); do
    for engine in duckdb columns rows; do run "$engine" >> "$results"; done
done
load_after=$(uptime)
commit=$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=$(git -C "$repo" status --porcelain -- include bench ':!bench/RESULTS-*' 2>/dev/null | head -1)
[[ -z $dirty ]] || commit="$commit (with uncommitted changes)"

python3 - "$results" "$rows" "$pairs" "$size" "$load_before" "$load_after" "$commit" "$smoke" <<'EOF' > "$work/report.md"
import statistics, sys, datetime
path, rows, pairs, size, before, after, commit, smoke = sys.argv[1:9]
rows, pairs, size = int(rows), int(pairs), int(size)
runs = {}
sums = set()
csums = []
for line in open(path):
    f = line.split()
    e = f[0]
    d = dict(wall=float(f[1]), cpu=float(f[2]), rss=float(f[3]) / 1024, in_wall=float(f[4]),
             in_cpu=float(f[5]), rss_before=float(f[6]) / 1024, largest=int(f[7]))
    runs.setdefault(e, []).append(d)
    n, a, b, c, ls, lt = f[8:14]
    sums.add((int(n), int(a), int(b), int(ls), int(lt)))
    csums.append(float(c))
# the integer sums exactly; sum(c) (floating point, summed in another order) to 1e-9
if len(sums) != 1 or max(csums) - min(csums) > 1e-9 * max(1.0, abs(csums[0])):
    print("sums differ between runs: " + repr(sums) + " " + repr(sorted(set(csums))), file=sys.stderr)
    sys.exit(1)
def med(xs):
    return f"{statistics.median(xs):.3f} ({min(xs):.3f}-{max(xs):.3f})"
def medn(xs, fmt="{:.2f}"):
    return fmt.format(statistics.median(xs)) + " (" + fmt.format(min(xs)) + "-" + fmt.format(max(xs)) + ")"
largest = runs["columns"][0]["largest"] / 2**20
print("# Reading a Parquet file: streambatch against DuckDB (threads=1)\n")
print(f"Generated by `bench/parquet_read.sh{' --smoke' if smoke == '1' else ''}` on "
      f"{datetime.date.today().isoformat()}, commit {commit}. Load before: `{before.strip()}`; "
      f"after: `{after.strip()}` (2 cores shared with other builders: figures are noisy; the "
      "runs alternate DuckDB, columns, rows so that drift hits all three).\n")
print(f"File: {rows:,} rows, {size / 2**20:.0f} MiB, snappy, row groups of 122 880 rows, written by "
      "DuckDB: a BIGINT, b INTEGER (10% null), c DOUBLE (random), s VARCHAR (100 000 distinct), "
      "t VARCHAR (md5, 6% null). Work: count(*), sum(a), sum(b), sum(c), sum(strlen(s)), "
      f"sum(strlen(t)); every run's sums agree. {pairs} rounds; medians (min-max).\n")
print("| engine | rows/s (in-process) | wall s (in-process) | CPU s (in-process) | process wall s | process CPU s | peak RSS MiB |")
print("|---|---|---|---|---|---|---|")
names = {"duckdb": "DuckDB (node, @duckdb/node-api)", "columns": "streambatch parquet::column_batches",
         "rows": "streambatch parquet::rows"}
for e in ("duckdb", "columns", "rows"):
    r = runs[e]
    print(f"| {names[e]} | {medn([rows / x['in_wall'] for x in r], '{:,.0f}')} | {med([x['in_wall'] for x in r])} | "
          f"{med([x['in_cpu'] for x in r])} | {med([x['wall'] for x in r])} | {med([x['cpu'] for x in r])} | "
          f"{medn([x['rss'] for x in r], '{:.1f}')} |")
print()
print("Ratios, each round against that round's DuckDB run (in-process times; > 1: faster than DuckDB):\n")
print("| engine | rows/s vs DuckDB (wall) | CPU: DuckDB / ours | peak RSS / DuckDB's process | peak RSS / DuckDB's growth during its query |")
print("|---|---|---|---|---|")
d = runs["duckdb"]
for e in ("columns", "rows"):
    r = runs[e]
    wr = [x["in_wall"] / y["in_wall"] for x, y in zip(d, r)]
    cr = [x["in_cpu"] / y["in_cpu"] for x, y in zip(d, r)]
    rr = [y["rss"] / x["rss"] for x, y in zip(d, r)]
    gr = [y["rss"] / max(x["rss"] - x["rss_before"], 0.1) for x, y in zip(d, r)]
    print(f"| {names[e]} | {medn(wr)} | {medn(cr)} | {medn(rr)} | {medn(gr)} |")
print()
dg = [x["rss"] - x["rss_before"] for x in d]
cols = [x["rss"] for x in runs["columns"]]
print(f"DuckDB's process: node's own RSS before the query {medn([x['rss_before'] for x in d], '{:.1f}')} MiB, "
      f"growth during the query {medn(dg, '{:.1f}')} MiB. Largest projected row group (the footer's "
      f"total_uncompressed_size of a, b, c, s, t): {largest:.1f} MiB; + 8 MiB = {largest + 8:.1f} MiB "
      f"against column_batches' peak RSS {statistics.median(cols):.1f} MiB "
      f"({'within' if statistics.median(cols) <= largest + 8 else 'over'} the bound).")
EOF
mkdir -p "$(dirname "$out")"
cp "$work/report.md" "$out"
cat "$out"
