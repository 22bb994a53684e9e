// streambatch/detail/process.hpp: is a process on this host still the one a record names?
// (run records' "killed" marking and the job sinks' fence holders both ask.)
//
// In:     a pid, and what was noted when it started: its /proc start time (clock ticks since
//         boot) and the boot id.
// Out:    host_name(); first_line_of(path); process_stat(pid) -> {state letter, start ticks};
//         process_start_ticks(pid); boot_id(); process_gone(pid, boot_id, start_ticks).
// Models: plain functions over /proc and kill(pid, 0); Linux.
// Memory: one line of /proc text per call.
// Errors: none thrown: what cannot be read counts as unknown (0, "" or 'not gone').
// Example:
//     auto const ticks = streambatch::detail::process_start_ticks(pid);   // when it starts
//     bool const gone = streambatch::detail::process_gone(pid, "", ticks); // later

#ifndef STREAMBATCH_DETAIL_PROCESS_HPP_INCLUDED
#define STREAMBATCH_DETAIL_PROCESS_HPP_INCLUDED

#include <streambatch/detail/parse.hpp>

#include <cerrno>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>

#include <signal.h>
#include <unistd.h>

namespace streambatch::detail {

inline std::string host_name()
{
    char buf[256] = {};
    if (::gethostname(buf, sizeof buf - 1) != 0)
        return "unknown";
    return buf;
}

inline std::string first_line_of(std::filesystem::path const& p)
{
    std::ifstream in(p);
    std::string line;
    std::getline(in, line);
    return line;
}

/// This boot's id (/proc/sys/kernel/random/boot_id); "" when unreadable.
inline std::string boot_id()
{
    return first_line_of("/proc/sys/kernel/random/boot_id");
}

/// A process's state letter (/proc/<pid>/stat, field 3: 'R', 'S', 'Z', ...) and start time in
/// clock ticks since boot (field 22); {0, 0} when it cannot be read. With the pid and the boot
/// id, the start time names one process for good.
inline std::pair<char, std::uint64_t> process_stat(long pid)
{
    std::string const stat = first_line_of("/proc/" + std::to_string(pid) + "/stat");
    auto const close = stat.rfind(')'); // the command name may hold spaces and parentheses
    if (close == std::string::npos)
        return {0, 0};
    std::istringstream in(stat.substr(close + 1));
    std::string field;
    char state = 0;
    for (int i = 3; i <= 22 && in >> field; ++i) { // fields 3.. follow the name
        if (i == 3)
            state = field.empty() ? char(0) : field[0];
        if (i == 22)
            return {state, parse_whole<std::uint64_t>(field).value_or(0)};
    }
    return {state, 0};
}

inline std::uint64_t process_start_ticks(long pid)
{
    return process_stat(pid).second;
}

/// Whether the process a record names has gone: no such pid, a zombie (killed, not yet reaped),
/// or the pid now belongs to another process (another boot, or another start time). An empty
/// boot id or zero start ticks is not compared.
inline bool process_gone(long pid, std::string const& boot, std::uint64_t start_ticks)
{
    if (pid <= 0)
        return false;
    if (::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH)
        return true;
    std::string const now_boot = boot_id();
    if (!boot.empty() && !now_boot.empty() && now_boot != boot)
        return true;
    auto const [state, now] = process_stat(pid);
    if (state == 'Z' || state == 'X')
        return true;
    return start_ticks != 0 && now != 0 && now != start_ticks;
}

} // namespace streambatch::detail

#endif // STREAMBATCH_DETAIL_PROCESS_HPP_INCLUDED
