#!/usr/bin/env bash
# Exactly-once under SIGKILL: the csv_to_sqlite job is killed at random points and restarted
# until it completes; the table must then equal the one an uninterrupted run loads: no row
# lost, none loaded twice.
#     kill_loop_sqlite.sh CSV_TO_SQLITE_EXE [KILLS]     (KILLS: at least this many; default 50)
# A longer run: STREAMBATCH_KILLS=1000 ctest -R killloop
set -euo pipefail
exe=$1
kills_wanted=${STREAMBATCH_KILLS:-${2:-50}}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

rows=60000
# The reference: one uninterrupted run (it also writes the CSV, with a few rejected rows).
"$exe" --rows "$rows" --csv in.csv --db reference.db --batch 50 > reference.log

kills=0 runs=0
RANDOM=$(( $(date +%s) % 32768 ))
while :; do
    runs=$((runs + 1))
    "$exe" --csv in.csv --db killed.db --batch 50 --jobs 2 --throttle-us 3000 > "run.log" 2>&1 &
    pid=$!
    if (( kills < kills_wanted )); then
        # a random point: 5 to 34 ms after the start (start-up, mid-batch, mid-commit, ...)
        sleep "0.0$(( RANDOM % 30 + 5 ))"
        if kill -9 "$pid" 2>/dev/null; then
            wait "$pid" 2>/dev/null || true
            kills=$((kills + 1))
            continue
        fi
    fi
    if wait "$pid"; then
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
echo "kills $kills, runs $runs: rows $got (want $want), distinct ids $distinct, missing $missing, not in the reference $extra"
[[ $kills -ge $kills_wanted && $got -eq $want && $distinct -eq $want && $missing -eq 0 && $extra -eq 0 ]]
