#!/usr/bin/env bash
# tests/metrics/push_during_job.sh: a job pushing to a real Pushgateway (the fixture's), scraped
# while it runs and after it ends.
#   push_during_job.sh single STATE_DIR METRICS_JOB PROMTOOL WORK_DIR
#       one job, named with a space and a '/' (the group's path has job@base64/...), paused
#       before batches 3 and 6 (tests/metrics/metrics_job.cpp): at each pause the gateway's
#       /metrics holds the job's series with the records so far (300, then 600: increasing),
#       status running; after the end the totals equal the job's (1000 records, completed),
#       and the group is still there (the Pushgateway keeps it: nothing deletes it)
#   push_during_job.sh partitions STATE_DIR METRICS_JOB PROMTOOL WORK_DIR
#       two partitions of one job at once (0/2 and 1/2): two groups, partition="0"/"1" and
#       partitions="2", 500 records each, adding up to the 1000 of the input
#   push_during_job.sh example STATE_DIR PARALLEL_TRANSFORM PROMTOOL WORK_DIR
#       examples/parallel_transform --push (2 batches in flight): after it, the gateway holds
#       its 20000 records, completed
# Every scrape is checked with `promtool check metrics`.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
mode=$1 state=$2 job_bin=$3 promtool=$4 work=$5
# shellcheck disable=SC1091
. "$state/env"
rm -rf "$work"
mkdir -p "$work/gate"
url="http://127.0.0.1:$PUSHGATEWAY_PORT"
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done' EXIT

scrape() { http_get "$PUSHGATEWAY_PORT" /metrics; }
checked_scrape() { # the gateway's whole /metrics, validated by promtool
    local text
    text=$(scrape) || fail "no answer from the Pushgateway on $url"
    printf '%s\n' "$text" >"$work/scrape.prom"
    "$promtool" check metrics <"$work/scrape.prom" || fail "promtool check metrics: $work/scrape.prom"
    printf '%s\n' "$text"
}
regex_quote() { printf '%s' "$1" | sed 's/[][\.*^$/+?(){}|]/\\&/g'; }
# value NAME LABELS: the sample NAME{instance="",LABELS} of the last scrape
value() { sample "$(cat "$work/scrape.prom")" "$1\{instance=\"\",$(regex_quote "$2")\}"; }
records_are() { # LABELS N: the gateway says N records for that group
    scrape >"$work/scrape.prom" 2>/dev/null || return 1
    [[ $(value streambatch_records "$1") == "$2" ]]
}

case $mode in
single)
    job="push test/$$ nightly"
    labels="job=\"$job\""
    "$job_bin" run --job "$job" --records 1000 --batch 100 --push "$url" --push-every-ms 0 \
        --push-timeout-ms 10000 --gate "$work/gate" --pause-at 3,6 >"$work/job.out" 2>&1 &
    pids+=($!)
    for k in 3 6; do
        wait_until 120 test -e "$work/gate/paused-$k" || fail "the job never reached batch $k"
        wait_until 60 records_are "$labels" $((k * 100)) ||
            fail "paused before batch $k, the gateway does not say $((k * 100)) records: $(grep '^streambatch_records' "$work/scrape.prom")"
        checked_scrape >/dev/null
        [[ $(value streambatch_run_status "$labels,status=\"running\"") == 1 ]] ||
            fail "status running is not 1 during the job"
        [[ $(value streambatch_batches "$labels") == "$k" ]] || fail "batches is not $k"
        echo "paused before batch $k: the gateway says $(value streambatch_records "$labels") records, running"
        touch "$work/gate/go-$k"
    done
    wait "${pids[0]}" || { cat "$work/job.out" >&2; fail "the job failed"; }
    pids=()
    cat "$work/job.out"
    grep -q "^records=1000 batches=10 status=completed push_failures=0 " "$work/job.out" ||
        fail "the job's own report: $(cat "$work/job.out")"
    checked_scrape >/dev/null
    for check in "streambatch_records 1000" "streambatch_batches 10" \
        "streambatch_push_failures_total 0" "streambatch_completed 1"; do
        [[ $(value "${check% *}" "$labels") == "${check#* }" ]] ||
            fail "after the job: ${check% *} is $(value "${check% *}" "$labels"), not ${check#* }"
    done
    [[ $(value streambatch_run_status "$labels,status=\"completed\"") == 1 ]] ||
        fail "after the job: status completed is not 1"
    [[ $(value streambatch_run_status "$labels,status=\"running\"") == 0 ]] ||
        fail "after the job: status running is not 0"
    [[ -n $(value push_time_seconds "$labels") ]] || fail "no push_time_seconds for the group"
    grep -E "^streambatch_records\{instance=\"\",job=\"push test/$$ nightly\"\} 1000$" "$work/scrape.prom"
    echo "after the job: 1000 records, 10 batches, completed, 0 failed pushes; the group stays"
    ;;
