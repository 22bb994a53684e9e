// A consumer of an installed (or add_subdirectory'd) streambatch; see tests/CMakeLists.txt.
// Built with -Wall -Wextra -Werror; exits non-zero if a batch count is wrong.
#include <cstddef>
#include <cstdio>
#include <ranges>
#include <streambatch.hpp>
#include <string>
#include <vector>

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
    if (STREAMBATCH_VERSION != STREAMBATCH_VERSION_MAJOR * 10000 + STREAMBATCH_VERSION_MINOR * 100 +
                                   STREAMBATCH_VERSION_PATCH) {
        std::fprintf(stderr, "STREAMBATCH_VERSION is inconsistent\n");
        ++failures;
    }
    return failures == 0 ? 0 : 1;
}
