// streambatch/guard/malloc_policy.hpp: keep glibc from trimming the heap between batches.
//
// In:     malloc_policy_options: trim_threshold (64 MiB) and mmap_threshold (32 MiB), and whether
//         a setting the user made (MALLOC_TRIM_THRESHOLD_, MALLOC_MMAP_THRESHOLD_,
//         MALLOC_TOP_PAD_ or GLIBC_TUNABLES with glibc.malloc.*) wins (yes by default).
// Out:    a scoped object. While one lives, glibc's malloc keeps up to trim_threshold bytes of
//         free memory at the top of its heap instead of returning it to the kernel after every
//         free, and serves blocks below mmap_threshold from the heap instead of mmap/munmap.
//         That is the allocator tax of batches: a batch's records are freed together, the heap
//         top passes glibc's default trim threshold (128 KiB), glibc gives it back (brk), and
//         the next batch faults the same pages back in (bench/RESULTS-alloc.md: the hand-written
//         loop pays 6-10x its time). The destructor of the last live policy sets both thresholds
//         back to glibc's documented defaults (128 KiB); see Errors for what cannot be restored.
//         applied() says whether it changed anything; describe() says what and why not.
// Models: RAII, neither copyable nor movable; nestable (a count: the outermost one applies and
//         restores). Process-wide: it acts on every thread's malloc, which is why the library
//         never makes one on its own: the program does, once, in main.
// Memory: at most trim_threshold bytes of free heap kept resident (plus what sits free below
//         the top, as without it). The memory guard's release after a shrink (malloc_trim(0),
//         guard/memory_guard.hpp) ignores the threshold and returns all of it under pressure,
//         so the guard's RSS bound holds (tests/guard/test_malloc_policy.cpp,
//         docs/memory-guard.md).
// Errors: none thrown. Not applied (applied() false, describe() saying why): not glibc; the
//         allocator is jemalloc, mimalloc or a sanitizer's (found with dlsym; they do not trim
//         this way); the
//         user set a malloc variable or tunable (respect_environment); mallopt refused.
//         glibc cannot report its thresholds and once mallopt sets one its dynamic mmap
//         threshold stays off: the restore is to the static defaults, not to earlier calls of
//         mallopt by the program.
// Example:
//     int main() {
//         streambatch::malloc_policy keep_heap;        // explicit: the whole process, until exit
//         std::fprintf(stderr, "%s\n", keep_heap.describe().c_str());
//         for (auto&& batch : records | streambatch::views::memory_guarded(1000)) ...
//     }

#ifndef STREAMBATCH_GUARD_MALLOC_POLICY_HPP_INCLUDED
#define STREAMBATCH_GUARD_MALLOC_POLICY_HPP_INCLUDED

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>

#include <dlfcn.h>
#if defined(__GLIBC__)
#    include <malloc.h>
#endif

namespace streambatch {

struct malloc_policy_options {
    /// Free bytes glibc may keep at the top of the heap (M_TRIM_THRESHOLD); 0: leave it.
    std::size_t trim_threshold = std::size_t{64} << 20;
    /// Blocks at least this large are mmapped (M_MMAP_THRESHOLD, at most 32 MiB on 64-bit
    /// glibc); 0: leave it. Setting the trim threshold turns glibc's dynamic mmap threshold off,
    /// so without this a batch vector above 128 KiB would be mmapped and unmapped every batch.
    std::size_t mmap_threshold = std::size_t{32} << 20;
    /// A malloc setting the user made in the environment wins: nothing is changed.
    bool respect_environment = true;
};

namespace detail {

/// The glibc malloc variable or tunable the user set, or nullptr.
inline char const* user_malloc_setting() noexcept
{
    for (char const* name : {"MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TOP_PAD_",
                             "MALLOC_MMAP_MAX_"})
        if (std::getenv(name) != nullptr)
            return name;
    if (char const* t = std::getenv("GLIBC_TUNABLES"); t && std::strstr(t, "glibc.malloc."))
        return "GLIBC_TUNABLES (glibc.malloc.*)";
    return nullptr;
}

/// The allocator this process runs on, when it is not glibc's own malloc: "jemalloc",
/// "mimalloc", "a sanitizer's", "not glibc"; nullptr for glibc.
inline char const* other_allocator() noexcept
{
#if defined(__GLIBC__)
    if (::dlsym(RTLD_DEFAULT, "__asan_init") != nullptr ||
        ::dlsym(RTLD_DEFAULT, "__tsan_init") != nullptr ||
        ::dlsym(RTLD_DEFAULT, "__msan_init") != nullptr)
        return "a sanitizer's";
    if (::dlsym(RTLD_DEFAULT, "mallctl") != nullptr)
        return "jemalloc";
    if (::dlsym(RTLD_DEFAULT, "mi_collect") != nullptr)
        return "mimalloc";
    return nullptr;
#else
    return "not glibc";
#endif
}

struct malloc_policy_state {
    std::mutex mutex;
    unsigned live = 0;    // policies alive
    bool applied = false; // the outermost one changed the thresholds
    std::string what;     // its describe()
};

inline malloc_policy_state& malloc_policy_global() noexcept
{
    static malloc_policy_state s;
    return s;
}

} // namespace detail

/// While alive, glibc keeps freed batches' memory for the next batch; see the header comment.
class malloc_policy {
public:
    /// glibc's defaults for both thresholds (mallopt(3)), set back by the last policy to go.
    static constexpr std::size_t glibc_default_threshold = 128 * 1024;

