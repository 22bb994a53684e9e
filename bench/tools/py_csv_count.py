#!/usr/bin/env python3
"""bench/tools/py_csv_count.py: Python's csv module, for bench/tools/compare.sh.

    py_csv_count.py FILE

csv.reader over the file opened with newline="" (the documented way, so quoted newlines are
kept), the header row skipped; prints "rows=R fields=F bytes=B" like sb_csv_count. Decoded
as Latin-1: one character per byte, so len() of a field is its byte length in the file (the
main job's names hold UTF-8; the delimiters and quotes are ASCII either way)."""
import csv
import sys


def main():
    rows = fields = nbytes = 0
    with open(sys.argv[1], newline="", encoding="latin-1") as f:
        reader = csv.reader(f)
        next(reader)
        for row in reader:
            rows += 1
            fields += len(row)
            for s in row:
                nbytes += len(s)
    print(f"rows={rows} fields={fields} bytes={nbytes}")


main()
