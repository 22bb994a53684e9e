// The SQLite source: sqlite::query / query_as, rows, conversions, the bad-row policy, errors.
#include <streambatch/io/detail/reject.hpp>
#include <streambatch/io/sqlite.hpp>
#include <streambatch/views/chunk.hpp>
#include <streambatch/views/memory_guarded.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <limits>
#include <optional>
#include <ranges>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "sql_test_support.hpp"

namespace sb = streambatch;
namespace sq = streambatch::sqlite;

namespace {

// What the source models, stated once, before any run-time test.
using raw_view = sq::query_view<>;
static_assert(std::ranges::view<raw_view> && std::ranges::input_range<raw_view>);
static_assert(!std::ranges::forward_range<raw_view>);
static_assert(std::movable<raw_view> && !std::copyable<raw_view>);
static_assert(!std::ranges::range<raw_view const>);
static_assert(std::same_as<std::ranges::range_value_t<raw_view>, sq::row>);
static_assert(std::same_as<std::ranges::range_reference_t<raw_view>, sq::row&>);
static_assert(std::same_as<std::ranges::sentinel_t<raw_view>, std::default_sentinel_t>);
static_assert(std::copyable<sq::row> && std::is_nothrow_move_constructible_v<sq::row>);
// A lambda is not move-assignable, yet a view holding one is a view.
using lambda_view = decltype(sq::query_as(std::declval<sq::database&>(), "",
                                          [](sq::row const& r) { return r.get<int>(0); }));
static_assert(std::ranges::view<lambda_view>);
static_assert(std::same_as<std::ranges::range_value_t<lambda_view>, int>);
using tuple_view = decltype(sq::query_as<std::tuple<std::int64_t, std::string>>(
    std::declval<sq::database&>(), ""));
static_assert(
    std::same_as<std::ranges::range_value_t<tuple_view>, std::tuple<std::int64_t, std::string>>);
// It composes with the core: single-pass batches of moved rows.
using chunked = decltype(std::declval<raw_view>() | sb::views::chunk(10));
static_assert(std::same_as<std::ranges::range_value_t<chunked>, sb::batch<sq::row>>);
// A move-only view must be moved in: an lvalue is not a viewable_range.
static_assert(!std::invocable<decltype(sb::views::chunk), raw_view&, int>);
// Parameters: what binds and what does not.
static_assert(sq::bindable<int> && sq::bindable<std::string> && sq::bindable<char const*> &&
              sq::bindable<std::optional<double>> && sq::bindable<std::nullptr_t> &&
              sq::bindable<std::vector<std::byte>>);
static_assert(!sq::bindable<char> && !sq::bindable<std::vector<int>> &&
              !sq::bindable<sq::query_options>);

struct fixed_size {
    std::size_t n;
    std::size_t next_batch_size(std::size_t) const { return n; }
};

/// people(id, name, age, score, photo): ids 1..n; age is text "abc" in the rows listed in `bad`.
sq::database make_people(test::temp_dir const& dir, int n, std::vector<int> const& bad = {})
{
    sq::database db((dir / "people.db").string());
    db.exec("CREATE TABLE people(id INTEGER PRIMARY KEY, name TEXT, age INTEGER, score REAL, photo "
            "BLOB)");
    db.exec("BEGIN");
    for (int i = 1; i <= n; ++i) {
        bool const is_bad = std::find(bad.begin(), bad.end(), i) != bad.end();
        std::string const name(1, static_cast<char>('a' + (i - 1) % 26));
        if (is_bad)
            db.exec("INSERT INTO people VALUES (?, ?, 'abc', ?, NULL)", i, name, i * 0.5);
        else
            db.exec("INSERT INTO people VALUES (?, ?, ?, ?, NULL)", i, name, 20 + i, i * 0.5);
    }
    db.exec("COMMIT");
    return db;
}

template <class R>
std::vector<std::size_t> batch_sizes(R&& batches)
{
    std::vector<std::size_t> sizes;
    for (auto&& b : batches)
        sizes.push_back(b.size());
    return sizes;
}

} // namespace

