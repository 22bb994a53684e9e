// parquet_read_duckdb.mjs: DuckDB's side of bench/parquet_read.sh (run by node from the scratch
// npm install of tests/io/parquet/oracle/install.sh).
//   node parquet_read_duckdb.mjs gen ROWS FILE   writes the benchmark's snappy file
//   node parquet_read_duckdb.mjs query FILE      threads=1: the sums; prints one JSON line with
//     the query's wall and CPU seconds (process.cpuUsage around it), the process's RSS before
//     the query and its peak RSS (maxRSS), in KiB, and the sums.
import { DuckDBInstance } from '@duckdb/node-api';

const [mode, a, b] = process.argv.slice(2);
const inst = await DuckDBInstance.create(':memory:', { threads: '1' });
const con = await inst.connect();
if (mode === 'gen') {
  const rows = Number(a);
  const file = b.replaceAll("'", "''");
  await con.run(`COPY (SELECT i::BIGINT AS a,
        CASE WHEN i % 10 = 3 THEN NULL ELSE (i * 7)::INTEGER END AS b,
        random() AS c,
        'name_' || (i % 100000) AS s,
        CASE WHEN i % 17 = 5 THEN NULL ELSE md5(i::VARCHAR) END AS t
      FROM range(${rows}) r(i))
    TO '${file}' (FORMAT parquet, COMPRESSION snappy, ROW_GROUP_SIZE 122880)`);
} else if (mode === 'query') {
  const file = a.replaceAll("'", "''");
  const rssBefore = Math.round(process.memoryUsage().rss / 1024);
  const maxBefore = process.resourceUsage().maxRSS;
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const r = await con.runAndReadAll(`SELECT count(*)::BIGINT, sum(a)::HUGEINT::VARCHAR, sum(b)::HUGEINT::VARCHAR,
      sum(c)::DOUBLE, sum(strlen(s))::BIGINT, sum(strlen(t))::BIGINT FROM read_parquet('${file}')`);
  const t1 = process.hrtime.bigint();
  const c1 = process.cpuUsage(c0);
  const row = r.getRows()[0].map((v) => String(v));
  console.log(JSON.stringify({
    wall_s: Number(t1 - t0) / 1e9, cpu_s: (c1.user + c1.system) / 1e6,
    rss_before_kib: rssBefore, max_rss_before_kib: maxBefore,
    max_rss_kib: process.resourceUsage().maxRSS,
    rows: row[0], sum_a: row[1], sum_b: row[2], sum_c: row[3], len_s: row[4], len_t: row[5] }));
} else {
  console.error('usage: parquet_read_duckdb.mjs gen ROWS FILE | query FILE');
  process.exit(2);
}
