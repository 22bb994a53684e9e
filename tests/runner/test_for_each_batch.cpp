#include <streambatch/runner/for_each_batch.hpp>
#include <streambatch/views/chunk.hpp>
#include <streambatch/views/memory_guarded.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <numeric>
#include <sstream>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

#include "support/archetypes.hpp"
#include "support/temp_dir.hpp"

namespace sb = streambatch;
namespace fs = std::filesystem;
using Catch::Matchers::Contains;
using namespace std::chrono_literals;

namespace {

/// A record that counts how many of it are alive, and the most that ever were.
struct live_record {
    static inline std::atomic<long> live{0};
    static inline std::atomic<long> peak{0};
    static inline std::atomic<long> constructed_from{0}; ///< move constructions
    static inline std::atomic<long> assigned_from{0};    ///< move assignments
    static void reset() { live = 0, peak = 0, constructed_from = 0, assigned_from = 0; }
    long id = 0;
    bool owns = false;
    explicit live_record(long i) : id(i), owns(true) { up(); }
    live_record(live_record&& o) noexcept : id(o.id), owns(std::exchange(o.owns, false))
    {
        ++constructed_from;
    }
    live_record& operator=(live_record&& o) noexcept
    {
        ++assigned_from;
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

std::string slurp(fs::path const& p)
{
    std::ifstream in(p);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

/// Waits until `done()` holds or `limit` passes; true when it held.
template <class F>
bool wait_until(F done, std::chrono::milliseconds limit = 10s)
{
    auto const until = std::chrono::steady_clock::now() + limit;
    while (!done()) {
        if (std::chrono::steady_clock::now() > until)
            return false;
        std::this_thread::sleep_for(1ms);
    }
    return true;
}

/// A single-pass range of batch<int> that refills one buffer, as views::chunk does over a
/// single-pass source, and counts the refills that found a buffer with room (one the runner
/// recycled) and those that found none (a fresh buffer, allocated).
class refill_source : public std::ranges::view_interface<refill_source> {
public:
    struct counts {
        std::vector<int> buf;
        int next = 0, total = 0, size = 0;
        int fresh = 0, recycled = 0;
    };

    class iterator {
        counts* c_ = nullptr;
        void fill()
        {
            auto& c = *c_;
            c.buf.clear();
            if (c.next >= c.total)
                return;
            ++(c.buf.capacity() >= static_cast<std::size_t>(c.size) ? c.recycled : c.fresh);
            c.buf.reserve(static_cast<std::size_t>(c.size));
            for (int i = 0; i < c.size && c.next < c.total; ++i)
                c.buf.push_back(c.next++);
        }

    public:
        using value_type = sb::batch<int>;
        using difference_type = std::ptrdiff_t;
        iterator() = default;
        explicit iterator(counts* c) : c_(c) { fill(); }
        sb::batch<int> operator*() const { return sb::batch<int>(c_->buf); }
        iterator& operator++()
        {
            fill();
            return *this;
        }
        void operator++(int) { fill(); }
        friend bool operator==(iterator const& it, std::default_sentinel_t)
        {
            return it.c_->buf.empty();
        }
    };

    refill_source() = default;
    explicit refill_source(counts* c) : c_(c) {}
    iterator begin() const { return iterator(c_); }
    std::default_sentinel_t end() const { return {}; }

private:
    counts* c_ = nullptr;
};

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

TEST_CASE("for_each_batch with k in flight keeps at most k batches alive",
          "[for_each_batch][parallel]")
{
    for (std::size_t k : {2u, 3u, 4u}) {
        live_record::reset();
        std::atomic<long> records{0};
        std::atomic<int> running{0}, max_running{0};
        auto r =
            sb::for_each_batch(live_source(2000) | sb::views::chunk(50),
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

TEST_CASE("for_each_batch commits in batch order when ordered, as they finish otherwise",
          "[for_each_batch][parallel]")
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
        sb::for_each_batch(v | sb::views::chunk(100), slow_first,
                           [&](int first) { order.push_back(first); }, {.max_in_flight = 3});
        CHECK(order == std::vector<int>{0, 100, 200, 300});
    }
    SECTION("unordered: as they finish, all committed, once each")
    {
        // Batch 0 is held until batch 1 is committed: only a runner that commits as batches
        // finish gets there (an ordered one waits for batch 0, and the wait times out).
        std::vector<int> order;
        std::atomic<bool> one_committed{false};
        std::atomic<bool> held_until_one = false;
        sb::for_each_batch(
            v | sb::views::chunk(100),
            [&](auto& b) {
                if (b[0] == 0)
                    held_until_one = wait_until([&] { return one_committed.load(); }, 5s);
                return b[0];
            },
            [&](int first) {
                order.push_back(first);
                if (first == 100)
                    one_committed = true;
            },
            {.max_in_flight = 3, .ordered = false});
        CHECK(held_until_one);
        REQUIRE(order.size() == 4);
        auto const at = [&](int first) {
            return std::find(order.begin(), order.end(), first) - order.begin();
        };
        CHECK(at(100) < at(0)); // batch 1 committed before batch 0
        std::sort(order.begin(), order.end());
        CHECK(order == std::vector<int>{0, 100, 200, 300});
    }
}

TEST_CASE("for_each_batch moves single-pass batches to workers and recycles their buffers",
          "[for_each_batch][parallel]")
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

TEST_CASE("for_each_batch recycles the buffers of committed single-pass batches",
          "[for_each_batch][parallel]")
{
    // At most k batches are alive and a committed batch's buffer goes back to the view as a
    // spare, so at most k + 1 buffers are ever allocated (the view's first, and one for each
    // batch pulled while no spare was back yet); the other refills find a recycled one.
    for (std::size_t k : {std::size_t{2}, std::size_t{3}}) {
        INFO("max_in_flight " << k);
        refill_source::counts c;
        c.total = 1200;
        c.size = 50;
        std::mutex m;
        std::vector<int> ids;
        auto r = sb::for_each_batch(refill_source(&c),
                                    [&](sb::batch<int>& b) {
                                        std::lock_guard lock(m);
                                        ids.insert(ids.end(), b.begin(), b.end());
                                    },
                                    {.max_in_flight = k});
        CHECK(r.batches == 24);
        std::sort(ids.begin(), ids.end());
        CHECK(ids == iota_vec(1200));
        CHECK(c.fresh + c.recycled == 24);
        CHECK(c.fresh >= 1);
        CHECK(c.fresh <= static_cast<int>(k) + 1);
        CHECK(c.recycled >= 24 - static_cast<int>(k) - 1);
    }
}

TEST_CASE("for_each_batch refills a committed batch's records in place",
          "[for_each_batch][parallel]")
{
    // A committed batch's buffer goes back to the view with its records: the next batch's
    // records are moved over them (their storage reused, as a sequential run does), not into
    // fresh slots. Only the batches pulled before a committed one came back fill fresh slots.
    for (std::size_t k : {std::size_t{2}, std::size_t{3}}) {
        INFO("max_in_flight " << k);
        live_record::reset();
        std::atomic<long> sum{0};
        auto const r = sb::for_each_batch(
            live_source(3000) | sb::views::chunk(50),
            [](auto& b) {
                long s = 0;
                for (live_record const& x : b)
                    s += x.id;
                return s;
            },
            [&](long s) { sum += s; }, {.max_in_flight = k});
        CHECK(r.records == 3000);
        CHECK(sum == 3000L * 2999 / 2);
        long const fresh = static_cast<long>(k + 1) * 50;
        CHECK(live_record::constructed_from <= fresh);
        CHECK(live_record::assigned_from >= 3000 - fresh);
        CHECK(live_record::peak <= static_cast<long>(k * 50 + 1));
        CHECK(live_record::live == 0);
    }
}

TEST_CASE("for_each_batch keeps the commit role on one thread when commits bound the job",
          "[for_each_batch][parallel]")
{
    // Commits (20 ms) take longer than a pull and a process (1 ms, but 25 ms every fourth
    // batch: 6.5 ms on average, 9.5 ms at most once smoothed), so the sink bounds the job: the
    // committer waits for a batch still being processed instead of leaving the role to the
    // worker processing it (and the sink's working set to that worker's core). Before, every
    // batch of 25 ms handed the role over (15 of 60). The margins are wide (commits 2x the
    // smoothed work at its peak) so that a loaded machine's late wake-ups, under a sanitizer
    // and beside other tests, do not turn the decision: a 2 ms commit against 1.35 ms of work
    // did, once, in CI.
    std::mutex m;
    std::map<std::thread::id, int> commits_by_thread;
    std::vector<int> order;
    auto v = iota_vec(60);
    auto const r = sb::for_each_batch(
        v | sb::views::chunk(1),
        [](auto& b) {
            std::this_thread::sleep_for(b[0] % 4 == 3 ? 25ms : 1ms);
            return b[0];
        },
        [&](int i) {
            std::this_thread::sleep_for(20ms);
            std::lock_guard lock(m);
            ++commits_by_thread[std::this_thread::get_id()];
            order.push_back(i);
        },
        {.max_in_flight = 2});
    CHECK(r.batches == 60);
    CHECK(order == iota_vec(60));
    int most = 0;
    for (auto const& [id, n] : commits_by_thread)
        most = std::max(most, n);
    INFO("threads that committed: " << commits_by_thread.size() << ", most by one: " << most);
    CHECK(most >= 52); // a few hand-overs at the start, before the times are known, or if a
                       // worker is descheduled for a whole commit; without the rule: about 30
}

TEST_CASE("an exception in process stops the job and names the batch and its records",
          "[for_each_batch][errors]")
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
            CHECK_THAT(e.what(), Contains("batch 3") && Contains("records 300..399") &&
                                     Contains("process") && Contains("bad row 317"));
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

TEST_CASE("an exception in commit stops the job, and later batches are not committed",
          "[for_each_batch][errors]")
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
        CHECK_THROWS_AS(sb::for_each_batch(throwing | sb::views::chunk(100),
                                           [](auto& b) {
                                               for (int x : b)
                                                   (void)x;
                                           },
                                           {.max_in_flight = k}),
                        source_error);
    }
}

TEST_CASE("the checkpoint is the low-water mark while batches finish out of order",
          "[for_each_batch][checkpoint]")
{
    // The completion tracker alone, so the test can wait for the writer thread's files.
    test::temp_dir d{"streambatch-runner-"};
    auto const ck = d.path() / "job.ckpt";
    sb::run_options o{
        .progress = sb::progress_mode::never, .checkpoint_path = ck, .checkpoint_every_batches = 1};
    o.job = "lwm";
    sb::run_report report;
    sb::detail::completion_tracker done(o, report);
    auto finish = [&](std::uint64_t b) { // batch b (100 records) completes; what does the file say?
        done.complete(b, sb::batch_info{b, b * 100, 100}, 1ms, "after-batch-" + std::to_string(b),
                      0.0);
        done.flush_checkpoints();
        return sb::read_checkpoint(ck);
    };
    for (std::uint64_t b : {1, 2, 4}) { // batch 0 still running: nothing contiguous from the start
        INFO("batch " << b << " finished before batch 0");
        auto c = finish(b);
        CHECK((!c || c->batches == 0));
    }
    auto c = finish(0); // the mark moves over 0, 1 and 2, not over 4 (3 is missing)
    REQUIRE(c);
    CHECK(c->batches == 3);
    CHECK(c->records == 300);
    CHECK(c->position == "after-batch-2");
    c = finish(3);
    REQUIRE(c);
    CHECK(c->batches == 5);
    CHECK(c->records == 500);
    CHECK(c->position == "after-batch-4");
    done.finish(sb::run_status::completed, nullptr);
    CHECK(report.last_position == "after-batch-4");
    CHECK(sb::read_checkpoint(ck)->batches == 5);
}

TEST_CASE("batch_failed names the failed batch's position, which outlives the run",
          "[for_each_batch][errors]")
{
    auto v = iota_vec(500);
    for (std::size_t k : {1u, 3u}) {
        sb::run_options o{.max_in_flight = k};
        o.position = [n = 0]() mutable {
            return "after " + std::to_string(n++) + std::string(40, '.'); // not a short string
        };
        std::exception_ptr thrown;
        try {
            sb::for_each_batch(
                v | sb::views::chunk(100),
                [](auto& b) {
                    if (b[0] == 200)
                        throw std::runtime_error("bad batch");
                    return 0;
                },
                [](int) {}, o);
        } catch (...) {
            thrown = std::current_exception();
        }
        REQUIRE(thrown);
        // The run's memory is gone; the exception (and a copy of it) still says where.
        try {
            std::rethrow_exception(thrown);
        } catch (sb::batch_failed const& e) {
            sb::batch_failed const copy = e;
            CHECK(e.info.index == 2);
            CHECK(e.info.position == "after 3" + std::string(40, '.'));
            CHECK(copy.info.position == e.info.position);
        }
    }
}

TEST_CASE("the checkpoint is the low-water mark, never the highest finished batch",
          "[for_each_batch][checkpoint]")
{
    test::temp_dir d{"streambatch-runner-"};
    auto const ck = d.path() / "job.ckpt";
    auto v = iota_vec(500);
    sb::run_options o{
        .max_in_flight = 3, .ordered = false, .checkpoint_path = ck, .checkpoint_every_batches = 1};
    o.job = "lwm";
    // Asked once before the first batch, then after each batch is pulled.
    o.position = [n = -1]() mutable {
        return n++ < 0 ? std::string("start") : "after-batch-" + std::to_string(n - 1);
    };
    std::atomic<int> committed{0};
    std::atomic<bool> held = false;
    auto last_first = [&](auto& b) { // batch 0 finishes after the four others are committed
        if (b[0] == 0)
            held = wait_until([&] { return committed.load() == 4; }, 5s);
        return b[0];
    };
    SECTION("a run that completes: every batch")
    {
        auto r = sb::for_each_batch(
            v | sb::views::chunk(100), last_first, [&](int) { ++committed; }, o);
        CHECK(held);
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
    SECTION("a run whose first batch fails last: nothing is done from the start")
    {
        CHECK_THROWS_AS(sb::for_each_batch(
                            v | sb::views::chunk(100),
                            [&](auto& b) {
                                last_first(b);
                                if (b[0] == 0)
                                    throw std::runtime_error("batch 0 fails after the others");
                                return b[0];
                            },
                            [&](int) { ++committed; }, o),
                        sb::batch_failed);
        CHECK(held);
        CHECK(committed == 4);
        auto c = sb::read_checkpoint(ck); // batches 1-4 are committed, but a resume must redo 0
        CHECK((!c || (c->batches == 0 && c->records == 0)));
    }
}

TEST_CASE("a resumed run continues the indices and refuses another job's checkpoint",
          "[for_each_batch][checkpoint]")
{
    test::temp_dir d{"streambatch-runner-"};
    auto const ck = d.path() / "job.ckpt";
    sb::write_checkpoint(ck, {.job = "load",
                              .fingerprint = "input-v1",
                              .batches = 3,
                              .records = 300,
                              .position = "300"});

    auto start = sb::resume_point(ck, "load", "input-v1");
    CHECK(start.records == 300);
    auto v = iota_vec(1000);
    std::vector<sb::batch_info> infos;
    sb::run_options o{.checkpoint_path = ck, .fingerprint = "input-v1", .resume_from = start};
    o.job = "load";
    auto r = sb::for_each_batch(
        v | std::views::drop(start.records) | sb::views::chunk(100),
        [&](auto&, sb::batch_info const& i) { infos.push_back(i); }, o);
    REQUIRE(infos.size() == 7);
    CHECK(infos[0].index == 3);
    CHECK(infos[0].first_record == 300);
    CHECK(r.resumed_from_records == 300);
    CHECK(r.records == 700);
    CHECK(sb::read_checkpoint(ck)->records == 1000);
    CHECK(sb::read_checkpoint(ck)->batches == 10);

    CHECK_THROWS_WITH(sb::resume_point(ck, "load", "input-v2"),
                      Contains(ck.string()) && Contains("fingerprint 'input-v1'") &&
                          Contains("'input-v2'") && Contains("refusing"));
    CHECK_THROWS_WITH(sb::resume_point(ck, "other job", "input-v1"), Contains("job 'load'"));
    CHECK(sb::resume_point(ck, "load", "input-v2", true).records == 1000); // forced
    CHECK(sb::resume_point(d.path() / "none.ckpt", "load", "x").records == 0);
}

TEST_CASE("memory pressure on a watched guard lowers the number in flight to one",
          "[for_each_batch][parallel]")
{
    double used = 0.9;
    sb::basic_memory_guard<fake_probe> guard({.sample_every = 0ns, .sample_every_near = 0ns},
                                             fake_probe{&used});
    sb::run_options o{.max_in_flight = 4};
    o.watch(guard);
    auto v = iota_vec(2000);
    auto r = sb::for_each_batch(
        v | sb::views::memory_guarded(200, std::ref(guard)),
        [](auto& b) {
            std::this_thread::sleep_for(100us);
            return b.size();
        },
        o);
    CHECK(r.records == 2000);
    CHECK(r.peak_in_flight == 1);
    CHECK(r.in_flight_lowered > 0);
    CHECK(!r.guard_events.empty()); // the shrinks
    CHECK(r.guard_events.front().what == sb::guard_event::kind::shrink);
}

TEST_CASE("run records: profile, record, summary and Prometheus metrics",
          "[for_each_batch][metrics]")
{
    test::temp_dir d{"streambatch-runner-"};
    auto v = iota_vec(1000);
    sb::run_options o{.record_dir = d.path() / "run"};
    o.job = "customers \"nightly\"";
    o.configuration = {{"source", "generated"}};
    auto r = sb::for_each_batch(
        v | sb::views::chunk(100), [](auto&) {}, o);
    CHECK(r.completed);
    CHECK(r.status == sb::run_status::completed);
    // Each run in a directory of its own, <UTC time>-<pid>, and `latest` pointing at it.
    REQUIRE(r.run_dir.parent_path() == d.path() / "run");
    CHECK_THAT(r.run_dir.filename().string(), Contains("Z-" + std::to_string(::getpid())));
    CHECK(fs::read_symlink(d.path() / "run" / "latest") == r.run_dir.filename());
    auto const latest = d.path() / "run" / "latest";
    auto const profile = slurp(latest / "memory_profile.json");
    CHECK(profile.front() == '{'); // JSON Lines: one object per line, no [ ]
    CHECK(std::count(profile.begin(), profile.end(), '\n') == 10);
    CHECK_THAT(profile, Contains("{\"index\": 9, \"size\": 100, \"rss_bytes\": "));
    auto const read = sb::read_memory_profile(latest / "memory_profile.json");
    CHECK(read.samples.size() == 10);
    CHECK(read.samples[9].index == 9);
    CHECK(read.samples[9].size == 100);
    CHECK_FALSE(read.torn);
    auto const record = slurp(r.run_dir / "run_record.json");
    CHECK_THAT(record, Contains("\"records\": 1000") && Contains("\"completed\": true") &&
                           Contains("\"status\": \"completed\"") &&
                           Contains("\"pid\": " + std::to_string(::getpid())) &&
                           Contains("\"run_dir\": \"" + r.run_dir.string() + "\"") &&
                           Contains("\"job\": \"customers \\\"nightly\\\"\"") &&
                           Contains("\"source\": \"generated\""));
    auto const summary = slurp(latest / "execution_summary.md");
    CHECK_THAT(summary, Contains("completed") && Contains("| records | 1000 |") &&
                            Contains("| status | completed |"));
    auto const prom = slurp(latest / "metrics.prom");
    CHECK_THAT(prom, Contains("# TYPE streambatch_records gauge") &&
                         Contains("streambatch_records{job=\"customers \\\"nightly\\\"\"} 1000") &&
                         Contains("streambatch_run_status{job=\"customers \\\"nightly\\\"\","
                                  "status=\"completed\"} 1") &&
                         Contains(",status=\"stopped\"} 0"));
    CHECK(!fs::exists(latest / "metrics.prom.tmp"));

    SECTION("a failed run leaves a record that says so, in a directory of its own")
    {
        CHECK_THROWS(sb::for_each_batch(
            v | sb::views::chunk(100),
            [](auto& b) {
                if (b[0] == 200)
                    throw std::runtime_error("disk full");
            },
            o));
        CHECK(fs::read_symlink(latest) != r.run_dir.filename());
        auto const failed = slurp(latest / "run_record.json");
        CHECK_THAT(failed, Contains("\"completed\": false") && Contains("disk full") &&
                               Contains("\"status\": \"failed\"") && Contains("\"records\": 200"));
        CHECK_THAT(slurp(latest / "metrics.prom"),
                   Contains("streambatch_completed{job=") && Contains("status=\"failed\"} 1"));
        CHECK_THAT(slurp(r.run_dir / "run_record.json"), Contains("\"status\": \"completed\""));
    }
    SECTION("the record says running while the job runs, refreshed every record_every")
    {
        o.record_every = 0ms; // after every batch
        std::string seen_at_start, seen_later;
        sb::for_each_batch(
            v | sb::views::chunk(100),
            [&](auto& b) {
                if (b[0] == 0)
                    seen_at_start = slurp(latest / "run_record.json");
                if (b[0] == 500) {
                    seen_later = slurp(latest / "run_record.json");
                    CHECK_THAT(slurp(latest / "metrics.prom"), Contains("status=\"running\"} 1"));
                }
            },
            o);
        CHECK_THAT(seen_at_start, Contains("\"status\": \"running\"") &&
                                      Contains("\"records\": 0") && Contains("\"host\": "));
        CHECK_THAT(seen_later, Contains("\"status\": \"running\"") && Contains("\"records\": 500"));
        CHECK_THAT(slurp(latest / "run_record.json"), Contains("\"status\": \"completed\""));
    }
}

TEST_CASE("a run whose process is gone is marked killed by the next run",
          "[for_each_batch][metrics]")
{
    test::temp_dir d{"streambatch-runner-"};
    auto v = iota_vec(100);
    sb::run_options o{.record_dir = d.path()};
    // A record left "running" by a process that no longer exists: fork a child that exits.
    pid_t const child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0)
        ::_exit(0);
    int status = 0;
    ::waitpid(child, &status, 0);
    auto const r0 = sb::for_each_batch(
        v | sb::views::chunk(10), [](auto&) {}, o);
    auto make_running = [&](fs::path const& dir, long pid, std::string const& host,
                            std::uint64_t ticks = 0) {
        fs::create_directories(dir);
        std::string text = slurp(r0.run_dir / "run_record.json");
        auto swap = [&](std::string const& from, std::string const& to) {
            auto at = text.find(from);
            REQUIRE(at != std::string::npos);
            text.replace(at, from.size(), to);
        };
        swap("\"status\": \"completed\"", "\"status\": \"running\"");
        swap("\"completed\": true", "\"completed\": false");
        swap("\"pid\": " + std::to_string(::getpid()), "\"pid\": " + std::to_string(pid));
        if (!host.empty())
            swap("\"host\": \"", "\"host\": \"" + host);
        if (ticks != 0)
            swap("\"start_ticks\": " + std::to_string(sb::detail::process_start_ticks(::getpid())),
                 "\"start_ticks\": " + std::to_string(ticks));
        std::ofstream(dir / "run_record.json") << text;
    };
    make_running(d.path() / "20200101T000000Z-1", child, "");           // dead, this host
    make_running(d.path() / "20200101T000000Z-2", child, "elsewhere-"); // another host
    make_running(d.path() / "20200101T000000Z-3", ::getpid(), "");      // alive: this process
    // A zombie (killed, not yet reaped) with its own start time: gone too.
    pid_t const zombie = ::fork();
    REQUIRE(zombie >= 0);
    if (zombie == 0)
        ::_exit(0);
    for (int i = 0; i < 200 && sb::detail::process_stat(zombie).first != 'Z'; ++i)
        std::this_thread::sleep_for(5ms);
    std::uint64_t const ticks = sb::detail::process_start_ticks(zombie);
    REQUIRE(ticks != 0);
    make_running(d.path() / "20200101T000000Z-4", zombie, "", ticks);
    auto const r1 = sb::for_each_batch(
        v | sb::views::chunk(10), [](auto&) {}, o);
    ::waitpid(zombie, &status, 0);
    CHECK(r1.completed);
    auto const killed = slurp(d.path() / "20200101T000000Z-1" / "run_record.json");
    CHECK_THAT(killed, Contains("\"status\": \"killed\"") &&
                           Contains("killed: process " + std::to_string(child)) &&
                           Contains(r1.run_dir.filename().string()));
    CHECK_THAT(slurp(d.path() / "20200101T000000Z-2" / "run_record.json"),
               Contains("\"status\": \"running\""));
    CHECK_THAT(slurp(d.path() / "20200101T000000Z-3" / "run_record.json"),
               Contains("\"status\": \"running\""));
    CHECK_THAT(slurp(d.path() / "20200101T000000Z-4" / "run_record.json"),
               Contains("\"status\": \"killed\""));
    CHECK_THAT(slurp(d.path() / "20200101T000000Z-4" / "run_record.json"),
               Contains("\"status\": \"killed\""));
    CHECK(!fs::exists(d.path() / "20200101T000000Z-1" / "run_record.json.tmp"));
}

TEST_CASE("read_memory_profile skips a torn last line and names any other bad line",
          "[for_each_batch][metrics]")
{
    test::temp_dir d{"streambatch-runner-"};
    std::string const good = "{\"index\": 0, \"size\": 10, \"rss_bytes\": 4096, "
                             "\"used_fraction\": 0.5, \"latency_ms\": 1.5, \"t_s\": 0.25}\n";
    auto const f = d.path() / "memory_profile.json";
    std::ofstream(f) << good << good << "{\"index\": 2, \"size\": 1";
    auto p = sb::read_memory_profile(f);
    CHECK(p.samples.size() == 2);
    CHECK(p.samples[1].latency == 1500us);
    CHECK(p.samples[1].at == 250ms);
    CHECK(p.torn);
    CHECK_THAT(p.notice, Contains(f.string() + ": skipped a torn last line (line 3, byte offset " +
                                  std::to_string(2 * good.size()) +
                                  "): the run was killed while writing it"));
    std::ofstream(f) << good << "{\"index\": 1, \"size\": oops}\n" << good;
    CHECK_THROWS_AS(sb::read_memory_profile(f), sb::run_record_error);
    CHECK_THROWS_WITH(sb::read_memory_profile(f), Contains(f.string() + ":2 (byte offset " +
                                                           std::to_string(good.size() + 21) + ")"));
    std::ofstream(f) << good << "{\"index\": 1}\n";
    CHECK_THROWS_WITH(sb::read_memory_profile(f),
                      Contains(":2 (byte offset ") && Contains("expected a batch object"));
    std::ofstream(f) << "[\n" << good.substr(0, good.size() - 1) << ",\n" << good << "]\n";
    CHECK(sb::read_memory_profile(f).samples.size() == 2); // the 0.2 array form
    CHECK_THROWS_WITH(sb::read_memory_profile(d.path() / "missing.json"), Contains("cannot open"));
    CHECK_THROWS_WITH(sb::read_memory_profile(d.path()), Contains("is a directory"));
}

TEST_CASE("a stop from process finishes the batches already pulled, then returns",
          "[for_each_batch][stop]")
{
    for (std::size_t k : {std::size_t{1}, std::size_t{2}, std::size_t{4}})
        for (bool ordered : {true, false}) {
            if (k == 1 && !ordered)
                continue;
            INFO("max_in_flight " << k << (ordered ? ", ordered" : ", unordered"));
            test::temp_dir d{"streambatch-runner-"};
            auto v = iota_vec(1000);
            std::stop_source stop;
            std::atomic<int> pulls{0}; // position() is asked once before the first batch, then
                                       // right after each batch is pulled
            sb::run_options o{.max_in_flight = k,
                              .ordered = ordered,
                              .record_dir = d.path() / "rec",
                              .checkpoint_path = d.path() / "job.ckpt",
                              .checkpoint_every_batches = 1};
            o.position = [&] { return std::to_string(pulls++); };
            o.stop = stop.get_token();
            std::mutex m;
            std::vector<std::uint64_t> committed;
            auto const r = sb::for_each_batch(
                v | sb::views::chunk(10),
                [&](auto& b, sb::batch_info const& info) {
                    if (info.index == 5)
                        stop.request_stop();
                    std::this_thread::sleep_for(1ms);
                    return b.size();
                },
                [&](std::size_t, sb::batch_info const& info) {
                    std::lock_guard lock(m);
                    committed.push_back(info.index);
                },
                o);
            auto const pulled = static_cast<std::uint64_t>(pulls.load() - 1);
            CHECK(r.status == sb::run_status::stopped);
            CHECK_FALSE(r.completed);
            CHECK(r.error.empty());
            if (k == 1)
                CHECK(pulled == 6); // batches 0..5
            CHECK(pulled >= 6);
            CHECK(pulled <= 5 + k);
            std::sort(committed.begin(), committed.end());
            std::vector<std::uint64_t> expect(pulled);
            std::iota(expect.begin(), expect.end(), std::uint64_t{0});
            CHECK(committed == expect); // every batch pulled, and no other
            CHECK(r.batches == pulled);
            CHECK(r.records == pulled * 10);
            CHECK(r.last_position == std::to_string(pulled));
            auto const c = sb::read_checkpoint(d.path() / "job.ckpt");
            REQUIRE(c);
            CHECK(c->batches == pulled);
            CHECK(c->records == pulled * 10);
            CHECK(c->position == std::to_string(pulled));
            CHECK_THAT(slurp(r.run_dir / "run_record.json"), Contains("\"status\": \"stopped\""));
            CHECK_THAT(slurp(r.run_dir / "execution_summary.md"), Contains(": stopped"));
        }
}

TEST_CASE("a stop requested before the run pulls nothing", "[for_each_batch][stop]")
{
    for (std::size_t k : {std::size_t{1}, std::size_t{3}}) {
        auto v = iota_vec(100);
        std::stop_source stop;
        stop.request_stop();
        sb::run_options o{.max_in_flight = k};
        o.stop = stop.get_token();
        int calls = 0;
        auto const r = sb::for_each_batch(
            v | sb::views::chunk(10), [&](auto&) { ++calls; }, o);
        CHECK(calls == 0);
        CHECK(r.batches == 0);
        CHECK(r.status == sb::run_status::stopped);
    }
}

TEST_CASE("run_status names", "[for_each_batch][metrics]")
{
    for (auto s : {sb::run_status::running, sb::run_status::completed, sb::run_status::failed,
                   sb::run_status::stopped, sb::run_status::killed})
        CHECK(sb::run_status_from_text(sb::to_text(s)) == s);
    CHECK(sb::to_text(sb::run_status::stopped) == "stopped");
    CHECK_FALSE(sb::run_status_from_text("done"));
}

TEST_CASE("for_each_batch rejects max_in_flight 0", "[for_each_batch][errors]")
{
    auto v = iota_vec(10);
    CHECK_THROWS_WITH(
        sb::for_each_batch(v | sb::views::chunk(5), [](auto&) {}, {.max_in_flight = 0}),
        Contains("max_in_flight") && Contains("got 0"));
}

TEST_CASE("a checkpoint file that cannot be written stops the job and names the file",
          "[for_each_batch][checkpoint][errors]")
{
    // Checkpoint files are written on a writer thread; its failure must reach the job and stop
    // it then, not only at the end (where the last checkpoint is written on the job's thread),
    // as the checkpoint_error itself, sequential or parallel.
    for (std::size_t k : {std::size_t{1}, std::size_t{2}}) {
        INFO("max_in_flight " << k);
        auto v = iota_vec(1000);
        sb::run_options o{.max_in_flight = k,
                          .checkpoint_path = "/nonexistent-dir/job.ckpt",
                          .checkpoint_every_batches = 1};
        auto slow = [](auto& b) {
            std::this_thread::sleep_for(
                2ms); // 100 batches: 0.2 s, the writer fails in microseconds
            return b.size();
        };
        std::atomic<int> committed{0};
        CHECK_THROWS_AS(sb::for_each_batch(
                            v | sb::views::chunk(10), slow, [&](std::size_t) { ++committed; }, o),
                        sb::checkpoint_error);
        CHECK(committed < 100); // stopped by the writer's error, before the end
        CHECK_THROWS_WITH(sb::for_each_batch(
                              v | sb::views::chunk(10), slow, [](std::size_t) {}, o),
                          Contains("/nonexistent-dir/job.ckpt") && Contains("cannot create"));
    }
}

TEST_CASE("a run record that cannot be written is a run_record_error naming the file",
          "[for_each_batch][metrics][errors]")
{
    test::temp_dir d{"streambatch-runner-"};
    auto v = iota_vec(100);
    std::ofstream(d.path() / "a-file") << "not a directory\n";
    auto const bad = d.path() / "a-file" / "records";
    CHECK_THROWS_AS(sb::for_each_batch(v | sb::views::chunk(10), [](auto&) {}, {.record_dir = bad}),
                    sb::run_record_error);
    CHECK_THROWS_WITH(
        sb::for_each_batch(v | sb::views::chunk(10), [](auto&) {}, {.record_dir = bad}),
        Contains("run record " + bad.string()) && Contains("cannot create"));
    // A directory in the way of run_record.json, made after the run started: the final write
    // fails (its rename), the run otherwise succeeded, so that is the error.
    auto const latest = d.path() / "records" / "latest";
    auto in_the_way = [&](auto& b) {
        if (b[0] == 50) {
            fs::remove(latest / "run_record.json");
            fs::create_directories(latest / "run_record.json" / "in-the-way");
        }
    };
    sb::run_options o{.record_dir = d.path() / "records"};
    CHECK_THROWS_AS(sb::for_each_batch(v | sb::views::chunk(10), in_the_way, o),
                    sb::run_record_error);
    CHECK_THROWS_WITH(
        sb::for_each_batch(v | sb::views::chunk(10), in_the_way, o),
        Contains("run record " +
                 (d.path() / "records" / fs::read_symlink(latest) / "run_record.json").string()) &&
            Contains("rename from"));
    CHECK_FALSE(fs::exists(latest / "run_record.json.tmp"));
    // Every batch was done: the status says so; the record's own failure is what is thrown.
    CHECK_THAT(slurp(latest / "metrics.prom"), Contains("status=\"completed\"} 1"));
}

TEST_CASE("the first error wins, and later record and checkpoint failures are appended",
          "[for_each_batch][metrics][errors]")
{
    // The failures are injected after the run started: <file>.tmp made a symlink to /dev/full,
    // so the atomic writer's write(2) fails with ENOSPC, as on a full disk.
    REQUIRE(fs::exists("/dev/full"));
    for (std::size_t k : {std::size_t{1}, std::size_t{2}}) {
        INFO("max_in_flight " << k);
        test::temp_dir d{"streambatch-runner-"};
        auto v = iota_vec(100);
        auto const latest = d.path() / "records" / "latest";
        auto const ck = d.path() / "job.ckpt";
        sb::run_options o{.max_in_flight = k,
                          .record_dir = d.path() / "records",
                          .checkpoint_path = ck,
                          .checkpoint_every_batches = 1000};
        auto fail_at_30 = [&](auto& b) {
            if (b[0] == 30) {
                fs::create_symlink("/dev/full", latest / "run_record.json.tmp");
                fs::create_symlink("/dev/full", d.path() / "job.ckpt.tmp");
                throw std::runtime_error("boom");
            }
            return b.size();
        };
        std::string what;
        try {
            sb::for_each_batch(
                v | sb::views::chunk(10), fail_at_30, [](std::size_t) {}, o);
            FAIL("no exception");
        } catch (sb::batch_failed const& e) {
            what = e.what();
            CHECK(e.info.index == 3);
            try {
                std::rethrow_if_nested(e);
                FAIL("nothing nested");
            } catch (std::runtime_error const& cause) {
                CHECK(std::string(cause.what()) == "boom");
            }
        }
        INFO(what);
        CHECK_THAT(
            what,
            Contains("batch 3 (records 30..39) failed in process: boom; also: ") &&
                Contains(ck.string() + ": write failed: No space left on device") &&
                Contains(
                    "; also: streambatch: run record " +
                    (d.path() / "records" / fs::read_symlink(latest) / "run_record.json").string() +
                    ": write failed: No space left on device"));
        CHECK(what.find("boom") < what.find("also"));
        CHECK_FALSE(fs::exists(latest / "run_record.json.tmp")); // the symlink, removed
        CHECK_FALSE(fs::exists(d.path() / "job.ckpt.tmp"));
        CHECK(fs::exists("/dev/full"));
        // What could be written says what happened first.
        CHECK_THAT(slurp(latest / "execution_summary.md"), Contains("FAILED") && Contains("boom"));
        CHECK_THAT(slurp(latest / "run_record.json"), Contains("\"status\": \"running\""));
    }
}

namespace {
/// A commit step that holds batches in one transaction until it has `every` of them
/// (detail::holding_commit), as postgres::job_sink with transaction_rows does through run_job;
/// the transaction holding batch `refuse` fails when it commits. for_each_batch takes the step
/// by value: what it did is in the `transactions` it points to.
struct transactions {
    std::size_t every;
    std::uint64_t refuse = ~std::uint64_t{0};
    std::uint64_t fail_send = ~std::uint64_t{0}; ///< its commit (send) throws, rolling back all
    std::vector<std::uint64_t> held{}, committed{};
    bool refused = false;
};
struct holding_step {
    transactions* t;
    void operator()(std::size_t, sb::batch_info const& info)
    {
        if (info.index == t->fail_send) {
            t->held.clear();
            throw std::runtime_error("a record that does not map; the transaction rolled back");
        }
        t->held.push_back(info.index);
        t->refused = t->refused || info.index == t->refuse;
    }
    bool confirm_or_hold()
    {
        if (t->held.size() < t->every)
            return false;
        confirm();
        return true;
    }
    void confirm()
    {
        if (std::exchange(t->refused, false)) {
            t->held.clear();
            throw std::runtime_error("the transaction was refused");
        }
        t->committed.insert(t->committed.end(), t->held.begin(), t->held.end());
        t->held.clear();
    }
};
static_assert(sb::detail::holding_commit<holding_step>);

std::vector<std::uint64_t> first_n(std::uint64_t n)
{
    std::vector<std::uint64_t> v(n);
    std::iota(v.begin(), v.end(), std::uint64_t{0});
    return v;
}
} // namespace

TEST_CASE("for_each_batch counts the batches a holding commit step holds only once it commits "
          "them, and none of a transaction that fails",
          "[for_each_batch][checkpoint][transaction]")
{
    for (std::size_t k : {std::size_t{1}, std::size_t{2}}) {
        INFO("max_in_flight " << k);
        test::temp_dir d{"streambatch-runner-"};
        auto const ck = d.path() / "job.ckpt";
        auto v = iota_vec(100);
        std::atomic<int> pulls{0};
        sb::run_options o{.max_in_flight = k,
                          .progress = sb::progress_mode::never,
                          .checkpoint_path = ck,
                          .checkpoint_every_batches = 1};
        o.position = [&] { return std::to_string(pulls++); };
        auto const run = [&](transactions& t) {
            return sb::for_each_batch(
                v | sb::views::chunk(10), [](auto& b) { return b.size(); }, holding_step{&t}, o);
        };
        SECTION("every transaction commits")
        {
            transactions t{3};
            auto const r = run(t);
            CHECK(r.batches == 10);
            CHECK(t.committed == first_n(10));
            CHECK(sb::read_checkpoint(ck)->batches == 10);
        }
        SECTION("the transaction of batches 6, 7 and 8 fails")
        {
            transactions t{3, 7};
            try {
                run(t);
                FAIL("no error");
            } catch (sb::batch_failed const& e) {
                CHECK(e.info.index == 8); // the batch sent last: its commit ended the transaction
                CHECK_THAT(e.what(), Contains("failed in commit: the transaction was refused"));
            }
            CHECK(t.committed == first_n(6));
            auto const c = sb::read_checkpoint(ck);
            REQUIRE(c);
            CHECK(c->batches == 6); // not 8: batches 6 and 7 went with the transaction
            CHECK(c->records == 60);
            CHECK(c->position == "6");
        }
        SECTION("the commit (send) of batch 7 fails, rolling back batches 5 and 6 held with it")
        {
            transactions t{5};
            t.fail_send = 7;
            try {
                run(t);
                FAIL("no error");
            } catch (sb::batch_failed const& e) {
                CHECK(e.info.index == 7);
                CHECK_THAT(e.what(), Contains("failed in commit: a record that does not map"));
            }
            CHECK(t.committed == first_n(5));
            auto const c = sb::read_checkpoint(ck);
            REQUIRE(c);
            CHECK(c->batches == 5); // not 7: the failed send took 5 and 6 with it
            CHECK(c->position == "5");
        }
    }
}
