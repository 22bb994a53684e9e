// expect: (discards qualifiers|passing 'const|no matching|no member named 'begin'|const)
// The view of a single-pass source owns the position: it cannot be walked through a const&.
#include <streambatch/views/chunk.hpp>

#include <sstream>
#include <utility>

int main()
{
    std::istringstream in("1 2 3");
    auto const batches = std::views::istream<int>(in) | streambatch::views::chunk(2);
    for (auto&& b : batches)
        (void)b;
}
