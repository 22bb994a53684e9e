// streambatch/job/contract.hpp: what a job's source and sink promise each other, so that a job
// resumes where its last committed batch ended, refuses another input, and has one writer.
//
// In:     a source (records, a position that round-trips through text, its input's identity)
//         and a sink (commits a batch together with the state it reached, behind a fence).
// Out:    the concepts job_source, job_sink, confirming_job_sink (send now, confirm with
//         the next batch) and holding_job_sink (several batches in one transaction); job_key (job +
//         partition), job_state (what a sink stores with each batch: position, identity, batches,
//         records), holder (who holds a fence: host, pid, start time, run id), and the errors
//         input_changed, fence_held, fence_lost. run_job (job/run_job.hpp) drives them.
// Models: a source is opened, optionally seek()'d to a stored position, then its rows() are read
//         once; position() and identity() describe the point after the rows pulled so far. A
//         sink's open(key) takes the fence for (job, partition, sink) and returns the state
//         stored with the last committed batch (nullopt: nothing committed); commit(batch,
//         state) writes the batch and the state atomically (one transaction, or data fsync'ed
//         before the state) and only if the stored state is still the one this writer last
//         wrote (compare-and-set); close() releases the fence.
// Memory: the strings of one state.
// Errors: input_changed (the input is not the one the stored state was taken on: names the
//         input, what differs, and both values); fence_held (another live writer holds the
//         fence: names it, .by); fence_lost (the stored state moved under this writer: its
//         commit wrote nothing). See docs/guarantees.md.
// Example:
//     auto state = sink.open({.job = "load customers"});      // throws fence_held
//     if (state) { source.check_identity(*state); source.seek(state->position); }
//     ... sink.commit(std::move(cleaned), {.position = source.position(), ...});

#ifndef STREAMBATCH_JOB_CONTRACT_HPP_INCLUDED
#define STREAMBATCH_JOB_CONTRACT_HPP_INCLUDED

#include <streambatch/detail/process.hpp>
#include <streambatch/partition.hpp>

#include <cerrno>
#include <chrono>
#include <concepts>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <optional>
#include <ranges>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#include <signal.h>
#include <unistd.h>

namespace streambatch {

/// Which fence and which stored state: a job's name and, for one of N workers, its partition.
struct job_key {
    std::string job;
    partition part{};

    /// "load customers" or "load customers 3/8": the text sinks store and lock on.
    std::string str() const { return part == partition{} ? job : job + " " + part.str(); }
    friend bool operator==(job_key const&, job_key const&) = default;
};

/// What a sink stores with each committed batch, and gives back to the next run.
struct job_state {
    std::string position{};    ///< the source's position after the batch (source.position())
    std::string identity{};    ///< the source's identity at that position (source.identity())
    std::uint64_t batches = 0; ///< batches committed by the job so far (across runs)
    std::uint64_t records = 0; ///< records in them
    friend bool operator==(job_state const&, job_state const&) = default;
};

/// Who holds a fence: enough for an operator to find the process, and for a sink on the same
/// host to tell whether it still runs.
struct holder {
    std::string host{};
    std::int64_t pid = 0;
    std::int64_t started_unix_ms = 0; ///< when the holder took the fence
    std::uint64_t proc_start = 0;     ///< /proc/<pid>/stat start time (ticks); 0 if unknown

    /// This process, now.
    static holder self()
    {
        holder h;
        h.host = detail::host_name();
        h.pid = static_cast<std::int64_t>(::getpid());
        h.started_unix_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count();
        h.proc_start = detail::process_start_ticks(static_cast<long>(h.pid));
        return h;
    }

    /// True unless the holder is on this host and its process is gone (no such pid, a zombie,
    /// or a pid reused by a process that started at another time). A holder on another host is
    /// taken to be alive: only its own fence mechanism (a lock its connection holds) can tell.
    bool alive() const
    {
        if (host != detail::host_name())
            return true;
        if (pid <= 0)
            return false;
        return !detail::process_gone(static_cast<long>(pid), "", proc_start);
    }

    /// "host db1, pid 4242, since 2026-12-05T21:50:01Z".
    std::string str() const
    {
        std::time_t const t = static_cast<std::time_t>(started_unix_ms / 1000);
        std::tm tm{};
        ::gmtime_r(&t, &tm);
        char when[32];
        std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
        return "host " + host + ", pid " + std::to_string(pid) + ", since " + when;
    }

