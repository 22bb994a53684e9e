// The PostgreSQL source: a server-side cursor, rows and conversions, the bad-row policy, errors.
// Runs against the throw-away server of pg_server.sh (CTest fixture postgres_server).
#include <streambatch/io/detail/reject.hpp>
#include <streambatch/io/postgres.hpp>
#include <streambatch/views/chunk.hpp>
#include <streambatch/views/memory_guarded.hpp>

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <optional>
#include <ranges>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "sql_test_support.hpp"

namespace sb = streambatch;
namespace pg = streambatch::postgres;

namespace {

using raw_view = pg::query_view<>;
static_assert(std::ranges::view<raw_view> && std::ranges::input_range<raw_view>);
static_assert(!std::ranges::forward_range<raw_view>);
static_assert(std::movable<raw_view> && !std::copyable<raw_view>);
static_assert(std::same_as<std::ranges::range_reference_t<raw_view>, pg::row&>);
static_assert(std::same_as<std::ranges::sentinel_t<raw_view>, std::default_sentinel_t>);
static_assert(std::copyable<pg::row> && std::is_nothrow_move_constructible_v<pg::row>);
using lambda_view = decltype(pg::query_as(std::declval<pg::connection&>(), "",
                                          [](pg::row const& r) { return r.get<int>(0); }));
static_assert(std::ranges::view<lambda_view>);
using chunked = decltype(std::declval<raw_view>() | sb::views::memory_guarded(10));
static_assert(std::same_as<std::ranges::range_value_t<chunked>, sb::batch<pg::row>>);

struct fixed_size {
    std::size_t n;
    std::size_t next_batch_size(std::size_t) const { return n; }
};

pg::connection connect()
{
    test::use_test_server();
    return pg::connection();
}

/// A table `name`(id, name, age text) with ids 1..n; age is 'abc' for the ids in `bad`.
std::string make_people(pg::connection& conn, int n, std::vector<int> const& bad = {})
{
    std::string const table = test::unique_name("people");
    std::string bad_list = "0";
    for (int b : bad)
        bad_list += "," + std::to_string(b);
    conn.exec("CREATE TABLE " + table + "(id bigint PRIMARY KEY, name text, age text)");
    conn.exec("INSERT INTO " + table +
                  " SELECT g, chr(96 + (g - 1) % 26 + 1), CASE WHEN g = ANY($1::int[]) THEN 'abc' "
                  "ELSE (20 + g)::text END"
                  " FROM generate_series(1, $2) g",
              "{" + bad_list + "}", n);
    return table;
}

} // namespace

