// Two translation units include every header (fmt's ranges-odr-test): the link fails if a
// header defines something that is not inline.
#include <streambatch.hpp>

#include <catch2/catch.hpp>

#include <vector>

std::size_t odr_batches_b(std::vector<int> const& v);

std::size_t odr_batches_a(std::vector<int> const& v)
{
    return static_cast<std::size_t>(std::ranges::distance(v | streambatch::views::chunk(2)));
}

TEST_CASE("the headers link from two translation units", "[odr]")
{
    std::vector<int> v(5);
    CHECK(odr_batches_a(v) == 3);
    CHECK(odr_batches_b(v) == 3);
}
