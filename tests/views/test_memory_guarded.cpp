#include <streambatch/views/memory_guarded.hpp>

#include <catch2/catch.hpp>

#include <functional>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <vector>

#include "support/archetypes.hpp"

namespace sb = streambatch;
using Catch::Matchers::Contains;
using test::batch_sizes;

namespace {
/// Answers from a script and records every `current` it was told.
struct scripted {
    std::vector<std::size_t> answers;
    std::vector<std::size_t> told{};
    std::size_t at = 0;
    std::size_t next_batch_size(std::size_t current)
    {
        told.push_back(current);
        return at < answers.size() ? answers[at++] : current;
    }
};

struct same {
    std::size_t next_batch_size(std::size_t c) const { return c; }
};

struct move_only_policy {
    std::unique_ptr<int> state = std::make_unique<int>(0);
    std::size_t next_batch_size(std::size_t c)
    {
        ++*state;
        return c;
    }
};

struct no_policy {};

using vec_ref = std::ranges::ref_view<std::vector<int>>;
static_assert(sb::batch_size_policy<same>);
static_assert(sb::batch_size_policy<std::reference_wrapper<scripted>>);
static_assert(sb::batch_size_policy<sb::memory_guard>);
static_assert(!sb::batch_size_policy<no_policy>);
static_assert(std::ranges::input_range<sb::memory_guarded_view<vec_ref, same>>);
static_assert(
    !std::ranges::forward_range<sb::memory_guarded_view<vec_ref, same>>); // the policy has state
static_assert(std::ranges::sized_range<
              std::ranges::range_reference_t<sb::memory_guarded_view<vec_ref, same>>>);
static_assert(
    !std::invocable<decltype(sb::views::memory_guarded), std::vector<int>&, int, no_policy>);
} // namespace

TEST_CASE("memory_guarded asks the policy before every batch, the first included",
          "[memory_guarded]")
{
    std::vector<int> v(20);
    scripted p{{4, 8, 2, 100}};
    CHECK(batch_sizes(v | sb::views::memory_guarded(5, std::ref(p))) ==
          std::vector<std::size_t>{4, 8, 2, 6});
    // current = n at the start, then whatever it answered last; not asked after the source ends.
    CHECK(p.told == std::vector<std::size_t>{5, 4, 8, 2});
}

TEST_CASE("memory_guarded takes a policy by value, by std::ref, or the default guard",
          "[memory_guarded]")
{
    std::vector<int> v(25);
    CHECK(batch_sizes(v | sb::views::memory_guarded(10, same{})) ==
          std::vector<std::size_t>{10, 10, 5});
    CHECK(batch_sizes(sb::views::memory_guarded(v, 10, same{})) ==
          std::vector<std::size_t>{10, 10, 5});
    SECTION("move-only policy")
    {
        CHECK(batch_sizes(v | sb::views::memory_guarded(10, move_only_policy{})) ==
              std::vector<std::size_t>{10, 10, 5});
    }
    SECTION("the default memory_guard on this machine: plenty of memory, so sizes hold")
    {
        CHECK(batch_sizes(v | sb::views::memory_guarded(10)) ==
              std::vector<std::size_t>{10, 10, 5});
        CHECK(batch_sizes(sb::views::memory_guarded(v, 7)) == std::vector<std::size_t>{7, 7, 7, 4});
    }
    SECTION("std::ref lets the caller read the guard afterwards")
    {
        sb::memory_guard g;
        CHECK(batch_sizes(v | sb::views::memory_guarded(10, std::ref(g))).size() == 3);
        CHECK(g.batches() == 3);
        CHECK(g.starting_size() == 10);
        CHECK(g.samples() >= 1);
    }
}

TEST_CASE("memory_guarded over single-pass sources moves records into a reused buffer",
          "[memory_guarded][input]")
{
    std::vector<test::counted> data;
    for (int i = 0; i < 30; ++i)
        data.emplace_back(i, std::string(64, 'p'));
    test::counted::reset();
    scripted p{{10, 5, 5, 20}};
    std::vector<int> ids;
    for (auto batch :
         test::single_pass_view<test::counted>(data) | sb::views::memory_guarded(10, std::ref(p)))
        for (auto& r : batch)
            ids.push_back(r.id);
    CHECK(ids.size() == 30);
    CHECK(ids.back() == 29);
    CHECK(test::counted::copies == 0);

    std::istringstream in("1 2 3 4 5");
    CHECK(batch_sizes(std::views::istream<int>(in) | sb::views::memory_guarded(2, same{})) ==
          std::vector<std::size_t>{2, 2, 1});
}

TEST_CASE("memory_guarded with a shrinking policy never loses a record", "[memory_guarded]")
{
    std::vector<int> v(1000);
    for (int i = 0; i < 1000; ++i)
        v[static_cast<std::size_t>(i)] = i;
    struct halving {
        std::size_t next_batch_size(std::size_t c) const { return c > 1 ? c / 2 : 1; }
    };
    int expect = 0;
    std::vector<int> copy = v;
    for (auto batch : test::single_pass_view<int>(copy) | sb::views::memory_guarded(256, halving{}))
        for (int x : batch)
            CHECK(x == expect++);
    CHECK(expect == 1000);
}

TEST_CASE("memory_guarded rejects n <= 0 and a policy that answers 0", "[memory_guarded][errors]")
{
    std::vector<int> v(5);
    CHECK_THROWS_WITH(sb::views::memory_guarded(0),
                      Contains("memory_guarded") && Contains("got 0"));
    CHECK_THROWS_WITH(sb::views::memory_guarded(-2, same{}),
                      Contains("memory_guarded") && Contains("got -2"));
    scripted zero{{3, 0}};
    auto view = v | sb::views::memory_guarded(3, std::ref(zero));
    auto it = view.begin();
    CHECK((*it).size() == 3);
    CHECK_THROWS_WITH(++it, Contains("memory_guarded") && Contains("batch size of 0"));
}
