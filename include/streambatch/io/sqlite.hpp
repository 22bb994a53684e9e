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
//           {"source","database","query","row","column","column_name","error","columns",
//           "values"} (values as SQLite holds them: numbers, strings, null, blobs as "X'..'");
//           the file is opened in append mode on the first bad row (earlier runs' rejects are
//           kept) and flushed after each. view.stats() counts rows read and skipped. The
//           (max_skipped + 1)-th bad row (default max_skipped: 100) is written too, then throws
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
//                             db, "SELECT customer, sum(amount) FROM orders WHERE day > ? GROUP BY 1", 20240101)
//                         | streambatch::views::memory_guarded(1000))
//         out.write(batch);                          // one transaction per batch
//
//     // Worker 2 of 4 (rank 2 under mpirun, task 2 of a Slurm array, ...), resuming after `last`:
//     auto part = sqlite::key_range_partition(db, "orders", "id", streambatch::partition_from_environment());
//     auto q = sqlite::keyset_query(part, "id, amount");
//     auto rows = last ? sqlite::query(db, q.after_key, *last) : sqlite::query(db, q.from_start);

#ifndef STREAMBATCH_IO_SQLITE_HPP_INCLUDED
#define STREAMBATCH_IO_SQLITE_HPP_INCLUDED

#include <streambatch/io/sql/partition.hpp>

#include <sqlite3.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstdio>
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

namespace streambatch::sqlite {

/// SQLite's storage classes, as a row reports them.
enum class storage_class : int {
    integer = SQLITE_INTEGER,
    real = SQLITE_FLOAT,
    text = SQLITE_TEXT,
    blob = SQLITE_BLOB,
    null = SQLITE_NULL,
};

/// What a query_as source does with a row its parse function rejects (as csv::on_error).
enum class on_error : unsigned char {
    fail, ///< throw (the default)
    skip, ///< write it to the reject file, count it, go on (up to max_skipped)
};

/// The bad-row policy of query_as.
struct query_options {
    on_error bad_rows = on_error::fail;
    std::uint64_t max_skipped = 100;       ///< on_error::skip: the next bad row throws
    std::filesystem::path reject_path{}; ///< JSON Lines; required by skip
};

/// What a source has done so far; view.stats() shares it, so it outlives the view.
struct query_stats {
    std::uint64_t rows_read = 0;    ///< rows stepped, bad ones included
    std::uint64_t rows_skipped = 0; ///< rows rejected under on_error::skip
};

/// An error the database reported.
class error : public std::runtime_error {
    int code_;
    std::string file_, sql_, sqlite_message_;

public:
    error(std::string const& what, int code, std::string file, std::string sql, std::string sqlite_message)
        : std::runtime_error(what), code_(code), file_(std::move(file)), sql_(std::move(sql)),
          sqlite_message_(std::move(sqlite_message))
    {
    }
    /// The extended result code (SQLITE_CONSTRAINT_UNIQUE, SQLITE_BUSY, ...); 0 if not SQLite's.
    int code() const noexcept { return code_; }
    /// code() & 0xff: SQLITE_CONSTRAINT, SQLITE_BUSY, ...
    int primary_code() const noexcept { return code_ & 0xff; }
    std::string const& file() const noexcept { return file_; }
    std::string const& sql() const noexcept { return sql_; }
    std::string const& sqlite_message() const noexcept { return sqlite_message_; }
};

/// inserter::write failed; the batch was rolled back.
class batch_error : public error {
    std::uint64_t batch_;
    std::size_t row_;

public:
    static constexpr std::size_t npos = static_cast<std::size_t>(-1);
    batch_error(std::string const& what, error const& cause, std::uint64_t batch, std::size_t row)
        : error(what, cause.code(), cause.file(), cause.sql(), cause.sqlite_message()), batch_(batch), row_(row)
    {
    }
    /// 0-based: how many write() calls came before the one that failed.
    std::uint64_t batch_index() const noexcept { return batch_; }
    /// 0-based row within the batch; npos when the failure was not a row's (BEGIN, hook, COMMIT).
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
    throw row_error("streambatch::sqlite: " + where(query, row, column, name) + ": " + reason, query, row, column,
                    name, reason);
}

/// "SQLITE_BUSY" for 5 (or 261, SQLITE_BUSY_RECOVERY: the primary code's name).
inline char const* code_name(int code) noexcept
{
    switch (code & 0xff) {
    case SQLITE_ERROR: return "SQLITE_ERROR";
    case SQLITE_INTERNAL: return "SQLITE_INTERNAL";
    case SQLITE_PERM: return "SQLITE_PERM";
    case SQLITE_ABORT: return "SQLITE_ABORT";
    case SQLITE_BUSY: return "SQLITE_BUSY";
    case SQLITE_LOCKED: return "SQLITE_LOCKED";
    case SQLITE_NOMEM: return "SQLITE_NOMEM";
    case SQLITE_READONLY: return "SQLITE_READONLY";
    case SQLITE_INTERRUPT: return "SQLITE_INTERRUPT";
    case SQLITE_IOERR: return "SQLITE_IOERR";
    case SQLITE_CORRUPT: return "SQLITE_CORRUPT";
    case SQLITE_NOTFOUND: return "SQLITE_NOTFOUND";
    case SQLITE_FULL: return "SQLITE_FULL";
    case SQLITE_CANTOPEN: return "SQLITE_CANTOPEN";
    case SQLITE_PROTOCOL: return "SQLITE_PROTOCOL";
    case SQLITE_SCHEMA: return "SQLITE_SCHEMA";
    case SQLITE_TOOBIG: return "SQLITE_TOOBIG";
    case SQLITE_CONSTRAINT: return "SQLITE_CONSTRAINT";
    case SQLITE_MISMATCH: return "SQLITE_MISMATCH";
    case SQLITE_MISUSE: return "SQLITE_MISUSE";
    case SQLITE_NOLFS: return "SQLITE_NOLFS";
    case SQLITE_AUTH: return "SQLITE_AUTH";
    case SQLITE_RANGE: return "SQLITE_RANGE";
    case SQLITE_NOTADB: return "SQLITE_NOTADB";
    default: return "SQLITE_?";
    }
}

/// " (SQLITE_CONSTRAINT, extended code 1555)"
inline std::string code_text(int code)
{
    return std::string(" (") + code_name(code) + ", extended code " + std::to_string(code) + ")";
}

/// Throws sqlite::error for `rc` (a failed call on `db`, which may be null).
[[noreturn]] inline void throw_error(sqlite3* db, int rc, std::string const& file, std::string const& sql,
                                     std::string const& doing = {})
{
    int const code = db ? sqlite3_extended_errcode(db) : rc;
    std::string msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    std::string what = "streambatch::sqlite: " + msg + code_text(code) + " in database " + quote_value(file);
    if (!doing.empty())
        what += " while " + doing;
    else if (!sql.empty())
        what += " while running " + quote_value(shorten(sql, 200));
    throw error(what, code, file, sql, msg);
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
                                        "streambatch::sqlite: cannot open the reject file " + path_.string());
        }
        if (std::fwrite(line.data(), 1, line.size(), file_) != line.size() || std::fputc('\n', file_) == EOF ||
            std::fflush(file_) != 0)
            throw std::system_error(errno, std::generic_category(),
                                    "streambatch::sqlite: cannot write the reject file " + path_.string());
    }
};

