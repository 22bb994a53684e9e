// streambatch/runner/detail/completion_tracker.hpp: what the runner does when a batch completes -
// statistics, run records (refreshed every run_options::record_every), the progress line, and
// the low-water mark its checkpoints hold - and at the end: the last checkpoint and the final
// records, where the first error wins (later failures are appended to it, never put in its
// place: rethrow_with_also).
//
// A checkpoint holds the batches completed contiguously from the start of the run (the
// low-water mark), never the highest finished one: batches may finish out of order. See
// docs/runner.md (checkpoints).

#ifndef STREAMBATCH_RUNNER_DETAIL_COMPLETION_TRACKER_HPP_INCLUDED
#define STREAMBATCH_RUNNER_DETAIL_COMPLETION_TRACKER_HPP_INCLUDED

#include <streambatch/guard/memory_probe.hpp>
#include <streambatch/runner/checkpoint.hpp>
#include <streambatch/runner/detail/checkpoint_writer.hpp>
#include <streambatch/runner/detail/progress_line.hpp>
#include <streambatch/runner/detail/push.hpp>
#include <streambatch/runner/run_options.hpp>
#include <streambatch/runner/run_records.hpp>
#include <streambatch/runner/run_report.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

namespace streambatch::detail {

/// The batches completed contiguously from the start of a run, whatever order they finish in.
class low_water_mark {
    std::uint64_t batches_ = 0;
    std::uint64_t records_ = 0;
    std::string position_;
    std::map<std::uint64_t, std::pair<std::size_t, std::string>> above_; // finished past the mark

public:
    explicit low_water_mark(std::string start_position = {}) : position_(std::move(start_position))
    {}

    /// Batch `local` (0-based in this run) of `size` records finished; `position` is the source's
    /// position after it. Returns how many batches the mark moved by.
    std::uint64_t complete(std::uint64_t local, std::size_t size, std::string position)
    {
        above_.emplace(local, std::make_pair(size, std::move(position)));
        std::uint64_t moved = 0;
        for (auto it = above_.begin(); it != above_.end() && it->first == batches_;
             it = above_.erase(it)) {
            batches_ = it->first + 1;
            records_ += it->second.first;
            position_ = std::move(it->second.second);
            ++moved;
        }
        return moved;
    }

    std::uint64_t batches() const noexcept { return batches_; }
    std::uint64_t records() const noexcept { return records_; }
    std::string const& position() const noexcept { return position_; }
};

/// Rethrows `first`, the error that ended a run, with `also` ("; also: ...", the failures that
/// followed it) appended to its what(): as a batch_failed (the same batch, the same cause
/// nested), checkpoint_error or run_record_error (the original nested) when it is one; any other
/// exception is rethrown as it is, and `also` goes to stderr.
[[noreturn]] inline void rethrow_with_also(std::exception_ptr first, std::string const& also)
{
    if (also.empty())
        std::rethrow_exception(first);
    try {
        std::rethrow_exception(first);
    } catch (batch_failed const& e) {
        std::string const message = e.what() + also;
        if (auto cause = e.nested_ptr()) {
            try {
                std::rethrow_exception(cause);
            } catch (...) {
                throw batch_failed(e.info, message); // nests the cause, as the original did
            }
        }
        throw batch_failed(e.info, message);
    } catch (checkpoint_error const& e) {
        std::throw_with_nested(checkpoint_error(e.what() + also));
    } catch (run_record_error const& e) {
        std::throw_with_nested(run_record_error(e.what() + also));
    } catch (...) { // the source's own type: kept, as documented
        std::fprintf(stderr, "streambatch: after the error that ended the run%s\n", also.c_str());
        throw;
    }
}

/// Everything done when a batch completes, whichever thread completes it. Not thread-safe:
/// callers serialise (the committing thread holds the commit role).
class completion_tracker {
    run_options const& opts_;
    run_report& report_;
    std::optional<run_recorder> recorder_;
    std::optional<metrics_pusher> pusher_; // with run_options::push_url
    std::optional<proc_memory_probe> probe_;
    std::optional<rss_reader> rss_;
    progress_line progress_;
    latency_histogram latency_;
    std::chrono::steady_clock::time_point start_;
    std::chrono::steady_clock::time_point last_checkpoint_;
    std::uint64_t since_checkpoint_ = 0;
    std::optional<checkpoint_writer> writer_; // started with the first checkpoint
    double last_used_ = 0;
    std::chrono::steady_clock::time_point last_probe_{};
    std::chrono::steady_clock::time_point last_record_{};
    low_water_mark lwm_;

