#include <streambatch/views/adaptive_chunk.hpp>

#include <catch2/catch.hpp>

#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "support/archetypes.hpp"

namespace sb = streambatch;
using Catch::Matchers::Contains;
using test::batch_sizes;

namespace {
using vec_ref = std::ranges::ref_view<std::vector<std::string>>;
static_assert(std::ranges::forward_range<sb::adaptive_chunk_view<vec_ref>>);
static_assert(
    std::ranges::input_range<sb::adaptive_chunk_view<test::single_pass_view<std::string>>>);
static_assert(
    !std::ranges::forward_range<sb::adaptive_chunk_view<test::single_pass_view<std::string>>>);

constexpr std::size_t str_bytes(std::size_t len) // a heap-allocated std::string of len chars
{
    return sizeof(std::string) + len + 1;
}

std::vector<std::string> strings(std::vector<std::size_t> const& lengths)
{
    std::vector<std::string> out;
    for (std::size_t i = 0; i < lengths.size(); ++i)
        out.emplace_back(lengths[i], char('a' + i % 26));
    return out;
}

// The same source through the forward path and the single-pass path must batch alike.
std::vector<std::size_t> both_paths(std::vector<std::string> const& data,
                                    sb::adaptive_chunk_options o)
{
    auto fwd = batch_sizes(data | sb::views::adaptive_chunk(o));
    auto copy = data;
    std::size_t total = 0;
    std::vector<std::size_t> in;
    std::size_t at = 0;
    for (auto batch : test::single_pass_view<std::string>(copy) | sb::views::adaptive_chunk(o)) {
        in.push_back(batch.size());
        for (auto& s : batch) {
            CHECK(s == data[at]); // every record, in order, none lost
            ++at;
        }
        total += batch.size();
    }
    CHECK(total == data.size());
    CHECK(in == fwd);
    return fwd;
}
} // namespace

