// A consumer of an installed (or add_subdirectory'd) streambatch; see tests/CMakeLists.txt.
// Built with -Wall -Wextra -Werror; exits non-zero if a batch count is wrong.
#include <streambatch.hpp>

#include <cstddef>
#include <cstdio>
#include <functional>
#include <ranges>
#include <sstream>
#include <string>
#include <vector>

namespace consumer {
struct order {
    int id = 0;
    std::string note;
};
// A record_bytes overload, found by ADL: every order weighs 1000 bytes.
std::size_t record_bytes(order const&)
{
    return 1000;
}
} // namespace consumer

namespace {
struct fixed_policy {
    std::size_t next_batch_size(std::size_t current) { return current; }
};

template <class Batches>
std::vector<std::size_t> batch_sizes(Batches&& batches)
{
    std::vector<std::size_t> sizes;
    for (auto&& batch : batches)
        sizes.push_back(static_cast<std::size_t>(std::ranges::size(batch)));
    return sizes;
}

int check(char const* what, std::vector<std::size_t> const& got,
          std::vector<std::size_t> const& want)
{
    if (got == want)
        return 0;
    std::fprintf(stderr, "%s: got %zu batches (", what, got.size());
    for (auto n : got)
        std::fprintf(stderr, " %zu", n);
    std::fprintf(stderr, " ), want %zu\n", want.size());
    return 1;
}
} // namespace

int main()
{
    std::vector<std::string> records;
    for (int i = 0; i < 25; ++i)
        records.push_back("record " + std::to_string(i));

    int failures = 0;
    failures +=
        check("chunk(10)", batch_sizes(records | streambatch::views::chunk(10)), {10, 10, 5});
    failures += check("memory_guarded(10, policy)",
                      batch_sizes(records | streambatch::views::memory_guarded(10, fixed_policy{})),
                      {10, 10, 5});
    failures += check(
        "adaptive_chunk(1 MiB)",
        batch_sizes(records | streambatch::views::adaptive_chunk({.target_bytes = 1 << 20})), {25});
    failures += check("chunk(records, 10)", batch_sizes(streambatch::views::chunk(records, 10)),
                      {10, 10, 5});
    failures += check("memory_guarded(records, 10)",
                      batch_sizes(streambatch::views::memory_guarded(records, 10)), {10, 10, 5});
    failures += check(
        "adaptive_chunk(records, options)",
        batch_sizes(streambatch::views::adaptive_chunk(
            records, streambatch::adaptive_chunk_options{.min_records = 1, .max_records = 4})),
        {4, 4, 4, 4, 4, 4, 1});

    // The names a job uses: the default guard by reference, its probe and snapshot.
    streambatch::memory_guard guard;
    std::istringstream in("1 2 3 4 5 6 7");
    failures += check("istream | memory_guarded(3, std::ref(guard))",
                      batch_sizes(std::views::istream<int>(in) |
                                  streambatch::views::memory_guarded(3, std::ref(guard))),
                      {3, 3, 1});
    streambatch::proc_memory_probe probe;
    streambatch::memory_snapshot const snap = probe.sample();
    if (!(snap.used_fraction >= 0.0 && snap.used_fraction <= 1.0) || snap.rss_bytes == 0) {
        std::fprintf(stderr, "proc_memory_probe: implausible snapshot\n");
        ++failures;
    }
    streambatch::memory_exhausted const e("test", snap, 10);
    if (e.batch_size != 10)
        ++failures;

    // record_bytes: the ADL overload decides adaptive_chunk's batches (3 x 1000 <= 3500).
    std::vector<consumer::order> orders(7);
    if (streambatch::record_bytes(orders[0]) != 1000)
        ++failures;
    failures += check("adaptive_chunk over orders",
                      batch_sizes(orders | streambatch::views::adaptive_chunk(
                                               {.target_bytes = 3500, .min_records = 1})),
                      {3, 3, 1});

    if (STREAMBATCH_VERSION != STREAMBATCH_VERSION_MAJOR * 10000 + STREAMBATCH_VERSION_MINOR * 100 +
                                   STREAMBATCH_VERSION_PATCH) {
        std::fprintf(stderr, "STREAMBATCH_VERSION is inconsistent\n");
        ++failures;
    }
    return failures == 0 ? 0 : 1;
}
