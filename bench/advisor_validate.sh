#!/usr/bin/env bash
# bench/advisor_validate.sh: does the batch-size advisor predict full runs?
#
#   bash bench/advisor_validate.sh [BUILD_DIR] [ROWS] [SAMPLE] [OUT.md]
#
# For csv_to_sqlite, csv_to_postgres (against a throw-away PostgreSQL server started here with
# tests/io/sql/pg_server.sh, stopped by a trap) and parallel_transform: run `--advise` on a
# sample of SAMPLE records (default 50 000) with the examples' default goal (most records/s),
# then FULL_RUNS (default 3) full runs of ROWS records (default 1 000 000) at the recommended
# --batch and --jobs under /usr/bin/time -v, and compare the predicted records/s and peak RSS
# with the measured ones (the median of the full runs: the example's own records/s line; time's
# "Maximum resident set size"). The advice confirms its pick (--advise-confirm, default 3 runs
# of 4 samples), so its prediction is a measurement of that setting; the model's figure is
# shown beside it. Target: within ±20 %. BUILD_DIR (default build/release) must hold examples/{csv_to_sqlite,csv_to_postgres,
# parallel_transform}. Prints a Markdown table (and writes it to OUT.md when given), with
# `uptime` before each advice and after each full run, and the full run's CPU time (user + sys)
# beside its wall time: the machine is shared, and a prediction made under one load misses a run
# under another.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$here/build/release}" && pwd)
rows=${2:-1000000}
sample=${3:-50000}
out=${4:-}
full_runs=${FULL_RUNS:-3}
ex=$build/examples
for e in csv_to_sqlite csv_to_postgres parallel_transform; do
    [[ -x $ex/$e ]] || { echo "advisor_validate.sh: no $ex/$e (build the examples)" >&2; exit 1; }
done
[[ -x /usr/bin/time ]] || { echo "advisor_validate.sh: /usr/bin/time is missing (Debian: time)" >&2; exit 1; }

work=$(mktemp -d)
pgdir=$work/pg
cleanup() {
    bash "$here/tests/io/sql/pg_server.sh" stop "$pgdir" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
chmod 755 "$work"
bash "$here/tests/io/sql/pg_server.sh" start "$pgdir" >/dev/null
export STREAMBATCH_PG_ENV=$pgdir/env

load() { uptime | sed 's/.*load average: //'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { printf "%s", v[int((NR + 1) / 2)] }'; }
span() { printf '%s\n' "$@" | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%s-%s", lo, hi }'; }
verdict() { awk -v r="$1" 'BEGIN { print (r >= 0.8 && r <= 1.2) ? "pass" : "**miss**" }'; }

rows_md=()
validate() { # name, advise args..., --, full-run args...
    local name=$1
    shift
    local adv=() full=()
    while [[ $1 != -- ]]; do adv+=("$1"); shift; done
    shift
    full=("$@")
    local before after advice rec batch jobs prps prss model
    before=$(load)
    advice=$("$ex/$name" "${adv[@]}" --advise --advise-sample "$sample")
    echo "$advice" >&2
    rec=$(grep '^recommended' <<<"$advice")
    batch=$(sed -E 's/.*--batch ([0-9]+).*/\1/' <<<"$rec")
    jobs=$(sed -E 's/.*--jobs ([0-9]+).*/\1/' <<<"$rec")
    prps=$(sed -E 's/.*predicted ([0-9.]+) records\/s.*/\1/' <<<"$rec")
    prss=$(sed -E 's/.*peak RSS ([0-9.]+) MiB.*/\1/' <<<"$rec")
    model=$(sed -nE 's/.*the model said ([0-9.]+).*/\1/p' <<<"$advice")
    [[ $batch =~ ^[0-9]+$ && $jobs =~ ^[0-9]+$ && -n $prps && -n $prss ]] ||
        { echo "advisor_validate.sh: cannot read $name's recommendation: $rec" >&2; exit 1; }
    local log=$work/$name.full run rps_all=() rss_all=() cpu_all=() wall_all=()
    for ((run = 1; run <= full_runs; ++run)); do
        /usr/bin/time -v "$ex/$name" "${full[@]}" --batch "$batch" --jobs "$jobs" >"$log.out" 2>"$log.err" ||
            { cat "$log.out" "$log.err" >&2; echo "advisor_validate.sh: $name's full run failed" >&2; exit 1; }
        cat "$log.out" >&2
        local rps rss
        if [[ $name == parallel_transform ]]; then
            rps=$(sed -nE 's/.* records, ([0-9.]+) records\/s.*/\1/p' "$log.out")
        else
            rps=$(sed -nE 's/^records\/s +([0-9.]+) over.*/\1/p' "$log.out")
        fi
        rss=$(sed -nE 's/.*Maximum resident set size \(kbytes\): ([0-9]+)/\1/p' "$log.err" |
            awk '{ printf "%.1f", $1 / 1024 }')
        [[ -n $rps && -n $rss ]] ||
            { cat "$log.out" "$log.err" >&2; echo "advisor_validate.sh: no records/s or peak RSS in $name's full run" >&2; exit 1; }
        rps_all+=("$rps")
        rss_all+=("$rss")
        # The full run's CPU (user + sys) against its wall time: on a shared machine, a run that
        # got less of the cores shows it here (a wall-clock records/s that is low for that reason).
        cpu_all+=("$(awk -F': ' '/User time \(seconds\)|System time \(seconds\)/ { s += $2 } END { printf "%.2f", s }' "$log.err")")
        wall_all+=("$(sed -nE 's/.*Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (.*)/\1/p' "$log.err" |
            awk -F: '{ s = 0; for (i = 1; i <= NF; ++i) s = s * 60 + $i; printf "%.2f", s }')")
    done
    after=$(load)
    local mrps mrss cpu wall rr mr
    mrps=$(median "${rps_all[@]}")
    mrss=$(median "${rss_all[@]}")
    cpu=$(median "${cpu_all[@]}")
    wall=$(median "${wall_all[@]}")
    rr=$(ratio "$mrps" "$prps")
    mr=$(ratio "$mrss" "$prss")
    rows_md+=("| $name | $batch | $jobs | $prps (model ${model:-none}) | $mrps ($(span "${rps_all[@]}")) | $rr $(verdict "$rr") | $prss | $mrss ($(span "${rss_all[@]}")) | $mr $(verdict "$mr") | $cpu / $wall | $before | $after |")
}

validate csv_to_sqlite --csv "$work/customers.csv" --rows "$rows" --db "$work/advice.db" -- \
    --csv "$work/customers.csv" --rows "$rows" --db "$work/customers.db" --fresh
validate csv_to_postgres --csv "$work/customers.csv" --rows "$rows" --table customers -- \
    --csv "$work/customers.csv" --rows "$rows" --table customers --fresh
validate parallel_transform --records "$rows" -- --records "$rows"

{
    echo "| example | batch | jobs | predicted records/s (confirmed; the model's) | measured records/s, median of $full_runs full runs (min-max) | measured / predicted | predicted peak RSS (MiB) | measured peak RSS (MiB), median (min-max) | measured / predicted | full run CPU s / wall s (medians) | load before advice (1, 5, 15 min) | load after full runs |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
    printf '%s\n' "${rows_md[@]}"
} | tee ${out:+"$out"}
