// Writes the matrix of files other writers produce, for the reader's oracle test
// (test_written_files.cpp): node write_files.mjs OUT_DIR
// Writers: DuckDB (@duckdb/node-api: COPY ... (FORMAT parquet) with each codec, PARQUET_VERSION
// V1 (PLAIN_DICTIONARY) and V2 (DELTA_*, BYTE_STREAM_SPLIT; its pages stay v1), dictionary on
// and off; every type it writes), hyparquet-writer (its types and every
// encoding it writes; SNAPPY, GZIP through node's zlib, ZSTD through the `zstd` command as its
// README says: a Compressors entry), parquet-wasm (arrow-rs: each codec incl. Hadoop LZ4,
// writer versions 1 and 2, dictionary on and off, DELTA_*, BYTE_STREAM_SPLIT).
// For each OUT_DIR/<name>.parquet, OUT_DIR/<name>.tsv holds the values expected: every column
// cast to VARCHAR as DuckDB reads the file (a header line of names, then a line per row; tab
// separated; NULL is \N; \\, \t, \n, \r escaped), which the C++ test compares with
// value::to_string. The files of one table hold the same values, so one reading serves them
// all: where DuckDB reads a file its reading must equal the table's (else this script fails);
// where it cannot (Hadoop LZ4, BYTE_STREAM_SPLIT on integers or FIXED_LEN_BYTE_ARRAY) the
// table's reading is the expectation, and OUT_DIR/files.tsv says so. A column DuckDB reads
// lossily (UTC nanosecond timestamps: its TIMESTAMPTZ keeps microseconds) is replaced by the
// generated values in DuckDB's text. The first reading of each table is checked against what
// was generated (integers, strings, nanosecond timestamps) before anything is written out.
// OUT_DIR/files.tsv: name, writer, what the file is meant to cover, and where its expectation
// comes from ("duckdb" or "table"). OUT_DIR/.done when all went well.
import { DuckDBInstance } from '@duckdb/node-api';
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';

const [outDir] = process.argv.slice(2);
if (!outDir) {
  console.error('usage: write_files.mjs OUT_DIR');
  process.exit(2);
}
rmSync(outDir, { recursive: true, force: true });
mkdirSync(outDir, { recursive: true });
const instance = await DuckDBInstance.create(':memory:', { threads: '1' });
const con = await instance.connect();
const esc = (s) => s.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r');
const manifest = [];

// Every value of `path` as DuckDB reads it, in the .tsv form; throws when DuckDB refuses it.
async function duckdbText(path) {
  const q = `SELECT COLUMNS(*)::VARCHAR FROM read_parquet('${path.replace(/'/g, "''")}')`;
  const reader = await con.runAndReadAll(q);
  let out = reader.columnNames().map(esc).join('\t') + '\n';
  for (const r of reader.getRowsJS())
    out += r.map((v) => (v === null ? '\\N' : esc(String(v)))).join('\t') + '\n';
  return out;
}

// The files of one table: the first one's DuckDB reading is the table's expectation.
class table {
  constructor(writer, check, fix = async (tsv) => tsv) {
    this.writer = writer;
    this.check = check; // (tsv) => throws unless the values are the generated ones
    this.fix = fix; // (tsv) => tsv with the columns DuckDB reads lossily replaced
    this.text = null;
  }
  async add(name, covers, write) {
    const path = `${outDir}/${name}.parquet`;
    write(path);
    let text = null, source = 'duckdb';
    try {
      text = await this.fix(await duckdbText(path));
    } catch (e) {
      if (this.text === null) throw new Error(`${name}: DuckDB cannot read the table's first file: ${e.message}`);
      source = 'table';
    }
    if (this.text === null) {
      this.check(text);
      this.text = text;
    } else if (text !== null && text !== this.text) {
      throw new Error(`${name}: DuckDB reads other values than the table's first file`);
    }
    writeFileSync(`${outDir}/${name}.tsv`, text ?? this.text);
    manifest.push([name, this.writer, covers, source]);
  }
}

