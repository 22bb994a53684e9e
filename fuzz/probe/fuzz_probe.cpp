// fuzz/probe/fuzz_probe.cpp: libFuzzer target for proc_memory_probe's /proc and cgroup parsers.
//
// In:     one input = sections separated by the byte 0x1E (ASCII record separator):
//           0  proc/self/statm
//           1  proc/meminfo
//           2  proc/self/mountinfo
//           3  proc/self/cgroup
//           4… a cgroup file: its path relative to the root on the first line, then its text,
//              e.g. "sys/fs/cgroup/memory/job/memory.limit_in_bytes\n268435456\n"
//         A missing section means a missing file. Cgroup file paths lose their "." and ".."
//         components (and NULs), so every file lands inside the fixture root; blanks, colons
//         and other bytes stay, as mountinfo and /proc/self/cgroup can name them.
// Out:    the sections are written as a fixture tree in a temporary directory of this process
//         (one per process, so -fork/-jobs runs do not collide), then
//         proc_memory_probe(root) is constructed and sampled twice, and sources() is called.
//         streambatch::probe_error is the probe's contract for bad files and is caught; any
//         other exception, a crash, a hang, or a sanitizer report is a bug. So is a snapshot
//         that breaks the header's promises (fractions not finite, system fraction outside
//         [0, 1], used_fraction not the tighter of the two).
// Build:  fuzz/probe/run.sh [seconds] (clang++-16 -fsanitize=fuzzer,address,undefined).
// Corpus: fuzz/probe/corpus/ (realistic trees: v1, v2, hybrid, namespaces, old kernels,
//         garbage); fuzz/probe/make_corpus.sh regenerates it.

#include <streambatch/guard/memory_probe.hpp>

#include <cerrno>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

namespace fs = std::filesystem;

