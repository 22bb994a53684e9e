// streambatch/runner/advisor.hpp: the batch-size advisor. Runs the user's own job (source, step,
// sink) on a sample of its input at several batch sizes and batches in flight, fits what a batch
// costs, and recommends a batch size and max_in_flight for a goal.
//
// In:     make_source(): a fresh input per trial, either a range of records or a job_source
//         (job/contract.hpp: its rows() are read); the advisor reads its first
//         advisor_options::sample_records records. step(batch) -> what the sink takes, as for
//         for_each_batch / run_job. make_sink(): a fresh sink per trial, called by the advisor
//         for each trial and destroyed after it: a job_sink (open / commit(out, state) / close:
//         a scratch table or database, never the real one), a callable sink(out&&), or
//         anything with write(out); streambatch::dry_run_sink discards. advisor_options: the
//         sizes, the in-flight counts, the goal (memory budget, latency bound per batch).
// Out:    advice: each trial (batch size, in flight, records/s measured and predicted, peak
//         RSS), the fitted advisor_model, the recommended batch and max_in_flight with the
//         predicted records/s, peak RSS and batch latency; to_text(advice) is the table and the
//         recommendation; write_svg(advice, path) plots records/s against the batch size, one
//         curve per in-flight count, the trials as dots, the recommendation ringed.
// Models: a pass that counts the sample (and warms the caches), then one trial per (size, k)
//         (advisor_options::repeats runs of it, the median kept), smallest k*size first:
//         for_each_batch over the sample | views::memory_guarded(size) with max_in_flight = k,
//         as run_job runs it (a job source's position() and identity() taken after each batch
//         pulled, a job sink given them with the batch; its close() timed with the trial, as the
//         sink's: what a sink defers to it, such as a WAL checkpoint, is a cost of the records
//         written). In the k = 1 trials the clock times step and sink; the source's share is the
//         rest. Source, step and sink each cost a + b*n a batch
//         of n, fitted by least squares over those trials as time per record = b + a/n (each trial
//         weighed by its relative error, as records/s is; neither a nor b below 0), so a batch
//         costs t(n) = a + b*n. With k in flight on C cores (advisor_options::cores) the step runs
//         in parallel and the source and sink serially, so
//             records/s(n, k) = e_k * n / max(t(n) / min(k, C), source(n) + sink(n))
//         where e_k (1 for k = 1) is the median of measured / modelled records/s over the
//         trials with k in flight (the machine's contention); for a k no trial ran, the e of the
//         nearest k that ran (never an ideal speed-up), and to_text says which settings were
//         measured and which not. When the k = 1 trials all ran at one mean batch size, a and b
//         cannot be told apart: a = 0 and the whole cost per record. Batch latency(n, k) =
//         t(n) * max(1, k / C) / e_k. Memory: peak RSS = base + k*n*bytes_per_record, the
//         line fitted to each trial's largest RSS sample (taken as each step returns, the batch
//         and its result alive), bytes_per_record never below what streambatch::record_bytes
//         weighs in a record and its result. The recommendation: of the batch sizes on a grid
//         between the smallest and largest tried and k up to the largest tried, those within
//         the memory budget and the latency bound; the smallest memory among those within
//         near_best (5 %) of the best records/s. With confirm_repeats, that setting then runs
//         confirm_repeats times on confirm_records records (4 samples by default), and the
//         median of those runs is the predicted records/s (the model's stays beside it), and
//         the batch latency is the model's scaled by the model's rate over that median; the
//         peak RSS stays the model's (a short run does not grow the heap a long one does).
// Memory: k batches of the sample and their results at most, as the real job; O(trials).
// Errors: advisor_error: an empty sample, a sample smaller than two batches of the largest
//         size (names both), fewer than two batch sizes, no k = 1 in the in-flight counts, a
//         memory budget no setting meets (names the smallest memory needed, and at which
//         setting), a latency bound none meets (names the smallest latency), near_best outside
//         [0, 1), no setting with a predicted rate above 0 (names the fitted cost: a clock that
//         did not advance); what the job throws, as for_each_batch reports it. See
//         docs/batch-size.md.
// Example:
//     streambatch::advisor_options o{.sample_records = 50'000, .memory_budget = 64 << 20};
//     auto advice = streambatch::advise([&] { return read_rows("in.csv"); }, clean,
//                                       [] { return streambatch::dry_run_sink{}; }, o);
//     std::fputs(streambatch::to_text(advice).c_str(), stdout);   // --batch N --jobs K ...

#ifndef STREAMBATCH_RUNNER_ADVISOR_HPP_INCLUDED
#define STREAMBATCH_RUNNER_ADVISOR_HPP_INCLUDED

#include <streambatch/guard/memory_guard.hpp>
#include <streambatch/guard/memory_probe.hpp>
#include <streambatch/job/contract.hpp>
#include <streambatch/record_bytes.hpp>
#include <streambatch/runner/for_each_batch.hpp>
#include <streambatch/runner/run_options.hpp>
#include <streambatch/views/memory_guarded.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <mutex>
#include <ranges>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace streambatch {

/// What the advisor cannot do; what() says why and what would do.
class advisor_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// A sink that writes nothing: it counts the records it was given.
struct dry_run_sink {
    std::uint64_t records = 0;
    template <class Out>
    void operator()(Out&& out)
    {
        if constexpr (std::ranges::sized_range<Out>)
            records += std::ranges::size(out);
        else
            ++records;
    }
};

