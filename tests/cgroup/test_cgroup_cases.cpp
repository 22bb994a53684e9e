// tests/cgroup/test_cgroup_cases.cpp: the memory guard under real kernel memory limits.
//
// Each case runs tests/cgroup/oom_workload.cpp in a fresh child memory cgroup of this test's
// own (cgroup_harness.hpp), with a limit, and reads back what the kernel saw: exit status or
// OOM kill, peak usage, and the workload's own summary (records in and out, batch sizes, guard
// events). CTest runs one case per test (the Catch tag on its command line), one at a time,
// and every case appends its rows to the results table ($STREAMBATCH_CGROUP_RESULTS).
//
//   case1   a job that keeps every record (~1 GiB) is OOM-killed under 256 MiB
//   case2a  the same records through batches of a fixed size (the guard not asked): OOM-killed
//   case2   the same records through memory_guarded: completes 10 runs of 10, peak <= 90 %
//   case3   reading a 600 MB file through 200 MiB: page cache, not pressure: no shrink
//   case3b  the same with a file read three times (its cache becomes active): no shrink
//   case4   a limit set only on the parent cgroup is honoured
//   case5   a limit lowered while the job runs is picked up within a second
//   case6*  at the floor with memory still critical: throw / wait / carry on, as configured
//   case6d  ... and with memory still climbing at the floor: memory_exhausted, not a kill
//
// Where no memory cgroup can be made (not root, no controller), main() prints why and
// returns 77, which CTest reports as skipped; STREAMBATCH_REQUIRE_CGROUP=1 (CI) makes that a
// failure instead, so a CI machine that lost its cgroups cannot pass by skipping.

#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <linux/magic.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "cgroup_harness.hpp"

namespace fs = std::filesystem;
namespace sbt = streambatch::test;
using Catch::Matchers::Contains;
using namespace std::chrono_literals;

