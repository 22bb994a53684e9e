#!/usr/bin/env bash
# Self-test of discover_tests_script.cmake (CTest test discover_tests.self_test): a listing
# with a name holding ';' fails, naming the test; a clean listing writes one add_test per name.
# Usage: discover_tests_selftest.sh CMAKE_COMMAND
set -u
cmake=$1
here=$(cd "$(dirname "$0")" && pwd)
t=$(mktemp -d)
trap 'rm -rf -- "$t"' EXIT
fail() { echo "discover_tests self-test: $*" >&2; exit 1; }
echo 'set(prefix "x.")' >"$t/args.cmake"
list() { # a fake Catch binary listing its arguments, exiting with their count (as Catch 2 does)
    { echo '#!/bin/sh'; for n in "$@"; do printf "echo '%s'\n" "$n"; done; echo "exit $#"; } >"$t/exe"
    chmod +x "$t/exe"
}
run() { "$cmake" -D EXE="$t/exe" -D ARGS="$t/args.cmake" -D OUT="$t/out.cmake" -D WORKDIR="$t" \
    -P "$here/discover_tests_script.cmake" >"$t/log" 2>&1; }

list "a test" "reads its pages; a moved source reads on" "third"
run && fail "a name holding ';' was accepted: $(cat "$t/log")"
grep -q "holds ';'" "$t/log" || fail "no clear error: $(cat "$t/log")"
tr -d '\n' <"$t/log" | tr -s ' ' | grep -q "reads its pages; a moved source reads on" ||
    fail "the error does not name the test: $(cat "$t/log")"
[[ ! -e $t/out.cmake ]] || fail "tests were written for a refused listing"

list "a test" "b, [with] brackets"
run || fail "a clean listing failed: $(cat "$t/log")"
[[ $(grep -c '^add_test' "$t/out.cmake") == 2 ]] || fail "want 2 add_test lines: $(cat "$t/out.cmake")"
echo "discover_tests self-test: ok"
