#!/usr/bin/env bash
# Exactly-once under SIGKILL, SIGTERM and SIGINT, PostgreSQL: the csv_to_postgres job is
# signalled at random points (each signal chosen at random, a third each) and restarted until it
# completes; its table must then equal the one an uninterrupted run loads from the same CSV: same
# count, every id once, same sum(id), same md5 of all rows ordered by id, nothing missing and
# nothing extra. SIGTERM/SIGINT: exit 143/130 (0 if done), run record "stopped"; SIGKILL: record
# "killed" or "running"; the last run "completed"; plot_profile accepts every memory profile.
# Then a partitioned pair (--partition 0/2 and 1/2, signalled and restarted): the table equals
# the reference and merge_runs adds both workers' records up to the CSV's rows.
#     kill_loop_postgres.sh CSV_TO_POSTGRES_EXE [KILLS] [PLOT_PROFILE_EXE] [MERGE_RUNS_EXE]
# The server: STREAMBATCH_PG_ENV (the env file of tests/io/sql/pg_server.sh; CTest sets it), else
# the PG* variables. psql: STREAMBATCH_PSQL, else psql on PATH. A longer run:
# STREAMBATCH_KILLS=1000 ctest -R killloop.postgres
set -euo pipefail
exe=$1
kills_wanted=${STREAMBATCH_KILLS:-${2:-50}}
plot=${3:-$(dirname "$exe")/plot_profile}
merge=${4:-$(dirname "$exe")/merge_runs}
. "$(dirname "${BASH_SOURCE[0]}")/signals.sh"
if [[ -n ${STREAMBATCH_PG_ENV:-} ]]; then
    set -a; . "$STREAMBATCH_PG_ENV"; set +a
fi
psql=${STREAMBATCH_PSQL:-psql}
export PGOPTIONS="-c client_min_messages=warning"
q() { "$psql" -X -q -A -t -v ON_ERROR_STOP=1 -c "$1"; }

