// Tests of streambatch::proc_memory_probe: the live system once, then fixture trees (proc/ and
// a cgroup file system under a temporary root) built at run time, one per case.

#include <streambatch/guard/memory_probe.hpp>

#include <catch2/catch.hpp>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include <unistd.h>

#include "support/temp_dir.hpp"

namespace sb = streambatch;
namespace fs = std::filesystem;
using Catch::Matchers::Contains;

namespace {
// What the probe models, stated before any run-time test.
static_assert(std::is_nothrow_move_constructible_v<sb::proc_memory_probe>);
static_assert(std::is_nothrow_move_assignable_v<sb::proc_memory_probe>);
static_assert(!std::is_copy_constructible_v<sb::proc_memory_probe>); // it owns file descriptors
static_assert(std::is_constructible_v<sb::proc_memory_probe, fs::path>);
static_assert(!std::is_convertible_v<fs::path, sb::proc_memory_probe>); // explicit
static_assert(
    std::is_same_v<decltype(std::declval<sb::proc_memory_probe&>().sample()), sb::memory_snapshot>);
static_assert(
    std::is_same_v<decltype(std::declval<sb::proc_memory_probe const&>().sources()), std::string>);
static_assert(std::is_base_of_v<std::runtime_error, sb::probe_error>);

constexpr std::uint64_t KiB = 1024;
constexpr std::uint64_t MiB = 1024 * KiB;
constexpr std::uint64_t GiB = 1024 * MiB;
constexpr std::string_view v1_unlimited = "9223372036854771712"; // what v1 shows without a limit

std::string num(std::uint64_t n)
{
    return std::to_string(n);
}

/// A fixture root in a fresh temporary directory (test::temp_dir), removed with everything under
/// it.
class fixture_tree {
    test::temp_dir dir_{"streambatch-probe-"};

public:
    fs::path const& root() const { return dir_.path(); }
    /// "proc/meminfo" or "/proc/meminfo" -> <root>/proc/meminfo
    fs::path path(std::string_view rel) const { return dir_ / fs::path(rel).relative_path(); }
    /// The path as the probe spells it in messages and sources().
    std::string file(std::string_view rel) const { return path(rel).string(); }