struct advisor_options {
    std::vector<std::size_t> batch_sizes{100, 300, 1000, 3000}; ///< at least two
    std::vector<std::size_t> in_flight{1, 2};                   ///< must hold 1
    std::size_t sample_records = 20'000; ///< records read from the source per trial (at most)
    std::size_t repeats = 1; ///< runs of each trial; the one with the median records/s is kept
    /// Runs of the recommended setting on a longer sample after the recommendation (0: none);
    /// when run, their median records/s is the prediction (the model's is kept beside it).
    std::size_t confirm_repeats = 0;
    std::size_t confirm_records = 0; ///< records a confirming run reads (0: 4 * sample_records)
    std::uint64_t memory_budget = 0; ///< bytes of peak RSS allowed (0: no budget)
    std::chrono::nanoseconds latency_bound{0}; ///< per batch, pulled to committed (0: none)
    unsigned cores = 0;                        ///< 0: std::thread::hardware_concurrency()
    double near_best = 0.05; ///< take the smallest memory within this fraction of the best
    std::string job = "streambatch advisor";           ///< the key a job_sink is opened with
    std::function<std::chrono::nanoseconds()> clock{}; ///< empty: steady_clock
    std::function<std::uint64_t()> rss{};              ///< empty: rss_reader (statm)
};

/// One trial: the sample run with batches of `batch` and `in_flight` of them at once.
struct advisor_trial {
    std::size_t batch = 0;
    std::size_t in_flight = 1;
    std::uint64_t records = 0;
    std::uint64_t batches = 0;
    std::chrono::nanoseconds elapsed{0};
    std::chrono::nanoseconds source{0}, step{0}, sink{0}; ///< per batch, k = 1 trials only
    std::uint64_t peak_rss_bytes = 0;                     ///< largest sample in the trial
    double records_per_second = 0;                        ///< measured
    double predicted_records_per_second = 0;              ///< the fitted model's
};

/// a + b*n nanoseconds per batch of n records.
struct cost_line {
    double a_ns = 0; ///< per batch
    double b_ns = 0; ///< per record
    double at(double n) const noexcept { return a_ns + b_ns * n; }
};

struct advisor_model {
    cost_line source, step, sink;
    double base_bytes = 0;
    double bytes_per_record = 0;         ///< per record in a batch in flight (record + result)
    double weighed_bytes_per_record = 0; ///< what record_bytes says (a floor)
    unsigned cores = 1;
    std::vector<std::pair<std::size_t, double>> efficiency{}; ///< (k, e_k) for k > 1
    /// The mean batch sizes of the k = 1 trials (sorted, distinct): what a and b were fitted on.
    std::vector<double> measured_batches{};
    /// True when those trials ran at one mean batch size (a sample smaller than the sizes, a
    /// guard that cut every batch to one size): a and b cannot be told apart, so the whole cost
    /// is taken as per record (a = 0: no gain from larger batches is claimed).
    bool one_batch_size = false;

    cost_line total() const noexcept
    {
        return {source.a_ns + step.a_ns + sink.a_ns, source.b_ns + step.b_ns + sink.b_ns};
    }
    /// Whether a trial ran with k in flight (k = 1 always did).
    bool measured_in_flight(std::size_t k) const noexcept
    {
        return k <= 1 ||
               std::ranges::any_of(efficiency, [k](auto const& e) { return e.first == k; });
    }
    /// e_k: measured for a k that a trial ran; for one that none did, the e of the nearest
    /// measured k > 1 (of two as near, the smaller), so an untried k is never modelled as an
    /// ideal speed-up; with none measured above 1, 1 / min(k, cores): no speed-up at all.
    double efficiency_at(std::size_t k) const noexcept
    {
        if (k <= 1)
            return 1;
        double e = 0;
        std::size_t dist = std::numeric_limits<std::size_t>::max();
        for (auto const& [kk, ee] : efficiency) {
            std::size_t const d = kk > k ? kk - k : k - kk;
            if (d < dist || (d == dist && ee < e))
                dist = d, e = ee;
        }
        if (dist == std::numeric_limits<std::size_t>::max())
            return 1 / double(std::min<std::size_t>(k, std::max(1u, cores)));
        return e;
    }
    double batch_ns(double n) const noexcept { return total().at(n); }
    /// records/s with e_k = 1: the step in parallel on min(k, cores), source and sink serial.
    double ideal_records_per_second(double n, std::size_t k) const noexcept
    {
        double const t = batch_ns(n);
        double const serial = source.at(n) + sink.at(n);
        double const par = t / double(std::min<std::size_t>(k, std::max(1u, cores)));
        double const per_batch = std::max(par, serial);
        return per_batch > 0 ? n * 1e9 / per_batch : 0;
    }
    double records_per_second(double n, std::size_t k) const noexcept
    {
        return efficiency_at(k) * ideal_records_per_second(n, k);
    }
    double latency_ns(double n, std::size_t k) const noexcept
    {
        double const over = std::max(1.0, double(k) / double(std::max(1u, cores)));
        return batch_ns(n) * over / efficiency_at(k);
    }
    double peak_bytes(double n, std::size_t k) const noexcept
    {
        return base_bytes + double(k) * n * bytes_per_record;
    }
};