/// Shared by all rows of one query: the text, the column names, the database's name.
struct result_info {
    std::string query;
    std::string file;
    std::vector<std::string> columns;
};

/// One value of a row being built: its storage class and bytes (8 for integer and real).
struct cell {
    int kind;
    void const* data;
    std::size_t size;
    std::int64_t integer;
    double real;
};

inline constexpr std::size_t align8(std::size_t n) noexcept { return (n + 7) & ~std::size_t{7}; }
/// A row's single allocation: (n + 1) offsets (std::uint64_t), n storage classes (bytes,
/// padded to 8), then the values' bytes.
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

/// e.what() without our "streambatch::sqlite: " prefix, to wrap it in a longer message.
inline std::string_view unprefixed(char const* what)
{
    std::string_view s = what;
    constexpr std::string_view prefix = "streambatch::sqlite: ";
    return s.starts_with(prefix) ? s.substr(prefix.size()) : s;
}

template <class T>
struct is_optional : std::false_type {};
template <class T>
struct is_optional<std::optional<T>> : std::true_type {};

template <class T>
std::string type_name()
{
    if constexpr (std::is_same_v<T, bool>)
        return "a boolean (0 or 1)";
    else if constexpr (std::is_integral_v<T>)
        return std::string(std::is_signed_v<T> ? "a " : "an ") + std::to_string(sizeof(T) * 8) + "-bit " +
               (std::is_signed_v<T> ? "signed" : "unsigned") + " integer";
    else if constexpr (std::is_floating_point_v<T>)
        return "a number";
    else if constexpr (std::is_same_v<T, std::string>)
        return "a value (as text)";
    else if constexpr (std::is_same_v<T, std::string_view>)
        return "text or a blob";
    else if constexpr (std::is_same_v<T, std::vector<std::byte>>)
        return "a blob or text";
    else
        return "a value";
}

template <class T>
inline constexpr bool gettable_v = std::is_arithmetic_v<T> || std::is_same_v<T, std::string> ||
                                   std::is_same_v<T, std::string_view> ||
                                   std::is_same_v<T, std::vector<std::byte>>;
template <class T>
inline constexpr bool gettable_v<std::optional<T>> = gettable_v<T>;

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
    storage_class type() const;
    bool is_null() const;
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
    std::byte const* value_data(std::size_t i) const noexcept
    {
        return buf_.get() + detail::header_bytes(n()) + offset(i);
    }
    std::size_t value_size(std::size_t i) const noexcept
    {
        return static_cast<std::size_t>(offset(i + 1) - offset(i));
    }
    std::size_t total_bytes() const noexcept { return detail::header_bytes(n()) + offset(n()); }
    std::int64_t int_at(std::size_t i) const noexcept
    {
        std::int64_t v;
        std::memcpy(&v, value_data(i), 8);
        return v;
    }
    double real_at(std::size_t i) const noexcept
    {
        double v;
        std::memcpy(&v, value_data(i), 8);
        return v;
    }
    std::string_view bytes_at(std::size_t i) const noexcept
    {
        return {reinterpret_cast<char const*>(value_data(i)), value_size(i)};
    }
    void check_index(std::size_t i) const
    {
        if (i >= n())
            detail::throw_row_error(query(), number_, i, {},
                                    "no such column: the row has " + std::to_string(n()) + " columns");
    }
    template <class T>
    [[noreturn]] void mismatch(std::size_t i, std::string const& found) const
    {
        detail::throw_row_error(query(), number_, i, info_->columns[i],
                                "expected " + detail::type_name<T>() + ", found " + found);
    }
    std::string describe(std::size_t i) const
    {
        switch (type(i)) {
        case storage_class::integer: return "integer " + std::to_string(int_at(i));
        case storage_class::real: return "real " + render_real(real_at(i));
        case storage_class::text: return "text " + detail::quote_value(bytes_at(i));
        case storage_class::blob: return "a blob of " + std::to_string(value_size(i)) + " bytes";
        case storage_class::null: break;
        }
        return "NULL";
    }
    static std::string render_real(double d)
    {
        char buf[64];
        auto r = std::to_chars(buf, buf + sizeof buf, d);
        return std::string(buf, r.ptr);
    }

