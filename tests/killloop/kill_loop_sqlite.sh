#!/usr/bin/env bash
# Exactly-once under SIGKILL, SIGTERM and SIGINT: the csv_to_sqlite job is signalled at random
# points (each signal chosen at random, a third of the runs each) and restarted until it
# completes; the table must then equal the one an uninterrupted run loads: no row lost, none
# loaded twice. A SIGTERM/SIGINT run must stop gracefully, exit 143/130 (0 if it had finished),
# and its run record say "stopped"; a SIGKILLed run's record says "killed" (marked by the next
# run) or "running"; the last run's "completed"; plot_profile accepts every memory_profile.json
# (a torn last line after SIGKILL only).
#     kill_loop_sqlite.sh CSV_TO_SQLITE_EXE [KILLS] [PLOT_PROFILE_EXE]   (KILLS: default 50)
# A longer run: STREAMBATCH_KILLS=1000 ctest -R killloop
set -euo pipefail
exe=$1
kills_wanted=${STREAMBATCH_KILLS:-${2:-50}}
plot=${3:-$(dirname "$exe")/plot_profile}
. "$(dirname "${BASH_SOURCE[0]}")/signals.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
start=$SECONDS

rows=60000
# The reference: one uninterrupted run (it also writes the CSV, with a few rejected rows).
"$exe" --rows "$rows" --csv in.csv --db reference.db --batch 50 > reference.log

want_rows=$(sqlite3 reference.db "SELECT count(*) FROM customers")
kills=0 runs=0
RANDOM=$(( $(date +%s) % 32768 ))
while :; do
    runs=$((runs + 1))
    # a job already complete (its last batch committed by a run signalled after it) would make
    # a run with nothing to do: start over instead, so that every signal hits a real run
    if [[ -f killed.db && $(sqlite3 killed.db "SELECT count(*) FROM customers" 2>/dev/null || echo 0) -eq $want_rows ]]; then
        rm -f killed.db killed.db-wal killed.db-shm
    fi
    env --default-signal=INT "$exe" --csv in.csv --db killed.db --batch 50 --jobs 2 --throttle-us 3000 --record-dir records \
        > run.log 2>&1 &
    pid=$!
    if (( kills < kills_wanted )); then
        # a random point: 5 to 64 ms after the start (start-up, mid-batch, mid-commit, ...)
        sleep "0.0$(( RANDOM % 60 + 5 ))"
        if kill -0 "$pid" 2>/dev/null; then
            next_signal
            signal_run "$pid" "$next_sig" run.log
            kills=$((kills + 1))
            if ((run_rc != 0)) && ! grep -q "($want_rows in the table)" run.log; then continue; fi
            # done before the signal: load again from scratch, still signalling
            rm -f killed.db killed.db-wal killed.db-shm
            continue
        fi
    fi
    if wait "$pid"; then
        expect_status[$pid]=completed
        if (( kills < kills_wanted )); then
            # finished before enough kills (a fast machine): load again from scratch, still killing
            rm -f killed.db killed.db-wal killed.db-shm
            continue
        fi
        break
    else
        echo "run $runs failed by itself:"; cat run.log; exit 1
    fi
done

check() { sqlite3 killed.db "ATTACH 'reference.db' AS ref; $1"; }
want=$(sqlite3 reference.db "SELECT count(*) FROM customers")
# An empty reference would make an empty killed table "equal": the reference must hold rows.
if ! [[ $want =~ ^[0-9]+$ ]] || (( want == 0 )); then
    echo "the reference run loaded '$want' rows (want more than 0); its log:"; cat reference.log; exit 1
fi
got=$(check "SELECT count(*) FROM customers")
distinct=$(check "SELECT count(DISTINCT id) FROM customers")
missing=$(check "SELECT count(*) FROM (SELECT * FROM ref.customers EXCEPT SELECT * FROM main.customers)")
extra=$(check "SELECT count(*) FROM (SELECT * FROM main.customers EXCEPT SELECT * FROM ref.customers)")
echo "signals $kills (SIGKILL $n_kill, SIGTERM $n_term, SIGINT $n_int; $n_finished_first runs done before theirs), runs $runs"
echo "rows $got (want $want), distinct ids $distinct, missing $missing, not in the reference $extra"
records_ok=0
check_records records "$plot" || records_ok=1
echo "time $((SECONDS - start)) s"
[[ $kills -ge $kills_wanted && $got -eq $want && $distinct -eq $want && $missing -eq 0 && $extra -eq 0 && $records_ok -eq 0 ]]
