// The CSV writer: what it quotes, how it formats values, and writer -> reader round trips on
// random data.

#include <catch2/catch.hpp>

#include <cstdint>
#include <limits>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "csv_test_support.hpp"

namespace {

namespace csv = streambatch::csv;
using csvtest::rows_t;

std::string written(std::vector<std::string> const& fields, csv::writer_options o = {})
{
    std::ostringstream out;
    csv::writer w(out, o);
    w.write_row(fields);
    return out.str();
}

} // namespace

TEST_CASE("writer quotes only the fields that need it", "[csv][writer]")
{
    CHECK(written({"a", "b c", "1.5"}) == "a,b c,1.5\n");
    CHECK(written({"a,b"}) == "\"a,b\"\n");
    CHECK(written({"say \"hi\""}) == "\"say \"\"hi\"\"\"\n");
    CHECK(written({"\""}) == "\"\"\"\"\n");
    CHECK(written({"line\nbreak", "cr\rhere", "crlf\r\n"}) ==
          "\"line\nbreak\",\"cr\rhere\",\"crlf\r\n\"\n");
    CHECK(written({" lead", "trail ", "\ttab", "in side"}) ==
          "\" lead\",\"trail \",\"\ttab\",in side\n");
    CHECK(written({"", "x", ""}) == ",x,\n");
    CHECK(written({""}) == "\"\"\n"); // a lone empty field would read back as a blank line
    CHECK(written({}) == "\n");
    CHECK(written({"\xEF\xBB\xBF"
                   "x",
                   "\xEF\xBB\xBF"}) == "\"\xEF\xBB\xBF"
                                       "x\",\xEF\xBB\xBF\n"); // BOM-like first field
    CHECK(written({"\xC3\xA9"}) == "\xC3\xA9\n");
    CHECK(written({"a;b", "c,d"}, {.delimiter = ';'}) == "\"a;b\";c,d\n");
    CHECK(written({"it's", "x"}, {.quote = '\''}) == "'it''s',x\n");
    CHECK(written({"a", "b"}, {.line_ending = csv::line_ending::crlf}) == "a,b\r\n");
    CHECK(written({"a", ""}, {.quote_all = true}) == "\"a\",\"\"\n");
}

TEST_CASE("writer formats numbers, bools and optionals", "[csv][writer]")
{
    std::ostringstream out;
    csv::writer w(out);
    w.write("id", 42, -7LL, 3.5, 0.1, 1e300, true, std::optional<int>{}, std::optional<int>{5},
            std::string("s"), std::string_view("v"), 'c');
    w.write(std::numeric_limits<std::uint64_t>::max(), std::numeric_limits<double>::min());
    CHECK(out.str() ==
          "id,42,-7,3.5,0.1,1e+300,true,,5,s,v,c\n18446744073709551615,2.2250738585072014e-308\n");
    CHECK(w.rows_written() == 2);

    // Shortest round-trip formatting: reading back gives the same double.
    std::mt19937_64 rng(3);
    std::ostringstream nums;
    csv::writer wn(nums);
    std::vector<double> values;
    for (int i = 0; i < 200; ++i) {
        double const v =
            std::ldexp(static_cast<double>(rng() >> 11), static_cast<int>(rng() % 200) - 100);
        values.push_back(i % 2 ? -v : v);
        wn.write(values.back());
    }
    std::istringstream in(nums.str());
    std::size_t k = 0;
    for (csv::row& r : csv::rows(in, {.has_header = false}))
        CHECK(r.get<double>(0) == values[k++]);
    CHECK(k == values.size());
}

