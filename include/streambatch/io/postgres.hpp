// streambatch/io/postgres.hpp: PostgreSQL source (a server-side cursor) and sink (COPY ... FROM
// STDIN, one transaction per batch). Target streambatch::postgres (links PostgreSQL::PostgreSQL).
//
// In:     a postgres::connection (RAII PGconn*, movable) from a conninfo string ("host=... port=...
//         dbname=..." or a postgresql:// URI) or, given none, libpq's PG* variables (PGHOST,
//         PGPORT, PGUSER, PGDATABASE, PGPASSWORD, ...); its client encoding is set to UTF8. Source:
//         SQL text with $1, $2 ... parameters and their values (integers, bool, floating point,
//         anything convertible to std::string_view, std::span<std::byte const> or
//         std::vector<std::byte> as bytea, nullptr / std::nullopt / an empty std::optional as
//         NULL), sent as text with PQexecParams (the server infers their types).
//         Sink: a table, its columns and a function mapping a record to its column values (a
//         tuple-like of the same kinds; tuple-like records need none).
//         Partitions: a table (a name, or {schema, name}), its key column and a
//         streambatch::partition{index, count}; names are quoted for you, as given
//         ("Orders" is not orders).
// Out:    postgres::query(conn, sql, [options,] params...)   a postgres::query_view of
// postgres::row.
//         postgres::query_as(conn, sql, parse, [options,] params...)
//                                                  a query_view of parse(row const&)'s type.
//         postgres::query_as<std::tuple<Ts...>>(conn, sql, [options,] params...)
//                                                  the same, parse = get<Ts>(0), get<Ts>(1), ...
//         The view runs, on its first begin():
//             BEGIN                                 (only if the connection is idle)
//             DECLARE streambatch_cursor_<k> NO SCROLL CURSOR FOR <sql>     (with the parameters)
//             FETCH FORWARD <options.fetch_size> FROM streambatch_cursor_<k>   (as rows are needed)
//             CLOSE ...; COMMIT                     (at the end; ROLLBACK if the view is abandoned)
//         It never runs a plain query that would buffer the whole result on the client. Set
//         fetch_size (default 1000) to the batch size: one round trip per batch.
//         postgres::copy_sink(conn, table, {columns} [, map]) sink.write(batch [, hook]) sends a
//         batch as COPY table (columns) FROM STDIN in BEGIN ... COMMIT: in binary format when
//         every column is of the value's own type (bool, smallint/integer/bigint, real/double,
//         text/varchar/char, bytea; the types read from the catalog once), else in text format
//         (backslash, tab, newline and CR escaped, NULL as \N); sink.format(copy_format::...)
//         forces one. hook(conn) runs inside that transaction
//         after the COPY, before COMMIT (e.g. to advance a checkpoint: exactly-once). The table
//         is SQL text (may be schema-qualified; quote it yourself if it needs quotes); the
//         columns are quoted for you. Returns the rows written.
//         sink.write_rows(batch) sends the COPY in the transaction the caller has open (a job
//         sink's). postgres::job_sink(conn, sink or write(conn, batch) [, sql::job_sink_options])
//         a streambatch::job_sink (job/contract.hpp): open(key) takes the job's fence (a
//         session-level advisory lock on conn, freed by the server when the connection ends;
//         fence_held names the holder recorded in the table streambatch_job_state and the
//         backend holding the lock) and returns the stored job_state; commit(batch, state)
//         writes both in one transaction if the row still holds this writer's token and
//         position (else fence_lost). See postgres/job_sink.hpp.
//         A row owns its values (one allocation: offsets, NULL flags and the text) and survives
//         the fetch; row.get<T>(index or "name") converts the text: integers (range-checked),
//         double (NaN, Infinity), bool (t/f), std::string, std::string_view (into the row),
//         std::vector<std::byte> (from bytea's hex output), std::optional<T> (NULL -> nullopt);
//         r["name"].as<T>() is the same.
//         Partitions, one worker's share of a table for N copies of a job (types shared with
//         sqlite.hpp, in streambatch::sql): a partition_clause, whose .predicate goes into your
//         query as SQL text with literals (it adds no parameter, so yours stay $1, $2, ...):
//         postgres::key_range_partition(conn, table, key, part)   asks for the key's min and max
//         (smallint, integer or bigint) and cuts [min, max] evenly by value: partition i is
//         b_i <= key < b_i+1 with b_i = min + floor((max - min + 1) * i / count) (128-bit
//         arithmetic), e.g. ("id" >= 250 AND "id" < 500); partition 0 has no lower bound and
//         the last no upper one, ("id" < 250) ... ("id" >= 750), so keys added below min or
//         above max are still read; count 1 is ("id" IS NOT NULL). .lo, .hi (nullopt: no
//         bound), .bounds, .empty(). key_range_partition(table, key, part, bounds) is the same
//         from given bounds, without a server; key_bounds_of(conn, table, key) asks for them.
//         postgres::hash_partition(conn, table, key, part)   (((h % count) + count) % count =
//         index) with the server's hash h of the key's type, never of a text rendering:
//         hashint8extended(key::bigint, 0) for integers, hashtextextended(key::text, 0) for text,
//         varchar, char and name, hash_record_extended(ROW(key), 0) for any other type with a
//         hash function (uuid, numeric, date, ...). The key need not be unique (equal keys share
//         a partition).
//         postgres::keyset_query(clause, "id, name")   {from_start, after_key}: SELECT id, name
//         FROM "t" WHERE <predicate> ORDER BY "id", and the same with "id" > $1 AND <predicate>,
//         for the last key read (from_start first: `id > INT64_MIN` would skip INT64_MIN).
//         The key must be unique (after_key skips the rest of the last key's rows): for a hash
//         partition by a non-unique key, resume on a unique column yourself: "... WHERE id > $1
//         AND " + part.predicate + " ORDER BY id".
//         The predicates of partitions 0 .. count-1 are disjoint and together are `key IS NOT
//         NULL`: every row is read by exactly one worker (key ranges: if all workers cut from the
//         same bounds, so the key's min and max must not change until every worker has asked;
//         or pass them the bounds). Key ranges are index range scans (Index Cond: ((id >= 250)
//         AND (id < 500))) but are even by key value, not by row count: skewed keys give skewed
//         partitions. Hash partitions balance any keys, but no index range can serve them: every
//         worker scans the whole table and keeps its share.
//         A job's source (io/sql/job_source.hpp, shared with sqlite.hpp):
//         postgres::read_keyset(conn, {.table, .columns, .key, .partition, .where},
//         [{.page_size = 1000, ...},] params...), read_keyset_as<Tuple>(...),
//         read_keyset_as(conn, spec, parse, ...): a postgres::keyset_source that reads the table
//         in key order, page by page (LIMIT page_size; from the start with no key predicate, so
//         INT64_MIN is read; then "key" > $1 with the last key read), and
//         models streambatch::job_source: position() is the key of the last row pulled,
//         seek(position) resumes after it, identity() is the query text, its parameters and the
//         partition, check_identity(state) throws streambatch::input_changed naming both.
// Models: query_view: std::ranges::view and input_range, move-only, single-pass; its iterator
//         is an input iterator whose operator* gives value_type& (so batch adaptors move the
//         records out), end() is std::default_sentinel. A row is read (and a FETCH sent) when
//         the iterator is compared or dereferenced, not on ++, so a batch adaptor never fetches
//         past its batch. Calling begin() again continues where iteration stopped; after an
//         exception the view is at its end. It composes with the core (move the view in; it is
//         move-only):
//             postgres::query(conn, sql, 10) | streambatch::views::memory_guarded(1000)
//         Cursors on one connection may nest: the transaction the first one began is committed
//         when the last one closes. A sink needs a connection with no transaction open: use a
//         second connection to write while a cursor reads.
// Memory: the source holds one fetched PGresult (fetch_size rows; the previous one is freed
//         before the next FETCH) and one row; a batch adaptor holds one batch of rows. The sink
//         holds a 64 KiB COPY buffer. The connection must outlive its views and sinks, and not
//         be moved while they use it (they refer to it). A partition_clause is a few strings;
//         making one runs three or four small queries.
// Errors: postgres::error for everything the server or libpq reports: sqlstate() ("42601"
//         syntax error, "42P01" unknown table, "23505" unique violation, ...; "08001" when the
//         connection cannot be made, "08006" when it is lost), server_message() (the primary
//         message), detail(), hint(), context(), sql(), host(), port(). A refused connection
//         names host and port. copy_sink::write throws postgres::batch_error (an error with
//         batch_index() and row_index(), both 0-based; row_index() from the server's "COPY t,
//         line N" context, npos if unknown) after rolling the batch back. Bad input:
//         postgres::row_error (query(), row() 1-based, column() index or npos, column_name(),
//         reason()) from get<T>, e.g.
//           streambatch::postgres: query "SELECT id, age FROM people", row 3, column 1 ("age"):
//           expected a 64-bit signed integer, found "abc"
//         Bad-row policy (query_as; the parse function is where a row is judged), in
//         query_options, named as in csv::options:
//           bad_rows = on_error::fail (default): the first exception from parse propagates; a
//           row_error as is, anything else nested (std::throw_with_nested) in a row_error that
//           names the query and row.
//           on_error::skip: the row is skipped and appended to reject_path as one JSON line
//           {"source","database","query","row","column","column_name","error","columns",
//           "values"} (values as the server's text, null for NULL); the file is opened in
//           append mode on the first bad row (earlier runs' rejects are kept) and flushed after
//           each. view.stats() counts rows read, rows skipped and FETCHes. The (max_skipped +
//           1)-th bad row (default max_skipped: 100) is written too, then throws
//           postgres::too_many_bad_rows (a row_error naming that row, with skipped() and
//           reject_path()). skip without a reject_path is std::invalid_argument: nothing is
//           dropped silently. Exceptions that are not bad input (postgres::error,
//           std::bad_alloc) always propagate. (A rule that is not a conversion, e.g. "amount
//           must be positive", belongs in parse too: throw, and the policy applies.)
//         Partitions: std::invalid_argument for a bad partition (partition::check) or an empty
//         name; postgres::error for an unknown table or column ("42P01", "42703", with the
//         statement) and for a hash key whose type has no hash function. streambatch::
//         partition_error naming the table, the server and the key when rows have a NULL key
//         (with their count: a keyset query never reads them, so no partition would; none is
//         left out silently; NOT NULL keys are not counted) and, for key ranges, when the key is
//         not an integer type:
//           streambatch::postgres: key_range_partition: "orders" on db1:5432/shop: the key
//           "name" is text, not an integer type (smallint, integer, bigint); ...
// Example:
//     postgres::connection src("host=db1 dbname=shop"), dst;         // dst: from PG* variables
//     postgres::copy_sink out(dst, "totals", {"customer", "total"});
//     for (auto&& batch : postgres::query_as<std::tuple<std::int64_t, double>>(
//                             src, "SELECT customer, sum(amount) FROM orders WHERE day > $1 GROUP
//                             BY 1", 20240101)
//                         | streambatch::views::memory_guarded(1000))
//         out.write(batch);                          // one COPY, one transaction per batch
//
//     // Worker 2 of 4 (rank 2 under mpirun, task 2 of a Slurm array, ...), resuming after `last`:
//     auto part = postgres::key_range_partition(src, "orders", "id",
//     streambatch::partition_from_environment()); auto q = postgres::keyset_query(part, "id,
//     amount"); auto rows = last ? postgres::query(src, q.after_key, *last) : postgres::query(src,
//     q.from_start);

#ifndef STREAMBATCH_IO_POSTGRES_HPP_INCLUDED
#define STREAMBATCH_IO_POSTGRES_HPP_INCLUDED

// The component's parts (each includes what it needs; this header is the one to include):
#include <streambatch/io/postgres/connection.hpp> // connection, result, append_copy_field
#include <streambatch/io/postgres/copy_sink.hpp>  // copy_sink
#include <streambatch/io/postgres/errors.hpp>   // error, batch_error, row_error, too_many_bad_rows
#include <streambatch/io/postgres/job_sink.hpp> // job_sink (a streambatch::job_sink)
#include <streambatch/io/postgres/job_source.hpp> // read_keyset, read_keyset_as, keyset_source
#include <streambatch/io/postgres/partition.hpp> // key_range_partition, hash_partition, keyset_query
#include <streambatch/io/postgres/row.hpp>       // row, field
#include <streambatch/io/postgres/source.hpp>    // query, query_as, query_view, query_options

#endif // STREAMBATCH_IO_POSTGRES_HPP_INCLUDED
