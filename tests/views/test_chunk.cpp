#include <streambatch/interop/range_v3.hpp>
#include <streambatch/views/chunk.hpp>

#include <catch2/catch.hpp>
#include <range/v3/view/iota.hpp>
#include <range/v3/view/transform.hpp>

#include <forward_list>
#include <memory>
#include <numeric>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "support/archetypes.hpp"

namespace sb = streambatch;
using Catch::Matchers::Contains;
using test::batch_sizes;

namespace {
using vec_ref = std::ranges::ref_view<std::vector<int>>;
using istream_view = std::ranges::basic_istream_view<int, char, std::char_traits<char>>;
using fwd_list_ref = std::ranges::ref_view<std::forward_list<int>>;

// What the result models, stated before any run-time test.
static_assert(std::ranges::forward_range<sb::chunk_view<vec_ref>>);
static_assert(std::ranges::sized_range<sb::chunk_view<vec_ref>>);
static_assert(std::ranges::view<sb::chunk_view<vec_ref>>);
static_assert(std::ranges::forward_range<sb::chunk_view<fwd_list_ref>>);
static_assert(!std::ranges::sized_range<sb::chunk_view<fwd_list_ref>>);
static_assert(
    std::ranges::sized_range<std::ranges::range_reference_t<sb::chunk_view<fwd_list_ref>>>);
static_assert(std::ranges::input_range<sb::chunk_view<istream_view>>);
static_assert(!std::ranges::forward_range<sb::chunk_view<istream_view>>);
static_assert(
    std::ranges::contiguous_range<std::ranges::range_reference_t<sb::chunk_view<istream_view>>>);
static_assert(
    std::ranges::sized_range<std::ranges::range_reference_t<sb::chunk_view<istream_view>>>);
static_assert(
    std::same_as<std::ranges::range_reference_t<sb::chunk_view<istream_view>>, sb::batch<int>>);
static_assert(std::ranges::input_range<sb::chunk_view<test::single_pass_view<int>>>);
static_assert(
    std::ranges::input_range<sb::chunk_view<test::move_only_view<test::single_pass_view<int>>>>);
// Not a range: a compile-time error, not a runtime one.
static_assert(!std::invocable<decltype(sb::views::chunk), int, int>);
static_assert(!std::invocable<decltype(sb::views::chunk), std::vector<int>&, double>);

std::vector<int> iota_vec(int n)
{
    std::vector<int> v(static_cast<std::size_t>(n));
    std::iota(v.begin(), v.end(), 0);
    return v;
}

template <class R>
std::vector<std::vector<int>> values(R&& batches)
{
    std::vector<std::vector<int>> out;
    for (auto&& b : batches)
        out.emplace_back(std::ranges::begin(b), std::ranges::end(b));
    return out;
}
} // namespace

TEST_CASE("chunk splits a vector into batches of n, the last one short", "[chunk]")
{
    auto v = iota_vec(10);
    SECTION("pipe")
    {
        CHECK(values(v | sb::views::chunk(4)) ==
              std::vector<std::vector<int>>{{0, 1, 2, 3}, {4, 5, 6, 7}, {8, 9}});
    }
    SECTION("call")
    {
        CHECK(batch_sizes(sb::views::chunk(v, 5)) == std::vector<std::size_t>{5, 5});
    }
    SECTION("n larger than the source")
    {
        CHECK(batch_sizes(v | sb::views::chunk(1000)) == std::vector<std::size_t>{10});
    }
    SECTION("n == 1")
    {
        CHECK(batch_sizes(v | sb::views::chunk(1)).size() == 10);
    }
    SECTION("size() without walking")
    {
        CHECK((v | sb::views::chunk(3)).size() == 4);
        CHECK((v | sb::views::chunk(5)).size() == 2);
    }
    SECTION("any integer type for n")
    {
        CHECK(batch_sizes(v | sb::views::chunk(std::size_t{4})).size() == 3);
        CHECK(batch_sizes(v | sb::views::chunk(short{4})).size() == 3);
    }
}

