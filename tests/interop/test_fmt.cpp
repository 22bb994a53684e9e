// tests/interop/test_fmt.cpp: interop/fmt.hpp formats each type as its header says, exactly.
#include <streambatch/interop/fmt.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <string>

namespace sb = streambatch;
using namespace std::chrono_literals;

namespace {

sb::memory_snapshot pressed()
{
    sb::memory_snapshot s;
    s.rss_bytes = 201 * (1 << 20) + 314573; // 201.3 MiB
    s.used_fraction = 0.831;
    s.source = sb::memory_source::cgroup;
    return s;
}

} // namespace

TEST_CASE("memory_snapshot: used fraction, where it came from, rss")
{
    CHECK(fmt::format("{}", pressed()) == "83.1% used (cgroup), rss 201.3 MiB");
    CHECK(fmt::format("{}", sb::memory_snapshot{}) == "0.0% used (system), rss 0.0 MiB");
}

TEST_CASE("guard_event: the same text as describe(), and its kind alone")
{
    sb::guard_event e;
    e.what = sb::guard_event::kind::shrink;
    e.old_size = 1000;
    e.new_size = 500;
    e.batch = 12;
    e.snapshot = pressed();
    CHECK(fmt::format("{}", e) ==
          "shrink 1000 -> 500 at batch 12: 83.1% used (cgroup), rss 201.3 MiB");
    CHECK(fmt::format("{}", e) == e.describe());
    e.what = sb::guard_event::kind::exhausted;
    CHECK(fmt::format("{}", e) == e.describe());
    CHECK(fmt::format("{}", sb::guard_event::kind::waiting) == "waiting");
    CHECK(fmt::format("[{:<9}]", sb::guard_event::kind::grow) == "[grow     ]");
}

TEST_CASE("partition: I/N, and a string's spec applies")
{
    CHECK(fmt::format("{}", sb::partition{3, 8}) == "3/8");
    CHECK(fmt::format("{}", sb::partition{}) == "0/1");
    CHECK(fmt::format("[{:>5}]", sb::partition{3, 8}) == "[  3/8]");
    CHECK(fmt::format("[{:*^7}]", sb::partition{3, 8}) == "[**3/8**]");
}

TEST_CASE("csv::position: line, byte, rows and skipped")
{
    CHECK(fmt::format("{}", sb::csv::position{3456, 12, 10, 1}) ==
          "line 12, byte 3456 (10 rows, 1 skipped)");
    CHECK(fmt::format("{}", sb::csv::position{}) == "line 1, byte 0 (0 rows, 0 skipped)");
}

TEST_CASE("run_report: one line with the figures a log wants")
{
    sb::run_report r;
    r.job = "load";
    r.records = 20000;
    r.batches = 40;
    r.elapsed = 125ms;
    r.records_per_second = 160000;
    r.latency_p50 = 1ms;
    r.latency_p95 = 2500us;
    r.latency_max = 3ms;
    r.peak_rss_bytes = 12 * (1 << 20) + 314573;
    r.completed = true;
    CHECK(fmt::format("{}", r) ==
          "load: 20000 records in 40 batches, 0.125 s, 160000 records/s, batch p50/p95/max "
          "1.000/2.500/3.000 ms, peak RSS 12.3 MiB, 0 guard events");

    r.part = sb::partition{3, 8};
    r.guard_events.resize(2);
    r.resumed_from_records = 100;
    r.checkpoints_written = 3;
    CHECK(fmt::format("{}", r) ==
          "load part 3/8: 20000 records in 40 batches, 0.125 s, 160000 records/s, batch "
          "p50/p95/max 1.000/2.500/3.000 ms, peak RSS 12.3 MiB, 2 guard events, resumed "
          "after 100 records, 3 checkpoints");

    r.job.clear();
    r.completed = false;
    r.error = "disk full";
    CHECK(fmt::format("{}", r) ==
          "part 3/8: 20000 records in 40 batches, 0.125 s, 160000 records/s, batch "
          "p50/p95/max 1.000/2.500/3.000 ms, peak RSS 12.3 MiB, 2 guard events, resumed "
          "after 100 records, 3 checkpoints; failed: disk full");

    r.status = sb::run_status::stopped;
    r.error.clear();
    CHECK(fmt::format("{}", r) ==
          "part 3/8: 20000 records in 40 batches, 0.125 s, 160000 records/s, batch "
          "p50/p95/max 1.000/2.500/3.000 ms, peak RSS 12.3 MiB, 2 guard events, resumed "
          "after 100 records, 3 checkpoints (stopped)");

    CHECK(fmt::format("{}", sb::run_report{}) ==
          "0 records in 0 batches, 0.000 s, 0 records/s, batch p50/p95/max "
          "0.000/0.000/0.000 ms, peak RSS 0.0 MiB, 0 guard events");
}

TEST_CASE("a spec a string would refuse is a format_error")
{
    CHECK_THROWS_AS(fmt::format(fmt::runtime("{:d}"), sb::partition{3, 8}), fmt::format_error);
}