TEST_CASE("writer rejects NUL bytes and bad options, and reports write failures", "[csv][writer]")
{
    std::ostringstream out;
    csv::writer w(out, {}, "out.csv");
    CHECK_THROWS_WITH(
        w.write_row({std::string_view("a\0b", 3)}),
        "streambatch::csv::writer: out.csv: record 1, field 0 holds a NUL byte, which CSV readers "
        "reject");
    CHECK_THROWS_AS(csv::writer(out, {.delimiter = '"'}), std::invalid_argument);
    CHECK_THROWS_AS(csv::writer(out, {.quote = '\n'}), std::invalid_argument);
    CHECK_THROWS_AS(csv::writer("/nonexistent/dir/x.csv"), std::system_error);

    std::ostringstream bad;
    bad.setstate(std::ios::badbit);
    csv::writer wb(bad, {}, "bad.csv");
    CHECK_THROWS_WITH(wb.write("x"),
                      Catch::StartsWith("streambatch::csv::writer: cannot write bad.csv"));
}

TEST_CASE("writer writes files, and copies a reader's rows", "[csv][writer]")
{
    csvtest::temp_dir dir;
    {
        csv::writer w(dir / "out.csv", {.line_ending = csv::line_ending::crlf});
        w.write_row({"id", "note"});
        w.write(1, "a, \"quoted\"\nnote");
        w.write(2, "");
    }
    CHECK(csvtest::slurp(dir / "out.csv") == "id,note\r\n1,\"a, \"\"quoted\"\"\nnote\"\r\n2,\r\n");
    {
        csv::writer copy(dir / "copy.csv");
        csv::reader r(dir / "out.csv");
        copy.write_row(r.header());
        for (csv::row& row : r)
            copy.write_row(row);
    }
    CHECK(csvtest::slurp(dir / "copy.csv") == "id,note\n1,\"a, \"\"quoted\"\"\nnote\"\n2,\n");
}

namespace {

/// A field that exercises the writer: quotes, delimiters, line breaks, spaces, BOMs, UTF-8.
std::string random_field(std::mt19937_64& rng, char delim, char quote)
{
    static char const* const pieces[] = {
        "a",        "bc",           " ", "\t",   "\n",  "\r",   "\r\n", "\xEF\xBB\xBF",
        "\xC3\xA9", "\xE2\x82\xAC", "0", "-1.5", "x y", "\x01", "\x7f", "\xff"};
    std::string f;
    auto const n = rng() % 6;
    for (std::uint64_t i = 0; i < n; ++i) {
        auto const r = rng() % 20;
        if (r == 0)
            f += delim;
        else if (r == 1)
            f += quote;
        else if (r < 4)
            f += ',';
        else
            f += pieces[rng() % std::size(pieces)];
    }
    return f;
}

} // namespace

TEST_CASE("writer -> reader round trip on random data, any block size", "[csv][writer][roundtrip]")
{
    std::mt19937_64 rng(20240607);
    char const delims[] = {',', ';', '\t', '|'};
    char const quotes[] = {'"', '\''};
    for (int file = 0; file < 400; ++file) {
        csv::writer_options wo;
        wo.delimiter = delims[rng() % 4];
        wo.quote = quotes[rng() % 2];
        wo.line_ending = rng() % 2 ? csv::line_ending::crlf : csv::line_ending::lf;
        wo.quote_all = rng() % 8 == 0;
        rows_t rows(rng() % 12);
        for (auto& r : rows) {
            r.resize(rng() % 5 + (rng() % 4 == 0 ? 0 : 1));
            for (auto& f : r)
                f = random_field(rng, wo.delimiter, wo.quote);
        }
        std::ostringstream out;
        csv::writer w(out, wo);
        for (auto const& r : rows)
            w.write_row(r);
        // A row with no fields is written as a blank line, which the reader skips.
        rows_t want;
        for (auto const& r : rows)
            if (!r.empty())
                want.push_back(r);
        csv::options const ro{.delimiter = wo.delimiter,
                              .quote = wo.quote,
                              .has_header = false,
                              .strict_field_count = false};
        std::size_t const block = 1 + rng() % 40;
        INFO("file " << file << ", block " << block << ", text: " << out.str());
        CHECK(csvtest::parse(out.str(), ro, block) == want);
        CHECK(csvtest::parse(out.str(), ro, block, static_cast<std::uint32_t>(file)) == want);
    }
}
