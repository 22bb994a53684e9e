// sqlite::job_sink: state committed with its batch, the fence (a lease in the state row) against
// a second live copy, take-over from a killed one, fence_lost, and a race of two processes.
#include <streambatch/io/sqlite.hpp>
#include <streambatch/job/contract.hpp>

#include <catch2/catch.hpp>

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "job_sink_test_support.hpp"
#include "sql_test_support.hpp"

namespace sb = streambatch;
namespace sq = streambatch::sqlite;

namespace {

using batch = std::vector<test::job_record>;
using ins_sink = sq::job_sink<sq::detail::insert_batch<sb::sql::detail::same_columns>>;
static_assert(sb::job_sink<ins_sink, batch>);
static_assert(sb::job_sink<ins_sink, batch const&>);

void make_data_table(std::string const& file)
{
    sq::database db(file);
    db.exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=OFF;"
            "CREATE TABLE IF NOT EXISTS data(id INTEGER, name TEXT)");
}

struct table_sums {
    std::int64_t count, distinct, sum;
    friend bool operator==(table_sums const&, table_sums const&) = default;
};

table_sums sums(sq::database const& db)
{
    return {db.scalar<std::int64_t>("SELECT count(*) FROM data"),
            db.scalar<std::int64_t>("SELECT count(DISTINCT id) FROM data"),
            db.scalar<std::int64_t>("SELECT coalesce(sum(id * 7 + length(name)), 0) FROM data")};
}

/// The sums of rows(0, n).
table_sums expected(std::int64_t n)
{
    std::int64_t s = 0;
    for (auto const& [id, name] : test::rows(0, n))
        s += id * 7 + static_cast<std::int64_t>(name.size());
    return {n, n, s};
}

sb::job_state state_after(std::int64_t b, std::int64_t per)
{
    return {"offset " + std::to_string(b * per), "input v1", static_cast<std::uint64_t>(b),
            static_cast<std::uint64_t>(b * per)};
}

/// Opens `file`, takes the fence for `job` and commits batches [from, to) of `per` rows.
void commit_batches(ins_sink& sink, std::int64_t from, std::int64_t to, std::int64_t per)
{
    for (std::int64_t b = from; b < to; ++b)
        sink.commit(test::rows(b * per, per), state_after(b + 1, per));
}

std::string row_holder(sq::database const& db, std::string const& job)
{
    return db
        .scalar<std::optional<std::string>>(
            "SELECT holder FROM streambatch_job_state WHERE job = ?", job)
        .value_or("NULL");
}

} // namespace

TEST_CASE("sqlite: job_sink stores the state with each batch and gives it back after close",
          "[sqlite][job_sink]")
{
    test::temp_dir dir;
    std::string const file = (dir / "customers.db").string();
    make_data_table(file);
    sq::database db(file);
    sq::inserter ins(db, "INSERT INTO data VALUES (?, ?)");
    {
        sq::job_sink sink(db, ins);
        CHECK(sink.describe() == "SQLite " + file);
        CHECK_FALSE(sink.open({.job = "load customers"}));
        CHECK(sink.token() == 1);
        CHECK_THAT(row_holder(db, "load customers"), Catch::Contains(std::to_string(::getpid())));
        commit_batches(sink, 0, 4, 25);
        sink.close();
        CHECK(row_holder(db, "load customers") == "NULL");
    }
    CHECK(sums(db) == expected(100));
    {
        sq::job_sink sink(db, ins);
        auto const state = sink.open({.job = "load customers"});
        REQUIRE(state);
        CHECK(*state == state_after(4, 25));
        CHECK_FALSE(sink.taken_over()); // closed cleanly: nobody to take over from
        CHECK(sink.token() == 2);
        commit_batches(sink, 4, 6, 25);
    } // the destructor closes
    CHECK(row_holder(db, "load customers") == "NULL");
    CHECK(sums(db) == expected(150));
    CHECK(db.scalar<std::int64_t>("SELECT batches FROM streambatch_job_state") == 6);
    CHECK(db.scalar<std::int64_t>("SELECT records FROM streambatch_job_state") == 150);

    // Another job (and another partition of it) has its own row and fence.
    sq::job_sink other(db, ins);
    CHECK_FALSE(other.open({.job = "load customers", .part = {1, 4}}));
    CHECK(db.scalar<std::int64_t>("SELECT count(*) FROM streambatch_job_state") == 2);
}

