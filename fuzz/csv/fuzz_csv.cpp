// fuzz/csv/fuzz_csv.cpp: libFuzzer target for streambatch::csv's reader (and writer).
//
// Input: byte 0 chooses the options, the rest is the CSV text.
//   bits 0-2  block size: 1, 2, 3, 5, 7, 16, 64 or 4096 bytes
//   bit 3     delimiter ';' instead of ','
//   bit 4     has_header
//   bit 5     strict_field_count
//   bit 6     max_record_bytes = 24 (instead of 1 MiB), to reach the limit's paths
//   bit 7     quote '\'' instead of '"'
// Checks (a failure aborts, which libFuzzer reports as a crash), besides the sanitizers':
//   1. The fail policy gives the same rows and the same error (what()) with the chosen block
//      size, with one block holding the whole input and through short reads: where blocks end
//      never matters.
//   2. The skip policy never throws parse_error (max_skipped is large enough), delivers first
//      the rows the fail policy delivered before its error, and writes one reject record per
//      skipped record: a JSON line (docs/rejects.md) that io::parse_reject reads back, whose
//      raw bytes are the input's at its byte offset.
//   3. Every row converts (or fails with a parse_error) to int, double, bool.
//   4. Rows written by csv::writer read back the same.
//   5. Rows' lines and byte offsets increase.
//   6. Partitions: when the fail policy reads the input without error, partitions 0..n-1 of
//      it (n = 2, 3, 7, and one per byte of a short input) give its rows in order, each
//      beginning where the one before ended and the last ending where the whole reader does;
//      the only error allowed is ambiguous_split, and only with max_record_bytes = 24.

#include <streambatch/io/csv.hpp>
#include <streambatch/io/detail/reject.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <istream>
#include <optional>
#include <sstream>
#include <streambuf>
#include <string>
#include <string_view>
#include <vector>

