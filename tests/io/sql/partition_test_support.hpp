// tests/io/sql/partition_test_support.hpp: the tables and checks the SQLite and PostgreSQL
// partition tests share.
//
// integer_key_tables()   awkward integer keys: big gaps, negative keys, INT64_MIN and INT64_MAX,
//                        a single row, no row, fewer rows than partitions, dense and strided keys.
// text_keys()            unique text keys: empty, quotes, case, non-ASCII, digits.
// partition_counts()     1 .. 8 and 13.
// exactly_once(seen, n)  seen (row ids from all partitions) is 1 .. n, each once; a message
//                        naming the missing and repeated ids otherwise.

#ifndef STREAMBATCH_TESTS_IO_SQL_PARTITION_SUPPORT_HPP
#define STREAMBATCH_TESTS_IO_SQL_PARTITION_SUPPORT_HPP

#include <algorithm>
#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <vector>

namespace test {

struct key_table {
    std::string name;
    std::vector<std::int64_t> keys; // row i (from 1) has key keys[i - 1]; unique
};

inline std::vector<key_table> integer_key_tables()
{
    constexpr std::int64_t lo = std::numeric_limits<std::int64_t>::min();
    constexpr std::int64_t hi = std::numeric_limits<std::int64_t>::max();
    std::vector<key_table> t = {
        {"gaps", {1, 2, 3, 1000, 1001, 50000, 1000000000000, 1000000000007, 4611686018427387904}},
        {"negative", {-1000, -999, -998, -997, -996, -995, -5, -1, 0, 7, 250}},
        {"extremes", {lo, lo + 1, -1, 0, 1, hi - 1, hi}},
        {"min_and_max", {lo, hi}},
        {"single", {42}},
        {"single_min", {lo}},
        {"single_max", {hi}},
        {"empty", {}},
        {"few", {10, 11, 12}},
        {"dense", {}},
        {"strided", {}},
    };
    for (std::int64_t i = 1; i <= 200; ++i) {
        t[9].keys.push_back(i);
        t[10].keys.push_back(2 * i + 5);
    }
    return t;
}

inline std::vector<std::string> text_keys()
{
    std::vector<std::string> k = {
        "",    "a", "A",  "b", "O'Neil", "\"quoted\"", "M\xc3\xbcller", "\xe6\x97\xa5\xe6\x9c\xac",
        "a b", "z", "zz", "0", "10",     "9",          "back\\slash",   "semi;colon"};
    for (int i = 1; i <= 100; ++i)
        k.push_back("cust-" + std::to_string(i));
    return k;
}

inline std::vector<std::uint32_t> partition_counts()
{
    return {1, 2, 3, 4, 5, 6, 7, 8, 13};
}

/// Empty when `seen` is 1 .. n, each once; else which ids are missing and which repeated.
inline std::string exactly_once(std::vector<std::int64_t> const& seen, std::int64_t n)
{
    std::map<std::int64_t, int> times;
    for (auto id : seen)
        ++times[id];
    std::string missing, repeated, stray;
    for (std::int64_t id = 1; id <= n; ++id)
        if (times.find(id) == times.end())
            missing += " " + std::to_string(id);
    for (auto const& [id, count] : times) {
        if (id < 1 || id > n)
            stray += " " + std::to_string(id);
        else if (count > 1)
            repeated += " " + std::to_string(id) + "(x" + std::to_string(count) + ")";
    }
    if (missing.empty() && repeated.empty() && stray.empty())
        return {};
    return "missing:" + missing + "; repeated:" + repeated + "; unknown:" + stray;
}

} // namespace test

#endif // STREAMBATCH_TESTS_IO_SQL_PARTITION_SUPPORT_HPP
