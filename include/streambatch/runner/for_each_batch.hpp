// streambatch/runner/for_each_batch.hpp: run a job over a range of batches, on one thread or
// several.
//
// In:     a range of batches (views::chunk / adaptive_chunk / memory_guarded, or any input range
//         of sized ranges); `process(batch [, batch_info])`, which may return a value; optionally
//         `commit(result [, batch_info])` (or `commit([batch_info])` when process returns
//         nothing); streambatch::run_options (runner/run_options.hpp).
// Out:    a streambatch::run_report (run_report.hpp) with its status: completed, or stopped
//         when run_options::stop was requested (no batch is pulled after it; those pulled are
//         finished); with run_options::record_dir, run records in a directory of this run's own,
//         report.run_dir (run_records.hpp), refreshed every record_every while it runs; with
//         checkpoint_path, checkpoints holding the low-water mark (checkpoint.hpp); with stderr
//         a terminal, one updating progress line.
// Models: a blocking call. max_in_flight == 1 (the default): process and commit each batch in
//         turn, here. k > 1: detail::parallel_scheduler (runner/detail/scheduler.hpp): up to k
//         worker threads (at most one per core) each pull a batch and process it; commit runs
//         on one thread at a time, in batch order when `ordered`, else as batches finish, and
//         that thread does nothing else (a committed batch is destroyed by the next worker about
//         to pull), so a serial sink's commits overlap the pulling and processing of the next
//         batches; a watched memory guard above shrink_at drops the limit to 1 until it falls
//         below grow_at. std::thread only, no dependency.
// Memory: at most k batches alive (being filled, processed, waiting for commit, or committed and
//         not yet destroyed); a batch of a single-pass source is moved out of the view
//         (batch<T>::take) into recycled buffers.
//         O(1) per batch for statistics.
// Errors: an exception from process or commit stops the job (no new batch started or
//         committed, every worker joined) and is rethrown as streambatch::batch_failed naming
//         the batch and its records, the original nested; one from the source is rethrown as
//         it is; checkpoint_error (a checkpoint that cannot be written), run_record_error;
//         std::invalid_argument for max_in_flight == 0. The first error wins: a checkpoint or
//         run record that cannot be written after it is appended to its what() ("...; also:
//         ..."), never thrown in its place, and the failed run's run_record.json carries its
//         text. See docs/runner.md.
// Example:
//     auto report = streambatch::for_each_batch(
//         rows | streambatch::views::memory_guarded(1000),
//         [](auto& batch) { return transform(batch); },               // on up to 2 threads
//         [&](auto&& out, streambatch::batch_info const&) { sink.insert(out); },  // in order
//         {.max_in_flight = 2, .record_dir = "runs/today"});

#ifndef STREAMBATCH_RUNNER_FOR_EACH_BATCH_HPP_INCLUDED
#define STREAMBATCH_RUNNER_FOR_EACH_BATCH_HPP_INCLUDED

#include <streambatch/runner/checkpoint.hpp>
#include <streambatch/runner/detail/calls.hpp>
#include <streambatch/runner/detail/completion_tracker.hpp>
#include <streambatch/runner/detail/scheduler.hpp>
#include <streambatch/runner/run_options.hpp>
#include <streambatch/runner/run_records.hpp>
#include <streambatch/runner/run_report.hpp>
#include <streambatch/views/batch_view.hpp>

#include <chrono>
#include <cstdint>
#include <exception>
#include <mutex>
#include <ranges>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>

