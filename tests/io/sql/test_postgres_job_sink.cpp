// postgres::job_sink: state committed with its batch, the fence (a session-level advisory lock)
// against a second copy, take-over from a killed one, fence_lost, and a race of two processes.
// Runs against pg_server.sh's server.
#include <streambatch/io/postgres.hpp>
#include <streambatch/job/contract.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "job_sink_test_support.hpp"
#include "sql_test_support.hpp"

namespace sb = streambatch;
namespace pg = streambatch::postgres;

namespace {

using batch = std::vector<test::job_record>;
using copy_job_sink = pg::job_sink<pg::detail::copy_batch<sb::sql::detail::same_columns>>;
static_assert(sb::job_sink<copy_job_sink, batch>);
static_assert(sb::job_sink<copy_job_sink, batch const&>);
static_assert(sb::confirming_job_sink<copy_job_sink, batch>);

pg::connection connect()
{
    test::use_test_server();
    pg::connection c;
    c.exec("SET client_min_messages = warning");
    return c;
}

/// A data table and a state table of this test's own (tests run in parallel on one server).
struct tables {
    std::string data = test::unique_name("job_data");
    std::string state = test::unique_name("job_state");
    explicit tables(pg::connection const& c)
    {
        c.exec("CREATE TABLE " + data + " (id bigint, name text)");
    }
    sb::sql::job_sink_options options() const { return {.state_table = state}; }
};

struct table_sums {
    std::int64_t count, distinct, sum;
    friend bool operator==(table_sums const&, table_sums const&) = default;
};

table_sums sums(pg::connection const& c, std::string const& data)
{
    return {c.scalar<std::int64_t>("SELECT count(*) FROM " + data),
            c.scalar<std::int64_t>("SELECT count(DISTINCT id) FROM " + data),
            c.scalar<std::int64_t>("SELECT coalesce(sum(id * 7 + length(name)), 0)::bigint FROM " +
                                   data)};
}

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

template <class Sink>
void commit_batches(Sink& sink, std::int64_t from, std::int64_t to, std::int64_t per)
{
    for (std::int64_t b = from; b < to; ++b)
        sink.commit(test::rows(b * per, per), state_after(b + 1, per));
}

std::string row_holder(pg::connection const& c, tables const& t, std::string const& job)
{
    return c
        .scalar<std::optional<std::string>>("SELECT holder FROM " + t.state + " WHERE job = $1",
                                            job)
        .value_or("NULL");
}

} // namespace

TEST_CASE("postgres: job_sink stores the state with each batch and gives it back after close",
          "[postgres][job_sink]")
{
    auto conn = connect();
    tables const t(conn);
    pg::copy_sink copy(conn, t.data);
    {
        pg::job_sink sink(conn, copy, t.options());
        CHECK(sink.describe() == "PostgreSQL " + conn.where() + " table " + t.data);
        CHECK_FALSE(sink.open({.job = "load customers"}));
        CHECK(sink.token() == 1);
        CHECK(conn.scalar<std::int64_t>(
                  "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = "
                  "pg_backend_pid() AND classid = (($1::bigint >> 32) & 4294967295)::oid AND "
                  "objid = ($1::bigint & 4294967295)::oid",
                  sink.lock_key()) == 1);
        CHECK_THAT(row_holder(conn, t, "load customers"),
                   Catch::Contains(std::to_string(::getpid())));
        commit_batches(sink, 0, 4, 25);
        sink.close();
        CHECK(row_holder(conn, t, "load customers") == "NULL");
        CHECK(conn.scalar<std::int64_t>("SELECT count(*) FROM pg_locks WHERE locktype = "
                                        "'advisory' AND pid = pg_backend_pid()") == 0);
    }
    CHECK(sums(conn, t.data) == expected(100));
    {
        pg::job_sink sink(conn, copy, t.options());
        auto const state = sink.open({.job = "load customers"});
        REQUIRE(state);
        CHECK(*state == state_after(4, 25));
        CHECK_FALSE(sink.taken_over());
        CHECK(sink.token() == 2);
        commit_batches(sink, 4, 6, 25);
    } // the destructor closes
    CHECK(row_holder(conn, t, "load customers") == "NULL");
    CHECK(sums(conn, t.data) == expected(150));
    CHECK(conn.scalar<std::int64_t>("SELECT batches FROM " + t.state) == 6);
    CHECK(conn.scalar<std::int64_t>("SELECT records FROM " + t.state) == 150);
    CHECK_FALSE(conn.in_transaction());
}

