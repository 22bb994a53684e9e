#!/usr/bin/env bash
# Races: ROUNDS rounds of two copies of the same job started together (two background starts
# in the same instant), each throttled so a run lasts about 0.3 to 0.5 s and overlaps the other.
# Every round exactly one copy exits 0 and the other exits 75 with a message naming the winner
# ("pid <winner's pid>"), and the data is exact (sqlite/postgres: count = distinct = reference,
# nothing missing or extra; file: the output equals the reference export byte for byte). A
# round where both exit 0 (one finished before the other started) must still have exact data;
# at least 90% of the rounds must be real refusals.
#     race.sh sqlite   CSV_TO_SQLITE_EXE   [ROUNDS]
#     race.sh postgres CSV_TO_POSTGRES_EXE [ROUNDS]
#     race.sh file     POSTGRES_TO_CSV_EXE [ROUNDS]      (ROUNDS: default 50)
# The PostgreSQL server: STREAMBATCH_PG_ENV (CTest sets it), else the PG* variables; psql:
# STREAMBATCH_PSQL, else psql on PATH.
set -euo pipefail
mode=$1 exe=$2 rounds=${STREAMBATCH_ROUNDS:-${3:-50}}
if [[ $mode != sqlite ]]; then
    if [[ -n ${STREAMBATCH_PG_ENV:-} ]]; then
        set -a; . "$STREAMBATCH_PG_ENV"; set +a
    fi
    psql=${STREAMBATCH_PSQL:-psql}
    export PGOPTIONS="-c client_min_messages=warning"
fi
q() { "$psql" -X -q -A -t -v ON_ERROR_STOP=1 -c "$1"; }
ref=race_ref_$$ tbl=race_tbl_$$
work=$(mktemp -d)
cleanup() {
    if [[ $mode != sqlite ]]; then
        q "DROP TABLE IF EXISTS $ref; DROP TABLE IF EXISTS $tbl;
           DELETE FROM streambatch_job_state WHERE job IN ('$ref', '$tbl')" >/dev/null 2>&1 || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT
cd "$work"
start=$SECONDS

rows=2000
# The reference (and the input: the CSV, or the source table).
case $mode in
sqlite)   "$exe" --rows "$rows" --csv in.csv --db ref.db --batch 50 > reference.log
          want=$(sqlite3 ref.db "SELECT count(*) FROM customers") ;;
postgres) "$exe" --rows "$rows" --csv in.csv --table "$ref" --fresh --batch 50 > reference.log
          want=$(q "SELECT count(*) FROM $ref") ;;
file)     "$exe" --fresh --rows "$rows" --table "$ref" --out ref.csv --batch 50 > reference.log
          want=$rows ;;
*) echo "race.sh: mode sqlite, postgres or file, not '$mode'"; exit 2 ;;
esac
((want > 0)) || { echo "the reference holds $want rows"; cat reference.log; exit 1; }

# 40 batches of 50 rows, 20 ms each on 2 threads: about 0.4 s a run
job() { # exec: the pid of the background job is the example's
    case $mode in
    sqlite)   exec "$exe" --csv in.csv --db race.db --batch 50 --jobs 2 --throttle-us 20000 ;;
    postgres) exec "$exe" --csv in.csv --table "$tbl" --batch 50 --jobs 2 --throttle-us 20000 ;;
    file)     exec "$exe" --table "$ref" --out race.csv --batch 50 --jobs 2 --throttle-us 20000 ;;
    esac
}
reset() {
    case $mode in
    sqlite)   rm -f race.db race.db-wal race.db-shm ;;
    postgres) q "DROP TABLE IF EXISTS $tbl; DELETE FROM streambatch_job_state WHERE job = '$tbl'" ;;
    file)     rm -f race.csv race.csv.checkpoint ;;
    esac
}
exact() { # prints "count distinct missing extra" and returns 0 when exact
    local n d m e
    case $mode in
    sqlite)
        n=$(sqlite3 race.db "SELECT count(*) FROM customers")
        d=$(sqlite3 race.db "SELECT count(DISTINCT id) FROM customers")
        m=$(sqlite3 race.db "ATTACH 'ref.db' AS r; SELECT count(*) FROM (SELECT * FROM r.customers EXCEPT SELECT * FROM main.customers)")
        e=$(sqlite3 race.db "ATTACH 'ref.db' AS r; SELECT count(*) FROM (SELECT * FROM main.customers EXCEPT SELECT * FROM r.customers)") ;;
    postgres)
        read -r n d <<<"$(q "SELECT count(*) || ' ' || count(DISTINCT id) FROM $tbl")"
        m=$(q "SELECT count(*) FROM (SELECT * FROM $ref EXCEPT ALL SELECT * FROM $tbl) x")
        e=$(q "SELECT count(*) FROM (SELECT * FROM $tbl EXCEPT ALL SELECT * FROM $ref) x") ;;
    file) # (records may hold quoted line breaks: the file is compared whole, lines only to say how it differs)
        if cmp -s race.csv ref.csv; then echo "$want $want 0 0 (equals the reference)"; return 0; fi
        n=$(wc -l < race.csv); d=$(sort -u race.csv | wc -l)
        m=$(comm -23 <(sort ref.csv) <(sort race.csv) | wc -l); e=$(comm -13 <(sort ref.csv) <(sort race.csv) | wc -l)
        echo "lines $n, distinct lines $d, lines missing $m, extra $e (differs from the reference)"; return 1 ;;
    esac
    echo "$n $d $m $e"
    [[ $n -eq $want && $d -eq $want && $m -eq 0 && $e -eq 0 ]]
}

refusals=0 both_done=0 bad=0
for ((r = 1; r <= rounds; r++)); do
    reset
    job > a.log 2>&1 & pa=$!
    job > b.log 2>&1 & pb=$!
    ra=0; wait "$pa" || ra=$?
    rb=0; wait "$pb" || rb=$?
    data=$(exact) && ok=1 || ok=0
    if ((ra == 0 && rb == 75)) && grep -q "pid $pa\b" b.log; then
        refusals=$((refusals + 1))
    elif ((ra == 75 && rb == 0)) && grep -q "pid $pb\b" a.log; then
        refusals=$((refusals + 1))
    elif ((ra == 0 && rb == 0)); then
        both_done=$((both_done + 1))
    else
        bad=$((bad + 1))
        echo "round $r: exits $ra (pid $pa) and $rb (pid $pb); logs:"; sed 's/^/  a: /' a.log; sed 's/^/  b: /' b.log
    fi
    if ((!ok)); then
        bad=$((bad + 1)); echo "round $r: data not exact (count distinct missing extra: $data; want $want)"
    fi
done
echo "$mode: $rounds rounds, $refusals refused the second copy naming the winner's pid, $both_done both exited 0 (not overlapping), $bad problems; time $((SECONDS - start)) s"
[[ $bad -eq 0 && $((refusals * 10)) -ge $((rounds * 9)) ]]
