#!/usr/bin/env bash
# fuzz/run.sh [seconds] [target]: builds fuzz/<target>/fuzz_<target>.cpp (default target: csv)
# with clang++-16 -fsanitize=fuzzer,address,undefined and runs it for `seconds` (default 30)
# over a copy of fuzz/<target>/corpus/, so the committed seeds never grow. Kept crash inputs in
# fuzz/<target>/crashes/ are replayed first (each must pass now). Exits non-zero on a crash, a
# leak, a timeout, an uncaught exception or a sanitizer report; the input that did it is then in
# $FUZZ_BUILD_DIR/artifacts/ (copy it to fuzz/<target>/crashes/ to keep it as a regression).
#
# It also fails when libFuzzer executed no input at all (stat::number_of_executed_units), and
# prints how long the build and the run took.
#
#   FUZZ_BUILD_DIR  build and work directory (default: build/fuzz-<target> in the repository)
#   CXX_FUZZ        the compiler (default: clang++-16)
set -uo pipefail
seconds=${1:-30}
target=${2:-csv}
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
here=$repo/fuzz/$target
out=${FUZZ_BUILD_DIR:-$repo/build/fuzz-$target}
cxx=${CXX_FUZZ:-clang++-16}
exe=$out/fuzz_$target

if [[ ! -f $here/fuzz_$target.cpp ]]; then
    echo "fuzz/run.sh: no $here/fuzz_$target.cpp" >&2
    exit 2
fi
if ! command -v "$cxx" >/dev/null 2>&1; then
    echo "fuzz/run.sh: $cxx not found (Debian: clang-16 and libclang-rt-16-dev)" >&2
    exit 2
fi
mkdir -p "$out"

# Rebuild when the fuzzer or any header is newer than the binary.
if [[ ! -x $exe ]] || [[ -n $(find "$here/fuzz_$target.cpp" "$repo/include" -newer "$exe" -print -quit) ]]; then
    echo "fuzz/run.sh: building $exe with $cxx"
    built_at=$SECONDS
    "$cxx" -std=c++20 -g -O1 -fno-omit-frame-pointer \
        -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
        -I "$repo/include" "$here/fuzz_$target.cpp" -o "$exe.tmp" || exit 2
    mv "$exe.tmp" "$exe"
    echo "fuzz/run.sh: built in $((SECONDS - built_at)) s"
fi

rm -rf "$out/corpus" "$out/artifacts"
mkdir -p "$out/corpus" "$out/artifacts"
cp "$here"/corpus/* "$out/corpus/"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}

if compgen -G "$here/crashes/*" >/dev/null; then
    echo "fuzz/run.sh: replaying fuzz/$target/crashes/"
    "$exe" -runs=1 "$here"/crashes/* || { echo "fuzz/run.sh: a kept crash input still fails" >&2; exit 1; }
fi

# -max_len: the longest input the fuzzer makes or keeps; a seed longer than it is truncated, so
# it must hold the committed corpus whole (probe keeps a 22 KiB cgroup memory.stat for the
# over-16 KiB case). Checked below: a seed that does not fit fails the run instead of silently
# being cut.
case $target in
    probe) max_len=32768 ;;
    *) max_len=4096 ;;
esac
for seed in "$here"/corpus/*; do
    size=$(wc -c < "$seed")
    if (( size > max_len )); then
        echo "fuzz/run.sh: seed $seed is $size bytes, more than -max_len=$max_len: raise max_len for $target" >&2
        exit 2
    fi
done

dict=()
[[ -f $here/$target.dict ]] && dict=(-dict="$here/$target.dict")
echo "fuzz/run.sh: fuzzing $target for ${seconds}s"
fuzzed_at=$SECONDS
"$exe" -max_total_time="$seconds" -max_len="$max_len" -timeout=10 -rss_limit_mb=2048 \
    "${dict[@]}" -artifact_prefix="$out/artifacts/" -print_final_stats=1 "$out/corpus" \
    2>&1 | tee "$out/fuzz.log"
status=${PIPESTATUS[0]}
if [[ $status -ne 0 ]]; then
    echo "fuzz/run.sh: the fuzzer failed (exit $status); inputs in $out/artifacts/:" >&2
    ls -l "$out/artifacts/" >&2
    exit 1
fi
units=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$out/fuzz.log" | tail -n 1)
if [[ -z $units ]] || ((units == 0)); then
    echo "fuzz/run.sh: libFuzzer executed no input (stat::number_of_executed_units: ${units:-missing})" >&2
    exit 1
fi
echo "fuzz/run.sh: no crash in ${seconds}s ($units inputs executed, the $(ls "$here"/corpus | wc -l) seeds first; run took $((SECONDS - fuzzed_at)) s)"
