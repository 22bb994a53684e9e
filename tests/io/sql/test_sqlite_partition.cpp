// SQLite partitions: key_range_partition, hash_partition, keyset_query. Every row in exactly one
// partition, for every count, on awkward tables; keyset reads with resume; NULL keys; errors.
#include <streambatch/io/sqlite.hpp>
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
namespace sq = streambatch::sqlite;

namespace {

constexpr std::int64_t int64_min = std::numeric_limits<std::int64_t>::min();
constexpr std::int64_t int64_max = std::numeric_limits<std::int64_t>::max();

sq::partition_clause make(sq::database const& db, std::string const& table, std::string const& key,
                          sq::partition_scheme scheme, sb::partition p)
{
    return scheme == sq::partition_scheme::key_range ? sq::key_range_partition(db, table, key, p)
                                                     : sq::hash_partition(db, table, key, p);
}

char const* name(sq::partition_scheme s)
{
    return s == sq::partition_scheme::key_range ? "key_range" : "hash";
}

/// The rid of every row of `table` the predicate selects.
std::vector<std::int64_t> rids_where(sq::database const& db, std::string const& table,
                                     std::string const& predicate)
{
    std::vector<std::int64_t> out;
    for (auto const& [rid] : sq::query_as<std::tuple<std::int64_t>>(db, "SELECT rid FROM " + table +
                                                                            " WHERE " + predicate))
        out.push_back(rid);
    return out;
}

/// Reads a partition `batch` rows at a time with keyset_query, resuming after the last key read
/// each time (a new statement per batch, as a restarted job would); checks keys increase.
template <class Key>
std::vector<std::int64_t> keyset_rids(sq::database const& db, sq::partition_clause const& c,
                                      std::size_t batch)
{
    auto const q = sq::keyset_query(c, "rid, k");
    std::string const limit = " LIMIT " + std::to_string(batch);
    std::vector<std::int64_t> out;
    std::optional<Key> last;
    for (;;) {
        using rec = std::tuple<std::int64_t, Key>;
        auto rows = last ? sq::query_as<rec>(db, q.after_key + limit, *last)
                         : sq::query_as<rec>(db, q.from_start + limit);
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

/// `name`(k INTEGER PRIMARY KEY, rid): the rowid is the key, as in most keyset jobs.
void make_integer_table(sq::database& db, std::string const& table,
                        std::vector<std::int64_t> const& keys)
{
    db.exec("CREATE TABLE " + table + "(k INTEGER PRIMARY KEY, rid INTEGER NOT NULL UNIQUE)");
    db.exec("BEGIN");
    for (std::size_t i = 0; i < keys.size(); ++i)
        db.exec("INSERT INTO " + table + " VALUES (?, ?)", keys[i],
                static_cast<std::int64_t>(i + 1));
    db.exec("COMMIT");
}

std::vector<std::int64_t> sizes_of(sq::database const& db, std::string const& table,
                                   std::string const& key, sq::partition_scheme scheme,
                                   std::uint32_t count)
{
    std::vector<std::int64_t> sizes;
    for (std::uint32_t i = 0; i < count; ++i)
        sizes.push_back(
            db.scalar<std::int64_t>("SELECT count(*) FROM " + table + " WHERE " +
                                    make(db, table, key, scheme, {i, count}).predicate));
    return sizes;
}

} // namespace

TEST_CASE("sqlite: key-range and hash partitions hold every row exactly once, for every count",
          "[sqlite][partition]")
{
    test::temp_dir dir;
    sq::database db((dir / "p.db").string());
    for (auto const& t : test::integer_key_tables()) {
        make_integer_table(db, t.name, t.keys);
        auto const n = static_cast<std::int64_t>(t.keys.size());
        for (auto scheme : {sq::partition_scheme::key_range, sq::partition_scheme::hash}) {
            for (std::uint32_t count : test::partition_counts()) {
                INFO("table " << t.name << ", " << name(scheme) << ", count " << count);
                std::vector<std::int64_t> all, all_keyset, all_streamed;
                for (std::uint32_t i = 0; i < count; ++i) {
                    sq::partition_clause const c = make(db, t.name, "k", scheme, {i, count});
                    CHECK(c.part == sb::partition{i, count});
                    CHECK(c.scheme == scheme);
                    auto const mine = rids_where(db, t.name, c.predicate);
                    if (c.empty())
                        CHECK(mine.empty());
                    all.insert(all.end(), mine.begin(), mine.end());
                    auto const batched = keyset_rids<std::int64_t>(db, c, 3);
                    all_keyset.insert(all_keyset.end(), batched.begin(), batched.end());
                    // The same partition streamed, in batches, by one statement.
                    for (auto&& b :
                         sq::query(db, sq::keyset_query(c, "rid").from_start) | sb::views::chunk(4))
                        for (sq::row const& r : b)
                            all_streamed.push_back(r.get<std::int64_t>(0));
                }
                CHECK(test::exactly_once(all, n) == "");
                CHECK(test::exactly_once(all_keyset, n) == "");
                CHECK(test::exactly_once(all_streamed, n) == "");
            }
        }
    }
}

TEST_CASE(
    "sqlite: key ranges are cut evenly by value, with no bound below partition 0 or above the last",
    "[sqlite][partition]")
{
    test::temp_dir dir;
    sq::database db((dir / "p.db").string());
    std::vector<std::int64_t> keys;
    for (std::int64_t k = 0; k < 100; ++k)
        keys.push_back(k);
    make_integer_table(db, "t", keys);

    CHECK(sq::key_bounds_of(db, "t", "k") == sq::key_bounds{0, 99});
    auto const p0 = sq::key_range_partition(db, "t", "k", {0, 4});
    auto const p1 = sq::key_range_partition(db, "t", "k", {1, 4});
    auto const p3 = sq::key_range_partition(db, "t", "k", {3, 4});
    CHECK(p0.predicate == R"(("k" < 25))");
    CHECK(p1.predicate == R"(("k" >= 25 AND "k" < 50))");
    CHECK(p3.predicate == R"(("k" >= 75))");
    CHECK((!p0.lo && p0.hi == 25 && p1.lo == 25 && p1.hi == 50 && p3.lo == 75 && !p3.hi));
    CHECK(p1.bounds == sq::key_bounds{0, 99});
    CHECK(p0.table == "\"t\"");
    CHECK(p0.key == "\"k\"");
    CHECK(sq::key_range_partition(db, "t", "k", {0, 1}).predicate == R"(("k" IS NOT NULL))");
    // Rows added below min and above max after the cut still have exactly one partition.
    db.exec("INSERT INTO t VALUES (-50, 1000), (5000, 1001)");
    CHECK(db.scalar<std::int64_t>("SELECT rid FROM t WHERE " + p0.predicate +
                                  " ORDER BY k LIMIT 1") == 1000);
    CHECK(db.scalar<std::int64_t>("SELECT rid FROM t WHERE " + p3.predicate +
                                  " ORDER BY k DESC LIMIT 1") == 1001);

    // 100 dense keys: 12 or 13 a partition for 8 (cut at 12, 25, 37, ...), 7 or 8 for 13.
    db.exec("DELETE FROM t WHERE k < 0 OR k > 99");
    CHECK(sizes_of(db, "t", "k", sq::partition_scheme::key_range, 8) ==
          std::vector<std::int64_t>{12, 13, 12, 13, 12, 13, 12, 13});
    for (auto s : sizes_of(db, "t", "k", sq::partition_scheme::key_range, 13))
        CHECK((s == 7 || s == 8));

    // A key range is an index range: SQLite searches the rowid, it does not scan the table.
    std::string plan;
    for (auto& r : sq::query(db, "EXPLAIN QUERY PLAN " + sq::keyset_query(p1, "rid").after_key, 30))
        plan += r.get<std::string>("detail") + "\n";
    CHECK_THAT(plan, Catch::Contains("SEARCH t USING INTEGER PRIMARY KEY (rowid>? AND rowid<?)"));
    plan.clear();
    for (auto& r : sq::query(db, "EXPLAIN QUERY PLAN SELECT rid FROM t WHERE " +
                                     sq::hash_partition(db, "t", "k", {1, 4}).predicate))
        plan += r.get<std::string>("detail") + "\n";
    CHECK_THAT(plan, Catch::Contains("SCAN t"));
}

TEST_CASE("sqlite: key_range_partition from given bounds needs no database and cuts the whole "
          "int64 range in 128-bit arithmetic",
          "[sqlite][partition]")
{
    // What every worker computes from the same bounds, whatever the table holds meanwhile.
    auto const whole = sq::key_bounds{int64_min, int64_max};
    CHECK(sq::key_range_partition("t", "id", {0, 2}, whole).predicate == R"(("id" < 0))");
    CHECK(sq::key_range_partition("t", "id", {1, 2}, whole).predicate == R"(("id" >= 0))");
    CHECK(sq::key_range_partition("t", "id", {0, 3}, whole).hi == -3074457345618258603);
    CHECK(sq::key_range_partition("t", "id", {1, 3}, whole).predicate ==
          R"(("id" >= -3074457345618258603 AND "id" < 3074457345618258602))");
    CHECK(sq::key_range_partition("t", "id", {2, 3}, whole).lo == 3074457345618258602);
    // More partitions than keys: the empty ones are empty ranges, INT64_MIN a literal.
    auto const one = sq::key_bounds{int64_min, int64_min};
    CHECK(sq::key_range_partition("t", "id", {0, 3}, one).predicate ==
          R"(("id" < -9223372036854775808))");
    CHECK(sq::key_range_partition("t", "id", {1, 3}, one).predicate ==
          R"(("id" >= -9223372036854775808 AND "id" < -9223372036854775808))");
    CHECK(sq::key_range_partition("t", "id", {1, 3}, one).empty());
    CHECK(!sq::key_range_partition("t", "id", {2, 3}, one).empty());
    CHECK(sq::key_range_partition("t", "id", {0, 3}, one).empty());
    // No key: as if the only key were 0; every partition is empty of the rows there are.
    CHECK(sq::key_range_partition("t", "id", {0, 2}, std::nullopt).predicate == R"(("id" < 0))");
    CHECK(sq::key_range_partition("t", "id", {1, 2}, std::nullopt).predicate == R"(("id" >= 0))");
    CHECK(sq::key_range_partition("t", "id", {1, 2}, std::nullopt).empty());
    // A schema, and names with quotes, quoted.
    auto const q =
        sq::key_range_partition({"aux", "my \"t\""}, "the \"id\"", {0, 1}, sq::key_bounds{1, 2});
    CHECK(q.table == R"("aux"."my ""t""")");
    CHECK(q.predicate == R"(("the ""id""" IS NOT NULL))");
    auto const ks = sq::keyset_query(q, "x");
    CHECK(
        ks.from_start ==
        R"(SELECT x FROM "aux"."my ""t""" WHERE ("the ""id""" IS NOT NULL) ORDER BY "the ""id""")");
    CHECK(
        ks.after_key ==
        R"(SELECT x FROM "aux"."my ""t""" WHERE "the ""id""" > ? AND ("the ""id""" IS NOT NULL) ORDER BY "the ""id""")");

