// streambatch/io/sql/partition.hpp: what the SQLite and PostgreSQL partition functions
// share (included by <streambatch/io/sqlite.hpp> and <streambatch/io/postgres.hpp>; use those).
//
// The types are in streambatch::sql and named from both components as well: sqlite::
// partition_clause is postgres::partition_clause. Nothing here talks to a database: identifier
// quoting, the key-range arithmetic (128-bit) and the SQL text of predicates and keyset queries.
// Both databases quote identifiers alike ("a""b") and read the integer literals alike
// (-9223372036854775808 included), so the text is the same for both but for the hash function
// and the keyset parameter (? or $1).
//
// The partition functions that ask the database (key_bounds_of, key_range_partition(db, ...),
// hash_partition) are templates here too, on the connection type: each component declares
// sql::detail's partition_ops_of for it (how it reads the key's bounds and which hash it uses) and
// names them with `using sql::key_bounds_of;` etc.

#ifndef STREAMBATCH_IO_SQL_PARTITION_HPP_INCLUDED
#define STREAMBATCH_IO_SQL_PARTITION_HPP_INCLUDED

#include <streambatch/partition.hpp>

#include <concepts>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

namespace streambatch::sql {

/// How a partition_clause splits the rows.
enum class partition_scheme : unsigned char {
    key_range, ///< contiguous ranges of an integer key, cut evenly by value
    hash,      ///< a hash of the key modulo the count
};

/// A table, optionally in a schema (a PostgreSQL schema, an attached SQLite database). Both are
/// quoted for you, as given: "orders" is the table orders, {"sales", "Orders"} is "sales"."Orders"
/// (in PostgreSQL, an unquoted Orders in your own SQL is orders), and "sales.orders" is one
/// name with a dot in it, not a table in a schema.
struct table_name {
    std::string schema; ///< empty: the search path (PostgreSQL), every database (SQLite)
    std::string name;

    template <class S>
        requires std::convertible_to<S const&, std::string_view>
    table_name(S const& table) : name(std::string_view(table))
    {}
    table_name(std::string_view schema_name, std::string_view table)
        : schema(schema_name), name(table)
    {}
};

/// The smallest and the largest non-NULL key of a table.
struct key_bounds {
    std::int64_t min = 0;
    std::int64_t max = 0;
    friend bool operator==(key_bounds const&, key_bounds const&) = default;
};

/// One partition of a table by a key: a predicate to AND into the query that reads the table.
/// The predicates of partitions 0 .. count-1 (made from the same bounds) are disjoint and
/// together are `key IS NOT NULL`: each row with a key is in exactly one of them.
struct partition_clause {
    streambatch::partition part{};
    partition_scheme scheme = partition_scheme::key_range;
    std::string table; ///< quoted: "orders", "sales"."orders"
    std::string key;   ///< quoted: "id"
    /// SQL text, in parentheses, with literals (no parameters, so it does not shift yours):
    ///   key_range:  ("id" < 250)  ("id" >= 250 AND "id" < 500)  ("id" >= 750)  ("id" IS NOT NULL)
    ///   hash:       (streambatch_hash("id") % 8 = 3)                                 (SQLite)
    ///               (((hashint8extended("id"::bigint, 0) % 8) + 8) % 8 = 3)          (PostgreSQL)
    std::string predicate;
    /// key_range: the table's smallest and largest key the ranges were cut from (nullopt: the
    /// table had no key; hash: not asked for).
    std::optional<key_bounds> bounds;
    /// key_range: the partition is lo <= key < hi; nullopt is no bound: partition 0 has no lo,
    /// the last has no hi (so keys below min or above max still have a partition). hash: none.
    std::optional<std::int64_t> lo;
    std::optional<std::int64_t> hi;

