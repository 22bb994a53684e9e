#!/usr/bin/env python3
"""bench/tools/pandas_count.py: pandas read_csv(chunksize=...), for bench/tools/compare.sh.

    pandas_count.py FILE [CHUNKSIZE]     (default 100000 rows a chunk)

Every column read as text (dtype=str, empty fields as "" rather than NaN: no type inference, the
same work as the other tools), C engine, the header as the column names; per chunk the rows,
fields and the summed lengths (Series.str.len, vectorised); prints "rows=R fields=F bytes=B"
like sb_csv_count. Decoded as Latin-1, as py_csv_count.py: a field's length is its byte length."""
import sys

import pandas as pd


def main():
    chunk = int(sys.argv[2]) if len(sys.argv) > 2 else 100_000
    rows = fields = nbytes = 0
    for df in pd.read_csv(sys.argv[1], chunksize=chunk, dtype=str, keep_default_na=False,
                          na_filter=False, engine="c", encoding="latin-1"):
        rows += len(df)
        fields += df.size
        for col in df.columns:
            nbytes += int(df[col].str.len().sum())
    print(f"rows={rows} fields={fields} bytes={nbytes}")


main()