    explicit malloc_policy(malloc_policy_options const& opts = {})
    {
        auto& g = detail::malloc_policy_global();
        std::lock_guard lock(g.mutex);
        if (g.live++ > 0) {
            applied_ = g.applied;
            what_ = g.what + " (by an outer streambatch::malloc_policy)";
            return;
        }
        g.applied = false;
        if (char const* other = detail::other_allocator()) {
            g.what = std::string("malloc left alone: the allocator is ") + other;
        } else if (char const* env =
                       opts.respect_environment ? detail::user_malloc_setting() : nullptr) {
            g.what = std::string("malloc left alone: ") + env + " is set";
        } else if (opts.trim_threshold == 0 && opts.mmap_threshold == 0) {
            g.what = "malloc left alone: both thresholds 0";
        } else {
#if defined(__GLIBC__)
            std::string w;
            bool ok = true;
            if (opts.trim_threshold != 0) {
                ok = ::mallopt(M_TRIM_THRESHOLD, clamp(opts.trim_threshold)) == 1 && ok;
                w += "M_TRIM_THRESHOLD " + mib(opts.trim_threshold);
            }
            if (opts.mmap_threshold != 0) {
                ok = ::mallopt(M_MMAP_THRESHOLD, clamp(opts.mmap_threshold)) == 1 && ok;
                w += std::string(w.empty() ? "" : ", ") + "M_MMAP_THRESHOLD " +
                     mib(opts.mmap_threshold);
            }
            g.applied = true; // even half applied: the destructor restores both
            g.what = ok ? "malloc: " + w : "malloc: mallopt refused part of: " + w;
#endif
        }
        applied_ = g.applied;
        what_ = g.what;
    }

    malloc_policy(malloc_policy const&) = delete;
    malloc_policy& operator=(malloc_policy const&) = delete;

    ~malloc_policy()
    {
        auto& g = detail::malloc_policy_global();
        std::lock_guard lock(g.mutex);
        if (--g.live > 0 || !g.applied)
            return;
#if defined(__GLIBC__)
        ::mallopt(M_TRIM_THRESHOLD, static_cast<int>(glibc_default_threshold));
        ::mallopt(M_MMAP_THRESHOLD, static_cast<int>(glibc_default_threshold));
#endif
        g.applied = false;
    }

    /// Whether the thresholds are changed (by this policy or an outer one).
    bool applied() const noexcept { return applied_; }
    /// "malloc: M_TRIM_THRESHOLD 64 MiB, M_MMAP_THRESHOLD 32 MiB", or why malloc was left alone.
    std::string const& describe() const noexcept { return what_; }

private:
    bool applied_ = false;
    std::string what_;

    static int clamp(std::size_t n) noexcept
    {
        return n > std::size_t{1} << 30 ? 1 << 30 : static_cast<int>(n);
    }
    static std::string mib(std::size_t n)
    {
        return n % (1 << 20) == 0 ? std::to_string(n >> 20) + " MiB" : std::to_string(n) + " bytes";
    }
};

} // namespace streambatch

#endif // STREAMBATCH_GUARD_MALLOC_POLICY_HPP_INCLUDED
