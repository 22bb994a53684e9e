// csv::options::partition: byte-range partitions of a CSV input. The property checked
// everywhere: for any count, partition 0's rows, then partition 1's, ... are exactly the
// whole-input reader's rows (same fields, same byte offsets), and partition i ends where
// partition i + 1 begins (position() after the last row == position() before the first).
// Split points are put everywhere by using as many partitions as the data has bytes (then
// every byte offset is a split point), on hand-made awkward inputs and on thousands of seeded
// random ones (quoted LF, CRLF and lone CR, doubled quotes, delimiters in quotes, blank lines,
// a BOM, no final line break, records longer than a block), read in block sizes down to 1.

#include <streambatch/io/csv.hpp>

#include <catch2/catch.hpp>

#include <cstdint>
#include <cstdio>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

#include "csv_test_support.hpp"

namespace {

namespace csv = streambatch::csv;
using streambatch::partition;

struct rec {
    std::vector<std::string> fields;
    std::uint64_t byte_offset = 0;
    std::uint64_t line = 0;
    friend bool operator==(rec const&, rec const&) = default;
};

struct part_result {
    std::vector<rec> rows;
    csv::position start; ///< position() before begin()
    csv::position end;   ///< position() after the last row
    csv::partition_range range;
};

/// Reads one partition (count 1: the whole input) of the file at `path`.
part_result read_part(std::filesystem::path const& path, csv::options o, partition p)
{
    o.partition = p;
    part_result out;
    csv::reader r(path, o);
    out.start = r.position();
    out.range = r.partition_range();
    for (csv::row& row : r)
        out.rows.push_back({csvtest::fields(row), row.byte_offset(), row.line()});
    out.end = r.position();
    return out;
}

std::string show(std::vector<rec> const& rows)
{
    std::string s;
    for (rec const& r : rows) {
        s += "@" + std::to_string(r.byte_offset) + " l" + std::to_string(r.line) + ":";
        for (auto const& f : r.fields)
            s += " " + streambatch::io::detail::quote(f);
        s += "\n";
    }
    return s;
}

/// Checks the union property for `count` partitions against `whole`; "" or what is wrong.
std::string check_count(std::filesystem::path const& path, csv::options const& o,
                        part_result const& whole, std::uint32_t count)
{
    std::vector<rec> all;
    std::optional<csv::position> prev_end;
    std::uint64_t const first_start =
        whole.rows.empty() ? whole.end.byte_offset : whole.rows.front().byte_offset;
    for (std::uint32_t i = 0; i < count; ++i) {
        part_result const p = read_part(path, o, {i, count});
        std::string const where = "partition " + std::to_string(i) + "/" + std::to_string(count);
        // Under skip, a rejected record is no row: where partitions begin, and their lines, are
        // only checked here without rejects (the rows and the chain are checked always).
        bool const exact = o.bad_rows == csv::on_error::fail;
        if (exact && i == 0 && count > 1 && p.start.byte_offset != first_start)
            return where + " starts at " + std::to_string(p.start.byte_offset) + ", not " +
                   std::to_string(first_start);
        if (prev_end && prev_end->byte_offset != p.start.byte_offset)
            return where + " starts at " + std::to_string(p.start.byte_offset) +
                   " but the one before ended at " + std::to_string(prev_end->byte_offset);
        if (p.start.rows != 0 || p.end.rows != p.rows.size())
            return where + ": position().rows counts " + std::to_string(p.end.rows) +
                   " rows, read " + std::to_string(p.rows.size());
        // Before begin(), position() is the partition's first record (a whole reader's is where
        // the data begin, before any blank lines); under skip, that record may be rejected.
        if (count > 1 && !p.rows.empty() &&
            (o.bad_rows == csv::on_error::fail ? p.rows.front().byte_offset != p.start.byte_offset
                                               : p.rows.front().byte_offset < p.start.byte_offset))
            return where + ": the first row is not at position()";
        if (p.range.nominal_begin !=
            p.range.data_begin + (p.range.data_end - p.range.data_begin) * i / count)
            return where + ": nominal_begin is off";
        for (rec const& r : p.rows)
            if (r.byte_offset < p.range.nominal_begin ||
                (i + 1 < count && r.byte_offset >= p.range.nominal_end))
                return where + ": a row at byte " + std::to_string(r.byte_offset) +
                       " is outside [" + std::to_string(p.range.nominal_begin) + ", " +
                       std::to_string(p.range.nominal_end) + ")";
        // Lines: partition 0 (and a whole reader) has the file's; the others count from their
        // first record, which is line 1.
        std::size_t const k0 = all.size();
        for (std::size_t k = 0; exact && k < p.rows.size(); ++k) {
            if (k0 + k >= whole.rows.size())
                return where + ": more rows than the whole file has";
            std::uint64_t const want = i == 0 || count == 1
                                           ? whole.rows[k0 + k].line
                                           : whole.rows[k0 + k].line - whole.rows[k0].line + 1;
            if (p.rows[k].line != want)
                return where + ": row at byte " + std::to_string(p.rows[k].byte_offset) +
                       " has line " + std::to_string(p.rows[k].line) + ", expected " +
                       std::to_string(want);
        }
        all.insert(all.end(), p.rows.begin(), p.rows.end());
        prev_end = p.end;
    }
    if (prev_end->byte_offset != whole.end.byte_offset)
        return "the last partition ends at " + std::to_string(prev_end->byte_offset) +
               ", the whole file at " + std::to_string(whole.end.byte_offset);
    auto strip = [](std::vector<rec> v) {
        for (rec& r : v)
            r.line = 0;
        return v;
    };
    if (strip(all) != strip(whole.rows))
        return "the partitions' rows:\n" + show(all) + "the whole file's:\n" + show(whole.rows);
    return {};
}

/// The counts tried for a file whose data region has `data` bytes: 1..8, 13, 64 (or, given a
/// generator, 1 and three of those at random), and with every_byte, as many as the data has
/// bytes (every byte offset a split point) and more; for long data, some large counts instead.
std::vector<std::uint32_t> counts_for(std::uint64_t data, bool every_byte,
                                      std::mt19937_64* sample = nullptr)
{
    std::vector<std::uint32_t> c{1, 2, 3, 4, 5, 6, 7, 8, 13, 64};
    if (sample != nullptr) {
        std::vector<std::uint32_t> some{1};
        for (int k = 0; k < 3; ++k)
            some.push_back(c[1 + (*sample)() % (c.size() - 1)]);
        c = some;
    }
    if (every_byte && data > 600) {
        c.push_back(97);
        c.push_back(500);
        c.push_back(1009);
    } else if (every_byte) {
        auto const d = static_cast<std::uint32_t>(std::max<std::uint64_t>(data, 1));
        c.push_back(d);
        c.push_back(d + 1);
        c.push_back(2 * d + 1);
    }
    return c;
}

/// The union property for `text` with options `o` and every count of counts_for. Returns
/// false (nothing checked) when the whole-file reader rejects the text.
bool check_union(csvtest::temp_dir const& dir, std::string const& text, csv::options const& o,
                 bool every_byte = true, std::mt19937_64* sample = nullptr)
{
    auto const path = dir / "p.csv";
    csvtest::spit(path, text);
    part_result whole;
    try {
        whole = read_part(path, o, {0, 1});
    } catch (csv::parse_error const&) {
        return false;
    }
    for (std::uint32_t count :
         counts_for(text.size() - whole.range.data_begin, every_byte, sample)) {
        std::string why;
        try {
            why = check_count(path, o, whole, count);
        } catch (std::exception const& e) {
            why = std::string("threw: ") + e.what();
        }
        if (!why.empty()) {
            INFO("text: " << streambatch::io::detail::quote(text) << " (" << text.size()
                          << " bytes)");
            INFO("options: block_size " << o.block_size << ", has_header " << o.has_header
                                        << ", strict " << o.strict_field_count << ", max "
                                        << o.max_record_bytes << ", quoted_newlines "
                                        << o.quoted_newlines);
            INFO("count " << count << ": " << why);
            FAIL_CHECK("the partitions differ from the whole file");
            return true;
        }
    }
    return true;
}

/// A random CSV text: fields quoted when they must be (and sometimes when not), doubled
/// quotes, delimiters and line breaks of every kind inside quotes (unless !quoted_newlines),
/// blank lines, no final line break now and then, some long fields.
std::string generate(std::mt19937_64& rng, char delim, char quote, bool ragged, bool bom,
                     bool quoted_newlines, std::size_t max_rows = 25)
{
    static char const* const pieces[] = {"a",  "bc",       "xyz",          "1", "-2.5", " ",
                                         "\t", "\xC3\xA9", "\xE2\x82\xAC", "#", "'",    "\\"};
    char const* const breaks[] = {"\n", "\r\n", "\r"};
    std::string text = bom ? "\xEF\xBB\xBF" : "";
    std::size_t const nrows = rng() % (max_rows + 1);
    std::size_t const width = 1 + rng() % 5;
    for (std::size_t r = 0; r < nrows; ++r) {
        std::size_t const nf = ragged ? 1 + rng() % 6 : width;
        std::string line;
        for (std::size_t i = 0; i < nf; ++i) {
            std::string f;
            auto const len = rng() % 5 == 0 ? 0 : rng() % 8;
            for (std::uint64_t k = 0; k < len; ++k) {
                auto const c = rng() % 14;
                if (c == 0)
                    f += quote;
                else if (c == 1)
                    f += delim;
                else if (c == 2 && quoted_newlines)
                    f += breaks[rng() % 3];
                else if (c == 3 && rng() % 8 == 0)
                    f += std::string(40 + rng() % 200, static_cast<char>('A' + rng() % 26));
                else
                    f += pieces[rng() % std::size(pieces)];
            }
            bool const must =
                f.find_first_of(std::string{delim, quote, '\n', '\r'}) != std::string::npos ||
                (nf == 1 && f.empty());
            if (must || rng() % 4 == 0) {
                line += quote;
                for (char ch : f) {
                    line += ch;
                    if (ch == quote)
                        line += quote;
                }
                line += quote;
            } else {
                line += f;
            }
            if (i + 1 < nf)
                line += delim;
        }
        text += line;
        if (r + 1 < nrows || rng() % 4 != 0)
            text += breaks[rng() % 3];
        if (r + 1 < nrows && rng() % 8 == 0) // a blank line; never a CR before an LF
            text += text.back() == '\r' ? "\r" : "\n";
    }
    return text;
}

std::vector<std::string> awkward_texts()
{
    std::string long_record = "id,note\n1,\"";
    for (int i = 0; i < 60; ++i)
        long_record += std::string(90, static_cast<char>('a' + i % 26)) +
                       (i % 3 == 0   ? "\r\n"
                        : i % 3 == 1 ? "\n"
                                     : "\r") +
                       "\"\"";
    long_record += "\"\n2,short\n3,\"" + std::string(3000, 'z') + "\"\n4,end";
    return {
        "",
        "\xEF\xBB\xBF",
        "a,b\n",
        "a,b",
        "a,b\r\n\r\n\n\r",
        "\xEF\xBB\xBF"
        "a,b\n1,2\n",
        "id,note\r\n1,\"a\r\nb\"\r\n2,\"\"\"\"\r\n3,\"x,\"\"\r\ny\"\"\"\r\n",
        "\xEF\xBB\xBF"
        "a,b\n\"\n\",\"\r\"\n\"\"\"\",\",\"\n\n\nx,y",
        "\"a\nb\",c\r\n\r\n,\n\"\",\"\"\r",
        "h\r\"x\ry\"\r\"\r\"\r",
        "h\n\"\n\"\n\"\n\"\n",               // each record is one field holding LF
        "h\n\"\"\n\"\"\n\"\"\n",             // empty quoted fields only
        "h,i\n\"a\",\"\"\"\"\n\"\",\",\"\n", // quotes right before split points
        "x\n1\n2\n3\n4\n5\n6\n7\n8\n9\n",    // more partitions than records (with 13, 64)
        "a\n\"\r\n\"\r\n\"\r\n\"\r\n",       // CRLF inside and after quotes
        long_record,
    };
}

} // namespace

