// streambatch/io/postgres.hpp: PostgreSQL source (a server-side cursor) and sink (COPY ... FROM
// STDIN, one transaction per batch). Target streambatch::postgres (links PostgreSQL::PostgreSQL).
//
// In:     a postgres::connection (RAII PGconn*, movable) from a conninfo string ("host=... port=...
//         dbname=..." or a postgresql:// URI) or, given none, libpq's PG* variables (PGHOST, PGPORT,
//         PGUSER, PGDATABASE, PGPASSWORD, ...); its client encoding is set to UTF8.
//         Source: SQL text with $1, $2 ... parameters and their values (integers, bool, floating
//         point, anything convertible to std::string_view, std::span<std::byte const> or
//         std::vector<std::byte> as bytea, nullptr / std::nullopt / an empty std::optional as
//         NULL), sent as text with PQexecParams (the server infers their types).
//         Sink: a table, its columns and a function mapping a record to its column values (a
//         tuple-like of the same kinds; tuple-like records need none).
//         Partitions: a table (a name, or {schema, name}), its key column and a
//         streambatch::partition{index, count}; names are quoted for you, as given
//         ("Orders" is not orders).
// Out:    postgres::query(conn, sql, [options,] params...)   a postgres::query_view of postgres::row.
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
//         batch as COPY table (columns) FROM STDIN (text format: backslash, tab, newline and CR
//         escaped, NULL as \N) in BEGIN ... COMMIT; hook(conn) runs inside that transaction
//         after the COPY, before COMMIT (e.g. to advance a checkpoint: exactly-once). The table
//         is SQL text (may be schema-qualified; quote it yourself if it needs quotes); the
//         columns are quoted for you. Returns the rows written.
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
//                             src, "SELECT customer, sum(amount) FROM orders WHERE day > $1 GROUP BY 1",
//                             20240101)
//                         | streambatch::views::memory_guarded(1000))
//         out.write(batch);                          // one COPY, one transaction per batch
//
//     // Worker 2 of 4 (rank 2 under mpirun, task 2 of a Slurm array, ...), resuming after `last`:
//     auto part = postgres::key_range_partition(src, "orders", "id", streambatch::partition_from_environment());
//     auto q = postgres::keyset_query(part, "id, amount");
//     auto rows = last ? postgres::query(src, q.after_key, *last) : postgres::query(src, q.from_start);

#ifndef STREAMBATCH_IO_POSTGRES_HPP_INCLUDED
#define STREAMBATCH_IO_POSTGRES_HPP_INCLUDED

#include <streambatch/io/sql/partition.hpp>

#include <libpq-fe.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <functional>
#include <iterator>
#include <limits>
#include <memory>
#include <new>
#include <optional>
#include <ranges>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace streambatch::postgres {

/// What a query_as source does with a row its parse function rejects (as csv::on_error).
enum class on_error : unsigned char {
    fail, ///< throw (the default)
    skip, ///< write it to the reject file, count it, go on (up to max_skipped)
};

/// The cursor's fetch size and the bad-row policy of query_as.
struct query_options {
    std::size_t fetch_size = 1000; ///< rows per FETCH FORWARD; set it to the batch size
    on_error bad_rows = on_error::fail;
    std::uint64_t max_skipped = 100;       ///< on_error::skip: the next bad row throws
    std::filesystem::path reject_path{}; ///< JSON Lines; required by skip
};

/// What a source has done so far; view.stats() shares it, so it outlives the view.
struct query_stats {
    std::uint64_t rows_read = 0;    ///< rows fetched, bad ones included
    std::uint64_t rows_skipped = 0; ///< rows rejected under on_error::skip
    std::uint64_t fetches = 0;      ///< FETCH round trips
};

/// An error the server or libpq reported.
class error : public std::runtime_error {
    std::string sqlstate_, server_message_, detail_, hint_, context_, sql_, host_, port_;

public:
    error(std::string const& what, std::string sqlstate, std::string server_message, std::string detail,
          std::string hint, std::string context, std::string sql, std::string host, std::string port)
        : std::runtime_error(what), sqlstate_(std::move(sqlstate)), server_message_(std::move(server_message)),
          detail_(std::move(detail)), hint_(std::move(hint)), context_(std::move(context)), sql_(std::move(sql)),
          host_(std::move(host)), port_(std::move(port))
    {
    }
    /// The five-character SQLSTATE ("42601", "23505", ...); "08001" when connecting failed,
    /// "08006" when the connection was lost; empty if there was none.
    std::string const& sqlstate() const noexcept { return sqlstate_; }
    /// The server's primary message (or libpq's, for client-side failures).
    std::string const& server_message() const noexcept { return server_message_; }
    std::string const& detail() const noexcept { return detail_; }
    std::string const& hint() const noexcept { return hint_; }
    /// The server's CONTEXT ("COPY t, line 3, column id: ...").
    std::string const& context() const noexcept { return context_; }
    /// The statement that failed (the user's query for a cursor).
    std::string const& sql() const noexcept { return sql_; }
    std::string const& host() const noexcept { return host_; }
    std::string const& port() const noexcept { return port_; }
};

/// copy_sink::write failed; the batch was rolled back.
class batch_error : public error {
    std::uint64_t batch_;
    std::size_t row_;

public:
    static constexpr std::size_t npos = static_cast<std::size_t>(-1);
    batch_error(std::string const& what, error const& cause, std::uint64_t batch, std::size_t row)
        : error(what, cause.sqlstate(), cause.server_message(), cause.detail(), cause.hint(), cause.context(),
                cause.sql(), cause.host(), cause.port()),
          batch_(batch), row_(row)
    {
    }
    /// 0-based: how many write() calls came before the one that failed.
    std::uint64_t batch_index() const noexcept { return batch_; }
    /// 0-based row within the batch; npos when unknown or not a row's (BEGIN, hook, COMMIT).
    std::size_t row_index() const noexcept { return row_; }
};

/// Bad input: a value that is not what was asked for, or a row its parse function rejected.
class row_error : public std::runtime_error {
    std::string query_;
    std::uint64_t row_;
    std::size_t column_;
    std::string column_name_, reason_;

public:
    static constexpr std::size_t npos = static_cast<std::size_t>(-1);
    row_error(std::string const& what, std::string query, std::uint64_t row, std::size_t column,
              std::string column_name, std::string reason)
        : std::runtime_error(what), query_(std::move(query)), row_(row), column_(column),
          column_name_(std::move(column_name)), reason_(std::move(reason))
    {
    }
    std::string const& query() const noexcept { return query_; }
    /// 1-based position of the row in the query's result.
    std::uint64_t row() const noexcept { return row_; }
    /// 0-based column index, npos when the error is about the whole row.
    std::size_t column() const noexcept { return column_; }
    std::string const& column_name() const noexcept { return column_name_; }
    /// What was expected and what was found, without the location.
    std::string const& reason() const noexcept { return reason_; }
};

/// on_error::skip went over query_options::max_skipped.
class too_many_bad_rows : public row_error {
    std::uint64_t skipped_;
    std::filesystem::path reject_path_;

public:
    too_many_bad_rows(std::string const& what, row_error const& last, std::uint64_t skipped,
                      std::filesystem::path reject_path)
        : row_error(what, last.query(), last.row(), last.column(), last.column_name(), last.reason()),
          skipped_(skipped), reject_path_(std::move(reject_path))
    {
    }
    /// Rows skipped before this one (the reject file holds those and this one).
    std::uint64_t skipped() const noexcept { return skipped_; }
    std::filesystem::path const& reject_path() const noexcept { return reject_path_; }
};

namespace detail {

inline std::string shorten(std::string_view s, std::size_t max = 300)
{
    if (s.size() <= max)
        return std::string(s);
    return std::string(s.substr(0, max)) + "...";
}

/// A value for a message: quoted, control characters escaped, cut at 60 bytes.
inline std::string quote_value(std::string_view s)
{
    std::string out = "\"";
    std::size_t n = 0;
    for (char c : s) {
        if (++n > 60) {
            out += "...";
            break;
        }
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (c == '\n') {
            out += "\\n";
        } else if (c == '\t') {
            out += "\\t";
        } else if (c == '\r') {
            out += "\\r";
        } else if (static_cast<unsigned char>(c) < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned>(static_cast<unsigned char>(c)));
            out += buf;
        } else {
            out += c;
        }
    }
    return out + '"';
}

