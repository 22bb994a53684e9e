// expect: adaptive_chunk_fn\) \(int\)|no known conversion from .int. to .const
// adaptive_chunk_options. adaptive_chunk takes options (a byte budget), not a record count: use
// chunk(n) for that.
#include <streambatch/views/adaptive_chunk.hpp>

#include <vector>

int main()
{
    std::vector<int> v(10);
    auto batches = v | streambatch::views::adaptive_chunk(100);
    (void)batches;
}
