#!/usr/bin/env bash
# The one benchmark command: `bash scripts/bench.sh`. Builds the benchmarks (the `release`
# preset: Release, STREAMBATCH_BUILD_BENCHMARKS=ON), runs the micro-benchmarks, the
# whole-process harness beside the Python design program, and the callgrind cross-checks, and
# writes bench/RESULTS.md, bench/results.json (every run's raw figures) and bench/plots/*.svg,
# and bench_partitions' table to bench/RESULTS-partitions.md.
# Takes about 10-15 minutes on 2 cores. Options go to bench/run.py, e.g.:
#   bash scripts/bench.sh --runs 7 --reps 15      # more runs of each figure
#   bash scripts/bench.sh --smoke --out /tmp/r.md # tiny sizes, one run (seconds)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

missing=()
need() { # tool, Debian package
    if ! command -v "$1" >/dev/null 2>&1 && [[ ! -x "$1" ]]; then missing+=("$2"); fi
}
need cmake cmake
need ninja ninja-build
need g++ g++
need /usr/bin/python3 python3      # Debian's python3, called by path: a pyenv one may shadow it
need gnuplot gnuplot-nox
need valgrind valgrind
if [[ -x /usr/bin/python3 ]] && ! /usr/bin/python3 -c 'import psutil' 2>/dev/null; then
    missing+=(python3-psutil)
fi
if [[ ! -f /usr/include/benchmark/benchmark.h ]]; then missing+=(libbenchmark-dev); fi
if [[ ! -f /usr/include/range/v3/view/chunk.hpp ]]; then missing+=(librange-v3-dev); fi
if ((${#missing[@]})); then
    echo "scripts/bench.sh: missing Debian packages: ${missing[*]}" >&2
    echo "  install them with: apt-get install ${missing[*]}   (or: bash scripts/install-deps.sh)" >&2
    exit 1
fi

cmake --preset release >/dev/null
cmake --build --preset release --target \
    bench_chunk bench_adaptive_chunk bench_memory_guarded bench_record_bytes streambatch_harness
# Partitions: 1 worker against 2 over one CSV (whole processes; about 15 s).
if [[ " $* " != *" --smoke "* ]]; then
    cmake --build --preset release --target bench_partitions
    build/release/bench/bench_partitions --reps 7 --markdown bench/RESULTS-partitions.md
fi
exec /usr/bin/python3 bench/run.py --build-dir build/release "$@"