TEST_CASE("partitions of awkward inputs add up to the whole input, every byte a split point",
          "[csv][partition]")
{
    csvtest::temp_dir dir;
    int checked = 0;
    for (std::string const& text : awkward_texts())
        for (std::size_t block :
             {std::size_t{1}, std::size_t{3}, std::size_t{16}, std::size_t{64} << 10})
            for (int mode = 0; mode < 3; ++mode) {
                if (block < 16 && text.size() > 600 && mode != 0)
                    continue; // the long text: block sizes 1 and 3 once (it is slow)
                csv::options const o{
                    .has_header = mode != 1, .strict_field_count = mode != 2, .block_size = block};
                checked += check_union(dir, text, o) ? 1 : 0;
            }
    CHECK(checked > 100);
}

TEST_CASE("partitions of 3000 random inputs add up to the whole input, in any block size",
          "[csv][partition][property]")
{
    csvtest::temp_dir dir;
    std::mt19937_64 rng(20240917);
    std::size_t const blocks[] = {1, 2, 3, 7, 16, 64, 4096, 65536};
    int checked = 0;
    for (int n = 0; n < 3000; ++n) {
        char const delim = rng() % 4 == 0 ? ';' : ',';
        char const quote = rng() % 6 == 0 ? '\'' : '"';
        bool const ragged = rng() % 3 == 0;
        bool const bom = rng() % 5 == 0;
        // Every 8th file (if small) gets every byte as a split point; each gets three counts
        // of 2..8, 13, 64 (each count is tried on some 900 files).
        std::string const text =
            generate(rng, delim, quote, ragged, bom, true, n % 10 == 0 ? 60 : 12);
        csv::options const o{.delimiter = delim,
                             .quote = quote,
                             .has_header = rng() % 2 == 0,
                             .strict_field_count = !ragged,
                             .block_size = blocks[rng() % std::size(blocks)]};
        checked += check_union(dir, text, o, n % 8 == 0 && text.size() < 400, &rng) ? 1 : 0;
    }
    CHECK(checked == 3000);
}