    /// Writes (or rewrites in place: truncation keeps the inode the probe has open) a file,
    /// making the directories on its way.
    void write(std::string_view rel, std::string_view text) const
    {
        fs::path const p = path(rel);
        fs::create_directories(p.parent_path());
        dir_.write(p.lexically_relative(root()), text);
    }
};

// --- /proc ----------------------------------------------------------------------------------

std::string statm(std::uint64_t resident_pages)
{
    return "52000 " + num(resident_pages) + " 3100 200 0 41000 0\n";
}

/// A current kernel's meminfo (MemAvailable present), sizes in kB.
std::string meminfo(std::uint64_t total_kb, std::uint64_t available_kb)
{
    return "MemTotal:       " + num(total_kb) +
           " kB\n"
           "MemFree:         1048576 kB\n"
           "MemAvailable:   " +
           num(available_kb) +
           " kB\n"
           "Buffers:          262144 kB\n"
           "Cached:          4194304 kB\n"
           "SwapCached:         4096 kB\n"
           "Active:          2097152 kB\n"
           "Inactive:        3145728 kB\n"
           "SwapTotal:       8388608 kB\n"
           "SwapFree:        8388608 kB\n"
           "HugePages_Total:       0\n"
           "Hugepagesize:       2048 kB\n";
}

// The system every cgroup fixture runs on: 16 GiB, 12 GiB available -> 0.25 used.
constexpr std::uint64_t sys_total_kb = 16 * MiB; // 16 GiB in kB
constexpr std::uint64_t sys_avail_kb = 12 * MiB;
constexpr std::uint64_t sys_total = sys_total_kb * KiB;
constexpr double sys_used = 0.25;
constexpr std::uint64_t resident_pages = 2500;

void write_proc(fixture_tree const& t)
{
    t.write("proc/self/statm", statm(resident_pages));
    t.write("proc/meminfo", meminfo(sys_total_kb, sys_avail_kb));
}

// --- cgroup v1 ------------------------------------------------------------------------------

constexpr std::string_view v1_mounts = //
    "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw,errors=remount-ro\n"
    "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct\n"
    "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
    "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd\n";
constexpr std::string_view v1_self = //
    "9:name=systemd:/job/leaf\n"
    "4:memory:/job/leaf\n"
    "2:cpu,cpuacct:/job/leaf\n";
constexpr std::string_view v1_top = "sys/fs/cgroup/memory";
constexpr std::string_view v1_job = "sys/fs/cgroup/memory/job";
constexpr std::string_view v1_leaf = "sys/fs/cgroup/memory/job/leaf";

/// v1 memory.stat holding `file_cache` bytes of page cache on the LRU lists, a quarter active
/// and the rest inactive (the probe subtracts both); the local (non-total_) figures differ from
/// the hierarchical totals on purpose, and anon figures are there to be ignored.
std::string v1_stat(std::uint64_t file_cache)
{
    std::uint64_t const active = file_cache / 4, inactive = file_cache - active;
    return "cache " + num(file_cache) +
           "\n"
           "rss 8388608\n"
           "mapped_file 1048576\n"
           "inactive_anon 0\n"
           "active_anon 8388608\n"
           "inactive_file " +
           num(inactive / 2) +
           "\n"
           "active_file " +
           num(active / 2) +
           "\n"
           "hierarchical_memory_limit 9223372036854771712\n"
           "total_cache " +
           num(file_cache) +
           "\n"
           "total_rss 8388608\n"
           "total_inactive_anon 0\n"
           "total_active_anon 8388608\n"
           "total_inactive_file " +
           num(inactive) +
           "\n"
           "total_active_file " +
           num(active) + "\n";
}

void v1_level(fixture_tree const& t, std::string_view dir, std::string_view limit,
              std::uint64_t usage, std::uint64_t total_inactive_file)
{
    std::string const d(dir);
    t.write(d + "/memory.limit_in_bytes", std::string(limit) + "\n");
    t.write(d + "/memory.usage_in_bytes", num(usage) + "\n");
    t.write(d + "/memory.stat", v1_stat(total_inactive_file));
    t.write(d + "/cgroup.procs", "4242\n");
}

/// /proc plus a v1 tree top -> job -> leaf, every level unlimited.
void write_v1(fixture_tree const& t)
{
    write_proc(t);
    t.write("proc/self/mountinfo", v1_mounts);
    t.write("proc/self/cgroup", v1_self);
    v1_level(t, v1_top, v1_unlimited, 6 * GiB, 2 * GiB);
    v1_level(t, v1_job, v1_unlimited, 3 * GiB, 1 * GiB);
    v1_level(t, v1_leaf, v1_unlimited, 1 * GiB, 256 * MiB);
}

// --- cgroup v2 ------------------------------------------------------------------------------

constexpr std::string_view v2_mounts = //
    "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw,errors=remount-ro\n"
    "30 22 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 "
    "rw,nsdelegate,memory_recursiveprot\n";
constexpr std::string_view v2_top = "sys/fs/cgroup";
constexpr std::string_view v2_job = "sys/fs/cgroup/job";
constexpr std::string_view v2_leaf = "sys/fs/cgroup/job/leaf";

/// v2 memory.stat with `file_cache` bytes of page cache, a quarter of it active.
std::string v2_stat(std::uint64_t file_cache)
{
    std::uint64_t const active = file_cache / 4, inactive = file_cache - active;
    return "anon 8388608\n"
           "file " +
           num(file_cache) +
           "\n"
           "kernel_stack 65536\n"
           "inactive_anon 77777\n"
           "active_anon 8388608\n"
           "inactive_file " +
           num(inactive) +
           "\n"
           "active_file " +
           num(active) + "\n";
}

void v2_level(fixture_tree const& t, std::string_view dir, std::string_view max,
              std::string_view high, std::uint64_t current, std::uint64_t inactive_file)
{
    std::string const d(dir);
    t.write(d + "/memory.max", std::string(max) + "\n");
    t.write(d + "/memory.high", std::string(high) + "\n");
    t.write(d + "/memory.current", num(current) + "\n");
    t.write(d + "/memory.stat", v2_stat(inactive_file));
    t.write(d + "/cgroup.procs", "4242\n");
}

/// /proc plus a v2 tree: the root cgroup (no memory.max/high/current, as on a real host),
/// job and leaf with memory.max and memory.high both "max".
void write_v2(fixture_tree const& t)
{
    write_proc(t);
    t.write("proc/self/mountinfo", v2_mounts);
    t.write("proc/self/cgroup", "0::/job/leaf\n");
    t.write(std::string(v2_top) + "/memory.stat", v2_stat(2 * GiB));
    t.write(std::string(v2_top) + "/cgroup.controllers", "cpuset cpu io memory pids\n");
    v2_level(t, v2_job, "max", "max", 3 * GiB, 1 * GiB);
    v2_level(t, v2_leaf, "max", "max", 1 * GiB, 256 * MiB);
}

std::string sources_for(fixture_tree const& t, int version, std::string_view dir,
                        std::size_t levels)
{
    return "rss " + t.file("proc/self/statm") + ", system " + t.file("proc/meminfo") +
           ", cgroup v" + std::to_string(version) + " " + t.file(dir) + " (" +
           std::to_string(levels) + (levels == 1 ? " level)" : " levels)");
}

std::uint64_t page_size()
{
    return static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
}
} // namespace

// --- the live system ------------------------------------------------------------------------

TEST_CASE("proc_memory_probe reads the live system's /proc", "[memory_probe]")
{
    sb::proc_memory_probe probe{};
    sb::memory_snapshot const s = probe.sample();
    CHECK(s.rss_bytes > 0);
    CHECK(s.rss_bytes % page_size() == 0);
    CHECK(s.system_total_bytes > 0);
    CHECK(s.system_available_bytes <= s.system_total_bytes);
    CHECK(s.system_used_fraction >= 0.0);
    CHECK(s.system_used_fraction <= 1.0);
    CHECK(s.used_fraction >= 0.0);
    CHECK(s.used_fraction <= 1.0);
    CHECK(s.used_fraction >= s.system_used_fraction);
    CHECK_THAT(probe.sources(), Contains("/proc/self/statm") && Contains("/proc/meminfo"));
    if (s.cgroup_limited) {
        CHECK(s.cgroup_limit_bytes > 0);
        CHECK(s.cgroup_limit_bytes < s.system_total_bytes);
    }
    SECTION("and again after a move")
    {
        sb::proc_memory_probe moved = std::move(probe);
        CHECK(moved.sample().system_total_bytes == s.system_total_bytes);
    }
}

