// streambatch/io/csv/file_sink.hpp: csv::file_sink, a job sink that appends each batch of
// records to a CSV file, as csv::writer writes them, with the file sink's fence and checkpoint.
//
// In:     the output's path, the header's column names (none: no header line), writer_options
//         (delimiter, quote, line ending, quote_all) and file_sink_options (checkpoint path,
//         start_over).
// Out:    csv::file_sink (a streambatch::file_sink<csv::row_format>: open(key), commit(batch,
//         state), close(), describe(), recovered_bytes(), note(), ...); csv::row_format, the
//         callable that formats a batch (usable with streambatch::file_sink directly).
// Models: streambatch::job_sink for a batch that is an input range of rows, each row either a
//         tuple (std::tuple, std::pair: fields as csv::writer::write takes them: strings,
//         numbers, bool, std::optional) or a range of fields (std::vector<std::string>,
//         csv::row). The header line is written once, with the first committed batch; a
//         reopened output must begin with the same header. Each field is quoted as csv::writer
//         quotes it (the first field of each batch as if it began the file: a field starting
//         with a UTF-8 BOM is quoted, which reads back the same).
// Memory: one batch's CSV text, the output's last 64 KiB (see job/file_sink.hpp).
// Errors: those of streambatch::file_sink (fence_held, fence_lost, file_sink_error);
//         std::invalid_argument from csv::writer (a NUL byte in a field: nothing is written).
// Example:
//     streambatch::csv::file_sink sink("customers.csv", {"id", "name"});
//     auto state = sink.open({.job = "export customers"});
//     std::vector<std::tuple<long, std::string>> batch{{1, "Ada, Countess"}};
//     sink.commit(batch, {.position = "1", .batches = 1, .records = 1}); // 1,"Ada, Countess"
// See docs/csv.md.

#ifndef STREAMBATCH_IO_CSV_FILE_SINK_HPP_INCLUDED
#define STREAMBATCH_IO_CSV_FILE_SINK_HPP_INCLUDED

#include <streambatch/io/csv/writer.hpp>
#include <streambatch/job/file_sink.hpp>

#include <concepts>
#include <cstddef>
#include <filesystem>
#include <ios>
#include <ostream>
#include <ranges>
#include <streambuf>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace streambatch::csv {

namespace detail {

/// A streambuf that appends to a std::string (csv::writer writes to an ostream).
class string_append_buf : public std::streambuf {
    std::string* out_;

protected:
    int_type overflow(int_type c) override
    {
        if (!traits_type::eq_int_type(c, traits_type::eof()))
            out_->push_back(traits_type::to_char_type(c));
        return traits_type::not_eof(c);
    }
    std::streamsize xsputn(char const* s, std::streamsize n) override
    {
        out_->append(s, static_cast<std::size_t>(n));
        return n;
    }

public:
    explicit string_append_buf(std::string& out) : out_(&out) {}
};

template <class T>
concept tuple_row = requires { std::tuple_size<std::remove_cvref_t<T>>::value; };

template <class T>
concept fields_row = std::ranges::input_range<T> && !std::convertible_to<T, std::string_view>;

} // namespace detail

/// Formats a batch of rows as CSV records, quoted as csv::writer quotes them.
struct row_format {
    writer_options options{};
    std::string name{"<csv file_sink>"}; ///< the output, in csv::writer's messages

    template <std::ranges::input_range Batch>
    void operator()(Batch& batch, std::string& out) const
    {
        detail::string_append_buf buf(out);
        std::ostream stream(&buf);
        writer w(stream, options, name);
        for (auto&& row : batch) {
            using row_t = decltype(row);
            if constexpr (detail::fields_row<row_t>)
                w.write_row(row);
            else if constexpr (detail::tuple_row<row_t>)
                std::apply([&w](auto const&... f) { w.write(f...); }, row);
            else
                static_assert(detail::tuple_row<row_t>,
                              "csv::file_sink: a row must be a tuple of fields (std::tuple, "
                              "std::pair) or a range of fields (std::vector<std::string>)");
        }
    }
};

/// A job sink that appends batches of rows to a CSV file. See the header comment.
class file_sink : public streambatch::file_sink<row_format> {
    static file_sink_options with_header(file_sink_options o, std::vector<std::string> const& h,
                                         writer_options const& w)
    {
        o.header.clear();
        if (!h.empty()) {
            detail::string_append_buf buf(o.header);
            std::ostream stream(&buf);
            writer(stream, w, "header").write_row(h);
        }
        return o;
    }

public:
    /// A sink for `output` with the header `columns` (empty: no header line).
    file_sink(std::filesystem::path output, std::vector<std::string> columns,
              writer_options const& options = {}, file_sink_options sink = {})
        : streambatch::file_sink<row_format>(output, row_format{options, output.string()},
                                             with_header(std::move(sink), columns, options))
    {}
};

} // namespace streambatch::csv

#endif // STREAMBATCH_IO_CSV_FILE_SINK_HPP_INCLUDED