struct advice {
    std::vector<advisor_trial> trials;
    advisor_model model;
    std::uint64_t sample_records = 0;
    std::size_t batch = 0;         ///< recommended batch size
    std::size_t max_in_flight = 1; ///< recommended batches in flight
    double predicted_records_per_second = 0;
    std::uint64_t predicted_peak_rss_bytes = 0;
    std::chrono::nanoseconds predicted_latency{0};
    std::string goal; ///< "most records/s within 64.0 MiB", ...
    /// Whether a trial ran the recommended max_in_flight (false: e_k extrapolated, see
    /// advisor_model::efficiency_at) and the recommended batch size (false: a size between the
    /// tried ones, read off the fitted line).
    bool measured_in_flight = true;
    bool measured_batch = true;
    /// advisor_options::confirm_repeats runs of the recommended setting on
    /// advisor_options::confirm_records records, in the order run (empty: none asked). When
    /// there are some, predicted_records_per_second is their median,
    /// modelled_records_per_second what the fitted model said, and predicted_latency the
    /// model's scaled by the ratio of the two.
    std::vector<advisor_trial> confirmations{};
    double modelled_records_per_second = 0;
};

namespace detail {

inline std::string advisor_mib(double bytes)
{
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f MiB", bytes / double(1 << 20));
    return buf;
}

inline std::string advisor_ms(double ns)
{
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3f ms", ns / 1e6);
    return buf;
}

/// Whether the x of the points span less than a relative 1e-9: one x, as far as a slope goes
/// (the mean of equal doubles can round off them, and a slope over that rounding is noise).
inline bool one_x(std::vector<std::pair<double, double>> const& xy)
{
    if (xy.empty())
        return true;
    auto const [lo, hi] = std::ranges::minmax(xy | std::views::keys);
    return !(hi - lo > 1e-9 * std::max(std::abs(lo), std::abs(hi)));
}

/// Least squares y = a + b*x; with fewer than two distinct x, b = 0 and a the mean.
inline cost_line least_squares(std::vector<std::pair<double, double>> const& xy)
{
    double const m = double(xy.size());
    if (xy.empty())
        return {};
    double sx = 0, sy = 0;
    for (auto const& [x, y] : xy)
        sx += x, sy += y;
    double const mx = sx / m, my = sy / m;
    if (one_x(xy))
        return {my, 0};
    double sxx = 0, sxy = 0;
    for (auto const& [x, y] : xy)
        sxx += (x - mx) * (x - mx), sxy += (x - mx) * (y - my);
    if (!(sxx > 0))
        return {my, 0};
    double const b = sxy / sxx;
    return {my - b * mx, b};
}

/// a + b*n per batch from (1/n, time per record) points: per record = b + a/n, which weighs each
/// trial by its relative error (what records/s is). Neither a nor b below 0: a cost that fits
/// negative is refitted without it.
inline cost_line fit_per_record(std::vector<std::pair<double, double>> const& xy)
{
    cost_line const l = least_squares(xy); // y = l.a_ns + l.b_ns * x: l.a_ns is b, l.b_ns is a
    cost_line r{l.b_ns, l.a_ns};
    if (r.a_ns < 0) {
        double sy = 0;
        for (auto const& p : xy)
            sy += p.second;
        r = {0, xy.empty() ? 0 : std::max(0.0, sy / double(xy.size()))};
    } else if (r.b_ns < 0) {
        double sxx = 0, sxy = 0;
        for (auto const& [x, y] : xy)
            sxx += x * x, sxy += x * y;
        r = {sxx > 0 ? std::max(0.0, sxy / sxx) : 0, 0};
    }
    return r;
}

/// near_best is a fraction of the best records/s: below 0 nothing is near the best.
inline void check_near_best(double near_best)
{
    if (!(near_best >= 0 && near_best < 1)) // NaN too
        throw advisor_error("advise: near_best must be at least 0 and below 1 (a fraction of the "
                            "best records/s), got " +
                            std::to_string(near_best));
}

template <class S>
concept advisor_job_source = requires(S& s) {
    {
        s.rows()
    } -> std::ranges::input_range;
    {
        s.position()
    } -> std::convertible_to<std::string>;
};

/// The first `limit` records of a fresh source (a range, or a job_source's rows()).
template <class Source>
auto advisor_rows(Source& source, std::size_t limit)
{
    if constexpr (advisor_job_source<Source>) {
        if constexpr (std::is_lvalue_reference_v<decltype(source.rows())>)
            return std::ranges::ref_view(source.rows()) |
                   std::views::take(static_cast<std::ptrdiff_t>(limit));
        else
            return source.rows() | std::views::take(static_cast<std::ptrdiff_t>(limit));
    } else {
        return std::views::all(source) | std::views::take(static_cast<std::ptrdiff_t>(limit));
    }
}

template <class T>
decltype(auto) advisor_deref(T& t)
{
    if constexpr (requires {
                      *t;
                      t.get();
                  })
        return *t; // a unique_ptr / shared_ptr to the sink
    else
        return (t);
}

template <class Sink, class Out>
void advisor_commit(Sink& sink, Out&& out, job_state const& state)
{
    if constexpr (requires { sink.commit(std::forward<Out>(out), state); })
        sink.commit(std::forward<Out>(out), state);
    else if constexpr (std::is_invocable_v<Sink&, Out&&>)
        sink(std::forward<Out>(out));
    else
        sink.write(out);
}

template <class Out>
double weigh_result(Out const& out)
{
    if constexpr (std::ranges::sized_range<Out const>) {
        double sum = 0;
        for (auto const& r : out)
            sum += double(record_bytes(r));
        return sum;
    } else {
        return double(record_bytes(out));
    }
}

} // namespace detail

