// csv::file_sink: batches of rows appended as csv::writer writes them, the header once, resumed
// exactly; the file sink's refusals through it.

#include <catch2/catch.hpp>

#include <cstdint>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "csv_test_support.hpp"

namespace {

namespace csv = streambatch::csv;
namespace sb = streambatch;
using csvtest::rows_t;
using csvtest::slurp;

using record = std::tuple<std::int64_t, std::string, std::optional<double>>;
static_assert(sb::job_sink<csv::file_sink, std::vector<record>>);
static_assert(sb::job_sink<csv::file_sink, std::vector<std::vector<std::string>>&>);
static_assert(sb::job_sink<csv::file_sink, std::vector<csv::row> const&>);

/// Batch i: `rows` records, names that need quoting now and then.
std::vector<record> make_batch(std::int64_t i, int rows = 40)
{
    static char const* const names[] = {"Ada, Countess", "say \"hi\"", "two\nlines",
                                        " leading",      "plain",      ""};
    std::vector<record> b;
    for (int r = 0; r < rows; ++r) {
        std::int64_t const id = i * 1000 + r;
        b.emplace_back(id, std::string(names[id % 6]) + " " + std::to_string(id),
                       id % 5 == 0 ? std::nullopt : std::optional<double>(id * 0.25));
    }
    return b;
}

sb::job_state state_after(std::int64_t i, int rows = 40)
{
    return {.position = std::to_string(i * 1000 + rows - 1),
            .batches = static_cast<std::uint64_t>(i + 1),
            .records = static_cast<std::uint64_t>((i + 1) * rows)};
}

/// What csv::writer writes for the header and batches [0, n), in one go.
std::string expected(std::int64_t n)
{
    std::ostringstream out;
    csv::writer w(out);
    w.write_row({"id", "name", "balance"});
    for (std::int64_t i = 0; i < n; ++i)
        for (auto const& [id, name, balance] : make_batch(i))
            w.write(id, name, balance);
    return out.str();
}

} // namespace

TEST_CASE("csv::file_sink: the header once, rows quoted as csv::writer quotes them, resumed "
          "exactly",
          "[csv][file_sink]")
{
    csvtest::temp_dir dir;
    auto const out = dir / "customers.csv";
    {
        csv::file_sink sink(out, {"id", "name", "balance"});
        CHECK(sink.describe() == out.string());
        CHECK_FALSE(sink.open({"export customers"}));
        for (std::int64_t i = 0; i < 3; ++i)
            sink.commit(make_batch(i), state_after(i));
    }
    CHECK(slurp(out) == expected(3));
    {
        csv::file_sink sink(out, {"id", "name", "balance"});
        auto const state = sink.open({"export customers"});
        REQUIRE(state);
        CHECK(*state == state_after(2));
        for (auto i = static_cast<std::int64_t>(state->batches); i < 6; ++i)
            sink.commit(make_batch(i), state_after(i));
    }
    std::string const text = slurp(out);
    CHECK(text == expected(6));

    // Read back: every record once, fields intact.
    rows_t const rows = csvtest::parse(text);
    REQUIRE(rows.size() == 6 * 40);
    std::set<std::string> ids;
    std::int64_t checksum = 0;
    for (auto const& r : rows) {
        REQUIRE(r.size() == 3);
        ids.insert(r[0]);
        checksum += std::stoll(r[0]);
    }
    CHECK(ids.size() == rows.size());
    std::int64_t want = 0;
    for (std::int64_t i = 0; i < 6; ++i)
        for (auto const& rec : make_batch(i))
            want += std::get<0>(rec);
    CHECK(checksum == want);
    CHECK(rows[1][1] == "say \"hi\" 1");
    CHECK(rows[2][1] == "two\nlines 2");
    CHECK(rows[0][2].empty()); // nullopt
}

TEST_CASE("csv::file_sink: rows as ranges of fields (csv::row, vectors), options, no header",
          "[csv][file_sink]")
{
    csvtest::temp_dir dir;
    std::string const input = "a,b\n1,\"x,y\"\n2,\"q\"\"q\"\n3,\n";
    csvtest::spit(dir / "in.csv", input);
    std::vector<csv::row> batch;
    for (csv::row& r : csv::rows(dir / "in.csv"))
        batch.push_back(r);
    {
        csv::file_sink copy(dir / "copy.csv", {"a", "b"});
        copy.open({"copy"});
        copy.commit(batch, {.position = "3", .batches = 1, .records = 3});
    }
    CHECK(slurp(dir / "copy.csv") == input);

    csv::file_sink semi(dir / "semi.csv", {}, {.delimiter = ';', .quote_all = true});
    semi.open({"semi"});
    semi.commit(std::vector<std::vector<std::string>>{{"a;b", "c"}, {"d", ""}}, {.batches = 1});
    semi.close();
    CHECK(slurp(dir / "semi.csv") == "\"a;b\";\"c\"\n\"d\";\"\"\n");
}

TEST_CASE("csv::file_sink: another header, an output behind its checkpoint, a NUL byte: refused, "
          "nothing written",
          "[csv][file_sink]")
{
    csvtest::temp_dir dir;
    auto const out = dir / "customers.csv";
    {
        csv::file_sink sink(out, {"id", "name", "balance"});
        sink.open({"export"});
        sink.commit(make_batch(0), state_after(0));
        // A NUL byte: csv::writer's std::invalid_argument, before anything is written.
        std::vector<record> bad{{1, std::string("nul\0here", 8), std::nullopt}};
        CHECK_THROWS_AS(sink.commit(bad, state_after(1)), std::invalid_argument);
        CHECK(slurp(out) == expected(1));
        sink.commit(make_batch(1), state_after(1)); // the sink goes on
    }
    CHECK(slurp(out) == expected(2));

    csv::file_sink other(out, {"id", "name", "balance", "country"});
    CHECK_THROWS_WITH(other.open({"export"}),
                      Catch::Contains(out.string() + " does not begin with this sink's header "
                                                     "('id,name,balance,country')"));

    std::filesystem::resize_file(out, expected(2).size() - 1);
    csv::file_sink sink(out, {"id", "name", "balance"});
    CHECK_THROWS_WITH(sink.open({"export"}),
                      Catch::Contains(out.string() + " is " +
                                      std::to_string(expected(2).size() - 1) +
                                      " bytes but its checkpoint") &&
                          Catch::Contains("the output is behind its checkpoint"));
    CHECK(slurp(out).size() == expected(2).size() - 1);
}
