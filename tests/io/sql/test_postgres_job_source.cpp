// PostgreSQL keyset source (io/sql/job_source.hpp, io/postgres/job_source.hpp): every row in key
// order with INT64_MIN, INT64_MAX and gaps; resume after every batch; partitions; positions under
// chunk and memory_guarded (page boundaries inside batches); identities refused with both named;
// seek; errors (NULL and repeated keys, unknown columns); no transaction between pages, so a
// copy_sink can write on the same connection. Runs against the throw-away server of pg_server.sh
// (CTest fixture postgres_server).
#include <streambatch/io/postgres.hpp>
#include <streambatch/views/chunk.hpp>
#include <streambatch/views/memory_guarded.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "job_source_test_support.hpp"
#include "partition_test_support.hpp"
#include "sql_test_support.hpp"

namespace sb = streambatch;
namespace pg = streambatch::postgres;

namespace {

static_assert(sb::job_source<pg::keyset_source<>>);
static_assert(sb::job_source<pg::keyset_source<sb::sql::detail::tuple_parse<test::record>>>);
using rows_t = decltype(std::declval<pg::keyset_source<>&>().rows());
static_assert(std::ranges::view<rows_t> && std::ranges::input_range<rows_t>);
static_assert(std::same_as<std::ranges::range_reference_t<rows_t>, pg::row&>);

constexpr std::int64_t int64_min = std::numeric_limits<std::int64_t>::min();
constexpr std::int64_t int64_max = std::numeric_limits<std::int64_t>::max();

pg::connection connect()
{
    test::use_test_server();
    pg::connection c;
    c.exec("SET client_min_messages = warning");
    return c;
}

/// A table (id bigint PRIMARY KEY, name, v) holding test::expected_records(keys); its name.
std::string make_table(pg::connection& conn,
                       std::vector<std::int64_t> const& keys = test::job_keys())
{
    std::string const table = test::unique_name("keyset");
    conn.exec("CREATE TABLE " + table + "(id bigint PRIMARY KEY, name text NOT NULL, v bigint)");
    pg::copy_sink out(conn, table, {"id", "name", "v"});
    out.write(test::expected_records(keys));
    return table;
}

pg::keyset_spec spec_of(std::string const& table)
{
    return {.table = table, .columns = {"id", "name", "v"}, .key = "id"};
}

} // namespace

TEST_CASE("postgres: a keyset source reads every row in key order, INT64_MIN and INT64_MAX "
          "included",
          "[postgres][job_source]")
{
    pg::connection conn = connect();
    std::string const table = make_table(conn);
    std::vector<test::record> const expected = test::expected_records(test::job_keys());
    for (std::size_t page : {1, 2, 3, 4, 18, 19, 20, 1000}) {
        INFO("page size " << page);
        auto source = pg::read_keyset_as<test::record>(conn, spec_of(table), {.page_size = page});
        CHECK(source.sql() ==
              "SELECT \"id\", \"name\", \"v\" FROM \"" + table + "\" ORDER BY \"id\"");
        std::vector<test::record> const got = test::read_all(source);
        CHECK(got == expected);
        CHECK(test::checksum(got) == test::checksum(expected));
        CHECK(source.pages() == expected.size() / page + 1);
        CHECK(source.position() == std::to_string(int64_max));
    }
    SECTION("rows as postgres::row; a where predicate with parameters; a table in a schema")
    {
        auto raw = pg::read_keyset(conn, spec_of(table), {.page_size = 4});
        std::vector<std::int64_t> keys;
        for (pg::row& r : raw.rows())
            keys.push_back(r.get<std::int64_t>("id"));
        CHECK(keys == test::job_keys());
        auto source = pg::read_keyset_as<test::record>(conn,
                                                       {.table = {"public", table},
                                                        .columns = {"id", "name", "v"},
                                                        .key = "id",
                                                        .where = "v = $1 AND name <> $2"},
                                                       {.page_size = 2}, 1, "nobody");
        std::vector<test::record> want;
        for (auto const& r : expected)
            if (std::get<2>(r) == 1)
                want.push_back(r);
        CHECK(test::read_all(source) == want);
        CHECK(source.describe() == "query on \"public\".\"" + table + "\" on " + conn.where());
    }
}