TEST_CASE("a reading that outlives max_record_bytes is wrong: small limits still add up",
          "[csv][partition][property]")
{
    // With max_record_bytes = 300, a split reading inside a quote that never closes (a file
    // with few quotes) fails after 300 bytes instead of at the end of input.
    csvtest::temp_dir dir;
    std::mt19937_64 rng(77);
    int checked = 0;
    for (int n = 0; n < 300; ++n) {
        std::string text = "id,name,v\n";
        for (int r = 0; r < 200; ++r)
            text += std::to_string(r) + ",n" + std::to_string(rng() % 1000) +
                    (rng() % 40 == 0 ? ",\"q, " + std::to_string(r) + "\"" : ",v") +
                    (rng() % 2 ? "\n" : "\r\n");
        csv::options const o{.block_size = std::size_t{1} << (rng() % 10), .max_record_bytes = 300};
        checked += check_union(dir, text, o, false, &rng) ? 1 : 0;
    }
    CHECK(checked == 300);
}

TEST_CASE("quoted_newlines = false: the first line break after the split point starts a record",
          "[csv][partition][property]")
{
    csvtest::temp_dir dir;
    std::mt19937_64 rng(4242);
    std::size_t const blocks[] = {1, 3, 16, 4096, 65536};
    int checked = 0;
    for (int n = 0; n < 1500; ++n) {
        char const quote = rng() % 6 == 0 ? '\'' : '"';
        bool const ragged = rng() % 3 == 0;
        std::string const text = generate(rng, ',', quote, ragged, rng() % 5 == 0, false);
        csv::options const o{.quote = quote,
                             .has_header = rng() % 2 == 0,
                             .strict_field_count = !ragged,
                             .block_size = blocks[rng() % std::size(blocks)],
                             .max_record_bytes = 64 + rng() % 2000,
                             .quoted_newlines = false};
        checked += check_union(dir, text, o, n % 8 == 0 && text.size() < 400, &rng) ? 1 : 0;
    }
    CHECK(checked > 1400); // the rest have a record longer than max_record_bytes
}

