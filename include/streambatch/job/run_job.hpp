// streambatch/job/run_job.hpp: a whole job (source, step, sink) with the guarantees built in:
// resume where the sink's last committed batch ended, refuse another input, one writer at a
// time, a graceful stop on SIGINT/SIGTERM, run records that survive.
//
// In:     a source modelling job_source, a step (batch of the source's rows -> what the sink
//         takes), a sink modelling job_sink, and job_options (the job's name, partition,
//         starting batch size, run_options for the runner, signal handling and its deadline).
// Out:    job_result: the run_report, the state the run resumed from (nullopt: a fresh start),
//         the signal that stopped it (0: none) and exit_code(): 0, or 130 / 143 after SIGINT /
//         SIGTERM.
// Models: in order: sink.open(key) takes the fence (fence_held: another copy runs) and returns
//         the stored state; source.check_identity(state) (input_changed: another input) and
//         source.seek(state.position); then for_each_batch over the source's rows in batches
//         of opts.batch under a memory guard, with `step` on up to run.max_in_flight threads and
//         each result committed in batch order by sink.commit(result, state after the batch)
//         (a confirming_job_sink: sink.send(result, state), confirmed by sink.confirm() before
//         the next batch's send and at the end, so the sink's server commits batch N while
//         batch N+1 is read and cleaned; a batch counts as committed once confirmed); last
//         sink.close(). With handle_signals, a stop_on_signals (job/stop_signals.hpp) is
//         live for the run. Commits are always in batch order (run.ordered is forced on): the
//         stored position must cover every batch before it.
// Memory: at most run.max_in_flight batches (fewer while the guard says memory is short), and
//         one identity text per batch in flight.
// Errors: fence_held and input_changed before any row is read; fence_lost from a commit, and
//         every other failure, as for_each_batch reports them (batch_failed naming the batch,
//         the original nested). The sink's fence is released on every path.
// Example:
//     streambatch::csv::file_source in("customers.csv");
//     streambatch::sqlite::job_sink out(db, inserter);
//     auto r = streambatch::run_job(in, clean, out, {.job = "load customers", .batch = 1000});
//     return r.exit_code();

#ifndef STREAMBATCH_JOB_RUN_JOB_HPP_INCLUDED
#define STREAMBATCH_JOB_RUN_JOB_HPP_INCLUDED

#include <streambatch/guard/memory_guard.hpp>
#include <streambatch/job/contract.hpp>
#include <streambatch/job/stop_signals.hpp>
#include <streambatch/runner/for_each_batch.hpp>
#include <streambatch/runner/run_options.hpp>
#include <streambatch/views/memory_guarded.hpp>

#include <chrono>
#include <cstddef>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <ranges>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