TEST_CASE("postgres: job_sink commits the batch and its state atomically", "[postgres][job_sink]")
{
    auto conn = connect();
    tables const t(conn);
    conn.exec("CREATE UNIQUE INDEX ON " + t.data + " (id)");
    pg::copy_sink copy(conn, t.data);
    int calls = 0;
    pg::job_sink sink(
        conn,
        [&](pg::connection&, batch&& b) {
            copy.write_rows(b);
            if (++calls == 2)
                throw std::runtime_error("the disk is full (simulated)");
        },
        t.options());
    CHECK(sink.describe() == "PostgreSQL " + conn.where());
    CHECK_FALSE(sink.open({.job = "atomic"}));
    sink.commit(test::rows(0, 10), state_after(1, 10));
    CHECK_THROWS_WITH(sink.commit(test::rows(10, 10), state_after(2, 10)),
                      Catch::Contains("the disk is full"));
    CHECK_FALSE(conn.in_transaction());
    CHECK(sums(conn, t.data) == expected(10));
    CHECK(conn.scalar<std::string>("SELECT position FROM " + t.state) == "offset 10");

    batch dup = test::rows(10, 5);
    dup.push_back({3, "row 3"});
    try {
        sink.commit(std::move(dup), state_after(2, 10));
        FAIL("no error");
    } catch (pg::batch_error const& e) {
        CHECK(e.sqlstate() == "23505");
        CHECK(e.row_index() == 5);
        CHECK_THAT(e.what(), Catch::Contains("row 5"));
    }
    CHECK_FALSE(conn.in_transaction());
    CHECK(sums(conn, t.data) == expected(10));
    CHECK(conn.scalar<std::int64_t>("SELECT batches FROM " + t.state) == 1);

    sink.commit(test::rows(10, 10), state_after(2, 10));
    CHECK(sums(conn, t.data) == expected(20));
}

TEST_CASE("postgres: job_sink refuses a second copy with fence_held naming the holder",
          "[postgres][job_sink]")
{
    auto conn_a = connect(), conn_b = connect();
    tables const t(conn_a);
    pg::copy_sink copy_a(conn_a, t.data), copy_b(conn_b, t.data);
    pg::job_sink a(conn_a, copy_a, t.options());
    a.open({.job = "load customers"});
    commit_batches(a, 0, 2, 10);

    pg::job_sink b(conn_b, copy_b, t.options());
    try {
        b.open({.job = "load customers"});
        FAIL("no fence_held");
    } catch (sb::fence_held const& e) {
        CHECK(e.by == a.self());
        std::string const what = e.what();
        CHECK_THAT(what,
                   Catch::Contains("job 'load customers' is already running: host " + e.by.host +
                                   ", pid " + std::to_string(::getpid()) + ", since 20"));
        CHECK_THAT(what, Catch::Contains(a.self().str()));
        CHECK_THAT(what,
                   Catch::Contains("backend pid " + std::to_string(PQbackendPID(conn_a.handle()))));
        CHECK_THAT(what, Catch::Contains(t.state) && Catch::Contains(conn_a.where()));
        CHECK_THAT(what, Catch::Contains("this copy stops without writing"));
    }
    CHECK_FALSE(b.holds());
    CHECK_FALSE(conn_b.in_transaction());
    CHECK_THROWS_AS(b.commit(test::rows(100, 1), state_after(3, 10)), std::logic_error);
    CHECK(sums(conn_b, t.data) == expected(20));

    // A second sink on the holder's own connection: the lock would be granted again (advisory
    // locks nest in a session); refused all the same.
    pg::job_sink same(conn_a, copy_a, t.options());
    CHECK_THROWS_WITH(same.open({.job = "load customers"}),
                      Catch::Contains("through this very connection"));

    a.close();
    auto const state = b.open({.job = "load customers"});
    REQUIRE(state);
    CHECK(state->batches == 2);
    CHECK_FALSE(b.taken_over());
    commit_batches(b, 2, 3, 10);
    CHECK(sums(conn_b, t.data) == expected(30));
}