TEST_CASE("sqlite: job_sink commits the batch and its state atomically", "[sqlite][job_sink]")
{
    test::temp_dir dir;
    std::string const file = (dir / "atomic.db").string();
    make_data_table(file);
    sq::database db(file);
    db.exec("CREATE UNIQUE INDEX data_id ON data(id)");
    sq::inserter ins(db, "INSERT INTO data VALUES (?, ?)");
    int calls = 0;
    sq::job_sink sink(db, [&](sq::database&, batch&& b) {
        ins.write_rows(b);
        if (++calls == 2)
            throw std::runtime_error("the disk is full (simulated)");
    });
    CHECK_FALSE(sink.open({.job = "atomic"}));
    sink.commit(test::rows(0, 10), state_after(1, 10));
    // A write that throws after inserting its rows: neither the rows nor the state stay.
    CHECK_THROWS_WITH(sink.commit(test::rows(10, 10), state_after(2, 10)),
                      Catch::Contains("the disk is full"));
    CHECK_FALSE(db.in_transaction());
    CHECK(sums(db) == expected(10));
    CHECK(db.scalar<std::string>("SELECT position FROM streambatch_job_state") == "offset 10");

    // A row the database refuses (a duplicate id): batch_error naming the row; nothing stays.
    batch dup = test::rows(10, 5);
    dup.push_back({3, "row 3"});
    try {
        sink.commit(std::move(dup), state_after(2, 10));
        FAIL("no error");
    } catch (sq::batch_error const& e) {
        CHECK(e.row_index() == 5);
        CHECK_THAT(e.what(), Catch::Contains("row 5") && Catch::Contains("UNIQUE"));
    }
    CHECK(sums(db) == expected(10));
    CHECK(db.scalar<std::int64_t>("SELECT batches FROM streambatch_job_state") == 1);

    // The fence is still ours, and the stored position still the one we wrote: go on.
    sink.commit(test::rows(10, 10), state_after(2, 10));
    CHECK(sums(db) == expected(20));
}

TEST_CASE("sqlite: job_sink refuses a second live copy with fence_held naming the holder",
          "[sqlite][job_sink]")
{
    test::temp_dir dir;
    std::string const file = (dir / "customers.db").string();
    make_data_table(file);
    test::gate release;
    test::child holder_proc([&](int out) {
        sq::database db(file);
        sq::inserter ins(db, "INSERT INTO data VALUES (?, ?)");
        sq::job_sink sink(db, ins);
        sink.open({.job = "load customers"});
        commit_batches(sink, 0, 2, 10);
        test::report_now(out, sink.self().to_text());
        release.wait();
        sink.close();
        return std::string("closed");
    });
    auto const recorded = sb::holder::from_text(holder_proc.report());
    REQUIRE(recorded);

    sq::database db(file);
    sq::inserter ins(db, "INSERT INTO data VALUES (?, ?)");
    sq::job_sink sink(db, ins);
    try {
        sink.open({.job = "load customers"});
        FAIL("no fence_held");
    } catch (sb::fence_held const& e) {
        CHECK(e.by == *recorded);
        CHECK(e.by.pid == holder_proc.pid());
        CHECK(e.by.host == sb::holder::self().host);
        std::string const what = e.what();
        CHECK_THAT(what,
                   Catch::Contains("job 'load customers' is already running: host " + e.by.host +
                                   ", pid " + std::to_string(holder_proc.pid()) + ", since 20"));
        CHECK_THAT(what, Catch::Contains(e.by.str()));
        CHECK_THAT(what, Catch::Contains(file));
        CHECK_THAT(what, Catch::Contains("this copy stops without writing"));
    }
    CHECK_FALSE(sink.holds());
    CHECK_FALSE(db.in_transaction());
    CHECK_THROWS_AS(sink.commit(test::rows(100, 1), state_after(3, 10)), std::logic_error);
    CHECK(sums(db) == expected(20));

    // Another sink of this very process: alive too.
    {
        sq::job_sink first(db, ins);
        first.open({.job = "same process"});
        sq::database db2(file);
        sq::inserter ins2(db2, "INSERT INTO data VALUES (?, ?)");
        sq::job_sink second(db2, ins2);
        CHECK_THROWS_AS(second.open({.job = "same process"}), sb::fence_held);
    }

    release.open(1);
    CHECK(holder_proc.report() == "closed");
    CHECK(holder_proc.finish() == 0);
    auto const state = sink.open({.job = "load customers"}); // released: ours now
    REQUIRE(state);
    CHECK(state->batches == 2);
    CHECK_FALSE(sink.taken_over());
}

