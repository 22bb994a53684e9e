// streambatch/io/csv/writer.hpp: csv::writer, records out as RFC 4180 CSV.
//
// In:     a path (created or truncated) or a std::ostream (not owned), and writer_options:
//         delimiter (','), quote ('"'), line_ending (lf or crlf), quote_all (false).
// Out:    write_row(range) / write_row({"a", "b"}) / write("id", 42, 3.5, std::optional<int>{}):
//         one record each, quoted where it must be to read back the same. flush().
// Memory: one line's text.
// Errors: std::invalid_argument for a NUL byte (CSV readers reject it) or unusable options;
//         std::system_error naming the file when writing fails.
// Example:
//     csv::writer w("out.csv");
//     w.write_row({"id", "name"});
//     w.write(1, "Ada, Countess");   // -> 1,"Ada, Countess"
// See docs/csv.md.

#ifndef STREAMBATCH_IO_CSV_WRITER_HPP_INCLUDED
#define STREAMBATCH_IO_CSV_WRITER_HPP_INCLUDED

#include <streambatch/io/csv/convert.hpp>
#include <streambatch/io/csv/source.hpp>

#include <cerrno>
#include <charconv>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <memory>
#include <ostream>
#include <ranges>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>

namespace streambatch::csv {

/// How the writer ends a record.
enum class line_ending : unsigned char { lf, crlf };

struct writer_options {
    char delimiter = ',';
    char quote = '"';
    csv::line_ending line_ending = line_ending::lf;
    bool quote_all = false; ///< quote every field, not only those that need it
};

/// Writes records as RFC 4180 CSV. A field is quoted when it holds the delimiter, the quote,
/// CR or LF, starts or ends with a space or tab, or would otherwise read back differently (a
/// record of one empty field, a first field starting with a UTF-8 BOM); quotes are doubled.
/// Fields are anything convertible to std::string_view, arithmetic values (std::to_chars:
/// floats round-trip), bool (true/false) and std::optional of those (nullopt: empty).
/// A NUL byte throws std::invalid_argument (the reader rejects NUL). Write failures throw
/// std::system_error naming the file.
class writer {
    std::unique_ptr<std::ofstream> file_;
    std::ostream* out_;
    writer_options opt_;
    std::string name_;
    std::string line_;
    std::uint64_t rows_ = 0;
    std::size_t fields_in_line_ = 0;
    bool first_field_empty_ = false;

    void check_options() const
    {
        auto const bad = [](char c) { return c == '\n' || c == '\r' || c == '\0'; };
        if (opt_.delimiter == opt_.quote || bad(opt_.delimiter) || bad(opt_.quote))
            throw std::invalid_argument(
                "streambatch::csv::writer: the delimiter and the quote must "
                "differ, and be neither CR, LF nor NUL");
    }

    bool needs_quotes(std::string_view s, bool first_of_file) const noexcept
    {
        if (opt_.quote_all)
            return true;
        if (s.empty())
            return false;
        if (s.front() == ' ' || s.front() == '\t' || s.back() == ' ' || s.back() == '\t')
            return true;
        if (first_of_file && s.starts_with("\xEF\xBB\xBF")) // a reader would skip it as a BOM
            return true;
        for (char c : s)
            if (c == opt_.delimiter || c == opt_.quote || c == '\n' || c == '\r')
                return true;
        return false;
    }