/// libpq's multi-line messages on one line.
inline std::string one_line(std::string_view s)
{
    std::string out;
    for (char c : s) {
        if (c == '\n' || c == '\t') {
            if (!out.empty() && out.back() != ' ')
                out += ' ';
        } else {
            out += c;
        }
    }
    while (!out.empty() && out.back() == ' ')
        out.pop_back();
    return out;
}

inline std::string where(std::string_view query, std::uint64_t row, std::size_t column, std::string_view name)
{
    std::string s = "query " + quote_value(shorten(query, 55)) + ", row " + std::to_string(row);
    if (column != row_error::npos)
        s += ", column " + std::to_string(column);
    if (!name.empty())
        s += (column != row_error::npos ? " (" : ", column (") + quote_value(name) + ")";
    return s;
}

[[noreturn]] inline void throw_row_error(std::string const& query, std::uint64_t row, std::size_t column,
                                         std::string const& name, std::string const& reason)
{
    throw row_error("streambatch::postgres: " + where(query, row, column, name) + ": " + reason, query, row,
                    column, name, reason);
}

inline std::string str(char const* s) { return s ? std::string(s) : std::string(); }

/// e.what() without our "streambatch::postgres: " prefix, to wrap it in a longer message.
inline std::string_view unprefixed(char const* what)
{
    std::string_view s = what;
    constexpr std::string_view prefix = "streambatch::postgres: ";
    return s.starts_with(prefix) ? s.substr(prefix.size()) : s;
}

/// Throws postgres::error for a failed result `r` (null: libpq could not even make one).
[[noreturn]] inline void throw_error(PGconn* conn, PGresult const* r, std::string const& sql,
                                     std::string const& doing = {})
{
    std::string state = r ? str(PQresultErrorField(r, PG_DIAG_SQLSTATE)) : std::string();
    std::string primary = r ? str(PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY)) : std::string();
    if (primary.empty())
        primary = one_line(r ? str(PQresultErrorMessage(r)) : std::string());
    if (primary.empty())
        primary = one_line(str(PQerrorMessage(conn)));
    if (primary.empty())
        primary = "unknown error (result status " + str(r ? PQresStatus(PQresultStatus(r)) : "none") + ")";
    if (state.empty() && PQstatus(conn) == CONNECTION_BAD)
        state = "08006";
    std::string const detail = r ? str(PQresultErrorField(r, PG_DIAG_MESSAGE_DETAIL)) : std::string();
    std::string const hint = r ? str(PQresultErrorField(r, PG_DIAG_MESSAGE_HINT)) : std::string();
    std::string const context = r ? str(PQresultErrorField(r, PG_DIAG_CONTEXT)) : std::string();
    std::string const severity = r ? str(PQresultErrorField(r, PG_DIAG_SEVERITY_NONLOCALIZED)) : std::string();
    std::string const host = str(PQhost(conn)), port = str(PQport(conn));
    std::string what = "streambatch::postgres: " + (severity.empty() ? std::string("ERROR") : severity) +
                       (state.empty() ? std::string() : " " + state) + ": " + primary;
    if (!detail.empty())
        what += " (detail: " + one_line(detail) + ")";
    if (!hint.empty())
        what += " (hint: " + one_line(hint) + ")";
    if (!context.empty())
        what += " (context: " + one_line(shorten(context, 200)) + ")";
    what += " on " + host + ":" + port;
    if (!doing.empty())
        what += " while " + doing;
    else if (!sql.empty())
        what += " while running " + quote_value(shorten(sql, 200));
    throw error(what, state, primary, detail, hint, context, sql, host, port);
}

/// JSON string escaping for reject records; bytes that are not UTF-8 become \u00XX.
inline void json_string(std::string& out, std::string_view s)
{
    out += '"';
    auto const* p = reinterpret_cast<unsigned char const*>(s.data());
    std::size_t const n = s.size();
    for (std::size_t i = 0; i < n;) {
        unsigned char const c = p[i];
        if (c == '"' || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
            ++i;
        } else if (c < 0x20 || c == 0x7f) {
            char buf[8];
            switch (c) {
            case '\n': out += "\\n"; break;
            case '\t': out += "\\t"; break;
            case '\r': out += "\\r"; break;
            default:
                std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
                out += buf;
            }
            ++i;
        } else if (c < 0x80) {
            out += static_cast<char>(c);
            ++i;
        } else {
            std::size_t len = c >= 0xf0 && c < 0xf5 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c < 0xe0 ? 2 : 0;
            bool ok = len != 0 && i + len <= n;
            for (std::size_t k = 1; ok && k < len; ++k)
                ok = (p[i + k] & 0xc0) == 0x80;
            if (ok) {
                out.append(s.data() + i, len);
                i += len;
            } else {
                char buf[8];
                std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
                out += buf;
                ++i;
            }
        }
    }
    out += '"';
}

/// Appends reject records to a JSON Lines file, opened (append mode) on the first one.
class reject_writer {
    std::filesystem::path path_;
    std::FILE* file_ = nullptr;

public:
    reject_writer() = default;
    explicit reject_writer(std::filesystem::path path) : path_(std::move(path)) {}
    reject_writer(reject_writer&& o) noexcept : path_(std::move(o.path_)), file_(std::exchange(o.file_, nullptr)) {}
    reject_writer& operator=(reject_writer&& o) noexcept
    {
        if (this != &o) {
            if (file_)
                std::fclose(file_);
            path_ = std::move(o.path_);
            file_ = std::exchange(o.file_, nullptr);
        }
        return *this;
    }
    ~reject_writer()
    {
        if (file_)
            std::fclose(file_);
    }
    std::filesystem::path const& path() const noexcept { return path_; }

    void write(std::string const& line)
    {
        if (!file_) {
            file_ = std::fopen(path_.c_str(), "a");
            if (!file_)
                throw std::system_error(errno, std::generic_category(),
                                        "streambatch::postgres: cannot open the reject file " + path_.string());
        }
        if (std::fwrite(line.data(), 1, line.size(), file_) != line.size() || std::fputc('\n', file_) == EOF ||
            std::fflush(file_) != 0)
            throw std::system_error(errno, std::generic_category(),
                                    "streambatch::postgres: cannot write the reject file " + path_.string());
    }
};

/// Shared by all rows of one query: the text, the column names, where the server is.
struct result_info {
    std::string query;
    std::string database; ///< host:port/dbname
    std::vector<std::string> columns;
};

inline constexpr std::size_t align8(std::size_t n) noexcept { return (n + 7) & ~std::size_t{7}; }
/// A row's single allocation: (n + 1) offsets (std::uint64_t), n NULL flags (bytes, padded to
/// 8), then the values' text.
inline constexpr std::size_t header_bytes(std::size_t n) noexcept { return (n + 1) * 8 + align8(n); }

template <class C>
concept tuple_like = requires { std::tuple_size<std::remove_cvref_t<C>>::value; };

/// Holds a function object and is move-assignable even when it is not (lambdas), so that a
/// view holding one is a std::ranges::view (std's movable-box, which C++20 does not expose).
template <class F>
class movable_box {
    std::optional<F> f_;

public:
    explicit movable_box(F f) : f_(std::move(f)) {}
    movable_box(movable_box&&) = default;
    movable_box& operator=(movable_box&& o) noexcept(std::is_nothrow_move_constructible_v<F>)
    {
        if (this != &o) {
            f_.reset();
            if (o.f_)
                f_.emplace(std::move(*o.f_));
        }
        return *this;
    }
    F& get() noexcept { return *f_; }
};

template <class T>
struct is_optional : std::false_type {};
template <class T>
struct is_optional<std::optional<T>> : std::true_type {};

template <class T>
std::string type_name()
{
    if constexpr (std::is_same_v<T, bool>)
        return "a boolean (t or f)";
    else if constexpr (std::is_integral_v<T>)
        return std::string(std::is_signed_v<T> ? "a " : "an ") + std::to_string(sizeof(T) * 8) + "-bit " +
               (std::is_signed_v<T> ? "signed" : "unsigned") + " integer";
    else if constexpr (std::is_floating_point_v<T>)
        return "a number";
    else if constexpr (std::is_same_v<T, std::vector<std::byte>>)
        return "bytea in hex format (\\x...)";
    else
        return "a value";
}

template <class T>
inline constexpr bool gettable_v = std::is_arithmetic_v<T> || std::is_same_v<T, std::string> ||
                                   std::is_same_v<T, std::string_view> ||
                                   std::is_same_v<T, std::vector<std::byte>>;
