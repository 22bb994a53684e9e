#!/usr/bin/env bash
# Exactly-once under SIGKILL for the Parquet dataset sink: csv_to_parquet is SIGKILLed at random
# points (start-up, mid-part, between a part's rename and its checkpoint, ...) and restarted
# until it completes; DuckDB (the npm oracles of tests/io/parquet/oracle) then reads the dataset
# and it must equal the one an uninterrupted run writes, as a multiset of rows: no row lost,
# none twice. No run may leave a half file that DuckDB's `dir/*.parquet` takes (temp names are
# hidden), and a killed run's leftovers are gone after the next open.
#     kill_loop_parquet.sh CSV_TO_PARQUET_EXE [KILLS]   (KILLS: default 50)
# Needs STREAMBATCH_PARQUET_ORACLES (install.sh's directory); exits 77 without it, or without
# node (1 in CI: CI=true or STREAMBATCH_REQUIRE_ALL=ON/1).
set -euo pipefail
exe=$1
kills_wanted=${STREAMBATCH_KILLS:-${2:-50}}
oracles=${STREAMBATCH_PARQUET_ORACLES:-}
required=0
[[ "${CI:-}" == true || "${STREAMBATCH_REQUIRE_ALL:-}" == ON || "${STREAMBATCH_REQUIRE_ALL:-}" == 1 ]] && required=1
if [[ -z "$oracles" || ! -f "$oracles/compare_datasets.mjs" ]] || ! command -v node >/dev/null; then
    echo "kill_loop_parquet.sh: the Parquet oracles are not installed ('$oracles')" >&2
    if ((required)); then exit 1; fi
    exit 77
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
start=$SECONDS
rows=60000
"$exe" --rows "$rows" --csv in.csv --out reference --batch 200 > reference.log

kills=0 runs=0
RANDOM=$(( $(date +%s) % 32768 ))
while :; do
    runs=$((runs + 1))
    "$exe" --csv in.csv --out killed --batch 200 --jobs 2 --throttle-us 3000 > run.log 2>&1 &
    pid=$!
    if (( kills < kills_wanted )); then
        sleep "0.0$(( RANDOM % 90 + 5 ))" # 5 to 94 ms after the start
        if kill -9 "$pid" 2>/dev/null; then
            wait "$pid" 2>/dev/null || true
            kills=$((kills + 1))
            continue
        fi
    fi
    if wait "$pid"; then
        if (( kills < kills_wanted )); then
            # finished before enough kills: write it again from scratch, still killing
            rm -rf killed
            continue
        fi
        break
    else
        echo "run $runs failed by itself:"; cat run.log; exit 1
    fi
done
leftovers=$(find killed -name '.*' -o -name '*.tmp' | wc -l)
result=$(node "$oracles/compare_datasets.mjs" "$work/reference" "$work/killed")
echo "SIGKILL $kills, runs $runs, leftovers after the last run $leftovers"
echo "$result"
echo "time $((SECONDS - start)) s"
want=$(sed -E 's/.*"reference":"([0-9]+)".*/\1/' <<<"$result")
[[ "$want" =~ ^[0-9]+$ ]] && (( want > 0 )) &&
    [[ "$result" == *"\"rows\":\"$want\""* && "$result" == *"\"distinct_ids\":\"$want\""* &&
       "$result" == *'"missing":"0"'* && "$result" == *'"extra":"0"'* ]] &&
    (( kills >= kills_wanted && leftovers == 0 ))
