#include <streambatch/partition.hpp>
#include <streambatch/views/chunk.hpp>

#include <catch2/catch.hpp>

#include <map>
#include <numeric>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "support/archetypes.hpp"

namespace sb = streambatch;
using Catch::Matchers::Contains;

namespace {

/// A fake environment for detail::partition_from.
sb::partition from_env(std::map<std::string, std::string> const& env,
                       std::optional<std::uint32_t> k8s = {})
{
    return sb::detail::partition_from(
        [&env](char const* name) -> std::optional<std::string> {
            if (auto it = env.find(name); it != env.end())
                return it->second;
            return std::nullopt;
        },
        k8s);
}

std::string env_error(std::map<std::string, std::string> const& env,
                      std::optional<std::uint32_t> k8s = {})
{
    try {
        (void)from_env(env, k8s);
    } catch (sb::partition_error const& e) {
        return e.what();
    }
    FAIL("no partition_error");
    return {};
}

} // namespace

TEST_CASE("partition: names sort in index order and bad pairs are refused", "[partition]")
{
    CHECK(sb::partition{3, 8}.name() == "part-0003-of-0008");
    CHECK(sb::partition{3, 8}.str() == "3/8");
    CHECK(sb::partition{12345, 20000}.name() == "part-12345-of-20000");
    CHECK(sb::partition{}.whole());
    CHECK_THROWS_WITH(sb::partition({0, 0}).check(), Contains("count must be at least 1"));
    CHECK_THROWS_WITH(sb::partition({4, 4}).check(), Contains("index 4 is not below count 4"));
    std::vector<int> v{1, 2, 3};
    CHECK_THROWS_AS(sb::views::every_nth(sb::partition{2, 2}), std::invalid_argument);
    CHECK_THROWS_AS(sb::views::every_nth(v, sb::partition{0, 0}), std::invalid_argument);
}

TEST_CASE("partition::parse reads back what str() writes, and names what is wrong otherwise",
          "[partition]")
{
    CHECK(sb::partition::parse("3/8") == sb::partition{3, 8});
    CHECK(sb::partition::parse("0/1") == sb::partition{});
    CHECK(sb::partition::parse("4294967294/4294967295") == sb::partition{4294967294u, 4294967295u});
    for (sb::partition p : {sb::partition{0, 1}, sb::partition{3, 8}, sb::partition{12345, 20000}})
        CHECK(sb::partition::parse(p.str()) == p);

    auto error = [](std::string_view text) -> std::string {
        try {
            (void)sb::partition::parse(text);
        } catch (sb::partition_error const& e) {
            return e.what();
        }
        return "no partition_error";
    };
    // Every message names the text and the expected form.
    for (std::string_view bad : {"", "3", "3/", "/8", "8/8", "3/0", "a/b", "3/8x", "-1/8", " 3/8",
                                 "+3/8", "3/8/2", "1/4294967296"}) {
        INFO("'" << bad << "'");
        std::string const e = error(bad);
        CHECK_THAT(e, Contains("streambatch::partition::parse: \"" + std::string(bad) + "\"") &&
                          Contains("expected \"index/count\", e.g. \"3/8\""));
    }
    CHECK_THAT(error(""), Contains(": empty"));
    CHECK_THAT(error("3"), Contains("no '/'"));
    CHECK_THAT(error("3/"), Contains("the count is missing"));
    CHECK_THAT(error("/8"), Contains("the index is missing"));
    CHECK_THAT(error("8/8"), Contains("the index 8 is not below the count 8"));
    CHECK_THAT(error("3/0"), Contains("the count must be at least 1"));
    CHECK_THAT(error("a/b"), Contains("the index \"a\" is not a whole number"));
    CHECK_THAT(error("3/8x"), Contains("the count \"8x\" is not a whole number"));
    CHECK_THAT(error("-1/8"), Contains("the index \"-1\" is not a whole number"));
    CHECK_THAT(error("1/4294967296"), Contains("the count \"4294967296\" is not a whole number"));
}