/// Fits the model to the trials (see the header comment): public for tests and for users who
/// keep trials of their own.
inline advisor_model fit_advisor_model(std::vector<advisor_trial>& trials, unsigned cores,
                                       double weighed_bytes_per_record)
{
    advisor_model m;
    m.cores = std::max(1u, cores);
    m.weighed_bytes_per_record = weighed_bytes_per_record;
    std::vector<std::pair<double, double>> src, stp, snk, mem;
    for (auto const& t : trials) {
        mem.emplace_back(double(t.in_flight) * double(t.batch), double(t.peak_rss_bytes));
        if (t.in_flight != 1 || t.batches == 0 || t.records == 0)
            continue;
        double const n = double(t.records) / double(t.batches); // the mean batch
        src.emplace_back(1 / n, double(t.source.count()) / n);  // per record = b + a/n
        stp.emplace_back(1 / n, double(t.step.count()) / n);
        snk.emplace_back(1 / n, double(t.sink.count()) / n);
        m.measured_batches.push_back(n);
    }
    std::ranges::sort(m.measured_batches);
    m.measured_batches.erase(std::unique(m.measured_batches.begin(), m.measured_batches.end(),
                                         [](double x, double y) { return y - x <= 1e-9 * y; }),
                             m.measured_batches.end());
    m.one_batch_size = detail::one_x(src); // a and b not separable: fit_per_record gives a = 0
    m.source = detail::fit_per_record(src);
    m.step = detail::fit_per_record(stp);
    m.sink = detail::fit_per_record(snk);
    cost_line const memline = detail::least_squares(mem);
    m.bytes_per_record = std::max(memline.b_ns, weighed_bytes_per_record);
    m.base_bytes = 0;
    for (auto const& [kn, rss] : mem) // the line through the highest trial above it
        m.base_bytes = std::max(m.base_bytes, rss - kn * m.bytes_per_record);
    if (memline.b_ns >= weighed_bytes_per_record)
        m.base_bytes = std::max(memline.a_ns, 0.0);

    // e_k: measured against modelled (with e = 1), the median over the trials with k in flight.
    std::vector<std::size_t> ks;
    for (auto const& t : trials)
        if (t.in_flight > 1 && std::ranges::find(ks, t.in_flight) == ks.end())
            ks.push_back(t.in_flight);
    std::ranges::sort(ks);
    for (std::size_t k : ks) {
        std::vector<double> ratios;
        for (auto const& t : trials)
            if (t.in_flight == k && t.batches != 0) {
                double const model =
                    m.ideal_records_per_second(double(t.records) / double(t.batches), k);
                if (model > 0)
                    ratios.push_back(t.records_per_second / model);
            }
        if (ratios.empty())
            continue;
        std::ranges::sort(ratios);
        double const med = ratios.size() % 2
                               ? ratios[ratios.size() / 2]
                               : (ratios[ratios.size() / 2 - 1] + ratios[ratios.size() / 2]) / 2;
        m.efficiency.emplace_back(k, med);
    }
    for (auto& t : trials)
        if (t.batches != 0)
            t.predicted_records_per_second =
                m.records_per_second(double(t.records) / double(t.batches), t.in_flight);
    return m;
}

