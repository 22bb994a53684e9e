// streambatch/guard/memory_probe.hpp: how full memory is, read from /proc and the memory cgroup.
//
// In:     a root directory ("/" for the live system; a fixture tree in tests) holding
//         proc/self/statm, proc/meminfo, proc/self/mountinfo, proc/self/cgroup and the
//         cgroup file system they point to.
// Out:    proc_memory_probe::sample() -> streambatch::memory_snapshot: this process's RSS
//         (statm resident pages x page size), the system's used fraction
//         (1 - MemAvailable/MemTotal, as psutil reports it; when MemAvailable is missing it is
//         estimated as MemFree + Buffers + Cached and available_estimated is set), and the
//         memory cgroup's: for every level from the process's cgroup up to the root that has a
//         limit (v1 memory.limit_in_bytes; v2 the smaller of memory.max and memory.high;
//         "max" or a value >= MemTotal means unlimited), working set = usage - file cache on
//         the LRU lists, inactive and active (v1 memory.usage_in_bytes - total_inactive_file -
//         total_active_file, v2 memory.current - inactive_file - active_file), divided by that
//         limit. used_fraction is the tightest of all.
//         rss_reader::bytes(): the RSS alone (statm only); peak_rss_bytes(): VmHWM from
//         /proc/self/status. This file is the one place the library reads /proc.
// Models: a memory probe: anything with `memory_snapshot sample()` and `std::string sources()`.
//         The cgroup hierarchy is the one that carries the memory controller: v1, v2, or hybrid
//         (cgroup2 mounted without the memory controller, as on many hosts) - found from
//         mountinfo, never assumed. Page cache does not count as use.
// Memory: open file descriptors (statm, meminfo, 2-4 per cgroup level) and one 16 KiB read
//         buffer, all allocated in the constructor; sample() allocates nothing and re-reads each
//         file with pread (statm ~1 us, meminfo ~5 us, each cgroup file under 1 us here).
// Errors: streambatch::probe_error naming the file and what was expected: a missing statm or
//         meminfo, a number that is not one, meminfo without MemTotal, ... A missing cgroup
//         file system is not an error: the snapshot then has cgroup_limited == false.
//         rss_reader::bytes() and peak_rss_bytes() return 0 for a missing or garbled file.
//         See docs/memory-guard.md.
// Example:
//     streambatch::proc_memory_probe probe;            // or probe("tests/fixtures/v2-max")
//     streambatch::memory_snapshot s = probe.sample();
//     std::printf("%.0f%% used (%s)\n", 100 * s.used_fraction, probe.sources().c_str());

#ifndef STREAMBATCH_GUARD_MEMORY_PROBE_HPP_INCLUDED
#define STREAMBATCH_GUARD_MEMORY_PROBE_HPP_INCLUDED

#include <streambatch/detail/parse.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

namespace streambatch {

/// A probe file was unreadable or did not say what it should; what() names the file.
class probe_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// Which figure the used fraction came from.
enum class memory_source { system, cgroup };

/// One reading of memory use. All byte counts are bytes.
struct memory_snapshot {
    std::uint64_t rss_bytes = 0;                  ///< this process's resident set
    std::uint64_t system_total_bytes = 0;         ///< MemTotal
    std::uint64_t system_available_bytes = 0;     ///< MemAvailable (or its estimate)
    bool available_estimated = false;             ///< MemAvailable was missing
    double system_used_fraction = 0;              ///< 1 - available / total
    bool cgroup_limited = false;                  ///< some cgroup level has a finite limit
    std::uint64_t cgroup_limit_bytes = 0;         ///< the limit of the tightest level
    std::uint64_t cgroup_working_set_bytes = 0;   ///< usage - inactive file cache at that level
    double cgroup_used_fraction = 0;              ///< working set / limit at that level
    double used_fraction = 0;                     ///< the tighter of system and cgroup
    memory_source source = memory_source::system; ///< which one that was
};

namespace detail {

/// A file opened once and re-read from offset 0 with pread; -1 when absent.
class proc_file {
    int fd_ = -1;
    std::string path_;

public:
    proc_file() = default;
    explicit proc_file(std::string path)
        : fd_(::open(path.c_str(), O_RDONLY | O_CLOEXEC)), path_(std::move(path))
    {}
    proc_file(proc_file&& o) noexcept : fd_(std::exchange(o.fd_, -1)), path_(std::move(o.path_)) {}
    proc_file& operator=(proc_file&& o) noexcept
    {
        if (this != &o) {
            close();
            fd_ = std::exchange(o.fd_, -1);
            path_ = std::move(o.path_);
        }
        return *this;
    }
    ~proc_file() { close(); }
    void close() noexcept
    {
        if (fd_ >= 0)
            ::close(fd_);
        fd_ = -1;
    }

