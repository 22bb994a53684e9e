#!/usr/bin/env bash
# Exactly-once under SIGKILL, PostgreSQL: the csv_to_postgres job is killed at random points and
# restarted until it completes; its table must then equal the one an uninterrupted run loads
# from the same CSV: same count, every id once, same sum(id), same md5 of all rows ordered by
# id, nothing missing and nothing extra.
#     kill_loop_postgres.sh CSV_TO_POSTGRES_EXE [KILLS]   (KILLS: at least this many; default 50)
# The server: STREAMBATCH_PG_ENV (the env file of tests/io/sql/pg_server.sh; CTest sets it), else
# the PG* variables. psql: STREAMBATCH_PSQL, else psql on PATH. A longer run:
# STREAMBATCH_KILLS=1000 ctest -R killloop.postgres
set -euo pipefail
exe=$1
kills_wanted=${STREAMBATCH_KILLS:-${2:-50}}
if [[ -n ${STREAMBATCH_PG_ENV:-} ]]; then
    set -a; . "$STREAMBATCH_PG_ENV"; set +a
fi
psql=${STREAMBATCH_PSQL:-psql}
export PGOPTIONS="-c client_min_messages=warning"
q() { "$psql" -X -q -A -t -v ON_ERROR_STOP=1 -c "$1"; }

# Tables of their own (the pid), so runs against one server do not collide.
ref=killloop_pg_ref_$$ killed=killloop_pg_killed_$$
work=$(mktemp -d)
cleanup() {
    q "DROP TABLE IF EXISTS $ref; DROP TABLE IF EXISTS $killed;
       DELETE FROM streambatch_checkpoint WHERE job IN ('$ref', '$killed')" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
cd "$work"

rows=60000
# The reference: one uninterrupted run (it also writes the CSV).
"$exe" --rows "$rows" --csv in.csv --table "$ref" --fresh --batch 50 > reference.log
q "DROP TABLE IF EXISTS $killed; DELETE FROM streambatch_checkpoint WHERE job = '$killed'"

kills=0 runs=0 fresh=
RANDOM=$(( $(date +%s) % 32768 ))
while :; do
    runs=$((runs + 1))
    "$exe" --csv in.csv --table "$killed" --batch 50 --jobs 2 --throttle-us 3000 $fresh > run.log 2>&1 &
    fresh=
    pid=$!
    if (( kills < kills_wanted )); then
        # a random point: 5 to 100 ms after the start (connecting, DDL, mid-COPY, mid-commit, ...)
        sleep "$(printf '0.%03d' $(( RANDOM % 96 + 5 )))"
        if kill -9 "$pid" 2>/dev/null; then
            wait "$pid" 2>/dev/null || true
            kills=$((kills + 1))
            continue
        fi
    fi
    if wait "$pid"; then
        if (( kills < kills_wanted )); then
            fresh=--fresh # finished before enough kills (a fast machine): again from scratch, still killing
            continue
        fi
        break
    else
        echo "run $runs failed by itself:"; cat run.log; exit 1
    fi
done

stats() { q "SELECT count(*) || ' ' || count(DISTINCT id) || ' ' || coalesce(sum(id), 0) || ' ' ||
                    md5(coalesce(string_agg(t::text, E'\n' ORDER BY id), '')) FROM $1 t"; }
want=$(stats "$ref")
got=$(stats "$killed")
missing=$(q "SELECT count(*) FROM (SELECT * FROM $ref EXCEPT ALL SELECT * FROM $killed) d")
extra=$(q "SELECT count(*) FROM (SELECT * FROM $killed EXCEPT ALL SELECT * FROM $ref) d")
echo "kills $kills, runs $runs"
echo "reference (count distinct sum md5): $want"
echo "killed    (count distinct sum md5): $got"
echo "missing $missing, not in the reference $extra"
read -r n_ref d_ref _ <<<"$want"
[[ $kills -ge $kills_wanted && $n_ref -eq $rows && $d_ref -eq $rows && "$got" == "$want" && $missing -eq 0 && $extra -eq 0 ]]