namespace {

constexpr char const* root_prefix = "streambatch-fuzz-probe-";

fs::path temp_base()
{
    std::error_code ec;
    if (fs::is_directory("/dev/shm", ec))
        return "/dev/shm"; // memory-backed: thousands of trees a second
    return fs::temp_directory_path();
}

/// This process's fixture root: <base>/streambatch-fuzz-probe-<pid>. libFuzzer leaves by
/// _Exit (no atexit), so roots of processes that are gone are swept here instead.
fs::path const& root()
{
    static fs::path const r = [] {
        fs::path const base = temp_base();
        std::error_code ec;
        for (auto const& e : fs::directory_iterator(base, ec)) {
            std::string const name = e.path().filename().string();
            if (name.rfind(root_prefix, 0) != 0)
                continue;
            long const pid = std::strtol(name.c_str() + std::strlen(root_prefix), nullptr, 10);
            if (pid > 0 && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH)
                fs::remove_all(e.path(), ec);
        }
        fs::path p = base / (root_prefix + std::to_string(::getpid()));
        fs::remove_all(p, ec);
        if (!fs::create_directory(p, ec)) {
            std::fprintf(stderr, "fuzz_probe: cannot make %s: %s\n", p.c_str(),
                         ec.message().c_str());
            std::abort();
        }
        return p;
    }();
    return r;
}

/// What the last input created under the root (files and directories, in creation order),
/// so the next one removes exactly that: cheaper than walking the tree.
std::vector<fs::path>& made()
{
    static std::vector<fs::path> m;
    return m;
}

void clear()
{
    auto& m = made();
    for (auto it = m.rbegin(); it != m.rend(); ++it)
        if (::unlink(it->c_str()) != 0)
            ::rmdir(it->c_str());
    m.clear();
}

/// "a/b c/../d" -> "a/b c/d": no "." or ".." components, no NUL; empty when nothing is left.
fs::path clean_relative(std::string_view s)
{
    fs::path out;
    int parts = 0;
    std::size_t pos = 0;
    while (pos <= s.size() && parts < 12) {
        std::size_t const slash = s.find('/', pos);
        std::string_view comp =
            s.substr(pos, slash == std::string_view::npos ? std::string_view::npos : slash - pos);
        pos = slash == std::string_view::npos ? s.size() + 1 : slash + 1;
        std::string c(comp.substr(0, 64));
        for (char& ch : c)
            if (ch == '\0' || ch == '\n')
                ch = '_';
        if (c.empty() || c == "." || c == "..")
            continue;
        out /= c;
        ++parts;
    }
    return out;
}

/// Writes root/rel, making its directories; skips it when a file sits where a directory
/// should, or a directory has its name (the input's problem, not the probe's).
void write(fs::path const& rel, std::string_view text)
{
    fs::path p = root();
    for (auto const& part : rel.parent_path()) {
        p /= part;
        if (::mkdir(p.c_str(), 0755) == 0)
            made().push_back(p);
        else if (errno != EEXIST)
            return;
    }
    p /= rel.filename();
    int const fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
        return; // e.g. the same path twice in one input, or a directory already has this name
    made().push_back(p);
    std::size_t done = 0;
    while (done < text.size()) {
        ssize_t const n = ::write(fd, text.data() + done, text.size() - done);
        if (n <= 0)
            break;
        done += static_cast<std::size_t>(n);
    }
    ::close(fd);
}

[[noreturn]] void broken(char const* what, streambatch::memory_snapshot const& s)
{
    std::fprintf(
        stderr,
        "fuzz_probe: snapshot breaks the contract: %s\n  used %g (source %d), system %g, cgroup %g "
        "(limited %d, limit %llu, ws %llu), total %llu, available %llu\n",
        what, s.used_fraction, int(s.source), s.system_used_fraction, s.cgroup_used_fraction,
        int(s.cgroup_limited), static_cast<unsigned long long>(s.cgroup_limit_bytes),
        static_cast<unsigned long long>(s.cgroup_working_set_bytes),
        static_cast<unsigned long long>(s.system_total_bytes),
        static_cast<unsigned long long>(s.system_available_bytes));
    std::abort();
}

void check(streambatch::memory_snapshot const& s)
{
    using streambatch::memory_source;
    if (!std::isfinite(s.used_fraction) || !std::isfinite(s.system_used_fraction) ||
        !std::isfinite(s.cgroup_used_fraction))
        broken("a fraction is not finite", s);
    if (s.system_used_fraction < 0 || s.system_used_fraction > 1)
        broken("system_used_fraction outside [0, 1]", s);
    if (s.system_total_bytes == 0 || s.system_available_bytes > s.system_total_bytes)
        broken("MemAvailable above MemTotal, or MemTotal 0", s);
    double const tighter = s.cgroup_limited
                               ? std::max(s.system_used_fraction, s.cgroup_used_fraction)
                               : s.system_used_fraction;
    if (s.used_fraction != tighter)
        broken("used_fraction is not the tighter of system and cgroup", s);
    if ((s.source == memory_source::cgroup) !=
        (s.cgroup_limited && s.cgroup_used_fraction > s.system_used_fraction))
        broken("source does not name the figure used_fraction came from", s);
    if (!s.cgroup_limited && (s.cgroup_limit_bytes != 0 || s.cgroup_working_set_bytes != 0))
        broken("cgroup figures without a cgroup limit", s);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size)
{
    fs::path const& r = root();
    clear();
    std::string_view const in(reinterpret_cast<char const*>(data), size);
    static char const* const fixed[] = {"proc/self/statm", "proc/meminfo", "proc/self/mountinfo",
                                        "proc/self/cgroup"};
    std::size_t pos = 0, index = 0;
    while (pos <= in.size()) {
        std::size_t const sep = in.find('\x1e', pos);
        std::string_view const section =
            in.substr(pos, sep == std::string_view::npos ? std::string_view::npos : sep - pos);
        pos = sep == std::string_view::npos ? in.size() + 1 : sep + 1;
        if (index < 4) {
            write(fixed[index], section);
        } else {
            std::size_t const nl = section.find('\n');
            fs::path const rel = clean_relative(section.substr(0, nl));
            if (!rel.empty())
                write(rel,
                      nl == std::string_view::npos ? std::string_view() : section.substr(nl + 1));
        }
        ++index;
    }

    try {
        streambatch::proc_memory_probe probe(r);
        check(probe.sample());
        check(probe.sample());
        std::string const s = probe.sources();
        if (s.empty())
            std::abort();
    } catch (streambatch::probe_error const&) {
        // the contract for files that are missing or garbage
    }
    return 0;
}
