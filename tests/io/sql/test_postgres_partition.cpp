// PostgreSQL partitions: key_range_partition, hash_partition, keyset_query. Every row in exactly
// one partition, for every count, on awkward tables; keyset reads with resume (LIMIT batches and
// the cursor source); NULL keys; key types; errors. Runs against the throw-away server of
// pg_server.sh (CTest fixture postgres_server).
#include <streambatch/io/postgres.hpp>
#include <streambatch/views/chunk.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "partition_test_support.hpp"
#include "sql_test_support.hpp"

namespace sb = streambatch;
namespace pg = streambatch::postgres;

namespace {

pg::connection connect()
{
    test::use_test_server();
    pg::connection c;
    c.exec("SET client_min_messages = warning");
    return c;
}

pg::partition_clause make(pg::connection const& conn, pg::table_name const& table,
                          std::string const& key, pg::partition_scheme scheme, sb::partition p)
{
    return scheme == pg::partition_scheme::key_range ? pg::key_range_partition(conn, table, key, p)
                                                     : pg::hash_partition(conn, table, key, p);
}

char const* name(pg::partition_scheme s)
{
    return s == pg::partition_scheme::key_range ? "key_range" : "hash";
}

std::vector<std::int64_t> rids_where(pg::connection& conn, std::string const& table,
                                     std::string const& predicate)
{
    std::vector<std::int64_t> out;
    pg::result const r = conn.exec("SELECT rid FROM " + table + " WHERE " + predicate);
    for (int i = 0; i < r.rows(); ++i)
        out.push_back(std::stoll(std::string(r.value(i, 0))));
    return out;
}

/// Reads a partition `batch` rows at a time with keyset_query, resuming after the last key read
/// each time (a new cursor per batch, as a restarted job would); checks keys increase.
template <class Key>
std::vector<std::int64_t> keyset_rids(pg::connection& conn, pg::partition_clause const& c,
                                      std::size_t batch)
{
    auto const q = pg::keyset_query(c, "rid, k");
    std::string const limit = " LIMIT " + std::to_string(batch);
    std::vector<std::int64_t> out;
    std::optional<Key> last;
    for (;;) {
        using rec = std::tuple<std::int64_t, Key>;
        auto rows = last ? pg::query_as<rec>(conn, q.after_key + limit, *last)
                         : pg::query_as<rec>(conn, q.from_start + limit);
        std::size_t n = 0;
        for (auto& [rid, k] : rows) {
            if (last)
                REQUIRE(*last < k);
            out.push_back(rid);
            last = k;
            ++n;
        }
        if (n < batch)
            return out;
    }
}

/// A table (k bigint PRIMARY KEY, rid bigint) with the keys; its (unique) name.
std::string make_integer_table(pg::connection& conn, std::string const& base,
                               std::vector<std::int64_t> const& keys,
                               std::string const& type = "bigint")
{
    std::string const table = test::unique_name(base);
    conn.exec("CREATE TABLE " + table + "(k " + type + " PRIMARY KEY, rid bigint NOT NULL UNIQUE)");
    if (!keys.empty()) {
        std::string values;
        for (std::size_t i = 0; i < keys.size(); ++i)
            values +=
                (i ? ", (" : "(") + std::to_string(keys[i]) + ", " + std::to_string(i + 1) + ")";
        conn.exec("INSERT INTO " + table + " VALUES " + values);
    }
    return table;
}

std::vector<std::int64_t> sizes_of(pg::connection& conn, std::string const& table,
                                   std::string const& key, pg::partition_scheme scheme,
                                   std::uint32_t count)
{
    std::vector<std::int64_t> sizes;
    for (std::uint32_t i = 0; i < count; ++i)
        sizes.push_back(
            conn.scalar<std::int64_t>("SELECT count(*) FROM " + table + " WHERE " +
                                      make(conn, table, key, scheme, {i, count}).predicate));
    return sizes;
}

} // namespace

