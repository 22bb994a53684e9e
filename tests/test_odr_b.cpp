// The second translation unit of test_odr_a.cpp: the same headers, every one of them.
#include <functional>
#include <vector>

#include "odr_all_headers.hpp"

std::size_t odr_batches_b(std::vector<int> const& v)
{
    streambatch::memory_guard guard;
    auto batches = v | streambatch::views::memory_guarded(2, std::ref(guard));
    std::size_t n = 0;
    for (auto&& b : batches)
        n += b.empty() ? 0 : 1;
    return n;
}