    bool is_open() const noexcept { return fd_ >= 0; }
    std::string const& path() const noexcept { return path_; }

    /// The whole file (up to buf's size), re-read now.
    std::string_view read(std::vector<char>& buf) const
    {
        std::size_t got = 0;
        while (got < buf.size()) {
            ssize_t const n =
                ::pread(fd_, buf.data() + got, buf.size() - got, static_cast<off_t>(got));
            if (n < 0)
                throw probe_error("streambatch: " + path_ + ": read failed");
            if (n == 0)
                break;
            got += static_cast<std::size_t>(n);
        }
        return {buf.data(), got};
    }
};

[[noreturn]] inline void bad_file(std::string const& path, std::string_view expected,
                                  std::string_view found)
{
    std::string shown(found.substr(0, 60));
    for (char& c : shown)
        if (c == '\n' || c == '\r')
            c = ' ';
    throw probe_error("streambatch: " + path + ": expected " + std::string(expected) + ", found '" +
                      shown + (found.size() > 60 ? "...'" : "'"));
}

inline std::string_view trim(std::string_view s)
{
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\n'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n'))
        s.remove_suffix(1);
    return s;
}

/// The value of `key` in a "key value" or "key: value kB" file (meminfo, memory.stat).
inline std::optional<std::string_view> field(std::string_view text, std::string_view key)
{
    std::size_t pos = 0;
    while (pos < text.size()) {
        std::size_t eol = text.find('\n', pos);
        if (eol == std::string_view::npos)
            eol = text.size();
        std::string_view line = text.substr(pos, eol - pos);
        if (line.size() > key.size() && line.substr(0, key.size()) == key &&
            (line[key.size()] == ' ' || line[key.size()] == ':' || line[key.size()] == '\t')) {
            line.remove_prefix(key.size());
            if (!line.empty() && line.front() == ':')
                line.remove_prefix(1);
            return trim(line);
        }
        pos = eol + 1;
    }
    return std::nullopt;
}

/// A number from field(): "123" or "123 kB" (scaled to bytes).
inline std::optional<std::uint64_t> field_bytes(std::string_view text, std::string_view key,
                                                std::string const& path)
{
    auto v = field(text, key);
    if (!v)
        return std::nullopt;
    std::uint64_t scale = 1;
    std::string_view num = *v;
    if (num.size() > 3 && num.substr(num.size() - 3) == " kB") {
        num.remove_suffix(3);
        scale = 1024;
    }
    auto n = parse_whole<std::uint64_t>(trim(num));
    if (!n)
        bad_file(path, "a number after '" + std::string(key) + "'", *v);
    if (*n > std::numeric_limits<std::uint64_t>::max() / scale)
        bad_file(path, "a number of bytes that fits in 64 bits after '" + std::string(key) + "'",
                 *v);
    return *n * scale;
}

/// mountinfo escapes blanks in paths as \040 and so on.
inline std::string unescape_mount_path(std::string_view s)
{
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\\' && i + 3 < s.size() && s[i + 1] >= '0' && s[i + 1] <= '3') {
            out +=
                static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
            i += 3;
        } else {
            out += s[i];
        }
    }
    return out;
}

inline std::vector<std::string_view> split(std::string_view s, char sep)
{
    std::vector<std::string_view> out;
    std::size_t pos = 0;
    while (true) {
        std::size_t const next = s.find(sep, pos);
        out.push_back(
            s.substr(pos, next == std::string_view::npos ? std::string_view::npos : next - pos));
        if (next == std::string_view::npos)
            return out;
        pos = next + 1;
    }
}