TEST_CASE("rss_reader and peak_rss_bytes read statm and VmHWM, live and from a fixture",
          "[memory_probe]")
{
    SECTION("the live process")
    {
        sb::rss_reader rss;
        std::uint64_t const now = rss.bytes();
        CHECK(now > 0);
        CHECK(now % page_size() == 0);
        std::uint64_t const peak = sb::peak_rss_bytes();
        CHECK(peak >=
              now - std::min(now, std::uint64_t(1) << 20)); // the peak is at least about now
        CHECK(peak % 1024 == 0);
    }
    SECTION("a fixture")
    {
        fixture_tree t;
        t.write("proc/self/statm", statm(300));
        t.write("proc/self/status",
                "Name:\tjob\nVmPeak:\t  99999 kB\nVmHWM:\t   12345 kB\nVmRSS:\t  1200 kB\n");
        sb::rss_reader rss(t.root());
        CHECK(rss.bytes() == 300 * page_size());
        t.write("proc/self/statm", statm(7)); // re-read on every call
        CHECK(rss.bytes() == 7 * page_size());
        CHECK(sb::peak_rss_bytes(t.root()) == 12345u * 1024);
    }
    SECTION("missing or garbage: 0, not an exception")
    {
        fixture_tree t;
        CHECK(sb::rss_reader(t.root()).bytes() == 0);
        CHECK(sb::peak_rss_bytes(t.root()) == 0);
        t.write("proc/self/statm", "52000 lots 3100\n");
        t.write("proc/self/status", "VmHWM:\t 12x45 kB\n");
        CHECK(sb::rss_reader(t.root()).bytes() == 0);
        CHECK(sb::peak_rss_bytes(t.root()) == 0);
        t.write("proc/self/status", "VmHWM:\t 12345\n"); // no unit
        CHECK(sb::peak_rss_bytes(t.root()) == 0);
    }
}

// --- /proc/self/statm and /proc/meminfo -----------------------------------------------------

TEST_CASE("proc_memory_probe computes the system fraction as 1 - MemAvailable / MemTotal",
          "[memory_probe]")
{
    fixture_tree t;
    t.write("proc/self/statm", statm(1234));
    t.write("proc/meminfo", meminfo(16 * MiB, 4 * MiB)); // 16 GiB, 4 GiB available
    sb::proc_memory_probe probe(t.root());
    sb::memory_snapshot const s = probe.sample();

    CHECK(s.rss_bytes == 1234 * page_size());
    CHECK(s.system_total_bytes == 16 * GiB);
    CHECK(s.system_available_bytes == 4 * GiB);
    CHECK_FALSE(s.available_estimated);
    CHECK(s.system_used_fraction == 0.75);
    CHECK(s.system_used_fraction == 1.0 - double(4 * GiB) / double(16 * GiB));
    CHECK(s.used_fraction == 0.75);
    CHECK(s.source == sb::memory_source::system);
    CHECK_FALSE(s.cgroup_limited);
    CHECK(s.cgroup_limit_bytes == 0);
    CHECK(probe.cgroup().version == 0);
    CHECK(probe.cgroup().levels == 0);
    CHECK(probe.sources() == "rss " + t.file("proc/self/statm") + ", system " +
                                 t.file("proc/meminfo") + ", no memory cgroup found");
}

TEST_CASE("proc_memory_probe clamps MemAvailable to MemTotal", "[memory_probe]")
{
    fixture_tree t;
    t.write("proc/self/statm", statm(1));
    t.write("proc/meminfo", "MemTotal: 1024 kB\nMemAvailable: 2048 kB\n");
    sb::memory_snapshot const s = sb::proc_memory_probe(t.root()).sample();
    CHECK(s.system_available_bytes == 1024 * KiB);
    CHECK(s.system_used_fraction == 0.0);
}

TEST_CASE("proc_memory_probe estimates MemAvailable as MemFree + Buffers + Cached on old kernels",
          "[memory_probe]")
{
    fixture_tree t;
    t.write("proc/self/statm", statm(10));
    SECTION("all three present")
    {
        // SwapCached comes first so a loose match of "Cached" would pick the wrong line.
        t.write("proc/meminfo", "MemTotal:       8388608 kB\n"
                                "SwapCached:      999999 kB\n"
                                "MemFree:        1048576 kB\n"
                                "Buffers:         524288 kB\n"
                                "Cached:          524288 kB\n"
                                "Active:         2097152 kB\n");
        sb::memory_snapshot const s = sb::proc_memory_probe(t.root()).sample();
        CHECK(s.available_estimated);
        CHECK(s.system_total_bytes == 8 * GiB);
        CHECK(s.system_available_bytes == 2 * GiB); // 1 GiB + 512 MiB + 512 MiB
        CHECK(s.system_used_fraction == 0.75);
        CHECK(s.used_fraction == 0.75);
    }
    SECTION("Buffers and Cached missing count as 0")
    {
        t.write("proc/meminfo", "MemTotal: 8388608 kB\nMemFree: 2097152 kB\n");
        sb::memory_snapshot const s = sb::proc_memory_probe(t.root()).sample();
        CHECK(s.available_estimated);
        CHECK(s.system_available_bytes == 2 * GiB);
        CHECK(s.system_used_fraction == 0.75);
    }
}

// --- cgroup v1 ------------------------------------------------------------------------------

TEST_CASE("proc_memory_probe treats a v1 cgroup without limits as unlimited", "[memory_probe]")
{
    fixture_tree t;
    write_v1(t);
    sb::proc_memory_probe probe(t.root());
    sb::memory_snapshot const s = probe.sample();

    CHECK(probe.cgroup().version == 1);
    CHECK(probe.cgroup().directory == t.path(v1_leaf));
    CHECK(probe.cgroup().levels == 3);
    CHECK_FALSE(s.cgroup_limited);
    CHECK(s.cgroup_limit_bytes == 0);
    CHECK(s.cgroup_working_set_bytes == 0);
    CHECK(s.cgroup_used_fraction == 0.0);
    CHECK(s.system_used_fraction == sys_used);
    CHECK(s.used_fraction == s.system_used_fraction);
    CHECK(s.source == sb::memory_source::system);
    CHECK(s.rss_bytes == resident_pages * page_size());
    CHECK(probe.sources() == sources_for(t, 1, v1_leaf, 3));
}

