// The SQLite sink: sqlite::inserter, one transaction per batch, rollback, the hook, errors.
#include <streambatch/io/sqlite.hpp>
#include <streambatch/views/chunk.hpp>
#include <streambatch/views/memory_guarded.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "sql_test_support.hpp"

namespace sb = streambatch;
namespace sq = streambatch::sqlite;

namespace {

using record = std::tuple<std::int64_t, std::string>;
static_assert(std::movable<sq::inserter<>>);
// The hook runs with the database; a record is mapped by the inserter's function.
template <class Sink, class Batch, class... Hook>
concept can_write =
    requires(Sink& sink, Batch const& batch, Hook... hook) { sink.write(batch, hook...); };
static_assert(can_write<sq::inserter<>, std::vector<record>>);
static_assert(can_write<sq::inserter<>, std::vector<record>, decltype([](sq::database&) {})>);
static_assert(!can_write<sq::inserter<>, std::vector<record>, decltype([](int) {})>); // not a hook
static_assert(!can_write<sq::inserter<>, int>);                                       // not a range

struct customer {
    std::int64_t id;
    std::string name;
    std::optional<std::string> email;
};

int count_commit(void* n)
{
    ++*static_cast<int*>(n);
    return 0; // 0: let the commit happen
}

std::vector<record> records(std::int64_t first, std::int64_t last)
{
    std::vector<record> v;
    for (std::int64_t i = first; i <= last; ++i)
        v.emplace_back(i, "name " + std::to_string(i));
    return v;
}

std::vector<std::int64_t> ids(sq::database const& db, std::string const& table)
{
    std::vector<std::int64_t> out;
    for (auto&& r : sq::query(db, "SELECT id FROM " + table + " ORDER BY id"))
        out.push_back(r.get<std::int64_t>(0));
    return out;
}

} // namespace

TEST_CASE("sqlite: inserter writes each batch in one transaction", "[sqlite][sink]")
{
    test::temp_dir dir;
    sq::database db((dir / "out.db").string());
    db.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT NOT NULL)");
    int commits = 0;
    sqlite3_commit_hook(db.handle(), count_commit, &commits);

    sq::inserter ins(db, "INSERT INTO t(id, name) VALUES (?, ?)");
    std::size_t written = 0;
    for (auto batch : records(1, 10) | sb::views::chunk(4))
        written += ins.write(batch);
    CHECK(written == 10);
    CHECK(ins.rows_written() == 10);
    CHECK(ins.batches() == 3);
    CHECK(commits == 3);
    CHECK(!db.in_transaction());
    CHECK(ids(db, "t") == std::vector<std::int64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10});
    CHECK(db.scalar<std::string>("SELECT name FROM t WHERE id = ?", 7) == "name 7");
}

TEST_CASE("sqlite: a function maps records to column values", "[sqlite][sink]")
{
    sq::database db(":memory:");
    db.exec("CREATE TABLE customers(id INTEGER PRIMARY KEY, name TEXT, email TEXT)");
    sq::inserter ins(db, "INSERT INTO customers VALUES (?, ?, ?)",
                     [](customer const& c) { return std::tie(c.id, c.name, c.email); });
    std::vector<customer> const batch{{1, "ann", "ann@example.com"}, {2, "bob", std::nullopt}};
    CHECK(ins.write(batch) == 2);
    CHECK(db.scalar<std::optional<std::string>>("SELECT email FROM customers WHERE id = 1") ==
          "ann@example.com");
    CHECK(db.scalar<std::optional<std::string>>("SELECT email FROM customers WHERE id = 2") ==
          std::nullopt);

    SECTION("a single value needs no tuple")
    {
        db.exec("CREATE TABLE names(name TEXT)");
        sq::inserter one(db, "INSERT INTO names VALUES (?)",
                         [](customer const& c) { return c.name; });
        CHECK(one.write(batch) == 2);
        CHECK(db.scalar<std::int64_t>("SELECT count(*) FROM names") == 2);
    }
    SECTION("the parameter count must match")
    {
        sq::inserter two(db, "INSERT INTO customers(id, name) VALUES (?, ?)",
                         [](customer const& c) { return std::tie(c.id, c.name, c.email); });
        CHECK_THROWS_WITH(two.write(batch),
                          Catch::Contains("has 2 parameters, the record maps to 3 values"));
        CHECK(!db.in_transaction());
    }
}