TEST_CASE("postgres: key-range and hash partitions hold every row exactly once, for every count",
          "[postgres][partition]")
{
    pg::connection conn = connect();
    for (auto const& t : test::integer_key_tables()) {
        std::string const table = make_integer_table(conn, t.name, t.keys);
        auto const n = static_cast<std::int64_t>(t.keys.size());
        for (auto scheme : {pg::partition_scheme::key_range, pg::partition_scheme::hash}) {
            for (std::uint32_t count : test::partition_counts()) {
                INFO("table " << t.name << ", " << name(scheme) << ", count " << count);
                std::vector<std::int64_t> all, all_keyset, all_cursor;
                for (std::uint32_t i = 0; i < count; ++i) {
                    pg::partition_clause const c = make(conn, table, "k", scheme, {i, count});
                    CHECK(c.part == sb::partition{i, count});
                    auto const mine = rids_where(conn, table, c.predicate);
                    if (c.empty())
                        CHECK(mine.empty());
                    all.insert(all.end(), mine.begin(), mine.end());
                    auto const batched = keyset_rids<std::int64_t>(conn, c, 3);
                    all_keyset.insert(all_keyset.end(), batched.begin(), batched.end());
                    // The same partition through the cursor source, in batches.
                    for (auto&& b : pg::query_as<std::tuple<std::int64_t>>(
                                        conn, pg::keyset_query(c, "rid").from_start,
                                        pg::query_options{.fetch_size = 4}) |
                                        sb::views::chunk(4))
                        for (auto const& [rid] : b)
                            all_cursor.push_back(rid);
                }
                CHECK(test::exactly_once(all, n) == "");
                CHECK(test::exactly_once(all_keyset, n) == "");
                CHECK(test::exactly_once(all_cursor, n) == "");
            }
        }
    }
}

TEST_CASE("postgres: key ranges are cut evenly by value and read through the key's index",
          "[postgres][partition]")
{
    pg::connection conn = connect();
    std::vector<std::int64_t> keys;
    for (std::int64_t k = 0; k < 100; ++k)
        keys.push_back(k);
    std::string const table = make_integer_table(conn, "even", keys);

    CHECK(pg::key_bounds_of(conn, table, "k") == pg::key_bounds{0, 99});
    auto const p0 = pg::key_range_partition(conn, table, "k", {0, 4});
    auto const p1 = pg::key_range_partition(conn, table, "k", {1, 4});
    auto const p3 = pg::key_range_partition(conn, table, "k", {3, 4});
    CHECK(p0.predicate == R"(("k" < 25))");
    CHECK(p1.predicate == R"(("k" >= 25 AND "k" < 50))");
    CHECK(p3.predicate == R"(("k" >= 75))");
    CHECK(pg::key_range_partition(conn, table, "k", {0, 1}).predicate == R"(("k" IS NOT NULL))");
    CHECK(sizes_of(conn, table, "k", pg::partition_scheme::key_range, 8) ==
          std::vector<std::int64_t>{12, 13, 12, 13, 12, 13, 12, 13});

    auto const q = pg::keyset_query(p1, "rid");
    CHECK(q.after_key == "SELECT rid FROM \"" + table +
                             "\" WHERE \"k\" > $1 AND (\"k\" >= 25 AND \"k\" < 50) ORDER BY \"k\"");
    // An index range scan (on a table this small the planner would rather scan: forbid it).
    conn.exec("BEGIN");
    conn.exec("SET LOCAL enable_seqscan = off");
    std::string plan;
    pg::result const r = conn.exec("EXPLAIN " + q.from_start);
    for (int i = 0; i < r.rows(); ++i)
        plan += std::string(r.value(i, 0)) + "\n";
    conn.exec("COMMIT");
    CHECK_THAT(plan,
               Catch::Contains("Index") && Catch::Contains("Index Cond: ((k >= 25) AND (k < 50))"));

    // int4 and smallint keys: the same cuts; literals beyond their range compare fine.
    std::string const small =
        make_integer_table(conn, "small", {-32768, -1, 0, 1, 32767}, "smallint");
    std::string const four =
        make_integer_table(conn, "four", {-2147483648, 0, 2147483647}, "integer");
    for (auto const& [t, n] : {std::pair{small, 5}, std::pair{four, 3}})
        for (auto scheme : {pg::partition_scheme::key_range, pg::partition_scheme::hash})
            for (std::uint32_t count : test::partition_counts()) {
                INFO(t << " " << name(scheme) << " " << count);
                std::vector<std::int64_t> all;
                for (std::uint32_t i = 0; i < count; ++i) {
                    auto const mine =
                        rids_where(conn, t, make(conn, t, "k", scheme, {i, count}).predicate);
                    all.insert(all.end(), mine.begin(), mine.end());
                }
                CHECK(test::exactly_once(all, n) == "");
            }
    CHECK(pg::key_bounds_of(conn, four, "k") == pg::key_bounds{-2147483648, 2147483647});
}

