#!/usr/bin/env bash
# The one benchmark command: every benchmark whose figures the README and docs/ quote, into the
# committed bench/RESULTS*.md (tests/docs_figures.py checks the quoted figures against them).
#
#     bash scripts/bench.sh [--smoke] [--only PARTS] [--out-dir DIR] [run.py options...]
#
# Parts (all by default, in this order):
#   main         bench/run.py: bench_chunk, bench_adaptive_chunk, bench_memory_guarded,
#                bench_record_bytes, the whole-process harness beside the Python design program,
#                callgrind  -> RESULTS.md, results.json, plots/*.svg
#   partitions   bench_partitions: 1 worker against 2 over one CSV -> RESULTS-partitions.md
#   checkpoint   bench/checkpoint_cost.sh: the main job (csv_to_sqlite) with and without
#                checkpoints -> RESULTS-checkpoint.md
#   csv          bench_csv: the CSV reader against libcsv and memchr -> RESULTS-csv.md
#   runner       bench_runner: for_each_batch against oneTBB's parallel_pipeline -> RESULTS-runner.md
#   tools        bench/tools/compare.sh: the CSV reader against libcsv, Python csv, pandas, DuckDB
#                and wc -l; the loads against sqlite3 .import and psql \copy -> RESULTS-tools.md,
#                plots/tools_*.svg (installs DuckDB from npm into a scratch directory)
#   postgres     bench/pg_load.sh: csv_to_postgres (exactly once) against psql \copy on a
#                throw-away server -> RESULTS-postgres.md
#   alloc        bench/alloc.py: batches against one record at a time (bench_alloc: glibc's trim,
#                malloc_policy, batch_arena), stream_records against the Python design
#                -> RESULTS-alloc.md
#
# --smoke        tiny sizes, one run of each: checks that everything builds and runs (a minute or
#                two), and writes into build/release/bench-smoke/ unless --out-dir says otherwise:
#                never over the committed results.
# --only a,b     run only those parts.
# --out-dir DIR  where the RESULTS files go (default bench/).
# Anything else goes to bench/run.py (the main part), e.g. --runs 7 --reps 15.
# Builds the `release` preset (Release, STREAMBATCH_BUILD_BENCHMARKS=ON); run it on a quiet machine.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