TEST_CASE("sqlite: job_sink takes over the fence of a killed holder without cleanup",
          "[sqlite][job_sink]")
{
    test::temp_dir dir;
    std::string const file = (dir / "customers.db").string();
    make_data_table(file);
    test::child killed([&](int) {
        sq::database db(file);
        sq::inserter ins(db, "INSERT INTO data VALUES (?, ?)");
        sq::job_sink sink(db, ins);
        sink.open({.job = "load customers"});
        commit_batches(sink, 0, 3, 10);
        ::_exit(0); // no close(), no destructor: as if killed
        return std::string();
    });
    pid_t const gone_pid = killed.pid();
    CHECK(killed.finish() == 0);

    sq::database db(file);
    CHECK_THAT(row_holder(db, "load customers"), Catch::Contains(std::to_string(gone_pid)));
    sq::inserter ins(db, "INSERT INTO data VALUES (?, ?)");
    std::vector<std::string> notes;
    sq::job_sink sink(db, ins, {.log = [&](std::string const& n) { notes.push_back(n); }});
    auto const state = sink.open({.job = "load customers"});
    test::check_takeover(sink, state, state_after(3, 10), notes, gone_pid, "that process is gone",
                         file);
    CHECK_THAT(row_holder(db, "load customers"), Catch::Contains(std::to_string(::getpid())));
    commit_batches(sink, 3, 5, 10);
    CHECK(sums(db) == expected(50));
}

TEST_CASE("sqlite: job_sink whose fence was taken over gets fence_lost and writes nothing",
          "[sqlite][job_sink]")
{
    test::temp_dir dir;
    std::string const file = (dir / "customers.db").string();
    make_data_table(file);
    sq::database db_a(file), db_b(file);
    sq::inserter ins_a(db_a, "INSERT INTO data VALUES (?, ?)");
    sq::inserter ins_b(db_b, "INSERT INTO data VALUES (?, ?)");
    sq::job_sink a(db_a, ins_a);
    a.open({.job = "load customers"});
    commit_batches(a, 0, 2, 10);

    SECTION("a second writer took over after the first was deemed gone")
    {
        // A's lease as a dead process would have left it (A stalled, and someone judged it
        // gone: another pid of this host that no longer runs).
        test::child dead([](int) { return std::string(); });
        pid_t const dead_pid = dead.pid();
        dead.finish();
        sb::holder ghost = sb::holder::self();
        ghost.pid = dead_pid;
        db_b.exec("UPDATE streambatch_job_state SET holder = ?", ghost.to_text());

        std::vector<std::string> notes;
        sq::job_sink b(db_b, ins_b, {.log = [&](std::string const& n) { notes.push_back(n); }});
        auto const state = b.open({.job = "load customers"});
        REQUIRE(state);
        CHECK(state->batches == 2);
        CHECK(notes.size() == 1);

        try {
            a.commit(test::rows(20, 10), state_after(3, 10));
            FAIL("no fence_lost");
        } catch (sb::fence_lost const& e) {
            CHECK_THAT(e.what(),
                       Catch::Contains("job 'load customers': the stored state moved under this "
                                       "writer") &&
                           Catch::Contains("token 1, last position \"offset 20\"") &&
                           Catch::Contains("the fence is now held by host ") &&
                           Catch::Contains("pid " + std::to_string(::getpid()) + ", since") &&
                           Catch::Contains("(token 2)") && Catch::Contains(file) &&
                           Catch::Contains("this batch was not written"));
        }
        CHECK(sums(db_a) == expected(20));
        CHECK_FALSE(db_a.in_transaction());
        a.close(); // must not release B's fence
        CHECK_THAT(row_holder(db_a, "load customers"), Catch::Contains(std::to_string(::getpid())));
        CHECK(db_a.scalar<std::int64_t>("SELECT token FROM streambatch_job_state") == 2);
        commit_batches(b, 2, 3, 10); // B goes on from the stored position
        CHECK(sums(db_a) == expected(30));
    }
    SECTION("the stored position moved under it")
    {
        db_b.exec("UPDATE streambatch_job_state SET position = 'offset 999'");
        CHECK_THROWS_AS(a.commit(test::rows(20, 10), state_after(3, 10)), sb::fence_lost);
        CHECK(sums(db_a) == expected(20));
        CHECK(db_a.scalar<std::string>("SELECT position FROM streambatch_job_state") ==
              "offset 999");
    }
    SECTION("its row was deleted")
    {
        db_b.exec("DELETE FROM streambatch_job_state");
        CHECK_THROWS_WITH(a.commit(test::rows(20, 10), state_after(3, 10)),
                          Catch::Contains("its row was deleted"));
        CHECK(sums(db_a) == expected(20));
    }
}