/// Picks the batch size and in-flight count for the goal in `opts` from a fitted model; throws
/// advisor_error when no setting meets the budget or the bound.
inline void recommend(advice& a, advisor_options const& opts)
{
    detail::check_near_best(opts.near_best);
    if (opts.batch_sizes.empty() || opts.in_flight.empty())
        throw advisor_error("advise: no batch sizes or no in-flight counts to try");
    std::size_t const lo = *std::ranges::min_element(opts.batch_sizes);
    std::size_t const hi = *std::ranges::max_element(opts.batch_sizes);
    std::size_t const kmax = *std::ranges::max_element(opts.in_flight);
    std::vector<std::size_t> sizes(opts.batch_sizes);
    for (int i = 0; i <= 32; ++i) { // a log grid, two significant digits
        double const v = double(lo) * std::pow(double(hi) / double(lo), i / 32.0);
        double const p = std::pow(10.0, std::floor(std::log10(v)) - 1);
        sizes.push_back(std::clamp<std::size_t>(std::size_t(std::round(v / p) * p), lo, hi));
    }
    std::ranges::sort(sizes);
    sizes.erase(std::unique(sizes.begin(), sizes.end()), sizes.end());

    advisor_model const& m = a.model;
    struct cand {
        std::size_t n, k;
        double rps, bytes, lat;
    };
    std::vector<cand> ok;
    cand least_mem{0, 0, 0, std::numeric_limits<double>::max(), 0};
    cand least_lat{0, 0, 0, 0, std::numeric_limits<double>::max()};
    for (std::size_t n : sizes)
        for (std::size_t k = 1; k <= kmax; ++k) {
            cand const c{n, k, m.records_per_second(double(n), k), m.peak_bytes(double(n), k),
                         m.latency_ns(double(n), k)};
            if (c.bytes < least_mem.bytes)
                least_mem = c;
            if (c.lat < least_lat.lat)
                least_lat = c;
            bool const mem_ok = opts.memory_budget == 0 || c.bytes <= double(opts.memory_budget);
            bool const lat_ok =
                opts.latency_bound.count() == 0 || c.lat <= double(opts.latency_bound.count());
            if (mem_ok && lat_ok)
                ok.push_back(c);
        }
    a.goal = "most records/s";
    if (opts.memory_budget != 0)
        a.goal += " within " + detail::advisor_mib(double(opts.memory_budget)) + " of RSS";
    if (opts.latency_bound.count() != 0)
        a.goal += std::string(opts.memory_budget != 0 ? " and" : "") + " at most " +
                  detail::advisor_ms(double(opts.latency_bound.count())) + " a batch";
    if (ok.empty()) {
        if (opts.memory_budget != 0 && least_mem.bytes > double(opts.memory_budget))
            throw advisor_error(
                "no batch size meets the memory budget of " +
                detail::advisor_mib(double(opts.memory_budget)) +
                ": the smallest memory needed is " + detail::advisor_mib(least_mem.bytes) +
                " (batches of " + std::to_string(least_mem.n) + ", " + std::to_string(least_mem.k) +
                " in flight; base " + detail::advisor_mib(m.base_bytes) + " + " +
                std::to_string(std::llround(m.bytes_per_record)) + " bytes a record in a batch)");
        if (opts.latency_bound.count() != 0 && least_lat.lat > double(opts.latency_bound.count()))
            throw advisor_error("no batch size meets the latency bound of " +
                                detail::advisor_ms(double(opts.latency_bound.count())) +
                                " a batch: the smallest latency is " +
                                detail::advisor_ms(least_lat.lat) + " (batches of " +
                                std::to_string(least_lat.n) + ", " + std::to_string(least_lat.k) +
                                " in flight)");
        throw advisor_error(
            "no batch size meets both the memory budget of " +
            detail::advisor_mib(double(opts.memory_budget)) + " and the latency bound of " +
            detail::advisor_ms(double(opts.latency_bound.count())) + ": relax one of them");
    }
    double best = 0;
    for (auto const& c : ok)
        if (std::isfinite(c.rps))
            best = std::max(best, c.rps);
    cand const* pick = nullptr;
    if (best > 0)
        for (auto const& c : ok)
            if (std::isfinite(c.rps) && c.rps >= (1 - opts.near_best) * best &&
                (!pick || c.bytes < pick->bytes || (c.bytes == pick->bytes && c.rps > pick->rps)))
                pick = &c;
    if (!pick) {
        char buf[160];
        std::snprintf(buf, sizeof buf, "%.1f ns + %.3f ns*n", m.total().a_ns, m.total().b_ns);
        throw advisor_error(
            "no setting has a predicted rate above 0 records/s (" + std::to_string(ok.size()) +
            " settings within the goal): the fitted cost of a batch is " + buf +
            ", so the trials measured no time (does the clock advance?) or a rate that is not a "
            "number");
    }
    a.measured_in_flight = m.measured_in_flight(pick->k);
    a.measured_batch =
        std::ranges::any_of(m.measured_batches,
                            [&](double x) { return std::abs(x - double(pick->n)) <= 0.01 * x; }) ||
        std::ranges::find(opts.batch_sizes, pick->n) != opts.batch_sizes.end();
    a.batch = pick->n;
    a.max_in_flight = pick->k;
    a.predicted_records_per_second = pick->rps;
    a.predicted_peak_rss_bytes = std::uint64_t(std::llround(pick->bytes));
    a.predicted_latency = std::chrono::nanoseconds(std::llround(pick->lat));
}

