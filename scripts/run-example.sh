#!/usr/bin/env bash
# The main job: installs what it needs (Debian packages, as root or through sudo), builds the
# flagship example in Release and runs it. Arguments go to the example, e.g.
#     bash scripts/run-example.sh --records 10000000 --batch 500
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/install-deps.sh
cmake -S . -B build/example -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DSTREAMBATCH_BUILD_TESTS=OFF -DSTREAMBATCH_BUILD_EXAMPLES=ON -DSTREAMBATCH_INSTALL=OFF >/dev/null
cmake --build build/example --target example_stream_records
exec build/example/examples/stream_records "$@"