TEST_CASE("postgres: hash partitions take text, uuid and duplicate keys, and equal keys share a "
          "partition",
          "[postgres][partition]")
{
    pg::connection conn = connect();

    SECTION("unique text keys, read whole and by keyset with resume")
    {
        auto const keys = test::text_keys();
        for (std::string const type : {"text", "varchar(40)"}) {
            std::string const table = test::unique_name("texts");
            conn.exec("CREATE TABLE " + table + "(rid bigint PRIMARY KEY, k " + type +
                      " NOT NULL UNIQUE)");
            conn.exec("BEGIN");
            for (std::size_t i = 0; i < keys.size(); ++i)
                conn.exec("INSERT INTO " + table + " VALUES ($1, $2)",
                          static_cast<std::int64_t>(i + 1), keys[i]);
            conn.exec("COMMIT");
            for (std::uint32_t count : test::partition_counts()) {
                INFO(type << ", count " << count);
                std::vector<std::int64_t> all, all_keyset;
                for (std::uint32_t i = 0; i < count; ++i) {
                    auto const c = pg::hash_partition(conn, table, "k", {i, count});
                    if (count > 1)
                        CHECK_THAT(c.predicate,
                                   Catch::StartsWith("(((hashtextextended(\"k\"::text, 0) % "));
                    auto const mine = rids_where(conn, table, c.predicate);
                    all.insert(all.end(), mine.begin(), mine.end());
                    auto const batched = keyset_rids<std::string>(conn, c, 4);
                    all_keyset.insert(all_keyset.end(), batched.begin(), batched.end());
                }
                CHECK(test::exactly_once(all, static_cast<std::int64_t>(keys.size())) == "");
                CHECK(test::exactly_once(all_keyset, static_cast<std::int64_t>(keys.size())) == "");
            }
        }
    }
    SECTION("duplicate keys: each row once, equal keys together, keyset on the row id")
    {
        std::string const table = test::unique_name("dups");
        conn.exec("CREATE TABLE " + table + "(rid bigint PRIMARY KEY, k text, u uuid, d date)");
        conn.exec("INSERT INTO " + table +
                  " SELECT g, 'cust-' || (g % 23), md5((g % 17)::text)::uuid, date '2024-01-01' + "
                  "(g % 11)"
                  " FROM generate_series(1, 300) g");
        for (std::string const key : {"k", "u", "d"}) {
            for (std::uint32_t count : test::partition_counts()) {
                INFO("key " << key << ", count " << count);
                std::vector<std::int64_t> all, all_keyset;
                std::map<std::string, std::uint32_t> partition_of;
                bool together = true;
                for (std::uint32_t i = 0; i < count; ++i) {
                    auto const c = pg::hash_partition(conn, table, key, {i, count});
                    if (count > 1 && key != "k")
                        CHECK_THAT(c.predicate, Catch::Contains("hash_record_extended(ROW(\"" +
                                                                key + "\"), 0)"));
                    pg::result const r = conn.exec("SELECT rid, " + key + "::text FROM " + table +
                                                   " WHERE " + c.predicate);
                    for (int j = 0; j < r.rows(); ++j) {
                        all.push_back(std::stoll(std::string(r.value(j, 0))));
                        together =
                            partition_of.emplace(std::string(r.value(j, 1)), i).first->second ==
                                i &&
                            together;
                    }
                    // A non-unique key cannot be a keyset: resume on the row id, filter by the
                    // hash.
                    std::optional<std::int64_t> last;
                    for (;;) {
                        std::string const sql = "SELECT rid FROM " + table + " WHERE " +
                                                (last ? "rid > $1 AND " : "") + c.predicate +
                                                " ORDER BY rid LIMIT 10";
                        auto rows = last ? pg::query_as<std::tuple<std::int64_t>>(conn, sql, *last)
                                         : pg::query_as<std::tuple<std::int64_t>>(conn, sql);
                        int got = 0;
                        for (auto const& [rid] : rows) {
                            last = rid;
                            all_keyset.push_back(rid);
                            ++got;
                        }
                        if (got < 10)
                            break;
                    }
                }
                CHECK(test::exactly_once(all, 300) == "");
                CHECK(test::exactly_once(all_keyset, 300) == "");
                CHECK(together);
            }
        }
    }
    SECTION("a type without a hash function is the server's error")
    {
        std::string const table = test::unique_name("points");
        conn.exec("CREATE TABLE " + table + "(rid bigint PRIMARY KEY, p point NOT NULL)");
        conn.exec("INSERT INTO " + table + " VALUES (1, '(1,2)')");
        CHECK_THROWS_MATCHES(
            pg::hash_partition(conn, table, "p", {0, 2}), pg::error,
            Catch::Matchers::Predicate<pg::error>([](pg::error const& e) {
                return e.server_message() ==
                       "could not identify an extended hash function for type point";
            }));
    }
    SECTION("balance: strided integer keys, which a plain modulo would put in one partition")
    {
        std::string const table = test::unique_name("strided");
        conn.exec("CREATE TABLE " + table + "(k bigint PRIMARY KEY, rid bigint)");
        conn.exec("INSERT INTO " + table + " SELECT 8 * g, g FROM generate_series(0, 9999) g");
        for (std::uint32_t count : {2u, 8u, 13u}) {
            INFO("count " << count);
            auto const sizes = sizes_of(conn, table, "k", pg::partition_scheme::hash, count);
            auto const [lo, hi] = std::minmax_element(sizes.begin(), sizes.end());
            double const even = 10000.0 / count;
            CHECK(*lo > 0.85 * even);
            CHECK(*hi < 1.15 * even);
        }
    }
}

