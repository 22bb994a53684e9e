// tests/cgroup/cgroup_harness.cpp: see cgroup_harness.hpp.

#include "cgroup_harness.hpp"

// Relative to this file: streambatch_cgroup_tests does not link streambatch::streambatch (it
// only runs the workload), so the library's include directory is not on its path.
#include <streambatch/detail/parse.hpp>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

namespace fs = std::filesystem;

namespace streambatch::test {

namespace {

constexpr std::string_view name_prefix = "streambatch-test-";

std::string errno_text(int e)
{
    return std::strerror(e);
}

std::string slurp(fs::path const& p)
{
    std::ifstream in(p, std::ios::binary);
    if (!in)
        return {};
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::string_view trim(std::string_view s)
{
    while (!s.empty() && (s.front() == ' ' || s.front() == '\n' || s.front() == '\t'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\n' || s.back() == '\t'))
        s.remove_suffix(1);
    return s;
}

std::vector<std::string_view> split(std::string_view s, char sep)
{
    std::vector<std::string_view> out;
    std::size_t pos = 0;
    while (true) {
        auto const next = s.find(sep, pos);
        out.push_back(
            s.substr(pos, next == std::string_view::npos ? std::string_view::npos : next - pos));
        if (next == std::string_view::npos)
            return out;
        pos = next + 1;
    }
}

/// A control file's number: blanks around it are dropped, and v2's "max" (no limit) is
/// UINT64_MAX; otherwise detail::parse_whole, which also refuses a number past UINT64_MAX.
std::optional<std::uint64_t> to_u64(std::string_view s)
{
    s = trim(s);
    if (s == "max")
        return UINT64_MAX;
    return streambatch::detail::parse_whole<std::uint64_t>(s);
}

/// Writes `text` to a cgroup control file; throws with the path and errno.
void write_file(fs::path const& p, std::string const& text)
{
    int const fd = ::open(p.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        throw std::runtime_error("cannot open " + p.string() +
                                 " for writing: " + errno_text(errno));
    ssize_t const n = ::write(fd, text.data(), text.size());
    int const e = errno;
    ::close(fd);
    if (n != static_cast<ssize_t>(text.size()))
        throw std::runtime_error("cannot write '" + text + "' to " + p.string() + ": " +
                                 errno_text(e));
}

std::uint64_t read_u64(fs::path const& p)
{
    std::string const t = slurp(p);
    auto v = to_u64(t);
    if (!v)
        throw std::runtime_error("cannot read a number from " + p.string() + ": '" +
                                 std::string(trim(t)) + "'");
    return *v;
}

/// "key value" lines (memory.stat, memory.events, memory.oom_control).
std::optional<std::uint64_t> keyed(fs::path const& p, std::string_view key)
{
    std::string const t = slurp(p);
    for (auto line : split(t, '\n')) {
        auto const sp = line.find(' ');
        if (sp != std::string_view::npos && line.substr(0, sp) == key)
            return to_u64(line.substr(sp + 1));
    }
    return std::nullopt;
}

/// mountinfo escapes blanks in paths as \040 and so on.
std::string unescape(std::string_view s)
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

bool contains_word(std::string_view list, std::string_view word)
{
    for (auto w : split(trim(list), ' '))
        if (w == word)
            return true;
    return false;
}

struct mount {
    std::string root, point;
};

/// The cgroup directory a /proc/self/cgroup path names on a mount (cgroup namespaces show
/// a mount root other than "/").
fs::path resolve(mount const& m, std::string const& path)
{
    std::string rel = path;
    if (m.root != "/" && rel.compare(0, m.root.size(), m.root) == 0 &&
        (rel.size() == m.root.size() || rel[m.root.size()] == '/'))
        rel = rel.substr(m.root.size());
    fs::path dir = fs::path(m.point);
    if (auto const sub = fs::path(rel).relative_path(); !sub.empty())
        dir /= sub;
    return dir.lexically_normal();
}

bool pid_alive(pid_t pid)
{
    return ::kill(pid, 0) == 0 || errno == EPERM;
}

/// Kills what is left in a cgroup and its children, then removes them, leaves first.
bool remove_tree(fs::path const& dir, std::string* why)
{
    std::error_code ec;
    for (auto const& e : fs::directory_iterator(dir, ec))
        if (e.is_directory(ec))
            remove_tree(e.path(), why);
    for (int attempt = 0; attempt < 300; ++attempt) {
        std::string const procs = slurp(dir / "cgroup.procs");
        bool any = false;
        for (auto line : split(procs, '\n'))
            if (auto pid = to_u64(line); pid && *pid > 0) {
                ::kill(static_cast<pid_t>(*pid), SIGKILL);
                any = true;
            }
        if (!any)
            break;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    for (int attempt = 0; attempt < 150; ++attempt) {
        if (::rmdir(dir.c_str()) == 0 || errno == ENOENT)
            return true;
        if (errno != EBUSY) {
            if (why)
                *why = errno_text(errno);
            return false;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (why)
        *why = errno_text(EBUSY);
    return false;
}

std::atomic<int> cgroup_counter{0};

} // namespace

std::int64_t monotonic_ns()
{
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return std::int64_t(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

std::string cgroup_support::describe() const
{
    if (version == 0)
        return "no usable memory cgroup: " + why_not;
    std::string s =
        "cgroup v" + std::to_string(version) + ", test cgroups made under " + parent.string();
    if (parent != own)
        s += " (the parent of this process's cgroup " + own.string() + ")";
    return s;
}

cgroup_support find_memory_cgroup()
{
    cgroup_support s;
    if (::geteuid() != 0) {
        s.why_not =
            "not root (euid " + std::to_string(::geteuid()) + "): making memory cgroups needs root";
        return s;
    }
    std::string const mountinfo = slurp("/proc/self/mountinfo");
    std::string const cgroups = slurp("/proc/self/cgroup");
    std::optional<mount> v1, v2;
    for (auto line : split(mountinfo, '\n')) {
        auto const dash = line.find(" - ");
        if (dash == std::string_view::npos)
            continue;
        auto pre = split(line.substr(0, dash), ' ');
        auto post = split(line.substr(dash + 3), ' ');
        if (pre.size() < 5 || post.size() < 3)
            continue;
        mount m{unescape(pre[3]), unescape(pre[4])};
        if (post[0] == "cgroup2" && !v2)
            v2 = m;
        else if (post[0] == "cgroup" && !v1)
            for (auto opt : split(post[2], ','))
                if (opt == "memory")
                    v1 = m;
    }
    std::optional<std::string> v1_path, v2_path;
    for (auto line : split(cgroups, '\n')) {
        auto f = split(line, ':');
        if (f.size() < 3)
            continue;
        std::string path(line.substr(f[0].size() + f[1].size() + 2));
        if (f[0] == "0" && f[1].empty())
            v2_path = path;
        for (auto c : split(f[1], ','))
            if (c == "memory")
                v1_path = path;
    }

    std::error_code ec;
    if (v1 && v1_path) {
        s.own = resolve(*v1, *v1_path);
        if (!fs::exists(s.own / "memory.limit_in_bytes", ec)) {
            s.why_not = "cgroup v1 memory controller at " + v1->point + ", but " + s.own.string() +
                        " has no memory.limit_in_bytes";
            return s;
        }
        s.version = 1;
        s.parent = s.own;
    } else if (v2 && v2_path) {
        fs::path const top = fs::path(v2->point).lexically_normal();
        if (!contains_word(slurp(top / "cgroup.controllers"), "memory")) {
            s.why_not =
                "cgroup2 at " + v2->point +
                " does not offer the memory controller, and no cgroup v1 hierarchy carries it";
            return s;
        }
        s.own = resolve(*v2, *v2_path);
        s.version = 2;
        // A child gets memory.* files only if its parent delegates the controller. The
        // "no internal processes" rule forbids enabling it in a non-root cgroup that holds
        // processes (ours holds this test and ctest), so fall back to making siblings.
        if (contains_word(slurp(s.own / "cgroup.subtree_control"), "memory")) {
            s.parent = s.own;
        } else {
            try {
                write_file(s.own / "cgroup.subtree_control", "+memory");
                s.parent = s.own;
            } catch (std::exception const&) {
                fs::path const up = s.own.parent_path();
                if (s.own != top && contains_word(slurp(up / "cgroup.subtree_control"), "memory")) {
                    s.parent = up;
                } else {
                    s.version = 0;
                    s.why_not =
                        "cgroup v2: " + s.own.string() +
                        " holds processes, so it cannot delegate the memory controller to a child "
                        "(no internal processes rule), and its parent does not delegate it either";
                    return s;
                }
            }
        }
    } else {
        s.why_not = "no memory controller in /proc/self/mountinfo (neither a cgroup v1 'memory' "
                    "mount nor cgroup2 "
                    "with this process's path in /proc/self/cgroup)";
        return s;
    }

    // Prove it: make a child and remove it again.
    fs::path const trial =
        s.parent / (std::string(name_prefix) + std::to_string(::getpid()) + "-trial");
    if (::mkdir(trial.c_str(), 0755) != 0 && errno != EEXIST) {
        s.why_not = "cannot make a cgroup under " + s.parent.string() + ": " + errno_text(errno);
        s.version = 0;
        return s;
    }
    bool const has_limit =
        fs::exists(trial / (s.version == 1 ? "memory.limit_in_bytes" : "memory.max"), ec);
    ::rmdir(trial.c_str());
    if (!has_limit) {
        s.why_not = "a cgroup made under " + s.parent.string() + " has no memory limit file";
        s.version = 0;
    }
    return s;
}

void remove_stale_cgroups(cgroup_support const& where)
{
    if (where.version == 0)
        return;
    std::error_code ec;
    for (auto const& e : fs::directory_iterator(where.parent, ec)) {
        std::string const name = e.path().filename().string();
        if (name.compare(0, name_prefix.size(), name_prefix) != 0 || !e.is_directory(ec))
            continue;
        auto const pid = to_u64(split(std::string_view(name).substr(name_prefix.size()), '-')[0]);
        if (!pid || static_cast<pid_t>(*pid) == ::getpid() || pid_alive(static_cast<pid_t>(*pid)))
            continue;
        std::string why;
        if (remove_tree(e.path(), &why))
            std::fprintf(stderr, "cgroup harness: removed %s, left by a run that died\n",
                         e.path().c_str());
        else
            std::fprintf(stderr, "cgroup harness: could not remove stale %s: %s\n",
                         e.path().c_str(), why.c_str());
    }
}

// --- memory_cgroup ---------------------------------------------------------------------------

memory_cgroup::memory_cgroup(cgroup_support const& where, std::string const& name)
    : version_(where.version)
{
    if (where.version == 0)
        throw std::runtime_error("memory_cgroup: " + where.why_not);
    dir_ = where.parent / (std::string(name_prefix) + std::to_string(::getpid()) + "-" +
                           std::to_string(cgroup_counter.fetch_add(1)) + "-" + name);
    create();
}

memory_cgroup::memory_cgroup(memory_cgroup const& parent, std::string const& name)
    : dir_(parent.dir() / name), version_(parent.version())
{
    if (version_ == 2 && !contains_word(slurp(parent.dir() / "cgroup.subtree_control"), "memory"))
        write_file(parent.dir() / "cgroup.subtree_control", "+memory"); // parent holds no processes
    create();
}

void memory_cgroup::create()
{
    if (::mkdir(dir_.c_str(), 0755) != 0)
        throw std::runtime_error("cannot make cgroup " + dir_.string() + ": " + errno_text(errno));
    // v1 before kernel 5.x could have use_hierarchy 0, and then a parent's limit would not
    // apply to its children (case 4). It can only be set while the cgroup has none.
    std::error_code ec;
    if (version_ == 1 && fs::exists(dir_ / "memory.use_hierarchy", ec) &&
        trim(slurp(dir_ / "memory.use_hierarchy")) == "0") {
        try {
            write_file(dir_ / "memory.use_hierarchy", "1");
        } catch (std::exception const& e) {
            std::fprintf(stderr, "cgroup harness: %s\n", e.what());
        }
    }
}

memory_cgroup::~memory_cgroup()
{
    std::string why;
    if (!remove_tree(dir_, &why))
        std::fprintf(stderr, "cgroup harness: warning: could not remove %s: %s\n", dir_.c_str(),
                     why.c_str());
}

void memory_cgroup::set_limit(std::uint64_t bytes)
{
    std::string const n = std::to_string(bytes);
    std::error_code ec;
    if (version_ == 1) {
        // memsw >= memory at all times: raise memsw first, lower it last.
        fs::path const memsw = dir_ / "memory.memsw.limit_in_bytes";
        bool const has_memsw = fs::exists(memsw, ec);
        if (has_memsw && bytes > read_u64(memsw)) {
            write_file(memsw, n);
            write_file(dir_ / "memory.limit_in_bytes", n);
        } else {
            write_file(dir_ / "memory.limit_in_bytes", n);
            if (has_memsw)
                write_file(memsw, n);
        }
    } else {
        write_file(dir_ / "memory.max", n);
        if (fs::exists(dir_ / "memory.swap.max", ec))
            write_file(dir_ / "memory.swap.max", "0");
    }
}

std::uint64_t memory_cgroup::limit() const
{
    return read_u64(dir_ / (version_ == 1 ? "memory.limit_in_bytes" : "memory.max"));
}

std::uint64_t memory_cgroup::usage() const
{
    return read_u64(dir_ / (version_ == 1 ? "memory.usage_in_bytes" : "memory.current"));
}

std::optional<std::uint64_t> memory_cgroup::peak() const
{
    std::error_code ec;
    fs::path const p = dir_ / (version_ == 1 ? "memory.max_usage_in_bytes" : "memory.peak");
    if (!fs::exists(p, ec))
        return std::nullopt;
    return read_u64(p);
}

std::optional<std::uint64_t> memory_cgroup::oom_kills() const
{
    return keyed(dir_ / (version_ == 1 ? "memory.oom_control" : "memory.events"), "oom_kill");
}

std::uint64_t memory_cgroup::failcnt() const
{
    if (version_ == 1)
        return read_u64(dir_ / "memory.failcnt");
    return keyed(dir_ / "memory.events", "max").value_or(0);
}

std::vector<pid_t> memory_cgroup::pids() const
{
    std::vector<pid_t> out;
    for (auto line : split(slurp(dir_ / "cgroup.procs"), '\n'))
        if (auto pid = to_u64(line))
            out.push_back(static_cast<pid_t>(*pid));
    return out;
}

std::optional<std::uint64_t> memory_cgroup::stat(std::string const& key) const
{
    fs::path const p = dir_ / "memory.stat";
    if (version_ == 1)
        if (auto v = keyed(p, "total_" + key))
            return v;
    return keyed(p, key);
}

// --- processes -------------------------------------------------------------------------------

std::string process_result::status() const
{
    if (timed_out)
        return "timeout";
    if (signal != 0) {
        char const* name = sigabbrev_np(signal);
        return name ? std::string("SIG") + name : "signal " + std::to_string(signal);
    }
    return "exit " + std::to_string(exit_code);
}

namespace {

/// Async-signal-safe: what the child may call between fork and exec.
void child_fail(char const* what, int e)
{
    char const* msg =
        std::strerror(e); // not async-signal-safe in general; glibc's is, for valid errno
    (void)!::write(2, "cgroup harness (child): ", 24);
    (void)!::write(2, what, std::strlen(what));
    (void)!::write(2, ": ", 2);
    (void)!::write(2, msg, std::strlen(msg));
    (void)!::write(2, "\n", 1);
}

} // namespace

cgroup_process::cgroup_process(memory_cgroup const& cg, std::vector<std::string> const& argv)
{
    if (argv.empty())
        throw std::invalid_argument("cgroup_process: no command");
    int const out =
        ::open((dir_ / "stdout").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int const err =
        ::open((dir_ / "stderr").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out < 0 || err < 0)
        throw std::runtime_error("cannot make output files in " + dir_.path().string());

    // Everything the child needs is prepared before fork: it only calls async-signal-safe
    // functions (open, write, dup2, execv, _exit).
    std::string const procs = (cg.dir() / "cgroup.procs").string();
    std::vector<char*> args;
    for (auto const& a : argv)
        args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    pid_t const parent = ::getpid();

    started_ = std::chrono::steady_clock::now();
    pid_ = ::fork();
    if (pid_ < 0) {
        int const e = errno;
        ::close(out);
        ::close(err);
        throw std::runtime_error("fork: " + errno_text(e));
    }
    if (pid_ == 0) {
        ::prctl(PR_SET_PDEATHSIG, SIGKILL); // the test dies -> so does the memory hog
        if (::getppid() != parent)
            ::_exit(126);
        ::dup2(out, 1);
        ::dup2(err, 2);
        // Join the cgroup before exec, so the workload's first allocation is charged there.
        char buf[24];
        int n = 0;
        char digits[24];
        for (pid_t p = ::getpid(); p > 0; p /= 10)
            digits[n++] = static_cast<char>('0' + p % 10);
        for (int i = 0; i < n; ++i)
            buf[i] = digits[n - 1 - i];
        int const fd = ::open(procs.c_str(), O_WRONLY | O_CLOEXEC);
        if (fd < 0 || ::write(fd, buf, static_cast<std::size_t>(n)) != n) {
            child_fail(procs.c_str(), errno);
            ::_exit(125);
        }
        ::close(fd);
        ::execv(args[0], args.data());
        child_fail(args[0], errno);
        ::_exit(127);
    }
    ::close(out);
    ::close(err);
}

cgroup_process::~cgroup_process()
{
    if (pid_ > 0) {
        ::kill(pid_, SIGKILL);
        int st = 0;
        ::waitpid(pid_, &st, 0);
    }
    // dir_ (a test::temp_dir) goes after this body: once the child cannot write to it.
}

process_result cgroup_process::wait(std::chrono::milliseconds timeout)
{
    process_result r;
    if (pid_ <= 0)
        throw std::logic_error("cgroup_process::wait called twice");
    int st = 0;
    while (true) {
        pid_t const got = ::waitpid(pid_, &st, WNOHANG);
        if (got == pid_)
            break;
        if (got < 0 && errno != EINTR)
            throw std::runtime_error("waitpid: " + errno_text(errno));
        if (std::chrono::steady_clock::now() - started_ > timeout) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, &st, 0);
            r.timed_out = true;
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
    pid_ = -1;
    if (WIFEXITED(st))
        r.exit_code = WEXITSTATUS(st);
    else if (WIFSIGNALED(st))
        r.signal = WTERMSIG(st);
    r.out = slurp(dir_ / "stdout");
    r.err = slurp(dir_ / "stderr");
    return r;
}

cgroup_run figures_after(memory_cgroup const& cg, process_result p)
{
    cgroup_run r;
    r.oom_kills = cg.oom_kills();
    r.failcnt = cg.failcnt();
    r.peak = cg.peak();
    r.limit = cg.limit();
    // SIGKILL alone could be anyone's; the cgroup's counter says it was the OOM killer. Kernels
    // before 4.13 (v1) have no counter: then hitting the limit (failcnt) has to do.
    r.oom_killed = p.signal == SIGKILL && (r.oom_kills ? *r.oom_kills > 0 : r.failcnt > 0);
    r.process = std::move(p);
    return r;
}

cgroup_run run_in(memory_cgroup const& cg, std::vector<std::string> const& argv,
                  std::chrono::milliseconds timeout)
{
    cgroup_process proc(cg, argv);
    return figures_after(cg, proc.wait(timeout));
}

} // namespace streambatch::test