TEST_CASE("postgres: query streams through a NO SCROLL cursor, fetch_size rows per FETCH",
          "[postgres][source]")
{
    pg::connection conn = connect();
    std::string const table = make_people(conn, 100);

    auto rows = pg::query(conn, "SELECT id, name FROM " + table + " WHERE id > $1 ORDER BY id",
                          {.fetch_size = 7}, 10);
    auto const stats = rows.stats();
    std::vector<std::int64_t> ids;
    bool inspected = false;
    for (auto&& batch : std::move(rows) | sb::views::memory_guarded(25, fixed_size{25})) {
        if (!inspected) { // the cursor is open, server-side, in this connection's transaction
            inspected = true;
            CHECK(conn.in_transaction());
            pg::result cursors =
                conn.exec("SELECT name, statement, is_scrollable, is_holdable FROM pg_cursors");
            REQUIRE(cursors.rows() == 1);
            CHECK(cursors.value(0, 0) == "streambatch_cursor_1");
            CHECK_THAT(
                std::string(cursors.value(0, 1)),
                Catch::StartsWith(
                    "DECLARE streambatch_cursor_1 NO SCROLL CURSOR FOR SELECT id, name FROM"));
            CHECK(cursors.value(0, 2) == "f");
            CHECK(cursors.value(0, 3) == "f");
        }
        for (pg::row const& r : batch)
            ids.push_back(r.get<std::int64_t>("id"));
    }
    REQUIRE(ids.size() == 90);
    CHECK(ids.front() == 11);
    CHECK(ids.back() == 100);
    CHECK(stats->rows_read == 90);
    CHECK(stats->fetches == 13);   // 12 full FETCHes of 7, then 6 rows: the end
    CHECK(!conn.in_transaction()); // CLOSE + COMMIT at the end
    CHECK(conn.scalar<std::int64_t>("SELECT count(*) FROM pg_cursors") == 0);

    SECTION("the README's form: memory_guarded with the real guard")
    {
        std::size_t n = 0;
        for (auto&& batch : pg::query(conn, "SELECT * FROM " + table + " WHERE id > $1", 10) |
                                sb::views::memory_guarded(1000))
            n += batch.size();
        CHECK(n == 90);
    }
    SECTION("a fetch size that divides the rows: one more, empty FETCH")
    {
        auto r = pg::query(conn, "SELECT id FROM " + table, {.fetch_size = 50});
        auto const s = r.stats();
        std::size_t n = 0;
        for (auto&& batch : std::move(r) | sb::views::chunk(50))
            n += batch.size();
        CHECK(n == 100);
        CHECK(s->fetches == 3);
    }
    SECTION("no rows, no batches")
    {
        std::size_t batches = 0;
        for (auto&& batch :
             pg::query(conn, "SELECT * FROM " + table + " WHERE false") | sb::views::chunk(10))
            batches += batch.size() ? 1 : 0;
        CHECK(batches == 0);
        CHECK(!conn.in_transaction());
    }
}

TEST_CASE("postgres: an abandoned cursor is rolled back and the connection stays usable",
          "[postgres][source]")
{
    pg::connection conn = connect();
    std::string const table = make_people(conn, 50);
    {
        auto rows = pg::query(conn, "SELECT * FROM " + table, {.fetch_size = 10});
        for (pg::row& r : rows)
            if (r.number() == 15)
                break;
        CHECK(conn.in_transaction());
    }
    CHECK(!conn.in_transaction());
    CHECK(conn.scalar<std::int64_t>("SELECT count(*) FROM " + table) == 50);
}

TEST_CASE("postgres: a caller's transaction is joined, not ended", "[postgres][source]")
{
    pg::connection conn = connect();
    conn.exec("BEGIN");
    conn.exec("CREATE TEMP TABLE scratch AS SELECT g AS id FROM generate_series(1, 30) g");
    std::int64_t sum = 0;
    for (auto&& batch :
         pg::query(conn, "SELECT id FROM scratch", {.fetch_size = 8}) | sb::views::chunk(8))
        for (pg::row const& r : batch)
            sum += r.get<std::int64_t>(0);
    CHECK(sum == 465);
    CHECK(conn.in_transaction()); // still the caller's
    conn.exec("ROLLBACK");
}

TEST_CASE("postgres: cursors nest on one connection and the last one commits", "[postgres][source]")
{
    pg::connection conn = connect();
    std::int64_t pairs = 0;
    for (pg::row& outer :
         pg::query(conn, "SELECT g FROM generate_series(1, 3) g", {.fetch_size = 1}))
        for (pg::row& inner :
             pg::query(conn, "SELECT g FROM generate_series(1, $1::int) g", outer.get<int>(0)))
            pairs += inner.get<std::int64_t>(0) > 0 ? 1 : 0;
    CHECK(pairs == 6);
    CHECK(!conn.in_transaction());
}

