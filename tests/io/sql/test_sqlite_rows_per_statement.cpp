// The SQLite sink's cheaper paths: inserter rows_per_statement (several rows a step), the
// connection's no_mutex option, and sqlite::disable_memory_status.
#include <streambatch/io/sqlite.hpp>

#include <catch2/catch.hpp>

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "sql_test_support.hpp"

namespace sb = streambatch;
namespace sq = streambatch::sqlite;

namespace {

using record = std::tuple<std::int64_t, std::string>;

std::vector<record> records(std::int64_t first, std::int64_t last)
{
    std::vector<record> v;
    for (std::int64_t i = first; i <= last; ++i)
        v.emplace_back(i, "name " + std::to_string(i));
    return v;
}

std::vector<record> table(sq::database const& db)
{
    std::vector<record> out;
    for (auto&& r : sq::query(db, "SELECT id, name FROM t ORDER BY id"))
        out.emplace_back(r.get<std::int64_t>(0), r.get<std::string>(1));
    return out;
}

/// The INSERTs run, by their SQL text as prepared (sqlite3_trace_v2, SQLITE_TRACE_STMT).
struct insert_log {
    std::vector<std::string> sql;
    explicit insert_log(sq::database const& db)
    {
        sqlite3_trace_v2(
            db.handle(), SQLITE_TRACE_STMT,
            [](unsigned, void* self, void* stmt, void*) {
                std::string const s = sqlite3_sql(static_cast<sqlite3_stmt*>(stmt));
                if (s.starts_with("INSERT"))
                    static_cast<insert_log*>(self)->sql.push_back(s);
                return 0;
            },
            this);
    }
};

struct customer {
    std::int64_t id;
    std::string name;
    std::optional<std::string> email;
};

} // namespace

TEST_CASE("sqlite: rows_per_statement inserts n rows a step, a batch's last rows one at a time",
          "[sqlite][sink]")
{
    test::temp_dir dir;
    sq::database db((dir / "out.db").string());
    db.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT NOT NULL)");
    insert_log log(db);
    sq::inserter ins(db, "INSERT INTO t(id, name) VALUES (?, ?)", {.rows_per_statement = 4});
    CHECK(ins.rows_per_statement() == 4);
    CHECK(ins.sql() == "INSERT INTO t(id, name) VALUES (?, ?)");

    CHECK(ins.write(records(1, 10)) == 10);
    CHECK(ins.write(records(11, 18)) == 8);
    CHECK(ins.write(std::vector<record>{}) == 0);
    CHECK(ins.rows_written() == 18);
    CHECK(table(db) == records(1, 18));
    std::string const four = "INSERT INTO t(id, name) VALUES (?, ?), (?, ?), (?, ?), (?, ?)";
    std::string const one = "INSERT INTO t(id, name) VALUES (?, ?)";
    // 10 rows: 4 + 4, then 2 one at a time; 8 rows: 4 + 4.
    CHECK(log.sql == std::vector<std::string>{four, four, one, one, four, four});
}