    CHECK_THROWS_WITH(
        sq::key_range_partition("t", "id", {0, 2}, sq::key_bounds{5, 4}),
        "streambatch::sql: key_range_partition: the bounds' min 5 is above their max 4");
    CHECK_THROWS_WITH(sq::key_range_partition("t", "id", {2, 2}, whole),
                      "streambatch::partition: index 2 is not below count 2");
    CHECK_THROWS_WITH(sq::key_range_partition("t", "id", {0, 0}, whole),
                      "streambatch::partition: count must be at least 1");
    CHECK_THROWS_WITH(sq::key_range_partition("", "id", {0, 1}, whole),
                      "streambatch::sql: the table name is empty");
    CHECK_THROWS_WITH(sq::key_range_partition("t", "", {0, 1}, whole),
                      "streambatch::sql: the key column name is empty");
    CHECK_THROWS_WITH(sq::key_range_partition("t", std::string("i\0d", 3), {0, 1}, whole),
                      "streambatch::sql: the key column name contains a NUL byte");
}

TEST_CASE(
    "sqlite: hash partitions take text, mixed and duplicate keys, and equal keys share a partition",
    "[sqlite][partition]")
{
    test::temp_dir dir;
    sq::database db((dir / "p.db").string());

    SECTION("unique text keys, read whole and by keyset with resume")
    {
        auto const keys = test::text_keys();
        db.exec("CREATE TABLE t(rid INTEGER PRIMARY KEY, k TEXT NOT NULL UNIQUE)");
        db.exec("BEGIN");
        for (std::size_t i = 0; i < keys.size(); ++i)
            db.exec("INSERT INTO t VALUES (?, ?)", static_cast<std::int64_t>(i + 1), keys[i]);
        db.exec("COMMIT");
        for (std::uint32_t count : test::partition_counts()) {
            INFO("count " << count);
            std::vector<std::int64_t> all, all_keyset;
            for (std::uint32_t i = 0; i < count; ++i) {
                auto const c = sq::hash_partition(db, "t", "k", {i, count});
                auto const mine = rids_where(db, "t", c.predicate);
                all.insert(all.end(), mine.begin(), mine.end());
                auto const batched = keyset_rids<std::string>(db, c, 4);
                all_keyset.insert(all_keyset.end(), batched.begin(), batched.end());
            }
            CHECK(test::exactly_once(all, static_cast<std::int64_t>(keys.size())) == "");
            CHECK(test::exactly_once(all_keyset, static_cast<std::int64_t>(keys.size())) == "");
        }
    }
    SECTION(
        "duplicate keys of every storage class: each row once, equal keys together, keyset on rid")
    {
        db.exec("CREATE TABLE t(rid INTEGER PRIMARY KEY, k)");
        db.exec("INSERT INTO t(k) VALUES (1), (1.0), (1), (2.5), (2.5), ('a'), ('a'), (''), (x''), "
                "(x'00ff'), "
                "(x'00ff'), (-0.0), (0), (9.5e18), (-9.5e18), (-9223372036854775808), "
                "(9223372036854775807), "
                "('O''Neil'), ('O''Neil')");
        db.exec("BEGIN");
        for (int i = 0; i < 200; ++i)
            db.exec("INSERT INTO t(k) VALUES (?)", "cust-" + std::to_string(i % 23));
        db.exec("COMMIT");
        auto const n = db.scalar<std::int64_t>("SELECT count(*) FROM t");
        for (std::uint32_t count : test::partition_counts()) {
            INFO("count " << count);
            std::vector<std::int64_t> all, all_keyset;
            std::map<std::string, std::uint32_t> partition_of; // quote(k) -> partition
            bool together = true;
            for (std::uint32_t i = 0; i < count; ++i) {
                auto const c = sq::hash_partition(db, "t", "k", {i, count});
                for (auto const& [rid, key] : sq::query_as<std::tuple<std::int64_t, std::string>>(
                         db, "SELECT rid, CASE WHEN typeof(k) IN ('integer', 'real') AND k = "
                             "CAST(k AS INTEGER) "
                             "THEN CAST(k AS INTEGER) ELSE quote(k) END FROM t WHERE " +
                                 c.predicate)) {
                    all.push_back(rid);
                    together = partition_of.emplace(key, i).first->second == i && together;
                }
                // A non-unique key cannot be a keyset: resume on the row id, filter by the hash.
                std::optional<std::int64_t> last;
                for (;;) {
                    auto rows = last ? sq::query(db,
                                                 "SELECT rid FROM t WHERE rid > ? AND " +
                                                     c.predicate + " ORDER BY rid LIMIT 10",
                                                 *last)
                                     : sq::query(db, "SELECT rid FROM t WHERE " + c.predicate +
                                                         " ORDER BY rid LIMIT 10");
                    int got = 0;
                    for (auto& r : rows) {
                        last = r.get<std::int64_t>(0);
                        all_keyset.push_back(*last);
                        ++got;
                    }
                    if (got < 10)
                        break;
                }
            }
            CHECK(test::exactly_once(all, n) == "");
            CHECK(test::exactly_once(all_keyset, n) == "");
            CHECK(together);
        }
        // 1 and 1.0 are equal in SQLite, and hash alike; so are 0 and -0.0.
        CHECK(db.scalar<std::int64_t>(
                  "SELECT count(DISTINCT streambatch_hash(k)) FROM t WHERE k = 1") == 1);
        CHECK(db.scalar<std::int64_t>(
                  "SELECT count(DISTINCT streambatch_hash(k)) FROM t WHERE k = 0") == 1);
        CHECK(db.scalar<std::int64_t>("SELECT min(streambatch_hash(k)) FROM t") >= 0);
        CHECK(!db.scalar<std::optional<std::int64_t>>("SELECT streambatch_hash(NULL)"));
    }
    SECTION("balance: strided integer keys, which a plain modulo would put in one partition")
    {
        std::vector<std::int64_t> keys;
        for (std::int64_t i = 0; i < 10000; ++i)
            keys.push_back(8 * i);
        make_integer_table(db, "t", keys);
        for (std::uint32_t count : {2u, 8u, 13u}) {
            INFO("count " << count);
            auto const sizes = sizes_of(db, "t", "k", sq::partition_scheme::hash, count);
            auto const [lo, hi] = std::minmax_element(sizes.begin(), sizes.end());
            double const even = 10000.0 / count;
            CHECK(*lo > 0.85 * even);
            CHECK(*hi < 1.15 * even);
        }
    }
}

