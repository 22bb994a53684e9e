#!/usr/bin/env bash
# Exactly-once under SIGKILL, SIGTERM and SIGINT, PostgreSQL to a CSV file: the postgres_to_csv
# job is signalled at random points (each signal chosen at random, a third each) and restarted
# until it completes. Each batch is appended and fsync'ed before its checkpoint; a restart cuts
# off an uncommitted tail. The output must then equal, byte for byte, the export of one
# uninterrupted run (and load with COPY ... CSV HEADER: every id once, every source row).
# SIGTERM/SIGINT: exit 143/130 (0 if done), run record "stopped"; SIGKILL: "killed" or
# "running"; the last run "completed"; plot_profile accepts every memory profile.
#     kill_loop_file.sh POSTGRES_TO_CSV_EXE [KILLS] [PLOT_PROFILE_EXE]   (KILLS: default 50)
# The server: STREAMBATCH_PG_ENV (CTest sets it), else the PG* variables. psql: STREAMBATCH_PSQL,
# else psql on PATH. A longer run: STREAMBATCH_KILLS=1000 ctest -R killloop.file
set -euo pipefail
exe=$1
kills_wanted=${STREAMBATCH_KILLS:-${2:-50}}
plot=${3:-$(dirname "$exe")/plot_profile}
. "$(dirname "${BASH_SOURCE[0]}")/signals.sh"
if [[ -n ${STREAMBATCH_PG_ENV:-} ]]; then
    set -a; . "$STREAMBATCH_PG_ENV"; set +a
fi
psql=${STREAMBATCH_PSQL:-psql}
export PGOPTIONS="-c client_min_messages=warning"
q() { "$psql" -X -q -A -t -v ON_ERROR_STOP=1 -c "$1"; }

src=killloop_file_src_$$ out=killloop_file_out_$$
work=$(mktemp -d)
cleanup() {
    q "DROP TABLE IF EXISTS $src; DROP TABLE IF EXISTS $out" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
cd "$work"
start=$SECONDS

rows=60000 batch=50 jobs=2
# The source table (created by the job) and a reference export: one uninterrupted run.
"$exe" --fresh --rows "$rows" --table "$src" --out ref.csv --batch "$batch" > reference.log

kills=0 runs=0 fence_retries=0
RANDOM=$(( $(date +%s) % 32768 ))
while :; do
    runs=$((runs + 1))
    # a job already complete (its last batch committed by a run signalled after it) would make
    # a run with nothing to do: start over instead, so that every signal hits a real run
    # (records may hold quoted line breaks: complete is the reference's size, not a line count)
    if [[ -f out.csv ]] && (( $(stat -c %s out.csv) >= $(stat -c %s ref.csv) )); then rm -f out.csv out.csv.checkpoint; fi
    env --default-signal=INT "$exe" --table "$src" --out out.csv --batch "$batch" --jobs "$jobs" \
        --throttle-us 3000 --record-dir records > run.log 2>&1 &
    pid=$!
    if (( kills < kills_wanted )); then
        # a random point: 5 to 150 ms after the start (connecting, mid-fetch, mid-write, mid-checkpoint)
        sleep "$(printf '0.%03d' $(( RANDOM % 146 + 5 )))"
        if kill -0 "$pid" 2>/dev/null; then
            next_signal
            signal_run "$pid" "$next_sig" run.log
            kills=$((kills + 1))
            cat run.log >> signalled_runs.log
            # done before the signal (or stopped after its last batch): again from scratch
            if ((run_rc == 0)) || grep -q "($rows of $rows in all)" run.log; then rm -f out.csv out.csv.checkpoint; fi
            continue
        fi
    fi
    rc=0; wait "$pid" || rc=$?
    if ((rc == 0)); then
        expect_status[$pid]=completed
        if (( kills < kills_wanted )); then
            rm -f out.csv out.csv.checkpoint # finished before enough kills (a fast machine): again from scratch
            continue
        fi
        break
    elif ((rc == 75)); then
        fence_retries=$((fence_retries + 1)); cat run.log >> fence_retries.log; sleep 0.2
        ((fence_retries <= 20)) || { echo "refused by the fence $fence_retries times:"; cat fence_retries.log; exit 1; }
    else
        echo "run $runs failed by itself (exit $rc):"; cat run.log; exit 1
    fi
done

# Every record must parse: COPY ... CSV HEADER refuses a torn record, a second header, a bad id.
cols="id bigint, name text, email text, country text, balance double precision"
q "CREATE TABLE $out ($cols)"
q "\\copy $out FROM 'out.csv' WITH (FORMAT csv, HEADER true)"
source_rows=$(q "SELECT count(*) FROM $src")
lines=$(q "SELECT count(*) FROM $out")
distinct=$(q "SELECT count(DISTINCT id) FROM $out")
missing=$(q "SELECT count(*) FROM (SELECT * FROM $src EXCEPT ALL SELECT * FROM $out) d")
extra=$(q "SELECT count(*) FROM (SELECT * FROM $out EXCEPT ALL SELECT * FROM $src) d")
same=0 verdict="DIFFERS FROM"; cmp -s out.csv ref.csv && same=1 verdict=equals
logs=$(cat signalled_runs.log run.log 2>/dev/null || true)
resumes=$(grep -c 'resumed after id' <<<"$logs" || true)
cut=$(grep -c 'bytes of an uncommitted batch cut off' <<<"$logs" || true)
echo "signals $kills (SIGKILL $n_kill, SIGTERM $n_term, SIGINT $n_int; $n_finished_first runs done before theirs), runs $runs ($resumes resumed, $cut cut off an uncommitted tail), fence refusals after a kill $fence_retries"
echo "source rows $source_rows, output records $lines, distinct ids $distinct, missing $missing, extra $extra;" \
     "output $verdict the uninterrupted export ($(wc -c < out.csv) vs $(wc -c < ref.csv) bytes)"
((same)) || { echo "first difference:"; cmp out.csv ref.csv || true; }
records_ok=0
check_records records "$plot" || records_ok=1
echo "time $((SECONDS - start)) s"
[[ $kills -ge $kills_wanted && $source_rows -eq $rows && $lines -eq $rows && $distinct -eq $rows &&
   $missing -eq 0 && $extra -eq 0 && $same -eq 1 && $records_ok -eq 0 ]]