template <class T>
inline constexpr bool gettable_v<std::optional<T>> = gettable_v<T>;

inline int hex_digit(char c) noexcept
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/// Converts a value in PostgreSQL's text output format to T; nullopt if it is not one.
template <class T>
std::optional<T> from_text(std::string_view s)
{
    if constexpr (std::is_same_v<T, bool>) {
        if (s == "t" || s == "true")
            return true;
        if (s == "f" || s == "false")
            return false;
        return std::nullopt;
    } else if constexpr (std::is_integral_v<T> || std::is_floating_point_v<T>) {
        T v{};
        auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
        if (ec != std::errc{} || p != s.data() + s.size() || s.empty())
            return std::nullopt;
        return v;
    } else if constexpr (std::is_same_v<T, std::string> || std::is_same_v<T, std::string_view>) {
        return T(s);
    } else {
        static_assert(std::is_same_v<T, std::vector<std::byte>>);
        if (s.size() < 2 || s[0] != '\\' || s[1] != 'x' || s.size() % 2 != 0)
            return std::nullopt;
        std::vector<std::byte> out;
        out.reserve((s.size() - 2) / 2);
        for (std::size_t i = 2; i < s.size(); i += 2) {
            int const hi = hex_digit(s[i]), lo = hex_digit(s[i + 1]);
            if (hi < 0 || lo < 0)
                return std::nullopt;
            out.push_back(static_cast<std::byte>(hi * 16 + lo));
        }
        return out;
    }
}

} // namespace detail

/// A type row::get<T> can produce.
template <class T>
concept gettable = detail::gettable_v<T>;

class row;

/// One value of a row: r[1] or r["age"].
class field {
    row const* row_;
    std::size_t index_;

public:
    field(row const& r, std::size_t index) noexcept : row_(std::addressof(r)), index_(index) {}
    std::size_t index() const noexcept { return index_; }
    std::string_view name() const;
    bool is_null() const;
    /// The value as the server sent it (text format); empty for NULL.
    std::string_view text() const;
    template <gettable T>
    T as() const;
};

/// A row of a query's result that owns its values (one allocation), movable and copyable.
class row {
    std::shared_ptr<detail::result_info const> info_;
    std::unique_ptr<std::byte[]> buf_;
    std::uint64_t number_ = 0;

    std::size_t n() const noexcept { return info_ ? info_->columns.size() : 0; }
    std::uint64_t offset(std::size_t i) const noexcept
    {
        std::uint64_t v;
        std::memcpy(&v, buf_.get() + i * 8, 8);
        return v;
    }
    std::size_t total_bytes() const noexcept { return detail::header_bytes(n()) + offset(n()); }
    void check_index(std::size_t i) const
    {
        if (i >= n())
            detail::throw_row_error(query(), number_, i, {},
                                    "no such column: the row has " + std::to_string(n()) + " columns");
    }

public:
    row() = default;
    /// Builds row `r` of the result `res` (what the source does).
    row(std::shared_ptr<detail::result_info const> info, PGresult const* res, int r, std::uint64_t number)
        : info_(std::move(info)), number_(number)
    {
        std::size_t const count = n();
        std::size_t data = 0;
        for (std::size_t i = 0; i < count; ++i)
            data += static_cast<std::size_t>(PQgetlength(res, r, static_cast<int>(i)));
        std::size_t const head = detail::header_bytes(count);
        buf_ = std::make_unique_for_overwrite<std::byte[]>(head + data);
        std::byte* const nulls = buf_.get() + (count + 1) * 8;
        std::uint64_t off = 0;
        for (std::size_t i = 0; i < count; ++i) {
            int const c = static_cast<int>(i);
            std::memcpy(buf_.get() + i * 8, &off, 8);
            bool const null = PQgetisnull(res, r, c) != 0;
            nulls[i] = std::byte{null ? std::uint8_t{1} : std::uint8_t{0}};
            auto const len = static_cast<std::size_t>(PQgetlength(res, r, c));
            if (len)
                std::memcpy(buf_.get() + head + off, PQgetvalue(res, r, c), len);
            off += len;
        }
        std::memcpy(buf_.get() + count * 8, &off, 8);
    }
    row(row&&) noexcept = default;
    row& operator=(row&&) noexcept = default;
    row(row const& o) : info_(o.info_), number_(o.number_)
    {
        if (o.buf_) {
            std::size_t const bytes = o.total_bytes();
            buf_ = std::make_unique_for_overwrite<std::byte[]>(bytes);
            std::memcpy(buf_.get(), o.buf_.get(), bytes);
        }
    }
    row& operator=(row const& o)
    {
        if (this != &o)
            *this = row(o);
        return *this;
    }

    /// Number of columns.
    std::size_t size() const noexcept { return n(); }
    /// 1-based position of this row in its query's result.
    std::uint64_t number() const noexcept { return number_; }
    /// The SQL text of the query this row came from.
    std::string const& query() const noexcept
    {
        static std::string const none;
        return info_ ? info_->query : none;
    }
    /// Where the row came from: host:port/dbname.
    std::string const& database() const noexcept
    {
        static std::string const none;
        return info_ ? info_->database : none;
    }
    std::vector<std::string> const& column_names() const noexcept
    {
        static std::vector<std::string> const none;
        return info_ ? info_->columns : none;
    }
    std::string_view column_name(std::size_t i) const
    {
        check_index(i);
        return info_->columns[i];
    }
    /// The index of the first column called `name`; row_error if there is none.
    std::size_t column_index(std::string_view name) const
    {
        for (std::size_t i = 0; i < n(); ++i)
            if (info_->columns[i] == name)
                return i;
        std::string names;
        for (auto const& c : column_names())
            names += (names.empty() ? "" : ", ") + c;
        detail::throw_row_error(query(), number_, row_error::npos, std::string(name),
                                "no such column; the columns are: " + names);
    }
    bool is_null(std::size_t i) const
    {
        check_index(i);
        return buf_[(n() + 1) * 8 + i] != std::byte{0};
    }
    bool is_null(std::string_view name) const { return is_null(column_index(name)); }
    /// Column i as the server sent it (text format); empty for NULL.
    std::string_view text(std::size_t i) const
    {
        check_index(i);
        return {reinterpret_cast<char const*>(buf_.get() + detail::header_bytes(n()) + offset(i)),
                static_cast<std::size_t>(offset(i + 1) - offset(i))};
    }

    field operator[](std::size_t i) const
    {
        check_index(i);
        return field(*this, i);
    }
    field operator[](std::string_view name) const { return field(*this, column_index(name)); }

    /// The value of column i as T; row_error naming the query, row and column if it is not one.
    template <gettable T>
    T get(std::size_t i) const
    {
        if constexpr (detail::is_optional<T>::value) {
            if (is_null(i))
                return std::nullopt;
            return get<typename T::value_type>(i);
        } else {
            if (is_null(i))
                detail::throw_row_error(query(), number_, i, info_->columns[i],
                                        "expected " + detail::type_name<T>() + ", found NULL");
            std::string_view const s = text(i);
            if (auto v = detail::from_text<T>(s))
                return std::move(*v);
            std::string found = detail::quote_value(s);
            if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
                long double d = 0;
                auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), d);
                if (ec == std::errc::result_out_of_range ||
                    (ec == std::errc{} && p == s.data() + s.size() && std::trunc(d) == d))
                    found += " (out of range)";
            }
            detail::throw_row_error(query(), number_, i, info_->columns[i],
                                    "expected " + detail::type_name<T>() + ", found " + found);
        }
    }
    template <gettable T>
    T get(std::string_view name) const
    {
        return get<T>(column_index(name));
    }

    /// The values as a tuple-like T (std::tuple, std::pair), column i for element i; the column
    /// count must match.
    template <class T>
    T as() const
    {
        constexpr std::size_t k = std::tuple_size_v<T>;
        if (n() != k)
            detail::throw_row_error(query(), number_, row_error::npos, {},
                                    "expected " + std::to_string(k) + " columns, found " + std::to_string(n()));
        return [&]<std::size_t... I>(std::index_sequence<I...>) {
            return T{get<std::tuple_element_t<I, T>>(I)...};
        }(std::make_index_sequence<k>{});
    }
};

inline std::string_view field::name() const { return row_->column_name(index_); }
inline bool field::is_null() const { return row_->is_null(index_); }
inline std::string_view field::text() const { return row_->text(index_); }
template <gettable T>
T field::as() const
{
    return row_->get<T>(index_);
}