inline std::string slurp(std::filesystem::path const& p)
{
    std::ifstream in(p, std::ios::binary);
    if (!in)
        return {};
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

/// Resident pages: the second field of statm ("size resident shared ..."); nullopt otherwise.
inline std::optional<std::uint64_t> statm_resident_pages(std::string_view statm)
{
    auto const f = split(trim(statm), ' ');
    if (f.size() < 2)
        return std::nullopt;
    return parse_whole<std::uint64_t>(f[1]);
}

inline std::uint64_t page_size() noexcept
{
    long const ps = ::sysconf(_SC_PAGESIZE);
    return ps > 0 ? static_cast<std::uint64_t>(ps) : 4096;
}

} // namespace detail

/// This process's resident set alone, from /proc/self/statm (one pread, ~1 us): for callers
/// that sample RSS often and need nothing else (the runner's progress line and run records).
class rss_reader {
    detail::proc_file statm_;
    std::vector<char> buf_ = std::vector<char>(256);
    std::uint64_t page_size_ = detail::page_size();

public:
    explicit rss_reader(std::filesystem::path const& root = "/")
        : statm_(root == "/" ? std::string("/proc/self/statm")
                             : (root / "proc/self/statm").string())
    {}
    /// Bytes resident now; 0 when statm cannot be opened or does not hold page counts.
    std::uint64_t bytes()
    {
        if (!statm_.is_open())
            return 0;
        auto const pages = detail::statm_resident_pages(statm_.read(buf_));
        return pages ? *pages * page_size_ : 0;
    }
};

/// This process's peak resident set, VmHWM in /proc/self/status (under `root`), in bytes; 0
/// when the file or the line is missing or unreadable.
inline std::uint64_t peak_rss_bytes(std::filesystem::path const& root = "/")
{
    std::string const text = detail::slurp(root / "proc/self/status");
    auto const v = detail::field(text, "VmHWM");
    if (!v || v->size() <= 3 || v->substr(v->size() - 3) != " kB")
        return 0;
    auto const kib = detail::parse_whole<std::uint64_t>(detail::trim(v->substr(0, v->size() - 3)));
    return kib && *kib <= std::numeric_limits<std::uint64_t>::max() / 1024 ? *kib * 1024 : 0;
}

/// Reads memory use from /proc and the process's memory cgroup (v1, v2 or hybrid).
class proc_memory_probe {
public:
    /// Where the cgroup figures come from.
    struct cgroup_info {
        int version = 0;                 ///< 0: none found, 1 or 2
        std::filesystem::path directory; ///< the process's own memory cgroup
        std::size_t levels = 0;          ///< levels read, from it up to the hierarchy's root
    };

    /// Opens the files under `root`; throws probe_error when statm or meminfo is unusable.
    explicit proc_memory_probe(std::filesystem::path root = "/")
        : root_(std::move(root)), buf_(16 * 1024)
    {
        statm_ = detail::proc_file(under("/proc/self/statm"));
        meminfo_ = detail::proc_file(under("/proc/meminfo"));
        if (!statm_.is_open())
            throw probe_error("streambatch: " + statm_.path() +
                              ": cannot open (expected this process's page counts)");
        if (!meminfo_.is_open())
            throw probe_error("streambatch: " + meminfo_.path() +
                              ": cannot open (expected MemTotal and MemAvailable)");
        page_size_ = detail::page_size();
        find_cgroup();
        (void)sample(); // fail now, not in the middle of a job, if a file is garbage
    }

    proc_memory_probe(proc_memory_probe&&) noexcept = default;
    proc_memory_probe& operator=(proc_memory_probe&&) noexcept = default;

    /// Reads every file once, now.
    memory_snapshot sample()
    {
        memory_snapshot s;
        read_statm(s);
        read_meminfo(s);
        for (auto& lv : levels_)
            read_level(lv, s);
        s.used_fraction = s.system_used_fraction;
        if (s.cgroup_limited && s.cgroup_used_fraction > s.used_fraction) {
            s.used_fraction = s.cgroup_used_fraction;
            s.source = memory_source::cgroup;
        }
        return s;
    }

    cgroup_info const& cgroup() const noexcept { return cgroup_; }