TEST_CASE("postgres: a keyset source resumed after batch k reads exactly the rows after, for "
          "every k",
          "[postgres][job_source]")
{
    pg::connection conn = connect();
    std::string const table = make_table(conn);
    for (auto [page, batch] : std::vector<std::pair<std::size_t, std::size_t>>{
             {4, 3}, {3, 3}, {2, 5}, {7, 1}, {100, 4}}) {
        INFO("page " << page << ", batch " << batch);
        test::check_resume_at_every_batch(
            [&] {
                return pg::read_keyset_as<test::record>(conn, spec_of(table), {.page_size = page});
            },
            batch);
    }
    SECTION("resuming at INT64_MIN reads every row but the first")
    {
        auto source = pg::read_keyset_as<test::record>(conn, spec_of(table));
        source.seek(std::to_string(int64_min));
        auto const rest = test::read_all(source);
        REQUIRE(rest.size() == test::job_keys().size() - 1);
        CHECK(std::get<0>(rest.front()) == int64_min + 1);
    }
}

TEST_CASE("postgres: after each batch the position is that batch's last key, under chunk and "
          "memory_guarded, with page boundaries inside batches",
          "[postgres][job_source]")
{
    pg::connection conn = connect();
    std::string const table = make_table(conn);
    std::vector<test::record> const expected = test::expected_records(test::job_keys());
    auto open = [&](std::size_t page) {
        return pg::read_keyset_as<test::record>(conn, spec_of(table), {.page_size = page});
    };
    for (std::size_t page : {1, 4, 19}) {
        INFO("page size " << page);
        for (std::size_t n : {1, 3, 5, 50}) {
            INFO("chunk(" << n << ")");
            auto source = open(page);
            CHECK(test::check_positions(source, source.rows() | sb::views::chunk(n)) == expected);
        }
        {
            auto source = open(page);
            CHECK(test::check_positions(source, source.rows() |
                                                    sb::views::memory_guarded(
                                                        3, test::cycling_sizes{{1, 2, 5, 3, 7}})) ==
                  expected);
        }
        {
            auto source = open(page);
            CHECK(test::check_positions(source, source.rows() | sb::views::memory_guarded(4)) ==
                  expected);
        }
    }
}

TEST_CASE("postgres: keyset partitions: together they are the table, each resumable",
          "[postgres][job_source][partition]")
{
    pg::connection conn = connect();
    std::string const table = make_table(conn);
    std::vector<std::int64_t> const keys = test::job_keys();
    for (auto scheme : {pg::partition_scheme::key_range, pg::partition_scheme::hash}) {
        for (std::uint32_t count : {1u, 2u, 3u, 4u, 7u}) {
            INFO((scheme == pg::partition_scheme::key_range ? "key range" : "hash")
                 << ", " << count << " partitions");
            std::vector<std::int64_t> seen;
            for (std::uint32_t i = 0; i < count; ++i) {
                pg::keyset_spec spec = spec_of(table);
                spec.partition = scheme == pg::partition_scheme::key_range
                                     ? pg::key_range_partition(conn, table, "id", {i, count})
                                     : pg::hash_partition(conn, table, "id", {i, count});
                auto make = [&] {
                    return pg::read_keyset_as<test::record>(conn, spec, {.page_size = 2});
                };
                auto source = make();
                CHECK(source.describe() == "query on \"" + table + "\", partition " +
                                               sb::partition{i, count}.str() + ", on " +
                                               conn.where());
                for (auto const& r : test::read_all(source))
                    seen.push_back(std::get<0>(r));
                test::check_resume_at_every_batch(make, 3);
            }
            std::sort(seen.begin(), seen.end());
            CHECK(seen == keys);
        }
    }
}

TEST_CASE("postgres: a keyset source refuses a checkpoint taken on another query, parameter, "
          "partition or column list, naming both",
          "[postgres][job_source]")
{
    pg::connection conn = connect();
    std::string const table = make_table(conn);
    test::check_identity_refusals(
        [&](std::string const& where, std::int64_t param, std::uint32_t part,
            std::vector<std::string> const& columns, std::size_t page) {
            return pg::read_keyset(
                conn,
                {.table = table,
                 .columns = columns,
                 .key = "id",
                 .partition = pg::key_range_partition(conn, table, "id", {part, 4}),
                 .where = where},
                {.page_size = page}, param);
        },
        "v >= $1", "v > $1");
}