namespace detail {

template <class T>
inline constexpr bool bindable_v =
    std::is_same_v<T, std::nullptr_t> || std::is_same_v<T, std::nullopt_t> ||
    (std::is_arithmetic_v<T> && !std::is_same_v<T, char> && !std::is_same_v<T, wchar_t> &&
     !std::is_same_v<T, char8_t> && !std::is_same_v<T, char16_t> && !std::is_same_v<T, char32_t>) ||
    std::is_convertible_v<T const&, std::string_view> || std::is_same_v<T, std::span<std::byte const>> ||
    std::is_same_v<T, std::vector<std::byte>>;
template <class T>
inline constexpr bool bindable_v<std::optional<T>> = bindable_v<T>;

inline void append_number(std::string& out, double d)
{
    if (std::isnan(d)) {
        out += "NaN";
    } else if (std::isinf(d)) {
        out += d > 0 ? "Infinity" : "-Infinity";
    } else {
        char buf[64];
        auto r = std::to_chars(buf, buf + sizeof buf, d);
        out.append(buf, r.ptr);
    }
}

/// A value in PostgreSQL's text input format (unescaped); false for NULL.
template <class T>
bool to_text(std::string& out, T const& v)
{
    using U = std::remove_cvref_t<T>;
    if constexpr (std::is_same_v<U, std::nullptr_t> || std::is_same_v<U, std::nullopt_t>) {
        return false;
    } else if constexpr (is_optional<U>::value) {
        return v ? to_text(out, *v) : false;
    } else if constexpr (std::is_same_v<U, bool>) {
        out += v ? 't' : 'f';
    } else if constexpr (std::is_integral_v<U>) {
        char buf[24];
        auto r = std::to_chars(buf, buf + sizeof buf, v);
        out.append(buf, r.ptr);
    } else if constexpr (std::is_floating_point_v<U>) {
        append_number(out, static_cast<double>(v));
    } else if constexpr (std::is_same_v<U, std::span<std::byte const>> || std::is_same_v<U, std::vector<std::byte>>) {
        static char const digits[] = "0123456789abcdef";
        out += "\\x";
        for (std::byte b : v) {
            out += digits[std::to_integer<unsigned>(b) >> 4];
            out += digits[std::to_integer<unsigned>(b) & 0xf];
        }
    } else {
        out += std::string_view(v);
    }
    return true;
}

/// Appends `s` as a COPY text-format field: backslash, tab, newline and CR escaped.
inline void append_copy_escaped(std::string& out, std::string_view s)
{
    std::size_t start = 0;
    for (std::size_t i = 0; i < s.size(); ++i) {
        char const c = s[i];
        char esc = 0;
        switch (c) {
        case '\\': esc = '\\'; break;
        case '\t': esc = 't'; break;
        case '\n': esc = 'n'; break;
        case '\r': esc = 'r'; break;
        default: continue;
        }
        out.append(s.data() + start, i - start);
        out += '\\';
        out += esc;
        start = i + 1;
    }
    out.append(s.data() + start, s.size() - start);
}

/// Appends one COPY text-format field (\N for NULL).
template <class T>
void append_copy_field(std::string& out, std::string& scratch, T const& v)
{
    scratch.clear();
    if (to_text(scratch, v))
        append_copy_escaped(out, scratch);
    else
        out += "\\N";
}

/// RAII PGresult*.
struct result_deleter {
    void operator()(PGresult* r) const noexcept { PQclear(r); }
};

} // namespace detail

/// A type a statement parameter or a COPY value can take: see the header comment.
template <class T>
concept bindable = detail::bindable_v<std::remove_cvref_t<T>>;

/// COPY text-format encoding of one value, for custom sinks: appends `value` to `out` as one
/// field (backslash, tab, newline and CR escaped; \N for NULL).
template <bindable T>
void append_copy_field(std::string& out, T const& value)
{
    std::string scratch;
    detail::append_copy_field(out, scratch, value);
}

/// A result (RAII PGresult*), movable.
class result {
    std::unique_ptr<PGresult, detail::result_deleter> res_;

public:
    result() = default;
    explicit result(PGresult* r) noexcept : res_(r) {}
    PGresult* handle() const noexcept { return res_.get(); }
    explicit operator bool() const noexcept { return res_ != nullptr; }
    void reset() noexcept { res_.reset(); }
    ExecStatusType status() const noexcept { return PQresultStatus(res_.get()); }
    int rows() const noexcept { return PQntuples(res_.get()); }
    int columns() const noexcept { return PQnfields(res_.get()); }
    std::string_view column_name(int c) const
    {
        char const* name = PQfname(res_.get(), c);
        return name ? std::string_view(name) : std::string_view();
    }
    bool is_null(int r, int c) const noexcept { return PQgetisnull(res_.get(), r, c) != 0; }
    std::string_view value(int r, int c) const noexcept
    {
        return {PQgetvalue(res_.get(), r, c), static_cast<std::size_t>(PQgetlength(res_.get(), r, c))};
    }
    /// Rows affected by INSERT, UPDATE, DELETE, ... (PQcmdTuples); 0 if not such a command.
    std::uint64_t affected_rows() const noexcept
    {
        std::string_view s = PQcmdTuples(res_.get());
        std::uint64_t v = 0;
        std::from_chars(s.data(), s.data() + s.size(), v);
        return v;
    }
};

/// A function query_as can judge rows with.
template <class F>
concept parse_function = std::move_constructible<F> && std::invocable<F&, row const&> &&
                         std::is_object_v<std::remove_cvref_t<std::invoke_result_t<F&, row const&>>>;

template <parse_function Parse>
class query_view;

/// A PostgreSQL connection (RAII PGconn*), movable.
class connection {
    PGconn* conn_ = nullptr;
    int cursors_open_ = 0;   // our cursors open on this connection
    bool cursor_tx_ = false; // a cursor began the transaction (and the last one ends it)
    std::uint64_t cursor_seq_ = 0;

    // For the cursor source: cursor names, and the transaction the cursors share.
    template <parse_function Parse>
    friend class query_view;
    std::string next_cursor_name() { return "streambatch_cursor_" + std::to_string(++cursor_seq_); }
    int open_cursors() const noexcept { return cursors_open_; }
    void cursor_opened() noexcept { ++cursors_open_; }
    void cursor_closed() noexcept { --cursors_open_; }
    bool cursor_transaction() const noexcept { return cursor_tx_; }
    void cursor_transaction(bool v) noexcept { cursor_tx_ = v; }

    static std::string default_of(PQconninfoOption const* opts, char const* key)
    {
        for (auto const* o = opts; o && o->keyword; ++o)
            if (std::strcmp(o->keyword, key) == 0 && o->val && *o->val)
                return o->val;
        return {};
    }

public:
    /// Connects with `conninfo` ("host=... port=... dbname=..." or postgresql://...); empty:
    /// libpq's PG* environment variables and defaults. Throws error (sqlstate "08001") naming
    /// host and port when the server cannot be reached.
    explicit connection(std::string const& conninfo = {})
    {
        conn_ = PQconnectdb(conninfo.c_str());
        if (!conn_)
            throw std::bad_alloc();
        if (PQstatus(conn_) != CONNECTION_OK) {
            std::string const msg = detail::one_line(detail::str(PQerrorMessage(conn_)));
            std::string host = detail::str(PQhost(conn_)), port = detail::str(PQport(conn_));
            std::string db = detail::str(PQdb(conn_)), user = detail::str(PQuser(conn_));
            if (host.empty() || port.empty() || db.empty() || user.empty()) {
                // A conninfo libpq rejected: say what it would have used.
                PQconninfoOption* parsed = PQconninfoParse(conninfo.c_str(), nullptr);
                PQconninfoOption* defaults = PQconndefaults();
                auto pick = [&](std::string& v, char const* key) {
                    if (v.empty())
                        v = default_of(parsed, key);
                    if (v.empty())
                        v = default_of(defaults, key);
                };
                pick(host, "host");
                pick(port, "port");
                pick(db, "dbname");
                pick(user, "user");
                PQconninfoFree(parsed);
                PQconninfoFree(defaults);
            }
            PQfinish(std::exchange(conn_, nullptr));
            if (host.empty())
                host = "(the default socket directory)";
            throw error("streambatch::postgres: cannot connect to host " + host + " port " + port +
                            " (database " + db + ", user " + user + "): " + msg,
                        "08001", msg, {}, {}, {}, {}, host, port);
        }
        if (PQsetClientEncoding(conn_, "UTF8") != 0) {
            try {
                detail::throw_error(conn_, nullptr, {}, "setting the client encoding to UTF8");
            } catch (...) {
                PQfinish(std::exchange(conn_, nullptr));
                throw;
            }
        }
    }
    connection(connection&& o) noexcept
        : conn_(std::exchange(o.conn_, nullptr)), cursors_open_(std::exchange(o.cursors_open_, 0)),
          cursor_tx_(std::exchange(o.cursor_tx_, false)), cursor_seq_(o.cursor_seq_)
    {
    }
    connection& operator=(connection&& o) noexcept
    {
        if (this != &o) {
            PQfinish(conn_);
            conn_ = std::exchange(o.conn_, nullptr);
            cursors_open_ = std::exchange(o.cursors_open_, 0);
            cursor_tx_ = std::exchange(o.cursor_tx_, false);
            cursor_seq_ = o.cursor_seq_;
        }
        return *this;
    }
    ~connection() { PQfinish(conn_); }

