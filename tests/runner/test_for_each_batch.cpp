#include <streambatch/views/chunk.hpp>
#include <streambatch/runner/for_each_batch.hpp>
#include <streambatch/views/memory_guarded.hpp>

#include "support/archetypes.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <numeric>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace sb = streambatch;
namespace fs = std::filesystem;
using Catch::Matchers::Contains;
using namespace std::chrono_literals;

namespace {

/// A record that counts how many of it are alive, and the most that ever were.
struct live_record {
    static inline std::atomic<long> live{0};
    static inline std::atomic<long> peak{0};
    static void reset() { live = 0, peak = 0; }
    long id = 0;
    bool owns = false;
    explicit live_record(long i) : id(i), owns(true) { up(); }
    live_record(live_record&& o) noexcept : id(o.id), owns(std::exchange(o.owns, false)) {}
    live_record& operator=(live_record&& o) noexcept
    {
        if (owns)
            --live;
        id = o.id;
        owns = std::exchange(o.owns, false);
        return *this;
    }
    ~live_record()
    {
        if (owns)
            --live;
    }
    static void up()
    {
        long const now = ++live;
        long p = peak.load();
        while (now > p && !peak.compare_exchange_weak(p, now)) {
        }
    }
};

/// A single-pass source that makes live_records on the fly.
class live_source : public std::ranges::view_interface<live_source> {
    long n_ = 0;

public:
    class iterator {
        long i_ = 0, n_ = 0;
        std::optional<live_record> cur_;

