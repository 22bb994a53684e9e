// tests/cgroup/cgroup_harness.hpp: run a process under a real kernel memory limit.
//
// In:     root, and a memory cgroup hierarchy this process can write to: cgroup v1 (the
//         `memory` controller mounted on its own, as on our CI machines) or v2 (cgroup2 with
//         `memory` in cgroup.controllers). Which one is found from /proc/self/mountinfo and
//         /proc/self/cgroup, the way proc_memory_probe finds it; never assumed.
// Out:    memory_cgroup: a child cgroup of this process's own memory cgroup, created with
//         mkdir and removed (rmdir, retried) when the object dies - on failure too, since a
//         failed REQUIRE unwinds. Processes still in it are SIGKILLed first.
//         cgroup_process: a command started with fork + exec whose child writes its own pid
//         into cgroup.procs *before* exec, so every byte the command allocates is charged to
//         the cgroup. stdout and stderr go to files; wait() gives the exit status or signal.
//         run_in(): both, and the figures: peak usage, OOM kills, failcnt.
// Models: v1: memory.limit_in_bytes (+ memory.memsw.limit_in_bytes when present, so swap
//         cannot hide an OOM kill), memory.usage_in_bytes, memory.max_usage_in_bytes (peak),
//         memory.oom_control's oom_kill (kernel 4.13+; else memory.failcnt).
//         v2: memory.max (+ memory.swap.max = 0), memory.current, memory.peak (kernel 5.19+),
//         memory.events' oom_kill. The v2 code is written to the kernel documentation but has
//         not run on our machines (they carry the memory controller on v1).
// Errors: std::runtime_error naming the file and errno.
// Example:
//     auto where = sbt::find_memory_cgroup();             // or .why_not says why not
//     sbt::memory_cgroup cg(where, "case1");
//     cg.set_limit(256 << 20);
//     auto r = sbt::run_in(cg, {"./oom_workload", "--mode", "naive"}, std::chrono::seconds(60));
//     CHECK(r.oom_killed);

#ifndef STREAMBATCH_TESTS_CGROUP_HARNESS_HPP_INCLUDED
#define STREAMBATCH_TESTS_CGROUP_HARNESS_HPP_INCLUDED

// Relative to this file: streambatch_cgroup_tests does not have tests/ on its include path.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <sys/types.h>

#include "support/temp_dir.hpp"

namespace streambatch::test {

/// Where this process can make memory cgroups, or why it cannot.
struct cgroup_support {
    int version = 0;              ///< 1 or 2; 0: cannot (see why_not)
    std::filesystem::path own;    ///< this process's memory cgroup
    std::filesystem::path parent; ///< where children are made (own, or on v2 maybe own's parent)
    std::string why_not;          ///< a sentence, for the skip message
    std::string describe() const; ///< "cgroup v1, children of /sys/fs/cgroup/memory/..."
};

/// Finds the memory hierarchy and checks that a child cgroup can be made (and removes it).
cgroup_support find_memory_cgroup();

/// Removes cgroups left by earlier runs whose process is gone (a crash skips destructors).
void remove_stale_cgroups(cgroup_support const& where);

/// A child memory cgroup that exists as long as this object does.
class memory_cgroup {
public:
    /// Makes <where.parent>/streambatch-test-<pid>-<n>-<name>.
    memory_cgroup(cgroup_support const& where, std::string const& name);
    /// Makes <parent.dir()>/<name> (a limit on the parent applies to it).
    memory_cgroup(memory_cgroup const& parent, std::string const& name);
    ~memory_cgroup();
    memory_cgroup(memory_cgroup const&) = delete;
    memory_cgroup& operator=(memory_cgroup const&) = delete;

    std::filesystem::path const& dir() const noexcept { return dir_; }
    int version() const noexcept { return version_; }

    /// Sets the memory limit (and the memory+swap limit, so swap cannot hide an OOM).
    void set_limit(std::uint64_t bytes);
    /// The limit as the kernel reports it (v1 rounds to pages; "unlimited" is a huge number).
    std::uint64_t limit() const;
    std::uint64_t usage() const;
    /// Peak usage since creation; nullopt on a v2 kernel without memory.peak.
    std::optional<std::uint64_t> peak() const;
    /// OOM kills in this cgroup; nullopt when the kernel does not count them.
    std::optional<std::uint64_t> oom_kills() const;
    /// Times usage hit the limit.
    std::uint64_t failcnt() const;
    /// Pids in this cgroup now.
    std::vector<pid_t> pids() const;
    /// A line of memory.stat (total_ on v1 when present), for messages.
    std::optional<std::uint64_t> stat(std::string const& key) const;

private:
    std::filesystem::path dir_;
    int version_ = 0;
    void create();
};

/// What a process did.
struct process_result {
    int exit_code = -1;     ///< when it exited
    int signal = 0;         ///< when a signal killed it
    bool timed_out = false; ///< wait() gave up and killed it
    double seconds = 0;
    std::string out, err;
    std::string status() const; ///< "exit 0", "SIGKILL", "timeout"
};

/// A command running in a cgroup. Killed (SIGKILL) and reaped if still running when destroyed.
class cgroup_process {
public:
    cgroup_process(memory_cgroup const& cg, std::vector<std::string> const& argv);
    ~cgroup_process();
    cgroup_process(cgroup_process const&) = delete;
    cgroup_process& operator=(cgroup_process const&) = delete;

    pid_t pid() const noexcept { return pid_; }
    /// Waits until it ends (or `timeout` passes: then SIGKILL), and reads its output.
    process_result wait(std::chrono::milliseconds timeout);

private:
    pid_t pid_ = -1;
    ::test::temp_dir dir_{"streambatch-cgroup-run-"}; // its stdout and stderr files
    std::chrono::steady_clock::time_point started_;
};

/// A finished run and what the cgroup saw.
struct cgroup_run {
    process_result process;
    bool oom_killed = false; ///< SIGKILLed, and the cgroup counted an OOM kill
    std::optional<std::uint64_t> oom_kills;
    std::uint64_t failcnt = 0;
    std::optional<std::uint64_t> peak; ///< bytes
    std::uint64_t limit = 0;           ///< bytes, after the run
};

/// Reads the cgroup's figures after a process ended.
cgroup_run figures_after(memory_cgroup const& cg, process_result p);

/// Starts `argv` in `cg`, waits, and reads the figures.
cgroup_run run_in(memory_cgroup const& cg, std::vector<std::string> const& argv,
                  std::chrono::milliseconds timeout);

/// CLOCK_MONOTONIC in nanoseconds (the workload prints the same clock).
std::int64_t monotonic_ns();

} // namespace streambatch::test

#endif // STREAMBATCH_TESTS_CGROUP_HARNESS_HPP_INCLUDED