    PGconn* handle() const noexcept { return conn_; }
    std::string host() const { return detail::str(PQhost(conn_)); }
    std::string port() const { return detail::str(PQport(conn_)); }
    std::string dbname() const { return detail::str(PQdb(conn_)); }
    /// host:port/dbname, for messages.
    std::string where() const { return host() + ":" + port() + "/" + dbname(); }
    /// True inside BEGIN ... COMMIT (also when the transaction has failed).
    bool in_transaction() const noexcept { return conn_ && PQtransactionStatus(conn_) != PQTRANS_IDLE; }

    /// Runs one or more statements without parameters (PQexec); the last one's result.
    result exec(std::string const& sql) const
    {
        if (!conn_)
            throw std::logic_error("streambatch::postgres: exec on a moved-from connection");
        result r(PQexec(conn_, sql.c_str()));
        auto const st = r ? r.status() : PGRES_FATAL_ERROR;
        if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
            detail::throw_error(conn_, r.handle(), sql);
        return r;
    }
    /// Runs one statement with $1, $2, ... parameters (PQexecParams, text format).
    template <bindable... P>
        requires(sizeof...(P) > 0)
    result exec(std::string const& sql, P const&... params) const
    {
        std::vector<std::optional<std::string>> values;
        (values.push_back([&] {
            std::string s;
            return detail::to_text(s, params) ? std::optional<std::string>(std::move(s)) : std::nullopt;
        }()),
         ...);
        return exec_params(sql, values);
    }
    /// The same with parameters already in text format (nullopt: NULL).
    result exec_params(std::string const& sql, std::vector<std::optional<std::string>> const& values,
                       std::string const& doing = {}, std::string const& reported_sql = {}) const
    {
        if (!conn_)
            throw std::logic_error("streambatch::postgres: exec on a moved-from connection");
        std::vector<char const*> ptrs;
        ptrs.reserve(values.size());
        for (auto const& v : values)
            ptrs.push_back(v ? v->c_str() : nullptr);
        result r(PQexecParams(conn_, sql.c_str(), static_cast<int>(ptrs.size()), nullptr, ptrs.data(), nullptr,
                              nullptr, 0));
        auto const st = r ? r.status() : PGRES_FATAL_ERROR;
        if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
            detail::throw_error(conn_, r.handle(), reported_sql.empty() ? sql : reported_sql, doing);
        return r;
    }

    /// The first column of the first row as T (std::optional<T>: nullopt for NULL or no row).
    template <gettable T, bindable... P>
    T scalar(std::string const& sql, P const&... params) const;

};

namespace detail {

/// query()'s parse function: the row itself.
struct raw_rows {
    row operator()(row const& r) const { return r; }
};

/// query_as<Tuple>()'s parse function.
template <class T>
struct tuple_parse {
    T operator()(row const& r) const { return r.template as<T>(); }
};

} // namespace detail

/// The source: a server-side cursor, fetched fetch_size rows at a time; yields rows, or
/// parse(row) for query_as.
template <parse_function Parse = detail::raw_rows>
class query_view : public std::ranges::view_interface<query_view<Parse>> {
public:
    using value_type = std::remove_cvref_t<std::invoke_result_t<Parse&, row const&>>;

private:
    static constexpr bool raw = std::is_same_v<Parse, detail::raw_rows>;
    enum class state { fresh, open, closed };

    connection* conn_ = nullptr;
    std::vector<std::optional<std::string>> params_;
    detail::movable_box<Parse> parse_;
    query_options opts_;
    std::shared_ptr<query_stats> stats_ = std::make_shared<query_stats>();
    detail::reject_writer rejects_;
    std::shared_ptr<detail::result_info> info_ = std::make_shared<detail::result_info>();
    std::string cursor_, fetch_sql_;
    result batch_;
    int pos_ = 0, count_ = 0;
    bool exhausted_ = false;
    state state_ = state::fresh;
    std::optional<value_type> current_;
    bool started_ = false;
    bool stale_ = true; // current_ is not read yet: rows are read when needed, not on ++
    bool done_ = false;

    // Reads the row the iterator is at, if not read yet. After an exception the view is at
    // its end (a bad row under on_error::fail, a database error).
    void sync()
    {
        if (!stale_)
            return;
        stale_ = false;
        try {
            advance();
        } catch (...) {
            current_.reset();
            done_ = true;
            abandon(); // the connection is usable again at once, not when the view dies
            throw;
        }
    }

    std::string const& sql_text() const noexcept { return info_->query; }

    void open()
    {
        if (!conn_ || !conn_->handle())
            throw std::logic_error("streambatch::postgres: query on a moved-from connection");
        cursor_ = conn_->next_cursor_name();
        fetch_sql_ = "FETCH FORWARD " + std::to_string(opts_.fetch_size) + " FROM " + cursor_;
        bool began = false;
        if (conn_->open_cursors() == 0 && PQtransactionStatus(conn_->handle()) == PQTRANS_IDLE) {
            conn_->exec_params("BEGIN", {},
                               "beginning a transaction for a cursor on " +
                                   detail::quote_value(detail::shorten(sql_text(), 200)),
                               sql_text());
            began = true;
            conn_->cursor_transaction(true);
        }
        try {
            conn_->exec_params("DECLARE " + cursor_ + " NO SCROLL CURSOR FOR " + sql_text(), params_,
                               "declaring a cursor for " + detail::quote_value(detail::shorten(sql_text(), 200)),
                               sql_text());
        } catch (...) {
            if (began) {
                conn_->cursor_transaction(false);
                PQclear(PQexec(conn_->handle(), "ROLLBACK"));
            }
            throw;
        }
        conn_->cursor_opened();
        state_ = state::open;
    }

    void fetch()
    {
        batch_.reset(); // at most one fetched result at a time
        pos_ = count_ = 0;
        batch_ = conn_->exec_params(fetch_sql_, {},
                                    "fetching from the cursor for " +
                                        detail::quote_value(detail::shorten(sql_text(), 200)),
                                    sql_text());
        ++stats_->fetches;
        count_ = batch_.rows();
        if (static_cast<std::size_t>(count_) < opts_.fetch_size)
            exhausted_ = true;
        if (info_->columns.empty() && batch_.columns() > 0) {
            for (int c = 0; c < batch_.columns(); ++c)
                info_->columns.emplace_back(batch_.column_name(c));
        }
    }

    void close()
    {
        batch_.reset();
        state_ = state::closed;
        conn_->cursor_closed();
        bool const last = conn_->open_cursors() == 0 && conn_->cursor_transaction();
        try {
            conn_->exec("CLOSE " + cursor_);
            if (last) {
                conn_->cursor_transaction(false);
                conn_->exec("COMMIT");
            }
        } catch (...) {
            if (last) { // never leave our transaction open
                conn_->cursor_transaction(false);
                if (conn_->in_transaction())
                    PQclear(PQexec(conn_->handle(), "ROLLBACK"));
            }
            throw;
        }
    }

    // Destruction before the end: the cursor (and the transaction it began) are dropped.
    void abandon() noexcept
    {
        batch_.reset();
        if (state_ != state::open || !conn_ || !conn_->handle())
            return;
        state_ = state::closed;
        conn_->cursor_closed();
        PGconn* c = conn_->handle();
        if (conn_->cursor_transaction() && conn_->open_cursors() == 0) {
            conn_->cursor_transaction(false);
            PQclear(PQexec(c, "ROLLBACK"));
        } else if (PQtransactionStatus(c) == PQTRANS_INTRANS) {
            PQclear(PQexec(c, ("CLOSE " + cursor_).c_str()));
        }
    }