// Column `col` of a .tsv text replaced by `values` (already text; null: \N).
function replaceColumn(tsv, col, values) {
  const lines = tsv.split('\n').slice(0, -1);
  const at = lines[0].split('\t').indexOf(col);
  if (at < 0) throw new Error(`no column ${col}`);
  return lines.map((line, i) => {
    if (i === 0) return line;
    const f = line.split('\t');
    f[at] = values[i - 1] === null ? '\\N' : esc(values[i - 1]);
    return f.join('\t');
  }).join('\n') + '\n';
}

// DuckDB's text of TIMESTAMP_NS values given as nanoseconds since the epoch (BigInt or null).
async function timestampNsText(values) {
  const list = values.map((x) => (x === null ? 'NULL' : String(x))).join(', ');
  const reader = await con.runAndReadAll(`SELECT make_timestamp_ns(x)::VARCHAR FROM unnest([${list}]) t(x)`);
  return reader.getRowsJS().map((r) => r[0]);
}

// Checks that column `col` of a .tsv text is `want` (strings; null: \N).
function checkColumn(tsv, col, want) {
  const lines = tsv.split('\n').slice(0, -1);
  const at = lines[0].split('\t').indexOf(col);
  if (at < 0) throw new Error(`no column ${col}`);
  if (lines.length - 1 !== want.length) throw new Error(`${col}: ${lines.length - 1} rows, want ${want.length}`);
  for (let i = 0; i < want.length; ++i) {
    const got = lines[i + 1].split('\t')[at];
    const w = want[i] === null ? '\\N' : esc(String(want[i]));
    if (got !== w) throw new Error(`${col} row ${i}: DuckDB reads "${got}", written "${w}"`);
  }
}

// ---- DuckDB ---------------------------------------------------------------------------------
{
  const n = 3000;
  await con.run(`CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy')`);
  await con.run(`CREATE TABLE t AS SELECT
    i AS id,
    CASE WHEN i % 7 = 0 THEN NULL ELSE i * 1.5 - 2000 END::DOUBLE AS d,
    CASE i % 1000 WHEN 1 THEN 'nan'::FLOAT WHEN 2 THEN 'inf'::FLOAT WHEN 3 THEN '-inf'::FLOAT
         ELSE (i / 3.0)::FLOAT END AS f,
    CASE WHEN i % 11 = 0 THEN NULL ELSE i % 3 = 0 END AS b,
    ((i % 256) - 128)::TINYINT AS i8,
    ((i * 37) % 65536 - 32768)::SMALLINT AS i16,
    (i * 1000003 - 1500000000)::INTEGER AS i32,
    (i % 256)::UTINYINT AS u8,
    ((i * 37) % 65536)::USMALLINT AS u16,
    ((i * 2654435761) % 4294967296)::UINTEGER AS u32,
    (i * 1000003)::UBIGINT + 9223372036854775808::UBIGINT AS u64,
    (i * 1000000007)::BIGINT - 2000000000000 AS i64,
    'str' || (i % 50) AS s,
    CASE WHEN i % 5 = 0 THEN NULL ELSE repeat(chr((97 + i % 26)::INTEGER), (i % 40)::INTEGER) || 'é' END AS s2,
    CASE WHEN i % 9 = 0 THEN NULL ELSE unhex(md5(i::VARCHAR)) END AS bl,
    DATE '1970-01-01' + (i * 97 - 200000)::INTEGER AS dt,
    TIME '00:00:00' + to_microseconds(i * 12345678) AS tm,
    TIMESTAMP '1960-01-01' + to_microseconds(i * 1234567891) AS ts,
    (TIMESTAMP '1960-01-01' + to_microseconds(i * 1234567891))::TIMESTAMP_MS AS ts_ms,
    (TIMESTAMP '1960-01-01' + to_microseconds(i * 1234567891))::TIMESTAMP_NS AS ts_ns,
    (TIMESTAMP '1960-01-01' + to_seconds(i * 1234))::TIMESTAMP_S AS ts_s,
    (TIMESTAMP '2000-01-01' + to_seconds(i))::TIMESTAMPTZ AS tstz,
    ((i % 9999) - 5000)::DECIMAL(4, 0) / 100 AS dec4,
    (i * 1.5 - 1000)::DECIMAL(9, 2) AS dec9,
    (i * 12345.678 - 30000000)::DECIMAL(18, 3) AS dec18,
    (i * 123456789012.345678 - 100)::DECIMAL(38, 6) AS dec38,
    CASE WHEN i % 13 = 0 THEN NULL ELSE md5(i::VARCHAR)::UUID END AS u,
    (['sad', 'ok', 'happy'])[i % 3 + 1]::mood AS m,
    ('{"n": ' || i || ', "s": "v' || (i % 4) || '"}')::JSON AS j
  FROM range(0, ${n}) r(i)`);
}