TEST_CASE("postgres: rows with a NULL key are refused, with their count, by both schemes",
          "[postgres][partition]")
{
    pg::connection conn = connect();
    std::string const table = test::unique_name("nulls");
    conn.exec("CREATE TABLE " + table + "(rid bigint PRIMARY KEY, k bigint, t text)");
    conn.exec("INSERT INTO " + table +
              " VALUES (1, 1, 'a'), (2, NULL, NULL), (3, 3, 'c'), (4, NULL, 'd'), (5, 5, 'e')");
    auto const message =
        "streambatch::postgres: key_range_partition: \"" + table + "\" on " + conn.where() +
        ": 2 rows have a NULL \"k\": a keyset query (WHERE \"k\" > $1 ORDER BY \"k\") never reads "
        "them, so no partition would; give them a key, or partition by a column without NULLs";
    CHECK_THROWS_MATCHES(pg::key_range_partition(conn, table, "k", {0, 2}), sb::partition_error,
                         Catch::Matchers::Message(message));
    CHECK_THROWS_WITH(
        pg::hash_partition(conn, table, "k", {1, 2}),
        Catch::StartsWith("streambatch::postgres: hash_partition: \"" + table + "\" on") &&
            Catch::Contains("2 rows have a NULL \"k\""));
    CHECK_THROWS_WITH(pg::hash_partition(conn, table, "t", {0, 2}),
                      Catch::Contains("1 row has a NULL \"t\""));
    CHECK_THROWS_WITH(pg::key_bounds_of(conn, table, "k"),
                      Catch::Contains("key_bounds_of") && Catch::Contains("2 rows"));
    CHECK_THROWS_AS(pg::key_range_partition(conn, table, "k", {0, 1}),
                    sb::partition_error); // one worker too
    conn.exec("UPDATE " + table + " SET k = 4 WHERE k IS NULL");
    CHECK(pg::key_range_partition(conn, table, "k", {0, 2}).bounds == pg::key_bounds{1, 5});
    CHECK(pg::key_range_partition(conn, table, "rid", {0, 2}).bounds ==
          pg::key_bounds{1, 5}); // NOT NULL: no count
    CHECK(!conn.in_transaction());
}

