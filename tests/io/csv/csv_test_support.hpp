// tests/io/csv/csv_test_support.hpp: what the CSV tests share.
//
// chunky_buf        a streambuf over a string that hands out reads of random length (1..max),
//                   so the reader sees short reads and records cut anywhere.
// parse(...)        every row of a CSV text as strings, read with a given block size (and
//                   optionally through a chunky_buf); a parse_error propagates.
// parse_until_error rows read before the first error, and the error (if any).
// temp_dir          a fresh directory under $TMPDIR, removed at the end (test::temp_dir).
// slurp             a file's bytes.
// read_rejects      the records of a reject file (JSON Lines, docs/rejects.md), each line read
//                   back with io::parse_reject; every line must end with a line break.

#ifndef STREAMBATCH_TESTS_IO_CSV_SUPPORT_HPP
#define STREAMBATCH_TESTS_IO_CSV_SUPPORT_HPP

#include <streambatch/io/csv.hpp>
#include <streambatch/io/detail/reject.hpp>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <random>
#include <sstream>
#include <stdexcept>
#include <streambuf>
#include <string>
#include <system_error>
#include <vector>

#include "support/temp_dir.hpp"

namespace csvtest {

namespace csv = streambatch::csv;
using rows_t = std::vector<std::vector<std::string>>;

/// Reads of random length from a string.
class chunky_buf : public std::streambuf {
    std::string data_;
    std::size_t pos_ = 0;
    std::mt19937 rng_;
    std::size_t max_;

protected:
    std::streamsize xsgetn(char* s, std::streamsize n) override
    {
        if (pos_ >= data_.size() || n <= 0)
            return 0;
        std::size_t k = std::uniform_int_distribution<std::size_t>(1, max_)(rng_);
        k = std::min({k, static_cast<std::size_t>(n), data_.size() - pos_});
        data_.copy(s, k, pos_);
        pos_ += k;
        return static_cast<std::streamsize>(k);
    }
    int_type underflow() override
    {
        return pos_ < data_.size() ? traits_type::to_int_type(data_[pos_]) : traits_type::eof();
    }
    int_type uflow() override
    {
        return pos_ < data_.size() ? traits_type::to_int_type(data_[pos_++]) : traits_type::eof();
    }

public:
    chunky_buf(std::string data, std::uint32_t seed, std::size_t max_read)
        : data_(std::move(data)), rng_(seed), max_(max_read < 1 ? 1 : max_read)
    {}
};

inline std::vector<std::string> fields(csv::row const& r)
{
    return {r.begin(), r.end()};
}

/// Every row of `text`, read `block` bytes at a time (through random short reads when
/// `chunky_seed` is given).
inline rows_t parse(std::string const& text, csv::options o = {}, std::size_t block = 64 << 10,
                    std::optional<std::uint32_t> chunky_seed = std::nullopt)
{
    o.block_size = block;
    rows_t out;
    if (chunky_seed) {
        chunky_buf buf(text, *chunky_seed, block);
        std::istream in(&buf);
        for (csv::row& r : csv::rows(in, o))
            out.push_back(fields(r));
    } else {
        std::istringstream in(text);
        for (csv::row& r : csv::rows(in, o))
            out.push_back(fields(r));
    }
    return out;
}

struct outcome {
    rows_t rows;                           ///< rows read before the error
    std::optional<csv::parse_error> error; ///< the error, if reading failed
};

inline outcome parse_until_error(std::string const& text, csv::options o = {},
                                 std::size_t block = 64 << 10,
                                 std::optional<std::uint32_t> chunky_seed = std::nullopt)
{
    o.block_size = block;
    outcome out;
    auto run = [&](std::istream& in) {
        try {
            csv::reader r(in, o);
            for (csv::row& row : r)
                out.rows.push_back(fields(row));
        } catch (csv::parse_error const& e) {
            out.error = e;
        }
    };
    if (chunky_seed) {
        chunky_buf buf(text, *chunky_seed, block);
        std::istream in(&buf);
        run(in);
    } else {
        std::istringstream in(text);
        run(in);
    }
    return out;
}

/// A fresh directory, removed with everything in it at the end of the scope: the tests' one
/// helper (tests/support/temp_dir.hpp).
using ::test::temp_dir;

inline void spit(std::filesystem::path const& p, std::string const& bytes)
{
    std::ofstream(p, std::ios::binary)
        .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

inline std::string slurp(std::filesystem::path const& p)
{
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

/// The reject records in `text`, one JSON line each (a line cut short is an error).
inline std::vector<streambatch::io::reject> read_rejects(std::string const& text)
{
    std::vector<streambatch::io::reject> out;
    if (!text.empty() && text.back() != '\n')
        throw std::runtime_error("the reject text does not end with a line break");
    std::size_t at = 0;
    while (at < text.size()) {
        std::size_t const nl = text.find('\n', at);
        out.push_back(streambatch::io::parse_reject(text.substr(at, nl - at), "rejects"));
        at = nl + 1;
    }
    return out;
}

} // namespace csvtest

#endif