TEST_CASE("proc_memory_probe uses a v1 leaf limit: working set = usage - total_inactive_file",
          "[memory_probe]")
{
    fixture_tree t;
    write_v1(t);
    // 896 MiB used of which 128 MiB inactive file cache: 768 MiB of 1 GiB = 0.75 > 0.25 system.
    v1_level(t, v1_leaf, num(1 * GiB), 896 * MiB, 128 * MiB);
    sb::proc_memory_probe probe(t.root());
    sb::memory_snapshot const s = probe.sample();

    CHECK(probe.cgroup().version == 1);
    CHECK(s.cgroup_limited);
    CHECK(s.cgroup_limit_bytes == 1 * GiB);
    CHECK(s.cgroup_working_set_bytes == 768 * MiB);
    CHECK(s.cgroup_used_fraction == 0.75);
    CHECK(s.system_used_fraction == sys_used);
    CHECK(s.used_fraction == 0.75);
    CHECK(s.source == sb::memory_source::cgroup);
    CHECK(probe.sources() == sources_for(t, 1, v1_leaf, 3));
    CHECK_THAT(probe.sources(), Contains(t.file(v1_leaf)));

    SECTION("the system wins when it is the tighter one")
    {
        v1_level(t, v1_leaf, num(1 * GiB), 256 * MiB + 128 * MiB, 128 * MiB); // 0.25 of the limit
        t.write("proc/meminfo", meminfo(sys_total_kb, 4 * MiB));              // 0.75 of the system
        sb::memory_snapshot const s2 = probe.sample();
        CHECK(s2.cgroup_limited);
        CHECK(s2.cgroup_used_fraction == 0.25);
        CHECK(s2.system_used_fraction == 0.75);
        CHECK(s2.used_fraction == 0.75);
        CHECK(s2.source == sb::memory_source::system);
    }
    SECTION("inactive cache above usage gives a working set of 0")
    {
        v1_level(t, v1_leaf, num(1 * GiB), 100 * MiB, 200 * MiB);
        sb::memory_snapshot const s2 = probe.sample();
        CHECK(s2.cgroup_limited);
        CHECK(s2.cgroup_working_set_bytes == 0);
        CHECK(s2.cgroup_used_fraction == 0.0);
        CHECK(s2.used_fraction == sys_used);
    }
}

TEST_CASE("proc_memory_probe falls back to inactive_file and active_file when v1 memory.stat has "
          "no total_",
          "[memory_probe]")
{
    fixture_tree t;
    write_v1(t);
    v1_level(t, v1_leaf, num(1 * GiB), 640 * MiB, 0);
    t.write(std::string(v1_leaf) + "/memory.stat",
            "cache 1\nrss 2\ninactive_file 128974848\nactive_file 3\n");
    sb::memory_snapshot const s = sb::proc_memory_probe(t.root()).sample();
    CHECK(s.cgroup_working_set_bytes == 640 * MiB - 128974848 - 3);
    CHECK(s.cgroup_used_fraction == double(640 * MiB - 128974848 - 3) / double(1 * GiB));
}

// Regression (cgroup case 3b): a file read twice moves to the active list; it is still page
// cache the kernel reclaims before an OOM kill, not pressure.
TEST_CASE("proc_memory_probe does not count active page cache as use", "[memory_probe]")
{
    fixture_tree t;
    write_v1(t);
    v1_level(t, v1_leaf, num(200 * MiB), 200 * MiB, 0);
    t.write(std::string(v1_leaf) + "/memory.stat",
            "total_rss 8388608\ntotal_inactive_file 33554432\ntotal_active_file 167772160\n");
    sb::memory_snapshot const s = sb::proc_memory_probe(t.root()).sample();
    CHECK(s.cgroup_working_set_bytes == 200 * MiB - 32 * MiB - 160 * MiB);
    CHECK(s.cgroup_used_fraction == 0.04);
}

TEST_CASE("proc_memory_probe honours a v1 limit set only on a parent cgroup", "[memory_probe]")
{
    fixture_tree t;
    write_v1(t);
    // job: 1.5 GiB used, 512 MiB inactive -> 1 GiB of 2 GiB = 0.5; the leaf's own figures differ.
    v1_level(t, v1_job, num(2 * GiB), 1536 * MiB, 512 * MiB);
    v1_level(t, v1_leaf, v1_unlimited, 300 * MiB, 10 * MiB);
    sb::proc_memory_probe probe(t.root());
    sb::memory_snapshot const s = probe.sample();

    CHECK(probe.cgroup().directory == t.path(v1_leaf));
    CHECK(probe.cgroup().levels == 3);
    CHECK(s.cgroup_limited);
    CHECK(s.cgroup_limit_bytes == 2 * GiB);
    CHECK(s.cgroup_working_set_bytes == 1 * GiB);
    CHECK(s.cgroup_used_fraction == 0.5);
    CHECK(s.used_fraction == 0.5);
    CHECK(s.source == sb::memory_source::cgroup);

    SECTION("of several limited levels the fullest one counts")
    {
        v1_level(t, v1_leaf, num(1 * GiB), 384 * MiB, 128 * MiB); // 256 MiB of 1 GiB = 0.25
        sb::memory_snapshot const s2 = probe.sample();
        CHECK(s2.cgroup_limit_bytes == 2 * GiB);
        CHECK(s2.cgroup_working_set_bytes == 1 * GiB);
        CHECK(s2.cgroup_used_fraction == 0.5);

        v1_level(t, v1_leaf, num(1 * GiB), 1024 * MiB, 128 * MiB); // 896 MiB of 1 GiB = 0.875
        sb::memory_snapshot const s3 = probe.sample();
        CHECK(s3.cgroup_limit_bytes == 1 * GiB);
        CHECK(s3.cgroup_working_set_bytes == 896 * MiB);
        CHECK(s3.cgroup_used_fraction == 0.875);
        CHECK(s3.used_fraction == 0.875);
    }
}