TEST_CASE("postgres: job_sink takes over the fence of a killed holder without cleanup",
          "[postgres][job_sink]")
{
    auto conn = connect();
    tables const t(conn);
    test::child killed([&](int) {
        pg::connection c; // its own connection: it closes when the process dies
        pg::copy_sink copy(c, t.data);
        pg::job_sink sink(c, copy, t.options());
        sink.open({.job = "load customers"});
        commit_batches(sink, 0, 3, 10);
        ::_exit(0); // no close(), no destructor: as if killed
        return std::string();
    });
    pid_t const gone_pid = killed.pid();
    CHECK(killed.finish() == 0);
    CHECK_THAT(row_holder(conn, t, "load customers"), Catch::Contains(std::to_string(gone_pid)));

    pg::copy_sink copy(conn, t.data);
    std::vector<std::string> notes;
    auto opts = t.options();
    opts.log = [&](std::string const& n) { notes.push_back(n); };
    pg::job_sink sink(conn, copy, opts);
    auto const state = sink.open({.job = "load customers"});
    test::check_takeover(sink, state, state_after(3, 10), notes, gone_pid,
                         "its connection closed without releasing it", t.state);
    commit_batches(sink, 3, 5, 10);
    CHECK(sums(conn, t.data) == expected(50));
}

TEST_CASE("postgres: job_sink waits a while for a dead holder's connection, then names it",
          "[postgres][job_sink]")
{
    auto conn_a = connect(), conn_b = connect();
    tables const t(conn_a);
    pg::copy_sink copy_a(conn_a, t.data), copy_b(conn_b, t.data);
    pg::job_sink a(conn_a, copy_a, t.options());
    a.open({.job = "load customers"});
    // The row says a process of this host that is gone holds it, but a live connection holds
    // the lock (a process killed while the server has not yet seen its connection close).
    test::child dead([](int) { return std::string(); });
    sb::holder ghost = sb::holder::self();
    ghost.pid = dead.pid();
    dead.finish();
    conn_b.exec("UPDATE " + t.state + " SET holder = $1", ghost.to_text());
    auto opts = t.options();
    opts.dead_holder_wait = std::chrono::milliseconds(200);
    pg::job_sink b(conn_b, copy_b, opts);
    try {
        b.open({.job = "load customers"});
        FAIL("no fence_held");
    } catch (sb::fence_held const& e) {
        CHECK(e.by == ghost);
        CHECK_THAT(
            e.what(),
            Catch::Contains("pid " + std::to_string(ghost.pid)) &&
                Catch::Contains("backend pid " + std::to_string(PQbackendPID(conn_a.handle()))) &&
                Catch::Contains("that process is gone but its connection still holds the "
                                "lock after 200 ms"));
    }
    CHECK_FALSE(conn_b.in_transaction());
    a.close(); // the row still has A's token: A clears it and frees the lock; B gets it
    CHECK(b.open({.job = "load customers"}) == std::nullopt);
}

TEST_CASE("postgres: job_sink whose fence moved gets fence_lost and writes nothing",
          "[postgres][job_sink]")
{
    auto conn = connect(), other = connect();
    tables const t(conn);
    pg::copy_sink copy(conn, t.data);
    pg::job_sink a(conn, copy, t.options());
    a.open({.job = "load customers"});
    commit_batches(a, 0, 2, 10);

    SECTION("another writer took the row over")
    {
        sb::holder usurper = sb::holder::self();
        usurper.host = "db9";
        usurper.pid = 4242;
        other.exec("UPDATE " + t.state + " SET holder = $1, token = token + 1", usurper.to_text());
        try {
            a.commit(test::rows(20, 10), state_after(3, 10));
            FAIL("no fence_lost");
        } catch (sb::fence_lost const& e) {
            CHECK_THAT(e.what(),
                       Catch::Contains("job 'load customers': the stored state moved under this "
                                       "writer") &&
                           Catch::Contains("token 1, last position \"offset 20\"") &&
                           Catch::Contains("the fence is now held by host db9, pid 4242, since") &&
                           Catch::Contains("(token 2)") && Catch::Contains(t.state) &&
                           Catch::Contains("this batch was not written"));
        }
        CHECK_FALSE(conn.in_transaction());
        CHECK(sums(other, t.data) == expected(20));
        a.close(); // must not clear the usurper's holder
        CHECK_THAT(row_holder(other, t, "load customers"), Catch::Contains("db9\t4242"));
    }
    SECTION("the stored position moved under it")
    {
        other.exec("UPDATE " + t.state + " SET position = 'offset 999'");
        CHECK_THROWS_AS(a.commit(test::rows(20, 10), state_after(3, 10)), sb::fence_lost);
        CHECK(sums(other, t.data) == expected(20));
        CHECK(other.scalar<std::string>("SELECT position FROM " + t.state) == "offset 999");
    }
}