    /// The files the figures come from, for messages: "rss /proc/self/statm, system
    /// /proc/meminfo, cgroup v1 /sys/fs/cgroup/memory/job (3 levels)".
    std::string sources() const
    {
        std::string s = "rss " + statm_.path() + ", system " + meminfo_.path();
        if (cgroup_.version == 0)
            s += ", no memory cgroup found";
        else
            s += ", cgroup v" + std::to_string(cgroup_.version) + " " + cgroup_.directory.string() +
                 " (" + std::to_string(cgroup_.levels) +
                 (cgroup_.levels == 1 ? " level)" : " levels)");
        return s;
    }

private:
    struct level {
        detail::proc_file limit, high, usage, stat;
    };

    std::filesystem::path root_;
    std::vector<char> buf_;
    detail::proc_file statm_, meminfo_;
    std::vector<level> levels_; // the process's cgroup first, the hierarchy's root last
    cgroup_info cgroup_;
    std::uint64_t page_size_ = 4096;

    std::string under(std::string const& abs) const
    {
        if (root_ == "/")
            return abs;
        return (root_ / std::filesystem::path(abs).relative_path()).string();
    }

    void read_statm(memory_snapshot& s)
    {
        std::string_view t = statm_.read(buf_);
        auto const pages = detail::statm_resident_pages(t);
        if (!pages)
            detail::bad_file(statm_.path(), "page counts 'size resident shared ...'", t);
        s.rss_bytes = *pages * page_size_;
    }

    void read_meminfo(memory_snapshot& s)
    {
        std::string_view t = meminfo_.read(buf_);
        std::string const& p = meminfo_.path();
        auto total = detail::field_bytes(t, "MemTotal", p);
        if (!total || *total == 0)
            detail::bad_file(p, "a line 'MemTotal: <n> kB' with n > 0", t);
        s.system_total_bytes = *total;
        if (auto avail = detail::field_bytes(t, "MemAvailable", p)) {
            s.system_available_bytes = *avail;
        } else {
            // Kernels before 3.14: the estimate `free` used then.
            auto free = detail::field_bytes(t, "MemFree", p);
            if (!free)
                detail::bad_file(p, "a line 'MemAvailable: <n> kB' or 'MemFree: <n> kB'", t);
            s.system_available_bytes = *free + detail::field_bytes(t, "Buffers", p).value_or(0) +
                                       detail::field_bytes(t, "Cached", p).value_or(0);
            s.available_estimated = true;
        }
        s.system_available_bytes = std::min(s.system_available_bytes, s.system_total_bytes);
        s.system_used_fraction =
            1.0 - double(s.system_available_bytes) / double(s.system_total_bytes);
    }

    // A limit file: a number, or "max" (v2). Unlimited (nullopt) also when >= MemTotal.
    std::optional<std::uint64_t> read_limit(detail::proc_file const& f, std::uint64_t total)
    {
        if (!f.is_open())
            return std::nullopt;
        std::string_view t = detail::trim(f.read(buf_));
        if (t == "max")
            return std::nullopt;
        auto v = detail::parse_whole<std::uint64_t>(t);
        if (!v)
            detail::bad_file(f.path(), "a byte count or 'max'", t);
        if (*v >= total)
            return std::nullopt;
        return v;
    }

    void read_level(level& lv, memory_snapshot& s)
    {
        auto limit = read_limit(lv.limit, s.system_total_bytes);
        if (auto high = read_limit(lv.high, s.system_total_bytes))
            limit = limit ? std::min(*limit, *high) : *high;
        if (!limit || !lv.usage.is_open())
            return;
        std::string_view u = detail::trim(lv.usage.read(buf_));
        auto usage = detail::parse_whole<std::uint64_t>(u);
        if (!usage)
            detail::bad_file(lv.usage.path(), "a byte count", u);
        // Page cache on the LRU lists, inactive *and* active: the kernel reclaims both before it
        // OOM-kills, and a file read twice sits on the active list (its pages were touched
        // twice) although nothing about it is pressure.
        std::uint64_t file_cache = 0;
        if (lv.stat.is_open()) {
            std::string_view t = lv.stat.read(buf_);
            auto stat = [&](std::string_view total_key, std::string_view local_key) {
                auto v = cgroup_.version == 1 ? detail::field_bytes(t, total_key, lv.stat.path())
                                              : std::nullopt;
                if (!v)
                    v = detail::field_bytes(t, local_key, lv.stat.path());
                return v.value_or(0);
            };
            file_cache = stat("total_inactive_file", "inactive_file") +
                         stat("total_active_file", "active_file");
        }
        std::uint64_t const ws = *usage > file_cache ? *usage - file_cache : 0;
        double const frac = *limit == 0 ? 1.0 : double(ws) / double(*limit);
        if (!s.cgroup_limited || frac > s.cgroup_used_fraction) {
            s.cgroup_limited = true;
            s.cgroup_limit_bytes = *limit;
            s.cgroup_working_set_bytes = ws;
            s.cgroup_used_fraction = frac;
        }
    }