all_parts=(main partitions checkpoint csv runner tools postgres alloc)
smoke=0 only="" out_dir="" run_py=()
while (($#)); do
    case $1 in
    --smoke) smoke=1 ;;
    --only)
        [[ $# -ge 2 && -n $2 ]] || { echo "scripts/bench.sh: --only needs a list, e.g. --only csv,runner" >&2; exit 2; }
        only=$2
        shift
        ;;
    --only=*) only=${1#--only=} ;;
    --out-dir)
        [[ $# -ge 2 && -n $2 ]] || { echo "scripts/bench.sh: --out-dir needs a directory" >&2; exit 2; }
        out_dir=$2
        shift
        ;;
    --out-dir=*) out_dir=${1#--out-dir=} ;;
    --out | --out=*)
        echo "scripts/bench.sh: use --out-dir DIR (every RESULTS file goes there)" >&2
        exit 2
        ;;
    *) run_py+=("$1") ;;
    esac
    shift
done
parts=("${all_parts[@]}")
if [[ -n $only ]]; then
    IFS=, read -ra parts <<<"$only"
    for p in "${parts[@]}"; do
        [[ " ${all_parts[*]} " == *" $p "* ]] || { echo "scripts/bench.sh: unknown part '$p' (parts: ${all_parts[*]})" >&2; exit 2; }
    done
fi
want() { [[ " ${parts[*]} " == *" $1 "* ]]; }
if [[ -z $out_dir ]]; then
    if ((smoke)); then out_dir=build/release/bench-smoke; else out_dir=bench; fi
fi
mkdir -p "$out_dir"
out_dir=$(cd "$out_dir" && pwd)

missing=()
need() { # tool, Debian package
    if ! command -v "$1" >/dev/null 2>&1 && [[ ! -x "$1" ]]; then missing+=("$2"); fi
}
need cmake cmake
need ninja ninja-build
need g++ g++
need /usr/bin/python3 python3      # Debian's python3, called by path: a pyenv one may shadow it
[[ -f /usr/include/benchmark/benchmark.h ]] || missing+=(libbenchmark-dev)
[[ -f /usr/include/range/v3/view/chunk.hpp ]] || missing+=(librange-v3-dev)
if want alloc; then
    need valgrind valgrind
    need /usr/bin/time time
    if [[ -x /usr/bin/python3 ]] && ! /usr/bin/python3 -c 'import psutil' 2>/dev/null; then
        missing+=(python3-psutil)
    fi
fi
if want main; then
    need gnuplot gnuplot-nox
    need valgrind valgrind
    if [[ -x /usr/bin/python3 ]] && ! /usr/bin/python3 -c 'import psutil' 2>/dev/null; then
        missing+=(python3-psutil)
    fi
fi
if want csv && [[ ! -f /usr/include/csv.h ]]; then missing+=(libcsv-dev); fi
if want runner && [[ ! -f /usr/include/tbb/parallel_pipeline.h ]]; then missing+=(libtbb-dev); fi
if want checkpoint && [[ ! -f /usr/include/sqlite3.h ]]; then missing+=(libsqlite3-dev); fi
if want tools; then
    [[ -f /usr/include/csv.h ]] || missing+=(libcsv-dev)
    need sqlite3 sqlite3
    need psql postgresql-15
    need node nodejs
    need npm npm
    need gnuplot gnuplot-nox
    if [[ -x /usr/bin/python3 ]] && ! /usr/bin/python3 -c 'import pandas' 2>/dev/null; then
        missing+=(python3-pandas)
    fi
fi
if want postgres; then
    [[ -f /usr/include/postgresql/libpq-fe.h ]] || missing+=(libpq-dev)
    need psql postgresql-client
    need /usr/bin/time time
    ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
fi
if ((${#missing[@]})); then
    echo "scripts/bench.sh: missing Debian packages: ${missing[*]}" >&2
    echo "  install them with: apt-get install ${missing[*]}   (or: bash scripts/install-deps.sh)" >&2
    exit 1
fi

targets=()
want main && targets+=(bench_chunk bench_adaptive_chunk bench_memory_guarded bench_record_bytes streambatch_harness)
want partitions && targets+=(bench_partitions)
want checkpoint && targets+=(example_csv_to_sqlite)
want csv && targets+=(bench_csv)
want runner && targets+=(bench_runner)
want tools && targets+=(bench_tool_sb_csv_count bench_tool_libcsv_count bench_tool_gen_bench_csv
                        example_csv_to_sqlite example_csv_to_postgres)
want postgres && targets+=(example_csv_to_postgres)
want alloc && targets+=(bench_alloc example_stream_records)
cmake --preset release >/dev/null
cmake --build --preset release --target "${targets[@]}"
bin=build/release/bench
start=$SECONDS
note() { echo "== scripts/bench.sh: $* ($((SECONDS - start)) s so far)" >&2; }

if want main; then
    note "main: bench/run.py -> $out_dir/RESULTS.md"
    smoke_flag=()
    ((smoke)) && smoke_flag=(--smoke)
    /usr/bin/python3 bench/run.py --build-dir build/release --out "$out_dir/RESULTS.md" "${smoke_flag[@]}" "${run_py[@]}"
fi
if want partitions; then
    note "partitions -> $out_dir/RESULTS-partitions.md"
    if ((smoke)); then
        "$bin/bench_partitions" --rows 3000 --reps 1 --work 1 --markdown "$out_dir/RESULTS-partitions.md"
    else
        "$bin/bench_partitions" --reps 7 --markdown "$out_dir/RESULTS-partitions.md"
    fi
fi
if want checkpoint; then
    note "checkpoint -> $out_dir/RESULTS-checkpoint.md"
    if ((smoke)); then
        bash bench/checkpoint_cost.sh build/release/examples/csv_to_sqlite 2000 1 "$out_dir/RESULTS-checkpoint.md"
    else
        bash bench/checkpoint_cost.sh build/release/examples/csv_to_sqlite 1000000 7 "$out_dir/RESULTS-checkpoint.md"
    fi
fi
gbench() { # part, binary, repetitions, extra flags...
    local part=$1 exe=$2 reps=$3
    shift 3
    local json
    json=$(mktemp --suffix .json)
    "$exe" --benchmark_repetitions="$reps" --benchmark_enable_random_interleaving=true \
        --benchmark_format=console --benchmark_out_format=json --benchmark_out="$json" "$@" >&2
    local smoke_flag=()
    ((smoke)) && smoke_flag=(--smoke)
    /usr/bin/python3 bench/gbench_results.py "$part" "$json" "${smoke_flag[@]}" >"$out_dir/RESULTS-$part.md"
    rm -f "$json"
}
if want csv; then
    note "csv -> $out_dir/RESULTS-csv.md"
    if ((smoke)); then
        STREAMBATCH_BENCH_CSV_MB=1 gbench csv "$bin/bench_csv" 2 --benchmark_min_time=0.001
    else
        gbench csv "$bin/bench_csv" 15
    fi
fi
if want runner; then
    note "runner -> $out_dir/RESULTS-runner.md"
    if ((smoke)); then
        gbench runner "$bin/bench_runner" 2 --benchmark_min_time=0.001
    else
        gbench runner "$bin/bench_runner" 15
    fi
fi
if want tools; then
    note "tools -> $out_dir/RESULTS-tools.md"
    if ((smoke)); then
        bash bench/tools/compare.sh --smoke --out-dir "$out_dir"
    else
        bash bench/tools/compare.sh --out-dir "$out_dir"
    fi
fi
if want postgres; then
    note "postgres -> $out_dir/RESULTS-postgres.md"
    if ((smoke)); then
        bash bench/pg_load.sh --rows 20000 --pairs 1 --out "$out_dir/RESULTS-postgres.md"
    else
        bash bench/pg_load.sh --rows 300000 --pairs 5 --out "$out_dir/RESULTS-postgres.md"
    fi
fi
if want alloc; then
    note "alloc -> $out_dir/RESULTS-alloc.md"
    smoke_flag=()
    ((smoke)) && smoke_flag=(--smoke)
    /usr/bin/python3 bench/alloc.py --build-dir build/release --out "$out_dir/RESULTS-alloc.md" "${smoke_flag[@]}"
fi
note "done: ${parts[*]} -> $out_dir"