TEST_CASE("postgres: job_sink lets exactly one of two racing processes write (50 rounds)",
          "[postgres][job_sink][race]")
{
    auto conn = connect();
    tables const t(conn);
    conn.exec("ALTER TABLE " + t.data + " ADD COLUMN round int");
    constexpr std::int64_t batches = 4, per = 5;
    int won_first = 0;
    for (int round = 0; round < 50; ++round) {
        // One job ("race") for all rounds: from the second on, its row exists (the holder
        // cleared), so nothing but the row lock open() takes orders the two copies.
        bool const a_won = test::race_round(
            [&](auto&& run) {
                pg::connection c;
                c.exec("SET synchronous_commit = off");
                pg::copy_sink copy(c, t.data, {"id", "name", "round"},
                                   [round](test::job_record const& r) {
                                       return std::tuple(std::get<0>(r), std::get<1>(r), round);
                                   });
                pg::job_sink sink(c, copy, t.options());
                return run(sink);
            },
            [&](auto& sink) { commit_batches(sink, 0, batches, per); });
        INFO("round " << round);
        won_first += a_won;
        std::string const where = " WHERE round = " + std::to_string(round);
        REQUIRE(table_sums{
                    conn.scalar<std::int64_t>("SELECT count(*) FROM " + t.data + where),
                    conn.scalar<std::int64_t>("SELECT count(DISTINCT id) FROM " + t.data + where),
                    conn.scalar<std::int64_t>(
                        "SELECT coalesce(sum(id * 7 + length(name)), 0)::bigint FROM " + t.data +
                        where)} == expected(batches * per));
        CHECK(conn.scalar<std::int64_t>("SELECT batches FROM " + t.state + " WHERE job = $1",
                                        "race") == batches);
    }
    INFO("the first child won " << won_first << " of 50 rounds");
    SUCCEED();
}

TEST_CASE("postgres: job_sink send returns before the server's verdict, confirm gives it naming "
          "the batch and row, and the sink goes on from the last confirmed state",
          "[postgres][job_sink][confirm]")
{
    auto conn = connect();
    tables const t(conn);
    conn.exec("CREATE UNIQUE INDEX ON " + t.data + " (id)");
    pg::copy_sink copy(conn, t.data);
    auto const format = GENERATE(pg::copy_format::automatic, pg::copy_format::text);
    copy.format(format);
    pg::job_sink sink(conn, copy, t.options());
    CHECK_FALSE(sink.open({.job = "confirm"}));
    sink.send(test::rows(0, 10), state_after(1, 10));
    sink.confirm();
    CHECK(copy.last_format() ==
          (format == pg::copy_format::text ? pg::copy_format::text : pg::copy_format::binary));
    CHECK(sums(conn, t.data) == expected(10));

    batch dup = test::rows(10, 10);
    dup[5] = {3, "row 3"};                         // committed by batch 0
    sink.send(std::move(dup), state_after(2, 10)); // the server has not answered yet
    try {
        sink.confirm();
        FAIL("no error");
    } catch (pg::batch_error const& e) {
        CHECK(e.sqlstate() == "23505");
        CHECK(e.batch_index() == 1);
        CHECK(e.row_index() == 5);
        CHECK_THAT(e.what(), Catch::Contains("batch 1, row 5"));
    }
    CHECK_FALSE(conn.in_transaction());
    CHECK(sums(conn, t.data) == expected(10));
    CHECK(copy.rows_written() == 10); // the refused batch's rows are not counted
    CHECK(conn.scalar<std::string>("SELECT position FROM " + t.state) == "offset 10");
    sink.confirm(); // nothing sent: nothing to do

    // The sink expects batch 0's state again: the next batch commits on it.
    sink.send(test::rows(10, 10), state_after(2, 10));
    sink.commit(test::rows(20, 10), state_after(3, 10)); // confirms the batch sent first
    CHECK(sums(conn, t.data) == expected(30));
    CHECK(conn.scalar<std::string>("SELECT position FROM " + t.state) == "offset 30");
    sink.send(test::rows(30, 10), state_after(4, 10));
    sink.close(); // waits for the batch sent before it lets the fence go
    CHECK(sums(conn, t.data) == expected(40));
    CHECK(conn.scalar<std::int64_t>("SELECT batches FROM " + t.state) == 4);
}