public:
    row() = default;
    /// Builds a row from its cells (what the sources do).
    row(std::shared_ptr<detail::result_info const> info, std::span<detail::cell const> cells, std::uint64_t number)
        : info_(std::move(info)), number_(number)
    {
        std::size_t const count = cells.size();
        std::size_t data = 0;
        for (auto const& c : cells)
            data += c.size;
        std::size_t const head = detail::header_bytes(count);
        buf_ = std::make_unique_for_overwrite<std::byte[]>(head + data);
        std::byte* const kinds = buf_.get() + (count + 1) * 8;
        std::uint64_t off = 0;
        for (std::size_t i = 0; i < count; ++i) {
            std::memcpy(buf_.get() + i * 8, &off, 8);
            kinds[i] = static_cast<std::byte>(cells[i].kind);
            if (cells[i].size)
                std::memcpy(buf_.get() + head + off, cells[i].data, cells[i].size);
            off += cells[i].size;
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
    storage_class type(std::size_t i) const
    {
        check_index(i);
        return static_cast<storage_class>(std::to_integer<int>(buf_[(n() + 1) * 8 + i]));
    }
    bool is_null(std::size_t i) const { return type(i) == storage_class::null; }
    bool is_null(std::string_view name) const { return is_null(column_index(name)); }

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
        storage_class const t = type(i);
        if constexpr (detail::is_optional<T>::value) {
            if (t == storage_class::null)
                return std::nullopt;
            return get<typename T::value_type>(i);
        } else {
            if (t == storage_class::null)
                mismatch<T>(i, "NULL");
            if constexpr (std::is_same_v<T, bool>) {
                std::int64_t const v = get<std::int64_t>(i);
                if (v != 0 && v != 1)
                    mismatch<T>(i, describe(i));
                return v == 1;
            } else if constexpr (std::is_integral_v<T>) {
                std::int64_t v = 0;
                if (t == storage_class::integer) {
                    v = int_at(i);
                } else if (t == storage_class::real) {
                    double const d = real_at(i);
                    // Only a real that is exactly an integer (SQLite stores 2.0 for `2.0`).
                    if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0) || std::trunc(d) != d)
                        mismatch<T>(i, describe(i));
                    v = static_cast<std::int64_t>(d);
                } else if (t == storage_class::text) {
                    std::string_view s = bytes_at(i);
                    if constexpr (std::is_unsigned_v<T>) {
                        T u{};
                        auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), u);
                        if (ec != std::errc{} || p != s.data() + s.size() || s.empty())
                            mismatch<T>(i, describe(i));
                        return u;
                    } else {
                        auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
                        if (ec != std::errc{} || p != s.data() + s.size() || s.empty())
                            mismatch<T>(i, describe(i));
                    }
                } else {
                    mismatch<T>(i, describe(i));
                }
                if (!std::in_range<T>(v))
                    mismatch<T>(i, describe(i) + " (out of range)");
                return static_cast<T>(v);
            } else if constexpr (std::is_floating_point_v<T>) {
                if (t == storage_class::integer)
                    return static_cast<T>(int_at(i));
                if (t == storage_class::real)
                    return static_cast<T>(real_at(i));
                if (t == storage_class::text) {
                    std::string_view s = bytes_at(i);
                    double d = 0;
                    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), d);
                    if (ec == std::errc{} && p == s.data() + s.size() && !s.empty())
                        return static_cast<T>(d);
                }
                mismatch<T>(i, describe(i));
            } else if constexpr (std::is_same_v<T, std::string>) {
                if (t == storage_class::integer)
                    return std::to_string(int_at(i));
                if (t == storage_class::real)
                    return render_real(real_at(i));
                return std::string(bytes_at(i));
            } else if constexpr (std::is_same_v<T, std::string_view>) {
                if (t != storage_class::text && t != storage_class::blob)
                    mismatch<T>(i, describe(i));
                return bytes_at(i);
            } else {
                static_assert(std::is_same_v<T, std::vector<std::byte>>);
                if (t != storage_class::text && t != storage_class::blob)
                    mismatch<T>(i, describe(i));
                auto const* p = value_data(i);
                return std::vector<std::byte>(p, p + value_size(i));
            }
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

    /// Column i as a JSON value (for reject records).
    void append_json(std::string& out, std::size_t i) const
    {
        switch (type(i)) {
        case storage_class::integer: out += std::to_string(int_at(i)); return;
        case storage_class::real: {
            double const d = real_at(i);
            if (std::isfinite(d))
                out += render_real(d);
            else
                detail::json_string(out, render_real(d));
            return;
        }
        case storage_class::text: detail::json_string(out, bytes_at(i)); return;
        case storage_class::blob: {
            std::string hex = "X'";
            static char const digits[] = "0123456789ABCDEF";
            for (char c : bytes_at(i)) {
                hex += digits[(static_cast<unsigned char>(c) >> 4) & 0xf];
                hex += digits[static_cast<unsigned char>(c) & 0xf];
            }
            detail::json_string(out, hex + "'");
            return;
        }
        case storage_class::null: break;
        }
        out += "null";
    }
    /// The database the row came from.
    std::string const& database_file() const noexcept
    {
        static std::string const none;
        return info_ ? info_->file : none;
    }
};

inline std::string_view field::name() const { return row_->column_name(index_); }
inline storage_class field::type() const { return row_->type(index_); }
inline bool field::is_null() const { return row_->is_null(index_); }
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

} // namespace detail

/// A type a statement parameter can take: see the header comment.
template <class T>
concept bindable = detail::bindable_v<std::remove_cvref_t<T>>;

/// A SQLite connection (RAII sqlite3*), movable.
class database {
    sqlite3* db_ = nullptr;
    std::string file_;

public:
    struct options {
        bool read_only = false;
        bool create = true; ///< create the file if missing (ignored when read_only)
        std::chrono::milliseconds busy_timeout{5000};
    };

    explicit database(std::string file) : database(std::move(file), options{}) {}
    database(std::string file, options opts) : file_(std::move(file))
    {
        int flags = opts.read_only ? SQLITE_OPEN_READONLY
                                   : SQLITE_OPEN_READWRITE | (opts.create ? SQLITE_OPEN_CREATE : 0);
        int const rc = sqlite3_open_v2(file_.c_str(), &db_, flags | SQLITE_OPEN_URI, nullptr);
        if (rc != SQLITE_OK) {
            std::string const msg = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
            int const code = db_ ? sqlite3_extended_errcode(db_) : rc;
            sqlite3_close_v2(db_);
            db_ = nullptr;
            throw error("streambatch::sqlite: cannot open database " + detail::quote_value(file_) + ": " + msg +
                            detail::code_text(code),
                        code, file_, {}, msg);
        }
        sqlite3_extended_result_codes(db_, 1);
        sqlite3_busy_timeout(db_, static_cast<int>(opts.busy_timeout.count()));
    }
    database(database&& o) noexcept : db_(std::exchange(o.db_, nullptr)), file_(std::move(o.file_)) {}
    database& operator=(database&& o) noexcept
    {
        if (this != &o) {
            sqlite3_close_v2(db_);
            db_ = std::exchange(o.db_, nullptr);
            file_ = std::move(o.file_);
        }
        return *this;
    }
    ~database() { sqlite3_close_v2(db_); }

