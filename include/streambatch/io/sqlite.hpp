// streambatch/io/sqlite.hpp: SQLite source (a prepared statement, stepped) and sink (prepared
// INSERTs, one transaction per batch). Target streambatch::sqlite (links SQLite::SQLite3).
//
// In:     a sqlite::database (RAII sqlite3*, movable; opened from a path, busy timeout 5 s).
//         Source: SQL text with `?` parameters and their values (integers, bool, floating
//         point, anything convertible to std::string_view, std::span<std::byte const> or
//         std::vector<std::byte> as a blob, nullptr / std::nullopt / an empty std::optional as
//         NULL). Sink: an INSERT with `?` parameters and a function mapping a record to its
//         column values (a tuple-like of the same kinds; tuple-like records need none).
//         Partitions: a table (a name, or {schema, name} for an attached database), its key
//         column and a streambatch::partition{index, count}; names are quoted for you.
// Out:    sqlite::query(db, sql, params...)        a sqlite::query_view of sqlite::row.
//         sqlite::query_as(db, sql, parse, [options,] params...)
//                                                  a query_view of parse(row const&)'s type.
//         sqlite::query_as<std::tuple<Ts...>>(db, sql, [options,] params...)
//                                                  the same, parse = get<Ts>(0), get<Ts>(1), ...
//         sqlite::inserter(db, insert_sql [, map]) ins.write(batch [, hook]) inserts a batch
//         in BEGIN IMMEDIATE ... COMMIT; hook(db) runs inside that transaction, before COMMIT
//         (e.g. to advance a checkpoint: exactly-once). Returns the rows written.
//         ins.write_rows(batch) inserts into the transaction the caller has open (a job sink's).
//         sqlite::inserter(db, insert_sql, [map,] {.rows_per_statement = n}) binds n records into
//         one INSERT ... VALUES (?, ...), (?, ...) ... a step (SQLite's per-statement work once
//         per n rows; errors still name their row). database(file, {.no_mutex = true}): a
//         connection used by one thread at a time, without its mutex. sqlite::
//         disable_memory_status(): SQLite's allocations skip its process-wide statistics mutex
//         (opt-in, process-wide, before SQLite is first used).
//         sqlite::job_sink(db, ins or write(db, batch) [, sql::job_sink_options])   a
//         streambatch::job_sink (job/contract.hpp): open(key) takes the job's fence (a lease in
//         its row of the table streambatch_job_state; fence_held names a live holder, a killed
//         one is taken over) and returns the stored job_state; commit(batch, state) writes both
//         in one transaction if the row still holds this writer's token and position (else
//         fence_lost). See sqlite/job_sink.hpp.
//         A row owns its values (one allocation: offsets, types and bytes) and survives the
//         statement; row.get<T>(index or "name") converts: integers (range-checked), double,
//         bool, std::string, std::string_view (into the row), std::vector<std::byte>,
//         std::optional<T> (NULL -> nullopt); r["name"].as<T>() is the same.
//         Partitions, one worker's share of a table for N copies of a job (types shared with
//         postgres.hpp, in streambatch::sql): a partition_clause, whose .predicate goes into
//         your query as SQL text with literals (it adds no parameter):
//         sqlite::key_range_partition(db, table, key, part)   asks for the integer key's min and
//         max and cuts [min, max] evenly by value: partition i is b_i <= key < b_i+1 with
//         b_i = min + floor((max - min + 1) * i / count) (128-bit arithmetic), e.g.
//         ("id" >= 250 AND "id" < 500); partition 0 has no lower bound and the last no upper
//         one, ("id" < 250) ... ("id" >= 750), so keys added below min or above max are still
//         read; count 1 is ("id" IS NOT NULL). .lo, .hi (nullopt: no bound), .bounds, .empty().
//         key_range_partition(table, key, part, bounds) is the same from given bounds, without a
//         database; key_bounds_of(db, table, key) asks for them.
//         sqlite::hash_partition(db, table, key, part)   (streambatch_hash("k") % count = index):
//         a key of any type, unique or not (equal keys share a partition; 5 and 5.0 too).
//         streambatch_hash is registered on `db` (register_hash_function(db) for another
//         connection); the hash is fixed (splitmix64 of the integer, of FNV-1a of the bytes).
//         sqlite::keyset_query(clause, "id, name")   {from_start, after_key}: SELECT id, name
//         FROM "t" WHERE <predicate> ORDER BY "id", and the same with "id" > ? AND <predicate>,
//         for the last key read (from_start first: `id > INT64_MIN` would skip INT64_MIN).
//         Append " LIMIT n" to read a batch a statement. The key must be unique (after_key
//         skips the rest of the last key's rows): for a hash partition by a non-unique key,
//         resume on a unique column yourself: "... WHERE id > ? AND " + part.predicate + ...
//         The predicates of partitions 0 .. count-1 are disjoint and together are `key IS NOT
//         NULL`: every row is read by exactly one worker (key ranges: if all workers cut from the
//         same bounds, so the key's min and max must not change until every worker has asked;
//         or pass them the bounds). Key ranges read an index range (SEARCH t USING INTEGER
//         PRIMARY KEY (rowid>? AND rowid<?)) but are even by key value, not by row count: skewed
//         keys give skewed partitions. Hash partitions balance any keys, but no index range can
//         serve them: every worker scans the whole table and keeps its share.
//         A job's source (io/sql/job_source.hpp, shared with postgres.hpp): sqlite::read_keyset(db,
//         {.table, .columns, .key, .partition, .where}, [{.page_size = 1000, ...},] params...),
//         read_keyset_as<Tuple>(...), read_keyset_as(db, spec, parse, ...): a sqlite::keyset_source
//         that reads the table in key order, page by page (LIMIT page_size; from the start with
//         no key predicate, so INT64_MIN is read; then "key" > ? with the last key read), and
//         models streambatch::job_source: position() is the key of the last row pulled,
//         seek(position) resumes after it, identity() is the query text, its parameters and the
//         partition, check_identity(state) throws streambatch::input_changed naming both.
// Models: query_view: std::ranges::view and input_range, move-only, single-pass; its iterator
//         is an input iterator whose operator* gives value_type& (so batch adaptors move the
//         records out), end() is std::default_sentinel. A row is stepped when the iterator
//         is compared or dereferenced, not on ++, so a batch adaptor never reads past its
//         batch (and an error in row 3 surfaces after the batch of rows 1-2 was handed out).
//         Calling begin() again continues where iteration stopped; after an exception the
//         view is at its end. It composes with the core (move the view in; it is move-only):
//             sqlite::query(db, sql, 10) | streambatch::views::memory_guarded(1000)
// Memory: the source holds one row; a batch adaptor holds one batch of them. The database must
//         outlive its views and inserters (they refer to it; sqlite3_close_v2 keeps it alive
//         while their statements exist, but error messages name it through the object).
//         A partition_clause is a few strings; making one runs two or three small queries.
// Errors: sqlite::error (code(): the extended result code; file(), sql(), sqlite_message()) for
//         everything the database reports: syntax errors and unknown tables when query() or the
//         inserter prepares, SQLITE_BUSY naming the file when another connection holds the lock
//         longer than the busy timeout. inserter::write throws sqlite::batch_error (an error with
//         batch_index() and row_index(), both 0-based; row_index() is npos outside a row) after
//         rolling the batch back. Bad input: sqlite::row_error (query(), row() 1-based, column()
//         index or npos, column_name(), reason()) from get<T>, e.g.
//           streambatch::sqlite: query "SELECT id, age FROM people", row 3, column 1 ("age"):
//           expected a 64-bit signed integer, found text "abc"
//         Bad-row policy (query_as only; the parse function is where a row is judged), in
//         query_options, named as in csv::options:
//           bad_rows = on_error::fail (default): the first exception from parse propagates; a
//           row_error as is, anything else nested (std::throw_with_nested) in a row_error that
//           names the query and row.
//           on_error::skip: the row is skipped and appended to reject_path as one JSON line
//           in the io family's reject format (docs/rejects.md: the query, row, column, error,
//           the column names and the values as SQLite holds them, losslessly); the file is
//           opened in append mode on the first bad row (earlier runs' rejects are kept) and
//           flushed after each. view.stats() counts rows read and skipped. The (max_skipped + 1)-th
//           bad row (default max_skipped: 100) is written too, then throws
//           sqlite::too_many_bad_rows (a row_error naming that row, with skipped() and
//           reject_path()). skip without a reject_path is std::invalid_argument: nothing is
//           dropped silently. Exceptions that are not bad input (sqlite::error, std::bad_alloc)
//           always propagate. (A rule that is not a conversion, e.g. "amount must be
//           positive", belongs in parse too: throw, and the policy applies.)
//         Partitions: std::invalid_argument for a bad partition (partition::check) or an empty
//         name; sqlite::error for an unknown table or column (SQLite's message, the statement;
//         a misspelt "column" is an error, not a string: the double-quoted-string fallback is
//         off while the partition functions prepare their statements). streambatch::
//         partition_error naming the table, the database and the key when rows have a NULL key
//         (with their count: a keyset query never reads them, so no partition would; none is
//         left out silently) and, for key ranges, when the key's min or max is not an integer:
//           streambatch::sqlite: key_range_partition: "orders" in database "shop.db": 3 rows
//           have a NULL "id": a keyset query (WHERE "id" > ? ORDER BY "id") never reads them, ...
// Example:
//     sqlite::database db("shop.db");
//     sqlite::inserter out(db, "INSERT INTO totals(customer, total) VALUES (?, ?)");
//     for (auto&& batch : sqlite::query_as<std::tuple<std::int64_t, double>>(
//                             db, "SELECT customer, sum(amount) FROM orders WHERE day > ? GROUP BY
//                             1", 20240101)
//                         | streambatch::views::memory_guarded(1000))
//         out.write(batch);                          // one transaction per batch
//
//     // Worker 2 of 4 (rank 2 under mpirun, task 2 of a Slurm array, ...), resuming after `last`:
//     auto part = sqlite::key_range_partition(db, "orders", "id",
//     streambatch::partition_from_environment()); auto q = sqlite::keyset_query(part, "id,
//     amount"); auto rows = last ? sqlite::query(db, q.after_key, *last) : sqlite::query(db,
//     q.from_start);

#ifndef STREAMBATCH_IO_SQLITE_HPP_INCLUDED
#define STREAMBATCH_IO_SQLITE_HPP_INCLUDED

// The component's parts (each includes what it needs; this header is the one to include):
#include <streambatch/io/sqlite/database.hpp>   // database, statement
#include <streambatch/io/sqlite/errors.hpp>     // error, batch_error, row_error, too_many_bad_rows
#include <streambatch/io/sqlite/inserter.hpp>   // inserter
#include <streambatch/io/sqlite/job_sink.hpp>   // job_sink (a streambatch::job_sink)
#include <streambatch/io/sqlite/job_source.hpp> // read_keyset, read_keyset_as, keyset_source
#include <streambatch/io/sqlite/partition.hpp>  // key_range_partition, hash_partition, keyset_query
#include <streambatch/io/sqlite/row.hpp>        // storage_class, row, field
#include <streambatch/io/sqlite/source.hpp>     // query, query_as, query_view, query_options

#endif // STREAMBATCH_IO_SQLITE_HPP_INCLUDED
