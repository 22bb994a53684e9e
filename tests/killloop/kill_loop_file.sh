#!/usr/bin/env bash
# At-least-once under SIGKILL, PostgreSQL to a CSV file: the postgres_to_csv job is killed at
# random points and restarted until it completes. Then the output CSV must parse as a whole
# (loaded with COPY ... CSV HEADER: a torn or stray record fails), hold every source row (same
# columns, same values), and its duplicates - rows written again after a kill - must stay within
# the bound its header comment states: (2 x checkpoint_every + max_in_flight) x batch rows per kill.
# Every 5th kill also appends a torn record (as a machine crash mid-write would leave), which the
# resume must drop.
#     kill_loop_file.sh POSTGRES_TO_CSV_EXE [KILLS]   (KILLS: at least this many; default 50)
# The server: STREAMBATCH_PG_ENV (CTest sets it), else the PG* variables. psql: STREAMBATCH_PSQL,
# else psql on PATH. A longer run: STREAMBATCH_KILLS=1000 ctest -R killloop.file
set -euo pipefail
exe=$1
kills_wanted=${STREAMBATCH_KILLS:-${2:-50}}
if [[ -n ${STREAMBATCH_PG_ENV:-} ]]; then
    set -a; . "$STREAMBATCH_PG_ENV"; set +a
fi
psql=${STREAMBATCH_PSQL:-psql}
export PGOPTIONS="-c client_min_messages=warning"
q() { "$psql" -X -q -A -t -v ON_ERROR_STOP=1 -c "$1"; }

src=killloop_file_src_$$ out=killloop_file_out_$$ refout=killloop_file_ref_$$
work=$(mktemp -d)
cleanup() {
    q "DROP TABLE IF EXISTS $src; DROP TABLE IF EXISTS $out; DROP TABLE IF EXISTS $refout" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
cd "$work"

rows=100000 batch=50 jobs=2 every=10
# The source table (created by the job) and a reference export: one uninterrupted run.
"$exe" --fresh --rows "$rows" --table "$src" --out ref.csv --batch "$batch" > reference.log

kills=0 runs=0 injected=0
RANDOM=$(( $(date +%s) % 32768 ))
while :; do
    runs=$((runs + 1))
    "$exe" --table "$src" --out out.csv --batch "$batch" --jobs "$jobs" --checkpoint-every "$every" \
        --throttle-us 3000 > run.log 2>&1 &
    pid=$!
    if (( kills < kills_wanted )); then
        # a random point: 5 to 200 ms after the start (connecting, mid-fetch, mid-write, mid-checkpoint)
        sleep "$(printf '0.%03d' $(( RANDOM % 196 + 5 )))"
        if kill -9 "$pid" 2>/dev/null; then
            wait "$pid" 2>/dev/null || true
            kills=$((kills + 1))
            cat run.log >> killed_runs.log
            # A kill -9 never tears one write(2) of a batch, but a crash of the machine can: every
            # 5th kill leaves a torn record (an open quote holding a line break) for the resume to drop.
            if (( kills % 5 == 0 )) && [[ -s out.csv ]]; then
                printf '999999,"torn\nrecord, Jr.' >> out.csv
                injected=$((injected + 1))
            fi
            continue
        fi
    fi
    if wait "$pid"; then
        if (( kills < kills_wanted )); then
            rm -f out.csv out.csv.ckpt # finished before enough kills (a fast machine): again from scratch
            continue
        fi
        break
    else
        echo "run $runs failed by itself:"; cat run.log; exit 1
    fi
done

# Every record must parse: COPY ... CSV HEADER refuses a torn record, a second header, a bad id.
cols="id bigint, name text, email text, country text, balance double precision"
q "CREATE TABLE $out ($cols); CREATE TABLE $refout ($cols)"
q "\\copy $out FROM 'out.csv' WITH (FORMAT csv, HEADER true)"
q "\\copy $refout FROM 'ref.csv' WITH (FORMAT csv, HEADER true)"

source_rows=$(q "SELECT count(*) FROM $src")
lines=$(q "SELECT count(*) FROM $out")
distinct=$(q "SELECT count(DISTINCT id) FROM $out")
missing=$(q "SELECT count(*) FROM (SELECT * FROM $src EXCEPT SELECT * FROM $out) d")
foreign=$(q "SELECT count(*) FROM (SELECT * FROM $out EXCEPT SELECT * FROM $src) d")
ref_bad=$(q "SELECT count(*) FROM (SELECT * FROM $src EXCEPT ALL SELECT * FROM $refout) a") 
ref_bad=$((ref_bad + $(q "SELECT count(*) FROM (SELECT * FROM $refout EXCEPT ALL SELECT * FROM $src) a")))
dups=$((lines - distinct))
per_kill=$(( (2 * every + jobs) * batch ))
bound=$(( per_kill * kills ))
max_run=$(q "SELECT coalesce(max(c), 1) - 1 FROM (SELECT count(*) c FROM $out GROUP BY id) d")
logs=$(cat killed_runs.log run.log 2>/dev/null || true)
torn=$(grep -c 'resuming after id .*; [1-9][0-9]* torn bytes dropped' <<<"$logs" || true)
resumes=$(grep -c 'resuming after id' <<<"$logs" || true)
echo "kills $kills, runs $runs ($resumes resumed from a checkpoint, $torn of them dropped a torn record; $injected injected): source rows $source_rows, output records $lines, distinct ids $distinct,"
echo "  missing $missing, not in the source $foreign, reference export mismatches $ref_bad"
echo "  duplicates $dups (bound (2 x $every + $jobs) x $batch = $per_kill per kill x $kills kills = $bound;" \
     "$(awk -v d="$dups" -v k="$kills" 'BEGIN { printf "%.1f", k ? d / k : 0 }') per kill seen);" \
     "most copies of one row: $((max_run + 1))"
[[ $kills -ge $kills_wanted && $source_rows -eq $rows && $distinct -eq $rows && $missing -eq 0 && $foreign -eq 0 &&
   $ref_bad -eq 0 && $dups -le $bound && $torn -le $injected ]]
