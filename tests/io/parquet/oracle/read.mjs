// read.mjs <engine> <file>... : prints each row of a flat Parquet file as one line of canonical
// JSON, so that tests can diff what three independent readers see against what was written.
// Engines: duckdb (@duckdb/node-api), hyparquet, parquet-wasm (through apache-arrow).
// With several files, each file's rows follow a line "== <file>"; a file an engine refuses
// prints "!! <message>" instead (the exit status stays 0, so that one bad file does not hide
// the others); other failures exit 1.
//
// Canonical row: a JSON array, no spaces, one value per column in schema order:
//   null; true/false; integers (any width, DECIMAL's unscaled value, DATE's days since
//   1970-01-01, TIMESTAMP's count of its own unit) as bare digits; FLOAT/DOUBLE as a string:
//   "nan", or the 16 hex digits of the value's IEEE-754 double bits (a FLOAT widened exactly);
//   STRING as JSON.stringify writes it; BYTE_ARRAY without STRING as "x" + lowercase hex.
// The column kinds come from the file's schema (hyparquet's parquetMetadata), the same for
// every engine.
import { readFileSync } from 'node:fs';
import { parquetMetadata, parquetReadObjects } from 'hyparquet';

const [engine, ...files] = process.argv.slice(2);
if (!engine || files.length === 0) {
  console.error('usage: read.mjs duckdb|hyparquet|parquet-wasm <file>...');
  process.exit(2);
}

function kinds(buf) {
  const md = parquetMetadata(buf);
  return md.schema.slice(1).map((e) => {
    const lt = e.logical_type;
    const ct = e.converted_type;
    let kind;
    if (e.type === 'BOOLEAN') kind = 'bool';
    else if (e.type === 'FLOAT' || e.type === 'DOUBLE') kind = 'float';
    else if (e.type === 'BYTE_ARRAY') kind = lt?.type === 'STRING' || ct === 'UTF8' ? 'string' : 'binary';
    else if (lt?.type === 'DATE' || ct === 'DATE') kind = 'date';
    else if (lt?.type === 'TIMESTAMP') kind = 'ts_' + lt.unit.toLowerCase();
    else if (ct === 'TIMESTAMP_MILLIS') kind = 'ts_millis';
    else if (ct === 'TIMESTAMP_MICROS') kind = 'ts_micros';
    else if (lt?.type === 'DECIMAL' || ct === 'DECIMAL') kind = 'decimal';
    else kind = 'int';
    return { name: e.name, kind, scale: e.scale || 0 };
  });
}

const hex = (bytes) => Buffer.from(bytes).toString('hex');
function floatText(x) {
  const v = Number(x);
  if (Number.isNaN(v)) return '"nan"';
  const dv = new DataView(new ArrayBuffer(8));
  dv.setFloat64(0, v);
  return '"' + dv.getBigUint64(0).toString(16).padStart(16, '0') + '"';
}
const perUnit = { ts_millis: 1000n, ts_micros: 1n, ts_nanos: 1n };

// One value, already reduced by the engine to: null, boolean, number/bigint, string, Uint8Array.
function canon(col, v) {
  if (v === null || v === undefined) return 'null';
  switch (col.kind) {
    case 'bool':
      return v ? 'true' : 'false';
    case 'float':
      return floatText(v);
    case 'string':
      return JSON.stringify(typeof v === 'string' ? v : new TextDecoder().decode(v));
    case 'binary':
      return '"x' + hex(typeof v === 'string' ? new TextEncoder().encode(v) : v) + '"';
    default:
      return BigInt(v).toString();
  }
}

