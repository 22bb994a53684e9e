// The CSV reader: syntax, sources, the row's API, positions and resume, and how it composes
// with the batch adaptors.

#include <streambatch/record_bytes.hpp>
#include <streambatch/views/adaptive_chunk.hpp>
#include <streambatch/views/chunk.hpp>
#include <streambatch/views/memory_guarded.hpp>

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>
#include <limits>
#include <numeric>
#include <optional>
#include <ranges>
#include <sstream>
#include <string>
#include <support/archetypes.hpp>
#include <type_traits>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

#include "csv_test_support.hpp"

namespace {

namespace csv = streambatch::csv;
namespace sb = streambatch;
using csvtest::parse;
using csvtest::rows_t;

// What the types model, stated once, before any run-time test.
static_assert(std::ranges::input_range<csv::reader>);
static_assert(std::ranges::view<csv::reader>);
static_assert(!std::ranges::forward_range<csv::reader>);
static_assert(!std::copyable<csv::reader>);
static_assert(std::movable<csv::reader>);
static_assert(!std::ranges::range<csv::reader const>);
static_assert(std::same_as<std::ranges::range_value_t<csv::reader>, csv::row>);
static_assert(std::same_as<std::ranges::range_reference_t<csv::reader>, csv::row&>);
static_assert(std::same_as<std::ranges::range_rvalue_reference_t<csv::reader>, csv::row&&>);
static_assert(std::same_as<std::ranges::sentinel_t<csv::reader>, std::default_sentinel_t>);
static_assert(std::ranges::viewable_range<csv::reader>);
// An lvalue of a move-only view is not a viewable_range (C++20): to keep the reader (for its
// position()) while batching, pipe std::ranges::ref_view(reader).
static_assert(!std::ranges::viewable_range<csv::reader&>);
static_assert(std::ranges::viewable_range<std::ranges::ref_view<csv::reader>>);
static_assert(sizeof(csv::row) == 24);
static_assert(std::is_nothrow_move_constructible_v<csv::row>);
static_assert(std::is_nothrow_move_assignable_v<csv::row>);
static_assert(std::copyable<csv::row>);
static_assert(std::ranges::random_access_range<csv::row const>);
static_assert(std::ranges::sized_range<csv::row const>);
static_assert(std::same_as<std::ranges::range_value_t<csv::row>, std::string_view>);
static_assert(std::is_base_of_v<std::runtime_error, csv::parse_error>);

rows_t R(std::initializer_list<std::vector<std::string>> r)
{
    return rows_t(r);
}

csv::options no_header()
{
    return csv::options{.has_header = false};
}

} // namespace

TEST_CASE("reader parses RFC 4180 fields", "[csv][syntax]")
{
    auto const o = no_header();
    CHECK(parse("a,b,c\n1,2,3\n", o) == R({{"a", "b", "c"}, {"1", "2", "3"}}));
    CHECK(parse("a,b,c", o) == R({{"a", "b", "c"}})); // no final line break
    CHECK(parse("\"a,b\",\"c\"\"d\",\"\"\n", o) ==
          R({{"a,b", "c\"d", ""}})); // quoted, doubled, empty
    CHECK(parse("\"x\ny\",\"1\r\n2\",\"3\r4\"\n", o) ==
          R({{"x\ny", "1\r\n2", "3\r4"}})); // line breaks inside
    CHECK(parse(",,\n", o) == R({{"", "", ""}}));
    CHECK(parse("a,\n", o) == R({{"a", ""}}));
    CHECK(parse("a,", o) == R({{"a", ""}})); // empty last field at EOF
    CHECK(parse("\"\"\n", o) == R({{""}}));  // one empty field
    CHECK(parse("\"\"", o) == R({{""}}));
    CHECK(parse("\"a\"", o) == R({{"a"}}));
    CHECK(parse(" a , b \n", o) == R({{" a ", " b "}})); // spaces are data
    CHECK(parse("\"\"\"\"\n", o) == R({{"\""}}));
    CHECK(parse("\"a\"\"\"\"b\"\n", o) == R({{"a\"\"b"}}));
    CHECK(parse("\xC3\xA9t\xC3\xA9,\xE2\x82\xAC\n", o) ==
          R({{"\xC3\xA9t\xC3\xA9", "\xE2\x82\xAC"}})); // UTF-8
}

