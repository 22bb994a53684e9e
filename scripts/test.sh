#!/usr/bin/env bash
# The one test command: `bash scripts/test.sh` (README's second command; .ci/run calls it).
# Installs everything the tests need (scripts/install-deps.sh: Debian packages, as root or
# through sudo; nothing when all are installed), then configures, builds and tests four ways,
# stopping at the first failure:
#   dev (g++ Debug, -Werror; also the once-per-tree checks: mutants, clang-format),
#   asan (clang++-16 -O0, -Werror, ASan + UBSan: the clang build and the sanitizers in one),
#   tsan (g++ -O1, ThreadSanitizer, unit tests: the parallel runner), release (-O3, the
#   benchmarks only: each run once at a tiny size, a smoke run that asserts no time; the unit
#   tests run optimised under tsan, and the whole suite in the two Debug presets).
# The clang16 preset (clang++-16 without sanitizers) stays for a quick clang build:
#   bash scripts/test.sh clang16
# Each is a CMake workflow preset (CMakePresets.json), so any one can be rerun alone:
#   cmake --workflow --preset asan
# or pass preset names: bash scripts/test.sh dev asan
#
# Prints passed, failed and skipped apart, per preset and in total ("N passed, N failed,
# N skipped"). Under CI (CI=true) a skipped test is a failure, and STREAMBATCH_REQUIRE_ALL=ON
# (read by the presets) makes a missing optional tool or library a configure error.
#   STREAMBATCH_NO_INSTALL=1   do not run scripts/install-deps.sh
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

ci=false
[[ ${CI:-} == true || ${CI:-} == 1 ]] && ci=true
if $ci; then
    export STREAMBATCH_REQUIRE_ALL=${STREAMBATCH_REQUIRE_ALL:-ON}
fi
if [[ -z ${STREAMBATCH_NO_INSTALL:-} ]]; then
    bash scripts/install-deps.sh || { echo "scripts/test.sh: scripts/install-deps.sh failed" >&2; exit 1; }
fi

missing=()
for tool in cmake ninja g++ clang++-16; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if ((${#missing[@]})); then
    echo "scripts/test.sh: missing ${missing[*]}; run: bash scripts/install-deps.sh" >&2
    exit 1
fi

presets=("$@")
((${#presets[@]})) || presets=(dev asan tsan release)

log=$(mktemp)
trap 'rm -f "$log"' EXIT

total_passed=0 total_failed=0 total_skipped=0 status=0
for preset in "${presets[@]}"; do
    echo "=== cmake --workflow --preset $preset"
    cmake --workflow --preset "$preset" 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    # ctest's closing line: "100% tests passed, 0 tests failed out of N"; skipped tests count
    # among the "passed" there and are listed after it as "  12 - name (Skipped)".
    line=$(grep -E 'tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -n 1 || true)
    if [[ -z $line ]]; then
        echo "scripts/test.sh: preset $preset: no ctest summary (configure or build failed, exit $rc)" >&2
        status=1
        break
    fi
    [[ $line =~ ([0-9]+)\ tests?\ failed\ out\ of\ ([0-9]+) ]]
    failed=${BASH_REMATCH[1]} ran=${BASH_REMATCH[2]}
    skipped=$(grep -cE '^[[:space:]]*[0-9]+ - .* \((Skipped|Disabled)\)$' "$log" || true)
    passed=$((ran - failed - skipped))
    echo "=== $preset: $passed passed, $failed failed, $skipped skipped"
    if ((skipped)); then
        grep -E '^[[:space:]]*[0-9]+ - .* \((Skipped|Disabled)\)$' "$log" | sed 's/^/    skipped: /'
    fi
    total_passed=$((total_passed + passed))
    total_failed=$((total_failed + failed))
    total_skipped=$((total_skipped + skipped))
    if ((rc != 0 || failed != 0)); then
        status=1
        break
    fi
    if $ci && ((skipped)); then
        echo "scripts/test.sh: $skipped test(s) skipped in $preset under CI: every test must run here" >&2
        status=1
        break
    fi
done
echo "$total_passed passed, $total_failed failed, $total_skipped skipped"
exit $status
