// streambatch/runner/for_each_batch.hpp: run a job over a range of batches, on one thread or several.
//
// In:     a range of batches (the result of views::chunk / adaptive_chunk / memory_guarded, or
//         any input range of sized ranges); `process(batch [, batch_info])`, which may return a
//         value; optionally `commit(result [, batch_info])` (or `commit(batch_info)` when process
//         returns nothing); streambatch::run_options.
// Out:    a streambatch::run_report (run_report.hpp). With run_options::record_dir set, the run
//         records of metrics.hpp; with checkpoint_path set, checkpoints (checkpoint.hpp); with
//         stderr a terminal, a single updating progress line.
//         - max_in_flight == 1 (the default): process and commit each batch in turn.
//         - max_in_flight == k > 1: up to k worker threads (at most one per core) each pull a
//           batch (one at a time) and run `process` on it; `commit` runs on one thread at a
//           time, in batch order when `ordered` (the default), else as batches finish. At most k batches are alive at once
//           - being filled, processed, or waiting to be committed - so memory is bounded by k
//           batches. A batch from a single-pass source is moved out of the view's buffer
//           (batch<T>::take, with recycled buffers); a batch of a forward source is a view and
//           is handed over as is. When a memory guard is watched (run_options::watch) and
//           memory is at or above its shrink_at, the limit drops to 1 until it falls below
//           grow_at.
//         - An exception from process or commit stops the job: no new batch is started or
//           committed, every worker is joined, and streambatch::batch_failed is thrown, naming the
//           batch index and record range, with the original nested (std::rethrow_if_nested).
//           An exception from the source is rethrown as it is (it names its own location).
//         - Checkpoints hold the low-water mark: the batches completed contiguously from the
//           start, never the highest finished one, with the source position captured when the
//           last of them was pulled; written every checkpoint_every_batches batches or
//           checkpoint_every time, and at the end. They are written on a thread of their own
//           (the newest replacing one still waiting), so the job never waits on their fsyncs,
//           except for the last, written before for_each_batch returns or throws; the file
//           may lag the job by one more interval.
// Models: a blocking call; std::thread workers, no dependency. A worker takes a slot, pulls
//         the next batch (one puller at a time), then processes it itself, cache-hot; process
//         is called from a small function of its own, so the caller's loop is not compiled
//         into the worker's. On bench/bench_runner.cpp (2 cores, quiet; medians of 7, three
//         runs) k = 2 runs at 1.87-1.95x the sequential loop, oneTBB's parallel_pipeline with
//         the same shape at 1.74-1.91x; k = 4 at 1.88-1.90x, oneTBB at 1.90-1.95x. On par, so
//         there is no oneTBB backend, and no dependency.
// Memory: k batches; O(1) per batch for statistics (a fixed histogram). bench_runner, k = 2:
//         peak RSS grows by 0.95-1.02 MiB, for batches of 0.47 MiB of records (2.04-2.17x).
// Example:
//     auto report = streambatch::for_each_batch(
//         rows | streambatch::views::memory_guarded(1000),
//         [](auto& batch) { return transform(batch); },               // on up to 2 threads
//         [&](auto&& out, streambatch::batch_info const&) { sink.insert(out); },  // in order
//         {.max_in_flight = 2, .record_dir = "runs/today"});

#ifndef STREAMBATCH_RUNNER_FOR_EACH_BATCH_HPP_INCLUDED
#define STREAMBATCH_RUNNER_FOR_EACH_BATCH_HPP_INCLUDED

#include <streambatch/views/batch_view.hpp>
#include <streambatch/runner/checkpoint.hpp>
#include <streambatch/guard/memory_guard.hpp>
#include <streambatch/guard/memory_probe.hpp>
#include <streambatch/runner/run_records.hpp>
#include <streambatch/runner/run_report.hpp>

#include <algorithm>
#include <chrono>
#include <concepts>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <exception>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <ranges>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include <unistd.h>