TEST_CASE("reader accepts LF, CRLF and lone CR line breaks and skips blank lines", "[csv][syntax]")
{
    auto const o = no_header();
    rows_t const want = R({{"a", "b"}, {"c", "d"}});
    CHECK(parse("a,b\nc,d\n", o) == want);
    CHECK(parse("a,b\r\nc,d\r\n", o) == want);
    CHECK(parse("a,b\rc,d\r", o) == want);
    CHECK(parse("a,b\r\nc,d", o) == want);
    CHECK(parse("\n\na,b\n\r\n\rc,d\n\n", o) == want);
    CHECK(parse("", o).empty());
    CHECK(parse("\n\r\n\r", o).empty());
    CHECK(parse(" \n", o) == R({{" "}})); // a line of spaces is a record
}

TEST_CASE("reader skips a UTF-8 BOM at byte 0 only", "[csv][syntax]")
{
    CHECK(parse("\xEF\xBB\xBFid,name\n1,x\n") == R({{"1", "x"}}));
    csv::options const o = no_header();
    CHECK(parse("\xEF\xBB\xBF\"a\",b\n", o) == R({{"a", "b"}}));
    CHECK(parse("a\n\xEF\xBB\xBF"
                "b\n",
                o) == R({{"a"},
                         {"\xEF\xBB\xBF"
                          "b"}})); // later: data
    CHECK(parse("\xEF\xBB\xBF", o).empty());
    CHECK(parse("\xEF\xBB", o) == R({{"\xEF\xBB"}})); // a cut BOM is data

    std::istringstream in("\xEF\xBB\xBFid\n7\n");
    csv::reader r(in);
    auto it = r.begin();
    CHECK(it->byte_offset() == 6); // offsets count the BOM
    CHECK(it->line() == 2);
}

TEST_CASE("reader takes the delimiter and the quote from the options", "[csv][syntax]")
{
    CHECK(parse("a;'b;c';'it''s'\n", {.delimiter = ';', .quote = '\'', .has_header = false}) ==
          R({{"a", "b;c", "it's"}}));
    CHECK(parse("a\tb \"c\"\t\"\n", {.delimiter = '\t', .quote = '|', .has_header = false}) ==
          R({{"a", "b \"c\"", "\""}}));
}

TEST_CASE("reader reads the header and finds columns by name", "[csv][header]")
{
    std::istringstream in("id,name,amount\n1,ann,2.5\n2,bob,-3\n");
    csv::reader r(in);
    CHECK(std::vector<std::string>(r.header().begin(), r.header().end()) ==
          std::vector<std::string>{"id", "name", "amount"});
    CHECK(r.column("amount") == 2);
    std::vector<double> amounts;
    for (csv::row& row : r) {
        CHECK(row.header().size() == 3);
        CHECK(row.at("name") == row[1]);
        amounts.push_back(row.get<double>("amount"));
    }
    CHECK(amounts == std::vector<double>{2.5, -3});
}

TEST_CASE("an empty file, or one with only a header, gives no rows and no error", "[csv][header]")
{
    for (std::string text : {"", "\n\n", "\xEF\xBB\xBF", "id,name\n", "id,name"}) {
        std::istringstream in(text);
        csv::reader r(in);
        CHECK(std::ranges::distance(r.begin(), r.end()) == 0);
        CHECK(r.position().rows == 0);
    }
    std::istringstream in("");
    csv::reader r(in);
    CHECK(r.header().empty());
}

TEST_CASE("duplicate header names: at() finds the first", "[csv][header]")
{
    std::istringstream in("x,x,y\n1,2,3\n");
    for (csv::row& row : csv::rows(in)) {
        CHECK(row.at("x") == "1");
        CHECK(row.index_of("y") == 2);
    }
}

TEST_CASE("row converts fields to integers, floats, bool, strings and optionals", "[csv][row]")
{
    std::istringstream in("i,u,f,b,s,e\n-42,18446744073709551615,1e-3,TRUE,\"x,y\",\n");
    csv::reader r(in);
    csv::row& row = *r.begin();
    CHECK(row.get<int>("i") == -42);
    CHECK(row.get<long long>(0) == -42);
    CHECK(row.get<std::int8_t>("i") == -42);
    CHECK(row.get<std::uint64_t>("u") == std::numeric_limits<std::uint64_t>::max());
    CHECK(row.get<double>("f") == Approx(0.001));
    CHECK(row.get<float>("f") == Approx(0.001f));
    CHECK(row.get<bool>("b"));
    CHECK(row.get<std::string>("s") == "x,y");
    CHECK(row.get<std::string_view>("s") == "x,y");
    CHECK(row.get<std::optional<int>>("e") == std::nullopt);
    CHECK(row.get<std::optional<int>>("i") == -42);
    CHECK(row.get<std::optional<std::string>>("s") == "x,y");
    CHECK(row.get<std::string>("e").empty());
}

