#!/usr/bin/env bash
# Does a parallel load pay? csv_to_sqlite (Release) --jobs 1 against --jobs 2 over one generated
# CSV, in pairs run side by side (A B A B ...) so that drift in the machine's load hits both
# alike, for each clean step: the example's own (`clean`: id and balance parsed, name trimmed,
# email lower-cased) and --validate (every field validated and normalised too). Each run with
# --stage-times (where the time went: the clean step's and the sink's CPU time, the sink's idle
# wall time) under /usr/bin/time -v (user+sys CPU, peak RSS).
#
# Figures: records/s (the job's own report), median (min-max); jobs 2 / jobs 1 of each pair,
# median (min-max); user+sys CPU; peak RSS; the sink's share of the wall time and of the CPU
# time. The sink commits one batch at a time, so on two idle cores --jobs 2 can reach at most
# (process CPU) / (sink CPU) of --jobs 1: the `bound` column. `uptime` before and after.
# With OTHER=path/to/another/csv_to_sqlite, that binary's --jobs 2 joins each pair (before and
# after a change). Writes Markdown to stdout, and to OUT when given.
#     jobs_scaling.sh CSV_TO_SQLITE [ROWS] [PAIRS] [OUT]
set -euo pipefail
exe=$(realpath "$1") rows=${2:-1000000} pairs=${3:-5} out=${4:-}
other=${OTHER:+$(realpath "$OTHER")}
[[ -z $out ]] || out=$(realpath -m "$out")
command -v /usr/bin/time > /dev/null || { echo "jobs_scaling.sh: needs /usr/bin/time (Debian: time)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
"$exe" --rows "$rows" --csv in.csv --db warm.db --fresh > /dev/null # the CSV, and a warm page cache
rm -f warm.db*

load_before=$(uptime)
# One run: prints "label records/s user+sys peak_kib stage-times-fields..."
run() {
    local label=$1 bin=$2
    shift 2
    rm -f t.db t.db-wal t.db-shm
    /usr/bin/time -v -o time.txt "$bin" --csv in.csv --db t.db --stage-times "$@" > job.txt
    local rate cpu rss stages
    rate=$(sed -n 's/^records\/s *\([0-9]*\) .*/\1/p' job.txt)
    cpu=$(awk -F': ' '/User time|System time/ {s += $2} END {print s}' time.txt)
    rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' time.txt)
    stages=$(sed -n 's/^stage times *//p' job.txt | tr -d '%')
    echo "$label $rate $cpu $rss $stages"
}
results=$work/results.txt
for clean in clean validate; do
    extra=()
    [[ $clean == clean ]] || extra=(--validate)
    for ((p = 0; p < pairs; ++p)); do
        run "$clean/1" "$exe" --jobs 1 "${extra[@]}" >> "$results"
        run "$clean/2" "$exe" --jobs 2 "${extra[@]}" >> "$results"
        [[ -z $other ]] || run "$clean/2-other" "$other" --jobs 2 "${extra[@]}" >> "$results"
    done
done
load_after=$(uptime)

python3 - "$results" "$rows" "$pairs" "$load_before" "$load_after" "${other:-}" <<'EOF' | tee "${out:-/dev/null}"
import statistics, sys
path, rows, pairs, before, after, other = sys.argv[1:7]
runs = {}
for line in open(path):
    f = line.split()
    d = {"rate": float(f[1]), "cpu": float(f[2]), "rss": float(f[3]) / 1024}
    for kv in f[4:]:
        k, v = kv.split("=")
        d[k] = float(v)
    runs.setdefault(f[0], []).append(d)
med = statistics.median
def mm(v, fmt="{:,.0f}"):
    return f"{fmt.format(med(v))} ({fmt.format(min(v))}-{fmt.format(max(v))})"
print(f"{rows} rows, {pairs} pairs side by side; load before: `{before.strip()}`; after: `{after.strip()}`\n")
print("| clean step | --jobs | records/s, median (min-max) | / jobs 1, pairs | user+sys CPU s | peak RSS MiB "
      "| sink busy % of wall | sink idle s | sink CPU s | clean CPU s | source+runner CPU s | bound (CPU / sink CPU) |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|")
for clean in ("clean", "validate"):
    base = runs.get(f"{clean}/1", [])
    for j in ("1", "2", "2-other"):
        v = runs.get(f"{clean}/{j}")
        if not v:
            continue
        ratio = [a["rate"] / b["rate"] for a, b in zip(v, base)]
        bound = [r["process_cpu"] / r["sink_cpu"] for r in v]
        name = "--validate" if clean == "validate" else "the example's"
        jobs = j if j != "2-other" else "2 (OTHER)"
        print(f"| {name} | {jobs} | {mm([r['rate'] for r in v])} | {mm(ratio, '{:.2f}')} "
              f"| {mm([r['cpu'] for r in v], '{:.2f}')} | {mm([r['rss'] for r in v], '{:.1f}')} "
              f"| {mm([r['sink_busy'] for r in v], '{:.0f}')} | {mm([r['sink_idle'] for r in v], '{:.2f}')} "
              f"| {mm([r['sink_cpu'] for r in v], '{:.3f}')} | {mm([r['clean_cpu'] for r in v], '{:.3f}')} "
              f"| {mm([r['source_runner_cpu'] for r in v], '{:.3f}')} | {mm(bound, '{:.2f}')} |")
if other:
    print(f"\nOTHER = {other}")
EOF