TEST_CASE("postgres: job_sink begins a binary batch again with the new column types when the "
          "table was altered since the last batch",
          "[postgres][job_sink][format]")
{
    auto conn = connect();
    tables const t(conn);
    pg::copy_sink copy(conn, t.data);
    pg::job_sink sink(conn, copy, t.options());
    CHECK_FALSE(sink.open({.job = "altered"}));
    sink.send(test::rows(0, 10), state_after(1, 10));
    sink.confirm();
    CHECK(copy.last_format() == pg::copy_format::binary);
    CHECK_THAT(copy.check_sql(), Catch::StartsWith("LOCK TABLE " + t.data));

    conn.exec("ALTER TABLE " + t.data + " ALTER COLUMN id TYPE integer"); // 4 bytes now
    sink.commit(test::rows(10, 10), state_after(2, 10));
    CHECK(copy.last_format() == pg::copy_format::binary);
    CHECK(sums(conn, t.data) == expected(20));
    CHECK(conn.scalar<std::string>("SELECT position FROM " + t.state) == "offset 20");

    conn.exec("ALTER TABLE " + t.data + " ALTER COLUMN id TYPE numeric"); // no binary for it
    sink.send(test::rows(20, 10), state_after(3, 10));
    sink.confirm();
    CHECK(copy.last_format() == pg::copy_format::text);
    CHECK(copy.check_sql().empty());
    CHECK(sums(conn, t.data) == expected(30));
    CHECK(copy.rows_written() == 30);
}

TEST_CASE("postgres: job_sink send reports a lost fence at once and writes nothing",
          "[postgres][job_sink][confirm]")
{
    auto conn = connect();
    tables const t(conn);
    pg::copy_sink copy(conn, t.data);
    pg::job_sink sink(conn, copy, t.options());
    CHECK_FALSE(sink.open({.job = "lost"}));
    sink.send(test::rows(0, 10), state_after(1, 10));
    sink.confirm();
    auto other = connect(); // another writer moves the state under this one
    other.exec("UPDATE " + t.state + " SET position = 'offset 999', token = token + 1");
    CHECK_THROWS_AS(sink.send(test::rows(10, 10), state_after(2, 10)), sb::fence_lost);
    sink.confirm();
    CHECK_FALSE(conn.in_transaction());
    CHECK(sums(conn, t.data) == expected(10));
}

namespace {

/// Another connection's view: what is committed.
struct committed {
    std::int64_t rows;
    std::optional<std::string> position;
    friend bool operator==(committed const&, committed const&) = default;
};

committed seen_by(pg::connection const& other, tables const& t)
{
    return {other.scalar<std::int64_t>("SELECT count(*) FROM " + t.data),
            other.scalar<std::optional<std::string>>("SELECT position FROM " + t.state)};
}

sb::sql::job_sink_options in_transactions_of(tables const& t, std::size_t rows,
                                             std::chrono::milliseconds time = std::chrono::hours(1))
{
    auto o = t.options();
    o.transaction_rows = rows;
    o.transaction_time = time;
    return o;
}

} // namespace

static_assert(sb::holding_job_sink<copy_job_sink, batch>);