TEST_CASE("sqlite: query steps a prepared statement with bound parameters, batch by batch",
          "[sqlite][source]")
{
    test::temp_dir dir;
    sq::database db = make_people(dir, 100);

    SECTION("chunk")
    {
        std::vector<std::int64_t> ids;
        std::vector<std::size_t> sizes;
        for (auto&& batch : sq::query(db, "SELECT id FROM people WHERE id > ? ORDER BY id", 10) |
                                sb::views::chunk(25)) {
            sizes.push_back(batch.size());
            for (sq::row const& r : batch)
                ids.push_back(r.get<std::int64_t>(0));
        }
        CHECK(sizes == std::vector<std::size_t>{25, 25, 25, 15});
        REQUIRE(ids.size() == 90);
        CHECK(ids.front() == 11);
        CHECK(ids.back() == 100);
    }
    SECTION("memory_guarded with a policy")
    {
        CHECK(batch_sizes(sq::query(db, "SELECT * FROM people WHERE id > ?", 10) |
                          sb::views::memory_guarded(40, fixed_size{40})) ==
              std::vector<std::size_t>{40, 40, 10});
    }
    SECTION("memory_guarded with the real guard, as in the README")
    {
        std::size_t rows = 0;
        for (auto&& batch : sq::query(db, "SELECT * FROM people WHERE id > ?", 10) |
                                sb::views::memory_guarded(1000))
            rows += batch.size();
        CHECK(rows == 90);
    }
    SECTION("call syntax, and a view built first and moved in")
    {
        auto rows = sq::query(db, "SELECT id FROM people WHERE id <= ?", 5);
        CHECK(rows.column_names() == std::vector<std::string>{"id"});
        CHECK(batch_sizes(sb::views::chunk(std::move(rows), 2)) ==
              std::vector<std::size_t>{2, 2, 1});
    }
    SECTION("no rows, no batches")
    {
        CHECK(batch_sizes(sq::query(db, "SELECT * FROM people WHERE id > ?", 1000) |
                          sb::views::chunk(10))
                  .empty());
    }
    SECTION("begin() again continues where iteration stopped")
    {
        auto rows = sq::query(db, "SELECT id FROM people WHERE id <= 3 ORDER BY id");
        auto it = rows.begin();
        CHECK((*it).get<int>(0) == 1);
        ++it;
        CHECK(rows.begin()->get<int>(0) == 2);
    }
}