    void append_text(std::string_view s)
    {
        if (s.find('\0') != std::string_view::npos)
            throw std::invalid_argument("streambatch::csv::writer: " + name_ + ": record " +
                                        std::to_string(rows_ + 1) + ", field " +
                                        std::to_string(fields_in_line_) +
                                        " holds a NUL byte, which CSV readers reject");
        bool const first_of_file = rows_ == 0 && fields_in_line_ == 0;
        if (fields_in_line_ != 0)
            line_ += opt_.delimiter;
        else
            first_field_empty_ = s.empty();
        ++fields_in_line_;
        if (!needs_quotes(s, first_of_file)) {
            line_ += s;
            return;
        }
        line_ += opt_.quote;
        for (std::size_t i = 0;;) {
            std::size_t const q = s.find(opt_.quote, i);
            if (q == std::string_view::npos) {
                line_.append(s.substr(i));
                break;
            }
            line_.append(s.substr(i, q + 1 - i));
            line_ += opt_.quote;
            i = q + 1;
        }
        line_ += opt_.quote;
    }

    template <class F>
    void append(F const& f)
    {
        using T = std::remove_cvref_t<F>;
        if constexpr (detail::optional_traits<T>::value) {
            if (f)
                append(*f);
            else
                append_text({});
        } else if constexpr (std::same_as<T, bool>) {
            append_text(f ? "true" : "false");
        } else if constexpr (std::is_arithmetic_v<T> && !std::same_as<T, char>) {
            char buf[64];
            auto const r = std::to_chars(buf, buf + sizeof buf, f);
            append_text(std::string_view(buf, static_cast<std::size_t>(r.ptr - buf)));
        } else if constexpr (std::same_as<T, char>) {
            append_text(std::string_view(&f, 1));
        } else {
            static_assert(std::convertible_to<F const&, std::string_view>,
                          "csv::writer: a field must be convertible to std::string_view, "
                          "arithmetic, bool, or std::optional of one of those");
            append_text(std::string_view(f));
        }
    }

    void end_line()
    {
        if (fields_in_line_ == 1 && first_field_empty_ && !opt_.quote_all) {
            line_ += opt_.quote; // a lone empty field would read back as a blank line
            line_ += opt_.quote;
        }
        line_ += opt_.line_ending == line_ending::crlf ? std::string_view("\r\n")
                                                       : std::string_view("\n");
        out_->write(line_.data(), static_cast<std::streamsize>(line_.size()));
        line_.clear();
        fields_in_line_ = 0;
        if (!*out_)
            detail::throw_io_error(errno != 0 ? errno : EIO,
                                   "streambatch::csv::writer: cannot write " + name_);
        ++rows_;
    }

public:
    /// Writes to `path` (created or truncated).
    explicit writer(std::filesystem::path const& path, writer_options const& o = {})
        : file_(std::make_unique<std::ofstream>(path, std::ios::binary | std::ios::trunc)),
          out_(file_.get()), opt_(o), name_(path.string())
    {
        check_options();
        if (!*file_)
            detail::throw_io_error(errno != 0 ? errno : EIO,
                                   "streambatch::csv::writer: cannot open " + name_);
    }
    /// Writes to `out` (not owned); `name` appears in messages.
    explicit writer(std::ostream& out, writer_options const& o = {}, std::string name = "<stream>")
        : out_(&out), opt_(o), name_(std::move(name))
    {
        check_options();
    }

    /// One record from a range of fields.
    template <std::ranges::input_range R>
    writer& write_row(R&& fields)
    {
        for (auto&& f : fields)
            append(f);
        end_line();
        return *this;
    }
    writer& write_row(std::initializer_list<std::string_view> fields)
    {
        for (std::string_view f : fields)
            append_text(f);
        end_line();
        return *this;
    }
    /// One record from its fields: w.write("id", 42, 3.5, std::optional<int>{}).
    template <class... F>
    writer& write(F const&... fields)
    {
        (append(fields), ...);
        end_line();
        return *this;
    }

    void flush()
    {
        out_->flush();
        if (!*out_)
            detail::throw_io_error(errno != 0 ? errno : EIO,
                                   "streambatch::csv::writer: cannot write " + name_);
    }
    std::uint64_t rows_written() const noexcept { return rows_; }
};

} // namespace streambatch::csv

#endif // STREAMBATCH_IO_CSV_WRITER_HPP_INCLUDED