TEST_CASE("row: at(i) checks the index, operator[] does not", "[csv][row]")
{
    std::istringstream in("a,b\n1,2\n");
    csv::reader r(in);
    csv::row& row = *r.begin();
    CHECK(row.at(1) == "2");
    CHECK_THROWS_AS(row.at(2), std::out_of_range);
    CHECK_THROWS_WITH(row.at(5), "streambatch::csv::row::at: column 5 of a row with 2 fields");
}

TEST_CASE("row owns its bytes: one allocation, cheap moves, deep copies", "[csv][row]")
{
    std::vector<csv::row> kept;
    {
        std::istringstream in("a,b\n\"x\"\"1\",y1\nx2,\"y\n2\"\n");
        for (csv::row& row : csv::rows(in))
            kept.push_back(std::move(row));
    }
    REQUIRE(kept.size() == 2);
    CHECK(csvtest::fields(kept[0]) == std::vector<std::string>{"x\"1", "y1"});
    CHECK(kept[1].at("b") == "y\n2"); // the header outlives the reader
    CHECK(kept[1].line() == 3);
    CHECK(kept[1].byte_offset() == 14);

    csv::row copy = kept[1];
    CHECK(copy == kept[1]);
    CHECK(copy[0].data() != kept[1][0].data());
    csv::row moved = std::move(copy);
    CHECK(copy.size() == 0); // NOLINT: moved-from is empty
    CHECK(moved == kept[1]);
    copy = moved;
    CHECK(copy == moved);

    // record_bytes: the row plus its single allocation (32-byte head, 8 bytes a field, the
    // record's text, 16 bytes of slack for copying in 16-byte steps).
    CHECK(sb::record_bytes(kept[0]) ==
          sizeof(csv::row) + 32 + 2 * 8 + std::string("\"x\"\"1\",y1").size() + 16);
    CHECK(sb::record_bytes(csv::row{}) == sizeof(csv::row));
}

TEST_CASE("reader reads paths, FILE*, file descriptors and streams alike", "[csv][source]")
{
    csvtest::temp_dir dir;
    std::string const text = "id,v\n1,\"a\nb\"\n2,c\n";
    csvtest::spit(dir / "x.csv", text);
    rows_t const want = R({{"1", "a\nb"}, {"2", "c"}});
    auto collect = [](csv::reader r) {
        rows_t out;
        for (csv::row& row : r)
            out.push_back(csvtest::fields(row));
        return out;
    };
    CHECK(collect(csv::rows(dir / "x.csv")) == want);
    CHECK(collect(csv::rows((dir / "x.csv").string(), {.block_size = 1})) == want);

    std::FILE* f = std::fopen((dir / "x.csv").c_str(), "rb");
    REQUIRE(f != nullptr);
    CHECK(collect(csv::reader(f, {.block_size = 2})) == want);
    std::fclose(f);

    int const fd = ::open((dir / "x.csv").c_str(), O_RDONLY);
    REQUIRE(fd >= 0);
    CHECK(collect(csv::reader(fd, {.block_size = 3})) == want);
    ::close(fd);

    std::istringstream in(text);
    CHECK(collect(csv::rows(in)) == want);

    CHECK_THROWS_AS(csv::rows(dir / "missing.csv"), std::system_error);
    try {
        (void)csv::rows(dir / "missing.csv");
    } catch (std::system_error const& e) {
        CHECK_THAT(e.what(), Catch::Contains("missing.csv") && Catch::Contains("No such file"));
    }
}

TEST_CASE("the name in messages defaults to the path and can be set", "[csv][source]")
{
    csvtest::temp_dir dir;
    csvtest::spit(dir / "n.csv", "a\n\"x\n");
    try {
        for (auto& r : csv::rows(dir / "n.csv"))
            (void)r;
        FAIL("no error");
    } catch (csv::parse_error const& e) {
        CHECK(e.file() == (dir / "n.csv").string());
    }
    std::istringstream in("a\n\"x\n");
    try {
        for (auto& r : csv::rows(in, {.name = "orders.csv"}))
            (void)r;
        FAIL("no error");
    } catch (csv::parse_error const& e) {
        CHECK(std::string(e.what()).starts_with("orders.csv:3 (byte 5): unclosed quote"));
    }
}