namespace {

namespace csv = streambatch::csv;
using rows_t = std::vector<std::vector<std::string>>;

[[noreturn]] void fail(char const* what)
{
    std::fprintf(stderr, "fuzz_csv: invariant broken: %s\n", what);
    std::abort();
}

/// A streambuf over memory that hands out reads of 1..7 bytes.
class short_reads : public std::streambuf {
    std::string_view data_;
    std::size_t pos_ = 0;
    unsigned step_ = 0;

protected:
    std::streamsize xsgetn(char* s, std::streamsize n) override
    {
        std::size_t k = 1 + (step_++ % 7);
        k = std::min({k, static_cast<std::size_t>(n), data_.size() - pos_});
        data_.copy(s, k, pos_);
        pos_ += k;
        return static_cast<std::streamsize>(k);
    }
    int_type underflow() override { return traits_type::eof(); }

public:
    explicit short_reads(std::string_view d) : data_(d) {}
};

struct result {
    rows_t rows;
    std::optional<std::string> error;
    std::uint64_t skipped = 0;
};

std::vector<std::string> fields(csv::row const& r)
{
    return {r.begin(), r.end()};
}

result run(std::istream& in, csv::options const& o)
{
    result out;
    try {
        csv::reader r(in, o);
        std::uint64_t last_line = 0, last_byte = 0;
        bool first = true;
        for (csv::row& row : r) {
            if (!first && (row.line() <= last_line || row.byte_offset() <= last_byte))
                fail("rows' lines and byte offsets must increase");
            first = false;
            last_line = row.line();
            last_byte = row.byte_offset();
            if (r.position().byte_offset != row.byte_offset() || r.position().line != row.line())
                fail("position() is where the row at the iterator begins");
            try {
                (void)row.get<int>(0);
            } catch (csv::parse_error const&) {
            }
            try {
                (void)row.get<double>(row.size() - 1);
            } catch (csv::parse_error const&) {
            }
            try {
                (void)row.get<std::optional<bool>>(0);
            } catch (csv::parse_error const&) {
            }
            if (!r.header().empty()) {
                try {
                    (void)row.at(r.header()[0]);
                } catch (csv::parse_error const&) {
                } catch (std::out_of_range const&) {
                }
            }
            out.rows.push_back(fields(row));
        }
        out.skipped = r.skipped();
    } catch (csv::parse_error const& e) {
        out.error = e.what();
    }
    return out;
}

/// Partitions 0..n-1 of `text`, checked against the whole reader's rows `whole` (and the byte
/// where it ended); false when a split point was ambiguous.
bool check_partitions(std::string_view text, csv::options o, std::uint32_t n, rows_t const& whole,
                      std::uint64_t whole_end)
{
    rows_t all;
    std::uint64_t prev_end = 0;
    for (std::uint32_t i = 0; i < n; ++i) {
        o.partition = {i, n};
        std::istringstream in{std::string(text)};
        try {
            csv::reader r(in, o);
            std::uint64_t const begin = r.position().byte_offset;
            if (i > 0 && begin != prev_end)
                fail("a partition begins where the one before it ended");
            for (csv::row& row : r) {
                if (row.byte_offset() < r.partition_range().nominal_begin ||
                    (i + 1 < n && row.byte_offset() >= r.partition_range().nominal_end))
                    fail("a partition's rows begin in its nominal range");
                all.push_back(fields(row));
            }
            prev_end = r.position().byte_offset;
        } catch (csv::parse_error const& e) {
            if (e.kind() == csv::error_kind::ambiguous_split && o.max_record_bytes == 24)
                return false;
            std::fprintf(stderr, "fuzz_csv: partition %u/%u: %s\n", i, n, e.what());
            fail("a partition of a good input threw");
        }
    }
    if (prev_end != whole_end)
        fail("the last partition ends where the whole reader does");
    if (all != whole)
        fail("the partitions' rows are the whole input's");
    return true;
}

result run_text(std::string_view text, csv::options const& o, bool chunky = false)
{
    if (chunky) {
        short_reads buf(text);
        std::istream in(&buf);
        return run(in, o);
    }
    std::istringstream in{std::string(text)};
    return run(in, o);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size)
{
    if (size == 0)
        return 0;
    std::uint8_t const cfg = data[0];
    std::string_view const text(reinterpret_cast<char const*>(data + 1), size - 1);
    static constexpr std::size_t blocks[] = {1, 2, 3, 5, 7, 16, 64, 4096};

    csv::options o;
    o.block_size = blocks[cfg & 7];
    o.delimiter = (cfg & 8) ? ';' : ',';
    o.has_header = (cfg & 16) != 0;
    o.strict_field_count = (cfg & 32) != 0;
    o.max_record_bytes = (cfg & 64) ? 24 : std::size_t{1} << 20;
    o.quote = (cfg & 128) ? '\'' : '"';

    // 1. Block boundaries never matter.
    result const a = run_text(text, o);
    csv::options big = o;
    big.block_size = 8192; // more than -max_len: the whole input in one block
    result const b = run_text(text, big);
    if (a.rows != b.rows || a.error != b.error)
        fail("the fail policy depends on the block size");
    result const c = run_text(text, o, true);
    if (a.rows != c.rows || a.error != c.error)
        fail("the fail policy depends on short reads");

    // 2. The skip policy: the same good rows first, then more; one reject row per skip.
    std::ostringstream rejects;
    csv::options skip = o;
    skip.bad_rows = csv::on_error::skip;
    skip.max_skipped = size + 1;
    skip.reject_stream = &rejects;
    result const s = run_text(text, skip);
    bool header_error = false; // a bad header throws under either policy
    try {
        std::istringstream in{std::string(text)};
        csv::reader r(in, o);
    } catch (csv::parse_error const&) {
        header_error = true;
    }
    if (s.error.has_value() != header_error)
        fail("the skip policy threw for a data row, or not for a bad header");
    if (!s.error) {
        if (s.rows.size() < a.rows.size() ||
            !std::equal(a.rows.begin(), a.rows.end(), s.rows.begin()))
            fail("the skip policy lost rows the fail policy delivered");
        if (!a.error && (s.skipped != 0 || s.rows != a.rows))
            fail("the skip policy differs on a good file");
        if (a.error && s.skipped == 0)
            fail("the skip policy skipped nothing on a bad file");
        // One JSON line per skipped record (docs/rejects.md), each holding the record's bytes
        // exactly as they stand in the input at its byte offset (NUL and non-UTF-8 included).
        std::string const lines = rejects.str();
        if (!lines.empty() && lines.back() != '\n')
            fail("the reject file does not end with a line break");
        std::uint64_t n = 0;
        std::uint64_t last = 0;
        for (std::size_t at = 0; at < lines.size(); ++n) {
            std::size_t const nl = lines.find('\n', at);
            streambatch::io::reject j;
            try {
                j = streambatch::io::parse_reject(std::string_view(lines).substr(at, nl - at));
            } catch (std::exception const&) {
                fail("a reject line is not a reject record");
            }
            at = nl + 1;
            if (j.source != "csv" || !j.byte_offset || !j.line || !j.row || !j.raw)
                fail("a reject record lacks its source, position or raw bytes");
            if (*j.byte_offset < last || *j.byte_offset > text.size())
                fail("the reject records' byte offsets do not increase within the input");
            last = *j.byte_offset;
            if (text.substr(static_cast<std::size_t>(*j.byte_offset), j.raw->size()) != *j.raw)
                fail("a reject record's raw bytes are not the input's at its byte offset");
            if (j.raw_size && *j.raw_size <= j.raw->size())
                fail("raw_size is set though raw holds the whole record");
            if (j.error.empty())
                fail("a reject record has no error");
        }
        if (n != s.skipped)
            fail("one reject record per skipped record");
    }

    // 6. Partitions add up to the whole input.
    if (!a.error) {
        std::istringstream in{std::string(text)};
        csv::reader r(in, o);
        for (csv::row& row : r)
            (void)row;
        std::uint64_t const end = r.position().byte_offset;
        std::uint64_t const data = end - r.partition_range().data_begin;
        for (std::uint32_t n : {2u, 3u, 7u})
            check_partitions(text, o, n, a.rows, end);
        if (data > 0 && data < 64)
            check_partitions(text, o, static_cast<std::uint32_t>(data), a.rows, end);
    }

    // 4. Writer round trip of what was read.
    if (!a.rows.empty()) {
        std::ostringstream out;
        csv::writer w(out, {.delimiter = o.delimiter, .quote = o.quote});
        for (auto const& r : a.rows)
            w.write_row(r);
        csv::options back;
        back.delimiter = o.delimiter;
        back.quote = o.quote;
        back.has_header = false;
        back.strict_field_count = false;
        back.block_size = o.block_size;
        result const rt = run_text(out.str(), back);
        if (rt.error || rt.rows != a.rows)
            fail("writer -> reader round trip");
    }
    return 0;
}