partitions)
    job="partitioned $$"
    for p in 0 1; do
        # a push may take over the default 1 s on a loaded CI machine: these check the figures,
        # not the timeout (the unit tests in tests/runner/test_push.cpp do)
        "$job_bin" run --job "$job" --records 1000 --batch 50 --partition "$p/2" --push "$url" \
            --push-every-ms 0 --push-timeout-ms 10000 --gate "$work/gate" --pause-at 4 \
            >"$work/job-$p.out" 2>&1 &
        pids+=($!)
    done
    wait_until 120 test -e "$work/gate/paused-4" || fail "no partition reached batch 4"
    # both paused before batch 4 (the same gate file serves both): 200 records each, running
    wait_until 60 records_are "job=\"$job\",partition=\"0\",partitions=\"2\"" 200 ||
        fail "partition 0 is not at 200 records while paused"
    wait_until 60 records_are "job=\"$job\",partition=\"1\",partitions=\"2\"" 200 ||
        fail "partition 1 is not at 200 records while paused"
    checked_scrape >/dev/null
    touch "$work/gate/go-4"
    for i in 0 1; do
        wait "${pids[$i]}" || { cat "$work/job-$i.out" >&2; fail "partition $i failed"; }
    done
    pids=()
    checked_scrape >/dev/null
    total=0
    for p in 0 1; do
        l="job=\"$job\",partition=\"$p\",partitions=\"2\""
        n=$(value streambatch_records "$l")
        [[ $n == 500 ]] || fail "partition $p: $n records, not 500 (the job said: $(cat "$work/job-$p.out"))"
        [[ $(value streambatch_run_status "$l,status=\"completed\"") == 1 ]] ||
            fail "partition $p is not completed"
        grep -q "^records=500 batches=10 status=completed push_failures=0 " "$work/job-$p.out" ||
            fail "partition $p's report: $(cat "$work/job-$p.out")"
        total=$((total + n))
    done
    [[ $total == 1000 ]] || fail "the partitions add up to $total, not 1000"
    grep -E "^streambatch_records\{instance=\"\",job=\"$job\",partition=\"[01]\",partitions=\"2\"\} 500$" "$work/scrape.prom"
    echo "two partitions, two groups: 500 + 500 = 1000 records"
    ;;
example)
    "$job_bin" --records 20000 --batch 500 --jobs 2 --passes 1 --push "$url" >"$work/job.out" 2>&1 ||
        { cat "$work/job.out" >&2; fail "parallel_transform failed"; }
    cat "$work/job.out"
    grep -q "20000 records" "$work/job.out" || fail "parallel_transform did not do 20000 records"
    grep -q "warning" "$work/job.out" && fail "a warning: $(cat "$work/job.out")"
    checked_scrape >/dev/null
    l='job="parallel_transform"'
    [[ $(value streambatch_records "$l") == 20000 ]] ||
        fail "the gateway says $(value streambatch_records "$l") records, not 20000"
    [[ $(value streambatch_run_status "$l,status=\"completed\"") == 1 ]] || fail "not completed"
    [[ $(value streambatch_push_failures_total "$l") == 0 ]] || fail "failed pushes"
    grep -E '^streambatch_records\{instance="",job="parallel_transform"\} 20000$' "$work/scrape.prom"
    ;;
*) fail "push_during_job.sh: single, partitions or example" ;;
esac