TEST_CASE("chunk over a forward source gives views into it, not copies", "[chunk]")
{
    auto v = iota_vec(7);
    std::size_t at = 0;
    for (auto batch : v | sb::views::chunk(3)) {
        CHECK(&*batch.begin() == &v[at]);
        at += batch.size();
    }
    CHECK(at == 7);

    SECTION("writes through the batch reach the source")
    {
        for (auto batch : v | sb::views::chunk(3))
            for (int& x : batch)
                x = -x;
        CHECK(v[6] == -6);
    }
    SECTION("the range of batches is multipass")
    {
        auto c = v | sb::views::chunk(3);
        auto it = c.begin();
        auto copy = it;
        ++it;
        CHECK((*copy).size() == 3);
        CHECK(*(*copy).begin() == 0);
        CHECK(*(*it).begin() == 3);
        CHECK(batch_sizes(c) == batch_sizes(c));
    }
    SECTION("forward_list: batches are sized although the list is not")
    {
        std::forward_list<int> fl{1, 2, 3, 4, 5};
        CHECK(batch_sizes(fl | sb::views::chunk(2)) == std::vector<std::size_t>{2, 2, 1});
    }
}

TEST_CASE("chunk of an empty source gives no batch", "[chunk]")
{
    std::vector<int> empty;
    CHECK(batch_sizes(empty | sb::views::chunk(3)).empty());
    CHECK((empty | sb::views::chunk(3)).size() == 0);
    std::istringstream in("");
    CHECK(batch_sizes(std::views::istream<int>(in) | sb::views::chunk(3)).empty());
    std::vector<int> none;
    CHECK(batch_sizes(test::single_pass_view<int>(none) | sb::views::chunk(3)).empty());
}

TEST_CASE("chunk rejects n <= 0, naming the adaptor and the value", "[chunk][errors]")
{
    std::vector<int> v{1, 2};
    CHECK_THROWS_AS(sb::views::chunk(0), std::invalid_argument);
    CHECK_THROWS_WITH(sb::views::chunk(0), Contains("chunk") && Contains("got 0"));
    CHECK_THROWS_WITH(sb::views::chunk(v, -3), Contains("chunk") && Contains("got -3"));
}

TEST_CASE("chunk over a single-pass source moves records into a reused buffer", "[chunk][input]")
{
    std::vector<test::counted> data;
    for (int i = 0; i < 10; ++i)
        data.emplace_back(i, std::string(100, char('a' + i)));
    test::counted::reset();

    std::vector<int> ids;
    std::vector<test::counted*> buffers;
    for (auto batch : test::single_pass_view<test::counted>(data) | sb::views::chunk(4)) {
        static_assert(std::same_as<decltype(batch), sb::batch<test::counted>>);
        buffers.push_back(batch.data());
        for (auto& r : batch) {
            CHECK(r.payload == std::string(100, char('a' + r.id)));
            ids.push_back(r.id);
        }
    }
    CHECK(ids == iota_vec(10));
    CHECK(test::counted::copies == 0);
    CHECK(test::counted::moves == 10); // one move per record, into the buffer
    REQUIRE(buffers.size() == 3);
    CHECK(buffers[1] == buffers[0]); // the steady state allocates nothing
    CHECK(buffers[2] == buffers[0]);
}

TEST_CASE("chunk over std::views::istream", "[chunk][input]")
{
    std::istringstream in("1 2 3 4 5 6 7");
    CHECK(values(std::views::istream<int>(in) | sb::views::chunk(3)) ==
          std::vector<std::vector<int>>{{1, 2, 3}, {4, 5, 6}, {7}});
}

TEST_CASE("chunk over a move-only, non-default-constructible single-pass view", "[chunk][input]")
{
    std::vector<int> data = iota_vec(5);
    auto src = test::move_only_view(test::single_pass_view<int>(data));
    static_assert(!std::copy_constructible<decltype(src)>);
    auto batches = std::move(src) | sb::views::chunk(2);
    CHECK(values(batches) == std::vector<std::vector<int>>{{0, 1}, {2, 3}, {4}});
    CHECK(batches.records_consumed() == 5);
    CHECK(batches.batches_produced() == 3);
}

