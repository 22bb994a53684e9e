// Dumps every value of Parquet files as DuckDB reads them (each column cast to VARCHAR), for
// the reader's oracle test: node duckdb_dump.mjs OUT_DIR FILE...
// OUT_DIR/<file name>.tsv: a header line of column names, then one line per row; fields are
// separated by tabs; NULL is \N; a backslash, tab, newline or carriage return in a value is
// written \\, \t, \n, \r. A file DuckDB refuses gets OUT_DIR/<file name>.error (its message).
import { DuckDBInstance } from '@duckdb/node-api';
import { writeFileSync } from 'node:fs';
import { basename } from 'node:path';

const [outDir, ...files] = process.argv.slice(2);
const instance = await DuckDBInstance.create(':memory:', { threads: '1' });
const con = await instance.connect();
const esc = (s) => s.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r');
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
