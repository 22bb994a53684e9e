#!/usr/bin/env bash
# fuzz/probe/run.sh [seconds]: builds fuzz_probe (clang++-16, libFuzzer + ASan + UBSan) and runs
# it for `seconds` (default 60) over a copy of fuzz/probe/corpus/, so the seeds in the
# repository stay as they are. Exits non-zero when the fuzzer finds a crash, a leak, a timeout,
# an uncaught exception other than streambatch::probe_error, or a sanitizer report; the input
# is then in $FUZZ_PROBE_OUT/artifacts/ (copy it to fuzz/probe/crashes/ to keep it).
#
#   FUZZ_PROBE_OUT   build and work directory (default: build/fuzz-probe in the repository)
#   FUZZ_PROBE_JOBS  parallel fuzzing processes (default 1)
set -uo pipefail
seconds=${1:-60}
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
out=${FUZZ_PROBE_OUT:-$repo/build/fuzz-probe}
jobs=${FUZZ_PROBE_JOBS:-1}
cxx=${CXX_FUZZ:-clang++-16}

mkdir -p "$out"
echo "fuzz/probe/run.sh: building $out/fuzz_probe with $cxx"
"$cxx" -std=c++20 -g -O1 -fno-omit-frame-pointer \
    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -I "$repo/include" "$here/fuzz_probe.cpp" -o "$out/fuzz_probe" || exit 2

rm -rf "$out/corpus" "$out/artifacts"
cp -r "$here/corpus" "$out/corpus"
mkdir -p "$out/artifacts"

# Replay the kept crashes first: each must now pass (a regression otherwise).
if compgen -G "$here/crashes/*" >/dev/null; then
    echo "fuzz/probe/run.sh: replaying fuzz/probe/crashes/"
    "$out/fuzz_probe" -runs=1 "$here"/crashes/* || { echo "fuzz/probe/run.sh: a kept crash still crashes"; exit 1; }
fi

# -max_len must hold every seed whole (v1_stat_over_16k is 22 KiB): a longer one would be cut.
for seed in "$here"/corpus/*; do
    if [ "$(wc -c < "$seed")" -gt 32768 ]; then
        echo "fuzz/probe/run.sh: seed $seed is longer than -max_len=32768" >&2; exit 2
    fi
done
echo "fuzz/probe/run.sh: fuzzing for ${seconds}s, $jobs job(s)"
args=(-max_total_time="$seconds" -max_len=32768 -timeout=10 -rss_limit_mb=2048
      -dict="$here/probe.dict" -artifact_prefix="$out/artifacts/" -print_final_stats=1)
if [ "$jobs" -gt 1 ]; then
    args+=(-fork="$jobs" -ignore_crashes=0)
fi
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1} \
    "$out/fuzz_probe" "${args[@]}" "$out/corpus" 2>&1 | tee "$out/fuzz.log"
status=${PIPESTATUS[0]}

found=$(find "$out/artifacts" -type f | wc -l)
if [ "$status" -ne 0 ] || [ "$found" -ne 0 ]; then
    echo "fuzz/probe/run.sh: FAILED (status $status); inputs in $out/artifacts:"
    ls -l "$out/artifacts"
    exit 1
fi
echo "fuzz/probe/run.sh: no findings; corpus grew to $(ls "$out/corpus" | wc -l) inputs (log: $out/fuzz.log)"