/// Runs the trials and recommends (see the header comment).
template <class MakeSource, class Step, class MakeSink>
advice advise(MakeSource make_source, Step step, MakeSink make_sink, advisor_options opts = {})
{
    if (opts.batch_sizes.empty() || opts.in_flight.empty())
        throw advisor_error("advise: no batch sizes or no in-flight counts to try");
    {
        auto sizes = opts.batch_sizes;
        std::ranges::sort(sizes);
        if (sizes.front() == 0)
            throw advisor_error("advise: a batch size of 0");
        if (std::unique(sizes.begin(), sizes.end()) - sizes.begin() < 2)
            throw advisor_error("advise: at least two batch sizes are needed to fit a + b*n");
    }
    if (std::ranges::find(opts.in_flight, std::size_t{1}) == opts.in_flight.end())
        throw advisor_error("advise: the in-flight counts must include 1 (it times the parts)");
    if (std::ranges::find(opts.in_flight, std::size_t{0}) != opts.in_flight.end())
        throw advisor_error("advise: an in-flight count of 0");
    detail::check_near_best(opts.near_best); // before the trials, not after them
    if (opts.cores == 0)
        opts.cores = std::max(1u, std::thread::hardware_concurrency());
    if (!opts.clock)
        opts.clock = [] {
            return std::chrono::duration_cast<std::chrono::nanoseconds>(
                std::chrono::steady_clock::now().time_since_epoch());
        };
    std::shared_ptr<rss_reader> reader;
    if (!opts.rss) {
        reader = std::make_shared<rss_reader>();
        opts.rss = [reader] { return reader->bytes(); };
    }

    advice a;
    { // the sample: count it (and warm the caches)
        auto source = make_source();
        for (auto&& r : detail::advisor_rows(source, opts.sample_records)) {
            (void)r;
            ++a.sample_records;
        }
    }
    std::size_t const largest = *std::ranges::max_element(opts.batch_sizes);
    if (a.sample_records == 0)
        throw advisor_error("advise: the sample is empty: the source gave no records (" +
                            std::to_string(opts.sample_records) + " asked)");
    if (a.sample_records < 2 * largest)
        throw advisor_error("advise: the sample is too small: " + std::to_string(a.sample_records) +
                            " records, but batches of " + std::to_string(largest) +
                            " need at least " + std::to_string(2 * largest) +
                            " (two batches a trial): take a larger sample or smaller sizes");

    std::vector<std::pair<std::size_t, std::size_t>> plan; // (n, k), smallest k*n first
    for (std::size_t k : opts.in_flight)
        for (std::size_t n : opts.batch_sizes)
            if (std::ranges::find(plan, std::pair{n, k}) == plan.end())
                plan.emplace_back(n, k);
    std::ranges::stable_sort(plan, [](auto const& x, auto const& y) {
        return x.first * x.second < y.first * y.second ||
               (x.first * x.second == y.first * y.second && x.second < y.second);
    });

    double weighed = 0, weighed_records = 0;
    // A trial: `limit` records of the source at batches of n, k in flight; with `parts`, at
    // k = 1 the clock also times the step and the sink (and the weighing runs) for the fit.
    auto const run_trial = [&](std::size_t n, std::size_t k, std::size_t limit, bool parts) {
        advisor_trial t;
        t.batch = n;
        t.in_flight = k;
        std::atomic<std::int64_t> step_ns{0}, sink_ns{0}, other_ns{0};
        std::atomic<std::uint64_t> peak{0};
        bool const timing = parts && k == 1;
        auto source = make_source();
        auto sink_holder = make_sink();
        auto& sink = detail::advisor_deref(sink_holder);
        if constexpr (requires { sink.open(job_key{opts.job}); })
            (void)sink.open(job_key{opts.job});
        memory_guard guard;
        run_options run{.max_in_flight = k, .job = opts.job};
        run.progress = progress_mode::never;
        run.watch(guard);
        // A job source is asked its position and identity after each batch pulled, as run_job
        // asks it (a full identity hashes the bytes read since it was last asked: a real cost);
        // a job sink stores them.
        std::mutex states_mutex;
        std::deque<std::pair<std::string, std::string>> states;
        if constexpr (detail::advisor_job_source<decltype(source)>) {
            run.position = [&source, &states, &states_mutex, first = true]() mutable {
                std::string pos = source.position();
                if (first) { // asked once before the first batch, for the report
                    first = false;
                    return pos;
                }
                std::string id;
                if constexpr (requires { source.identity(); })
                    id = source.identity();
                std::lock_guard lock(states_mutex);
                states.emplace_back(pos, std::move(id));
                return pos;
            };
        }
        std::uint64_t index = 0;
        auto const t0 = opts.clock();
        auto report = for_each_batch(
            detail::advisor_rows(source, limit) | views::memory_guarded(n, std::ref(guard)),
            [&](auto& b) {
                auto const s0 = opts.clock();
                auto out = step(b);
                auto const s1 = opts.clock();
                std::uint64_t const rss = opts.rss();
                for (std::uint64_t p = peak.load(); rss > p && !peak.compare_exchange_weak(p, rss);)
                    ;
                if (timing) {
                    step_ns += (s1 - s0).count();
                    if (weighed_records < 20'000) { // weigh a few batches: it is not free
                        double w = detail::weigh_result(out);
                        for (auto const& r : b)
                            w += double(record_bytes(r));
                        weighed += w;
                        weighed_records += double(std::ranges::size(b));
                    }
                    other_ns += (opts.clock() - s1).count();
                }
                return out;
            },
            [&](auto&& out, batch_info const& info) {
                auto const c0 = opts.clock();
                job_state state{std::to_string(index + 1), "streambatch advisor sample", index + 1,
                                info.first_record + info.size};
                {
                    std::lock_guard lock(states_mutex);
                    if (!states.empty()) {
                        state.position = std::move(states.front().first);
                        state.identity = std::move(states.front().second);
                        states.pop_front();
                    }
                }
                detail::advisor_commit(sink, std::move(out), state);
                ++index;
                if (timing)
                    sink_ns += (opts.clock() - c0).count();
            },
            run);
        // The sink's close() is timed with the trial, as the sink's: what a sink defers to it
        // (a scratch SQLite database checkpoints its WAL, a buffered file flushes) is a cost of
        // the records the trial wrote, which a full run pays as it goes (SQLite checkpoints
        // every 1000 WAL pages, about every 50 000 rows here: a sample of that size saw none).
        if constexpr (requires { sink.close(); }) {
            auto const c0 = opts.clock();
            sink.close();
            if (timing)
                sink_ns += (opts.clock() - c0).count();
        }
        t.elapsed = opts.clock() - t0;
        t.records = report.records;
        t.batches = report.batches;
        t.peak_rss_bytes = peak.load();
        t.records_per_second =
            t.elapsed.count() > 0 ? double(t.records) * 1e9 / double(t.elapsed.count()) : 0;
        if (timing && t.batches != 0) {
            auto const per = [&](std::int64_t ns) {
                return std::chrono::nanoseconds(ns / std::int64_t(t.batches));
            };
            t.step = per(step_ns.load());
            t.sink = per(sink_ns.load());
            t.source = per(std::max<std::int64_t>(0, t.elapsed.count() - step_ns.load() -
                                                         sink_ns.load() - other_ns.load()));
            // the weighing is not the job's: take it out of the measured rate too
            auto const job_ns = t.elapsed.count() - other_ns.load();
            if (job_ns > 0)
                t.records_per_second = double(t.records) * 1e9 / double(job_ns);
        }
        return t;
    };
    for (auto const& [n, k] : plan) {
        std::vector<advisor_trial> runs;
        std::uint64_t peak = 0;
        for (std::size_t r = 0; r < std::max<std::size_t>(1, opts.repeats); ++r) {
            runs.push_back(run_trial(n, k, opts.sample_records, true));
            peak = std::max(peak, runs.back().peak_rss_bytes);
        }
        std::ranges::sort(runs, {}, &advisor_trial::records_per_second);
        a.trials.push_back(runs[(runs.size() - 1) / 2]);
        a.trials.back().peak_rss_bytes = peak;
    }
    a.model = fit_advisor_model(a.trials, opts.cores,
                                weighed_records > 0 ? weighed / weighed_records : 0);
    recommend(a, opts);
    a.modelled_records_per_second = a.predicted_records_per_second;
    if (opts.confirm_repeats != 0) {
        // The recommended setting run again on a longer sample: a cost the short trials
        // amortise badly (a sink's set-up, a checkpoint at close, caches warming) weighs less
        // in it, and what it measures is the setting itself, not the fitted line between sizes.
        std::size_t const limit =
            opts.confirm_records != 0 ? opts.confirm_records : 4 * opts.sample_records;
        for (std::size_t r = 0; r < opts.confirm_repeats; ++r)
            a.confirmations.push_back(run_trial(a.batch, a.max_in_flight, limit, false));
        std::vector<double> rates;
        for (auto const& t : a.confirmations)
            rates.push_back(t.records_per_second);
        std::ranges::sort(rates);
        a.predicted_records_per_second = rates[(rates.size() - 1) / 2];
        // a batch takes as much longer than modelled as the setting ran slower than modelled
        if (a.predicted_records_per_second > 0 && a.modelled_records_per_second > 0)
            a.predicted_latency = std::chrono::nanoseconds(
                std::llround(double(a.predicted_latency.count()) * a.modelled_records_per_second /
                             a.predicted_records_per_second));
    }
    return a;
}