TEST_CASE("postgres: job_sink with transaction_rows holds batches in one transaction and commits "
          "them with the last one's state once it holds that many rows",
          "[postgres][job_sink][transaction_rows]")
{
    auto conn = connect();
    auto other = connect();
    tables const t(conn);
    pg::copy_sink copy(conn, t.data);
    auto const format = GENERATE(pg::copy_format::automatic, pg::copy_format::text);
    copy.format(format);
    pg::job_sink sink(conn, copy, in_transactions_of(t, 25));
    CHECK_FALSE(sink.open({.job = "grouped"}));
    sink.send(test::rows(0, 10), state_after(1, 10));
    CHECK_FALSE(sink.confirm_or_hold()); // 10 rows: held
    CHECK(conn.in_transaction());
    sink.send(test::rows(10, 10), state_after(2, 10));
    CHECK_FALSE(sink.confirm_or_hold());                    // 20
    CHECK(seen_by(other, t) == committed{0, std::nullopt}); // nothing visible yet
    CHECK(copy.rows_written() == 0);
    sink.send(test::rows(20, 10), state_after(3, 10));
    CHECK(sink.confirm_or_hold()); // 30 >= 25: committed, with batch 3's state
    CHECK_FALSE(conn.in_transaction());
    CHECK(seen_by(other, t) == committed{30, "offset 30"});
    CHECK(other.scalar<std::int64_t>("SELECT batches FROM " + t.state) == 3);
    CHECK(copy.rows_written() == 30);
    CHECK(sums(conn, t.data) == expected(30));

    sink.send(test::rows(30, 10), state_after(4, 10));
    CHECK_FALSE(sink.confirm_or_hold());
    sink.confirm(); // commits what it holds
    CHECK(seen_by(other, t) == committed{40, "offset 40"});
    CHECK(sink.confirm_or_hold()); // nothing held
    sink.send(test::rows(40, 10), state_after(5, 10));
    sink.close(); // commits the batch held before the fence goes
    CHECK(seen_by(other, t) == committed{50, "offset 50"});
    CHECK(sums(conn, t.data) == expected(50));
    CHECK(copy.rows_written() == 50);
}

TEST_CASE("postgres: job_sink with transaction_rows rolls the whole transaction back when the "
          "server refuses a row, names its batch and row, and goes on from the state before",
          "[postgres][job_sink][transaction_rows]")
{
    auto conn = connect();
    auto other = connect();
    tables const t(conn);
    conn.exec("CREATE UNIQUE INDEX ON " + t.data + " (id)");
    pg::copy_sink copy(conn, t.data);
    auto const format = GENERATE(pg::copy_format::automatic, pg::copy_format::text);
    copy.format(format);
    pg::job_sink sink(conn, copy, in_transactions_of(t, 100));
    CHECK_FALSE(sink.open({.job = "refused"}));
    sink.send(test::rows(0, 10), state_after(1, 10));
    sink.confirm();
    sink.send(test::rows(10, 10), state_after(2, 10));
    CHECK_FALSE(sink.confirm_or_hold());
    // The batch's first row, one inside, its last: a COPY line maps to the right batch at its
    // edges too.
    std::size_t const bad = GENERATE(0u, 5u, 9u);
    batch dup = test::rows(20, 10);
    dup[bad] = {3, "row 3"}; // committed by batch 0
    sink.send(std::move(dup), state_after(3, 10));
    CHECK_FALSE(sink.confirm_or_hold()); // its rows go into the open COPY: no verdict yet
    sink.send(test::rows(30, 10), state_after(4, 10));
    try {
        sink.confirm(); // the COPY ends: the server names the line, in batch 2
        FAIL("no error");
    } catch (pg::batch_error const& e) {
        CHECK(e.sqlstate() == "23505");
        CHECK(e.batch_index() == 2);
        CHECK(e.row_index() == bad);
        CHECK_THAT(e.what(), Catch::Contains("batch 2, row " + std::to_string(bad)));
    }
    CHECK_FALSE(conn.in_transaction());
    // Batch 1, held in the same transaction, went with it: the state is batch 0's.
    CHECK(seen_by(other, t) == committed{10, "offset 10"});
    CHECK(copy.rows_written() == 10);
    CHECK(sink.confirm_or_hold()); // nothing held

    // The sink expects batch 0's state again: the job resumes from batch 1.
    sink.send(test::rows(10, 10), state_after(2, 10));
    sink.send(test::rows(20, 10), state_after(3, 10));
    sink.confirm();
    CHECK(seen_by(other, t) == committed{30, "offset 30"});
    CHECK(sums(conn, t.data) == expected(30));
    CHECK(copy.rows_written() == 30);
}