TEST_CASE(
    "quoted_newlines = false rejects a line break inside quotes, and skipped it still adds up",
    "[csv][partition][errors]")
{
    std::string const text = "id,note\n1,\"a\nb\"\n2,x\n";
    {
        std::istringstream in(text);
        csv::reader r(in, {.name = "n.csv", .quoted_newlines = false});
        try {
            for (csv::row& row : r)
                (void)row;
            FAIL("no error");
        } catch (csv::parse_error const& e) {
            CHECK(e.kind() == csv::error_kind::quoted_newline);
            CHECK(e.byte_offset() == 12);
            CHECK(std::string(e.what()).starts_with("n.csv:2 (byte 12): line break inside a "
                                                    "quoted field that began at line 2 (byte 10)"));
        }
    }
    // Skipped: the record is rejected up to the line break, and what follows is read as the
    // next record, as a partition that starts after that line break reads it.
    csvtest::temp_dir dir;
    std::ostringstream rejects;
    csv::options const o{.strict_field_count = false,
                         .bad_rows = csv::on_error::skip,
                         .reject_stream = &rejects,
                         .quoted_newlines = false};
    std::mt19937_64 rng(5);
    for (int n = 0; n < 400; ++n) {
        std::string const t = generate(rng, ',', '"', true, false, true, 15);
        csv::options oo = o;
        oo.block_size = std::size_t{1} << (rng() % 8);
        check_union(dir, t, oo, n % 8 == 0 && t.size() < 300, &rng);
    }
}