// --- cgroup v2 ------------------------------------------------------------------------------

TEST_CASE("proc_memory_probe treats v2 memory.max and memory.high set to max as unlimited",
          "[memory_probe]")
{
    fixture_tree t;
    write_v2(t);
    sb::proc_memory_probe probe(t.root());
    sb::memory_snapshot const s = probe.sample();

    CHECK(probe.cgroup().version == 2);
    CHECK(probe.cgroup().directory == t.path(v2_leaf));
    CHECK(probe.cgroup().levels == 3);
    CHECK_FALSE(s.cgroup_limited);
    CHECK(s.cgroup_limit_bytes == 0);
    CHECK(s.used_fraction == sys_used);
    CHECK(s.source == sb::memory_source::system);
    CHECK(probe.sources() == sources_for(t, 2, v2_leaf, 3));
}

TEST_CASE("proc_memory_probe uses v2 memory.max and memory.high, the smaller one", "[memory_probe]")
{
    fixture_tree t;
    write_v2(t);
    SECTION("memory.max = N: working set = memory.current - inactive_file")
    {
        v2_level(t, v2_leaf, num(1 * GiB), "max", 896 * MiB, 128 * MiB);
        sb::proc_memory_probe probe(t.root());
        sb::memory_snapshot const s = probe.sample();
        CHECK(probe.cgroup().version == 2);
        CHECK(s.cgroup_limited);
        CHECK(s.cgroup_limit_bytes == 1 * GiB);
        CHECK(s.cgroup_working_set_bytes == 768 * MiB); // not minus inactive_anon (77777)
        CHECK(s.cgroup_used_fraction == 0.75);
        CHECK(s.used_fraction == 0.75);
        CHECK(s.source == sb::memory_source::cgroup);
        CHECK(probe.sources() == sources_for(t, 2, v2_leaf, 3));
    }
    SECTION("memory.high below memory.max")
    {
        v2_level(t, v2_leaf, num(1 * GiB), num(512 * MiB), 512 * MiB, 256 * MiB);
        sb::memory_snapshot const s = sb::proc_memory_probe(t.root()).sample();
        CHECK(s.cgroup_limit_bytes == 512 * MiB);
        CHECK(s.cgroup_working_set_bytes == 256 * MiB);
        CHECK(s.cgroup_used_fraction == 0.5);
        CHECK(s.used_fraction == 0.5);
    }
    SECTION("memory.max below memory.high")
    {
        v2_level(t, v2_leaf, num(512 * MiB), num(1 * GiB), 512 * MiB, 256 * MiB);
        sb::memory_snapshot const s = sb::proc_memory_probe(t.root()).sample();
        CHECK(s.cgroup_limit_bytes == 512 * MiB);
        CHECK(s.cgroup_used_fraction == 0.5);
    }
    SECTION("memory.high alone")
    {
        v2_level(t, v2_leaf, "max", num(1 * GiB), 512 * MiB, 0);
        sb::memory_snapshot const s = sb::proc_memory_probe(t.root()).sample();
        CHECK(s.cgroup_limited);
        CHECK(s.cgroup_limit_bytes == 1 * GiB);
        CHECK(s.cgroup_working_set_bytes == 512 * MiB);
        CHECK(s.cgroup_used_fraction == 0.5);
    }
    SECTION("a limit on the parent only")
    {
        v2_level(t, v2_job, num(4 * GiB), "max", 3 * GiB, 1 * GiB);
        sb::memory_snapshot const s = sb::proc_memory_probe(t.root()).sample();
        CHECK(s.cgroup_limit_bytes == 4 * GiB);
        CHECK(s.cgroup_working_set_bytes == 2 * GiB);
        CHECK(s.cgroup_used_fraction == 0.5);
        CHECK(s.used_fraction == 0.5);
    }
}

// --- which hierarchy ------------------------------------------------------------------------

TEST_CASE("proc_memory_probe picks the v1 memory hierarchy on a hybrid host", "[memory_probe]")
{
    fixture_tree t;
    write_v1(t);
    v1_level(t, v1_leaf, num(1 * GiB), 896 * MiB, 128 * MiB);
    // cgroup2 at /sys/fs/cgroup/unified, without the memory controller: no memory.current.
    t.write("sys/fs/cgroup/unified/cgroup.controllers", "\n");
    t.write("sys/fs/cgroup/unified/job/leaf/cgroup.procs", "4242\n");
    std::string const unified =
        "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";
    t.write("proc/self/cgroup", std::string(v1_self) + "0::/job/leaf\n");
    SECTION("cgroup2 listed after the v1 mounts")
    {
        t.write("proc/self/mountinfo", std::string(v1_mounts) + unified);
    }
    SECTION("cgroup2 listed before the v1 mounts")
    {
        t.write("proc/self/mountinfo", unified + std::string(v1_mounts));
    }

    sb::proc_memory_probe probe(t.root());
    sb::memory_snapshot const s = probe.sample();
    CHECK(probe.cgroup().version == 1);
    CHECK(probe.cgroup().directory == t.path(v1_leaf));
    CHECK(s.cgroup_limited);
    CHECK(s.cgroup_limit_bytes == 1 * GiB);
    CHECK(s.cgroup_used_fraction == 0.75);
    CHECK(s.source == sb::memory_source::cgroup);
    CHECK(probe.sources() == sources_for(t, 1, v1_leaf, 3));
}