    sqlite3* handle() const noexcept { return db_; }
    /// The file name as given when opened.
    std::string const& file() const noexcept { return file_; }
    /// True inside BEGIN ... COMMIT.
    bool in_transaction() const noexcept { return db_ && sqlite3_get_autocommit(db_) == 0; }
    /// Rows changed by the last INSERT, UPDATE or DELETE.
    std::int64_t changes() const noexcept { return sqlite3_changes64(db_); }

    /// Runs one or more statements without parameters (a script).
    void exec(std::string const& sql) const
    {
        if (!db_)
            throw std::logic_error("streambatch::sqlite: exec on a moved-from database");
        int const rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr);
        if (rc != SQLITE_OK)
            detail::throw_error(db_, rc, file_, sql);
    }
    /// Runs one statement with `?` parameters; result rows, if any, are discarded.
    template <bindable... P>
        requires(sizeof...(P) > 0)
    void exec(std::string_view sql, P const&... params) const;

    /// The first column of the first row as T (std::optional<T>: nullopt for NULL or no row).
    template <gettable T, bindable... P>
    T scalar(std::string_view sql, P const&... params) const;
};

/// A prepared statement (RAII sqlite3_stmt*), movable.
class statement {
    sqlite3_stmt* stmt_ = nullptr;
    std::string sql_, file_;

    [[noreturn]] void fail(int rc, std::string const& doing = {}) const
    {
        detail::throw_error(stmt_ ? sqlite3_db_handle(stmt_) : nullptr, rc, file_, sql_, doing);
    }

public:
    statement() = default;
    statement(database const& db, std::string sql) : sql_(std::move(sql)), file_(db.file())
    {
        if (!db.handle())
            throw std::logic_error("streambatch::sqlite: prepare on a moved-from database");
        char const* tail = nullptr;
        int const rc = sqlite3_prepare_v2(db.handle(), sql_.data(), static_cast<int>(sql_.size()), &stmt_, &tail);
        if (rc != SQLITE_OK)
            detail::throw_error(db.handle(), rc, file_, sql_);
        if (!stmt_)
            throw std::invalid_argument("streambatch::sqlite: no SQL statement in " + detail::quote_value(sql_));
        std::string_view rest(tail, static_cast<std::size_t>(sql_.data() + sql_.size() - tail));
        if (rest.find_first_not_of(" \t\r\n;") != std::string_view::npos) {
            sqlite3_finalize(std::exchange(stmt_, nullptr));
            throw std::invalid_argument("streambatch::sqlite: one statement expected, found more in " +
                                        detail::quote_value(detail::shorten(sql_, 200)) +
                                        "; use database::exec for scripts");
        }
    }
    statement(statement&& o) noexcept
        : stmt_(std::exchange(o.stmt_, nullptr)), sql_(std::move(o.sql_)), file_(std::move(o.file_))
    {
    }
    statement& operator=(statement&& o) noexcept
    {
        if (this != &o) {
            sqlite3_finalize(stmt_);
            stmt_ = std::exchange(o.stmt_, nullptr);
            sql_ = std::move(o.sql_);
            file_ = std::move(o.file_);
        }
        return *this;
    }
    ~statement() { sqlite3_finalize(stmt_); }

    sqlite3_stmt* handle() const noexcept { return stmt_; }
    std::string const& sql() const noexcept { return sql_; }
    std::string const& file() const noexcept { return file_; }
    int parameter_count() const noexcept { return sqlite3_bind_parameter_count(stmt_); }

    /// Binds parameter `index` (1-based). copy = false: text and blobs must outlive the step.
    template <bindable T>
    void bind_at(int index, T const& value, bool copy = true)
    {
        using U = std::remove_cvref_t<T>;
        auto const lifetime = copy ? SQLITE_TRANSIENT : SQLITE_STATIC;
        int rc = SQLITE_OK;
        if constexpr (std::is_same_v<U, std::nullptr_t> || std::is_same_v<U, std::nullopt_t>) {
            rc = sqlite3_bind_null(stmt_, index);
        } else if constexpr (detail::is_optional<U>::value) {
            if (value)
                return bind_at(index, *value, copy);
            rc = sqlite3_bind_null(stmt_, index);
        } else if constexpr (std::is_same_v<U, bool>) {
            rc = sqlite3_bind_int64(stmt_, index, value ? 1 : 0);
        } else if constexpr (std::is_integral_v<U>) {
            if (!std::in_range<std::int64_t>(value))
                throw std::out_of_range("streambatch::sqlite: parameter " + std::to_string(index) + " of " +
                                        detail::quote_value(detail::shorten(sql_, 200)) + " is " +
                                        std::to_string(value) + ", beyond SQLite's 64-bit signed integers");
            rc = sqlite3_bind_int64(stmt_, index, static_cast<sqlite3_int64>(value));
        } else if constexpr (std::is_floating_point_v<U>) {
            rc = sqlite3_bind_double(stmt_, index, static_cast<double>(value));
        } else if constexpr (std::is_same_v<U, std::span<std::byte const>> ||
                             std::is_same_v<U, std::vector<std::byte>>) {
            rc = sqlite3_bind_blob64(stmt_, index, value.data(), value.size(), lifetime);
        } else {
            std::string_view const s = value;
            rc = sqlite3_bind_text64(stmt_, index, s.data(), s.size(), lifetime, SQLITE_UTF8);
        }
        if (rc != SQLITE_OK)
            fail(rc, "binding parameter " + std::to_string(index) + " of " +
                         detail::quote_value(detail::shorten(sql_, 200)));
    }

    /// Binds all parameters, in order; their number must be the statement's.
    template <bindable... P>
    void bind(P const&... params)
    {
        if (static_cast<int>(sizeof...(P)) != parameter_count())
            throw std::invalid_argument("streambatch::sqlite: " + detail::quote_value(detail::shorten(sql_, 200)) +
                                        " has " + std::to_string(parameter_count()) + " parameters, given " +
                                        std::to_string(sizeof...(P)));
        int i = 0;
        (bind_at(++i, params), ...);
    }