TEST_CASE("records of a move-only type: the caller moves records or whole batches out",
          "[chunk][input]")
{
    std::vector<std::unique_ptr<int>> data;
    for (int i = 0; i < 7; ++i)
        data.push_back(std::make_unique<int>(i));

    SECTION("moving records out of each batch")
    {
        std::vector<std::unique_ptr<int>> out;
        for (auto batch : test::single_pass_view<std::unique_ptr<int>>(data) | sb::views::chunk(3))
            for (auto& p : batch)
                out.push_back(std::move(p));
        REQUIRE(out.size() == 7);
        CHECK(*out[6] == 6);
    }
    SECTION("taking whole batches (to a queue or another thread)")
    {
        std::vector<std::vector<std::unique_ptr<int>>> kept;
        for (auto batch :
             test::single_pass_view<std::unique_ptr<int>>(data) | sb::views::chunk(3)) {
            kept.push_back(batch.take());
            CHECK(batch.empty()); // the window is empty once its buffer is taken
        }
        REQUIRE(kept.size() == 3);
        CHECK(kept[0].size() == 3);
        CHECK(kept[2].size() == 1);
        CHECK(*kept[1][0] == 3);
        CHECK(*kept[2][0] == 6);
    }
    SECTION("over a forward source the batch refers to the vector's own pointers")
    {
        for (auto batch : data | sb::views::chunk(3))
            CHECK(batch.begin()->get() != nullptr);
        CHECK(*data[0] == 0);
    }
}

TEST_CASE("chunk composes with std::views pipelines", "[chunk][interop]")
{
    auto sizes = std::views::iota(0, 10) | std::views::transform([](int x) { return x * 2; }) |
                 sb::views::chunk(4) |
                 std::views::transform([](auto b) { return std::ranges::size(b); });
    CHECK(test::to_vector(sizes) == std::vector<std::size_t>{4, 4, 2});

    auto v = iota_vec(9);
    auto evens = v | std::views::filter([](int x) { return x % 2 == 0; }) | sb::views::chunk(2);
    CHECK(values(evens) == std::vector<std::vector<int>>{{0, 2}, {4, 6}, {8}});

    std::istringstream in("5 6 7");
    auto doubled = std::views::istream<int>(in) |
                   std::views::transform([](int x) { return 2 * x; }) | sb::views::chunk(2);
    CHECK(values(doubled) == std::vector<std::vector<int>>{{10, 12}, {14}});
}

TEST_CASE("chunk closures can be stored, reused and composed", "[chunk]")
{
    auto by3 = sb::views::chunk(3);
    auto v = iota_vec(7);
    CHECK(batch_sizes(v | by3) == std::vector<std::size_t>{3, 3, 1});
    CHECK(batch_sizes(v | by3) == std::vector<std::size_t>{3, 3, 1});
}

TEST_CASE("chunk and range-v3, as far as range-v3 allows", "[chunk][interop]")
{
    SECTION("a range-v3 view as the source")
    {
        auto src =
            ranges::views::iota(0, 10) | ranges::views::transform([](int x) { return x + 1; });
        CHECK(batch_sizes(src | sb::views::chunk(4)) == std::vector<std::size_t>{4, 4, 2});
    }
    SECTION("an lvalue of ours into a range-v3 closure")
    {
        auto v = iota_vec(5);
        auto batches = v | sb::views::chunk(2);
        auto sizes = batches | ranges::views::transform([](auto b) { return b.size(); });
        CHECK(test::to_vector(sizes) == std::vector<std::size_t>{2, 2, 1});
    }
    SECTION("an rvalue of ours over a default-constructible std view into a range-v3 closure")
    {
        auto sizes = std::views::iota(0, 5) | sb::views::chunk(2) |
                     ranges::views::transform([](auto b) { return b.size(); });
        CHECK(test::to_vector(sizes) == std::vector<std::size_t>{2, 2, 1});
    }
}