TEST_CASE(
    "proc_memory_probe finds no cgroup when cgroup2 lacks the memory controller and v1 has none",
    "[memory_probe]")
{
    fixture_tree t;
    write_proc(t);
    t.write("proc/self/mountinfo",
            "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
            "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
            "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct\n"
            "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n");
    t.write("proc/self/cgroup", "2:cpu,cpuacct:/job/leaf\n0::/job/leaf\n");
    t.write("sys/fs/cgroup/unified/job/leaf/cgroup.procs", "4242\n");
    t.write("sys/fs/cgroup/cpu,cpuacct/job/leaf/cpu.shares", "1024\n");

    sb::proc_memory_probe probe(t.root());
    sb::memory_snapshot const s = probe.sample();
    CHECK(probe.cgroup().version == 0);
    CHECK(probe.cgroup().directory.empty());
    CHECK(probe.cgroup().levels == 0);
    CHECK_FALSE(s.cgroup_limited);
    CHECK(s.used_fraction == sys_used);
    CHECK_THAT(probe.sources(), Contains("no memory cgroup found"));
}

TEST_CASE("proc_memory_probe is fine without any cgroup file system", "[memory_probe]")
{
    fixture_tree t;
    write_proc(t); // no mountinfo, no /proc/self/cgroup, no /sys
    sb::proc_memory_probe probe(t.root());
    sb::memory_snapshot const s = probe.sample();
    CHECK(probe.cgroup().version == 0);
    CHECK_FALSE(s.cgroup_limited);
    CHECK(s.used_fraction == sys_used);
}

TEST_CASE("proc_memory_probe counts a limit at or above MemTotal as unlimited", "[memory_probe]")
{
    fixture_tree t;
    write_v1(t);
    SECTION("v1 limit == MemTotal")
    {
        v1_level(t, v1_leaf, num(sys_total), 15 * GiB, 0);
        sb::memory_snapshot const s = sb::proc_memory_probe(t.root()).sample();
        CHECK_FALSE(s.cgroup_limited);
        CHECK(s.used_fraction == sys_used);
    }
    SECTION("v1 limit above MemTotal")
    {
        v1_level(t, v1_leaf, num(sys_total + 1), 15 * GiB, 0);
        CHECK_FALSE(sb::proc_memory_probe(t.root()).sample().cgroup_limited);
    }
    SECTION("v1 limit one page below MemTotal is a limit")
    {
        v1_level(t, v1_leaf, num(sys_total - 4096), 8 * GiB - 2048, 0);
        sb::memory_snapshot const s = sb::proc_memory_probe(t.root()).sample();
        CHECK(s.cgroup_limited);
        CHECK(s.cgroup_limit_bytes == sys_total - 4096);
        CHECK(s.cgroup_used_fraction == 0.5);
        CHECK(s.used_fraction == 0.5);
    }
    SECTION("v2 memory.max == MemTotal")
    {
        fixture_tree t2;
        write_v2(t2);
        v2_level(t2, v2_leaf, num(sys_total), num(sys_total + GiB), 15 * GiB, 0);
        sb::proc_memory_probe probe(t2.root());
        CHECK(probe.cgroup().version == 2);
        CHECK_FALSE(probe.sample().cgroup_limited);
    }
}

// --- containers: the mount shows a sub-tree of the hierarchy ---------------------------------

namespace {
/// Docker on v1 without a cgroup namespace: the memory mount's root is the container's cgroup.
void write_container_v1(fixture_tree const& t, std::string_view self_path)
{
    write_proc(t);
    t.write(
        "proc/self/mountinfo",
        "700 600 0:50 / / rw,relatime master:300 - overlay overlay "
        "rw,lowerdir=/l,upperdir=/u,workdir=/w\n"
        "710 700 0:55 / /sys/fs/cgroup ro,nosuid,nodev,noexec,relatime - tmpfs tmpfs rw,mode=755\n"
        "715 710 0:32 /docker/abc /sys/fs/cgroup/memory ro,nosuid,nodev,noexec,relatime master:15 "
        "- cgroup "
        "cgroup rw,memory\n");
    t.write("proc/self/cgroup", "4:memory:" + std::string(self_path) + "\n");
    v1_level(t, v1_top, num(2 * GiB), 1536 * MiB, 512 * MiB); // 1 GiB of 2 GiB
}
} // namespace