/// The trials, the model and the recommendation, as lines of text.
inline std::string to_text(advice const& a)
{
    std::string s;
    char line[256];
    std::snprintf(line, sizeof line, "sample: %llu records a trial\n",
                  static_cast<unsigned long long>(a.sample_records));
    s += line;
    s += " batch  in flight  records/s measured  predicted  per batch (ms)  peak RSS (MiB)\n";
    for (auto const& t : a.trials) {
        double const per = t.batches ? double(t.elapsed.count()) / double(t.batches) / 1e6 : 0;
        std::snprintf(line, sizeof line, "%6zu  %9zu  %18.0f  %9.0f  %14.3f  %14.1f\n", t.batch,
                      t.in_flight, t.records_per_second, t.predicted_records_per_second, per,
                      double(t.peak_rss_bytes) / double(1 << 20));
        s += line;
    }
    advisor_model const& m = a.model;
    cost_line const tot = m.total();
    std::snprintf(line, sizeof line,
                  "model: a batch of n costs a + b*n = %.1f us + %.3f us*n (source %.1f + %.3f*n, "
                  "step %.1f + %.3f*n, sink %.1f + %.3f*n)\n",
                  tot.a_ns / 1e3, tot.b_ns / 1e3, m.source.a_ns / 1e3, m.source.b_ns / 1e3,
                  m.step.a_ns / 1e3, m.step.b_ns / 1e3, m.sink.a_ns / 1e3, m.sink.b_ns / 1e3);
    s += line;
    std::snprintf(line, sizeof line,
                  "memory: peak RSS = %.1f MiB + k*n*%.0f bytes (record_bytes weighs %.0f)\n",
                  m.base_bytes / double(1 << 20), m.bytes_per_record, m.weighed_bytes_per_record);
    s += line;
    std::snprintf(line, sizeof line, "cores: %u", m.cores);
    s += line;
    for (auto const& [k, e] : m.efficiency) {
        std::snprintf(line, sizeof line, "; %zu in flight at %.2f of the model", k, e);
        s += line;
    }
    s += "\n";
    // What was measured and what is read off the model.
    std::vector<std::size_t> sizes, ks;
    for (auto const& t : a.trials) {
        if (std::ranges::find(sizes, t.batch) == sizes.end())
            sizes.push_back(t.batch);
        if (std::ranges::find(ks, t.in_flight) == ks.end())
            ks.push_back(t.in_flight);
    }
    std::ranges::sort(sizes);
    std::ranges::sort(ks);
    s += "measured: batch sizes";
    for (std::size_t i = 0; i < sizes.size(); ++i) {
        std::snprintf(line, sizeof line, "%s %zu", i ? "," : "", sizes[i]);
        s += line;
    }
    s += " at";
    for (std::size_t i = 0; i < ks.size(); ++i) {
        std::snprintf(line, sizeof line, "%s %zu", i ? "," : "", ks[i]);
        s += line;
    }
    s += " in flight; the rest is read off the model\n";
    if (m.one_batch_size)
        s += "note: the trials at 1 in flight all ran at one mean batch size, so the cost per "
             "batch (a) and per record (b) cannot be told apart: all of it is taken as per "
             "record (a = 0), and no size is predicted faster than another (try sizes the "
             "sample holds twice, or a larger sample)\n";
    if (!a.confirmations.empty()) {
        double lo = std::numeric_limits<double>::max(), hi = 0;
        for (auto const& t : a.confirmations) {
            lo = std::min(lo, t.records_per_second);
            hi = std::max(hi, t.records_per_second);
        }
        std::snprintf(line, sizeof line,
                      "confirmed: %zu runs of %llu records at --batch %zu --jobs %zu: %.0f "
                      "records/s median (%.0f-%.0f); the model said %.0f\n",
                      a.confirmations.size(),
                      static_cast<unsigned long long>(a.confirmations.front().records), a.batch,
                      a.max_in_flight, a.predicted_records_per_second, lo, hi,
                      a.modelled_records_per_second);
        s += line;
    }
    std::snprintf(line, sizeof line,
                  "recommended (%s): --batch %zu --jobs %zu: predicted %.0f records/s, peak RSS "
                  "%.1f MiB, %.3f ms a batch\n",
                  a.goal.c_str(), a.batch, a.max_in_flight, a.predicted_records_per_second,
                  double(a.predicted_peak_rss_bytes) / double(1 << 20),
                  double(a.predicted_latency.count()) / 1e6);
    s += line;
    if (!a.measured_in_flight || !a.measured_batch) {
        // with confirming runs the setting was measured after all: say where it came from
        s += a.confirmations.empty()
                 ? "not measured:"
                 : "picked off the model, then measured by the confirming runs:";
        if (!a.measured_batch) {
            std::snprintf(line, sizeof line, " batch size %zu (interpolated on the fitted line)",
                          a.batch);
            s += line;
        }
        if (!a.measured_in_flight) {
            std::snprintf(line, sizeof line,
                          "%s %zu in flight (extrapolated: no trial ran it; %.2f of the model, "
                          "from the nearest count that ran)",
                          a.measured_batch ? "" : ";", a.max_in_flight,
                          m.efficiency_at(a.max_in_flight));
            s += line;
        }
        s += "\n";
    }
    return s;
}