    /// Steps once: true if a row is ready, false when done; throws error otherwise.
    bool step()
    {
        int const rc = sqlite3_step(stmt_);
        if (rc == SQLITE_ROW)
            return true;
        if (rc == SQLITE_DONE)
            return false;
        fail(rc);
    }
    /// Makes the statement ready to run again (bindings are kept); releases its locks.
    void reset() noexcept { sqlite3_reset(stmt_); }
};

template <bindable... P>
    requires(sizeof...(P) > 0)
void database::exec(std::string_view sql, P const&... params) const
{
    statement st(*this, std::string(sql));
    st.bind(params...);
    while (st.step()) {
    }
}

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

/// A function query_as can judge rows with.
template <class F>
concept parse_function = std::move_constructible<F> && std::invocable<F&, row const&> &&
                         std::is_object_v<std::remove_cvref_t<std::invoke_result_t<F&, row const&>>>;

/// The source: steps a prepared statement; yields rows, or parse(row) for query_as.
template <parse_function Parse = detail::raw_rows>
class query_view : public std::ranges::view_interface<query_view<Parse>> {
public:
    using value_type = std::remove_cvref_t<std::invoke_result_t<Parse&, row const&>>;

private:
    static constexpr bool raw = std::is_same_v<Parse, detail::raw_rows>;

