// bench/tools/duckdb_count.mjs: DuckDB's read_csv through npm @duckdb/node-api, for
// bench/tools/compare.sh (which installs the package into a scratch directory: it is never a
// dependency of the library).
//
//     NODE_PATH=SCRATCH/node_modules node duckdb_count.mjs FILE THREADS
//
// An in-memory database with SET threads=THREADS; one query over read_csv(FILE, header=true,
// all_varchar=true: no type sniffing of the values, the same work as the other tools) counting
// the rows, the fields (columns x rows) and the summed byte lengths (strlen; an empty field
// reads as NULL and counts 0); prints "rows=R fields=F bytes=B" like sb_csv_count.
import { createRequire } from 'node:module';
import path from 'node:path';

const [file, threads] = process.argv.slice(2);
if (!file || !threads) {
  console.error('usage: node duckdb_count.mjs FILE THREADS');
  process.exit(2);
}
// ES modules ignore NODE_PATH: resolve the package from the scratch directory explicitly.
const require = createRequire(path.join(process.env.NODE_PATH || '.', 'x.js'));
const { DuckDBInstance } = await import(require.resolve('@duckdb/node-api'));

const instance = await DuckDBInstance.create(':memory:');
const con = await instance.connect();
await con.run(`SET threads=${Number(threads)}`);
const quoted = `'${file.replaceAll("'", "''")}'`;
const cols = await con.runAndReadAll(
  `SELECT column_name FROM (DESCRIBE SELECT * FROM read_csv(${quoted}, header=true, all_varchar=true))`);
const names = cols.getRows().map((r) => `"${String(r[0]).replaceAll('"', '""')}"`);
const sum = names.map((n) => `coalesce(strlen(${n}), 0)`).join(' + ');
const res = await con.runAndReadAll(
  `SELECT count(*), sum(${sum}) FROM read_csv(${quoted}, header=true, all_varchar=true)`);
const [rows, bytes] = res.getRows()[0].map((v) => BigInt(v));
console.log(`rows=${rows} fields=${rows * BigInt(names.length)} bytes=${bytes}`);