TEST_CASE("adaptive_chunk closes a batch before the record that would pass the budget",
          "[adaptive_chunk]")
{
    // 100-char strings weigh 133 bytes each with libstdc++ (32 + 101).
    auto data = strings(std::vector<std::size_t>(20, 100));
    std::size_t const w = str_bytes(100);
    SECTION("exactly 3 records fit")
    {
        CHECK(both_paths(data, {.target_bytes = 3 * w, .min_records = 1}) ==
              std::vector<std::size_t>{3, 3, 3, 3, 3, 3, 2});
    }
    SECTION("one byte less: 2 fit")
    {
        CHECK(both_paths(data, {.target_bytes = 3 * w - 1, .min_records = 1}) ==
              std::vector<std::size_t>(10, 2));
    }
    SECTION("max_records closes first")
    {
        CHECK(both_paths(data, {.target_bytes = 1 << 20, .min_records = 1, .max_records = 7}) ==
              std::vector<std::size_t>{7, 7, 6});
    }
    SECTION("min_records wins over the budget")
    {
        CHECK(both_paths(data, {.target_bytes = w, .min_records = 4, .max_records = 10}) ==
              std::vector<std::size_t>{4, 4, 4, 4, 4});
    }
    SECTION("defaults: 50 MiB, 10..10000")
    {
        sb::adaptive_chunk_options o;
        CHECK(o.target_bytes == 50u << 20);
        CHECK(o.min_records == 10);
        CHECK(o.max_records == 10'000);
        CHECK(both_paths(strings(std::vector<std::size_t>(25'000, 100)), {}) ==
              std::vector<std::size_t>{10'000, 10'000, 5'000});
    }
}

TEST_CASE("a record heavier than the budget ships alone, never dropped or split",
          "[adaptive_chunk]")
{
    auto data = strings({100, 100, 5000, 100, 100, 100, 9000});
    CHECK(both_paths(data, {.target_bytes = 1000, .min_records = 2, .max_records = 10}) ==
          std::vector<std::size_t>{2, 1, 3, 1});
    SECTION("first record heavy")
    {
        CHECK(both_paths(strings({5000, 100}), {.target_bytes = 1000, .min_records = 1}) ==
              std::vector<std::size_t>{1, 1});
    }
    SECTION("only heavy records")
    {
        CHECK(both_paths(strings({5000, 5000, 5000}), {.target_bytes = 10, .min_records = 1}) ==
              std::vector<std::size_t>{1, 1, 1});
    }
}

TEST_CASE("adaptive_chunk weighs with record_bytes, so heap memory counts", "[adaptive_chunk]")
{
    // Short strings live in the small-string buffer: 32 bytes each, no heap.
    auto small = strings(std::vector<std::size_t>(10, 5));
    CHECK(both_paths(small, {.target_bytes = 4 * sizeof(std::string), .min_records = 1}) ==
          std::vector<std::size_t>{4, 4, 2});
}

TEST_CASE("adaptive_chunk of an empty source gives no batch", "[adaptive_chunk]")
{
    std::vector<std::string> none;
    CHECK(batch_sizes(none | sb::views::adaptive_chunk()).empty());
    CHECK(batch_sizes(test::single_pass_view<std::string>(none) | sb::views::adaptive_chunk())
              .empty());
}

TEST_CASE("adaptive_chunk over std::views::istream and a call with the range first",
          "[adaptive_chunk][input]")
{
    std::istringstream in("aaaa bbbb cccc dddd eeee");
    CHECK(batch_sizes(sb::views::adaptive_chunk(
              std::views::istream<std::string>(in),
              {.target_bytes = 2 * sizeof(std::string), .min_records = 1})) ==
          std::vector<std::size_t>{2, 2, 1});
}

TEST_CASE("adaptive_chunk moves single-pass records, never copies them", "[adaptive_chunk][input]")
{
    std::vector<test::counted> data;
    for (int i = 0; i < 50; ++i)
        data.emplace_back(i, std::string(200, 'x'));
    test::counted::reset();
    std::size_t n = 0;
    for (auto batch : test::single_pass_view<test::counted>(data) |
                          sb::views::adaptive_chunk({.target_bytes = 1000, .min_records = 1}))
        n += batch.size();
    CHECK(n == 50);
    CHECK(test::counted::copies == 0);
}

TEST_CASE("adaptive_chunk takes from a single-pass source only the records of the batches it "
          "handed out",
          "[adaptive_chunk][input]")
{
    // A job source's position() after a batch must name that batch's end: the record that
    // closed a batch (it did not fit) must still be the source's, not moved out or passed.
    auto data = strings({300, 300, 300, 300, 300, 300, 300});
    std::size_t handed = 0;
    std::vector<std::size_t> sizes;
    for (auto batch : test::single_pass_view<std::string>(data) |
                          sb::views::adaptive_chunk({.target_bytes = 700, .min_records = 1})) {
        handed += batch.size();
        sizes.push_back(batch.size());
        std::size_t taken = 0; // records moved out of the source so far
        for (auto const& s : data)
            taken += s.empty() ? 1 : 0;
        CHECK(taken == handed);
    }
    CHECK(sizes == std::vector<std::size_t>{2, 2, 2, 1});
}

TEST_CASE("adaptive_chunk makes each record of a value-yielding source once",
          "[adaptive_chunk][input]")
{
    auto data = strings({300, 300, 300, 300, 300});
    int made = 0;
    auto values = test::single_pass_view<std::string>(data) |
                  std::views::transform([&made](std::string const& s) {
                      ++made;
                      return s;
                  });
    std::size_t n = 0;
    for (auto batch : values | sb::views::adaptive_chunk({.target_bytes = 700, .min_records = 1}))
        n += batch.size();
    CHECK(n == 5);
    CHECK(made == 5);
}

TEST_CASE("adaptive_chunk rejects nonsense options, naming the option and the value",
          "[adaptive_chunk][errors]")
{
    CHECK_THROWS_AS(sb::views::adaptive_chunk({.target_bytes = 0}), std::invalid_argument);
    CHECK_THROWS_WITH(sb::views::adaptive_chunk({.target_bytes = 0}),
                      Contains("adaptive_chunk") && Contains("target_bytes = 0"));
    CHECK_THROWS_WITH(sb::views::adaptive_chunk({.min_records = 0}), Contains("min_records = 0"));
    CHECK_THROWS_WITH(sb::views::adaptive_chunk({.max_records = 0}), Contains("max_records = 0"));
    CHECK_THROWS_WITH(sb::views::adaptive_chunk({.min_records = 20, .max_records = 5}),
                      Contains("min_records = 20") && Contains("max_records = 5"));
    std::vector<std::string> v;
    CHECK_THROWS_WITH(sb::views::adaptive_chunk(v, {.target_bytes = 0}), Contains("target_bytes"));
}