# Tables of their own (the pid), so runs against one server do not collide. The job state rows:
# one per job key, the table's name ("T", or "T I/N" with --partition).
ref=killloop_pg_ref_$$ killed=killloop_pg_killed_$$ parted=killloop_pg_parted_$$
work=$(mktemp -d)
cleanup() {
    q "DROP TABLE IF EXISTS $ref; DROP TABLE IF EXISTS $killed; DROP TABLE IF EXISTS $parted;
       DELETE FROM streambatch_job_state WHERE job IN ('$ref', '$killed', '$parted') OR job LIKE '$parted %'" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
cd "$work"
start=$SECONDS

rows=60000
# The reference: one uninterrupted run (it also writes the CSV).
"$exe" --rows "$rows" --csv in.csv --table "$ref" --fresh --batch 50 > reference.log
q "DROP TABLE IF EXISTS $killed; DELETE FROM streambatch_job_state WHERE job = '$killed'"

kills=0 runs=0 fresh= fence_retries=0
tx_choices=(0 200 1000)
declare -A tx_seen=()
RANDOM=$(( $(date +%s) % 32768 ))
while :; do
    runs=$((runs + 1))
    # a job already complete (its last batch committed by a run signalled after it) would make
    # a run with nothing to do: start over instead, so that every signal hits a real run
    if [[ -z $fresh && $(q "SELECT to_regclass('$killed') IS NOT NULL") == t && $(q "SELECT count(*) FROM $killed") -eq $rows ]]; then
        fresh=--fresh
    fi
    # Each run takes its own --transaction-rows: a transaction per batch, or batches sharing one
    # (4 or 20 batches of 50 rows), so that signals land inside transactions of several batches
    # and runs resume what runs of another setting committed.
    tx=${tx_choices[RANDOM % 3]}
    tx_seen[$tx]=1
    env --default-signal=INT "$exe" --csv in.csv --table "$killed" --batch 50 --jobs 2 --throttle-us 3000 $fresh \
        --transaction-rows "$tx" \
        --record-dir records > run.log 2>&1 &
    fresh=
    pid=$!
    if (( kills < kills_wanted )); then
        # a random point: 5 to 150 ms after the start (connecting, DDL, mid-COPY, mid-commit, ...)
        sleep "$(printf '0.%03d' $(( RANDOM % 146 + 5 )))"
        if kill -0 "$pid" 2>/dev/null; then
            next_signal
            signal_run "$pid" "$next_sig" run.log
            kills=$((kills + 1))
            # done before the signal (or stopped after its last batch): again from scratch
            if ((run_rc == 0)) || grep -q "($rows in " run.log; then fresh=--fresh; fi
            continue
        fi
    fi
    rc=0; wait "$pid" || rc=$?
    if ((rc == 0)); then
        expect_status[$pid]=completed
        if (( kills < kills_wanted )); then
            fresh=--fresh # finished before enough kills (a fast machine): again from scratch, still killing
            continue
        fi
        break
    elif ((rc == 75)); then
        # the killed holder's session not yet gone on the server: counted, tried again
        fence_retries=$((fence_retries + 1)); cat run.log >> fence_retries.log; sleep 0.2
        ((fence_retries <= 20)) || { echo "refused by the fence $fence_retries times:"; cat fence_retries.log; exit 1; }
    else
        echo "run $runs failed by itself (exit $rc):"; cat run.log; exit 1
    fi
done

stats() { q "SELECT count(*) || ' ' || count(DISTINCT id) || ' ' || coalesce(sum(id), 0) || ' ' ||
                    md5(coalesce(string_agg(t::text, E'\n' ORDER BY id), '')) FROM $1 t"; }
want=$(stats "$ref")
got=$(stats "$killed")
missing=$(q "SELECT count(*) FROM (SELECT * FROM $ref EXCEPT ALL SELECT * FROM $killed) d")
extra=$(q "SELECT count(*) FROM (SELECT * FROM $killed EXCEPT ALL SELECT * FROM $ref) d")
echo "signals $kills (SIGKILL $n_kill, SIGTERM $n_term, SIGINT $n_int; $n_finished_first runs done before theirs), runs $runs, fence refusals after a kill $fence_retries, --transaction-rows taken: ${!tx_seen[*]}"
echo "reference (count distinct sum md5): $want"
echo "killed    (count distinct sum md5): $got"
echo "missing $missing, not in the reference $extra"
records_ok=0
check_records records "$plot" || records_ok=1
read -r n_ref d_ref _ <<<"$want"
[[ $kills -ge $kills_wanted && $n_ref -eq $rows && $d_ref -eq $rows && "$got" == "$want" && $missing -eq 0 && $extra -eq 0 && $records_ok -eq 0 ]] ||
    { echo "FAILED: the single job"; exit 1; }

# --- Two partitions, each signalled a few times at random points and restarted -------------
"$exe" --csv in.csv --table "$parted" --setup-only --fresh > setup.log
declare -A ppid=() prc=() psig=()
part_signals=0
start_part() { # I
    env --default-signal=INT "$exe" --csv in.csv --table "$parted" --batch 50 --jobs 2 --throttle-us 3000 --partition "$1/2" \
        --transaction-rows 200 \
        --record-dir parts > "part$1.log" 2>&1 &
    ppid[$1]=$!
}
for round in 1 2 3 4; do
    start_part 0; start_part 1
    sleep "$(printf '0.%03d' $(( RANDOM % 146 + 5 )))"
    for i in 0 1; do
        if kill -0 "${ppid[$i]}" 2>/dev/null; then
            next_signal
            signal_run "${ppid[$i]}" "$next_sig" "part$i.log"
            part_signals=$((part_signals + 1))
        else
            rc=0; wait "${ppid[$i]}" || rc=$?
            ((rc == 0)) || { echo "partition $i/2 failed by itself (exit $rc):"; cat "part$i.log"; exit 1; }
            expect_status[${ppid[$i]}]=completed
        fi
    done
done
for i in 0 1; do # the last runs, to the end
    rc=1
    for try in 1 2 3; do
        "$exe" --csv in.csv --table "$parted" --batch 50 --jobs 2 --partition "$i/2" --record-dir parts \
            > "part$i.log" 2>&1 && rc=0 || rc=$?
        ((rc != 75)) && break
        sleep 0.2
    done
    ((rc == 0)) || { echo "partition $i/2, last run, exit $rc:"; cat "part$i.log"; exit 1; }
done
while IFS= read -r rd; do expect_status[${rd##*-}]=${expect_status[${rd##*-}]:-completed}; done \
    < <(for i in 0 1; do readlink -f "parts/part-000$i-of-0002/latest"; done)
got_p=$(stats "$parted")
missing_p=$(q "SELECT count(*) FROM (SELECT * FROM $ref EXCEPT ALL SELECT * FROM $parted) d")
extra_p=$(q "SELECT count(*) FROM (SELECT * FROM $parted EXCEPT ALL SELECT * FROM $ref) d")
echo "partitions 0/2 and 1/2: $part_signals signals; (count distinct sum md5): $got_p; missing $missing_p, extra $extra_p"
merge_rc=0
"$merge" parts > merge.log 2>&1 || merge_rc=$?
total_line=$(grep -i -m1 'records' merge.log || true)
echo "merge_runs exit $merge_rc: $total_line"
((merge_rc == 0)) || cat merge.log
merged_ok=1
grep -q "\b$rows\b\|$(printf "%'d" "$rows" 2>/dev/null)" merge.log || { echo "merge_runs does not report $rows rows:"; cat merge.log; merged_ok=0; }
records_ok=0
check_records parts "$plot" || records_ok=1
echo "time $((SECONDS - start)) s"
[[ "$got_p" == "$want" && $missing_p -eq 0 && $extra_p -eq 0 && $merge_rc -eq 0 && $merged_ok -eq 1 && $records_ok -eq 0 ]]
