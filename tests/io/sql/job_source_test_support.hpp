// tests/io/sql/job_source_test_support.hpp: the checks the SQLite and PostgreSQL keyset source
// tests share (io/sql/job_source.hpp). Each test file makes the table and passes a function that
// opens a fresh source (a new run); the checks read it.
//
// record, job_keys(), name_of(i), v_of(i)   the table `id, name, v`: row i has key job_keys()[i]
//                                           (INT64_MIN, INT64_MAX, negative keys, big gaps)
// expected_records(keys)                    the table's rows in key order
// checksum(records)                         stream_hash of the records' text, in order
// read_all(source)                          every row of source.rows()
// check_resume_at_every_batch(make, n)      after batch k (chunk(n)), for every k: a new source
//                                           seek()'d to the position reads exactly the rest
// check_positions(source, batches)          after each batch, position() is its last key and no
//                                           row was read beyond it (stats: rows_read)
// check_identity_refusals(make)             another where / parameter / partition / column list
//                                           is refused with input_changed naming both

#ifndef STREAMBATCH_TESTS_IO_SQL_JOB_SOURCE_SUPPORT_HPP
#define STREAMBATCH_TESTS_IO_SQL_JOB_SOURCE_SUPPORT_HPP

#include <streambatch/detail/stream_hash.hpp>
#include <streambatch/io/sql/job_source.hpp>
#include <streambatch/job/contract.hpp>
#include <streambatch/views/chunk.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace test {

using record = std::tuple<std::int64_t, std::string, std::int64_t>; // id, name, v

inline std::vector<std::int64_t> job_keys()
{
    constexpr std::int64_t lo = std::numeric_limits<std::int64_t>::min();
    constexpr std::int64_t hi = std::numeric_limits<std::int64_t>::max();
    return {lo,
            lo + 1,
            -1000000000000,
            -1000,
            -5,
            -1,
            0,
            1,
            2,
            3,
            7,
            1000,
            1001,
            50000,
            1000000000000,
            1000000000007,
            4611686018427387904,
            hi - 1,
            hi};
}

/// Row i's name: some with a quote, a tab or a line break.
inline std::string name_of(std::size_t i)
{
    switch (i % 5) {
    case 1:
        return "O'Neil " + std::to_string(i);
    case 3:
        return "two\nlines\t" + std::to_string(i);
    default:
        return "row " + std::to_string(i);
    }
}

inline std::int64_t v_of(std::size_t i)
{
    return static_cast<std::int64_t>(i % 3);
}

inline std::vector<record> expected_records(std::vector<std::int64_t> const& keys)
{
    std::vector<record> out;
    for (std::size_t i = 0; i < keys.size(); ++i)
        out.emplace_back(keys[i], name_of(i), v_of(i));
    return out;
}

inline std::string checksum(std::vector<record> const& records, std::size_t from = 0)
{
    streambatch::detail::stream_hash h;
    for (std::size_t i = from; i < records.size(); ++i) {
        auto const& [id, name, v] = records[i];
        std::string const line = std::to_string(id) + "\t" + name + "\t" + std::to_string(v) + "\n";
        h.update(line);
    }
    return h.hex();
}

template <class Source>
std::vector<typename std::remove_cvref_t<Source>::value_type> read_all(Source&& source)
{
    std::vector<typename std::remove_cvref_t<Source>::value_type> out;
    for (auto& r : source.rows())
        out.push_back(std::move(r));
    return out;
}

/// For every k: a run stops after batch k of chunk(n); the next run (a new source from make())
/// checks the identity, seeks to the position and reads the rest: the two runs together are the
/// uninterrupted read (count, checksum and each record).
template <class Make>
void check_resume_at_every_batch(Make make, std::size_t n)
{
    std::vector<record> const whole = read_all(make());
    std::size_t const batches = (whole.size() + n - 1) / n;
    for (std::size_t k = 0; k <= batches; ++k) {
        INFO("batch size " << n << ", stopped after batch " << k << " of " << batches);
        auto first = make();
        std::vector<record> done;
        std::string position = first.position();
        CHECK(position.empty());
        std::size_t b = 0;
        if (k > 0) {
            for (auto&& batch : first.rows() | streambatch::views::chunk(n)) {
                for (auto& r : batch)
                    done.push_back(std::move(r));
                position = first.position();
                if (++b == k)
                    break;
            }
        }
        REQUIRE(done.size() == std::min(k * n, whole.size()));
        streambatch::job_state const state{.position = position,
                                           .identity = first.identity(),
                                           .batches = b,
                                           .records = done.size()};
        auto second = make();
        second.check_identity(state);
        second.seek(state.position);
        CHECK(second.position() == state.position);
        std::vector<record> const rest = read_all(second);
        CHECK(done.size() + rest.size() == whole.size());
        CHECK(checksum(rest) == checksum(whole, done.size()));
        std::vector<record> joined = done;
        joined.insert(joined.end(), rest.begin(), rest.end());
        CHECK(joined == whole);
        // Each run's identity is the first's; the position is not part of it.
        CHECK(second.identity() == state.identity);
    }
}

