// streambatch/guard.hpp: the memory guard and the probe it reads, one include.
//
// In:     /proc (statm, meminfo, status) and the process's memory cgroup (v1, v2 or hybrid).
// Out:    proc_memory_probe (snapshots), basic_memory_guard / memory_guard (the next batch
//         size, events), release_free_memory(), malloc_policy (glibc kept from trimming the
//         heap between batches).
// Models: a guard is a policy: anything with next_batch_size(current) (views/memory_guarded.hpp).
// Memory: a few open file descriptors; no allocation per sample.
// Errors: memory_exhausted when the configured action is to throw (see docs/memory-guard.md).
// Example:
//     #include <streambatch/guard.hpp>
//     streambatch::memory_guard guard;       // reads the live /proc and cgroup
//     auto snap = guard.probe().sample();

#ifndef STREAMBATCH_GUARD_HPP_INCLUDED
#define STREAMBATCH_GUARD_HPP_INCLUDED

#include <streambatch/guard/malloc_policy.hpp>
#include <streambatch/guard/memory_guard.hpp>
#include <streambatch/guard/memory_probe.hpp>

#endif // STREAMBATCH_GUARD_HPP_INCLUDED
