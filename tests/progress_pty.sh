#!/usr/bin/env bash
# The progress line of for_each_batch: drawn on a terminal, absent otherwise.
#     progress_pty.sh STREAM_RECORDS_EXE
set -euo pipefail
exe=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Under a pseudo-terminal (script(1) from util-linux): the line is redrawn in place with \r.
script -qec "$exe --records 200000 --batch 500 --jobs 2" /dev/null > "$work/tty.out" 2>&1
redraws=$(tr -cd '\r' < "$work/tty.out" | wc -c)
if ! grep -aq 'stream_records: [0-9]* records .* rec/s  RSS [0-9.]* MiB  batch ' "$work/tty.out"; then
    echo "no progress line on a terminal; output was:"; cat -v "$work/tty.out" | head -20; exit 1
fi
if ! grep -aq 'ETA ' "$work/tty.out"; then
    echo "no ETA although the total is known"; cat -v "$work/tty.out" | head -20; exit 1
fi
# 200 000 records in batches of 500 is 400 batches: the line must be redrawn in place more than
# once (drawn once and never updated would be a broken progress line).
if (( redraws < 2 )); then
    echo "the progress line was redrawn $redraws times (want at least 2); output was:"
    cat -v "$work/tty.out" | head -20; exit 1
fi
echo "terminal: progress line redrawn $redraws times"

# Not a terminal: nothing but the summary.
"$exe" --records 20000 > "$work/plain.out" 2> "$work/plain.err"
if [[ -s "$work/plain.err" ]]; then
    echo "stderr is not a terminal, yet something was written to it:"; cat -v "$work/plain.err"; exit 1
fi
echo "not a terminal: no progress output"
