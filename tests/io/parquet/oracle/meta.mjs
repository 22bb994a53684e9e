// meta.mjs <file>: what DuckDB's parquet_schema() and parquet_metadata() say of a Parquet file,
// one JSON object a line, every value as text (null stays null):
//   {"schema":{name, type, repetition_type, converted_type, logical_type, scale, precision}}
//   {"chunk":{row_group_id, row_group_num_rows, path_in_schema, type, num_values, compression,
//             encodings, stats_min_value, stats_max_value, stats_null_count}}
// so that tests can check the types and statistics a writer put in the footer.
import { DuckDBInstance } from '@duckdb/node-api';

const file = process.argv[2];
if (!file) {
  console.error('usage: meta.mjs <file>');
  process.exit(2);
}
const inst = await DuckDBInstance.create(':memory:', { threads: '1' });
const con = await inst.connect();
const lit = "'" + file.replaceAll("'", "''") + "'";
async function dump(tag, sql) {
  const reader = await con.runAndReadAll(sql);
  const names = reader.columnNames();
  for (const row of reader.getRows()) {
    const o = {};
    row.forEach((v, i) => (o[names[i]] = v === null ? null : String(v)));
    console.log(JSON.stringify({ [tag]: o }));
  }
}
try {
  await dump('schema', `SELECT name, type, repetition_type, converted_type, logical_type, scale, precision
                        FROM parquet_schema(${lit})`);
  await dump('chunk', `SELECT row_group_id, row_group_num_rows, path_in_schema, type, num_values, compression,
                              encodings, stats_min_value, stats_max_value, stats_null_count
                       FROM parquet_metadata(${lit}) ORDER BY row_group_id, column_id`);
} catch (e) {
  console.error(`meta.mjs: ${file}: ${e?.message ?? e}`);
  process.exit(1);
}