    run_configuration configuration() const
    {
        run_configuration config{
            {"max_in_flight", std::to_string(opts_.max_in_flight)},
            {"ordered", opts_.ordered ? "true" : "false"},
            {"checkpoint_path", opts_.checkpoint_path.string()},
            {"checkpoint_every_batches", std::to_string(opts_.checkpoint_every_batches)},
            {"checkpoint_every_ms", std::to_string(opts_.checkpoint_every.count())},
            {"record_every_ms", std::to_string(opts_.record_every.count())},
            {"fingerprint", opts_.fingerprint},
            {"partition", opts_.part.str()}};
        if (pusher_)
            config.emplace_back("push_url", opts_.push_url);
        config.insert(config.end(), opts_.configuration.begin(), opts_.configuration.end());
        return config;
    }

    /// The figures this tracker owns, as of `now` (the scheduler's own - time waited for a slot,
    /// peak in flight - are filled in at the end only: other threads write them meanwhile).
    void fill_figures(run_report& r, std::chrono::steady_clock::time_point now)
    {
        r.elapsed = now - start_;
        double const secs = std::chrono::duration<double>(r.elapsed).count();
        r.records_per_second = secs > 0 ? double(r.records) / secs : 0;
        r.latency_p50 = latency_.quantile(0.50);
        r.latency_p95 = latency_.quantile(0.95);
        r.latency_max = latency_.max();
        r.peak_rss_bytes = peak_rss_bytes();
        r.last_position = lwm_.position();
    }

    /// run_record.json and metrics.prom with the current figures, status running (and/or the
    /// same metrics handed to the pusher).
    void refresh_records(std::chrono::steady_clock::time_point now, bool records = true,
                         bool push = true)
    {
        run_report r;
        r.job = report_.job;
        r.part = report_.part;
        r.records = report_.records;
        r.batches = report_.batches;
        r.max_in_flight = report_.max_in_flight;
        r.resumed_from_records = report_.resumed_from_records;
        r.resumed_from_batches = report_.resumed_from_batches;
        r.first_position = report_.first_position;
        r.run_dir = report_.run_dir;
        fill_figures(r, now);
        if (opts_.guard_) {
            std::lock_guard lock(opts_.guard_->log->mutex);
            r.guard_events = opts_.guard_->log->events;
        }
        r.push_failures = pusher_ ? pusher_->failures() : 0;
        if (push && pusher_)
            pusher_->submit(prometheus_text(r, false), now);
        if (!records || !recorder_)
            return;
        recorder_->update(r, configuration());
        last_record_ = now;
    }

    std::uint64_t rss_now() { return rss_ ? rss_->bytes() : 0; }

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

    /// The checkpoint the low-water mark stands for.
    checkpoint mark() const
    {
        return checkpoint{opts_.job,
                          opts_.fingerprint,
                          opts_.resume_from.batches + lwm_.batches(),
                          opts_.resume_from.records + lwm_.records(),
                          lwm_.position(),
                          0};
    }

public:
    completion_tracker(run_options const& o, run_report& r)
        : opts_(o), report_(r), progress_(o.progress), start_(std::chrono::steady_clock::now()),
          last_checkpoint_(start_), lwm_(o.resume_from.position)
    {
        if (!o.push_url.empty()) // a bad URL throws here, before a run directory is made
            pusher_.emplace(o.push_url, o.job, o.part, o.push_every.value_or(o.record_every),
                            o.push_timeout);
        if (!o.record_dir.empty()) {
            recorder_.emplace(o.record_dir, o.job);
            report_.run_dir = recorder_->directory();
            if (!o.guard_)
                probe_.emplace();
        }
        if (recorder_ || progress_.on())
            rss_.emplace();
        if (recorder_ || pusher_)
            refresh_records(start_); // status running, from the start
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
        progress_.update(opts_.job, opts_.resume_from.records + report_.records,
                         opts_.expected_records,
                         std::chrono::duration<double>(now - start_).count(), rss, info.size);

        std::uint64_t const moved = lwm_.complete(local, info.size, std::move(position));
        bool const record_due = recorder_ && now - last_record_ >= opts_.record_every;
        bool const push_due = pusher_ && pusher_->due(now);
        if (record_due || push_due)
            refresh_records(now, record_due, push_due);
        since_checkpoint_ += moved;
        if (moved != 0 && !opts_.checkpoint_path.empty() &&
            (since_checkpoint_ >= opts_.checkpoint_every_batches ||
             (opts_.checkpoint_every.count() > 0 &&
              now - last_checkpoint_ >= opts_.checkpoint_every)))
            write_checkpoint_now(now);
    }

