// The reader against libcsv 3.0 (Debian libcsv-dev) on thousands of generated files full of
// quotes, doubled quotes, embedded CR/LF/CRLF, delimiters, empty fields and UTF-8 bytes, each
// read by ours in random block sizes down to 1 byte (and through random short reads): the same
// rows. Then on corrupted copies: both accept with the same rows, or both reject after the same
// good rows.
//
// libcsv is set up to mean RFC 4180 as we read it:
//   - CSV_STRICT | CSV_STRICT_FINI: a quote in an unquoted field, text after a closing quote
//     and an unclosed quote at the end are errors, as they are for us;
//   - a space function that returns 0: libcsv otherwise trims spaces and tabs around unquoted
//     fields (we keep them: they are data);
//   - its default line breaks (CR and LF, CRLF reaching it as CR then a skipped blank line) and
//     its skipping of blank lines match ours.
// What is normalised: none of the files has a NUL byte (libcsv takes NUL as data; we reject
// it), and ours runs without a header and with strict_field_count off (libcsv knows neither).
// The generator also knows the true rows, so both parsers are checked against the truth too.

#include <catch2/catch.hpp>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <csv.h>

#include "csv_test_support.hpp"

namespace {

namespace csv = streambatch::csv;
using csvtest::rows_t;

struct libcsv_result {
    rows_t rows;
    bool ok = true;
};

/// libcsv over `text`, fed in chunks of random size.
libcsv_result libcsv_parse(std::string const& text, char delim, char quote, std::mt19937_64& rng)
{
    struct state {
        rows_t rows;
        std::vector<std::string> cur;
    } st;
    csv_parser p;
    REQUIRE(csv_init(&p, CSV_STRICT | CSV_STRICT_FINI) == 0);
    csv_set_delim(&p, static_cast<unsigned char>(delim));
    csv_set_quote(&p, static_cast<unsigned char>(quote));
    csv_set_space_func(&p, [](unsigned char) { return 0; });
    auto const on_field = [](void* data, std::size_t n, void* user) {
        static_cast<state*>(user)->cur.emplace_back(static_cast<char const*>(data), n);
    };
    auto const on_row = [](int, void* user) {
        auto* s = static_cast<state*>(user);
        s->rows.push_back(std::move(s->cur));
        s->cur.clear();
    };
    libcsv_result out;
    std::size_t pos = 0;
    while (pos < text.size()) {
        std::size_t const n = std::min<std::size_t>(text.size() - pos, 1 + rng() % 64);
        if (csv_parse(&p, text.data() + pos, n, on_field, on_row, &st) != n) {
            out.ok = false;
            break;
        }
        pos += n;
    }
    if (out.ok && csv_fini(&p, on_field, on_row, &st) != 0)
        out.ok = false;
    csv_free(&p);
    out.rows = std::move(st.rows);
    return out;
}

struct generated {
    std::string text;
    rows_t rows; // the truth
};

/// A random file: fields quoted when they must be (and sometimes when they need not), doubled
/// quotes, line breaks of every kind between and inside records, blank lines.
generated generate(std::mt19937_64& rng, char delim, char quote)
{
    static char const* const pieces[] = {"a",
                                         "bc",
                                         "xyz",
                                         "1",
                                         "-2.5",
                                         " ",
                                         "  ",
                                         "\t",
                                         "\xC3\xA9",
                                         "\xE2\x82\xAC",
                                         "\xF0\x9F\x98\x80",
                                         "\xEF\xBB\xBF",
                                         "\x01",
                                         "\x7f",
                                         "\xff",
                                         "#",
                                         "'",
                                         "\\"};
    char const* const breaks[] = {"\n", "\r\n", "\r"};
    generated g;
    std::size_t const nrows = rng() % 25;
    std::size_t const width = 1 + rng() % 6;
    bool const ragged = rng() % 3 == 0;
    for (std::size_t r = 0; r < nrows; ++r) {
        std::size_t const nf = ragged ? 1 + rng() % 7 : width;
        std::vector<std::string> row;
        std::string line;
        for (std::size_t i = 0; i < nf; ++i) {
            std::string f;
            auto const len = rng() % 5 == 0 ? 0 : rng() % 7;
            for (std::uint64_t k = 0; k < len; ++k) {
                auto const c = rng() % 16;
                if (c == 0)
                    f += quote;
                else if (c == 1)
                    f += delim;
                else if (c == 2)
                    f += breaks[rng() % 3];
                else
                    f += pieces[rng() % std::size(pieces)];
            }
            bool const must =
                f.find_first_of(std::string{delim, quote, '\n', '\r'}) != std::string::npos ||
                (nf == 1 && f.empty()) || (r == 0 && i == 0 && f.starts_with("\xEF\xBB\xBF"));
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
            row.push_back(std::move(f));
        }
        g.text += line;
        if (r + 1 < nrows || rng() % 4 != 0)
            g.text += breaks[rng() % 3];
        if (r + 1 < nrows &&
            rng() % 10 == 0) // a blank line; never a CR before an LF ("\r" "\n" is one break)
            g.text += g.text.back() == '\r' ? "\r" : "\n";
        g.rows.push_back(std::move(row));
    }
    return g;
}

/// A few bytes of `text` changed to a quote, a delimiter, a line break, or deleted.
std::string corrupt(std::string text, std::mt19937_64& rng, char delim, char quote)
{
    if (text.empty())
        return std::string(1, quote);
    auto const edits = 1 + rng() % 3;
    for (std::uint64_t e = 0; e < edits && !text.empty(); ++e) {
        std::size_t const at = rng() % text.size();
        switch (rng() % 5) {
        case 0:
            text[at] = quote;
            break;
        case 1:
            text.insert(at, 1, quote);
            break;
        case 2:
            text.erase(at, 1);
            break;
        case 3:
            text.insert(at, 1, delim);
            break;
        default:
            text.insert(at, rng() % 2 ? "\r" : "\n");
            break;
        }
    }
    return text;
}

csv::options reader_options(char delim, char quote)
{
    return {.delimiter = delim, .quote = quote, .has_header = false, .strict_field_count = false};
}

} // namespace

