// bench/peak_rss.hpp: this process's peak resident set, and a way to restart it.
//
// In:     nothing.
// Out:    current_rss_bytes(): VmRSS. peak_rss_bytes(): VmHWM from /proc/self/status (the kernel's
// high-water mark of this
//         address space; unlike getrusage's ru_maxrss it does not survive exec, so a program
//         started by a big parent reports only itself). reset_peak_rss(): writes "5" to
//         /proc/self/clear_refs (Linux >= 4.0), so VmHWM restarts from the current RSS; lets
//         one benchmark binary report each case's own peak. Returns false where not allowed.
// Models: plain functions.
// Memory: none.
// Example:
//     bench::reset_peak_rss();  run();  std::printf("%llu\n", bench::peak_rss_bytes());

#ifndef STREAMBATCH_BENCH_PEAK_RSS_HPP_INCLUDED
#define STREAMBATCH_BENCH_PEAK_RSS_HPP_INCLUDED

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace bench {

/// A "Name:   <n> kB" line of /proc/self/status, in bytes; 0 if it cannot be read.
inline std::uint64_t status_bytes(char const* field)
{
    std::FILE* f = std::fopen("/proc/self/status", "r");
    if (!f)
        return 0;
    char line[256];
    std::size_t const len = std::strlen(field);
    std::uint64_t kib = 0;
    while (std::fgets(line, sizeof line, f))
        if (std::strncmp(line, field, len) == 0 && line[len] == ':') {
            kib = std::strtoull(line + len + 1, nullptr, 10);
            break;
        }
    std::fclose(f);
    return kib * 1024;
}

/// VmHWM: the peak resident set of this process (since exec, or since reset_peak_rss()).
inline std::uint64_t peak_rss_bytes()
{
    return status_bytes("VmHWM");
}

/// VmRSS: the resident set now.
inline std::uint64_t current_rss_bytes()
{
    return status_bytes("VmRSS");
}

/// Restarts VmHWM from the current RSS.
inline bool reset_peak_rss()
{
    std::FILE* f = std::fopen("/proc/self/clear_refs", "w");
    if (!f)
        return false;
    bool const ok = std::fputs("5", f) >= 0;
    return std::fclose(f) == 0 && ok;
}

} // namespace bench

#endif // STREAMBATCH_BENCH_PEAK_RSS_HPP_INCLUDED
