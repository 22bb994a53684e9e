// tests/slurm/guard_limit.cpp: what the memory guard reads, printed, for a job step under Slurm.
//
//     guard_limit
//
// Makes a streambatch::memory_guard (the one run_job uses, over proc_memory_probe), asks it for
// one batch size so that it samples, and prints one line per figure:
//
//     cgroup_limited 1
//     cgroup_limit_bytes 2147483648
//     used_fraction 0.0031
//     source cgroup|system
//     sources rss /proc/self/statm, ..., cgroup v1 /sys/fs/cgroup/memory/... (N levels)
//
// tests/slurm/slurm_array.sh guard runs it with `srun` in a job submitted with --mem and checks
// that the limit is the one Slurm's task/cgroup plugin set, read from the job's own cgroup.
// Exit 0, or 1 when the guard took no sample.

#include <streambatch/guard/memory_guard.hpp>

#include <cstdio>

int main()
{
    streambatch::memory_guard guard;
    (void)guard.next_batch_size(1000);
    streambatch::memory_snapshot const& s = guard.last_snapshot();
    std::printf("cgroup_limited %d\n", s.cgroup_limited ? 1 : 0);
    std::printf("cgroup_limit_bytes %llu\n", static_cast<unsigned long long>(s.cgroup_limit_bytes));
    std::printf("used_fraction %.4f\n", s.used_fraction);
    std::printf("source %s\n",
                s.source == streambatch::memory_source::cgroup ? "cgroup" : "system");
    std::printf("sources %s\n", guard.probe().sources().c_str());
    return guard.samples() > 0 ? 0 : 1;
}