namespace streambatch {

/// Which batch a call is about. Indices and record numbers continue across resumed runs.
struct batch_info {
    std::uint64_t index = 0;        ///< 0 for the first batch of the job
    std::uint64_t first_record = 0; ///< records before this batch in the job
    std::size_t size = 0;           ///< records in this batch
    /// The source's position after this batch (run_options::position, asked when the batch was
    /// pulled); "" without one. A sink that commits it in the batch's own transaction makes the
    /// job exactly-once for that sink.
    std::string_view position{};
};

/// Thrown by for_each_batch when process or commit throws; the original is nested.
class batch_failed : public std::runtime_error, public std::nested_exception {
public:
    batch_failed(batch_info i, char const* stage, std::string const& cause)
        : std::runtime_error("streambatch: batch " + std::to_string(i.index) + " (records " +
                             std::to_string(i.first_record) + ".." +
                             std::to_string(i.first_record + (i.size ? i.size - 1 : 0)) + ") failed in " + stage +
                             ": " + cause),
          info(i)
    {
    }
    batch_info info;
};

enum class progress_mode { automatic, always, never };

struct run_options {
    std::size_t max_in_flight = 1;  ///< batches alive at once; 1 = sequential
    bool ordered = true;            ///< commit in batch order (else as batches finish)
    std::string job = "streambatch job";
    std::filesystem::path record_dir{}; ///< run records go here ("" = none)
    progress_mode progress = progress_mode::automatic; ///< automatic: only when stderr is a terminal
    std::uint64_t expected_records = 0; ///< for the progress line's ETA (0 = unknown)

    std::filesystem::path checkpoint_path{}; ///< "" = no checkpoints
    std::uint64_t checkpoint_every_batches = 10;
    std::chrono::milliseconds checkpoint_every{5000};
    std::string fingerprint{}; ///< of the input and configuration; stored in checkpoints
    checkpoint resume_from{};  ///< where this run starts (from resume_point())
    /// The source's position, asked on the pulling thread right after each batch is pulled
    /// (e.g. the CSV reader's byte offset and line), and once before the first. Stored in
    /// checkpoints; the first and the last are in the report (first_position, last_position).
    std::function<std::string()> position{};
    run_configuration configuration{}; ///< extra settings to record in run_record.json
    partition part{}; ///< set by set_partition; recorded in the report ({0, 1}: the whole input)

    /// Makes this run one partition of a job that N workers share (partition.hpp): its
    /// checkpoint becomes "<stem>.part-0003-of-0008<ext>" beside checkpoint_path, its run
    /// records go to record_dir / "part-0003-of-0008", and the partition joins the fingerprint,
    /// so a worker never resumes from another partition's checkpoint. Call it once, after
    /// setting those fields and before resume_point(checkpoint_path, job, fingerprint).
    /// merge_run_records (run_merge.hpp) adds the partitions' records up.
    void set_partition(partition p)
    {
        p.check();
        if (part != partition{})
            throw std::logic_error("streambatch::run_options::set_partition: already set to " + part.str());
        part = p;
        if (!checkpoint_path.empty())
            checkpoint_path.replace_filename(checkpoint_path.stem().string() + "." + p.name() +
                                             checkpoint_path.extension().string());
        if (!record_dir.empty())
            record_dir /= p.name();
        fingerprint += (fingerprint.empty() ? "" : "; ") + std::string("partition ") + p.str();
    }

    /// Lets the runner lower the in-flight limit under memory pressure and report the guard's
    /// events. The guard must outlive the run.
    template <class Probe, class Clock>
    void watch(basic_memory_guard<Probe, Clock>& guard)
    {
        auto log = std::make_shared<guard_log>();
        guard.on_event([log](guard_event const& e) {
            std::lock_guard lock(log->mutex);
            if (log->active)
                log->events.push_back(e);
        });
        guard_ = guard_link{[&guard] { return guard.last_snapshot(); }, guard.options().shrink_at,
                            guard.options().grow_at, std::move(log)};
    }

