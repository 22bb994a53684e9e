#!/usr/bin/env bash
# The main job (README's first command): installs only what it needs (a compiler, CMake, Ninja,
# SQLite: `scripts/install-deps.sh example`, as root or through sudo), builds the
# flagship example in Release and runs it in build/example/job/: it generates a 1 M-row CSV of
# customers (customers.csv) unless one is there, cleans every row and loads it into SQLite
# (customers.db) under a memory guard, exactly once: run it again and it resumes where it
# stopped (after a kill, a crash, or a completed run: then there is nothing left to load).
# Arguments go to the example, e.g.
#     bash scripts/run-example.sh --rows 10000000 --batch 500 --jobs 2
# For the generated-records job without a database: build/example/examples/stream_records.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/install-deps.sh example
cmake -S . -B build/example -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DSTREAMBATCH_BUILD_TESTS=OFF -DSTREAMBATCH_BUILD_EXAMPLES=ON -DSTREAMBATCH_BUILD_BENCHMARKS=OFF \
      -DSTREAMBATCH_INSTALL=OFF >/dev/null
cmake --build build/example --target example_csv_to_sqlite example_stream_records
mkdir -p build/example/job
cd build/example/job
exec ../examples/csv_to_sqlite --record-dir run "$@"
