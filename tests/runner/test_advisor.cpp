#include <streambatch/runner/advisor.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>

namespace sb = streambatch;
using Catch::Matchers::Contains;
using namespace std::chrono_literals;

namespace {

// A synthetic job whose costs are counted, not timed: a fake clock advances by a known number of
// nanoseconds as the source pulls a record, as the step cleans a batch, as the sink commits one.
// The fitted model must give those numbers back.
struct fake_job {
    std::atomic<std::int64_t> now{0};
    std::atomic<std::size_t> last_batch{0};
    std::int64_t source_per_record = 300;  // ns
    std::int64_t step_per_batch = 20'000;  // ns
    std::int64_t step_per_record = 1'500;  // ns
    std::int64_t sink_per_batch = 980'000; // ns: the sink's transaction
    std::int64_t sink_per_record = 200;    // ns
    std::uint64_t base_rss = 8u << 20;
    std::uint64_t rss_per_record = 500;
    std::uint64_t records = 40'000; // what the source holds

    // A single-pass source of ids: each record pulled costs source_per_record.
    struct source {
        fake_job* job;
        std::uint64_t count;
        struct iterator {
            using value_type = std::uint64_t;
            using difference_type = std::ptrdiff_t;
            fake_job* job = nullptr;
            std::uint64_t i = 0;
            std::uint64_t end = 0;
            std::uint64_t operator*() const
            {
                job->now += job->source_per_record;
                return i;
            }
            iterator& operator++()
            {
                ++i;
                return *this;
            }
            void operator++(int) { ++i; }
            friend bool operator==(iterator const& it, std::default_sentinel_t)
            {
                return it.i == it.end;
            }
        };
        iterator begin() const { return {job, 0, count}; }
        std::default_sentinel_t end() const { return {}; }
    };

    sb::advisor_options options()
    {
        sb::advisor_options o;
        o.batch_sizes = {100, 300, 1000, 3000, 10000};
        o.in_flight = {1};
        o.sample_records = 30'000;
        o.cores = 2;
        o.clock = [this] { return std::chrono::nanoseconds(now.load()); };
        o.rss = [this] { return base_rss + rss_per_record * last_batch.load(); };
        return o;
    }
    auto make_source()
    {
        return [this] { return source{this, records}; };
    }
    auto step()
    {
        return [this](auto& batch) {
            std::vector<std::uint64_t> out; // counted work: a real result, a known cost
            for (std::uint64_t id : batch)
                out.push_back(id * 2654435761u);
            now += step_per_batch + step_per_record * std::int64_t(out.size());
            last_batch = out.size();
            return out;
        };
    }
    // What the advisor gets instead of the real sink: counts what it writes.
    struct scratch_sink {
        fake_job* job;
        std::uint64_t* written;
        void operator()(std::vector<std::uint64_t>&& out)
        {
            job->now += job->sink_per_batch + job->sink_per_record * std::int64_t(out.size());
            *written += out.size();
        }
    };
};

static_assert(std::ranges::input_range<fake_job::source>);

} // namespace

