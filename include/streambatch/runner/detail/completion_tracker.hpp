// streambatch/runner/detail/completion_tracker.hpp: what the runner does when a batch completes -
// statistics, run records, the progress line, and the low-water mark its checkpoints hold.
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
#include <streambatch/runner/run_options.hpp>
#include <streambatch/runner/run_records.hpp>
#include <streambatch/runner/run_report.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
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

/// Everything done when a batch completes, whichever thread completes it. Not thread-safe:
/// callers serialise (the committing thread holds the commit role).
class completion_tracker {
    run_options const& opts_;
    run_report& report_;
    std::optional<run_recorder> recorder_;
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
    low_water_mark lwm_;

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
        if (!o.record_dir.empty()) {
            recorder_.emplace(o.record_dir, o.job);
            if (!o.guard_)
                probe_.emplace();
        }
        if (recorder_ || progress_.on())
            rss_.emplace();
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

    /// At the end, success or not: the last checkpoint, the report's figures, the records.
    void finish(bool completed, std::string const& error)
    {
        progress_.update(
            opts_.job, opts_.resume_from.records + report_.records, opts_.expected_records,
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count(),
            rss_now(), 0, true);
        progress_.finish();
        auto const now = std::chrono::steady_clock::now();
        // The last checkpoint, written here (not on the writer's thread), so that the file is
        // up to date when for_each_batch returns or throws.
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
        report_.last_position = lwm_.position(); // also without checkpoint files
        report_.elapsed = now - start_;
        double const secs = std::chrono::duration<double>(report_.elapsed).count();
        report_.records_per_second = secs > 0 ? double(report_.records) / secs : 0;
        report_.latency_p50 = latency_.quantile(0.50);
        report_.latency_p95 = latency_.quantile(0.95);
        report_.latency_max = latency_.max();
        report_.peak_rss_bytes = peak_rss_bytes();
        report_.completed = completed;
        report_.error = error;
        if (opts_.guard_) {
            std::lock_guard lock(opts_.guard_->log->mutex);
            opts_.guard_->log->active = false;
            report_.guard_events = opts_.guard_->log->events;
        }
        if (recorder_) {
            run_configuration config{
                {"max_in_flight", std::to_string(opts_.max_in_flight)},
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

} // namespace streambatch::detail

#endif // STREAMBATCH_RUNNER_DETAIL_COMPLETION_TRACKER_HPP_INCLUDED