TEST_CASE("postgres: keyset source seek and errors", "[postgres][job_source]")
{
    pg::connection conn = connect();
    std::string const table = make_table(conn);
    SECTION("seek: a position that is not a key; seek after rows()")
    {
        auto source = pg::read_keyset_as<test::record>(conn, spec_of(table));
        CHECK_THROWS_MATCHES(
            source.seek("12x"), std::invalid_argument,
            Catch::Message("streambatch::postgres: query on \"" + table + "\" on " + conn.where() +
                           ": cannot resume at position \"12x\": a keyset source's position is "
                           "the key of the last row read, a 64-bit integer"));
        auto rows = source.rows();
        auto it = rows.begin();
        REQUIRE(it != rows.end());
        CHECK(std::get<0>(*it) == int64_min);
        CHECK_THROWS_AS(source.seek("5"), std::logic_error);
    }
    SECTION("an unknown column: the server's error at the first read, naming the statement")
    {
        auto source =
            pg::read_keyset(conn, {.table = table, .columns = {"id", "nmae"}, .key = "id"});
        try {
            test::read_all(source);
            FAIL("read an unknown column");
        } catch (pg::error const& e) {
            CHECK(e.sqlstate() == "42703");
            CHECK_THAT(e.what(), Catch::Contains("nmae"));
        }
        CHECK_FALSE(conn.in_transaction());
    }
    SECTION("a parameter the where predicate does not have: the server's error at the first read")
    {
        auto source = pg::read_keyset(conn, spec_of(table), 5);
        try {
            test::read_all(source);
            FAIL("read with a parameter too many");
        } catch (pg::error const& e) {
            CHECK(e.sqlstate() == "08P01");
            CHECK_THAT(e.what(), Catch::Contains("bind message supplies 1 parameters"));
        }
        CHECK_FALSE(conn.in_transaction());
        CHECK(conn.scalar<int>("SELECT 1") == 1); // the connection is usable
    }
    SECTION("rows with a NULL key: refused at the first read, with their count")
    {
        std::string const n = test::unique_name("nullkeys");
        conn.exec("CREATE TABLE " + n + "(k bigint, x text)");
        conn.exec("INSERT INTO " + n + " VALUES (1, 'a'), (NULL, 'b'), (3, 'c'), (NULL, 'd')");
        auto source = pg::read_keyset(conn, {.table = n, .columns = {"k", "x"}, .key = "k"},
                                      {.page_size = 1000}); // one page: NULLs sort last in it
        CHECK_THROWS_MATCHES(
            test::read_all(source), sb::partition_error,
            Catch::Message("streambatch::postgres: query on \"" + n + "\" on " + conn.where() +
                           ": 2 rows have a NULL \"k\": a keyset read (\"k\" > the last key, "
                           "ORDER BY \"k\") never reaches them; give them a key, or add \"k\" IS "
                           "NOT NULL to the where predicate to leave them out"));
        auto without = pg::read_keyset_as<std::tuple<std::int64_t, std::string>>(
            conn, {.table = n, .columns = {"k", "x"}, .key = "k", .where = "k IS NOT NULL"});
        CHECK(test::read_all(without) ==
              std::vector<std::tuple<std::int64_t, std::string>>{{1, "a"}, {3, "c"}});
    }
    SECTION("a repeated key inside a page: row_error naming the row")
    {
        std::string const d = test::unique_name("dupkeys");
        conn.exec("CREATE TABLE " + d + "(k bigint, x text)");
        conn.exec("INSERT INTO " + d + " VALUES (1, 'a'), (2, 'b'), (2, 'c'), (3, 'd')");
        auto dup = pg::read_keyset(conn, {.table = d, .columns = {"k", "x"}, .key = "k"},
                                   {.page_size = 10});
        try {
            test::read_all(dup);
            FAIL("a repeated key was read");
        } catch (pg::row_error const& e) {
            CHECK(e.row() == 3);
            CHECK_THAT(e.what(), Catch::Contains("row 3, column 0 (\"k\"): the key 2 is not above "
                                                 "the previous key 2: the key must be unique"));
        }
        CHECK(dup.position() == "2");
    }
}

TEST_CASE("postgres: a keyset source holds no transaction between pages: a copy_sink writes on the "
          "same connection",
          "[postgres][job_source]")
{
    pg::connection conn = connect();
    std::string const table = make_table(conn);
    std::string const out = test::unique_name("keyset_out");
    conn.exec("CREATE TABLE " + out + "(id bigint PRIMARY KEY)");
    auto source = pg::read_keyset_as<test::record>(conn, spec_of(table), {.page_size = 4});
    pg::copy_sink sink(conn, out, {"id"});
    std::size_t n = 0;
    for (auto&& batch : source.rows() | sb::views::chunk(3)) {
        CHECK_FALSE(conn.in_transaction());
        std::vector<std::tuple<std::int64_t>> ids;
        for (auto const& r : batch)
            ids.emplace_back(std::get<0>(r));
        sink.write(ids);
        n += batch.size();
    }
    CHECK(n == test::job_keys().size());
    CHECK(conn.scalar<std::int64_t>("SELECT count(*) FROM " + out) ==
          static_cast<std::int64_t>(test::job_keys().size()));
}
