// parquet_write_duckdb.mjs <copy|gen> <rows> <out.parquet> [row_group_rows]: DuckDB's side of
// bench/parquet_write.sh. `copy`: SET threads=1; COPY (the rows) TO out (FORMAT parquet,
// COMPRESSION snappy, ROW_GROUP_SIZE row_group_rows). `gen`: the same SELECT, aggregated
// (DuckDB generating the rows without writing them). Prints one line:
//   "duckdb <mode> rows=<n> wall_s=<query wall> cpu_s=<process user+sys during the query>"
// The rows (bench_parquet_write.cpp generates the same values):
//   id BIGINT = i; n INTEGER = (i * 7) % 100000; x DOUBLE = i * 1.5 + 0.25;
//   cat VARCHAR = 'c' || (i % 997); hex VARCHAR = 32 hex digits, four 32-bit words
//   (i * A + B) % 2^32 (unique); nul INTEGER = NULL when i % 10 = 0, else i % 50000.
import { DuckDBInstance } from '@duckdb/node-api';

const [mode, rowsText, out, rgText] = process.argv.slice(2);
const rows = BigInt(rowsText);
const rg = rgText ?? '122880';
const select = `SELECT i AS id, ((i * 7) % 100000)::INTEGER AS n, (i * 1.5 + 0.25)::DOUBLE AS x,
  'c' || (i % 997)::VARCHAR AS cat,
  printf('%08x%08x%08x%08x', (i * 2654435761) % 4294967296, (i * 2246822519 + 1) % 4294967296,
         (i * 3266489917 + 2) % 4294967296, (i * 668265263 + 3) % 4294967296) AS hex,
  CASE WHEN i % 10 = 0 THEN NULL ELSE (i % 50000)::INTEGER END AS nul
  FROM range(${rows}) t(i)`;
const inst = await DuckDBInstance.create(':memory:', { threads: '1' });
const con = await inst.connect();
await con.run('SET threads=1');
await con.run('SET preserve_insertion_order=true');
const sql =
  mode === 'copy'
    ? `COPY (${select}) TO '${out.replaceAll("'", "''")}' (FORMAT parquet, COMPRESSION snappy, ROW_GROUP_SIZE ${rg})`
    : `SELECT sum(id), sum(n), sum(x), sum(length(cat)), sum(length(hex)), count(nul) FROM (${select})`;
const c0 = process.cpuUsage();
const t0 = process.hrtime.bigint();
const r = await con.runAndReadAll(sql);
const wall = Number(process.hrtime.bigint() - t0) / 1e9;
const c = process.cpuUsage(c0);
if (mode !== 'copy') r.getRows(); // the aggregate's one row
console.log(`duckdb ${mode} rows=${rows} wall_s=${wall.toFixed(3)} cpu_s=${((c.user + c.system) / 1e6).toFixed(3)}`);
