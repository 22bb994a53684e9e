// expect: detail::chunk_fn\) \(int, int\)|.int. does not satisfy .viewable_range.
// views::chunk takes a viewable input range; an int is not one.
#include <streambatch/views/chunk.hpp>

int main()
{
    auto v = streambatch::views::chunk(42, 3);
    (void)v;
}