    // -- used by for_each_batch --
    struct guard_log {
        std::mutex mutex;
        bool active = false;
        std::vector<guard_event> events;
    };
    struct guard_link {
        std::function<memory_snapshot()> snapshot;
        double shrink_at = 0.8;
        double grow_at = 0.6;
        std::shared_ptr<guard_log> log;
    };
    std::optional<guard_link> guard_{};
};

namespace detail {

template <class T>
inline constexpr bool is_batch_v = false;
template <class T>
inline constexpr bool is_batch_v<batch<T>> = true;

template <class T>
struct batch_record {
    using type = void;
};
template <class T>
struct batch_record<batch<T>> {
    using type = T;
};

template <class F, class B>
decltype(auto) call_process(F& f, B& b, batch_info const& i)
{
    if constexpr (std::invocable<F&, B&, batch_info const&>)
        return std::invoke(f, b, i);
    else
        return std::invoke(f, b);
}

template <class F, class B>
using process_result_t = decltype(call_process(std::declval<F&>(), std::declval<B&>(), std::declval<batch_info const&>()));

/// Calls process from a function of its own: the caller's per-record loop is compiled (inlined)
/// here, in a small function, and not into the runner's loop, where the worker's own state takes
/// the registers the loop needs (bench_runner with its work inlined: a 64-bit constant reloaded
/// on every byte; 8.5 % more instructions over the run than the same loop in oneTBB's filter).
template <class F, class B>
[[gnu::noinline]] decltype(auto) process_out_of_line(F& f, B& b, batch_info const& i)
{
    return call_process(f, b, i);
}

struct no_commit {
    template <class... A>
    void operator()(A&&...) const noexcept
    {
    }
};

template <class C, class R>
void call_commit(C& c, R&& r, batch_info const& i)
{
    if constexpr (std::is_same_v<std::remove_cvref_t<R>, std::monostate>) {
        if constexpr (std::invocable<C&, batch_info const&>)
            std::invoke(c, i);
        else
            std::invoke(c);
    } else if constexpr (std::invocable<C&, R&&, batch_info const&>) {
        std::invoke(c, std::forward<R>(r), i);
    } else {
        std::invoke(c, std::forward<R>(r));
    }
}

inline std::string current_what()
{
    try {
        throw;
    } catch (std::exception const& e) {
        return e.what();
    } catch (...) {
        return "an exception that is not a std::exception";
    }
}

/// Peak and current RSS of this process, from /proc/self/status and statm.
inline std::uint64_t vm_hwm_bytes()
{
    std::FILE* f = std::fopen("/proc/self/status", "r");
    if (!f)
        return 0;
    char line[256];
    unsigned long long kib = 0;
    while (std::fgets(line, sizeof line, f))
        if (std::sscanf(line, "VmHWM: %llu kB", &kib) == 1)
            break;
    std::fclose(f);
    return kib * 1024;
}

/// The single updating line on a terminal: records, rate, RSS, batch size, ETA.
class progress_line {
    bool on_ = false;
    std::chrono::steady_clock::time_point last_{};
    bool drawn_ = false;

public:
    explicit progress_line(progress_mode m) : on_(m == progress_mode::always || (m == progress_mode::automatic && ::isatty(2))) {}
    bool on() const noexcept { return on_; }

    void update(std::string const& job, std::uint64_t records, std::uint64_t expected, double secs,
                std::uint64_t rss, std::size_t batch_size, bool force = false)
    {
        if (!on_)
            return;
        auto const now = std::chrono::steady_clock::now();
        if (!force && drawn_ && now - last_ < std::chrono::milliseconds(250))
            return;
        last_ = now;
        drawn_ = true;
        double const rate = secs > 0 ? double(records) / secs : 0;
        char eta[48] = "";
        if (expected > records && rate > 0) {
            auto const left = static_cast<long long>(double(expected - records) / rate);
            std::snprintf(eta, sizeof eta, "  ETA %lld:%02lld:%02lld", left / 3600, left / 60 % 60, left % 60);
        }
        std::fprintf(stderr, "\r\033[K%s: %llu records  %.0f rec/s  RSS %.1f MiB  batch %zu%s", job.c_str(),
                     static_cast<unsigned long long>(records), rate, double(rss) / (1 << 20), batch_size, eta);
        std::fflush(stderr);
    }
    void finish()
    {
        if (on_ && drawn_) {
            std::fputc('\n', stderr);
            std::fflush(stderr);
        }
    }
};

/// Writes checkpoint files on a thread of its own, so that the job never waits on their fsyncs
/// (about 1.4 ms each here: 5 % of csv_to_sqlite's time at one checkpoint every 10 batches).
/// submit() hands over the newest checkpoint and returns at once; one submitted while another
/// is being written replaces any still waiting (only the newest matters). The file therefore
/// always holds a low-water mark, at most one interval older than the job's. A failed write
/// is rethrown by the next submit() or by finish(), which writes the last one itself.
class checkpoint_writer {
    std::filesystem::path path_;
    std::mutex mutex_;
    std::condition_variable cv_;
    std::optional<checkpoint> pending_;
    bool busy_ = false, stop_ = false;
    std::exception_ptr error_;
    std::chrono::nanoseconds time_{0};
    std::uint64_t written_ = 0;
    std::thread thread_;