namespace streambatch {

struct job_options {
    std::string job = "streambatch job"; ///< the job's name: with the partition, the sink's key
    partition part{};                    ///< this worker's share ({0, 1}: the whole input)
    std::size_t batch = 1000;            ///< records per batch (fewer while memory is tight)
    run_options run{}; ///< the runner's options (max_in_flight, record_dir, progress, ...)
    memory_guard_options guard{};                    ///< the guard that lowers the batch size
    bool handle_signals = true;                      ///< SIGINT/SIGTERM stop gracefully
    std::chrono::milliseconds stop_deadline{10'000}; ///< then exit 128 + signal
};

struct job_result {
    run_report report;
    std::optional<job_state> resumed_from; ///< what the sink had stored (nullopt: fresh start)
    int signal = 0; ///< SIGINT or SIGTERM if one stopped the run (0 when it had completed anyway)
    /// 0 after a run to the end; 128 + the signal after a graceful stop.
    int exit_code() const noexcept { return signal ? 128 + signal : 0; }
};

namespace detail {

/// The identity the source had when each batch was pulled, until that batch commits (the
/// runner asks the position on the pulling thread; commits come in batch order).
class identity_queue {
    std::mutex mutex_;
    std::deque<std::pair<std::string, std::string>> q_; // position, identity
public:
    void push(std::string position, std::string identity)
    {
        std::lock_guard lock(mutex_);
        q_.emplace_back(std::move(position), std::move(identity));
    }
    std::string pop(std::string_view position)
    {
        std::lock_guard lock(mutex_);
        if (q_.empty() || q_.front().first != position)
            throw std::logic_error("streambatch::run_job: batch at position " +
                                   std::string(position) +
                                   " committed out of order (run.ordered must stay on)");
        std::string id = std::move(q_.front().second);
        q_.pop_front();
        return id;
    }
};

template <class Source>
decltype(auto) rows_view(Source& source)
{
    if constexpr (std::is_lvalue_reference_v<decltype(source.rows())>)
        return std::ranges::ref_view(source.rows());
    else
        return source.rows();
}

} // namespace detail

/// Runs a job with its guarantees (see the header comment).
template <job_source Source, class Step, class Sink>
job_result run_job(Source& source, Step step, Sink& sink, job_options opts)
{
    job_result result;
    job_key const key{opts.job, opts.part};
    struct close_on_exit { // a close() that throws is reported, unless an error is on its way
        Sink& s;
        int const unwinding = std::uncaught_exceptions();
        ~close_on_exit() noexcept(false)
        {
            if (std::uncaught_exceptions() == unwinding) {
                s.close();
                return;
            }
            try {
                s.close();
            } catch (...) {
            }
        }
    };
    result.resumed_from = sink.open(key);
    close_on_exit const closer{sink};
    if (result.resumed_from) {
        source.check_identity(*result.resumed_from);
        source.seek(result.resumed_from->position);
    }

    run_options run = std::move(opts.run);
    run.job = opts.job;
    run.ordered = true;
    if (opts.part != partition{})
        run.set_partition(opts.part);
    if (result.resumed_from) {
        run.resume_from.batches = result.resumed_from->batches;
        run.resume_from.records = result.resumed_from->records;
        run.resume_from.position = result.resumed_from->position;
    }
    auto identities = std::make_shared<detail::identity_queue>();
    bool first_call = true; // the runner asks once before the first batch, for the report
    run.position = [&source, identities, &first_call] {
        std::string pos = source.position();
        if (first_call)
            first_call = false;
        else
            identities->push(pos, source.identity());
        return pos;
    };

    std::optional<stop_on_signals> signals;
    if (opts.handle_signals) {
        signals.emplace(opts.stop_deadline);
        run.stop = signals->token();
    }
    memory_guard guard(opts.guard);
    run.watch(guard);

    auto&& rows = detail::rows_view(source);
    auto batches = std::views::all(std::forward<decltype(rows)>(rows)) |
                   views::memory_guarded(opts.batch, std::ref(guard));
    using batch_t = std::add_lvalue_reference_t<std::ranges::range_reference_t<decltype(batches)>>;
    using out_t = std::remove_cvref_t<std::invoke_result_t<Step&, batch_t>>;
    static_assert(!std::is_void_v<out_t>, "streambatch::run_job: the step must return what the "
                                          "sink commits (e.g. the batch's cleaned rows)");
    static_assert(job_sink<Sink, out_t&&>,
                  "streambatch::run_job: the sink must model job_sink for the step's result");

    auto state_after = [identities](batch_info const& info) {
        return job_state{std::string(info.position), identities->pop(info.position), info.index + 1,
                         info.first_record + info.size};
    };
    auto process = [&step](batch_t b) -> out_t { return step(b); };
    if constexpr (confirming_job_sink<Sink, out_t&&>) {
        // The runner settles each batch before committing the next (confirms it, or, with a
        // sink that holds batches in an open transaction, takes its verdict), and counts the
        // batches once the sink has committed them.
        struct send_then_confirm {
            Sink& sink;
            decltype(state_after) state;
            void operator()(out_t&& out, batch_info const& info)
            {
                sink.send(std::move(out), state(info));
            }
            void confirm() { sink.confirm(); }
        };
        struct send_then_hold : send_then_confirm {
            bool confirm_or_hold() { return this->sink.confirm_or_hold(); }
        };
        if constexpr (holding_job_sink<Sink, out_t&&>)
            result.report =
                for_each_batch(batches, process, send_then_hold{{sink, state_after}}, run);
        else
            result.report =
                for_each_batch(batches, process, send_then_confirm{sink, state_after}, run);
    } else {
        result.report = for_each_batch(
            batches, process,
            [&sink, &state_after](out_t&& out, batch_info const& info) {
                sink.commit(std::move(out), state_after(info));
            },
            run);
    }
    if (signals) {
        signals->finished();
        // A signal after the last batch was pulled stopped nothing: the job completed.
        if (result.report.status == run_status::stopped)
            result.signal = signals->signal();
    }
    return result;
}

} // namespace streambatch

#endif // STREAMBATCH_JOB_RUN_JOB_HPP_INCLUDED
