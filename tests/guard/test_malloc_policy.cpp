// Tests of streambatch::malloc_policy: applied, nested and restored; what it changes in glibc's
// heap (a freed batch stays at the heap top instead of going back to the kernel); that the memory
// guard's release after a shrink still returns that memory; a user's malloc setting wins.
// glibc's heap is read with mallinfo2() (keepcost: the free top of the heap; arena: its size).
// Each TEST_CASE runs in its own process (CTest), so the heap starts from the same state.

#include <streambatch/guard/malloc_policy.hpp>
#include <streambatch/guard/memory_guard.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#if defined(__GLIBC__)
#    include <malloc.h>
#endif

namespace sb = streambatch;
using Catch::Matchers::Contains;

namespace {

constexpr std::size_t mib = std::size_t{1} << 20;

void clear_malloc_environment()
{
    for (char const* v : {"MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TOP_PAD_",
                          "MALLOC_MMAP_MAX_", "GLIBC_TUNABLES"})
        ::unsetenv(v);
}

/// Whether this process's malloc is glibc's own (not a sanitizer's, jemalloc, ...).
bool glibc_malloc()
{
    return sb::detail::other_allocator() == nullptr;
}

#if defined(__GLIBC__)
/// A batch of `n` 500-byte records' heap, allocated and freed together (in allocation order,
/// as a vector of records is destroyed). Returns the free top of the heap after the free.
std::size_t free_a_batch(std::size_t n)
{
    std::vector<void*> blocks;
    blocks.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
        blocks.push_back(std::malloc(500));
        static_cast<char*>(blocks.back())[0] = 1; // touch it, as a record's payload is
    }
    for (void* p : blocks)
        std::free(p);
    return ::mallinfo2().keepcost;
}
#endif

struct pressure_probe { // says 85 % used: the guard shrinks
    sb::memory_snapshot sample()
    {
        sb::memory_snapshot s;
        s.used_fraction = 0.85;
        return s;
    }
    std::string sources() const { return "a test"; }
};

struct still_clock {
    std::chrono::nanoseconds t{1'000'000'000};
    std::chrono::nanoseconds now() const noexcept { return t; }
    void sleep_for(std::chrono::nanoseconds d) { t += d; }
};

} // namespace

TEST_CASE("malloc_policy: applied and nested then restored to the glibc defaults")
{
    clear_malloc_environment();
    if (!glibc_malloc()) {
        sb::malloc_policy p;
        CHECK_FALSE(p.applied());
        CHECK_THAT(p.describe(), Contains("malloc left alone: the allocator is"));
        return;
    }
    {
        sb::malloc_policy outer;
        REQUIRE(outer.applied());
        CHECK(outer.describe() == "malloc: M_TRIM_THRESHOLD 64 MiB, M_MMAP_THRESHOLD 32 MiB");
        {
            sb::malloc_policy inner({.trim_threshold = 1 * mib});
            CHECK(inner.applied());
            CHECK_THAT(inner.describe(), Contains("M_TRIM_THRESHOLD 64 MiB") &&
                                             Contains("by an outer streambatch::malloc_policy"));
        }
#if defined(__GLIBC__)
        // The inner one's end restored nothing: a freed 4 MB batch stays at the heap top.
        CHECK(free_a_batch(8000) >= 3 * mib);
#endif
    }
#if defined(__GLIBC__)
    // The outer one's end restored glibc's 128 KiB: the next freed batch goes back (glibc keeps
    // its 128 KiB top pad).
    CHECK(free_a_batch(8000) < mib / 2);
#endif
    sb::malloc_policy again({.trim_threshold = 3 * mib / 2, .mmap_threshold = 0});
    CHECK(again.applied());
    CHECK(again.describe() == "malloc: M_TRIM_THRESHOLD 1572864 bytes");
}

TEST_CASE(
    "malloc_policy: a freed batch stays at the heap top for the next batch up to trim_threshold")
{
    clear_malloc_environment();
    if (!glibc_malloc())
        return; // nothing to observe: the sanitizer's allocator
#if defined(__GLIBC__)
    std::size_t const without = free_a_batch(8000);
    CHECK(without < mib / 2); // glibc's default: the 4 MB went back to the kernel
    sb::malloc_policy policy({.trim_threshold = 16 * mib});
    REQUIRE(policy.applied());
    std::size_t const kept = free_a_batch(8000);
    CHECK(kept >= 3 * mib);
    // The next batch is served from what was kept: the heap does not grow.
    std::size_t const arena = ::mallinfo2().arena;
    CHECK(free_a_batch(8000) >= 3 * mib);
    CHECK(::mallinfo2().arena == arena);
    // Above trim_threshold, glibc trims again: RSS stays bounded by it.
    CHECK(free_a_batch(64000) < 16 * mib + mib);
#endif
}

TEST_CASE("malloc_policy: the memory guard's release after a shrink returns the kept heap")
{
    clear_malloc_environment();
    if (!glibc_malloc())
        return;
#if defined(__GLIBC__)
    sb::malloc_policy policy;
    REQUIRE(policy.applied());
    REQUIRE(free_a_batch(16000) >= 6 * mib);
    sb::basic_memory_guard<pressure_probe, still_clock> guard; // the default release
    CHECK(guard.next_batch_size(1000) == 500);
    CHECK(guard.releases() == 1);
    CHECK(::mallinfo2().keepcost < mib / 2); // malloc_trim(0) ignores the threshold
#endif
}

TEST_CASE("malloc_policy: a malloc setting in the environment wins")
{
    clear_malloc_environment();
    if (!glibc_malloc())
        return;
    ::setenv("MALLOC_TRIM_THRESHOLD_", "1000000", 1);
    {
        sb::malloc_policy p;
        CHECK_FALSE(p.applied());
        CHECK(p.describe() == "malloc left alone: MALLOC_TRIM_THRESHOLD_ is set");
        sb::malloc_policy nested;
        CHECK_FALSE(nested.applied());
    }
    {
        sb::malloc_policy forced({.respect_environment = false});
        CHECK(forced.applied());
    }
    ::unsetenv("MALLOC_TRIM_THRESHOLD_");
    ::setenv("GLIBC_TUNABLES", "glibc.malloc.trim_threshold=1000000", 1);
    {
        sb::malloc_policy p;
        CHECK_FALSE(p.applied());
        CHECK(p.describe() == "malloc left alone: GLIBC_TUNABLES (glibc.malloc.*) is set");
    }
    ::setenv("GLIBC_TUNABLES", "glibc.pthread.rseq=0", 1);
    {
        sb::malloc_policy p;
        CHECK(p.applied()); // a tunable that is not malloc's
    }
    ::unsetenv("GLIBC_TUNABLES");
    sb::malloc_policy none({.trim_threshold = 0, .mmap_threshold = 0});
    CHECK_FALSE(none.applied());
    CHECK(none.describe() == "malloc left alone: both thresholds 0");
}