TEST_CASE("partition_from_environment: MPI, Slurm arrays and Kubernetes Indexed Jobs",
          "[partition]")
{
    SECTION("Open MPI")
    {
        CHECK(from_env({{"OMPI_COMM_WORLD_RANK", "2"}, {"OMPI_COMM_WORLD_SIZE", "4"}}) ==
              sb::partition{2, 4});
    }
    SECTION("PMI (MPICH, srun)")
    {
        CHECK(from_env({{"PMI_RANK", "0"}, {"PMI_SIZE", "1"}}) == sb::partition{0, 1});
    }
    SECTION("Open MPI and PMI both set: Open MPI's are read")
    {
        CHECK(from_env({{"OMPI_COMM_WORLD_RANK", "1"},
                        {"OMPI_COMM_WORLD_SIZE", "2"},
                        {"PMI_RANK", "1"},
                        {"PMI_SIZE", "2"}}) == sb::partition{1, 2});
    }
    SECTION("Slurm with a count")
    {
        CHECK(from_env({{"SLURM_ARRAY_TASK_ID", "7"},
                        {"SLURM_ARRAY_TASK_MIN", "0"},
                        {"SLURM_ARRAY_TASK_COUNT", "8"}}) == sb::partition{7, 8});
    }
    SECTION("Slurm array 1-16: ids from 1, partitions from 0")
    {
        CHECK(from_env({{"SLURM_ARRAY_TASK_ID", "1"},
                        {"SLURM_ARRAY_TASK_MIN", "1"},
                        {"SLURM_ARRAY_TASK_MAX", "16"}}) == sb::partition{0, 16});
    }
    SECTION("Kubernetes with the count given, or from STREAMBATCH_PARTITION_COUNT")
    {
        CHECK(from_env({{"JOB_COMPLETION_INDEX", "3"}}, 5) == sb::partition{3, 5});
        CHECK(from_env({{"JOB_COMPLETION_INDEX", "3"}, {"STREAMBATCH_PARTITION_COUNT", "4"}}) ==
              sb::partition{3, 4});
    }
    SECTION("two engines that agree")
    {
        CHECK(from_env({{"PMI_RANK", "1"},
                        {"PMI_SIZE", "3"},
                        {"SLURM_ARRAY_TASK_ID", "1"},
                        {"SLURM_ARRAY_TASK_MIN", "0"},
                        {"SLURM_ARRAY_TASK_COUNT", "3"}}) == sb::partition{1, 3});
    }
}