TEST_CASE("sqlite: job_sink lets exactly one of two racing processes write (50 rounds)",
          "[sqlite][job_sink][race]")
{
    test::temp_dir dir;
    constexpr std::int64_t batches = 4, per = 5;
    int won_first = 0;
    for (int round = 0; round < 50; ++round) {
        std::string const file = (dir / ("race" + std::to_string(round) + ".db")).string();
        make_data_table(file);
        bool const a_won = test::race_round(
            [&](auto&& run) {
                sq::database db(file);
                db.exec("PRAGMA synchronous=OFF"); // per connection: no fsync per commit
                sq::inserter ins(db, "INSERT INTO data VALUES (?, ?)");
                sq::job_sink sink(db, ins);
                return run(sink);
            },
            [&](auto& sink) { commit_batches(sink, 0, batches, per); });
        INFO("round " << round);
        won_first += a_won;
        sq::database db(file);
        REQUIRE(sums(db) == expected(batches * per));
        CHECK(db.scalar<std::int64_t>("SELECT batches FROM streambatch_job_state") == batches);
    }
    INFO("the first child won " << won_first << " of 50 rounds");
    SUCCEED();
}

TEST_CASE("sqlite: job_sink takes a holder on another host to be live and says how to clear it",
          "[sqlite][job_sink]")
{
    test::temp_dir dir;
    std::string const file = (dir / "shared.db").string();
    make_data_table(file);
    sq::database db(file);
    sq::inserter ins(db, "INSERT INTO data VALUES (?, ?)");
    {
        sq::job_sink first(db, ins);
        first.open({.job = "it's"});
        commit_batches(first, 0, 1, 10);
    }
    sb::holder far = sb::holder::self();
    far.host = "db7.elsewhere";
    far.pid = 1; // a pid that runs here: only the host may decide
    db.exec("UPDATE streambatch_job_state SET holder = ?", far.to_text());
    sq::job_sink sink(db, ins);
    try {
        sink.open({.job = "it's"});
        FAIL("no fence_held");
    } catch (sb::fence_held const& e) {
        CHECK(e.by == far);
        CHECK_THAT(e.what(), Catch::Contains("host db7.elsewhere, pid 1, since") &&
                                 Catch::Contains("on another host: if that host is gone, clear "
                                                 "the fence: UPDATE \"streambatch_job_state\" SET "
                                                 "holder = NULL WHERE job = 'it''s'"));
    }
    db.exec("UPDATE \"streambatch_job_state\" SET holder = NULL WHERE job = 'it''s'");
    auto const state = sink.open({.job = "it's"});
    REQUIRE(state);
    CHECK(state->batches == 1);
    CHECK(sums(db) == expected(10));
}