    void loop()
    {
        std::unique_lock lock(mutex_);
        for (;;) {
            cv_.wait(lock, [&] { return stop_ || pending_.has_value(); });
            if (!pending_)
                return; // stopping, nothing left
            checkpoint c = std::move(*pending_);
            pending_.reset();
            busy_ = true;
            lock.unlock();
            auto const t0 = std::chrono::steady_clock::now();
            std::exception_ptr err;
            try {
                write_checkpoint(path_, c);
            } catch (...) {
                err = std::current_exception();
            }
            auto const took = std::chrono::steady_clock::now() - t0;
            lock.lock();
            busy_ = false;
            time_ += took;
            if (err && !error_)
                error_ = err;
            else if (!err)
                ++written_;
            cv_.notify_all();
        }
    }

public:
    explicit checkpoint_writer(std::filesystem::path path) : path_(std::move(path)), thread_([this] { loop(); }) {}
    checkpoint_writer(checkpoint_writer const&) = delete;
    checkpoint_writer& operator=(checkpoint_writer const&) = delete;
    ~checkpoint_writer()
    {
        {
            std::lock_guard lock(mutex_);
            stop_ = true;
            pending_.reset(); // an abandoned run: what is on disk stays valid
        }
        cv_.notify_all();
        thread_.join();
    }

    void submit(checkpoint c)
    {
        std::lock_guard lock(mutex_);
        if (error_)
            std::rethrow_exception(error_);
        pending_ = std::move(c);
        cv_.notify_all();
    }

    /// Waits for the thread to finish what it has, stops it, then writes `last` here.
    /// Returns the checkpoints written and the time spent writing them.
    std::pair<std::uint64_t, std::chrono::nanoseconds> finish(std::optional<checkpoint> const& last)
    {
        {
            std::unique_lock lock(mutex_);
            pending_.reset(); // `last` supersedes it
            stop_ = true;
            cv_.notify_all();
            cv_.wait(lock, [&] { return !busy_; });
        }
        thread_.join();
        thread_ = std::thread([] {}); // the destructor joins something
        if (error_)
            std::rethrow_exception(error_);
        if (last) {
            auto const t0 = std::chrono::steady_clock::now();
            write_checkpoint(path_, *last);
            time_ += std::chrono::steady_clock::now() - t0;
            ++written_;
        }
        return {written_, time_};
    }
};

/// Everything done when a batch completes, whichever thread completes it. Not thread-safe:
/// callers serialise (the committing thread holds the commit role).
class completion_tracker {
    run_options const& opts_;
    run_report& report_;
    std::optional<run_recorder> recorder_;
    std::optional<proc_memory_probe> probe_;
    std::optional<proc_file> statm_;
    std::vector<char> buf_ = std::vector<char>(256);
    progress_line progress_;
    latency_histogram latency_;
    std::chrono::steady_clock::time_point start_;
    std::chrono::steady_clock::time_point last_checkpoint_;
    std::uint64_t since_checkpoint_ = 0;
    std::optional<checkpoint_writer> writer_; // started with the first checkpoint
    std::uint64_t page_size_ = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
    double last_used_ = 0;
    std::chrono::steady_clock::time_point last_probe_{};
    // low-water mark: batches completed contiguously from the start of this run
    std::uint64_t lwm_ = 0;
    std::uint64_t lwm_records_ = 0;
    std::string lwm_position_;
    std::map<std::uint64_t, std::pair<std::size_t, std::string>> above_; // finished past the mark

    std::uint64_t rss_now()
    {
        if (!statm_)
            return 0;
        std::string_view t = statm_->read(buf_);
        auto sp = t.find(' ');
        if (sp == std::string_view::npos)
            return 0;
        auto v = to_u64(trim(t.substr(sp + 1, t.find(' ', sp + 1) - sp - 1)));
        return v ? *v * page_size_ : 0;
    }