TEST_CASE("rows know their line and byte offset, and position() follows the iterator",
          "[csv][position]")
{
    std::string const text = "h1,h2\r\n\r\na,\"b\r\nc\"\r\nd,e\r\n";
    //                        0       7   9                19     24
    std::istringstream in(text);
    csv::reader r(in);
    CHECK(r.position() == csv::position{7, 2, 0, 0}); // before begin(): after the header
    auto it = r.begin();
    CHECK(it->line() == 3);
    CHECK(it->byte_offset() == 9);
    CHECK(r.position() == csv::position{9, 3, 0, 0});
    ++it;
    CHECK(it->line() == 5);
    CHECK(it->byte_offset() == 19);
    CHECK(r.position() == csv::position{19, 5, 1, 0});
    ++it;
    CHECK(it == r.end());
    CHECK(r.position() == csv::position{24, 6, 2, 0});
}

TEST_CASE("a reader opened at a saved position continues there", "[csv][position][resume]")
{
    csvtest::temp_dir dir;
    std::string text = "\xEF\xBB\xBFid,note\r\n";
    for (int i = 0; i < 40; ++i)
        text += std::to_string(i) + (i % 3 == 0 ? ",\"multi\r\nline " : ",\"plain ") +
                std::to_string(i) + "\"\r\n" + (i % 7 == 0 ? "\r\n" : "");
    csvtest::spit(dir / "r.csv", text);

    rows_t all;
    std::vector<csv::position> at; // position before each row, and at the end
    {
        csv::reader r(dir / "r.csv", {.block_size = 16});
        for (auto it = r.begin(); it != r.end(); ++it) {
            at.push_back(r.position());
            all.push_back(csvtest::fields(*it));
        }
        at.push_back(r.position());
    }
    REQUIRE(all.size() == 40);
    for (std::size_t k = 0; k < at.size(); ++k) {
        for (std::size_t block : {std::size_t{1}, std::size_t{7}, std::size_t{1} << 16}) {
            csv::reader r(dir / "r.csv", {.block_size = block}, at[k]);
            CHECK(r.position() == at[k]);
            rows_t rest;
            std::vector<csv::position> pos;
            for (auto it = r.begin(); it != r.end(); ++it) {
                pos.push_back(r.position());
                CHECK(it->line() == pos.back().line);
                CHECK(it->byte_offset() == pos.back().byte_offset);
                rest.push_back(csvtest::fields(*it));
            }
            CHECK(r.position() == at.back());
            CHECK(rest == rows_t(all.begin() + static_cast<std::ptrdiff_t>(k), all.end()));
            CHECK(pos == std::vector<csv::position>(at.begin() + static_cast<std::ptrdiff_t>(k),
                                                    at.end() - 1));
            CHECK(r.header().size() == 2);
        }
    }

    // Streams resume too: seekable ones seek, others read forward.
    std::istringstream in(text);
    csv::reader r(in, {}, at[5]);
    CHECK(csvtest::fields(*r.begin()) == all[5]);
    csvtest::chunky_buf buf(text, 1, 5);
    std::istream chunky(&buf);
    csv::reader r2(chunky, {}, at[9]);
    CHECK(csvtest::fields(*r2.begin()) == all[9]);

    CHECK_THROWS_AS(csv::reader(dir / "r.csv", {}, csv::position{2, 1, 0, 0}),
                    std::invalid_argument);
    CHECK_THROWS_AS(csv::reader(dir / "r.csv", {}, csv::position{1u << 30, 1, 0, 0}),
                    std::invalid_argument);
}