    void reject(row const& r, std::exception_ptr bad)
    {
        std::size_t column = row_error::npos;
        std::string column_name, reason;
        bool is_row_error = false;
        try {
            std::rethrow_exception(bad);
        } catch (row_error const& e) {
            is_row_error = true;
            column = e.column();
            column_name = e.column_name();
            reason = e.reason();
        } catch (std::exception const& e) {
            reason = e.what();
        }
        std::string const& q = sql_text();
        if (opts_.bad_rows == on_error::fail) {
            if (is_row_error)
                std::rethrow_exception(bad);
            try {
                std::rethrow_exception(bad);
            } catch (...) {
                std::throw_with_nested(row_error("streambatch::postgres: " +
                                                     detail::where(q, r.number(), column, {}) +
                                                     ": the parse function failed: " + reason,
                                                 q, r.number(), column, column_name, reason));
            }
        }
        std::string line = "{\"source\":\"postgres\",\"database\":";
        detail::json_string(line, info_->database);
        line += ",\"query\":";
        detail::json_string(line, q);
        line += ",\"row\":" + std::to_string(r.number()) + ",\"column\":";
        line += column == row_error::npos ? std::string("null") : std::to_string(column);
        line += ",\"column_name\":";
        if (column_name.empty())
            line += "null";
        else
            detail::json_string(line, column_name);
        line += ",\"error\":";
        detail::json_string(line, reason);
        line += ",\"columns\":[";
        for (std::size_t i = 0; i < r.size(); ++i) {
            if (i)
                line += ',';
            detail::json_string(line, info_->columns[i]);
        }
        line += "],\"values\":[";
        for (std::size_t i = 0; i < r.size(); ++i) {
            if (i)
                line += ',';
            if (r.is_null(i))
                line += "null";
            else
                detail::json_string(line, r.text(i));
        }
        line += "]}";
        rejects_.write(line);
        if (stats_->rows_skipped >= opts_.max_skipped) {
            row_error const last("", q, r.number(), column, column_name, reason);
            throw too_many_bad_rows("streambatch::postgres: " + detail::where(q, r.number(), column, column_name) +
                                        ": " + reason + "; too many bad rows: this is bad row " +
                                        std::to_string(stats_->rows_skipped + 1) + " and max_skipped is " +
                                        std::to_string(opts_.max_skipped) + "; the bad rows, this one included, " +
                                        "are in " + rejects_.path().string(),
                                    last, stats_->rows_skipped, rejects_.path());
        }
        ++stats_->rows_skipped;
    }

    void advance()
    {
        current_.reset();
        for (;;) {
            if (pos_ == count_) {
                if (exhausted_) {
                    close();
                    done_ = true;
                    return;
                }
                fetch();
                continue;
            }
            ++stats_->rows_read;
            row r(info_, batch_.handle(), pos_++, stats_->rows_read);
            if constexpr (raw) {
                current_.emplace(std::move(r));
                return;
            } else {
                std::exception_ptr bad;
                try {
                    current_.emplace(std::invoke(parse_.get(), std::as_const(r)));
                    return;
                } catch (error const&) {
                    throw; // the server's, not the row's
                } catch (std::bad_alloc const&) {
                    throw;
                } catch (std::exception const&) {
                    bad = std::current_exception();
                }
                reject(r, bad);
            }
        }
    }

public:
    class iterator {
        query_view* view_ = nullptr;

    public:
        using iterator_concept = std::input_iterator_tag;
        using value_type = query_view::value_type;
        using difference_type = std::ptrdiff_t;

        iterator() = default;
        explicit iterator(query_view& v) noexcept : view_(std::addressof(v)) {}
        value_type& operator*() const
        {
            view_->sync();
            return *view_->current_;
        }
        value_type* operator->() const { return std::addressof(**this); }
        iterator& operator++()
        {
            view_->sync(); // passing a row nobody looked at still reads it
            view_->stale_ = true;
            return *this;
        }
        void operator++(int) { ++*this; }
        bool at_end() const
        {
            view_->sync();
            return view_->done_;
        }
        friend bool operator==(iterator const& i, std::default_sentinel_t) { return i.at_end(); }
    };

    /// Nothing is sent until the first begin().
    template <bindable... P>
    query_view(connection& conn, std::string sql, Parse parse, query_options opts, P const&... params)
        : conn_(std::addressof(conn)), parse_(std::move(parse)), opts_(std::move(opts))
    {
        if (opts_.fetch_size == 0 || opts_.fetch_size > static_cast<std::size_t>(std::numeric_limits<int>::max()))
            throw std::invalid_argument("streambatch::postgres: fetch_size must be in 1.." +
                                        std::to_string(std::numeric_limits<int>::max()) + ", got " +
                                        std::to_string(opts_.fetch_size));
        if (opts_.bad_rows == on_error::skip && opts_.reject_path.empty())
            throw std::invalid_argument("streambatch::postgres: on_error::skip needs a reject_path, so that "
                                        "skipped rows are kept, not lost");
        rejects_ = detail::reject_writer(opts_.reject_path);
        (params_.push_back([&] {
            std::string s;
            return detail::to_text(s, params) ? std::optional<std::string>(std::move(s)) : std::nullopt;
        }()),
         ...);
        info_->query = std::move(sql);
        info_->database = conn.where();
    }
    query_view(query_view&& o) noexcept(std::is_nothrow_move_constructible_v<Parse>)
        : conn_(std::exchange(o.conn_, nullptr)), params_(std::move(o.params_)), parse_(std::move(o.parse_)),
          opts_(std::move(o.opts_)), stats_(std::move(o.stats_)), rejects_(std::move(o.rejects_)),
          info_(std::move(o.info_)), cursor_(std::move(o.cursor_)), fetch_sql_(std::move(o.fetch_sql_)),
          batch_(std::move(o.batch_)), pos_(o.pos_), count_(o.count_), exhausted_(o.exhausted_),
          state_(std::exchange(o.state_, state::closed)), current_(std::move(o.current_)), started_(o.started_),
          stale_(o.stale_), done_(o.done_)
    {
    }
    query_view& operator=(query_view&& o) noexcept(std::is_nothrow_move_constructible_v<Parse>)
    {
        if (this != &o) {
            abandon();
            conn_ = std::exchange(o.conn_, nullptr);
            params_ = std::move(o.params_);
            parse_ = std::move(o.parse_);
            opts_ = std::move(o.opts_);
            stats_ = std::move(o.stats_);
            rejects_ = std::move(o.rejects_);
            info_ = std::move(o.info_);
            cursor_ = std::move(o.cursor_);
            fetch_sql_ = std::move(o.fetch_sql_);
            batch_ = std::move(o.batch_);
            pos_ = o.pos_;
            count_ = o.count_;
            exhausted_ = o.exhausted_;
            state_ = std::exchange(o.state_, state::closed);
            current_ = std::move(o.current_);
            started_ = o.started_;
            stale_ = o.stale_;
            done_ = o.done_;
        }
        return *this;
    }
    ~query_view() { abandon(); }

    /// Declares the cursor on the first call; later calls continue where iteration stopped.
    /// Rows are fetched when the iterator is compared or dereferenced, so a batch adaptor never
    /// fetches past its batch.
    iterator begin()
    {
        if (!started_) {
            started_ = true;
            open();
        }
        return iterator(*this);
    }
    std::default_sentinel_t end() const noexcept { return std::default_sentinel; }

    /// Counters shared with the caller; valid after the view is gone.
    std::shared_ptr<query_stats const> stats() const noexcept { return stats_; }
    std::string const& sql() const noexcept { return info_->query; }
    /// The cursor's name (empty before begin()).
    std::string const& cursor_name() const noexcept { return cursor_; }
};

/// `for (row& r : postgres::query(conn, "SELECT ... WHERE id > $1", 10))`.
template <bindable... P>
[[nodiscard]] query_view<> query(connection& conn, std::string sql, P const&... params)
{
    return query_view<>(conn, std::move(sql), detail::raw_rows{}, query_options{}, params...);
}
/// The same with a fetch size (options.fetch_size; the bad-row policy needs query_as).
template <bindable... P>
[[nodiscard]] query_view<> query(connection& conn, std::string sql, query_options opts, P const&... params)
{
    return query_view<>(conn, std::move(sql), detail::raw_rows{}, std::move(opts), params...);
}