namespace {

constexpr std::uint64_t MiB = 1024 * 1024;
constexpr std::uint64_t GiB = 1024 * MiB;
constexpr auto run_timeout = std::chrono::milliseconds(90'000);

sbt::cgroup_support where; // found once, in main()

std::string env(char const* name)
{
    char const* v = std::getenv(name);
    return v ? v : "";
}

// --- the workload and its output -------------------------------------------------------------

/// The job of cases 1, 2, 4 and 5 (see "Why a write-behind sink" in oom_workload.cpp):
/// 65536 records of 16 KiB = 1 GiB, batches of 256 (4 MiB), 90 batches in flight.
constexpr std::uint64_t job_records = 65536;
constexpr std::uint64_t job_record_bytes = 16 * 1024;
constexpr std::uint64_t job_batch = 256;
constexpr std::uint64_t job_in_flight = 90;

std::vector<std::string> workload(std::vector<std::string> args)
{
    std::string const exe = env("STREAMBATCH_OOM_WORKLOAD");
    if (exe.empty())
        throw std::runtime_error(
            "STREAMBATCH_OOM_WORKLOAD is not set (CTest sets it to oom_workload's path)");
    args.insert(args.begin(), exe);
    return args;
}

std::vector<std::string> guarded_job(std::vector<std::string> extra = {})
{
    std::vector<std::string> a{"--mode",         "guarded",
                               "--record-bytes", std::to_string(job_record_bytes),
                               "--batch",        std::to_string(job_batch),
                               "--in-flight",    std::to_string(job_in_flight)};
    a.insert(a.end(), extra.begin(), extra.end());
    return workload(a);
}

/// One output line of the workload: `kind key=value key="quoted value" ...`.
struct line_fields {
    std::string kind;
    std::map<std::string, std::string> values;

    bool has(std::string const& k) const { return values.contains(k); }
    std::string const& text(std::string const& k) const
    {
        auto it = values.find(k);
        if (it == values.end())
            throw std::runtime_error("workload line '" + kind + "' has no " + k);
        return it->second;
    }
    std::uint64_t count(std::string const& k) const { return std::stoull(text(k)); }
    std::int64_t integer(std::string const& k) const { return std::stoll(text(k)); }
    double real(std::string const& k) const { return std::stod(text(k)); }
};

line_fields parse_line(std::string_view line)
{
    line_fields f;
    std::size_t i = line.find(' ');
    f.kind = std::string(line.substr(0, i));
    while (i != std::string_view::npos && i < line.size()) {
        while (i < line.size() && line[i] == ' ')
            ++i;
        auto const eq = line.find('=', i);
        if (eq == std::string_view::npos)
            break;
        std::string key(line.substr(i, eq - i));
        std::size_t end;
        std::string value;
        if (eq + 1 < line.size() && line[eq + 1] == '"') {
            end = line.find('"', eq + 2);
            value = std::string(
                line.substr(eq + 2, end == std::string_view::npos ? end : end - eq - 2));
            if (end != std::string_view::npos)
                ++end;
        } else {
            end = line.find(' ', eq + 1);
            value = std::string(
                line.substr(eq + 1, end == std::string_view::npos ? end : end - eq - 1));
        }
        f.values[key] = value;
        i = end;
    }
    return f;
}

struct workload_output {
    std::optional<line_fields> start, summary, exhausted, ballast_freed;
    std::vector<line_fields> events, progress, batches;

    std::vector<line_fields> events_of(std::string const& kind) const
    {
        std::vector<line_fields> out;
        for (auto const& e : events)
            if (e.text("kind") == kind)
                out.push_back(e);
        return out;
    }
};

workload_output parse_output(std::string const& out)
{
    workload_output w;
    std::istringstream in(out);
    std::string line;
    while (std::getline(in, line)) {
        auto f = parse_line(line);
        if (f.kind == "start")
            w.start = f;
        else if (f.kind == "summary")
            w.summary = f;
        else if (f.kind == "exhausted")
            w.exhausted = f;
        else if (f.kind == "ballast_freed")
            w.ballast_freed = f;
        else if (f.kind == "event")
            w.events.push_back(f);
        else if (f.kind == "progress")
            w.progress.push_back(f);
        else if (f.kind == "batch")
            w.batches.push_back(f);
    }
    return w;
}

// --- the results table -----------------------------------------------------------------------

std::string mib(std::uint64_t bytes)
{
    char b[32];
    std::snprintf(b, sizeof b, "%.1f", double(bytes) / double(MiB));
    return b;
}

struct row {
    std::string name;
    int run = 1;
    sbt::cgroup_run const* r = nullptr;
    workload_output const* w = nullptr;
    std::uint64_t limit = 0; // the limit that applied (a parent's, in case 4)
    std::optional<std::uint64_t> peak;
    std::string records; // when the summary cannot say (killed runs)
    std::string note;
    bool passed = false;
};

void add_row(row const& x)
{
    std::string const path = env("STREAMBATCH_CGROUP_RESULTS");
    if (path.empty())
        return;
    auto const& p = x.r->process;
    std::string oom = x.r->oom_killed ? "**yes**" : "no";
    if (x.r->oom_kills)
        oom += " (oom_kill " + std::to_string(*x.r->oom_kills) + ")";
    std::string peak = "n/a";
    if (x.peak)
        peak = mib(*x.peak) + " / " + mib(x.limit) + " MiB (" +
               std::to_string(int(std::lround(100.0 * double(*x.peak) / double(x.limit)))) + " %)";
    std::string records = x.records, batches = "-", sizes = "-", guard = "-";
    if (x.w && x.w->summary) {
        auto const& s = *x.w->summary;
        records = s.text("records_in") + " / " + s.text("records_out");
        batches = s.text("batches");
        sizes = s.text("start_size") + " → " + s.text("min_size");
        guard = s.text("shrinks") + " / " + s.text("grows");
    }
    char secs[32];
    std::snprintf(secs, sizeof secs, "%.2f s", p.seconds);
    std::ofstream out(path, std::ios::app);
    out << "| " << x.name << " | " << x.run << " | " << (x.passed ? "pass" : "**FAIL**") << " | "
        << oom << " | " << p.status() << " | " << peak << " | " << records << " | " << batches
        << " | " << sizes << " | " << guard << " | " << secs << " | " << x.note << " |\n";
}

void write_header(std::string const& path)
{
    std::ofstream out(path, std::ios::trunc);
    std::time_t const now = std::time(nullptr);
    char date[64];
    std::strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", std::gmtime(&now));
    utsname u{};
    ::uname(&u);
    auto const w = sbt::find_memory_cgroup();
    out << "# streambatch: the memory guard under real memory limits (tests/cgroup)\n\n"
        << date << "; kernel " << u.release << "; " << w.describe()
        << "; build: " << env("STREAMBATCH_CGROUP_BUILD") << "\n\n"
        << "Peak is the cgroup's own (v1 memory.max_usage_in_bytes, v2 memory.peak); records are "
           "counted by the\n"
        << "workload as they leave the source (in) and reach the sink (out). Batch sizes are the "
           "guard's decisions.\n\n"
        << "| case | run | result | OOM-killed? | exit | peak / limit | records in / out | batches "
           "| batch start → min "
           "| shrinks / grows | time | notes |\n"
        << "|---|---|---|---|---|---|---|---|---|---|---|---|\n";
}

/// The run's records were all accounted for: as many reached the sink as left the source, in order.
bool accounted(workload_output const& w, std::uint64_t expected = 0)
{
    if (!w.summary)
        return false;
    auto const& s = *w.summary;
    return s.count("records_in") == s.count("records_out") && s.count("out_of_order") == 0 &&
           (expected == 0 || s.count("records_in") == expected);
}

// --- a file on a real disk (case 3) ----------------------------------------------------------

/// A temporary directory on a disk-backed file system: page cache must be what is measured,
/// and on tmpfs the file itself would be memory (shmem) charged to whoever wrote it.
class disk_dir {
    std::optional<::test::temp_dir> dir_; // test::temp_dir: removed with the file at the end

public:
    disk_dir()
    {
        std::vector<fs::path> candidates;
        if (auto const t = env("TMPDIR"); !t.empty())
            candidates.emplace_back(t);
        candidates.emplace_back("/var/tmp");
        candidates.emplace_back("/tmp");
        if (auto const s = env("STREAMBATCH_CGROUP_SCRATCH"); !s.empty()) {
            fs::create_directories(s);
            candidates.emplace_back(s);
        }
        std::string rejected;
        for (auto const& c : candidates) {
            struct statfs sf {};
            struct statvfs sv {};
            if (::statfs(c.c_str(), &sf) != 0 || ::statvfs(c.c_str(), &sv) != 0)
                continue;
            bool const memory_fs = sf.f_type == TMPFS_MAGIC || sf.f_type == RAMFS_MAGIC;
            bool const room = std::uint64_t(sv.f_bavail) * sv.f_frsize > 2 * GiB;
            if (memory_fs || !room) {
                rejected += " " + c.string() + (memory_fs ? " (tmpfs)" : " (less than 2 GiB free)");
                continue;
            }
            try {
                dir_.emplace(c, "streambatch-pagecache-");
                return;
            } catch (std::system_error const& e) {
                rejected += " " + c.string() + " (" + e.what() + ")";
            }
        }
        throw std::runtime_error(
            "no disk-backed directory with 2 GiB free for the page-cache file; rejected:" +
            rejected);
    }
    fs::path const& path() const { return dir_->path(); }
};

/// Writes `bytes` of non-zero data, syncs it, and evicts it from the page cache
/// (POSIX_FADV_DONTNEED on this file only: nothing else is dropped), so that the workload's
/// reads fill the page cache again - charged to the workload's cgroup, not to this test's.
/// Returns the fraction still cached afterwards (mincore).
double write_uncached_file(fs::path const& p, std::uint64_t bytes)
{
    int const fd = ::open(p.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        throw std::runtime_error("cannot create " + p.string() + ": " + std::strerror(errno));
    std::vector<unsigned char> block(MiB);
    for (std::size_t i = 0; i < block.size(); ++i)
        block[i] = static_cast<unsigned char>('a' + i % 26);
    for (std::uint64_t done = 0; done < bytes;) {
        std::size_t const n =
            static_cast<std::size_t>(std::min<std::uint64_t>(block.size(), bytes - done));
        ssize_t const w = ::write(fd, block.data(), n);
        if (w <= 0) {
            ::close(fd);
            throw std::runtime_error("cannot write " + p.string() + ": " + std::strerror(errno));
        }
        done += std::uint64_t(w);
    }
    ::fsync(fd);
    ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    double cached = 1;
    if (void* m = ::mmap(nullptr, bytes, PROT_READ, MAP_SHARED, fd, 0); m != MAP_FAILED) {
        long const page = ::sysconf(_SC_PAGESIZE);
        std::vector<unsigned char> vec((bytes + std::uint64_t(page) - 1) / std::uint64_t(page));
        if (::mincore(m, bytes, vec.data()) == 0)
            cached = double(std::count_if(vec.begin(), vec.end(),
                                          [](unsigned char c) { return c & 1; })) /
                     double(vec.size());
        ::munmap(m, bytes);
    }
    ::close(fd);
    return cached;
}

std::string first_lines(std::string const& s, std::size_t n = 40)
{
    std::istringstream in(s);
    std::string line, out;
    for (std::size_t i = 0; i < n && std::getline(in, line); ++i)
        out += line + "\n";
    return out;
}

#define SHOW_RUN(r)                                                                                \
    INFO("workload: " << (r).process.status() << " after " << (r).process.seconds                  \
                      << " s\nstdout (start):\n"                                                   \
                      << first_lines((r).process.out) << "stderr:\n"                               \
                      << first_lines((r).process.err))

} // namespace

// --- the cases ---------------------------------------------------------------------------------

TEST_CASE("A job that keeps every record of 1 GiB is OOM-killed under a 256 MiB limit",
          "[cgroup][case1]")
{
    sbt::memory_cgroup cg(where, "naive");
    cg.set_limit(256 * MiB);
    auto const r =
        sbt::run_in(cg,
                    workload({"--mode", "naive", "--records", std::to_string(job_records),
                              "--record-bytes", std::to_string(job_record_bytes)}),
                    run_timeout);
    auto const w = parse_output(r.process.out);
    SHOW_RUN(r);
    std::string got = w.progress.empty() ? "0" : w.progress.back().text("records_in");
    bool const ok = r.oom_killed && r.process.signal == SIGKILL && !w.summary;
    add_row({"1 naive: keep every record", 1, &r, &w, 256 * MiB, r.peak,
             "≥ " + got + " of " + std::to_string(job_records) + " / 0", "killed while loading",
             ok});
    CHECK(r.process.signal == SIGKILL);
    CHECK(r.oom_killed);
    CHECK(!w.summary);
}

TEST_CASE("The same job with batches of a fixed size is OOM-killed: the guard has to shrink them",
          "[cgroup][case2a]")
{
    sbt::memory_cgroup cg(where, "fixed");
    cg.set_limit(256 * MiB);
    auto const r = sbt::run_in(
        cg, guarded_job({"--records", std::to_string(job_records), "--policy", "fixed", "--trace"}),
        run_timeout);
    auto const w = parse_output(r.process.out);
    SHOW_RUN(r);
    std::uint64_t pulled = 0;
    for (auto const& b : w.batches)
        pulled += b.count("size");
    bool const ok = r.oom_killed && !w.summary;
    add_row({"2a fixed batches of 256 (guard not asked)", 1, &r, &w, 256 * MiB, r.peak,
             "≥ " + std::to_string(pulled) + " of " + std::to_string(job_records) + " / -",
             "killed at batch " + std::to_string(w.batches.size()) +
                 "; 90 in flight x 4 MiB = 360 MiB > limit",
             ok});
    CHECK(r.process.signal == SIGKILL);
    CHECK(r.oom_killed);
    CHECK(!w.summary);
}

TEST_CASE("memory_guarded brings the same 1 GiB through a 256 MiB limit, 10 runs out of 10",
          "[cgroup][case2]")
{
    constexpr std::uint64_t limit = 256 * MiB;
    int passed = 0;
    for (int run = 1; run <= 10; ++run) {
        sbt::memory_cgroup cg(where, "guarded-" + std::to_string(run));
        cg.set_limit(limit);
        auto const r =
            sbt::run_in(cg, guarded_job({"--records", std::to_string(job_records)}), run_timeout);
        auto const w = parse_output(r.process.out);
        SHOW_RUN(r);
        INFO("run " << run);
        bool const completed = r.process.exit_code == 0 && !r.oom_killed && w.summary &&
                               w.summary->text("result") == "ok";
        bool const all_records = accounted(w, job_records);
        bool const under_90 = r.peak && double(*r.peak) <= 0.9 * double(limit);
        bool const shrank = w.summary && w.summary->count("shrinks") >= 1;
        // The guard acted on the cgroup's figures: /proc/meminfo shows the host's memory
        // (system_total), far above the limit, and would never have said "shrink".
        bool const saw_cgroup = w.start && w.start->count("limit") == limit &&
                                w.start->count("system_total") >= 4 * limit;
        bool cgroup_events = true;
        for (auto const& e : w.events_of("shrink"))
            cgroup_events = cgroup_events && e.text("source") == "cgroup";
        CHECK(completed);
        CHECK(all_records);
        CHECK(under_90);
        CHECK(shrank);
        CHECK(saw_cgroup);
        CHECK(cgroup_events);
        bool const ok =
            completed && all_records && under_90 && shrank && saw_cgroup && cgroup_events;
        passed += ok;
        std::string note;
        if (w.summary && w.start) {
            char b[200];
            std::snprintf(
                b, sizeof b,
                "guard max %.1f %% (cgroup); meminfo: %.1f GiB total; at the end %s MiB held, "
                "working set %s MiB",
                100 * w.summary->real("max_used"),
                double(w.start->count("system_total")) / double(GiB),
                mib(w.summary->count("held_bytes")).c_str(),
                mib(w.summary->count("final_ws")).c_str());
            note = b;
        }
        add_row({"2 memory_guarded(256)", run, &r, &w, limit, r.peak, "", note, ok});
    }
    REQUIRE(passed == 10);
}

TEST_CASE(
    "Page cache is not pressure: a 600 MB file read through a 200 MiB cgroup keeps the batch size",
    "[cgroup][case3]")
{
    constexpr std::uint64_t limit = 200 * MiB;
    constexpr std::uint64_t file_bytes = 600'000'000;
    constexpr std::uint64_t record = 64 * 1024;
    constexpr std::uint64_t expected = file_bytes / record + (file_bytes % record != 0);
    disk_dir dir;
    fs::path const file = dir.path() / "records.bin";
    double const cached = write_uncached_file(file, file_bytes);
    INFO("file " << file << ", " << 100 * cached << " % of it in the page cache before the run");
    REQUIRE(cached < 0.1);

    sbt::memory_cgroup cg(where, "pagecache");
    cg.set_limit(limit);
    auto const r =
        sbt::run_in(cg,
                    workload({"--mode", "pagecache", "--file", file.string(), "--record-bytes",
                              std::to_string(record), "--batch", "64"}),
                    run_timeout);
    auto const w = parse_output(r.process.out);
    SHOW_RUN(r);
    REQUIRE(w.summary);
    auto const& s = *w.summary;
    bool const ok = r.process.exit_code == 0 && !r.oom_killed && accounted(w, expected) &&
                    s.count("shrinks") == 0 && s.count("min_size") == 64 &&
                    s.count("min_batch") == 64 && r.peak && double(*r.peak) >= 0.75 * double(limit);
    char note[200];
    std::snprintf(note, sizeof note,
                  "600 MB file in %s; guard max %.1f %%; page cache filled the cgroup",
                  fs::path(dir.path()).parent_path().c_str(), 100 * s.real("max_used"));
    add_row({"3 page cache (600 MB file, 200 MiB)", 1, &r, &w, limit, r.peak, "", note, ok});
    CHECK(r.process.exit_code == 0);
    CHECK(!r.oom_killed);
    CHECK(accounted(w, expected));
    CHECK(s.count("shrinks") == 0);
    CHECK(s.count("min_size") == 64); // the guard never asked for less than the start
    CHECK(s.count("min_batch") == 64);
    // The cache did fill the cgroup, so the guard was looking at a full cgroup, and was right
    // not to count it.
    REQUIRE(r.peak);
    CHECK(double(*r.peak) >= 0.75 * double(limit));
}

TEST_CASE("Page cache that turned active (a file read three times) is not pressure either",
          "[cgroup][case3b]")
{
    // 160 MiB read three times through 200 MiB: the second pass finds every page cached and
    // the kernel moves them to the active list. They are still page cache the kernel can
    // reclaim, but usage - inactive_file counts them.
    constexpr std::uint64_t limit = 200 * MiB;
    constexpr std::uint64_t file_bytes = 160 * MiB;
    constexpr std::uint64_t record = 64 * 1024;
    disk_dir dir;
    fs::path const file = dir.path() / "records.bin";
    REQUIRE(write_uncached_file(file, file_bytes) < 0.1);

    sbt::memory_cgroup cg(where, "pagecache-hot");
    cg.set_limit(limit);
    auto const r =
        sbt::run_in(cg,
                    workload({"--mode", "pagecache", "--file", file.string(), "--record-bytes",
                              std::to_string(record), "--batch", "64", "--passes", "3"}),
                    run_timeout);
    auto const w = parse_output(r.process.out);
    SHOW_RUN(r);
    REQUIRE(w.summary);
    auto const& s = *w.summary;
    auto const active = cg.stat("active_file").value_or(0);
    bool const ok = r.process.exit_code == 0 && !r.oom_killed &&
                    accounted(w, 3 * file_bytes / record) && s.count("shrinks") == 0;
    char note[200];
    std::snprintf(note, sizeof note,
                  "160 MiB file x 3 passes; guard max %.1f %%, rss %.1f MiB; active_file %s MiB "
                  "after",
                  100 * s.real("max_used"), double(s.count("vmhwm_kib")) / 1024,
                  mib(active).c_str());
    add_row({"3b page cache read 3 times", 1, &r, &w, limit, r.peak, "", note, ok});
    CHECK(r.process.exit_code == 0);
    CHECK(accounted(w, 3 * file_bytes / record));
    CHECK(s.count("shrinks") == 0);
}

TEST_CASE("A limit set only on the parent cgroup is honoured", "[cgroup][case4]")
{
    constexpr std::uint64_t limit = 256 * MiB;
    sbt::memory_cgroup parent(where, "parent");
    parent.set_limit(limit);
    sbt::memory_cgroup child(parent, "job"); // destroyed first: declared last
    REQUIRE(child.limit() >= 1024 * GiB);    // no limit of its own
    auto const r0 =
        sbt::run_in(child, guarded_job({"--records", std::to_string(job_records)}), run_timeout);
    auto const r = sbt::figures_after(parent, r0.process); // the parent's peak and OOM count
    auto const w = parse_output(r.process.out);
    SHOW_RUN(r);
    REQUIRE(w.start);
    bool const found_parent =
        w.start->count("limit") == limit && w.start->text("cgroup_dir") == child.dir().string();
    bool const ok = r.process.exit_code == 0 && !r.oom_killed && !r0.oom_killed &&
                    accounted(w, job_records) && found_parent && w.summary->count("shrinks") >= 1 &&
                    r.peak && double(*r.peak) <= 0.9 * double(limit);
    add_row({"4 limit on the parent only", 1, &r, &w, limit, r.peak, "",
             "probe: " + w.start->text("cgroup_levels") + " levels from " +
                 fs::path(w.start->text("cgroup_dir")).filename().string() + ", limit " +
                 mib(w.start->count("limit")) + " MiB found on the parent",
             ok});
    CHECK(found_parent);
    CHECK(r.process.exit_code == 0);
    CHECK(!r.oom_killed);
    CHECK(accounted(w, job_records));
    CHECK(w.summary->count("shrinks") >= 1);
    REQUIRE(r.peak);
    CHECK(double(*r.peak) <= 0.9 * double(limit));
}

TEST_CASE("A limit lowered while the job runs is picked up within a second, and batches shrink",
          "[cgroup][case5]")
{
    sbt::memory_cgroup cg(where, "lowered");
    cg.set_limit(2 * GiB); // far above the job's ~370 MiB
    // 4 s, and on past that until its first shrink (at most 60 s): a loaded machine that is slow
    // to fill the cgroup must not end the job before the lowered limit is seen.
    sbt::cgroup_process job(
        cg, guarded_job({"--seconds", "4", "--until", "shrink:1", "--until-max-seconds", "60"}));
    // 90 batches in flight: steady state (~370 MiB) within about a second on an idle machine.
    // Wait for it rather than for a fixed time, so a loaded machine only takes longer: what is
    // timed below is the guard's reaction to the lowered limit, not the job's start. Steady:
    // over 200 MiB and grown by less than 2 % in the last 500 ms (a limit set at 87 % of a
    // working set still climbing would be a different, harsher case). Polled every 50 ms, for up
    // to 40 s (it took 13 s with six busy loops on two cores).
    auto const started = std::chrono::steady_clock::now();
    std::deque<std::uint64_t> last; // the samples of the last 500 ms, oldest first
    std::uint64_t usage = cg.usage();
    auto steady = [&] {
        return usage > 200 * MiB && last.size() == 10 &&
               double(usage) <= 1.02 * double(last.front());
    };
    while (!steady() && std::chrono::steady_clock::now() - started < 40s) {
        last.push_back(usage);
        if (last.size() > 10)
            last.pop_front();
        std::this_thread::sleep_for(50ms);
        usage = cg.usage();
    }
    double const waited_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    INFO("usage " << mib(usage) << " MiB after " << waited_s << " s");
    REQUIRE(steady());
    // Above current usage (v1 refuses a limit below it with EBUSY), and high enough that the
    // job's working set is 87 % of it: over shrink_at (80 %), clear of the kill.
    std::uint64_t const lowered =
        (static_cast<std::uint64_t>(double(usage) / 0.87) + 4095) / 4096 * 4096;
    std::int64_t const t0 = sbt::monotonic_ns();
    cg.set_limit(lowered);
    std::int64_t const t1 = sbt::monotonic_ns();
    auto const r = sbt::figures_after(cg, job.wait(run_timeout));
    auto const w = parse_output(r.process.out);
    SHOW_RUN(r);
    INFO("usage " << mib(usage) << " MiB; limit lowered from 2048 to " << mib(lowered) << " MiB");
    REQUIRE(w.summary);
    // The guard's clock is CLOCK_MONOTONIC_COARSE: up to a tick (4 ms) behind the fine one.
    constexpr std::int64_t tick = 10'000'000;
    std::optional<std::int64_t> first_after;
    int before = 0;
    for (auto const& e : w.events_of("shrink")) {
        std::int64_t const t = e.integer("t_ns");
        if (t < t0 - tick)
            ++before;
        else if (!first_after)
            first_after = t;
    }
    double const delay_ms = first_after ? double(*first_after - t1) / 1e6 : -1;
    bool const ok = r.process.exit_code == 0 && !r.oom_killed && accounted(w) && before == 0 &&
                    first_after && *first_after - t1 <= 1'000'000'000 &&
                    w.summary->count("min_size") < job_batch;
    char note[200];
    std::snprintf(note, sizeof note,
                  "limit 2048 → %s MiB at %.1f s (usage %s MiB); first shrink %.0f ms later",
                  mib(lowered).c_str(), waited_s, mib(usage).c_str(), delay_ms);
    add_row({"5 limit lowered while running", 1, &r, &w, lowered, r.peak, "", note, ok});
    CHECK(r.process.exit_code == 0);
    CHECK(!r.oom_killed);
    CHECK(accounted(w));
    CHECK(before == 0); // nothing to shrink for under 2 GiB
    REQUIRE(first_after);
    CHECK(*first_after - t1 <= 1'000'000'000);
    CHECK(w.summary->count("min_size") < job_batch);
}

namespace {

/// Case 6: a ballast holds the working set at 96.5 % of 256 MiB, above critical_at (95 %),
/// so the guard shrinks to the floor and stays critical there.
struct critical_case {
    sbt::cgroup_run r;
    workload_output w;
    std::string dir;
};

/// The job runs 2.5 s after its ballast is in place, and past that until the guard has reported
/// `until` (an event the case asserts on, "KIND:N"; at most 30 s): on a loaded machine the
/// ballast and the way down to the floor take longer, and a fixed budget could end the job
/// before the guard was ever critical (it once ended with records_in=0).
critical_case run_critical(char const* action, char const* until,
                           std::vector<std::string> extra = {})
{
    sbt::memory_cgroup cg(where, std::string("critical-") + action);
    cg.set_limit(256 * MiB);
    std::vector<std::string> a{"--mode",
                               "guarded",
                               "--record-bytes",
                               "16384",
                               "--batch",
                               "64",
                               "--seconds",
                               "2.5",
                               "--until",
                               until,
                               "--ballast-fraction",
                               "0.965",
                               "--critical-for-ms",
                               "500",
                               "--on-critical",
                               action};
    a.insert(a.end(), extra.begin(), extra.end());
    critical_case c{sbt::run_in(cg, workload(a), run_timeout), {}, cg.dir().string()};
    c.w = parse_output(c.r.process.out);
    return c;
}

std::string critical_note(workload_output const& w)
{
    if (!w.summary)
        return "no summary";
    auto const& s = *w.summary;
    return "ballast to 96.5 %; events: critical " + s.text("critical") + ", waiting " +
           s.text("waiting") + ", resumed " + s.text("resumed") + ", exhausted " +
           s.text("exhausted");
}

} // namespace

TEST_CASE("At the floor and still critical, on_critical = throw ends the job with memory_exhausted "
          "and the figures",
          "[cgroup][case6][case6_throw]")
{
    auto const c = run_critical("throw", "exhausted:1");
    auto const& r = c.r;
    SHOW_RUN(r);
    REQUIRE(c.w.summary);
    auto const& s = *c.w.summary;
    std::string const& err = r.process.err;
    bool const message = err.find("streambatch::memory_exhausted") != std::string::npos &&
                         err.find("% used (cgroup)") != std::string::npos &&
                         err.find("MiB limit") != std::string::npos &&
                         err.find(c.dir) != std::string::npos &&
                         err.find("/proc/self/statm") != std::string::npos &&
                         err.find("/proc/meminfo") != std::string::npos;
    bool const ok = r.process.exit_code == 3 && r.process.signal == 0 && !r.oom_killed && message &&
                    s.text("result") == "exhausted" && s.count("exhausted") == 1 && accounted(c.w);
    add_row({"6 critical: throw", 1, &r, &c.w, 256 * MiB, r.peak, "",
             critical_note(c.w) + "; exit 3 with the message", ok});
    CHECK(r.process.exit_code == 3); // oom_workload: caught streambatch::memory_exhausted
    CHECK(!r.oom_killed);
    CHECK_THAT(err, Contains("streambatch::memory_exhausted") && Contains("memory exhausted"));
    CHECK_THAT(err, Contains("% used (cgroup)") && Contains("cgroup working set") &&
                        Contains("MiB limit"));
    CHECK_THAT(err, Contains(c.dir) && Contains("/proc/self/statm") && Contains("/proc/meminfo"));
    CHECK_THAT(err, Contains("at batch size 10")); // at the floor
    CHECK(s.count("critical") >= 1);
    CHECK(s.count("exhausted") == 1);
    CHECK(accounted(c.w)); // nothing pulled and lost when it threw
}

TEST_CASE("At the floor and still critical, on_critical = wait holds the job until memory falls",
          "[cgroup][case6][case6_wait]")
{
    auto const c = run_critical("wait", "resumed:1", {"--free-ballast-after-wait-ms", "500"});
    auto const& r = c.r;
    auto const& w = c.w;
    SHOW_RUN(r);
    REQUIRE(w.summary);
    auto const waiting = w.events_of("waiting");
    auto const resumed = w.events_of("resumed");
    REQUIRE(waiting.size() == 1);
    REQUIRE(resumed.size() == 1);
    REQUIRE(w.ballast_freed);
    std::int64_t const t_wait = waiting[0].integer("t_ns"), t_resume = resumed[0].integer("t_ns");
    std::int64_t const t_freed = w.ballast_freed->integer("t_ns"); // when munmap began
    bool const ok = r.process.exit_code == 0 && !r.oom_killed && accounted(w) && t_wait < t_freed &&
                    t_resume >= t_freed - 10'000'000 && t_resume - t_freed < 500'000'000;
    char note[120];
    std::snprintf(note, sizeof note,
                  "; waited %.0f ms, resumed %.0f ms after the ballast was freed",
                  double(t_resume - t_wait) / 1e6, double(t_resume - t_freed) / 1e6);
    add_row({"6 critical: wait", 1, &r, &w, 256 * MiB, r.peak, "", critical_note(w) + note, ok});
    CHECK(r.process.exit_code == 0);
    CHECK(!r.oom_killed);
    CHECK(accounted(w));
    CHECK(t_wait < t_freed);                 // it waited for memory, not for a timer
    CHECK(t_resume >= t_freed - 10'000'000); // ... and went on once memory fell (coarse clock)
    CHECK(t_resume - t_freed < 500'000'000); // within a few wait_poll periods
}

TEST_CASE(
    "At the floor and still critical, on_critical = carry_on completes and reports critical events",
    "[cgroup][case6][case6_carry_on]")
{
    auto const c = run_critical("carry_on", "critical:2");
    auto const& r = c.r;
    auto const& w = c.w;
    SHOW_RUN(r);
    REQUIRE(w.summary);
    auto const& s = *w.summary;
    bool const ok = r.process.exit_code == 0 && !r.oom_killed && accounted(w) &&
                    s.count("critical") >= 2 && s.count("exhausted") == 0 &&
                    s.count("waiting") == 0;
    add_row({"6 critical: carry_on", 1, &r, &w, 256 * MiB, r.peak, "", critical_note(w), ok});
    CHECK(r.process.exit_code == 0);
    CHECK(!r.oom_killed);
    CHECK(accounted(w));
    CHECK(s.count("critical") >= 2); // reported again after each critical_for
    CHECK(s.count("exhausted") == 0);
    CHECK(s.count("waiting") == 0);
}

TEST_CASE("Memory still climbing at the floor ends in memory_exhausted, not in an OOM kill",
          "[cgroup][case6d]")
{
    // Records of 256 KiB, batches of 32, 64 in flight: even at the floor (10 records) every
    // batch adds 2.5 MiB (1 % of the limit) to the sink, so the working set climbs from
    // critical_at (95 %) to the limit in a few tens of milliseconds. on_critical = throw
    // must still end the job with memory_exhausted before the kernel kills it.
    sbt::memory_cgroup cg(where, "critical-climbing");
    cg.set_limit(256 * MiB);
    auto const r =
        sbt::run_in(cg,
                    workload({"--mode", "guarded", "--record-bytes", "262144", "--records", "4096",
                              "--batch", "32", "--in-flight", "64"}),
                    run_timeout);
    auto const w = parse_output(r.process.out);
    SHOW_RUN(r);
    auto const critical = w.events_of("critical");
    bool const ok = !r.oom_killed && r.process.exit_code == 3 &&
                    r.process.err.find("streambatch::memory_exhausted") != std::string::npos;
    std::string note = "256 KiB records, 64 batches in flight: climbs at the floor";
    if (!critical.empty())
        note += "; critical at " + critical[0].text("used") + ", " +
                std::to_string(w.events.size()) + " events";
    add_row({"6d critical and still climbing", 1, &r, &w, 256 * MiB, r.peak,
             w.summary ? "" : std::to_string(w.events.size()) + " events, no summary", note, ok});
    CHECK(!r.oom_killed);
    CHECK(r.process.exit_code == 3);
    CHECK_THAT(r.process.err, Contains("streambatch::memory_exhausted"));
}

int main(int argc, char** argv)
{
    if (argc == 2 && std::string_view(argv[1]) == "--reset-results") {
        // The CTest fixture that runs first: a fresh table for this run of the cases.
        std::string const path = env("STREAMBATCH_CGROUP_RESULTS");
        if (!path.empty())
            write_header(path);
        return 0;
    }
    where = sbt::find_memory_cgroup();
    if (where.version == 0) {
        std::printf("SKIP: %s\n", where.why_not.c_str());
        if (std::string const p = env("STREAMBATCH_CGROUP_RESULTS"); !p.empty()) {
            std::ofstream out(p, std::ios::app);
            out << "| " << (argc > 1 ? argv[argc - 1] : "?")
                << " | - | skipped | - | - | - | - | - | - | - | - | " << where.why_not << " |\n";
        }
        if (env("STREAMBATCH_REQUIRE_CGROUP") == "1") {
            std::printf("STREAMBATCH_REQUIRE_CGROUP=1: a skip is a failure here\n");
            return 1;
        }
        return 77;
    }
    std::printf("%s\n", where.describe().c_str());
    sbt::remove_stale_cgroups(where);
    return Catch::Session().run(argc, argv);
}