TEST_CASE("sqlite: rows with a NULL key are refused, with their count, by both schemes",
          "[sqlite][partition]")
{
    test::temp_dir dir;
    sq::database db((dir / "p.db").string());
    db.exec("CREATE TABLE t(rid INTEGER PRIMARY KEY, k INTEGER);"
            "INSERT INTO t(k) VALUES (1), (NULL), (3), (NULL), (5);");
    auto const message =
        "streambatch::sqlite: key_range_partition: \"t\" in database \"" + (dir / "p.db").string() +
        "\": 2 rows have a NULL \"k\": a keyset query (WHERE \"k\" > ? ORDER BY \"k\") never reads "
        "them, so no partition would; give them a key, or partition by a column without NULLs";
    CHECK_THROWS_MATCHES(sq::key_range_partition(db, "t", "k", {0, 2}), sb::partition_error,
                         Catch::Matchers::Message(message));
    CHECK_THROWS_WITH(sq::hash_partition(db, "t", "k", {1, 2}),
                      Catch::StartsWith("streambatch::sqlite: hash_partition: \"t\" in database") &&
                          Catch::Contains("2 rows have a NULL \"k\""));
    CHECK_THROWS_WITH(sq::key_bounds_of(db, "t", "k"),
                      Catch::Contains("key_bounds_of") && Catch::Contains("2 rows"));
    CHECK_THROWS_AS(sq::key_range_partition(db, "t", "k", {0, 1}),
                    sb::partition_error); // one worker too
    db.exec("DELETE FROM t WHERE k IS NULL AND rid = 2");
    CHECK_THROWS_WITH(sq::hash_partition(db, "t", "k", {0, 2}),
                      Catch::Contains("1 row has a NULL \"k\""));
    db.exec("UPDATE t SET k = 4 WHERE k IS NULL");
    CHECK(sq::key_range_partition(db, "t", "k", {0, 2}).bounds == sq::key_bounds{1, 5});

    // INTEGER PRIMARY KEY DESC is not the rowid (an old SQLite quirk) and can hold NULL: counted.
    db.exec("CREATE TABLE quirk(k INTEGER PRIMARY KEY DESC, v); INSERT INTO quirk VALUES (NULL, "
            "1), (2, 2);");
    CHECK_THROWS_WITH(sq::key_range_partition(db, "quirk", "k", {0, 2}),
                      Catch::Contains("1 row has a NULL \"k\""));
    // The rowid, by its alias or its own names, and NOT NULL columns cannot be NULL.
    db.exec("CREATE TABLE nn(rid INTEGER PRIMARY KEY, k TEXT NOT NULL); INSERT INTO nn VALUES (1, "
            "'x');");
    CHECK(sq::hash_partition(db, "nn", "k", {0, 2}).predicate ==
          R"((streambatch_hash("k") % 2 = 0))");
    CHECK(sq::key_range_partition(db, "nn", "ROWID", {0, 2}).bounds == sq::key_bounds{1, 1});
    CHECK(sq::key_range_partition(db, "nn", "_rowid_", {1, 2}).lo == 1);
    CHECK(sq::key_range_partition(db, "nn", "RID", {1, 2}).key == "\"RID\"");
}

