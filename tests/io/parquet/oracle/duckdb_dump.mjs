// Dumps every value of Parquet files as DuckDB reads them (each column cast to VARCHAR), for
// the reader's oracle test: node duckdb_dump.mjs OUT_DIR FILE...
// First it writes OUT_DIR/generated/duckdb_<codec>[_v2].parquet (every codec DuckDB writes,
// data pages v1 and v2, row groups of 1000 rows, one column per type: integers signed and
// unsigned, floats with NaN and infinities, strings, blobs, dates, times, timestamps in each
// unit and with a time zone, decimals of each width, UUIDs, an enum; nulls in several), and
// dumps those too.
// OUT_DIR/<file name>.tsv: a header line of column names, then one line per row; fields are
// separated by tabs; NULL is \N; a backslash, tab, newline or carriage return in a value is
// written \\, \t, \n, \r. A file DuckDB refuses gets OUT_DIR/<file name>.error (its message).
import { DuckDBInstance } from '@duckdb/node-api';
import { mkdirSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';

const [outDir, ...files] = process.argv.slice(2);
const instance = await DuckDBInstance.create(':memory:', { threads: '1' });
const con = await instance.connect();
const esc = (s) => s.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r');
const gen = `${outDir}/generated`;
mkdirSync(gen, { recursive: true });
await con.run(`CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy')`);
await con.run(`CREATE TABLE t AS SELECT
  i AS id,
  CASE WHEN i % 7 = 0 THEN NULL ELSE i * 1.5 - 2000 END::DOUBLE AS d,
  CASE i % 1000 WHEN 1 THEN 'nan'::FLOAT WHEN 2 THEN 'inf'::FLOAT WHEN 3 THEN '-inf'::FLOAT
       ELSE (i / 3.0)::FLOAT END AS f,
  i % 3 = 0 AS b,
  ((i % 256) - 128)::TINYINT AS i8,
  ((i * 37) % 65536)::USMALLINT AS u16,
  ((i * 2654435761) % 4294967296)::UINTEGER AS u32,
  (i * 1000003)::UBIGINT + 9223372036854775808::UBIGINT AS u64,
  (i * 1000000007)::BIGINT - 2000000000000 AS i64,
  'str' || i AS s,
  CASE WHEN i % 5 = 0 THEN NULL ELSE repeat(chr((97 + i % 26)::INTEGER), (i % 40)::INTEGER) END AS s2,
  unhex(md5(i::VARCHAR)) AS bl,
  DATE '1970-01-01' + (i * 97 - 200000)::INTEGER AS dt,
  TIME '00:00:00' + to_microseconds(i * 12345678) AS tm,
  TIMESTAMP '1960-01-01' + to_microseconds(i * 1234567891) AS ts,
  (TIMESTAMP '1960-01-01' + to_microseconds(i * 1234567891))::TIMESTAMP_MS AS ts_ms,
  (TIMESTAMP '1960-01-01' + to_microseconds(i * 1234567891))::TIMESTAMP_NS AS ts_ns,
  (TIMESTAMP '2000-01-01' + to_seconds(i))::TIMESTAMPTZ AS tstz,
  ((i % 9999) - 5000)::DECIMAL(4, 0) / 100 AS dec4,
  (i * 12345.678 - 30000000)::DECIMAL(18, 3) AS dec18,
  (i * 123456789012.345678 - 100)::DECIMAL(38, 6) AS dec38,
  (i * 1.5)::DECIMAL(9, 2) AS dec9,
  md5(i::VARCHAR)::UUID AS u,
  (['sad', 'ok', 'happy'])[i % 3 + 1]::mood AS m
FROM range(0, 5000) r(i)`);
for (const codec of ['uncompressed', 'snappy', 'gzip', 'zstd', 'lz4_raw']) {
  for (const v2 of [false, true]) {
    const name = `${gen}/duckdb_${codec}${v2 ? '_v2' : ''}.parquet`;
    await con.run(`COPY t TO '${name}' (FORMAT parquet, COMPRESSION ${codec},
                   ROW_GROUP_SIZE 1000${v2 ? ', PARQUET_VERSION V2' : ''})`);
    files.push(name);
  }
}
for (const f of files) {
  const name = basename(f);
  try {
    const q = `SELECT COLUMNS(*)::VARCHAR FROM read_parquet('${f.replace(/'/g, "''")}')`;
    const reader = await con.runAndReadAll(q);
    const cols = reader.columnNames();
    const rows = reader.getRowsJS();
    let out = cols.map(esc).join('\t') + '\n';
    for (const r of rows)
      out += r.map((v) => (v === null ? '\\N' : esc(String(v)))).join('\t') + '\n';
    writeFileSync(`${outDir}/${name}.tsv`, out);
  } catch (e) {
    writeFileSync(`${outDir}/${name}.error`, String(e.message ?? e) + '\n');
  }
}
