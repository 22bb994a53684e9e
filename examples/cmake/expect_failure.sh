#!/usr/bin/env bash
# A bad command line's test: the command must exit with CODE and write exactly one line to
# stderr, matching REGEX (grep -E). Exit status and message are both checked.
#     expect_failure.sh CODE REGEX COMMAND [ARGS...]
set -uo pipefail
want=$1 regex=$2
shift 2
err=$(mktemp)
trap 'rm -f "$err"' EXIT
"$@" > /dev/null 2> "$err"
rc=$?
lines=$(wc -l < "$err")
if [[ $rc -ne $want ]]; then
    echo "exit status $rc, want $want; stderr:"; cat "$err"; exit 1
fi
if [[ $lines -ne 1 ]]; then
    echo "stderr has $lines lines, want 1:"; cat "$err"; exit 1
fi
if ! grep -Eq -- "$regex" "$err"; then
    echo "stderr does not match /$regex/:"; cat "$err"; exit 1
fi
echo "exit status $rc: $(cat "$err")"
