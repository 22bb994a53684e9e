// job/run_job.hpp with the test doubles of support/vector_job.hpp: resume, identity, fence, stop.
#include <streambatch/job/run_job.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <numeric>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

#include "support/vector_job.hpp"

namespace sb = streambatch;
using test_support::memory_sink;
using test_support::memory_store;
using test_support::vector_source;

namespace {

std::vector<std::int64_t> numbers(std::int64_t n)
{
    std::vector<std::int64_t> v(static_cast<std::size_t>(n));
    std::iota(v.begin(), v.end(), 1);
    return v;
}

auto const doubled = [](auto& batch) {
    std::vector<std::int64_t> out;
    for (std::int64_t x : batch)
        out.push_back(2 * x);
    return out;
};

sb::job_options options(std::size_t in_flight = 1)
{
    sb::job_options o{.job = "test job", .batch = 10};
    o.run.max_in_flight = in_flight;
    o.handle_signals = false;
    return o;
}

} // namespace

TEST_CASE("run_job: a fresh run commits every batch with its state", "[job][run_job]")
{
    for (std::size_t k : {1u, 2u}) {
        memory_store db;
        vector_source in(numbers(95));
        memory_sink out(db);
        auto const r = sb::run_job(in, doubled, out, options(k));
        CHECK_FALSE(r.resumed_from);
        CHECK(r.exit_code() == 0);
        CHECK(r.report.records == 95);
        CHECK(db.rows.size() == 95);
        CHECK(std::accumulate(db.rows.begin(), db.rows.end(), std::int64_t{0}) == 95 * 96);
        REQUIRE(db.state);
        CHECK(db.state->position == "95");
        CHECK(db.state->records == 95);
        CHECK(db.state->batches == 10);
        CHECK(db.state->identity == in.identity());
        CHECK_FALSE(db.held); // the fence is released
    }
}

TEST_CASE("run_job: a failed commit leaves the state of the last good batch, and the rerun resumes",
          "[job][run_job]")
{
    memory_store db;
    {
        vector_source in(numbers(95));
        memory_sink out(db);
        out.fail_at_commit = 4;
        CHECK_THROWS_AS(sb::run_job(in, doubled, out, options()), sb::batch_failed);
        CHECK_FALSE(db.held);
        REQUIRE(db.state);
        CHECK(db.state->position == "40");
        CHECK(db.rows.size() == 40);
    }
    vector_source in(numbers(95));
    memory_sink out(db);
    auto const r = sb::run_job(in, doubled, out, options(2));
    REQUIRE(r.resumed_from);
    CHECK(r.resumed_from->records == 40);
    CHECK(r.report.records == 55);
    CHECK(r.report.resumed_from_records == 40);
    CHECK(db.rows.size() == 95); // exactly once
    CHECK(std::accumulate(db.rows.begin(), db.rows.end(), std::int64_t{0}) == 95 * 96);
    CHECK(db.state->batches == 10);
}

static_assert(sb::holding_job_sink<test_support::holding_memory_sink, std::vector<std::int64_t>&&>);

TEST_CASE("run_job: a sink that holds batches in one transaction moves the stored state only at "
          "its commits, and the report counts the batches it committed",
          "[job][run_job][transaction]")
{
    for (std::size_t k : {1u, 2u}) {
        memory_store db;
        vector_source in(numbers(95));
        test_support::holding_memory_sink out(db, 3);
        auto const r = sb::run_job(in, doubled, out, options(k));
        CHECK(r.exit_code() == 0);
        CHECK(r.report.batches == 10);
        CHECK(r.report.records == 95);
        CHECK(db.rows.size() == 95);
        CHECK(std::accumulate(db.rows.begin(), db.rows.end(), std::int64_t{0}) == 95 * 96);
        // Transactions of 3 batches, then the last one at the end of the input.
        CHECK(out.committed_after == std::vector<std::uint64_t>{3, 6, 9, 10});
        CHECK(db.state->position == "95");
        CHECK_FALSE(db.held);
    }
}

TEST_CASE("run_job: a batch refused at its transaction's commit rolls back the batches before it "
          "in that transaction, and the rerun loads them exactly once",
          "[job][run_job][transaction]")
{
    for (std::size_t k : {1u, 2u}) {
        memory_store db;
        {
            vector_source in(numbers(95));
            test_support::holding_memory_sink out(db, 3);
            out.refuse_batch = 7; // in the transaction of batches 6, 7 and 8
            try {
                sb::run_job(in, doubled, out, options(k));
                FAIL("no error");
            } catch (sb::batch_failed const& e) {
                CHECK_THAT(e.what(), Catch::Contains("failed in commit"));
                CHECK(e.info.index == 8); // the batch whose commit ended the transaction
                CHECK_THAT(e.what(), Catch::Contains("a row of batch 7 refused"));
            }
            CHECK(out.committed_after == std::vector<std::uint64_t>{3, 6});
            CHECK(db.state->position == "60"); // batches 6 and 7 went with batch 8's transaction
            CHECK(db.rows.size() == 60);
            CHECK_FALSE(db.held);
        }
        vector_source in(numbers(95));
        test_support::holding_memory_sink out(db, 3);
        auto const r = sb::run_job(in, doubled, out, options(k));
        REQUIRE(r.resumed_from);
        CHECK(r.resumed_from->records == 60);
        CHECK(r.report.records == 35);
        CHECK(db.rows.size() == 95); // exactly once
        CHECK(std::accumulate(db.rows.begin(), db.rows.end(), std::int64_t{0}) == 95 * 96);
    }
}

