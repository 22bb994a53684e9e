// expect: required expression .*p\.next_batch_size\(n\).* is invalid|.not_a_policy. does not
// satisfy .batch_size_policy. A policy must answer next_batch_size(current); the error names the
// concept it misses.
#include <streambatch/views/memory_guarded.hpp>

#include <vector>

struct not_a_policy {
    std::size_t size() const { return 10; }
};

int main()
{
    std::vector<int> v(10);
    auto batches = v | streambatch::views::memory_guarded(10, not_a_policy{});
    (void)batches;
}