TEST_CASE("advisor: the fit gives back a known a + b*n from injected costs", "[advisor]")
{
    fake_job job;
    std::uint64_t scratch = 0;
    auto const a = sb::advise(
        job.make_source(), job.step(),
        [&] {
            return fake_job::scratch_sink{&job, &scratch};
        },
        job.options());
    REQUIRE(a.sample_records == 30'000);
    REQUIRE(a.trials.size() == 5);
    CHECK(scratch == 5 * 30'000u); // every trial wrote the whole sample to the scratch sink
    for (auto const& t : a.trials)
        CHECK(t.records == 30'000);
    sb::advisor_model const& m = a.model;
    CHECK(m.source.a_ns == Approx(0).margin(1));
    CHECK(m.source.b_ns == Approx(300).epsilon(1e-6));
    CHECK(m.step.a_ns == Approx(20'000).epsilon(1e-6));
    CHECK(m.step.b_ns == Approx(1'500).epsilon(1e-6));
    CHECK(m.sink.a_ns == Approx(980'000).epsilon(1e-6));
    CHECK(m.sink.b_ns == Approx(200).epsilon(1e-6));
    CHECK(m.total().a_ns == Approx(1'000'000).epsilon(1e-6)); // a = 1 ms a batch
    CHECK(m.total().b_ns == Approx(2'000).epsilon(1e-6));     // b = 2 us a record
    CHECK(m.bytes_per_record == Approx(500).epsilon(1e-6));
    CHECK(m.base_bytes == Approx(8u << 20).epsilon(1e-6));
    // measured and predicted agree on every trial (the costs are exactly linear)
    for (auto const& t : a.trials)
        CHECK(t.records_per_second == Approx(t.predicted_records_per_second).epsilon(1e-6));
    // 10 000 a batch: 1e4 records in 1 ms + 20 ms
    CHECK(m.records_per_second(10'000, 1) == Approx(1e13 / 21e6).epsilon(1e-9));
    // no goal but records/s: the smallest batch within 5 % of the best (n >= 4750 here)
    CHECK(a.batch >= 4750);
    CHECK(a.max_in_flight == 1);
    CHECK(a.predicted_records_per_second >= 0.95 * m.records_per_second(10'000, 1));
    std::string const text = sb::to_text(a);
    CHECK_THAT(text, Contains("a + b*n = 1000.0 us + 2.000 us*n"));
    CHECK_THAT(text, Contains("--batch " + std::to_string(a.batch) + " --jobs 1"));
}

TEST_CASE("advisor: the recommendation under a memory budget", "[advisor]")
{
    fake_job job;
    std::uint64_t scratch = 0;
    auto o = job.options();
    o.memory_budget = (8u << 20) + 1'048'576; // 1 MiB over the base: n <= 2097 at 500 B
    auto const a = sb::advise(
        job.make_source(), job.step(),
        [&] {
            return fake_job::scratch_sink{&job, &scratch};
        },
        o);
    CHECK(a.batch <= 2097);
    CHECK(a.batch >= 1000); // within 5 % of the records/s of the largest size on the grid that fits
    CHECK(a.predicted_records_per_second >= 0.95 * 1500.0 * 1e9 / (1e6 + 2000.0 * 1500));
    CHECK(a.max_in_flight == 1);
    CHECK(a.predicted_peak_rss_bytes <= o.memory_budget);
    CHECK(a.predicted_peak_rss_bytes == (8u << 20) + 500 * a.batch);
    CHECK(a.predicted_records_per_second ==
          Approx(double(a.batch) * 1e9 / (1e6 + 2000.0 * double(a.batch))));
    CHECK_THAT(a.goal, Contains("within 9.0 MiB"));
}

TEST_CASE("advisor: the recommendation under a latency bound", "[advisor]")
{
    fake_job job;
    std::uint64_t scratch = 0;
    auto o = job.options();
    o.latency_bound = 3ms; // 1 ms + 2 us * n <= 3 ms: n <= 1000
    auto const a = sb::advise(
        job.make_source(), job.step(),
        [&] {
            return fake_job::scratch_sink{&job, &scratch};
        },
        o);
    CHECK(a.batch <= 1000);
    CHECK(a.batch >= 864); // within 5 % of records/s at 1000
    CHECK(a.predicted_latency <= 3ms);
    CHECK(a.predicted_latency.count() == Approx(1e6 + 2000.0 * double(a.batch)).epsilon(1e-6));
    CHECK_THAT(a.goal, Contains("at most 3.000 ms a batch"));
}

TEST_CASE("advisor: in flight beyond the cores, and the machine's share", "[advisor]")
{
    // Trials given directly: the step is 90 % of a batch; on 2 cores the model allows 1.8x at
    // k = 2, the trials measured 1.5x: e_2 = 1.5 / 1.8 scales every k = 2 prediction.
    std::vector<sb::advisor_trial> trials;
    for (std::size_t n : {100u, 1000u}) {
        sb::advisor_trial t{.batch = n, .in_flight = 1, .records = 10 * n, .batches = 10};
        t.source = std::chrono::nanoseconds(std::int64_t(50 * n));
        t.step = std::chrono::nanoseconds(std::int64_t(900 * n));
        t.sink = std::chrono::nanoseconds(std::int64_t(50 * n));
        t.elapsed = 10 * (t.source + t.step + t.sink);
        t.records_per_second = 1e9 / 1000;
        t.peak_rss_bytes = 1000;
        trials.push_back(t);
        sb::advisor_trial t2 = t;
        t2.in_flight = 2;
        t2.records_per_second = 1.5e9 / 1000;
        trials.push_back(t2);
    }
    sb::advisor_model const m = sb::fit_advisor_model(trials, 2, 0);
    CHECK(m.total().b_ns == Approx(1000));
    REQUIRE(m.efficiency.size() == 1);
    CHECK(m.efficiency[0].second == Approx(1.5 / (1000.0 / 500.0)).epsilon(1e-9));
    CHECK(m.records_per_second(1000, 2) == Approx(1.5e6).epsilon(1e-9));
    CHECK(m.records_per_second(1000, 1) == Approx(1e6).epsilon(1e-9));
    for (auto const& t : trials)
        CHECK(t.predicted_records_per_second == Approx(t.records_per_second).epsilon(1e-9));
}

TEST_CASE("advisor: a job_sink is opened, committed and closed per trial, the real one never "
          "written",
          "[advisor]")
{
    struct sink_log {
        std::vector<std::string> keys;
        std::uint64_t records = 0, commits = 0, closes = 0, last_batches = 0;
    };
    struct scratch_job_sink { // a scratch table: what the factory gives the advisor
        sink_log* log;
        std::optional<sb::job_state> open(sb::job_key const& k)
        {
            log->keys.push_back(k.str());
            return std::nullopt;
        }
        void commit(std::vector<std::uint64_t>&& out, sb::job_state const& st)
        {
            log->records += out.size();
            ++log->commits;
            log->last_batches = st.batches;
        }
        void close() { ++log->closes; }
        std::string describe() const { return "scratch"; }
    };
    fake_job job;
    std::vector<std::uint64_t> real_table; // the user's real sink: the advisor never sees it
    sink_log log;
    int factory_calls = 0;
    auto o = job.options();
    o.batch_sizes = {1000, 2000};
    o.in_flight = {1, 2};
    auto const a = sb::advise(
        job.make_source(), job.step(),
        [&] {
            ++factory_calls;
            return std::make_unique<scratch_job_sink>(&log);
        },
        o);
    CHECK(factory_calls == 4); // one scratch sink per trial
    CHECK(log.keys == std::vector<std::string>(4, "streambatch advisor"));
    CHECK(log.closes == 4);
    CHECK(log.records == 4 * 30'000u);
    CHECK(log.commits == 15 + 15 + 30 + 30);
    CHECK(real_table.empty());
    CHECK(a.trials.size() == 4);
}

TEST_CASE("advisor: errors name what is wrong", "[advisor]")
{
    fake_job job;
    std::uint64_t scratch = 0;
    auto const sink = [&] { return fake_job::scratch_sink{&job, &scratch}; };
    SECTION("an empty sample")
    {
        job.records = 0;
        CHECK_THROWS_MATCHES(sb::advise(job.make_source(), job.step(), sink, job.options()),
                             sb::advisor_error,
                             Catch::Matchers::Message("advise: the sample is empty: the source "
                                                      "gave no records (30000 asked)"));
        CHECK(scratch == 0); // no trial ran
    }
    SECTION("a sample too small for the sizes asked")
    {
        job.records = 15'000;
        CHECK_THROWS_MATCHES(
            sb::advise(job.make_source(), job.step(), sink, job.options()), sb::advisor_error,
            Catch::Matchers::Message("advise: the sample is too small: 15000 records, but batches "
                                     "of 10000 need at least 20000 (two batches a trial): take a "
                                     "larger sample or smaller sizes"));
        CHECK(scratch == 0);
    }
    SECTION("a memory budget no setting meets names the smallest memory needed")
    {
        auto o = job.options();
        o.memory_budget = 8u << 20; // the base alone
        CHECK_THROWS_MATCHES(
            sb::advise(job.make_source(), job.step(), sink, o), sb::advisor_error,
            Catch::Matchers::Message(
                "no batch size meets the memory budget of 8.0 MiB: the smallest memory needed is "
                "8.0 MiB (batches of 100, 1 in flight; base 8.0 MiB + 500 bytes a record in a "
                "batch)"));
    }
    SECTION("a latency bound none meets names the smallest latency")
    {
        auto o = job.options();
        o.latency_bound = 1ms; // a = 1 ms already
        CHECK_THROWS_MATCHES(sb::advise(job.make_source(), job.step(), sink, o), sb::advisor_error,
                             Catch::Matchers::Message("no batch size meets the latency bound of "
                                                      "1.000 ms a batch: the smallest latency is "
                                                      "1.200 ms (batches of 100, 1 in flight)"));
    }
    SECTION("one batch size, or no k = 1")
    {
        auto o = job.options();
        o.batch_sizes = {100, 100};
        CHECK_THROWS_WITH(sb::advise(job.make_source(), job.step(), sink, o),
                          Contains("at least two batch sizes"));
        o = job.options();
        o.in_flight = {2};
        CHECK_THROWS_WITH(sb::advise(job.make_source(), job.step(), sink, o),
                          Contains("must include 1"));
    }
}

TEST_CASE("advisor: the plot is an SVG with a curve per in-flight count", "[advisor]")
{
    fake_job job;
    auto o = job.options();
    o.in_flight = {1, 2};
    o.batch_sizes = {100, 1000};
    auto const a = sb::advise(
        job.make_source(), job.step(), [] { return sb::dry_run_sink{}; }, o);
    auto const path =
        std::filesystem::temp_directory_path() / ("advisor-" + std::to_string(::getpid()) + ".svg");
    sb::write_svg(a, path);
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    std::filesystem::remove(path);
    std::string const svg = text.str();
    CHECK(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
    CHECK(svg.ends_with("</svg>\n"));
    CHECK_THAT(svg, Contains("1 in flight") && Contains("2 in flight"));
    std::size_t polylines = 0, dots = 0;
    for (std::size_t at = 0; (at = svg.find("<polyline", at)) != std::string::npos; ++at)
        ++polylines;
    for (std::size_t at = 0; (at = svg.find("r=\"3.5\"", at)) != std::string::npos; ++at)
        ++dots;
    CHECK(polylines == 2);
    CHECK(dots == a.trials.size());
    CHECK_THROWS_WITH(sb::write_svg(a, "/nonexistent-dir/x.svg"),
                      "write_svg: cannot write /nonexistent-dir/x.svg");
}

TEST_CASE("advisor: repeats run each trial again and keep the median", "[advisor]")
{
    fake_job job;
    std::uint64_t scratch = 0;
    int factory_calls = 0;
    auto o = job.options();
    o.batch_sizes = {1000, 3000};
    o.repeats = 3;
    // the sink's cost per batch grows by 1 ms on every call of the factory: the three runs of
    // a trial differ, and the median (the second run's) is kept
    auto const a = sb::advise(
        job.make_source(), job.step(),
        [&] {
            ++factory_calls;
            job.sink_per_batch = 980'000 + 1'000'000 * (factory_calls - 1);
            return fake_job::scratch_sink{&job, &scratch};
        },
        o);
    CHECK(factory_calls == 6);
    REQUIRE(a.trials.size() == 2);
    // batches of 1000 ran with sink a = 0.98, 1.98, 2.98 ms: the median is 1.98 ms
    CHECK(a.trials[0].sink.count() == Approx(1'980'000 + 200 * 1000).epsilon(1e-9));
    CHECK(a.trials[1].sink.count() == Approx(4'980'000 + 200 * 3000).epsilon(1e-9));
}

namespace {

struct positioned { // a job source over the fake one: identity() costs 50 us, as hashing
    fake_job* job;
    int* identities;
    std::uint64_t pulled = 0;
    struct counting_view : std::ranges::view_interface<counting_view> {
        positioned* self = nullptr;
        struct iterator {
            using value_type = std::uint64_t;
            using difference_type = std::ptrdiff_t;
            positioned* self = nullptr;
            std::uint64_t operator*() const
            {
                self->job->now += self->job->source_per_record;
                return self->pulled;
            }
            iterator& operator++()
            {
                ++self->pulled;
                return *this;
            }
            void operator++(int) { ++*this; }
            friend bool operator==(iterator const& it, std::default_sentinel_t)
            {
                return it.self->pulled == it.self->job->records;
            }
        };
        iterator begin() const { return {self}; }
        std::default_sentinel_t end() const { return {}; }
    };
    counting_view rows() { return {{}, this}; }
    std::string position() const { return std::to_string(pulled); }
    std::string identity()
    {
        ++*identities;
        job->now += 50'000;
        return "id" + std::to_string(pulled);
    }
    void seek(std::string_view) {}
    void check_identity(sb::job_state const&) {}
    std::string describe() const { return "positioned"; }
};
struct state_sink {
    std::vector<sb::job_state>* states;
    std::optional<sb::job_state> open(sb::job_key const&) { return std::nullopt; }
    void commit(std::vector<std::uint64_t>&&, sb::job_state const& st) { states->push_back(st); }
    void close() {}
    std::string describe() const { return "states"; }
};
} // namespace

TEST_CASE("advisor: a job source is asked its position and identity after each batch, as run_job "
          "asks, and its cost counts as the source's",
          "[advisor]")
{
    fake_job job;
    std::vector<sb::job_state> states;
    std::deque<int> identities; // per source made
    auto o = job.options();
    o.batch_sizes = {1000, 3000};
    auto const a = sb::advise(
        [&] {
            identities.push_back(0);
            return positioned{&job, &identities.back()};
        },
        job.step(), [&] { return state_sink{&states}; }, o);
    REQUIRE(identities.size() == 3); // the counting pass and two trials
    CHECK(identities[1] == 30);      // 30 batches of 1000
    CHECK(identities[2] == 10);      // 10 of 3000
    REQUIRE(states.size() == 40);
    CHECK(states[0].position == "1000");
    CHECK(states[0].identity == "id1000");
    CHECK(states[0].records == 1000);
    CHECK(states[29].position == "30000");
    CHECK(states[30].position == "3000");
    // 50 us a batch more in the source: a = 50 us, b = 300 ns
    CHECK(a.model.source.a_ns == Approx(50'000).epsilon(1e-6));
    CHECK(a.model.source.b_ns == Approx(300).epsilon(1e-6));
}

TEST_CASE("advisor: no setting with a rate above 0 is an advisor_error, not a null pick",
          "[advisor]")
{
    fake_job job;
    std::uint64_t scratch = 0;
    auto const sink = [&] { return fake_job::scratch_sink{&job, &scratch}; };
    SECTION("near_best below 0: nothing is within it of the best")
    {
        auto o = job.options();
        o.near_best = -0.5;
        CHECK_THROWS_MATCHES(sb::advise(job.make_source(), job.step(), sink, o), sb::advisor_error,
                             Catch::Matchers::Message("advise: near_best must be at least 0 and "
                                                      "below 1 (a fraction of the best "
                                                      "records/s), got -0.500000"));
        CHECK(scratch == 0); // said before any trial ran
    }
    SECTION("a clock that does not advance: every predicted rate is 0")
    {
        auto o = job.options();
        o.clock = [] { return std::chrono::nanoseconds(0); };
        CHECK_THROWS_MATCHES(
            sb::advise(job.make_source(), job.step(), sink, o), sb::advisor_error,
            Catch::Matchers::Message(
                "no setting has a predicted rate above 0 records/s (35 settings within the "
                "goal): the fitted cost of a batch is 0.0 ns + 0.000 ns*n, so the trials "
                "measured no time (does the clock advance?) or a rate that is not a number"));
    }
    SECTION("recommend() on a model fitted to nothing")
    {
        sb::advice a; // a model of all zeros
        sb::advisor_options o;
        CHECK_THROWS_WITH(sb::recommend(a, o),
                          Contains("no setting has a predicted rate above 0 records/s"));
    }
}

TEST_CASE("advisor: trials all at one mean batch size fit a = 0 and the whole cost per record, "
          "never a slope over rounding",
          "[advisor]")
{
    // Three k = 1 trials, each 3 batches of 1000 records in all (a mean of 333.33): 1/n is the
    // same double, but the mean of three of them rounds off it, so a least-squares slope over
    // them is rounding noise divided by (rounding noise)^2.
    std::vector<sb::advisor_trial> trials;
    // (Before the check, these three fitted the step a = 174.8 us, b = 675.7 ns from that noise.)
    for (std::int64_t per_batch : {300'000, 400'000, 500'004}) {
        sb::advisor_trial t{.batch = 1000, .in_flight = 1, .records = 1000, .batches = 3};
        t.step = std::chrono::nanoseconds(per_batch); // source and sink 0
        t.elapsed = 3 * t.step;
        t.records_per_second = 1000 * 1e9 / double(t.elapsed.count());
        t.peak_rss_bytes = 1 << 20;
        trials.push_back(t);
    }
    sb::advisor_model const m = sb::fit_advisor_model(trials, 2, 100);
    CHECK(m.one_batch_size);
    REQUIRE(m.measured_batches.size() == 1);
    CHECK(m.measured_batches[0] == Approx(1000.0 / 3));
    for (sb::cost_line const& l : {m.source, m.step, m.sink, m.total()}) {
        CHECK(std::isfinite(l.a_ns));
        CHECK(std::isfinite(l.b_ns));
        CHECK(l.a_ns == 0);
    }
    // the whole cost per record: the mean of 300, 400, 500.004 us a batch of 333.33
    CHECK(m.step.b_ns == Approx(400'001.333 / (1000.0 / 3)).epsilon(1e-9));
    CHECK(m.total().b_ns == Approx(400'001.333 / (1000.0 / 3)).epsilon(1e-9));
    for (auto const& t : trials)
        CHECK(std::isfinite(t.predicted_records_per_second));
    // records/s is flat in n: no size is claimed faster than another
    CHECK(m.records_per_second(100, 1) == Approx(m.records_per_second(10'000, 1)));

    sb::advice a;
    a.trials = trials;
    a.model = m;
    sb::advisor_options o;
    o.batch_sizes = {1000, 3000};
    o.in_flight = {1};
    sb::recommend(a, o);
    CHECK(a.batch == 1000); // the least memory among equals
    CHECK(std::isfinite(a.predicted_records_per_second));
    CHECK_THAT(sb::to_text(a), Contains("all ran at one mean batch size"));
}

TEST_CASE("advisor: an in-flight count no trial ran is modelled from the counts that ran, and "
          "to_text says which were measured",
          "[advisor]")
{
    // The step is 90 % of a batch; 4 cores. Trials at 1 and 4 in flight; 4 in flight measured
    // 3x of 1 in flight where the model allows 4x (serial part 10 %: at most 10x): e_4 = 0.75.
    std::vector<sb::advisor_trial> trials;
    for (std::size_t n : {100u, 1000u}) {
        sb::advisor_trial t{.batch = n, .in_flight = 1, .records = 10 * n, .batches = 10};
        t.source = std::chrono::nanoseconds(std::int64_t(50 * n));
        t.step = std::chrono::nanoseconds(std::int64_t(900 * n));
        t.sink = std::chrono::nanoseconds(std::int64_t(50 * n));
        t.elapsed = 10 * (t.source + t.step + t.sink);
        t.records_per_second = 1e6;
        t.peak_rss_bytes = 1000 + 10 * n;
        trials.push_back(t);
        sb::advisor_trial t4 = t;
        t4.in_flight = 4;
        t4.records_per_second = 3e6;
        t4.peak_rss_bytes = 1000 + 40 * n;
        trials.push_back(t4);
    }
    sb::advisor_model const m = sb::fit_advisor_model(trials, 4, 0);
    REQUIRE(m.efficiency.size() == 1);
    CHECK(m.efficiency[0].second == Approx(0.75));
    CHECK(m.measured_in_flight(1));
    CHECK(m.measured_in_flight(4));
    CHECK_FALSE(m.measured_in_flight(2));
    // 2 and 3 in flight: e from 4 in flight (the nearest that ran), not an ideal speed-up
    CHECK(m.efficiency_at(2) == Approx(0.75));
    CHECK(m.efficiency_at(3) == Approx(0.75));
    CHECK(m.records_per_second(1000, 2) == Approx(0.75 * 2e6)); // ideal 2x of 1e6, at 0.75
    CHECK(m.records_per_second(1000, 3) == Approx(0.75 * 3e6));
    CHECK(m.records_per_second(1000, 4) == Approx(3e6));

    sb::advice a;
    a.trials = trials;
    a.model = m;
    sb::advisor_options o;
    o.batch_sizes = {100, 1000};
    o.in_flight = {1, 4};
    sb::recommend(a, o);
    CHECK(a.max_in_flight == 4); // an ideal 3 in flight (3e6, less memory) would be picked
    CHECK(a.measured_in_flight);
    CHECK(a.predicted_records_per_second == Approx(3e6));
    std::string text = sb::to_text(a);
    CHECK_THAT(
        text,
        Contains(
            "measured: batch sizes 100, 1000 at 1, 4 in flight; the rest is read off the model\n"));
    CHECK_THAT(text, !Contains("extrapolated"));

    // Within a memory budget of 3000 bytes (1000 + 10*k*n: 4 and 3 in flight do not fit; 2 in
    // flight fits at 100): 2 in flight at 100 is picked, and said to be extrapolated.
    o.memory_budget = 3000;
    sb::recommend(a, o);
    CHECK(a.max_in_flight == 2);
    CHECK_FALSE(a.measured_in_flight);
    CHECK(a.predicted_records_per_second == Approx(1.5e6)); // not an ideal 2e6
    text = sb::to_text(a);
    CHECK_THAT(text, Contains("not measured: 2 in flight (extrapolated: no trial ran it; 0.75 of "
                              "the model, from the nearest count that ran)"));
}

TEST_CASE("advisor: a sink's close() is timed with the trial, as the sink's (a deferred cost such "
          "as a WAL checkpoint is a cost of the records written)",
          "[advisor]")
{
    struct deferring_sink { // commits cheaply and pays 100 ns a record at close(), as a
        fake_job* job;      // database that checkpoints its log then
        std::uint64_t pending = 0;
        std::optional<sb::job_state> open(sb::job_key const&) { return std::nullopt; }
        void commit(std::vector<std::uint64_t>&& out, sb::job_state const&)
        {
            job->now += job->sink_per_batch + job->sink_per_record * std::int64_t(out.size());
            pending += out.size();
        }
        void close()
        {
            job->now += 100 * std::int64_t(pending);
            pending = 0;
        }
        std::string describe() const { return "deferring"; }
    };
    fake_job job;
    auto const a = sb::advise(
        job.make_source(), job.step(), [&] { return deferring_sink{&job}; }, job.options());
    CHECK(a.model.sink.a_ns == Approx(980'000).epsilon(1e-6));
    CHECK(a.model.sink.b_ns == Approx(200 + 100).epsilon(1e-6)); // the close's share a record
    CHECK(a.model.source.b_ns == Approx(300).epsilon(1e-6));     // not the source's
    for (auto const& t : a.trials) // the trial's records/s counts the close
        CHECK(t.records_per_second ==
              Approx(30'000 * 1e9 / (30'000 * 2'100.0 + double(t.batches) * 1'000'000))
                  .epsilon(1e-9));
}

TEST_CASE("advisor: confirming runs time the recommended setting on a longer sample, and their "
          "median is the prediction",
          "[advisor]")
{
    fake_job job;
    job.records = 200'000;
    std::uint64_t scratch = 0;
    auto o = job.options();
    o.batch_sizes = {1000, 3000};
    o.sample_records = 20'000;
    o.confirm_repeats = 3;
    o.confirm_records = 100'000;
    // Each call of the sink factory adds 1 ms to the sink's cost a batch, so the three confirming
    // runs (the last three factory calls) measure three different rates: the median is the
    // second's.
    int factory_calls = 0;
    auto const a = sb::advise(
        job.make_source(), job.step(),
        [&] {
            ++factory_calls;
            if (factory_calls > 2)
                job.sink_per_batch = 980'000 + 1'000'000 * (factory_calls - 2);
            return fake_job::scratch_sink{&job, &scratch};
        },
        o);
    CHECK(factory_calls == 2 + 3);
    REQUIRE(a.confirmations.size() == 3);
    for (auto const& t : a.confirmations) {
        CHECK(t.batch == a.batch);
        CHECK(t.in_flight == a.max_in_flight);
        CHECK(t.records == 100'000); // the longer sample, not the trials' 20 000
    }
    // A run of 100 000 records at batches of n (the last one shorter): 300 ns a record pulled,
    // the step 20 us a batch + 1.5 us a record, the sink its a a batch + 200 ns a record.
    auto const rate = [&](double sink_a) {
        double const records = 100'000;
        double const batches = std::ceil(records / double(a.batch));
        double const ns = records * (300 + 1'500 + 200) + batches * (20'000 + sink_a);
        return records * 1e9 / ns;
    };
    CHECK(a.confirmations[0].records_per_second == Approx(rate(1'980'000)).epsilon(1e-6));
    CHECK(a.confirmations[1].records_per_second == Approx(rate(2'980'000)).epsilon(1e-6));
    CHECK(a.confirmations[2].records_per_second == Approx(rate(3'980'000)).epsilon(1e-6));
    CHECK(a.predicted_records_per_second == Approx(rate(2'980'000)).epsilon(1e-6));
    // the model, fitted on the trials (sink a = 0.98 ms), said more, and is kept (its rate is
    // for whole batches: within 1 % of this run's, whose last batch is shorter)
    CHECK(a.modelled_records_per_second == Approx(rate(980'000)).epsilon(1e-2));
    CHECK(a.modelled_records_per_second > a.predicted_records_per_second * 1.2);
    // the model's latency (a = 20 us + 0.98 ms, b = 2 us a record) scaled by how much slower the
    // setting ran than modelled
    CHECK(double(a.predicted_latency.count()) ==
          Approx((1e6 + 2000.0 * double(a.batch)) * a.modelled_records_per_second /
                 a.predicted_records_per_second)
              .epsilon(1e-6));
    auto const text = sb::to_text(a);
    CHECK_THAT(text, Contains("confirmed: 3 runs of 100000 records at --batch " +
                              std::to_string(a.batch) + " --jobs 1"));
    CHECK_THAT(text, Contains("the model said"));
    CHECK_THAT(text, !Contains("not measured:")); // the confirming runs measured the pick
}

TEST_CASE("advisor: without confirming runs the prediction is the model's", "[advisor]")
{
    fake_job job;
    std::uint64_t scratch = 0;
    auto o = job.options();
    auto const a = sb::advise(
        job.make_source(), job.step(),
        [&] {
            return fake_job::scratch_sink{&job, &scratch};
        },
        o);
    CHECK(a.confirmations.empty());
    CHECK(a.predicted_records_per_second == a.modelled_records_per_second);
    CHECK_THAT(sb::to_text(a), !Contains("confirmed:"));
}