/// parse(row const&) -> T per row, under the bad-row policy in `opts`.
template <parse_function F, bindable... P>
[[nodiscard]] query_view<F> query_as(connection& conn, std::string sql, F parse, query_options opts,
                                     P const&... params)
{
    return query_view<F>(conn, std::move(sql), std::move(parse), std::move(opts), params...);
}
template <parse_function F, bindable... P>
[[nodiscard]] query_view<F> query_as(connection& conn, std::string sql, F parse, P const&... params)
{
    return query_view<F>(conn, std::move(sql), std::move(parse), query_options{}, params...);
}
/// Rows as a tuple-like T: element i from column i with row::get.
template <detail::tuple_like T, bindable... P>
[[nodiscard]] query_view<detail::tuple_parse<T>> query_as(connection& conn, std::string sql, query_options opts,
                                                          P const&... params)
{
    return query_view<detail::tuple_parse<T>>(conn, std::move(sql), {}, std::move(opts), params...);
}
template <detail::tuple_like T, bindable... P>
[[nodiscard]] query_view<detail::tuple_parse<T>> query_as(connection& conn, std::string sql, P const&... params)
{
    return query_view<detail::tuple_parse<T>>(conn, std::move(sql), {}, query_options{}, params...);
}

template <gettable T, bindable... P>
T connection::scalar(std::string const& sql, P const&... params) const
{
    result r = [&] {
        if constexpr (sizeof...(P) == 0)
            return exec(sql);
        else
            return exec(sql, params...);
    }();
    if (r.rows() == 0 || r.columns() == 0) {
        if constexpr (detail::is_optional<T>::value)
            return std::nullopt;
        else
            throw std::runtime_error("streambatch::postgres: " + detail::quote_value(detail::shorten(sql, 200)) +
                                     " returned no value");
    }
    auto info = std::make_shared<detail::result_info>();
    info->query = sql;
    info->database = where();
    for (int c = 0; c < r.columns(); ++c)
        info->columns.emplace_back(r.column_name(c));
    return row(std::move(info), r.handle(), 0, 1).get<T>(0);
}

namespace detail {

/// The default record-to-columns function: a tuple-like record is its own columns.
struct same_columns {
    template <class R>
    R const& operator()(R const& r) const noexcept
    {
        return r;
    }
};

struct no_hook {
    void operator()(connection&) const noexcept {}
};

/// Drains the results of a finished COPY; the first non-OK one is returned.
inline result finish_copy(PGconn* c)
{
    result first;
    while (PGresult* r = PQgetResult(c)) {
        if (!first || (first.status() == PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_COMMAND_OK))
            first = result(r);
        else
            PQclear(r);
    }
    return first;
}

/// "COPY t, line 3, column x: ..." -> 3; 0 if there is no line number.
inline std::size_t copy_line(std::string_view context)
{
    auto const at = context.find(", line ");
    if (at == std::string_view::npos)
        return 0;
    std::size_t line = 0;
    auto const* first = context.data() + at + 7;
    std::from_chars(first, context.data() + context.size(), line);
    return line;
}

} // namespace detail

/// The sink: COPY table (columns) FROM STDIN, one transaction (BEGIN ... COMMIT) per batch.
template <class Map = detail::same_columns>
class copy_sink {
    connection* conn_;
    std::string table_, copy_sql_;
    std::size_t columns_;
    Map map_;
    std::uint64_t batches_ = 0;
    std::uint64_t rows_ = 0;
    std::string buf_, scratch_;

    static constexpr std::size_t flush_bytes = 64 * 1024;

    template <class C>
    void encode(C const& cols)
    {
        if constexpr (detail::tuple_like<C>) {
            constexpr std::size_t k = std::tuple_size_v<C>;
            if (columns_ != 0 && k != columns_)
                throw std::invalid_argument("streambatch::postgres: COPY into " + table_ + " has " +
                                            std::to_string(columns_) + " columns, the record maps to " +
                                            std::to_string(k) + " values");
            [&]<std::size_t... I>(std::index_sequence<I...>) {
                using std::get;
                ((I ? void(buf_ += '\t') : void(), detail::append_copy_field(buf_, scratch_, get<I>(cols))), ...);
            }(std::make_index_sequence<k>{});
        } else {
            static_assert(bindable<C>, "map a record to a tuple of column values: copy_sink(conn, table, cols, map)");
            if (columns_ > 1)
                throw std::invalid_argument("streambatch::postgres: COPY into " + table_ + " has " +
                                            std::to_string(columns_) + " columns, the record maps to 1 value");
            detail::append_copy_field(buf_, scratch_, cols);
        }
        buf_ += '\n';
    }

    void put(std::string_view data)
    {
        if (data.empty())
            return;
        if (PQputCopyData(conn_->handle(), data.data(), static_cast<int>(data.size())) != 1)
            detail::throw_error(conn_->handle(), nullptr, copy_sql_, "sending COPY data");
    }

    void rollback() noexcept
    {
        PGconn* c = conn_->handle();
        if (PQtransactionStatus(c) == PQTRANS_ACTIVE) { // still in COPY IN
            PQputCopyEnd(c, "streambatch: the batch failed on the client");
            detail::finish_copy(c);
        }
        if (PQtransactionStatus(c) != PQTRANS_IDLE)
            PQclear(PQexec(c, "ROLLBACK"));
    }

    std::string where(std::uint64_t batch, std::size_t r) const
    {
        std::string s = "streambatch::postgres: batch " + std::to_string(batch);
        if (r != batch_error::npos)
            s += ", row " + std::to_string(r);
        return s + " (0-based) into " + table_ + " on " + conn_->where() + ": ";
    }

public:
    /// COPY `table` (`columns`) FROM STDIN; no columns: all of the table's, in its order.
    copy_sink(connection& conn, std::string table, std::vector<std::string> columns = {}, Map map = {})
        : conn_(std::addressof(conn)), table_(std::move(table)), columns_(columns.size()), map_(std::move(map))
    {
        copy_sql_ = "COPY " + table_;
        if (!columns.empty()) {
            copy_sql_ += " (";
            for (std::size_t i = 0; i < columns.size(); ++i) {
                char* q = PQescapeIdentifier(conn.handle(), columns[i].data(), columns[i].size());
                if (!q)
                    detail::throw_error(conn.handle(), nullptr, {}, "quoting the column name " + columns[i]);
                copy_sql_ += (i ? ", " : "") + std::string(q);
                PQfreemem(q);
            }
            copy_sql_ += ")";
        }
        copy_sql_ += " FROM STDIN (FORMAT text)";
        buf_.reserve(flush_bytes + 4096);
    }

    /// Sends every record of `batch` with one COPY in one transaction; hook(conn) runs in it
    /// before COMMIT. On any error the batch is rolled back and batch_error (or a nested
    /// batch_error) thrown.
    template <std::ranges::input_range B, class Hook = detail::no_hook>
        requires std::invocable<Map&, std::ranges::range_reference_t<B>> && std::invocable<Hook&, connection&>
    std::size_t write(B&& batch, Hook&& hook = {})
    {
        std::uint64_t const index = batches_++;
        PGconn* const c = conn_->handle();
        if (!c)
            throw std::logic_error("streambatch::postgres: copy_sink on a moved-from connection");
        if (conn_->in_transaction())
            throw std::logic_error(where(index, batch_error::npos) +
                                   "the connection is already in a transaction (a cursor reading on it?); each "
                                   "batch is its own: write through a second connection");
        std::size_t n = 0;
        std::size_t at = batch_error::npos; // the record being mapped and encoded
        char const* stage = "";
        try {
            conn_->exec("BEGIN");
            if (result r(PQexec(c, copy_sql_.c_str())); !r || r.status() != PGRES_COPY_IN)
                detail::throw_error(c, r.handle(), copy_sql_);
            buf_.clear();
            for (auto&& rec : batch) {
                at = n;
                auto&& cols = std::invoke(map_, rec);
                encode(cols);
                at = batch_error::npos;
                ++n;
                if (buf_.size() >= flush_bytes) {
                    put(buf_);
                    buf_.clear();
                }
            }
            put(buf_);
            buf_.clear();
            if (PQputCopyEnd(c, nullptr) != 1)
                detail::throw_error(c, nullptr, copy_sql_, "ending COPY");
            if (result r = detail::finish_copy(c); !r || r.status() != PGRES_COMMAND_OK)
                detail::throw_error(c, r.handle(), copy_sql_);
            stage = "in the hook or COMMIT: ";
            std::invoke(hook, *conn_);
            conn_->exec("COMMIT");
        } catch (error const& e) {
            rollback();
            std::size_t row = at;
            if (row == batch_error::npos && *stage == '\0') // the server names the COPY line
                if (std::size_t const line = detail::copy_line(e.context()))
                    row = line - 1;
            throw batch_error(where(index, row) + stage + std::string(detail::unprefixed(e.what())), e, index, row);
        } catch (...) {
            rollback();
            std::string msg = "unknown exception";
            try {
                throw;
            } catch (std::exception const& e) {
                msg = e.what();
            } catch (...) {
            }
            std::throw_with_nested(batch_error(where(index, at) + (*stage ? "in the hook: " : "") + msg,
                                               error("", "", msg, {}, {}, {}, copy_sql_, conn_->host(), conn_->port()),
                                               index, at));
        }
        buf_.clear();
        if (buf_.capacity() > 4 * flush_bytes) // one huge record must not pin its buffer
            std::string().swap(buf_);
        rows_ += n;
        return n;
    }