    struct mount {
        std::string root, point;
    };

    // Finds the hierarchy with the memory controller and opens the files of every level.
    void find_cgroup()
    {
        std::string const mountinfo = detail::slurp(under("/proc/self/mountinfo"));
        std::string const cgroups = detail::slurp(under("/proc/self/cgroup"));
        std::optional<mount> v1, v2;
        for (auto line : detail::split(mountinfo, '\n')) {
            auto dash = line.find(" - ");
            if (dash == std::string_view::npos)
                continue;
            auto pre = detail::split(line.substr(0, dash), ' ');
            auto post = detail::split(line.substr(dash + 3), ' ');
            if (pre.size() < 5 || post.size() < 3)
                continue;
            mount m{detail::unescape_mount_path(pre[3]), detail::unescape_mount_path(pre[4])};
            if (post[0] == "cgroup2" && !v2) {
                v2 = m;
            } else if (post[0] == "cgroup" && !v1) {
                for (auto opt : detail::split(post[2], ','))
                    if (opt == "memory")
                        v1 = m;
            }
        }
        std::optional<std::string> v1_path, v2_path;
        for (auto line : detail::split(cgroups, '\n')) {
            auto f = detail::split(line, ':');
            if (f.size() < 3)
                continue;
            std::string path(line.substr(f[0].size() + f[1].size() + 2)); // paths may hold ':'
            if (f[0] == "0" && f[1].empty())
                v2_path = path;
            for (auto c : detail::split(f[1], ','))
                if (c == "memory")
                    v1_path = path;
        }
        if (v1 && v1_path)
            open_levels(1, *v1, *v1_path);
        if (cgroup_.version == 0 && v2 && v2_path)
            open_levels(2, *v2, *v2_path);
    }

    void open_levels(int version, mount const& m, std::string const& path)
    {
        namespace fs = std::filesystem;
        // The cgroup path is relative to the hierarchy's root; the mount shows m.root of it.
        std::string rel = path;
        if (m.root != "/" && rel.compare(0, m.root.size(), m.root) == 0 &&
            (rel.size() == m.root.size() || rel[m.root.size()] == '/'))
            rel = rel.substr(m.root.size());
        fs::path top = fs::path(under(m.point)).lexically_normal();
        if (!top.has_filename() && top.has_parent_path() && top != top.root_path())
            top = top.parent_path();
        fs::path dir = top;
        if (auto const sub = fs::path(rel).relative_path(); !sub.empty())
            dir = (top / sub).lexically_normal();
        if (!dir.has_filename()) // "a/b/" -> "a/b", so the walk below stops at the top
            dir = dir.parent_path();
        std::string const usage_name = version == 1 ? "memory.usage_in_bytes" : "memory.current";
        std::error_code ec;
        if (!fs::exists(dir / usage_name, ec))
            dir = top; // a cgroup namespace or a stale path: the mount is our view of it
        if (!fs::exists(dir / usage_name, ec) && version == 2)
            return; // cgroup2 mounted without the memory controller (hybrid hosts)
        cgroup_.version = version;
        cgroup_.directory = dir;
        for (fs::path d = dir;; d = d.parent_path()) {
            level lv;
            if (version == 1) {
                lv.limit = detail::proc_file((d / "memory.limit_in_bytes").string());
            } else {
                lv.limit = detail::proc_file((d / "memory.max").string());
                lv.high = detail::proc_file((d / "memory.high").string());
            }
            lv.usage = detail::proc_file((d / usage_name).string());
            lv.stat = detail::proc_file((d / "memory.stat").string());
            levels_.push_back(std::move(lv));
            if (d == top || d == d.parent_path() || d.string().size() <= top.string().size())
                break;
        }
        cgroup_.levels = levels_.size();
    }
};

} // namespace streambatch

#endif // STREAMBATCH_GUARD_MEMORY_PROBE_HPP_INCLUDED