TEST_CASE("proc_memory_probe resolves a container's cgroup to the mount point", "[memory_probe]")
{
    fixture_tree t;
    SECTION("the process in the container's own cgroup")
    {
        write_container_v1(t, "/docker/abc");
        sb::proc_memory_probe probe(t.root());
        sb::memory_snapshot const s = probe.sample();
        CHECK(probe.cgroup().version == 1);
        CHECK(fs::equivalent(probe.cgroup().directory, t.path(v1_top)));
        CHECK(s.cgroup_limited);
        CHECK(s.cgroup_limit_bytes == 2 * GiB);
        CHECK(s.cgroup_working_set_bytes == 1 * GiB);
        CHECK(s.cgroup_used_fraction == 0.5);
        CHECK(s.used_fraction == 0.5);
        CHECK(s.source == sb::memory_source::cgroup);
    }
    SECTION("the process in a child of the container's cgroup")
    {
        write_container_v1(t, "/docker/abc/worker");
        v1_level(t, std::string(v1_top) + "/worker", v1_unlimited, 100 * MiB, 0);
        sb::proc_memory_probe probe(t.root());
        sb::memory_snapshot const s = probe.sample();
        CHECK(probe.cgroup().directory == t.path(std::string(v1_top) + "/worker"));
        CHECK(probe.cgroup().levels == 2);
        CHECK(s.cgroup_limit_bytes == 2 * GiB);
        CHECK(s.cgroup_used_fraction == 0.5);
    }
    SECTION("a sibling whose name starts with the mount root is not taken for a child of it")
    {
        write_container_v1(t, "/docker/abcdef");
        sb::proc_memory_probe probe(t.root());
        CHECK(fs::equivalent(probe.cgroup().directory, t.path(v1_top))); // not <top>/def
        CHECK(probe.cgroup().levels == 1);
    }
    SECTION("a cgroup path the mount does not show falls back to the mount point")
    {
        write_container_v1(t, "/elsewhere/xyz");
        sb::proc_memory_probe probe(t.root());
        CHECK(probe.cgroup().version == 1);
        CHECK(fs::equivalent(probe.cgroup().directory, t.path(v1_top)));
        CHECK(probe.sample().cgroup_limit_bytes == 2 * GiB);
    }
}

// Regression: a cgroup path that resolves to the mount point itself used to become the mount
// point with a trailing '/', so the same directory was read as two levels.
TEST_CASE("proc_memory_probe reports the mount point itself as one level", "[memory_probe]")
{
    fixture_tree t;
    SECTION("container: mount root and cgroup path both /docker/abc (v1)")
    {
        write_container_v1(t, "/docker/abc");
        sb::proc_memory_probe probe(t.root());
        CHECK(probe.cgroup().directory == t.path(v1_top));
        CHECK(probe.cgroup().levels == 1);
        CHECK(probe.sources() == sources_for(t, 1, v1_top, 1));
    }
    SECTION("cgroup namespace: /proc/self/cgroup says 0::/ (v2)")
    {
        write_proc(t);
        t.write("proc/self/mountinfo", v2_mounts);
        t.write("proc/self/cgroup", "0::/\n");
        v2_level(t, v2_top, num(1 * GiB), "max", 512 * MiB, 0);
        sb::proc_memory_probe probe(t.root());
        CHECK(probe.sample().cgroup_used_fraction == 0.5);
        CHECK(probe.cgroup().directory == t.path(v2_top));
        CHECK(probe.cgroup().levels == 1);
    }
}

// --- re-reading -----------------------------------------------------------------------------

TEST_CASE("proc_memory_probe re-reads every file on each sample", "[memory_probe]")
{
    fixture_tree t;
    write_v1(t);
    v1_level(t, v1_leaf, num(1 * GiB), 896 * MiB, 128 * MiB);
    sb::proc_memory_probe probe(t.root());
    REQUIRE(probe.sample().cgroup_used_fraction == 0.75);

    SECTION("the usage file")
    {
        t.write(std::string(v1_leaf) + "/memory.usage_in_bytes", num(640 * MiB) + "\n");
        sb::memory_snapshot const s = probe.sample();
        CHECK(s.cgroup_working_set_bytes == 512 * MiB);
        CHECK(s.cgroup_used_fraction == 0.5);
        CHECK(s.used_fraction == 0.5);
        // A longer figure than before, then a shorter one: no stale bytes survive.
        t.write(std::string(v1_leaf) + "/memory.usage_in_bytes", num(1 * GiB) + "\n");
        CHECK(probe.sample().cgroup_working_set_bytes == 896 * MiB);
        t.write(std::string(v1_leaf) + "/memory.usage_in_bytes", "9\n");
        CHECK(probe.sample().cgroup_working_set_bytes == 0);
    }
    SECTION("the limit, statm and meminfo")
    {
        t.write(std::string(v1_leaf) + "/memory.limit_in_bytes", num(3 * GiB) + "\n");
        t.write("proc/self/statm", statm(7));
        t.write("proc/meminfo", meminfo(sys_total_kb, 8 * MiB));
        sb::memory_snapshot const s = probe.sample();
        CHECK(s.cgroup_limit_bytes == 3 * GiB);
        CHECK(s.cgroup_used_fraction == 0.25);
        CHECK(s.rss_bytes == 7 * page_size());
        CHECK(s.system_used_fraction == 0.5);
        CHECK(s.used_fraction == 0.5);
        CHECK(s.source == sb::memory_source::system);
    }
    SECTION("a file that turns to garbage later throws from sample()")
    {
        t.write("proc/self/statm", "abc\n");
        CHECK_THROWS_AS(probe.sample(), sb::probe_error);
        CHECK_THROWS_WITH(probe.sample(), Contains(t.file("proc/self/statm")));
        t.write("proc/self/statm", statm(3));
        CHECK(probe.sample().rss_bytes == 3 * page_size());
    }
}

// --- errors ---------------------------------------------------------------------------------

