// streambatch/runner/run_options.hpp: what for_each_batch is told (run_options) and tells back
// about a batch (batch_info, batch_failed).
//
// In:     run_options: max_in_flight, ordered, job, record_dir and record_every, push_url,
//         push_every and push_timeout (metrics pushed to a Pushgateway), progress,
//         checkpoint_path and its intervals, fingerprint, resume_from, position, configuration,
//         stop (a std::stop_token: a graceful stop); set_partition(p); watch(guard).
// Out:    batch_info, handed to process and commit; batch_failed, thrown by for_each_batch.
// Models: plain aggregates (designated initialisers: {.max_in_flight = 2, .record_dir = d}).
// Memory: the options' strings and callbacks.
// Errors: set_partition: std::invalid_argument for a bad partition, std::logic_error when
//         called twice. See docs/runner.md.
// Example:
//     std::stop_source stop;   // stop.request_stop() from a signal-watching thread, say
//     streambatch::run_options o{.max_in_flight = 2, .checkpoint_path = "job.ckpt"};
//     o.stop = stop.get_token();
//     o.set_partition(streambatch::partition::parse("3/8"));

#ifndef STREAMBATCH_RUNNER_RUN_OPTIONS_HPP_INCLUDED
#define STREAMBATCH_RUNNER_RUN_OPTIONS_HPP_INCLUDED

#include <streambatch/guard/memory_guard.hpp>
#include <streambatch/partition.hpp>
#include <streambatch/runner/checkpoint.hpp>
#include <streambatch/runner/run_records.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

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
    // What info.position views: the exception's own copy, shared by its copies, so it outlives
    // the run that threw it.
    std::shared_ptr<std::string const> position_;

    batch_info owned(batch_info i)
    {
        if (!i.position.empty()) {
            position_ = std::make_shared<std::string const>(i.position);
            i.position = *position_;
        }
        return i;
    }

public:
    batch_failed(batch_info i, char const* stage, std::string const& cause)
        : std::runtime_error("streambatch: batch " + std::to_string(i.index) + " (records " +
                             std::to_string(i.first_record) + ".." +
                             std::to_string(i.first_record + (i.size ? i.size - 1 : 0)) +
                             ") failed in " + stage + ": " + cause),
          info(owned(i))
    {}
    /// The whole message given (for_each_batch appends later failures to a batch's error with
    /// it); nests the exception being handled, as the other constructor does.
    batch_failed(batch_info i, std::string const& message)
        : std::runtime_error(message), info(owned(i))
    {}
    /// The batch; its position is valid as long as the exception (or a copy of it) is.
    batch_info info;
};

enum class progress_mode { automatic, always, never };

struct run_options {
    std::size_t max_in_flight = 1; ///< batches alive at once; 1 = sequential
    bool ordered = true;           ///< commit in batch order (else as batches finish)
    std::string job = "streambatch job";
    /// Run records go here ("" = none), each run in a directory of its own,
    /// <record_dir>/<yyyymmddThhmmssZ>-<pid>/, with record_dir/latest pointing at the newest.
    std::filesystem::path record_dir{};
    progress_mode progress =
        progress_mode::automatic;       ///< automatic: only when stderr is a terminal
    std::uint64_t expected_records = 0; ///< for the progress line's ETA (0 = unknown)
    /// How often run_record.json and metrics.prom are rewritten with the current figures while
    /// the job runs (checked when a batch completes); 0 = after every batch.
    std::chrono::milliseconds record_every{2000};
    /// A Prometheus Pushgateway to push the run's metrics to while it runs ("" = none):
    /// "http://host:port" (IPv4, [IPv6] or a name; a path after it is the gateway's route
    /// prefix). The metrics of metrics.prom go to the group /metrics/job/<job> (with
    /// /partition/<i>/partitions/<n> after set_partition) every push_every, checked when a batch
    /// completes, and once more at the end. A plain HTTP PUT on a thread of its own: a gateway
    /// that is down or slow never stops or slows the job (a warning on stderr once per outage;
    /// report.push_failures counts the failed pushes). The group stays after the job.
    std::string push_url{};
    std::optional<std::chrono::milliseconds> push_every{}; ///< unset: record_every
    /// Bounds each push (connect, send, reply), and what the end of the run waits for the last.
    std::chrono::milliseconds push_timeout{1000};

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
    /// A graceful stop: checked before each batch is pulled. Once stop is requested no batch is
    /// pulled; those already pulled are processed and committed, then for_each_batch returns
    /// normally with run_report::status == run_status::stopped (checkpoint: the low-water mark).
    std::stop_token stop{};
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
            throw std::logic_error("streambatch::run_options::set_partition: already set to " +
                                   part.str());
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

} // namespace streambatch

#endif // STREAMBATCH_RUNNER_RUN_OPTIONS_HPP_INCLUDED