    /// key_range: no key of [bounds->min, bounds->max] is in this partition (more partitions
    /// than keys, or no key at all). hash: false (it cannot tell without reading).
    bool empty() const noexcept
    {
        if (scheme != partition_scheme::key_range)
            return false;
        if (!bounds)
            return true;
        if (lo && hi && *lo >= *hi)
            return true;
        if (hi && *hi <= bounds->min)
            return true;
        if (lo && *lo > bounds->max)
            return true;
        return false;
    }
};

/// The two queries of a keyset read of one partition: SELECT <columns> FROM <table> WHERE ...
/// ORDER BY <key>. Append " LIMIT n" to read a batch at a time. The key must be unique: after_key
/// skips the rest of the rows of the last key read. (A hash partition by a non-unique key: write
/// the keyset on a unique column yourself, "... WHERE id > ? AND " + predicate + " ORDER BY id".)
struct keyset_queries {
    /// ... WHERE <predicate> ORDER BY <key>: the first read, with no parameter.
    std::string from_start;
    /// ... WHERE <key> > ? AND <predicate> ORDER BY <key>: the next reads, with the last key
    /// read as the one parameter ($1 in PostgreSQL). Starting with from_start, not with
    /// `key > INT64_MIN`, keeps a row whose key is INT64_MIN.
    std::string after_key;
};

namespace detail {

/// "a""b": an identifier, quoted as both SQLite and PostgreSQL read it.
inline std::string quote_identifier(std::string_view id, char const* component, char const* what)
{
    if (id.empty())
        throw std::invalid_argument(std::string("streambatch::") + component + ": the " + what +
                                    " name is empty");
    if (id.find('\0') != std::string_view::npos)
        throw std::invalid_argument(std::string("streambatch::") + component + ": the " + what +
                                    " name contains a NUL byte");
    std::string out = "\"";
    for (char c : id) {
        if (c == '"')
            out += '"';
        out += c;
    }
    return out + '"';
}

/// "schema"."table" or "table".
inline std::string quote_table(table_name const& t, char const* component)
{
    std::string const table = quote_identifier(t.name, component, "table");
    if (t.schema.empty())
        return table;
    return quote_identifier(t.schema, component, "schema") + "." + table;
}

/// The clause's common part; checks the partition (std::invalid_argument).
inline partition_clause start_clause(table_name const& table, std::string_view key_column,
                                     partition part, partition_scheme scheme, char const* component)
{
    part.check();
    partition_clause c;
    c.part = part;
    c.scheme = scheme;
    c.table = quote_table(table, component);
    c.key = quote_identifier(key_column, component, "key column");
    return c;
}

/// A 128-bit integer for the key-range arithmetic: max - min + 1 is up to 2^64, times a count
/// below 2^32. (__extension__: -Wpedantic knows __int128 is not ISO C++.)
__extension__ typedef __int128 int128;

/// The first key of partition k of `count` over [b.min, b.max] (k in 1 .. count-1): cut evenly by
/// value, min + floor(span * k / count) with span = max - min + 1; never above max.
inline std::int64_t boundary(key_bounds const& b, std::uint32_t k, std::uint32_t count) noexcept
{
    int128 const span = int128(b.max) - int128(b.min) + 1;
    return static_cast<std::int64_t>(int128(b.min) + span * int128(k) / int128(count));
}

/// The hash predicate around a hash expression that is non-negative (SQLite's
/// streambatch_hash) or may be negative (PostgreSQL's hash functions).
inline std::string hash_predicate(std::string const& hash_expr, partition part,
                                  bool may_be_negative)
{
    std::string const n = std::to_string(part.count);
    if (may_be_negative)
        return "(((" + hash_expr + " % " + n + ") + " + n + ") % " + n + " = " +
               std::to_string(part.index) + ")";
    return "(" + hash_expr + " % " + n + " = " + std::to_string(part.index) + ")";
}

/// The predicate of the only partition (count 1): every row with a key.
inline std::string whole_predicate(partition_clause const& c)
{
    return "(" + c.key + " IS NOT NULL)";
}

inline keyset_queries keyset(partition_clause const& c, std::string_view columns,
                             std::string_view placeholder)
{
    std::string const head = "SELECT " + std::string(columns) + " FROM " + c.table + " WHERE ";
    std::string const tail = " ORDER BY " + c.key;
    return {head + c.predicate + tail,
            head + c.key + " > " + std::string(placeholder) + " AND " + c.predicate + tail};
}

} // namespace detail

/// Partition `part` of `table` by ranges of the integer `key_column`, cut evenly by value from
/// `bounds` (nullopt: a table with no key); needs no database, so workers that are given the same
/// bounds agree even while the table changes. Partition i is [b_i, b_i+1) with
/// b_i = min + floor((max - min + 1) * i / count), partition 0 has no lower bound and the last
/// no upper bound. std::invalid_argument for a bad partition, min > max or an empty name.
[[nodiscard]] inline partition_clause key_range_partition(table_name const& table,
                                                          std::string_view key_column,
                                                          partition part,
                                                          std::optional<key_bounds> bounds)
{
    partition_clause c =
        detail::start_clause(table, key_column, part, partition_scheme::key_range, "sql");
    if (bounds && bounds->min > bounds->max)
        throw std::invalid_argument("streambatch::sql: key_range_partition: the bounds' min " +
                                    std::to_string(bounds->min) + " is above their max " +
                                    std::to_string(bounds->max));
    c.bounds = bounds;
    if (part.count == 1) {
        c.predicate = detail::whole_predicate(c);
        return c;
    }
    // No key at all: cut as if the only key were 0, so the ranges still cover every key.
    key_bounds const b = bounds.value_or(key_bounds{0, 0});
    if (part.index > 0)
        c.lo = detail::boundary(b, part.index, part.count);
    if (part.index + 1 < part.count)
        c.hi = detail::boundary(b, part.index + 1, part.count);
    if (c.lo && c.hi)
        c.predicate = "(" + c.key + " >= " + std::to_string(*c.lo) + " AND " + c.key + " < " +
                      std::to_string(*c.hi) + ")";
    else if (c.lo)
        c.predicate = "(" + c.key + " >= " + std::to_string(*c.lo) + ")";
    else
        c.predicate = "(" + c.key + " < " + std::to_string(*c.hi) + ")";
    return c;
}

namespace detail {

/// What a database supplies to the partition functions below. Each component declares (and never
/// defines), next to its connection type, `Ops partition_ops_of(Connection const&);`, found by
/// argument-dependent lookup, with Ops holding:
///     static constexpr char const* component;      "sqlite", "postgres"
///     static constexpr bool hash_may_be_negative;
///     static std::optional<key_bounds> bounds(Connection const&, table_name const&,
///                                             std::string_view key_column, char const* fn);
///     static std::string hash(Connection const&, table_name const&, std::string_view key_column,
///                             partition_clause const& c);
///         checks the table and key (unknown names, NULL keys) and returns the hash expression
template <class C>
using partition_ops_t = decltype(partition_ops_of(std::declval<C const&>()));

template <class C>
concept partitionable = requires { partition_ops_t<C>::component; };

} // namespace detail

/// The smallest and largest key of `table`.`key_column` (nullopt: no row has a key). Throws
/// partition_error when a key is not an integer (SQLite: its min or max; PostgreSQL: the column
/// is not smallint, integer or bigint) or when rows have a NULL key; the database's error for an
/// unknown table or column.
template <detail::partitionable Connection>
[[nodiscard]] std::optional<key_bounds>
key_bounds_of(Connection const& conn, table_name const& table, std::string_view key_column)
{
    return detail::partition_ops_t<Connection>::bounds(conn, table, key_column, "key_bounds_of");
}

/// Partition `part` of `table` by ranges of its integer `key_column`: asks for the key's min and
/// max (key_bounds_of) and cuts [min, max] evenly by value (key_range_partition above). Each
/// worker asks when it starts: the table's min and max must not change until all have asked
/// (otherwise give them all the same bounds: key_range_partition(table, key, part, bounds)).
template <detail::partitionable Connection>
[[nodiscard]] partition_clause key_range_partition(Connection const& conn, table_name const& table,
                                                   std::string_view key_column, partition part)
{
    part.check();
    return key_range_partition(table, key_column, part,
                               detail::partition_ops_t<Connection>::bounds(conn, table, key_column,
                                                                           "key_range_partition"));
}

/// Partition `part` of `table` by a hash of `key_column` modulo the count: the key may be of any
/// type (with a hash function, in PostgreSQL) and need not be unique (rows with equal keys share
/// a partition). SQLite: streambatch_hash(key), registered on the connection, so the predicate
/// runs on it only. PostgreSQL: the server's own hash functions, hashint8extended(key::bigint, 0)
/// for smallint, integer and bigint, hashtextextended(key::text, 0) for text, varchar, char and
/// name, hash_record_extended(ROW(key), 0) for any other type (never a text rendering, which
/// settings such as TimeZone change). Throws partition_error when rows have a NULL key; the
/// database's error for an unknown table or column (or a type without a hash function).
template <detail::partitionable Connection>
[[nodiscard]] partition_clause hash_partition(Connection const& conn, table_name const& table,
                                              std::string_view key_column, partition part)
{
    using P = detail::partition_ops_t<Connection>;
    partition_clause c =
        detail::start_clause(table, key_column, part, partition_scheme::hash, P::component);
    std::string const hash = P::hash(conn, table, key_column, c);
    c.predicate = part.count == 1 ? detail::whole_predicate(c)
                                  : detail::hash_predicate(hash, part, P::hash_may_be_negative);
    return c;
}

} // namespace streambatch::sql

#endif // STREAMBATCH_IO_SQL_PARTITION_HPP_INCLUDED