TEST_CASE("a position goes to text and back: \"byte_offset line rows skipped\"",
          "[csv][position][resume]")
{
    csv::position const p{4711, 12, 10, 1};
    CHECK(csv::to_string(p) == "4711 12 10 1");
    CHECK(csv::parse_position("4711 12 10 1") == p);
    // The largest values, and the default position, round-trip.
    std::uint64_t const big = std::numeric_limits<std::uint64_t>::max();
    for (csv::position const q : {csv::position{}, csv::position{big, big, big, big},
                                  csv::position{0, 1, 0, 0}, csv::position{3, 7, 0, 99}})
        CHECK(csv::parse_position(csv::to_string(q)) == q);
    // What the examples' checkpoints stored before parse_position existed (printed field by
    // field with std::to_string, read back with sscanf "%llu %llu %llu %llu") still reads.
    CHECK(csv::parse_position(std::to_string(std::uint64_t{52428800}) + " " +
                              std::to_string(570001) + " " + std::to_string(570000) + " " +
                              std::to_string(0)) == csv::position{52428800, 570001, 570000, 0});

    // A position read back from a reader resumes there.
    csvtest::temp_dir dir;
    csvtest::spit(dir / "p.csv", "id,v\n1,a\n2,b\n3,c\n");
    std::string saved;
    {
        csv::reader r(dir / "p.csv");
        auto it = r.begin();
        ++it;
        saved = csv::to_string(r.position());
    }
    CHECK(saved == "9 3 1 0");
    csv::reader again(dir / "p.csv", {}, csv::parse_position(saved));
    CHECK(csvtest::fields(*again.begin()) == std::vector<std::string>{"2", "b"});
}

TEST_CASE("parse_position refuses every kind of bad text, naming it and what is wrong",
          "[csv][position]")
{
    struct bad_case {
        std::string text;
        std::string what; // a part of the message
    };
    std::vector<bad_case> const cases = {
        {"", "has 1 field, not 4"},
        {"4711", "has 1 field, not 4"},
        {"4711 12", "has 2 fields, not 4"},
        {"4711 12 10", "has 3 fields, not 4"},
        {"4711 12 10 1 5", "more than 4 fields"},
        {"4711 12 10 1 ", "more than 4 fields"},
        {" 4711 12 10 1", "byte_offset (field 1) is empty"},
        {"4711  12 10 1", "line (field 2) is empty"},
        {"4711 12 10 ", "skipped (field 4) is empty"},
        {"x 12 10 1", "byte_offset (field 1) \"x\" is not a whole number"},
        {"4711 12x 10 1", "line (field 2) \"12x\" is not a whole number"},
        {"4711 12 -10 1", "rows (field 3) \"-10\" is not a whole number"},
        {"4711 12 10 +1", "skipped (field 4) \"+1\" is not a whole number"},
        {"4711 1e3 10 1", "line (field 2) \"1e3\" is not a whole number"},
        {"4711 12 10 18446744073709551616",
         "\"18446744073709551616\" is not a whole number below 2^64"},
        {"4711\t12 10 1", "byte_offset (field 1) \"4711\\x0912\" is not a whole number"},
        {"4711 12 10 1\n", "skipped (field 4) \"1\\x0A\" is not a whole number"},
        {"4711 0 10 1", "line is 0; lines count from 1"},
    };
    for (auto const& c : cases) {
        INFO("text: \"" << c.text << "\"");
        try {
            (void)csv::parse_position(c.text);
            FAIL("parse_position accepted it");
        } catch (std::invalid_argument const& e) {
            std::string const what = e.what();
            CHECK_THAT(what, Catch::Matchers::StartsWith("streambatch::csv::parse_position: "));
            CHECK_THAT(what, Catch::Matchers::Contains(" is not a position"));
            CHECK_THAT(what, Catch::Matchers::Contains(c.what));
        }
    }
    // The text itself is named, as a message quotes it.
    CHECK_THROWS_WITH(csv::parse_position("4711 12"),
                      Catch::Matchers::StartsWith(
                          "streambatch::csv::parse_position: \"4711 12\" is not a position"));
}

TEST_CASE("resuming without a header keeps the field count of the first record",
          "[csv][position][resume]")
{
    std::string const text = "a,b\nc,d\ne\n";
    std::istringstream in(text);
    csv::reader r(in, {.has_header = false}, csv::position{4, 2, 1, 0});
    auto it = r.begin();
    CHECK(csvtest::fields(*it) == std::vector<std::string>{"c", "d"});
    CHECK_THROWS_WITH(++it,
                      "<stream>:3 (byte 8): expected 2 fields (as in the first record), found 1");
}

TEST_CASE("begin() once: a second call continues where the first is", "[csv][view]")
{
    std::istringstream in("a\n1\n2\n3\n");
    csv::reader r(in);
    auto it = r.begin();
    CHECK((*it)[0] == "1");
    ++it;
    CHECK((*r.begin())[0] == "2");
    csv::reader moved = std::move(r);
    ++it; // iterators survive a move of the reader
    CHECK((*it)[0] == "3");
    CHECK((*moved.begin())[0] == "3");
}