TEST_CASE("partition i ends where partition i + 1 begins, and partition_range says where it cut",
          "[csv][partition]")
{
    csvtest::temp_dir dir;
    std::string const text = "\xEF\xBB\xBF"
                             "id,v\n1,\"a\nb\"\n\n2,c\n3,d\n";
    // The BOM is bytes 0-2, the header 3-7, so the data are [8, 25): record 1 at 8 (lines 2-3,
    // its quoted field holds the LF at 12), a blank line at 16, record 2 at 17, 3 at 21.
    // Three partitions cut at 8 + 17 / 3 = 13 (inside the quotes) and 8 + 34 / 3 = 19.
    csvtest::spit(dir / "r.csv", text);
    part_result const p0 = read_part(dir / "r.csv", {}, {0, 3});
    part_result const p1 = read_part(dir / "r.csv", {}, {1, 3});
    part_result const p2 = read_part(dir / "r.csv", {}, {2, 3});
    CHECK(p0.range == csv::partition_range{8, 25, 8, 13});
    CHECK(p1.range == csv::partition_range{8, 25, 13, 19});
    CHECK(p2.range == csv::partition_range{8, 25, 19, 25});
    CHECK(p0.start == csv::position{8, 2, 0, 0});
    CHECK(p0.end == csv::position{17, 5, 1, 0}); // the first record at or after 13
    CHECK(p1.start == csv::position{17, 1, 0, 0});
    CHECK(p1.end == csv::position{21, 2, 1, 0});
    CHECK(p2.start == csv::position{21, 1, 0, 0});
    CHECK(p2.end == csv::position{25, 2, 1, 0});
    REQUIRE(p0.rows.size() == 1);
    CHECK(p0.rows[0].fields == std::vector<std::string>{"1", "a\nb"});
    CHECK(p0.rows[0].line == 2);
    REQUIRE(p1.rows.size() == 1);
    CHECK(p1.rows[0].fields == std::vector<std::string>{"2", "c"});
    CHECK(p1.rows[0].line == 1);
    REQUIRE(p2.rows.size() == 1);
    CHECK(p2.rows[0].fields == std::vector<std::string>{"3", "d"});

    // A whole reader: the range is everything, without an end.
    csv::reader whole(dir / "r.csv");
    CHECK(whole.partition_range() == csv::partition_range{8, UINT64_MAX, 8, UINT64_MAX});
}

TEST_CASE("a partitioned reader reads files, FILE*, file descriptors and seekable streams",
          "[csv][partition][source]")
{
    csvtest::temp_dir dir;
    std::string text = "id,note\n";
    for (int i = 0; i < 50; ++i)
        text += std::to_string(i) + ",\"n\n" + std::to_string(i) + "\"\n";
    csvtest::spit(dir / "s.csv", text);
    auto const ids = [](csv::reader& r) {
        std::vector<std::string> v;
        for (csv::row& row : r)
            v.emplace_back(row[0]);
        return v;
    };
    for (std::uint32_t i = 0; i < 3; ++i) {
        csv::options const o{.partition = {i, 3}};
        csv::reader by_path(dir / "s.csv", o);
        std::vector<std::string> const want = ids(by_path);
        CHECK(!want.empty());

        std::istringstream in(text);
        csv::reader by_stream(in, o);
        CHECK(ids(by_stream) == want);

        std::FILE* f = std::fopen((dir / "s.csv").c_str(), "rb");
        REQUIRE(f != nullptr);
        {
            csv::reader by_file(f, o);
            CHECK(ids(by_file) == want);
        }
        std::fclose(f);

        int const fd = ::open((dir / "s.csv").c_str(), O_RDONLY);
        REQUIRE(fd >= 0);
        {
            csv::reader by_fd(fd, o);
            CHECK(ids(by_fd) == want);
        }
        ::close(fd);
    }
}

TEST_CASE("an input that cannot seek or whose size is unknown cannot be partitioned",
          "[csv][partition][source]")
{
    std::string const text = "a\n1\n2\n";
    csvtest::chunky_buf buf(text, 1, 4); // no seeking
    std::istream in(&buf);
    try {
        csv::reader r(in, {.name = "pipe", .partition = {1, 2}});
        FAIL("no error");
    } catch (std::invalid_argument const& e) {
        std::string const what = e.what();
        CHECK_THAT(what, Catch::Contains("pipe: partition 1/2 needs an input of known size"));
        CHECK_THAT(what, Catch::Contains("every_nth"));
    }
    // A real pipe, by file descriptor.
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    REQUIRE(::write(fds[1], text.data(), text.size()) == static_cast<ssize_t>(text.size()));
    ::close(fds[1]);
    CHECK_THROWS_AS(csv::reader(fds[0], {.partition = {0, 2}}), std::invalid_argument);
    ::close(fds[0]);
    // Count 1 reads it whole, as always.
    csvtest::chunky_buf buf2(text, 1, 4);
    std::istream in2(&buf2);
    CHECK(csvtest::fields(*csv::reader(in2, {.partition = {0, 1}}).begin()) ==
          std::vector<std::string>{"1"});
}