// Each codec, data pages v1 and v2, dictionary on and off (for two codecs), row groups of 1000.
async function duckdbFiles() {
  const tab = new table('duckdb', (tsv) => {
    checkColumn(tsv, 'id', Array.from({ length: 3000 }, (_, i) => i));
    checkColumn(tsv, 's', Array.from({ length: 3000 }, (_, i) => 'str' + (i % 50)));
  });
  for (const dict of [true, false]) {
    for (const v2 of [false, true]) {
      for (const codec of ['uncompressed', 'snappy', 'gzip', 'zstd', 'lz4_raw']) {
        if (!dict && codec !== 'uncompressed' && codec !== 'zstd') continue;
        const name = `duckdb_${codec}_${v2 ? 'v2' : 'v1'}_${dict ? 'dict' : 'plain'}`;
        const path = `${outDir}/${name}.parquet`;
        await con.run(`COPY t TO '${path}' (FORMAT parquet, COMPRESSION ${codec}, ROW_GROUP_SIZE 1000` +
          `${v2 ? ', PARQUET_VERSION V2' : ''}${dict ? '' : ', DICTIONARY_SIZE_LIMIT 0'})`);
        await tab.add(name, `COMPRESSION ${codec}${v2 ? ', PARQUET_VERSION V2 (its encodings; DuckDB writes data pages v1)' : ''}${dict ? '' : ', DICTIONARY_SIZE_LIMIT 0 (the ENUM keeps one)'}`, () => {});
      }
    }
  }
}
await duckdbFiles();