TEST_CASE("run_job: when a step fails, the batches a sink holds are committed before the job "
          "stops, and counted",
          "[job][run_job][transaction]")
{
    memory_store db;
    vector_source in(numbers(95));
    test_support::holding_memory_sink out(db, 3);
    auto const failing = [](auto& batch) {
        if (batch[0] == 51) // batch 5
            throw std::runtime_error("clean: bad record");
        return doubled(batch);
    };
    try {
        sb::run_job(in, failing, out, options(1));
        FAIL("no error");
    } catch (sb::batch_failed const& e) {
        CHECK_THAT(e.what(), Catch::Contains("failed in process"));
        CHECK(e.info.index == 5);
    }
    // Batches 3 and 4, held in an open transaction, were committed: the rerun starts at 5.
    CHECK(out.committed_after == std::vector<std::uint64_t>{3, 5});
    CHECK(db.state->position == "50");
    CHECK(db.rows.size() == 50);
}

namespace {
/// A sink whose close() fails (as parquet::dataset_sink's does when it cannot finish its last
/// part) after releasing the fence.
struct failing_close_sink : memory_sink {
    using memory_sink::memory_sink;
    int closes = 0;
    void close()
    {
        memory_sink::close();
        if (closes++ == 0)
            throw std::runtime_error("close: the last part cannot be finished");
    }
};
} // namespace

TEST_CASE("run_job: a sink's failing close() is reported, unless a batch already failed",
          "[job][run_job]")
{
    {
        memory_store db;
        vector_source in(numbers(25));
        failing_close_sink out(db);
        CHECK_THROWS_WITH(sb::run_job(in, doubled, out, options()),
                          "close: the last part cannot be finished");
        CHECK(out.closes == 1);
        CHECK_FALSE(db.held);
        CHECK(db.rows.size() == 25);
    }
    { // the commit's error is the one reported (a second exception would terminate)
        memory_store db;
        vector_source in(numbers(25));
        failing_close_sink out(db);
        out.fail_at_commit = 1;
        CHECK_THROWS_AS(sb::run_job(in, doubled, out, options()), sb::batch_failed);
        CHECK(out.closes == 1);
        CHECK_FALSE(db.held);
    }
}

TEST_CASE("run_job: another input is refused before anything is read or written", "[job][run_job]")
{
    memory_store db;
    db.state = sb::job_state{"40", "vector n=95 sum=4560", 4, 40};
    auto other = numbers(95);
    other[3] = 1000;
    vector_source in(other);
    memory_sink out(db);
    CHECK_THROWS_MATCHES(sb::run_job(in, doubled, out, options()), sb::input_changed,
                         Catch::Message("vector: the checkpoint was taken on vector n=95 "
                                        "sum=4560, this input is vector n=95 sum=5556"));
    CHECK(db.rows.empty());
    CHECK_FALSE(db.held);
}

TEST_CASE("run_job: a held fence stops the job before it reads", "[job][run_job]")
{
    memory_store db;
    db.held = true;
    vector_source in(numbers(5));
    memory_sink out(db);
    CHECK_THROWS_AS(sb::run_job(in, doubled, out, options()), sb::fence_held);
    CHECK(db.rows.empty());
    CHECK(db.held); // still the other holder's
}

TEST_CASE("run_job: SIGTERM in the middle stops after the batches in flight, and the rerun "
          "completes exactly",
          "[job][run_job]")
{
    for (std::size_t k : {1u, 2u}) {
        INFO("max_in_flight " << k);
        memory_store db; // the child's copy: it reports what it committed through a pipe
        int fds[2];
        REQUIRE(::pipe(fds) == 0);
        pid_t const pid = ::fork();
        if (pid == 0) {
            ::signal(SIGTERM, SIG_DFL); // not the test framework's handler
            vector_source in(numbers(95));
            memory_sink out(db);
            sb::job_options o = options(k);
            o.handle_signals = true;
            std::atomic<int> batches{0}; // both workers count when k == 2
            auto step = [&](auto& batch) {
                if (++batches == 3) {
                    ::raise(SIGTERM); // the watcher thread requests the stop: give it a moment
                    std::this_thread::sleep_for(std::chrono::milliseconds(200));
                }
                return doubled(batch);
            };
            auto const r = sb::run_job(in, step, out, o);
            std::string const report = std::to_string(r.exit_code()) + " " +
                                       std::to_string(db.rows.size()) + " " +
                                       (db.state ? db.state->position : std::string("none"));
            [[maybe_unused]] auto n = ::write(fds[1], report.data(), report.size());
            ::_exit(0);
        }
        ::close(fds[1]);
        char buf[64] = {};
        auto const got = ::read(fds[0], buf, sizeof buf - 1);
        ::close(fds[0]);
        int status = 0;
        ::waitpid(pid, &status, 0);
        REQUIRE(got > 0);
        int code = 0;
        std::size_t rows = 0;
        char position[16] = {};
        REQUIRE(std::sscanf(buf, "%d %zu %15s", &code, &rows, position) == 3);
        CHECK(code == 143);
        CHECK(rows % 10 == 0); // whole batches only
        CHECK(rows >= 30);     // the batch that saw the signal and those before it committed
        CHECK(rows < 95);      // and no new batch was pulled after it (at most k in flight)
        CHECK(std::string(position) == std::to_string(rows));
    }
}