TEST_CASE("sqlite: rows own their values and convert them with get<T>", "[sqlite][row]")
{
    test::temp_dir dir;
    sq::database db((dir / "t.db").string());
    db.exec(
        "CREATE TABLE t(i INTEGER, r REAL, s TEXT, b BLOB, n INTEGER, big INTEGER, flag INTEGER)");
    std::vector<std::byte> const blob{std::byte{0}, std::byte{0xff}, std::byte{0x10}};
    db.exec("INSERT INTO t VALUES (?, ?, ?, ?, ?, ?, ?)", 42, 2.5, "forty-two", blob, nullptr,
            std::int64_t{5'000'000'000}, true);

    std::vector<sq::row> kept;
    for (auto&& batch : sq::query(db, "SELECT * FROM t") | sb::views::chunk(10))
        for (sq::row& r : batch)
            kept.push_back(std::move(r)); // the statement and the view are gone after the loop
    REQUIRE(kept.size() == 1);
    sq::row const r = kept.front(); // a copy
    CHECK(r.number() == 1);
    CHECK(r.size() == 7);
    CHECK(r.query() == "SELECT * FROM t");
    CHECK(r.column_name(2) == "s");
    CHECK(r.column_index("flag") == 6);

    CHECK(r.get<std::int64_t>(0) == 42);
    CHECK(r.get<int>("i") == 42);
    CHECK(r.get<double>(0) == 42.0);
    CHECK(r.get<std::string>(0) == "42");
    CHECK(r.get<double>("r") == 2.5);
    CHECK(r.get<std::string>("r") == "2.5");
    CHECK(r.get<std::string>("s") == "forty-two");
    CHECK(r.get<std::string_view>("s") == "forty-two");
    CHECK(r.get<std::vector<std::byte>>("b") == blob);
    CHECK(r.get<std::optional<int>>("n") == std::nullopt);
    CHECK(r.get<std::optional<int>>("i") == 42);
    CHECK(r.is_null("n"));
    CHECK(r.get<std::int64_t>("big") == 5'000'000'000);
    CHECK(r.get<bool>("flag"));
    CHECK(r["s"].as<std::string>() == "forty-two");
    CHECK(r[1].name() == "r");
    CHECK(r["b"].type() == sq::storage_class::blob);
    CHECK(r["n"].is_null());

    CHECK_THROWS_WITH(r.get<int>("big"), Catch::Contains("expected a 32-bit signed integer") &&
                                             Catch::Contains("integer 5000000000 (out of range)"));
    CHECK_THROWS_WITH(r.get<int>("n"),
                      Catch::Contains("column 4 (\"n\")") && Catch::Contains("found NULL"));
    CHECK_THROWS_WITH(r.get<int>("r"), Catch::Contains("found real 2.5"));
    CHECK_THROWS_WITH(r.get<int>("b"), Catch::Contains("found a blob of 3 bytes"));
    CHECK_THROWS_WITH(r.get<std::string_view>("i"), Catch::Contains("expected text or a blob"));
    CHECK_THROWS_WITH(r.get<bool>("i"), Catch::Contains("expected a boolean"));
    CHECK_THROWS_WITH(r.get<int>(7),
                      Catch::Contains("column 7") && Catch::Contains("the row has 7 columns"));
    CHECK_THROWS_WITH(r.get<int>("nope"),
                      Catch::Contains("no such column") &&
                          Catch::Contains("the columns are: i, r, s, b, n, big, flag"));
}

TEST_CASE("sqlite: parameters bind integers, reals, text, blobs, bool and NULL", "[sqlite][source]")
{
    sq::database db(":memory:");
    std::vector<std::byte> const blob{std::byte{1}, std::byte{2}};
    std::string const text = "tab\there";
    auto rows = sq::query(db, "SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, typeof(?)",
                          std::numeric_limits<std::int64_t>::min(), -0.25, text, "literal", nullptr,
                          std::optional<int>{}, std::optional<int>{5}, false, blob,
                          std::string_view("view"));
    sq::row const& r = *rows.begin();
    CHECK(r.get<std::int64_t>(0) == std::numeric_limits<std::int64_t>::min());
    CHECK(r.get<double>(1) == -0.25);
    CHECK(r.get<std::string>(2) == text);
    CHECK(r.get<std::string>(3) == "literal");
    CHECK(r.is_null(4));
    CHECK(r.is_null(5));
    CHECK(r.get<int>(6) == 5);
    CHECK(r.get<bool>(7) == false);
    CHECK(r.get<std::vector<std::byte>>(8) == blob);
    CHECK(r.get<std::string>(9) == "text");

    CHECK_THROWS_AS(sq::query(db, "SELECT ?", std::numeric_limits<std::uint64_t>::max()),
                    std::out_of_range);
    CHECK_THROWS_WITH(sq::query(db, "SELECT ?, ?", 1),
                      Catch::Contains("has 2 parameters, given 1"));
    CHECK_THROWS_WITH(sq::query(db, "SELECT 1; SELECT 2"),
                      Catch::Contains("one statement expected"));
}

TEST_CASE("sqlite: a conversion failure names the query, the row and the column (fail policy)",
          "[sqlite][bad_rows]")
{
    test::temp_dir dir;
    sq::database db = make_people(dir, 10, {3});
    using person = std::tuple<std::int64_t, std::string, std::int64_t>;

    std::vector<std::int64_t> delivered;
    try {
        for (auto&& batch :
             sq::query_as<person>(db, "SELECT id, name, age FROM people ORDER BY id") |
                 sb::views::chunk(2))
            for (person const& p : batch)
                delivered.push_back(std::get<0>(p));
        FAIL("no error");
    } catch (sq::row_error const& e) {
        std::string const what = e.what();
        CHECK_THAT(
            what,
            Catch::StartsWith(
                "streambatch::sqlite: query \"SELECT id, name, age FROM people ORDER BY id\""));
        CHECK_THAT(what, Catch::Contains("row 3, column 2 (\"age\")"));
        CHECK_THAT(what, Catch::Contains("expected a 64-bit signed integer, found text \"abc\""));
        CHECK(e.query() == "SELECT id, name, age FROM people ORDER BY id");
        CHECK(e.row() == 3);
        CHECK(e.column() == 2);
        CHECK(e.column_name() == "age");
        CHECK(e.reason() == "expected a 64-bit signed integer, found text \"abc\"");
    }
    CHECK(delivered == std::vector<std::int64_t>{1, 2}); // the batch before the bad row

    SECTION("the same from get<T> on raw rows")
    {
        auto rows = sq::query(db, "SELECT id, age FROM people WHERE id = 3");
        CHECK_THROWS_MATCHES(rows.begin()->get<int>("age"), sq::row_error,
                             Catch::Matchers::Predicate<sq::row_error>([](sq::row_error const& e) {
                                 return e.row() == 1 && e.column() == 1;
                             }));
    }
    SECTION("a tuple needs as many columns as elements")
    {
        auto rows = sq::query_as<std::tuple<int, int>>(db, "SELECT id, name, age FROM people");
        CHECK_THROWS_WITH(*rows.begin(), Catch::Contains("expected 2 columns, found 3"));
    }
}

TEST_CASE("sqlite: a parse function's own exception is nested in a row_error naming the row",
          "[sqlite][bad_rows]")
{
    test::temp_dir dir;
    sq::database db = make_people(dir, 5);
    auto parse = [](sq::row const& r) {
        if (r.get<int>("id") == 4)
            throw std::domain_error("id 4 is reserved");
        return r.get<int>("id");
    };
    std::vector<int> got;
    try {
        for (int id : sq::query_as(db, "SELECT id FROM people ORDER BY id", parse))
            got.push_back(id);
        FAIL("no error");
    } catch (sq::row_error const& e) {
        CHECK(e.row() == 4);
        CHECK(e.column() == sq::row_error::npos);
        CHECK_THAT(std::string(e.what()),
                   Catch::Contains("row 4") && Catch::Contains("id 4 is reserved"));
        CHECK_THROWS_AS(std::rethrow_if_nested(e), std::domain_error);
    }
    CHECK(got == std::vector<int>{1, 2, 3});
}

TEST_CASE("sqlite: the skip policy rejects bad rows to a file, counts them and delivers the rest",
          "[sqlite][bad_rows]")
{
    test::temp_dir dir;
    sq::database db = make_people(dir, 10, {3, 7});
    using person = std::tuple<std::int64_t, std::string, std::int64_t>;
    auto const rejects = dir / "rejects.jsonl";

    auto rows = sq::query_as<person>(
        db, "SELECT id, name, age FROM people WHERE id > ? ORDER BY id",
        {.bad_rows = sq::on_error::skip, .max_skipped = 5, .reject_path = rejects}, 0);
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
    // The io family's reject format (docs/rejects.md), read back with the library.
    CHECK_THAT(lines[0],
               Catch::StartsWith("{\"streambatch_reject\":1,\"source\":\"sqlite\",\"name\":"));
    sb::io::reject const first = sb::io::parse_reject(lines[0]);
    CHECK(first.source == "sqlite");
    CHECK(first.name == (dir / "people.db").string());
    CHECK(first.query == "SELECT id, name, age FROM people WHERE id > ? ORDER BY id");
    CHECK(first.row == 3u);
    CHECK(first.column == 2u);
    CHECK(first.column_name == "age");
    CHECK(first.error == "expected a 64-bit signed integer, found text \"abc\"");
    CHECK_FALSE(first.line.has_value());
    CHECK_FALSE(first.raw.has_value());
    CHECK(first.columns == std::vector<std::string>{"id", "name", "age"});
    using v = sb::io::reject_value;
    CHECK(first.values == std::vector<v>{v::of_integer(3), v::of_text("c"), v::of_text("abc")});
    CHECK_THAT(
        lines[0],
        Catch::EndsWith(",\"columns\":[\"id\",\"name\",\"age\"],\"values\":[3,\"c\",\"abc\"]}"));
    sb::io::reject const second = sb::io::parse_reject(lines[1]);
    CHECK(second.row == 7u);
    CHECK(second.values == std::vector<v>{v::of_integer(7), v::of_text("g"), v::of_text("abc")});

    SECTION("a later run appends: earlier rejects are kept")
    {
        for (auto&& p :
             sq::query_as<person>(db, "SELECT id, name, age FROM people",
                                  {.bad_rows = sq::on_error::skip, .reject_path = rejects}))
            (void)p;
        CHECK(test::read_lines(rejects).size() == 4);
    }
}

TEST_CASE("sqlite: the skip policy fails at the bad row past max_skipped", "[sqlite][bad_rows]")
{
    test::temp_dir dir;
    sq::database db = make_people(dir, 10, {2, 5, 8});
    auto const rejects = dir / "rejects.jsonl";
    auto parse = [](sq::row const& r) { return r.get<int>("age"); };
    std::vector<int> ages;
    try {
        for (int age : sq::query_as(
                 db, "SELECT * FROM people ORDER BY id", parse,
                 {.bad_rows = sq::on_error::skip, .max_skipped = 1, .reject_path = rejects}))
            ages.push_back(age);
        FAIL("no error");
    } catch (sq::too_many_bad_rows const& e) {
        CHECK(e.row() == 5);
        CHECK(e.column_name() == "age");
        CHECK(e.skipped() == 1);
        CHECK(e.reject_path() == rejects);
        CHECK_THAT(std::string(e.what()),
                   Catch::Contains("this is bad row 2 and max_skipped is 1") &&
                       Catch::Contains(rejects.string()));
    }
    CHECK(ages == std::vector<int>{21, 23, 24});
    CHECK(test::read_lines(rejects).size() == 2); // the skipped row and the one that failed
}

TEST_CASE("sqlite: the skip policy needs a reject file", "[sqlite][bad_rows]")
{
    sq::database db(":memory:");
    CHECK_THROWS_WITH(
        sq::query_as<std::tuple<int>>(db, "SELECT 1", {.bad_rows = sq::on_error::skip}),
        Catch::Contains("needs a reject_path"));
}

TEST_CASE("sqlite: SQL errors name the database and the statement", "[sqlite][errors]")
{
    test::temp_dir dir;
    sq::database db = make_people(dir, 3);
    std::string const file = (dir / "people.db").string();

    SECTION("syntax error, when the statement is prepared")
    {
        try {
            (void)sq::query(db, "SELEC id FROM people");
            FAIL("no error");
        } catch (sq::error const& e) {
            CHECK(e.primary_code() == SQLITE_ERROR);
            CHECK_THAT(e.sqlite_message(), Catch::Contains("syntax error"));
            CHECK(e.file() == file);
            CHECK(e.sql() == "SELEC id FROM people");
            CHECK_THAT(std::string(e.what()),
                       Catch::Contains(file) && Catch::Contains("SELEC id FROM people"));
        }
    }
    SECTION("unknown table")
    {
        CHECK_THROWS_MATCHES(sq::query(db, "SELECT * FROM nope"), sq::error,
                             Catch::Matchers::Predicate<sq::error>([&](sq::error const& e) {
                                 return e.sqlite_message() == "no such table: nope" &&
                                        e.file() == file;
                             }));
    }
    SECTION("a file that cannot be opened")
    {
        CHECK_THROWS_WITH(sq::database((dir / "missing" / "x.db").string()),
                          Catch::Contains("cannot open database") &&
                              Catch::Contains("missing/x.db"));
        CHECK_THROWS_AS(sq::database((dir / "absent.db").string(), {.read_only = true}), sq::error);
    }
}

TEST_CASE("sqlite: a locked database fails with SQLITE_BUSY naming the file", "[sqlite][errors]")
{
    test::temp_dir dir;
    std::string const file = (dir / "people.db").string();
    sq::database owner = make_people(dir, 3);
    owner.exec("BEGIN EXCLUSIVE"); // rollback journal: readers are locked out too
    sq::database reader(file, {.busy_timeout = std::chrono::milliseconds(0)});
    try {
        // Preparing reads the schema, so the lock is met there already.
        for (auto&& r : sq::query(reader, "SELECT * FROM people"))
            (void)r;
        FAIL("no error");
    } catch (sq::error const& e) {
        CHECK(e.primary_code() == SQLITE_BUSY);
        CHECK(e.file() == file);
        CHECK_THAT(std::string(e.what()),
                   Catch::StartsWith(
                       "streambatch::sqlite: database is locked (SQLITE_BUSY, extended code 5) in "
                       "database \"" +
                       file + "\""));
    }
    owner.exec("ROLLBACK");
    CHECK(reader.scalar<std::int64_t>("SELECT count(*) FROM people") == 3);
}
