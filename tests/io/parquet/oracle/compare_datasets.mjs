// compare_datasets.mjs <reference dir> <dir>: DuckDB compares two Parquet datasets (their
// *.parquet files; hidden temp files are not matched) as multisets of rows, and prints one JSON
// line: {"reference": rows, "rows": rows, "distinct_ids": n, "missing": n, "extra": n}
// (missing: reference rows the dataset lacks, counted with multiplicity; extra: the reverse).
import { DuckDBInstance } from '@duckdb/node-api';

const [ref, dir] = process.argv.slice(2);
if (!ref || !dir) {
  console.error('usage: compare_datasets.mjs <reference dir> <dir>');
  process.exit(2);
}
const inst = await DuckDBInstance.create(':memory:', { threads: '1' });
const con = await inst.connect();
const q = (d) => `read_parquet('${(d + '/*.parquet').replaceAll("'", "''")}')`;
const one = async (sql) => String((await con.runAndReadAll(sql)).getRows()[0][0]);
try {
  const out = {
    reference: await one(`SELECT count(*) FROM ${q(ref)}`),
    rows: await one(`SELECT count(*) FROM ${q(dir)}`),
    distinct_ids: await one(`SELECT count(DISTINCT id) FROM ${q(dir)}`),
    missing: await one(`SELECT count(*) FROM (SELECT * FROM ${q(ref)} EXCEPT ALL SELECT * FROM ${q(dir)})`),
    extra: await one(`SELECT count(*) FROM (SELECT * FROM ${q(dir)} EXCEPT ALL SELECT * FROM ${q(ref)})`),
  };
  console.log(JSON.stringify(out));
} catch (e) {
  console.error(`compare_datasets.mjs: ${e?.message ?? e}`);
  process.exit(1);
}