// ---- hyparquet-writer -----------------------------------------------------------------------
{
  const { parquetWriteFile } = await import('hyparquet-writer');
  const n = 2500;
  const I = Array.from({ length: n }, (_, i) => i);
  const nul = (k, f) => I.map((i) => (i % k === 0 ? null : f(i)));
  const words = ['alpha', 'alphabet', 'alphanumeric', 'beta', 'betamax', 'gamma', ''];
  const uuid = (i) => {
    const h = (i * 2654435761 >>> 0).toString(16).padStart(8, '0');
    return `${h}-${h.slice(0, 4)}-4${h.slice(1, 4)}-8${h.slice(5, 8)}-${h}${h.slice(0, 4)}`;
  };
  const gen = {
    id: I,
    i32_delta: nul(6, (i) => i * 7919 - 10000000),
    i64_delta: nul(5, (i) => BigInt(i) * 1234567890123n - 1000000000000000n),
    i32_b: nul(4, (i) => (i * 37) % 1000 - 500),
    i64_b: I.map((i) => BigInt(i) * -98765432101n),
    f_bss: nul(3, (i) => i / 8),
    d_bss: I.map((i) => i * 0.25 - 100),
    d_plain: nul(7, (i) => i * 1e10 + 0.5),
    b_rle: I.map((i) => i % 3 === 0),
    b_plain: nul(4, (i) => i % 2 === 0),
    s_dba: nul(9, (i) => words[i % words.length] + (i % 13)),
    s_dlba: I.map((i) => 'v' + 'x'.repeat(i % 17) + i),
    s_dict: nul(8, (i) => words[i % 5]),
    j: I.map((i) => ({ n: i, tag: words[i % 3] })),
    ts_ms: nul(10, (i) => new Date(Date.UTC(1995, 0, 1) + i * 3600_123)),
    ts_us: I.map((i) => new Date(Date.UTC(2020, 5, 1) + i * 1001)),
    ts_ns: I.map((i) => new Date(Date.UTC(1969, 11, 31) + i * 997)),
    dt: nul(11, (i) => new Date(Date.UTC(1900, 0, 1) + i * 86400000 * 17)),
    tm_ms: I.map((i) => (i * 34567) % 86400000),
    tm_us: I.map((i) => BigInt((i * 34567891) % 86400000000)),
    u: nul(12, uuid),
    dec_ba: nul(6, (i) => BigInt(i) * 123456789123456789n - 99999999999999999999n),
    dec_flba: I.map((i) => BigInt(i) * 1000003n - 77777777n),
    dec_i32: I.map((i) => BigInt(i * 101 - 99999)),
    dec_i64: I.map((i) => BigInt(i) * 9876543211n - 1n),
    en: I.map((i) => ['red', 'green', 'blue'][i % 3]),
    en_bytes: I.map((i) => new TextEncoder().encode(['red', 'green', 'blue'][i % 3])), // ENUM is not converted
    bin: nul(5, (i) => new Uint8Array([i & 255, (i >> 8) & 255, 0, 9, 10, 13, 92])),
  };
  const col = (name, _type, extra = {}) => ({ name, data: gen[name], ...extra }); // types: the schema's
  // intBss: BYTE_STREAM_SPLIT on i32_b and i64_b (DuckDB cannot read that), else DELTA
  const columnData = (intBss) => [
    col('id', 'INT32', { nullable: false }),
    col('i32_delta', 'INT32', { encoding: 'DELTA_BINARY_PACKED' }),
    col('i64_delta', 'INT64', { encoding: 'DELTA_BINARY_PACKED' }),
    col('i32_b', 'INT32', { encoding: intBss ? 'BYTE_STREAM_SPLIT' : 'DELTA_BINARY_PACKED' }),
    col('i64_b', 'INT64', { encoding: intBss ? 'BYTE_STREAM_SPLIT' : 'PLAIN' }),
    col('f_bss', 'FLOAT', { encoding: 'BYTE_STREAM_SPLIT' }),
    col('d_bss', 'DOUBLE', { encoding: 'BYTE_STREAM_SPLIT' }),
    col('d_plain', 'DOUBLE', { encoding: 'PLAIN' }),
    col('b_rle', 'BOOLEAN', { nullable: false }),
    col('b_plain', 'BOOLEAN', { encoding: 'PLAIN' }),
    col('s_dba', 'STRING', { encoding: 'DELTA_BYTE_ARRAY' }),
    col('s_dlba', 'STRING', { encoding: 'DELTA_LENGTH_BYTE_ARRAY' }),
    col('s_dict', 'STRING', { encoding: 'RLE_DICTIONARY' }),
    col('j', 'JSON'),
    col('ts_ms', 'TIMESTAMP'),
    col('ts_us'), col('ts_ns'), col('dt'), col('tm_ms'), col('tm_us'),
    col('u', 'UUID'),
    col('dec_ba'), col('dec_flba'), col('dec_i32'), col('dec_i64'),
    { name: 'en', data: gen.en_bytes, encoding: 'DELTA_BYTE_ARRAY' },
    col('bin', 'BYTE_ARRAY', { encoding: 'DELTA_LENGTH_BYTE_ARRAY' }),
  ];
  const opt = (name) => ({ name, repetition_type: 'OPTIONAL' });
  const schema = [
    { name: 'root', num_children: columnData(false).length },
    { name: 'id', type: 'INT32', repetition_type: 'REQUIRED' },
    { ...opt('i32_delta'), type: 'INT32' },
    { ...opt('i64_delta'), type: 'INT64' },
    { ...opt('i32_b'), type: 'INT32' },
    { ...opt('i64_b'), type: 'INT64' },
    { ...opt('f_bss'), type: 'FLOAT' },
    { ...opt('d_bss'), type: 'DOUBLE' },
    { ...opt('d_plain'), type: 'DOUBLE' },
    { name: 'b_rle', type: 'BOOLEAN', repetition_type: 'REQUIRED' },
    { ...opt('b_plain'), type: 'BOOLEAN' },
    { ...opt('s_dba'), type: 'BYTE_ARRAY', converted_type: 'UTF8' },
    { ...opt('s_dlba'), type: 'BYTE_ARRAY', converted_type: 'UTF8' },
    { ...opt('s_dict'), type: 'BYTE_ARRAY', converted_type: 'UTF8' },
    { ...opt('j'), type: 'BYTE_ARRAY', converted_type: 'JSON' },
    { ...opt('ts_ms'), type: 'INT64', converted_type: 'TIMESTAMP_MILLIS' },
    { ...opt('ts_us'), type: 'INT64', logical_type: { type: 'TIMESTAMP', isAdjustedToUTC: true, unit: 'MICROS' } },
    { ...opt('ts_ns'), type: 'INT64', logical_type: { type: 'TIMESTAMP', isAdjustedToUTC: false, unit: 'NANOS' } },
    { ...opt('dt'), type: 'INT32', converted_type: 'DATE' },
    { ...opt('tm_ms'), type: 'INT32', converted_type: 'TIME_MILLIS' },
    { ...opt('tm_us'), type: 'INT64', converted_type: 'TIME_MICROS' },
    { ...opt('u'), type: 'FIXED_LEN_BYTE_ARRAY', type_length: 16, logical_type: { type: 'UUID' } },
    { ...opt('dec_ba'), type: 'BYTE_ARRAY', converted_type: 'DECIMAL', scale: 4, precision: 38 },
    { ...opt('dec_flba'), type: 'FIXED_LEN_BYTE_ARRAY', type_length: 6, converted_type: 'DECIMAL', scale: 3, precision: 14 },
    { ...opt('dec_i32'), type: 'INT32', converted_type: 'DECIMAL', scale: 2, precision: 9 },
    { ...opt('dec_i64'), type: 'INT64', converted_type: 'DECIMAL', scale: 5, precision: 18 },
    { ...opt('en'), type: 'BYTE_ARRAY', converted_type: 'ENUM', logical_type: { type: 'ENUM' } },
    { ...opt('bin'), type: 'BYTE_ARRAY' },
  ];
  const zstd = (input) => new Uint8Array(execFileSync('zstd', ['-q', '-c', '-3'], { input }));
  const gzip = (input) => new Uint8Array(gzipSync(input));
  const tab = new table('hyparquet-writer', (tsv) => {
    checkColumn(tsv, 'id', I);
    checkColumn(tsv, 'i32_delta', gen.i32_delta);
    checkColumn(tsv, 'i64_delta', gen.i64_delta);
    checkColumn(tsv, 'i32_b', gen.i32_b);
    checkColumn(tsv, 'i64_b', gen.i64_b);
    checkColumn(tsv, 's_dba', gen.s_dba);
    checkColumn(tsv, 's_dlba', gen.s_dlba);
    checkColumn(tsv, 's_dict', gen.s_dict);
    checkColumn(tsv, 'en', gen.en);
    checkColumn(tsv, 'b_rle', gen.b_rle);
    checkColumn(tsv, 'u', gen.u);
  });
  for (const [codec, intBss] of [['UNCOMPRESSED', false], ['UNCOMPRESSED', true], ['SNAPPY', true], ['GZIP', false], ['ZSTD', true]]) {
    const name = `hyparquet_${codec.toLowerCase()}${intBss ? '_bss_ints' : ''}`;
    await tab.add(name, `codec ${codec}; data pages v2; DELTA_*, BYTE_STREAM_SPLIT${intBss ? ' (on integers too)' : ''}, RLE booleans, dictionary`,
      (path) => parquetWriteFile({
        filename: path, columnData: columnData(intBss), schema, codec, rowGroupSize: 1000, pageSize: 4096,
        compressors: { GZIP: gzip, ZSTD: zstd },
      }));
  }
}

