// expect: is_integral_v<_Tp> \[with _Tp = double\]|.double. does not satisfy .integral.
// A batch size is a whole number of records: chunk(2.5) must not compile (no silent truncation).
#include <streambatch/views/chunk.hpp>

#include <vector>

int main()
{
    std::vector<int> v(10);
    auto batches = v | streambatch::views::chunk(2.5);
    (void)batches;
}