    double used_now(double from_guard)
    {
        if (opts_.guard_)
            return from_guard;
        if (!probe_)
            return 0;
        auto const now = std::chrono::steady_clock::now();
        if (now - last_probe_ >= std::chrono::milliseconds(100)) {
            last_used_ = probe_->sample().used_fraction;
            last_probe_ = now;
        }
        return last_used_;
    }

public:
    completion_tracker(run_options const& o, run_report& r)
        : opts_(o), report_(r), progress_(o.progress), start_(std::chrono::steady_clock::now()),
          last_checkpoint_(start_)
    {
        if (!o.record_dir.empty()) {
            recorder_.emplace(o.record_dir, o.job);
            if (!o.guard_)
                probe_.emplace();
        }
        if (recorder_ || progress_.on())
            statm_.emplace("/proc/self/statm");
        lwm_position_ = o.resume_from.position;
    }

    std::chrono::steady_clock::time_point start() const { return start_; }

    /// Batch `local` (0-based in this run) finished: process and commit both succeeded.
    /// `used` is the watched guard's used fraction when the batch was pulled (read on the
    /// pulling thread, the guard's own, so no thread reads the guard while it samples).
    void complete(std::uint64_t local, batch_info const& info, std::chrono::nanoseconds latency,
                  std::string position, double used)
    {
        latency_.add(latency);
        ++report_.batches;
        report_.records += info.size;
        auto const now = std::chrono::steady_clock::now();
        std::uint64_t rss = 0;
        if (recorder_ || progress_.on())
            rss = rss_now();
        if (recorder_)
            recorder_->add({info.index, info.size, rss, used_now(used), latency, now - start_});
        progress_.update(opts_.job, opts_.resume_from.records + report_.records, opts_.expected_records,
                         std::chrono::duration<double>(now - start_).count(), rss, info.size);

        // advance the low-water mark
        above_.emplace(local, std::make_pair(info.size, std::move(position)));
        bool moved = false;
        for (auto it = above_.begin(); it != above_.end() && it->first == lwm_; it = above_.erase(it)) {
            ++lwm_;
            lwm_records_ += it->second.first;
            lwm_position_ = std::move(it->second.second);
            ++since_checkpoint_;
            moved = true;
        }
        if (moved && !opts_.checkpoint_path.empty() &&
            (since_checkpoint_ >= opts_.checkpoint_every_batches ||
             (opts_.checkpoint_every.count() > 0 && now - last_checkpoint_ >= opts_.checkpoint_every)))
            write_checkpoint_now(now);
    }

    void write_checkpoint_now(std::chrono::steady_clock::time_point now)
    {
        if (opts_.checkpoint_path.empty() || since_checkpoint_ == 0)
            return;
        if (!writer_)
            writer_.emplace(opts_.checkpoint_path);
        writer_->submit(checkpoint{opts_.job, opts_.fingerprint, opts_.resume_from.batches + lwm_,
                                   opts_.resume_from.records + lwm_records_, lwm_position_, 0});
        report_.last_position = lwm_position_;
        since_checkpoint_ = 0;
        last_checkpoint_ = now;
    }