    /// One line of text that from_text reads back: "host\tpid\tstarted_unix_ms\tproc_start".
    std::string to_text() const
    {
        return host + "\t" + std::to_string(pid) + "\t" + std::to_string(started_unix_ms) + "\t" +
               std::to_string(proc_start);
    }
    static std::optional<holder> from_text(std::string_view t)
    {
        holder h;
        std::string fields[4];
        for (int i = 0; i < 4; ++i) {
            auto const tab = i < 3 ? t.find('\t') : t.size();
            if (tab == std::string_view::npos)
                return std::nullopt;
            fields[i] = std::string(t.substr(0, tab));
            t.remove_prefix(i < 3 ? tab + 1 : tab);
        }
        h.host = fields[0];
        char* end = nullptr;
        h.pid = std::strtoll(fields[1].c_str(), &end, 10);
        h.started_unix_ms = std::strtoll(fields[2].c_str(), &end, 10);
        h.proc_start = std::strtoull(fields[3].c_str(), &end, 10);
        return h;
    }
    friend bool operator==(holder const&, holder const&) = default;
};

/// The input is not the one the stored state was taken on (swapped, edited, truncated, or
/// appended to without the user saying so). Nothing was read or written.
class input_changed : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// Another live writer holds the job's fence. Nothing was written.
class fence_held : public std::runtime_error {
public:
    fence_held(std::string const& what, holder who) : std::runtime_error(what), by(std::move(who))
    {}
    holder by;
};

/// The stored state is no longer the one this writer last wrote (another writer took the fence
/// over): this commit wrote nothing, and the job must stop.
class fence_lost : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// A positioned source: rows() once, after an optional seek(position) to a stored position;
/// position() and identity() describe the point after the rows pulled so far;
/// check_identity(state) throws input_changed unless the input is the one `state` was taken on.
/// describe() names the input in messages ("customers.csv", "query on orders").
template <class S>
concept job_source = requires(S& s, std::string_view text, job_state const& st) {
    {
        s.rows()
    } -> std::ranges::input_range;
    {
        s.position()
    } -> std::convertible_to<std::string>;
    {
        s.identity()
    } -> std::convertible_to<std::string>;
    s.seek(text);
    s.check_identity(st);
    {
        s.describe()
    } -> std::convertible_to<std::string>;
};

/// A sink that commits each batch with the state it reached, behind a fence: open(key) takes it
/// (or throws fence_held) and returns the stored state; commit(batch, state) writes both or
/// neither (throws fence_lost when the stored state moved); close() releases the fence.
template <class K, class Batch>
concept job_sink = requires(K& k, job_key const& key, Batch&& b, job_state const& st) {
    {
        k.open(key)
    } -> std::same_as<std::optional<job_state>>;
    k.commit(std::forward<Batch>(b), st);
    k.close();
    {
        k.describe()
    } -> std::convertible_to<std::string>;
};

/// A job_sink that confirms later: send(batch, state) writes the batch and the state in one
/// transaction and returns once it is sent; confirm() waits until the last batch sent is
/// committed, and throws why it was not (nothing of that batch is then stored). At most one
/// batch is unconfirmed: send() confirms the one before it first; commit() is send() then
/// confirm(); close() confirms. run_job calls send() and confirm(), so that the server commits
/// batch N while the job reads and cleans batch N+1; the runner counts a batch as committed only
/// once confirm() returned for it. A crash between the two loses nothing: the stored state is
/// the last confirmed batch's or the one sent, and the job resumes from it.
template <class K, class Batch>
concept confirming_job_sink = job_sink<K, Batch> && requires(K& k, Batch&& b, job_state const& st) {
    k.send(std::forward<Batch>(b), st);
    k.confirm();
};

/// A confirming_job_sink that may write several batches in one transaction (postgres::job_sink
/// with job_sink_options::transaction_rows): confirm_or_hold() returns true if the sink has now
/// committed every batch sent so far (with the state of the last; it may commit then, and throw
/// why it could not), false if it holds them in its open transaction for more. confirm()
/// commits what it holds. A failure of send(), confirm_or_hold() or confirm() rolls back every
/// batch held. run_job calls confirm_or_hold() before each send and confirm() at the end, and
/// counts batches once committed. A crash loses nothing committed: the stored state is that of
/// the last batch of the last transaction committed, and the job resumes from it.
template <class K, class Batch>
concept holding_job_sink = confirming_job_sink<K, Batch> && requires(K& k) {
    {
        k.confirm_or_hold()
    } -> std::convertible_to<bool>;
};

} // namespace streambatch

#endif // STREAMBATCH_JOB_CONTRACT_HPP_INCLUDED