    statement stmt_;
    std::shared_ptr<detail::result_info> info_;
    detail::movable_box<Parse> parse_;
    query_options opts_;
    std::shared_ptr<query_stats> stats_ = std::make_shared<query_stats>();
    detail::reject_writer rejects_;
    std::vector<detail::cell> cells_;
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
            throw;
        }
    }

    row read_row()
    {
        sqlite3_stmt* s = stmt_.handle();
        std::size_t const count = info_->columns.size();
        cells_.resize(count);
        for (std::size_t i = 0; i < count; ++i) {
            int const c = static_cast<int>(i);
            detail::cell& cell = cells_[i];
            cell.kind = sqlite3_column_type(s, c);
            cell.data = nullptr;
            cell.size = 0;
            switch (cell.kind) {
            case SQLITE_INTEGER:
                cell.integer = sqlite3_column_int64(s, c);
                cell.data = &cell.integer;
                cell.size = 8;
                break;
            case SQLITE_FLOAT:
                cell.real = sqlite3_column_double(s, c);
                cell.data = &cell.real;
                cell.size = 8;
                break;
            case SQLITE_TEXT:
                cell.data = sqlite3_column_text(s, c);
                cell.size = static_cast<std::size_t>(sqlite3_column_bytes(s, c));
                break;
            case SQLITE_BLOB:
                cell.data = sqlite3_column_blob(s, c);
                cell.size = static_cast<std::size_t>(sqlite3_column_bytes(s, c));
                break;
            default: break;
            }
            if (cell.kind != SQLITE_NULL && cell.kind != SQLITE_INTEGER && cell.kind != SQLITE_FLOAT &&
                !cell.data && sqlite3_errcode(sqlite3_db_handle(s)) == SQLITE_NOMEM)
                throw std::bad_alloc();
        }
        return row(info_, cells_, stats_->rows_read);
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
        std::string const& q = info_->query;
        if (opts_.bad_rows == on_error::fail) {
            if (is_row_error)
                std::rethrow_exception(bad);
            try {
                std::rethrow_exception(bad);
            } catch (...) {
                std::throw_with_nested(row_error("streambatch::sqlite: " + detail::where(q, r.number(), column, {}) +
                                                     ": the parse function failed: " + reason,
                                                 q, r.number(), column, column_name, reason));
            }
        }
        std::string line = "{\"source\":\"sqlite\",\"database\":";
        detail::json_string(line, info_->file);
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
            r.append_json(line, i);
        }
        line += "]}";
        rejects_.write(line);
        if (stats_->rows_skipped >= opts_.max_skipped) {
            row_error const last("", q, r.number(), column, column_name, reason);
            throw too_many_bad_rows("streambatch::sqlite: " + detail::where(q, r.number(), column, column_name) +
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
            if (!stmt_.step()) {
                stmt_.reset(); // ends the read transaction now, not when the view dies
                done_ = true;
                return;
            }
            ++stats_->rows_read;
            if constexpr (raw) {
                current_.emplace(read_row());
                return;
            } else {
                row r = read_row();
                std::exception_ptr bad;
                try {
                    current_.emplace(std::invoke(parse_.get(), std::as_const(r)));
                    return;
                } catch (error const&) {
                    throw; // the database's, not the row's
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

    /// Prepares `sql` on `db` and binds `params`; the rows are stepped as the view is iterated.
    template <bindable... P>
    query_view(database const& db, std::string sql, Parse parse, query_options opts, P const&... params)
        : stmt_(db, std::move(sql)), parse_(std::move(parse)), opts_(std::move(opts))
    {
        if (opts_.bad_rows == on_error::skip && opts_.reject_path.empty())
            throw std::invalid_argument("streambatch::sqlite: on_error::skip needs a reject_path, so that "
                                        "skipped rows are kept, not lost");
        rejects_ = detail::reject_writer(opts_.reject_path);
        stmt_.bind(params...);
        auto info = std::make_shared<detail::result_info>();
        info->query = stmt_.sql();
        info->file = db.file();
        int const count = sqlite3_column_count(stmt_.handle());
        for (int i = 0; i < count; ++i) {
            char const* name = sqlite3_column_name(stmt_.handle(), i);
            if (!name)
                throw std::bad_alloc();
            info->columns.emplace_back(name);
        }
        info_ = std::move(info);
    }
    query_view(query_view&&) = default;
    query_view& operator=(query_view&&) = default;

    /// Iteration from where it stopped (the start, the first time). Rows are stepped when the
    /// iterator is compared or dereferenced, so a batch adaptor never reads past its batch.
    iterator begin()
    {
        if (!started_) {
            started_ = true;
        }
        return iterator(*this);
    }
    std::default_sentinel_t end() const noexcept { return std::default_sentinel; }

    /// Counters shared with the caller; valid after the view is gone.
    std::shared_ptr<query_stats const> stats() const noexcept { return stats_; }
    std::string const& sql() const noexcept { return stmt_.sql(); }
    std::vector<std::string> const& column_names() const noexcept { return info_->columns; }
};

/// `for (row& r : sqlite::query(db, "SELECT ... WHERE id > ?", 10))`.
template <bindable... P>
[[nodiscard]] query_view<> query(database const& db, std::string sql, P const&... params)
{
    return query_view<>(db, std::move(sql), detail::raw_rows{}, query_options{}, params...);
}

/// parse(row const&) -> T per row, under the bad-row policy in `opts`.
template <parse_function F, bindable... P>
[[nodiscard]] query_view<F> query_as(database const& db, std::string sql, F parse, query_options opts,
                                     P const&... params)
{
    return query_view<F>(db, std::move(sql), std::move(parse), std::move(opts), params...);
}
template <parse_function F, bindable... P>
[[nodiscard]] query_view<F> query_as(database const& db, std::string sql, F parse, P const&... params)
{
    return query_view<F>(db, std::move(sql), std::move(parse), query_options{}, params...);
}
/// Rows as a tuple-like T: element i from column i with row::get.
template <detail::tuple_like T, bindable... P>
[[nodiscard]] query_view<detail::tuple_parse<T>> query_as(database const& db, std::string sql, query_options opts,
                                                          P const&... params)
{
    return query_view<detail::tuple_parse<T>>(db, std::move(sql), {}, std::move(opts), params...);
}
template <detail::tuple_like T, bindable... P>
[[nodiscard]] query_view<detail::tuple_parse<T>> query_as(database const& db, std::string sql, P const&... params)
{
    return query_view<detail::tuple_parse<T>>(db, std::move(sql), {}, query_options{}, params...);
}

template <gettable T, bindable... P>
T database::scalar(std::string_view sql, P const&... params) const
{
    auto rows = query(*this, std::string(sql), params...);
    auto it = rows.begin();
    if (it == rows.end()) {
        if constexpr (detail::is_optional<T>::value)
            return std::nullopt;
        else
            throw std::runtime_error("streambatch::sqlite: " + detail::quote_value(detail::shorten(sql, 200)) +
                                     " returned no row");
    }
    return (*it).template get<T>(0);
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
    void operator()(database&) const noexcept {}
};

} // namespace detail

/// The sink: a prepared INSERT, one transaction (BEGIN IMMEDIATE ... COMMIT) per batch.
template <class Map = detail::same_columns>
class inserter {
    database* db_;
    statement stmt_;
    Map map_;
    std::uint64_t batches_ = 0;
    std::uint64_t rows_ = 0;

    template <class C>
    void bind_columns(C const& cols)
    {
        if constexpr (detail::tuple_like<C>) {
            constexpr int k = static_cast<int>(std::tuple_size_v<C>);
            if (k != stmt_.parameter_count())
                throw std::invalid_argument("streambatch::sqlite: " + detail::quote_value(stmt_.sql()) + " has " +
                                            std::to_string(stmt_.parameter_count()) +
                                            " parameters, the record maps to " + std::to_string(k) + " values");
            [&]<std::size_t... I>(std::index_sequence<I...>) {
                using std::get;
                (stmt_.bind_at(static_cast<int>(I) + 1, get<I>(cols), false), ...);
            }(std::make_index_sequence<std::tuple_size_v<C>>{});
        } else {
            static_assert(bindable<C>, "map a record to a tuple of column values: inserter(db, sql, map)");
            if (stmt_.parameter_count() != 1)
                throw std::invalid_argument("streambatch::sqlite: " + detail::quote_value(stmt_.sql()) + " has " +
                                            std::to_string(stmt_.parameter_count()) +
                                            " parameters, the record maps to 1 value");
            stmt_.bind_at(1, cols, false);
        }
    }

    void rollback() noexcept
    {
        stmt_.reset();
        if (db_->in_transaction())
            sqlite3_exec(db_->handle(), "ROLLBACK", nullptr, nullptr, nullptr);
    }

    std::string where(std::uint64_t batch, std::size_t r) const
    {
        std::string s = "streambatch::sqlite: batch " + std::to_string(batch);
        if (r != batch_error::npos)
            s += ", row " + std::to_string(r);
        return s + " (0-based) into " + detail::quote_value(db_->file()) + ": ";
    }

public:
    /// `insert_sql` is one INSERT (or INSERT OR ..., REPLACE, UPSERT) with one `?` per column.
    inserter(database& db, std::string insert_sql, Map map = {})
        : db_(std::addressof(db)), stmt_(db, std::move(insert_sql)), map_(std::move(map))
    {
    }

    /// Inserts every record of `batch` in one transaction; hook(db) runs in it before COMMIT.
    /// On any error the batch is rolled back and batch_error (or a nested batch_error) thrown.
    template <std::ranges::input_range B, class Hook = detail::no_hook>
        requires std::invocable<Map&, std::ranges::range_reference_t<B>> && std::invocable<Hook&, database&>
    std::size_t write(B&& batch, Hook&& hook = {})
    {
        std::uint64_t const index = batches_++;
        if (db_->in_transaction())
            throw std::logic_error(where(index, batch_error::npos) +
                                   "the connection is already in a transaction; each batch is its own");
        try {
            db_->exec("BEGIN IMMEDIATE");
        } catch (error const& e) {
            throw batch_error(where(index, batch_error::npos) + std::string(detail::unprefixed(e.what())), e, index,
                              batch_error::npos);
        }
        std::size_t r = 0;
        bool in_rows = true;
        try {
            for (auto&& rec : batch) {
                auto&& cols = std::invoke(map_, rec);
                bind_columns(cols);
                stmt_.step();
                stmt_.reset();
                ++r;
            }
            in_rows = false;
            std::invoke(hook, *db_);
            db_->exec("COMMIT");
        } catch (error const& e) {
            rollback();
            std::size_t const at = in_rows ? r : batch_error::npos;
            throw batch_error(where(index, at) + (in_rows ? "" : "in the hook or COMMIT: ") +
                                  std::string(detail::unprefixed(e.what())),
                              e, index, at);
        } catch (...) {
            rollback();
            std::size_t const at = in_rows ? r : batch_error::npos;
            std::string msg = "unknown exception";
            try {
                throw;
            } catch (std::exception const& e) {
                msg = e.what();
            } catch (...) {
            }
            std::throw_with_nested(batch_error(where(index, at) + (in_rows ? "" : "in the hook: ") + msg,
                                               error("", 0, db_->file(), stmt_.sql(), {}), index, at));
        }
        rows_ += r;
        return r;
    }

    /// write() calls so far (failed ones included: the next batch's index).
    std::uint64_t batches() const noexcept { return batches_; }
    /// Rows committed so far.
    std::uint64_t rows_written() const noexcept { return rows_; }
    std::string const& sql() const noexcept { return stmt_.sql(); }
};

template <class Map>
inserter(database&, std::string, Map) -> inserter<Map>;
inserter(database&, std::string) -> inserter<detail::same_columns>;

// --- partitions: one worker's share of a table, as a predicate for a keyset query ---------

using sql::key_bounds;
using sql::key_range_partition; // (table, key_column, part, bounds): no database
using sql::keyset_queries;
using sql::partition_clause;
using sql::partition_scheme;
using sql::table_name;

namespace detail {

/// splitmix64's finalizer: every input bit reaches every output bit.
inline constexpr std::uint64_t mix64(std::uint64_t z) noexcept
{
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/// FNV-1a over bytes, from `h` (a different start for text and for blobs).
inline std::uint64_t fnv1a(void const* data, std::size_t n, std::uint64_t h) noexcept
{
    auto const* p = static_cast<unsigned char const*>(data);
    for (std::size_t i = 0; i < n; ++i) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

/// streambatch_hash(x): a non-negative 64-bit integer; NULL for NULL. An integer and a real
/// equal to it (5 and 5.0, which SQLite calls equal) hash alike; text and blobs by their bytes.
inline void hash_function(sqlite3_context* ctx, int, sqlite3_value** argv) noexcept
{
    sqlite3_value* v = argv[0];
    std::uint64_t h = 0;
    switch (sqlite3_value_type(v)) {
    case SQLITE_INTEGER: h = mix64(static_cast<std::uint64_t>(sqlite3_value_int64(v))); break;
    case SQLITE_FLOAT: {
        double const d = sqlite3_value_double(v);
        if (d >= -9223372036854775808.0 && d < 9223372036854775808.0 && std::trunc(d) == d) {
            h = mix64(static_cast<std::uint64_t>(static_cast<std::int64_t>(d)));
        } else {
            std::uint64_t bits = 0;
            std::memcpy(&bits, &d, sizeof bits);
            h = mix64(bits ^ 0x5f3759df5f3759dfULL);
        }
        break;
    }
    case SQLITE_TEXT: {
        unsigned char const* p = sqlite3_value_text(v); // before _bytes: the text's UTF-8 length
        if (!p) {
            sqlite3_result_error_nomem(ctx);
            return;
        }
        h = mix64(fnv1a(p, static_cast<std::size_t>(sqlite3_value_bytes(v)), 0xcbf29ce484222325ULL));
        break;
    }
    case SQLITE_BLOB: {
        void const* p = sqlite3_value_blob(v); // null for an empty blob
        h = mix64(fnv1a(p, static_cast<std::size_t>(sqlite3_value_bytes(v)), 0x84222325cbf29ce4ULL));
        break;
    }
    default: sqlite3_result_null(ctx); return;
    }
    sqlite3_result_int64(ctx, static_cast<sqlite3_int64>(h >> 1));
}

/// While alive, SQLite's double-quoted-string fallback is off on the connection (restored after),
/// so that "no_such_column" in our statements is an error, not the string 'no_such_column'.
class strict_quotes {
    sqlite3* db_;
    int old_ = 0;

public:
    explicit strict_quotes(sqlite3* db) noexcept : db_(db)
    {
#ifdef SQLITE_DBCONFIG_DQS_DML
        if (db_ && sqlite3_db_config(db_, SQLITE_DBCONFIG_DQS_DML, -1, &old_) == SQLITE_OK && old_ > 0)
            sqlite3_db_config(db_, SQLITE_DBCONFIG_DQS_DML, 0, static_cast<int*>(nullptr));
        else
            old_ = 0;
#endif
    }
    strict_quotes(strict_quotes const&) = delete;
    strict_quotes& operator=(strict_quotes const&) = delete;
    ~strict_quotes()
    {
#ifdef SQLITE_DBCONFIG_DQS_DML
        if (old_ > 0)
            sqlite3_db_config(db_, SQLITE_DBCONFIG_DQS_DML, old_, static_cast<int*>(nullptr));
#endif
    }
};

/// "streambatch::sqlite: key_range_partition: ... "orders" in database "shop.db""
inline std::string partition_where(char const* fn, partition_clause const& c, database const& db)
{
    return std::string("streambatch::sqlite: ") + fn + ": " + c.table + " in database " + quote_value(db.file());
}

/// Throws partition_error if some rows have a NULL key. Skips the count (a scan without an
/// index) when the key cannot be NULL: NOT NULL, the rowid or its alias (INTEGER PRIMARY KEY).
inline void refuse_null_keys(database const& db, table_name const& table, std::string_view key_column,
                             partition_clause const& c, char const* fn)
{
    std::optional<std::string> const schema =
        table.schema.empty() ? std::nullopt : std::optional<std::string>(table.schema);
    // A rowid table's single primary-key column without an index of its own is the rowid.
    auto const never_null = db.scalar<std::optional<std::int64_t>>(
        "SELECT ti.\"notnull\" OR (ti.pk = 1"
        " AND (SELECT count(*) FROM pragma_table_info(?1, ?2) WHERE pk > 0) = 1"
        " AND NOT EXISTS (SELECT 1 FROM pragma_index_list(?1, ?2) WHERE origin = 'pk'))"
        " FROM pragma_table_info(?1, ?2) AS ti WHERE ti.name = ?3 COLLATE NOCASE",
        table.name, schema, key_column);
    std::string const name(key_column);
    bool const rowid_name = sqlite3_stricmp(name.c_str(), "rowid") == 0 || sqlite3_stricmp(name.c_str(), "oid") == 0 ||
                            sqlite3_stricmp(name.c_str(), "_rowid_") == 0;
    if (never_null ? *never_null != 0 : rowid_name) // not a declared column: the rowid itself
        return;
    auto const nulls =
        db.scalar<std::int64_t>("SELECT count(*) FROM " + c.table + " WHERE " + c.key + " IS NULL");
    if (nulls > 0)
        throw partition_error(partition_where(fn, c, db) + ": " + std::to_string(nulls) +
                              (nulls == 1 ? " row has" : " rows have") + " a NULL " + c.key +
                              ": a keyset query (WHERE " + c.key + " > ? ORDER BY " + c.key +
                              ") never reads them, so no partition would; give them a key, or "
                              "partition by a column without NULLs");
}

inline std::optional<key_bounds> key_bounds_of(database const& db, table_name const& table,
                                               std::string_view key_column, char const* fn)
{
    partition_clause const c = sql::detail::start_clause(table, key_column, partition{}, partition_scheme::key_range,
                                                         "sqlite");
    strict_quotes const strict(db.handle());
    // Two subqueries, so that each is one step down an index on the key.
    auto rows = query(db, "SELECT (SELECT min(" + c.key + ") FROM " + c.table + "), (SELECT max(" + c.key +
                              ") FROM " + c.table + ")");
    auto it = rows.begin();
    row const r = *it; // the one row
    auto const describe = [&](std::size_t i) -> std::string {
        switch (r.type(i)) {
        case storage_class::real: {
            std::string v = r.get<std::string>(i); // "1" for 1.0: say it is a real
            if (v.find_first_of(".en") == std::string::npos)
                v += ".0";
            return "the real " + v;
        }
        case storage_class::text: return "the text " + quote_value(r.get<std::string_view>(i));
        case storage_class::blob:
            return "a blob of " + std::to_string(r.get<std::string_view>(i).size()) + " bytes";
        default: return "NULL";
        }
    };
    std::optional<key_bounds> bounds;
    if (!r.is_null(0)) {
        for (std::size_t i = 0; i < 2; ++i)
            if (r.type(i) != storage_class::integer)
                throw partition_error(partition_where(fn, c, db) + ": the key " + c.key + " holds " + describe(i) +
                                      (i == 0 ? " (its smallest value)" : " (its largest value)") +
                                      ", not only integers; key ranges need an integer key "
                                      "(hash_partition takes any)");
        bounds = key_bounds{r.get<std::int64_t>(0), r.get<std::int64_t>(1)};
    }
    refuse_null_keys(db, table, key_column, c, fn);
    return bounds;
}

} // namespace detail

/// Registers streambatch_hash(x) on the connection (hash_partition does): deterministic, a
/// non-negative 64-bit integer for an integer, real, text or blob; NULL for NULL. The hash is
/// fixed (splitmix64's finalizer of the integer; of FNV-1a of the bytes): it decides which rows
/// a partition holds, so a resumed job finds the same rows in the same partitions.
inline void register_hash_function(database const& db)
{
    if (!db.handle())
        throw std::logic_error("streambatch::sqlite: register_hash_function on a moved-from database");
    int flags = SQLITE_UTF8 | SQLITE_DETERMINISTIC;
#ifdef SQLITE_INNOCUOUS
    flags |= SQLITE_INNOCUOUS;
#endif
    int const rc = sqlite3_create_function_v2(db.handle(), "streambatch_hash", 1, flags, nullptr,
                                              &detail::hash_function, nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK)
        detail::throw_error(db.handle(), rc, db.file(), {}, "registering the SQL function streambatch_hash");
}

/// The smallest and largest key of `table`.`key_column` (nullopt: no row has a key). Throws
/// partition_error when a key is not an integer (min or max) or when rows have a NULL key;
/// sqlite::error for an unknown table or column.
[[nodiscard]] inline std::optional<key_bounds> key_bounds_of(database const& db, table_name const& table,
                                                             std::string_view key_column)
{
    return detail::key_bounds_of(db, table, key_column, "key_bounds_of");
}

/// Partition `part` of `table` by ranges of its integer `key_column`: asks for the key's min and
/// max (key_bounds_of) and cuts [min, max] evenly by value (sql::key_range_partition). Each
/// worker asks when it starts: the table's min and max must not change until all have asked
/// (otherwise give them all the same bounds: key_range_partition(table, key, part, bounds)).
[[nodiscard]] inline partition_clause key_range_partition(database const& db, table_name const& table,
                                                          std::string_view key_column, partition part)
{
    part.check();
    return key_range_partition(table, key_column, part,
                               detail::key_bounds_of(db, table, key_column, "key_range_partition"));
}

/// Partition `part` of `table` by streambatch_hash(key_column) % count (registered on `db`, so
/// the predicate runs on this connection only): the key may be of any type and need not be
/// unique (rows with equal keys share a partition). Throws partition_error when rows have a
/// NULL key; sqlite::error for an unknown table or column.
[[nodiscard]] inline partition_clause hash_partition(database const& db, table_name const& table,
                                                     std::string_view key_column, partition part)
{
    partition_clause c = sql::detail::start_clause(table, key_column, part, partition_scheme::hash, "sqlite");
    {
        detail::strict_quotes const strict(db.handle());
        statement const check(db, "SELECT " + c.key + " FROM " + c.table + " LIMIT 0"); // unknown names
        detail::refuse_null_keys(db, table, key_column, c, "hash_partition");
    }
    register_hash_function(db);
    c.predicate = part.count == 1 ? sql::detail::whole_predicate(c)
                                  : sql::detail::hash_predicate("streambatch_hash(" + c.key + ")", part, false);
    return c;
}

/// The keyset queries of one partition: `from_start` (no parameter), then `after_key` with the
/// last key read (a `?`). `columns` is SQL text ("id, name"), used as given.
[[nodiscard]] inline keyset_queries keyset_query(partition_clause const& part, std::string_view columns)
{
    return sql::detail::keyset(part, columns, "?");
}

} // namespace streambatch::sqlite

#endif // STREAMBATCH_IO_SQLITE_HPP_INCLUDED