    /// At the end, success or not: the last checkpoint, the report's figures, the records.
    void finish(bool completed, std::string const& error)
    {
        progress_.update(opts_.job, opts_.resume_from.records + report_.records, opts_.expected_records,
                         std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count(), rss_now(),
                         0, true);
        progress_.finish();
        auto const now = std::chrono::steady_clock::now();
        // The last checkpoint, written here (not on the writer's thread), so that the file is
        // up to date when for_each_batch returns or throws.
        std::optional<checkpoint> last;
        if (!opts_.checkpoint_path.empty() && (since_checkpoint_ != 0 || writer_))
            last = checkpoint{opts_.job, opts_.fingerprint, opts_.resume_from.batches + lwm_,
                              opts_.resume_from.records + lwm_records_, lwm_position_, 0};
        since_checkpoint_ = 0;
        if (last && !writer_)
            writer_.emplace(opts_.checkpoint_path);
        if (writer_) {
            auto const [written, took] = writer_->finish(last);
            report_.checkpoints_written = written;
            report_.checkpoint_time = took;
        }
        report_.last_position = lwm_position_; // also without checkpoint files
        report_.elapsed = now - start_;
        double const secs = std::chrono::duration<double>(report_.elapsed).count();
        report_.records_per_second = secs > 0 ? double(report_.records) / secs : 0;
        report_.latency_p50 = latency_.quantile(0.50);
        report_.latency_p95 = latency_.quantile(0.95);
        report_.latency_max = latency_.max();
        report_.peak_rss_bytes = vm_hwm_bytes();
        report_.completed = completed;
        report_.error = error;
        if (opts_.guard_) {
            std::lock_guard lock(opts_.guard_->log->mutex);
            opts_.guard_->log->active = false;
            report_.guard_events = opts_.guard_->log->events;
        }
        if (recorder_) {
            run_configuration config{{"max_in_flight", std::to_string(opts_.max_in_flight)},
                                     {"ordered", opts_.ordered ? "true" : "false"},
                                     {"checkpoint_path", opts_.checkpoint_path.string()},
                                     {"checkpoint_every_batches", std::to_string(opts_.checkpoint_every_batches)},
                                     {"checkpoint_every_ms", std::to_string(opts_.checkpoint_every.count())},
                                     {"fingerprint", opts_.fingerprint},
                                     {"partition", opts_.part.str()}};
            config.insert(config.end(), opts_.configuration.begin(), opts_.configuration.end());
            recorder_->finish(report_, config);
        }
    }
};

template <class C>
std::size_t batch_size_of(C const& b)
{
    return static_cast<std::size_t>(std::ranges::size(b));
}

template <class Batches, class Process, class Commit>
run_report run_sequential(Batches& batches, Process& process, Commit& commit, run_options const& opts,
                          run_report& report, completion_tracker& done)
{
    std::uint64_t index = opts.resume_from.batches;
    std::uint64_t first = opts.resume_from.records;
    std::uint64_t local = 0;
    report.peak_in_flight = 0;
    for (auto it = std::ranges::begin(batches); it != std::ranges::end(batches); ++it) {
        auto&& b = *it;
        report.peak_in_flight = 1;
        std::string pos = opts.position ? opts.position() : std::string();
        batch_info const info{index, first, batch_size_of(b), pos};
        double const used = opts.guard_ ? opts.guard_->snapshot().used_fraction : 0.0;
        auto const t0 = std::chrono::steady_clock::now();
        using R = process_result_t<Process, std::remove_reference_t<decltype(b)>>;
        try {
            if constexpr (std::is_void_v<R>) {
                process_out_of_line(process, b, info);
                try {
                    call_commit(commit, std::monostate{}, info);
                } catch (...) {
                    std::throw_with_nested(batch_failed(info, "commit", current_what()));
                }
            } else {
                R r = process_out_of_line(process, b, info);
                try {
                    call_commit(commit, std::move(r), info);
                } catch (...) {
                    std::throw_with_nested(batch_failed(info, "commit", current_what()));
                }
            }
        } catch (batch_failed const&) {
            throw;
        } catch (...) {
            std::throw_with_nested(batch_failed(info, "process", current_what()));
        }
        done.complete(local++, info, std::chrono::steady_clock::now() - t0, std::move(pos), used);
        ++index;
        first += info.size;
    }
    return report;
}

/// Up to k batches alive; workers process, one thread at a time commits.
template <class Batches, class Process, class Commit>
void run_parallel(Batches& batches, Process& process, Commit& commit, run_options const& opts, run_report& report,
                  completion_tracker& done)
{
    using B = std::remove_cvref_t<std::ranges::range_reference_t<Batches>>;
    constexpr bool owning = is_batch_v<B>;
    using T = typename batch_record<B>::type;
    using owned_t = std::conditional_t<owning, std::vector<std::conditional_t<owning, T, int>>, B>;
    using R0 = process_result_t<Process, std::conditional_t<owning, batch<std::conditional_t<owning, T, int>>, B>>;
    using R = std::conditional_t<std::is_void_v<R0>, std::monostate, R0>;

    struct job {
        std::uint64_t local;
        batch_info info;
        std::optional<owned_t> data;
        std::string position;
        std::optional<R> result;
        std::chrono::nanoseconds took{0};
        double used = 0; ///< the watched guard's used fraction when pulled
    };

    std::size_t const k = opts.max_in_flight;
    std::mutex m;
    std::condition_variable cv_slot;
    std::map<std::uint64_t, std::unique_ptr<job>> finished;
    std::vector<owned_t> spares; // recycled buffers (owning batches only)
    std::size_t in_flight = 0;
    bool stop = false, committing = false;
    std::uint64_t next_commit = 0;
    std::exception_ptr error;
    bool lowered = false;

    auto fail = [&](std::exception_ptr e) {
        std::lock_guard lock(m);
        if (!error)
            error = e;
        stop = true;
        cv_slot.notify_all();
    };

    // Commits what is ready; only one thread holds the commit role at a time.
    auto drain = [&](std::unique_lock<std::mutex>& lock) {
        if (committing)
            return;
        committing = true;
        while (!stop) {
            auto it = opts.ordered ? finished.find(next_commit) : finished.begin();
            if (it == finished.end())
                break;
            std::unique_ptr<job> j = std::move(it->second);
            finished.erase(it);
            ++next_commit;
            lock.unlock();
            try {
                auto const t0 = std::chrono::steady_clock::now();
                try {
                    call_commit(commit, std::move(*j->result), j->info);
                } catch (...) {
                    std::throw_with_nested(batch_failed(j->info, "commit", current_what()));
                }
                j->took += std::chrono::steady_clock::now() - t0;
                done.complete(j->local, j->info, j->took, std::move(j->position), j->used);
            } catch (...) {
                lock.lock();
                committing = false;
                lock.unlock();
                fail(std::current_exception());
                lock.lock();
                return;
            }
            if constexpr (owning)
                j->data->clear(); // its records die here, outside the lock
            lock.lock();
            if constexpr (owning)
                spares.push_back(std::move(*j->data));
            --in_flight;
            cv_slot.notify_all();
        }
        committing = false;
    };

    // The source: one thread at a time advances it (the `pulling` token), always under a slot,
    // and the thread that pulled a batch processes it while its records are in its cache
    // (oneTBB's parallel_pipeline does the same: 1.5x over a hand-off to another thread).
    std::optional<std::ranges::iterator_t<Batches>> it;
    bool source_done = false, pulling = false;
    std::size_t limit_now = k; // k, or 1 while the watched guard reports memory pressure
    std::uint64_t index = opts.resume_from.batches;
    std::uint64_t first = opts.resume_from.records;
    std::uint64_t local = 0;

    // Advances the source to its next batch and moves it into a job; null at the end. The caller
    // holds the pulling token: nothing else touches the source, the view or the guard meanwhile.
    auto pull = [&]() -> std::unique_ptr<job> {
        if (!it)
            it.emplace(std::ranges::begin(batches)); // fills the first batch
        else
            ++*it; // fills the next
        if (*it == std::ranges::end(batches))
            return nullptr;
        auto j = std::make_unique<job>();
        j->local = local++;
        {
            auto&& b = **it;
            j->info = batch_info{index, first, batch_size_of(b)};
            if constexpr (owning) {
                std::optional<owned_t> spare;
                {
                    std::lock_guard lock(m);
                    if (!spares.empty()) {
                        spare.emplace(std::move(spares.back()));
                        spares.pop_back();
                    }
                }
                j->data.emplace(spare ? b.take(std::move(*spare)) : b.take());
            } else {
                j->data.emplace(b);
            }
        }
        j->position = opts.position ? opts.position() : std::string();
        j->info.position = j->position; // j is heap-allocated: the view stays valid
        j->used = opts.guard_ ? opts.guard_->snapshot().used_fraction : 0.0;
        ++index;
        first += j->info.size;
        return j;
    };

    auto worker = [&] {
        std::unique_lock lock(m);
        while (true) {
            bool const full = in_flight >= limit_now;
            auto const t0 = std::chrono::steady_clock::now();
            cv_slot.wait(lock, [&] { return stop || source_done || (!pulling && in_flight < limit_now); });
            if (full)
                report.waited_for_slot += std::chrono::steady_clock::now() - t0;
            if (stop || source_done)
                return;
            pulling = true;
            ++in_flight;
            if (limit_now < k)
                ++report.in_flight_lowered;
            report.peak_in_flight = std::max(report.peak_in_flight, in_flight);
            lock.unlock();

            std::unique_ptr<job> j;
            std::size_t lim = k;
            try {
                j = pull();
                if (opts.guard_) { // read on the pulling thread: the guard's only user right now
                    double const used = j ? j->used : opts.guard_->snapshot().used_fraction;
                    if (used >= opts.guard_->shrink_at)
                        lowered = true;
                    else if (used < opts.guard_->grow_at)
                        lowered = false;
                    lim = lowered ? 1 : k;
                }
            } catch (...) { // the source threw: stop, and rethrow it as it is
                lock.lock();
                pulling = false;
                --in_flight;
                lock.unlock();
                fail(std::current_exception());
                lock.lock();
                return;
            }
            lock.lock();
            pulling = false;
            limit_now = lim;
            if (!j) {
                source_done = true;
                --in_flight;
                cv_slot.notify_all();
                return;
            }
            cv_slot.notify_all(); // another worker may pull now
            lock.unlock();

            try {
                auto const t0p = std::chrono::steady_clock::now();
                try {
                    if constexpr (owning) {
                        batch<T> view(*j->data);
                        if constexpr (std::is_void_v<R0>) {
                            process_out_of_line(process, view, j->info);
                            j->result.emplace();
                        } else {
                            j->result.emplace(process_out_of_line(process, view, j->info));
                        }
                    } else {
                        if constexpr (std::is_void_v<R0>) {
                            process_out_of_line(process, *j->data, j->info);
                            j->result.emplace();
                        } else {
                            j->result.emplace(process_out_of_line(process, *j->data, j->info));
                        }
                    }
                } catch (...) {
                    std::throw_with_nested(batch_failed(j->info, "process", current_what()));
                }
                j->took = std::chrono::steady_clock::now() - t0p;
            } catch (...) {
                fail(std::current_exception());
                lock.lock();
                continue;
            }
            lock.lock();
            finished.emplace(j->local, std::move(j));
            drain(lock);
        }
    };

    std::size_t const threads =
        std::max<std::size_t>(1, std::min<std::size_t>(k, std::max(1u, std::thread::hardware_concurrency())));
    std::vector<std::thread> pool;
    pool.reserve(threads);
    try {
        for (std::size_t i = 0; i < threads; ++i)
            pool.emplace_back(worker);
    } catch (...) {
        fail(std::current_exception());
    }
    for (auto& t : pool)
        t.join();
    if (error)
        std::rethrow_exception(error);
}

} // namespace detail

/// Runs `process` (and `commit`) over every batch; see the header comment.
template <std::ranges::input_range Batches, class Process, class Commit>
    requires std::ranges::sized_range<std::ranges::range_reference_t<Batches>>
run_report for_each_batch(Batches&& batches, Process process, Commit commit, run_options const& opts)
{
    if (opts.max_in_flight == 0)
        throw std::invalid_argument("streambatch::for_each_batch: max_in_flight must be at least 1, got 0");
    run_report report;
    report.job = opts.job;
    report.part = opts.part;
    if (opts.position) // where this run's input begins (a partition's start, or the resume point)
        report.first_position = opts.position();
    report.max_in_flight = opts.max_in_flight;
    report.resumed_from_records = opts.resume_from.records;
    report.resumed_from_batches = opts.resume_from.batches;
    if (opts.guard_) {
        std::lock_guard lock(opts.guard_->log->mutex);
        opts.guard_->log->active = true;
    }
    detail::completion_tracker done(opts, report);
    try {
        if (opts.max_in_flight == 1)
            detail::run_sequential(batches, process, commit, opts, report, done);
        else
            detail::run_parallel(batches, process, commit, opts, report, done);
    } catch (...) {
        done.finish(false, detail::current_what());
        throw;
    }
    done.finish(true, {});
    return report;
}

/// for_each_batch without a commit step.
template <std::ranges::input_range Batches, class Process>
    requires std::ranges::sized_range<std::ranges::range_reference_t<Batches>>
run_report for_each_batch(Batches&& batches, Process process, run_options const& opts = {})
{
    return for_each_batch(std::forward<Batches>(batches), std::move(process), detail::no_commit{}, opts);
}

} // namespace streambatch

#endif // STREAMBATCH_RUNNER_FOR_EACH_BATCH_HPP_INCLUDED