    public:
        using value_type = live_record;
        using difference_type = std::ptrdiff_t;
        iterator() = default;
        iterator(long i, long n) : i_(i), n_(n)
        {
            if (i_ < n_)
                cur_.emplace(i_);
        }
        iterator(iterator&&) = default;
        iterator& operator=(iterator&&) = default;
        live_record& operator*() const { return const_cast<live_record&>(*cur_); }
        iterator& operator++()
        {
            cur_.reset();
            if (++i_ < n_)
                cur_.emplace(i_);
            return *this;
        }
        void operator++(int) { ++*this; }
        bool done() const { return i_ >= n_; }
        friend bool operator==(iterator const& it, std::default_sentinel_t) { return it.done(); }
    };
    live_source() = default;
    explicit live_source(long n) : n_(n) {}
    iterator begin() const { return iterator(0, n_); }
    std::default_sentinel_t end() const { return {}; }
};

std::vector<int> iota_vec(int n)
{
    std::vector<int> v(static_cast<std::size_t>(n));
    std::iota(v.begin(), v.end(), 0);
    return v;
}

struct temp_dir {
    fs::path path;
    temp_dir()
    {
        std::string t = (fs::temp_directory_path() / "streambatch-runner-XXXXXX").string();
        path = ::mkdtemp(t.data());
    }
    ~temp_dir() { fs::remove_all(path); }
};

std::string slurp(fs::path const& p)
{
    std::ifstream in(p);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

/// A guard stand-in whose used fraction the test sets.
struct fake_probe {
    double* used;
    sb::memory_snapshot sample()
    {
        sb::memory_snapshot s;
        s.used_fraction = *used;
        return s;
    }
    std::string sources() const { return "fake"; }
};
} // namespace

TEST_CASE("for_each_batch processes every batch once, in order, and reports", "[for_each_batch]")
{
    auto v = iota_vec(1000);
    std::vector<sb::batch_info> seen;
    long sum = 0;
    auto r = sb::for_each_batch(v | sb::views::chunk(64), [&](auto& b, sb::batch_info const& i) {
        seen.push_back(i);
        for (int x : b)
            sum += x;
    });
    CHECK(sum == 499500);
    CHECK(r.records == 1000);
    CHECK(r.batches == 16);
    CHECK(r.completed);
    CHECK(r.peak_in_flight == 1);
    REQUIRE(seen.size() == 16);
    CHECK(seen[3].index == 3);
    CHECK(seen[3].first_record == 192);
    CHECK(seen[15].size == 1000 - 15 * 64);
    CHECK(r.latency_max >= r.latency_p95);
    CHECK(r.latency_p95 >= r.latency_p50);
    CHECK(r.peak_rss_bytes > 0);
    CHECK(r.records_per_second > 0);
}

TEST_CASE("for_each_batch with k in flight keeps at most k batches alive", "[for_each_batch][parallel]")
{
    for (std::size_t k : {2u, 3u, 4u}) {
        live_record::reset();
        std::atomic<long> records{0};
        std::atomic<int> running{0}, max_running{0};
        auto r = sb::for_each_batch(
            live_source(2000) | sb::views::chunk(50),
            [&](auto& b) {
                int const now = ++running;
                int m = max_running.load();
                while (now > m && !max_running.compare_exchange_weak(m, now)) {
                }
                std::this_thread::sleep_for(200us);
                records += static_cast<long>(b.size());
                --running;
            },
            {.max_in_flight = k});
        CHECK(records == 2000);
        CHECK(r.records == 2000);
        CHECK(r.peak_in_flight <= k);
        // Records alive: in batches being filled, processed or waiting, plus the source's one.
        CHECK(live_record::peak <= static_cast<long>(k * 50 + 1));
        CHECK(live_record::live == 0);
    }
}

TEST_CASE("for_each_batch commits in batch order when ordered, as they finish otherwise", "[for_each_batch][parallel]")
{
    auto v = iota_vec(400);
    auto slow_first = [](auto& b) {
        if (b[0] % 200 == 0)
            std::this_thread::sleep_for(20ms); // batches 0 and 2 finish late
        return b[0];
    };
    SECTION("ordered")
    {
        std::vector<int> order;
        sb::for_each_batch(v | sb::views::chunk(100), slow_first, [&](int first) { order.push_back(first); },
                           {.max_in_flight = 3});
        CHECK(order == std::vector<int>{0, 100, 200, 300});
    }
    SECTION("unordered: all committed, once each")
    {
        std::vector<int> order;
        sb::for_each_batch(v | sb::views::chunk(100), slow_first, [&](int first) { order.push_back(first); },
                           {.max_in_flight = 3, .ordered = false});
        std::sort(order.begin(), order.end());
        CHECK(order == std::vector<int>{0, 100, 200, 300});
    }
}

TEST_CASE("for_each_batch moves single-pass batches to workers and recycles their buffers", "[for_each_batch][parallel]")
{
    std::vector<test::counted> data;
    for (int i = 0; i < 300; ++i)
        data.emplace_back(i, std::string(50, 'x'));
    test::counted::reset();
    std::mutex m;
    std::vector<int> ids;
    sb::for_each_batch(test::single_pass_view<test::counted>(data) | sb::views::chunk(25),
                       [&](sb::batch<test::counted>& b) {
                           std::lock_guard lock(m);
                           for (auto& r : b)
                               ids.push_back(r.id);
                       },
                       {.max_in_flight = 2});
    std::sort(ids.begin(), ids.end());
    CHECK(ids == iota_vec(300));
    CHECK(test::counted::copies == 0);
}

TEST_CASE("an exception in process stops the job and names the batch and its records", "[for_each_batch][errors]")
{
    auto v = iota_vec(1000);
    for (std::size_t k : {1u, 2u, 4u}) {
        std::atomic<int> committed_after{0};
        std::atomic<bool> failed{false};
        try {
            sb::for_each_batch(
                v | sb::views::chunk(100),
                [&](auto& b) {
                    if (b[0] == 300) {
                        failed = true;
                        throw std::runtime_error("bad row 317");
                    }
                    return b[0];
                },
                [&](int first) {
                    if (first > 300)
                        ++committed_after;
                },
                {.max_in_flight = k});
            FAIL("no exception");
        } catch (sb::batch_failed const& e) {
            CHECK_THAT(e.what(), Contains("batch 3") && Contains("records 300..399") && Contains("process") &&
                                     Contains("bad row 317"));
            CHECK(e.info.index == 3);
            CHECK(e.info.first_record == 300);
            CHECK(e.info.size == 100);
            CHECK_THROWS_WITH(std::rethrow_if_nested(e), "bad row 317");
        }
        CHECK(failed);
        if (k == 1)
            CHECK(committed_after == 0); // ordered: nothing after the failed batch is committed
    }
}

TEST_CASE("an exception in commit stops the job, and later batches are not committed", "[for_each_batch][errors]")
{
    auto v = iota_vec(1000);
    std::vector<int> committed;
    CHECK_THROWS_WITH(sb::for_each_batch(
                          v | sb::views::chunk(100), [](auto& b) { return b[0]; },
                          [&](int first) {
                              if (first == 500)
                                  throw std::runtime_error("constraint violated");
                              committed.push_back(first);
                          },
                          {.max_in_flight = 3}),
                      Contains("batch 5") && Contains("commit") && Contains("constraint violated"));
    CHECK(committed == std::vector<int>{0, 100, 200, 300, 400});
}

TEST_CASE("an exception from the source is rethrown as it is", "[for_each_batch][errors]")
{
    struct source_error : std::runtime_error {
        using std::runtime_error::runtime_error;
    };
    // A single-pass source: records are pulled (and the source fails) on the calling thread.
    std::string text;
    for (int i = 0; i < 1000; ++i)
        text += std::to_string(i) + " ";
    for (std::size_t k : {1u, 3u}) {
        std::istringstream in(text);
        auto throwing = std::views::istream<int>(in) | std::views::transform([](int x) {
                            if (x == 555)
                                throw source_error("source: line 556");
                            return x;
                        });
        CHECK_THROWS_AS(sb::for_each_batch(throwing | sb::views::chunk(100), [](auto& b) {
                            for (int x : b)
                                (void)x;
                        }, {.max_in_flight = k}),
                        source_error);
    }
}

TEST_CASE("the checkpoint is the low-water mark, never the highest finished batch", "[for_each_batch][checkpoint]")
{
    temp_dir d;
    auto const ck = d.path / "job.ckpt";
    auto v = iota_vec(500);
    std::vector<std::uint64_t> seen_in_checkpoint; // what the file said while batch 0 was still running
    std::mutex m;
    sb::run_options o{.max_in_flight = 3, .ordered = false, .checkpoint_path = ck, .checkpoint_every_batches = 1};
    o.job = "lwm";
    // Asked once before the first batch, then after each batch is pulled.
    o.position = [n = -1]() mutable { return n++ < 0 ? std::string("start") : "after-batch-" + std::to_string(n - 1); };
    auto r = sb::for_each_batch(
        v | sb::views::chunk(100),
        [&](auto& b) {
            if (b[0] == 0)
                std::this_thread::sleep_for(50ms); // batch 0 finishes last
            return b[0];
        },
        [&](int first) {
            std::lock_guard lock(m);
            if (first != 0) {
                auto c = sb::read_checkpoint(ck);
                seen_in_checkpoint.push_back(c ? c->batches : 0);
            }
        },
        o);
    for (auto b : seen_in_checkpoint)
        CHECK(b == 0); // nothing contiguous from the start until batch 0 completes
    auto c = sb::read_checkpoint(ck);
    REQUIRE(c);
    CHECK(c->batches == 5);
    CHECK(c->records == 500);
    CHECK(c->position == "after-batch-4");
    CHECK(r.first_position == "start");
    CHECK(r.last_position == "after-batch-4");
    CHECK(c->job == "lwm");
    CHECK(r.checkpoints_written >= 1);
}

TEST_CASE("a resumed run continues the indices and refuses another job's checkpoint", "[for_each_batch][checkpoint]")
{
    temp_dir d;
    auto const ck = d.path / "job.ckpt";
    sb::write_checkpoint(ck, {.job = "load", .fingerprint = "input-v1", .batches = 3, .records = 300, .position = "300"});

    auto start = sb::resume_point(ck, "load", "input-v1");
    CHECK(start.records == 300);
    auto v = iota_vec(1000);
    std::vector<sb::batch_info> infos;
    sb::run_options o{.checkpoint_path = ck, .fingerprint = "input-v1", .resume_from = start};
    o.job = "load";
    auto r = sb::for_each_batch(v | std::views::drop(start.records) | sb::views::chunk(100),
                                [&](auto&, sb::batch_info const& i) { infos.push_back(i); }, o);
    REQUIRE(infos.size() == 7);
    CHECK(infos[0].index == 3);
    CHECK(infos[0].first_record == 300);
    CHECK(r.resumed_from_records == 300);
    CHECK(r.records == 700);
    CHECK(sb::read_checkpoint(ck)->records == 1000);
    CHECK(sb::read_checkpoint(ck)->batches == 10);

    CHECK_THROWS_WITH(sb::resume_point(ck, "load", "input-v2"),
                      Contains(ck.string()) && Contains("fingerprint 'input-v1'") && Contains("'input-v2'") &&
                          Contains("refusing"));
    CHECK_THROWS_WITH(sb::resume_point(ck, "other job", "input-v1"), Contains("job 'load'"));
    CHECK(sb::resume_point(ck, "load", "input-v2", true).records == 1000); // forced
    CHECK(sb::resume_point(d.path / "none.ckpt", "load", "x").records == 0);
}

TEST_CASE("memory pressure on a watched guard lowers the number in flight to one", "[for_each_batch][parallel]")
{
    double used = 0.9;
    sb::basic_memory_guard<fake_probe> guard({.sample_every = 0ns, .sample_every_near = 0ns}, fake_probe{&used});
    sb::run_options o{.max_in_flight = 4};
    o.watch(guard);
    auto v = iota_vec(2000);
    auto r = sb::for_each_batch(v | sb::views::memory_guarded(200, std::ref(guard)), [](auto& b) {
        std::this_thread::sleep_for(100us);
        return b.size();
    }, o);
    CHECK(r.records == 2000);
    CHECK(r.peak_in_flight == 1);
    CHECK(r.in_flight_lowered > 0);
    CHECK(!r.guard_events.empty()); // the shrinks
    CHECK(r.guard_events.front().what == sb::guard_event::kind::shrink);
}

TEST_CASE("run records: profile, record, summary and Prometheus metrics", "[for_each_batch][metrics]")
{
    temp_dir d;
    auto v = iota_vec(1000);
    sb::run_options o{.record_dir = d.path / "run"};
    o.job = "customers \"nightly\"";
    o.configuration = {{"source", "generated"}};
    auto r = sb::for_each_batch(v | sb::views::chunk(100), [](auto&) {}, o);
    CHECK(r.completed);
    auto const profile = slurp(d.path / "run" / "memory_profile.json");
    CHECK(profile.front() == '[');
    CHECK(std::count(profile.begin(), profile.end(), '\n') == 12); // "[", 10 rows, "]"
    CHECK_THAT(profile, Contains("{\"index\": 9, \"size\": 100, \"rss_bytes\": "));
    auto const record = slurp(d.path / "run" / "run_record.json");
    CHECK_THAT(record, Contains("\"records\": 1000") && Contains("\"completed\": true") &&
                           Contains("\"job\": \"customers \\\"nightly\\\"\"") && Contains("\"source\": \"generated\""));
    auto const summary = slurp(d.path / "run" / "execution_summary.md");
    CHECK_THAT(summary, Contains("completed") && Contains("| records | 1000 |"));
    auto const prom = slurp(d.path / "run" / "metrics.prom");
    CHECK_THAT(prom, Contains("# TYPE streambatch_records gauge") &&
                         Contains("streambatch_records{job=\"customers \\\"nightly\\\"\"} 1000"));
    CHECK(!fs::exists(d.path / "run" / "metrics.prom.tmp"));

    SECTION("a failed run leaves a record that says so")
    {
        CHECK_THROWS(sb::for_each_batch(v | sb::views::chunk(100), [](auto& b) {
            if (b[0] == 200)
                throw std::runtime_error("disk full");
        }, o));
        auto const failed = slurp(d.path / "run" / "run_record.json");
        CHECK_THAT(failed, Contains("\"completed\": false") && Contains("disk full") && Contains("\"records\": 200"));
        CHECK_THAT(slurp(d.path / "run" / "metrics.prom"), Contains("streambatch_completed{job="));
    }
}

TEST_CASE("for_each_batch rejects max_in_flight 0", "[for_each_batch][errors]")
{
    auto v = iota_vec(10);
    CHECK_THROWS_WITH(sb::for_each_batch(v | sb::views::chunk(5), [](auto&) {}, {.max_in_flight = 0}),
                      Contains("max_in_flight") && Contains("got 0"));
}

TEST_CASE("a checkpoint file that cannot be written stops the job and names the file", "[for_each_batch][checkpoint][errors]")
{
    // Checkpoint files are written on a writer thread; its failure must still reach the caller,
    // as the checkpoint_error itself, sequential or parallel.
    for (std::size_t k : {std::size_t{1}, std::size_t{2}}) {
        INFO("max_in_flight " << k);
        auto v = iota_vec(1000);
        sb::run_options o{.max_in_flight = k, .checkpoint_path = "/nonexistent-dir/job.ckpt",
                          .checkpoint_every_batches = 1};
        CHECK_THROWS_AS(sb::for_each_batch(v | sb::views::chunk(10), [](auto& b) { return b.size(); },
                                           [](std::size_t) {}, o),
                        sb::checkpoint_error);
        CHECK_THROWS_WITH(sb::for_each_batch(v | sb::views::chunk(10), [](auto& b) { return b.size(); },
                                             [](std::size_t) {}, o),
                          Contains("/nonexistent-dir/job.ckpt") && Contains("cannot create"));
    }
}