TEST_CASE("a bad partition is rejected by name", "[csv][partition][options]")
{
    std::istringstream in("a\n1\n");
    CHECK_THROWS_WITH(csv::reader(in, {.partition = {0, 0}}),
                      "streambatch::csv: options::partition {index 0, count 0}: the count must be "
                      "at least 1");
    std::istringstream in2("a\n1\n");
    CHECK_THROWS_WITH(csv::reader(in2, {.partition = {3, 3}}),
                      "streambatch::csv: options::partition 3/3 (index 3, count 3): the index "
                      "must be below the count");
    std::istringstream in3("a\n1\n");
    CHECK_THROWS_AS(csv::reader(in3, {.partition = {7, 2}}), std::invalid_argument);
}

TEST_CASE("a partitioned reader resumes inside its partition and stops at its end",
          "[csv][partition][resume]")
{
    csvtest::temp_dir dir;
    std::mt19937_64 rng(99);
    for (int n = 0; n < 40; ++n) {
        std::string const text = generate(rng, ',', '"', false, n % 4 == 0, true, 40);
        csvtest::spit(dir / "r.csv", text);
        for (std::uint32_t count : {2u, 3u, 5u}) {
            for (std::uint32_t i = 0; i < count; ++i) {
                for (std::size_t block : {std::size_t{1}, std::size_t{5}, std::size_t{1} << 16}) {
                    csv::options const o{
                        .strict_field_count = false, .block_size = block, .partition = {i, count}};
                    // Every position the partition passes, and its rows.
                    std::vector<csv::position> at;
                    std::vector<rec> rows;
                    {
                        csv::reader r(dir / "r.csv", o);
                        for (auto it = r.begin(); it != r.end(); ++it) {
                            at.push_back(r.position());
                            rows.push_back({csvtest::fields(*it), it->byte_offset(), it->line()});
                        }
                        at.push_back(r.position());
                    }
                    for (std::size_t k = 0; k < at.size(); ++k) {
                        csv::reader r(dir / "r.csv", o, at[k]);
                        CHECK(r.position() == at[k]);
                        std::vector<rec> rest;
                        for (csv::row& row : r)
                            rest.push_back({csvtest::fields(row), row.byte_offset(), row.line()});
                        INFO("text " << streambatch::io::detail::quote(text) << ", partition " << i
                                     << "/" << count << ", block " << block << ", from row " << k);
                        CHECK(rest ==
                              std::vector<rec>(rows.begin() + static_cast<std::ptrdiff_t>(k),
                                               rows.end()));
                        CHECK(r.position() == at.back());
                    }
                }
            }
        }
    }
    // A position before the partition's range is refused.
    std::string const text = "a\n1\n2\n3\n4\n";
    csvtest::spit(dir / "x.csv", text);
    CHECK_THROWS_WITH(csv::reader(dir / "x.csv", {.partition = {1, 2}}, csv::position{2, 2, 0, 0}),
                      Catch::Contains("cannot resume partition 1/2") &&
                          Catch::Contains("begin at byte 6 or later"));
}