TEST_CASE("sqlite: NULLs and special characters round-trip through the inserter", "[sqlite][sink]")
{
    sq::database db(":memory:");
    db.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)");
    std::vector<std::tuple<int, std::optional<std::string>>> const batch{
        {1, "tab\there"},
        {2, "new\nline and CR\r"},
        {3, "back\\slash \\N \\."},
        {4, "quotes ' \" and ; -- not SQL"},
        {5, "unicode: na\u00efve \u2603 \U0001F600"},
        {6, ""},
        {7, std::nullopt},
        {8, std::string("nul\0byte", 8)},
    };
    sq::inserter(db, "INSERT INTO t VALUES (?, ?)").write(batch);
    std::size_t i = 0;
    for (auto&& r : sq::query(db, "SELECT id, v FROM t ORDER BY id")) {
        INFO("row " << r.number());
        REQUIRE(i < batch.size());
        CHECK(r.get<int>(0) == std::get<0>(batch[i]));
        CHECK(r.get<std::optional<std::string>>(1) == std::get<1>(batch[i]));
        ++i;
    }
    CHECK(i == batch.size());
}

TEST_CASE("sqlite: a constraint violation rolls its batch back and names the batch and the row",
          "[sqlite][sink]")
{
    test::temp_dir dir;
    std::string const file = (dir / "out.db").string();
    sq::database db(file);
    db.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT NOT NULL)");
    sq::inserter ins(db, "INSERT INTO t VALUES (?, ?)");
    ins.write(records(1, 2));
    ins.write(records(3, 4));

    SECTION("primary key")
    {
        auto bad = records(5, 7);
        std::get<0>(bad[2]) = 5; // a duplicate of the batch's first row
        try {
            ins.write(bad);
            FAIL("no error");
        } catch (sq::batch_error const& e) {
            CHECK(e.batch_index() == 2);
            CHECK(e.row_index() == 2);
            CHECK(e.code() == SQLITE_CONSTRAINT_PRIMARYKEY);
            CHECK(e.file() == file);
            CHECK_THAT(std::string(e.what()),
                       Catch::StartsWith("streambatch::sqlite: batch 2, row 2 (0-based) into \"" +
                                         file + "\": UNIQUE constraint failed: t.id"));
        }
    }
    SECTION("NOT NULL")
    {
        std::vector<std::tuple<int, std::optional<std::string>>> const bad{{5, "five"},
                                                                           {6, std::nullopt}};
        try {
            ins.write(bad);
            FAIL("no error");
        } catch (sq::batch_error const& e) {
            CHECK(e.batch_index() == 2);
            CHECK(e.row_index() == 1);
            CHECK(e.code() == SQLITE_CONSTRAINT_NOTNULL);
            CHECK_THAT(e.sqlite_message(), Catch::Contains("NOT NULL constraint failed: t.name"));
        }
    }
    CHECK(!db.in_transaction());
    CHECK(ids(db, "t") == std::vector<std::int64_t>{1, 2, 3, 4}); // only the earlier batches
    ins.write(records(5, 6));                                     // and the inserter goes on
    CHECK(ids(db, "t").size() == 6);
    CHECK(ins.batches() == 4);
}