TEST_CASE("proc_memory_probe names the file and what it expected when /proc is unusable",
          "[memory_probe]")
{
    fixture_tree t;
    std::string const statm_path = t.file("proc/self/statm");
    std::string const meminfo_path = t.file("proc/meminfo");
    auto make = [&] { return sb::proc_memory_probe(t.root()); };

    SECTION("missing statm")
    {
        t.write("proc/meminfo", meminfo(sys_total_kb, sys_avail_kb));
        CHECK_THROWS_AS(make(), sb::probe_error);
        CHECK_THROWS_WITH(make(), Contains(statm_path) && Contains("cannot open"));
    }
    SECTION("missing meminfo")
    {
        t.write("proc/self/statm", statm(1));
        CHECK_THROWS_WITH(make(), Contains(meminfo_path) && Contains("cannot open"));
    }
    SECTION("statm garbage")
    {
        write_proc(t);
        t.write("proc/self/statm", "abc");
        CHECK_THROWS_AS(make(), sb::probe_error);
        CHECK_THROWS_WITH(make(),
                          Contains(statm_path) && Contains("expected") && Contains("'abc'"));
    }
    SECTION("statm with a non-number resident count")
    {
        write_proc(t);
        t.write("proc/self/statm", "52000 12x 3100 200 0 41000 0\n");
        CHECK_THROWS_WITH(make(), Contains(statm_path) && Contains("expected"));
    }
    SECTION("meminfo without MemTotal")
    {
        write_proc(t);
        t.write("proc/meminfo", "MemFree: 1048576 kB\nMemAvailable: 2097152 kB\n");
        CHECK_THROWS_AS(make(), sb::probe_error);
        CHECK_THROWS_WITH(make(), Contains(meminfo_path) && Contains("MemTotal"));
    }
    SECTION("meminfo with MemTotal 0")
    {
        write_proc(t);
        t.write("proc/meminfo", "MemTotal: 0 kB\nMemAvailable: 0 kB\n");
        CHECK_THROWS_WITH(make(),
                          Contains(meminfo_path) && Contains("MemTotal") && Contains("n > 0"));
    }
    SECTION("meminfo with a value that is not a number")
    {
        write_proc(t);
        t.write("proc/meminfo", "MemTotal: 16777216 kB\nMemAvailable: lots kB\n");
        CHECK_THROWS_WITH(make(), Contains(meminfo_path) &&
                                      Contains("a number after 'MemAvailable'") &&
                                      Contains("lots"));
    }
    SECTION("meminfo truncated after 'MemTotal: 12'")
    {
        // The header's reading: "12" without " kB" is 12 bytes (a valid MemTotal), and the
        // file then lacks both MemAvailable and MemFree, which is the error reported.
        write_proc(t);
        t.write("proc/meminfo", "MemTotal: 12");
        CHECK_THROWS_AS(make(), sb::probe_error);
        CHECK_THROWS_WITH(make(), Contains(meminfo_path) && Contains("MemAvailable") &&
                                      Contains("MemFree") && Contains("found 'MemTotal: 12'"));
    }
    SECTION("meminfo truncated in the middle of the MemTotal line")
    {
        write_proc(t);
        t.write("proc/meminfo", "MemTotal:");
        CHECK_THROWS_WITH(make(), Contains(meminfo_path) && Contains("a number after 'MemTotal'"));
    }
    SECTION("meminfo truncated in the middle of a key")
    {
        write_proc(t);
        t.write("proc/meminfo", "MemTotal: 16777216 kB\nMemFree: 1048576 kB\nMemAvail");
        sb::memory_snapshot const s = make().sample(); // "MemAvail" is no key: the estimate is used
        CHECK(s.available_estimated);
        CHECK(s.system_available_bytes == 1 * GiB);
    }
    SECTION("meminfo without MemAvailable and MemFree")
    {
        write_proc(t);
        t.write("proc/meminfo", "MemTotal: 16777216 kB\nBuffers: 1 kB\n");
        CHECK_THROWS_WITH(make(), Contains(meminfo_path) && Contains("MemAvailable") &&
                                      Contains("MemFree"));
    }
}

TEST_CASE("proc_memory_probe names the cgroup file and what it expected when one is garbage",
          "[memory_probe]")
{
    fixture_tree t;
    write_v1(t);
    auto make = [&] { return sb::proc_memory_probe(t.root()); };
    std::string const limit_path = t.file(std::string(v1_leaf) + "/memory.limit_in_bytes");
    std::string const usage_path = t.file(std::string(v1_leaf) + "/memory.usage_in_bytes");

    SECTION("a v1 limit of 'lots'")
    {
        t.write(std::string(v1_leaf) + "/memory.limit_in_bytes", "lots\n");
        CHECK_THROWS_AS(make(), sb::probe_error);
        CHECK_THROWS_WITH(make(),
                          Contains(limit_path) && Contains("byte count") && Contains("'lots'"));
    }
    SECTION("a usage file of garbage under a limit")
    {
        v1_level(t, v1_leaf, num(1 * GiB), 0, 0);
        t.write(std::string(v1_leaf) + "/memory.usage_in_bytes", "many\n");
        CHECK_THROWS_AS(make(), sb::probe_error);
        CHECK_THROWS_WITH(make(),
                          Contains(usage_path) && Contains("byte count") && Contains("'many'"));
    }
    SECTION("a usage file of garbage without a limit is not read")
    {
        t.write(std::string(v1_leaf) + "/memory.usage_in_bytes", "many\n");
        CHECK_FALSE(make().sample().cgroup_limited);
    }
    SECTION("a memory.stat figure that is not a number")
    {
        v1_level(t, v1_leaf, num(1 * GiB), 0, 0);
        std::string const stat_path = t.file(std::string(v1_leaf) + "/memory.stat");
        t.write(std::string(v1_leaf) + "/memory.stat", "total_inactive_file -1\n");
        CHECK_THROWS_WITH(make(), Contains(stat_path) && Contains("total_inactive_file"));
    }
    SECTION("a v2 memory.max of garbage")
    {
        fixture_tree t2;
        write_v2(t2);
        t2.write(std::string(v2_leaf) + "/memory.max", "unlimited\n");
        CHECK_THROWS_WITH(sb::proc_memory_probe(t2.root()),
                          Contains(t2.file(std::string(v2_leaf) + "/memory.max")) &&
                              Contains("byte count or 'max'"));
    }
}
