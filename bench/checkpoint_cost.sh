#!/usr/bin/env bash
# What checkpoints cost the main job: csv_to_sqlite (Release) over one CSV, three ways, runs
# alternating so that drift in the machine's load hits all three alike:
#   none        --no-checkpoint: no checkpoint at all (not exactly-once; the baseline)
#   row         the checkpoint row upserted in every batch's transaction (the job as shipped)
#   row + file  that, plus the runner's checkpoint file every 10 batches (temp file, fsync,
#               rename, fsync of the directory)
# Figures: the job's records/s (its own report), median (min-max), and each against `none`
# (target: <= 2 % lost). Writes a Markdown table to stdout, and to OUT when given.
#     checkpoint_cost.sh CSV_TO_SQLITE [ROWS] [REPS] [OUT]
set -euo pipefail
exe=$1 rows=${2:-500000} reps=${3:-7} out=${4:-}
exe=$(realpath "$exe")
[[ -z $out ]] || out=$(realpath -m "$out")
repo=$(pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
"$exe" --rows "$rows" --csv in.csv --db warm.db --fresh > /dev/null # the CSV, and a warm page cache

rate() { sed -n 's/^records\/s *\([0-9]*\) .*/\1/p'; }
declare -A all=()
for ((r = 0; r < reps; ++r)); do
    all[none]+=" $("$exe" --csv in.csv --db a.db --fresh --no-checkpoint | rate)"
    all[row]+=" $("$exe" --csv in.csv --db b.db --fresh | rate)"
    rm -f c.ckpt
    all[file]+=" $("$exe" --csv in.csv --db c.db --fresh --checkpoint-file c.ckpt | rate)"
done

REPO=$repo python3 - "$rows" "$reps" "${all[none]}" "${all[row]}" "${all[file]}" <<'EOF' | tee "${out:-/dev/null}"
import statistics, sys
rows, reps = sys.argv[1], sys.argv[2]
none, row, file = ([float(x) for x in a.split()] for a in sys.argv[3:6])
def s(v): return f"{statistics.median(v):,.0f} ({min(v):,.0f}-{max(v):,.0f})"
def pairs(a, b): # each run against the baseline run beside it
    r = [x / y for x, y in zip(a, b)]
    return f"{statistics.median(r):.3f} ({min(r):.3f}-{max(r):.3f})"
print("| checkpoints | records/s, median (min-max) | against none, pairs side by side |")
print("|---|---|---|")
print(f"| none (--no-checkpoint) | {s(none)} | 1 |")
print(f"| row in every batch's transaction (as shipped) | {s(row)} | {pairs(row, none)} |")
print(f"| row + checkpoint file every 10 batches | {s(file)} | {pairs(file, none)} |")
print()
print(f"csv_to_sqlite, {rows} rows, batches of 1 000, {reps} runs each, alternating; target: >= 0.98.")
print()
import os, platform, subprocess, time
def sh(*c):
    try:
        return subprocess.run(c, capture_output=True, text=True, cwd=os.environ["REPO"]).stdout.strip()
    except OSError:
        return "?"
dirty = " + uncommitted changes" if sh("git", "status", "--porcelain", "--untracked-files=no") else ""
print(f"Written by `bash scripts/bench.sh` (bench/checkpoint_cost.sh) on {os.cpu_count()} CPUs, "
      f"{platform.system()} {platform.release()}; load average {open('/proc/loadavg').read().split()[0]} "
      f"at the end; commit {sh('git', 'rev-parse', '--short', 'HEAD')}{dirty}; "
      f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}. Rerun it rather than edit this file.")
EOF
