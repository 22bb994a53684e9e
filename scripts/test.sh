#!/usr/bin/env bash
# The one test command: `bash scripts/test.sh`.
# Configures, builds and tests five ways, stopping at the first failure:
#   dev (g++ Debug, -Werror), clang16 (clang++-16 Debug, -Werror), asan (g++, ASan + UBSan),
#   tsan (g++, ThreadSanitizer, unit tests: the parallel runner), release (-O3: the tests
#   again, and every benchmark run once at a tiny size, a smoke run that asserts no time).
# Each is a CMake workflow preset (CMakePresets.json), so any one can be rerun alone:
#   cmake --workflow --preset asan
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

missing=()
for tool in cmake ninja g++ clang++-16; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if ((${#missing[@]})); then
    echo "scripts/test.sh: missing ${missing[*]}; run: bash scripts/install-deps.sh" >&2
    exit 1
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT

total=0
for preset in dev clang16 asan tsan release; do
    echo "=== cmake --workflow --preset $preset"
    cmake --workflow --preset "$preset" 2>&1 | tee "$log"
    # ctest's closing line: "100% tests passed, 0 tests failed out of N"
    line=$(grep -E 'tests passed, 0 tests failed out of [0-9]+' "$log" | tail -n 1 || true)
    if [[ -z "$line" ]]; then
        echo "scripts/test.sh: no ctest summary for preset $preset" >&2
        exit 1
    fi
    n=${line##* }
    echo "=== $preset: $n passed"
    total=$((total + n))
done
echo "$total passed, 0 failed"