// ---- parquet-wasm (arrow-rs) ----------------------------------------------------------------
{
  const A = await import('apache-arrow');
  const pw = await import('parquet-wasm');
  const n = 3000;
  const I = Array.from({ length: n }, (_, i) => i);
  const nul = (k, f) => I.map((i) => (i % k === 0 ? null : f(i)));
  const decimal = (scale, precision, f) => {
    const words = new Uint32Array(n * 4);
    const valid = new Uint8Array(Math.ceil(n / 8));
    for (let i = 0; i < n; ++i) {
      const u = BigInt.asUintN(128, f(i));
      for (let w = 0; w < 4; ++w) words[i * 4 + w] = Number((u >> BigInt(32 * w)) & 0xffffffffn);
      if (i % 10 !== 3) valid[i >> 3] |= 1 << (i & 7);
    }
    return A.makeVector(A.makeData({ type: new A.Decimal(scale, precision, 128), length: n, data: words, nullBitmap: valid }));
  };
  const gen = {
    id: I.map((i) => BigInt(i)),
    i8: nul(7, (i) => (i % 256) - 128),
    i16: I.map((i) => ((i * 37) % 65536) - 32768),
    i32: nul(5, (i) => i * 1000003 - 1500000000),
    u8: I.map((i) => i % 256),
    u16: I.map((i) => (i * 37) % 65536),
    u32: I.map((i) => (i * 2654435761) % 4294967296),
    u64: I.map((i) => BigInt(i) * 1000003n + 9223372036854775808n),
    f32: nul(6, (i) => i / 4),
    f64: I.map((i) => i * 1.5 - 2000),
    b: nul(9, (i) => i % 3 === 0),
    s: nul(4, (i) => 'str' + (i % 70)),
    s_long: I.map((i) => 'prefix-shared-' + 'y'.repeat(i % 23) + i),
    bin: I.map((i) => new Uint8Array([i & 255, 7, (i >> 8) & 255])),
    dt: nul(8, (i) => i * 97 - 100000),
    ts_ms: I.map((i) => i * 3600123 - 1e9),
    ts_us: nul(3, (i) => BigInt(i) * 1234567891n - 10n ** 12n),
    ts_ns: I.map((i) => BigInt(i) * 1234567891234n),
    ts_ns_local: I.map((i) => BigInt(i) * 98765432101n - 10n ** 15n),
    tm_ms: I.map((i) => (i * 34567) % 86400000),
    tm_us: I.map((i) => BigInt((i * 34567891) % 86400000000)),
    tm_ns: I.map((i) => BigInt(i) * 28800000123n % 86400000000000n),
  };
  // Arrow JS's builders take timestamps in milliseconds: 64-bit ones are given as raw data
  const v = (name, type) => {
    if (!(type instanceof A.Timestamp) || type.unit === A.TimeUnit.MILLISECOND) return A.vectorFromArray(gen[name], type);
    const data = new BigInt64Array(n), valid = new Uint8Array(Math.ceil(n / 8));
    gen[name].forEach((x, i) => { if (x !== null) { data[i] = x; valid[i >> 3] |= 1 << (i & 7); } });
    return A.makeVector(A.makeData({ type, length: n, data, nullBitmap: valid }));
  };
  const t = new A.Table({
    id: v('id', new A.Int64), i8: v('i8', new A.Int8), i16: v('i16', new A.Int16), i32: v('i32', new A.Int32),
    u8: v('u8', new A.Uint8), u16: v('u16', new A.Uint16), u32: v('u32', new A.Uint32), u64: v('u64', new A.Uint64),
    f32: v('f32', new A.Float32), f64: v('f64', new A.Float64), b: v('b', new A.Bool),
    s: v('s', new A.Utf8), s_long: v('s_long', new A.Utf8), bin: v('bin', new A.Binary),
    dt: v('dt', new A.DateDay),
    ts_ms: v('ts_ms', new A.TimestampMillisecond('UTC')),
    ts_us: v('ts_us', new A.TimestampMicrosecond('UTC')),
    ts_ns: v('ts_ns', new A.TimestampNanosecond('UTC')),
    ts_ns_local: v('ts_ns_local', new A.TimestampNanosecond()),
    tm_ms: v('tm_ms', new A.TimeMillisecond), tm_us: v('tm_us', new A.TimeMicrosecond),
    tm_ns: v('tm_ns', new A.TimeNanosecond),
    dec9: decimal(2, 9, (i) => BigInt(i * 12345 - 30000000)),
    dec18: decimal(4, 18, (i) => BigInt(i) * 123456789012n - 1n),
    dec30: decimal(6, 30, (i) => BigInt(i) * 123456789012345678901n - 10n ** 25n),
  });
  const ipc = A.tableToIPC(t, 'stream');
  const C = pw.Compression, E = pw.Encoding;
  const ints = ['id', 'i8', 'i16', 'i32', 'u8', 'u16', 'u32', 'u64', 'dt', 'ts_ms', 'ts_us', 'ts_ns', 'ts_ns_local', 'tm_ms', 'tm_us', 'tm_ns'];
  const write = (path, configure) => {
    let b = new pw.WriterPropertiesBuilder().setMaxRowGroupSize(1000).setDataPageSizeLimit(4096);
    b = configure(b);
    const bytes = pw.writeParquet(pw.Table.fromIPCStream(ipc), b.build());
    writeFileSync(path, bytes);
  };
  // ts_ns is UTC-adjusted: DuckDB reads it as TIMESTAMPTZ, which keeps microseconds, so its
  // expectation is the generated nanoseconds in DuckDB's text (TIMESTAMP_NS's, then "+00")
  const tsNs = (await timestampNsText(gen.ts_ns)).map((t) => (t === null ? null : t + '+00'));
  const tsNsLocal = await timestampNsText(gen.ts_ns_local);
  const tab = new table('parquet-wasm', (tsv) => {
    checkColumn(tsv, 'id', I);
    for (const c of ['i8', 'i16', 'i32', 'u8', 'u16', 'u32', 'u64', 's', 's_long']) checkColumn(tsv, c, gen[c]);
    checkColumn(tsv, 'ts_ns', tsNs);
    checkColumn(tsv, 'ts_ns_local', tsNsLocal);
  }, async (tsv) => replaceColumn(tsv, 'ts_ns', tsNs));
  const codecs = { UNCOMPRESSED: C.UNCOMPRESSED, SNAPPY: C.SNAPPY, GZIP: C.GZIP, ZSTD: C.ZSTD, LZ4_RAW: C.LZ4_RAW, LZ4: C.LZ4 };
  for (const [cname, codec] of Object.entries(codecs))
    for (const v2 of [false, true])
      await tab.add(`parquetwasm_${cname.toLowerCase()}_${v2 ? 'v2' : 'v1'}`, `codec ${cname}, writer version ${v2 ? 2 : 1}, dictionary`,
        (path) => write(path, (b) => b.setCompression(codec).setWriterVersion(v2 ? pw.WriterVersion.V2 : pw.WriterVersion.V1)));
  for (const v2 of [false, true]) {
    await tab.add(`parquetwasm_plain_${v2 ? 'v2' : 'v1'}`, `PLAIN, no dictionary, writer version ${v2 ? 2 : 1}`,
      (path) => write(path, (b) => b.setCompression(C.SNAPPY).setDictionaryEnabled(false).setEncoding(E.PLAIN)
        .setWriterVersion(v2 ? pw.WriterVersion.V2 : pw.WriterVersion.V1)));
    await tab.add(`parquetwasm_delta_${v2 ? 'v2' : 'v1'}`, 'DELTA_BINARY_PACKED ints, DELTA_LENGTH_BYTE_ARRAY s, DELTA_BYTE_ARRAY s_long and bin, BYTE_STREAM_SPLIT floats and decimals',
      (path) => write(path, (b) => {
        b = b.setCompression(C.ZSTD).setDictionaryEnabled(false)
          .setWriterVersion(v2 ? pw.WriterVersion.V2 : pw.WriterVersion.V1);
        for (const c of ints) b = b.setColumnEncoding(c, E.DELTA_BINARY_PACKED);
        b = b.setColumnEncoding('s', E.DELTA_LENGTH_BYTE_ARRAY).setColumnEncoding('s_long', E.DELTA_BYTE_ARRAY)
          .setColumnEncoding('bin', E.DELTA_BYTE_ARRAY);
        for (const c of ['f32', 'f64', 'dec30']) b = b.setColumnEncoding(c, E.BYTE_STREAM_SPLIT);
        return b;
      }));
  }
  await tab.add('parquetwasm_bss_ints', 'BYTE_STREAM_SPLIT on integers and every fixed-width column',
    (path) => write(path, (b) => {
      b = b.setCompression(C.LZ4_RAW).setDictionaryEnabled(false);
      for (const c of [...ints, 'f32', 'f64', 'dec9', 'dec18', 'dec30']) b = b.setColumnEncoding(c, E.BYTE_STREAM_SPLIT);
      return b;
    }));
}

writeFileSync(`${outDir}/files.tsv`, manifest.map((r) => r.map(esc).join('\t')).join('\n') + '\n');
writeFileSync(`${outDir}/.done`, 'ok\n');
console.log(`${manifest.length} files written to ${outDir}`);