TEST_CASE("partition_from_environment: what it refuses says which variables", "[partition]")
{
    CHECK_THAT(env_error({}), Contains("no launcher found") && Contains("OMPI_COMM_WORLD_RANK") &&
                                  Contains("SLURM_ARRAY_TASK_ID") &&
                                  Contains("JOB_COMPLETION_INDEX"));
    CHECK_THAT(env_error({{"OMPI_COMM_WORLD_RANK", "4"}, {"OMPI_COMM_WORLD_SIZE", "4"}}),
               Contains("OMPI_COMM_WORLD_RANK=4") && Contains("OMPI_COMM_WORLD_SIZE=4") &&
                   Contains("below the count"));
    CHECK_THAT(env_error({{"OMPI_COMM_WORLD_RANK", "1"}}),
               Contains("OMPI_COMM_WORLD_RANK is set but OMPI_COMM_WORLD_SIZE is not"));
    CHECK_THAT(env_error({{"PMI_RANK", "x1"}, {"PMI_SIZE", "2"}}),
               Contains("PMI_RANK=\"x1\" is not a whole number"));
    CHECK_THAT(env_error({{"PMI_RANK", "-1"}, {"PMI_SIZE", "2"}}), Contains("not a whole number"));
    CHECK_THAT(env_error({{"PMI_RANK", ""}, {"PMI_SIZE", "2"}}), Contains("not a whole number"));
    CHECK_THAT(env_error({{"SLURM_ARRAY_TASK_ID", "2"}, {"SLURM_ARRAY_TASK_MIN", "0"}}),
               Contains("neither SLURM_ARRAY_TASK_COUNT nor SLURM_ARRAY_TASK_MAX"));
    CHECK_THAT(env_error({{"SLURM_ARRAY_TASK_ID", "2"}, {"SLURM_ARRAY_TASK_COUNT", "4"}}),
               Contains("not SLURM_ARRAY_TASK_MIN"));
    CHECK_THAT(env_error({{"SLURM_ARRAY_TASK_ID", "4"},
                          {"SLURM_ARRAY_TASK_MIN", "0"},
                          {"SLURM_ARRAY_TASK_MAX", "12"},
                          {"SLURM_ARRAY_TASK_COUNT", "4"}}),
               Contains("--array=0-N"));
    CHECK_THAT(env_error({{"JOB_COMPLETION_INDEX", "2"}}),
               Contains("JOB_COMPLETION_INDEX=2") && Contains("STREAMBATCH_PARTITION_COUNT"));
    CHECK_THAT(env_error({{"JOB_COMPLETION_INDEX", "5"}}, 5), Contains("below the count"));
    CHECK_THAT(env_error({{"OMPI_COMM_WORLD_RANK", "1"},
                          {"OMPI_COMM_WORLD_SIZE", "4"},
                          {"SLURM_ARRAY_TASK_ID", "2"},
                          {"SLURM_ARRAY_TASK_MIN", "0"},
                          {"SLURM_ARRAY_TASK_COUNT", "4"}}),
               Contains("Open MPI says partition 1/4 but Slurm says 2/4"));
}

TEST_CASE("every_nth: the partitions of any range add up to it, each record once", "[partition]")
{
    for (std::uint32_t n : {0u, 1u, 2u, 7u, 100u}) {
        std::vector<int> all(n);
        std::iota(all.begin(), all.end(), 0);
        for (std::uint32_t count = 1; count <= 9; ++count) {
            std::multiset<int> seen;
            for (std::uint32_t i = 0; i < count; ++i) {
                auto part = all | sb::views::every_nth(sb::partition{i, count});
                static_assert(std::ranges::forward_range<decltype(part)>);
                int expect = static_cast<int>(i);
                for (int x : part) {
                    CHECK(x == expect);
                    expect += static_cast<int>(count);
                    seen.insert(x);
                }
            }
            CHECK(seen == std::multiset<int>(all.begin(), all.end()));
        }
    }
}

TEST_CASE("every_nth: single-pass, move-only sources and batching", "[partition]")
{
    std::istringstream in("0 1 2 3 4 5 6 7 8 9 10");
    auto part = std::views::istream<int>(in) | sb::views::every_nth(sb::partition{1, 3});
    static_assert(std::ranges::input_range<decltype(part)>);
    static_assert(!std::ranges::forward_range<decltype(part)>);
    std::vector<std::vector<int>> batches;
    for (auto&& b : part | sb::views::chunk(2))
        batches.emplace_back(b.begin(), b.end());
    CHECK(batches == std::vector<std::vector<int>>{{1, 4}, {7, 10}});

    // A single-pass, move-only view of records that count copies: moved, never copied.
    std::vector<test::counted> data;
    for (int i = 0; i < 7; ++i)
        data.emplace_back(i, std::string(100, 'x'));
    test::counted::reset();
    std::vector<int> got;
    for (auto&& b : test::move_only_view(test::single_pass_view(data)) |
                        sb::views::every_nth(sb::partition{0, 2}) | sb::views::chunk(3))
        for (auto& r : b)
            got.push_back(r.id);
    CHECK(got == std::vector<int>{0, 2, 4, 6});
    CHECK(test::counted::copies == 0);
}