/// An SVG of records/s against the batch size (log scale): the model's curve for each k, the
/// trials as dots, the recommendation ringed. Throws advisor_error when it cannot be written.
inline void write_svg(advice const& a, std::filesystem::path const& path)
{
    if (a.trials.empty())
        throw advisor_error("write_svg: no trials to plot");
    std::size_t lo = a.trials.front().batch, hi = lo, kmax = 1;
    double top = a.predicted_records_per_second;
    for (auto const& t : a.trials) {
        lo = std::min(lo, t.batch), hi = std::max(hi, t.batch);
        kmax = std::max(kmax, t.in_flight);
        top = std::max({top, t.records_per_second, t.predicted_records_per_second});
    }
    if (hi == lo)
        hi = lo + 1;
    top *= 1.1;
    double const W = 640, H = 400, L = 70, R = 20, T = 30, B = 50;
    auto const x = [&](double n) {
        return L + (W - L - R) * std::log(n / double(lo)) / std::log(double(hi) / double(lo));
    };
    auto const y = [&](double v) { return H - B - (H - T - B) * v / top; };
    static char const* const colour[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e"};
    std::string s;
    char buf[512];
    std::snprintf(buf, sizeof buf,
                  "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
                  "font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%%\" "
                  "height=\"100%%\" fill=\"white\"/>\n",
                  W, H);
    s += buf;
    std::snprintf(buf, sizeof buf,
                  "<text x=\"%.0f\" y=\"18\">records/s against batch size (model: lines; "
                  "trials: dots; recommended: ring)</text>\n",
                  L);
    s += buf;
    std::snprintf(buf, sizeof buf,
                  "<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" stroke=\"black\"/>\n"
                  "<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" stroke=\"black\"/>\n",
                  L, H - B, W - R, H - B, L, T, L, H - B);
    s += buf;
    for (int i = 0; i <= 4; ++i) {
        double const v = top * i / 4;
        std::snprintf(buf, sizeof buf,
                      "<text x=\"%.0f\" y=\"%.1f\" text-anchor=\"end\">%.0f</text>\n", L - 4,
                      y(v) + 4, v);
        s += buf;
    }
    std::vector<std::size_t> sizes;
    for (auto const& t : a.trials)
        if (std::ranges::find(sizes, t.batch) == sizes.end())
            sizes.push_back(t.batch);
    for (std::size_t n : sizes) {
        std::snprintf(buf, sizeof buf,
                      "<text x=\"%.1f\" y=\"%.0f\" text-anchor=\"middle\">%zu</text>\n",
                      x(double(n)), H - B + 16, n);
        s += buf;
    }
    std::snprintf(
        buf, sizeof buf,
        "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\">batch size (records)</text>\n",
        (W + L) / 2, H - 12);
    s += buf;
    for (std::size_t k = 1; k <= kmax; ++k) {
        char const* c = colour[(k - 1) % 5];
        s += "<polyline fill=\"none\" stroke-width=\"2\" stroke=\"";
        s += c;
        s += "\" points=\"";
        for (int i = 0; i <= 60; ++i) {
            double const n = double(lo) * std::pow(double(hi) / double(lo), i / 60.0);
            std::snprintf(buf, sizeof buf, "%.1f,%.1f ", x(n), y(a.model.records_per_second(n, k)));
            s += buf;
        }
        s += "\"/>\n";
        std::snprintf(buf, sizeof buf,
                      "<text x=\"%.0f\" y=\"%.0f\" fill=\"%s\">%zu in flight</text>\n", W - R - 90,
                      T + 16.0 * double(k), c, k);
        s += buf;
    }
    for (auto const& t : a.trials) {
        std::snprintf(buf, sizeof buf, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" fill=\"%s\"/>\n",
                      x(double(t.batch)), y(t.records_per_second), colour[(t.in_flight - 1) % 5]);
        s += buf;
    }
    std::snprintf(buf, sizeof buf,
                  "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"8\" fill=\"none\" stroke=\"black\" "
                  "stroke-width=\"2\"/>\n</svg>\n",
                  x(double(a.batch)), y(a.predicted_records_per_second));
    s += buf;
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << s;
    out.flush();
    if (!out)
        throw advisor_error("write_svg: cannot write " + path.string());
}

} // namespace streambatch

#endif // STREAMBATCH_RUNNER_ADVISOR_HPP_INCLUDED