TEST_CASE("postgres: partition errors name what is wrong, and names are quoted, never spliced",
          "[postgres][partition][errors]")
{
    pg::connection conn = connect();
    std::string const table = test::unique_name("errs");
    conn.exec("CREATE TABLE " + table +
              "(rid bigint PRIMARY KEY, name text, amount numeric, k bigint)");
    conn.exec("INSERT INTO " + table + " VALUES (1, 'ann', 1.5, 10), (2, 'bob', 2, 20)");
    std::string const victim = test::unique_name("victim");
    conn.exec("CREATE TABLE " + victim + "(x int); INSERT INTO " + victim + " VALUES (1)");

    SECTION("an unknown table or column is the server's error, with the statement")
    {
        CHECK_THROWS_MATCHES(pg::key_range_partition(conn, "nope", "k", {0, 2}), pg::error,
                             Catch::Matchers::Predicate<pg::error>([](pg::error const& e) {
                                 return e.sqlstate() == "42P01" &&
                                        e.sql() == R"(SELECT "k" FROM "nope" LIMIT 0)";
                             }));
        CHECK_THROWS_WITH(pg::hash_partition(conn, table, "nosuch", {0, 2}),
                          Catch::Contains("42703") &&
                              Catch::Contains("column \"nosuch\" does not exist") &&
                              Catch::Contains(R"(SELECT \"nosuch\" FROM)"));
        // Names are case-sensitive as given (quoted): "K" is not k.
        CHECK_THROWS_WITH(pg::key_range_partition(conn, table, "K", {0, 2}),
                          Catch::Contains("column \"K\" does not exist"));
    }
    SECTION("a key range needs an integer type")
    {
        CHECK_THROWS_MATCHES(
            pg::key_range_partition(conn, table, "name", {0, 2}), sb::partition_error,
            Catch::Matchers::Message(
                "streambatch::postgres: key_range_partition: \"" + table + "\" on " + conn.where() +
                ": the key \"name\" is text, not an integer type (smallint, integer, bigint); key "
                "ranges need one (hash_partition takes any type with a hash function)"));
        CHECK_THROWS_WITH(pg::key_range_partition(conn, table, "amount", {0, 2}),
                          Catch::Contains("is numeric, not"));
        auto const h = pg::hash_partition(conn, table, "amount", {0, 2}); // hash: any hashable type
        auto const h1 = pg::hash_partition(conn, table, "amount", {1, 2});
        CHECK(rids_where(conn, table, h.predicate).size() +
                  rids_where(conn, table, h1.predicate).size() ==
              2);
    }
    SECTION("a bad partition, before the server is asked")
    {
        CHECK_THROWS_AS(pg::key_range_partition(conn, "nope", "k", {2, 2}), std::invalid_argument);
        CHECK_THROWS_AS(pg::hash_partition(conn, "nope", "k", {0, 0}), std::invalid_argument);
        CHECK_THROWS_WITH(pg::hash_partition(conn, table, "", {0, 1}),
                          "streambatch::postgres: the key column name is empty");
        CHECK(!conn.in_transaction());
    }
    SECTION("names with quotes and capitals are identifiers, not SQL; schemas")
    {
        std::string const schema = test::unique_name("Sch\"ema");
        std::string const weird = "We\"ird " + table;
        auto const q = [](std::string const& s) {
            std::string out = "\"";
            for (char c : s)
                out += c == '"' ? std::string("\"\"") : std::string(1, c);
            return out + "\"";
        };
        conn.exec("CREATE SCHEMA " + q(schema));
        conn.exec("CREATE TABLE " + q(schema) + "." + q(weird) +
                  "(\"K\"\"ey\" bigint PRIMARY KEY, rid bigint)");
        conn.exec("INSERT INTO " + q(schema) + "." + q(weird) +
                  " VALUES (-7, 1), (0, 2), (7, 3), (70, 4)");
        for (auto scheme : {pg::partition_scheme::key_range, pg::partition_scheme::hash}) {
            std::vector<std::int64_t> all;
            for (std::uint32_t i = 0; i < 3; ++i) {
                auto const c = make(conn, {schema, weird}, "K\"ey", scheme, {i, 3});
                CHECK(c.table == q(schema) + "." + q(weird));
                auto const mine = rids_where(conn, c.table, c.predicate);
                all.insert(all.end(), mine.begin(), mine.end());
            }
            CHECK(test::exactly_once(all, 4) == "");
        }
        CHECK_THROWS_AS(pg::key_range_partition(conn, weird, "K\"ey", {0, 2}),
                        pg::error); // not on the search path
        std::string const evil = table + "\"; DROP TABLE " + victim + "; --";
        CHECK_THROWS_WITH(pg::key_range_partition(conn, evil, "k", {0, 2}),
                          Catch::Contains("42P01"));
        CHECK_THROWS_AS(pg::hash_partition(conn, table,
                                           "k\" FROM " + victim + "; DROP TABLE " + victim + "; --",
                                           {0, 2}),
                        pg::error);
        CHECK(conn.scalar<std::int64_t>("SELECT count(*) FROM " + victim) == 1);
    }
}