    /// write() calls so far (failed ones included: the next batch's index).
    std::uint64_t batches() const noexcept { return batches_; }
    /// Rows committed so far.
    std::uint64_t rows_written() const noexcept { return rows_; }
    /// The COPY statement.
    std::string const& sql() const noexcept { return copy_sql_; }
};

template <class Map>
copy_sink(connection&, std::string, std::vector<std::string>, Map) -> copy_sink<Map>;
copy_sink(connection&, std::string, std::vector<std::string>) -> copy_sink<detail::same_columns>;
copy_sink(connection&, std::string) -> copy_sink<detail::same_columns>;

// --- partitions: one worker's share of a table, as a predicate for a keyset query ---------

using sql::key_bounds;
using sql::key_range_partition; // (table, key_column, part, bounds): no database
using sql::keyset_queries;
using sql::partition_clause;
using sql::partition_scheme;
using sql::table_name;

namespace detail {

/// "streambatch::postgres: key_range_partition: "orders" on 127.0.0.1:5432/shop"
inline std::string partition_where(char const* fn, partition_clause const& c, connection const& conn)
{
    return std::string("streambatch::postgres: ") + fn + ": " + c.table + " on " + conn.where();
}

struct key_info {
    Oid type = 0;
    std::string type_name; // format_type: "bigint", "character varying", ...
};

/// The key's type, from a query that names table and key (so an unknown one is the server's
/// error, with the query); then refuses rows with a NULL key (partition_error), counting them
/// unless the column is NOT NULL (a primary key is).
inline key_info check_key(connection const& conn, partition_clause const& c, std::string_view key_name,
                            char const* fn)
{
    result const probe = conn.exec("SELECT " + c.key + " FROM " + c.table + " LIMIT 0");
    key_info k;
    k.type = PQftype(probe.handle(), 0);
    result const info = conn.exec(
        "SELECT format_type($1::oid, NULL), coalesce((SELECT attnotnull FROM pg_catalog.pg_attribute"
        " WHERE attrelid = $2::regclass AND attname = $3 AND attnum > 0 AND NOT attisdropped), false)",
        std::to_string(k.type), c.table, key_name);
    k.type_name = std::string(info.value(0, 0));
    if (info.value(0, 1) != "t") {
        auto const nulls =
            conn.scalar<std::int64_t>("SELECT count(*) FROM " + c.table + " WHERE " + c.key + " IS NULL");
        if (nulls > 0)
            throw partition_error(partition_where(fn, c, conn) + ": " + std::to_string(nulls) +
                                  (nulls == 1 ? " row has" : " rows have") + " a NULL " + c.key +
                                  ": a keyset query (WHERE " + c.key + " > $1 ORDER BY " + c.key +
                                  ") never reads them, so no partition would; give them a key, or "
                                  "partition by a column without NULLs");
    }
    return k;
}

inline bool integer_type(Oid t) noexcept { return t == 20 || t == 21 || t == 23; } // int8, int2, int4

inline std::optional<key_bounds> key_bounds_of(connection const& conn, table_name const& table,
                                               std::string_view key_name, char const* fn)
{
    partition_clause const c =
        sql::detail::start_clause(table, key_name, partition{}, partition_scheme::key_range, "postgres");
    key_info const k = check_key(conn, c, key_name, fn);
    if (!integer_type(k.type))
        throw partition_error(partition_where(fn, c, conn) + ": the key " + c.key + " is " + k.type_name +
                              ", not an integer type (smallint, integer, bigint); key ranges need one "
                              "(hash_partition takes any type with a hash function)");
    // Two subqueries, so that each is one step down an index on the key.
    result const r = conn.exec("SELECT (SELECT min(" + c.key + ") FROM " + c.table + ")::bigint, (SELECT max(" +
                               c.key + ") FROM " + c.table + ")::bigint");
    if (r.is_null(0, 0))
        return std::nullopt;
    auto const number = [&](int col) {
        std::string_view const v = r.value(0, col);
        std::int64_t x = 0;
        auto const [p, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
        if (ec != std::errc{} || p != v.data() + v.size())
            throw std::runtime_error(partition_where(fn, c, conn) + ": the server sent " + quote_value(v) +
                                     " for a bigint");
        return x;
    };
    return key_bounds{number(0), number(1)};
}

} // namespace detail

/// The smallest and largest key of `table`.`key_column` (nullopt: no row has a key). Throws
/// partition_error when the key is not smallint, integer or bigint, or when rows have a NULL
/// key; postgres::error for an unknown table or column.
[[nodiscard]] inline std::optional<key_bounds> key_bounds_of(connection const& conn, table_name const& table,
                                                             std::string_view key_column)
{
    return detail::key_bounds_of(conn, table, key_column, "key_bounds_of");
}

/// Partition `part` of `table` by ranges of its integer `key_column`: asks for the key's min and
/// max (key_bounds_of) and cuts [min, max] evenly by value (sql::key_range_partition). Each
/// worker asks when it starts: the table's min and max must not change until all have asked
/// (otherwise give them all the same bounds: key_range_partition(table, key, part, bounds)).
[[nodiscard]] inline partition_clause key_range_partition(connection const& conn, table_name const& table,
                                                          std::string_view key_column, partition part)
{
    part.check();
    return key_range_partition(table, key_column, part,
                               detail::key_bounds_of(conn, table, key_column, "key_range_partition"));
}

/// Partition `part` of `table` by a hash of `key_column` modulo the count, with the server's own
/// hash functions: hashint8extended(key::bigint, 0) for smallint, integer and bigint,
/// hashtextextended(key::text, 0) for text, varchar, char and name, hash_record_extended(ROW(key),
/// 0) for any other type with a hash function (uuid, numeric, date, ...; never a text rendering,
/// which settings such as TimeZone change). The key need not be unique (rows with equal keys
/// share a partition). Throws partition_error when rows have a NULL key; postgres::error for an
/// unknown table or column, or a type without a hash function.
[[nodiscard]] inline partition_clause hash_partition(connection const& conn, table_name const& table,
                                                     std::string_view key_column, partition part)
{
    partition_clause c = sql::detail::start_clause(table, key_column, part, partition_scheme::hash, "postgres");
    detail::key_info const k = detail::check_key(conn, c, key_column, "hash_partition");
    std::string hash;
    if (detail::integer_type(k.type)) {
        hash = "hashint8extended(" + c.key + "::bigint, 0)";
    } else if (k.type == 25 || k.type == 1043 || k.type == 1042 || k.type == 19) { // text, varchar, bpchar, name
        hash = "hashtextextended(" + c.key + "::text, 0)";
    } else {
        hash = "hash_record_extended(ROW(" + c.key + "), 0)";
        // The type's hash function is looked up for a value, not for NULL: try one.
        conn.exec("SELECT " + hash + " FROM " + c.table + " WHERE " + c.key + " IS NOT NULL LIMIT 1");
    }
    c.predicate = part.count == 1 ? sql::detail::whole_predicate(c) : sql::detail::hash_predicate(hash, part, true);
    return c;
}

/// The keyset queries of one partition: `from_start` (no parameter), then `after_key` with the
/// last key read ($1). `columns` is SQL text ("id, name"), used as given.
[[nodiscard]] inline keyset_queries keyset_query(partition_clause const& part, std::string_view columns)
{
    return sql::detail::keyset(part, columns, "$1");
}

} // namespace streambatch::postgres

#endif // STREAMBATCH_IO_POSTGRES_HPP_INCLUDED
