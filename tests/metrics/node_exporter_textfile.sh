#!/usr/bin/env bash
# tests/metrics/node_exporter_textfile.sh: a real node_exporter serves the job's metrics.prom
# while the job runs, through its textfile collector (the only collector on).
#   node_exporter_textfile.sh NODE_EXPORTER METRICS_JOB PROMTOOL WORK_DIR
# The collector's directory is <record_dir>/latest: the symlink run_recorder points at the
# newest run directory, where metrics.prom is rewritten atomically (temp file, rename) every
# record_every (0 here: after each batch). The job pauses before batch 3 and 6
# (tests/metrics/metrics_job.cpp): node_exporter then serves 300 and 600 records, status
# running; after the end, 1000 records and status completed, with node_textfile_scrape_error 0.
# Every scrape is checked with `promtool check metrics`.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
exporter=$1 job_bin=$2 promtool=$3 work=$4
rm -rf "$work"
mkdir -p "$work/gate" "$work/runs"
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done' EXIT

job="textfile $$"
labels="job=\"$job\""
"$job_bin" run --job "$job" --records 1000 --batch 100 --record-dir "$work/runs" \
    --record-every-ms 0 --gate "$work/gate" --pause-at 3,6 >"$work/job.out" 2>&1 &
pids+=($!)
job_pid=$!

port=$("$job_bin" free-port)
"$exporter" --collector.disable-defaults --collector.textfile \
    --collector.textfile.directory="$work/runs/latest" \
    --web.listen-address="127.0.0.1:$port" >"$work/node_exporter.log" 2>&1 </dev/null &
pids+=($!)
wait_until 30 http_get "$port" /metrics >/dev/null ||
    { cat "$work/node_exporter.log" >&2; fail "node_exporter did not answer on 127.0.0.1:$port"; }
echo "$("$exporter" --version 2>&1 | head -n 1) on 127.0.0.1:$port, textfile directory $work/runs/latest"

regex_quote() { printf '%s' "$1" | sed 's/[][\.*^$/+?(){}|]/\\&/g'; }
value() { sample "$(cat "$work/scrape.prom")" "$1\{$(regex_quote "$2")\}"; }
scrape_says() { # N STATUS: node_exporter serves N records and that status
    http_get "$port" /metrics >"$work/scrape.prom" 2>/dev/null || return 1
    [[ $(value streambatch_records "$labels") == "$1" &&
        $(value streambatch_run_status "$labels,status=\"$2\"") == 1 ]]
}
checked() {
    "$promtool" check metrics <"$work/scrape.prom" || fail "promtool check metrics: $work/scrape.prom"
    [[ $(sample "$(cat "$work/scrape.prom")" node_textfile_scrape_error) == 0 ]] ||
        fail "node_textfile_scrape_error is not 0: $(cat "$work/node_exporter.log")"
}

for k in 3 6; do
    wait_until 120 test -e "$work/gate/paused-$k" || fail "the job never reached batch $k"
    wait_until 60 scrape_says $((k * 100)) running ||
        fail "paused before batch $k, node_exporter does not serve $((k * 100)) records, running: $(grep '^streambatch_r' "$work/scrape.prom")"
    checked
    echo "paused before batch $k: node_exporter serves $(value streambatch_records "$labels") records, running"
    touch "$work/gate/go-$k"
done
wait "$job_pid" || { cat "$work/job.out" >&2; fail "the job failed"; }
cat "$work/job.out"
grep -q "^records=1000 batches=10 status=completed " "$work/job.out" || fail "the job's report"
wait_until 60 scrape_says 1000 completed || fail "after the job, node_exporter does not serve 1000 records, completed"
checked
grep -E "^streambatch_records\{job=\"textfile $$\"\} 1000$" "$work/scrape.prom"
echo "after the job: node_exporter serves 1000 records, completed"