TEST_CASE("postgres: job_sink with transaction_rows rolls the transaction back when a batch "
          "fails on the client, and commits an old transaction after transaction_time",
          "[postgres][job_sink][transaction_rows]")
{
    auto conn = connect();
    auto other = connect();
    tables const t(conn);
    conn.exec("ALTER TABLE " + t.data + " ALTER COLUMN id TYPE smallint");
    pg::copy_sink copy(conn, t.data);
    copy.format(pg::copy_format::binary);
    SECTION("a value the column cannot take, found while encoding")
    {
        pg::job_sink sink(conn, copy, in_transactions_of(t, 100));
        CHECK_FALSE(sink.open({.job = "client"}));
        sink.send(test::rows(0, 10), state_after(1, 10));
        CHECK_FALSE(sink.confirm_or_hold());
        batch big = test::rows(10, 10);
        big[3] = {40000, "row 40000"};
        try {
            sink.send(std::move(big), state_after(2, 10));
            FAIL("no error");
        } catch (pg::batch_error const& e) {
            CHECK(e.batch_index() == 1);
            CHECK(e.row_index() == 3);
            CHECK_THAT(e.what(), Catch::Contains("smallint"));
        }
        CHECK_FALSE(conn.in_transaction());
        CHECK(seen_by(other, t) == committed{0, std::nullopt});
        CHECK(sink.confirm_or_hold()); // nothing held: batch 0 went with the transaction
        sink.send(test::rows(0, 10), state_after(1, 10));
        sink.confirm();
        CHECK(seen_by(other, t) == committed{10, "offset 10"});
    }
    SECTION("transaction_time")
    {
        pg::job_sink sink(conn, copy, in_transactions_of(t, 100, std::chrono::milliseconds(50)));
        CHECK_FALSE(sink.open({.job = "time"}));
        sink.send(test::rows(0, 10), state_after(1, 10));
        CHECK_FALSE(sink.confirm_or_hold()); // young and small: held
        std::this_thread::sleep_for(std::chrono::milliseconds(60));
        sink.send(test::rows(10, 10), state_after(2, 10));
        CHECK(sink.confirm_or_hold()); // open 60 ms: committed though it holds 20 rows
        CHECK(seen_by(other, t) == committed{20, "offset 20"});
    }
}

TEST_CASE("postgres: job_sink with transaction_rows names every batch of the transaction when the "
          "server's error names no row (a foreign key at the COPY's end, a deferred constraint "
          "at COMMIT)",
          "[postgres][job_sink][transaction_rows]")
{
    auto conn = connect();
    auto other = connect();
    tables const t(conn);
    std::string const parent = test::unique_name("job_parent");
    conn.exec("CREATE TABLE " + parent + " (id bigint PRIMARY KEY)");
    conn.exec("INSERT INTO " + parent + " SELECT generate_series(0, 99)");
    auto const format = GENERATE(pg::copy_format::automatic, pg::copy_format::text);
    SECTION("a foreign key")
    {
        conn.exec("ALTER TABLE " + t.data + " ADD FOREIGN KEY (id) REFERENCES " + parent);
    }
    SECTION("a deferred unique constraint")
    {
        conn.exec("ALTER TABLE " + t.data + " ADD UNIQUE (id) DEFERRABLE INITIALLY DEFERRED");
    }
    pg::copy_sink copy(conn, t.data);
    copy.format(format);
    pg::job_sink sink(conn, copy, in_transactions_of(t, 1000));
    CHECK_FALSE(sink.open({.job = "no row"}));
    sink.send(test::rows(0, 10), state_after(1, 10));
    sink.confirm();
    for (std::int64_t b = 1; b < 4; ++b) {
        batch rows = test::rows(b * 10, 10);
        if (b == 2)
            rows[4] = {3, "row 3"}; // a duplicate of batch 0's, or ...
        if (b == 3)
            rows[6] = {500, "row 500"}; // ... no parent
        sink.send(std::move(rows), state_after(b + 1, 10));
        CHECK_FALSE(sink.confirm_or_hold());
    }
    try {
        sink.confirm();
        FAIL("no error");
    } catch (pg::batch_error const& e) {
        CHECK((e.sqlstate() == "23503" || e.sqlstate() == "23505"));
        CHECK(e.batch_index() == 1); // where the job resumes
        CHECK(e.row_index() == pg::batch_error::npos);
        CHECK_THAT(e.what(),
                   Catch::Contains("batches 1..3 (0-based, one transaction) into " + t.data));
    }
    CHECK_FALSE(conn.in_transaction());
    CHECK(seen_by(other, t) == committed{10, "offset 10"});
    CHECK(copy.rows_written() == 10);
}
