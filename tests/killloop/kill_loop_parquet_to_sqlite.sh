#!/usr/bin/env bash
# parquet_to_sqlite, exactly once: a Parquet file that csv_to_parquet writes (the main job's CSV,
# cleaned, one part of many row groups) is loaded into SQLite while the load is SIGKILLed at
# random points and restarted until it completes; the table must equal what csv_to_sqlite loads
# from the same CSV (count, distinct ids, no row missing or extra either way). Then: three
# partitions loaded by three runs equal it too; a run after the file was replaced is refused
# (exit 65) naming the file, and one with a bad --partition exits 1 naming it.
#     kill_loop_parquet_to_sqlite.sh PARQUET_TO_SQLITE CSV_TO_PARQUET CSV_TO_SQLITE [KILLS]
set -euo pipefail
p2s=$1 c2p=$2 c2s=$3
kills_wanted=${STREAMBATCH_KILLS:-${4:-20}}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
fail() { echo "FAIL: $*"; exit 1; }

rows=40000
"$c2s" --rows "$rows" --csv in.csv --db reference.db --batch 1000 > reference.log
"$c2p" --csv in.csv --out ds --batch 500 --batches-per-part 1000 > c2p.log
part=$(ls ds/part-*.parquet)
[[ $(wc -w <<<"$part") -eq 1 ]] || fail "want one part file, got: $part"
want=$(sqlite3 reference.db "SELECT count(*) FROM customers")
((want > 0)) || fail "the reference holds no rows"

# The kill loop: each run throttled, so that a kill lands mid-load.
kills=0 runs=0
RANDOM=$(( $(date +%s) % 32768 ))
while :; do
    runs=$((runs + 1))
    "$p2s" --parquet "$part" --db killed.db --table customers --batch 300 --throttle-us 5000 \
        > run.log 2>&1 &
    pid=$!
    if ((kills < kills_wanted)); then
        sleep "$(printf '0.%03d' $((RANDOM % 500 + 30)))" # 30 to 529 ms: start-up, mid-batch, mid-commit
        if kill -KILL "$pid" 2>/dev/null; then
            wait "$pid" 2>/dev/null || true
            kills=$((kills + 1))
            continue
        fi
    fi
    wait "$pid" || { cat run.log; fail "run $runs failed by itself"; }
    grep -q "($want in the table)" run.log && break
    # finished before enough kills: start over, still killing
    ((kills < kills_wanted)) || { cat run.log; fail "the last run did not load $want rows"; }
    rm -f killed.db killed.db-wal killed.db-shm
done
grep -q "resumed at" run.log || ((kills == 0)) || { cat run.log; fail "the last run did not resume"; }

compare() { # compare DB TABLE: the table against the reference
    local db=$1 t=$2
    local got distinct missing extra
    got=$(sqlite3 "$db" "SELECT count(*) FROM $t")
    distinct=$(sqlite3 "$db" "SELECT count(DISTINCT id) FROM $t")
    missing=$(sqlite3 "$db" "ATTACH 'reference.db' AS ref; SELECT count(*) FROM (SELECT * FROM ref.customers EXCEPT SELECT * FROM main.$t)")
    extra=$(sqlite3 "$db" "ATTACH 'reference.db' AS ref; SELECT count(*) FROM (SELECT * FROM main.$t EXCEPT SELECT * FROM ref.customers)")
    echo "$db $t: rows $got (want $want), distinct ids $distinct, missing $missing, not in the reference $extra"
    [[ $got -eq $want && $distinct -eq $want && $missing -eq 0 && $extra -eq 0 ]]
}
echo "SIGKILLs $kills, runs $runs"
compare killed.db customers || fail "the killed load differs from the reference"

# Three partitions, each its own job, together the file once.
for i in 0 1 2; do
    "$p2s" --parquet "$part" --db parts.db --table customers --partition "$i/3" --batch 700 > "part$i.log"
done
compare parts.db customers || fail "the partitioned load differs from the reference"

# Another file under the same name (after a load of the first): refused with 65, naming it;
# nothing written.
"$p2s" --parquet "$part" --db changed.db --table customers --batch 300 > /dev/null
before=$(sqlite3 changed.db "SELECT count(*) FROM customers")
"$c2p" --csv in.csv --out ds2 --batch 700 --batches-per-part 1000 > /dev/null
cp "$(ls ds2/part-*.parquet)" "$part"
set +e
"$p2s" --parquet "$part" --db changed.db --table customers --batch 300 > changed.log 2>&1
rc=$?
set -e
[[ $rc -eq 65 ]] || { cat changed.log; fail "a replaced file: exit $rc, want 65"; }
grep -q "$part is not the file the stored state was taken on" changed.log ||
    { cat changed.log; fail "the refusal does not name the file"; }
[[ $(sqlite3 changed.db "SELECT count(*) FROM customers") -eq $before ]] || fail "rows written after the refusal"

set +e
"$p2s" --parquet "$part" --db bad.db --partition 3/3 > bad.log 2>&1
rc=$?
set -e
[[ $rc -ne 0 ]] && grep -q '3/3' bad.log || { cat bad.log; fail "--partition 3/3: exit $rc"; }
echo "ok"
