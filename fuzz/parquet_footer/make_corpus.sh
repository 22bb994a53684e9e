#!/usr/bin/env bash
# fuzz/parquet_footer/make_corpus.sh [parquet-testing dir]: (re)makes the seed corpus from
# apache/parquet-testing: footers (mode 0), the first page header of a few column chunks
# (mode 1), and a few small whole files (mode 2), each at most 4096 bytes (run.sh's -max_len).
set -euo pipefail
src=${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)/shared/parquet-testing}
out=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/corpus
mkdir -p "$out"
python3 - "$src" "$out" <<'PY'
import os, struct, sys
src, out = sys.argv[1], sys.argv[2]
def footer(path):
    b = open(path, 'rb').read()
    n = struct.unpack('<I', b[-8:-4])[0]
    return b, b[len(b) - 8 - n:len(b) - 8]
footers = ['alltypes_plain', 'alltypes_dictionary', 'datapage_v2.snappy', 'nested_lists.snappy',
           'byte_array_decimal', 'int32_decimal', 'fixed_length_decimal', 'nulls.snappy',
           'list_columns', 'sort_columns', 'unknown-logical-type', 'column_chunk_key_value_metadata',
           'concatenated_gzip_members', 'binary_truncated_min_max', 'int96_from_spark',
           'repeated_no_annotation', 'nested_maps.snappy', 'data_index_bloom_encoding_stats']
for name in footers:
    b, f = footer(os.path.join(src, 'data', name + '.parquet'))
    if len(f) + 1 <= 4096:
        open(os.path.join(out, 'footer_' + name), 'wb').write(b'\x00' + f)
for name in ['PARQUET-1481', 'ARROW-GH-41317', 'ARROW-RS-GH-6229-DICTHEADER']:
    b, f = footer(os.path.join(src, 'bad_data', name + '.parquet'))
    if len(f) + 1 <= 4096:
        open(os.path.join(out, 'footer_bad_' + name), 'wb').write(b'\x00' + f)
# Page headers: the bytes at a few chunk starts (the header and some page data after it).
for name, offset in [('alltypes_plain.snappy', 4), ('alltypes_plain', 4), ('datapage_v2.snappy', 4)]:
    b = open(os.path.join(src, 'data', name + '.parquet'), 'rb').read()
    open(os.path.join(out, 'page_' + name), 'wb').write(b'\x01' + b[offset:offset + 64])
for name in ['rle_boolean_encoding', 'byte_array_decimal', 'nan_in_stats', 'single_nan']:
    b = open(os.path.join(src, 'data', name + '.parquet'), 'rb').read()
    if len(b) + 1 <= 4096:
        open(os.path.join(out, 'file_' + name), 'wb').write(b'\x02' + b)
PY
ls "$out" | wc -l