TEST_CASE("sqlite: rows_per_statement keeps each row's values: a map's temporaries, NULLs, "
          "text, an UPSERT",
          "[sqlite][sink]")
{
    sq::database db(":memory:");
    db.exec("CREATE TABLE customers(id INTEGER PRIMARY KEY, name TEXT, email TEXT)");
    std::vector<customer> batch;
    for (std::int64_t i = 1; i <= 7; ++i)
        batch.push_back({i, "n" + std::to_string(i),
                         i % 3 == 0 ? std::nullopt : std::optional("e" + std::to_string(i))});

    SECTION("a map returning new strings by value: each is alive until its step")
    {
        sq::inserter ins(db, "INSERT INTO customers VALUES (?, ?, ?)",
                         [](customer const& c) {
                             return std::tuple(c.id, c.name + " long enough to allocate!", c.email);
                         },
                         {.rows_per_statement = 3});
        CHECK(ins.write(batch) == 7);
        for (auto const& c : batch) {
            INFO("id " << c.id);
            CHECK(db.scalar<std::string>("SELECT name FROM customers WHERE id = ?", c.id) ==
                  c.name + " long enough to allocate!");
            CHECK(db.scalar<std::optional<std::string>>("SELECT email FROM customers WHERE id = ?",
                                                        c.id) == c.email);
        }
    }
    SECTION("a map whose result points into a buffer it reuses for the next record")
    {
        std::string scratch;
        sq::inserter ins(db, "INSERT INTO customers(id, name) VALUES (?, ?)",
                         [&](customer const& c) {
                             scratch = c.name + " from a scratch buffer, long enough to allocate";
                             return std::tuple(c.id, std::string_view(scratch));
                         },
                         {.rows_per_statement = 3});
        CHECK(ins.write(batch) == 7);
        for (auto const& c : batch) {
            INFO("id " << c.id);
            CHECK(db.scalar<std::string>("SELECT name FROM customers WHERE id = ?", c.id) ==
                  c.name + " from a scratch buffer, long enough to allocate");
        }
    }
    SECTION("quotes, a `?` in a literal and a comment are not parameters; an UPSERT after VALUES")
    {
        sq::inserter ins(db,
                         "INSERT INTO customers(id, name, email) /* (x) */ VALUES (?, ?, 'a?,(') "
                         "ON CONFLICT(id) DO UPDATE SET name = excluded.name || ' again'",
                         [](customer const& c) { return std::tie(c.id, c.name); },
                         {.rows_per_statement = 2});
        batch[5].id = 2; // the 6th row updates the 2nd, in the same statement as the 5th
        CHECK(ins.write(batch) == 7);
        CHECK(db.scalar<std::int64_t>("SELECT count(*) FROM customers") == 6);
        CHECK(db.scalar<std::string>("SELECT name FROM customers WHERE id = 2") == "n6 again");
        CHECK(db.scalar<std::int64_t>("SELECT count(*) FROM customers WHERE email = 'a?,('") == 6);
    }
}

TEST_CASE("sqlite: rows_per_statement: a failing row is still named, and its batch rolled back",
          "[sqlite][sink]")
{
    test::temp_dir dir;
    std::string const file = (dir / "out.db").string();
    sq::database db(file);
    db.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT NOT NULL)");
    sq::inserter ins(db, "INSERT INTO t VALUES (?, ?)", {.rows_per_statement = 4});
    ins.write(records(1, 4));

    auto const fails_at = [&](std::vector<record> const& bad, std::size_t row) {
        try {
            ins.write(bad);
            FAIL("no error");
        } catch (sq::batch_error const& e) {
            CHECK(e.row_index() == row);
            CHECK(e.code() == SQLITE_CONSTRAINT_PRIMARYKEY);
            CHECK_THAT(std::string(e.what()),
                       Catch::StartsWith("streambatch::sqlite: batch " +
                                         std::to_string(e.batch_index()) + ", row " +
                                         std::to_string(row) + " (0-based) into \"" + file +
                                         "\": UNIQUE constraint failed: t.id"));
        }
    };
    SECTION("in a statement of 4 rows")
    {
        auto bad = records(5, 13);
        std::get<0>(bad[6]) = 6; // the 2nd statement's 3rd row repeats the batch's 2nd row
        fails_at(bad, 6);
    }
    SECTION("in a statement of 4 rows, a row repeating one of the same statement")
    {
        auto bad = records(5, 13);
        std::get<0>(bad[7]) = 9; // rows 4..7 are one statement: 9, 10, 11, 9
        fails_at(bad, 7);
    }
    SECTION("in the last rows, one at a time")
    {
        auto bad = records(5, 14);
        std::get<0>(bad[9]) = 1; // a row of the first batch
        fails_at(bad, 9);
    }
    SECTION("a map that throws")
    {
        sq::inserter mapped(db, "INSERT INTO t VALUES (?, ?)",
                            [](record const& r) {
                                if (std::get<0>(r) == 11)
                                    throw std::runtime_error("no eleven");
                                return std::tie(std::get<0>(r), std::get<1>(r));
                            },
                            {.rows_per_statement = 4});
        try {
            mapped.write(records(5, 13));
            FAIL("no error");
        } catch (sq::batch_error const& e) {
            CHECK(e.row_index() == 6);
            CHECK_THAT(std::string(e.what()),
                       Catch::Contains("batch 0, row 6 (0-based)") && Catch::Contains("no eleven"));
        }
    }
    CHECK(!db.in_transaction());
    CHECK(table(db) == records(1, 4));     // nothing of the failed batch
    CHECK(ins.write(records(5, 13)) == 9); // and the inserter goes on
    CHECK(table(db) == records(1, 13));
}