/// A batch-size policy for memory_guarded that cycles through sizes.
struct cycling_sizes {
    std::vector<std::size_t> sizes;
    std::size_t next = 0;
    std::size_t next_batch_size(std::size_t) { return sizes[next++ % sizes.size()]; }
};

/// Reads `batches` (source.rows() | some adaptor): after each batch, position() is the key of
/// the batch's last record, and the source has read no row beyond it. Returns the records.
template <class Source, class Batches>
std::vector<record> check_positions(Source& source, Batches&& batches)
{
    std::vector<record> seen;
    std::size_t index = 0;
    for (auto&& batch : batches) {
        INFO("batch " << index);
        REQUIRE(!batch.empty());
        for (auto& r : batch)
            seen.push_back(r);
        CHECK(source.position() == std::to_string(std::get<0>(seen.back())));
        CHECK(source.stats()->rows_read == seen.size()); // nothing read ahead
        ++index;
    }
    if (!seen.empty())
        CHECK(source.position() == std::to_string(std::get<0>(seen.back())));
    return seen;
}

/// make(where, parameter, partition index, columns) opens a source on the same table (the
/// caller's placeholders in `where`); the state is taken on make(where0, 1, 2, {id, name, v}).
/// Each difference is refused with a message naming both inputs and what differs; the page size
/// and the position are not part of the identity.
template <class Make>
void check_identity_refusals(Make make, std::string const& where0, std::string const& where1)
{
    std::vector<std::string> const columns = {"id", "name", "v"};
    auto base = make(where0, std::int64_t{1}, 2u, columns, std::size_t{3});
    std::string const identity = base.identity();
    CHECK(identity.find('\n') == std::string::npos);
    auto const state = [&] {
        streambatch::job_state st;
        st.identity = identity;
        st.position = "7";
        return st;
    }();
    base.check_identity(state);
    auto const refused = [&](auto& other) -> std::string {
        try {
            other.check_identity(state);
        } catch (streambatch::input_changed const& e) {
            return e.what();
        }
        FAIL("check_identity accepted " << other.identity() << " for " << identity);
        return {};
    };
    SECTION("the same query, parameters and partition: accepted, whatever the page size")
    {
        auto same = make(where0, std::int64_t{1}, 2u, columns, std::size_t{1000});
        CHECK(same.identity() == identity);
        same.check_identity(state);
        for (auto& r : same.rows()) // reading does not change the identity
            (void)r;
        CHECK(same.identity() == identity);
    }
    SECTION("another where predicate")
    {
        auto other = make(where1, std::int64_t{1}, 2u, columns, std::size_t{3});
        std::string const what = refused(other);
        CHECK_THAT(what, Catch::Contains("the checkpoint was taken on query SELECT"));
        CHECK_THAT(what, Catch::Contains("(" + where0 + ")"));
        CHECK_THAT(what, Catch::Contains("(" + where1 + ")"));
        CHECK_THAT(what, Catch::EndsWith("the query differs"));
        CHECK_THAT(what, Catch::Contains("partition 2/4"));
    }
    SECTION("another parameter")
    {
        auto other = make(where0, std::int64_t{2}, 2u, columns, std::size_t{3});
        std::string const what = refused(other);
        CHECK_THAT(what, Catch::Contains("with parameters (1)"));
        CHECK_THAT(what, Catch::Contains("with parameters (2)"));
        CHECK_THAT(what, Catch::EndsWith("the parameters differ"));
    }
    SECTION("another partition")
    {
        auto other = make(where0, std::int64_t{1}, 3u, columns, std::size_t{3});
        std::string const what = refused(other);
        CHECK_THAT(what, Catch::Contains("(partition 2/4 by key range of \"id\")"));
        CHECK_THAT(what, Catch::Contains("(partition 3/4 by key range of \"id\")"));
        CHECK_THAT(what, Catch::Contains(", partition 3/4, ")); // describe(): this run's
        CHECK_THAT(what, Catch::EndsWith("the query and the partition differ"));
    }
    SECTION("another column list")
    {
        auto other = make(where0, std::int64_t{1}, 2u, std::vector<std::string>{"id", "name"},
                          std::size_t{3});
        std::string const what = refused(other);
        CHECK_THAT(what, Catch::Contains("SELECT \"id\", \"name\", \"v\" FROM"));
        CHECK_THAT(what, Catch::Contains("SELECT \"id\", \"name\" FROM"));
        CHECK_THAT(what, Catch::EndsWith("the query differs"));
    }
    SECTION("a state with another kind of identity")
    {
        streambatch::job_state csv = state;
        csv.identity = "customers.csv 1234 bytes";
        try {
            base.check_identity(csv);
            FAIL("accepted a CSV identity");
        } catch (streambatch::input_changed const& e) {
            CHECK_THAT(e.what(), Catch::Contains("\"customers.csv 1234 bytes\""));
            CHECK_THAT(e.what(), Catch::EndsWith("it is not a keyset query's identity"));
        }
    }
}

} // namespace test

#endif // STREAMBATCH_TESTS_IO_SQL_JOB_SOURCE_SUPPORT_HPP