TEST_CASE("postgres: rows own their values and convert the server's text with get<T>",
          "[postgres][row]")
{
    pg::connection conn = connect();
    std::vector<pg::row> kept;
    for (pg::row& r :
         pg::query(conn, "SELECT 42 AS i, 2.5::float8 AS r, 'forty-two' AS s, NULL::int AS n, "
                         "true AS flag, 'NaN'::float8 AS nan, '-Infinity'::float8 AS inf, "
                         "'\\x00ff10'::bytea AS b, 5000000000 AS big, '' AS empty"))
        kept.push_back(std::move(r));
    REQUIRE(kept.size() == 1);
    pg::row const r = kept.front();
    CHECK(r.size() == 10);
    CHECK(r.number() == 1);
    CHECK(r.column_name(2) == "s");
    CHECK(r.get<int>("i") == 42);
    CHECK(r.get<std::int64_t>(0) == 42);
    CHECK(r.get<double>("i") == 42.0);
    CHECK(r.get<double>("r") == 2.5);
    CHECK(r.get<std::string>("s") == "forty-two");
    CHECK(r.get<std::string_view>("s") == "forty-two");
    CHECK(r.get<std::optional<int>>("n") == std::nullopt);
    CHECK(r.is_null("n"));
    CHECK(r.get<bool>("flag"));
    CHECK(std::isnan(r.get<double>("nan")));
    CHECK(r.get<double>("inf") == -std::numeric_limits<double>::infinity());
    CHECK(r.get<std::vector<std::byte>>("b") ==
          std::vector<std::byte>{std::byte{0}, std::byte{0xff}, std::byte{0x10}});
    CHECK(r.get<std::int64_t>("big") == 5'000'000'000);
    CHECK(r.get<std::string>("empty").empty());
    CHECK(!r.is_null("empty"));
    CHECK(r["s"].as<std::string>() == "forty-two");
    CHECK(r["s"].text() == "forty-two");

    CHECK_THROWS_WITH(
        r.get<int>("big"),
        Catch::Contains("column 8 (\"big\")") &&
            Catch::Contains(
                "expected a 32-bit signed integer, found \"5000000000\" (out of range)"));
    CHECK_THROWS_WITH(r.get<int>("n"), Catch::Contains("found NULL"));
    CHECK_THROWS_WITH(r.get<int>("r"), Catch::Contains("found \"2.5\""));
    CHECK_THROWS_WITH(r.get<bool>("i"), Catch::Contains("expected a boolean (t or f)"));
    CHECK_THROWS_WITH(r.get<std::vector<std::byte>>("s"), Catch::Contains("expected bytea"));
    CHECK_THROWS_WITH(r.get<int>("nope"),
                      Catch::Contains("no such column") && Catch::Contains("i, r, s, n"));
}

TEST_CASE("postgres: parameters are sent as text with PQexecParams", "[postgres][source]")
{
    pg::connection conn = connect();
    std::vector<std::byte> const blob{std::byte{1}, std::byte{0xab}};
    auto rows =
        pg::query(conn,
                  "SELECT $1::bigint, $2::float8, $3::text, $4::text IS NULL, $5::bool, $6::bytea, "
                  "$7::text, $8::float8, $9::int",
                  std::numeric_limits<std::int64_t>::min(), -0.25, "it's \"quoted\"\t\\", nullptr,
                  false, blob, std::string("unicode \u2603"),
                  std::numeric_limits<double>::infinity(), std::optional<int>{7});
    pg::row const& r = *rows.begin();
    CHECK(r.get<std::int64_t>(0) == std::numeric_limits<std::int64_t>::min());
    CHECK(r.get<double>(1) == -0.25);
    CHECK(r.get<std::string>(2) == "it's \"quoted\"\t\\");
    CHECK(r.get<bool>(3));
    CHECK(!r.get<bool>(4));
    CHECK(r.get<std::vector<std::byte>>(5) == blob);
    CHECK(r.get<std::string>(6) == "unicode \u2603");
    CHECK(std::isinf(r.get<double>(7)));
    CHECK(r.get<int>(8) == 7);
}

TEST_CASE("postgres: a conversion failure names the query, the row and the column (fail policy)",
          "[postgres][bad_rows]")
{
    pg::connection conn = connect();
    std::string const table = make_people(conn, 10, {3});
    std::string const sql = "SELECT id, name, age FROM " + table + " ORDER BY id";
    using person = std::tuple<std::int64_t, std::string, std::int64_t>;
    std::vector<std::int64_t> delivered;
    try {
        for (auto&& batch :
             pg::query_as<person>(conn, sql, {.fetch_size = 2}) | sb::views::chunk(2))
            for (person const& p : batch)
                delivered.push_back(std::get<0>(p));
        FAIL("no error");
    } catch (pg::row_error const& e) {
        std::string const what = e.what();
        CHECK_THAT(what, Catch::StartsWith(
                             "streambatch::postgres: query \"SELECT id, name, age FROM people_"));
        CHECK_THAT(
            what,
            Catch::Contains(
                "row 3, column 2 (\"age\"): expected a 64-bit signed integer, found \"abc\""));
        CHECK(e.query() == sql);
        CHECK(e.row() == 3);
        CHECK(e.column() == 2);
        CHECK(e.column_name() == "age");
    }
    CHECK(delivered == std::vector<std::int64_t>{1, 2});
    CHECK(!conn.in_transaction()); // the abandoned cursor's transaction was rolled back
}

TEST_CASE("postgres: a parse function's own exception is nested in a row_error naming the row",
          "[postgres][bad_rows]")
{
    pg::connection conn = connect();
    auto parse = [](pg::row const& r) {
        if (r.get<int>(0) == 4)
            throw std::domain_error("id 4 is reserved");
        return r.get<int>(0);
    };
    std::vector<int> got;
    try {
        for (int id : pg::query_as(conn, "SELECT g FROM generate_series(1, 9) g", parse))
            got.push_back(id);
        FAIL("no error");
    } catch (pg::row_error const& e) {
        CHECK(e.row() == 4);
        CHECK_THAT(std::string(e.what()),
                   Catch::Contains("row 4") && Catch::Contains("id 4 is reserved"));
        CHECK_THROWS_AS(std::rethrow_if_nested(e), std::domain_error);
    }
    CHECK(got == std::vector<int>{1, 2, 3});
}

TEST_CASE("postgres: the skip policy rejects bad rows to a file, counts them and delivers the rest",
          "[postgres][bad_rows]")
{
    pg::connection conn = connect();
    std::string const table = make_people(conn, 10, {3, 7});
    test::temp_dir dir;
    auto const rejects = dir / "rejects.jsonl";
    using person = std::tuple<std::int64_t, std::string, std::int64_t>;
    std::string const sql = "SELECT id, name, age FROM " + table + " WHERE id > $1 ORDER BY id";

    auto rows = pg::query_as<person>(
        conn, sql,
        {.fetch_size = 4, .bad_rows = pg::on_error::skip, .max_skipped = 5, .reject_path = rejects},
        0);
    auto const stats = rows.stats();
    std::vector<std::int64_t> ids;
    for (auto&& batch : std::move(rows) | sb::views::memory_guarded(3, fixed_size{3}))
        for (person const& p : batch)
            ids.push_back(std::get<0>(p));
    CHECK(ids == std::vector<std::int64_t>{1, 2, 4, 5, 6, 8, 9, 10});
    CHECK(stats->rows_read == 10);
    CHECK(stats->rows_skipped == 2);
    auto const lines = test::read_lines(rejects);
    REQUIRE(lines.size() == 2);
    std::string const where = conn.host() + ":" + conn.port() + "/" + conn.dbname();
    // The io family's reject format (docs/rejects.md), read back with the library: the values
    // as the server sent them (text), the same schema as SQLite's and CSV's rejects.
    CHECK_THAT(lines[0],
               Catch::StartsWith("{\"streambatch_reject\":1,\"source\":\"postgres\",\"name\":"));
    sb::io::reject const first = sb::io::parse_reject(lines[0]);
    CHECK(first.source == "postgres");
    CHECK(first.name == where);
    CHECK(first.query == sql);
    CHECK(first.row == 3u);
    CHECK(first.column == 2u);
    CHECK(first.column_name == "age");
    CHECK(first.error == "expected a 64-bit signed integer, found \"abc\"");
    CHECK(first.columns == std::vector<std::string>{"id", "name", "age"});
    using v = sb::io::reject_value;
    CHECK(first.values == std::vector<v>{v::of_text("3"), v::of_text("c"), v::of_text("abc")});
    CHECK_THAT(lines[0],
               Catch::EndsWith(
                   ",\"columns\":[\"id\",\"name\",\"age\"],\"values\":[\"3\",\"c\",\"abc\"]}"));
    CHECK(sb::io::parse_reject(lines[1]).row == 7u);
}

TEST_CASE("postgres: the skip policy fails at the bad row past max_skipped", "[postgres][bad_rows]")
{
    pg::connection conn = connect();
    std::string const table = make_people(conn, 10, {2, 5, 8});
    test::temp_dir dir;
    auto const rejects = dir / "rejects.jsonl";
    auto parse = [](pg::row const& r) { return r.get<int>("age"); };
    std::vector<int> ages;
    try {
        for (int age : pg::query_as(
                 conn, "SELECT * FROM " + table + " ORDER BY id", parse,
                 {.bad_rows = pg::on_error::skip, .max_skipped = 1, .reject_path = rejects}))
            ages.push_back(age);
        FAIL("no error");
    } catch (pg::too_many_bad_rows const& e) {
        CHECK(e.row() == 5);
        CHECK(e.skipped() == 1);
        CHECK_THAT(std::string(e.what()),
                   Catch::Contains("this is bad row 2 and max_skipped is 1"));
    }
    CHECK(ages == std::vector<int>{21, 23, 24});
    CHECK(test::read_lines(rejects).size() == 2);
    CHECK(!conn.in_transaction());
}

TEST_CASE("postgres: server errors carry the SQLSTATE and the server's message",
          "[postgres][errors]")
{
    pg::connection conn = connect();

    SECTION("syntax error: 42601")
    {
        try {
            for (auto&& r : pg::query(conn, "SELEC 1"))
                (void)r;
            FAIL("no error");
        } catch (pg::error const& e) {
            CHECK(e.sqlstate() == "42601");
            CHECK(e.server_message() == "syntax error at or near \"SELEC\"");
            CHECK(e.sql() == "SELEC 1");
            CHECK(e.port() == conn.port());
            CHECK_THAT(std::string(e.what()),
                       Catch::StartsWith("streambatch::postgres: ERROR 42601: syntax error at "
                                         "or near \"SELEC\" on ") &&
                           Catch::Contains("while declaring a cursor for \"SELEC 1\""));
        }
    }
    SECTION("unknown table: 42P01")
    {
        try {
            for (auto&& r : pg::query(conn, "SELECT * FROM no_such_table"))
                (void)r;
            FAIL("no error");
        } catch (pg::error const& e) {
            CHECK(e.sqlstate() == "42P01");
            CHECK(e.server_message() == "relation \"no_such_table\" does not exist");
        }
    }
    SECTION("an error in a later FETCH: 22012")
    {
        std::int64_t seen = 0;
        try {
            for (auto&& batch :
                 pg::query(conn, "SELECT 100 / (50 - g) FROM generate_series(1, 100) g",
                           {.fetch_size = 10}) |
                     sb::views::chunk(10))
                seen += static_cast<std::int64_t>(batch.size());
            FAIL("no error");
        } catch (pg::error const& e) {
            CHECK(e.sqlstate() == "22012");
            CHECK(e.server_message() == "division by zero");
            CHECK_THAT(std::string(e.what()),
                       Catch::Contains("while fetching from the cursor for"));
        }
        CHECK(seen == 40);
    }
    SECTION("a view that failed leaves the connection usable while it still exists")
    {
        auto rows =
            pg::query(conn, "SELECT 6 / (g - 3) FROM generate_series(1, 5) g", {.fetch_size = 1});
        auto it = rows.begin();
        CHECK((*it).get<int>(0) == -3);
        ++it;
        CHECK((*it).get<int>(0) == -6);
        ++it;
        CHECK_THROWS_AS(it == rows.end(), pg::error);
        CHECK(it == rows.end()); // at its end after the error
        CHECK(!conn.in_transaction());
    }
    SECTION("exec")
    {
        CHECK_THROWS_MATCHES(conn.exec("SELECT 1/0"), pg::error,
                             Catch::Matchers::Predicate<pg::error>([](pg::error const& e) {
                                 return e.sqlstate() == "22012" && e.sql() == "SELECT 1/0";
                             }));
    }
    CHECK(!conn.in_transaction());
    CHECK(conn.scalar<int>("SELECT 1") == 1); // usable after every one of them
}

TEST_CASE("postgres: a refused connection names the host and the port", "[postgres][errors]")
{
    int const port = test::free_port();
    try {
        pg::connection conn("host=127.0.0.1 port=" + std::to_string(port) +
                            " dbname=postgres user=postgres");
        FAIL("connected");
    } catch (pg::error const& e) {
        CHECK(e.sqlstate() == "08001");
        CHECK(e.host() == "127.0.0.1");
        CHECK(e.port() == std::to_string(port));
        CHECK_THAT(
            std::string(e.what()),
            Catch::StartsWith("streambatch::postgres: cannot connect to host 127.0.0.1 port " +
                              std::to_string(port)) &&
                Catch::Contains("Connection refused"));
    }
}

TEST_CASE("postgres: a connection comes from a conninfo string or the PG* variables",
          "[postgres][source]")
{
    pg::connection from_env = connect(); // PGHOST, PGPORT, PGUSER, PGDATABASE
    CHECK(from_env.host() == std::getenv("PGHOST"));
    CHECK(from_env.port() == std::getenv("PGPORT"));
    pg::connection from_string("host=" + from_env.host() + " port=" + from_env.port() +
                               " dbname=template1");
    CHECK(from_string.dbname() == "template1");
    CHECK(from_string.scalar<std::string>("SELECT current_database()") == "template1");
    pg::connection from_uri("postgresql://postgres@" + from_env.host() + ":" + from_env.port() +
                            "/postgres");
    CHECK(from_uri.scalar<std::string>("SHOW client_encoding") == "UTF8");

    pg::connection moved = std::move(from_uri);
    CHECK(moved.scalar<int>("SELECT $1::int + 1", 1) == 2);
    CHECK_THROWS_AS(pg::query(moved, "SELECT 1", {.fetch_size = 0}), std::invalid_argument);
}

TEST_CASE("postgres: a lost connection is an error with a SQLSTATE, not a hang",
          "[postgres][errors]")
{
    pg::connection victim = connect();
    pg::connection admin = connect();
    int const pid = PQbackendPID(victim.handle());
    CHECK(admin.scalar<bool>("SELECT pg_terminate_backend($1)", pid));
    for (int i = 0; i < 500 && admin.scalar<std::int64_t>(
                                   "SELECT count(*) FROM pg_stat_activity WHERE pid = $1", pid);
         ++i)
        ::usleep(10'000); // until the backend is gone
    try {
        for (auto&& r : pg::query(victim, "SELECT 1"))
            (void)r;
        FAIL("no error");
    } catch (pg::error const& e) {
        INFO(e.what());
        CHECK((e.sqlstate() == "57P01" ||
               e.sqlstate() == "08006")); // admin shutdown, or the socket closed
        CHECK(e.host() == admin.host());
        CHECK(e.sql() == "SELECT 1");
        CHECK_THAT(std::string(e.what()), Catch::Contains("for a cursor on \"SELECT 1\""));
    }
}
