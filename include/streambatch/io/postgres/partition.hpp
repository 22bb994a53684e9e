// streambatch/io/postgres/partition.hpp: one worker's share of a PostgreSQL table:
// key_range_partition, hash_partition (the server's own hash functions), key_bounds_of and
// keyset_query. The types and the SQL text are shared with SQLite (io/sql/partition.hpp).
// Part of <streambatch/io/postgres.hpp>; include that. See docs/partitions.md.

#ifndef STREAMBATCH_IO_POSTGRES_PARTITION_HPP_INCLUDED
#define STREAMBATCH_IO_POSTGRES_PARTITION_HPP_INCLUDED

#include <streambatch/io/postgres/connection.hpp>
#include <streambatch/io/sql/partition.hpp>

#include <charconv>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>

#include <libpq-fe.h>

namespace streambatch::postgres {

// --- partitions: one worker's share of a table, as a predicate for a keyset query ---------

// The types and the functions that take a connection are io/sql/partition.hpp's:
// key_bounds_of(conn, table, key_column), key_range_partition(conn, table, key_column, part),
// key_range_partition(table, key_column, part, bounds) (no database) and
// hash_partition(conn, table, key_column, part).
using sql::hash_partition, sql::key_bounds_of, sql::key_range_partition;
using sql::key_bounds, sql::keyset_queries, sql::partition_clause, sql::partition_scheme,
    sql::table_name;

/// The keyset queries of one partition: `from_start` (no parameter), then `after_key` with the
/// last key read ($1). `columns` is SQL text ("id, name"), used as given.
[[nodiscard]] inline keyset_queries keyset_query(partition_clause const& part,
                                                 std::string_view columns)
{
    return sql::detail::keyset(part, columns, "$1");
}

namespace detail {

/// "streambatch::postgres: key_range_partition: "orders" on 127.0.0.1:5432/shop"
inline std::string partition_where(char const* fn, partition_clause const& c,
                                   connection const& conn)
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
inline key_info check_key(connection const& conn, partition_clause const& c,
                          std::string_view key_name, char const* fn)
{
    result const probe = conn.exec("SELECT " + c.key + " FROM " + c.table + " LIMIT 0");
    key_info k;
    k.type = PQftype(probe.handle(), 0);
    result const info = conn.exec("SELECT format_type($1::oid, NULL), coalesce((SELECT attnotnull "
                                  "FROM pg_catalog.pg_attribute"
                                  " WHERE attrelid = $2::regclass AND attname = $3 AND attnum > 0 "
                                  "AND NOT attisdropped), false)",
                                  std::to_string(k.type), c.table, key_name);
    k.type_name = std::string(info.value(0, 0));
    if (info.value(0, 1) != "t") {
        auto const nulls = conn.scalar<std::int64_t>("SELECT count(*) FROM " + c.table + " WHERE " +
                                                     c.key + " IS NULL");
        if (nulls > 0)
            throw partition_error(partition_where(fn, c, conn) + ": " + std::to_string(nulls) +
                                  (nulls == 1 ? " row has" : " rows have") + " a NULL " + c.key +
                                  ": a keyset query (WHERE " + c.key + " > $1 ORDER BY " + c.key +
                                  ") never reads them, so no partition would; give them a key, or "
                                  "partition by a column without NULLs");
    }
    return k;
}

inline bool integer_type(Oid t) noexcept
{
    return t == 20 || t == 21 || t == 23;
} // int8, int2, int4

/// What the partition functions that take a connection (io/sql/partition.hpp) ask of PostgreSQL.
struct partition_ops {
    static constexpr char const* component = "postgres";
    static constexpr bool hash_may_be_negative = true; // the server's hash functions are signed

    static std::optional<key_bounds> bounds(connection const& conn, table_name const& table,
                                            std::string_view key_name, char const* fn)
    {
        partition_clause const c = sql::detail::start_clause(
            table, key_name, partition{}, partition_scheme::key_range, "postgres");
        key_info const k = check_key(conn, c, key_name, fn);
        if (!integer_type(k.type))
            throw partition_error(
                partition_where(fn, c, conn) + ": the key " + c.key + " is " + k.type_name +
                ", not an integer type (smallint, integer, bigint); key ranges need one "
                "(hash_partition takes any type with a hash function)");
        // Two subqueries, so that each is one step down an index on the key.
        result const r =
            conn.exec("SELECT (SELECT min(" + c.key + ") FROM " + c.table +
                      ")::bigint, (SELECT max(" + c.key + ") FROM " + c.table + ")::bigint");
        if (r.is_null(0, 0))
            return std::nullopt;
        auto const number = [&](int col) {
            std::string_view const v = r.value(0, col);
            std::int64_t x = 0;
            auto const [p, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
            if (ec != std::errc{} || p != v.data() + v.size())
                throw std::runtime_error(partition_where(fn, c, conn) + ": the server sent " +
                                         quote(v) + " for a bigint");
            return x;
        };
        return key_bounds{number(0), number(1)};
    }

    /// Checks the key (its type, NULLs) and picks the server's hash function for its type.
    static std::string hash(connection const& conn, table_name const&, std::string_view key_column,
                            partition_clause const& c)
    {
        key_info const k = check_key(conn, c, key_column, "hash_partition");
        if (integer_type(k.type))
            return "hashint8extended(" + c.key + "::bigint, 0)";
        if (k.type == 25 || k.type == 1043 || k.type == 1042 ||
            k.type == 19) // text, varchar, bpchar, name
            return "hashtextextended(" + c.key + "::text, 0)";
        std::string expr = "hash_record_extended(ROW(" + c.key + "), 0)";
        // The type's hash function is looked up for a value, not for NULL: try one.
        conn.exec("SELECT " + expr + " FROM " + c.table + " WHERE " + c.key +
                  " IS NOT NULL LIMIT 1");
        return expr;
    }
};

} // namespace detail

/// What io/sql/partition.hpp's key_bounds_of, key_range_partition and hash_partition find (by
/// argument-dependent lookup) for a connection; declared only.
detail::partition_ops partition_ops_of(connection const&);

} // namespace streambatch::postgres

#endif // STREAMBATCH_IO_POSTGRES_PARTITION_HPP_INCLUDED
