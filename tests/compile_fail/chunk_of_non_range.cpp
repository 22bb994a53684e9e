// expect: (constraints not satisfied|no match|no matching)
// views::chunk takes a viewable input range; an int is not one.
#include <streambatch/views/chunk.hpp>

int main()
{
    auto v = streambatch::views::chunk(42, 3);
    (void)v;
}