TEST_CASE("sqlite: the hook runs in the batch's transaction: a checkpoint commits with its batch",
          "[sqlite][sink]")
{
    sq::database db(":memory:");
    db.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT);"
            "CREATE TABLE checkpoint(job TEXT PRIMARY KEY, last_id INTEGER);"
            "INSERT INTO checkpoint VALUES ('load', 0);");
    sq::inserter ins(db, "INSERT INTO t VALUES (?, ?)");
    auto checkpoint = [](std::int64_t last) {
        return [last](sq::database& d) {
            CHECK(d.in_transaction());
            d.exec("UPDATE checkpoint SET last_id = ? WHERE job = 'load'", last);
        };
    };
    for (auto batch : records(1, 4) | sb::views::chunk(2))
        ins.write(batch, checkpoint(std::get<0>(batch.back())));
    CHECK(db.scalar<std::int64_t>("SELECT last_id FROM checkpoint") == 4);

    SECTION("a hook that throws rolls the batch back")
    {
        try {
            ins.write(records(5, 6), [](sq::database& d) {
                d.exec("UPDATE checkpoint SET last_id = 6");
                throw std::runtime_error("checkpoint store unavailable");
            });
            FAIL("no error");
        } catch (sq::batch_error const& e) {
            CHECK(e.batch_index() == 2);
            CHECK(e.row_index() == sq::batch_error::npos);
            CHECK_THAT(std::string(e.what()),
                       Catch::Contains("in the hook: checkpoint store unavailable"));
            CHECK_THROWS_AS(std::rethrow_if_nested(e), std::runtime_error);
        }
    }
    SECTION("a hook whose SQL fails rolls the batch back")
    {
        CHECK_THROWS_WITH(
            ins.write(records(5, 6), [](sq::database& d) { d.exec("UPDATE nope SET x = 1"); }),
            Catch::Contains("in the hook or COMMIT: no such table: nope"));
    }
    CHECK(!db.in_transaction());
    CHECK(ids(db, "t").size() == 4);
    CHECK(db.scalar<std::int64_t>("SELECT last_id FROM checkpoint") == 4);
}

TEST_CASE("sqlite: a busy database fails the batch with SQLITE_BUSY naming the file",
          "[sqlite][sink][errors]")
{
    test::temp_dir dir;
    std::string const file = (dir / "out.db").string();
    sq::database other(file);
    other.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT)");
    other.exec("BEGIN IMMEDIATE"); // holds the write lock

    sq::database db(file, {.busy_timeout = std::chrono::milliseconds(0)});
    sq::inserter ins(db, "INSERT INTO t VALUES (?, ?)");
    try {
        ins.write(records(1, 3));
        FAIL("no error");
    } catch (sq::batch_error const& e) {
        CHECK(e.primary_code() == SQLITE_BUSY);
        CHECK(e.batch_index() == 0);
        CHECK(e.file() == file);
        CHECK_THAT(std::string(e.what()),
                   Catch::Contains("database is locked") && Catch::Contains(file));
    }
    CHECK(!db.in_transaction());
    other.exec("COMMIT");
    CHECK(ins.write(records(1, 3)) == 3); // the lock is gone: the same inserter succeeds
}

TEST_CASE("sqlite: a query's batches flow into an inserter on another database",
          "[sqlite][sink][source]")
{
    test::temp_dir dir;
    sq::database src((dir / "src.db").string());
    src.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT)");
    sq::inserter(src, "INSERT INTO t VALUES (?, ?)").write(records(1, 1000));

    sq::database dst((dir / "dst.db").string());
    dst.exec("CREATE TABLE copy(id INTEGER PRIMARY KEY, name TEXT)");
    sq::inserter out(dst, "INSERT INTO copy VALUES (?, ?)");
    for (auto&& batch : sq::query_as<record>(src, "SELECT id, name FROM t WHERE id > ?", 100) |
                            sb::views::memory_guarded(128))
        out.write(batch);
    CHECK(out.rows_written() == 900);
    CHECK(dst.scalar<std::int64_t>("SELECT sum(id) FROM copy") == 500500 - 5050);
}
