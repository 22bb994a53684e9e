// expect: batch_view<std::ranges::basic_istream_view<.* discards qualifiers|member function .begin.
// has type .const .*batch_view<std::ranges::basic_istream_view< The view of a single-pass source
// owns the position: it cannot be walked through a const&.
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
