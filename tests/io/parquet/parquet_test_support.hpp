// Shared by the Parquet tests: where apache/parquet-testing is, and reading a whole file.
#ifndef STREAMBATCH_TESTS_PARQUET_TEST_SUPPORT_HPP_INCLUDED
#define STREAMBATCH_TESTS_PARQUET_TEST_SUPPORT_HPP_INCLUDED

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

namespace parquet_test {

/// data/ and bad_data/ of apache/parquet-testing. When missing: exit 77 (CTest: skipped), unless
/// in CI (CI=true or STREAMBATCH_REQUIRE_ALL=ON/1 in the environment, or
/// STREAMBATCH_REQUIRE_ALL_COMPONENTS at configure time), where it fails.
inline std::filesystem::path testing_dir()
{
    char const* env = std::getenv("STREAMBATCH_PARQUET_TESTING");
    std::filesystem::path dir = env ? env : "";
    if (!dir.empty() && std::filesystem::is_directory(dir / "data") &&
        std::filesystem::is_directory(dir / "bad_data"))
        return dir;
    char const* ci = std::getenv("CI");
    char const* all = std::getenv("STREAMBATCH_REQUIRE_ALL"); // what .ci/run sets
    bool const required = STREAMBATCH_PARQUET_REQUIRE_TESTING ||
                          (ci && std::string_view(ci) == "true") ||
                          (all && (std::string_view(all) == "ON" || std::string_view(all) == "1"));
    if (required)
        FAIL("apache/parquet-testing not found at \"" << dir.string()
                                                      << "\" (STREAMBATCH_PARQUET_TESTING)");
    std::fprintf(stderr, "apache/parquet-testing not found at \"%s\": skipped\n",
                 dir.string().c_str());
    std::exit(77);
}

inline std::vector<std::uint8_t> slurp(std::filesystem::path const& p)
{
    std::ifstream in(p, std::ios::binary);
    REQUIRE(in);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

/// The .parquet files in `dir` (and its subdirectories when `recursive`), sorted.
inline std::vector<std::filesystem::path> parquet_files(std::filesystem::path const& dir,
                                                        bool recursive = false)
{
    std::vector<std::filesystem::path> v;
    auto const take = [&](std::filesystem::directory_entry const& e) {
        if (e.is_regular_file() && e.path().extension() == ".parquet")
            v.push_back(e.path());
    };
    if (recursive)
        for (auto const& e : std::filesystem::recursive_directory_iterator(dir))
            take(e);
    else
        for (auto const& e : std::filesystem::directory_iterator(dir))
            take(e);
    std::sort(v.begin(), v.end());
    return v;
}

} // namespace parquet_test

#endif