TEST_CASE("an ambiguous split point fails with ambiguous_split, naming file and byte",
          "[csv][partition][errors]")
{
    // Each record is one quoted field holding a line break: "\n"\n"\n"\n... Read from any
    // line break, as inside or outside a quote, it is valid CSV until the end of input
    // (which is what decides); with a short max_record_bytes the reader gives up.
    csvtest::temp_dir dir;
    std::string text = "h\n";
    for (int i = 0; i < 200; ++i)
        text += "\"\n\"\n";
    csvtest::spit(dir / "amb.csv", text);
    csv::options o{.max_record_bytes = 64, .name = "amb.csv", .partition = {1, 2}};
    try {
        csv::reader r(dir / "amb.csv", o);
        FAIL("no error");
    } catch (csv::parse_error const& e) {
        CHECK(e.kind() == csv::error_kind::ambiguous_split);
        CHECK(e.file() == "amb.csv");
        std::uint64_t const split = 2 + (text.size() - 2) / 2;
        CHECK(e.byte_offset() == split);
        CHECK(e.line() == 0);
        std::string const what = e.what();
        CHECK_THAT(what, Catch::StartsWith("amb.csv:? (byte " + std::to_string(split) +
                                           "): cannot tell where partition 1/2 begins"));
        CHECK_THAT(what, Catch::Contains("line unknown"));
        CHECK_THAT(what, Catch::Contains("fewer partitions, a larger max_record_bytes, or "
                                         "quoted_newlines = false"));
    }
    // A limit beyond the end of input decides it; so does reading the whole file.
    o.max_record_bytes = 1 << 20;
    CHECK(check_union(dir, text, o, false));
    // Partition 0 never splits.
    o.max_record_bytes = 64;
    o.partition = {0, 2};
    CHECK_NOTHROW(csv::reader(dir / "amb.csv", o));
}

TEST_CASE("field counts tell the readings apart where the syntax cannot",
          "[csv][partition][errors]")
{
    // ",\n"\n repeated: outside a quote, records of one field (",\n"); inside one, of two
    // ("\n" and an empty one). Both are valid CSV to the end; the header's count decides, when
    // a wrong count would stop the reader (strict_field_count, on_error::fail).
    csvtest::temp_dir dir;
    std::string text = "h\n";
    for (int i = 0; i < 200; ++i)
        text += "\",\n\"\n";
    csv::options o{.max_record_bytes = 64};
    CHECK(check_union(dir, text, o, false));
    for (std::uint32_t i = 1; i < 4; ++i) {
        o.partition = {i, 4};
        CHECK_NOTHROW(csv::reader(dir / "p.csv", o));
    }
    o.strict_field_count = false;
    CHECK_THROWS_MATCHES(csv::reader(dir / "p.csv", o), csv::parse_error,
                         Catch::Predicate<csv::parse_error>([](csv::parse_error const& e) {
                             return e.kind() == csv::error_kind::ambiguous_split;
                         }));
    // Without a header, the first record's count is read first and serves the same way.
    std::string const bare = text.substr(2);
    o = csv::options{.has_header = false, .max_record_bytes = 64};
    CHECK(check_union(dir, bare, o, false));
}

TEST_CASE("a split point where neither reading is valid CSV fails with both readings' errors",
          "[csv][partition][errors]")
{
    csvtest::temp_dir dir;
    std::string const text = "h\nxxxxxxxxxxxxxx\"b\"c\ny\n"; // a stray quote at byte 16
    csvtest::spit(dir / "bad.csv", text);
    try {
        csv::reader r(dir / "bad.csv", {.partition = {1, 2}});
        FAIL("no error");
    } catch (csv::parse_error const& e) {
        // Outside a quote: the stray quote at 16; inside: 'b' after the quote that closes it.
        CHECK(e.kind() == csv::error_kind::text_after_quote);
        CHECK(e.byte_offset() == 17);
        CHECK_THAT(std::string(e.what()),
                   Catch::Contains("no record can begin after the split point of partition 1/2 at "
                                   "byte 12: read as outside a quoted field, the text there fails "
                                   "at byte 16 (quote inside an unquoted field); read as inside "
                                   "one, at byte 17 (unexpected \"b\" after a closing quote)"));
    }
    // The whole reader fails at the same place.
    CHECK_THROWS_WITH(csvtest::parse(text),
                      Catch::StartsWith("<stream>:2 (byte 16): quote inside"));
}