    void write_checkpoint_now(std::chrono::steady_clock::time_point now)
    {
        if (opts_.checkpoint_path.empty() || since_checkpoint_ == 0)
            return;
        if (!writer_)
            writer_.emplace(opts_.checkpoint_path);
        writer_->submit(mark());
        report_.last_position = lwm_.position();
        since_checkpoint_ = 0;
        last_checkpoint_ = now;
    }

    /// Waits until the checkpoints submitted so far are on disk (tests only; the job never does).
    void flush_checkpoints()
    {
        if (writer_)
            writer_->flush();
    }

    /// At the end, however the run ended: the last checkpoint, the report's figures, the final
    /// records. `original` is the exception that ended the run (null if none). The first failure
    /// wins: a checkpoint or record that cannot be written after it is appended to it
    /// (rethrow_with_also); without one, the first such failure is thrown, after the records
    /// (status failed) have been tried.
    void finish(run_status status, std::exception_ptr original)
    {
        std::exception_ptr first = original;
        std::string first_text = original ? what_of(original) : std::string();
        std::string also;
        auto failed = [&](std::exception_ptr e) {
            if (!first) {
                first = e;
                first_text = what_of(e);
                return;
            }
            std::string const text = what_of(e);
            if (e != first && text != first_text) // the writer rethrows the error that ended it
                also += "; also: " + text;
        };
        try {
            progress_.update(
                opts_.job, opts_.resume_from.records + report_.records, opts_.expected_records,
                std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count(),
                rss_now(), 0, true);
            progress_.finish();
        } catch (...) {
            failed(std::current_exception());
        }
        auto const now = std::chrono::steady_clock::now();
        // The last checkpoint, written here (not on the writer's thread), so that the file is
        // up to date when for_each_batch returns or throws.
        try {
            std::optional<checkpoint> last;
            if (!opts_.checkpoint_path.empty() && (since_checkpoint_ != 0 || writer_))
                last = mark();
            since_checkpoint_ = 0;
            if (last && !writer_)
                writer_.emplace(opts_.checkpoint_path);
            if (writer_) {
                auto const [written, took] = writer_->finish(last);
                report_.checkpoints_written = written;
                report_.checkpoint_time = took;
            }
        } catch (...) {
            failed(std::current_exception());
        }
        fill_figures(report_, now); // last_position: also without checkpoint files
        if (first)
            status = run_status::failed;
        report_.status = status;
        report_.completed = status == run_status::completed;
        report_.error = first ? first_text + also : std::string();
        if (opts_.guard_) {
            std::lock_guard lock(opts_.guard_->log->mutex);
            opts_.guard_->log->active = false;
            report_.guard_events = opts_.guard_->log->events;
        }
        if (pusher_) { // the final figures, once more (waits at most 1 s + push_timeout + 100 ms)
            report_.push_failures = pusher_->failures();
            report_.push_failures = pusher_->finish(prometheus_text(report_, false));
        }
        if (recorder_) {
            try {
                recorder_->finish(report_, configuration());
            } catch (...) {
                failed(std::current_exception());
            }
        }
        if (first)
            rethrow_with_also(first, also);
    }
};

} // namespace streambatch::detail

#endif // STREAMBATCH_RUNNER_DETAIL_COMPLETION_TRACKER_HPP_INCLUDED