TEST_CASE("reader and libcsv read 3000 generated files alike, in any block size",
          "[csv][differential]")
{
    std::mt19937_64 rng(4180);
    char const delims[] = {',', ';', '\t'};
    char const quotes[] = {'"', '\''};
    std::size_t files = 0, rows = 0, bytes = 0;
    for (int i = 0; i < 3000; ++i) {
        char const delim = delims[rng() % 3];
        char const quote = quotes[rng() % 2];
        generated const g = generate(rng, delim, quote);
        std::size_t const block = rng() % 3 == 0 ? 1 : 1 + rng() % (rng() % 2 ? 8 : 300);
        INFO("file " << i << ", block " << block << ", delimiter " << delim << ", quote " << quote
                     << ", text: " << g.text);
        libcsv_result const theirs = libcsv_parse(g.text, delim, quote, rng);
        REQUIRE(theirs.ok);
        CHECK(theirs.rows == g.rows);
        auto const o = reader_options(delim, quote);
        rows_t const ours = csvtest::parse(g.text, o, block);
        CHECK(ours == theirs.rows);
        if (i % 3 == 0) // random short reads too
            CHECK(csvtest::parse(g.text, o, 1 + rng() % 16, static_cast<std::uint32_t>(i)) ==
                  theirs.rows);
        ++files;
        rows += ours.size();
        bytes += g.text.size();
    }
    CHECK(files == 3000);
    CHECK(rows > 20000);
    CHECK(bytes > 500000);
}

TEST_CASE("reader and libcsv agree on 3000 corrupted files: same rows, same verdict",
          "[csv][differential]")
{
    std::mt19937_64 rng(1180);
    char const delims[] = {',', ';'};
    std::size_t rejected = 0;
    for (int i = 0; i < 3000; ++i) {
        char const delim = delims[rng() % 2];
        char const quote = '"';
        std::string const text = corrupt(generate(rng, delim, quote).text, rng, delim, quote);
        std::size_t const block = 1 + rng() % 20;
        INFO("file " << i << ", block " << block << ", text: " << text);
        // libcsv keeps a UTF-8 BOM at byte 0 as data; we skip it. Give libcsv the text after it.
        bool const bom = text.starts_with("\xEF\xBB\xBF");
        libcsv_result const theirs = libcsv_parse(bom ? text.substr(3) : text, delim, quote, rng);
        csvtest::outcome const ours =
            csvtest::parse_until_error(text, reader_options(delim, quote), block);
        CHECK(ours.error.has_value() == !theirs.ok);
        CHECK(ours.rows == theirs.rows); // on failure: the good rows before the bad record
        if (ours.error) {
            ++rejected;
            CHECK(ours.error->byte_offset() <= text.size());
        }
    }
    CHECK(rejected > 500); // the corruption does make bad files
}