TEST_CASE("sqlite: rows_per_statement refuses an INSERT it cannot repeat, naming it",
          "[sqlite][sink]")
{
    sq::database db(":memory:");
    db.exec("CREATE TABLE t(id INTEGER, name TEXT)");
    auto const refused = [&](std::string const& sql, std::size_t n, std::string const& why) {
        INFO(sql);
        CHECK_THROWS_AS(sq::inserter(db, sql, {.rows_per_statement = n}), std::invalid_argument);
        CHECK_THROWS_WITH(sq::inserter(db, sql, {.rows_per_statement = n}),
                          Catch::Contains(why) && Catch::Contains(sql));
    };
    refused("INSERT INTO t SELECT ?, ?", 4, "needs INSERT ... VALUES (?, ...)");
    refused("INSERT INTO t VALUES (?1, ?2)", 4, "needs plain ? parameters (not ?NNN)");
    refused("INSERT INTO t VALUES (?, ?), (?, ?)", 4, "needs one row of values");
    refused("INSERT INTO t VALUES (:id, :name)", 4, "every parameter, as ?, in its row of values");
    refused("INSERT INTO t VALUES (?, ?) RETURNING id + ?", 4,
            "every parameter, as ?, in its row of values");
    refused("INSERT INTO t VALUES (?, ?)", 0, "rows_per_statement 0 for");
    refused("insert or fail into t values (?, ?)", 4, "(not OR FAIL)");
    refused("INSERT  OR  ROLLBACK INTO t VALUES (?, ?)", 4, "(not OR ROLLBACK)");
    sq::inserter ignore(db, "INSERT OR IGNORE INTO t VALUES (?, ?)", {.rows_per_statement = 4});
    int const limit = sqlite3_limit(db.handle(), SQLITE_LIMIT_VARIABLE_NUMBER, -1);
    refused("INSERT INTO t VALUES (?, ?)", static_cast<std::size_t>(limit),
            "parameters, more than SQLite's limit of " + std::to_string(limit));
    // 1 is one row a step: any INSERT.
    sq::inserter any(db, "INSERT INTO t SELECT ?, ?", {.rows_per_statement = 1});
    CHECK(any.write(records(1, 3)) == 3);
}

TEST_CASE("sqlite: a job sink commits through an inserter of several rows a step",
          "[sqlite][sink][job_sink]")
{
    test::temp_dir dir;
    sq::database db((dir / "out.db").string(), {.no_mutex = true});
    db.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT NOT NULL)");
    sq::inserter ins(db, "INSERT INTO t VALUES (?, ?)", {.rows_per_statement = 3});
    sq::job_sink sink(db, ins);
    CHECK(!sink.open({"load t"}));
    sink.commit(records(1, 7), {.position = "7", .identity = "f", .batches = 1, .records = 7});
    auto bad = records(8, 14);
    std::get<0>(bad[4]) = 3;
    CHECK_THROWS_AS(
        sink.commit(bad, {.position = "14", .identity = "f", .batches = 2, .records = 14}),
        sq::batch_error);
    sink.commit(records(8, 14), {.position = "14", .identity = "f", .batches = 2, .records = 14});
    sink.close();
    CHECK(table(db) == records(1, 14));
    auto const state = sq::job_sink(db, ins).open({"load t"});
    REQUIRE(state);
    CHECK(state->position == "14");
    CHECK(state->records == 14);
}

TEST_CASE("sqlite: database option no_mutex opens a connection without its mutex",
          "[sqlite][database]")
{
    test::temp_dir dir;
    std::string const file = (dir / "out.db").string();
    sq::database serialized(file);
    sq::database one_thread(file, {.no_mutex = true});
    CHECK(sqlite3_db_mutex(serialized.handle()) != nullptr);
    CHECK(sqlite3_db_mutex(one_thread.handle()) == nullptr);
    one_thread.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT NOT NULL)");
    sq::inserter(one_thread, "INSERT INTO t VALUES (?, ?)").write(records(1, 3));
    CHECK(table(serialized) == records(1, 3));
}

// CTest runs each test case in a process of its own, where SQLite is not yet initialised.
TEST_CASE("sqlite: disable_memory_status takes effect before SQLite is initialised, not after",
          "[sqlite][database]")
{
    bool const took = sq::disable_memory_status();
    sq::database db(":memory:");
    db.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT NOT NULL)");
    sq::inserter(db, "INSERT INTO t VALUES (?, ?)").write(records(1, 100));
    CHECK(table(db) == records(1, 100));
    CHECK(took);
    CHECK(sqlite3_memory_used() == 0);        // no statistics kept
    CHECK_FALSE(sq::disable_memory_status()); // initialised now: no effect
}
