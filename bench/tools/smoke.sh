#!/usr/bin/env bash
# bench/tools/smoke.sh: CTest's bench.tools.smoke. A 1 MiB copy of bench_csv's file, read by
# sb_csv_count and libcsv_count: both must print the same rows, fields and bytes, and the rows
# must be gen_bench_csv's. Seconds long; says nothing about speed.
#     smoke.sh GEN_BENCH_CSV SB_CSV_COUNT LIBCSV_COUNT
set -euo pipefail
gen=$1 sb=$2 lib=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
made=$(TMPDIR=$work STREAMBATCH_BENCH_CSV_MB=1 "$gen" "$work/in.csv")
a=$("$sb" "$work/in.csv")
b=$("$lib" "$work/in.csv")
echo "gen_bench_csv: $made"
echo "sb_csv_count:  $a"
echo "libcsv_count:  $b"
[[ $a == "$b" ]] || { echo "bench/tools smoke: the readers disagree" >&2; exit 1; }
[[ ${a%% *} == "${made%% *}" ]] || { echo "bench/tools smoke: not the generated rows" >&2; exit 1; }
echo "bench/tools smoke: agree $a"
