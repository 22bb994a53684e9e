// streambatch/io/sqlite/partition.hpp: one worker's share of a SQLite table: key_range_partition,
// hash_partition (with the streambatch_hash SQL function it registers), key_bounds_of and
// keyset_query. The types and the SQL text are shared with PostgreSQL (io/sql/partition.hpp).
// Part of <streambatch/io/sqlite.hpp>; include that. See docs/partitions.md.

#ifndef STREAMBATCH_IO_SQLITE_PARTITION_HPP_INCLUDED
#define STREAMBATCH_IO_SQLITE_PARTITION_HPP_INCLUDED

#include <streambatch/io/sql/partition.hpp>
#include <streambatch/io/sqlite/source.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include <sqlite3.h>

namespace streambatch::sqlite {

// --- partitions: one worker's share of a table, as a predicate for a keyset query ---------

// The types and the functions that take a connection are io/sql/partition.hpp's:
// key_bounds_of(db, table, key_column), key_range_partition(db, table, key_column, part),
// key_range_partition(table, key_column, part, bounds) (no database) and
// hash_partition(db, table, key_column, part).
using sql::hash_partition, sql::key_bounds_of, sql::key_range_partition;
using sql::key_bounds, sql::keyset_queries, sql::partition_clause, sql::partition_scheme,
    sql::table_name;

/// The keyset queries of one partition: `from_start` (no parameter), then `after_key` with the
/// last key read (a `?`). `columns` is SQL text ("id, name"), used as given.
[[nodiscard]] inline keyset_queries keyset_query(partition_clause const& part,
                                                 std::string_view columns)
{
    return sql::detail::keyset(part, columns, "?");
}

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
    case SQLITE_INTEGER:
        h = mix64(static_cast<std::uint64_t>(sqlite3_value_int64(v)));
        break;
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
        h = mix64(
            fnv1a(p, static_cast<std::size_t>(sqlite3_value_bytes(v)), 0xcbf29ce484222325ULL));
        break;
    }
    case SQLITE_BLOB: {
        void const* p = sqlite3_value_blob(v); // null for an empty blob
        h = mix64(
            fnv1a(p, static_cast<std::size_t>(sqlite3_value_bytes(v)), 0x84222325cbf29ce4ULL));
        break;
    }
    default:
        sqlite3_result_null(ctx);
        return;
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
        if (db_ && sqlite3_db_config(db_, SQLITE_DBCONFIG_DQS_DML, -1, &old_) == SQLITE_OK &&
            old_ > 0)
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
    return std::string("streambatch::sqlite: ") + fn + ": " + c.table + " in database " +
           quote(db.file());
}

/// Throws partition_error if some rows have a NULL key. Skips the count (a scan without an
/// index) when the key cannot be NULL: NOT NULL, the rowid or its alias (INTEGER PRIMARY KEY).
inline void refuse_null_keys(database const& db, table_name const& table,
                             std::string_view key_column, partition_clause const& c, char const* fn)
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
    bool const rowid_name = sqlite3_stricmp(name.c_str(), "rowid") == 0 ||
                            sqlite3_stricmp(name.c_str(), "oid") == 0 ||
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

} // namespace detail

/// Registers streambatch_hash(x) on the connection (hash_partition does): deterministic, a
/// non-negative 64-bit integer for an integer, real, text or blob; NULL for NULL. The hash is
/// fixed (splitmix64's finalizer of the integer; of FNV-1a of the bytes): it decides which rows
/// a partition holds, so a resumed job finds the same rows in the same partitions.
inline void register_hash_function(database const& db)
{
    if (!db.handle())
        throw std::logic_error(
            "streambatch::sqlite: register_hash_function on a moved-from database");
    int flags = SQLITE_UTF8 | SQLITE_DETERMINISTIC;
#ifdef SQLITE_INNOCUOUS
    flags |= SQLITE_INNOCUOUS;
#endif
    int const rc = sqlite3_create_function_v2(db.handle(), "streambatch_hash", 1, flags, nullptr,
                                              &detail::hash_function, nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK)
        detail::throw_error(db.handle(), rc, db.file(), {},
                            "registering the SQL function streambatch_hash");
}

namespace detail {

/// What the partition functions that take a connection (io/sql/partition.hpp) ask of SQLite.
struct partition_ops {
    static constexpr char const* component = "sqlite";
    static constexpr bool hash_may_be_negative = false; // streambatch_hash is non-negative

    static std::optional<key_bounds> bounds(database const& db, table_name const& table,
                                            std::string_view key_column, char const* fn)
    {
        partition_clause const c = sql::detail::start_clause(table, key_column, partition{},
                                                             partition_scheme::key_range, "sqlite");
        strict_quotes const strict(db.handle());
        // Two subqueries, so that each is one step down an index on the key.
        auto rows = query(db, "SELECT (SELECT min(" + c.key + ") FROM " + c.table +
                                  "), (SELECT max(" + c.key + ") FROM " + c.table + ")");
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
            case storage_class::text:
                return "the text " + quote(r.get<std::string_view>(i));
            case storage_class::blob:
                return "a blob of " + std::to_string(r.get<std::string_view>(i).size()) + " bytes";
            default:
                return "NULL";
            }
        };
        std::optional<key_bounds> found;
        if (!r.is_null(0)) {
            for (std::size_t i = 0; i < 2; ++i)
                if (r.type(i) != storage_class::integer)
                    throw partition_error(
                        partition_where(fn, c, db) + ": the key " + c.key + " holds " +
                        describe(i) + (i == 0 ? " (its smallest value)" : " (its largest value)") +
                        ", not only integers; key ranges need an integer key "
                        "(hash_partition takes any)");
            found = key_bounds{r.get<std::int64_t>(0), r.get<std::int64_t>(1)};
        }
        refuse_null_keys(db, table, key_column, c, fn);
        return found;
    }

    /// Checks the names and refuses NULL keys, then registers streambatch_hash on `db`.
    static std::string hash(database const& db, table_name const& table,
                            std::string_view key_column, partition_clause const& c)
    {
        {
            strict_quotes const strict(db.handle());
            statement const check(db, "SELECT " + c.key + " FROM " + c.table +
                                          " LIMIT 0"); // unknown names
            refuse_null_keys(db, table, key_column, c, "hash_partition");
        }
        register_hash_function(db);
        return "streambatch_hash(" + c.key + ")";
    }
};

} // namespace detail

/// What io/sql/partition.hpp's key_bounds_of, key_range_partition and hash_partition find (by
/// argument-dependent lookup) for a database; declared only.
detail::partition_ops partition_ops_of(database const&);

} // namespace streambatch::sqlite

#endif // STREAMBATCH_IO_SQLITE_PARTITION_HPP_INCLUDED