TEST_CASE("errors in a partition name the byte and the partition's line",
          "[csv][partition][errors]")
{
    csvtest::temp_dir dir;
    std::string const text = "id,n\n1,1\n2,2\n3,3\n4,x\n5,\"y\n";
    //                        0    5   9   13  17  21
    csvtest::spit(dir / "e.csv", text);
    csv::reader r(dir / "e.csv", {.name = "e.csv", .partition = {1, 2}});
    CHECK(r.position() == csv::position{17, 1, 0, 0});
    auto it = r.begin();
    CHECK(it->line() == 1);
    try {
        (void)it->get<int>("n");
        FAIL("no error");
    } catch (csv::parse_error const& e) {
        CHECK(e.line() == 1);
        CHECK(e.line_partition() == partition{1, 2});
        CHECK(std::string(e.what()) == "e.csv:? (byte 17; line 1 of partition 1/2): column 1 "
                                       "(\"n\"): cannot convert \"x\" to int32: not a number");
    }
    try {
        ++it;
        FAIL("no error");
    } catch (csv::parse_error const& e) {
        CHECK(e.kind() == csv::error_kind::unclosed_quote);
        CHECK(e.byte_offset() == 26);
        CHECK(std::string(e.what()) ==
              "e.csv:? (byte 26; line 3 of partition 1/2): unclosed quote: reached end of file "
              "inside a quoted field that began at line 2 of partition 1/2 (byte 23), column 1 "
              "(\"n\")");
    }
    // Partition 0 has the file's lines.
    csv::reader r0(dir / "e.csv", {.name = "e.csv", .partition = {0, 2}});
    auto it0 = r0.begin();
    CHECK(it0->line() == 2);
    try {
        (void)it0->at("nope");
        FAIL("no error");
    } catch (csv::parse_error const& e) {
        CHECK(!e.line_partition());
        CHECK_THAT(std::string(e.what()), Catch::StartsWith("e.csv:2 (byte 5): no column named"));
    }
}

TEST_CASE("on_error::skip in partitions: the rows and the rejects add up to the whole file's",
          "[csv][partition][skip]")
{
    // Bad records of the wrong field count, and with stray quotes away from split points: each
    // partition skips and rejects its own.
    csvtest::temp_dir dir;
    std::mt19937_64 rng(31);
    for (int n = 0; n < 200; ++n) {
        std::string text = "a,b,c\n";
        for (int r = 0; r < 30; ++r) {
            auto const k = rng() % 10;
            if (k == 0)
                text += "1,2\n"; // too few fields
            else if (k == 1)
                text += "1,2,3,4\n";
            else
                text += std::to_string(r) + ",\"q\n" + std::to_string(rng() % 100) + "\",x\n";
        }
        csvtest::spit(dir / "s.csv", text);
        auto run = [&](partition p) {
            std::ostringstream rejects;
            csv::options const o{.block_size = std::size_t{1} << (rng() % 8),
                                 .bad_rows = csv::on_error::skip,
                                 .reject_stream = &rejects,
                                 .partition = p};
            std::vector<std::uint64_t> rows;
            std::uint64_t skipped = 0;
            csv::reader r(dir / "s.csv", o);
            for (csv::row& row : r)
                rows.push_back(row.byte_offset());
            skipped = r.skipped();
            // The reject records' byte offsets; each says its partition, and a partition after
            // the first leaves line and row out (its own count is no line of the file).
            std::vector<std::uint64_t> bad;
            for (streambatch::io::reject const& j : csvtest::read_rejects(rejects.str())) {
                REQUIRE(j.byte_offset);
                bad.push_back(*j.byte_offset);
                CHECK(j.source == "csv");
                CHECK(j.name == (dir / "s.csv").string());
                CHECK(j.raw);
                if (p.whole()) {
                    CHECK(!j.partition);
                    CHECK(j.line);
                    CHECK(j.row);
                } else {
                    CHECK(j.partition == p.str());
                    CHECK(!j.row);
                    CHECK(j.line.has_value() == (p.index == 0));
                }
            }
            CHECK(bad.size() == skipped);
            return std::pair{rows, bad};
        };
        auto const whole = run({0, 1});
        for (std::uint32_t count : {2u, 3u, 7u, 16u}) {
            std::vector<std::uint64_t> rows, bad;
            for (std::uint32_t i = 0; i < count; ++i) {
                auto const [r, b] = run({i, count});
                rows.insert(rows.end(), r.begin(), r.end());
                bad.insert(bad.end(), b.begin(), b.end());
            }
            CHECK(rows == whole.first);
            CHECK(bad == whole.second);
        }
    }
}

TEST_CASE("a split resolves by reading ahead no further than the wrong reading survives",
          "[csv][partition][memory]")
{
    // A quote-free 2 MB file: the reading 'inside a quote' fails only at max_record_bytes, and
    // the buffer does not grow to hold what it read.
    csvtest::temp_dir dir;
    std::string text = "id,v\n";
    while (text.size() < (2u << 20))
        text += std::to_string(text.size()) + ",value\n";
    csvtest::spit(dir / "big.csv", text);
    csv::reader r(dir / "big.csv", {.max_record_bytes = 1 << 20, .partition = {1, 4}});
    CHECK(r.buffer_bytes() < (256u << 10));
    std::uint64_t n = 0;
    for (csv::row& row : r)
        n += row.size();
    CHECK(n > 0);
}