TEST_CASE("sqlite: partition errors name what is wrong, and names are quoted, never spliced",
          "[sqlite][partition][errors]")
{
    test::temp_dir dir;
    auto const file = (dir / "p.db").string();
    sq::database db(file);
    db.exec("CREATE TABLE t(rid INTEGER PRIMARY KEY, name TEXT, score REAL, k INTEGER);"
            "INSERT INTO t VALUES (1, 'ann', 1.0, 10), (2, 'bob', 2.5, 20);"
            "CREATE TABLE victim(x); INSERT INTO victim VALUES (1);");

    SECTION("an unknown table or column is the database's error, with the statement")
    {
        try {
            (void)sq::key_range_partition(db, "nope", "k", {0, 2});
            FAIL("no error");
        } catch (sq::error const& e) {
            CHECK_THAT(std::string(e.what()),
                       Catch::Contains("no such table: nope") && Catch::Contains(file));
            CHECK_THAT(e.sql(), Catch::Contains("FROM \"nope\""));
        }
        CHECK_THROWS_WITH(sq::hash_partition(db, "nope", "k", {0, 2}),
                          Catch::Contains("no such table: nope") &&
                              Catch::Contains(R"(SELECT \"k\" FROM \"nope\")"));
        // Not the string 'nosuch', as SQLite's double-quoted-string fallback would have it ...
        sqlite3_db_config(db.handle(), SQLITE_DBCONFIG_DQS_DML, 1, static_cast<int*>(nullptr));
        CHECK(db.scalar<std::string>("SELECT \"nosuch\" FROM t LIMIT 1") == "nosuch");
        CHECK_THROWS_WITH(sq::key_range_partition(db, "t", "nosuch", {0, 2}),
                          Catch::Contains("no such column: nosuch"));
        CHECK_THROWS_WITH(sq::hash_partition(db, "t", "nosuch", {0, 2}),
                          Catch::Contains("no such column: nosuch"));
        // ... and the connection's own setting is left as it was.
        int dqs = -2;
        sqlite3_db_config(db.handle(), SQLITE_DBCONFIG_DQS_DML, -1, &dqs);
        CHECK(dqs == 1);
        CHECK(db.scalar<std::string>("SELECT \"nosuch\" FROM t LIMIT 1") == "nosuch");
    }
    SECTION("a key range needs integer keys")
    {
        CHECK_THROWS_MATCHES(
            sq::key_range_partition(db, "t", "name", {0, 2}), sb::partition_error,
            Catch::Matchers::Message(
                "streambatch::sqlite: key_range_partition: \"t\" in database \"" + file +
                "\": the key \"name\" holds the text \"ann\" (its smallest value), not "
                "only integers; key ranges need an integer key (hash_partition takes any)"));
        CHECK_THROWS_WITH(
            sq::key_range_partition(db, "t", "score", {0, 2}),
            Catch::Contains("the key \"score\" holds the real 1.0 (its smallest value)"));
        db.exec("INSERT INTO t VALUES (3, 'cy', 3, 'thirty')");
        CHECK_THROWS_WITH(sq::key_range_partition(db, "t", "k", {0, 2}),
                          Catch::Contains("holds the text \"thirty\" (its largest value)"));
        CHECK(sq::hash_partition(db, "t", "name", {0, 2}).scheme ==
              sq::partition_scheme::hash); // any type
    }
    SECTION("a bad partition, before the database is asked")
    {
        CHECK_THROWS_AS(sq::key_range_partition(db, "nope", "k", {2, 2}), std::invalid_argument);
        CHECK_THROWS_AS(sq::hash_partition(db, "nope", "k", {0, 0}), std::invalid_argument);
        CHECK_THROWS_WITH(sq::hash_partition(db, "t", "", {0, 1}),
                          "streambatch::sqlite: the key column name is empty");
    }
    SECTION("names with quotes are identifiers, not SQL")
    {
        db.exec("CREATE TABLE \"we\"\"ird\"(\"k\"\"ey\" INTEGER PRIMARY KEY, rid INTEGER);"
                "INSERT INTO \"we\"\"ird\" VALUES (-7, 1), (0, 2), (7, 3), (70, 4);");
        for (auto scheme : {sq::partition_scheme::key_range, sq::partition_scheme::hash}) {
            std::vector<std::int64_t> all;
            for (std::uint32_t i = 0; i < 3; ++i) {
                auto const c = make(db, "we\"ird", "k\"ey", scheme, {i, 3});
                CHECK(c.table == "\"we\"\"ird\"");
                auto const mine = rids_where(db, c.table, c.predicate);
                all.insert(all.end(), mine.begin(), mine.end());
            }
            CHECK(test::exactly_once(all, 4) == "");
        }
        std::string const evil = "t\" WHERE 0; DROP TABLE victim; --";
        CHECK_THROWS_WITH(sq::key_range_partition(db, evil, "k", {0, 2}),
                          Catch::Contains("no such table: t\" WHERE 0; DROP TABLE victim; --"));
        CHECK_THROWS_AS(
            sq::hash_partition(db, "t", "k\") FROM victim; DROP TABLE victim; --", {0, 2}),
            sq::error);
        CHECK(db.scalar<std::int64_t>("SELECT count(*) FROM victim") == 1);
    }
    SECTION("a table in an attached database")
    {
        db.exec("ATTACH DATABASE '" + (dir / "aux.db").string() +
                "' AS aux;"
                "CREATE TABLE aux.t(k INTEGER PRIMARY KEY, rid INTEGER);"
                "INSERT INTO aux.t VALUES (100, 1), (200, 2), (300, 3);");
        auto const c = sq::key_range_partition(db, {"aux", "t"}, "k", {1, 2});
        CHECK(c.table == R"("aux"."t")");
        CHECK(c.bounds == sq::key_bounds{100, 300});
        CHECK(rids_where(db, c.table, c.predicate) == std::vector<std::int64_t>{2, 3});
        auto const h = sq::hash_partition(db, {"aux", "t"}, "k", {0, 1});
        CHECK(rids_where(db, h.table, h.predicate).size() == 3);
    }
    SECTION("the hash predicate runs where the function is registered")
    {
        auto const c = sq::hash_partition(db, "t", "k", {0, 2});
        sq::database other(file);
        CHECK_THROWS_WITH(other.scalar<std::int64_t>("SELECT count(*) FROM t WHERE " + c.predicate),
                          Catch::Contains("no such function: streambatch_hash"));
        sq::register_hash_function(other);
        CHECK(other.scalar<std::int64_t>("SELECT count(*) FROM t WHERE " + c.predicate) ==
              db.scalar<std::int64_t>("SELECT count(*) FROM t WHERE " + c.predicate));
    }
}