TEST_CASE("csv::rows pipes into memory_guarded, moving rows into batches", "[csv][interop]")
{
    std::string text = "id,name\n";
    for (int i = 0; i < 1000; ++i)
        text += std::to_string(i) + ",\"name, " + std::to_string(i) + "\"\n";
    std::istringstream in(text);
    std::vector<std::size_t> sizes;
    int next = 0;
    for (auto&& batch : csv::rows(in, {.block_size = 100}) | sb::views::memory_guarded(100)) {
        sizes.push_back(batch.size());
        for (csv::row& r : batch) {
            CHECK(r.get<int>("id") == next);
            CHECK(r.at("name") == "name, " + std::to_string(next));
            ++next;
        }
    }
    CHECK(next == 1000);
    CHECK(std::accumulate(sizes.begin(), sizes.end(), std::size_t{0}) == 1000);
}

TEST_CASE("a reader batched through ref_view reports its position", "[csv][interop][resume]")
{
    std::string text = "k\n";
    for (int i = 0; i < 95; ++i)
        text += std::to_string(i) + "\n";
    std::istringstream in(text);
    csv::reader r(in);
    std::vector<csv::position> checkpoints;
    for (sb::batch<csv::row> b : std::ranges::ref_view(r) | sb::views::chunk(10)) {
        std::vector<csv::row> taken = b.take(); // moved out: the next batch allocates afresh
        CHECK(taken.front().get<int>(0) % 10 == 0);
        checkpoints.push_back(r.position()); // the first row of the next batch
    }
    REQUIRE(checkpoints.size() == 10);
    CHECK(checkpoints[0].rows == 10);
    CHECK(checkpoints[0].line == 12);
    CHECK(checkpoints[8].rows == 90);
    CHECK(checkpoints[9].rows == 95); // the end

    std::istringstream again(text);
    csv::reader resumed(again, {}, checkpoints[3]);
    CHECK(resumed.begin()->get<int>(0) == 40);
}

TEST_CASE("adaptive_chunk weighs rows by their real size", "[csv][interop]")
{
    std::string text = "v\n";
    for (int i = 0; i < 100; ++i)
        text += std::string(100, 'x') + "\n";
    std::istringstream in(text);
    std::size_t batches = 0, rows = 0;
    for (auto&& batch :
         csv::rows(in) | sb::views::adaptive_chunk({.target_bytes = 1000, .min_records = 1})) {
        ++batches;
        rows += batch.size();
        std::size_t bytes = 0;
        for (csv::row& r : batch)
            bytes += sb::record_bytes(r);
        CHECK(bytes <= 1000);
    }
    CHECK(rows == 100);
    std::size_t const per_batch =
        1000 / (sizeof(csv::row) + 32 + 8 + 100 + 16); // what one row weighs
    CHECK(batches == (100 + per_batch - 1) / per_batch);
}

TEST_CASE("the reader works through the test archetypes", "[csv][interop][input]")
{
    std::istringstream in("a\n1\n2\n3\n4\n5\n");
    test::move_only_view<csv::reader> v(csv::rows(in));
    std::vector<std::size_t> sizes;
    for (auto&& batch : std::move(v) | sb::views::chunk(2))
        sizes.push_back(batch.size());
    CHECK(sizes == std::vector<std::size_t>{2, 2, 1});
}

TEST_CASE("a default-constructed reader is empty", "[csv][view]")
{
    csv::reader r;
    CHECK(r.begin() == r.end());
    CHECK(r.position() == csv::position{});
    CHECK(r.skipped() == 0);
}

TEST_CASE("a record longer than a block grows the buffer, within max_record_bytes", "[csv][memory]")
{
    std::string const big(3'000'000, 'b');
    std::string const text = "a,b\n1,\"" + big + "\"\n2," + big + "\n3,x\n";
    std::istringstream in(text);
    csv::reader r(in, {.block_size = 4096, .max_record_bytes = 4'000'000});
    rows_t rows;
    for (csv::row& row : r)
        rows.push_back(csvtest::fields(row));
    CHECK(rows == rows_t{{"1", big}, {"2", big}, {"3", "x"}});
    CHECK(r.buffer_bytes() <= 4'000'000 + 3 * 4096 + 1 + csv::detail::scan_padding);
    CHECK(r.buffer_bytes() >= 3'000'000);
}