namespace streambatch {
namespace detail {

/// run_sequential's loop: pulls, processes and commits each batch in turn (a confirming commit's
/// batch is confirmed before the next is committed). True when run_options::stop ended it.
template <class Batches, class Process, class Commit>
bool run_batches_in_turn(Batches& batches, Process& process, Commit& commit,
                         run_options const& opts, run_report& report, completion_tracker& done,
                         sent_tracker<Commit>& sent)
{
    std::uint64_t index = opts.resume_from.batches;
    std::uint64_t first = opts.resume_from.records;
    std::uint64_t local = 0;
    for (auto it = std::ranges::begin(batches); it != std::ranges::end(batches); ++it) {
        auto&& b = *it;
        report.peak_in_flight = 1;
        std::string pos = opts.position ? opts.position() : std::string();
        batch_info const info{index, first, batch_size_of(b), pos};
        double const used = opts.guard_ ? opts.guard_->snapshot().used_fraction : 0.0;
        auto const t0 = std::chrono::steady_clock::now();
        using R = process_result_t<Process, std::remove_reference_t<decltype(b)>>;
        bool processed = false; // past it, a failure is not this batch's process step's
        try {
            if constexpr (std::is_void_v<R>) {
                process_out_of_line(process, b, info);
                processed = true;
                sent.settle(commit, done); // the batch before this one
                try {
                    call_commit(commit, std::monostate{}, info);
                } catch (...) {
                    sent.commit_failed();
                    std::throw_with_nested(batch_failed(info, "commit", current_what()));
                }
            } else {
                R r = process_out_of_line(process, b, info);
                processed = true;
                sent.settle(commit, done); // the batch before this one
                try {
                    call_commit(commit, std::move(r), info);
                } catch (...) {
                    sent.commit_failed();
                    std::throw_with_nested(batch_failed(info, "commit", current_what()));
                }
            }
        } catch (batch_failed const&) {
            throw;
        } catch (...) {
            if (processed) // counting the batch confirmed (a checkpoint, a run record) failed
                throw;
            std::throw_with_nested(batch_failed(info, "process", current_what()));
        }
        sent.sent(commit, done, local++, info, std::chrono::steady_clock::now() - t0,
                  std::move(pos), used);
        ++index;
        first += info.size;
        if (opts.stop.stop_requested()) // before ++it pulls the next batch
            return true;
    }
    return false;
}

/// max_in_flight == 1: each batch is processed and committed in turn, on the caller's thread.
/// Returns true when run_options::stop ended it (checked before each batch is pulled).
template <class Batches, class Process, class Commit>
bool run_sequential(Batches& batches, Process& process, Commit& commit, run_options const& opts,
                    run_report& report, completion_tracker& done)
{
    report.peak_in_flight = 0;
    if (opts.stop.stop_requested())
        return true;
    sent_tracker<Commit> sent; // a confirming commit's batches sent and not yet confirmed
    bool stopped = false;
    try {
        stopped = run_batches_in_turn(batches, process, commit, opts, report, done, sent);
    } catch (...) {
        sent.confirm_quietly(commit, done);
        throw;
    }
    sent.confirm(commit, done); // the batches sent and held
    return stopped;
}

} // namespace detail

/// Runs `process` (and `commit`) over every batch; see the header comment.
template <std::ranges::input_range Batches, class Process, class Commit>
    requires std::ranges::sized_range<std::ranges::range_reference_t<Batches>>
run_report for_each_batch(Batches&& batches, Process process, Commit commit,
                          run_options const& opts)
{
    if (opts.max_in_flight == 0)
        throw std::invalid_argument(
            "streambatch::for_each_batch: max_in_flight must be at least 1, got 0");
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
    bool stopped = false;
    std::exception_ptr error;
    try {
        if (opts.max_in_flight == 1)
            stopped = detail::run_sequential(batches, process, commit, opts, report, done);
        else
            stopped = detail::parallel_scheduler<std::remove_reference_t<Batches>, Process, Commit>(
                          batches, process, commit, opts, report, done)
                          .run();
    } catch (...) {
        error = std::current_exception();
    }
    // Throws `error` (with any later failure appended), or the first failure of its own.
    done.finish(error     ? run_status::failed
                : stopped ? run_status::stopped
                          : run_status::completed,
                error);
    return report;
}

/// for_each_batch without a commit step.
template <std::ranges::input_range Batches, class Process>
    requires std::ranges::sized_range<std::ranges::range_reference_t<Batches>>
run_report for_each_batch(Batches&& batches, Process process, run_options const& opts = {})
{
    return for_each_batch(std::forward<Batches>(batches), std::move(process), detail::no_commit{},
                          opts);
}

} // namespace streambatch

#endif // STREAMBATCH_RUNNER_FOR_EACH_BATCH_HPP_INCLUDED