async function duckdbRows(file, cols) {
  const { DuckDBInstance } = await import('@duckdb/node-api');
  if (!globalThis.duck) {
    const inst = await DuckDBInstance.create(':memory:', { threads: '1' });
    globalThis.duck = await inst.connect();
  }
  const sel = cols
    .map((c) => {
      const q = '"' + c.name.replaceAll('"', '""') + '"';
      // DuckDB's own types for these: ask for the canonical integer in SQL.
      if (c.kind === 'date') return `(${q} - DATE '1970-01-01')::BIGINT`;
      if (c.kind === 'ts_millis') return `epoch_ms(${q})`;
      if (c.kind === 'ts_micros') return `epoch_us(${q})`;
      if (c.kind === 'ts_nanos') return `epoch_ns(${q})`;
      if (c.kind === 'decimal') return `${q}::VARCHAR`;
      if (c.kind === 'binary') return `hex(${q})`;
      if (c.kind === 'float') return `${q}::DOUBLE`;
      return q;
    })
    .join(', ');
  const lit = "'" + file.replaceAll("'", "''") + "'";
  const reader = await globalThis.duck.runAndReadAll(`SELECT ${sel} FROM read_parquet(${lit})`);
  return reader.getRows().map((r) =>
    r.map((v, i) => {
      if (v === null) return null;
      if (cols[i].kind === 'binary') return Buffer.from(v, 'hex');
      if (cols[i].kind === 'decimal') return BigInt(v.replace('.', ''));
      if (cols[i].kind === 'float') return v;
      return typeof v === 'object' ? v.toString() : v;
    }),
  );
}

async function hyparquetRows(buf, cols) {
  const { compressors } = await import('hyparquet-compressors');
  const id = (x) => x;
  const rows = await parquetReadObjects({
    file: buf,
    compressors,
    utf8: false,
    parsers: {
      timestampFromMilliseconds: id,
      timestampFromMicroseconds: id,
      timestampFromNanoseconds: id,
      dateFromDays: id,
      stringFromBytes: id,
    },
  });
  return rows.map((o) =>
    cols.map((c) => {
      const v = o[c.name];
      if (v === null || v === undefined) return null;
      if (c.kind === 'decimal') return BigInt(Math.round(Number(v) * 10 ** c.scale));
      return v;
    }),
  );
}

async function wasmRows(buf, cols) {
  const pw = await import('parquet-wasm');
  const { tableFromIPC } = await import('apache-arrow');
  const t = tableFromIPC(pw.readParquet(new Uint8Array(buf)).intoIPCStream());
  const out = Array.from({ length: t.numRows }, () => new Array(cols.length));
  cols.forEach((c, ci) => {
    const vec = t.getChildAt(ci);
    let row = 0;
    for (const d of vec.data) {
      for (let j = 0; j < d.length; ++j, ++row) {
        if (!d.getValid(j)) {
          out[row][ci] = null;
          continue;
        }
        const k = d.offset + j;
        if (c.kind === 'date' || c.kind.startsWith('ts_')) {
          out[row][ci] = d.values[k]; // days (Int32Array) or the unit's count (BigInt64Array)
        } else if (c.kind === 'decimal') {
          // Decimal128: four little-endian 32-bit words, two's complement
          const w = d.values;
          let x = 0n;
          for (let q = 3; q >= 0; --q) x = (x << 32n) | BigInt(w[4 * k + q] >>> 0);
          if (x >= 1n << 127n) x -= 1n << 128n;
          out[row][ci] = x;
        } else {
          out[row][ci] = vec.get(row);
        }
      }
    }
  });
  return out;
}

for (const file of files) {
  if (files.length > 1) console.log('== ' + file);
  let rows;
  try {
    const bytes = readFileSync(file);
    const buf = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
    const cols = kinds(buf);
    if (engine === 'duckdb') rows = await duckdbRows(file, cols);
    else if (engine === 'hyparquet') rows = await hyparquetRows(buf, cols);
    else if (engine === 'parquet-wasm') rows = await wasmRows(buf, cols);
    else throw new Error('unknown engine ' + engine);
    const lines = rows.map((r) => '[' + r.map((v, i) => canon(cols[i], v)).join(',') + ']');
    if (lines.length) console.log(lines.join('\n'));
  } catch (e) {
    if (files.length === 1) {
      console.error(`read.mjs ${engine}: ${file}: ${e?.stack ?? e}`);
      process.exit(1);
    }
    console.log('!! ' + String(e?.message ?? e).replaceAll('\n', ' '));
  }
}
