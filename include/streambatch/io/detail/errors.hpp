// streambatch/io/detail/errors.hpp: the bad-input error classes of the SQL sources, written once
// as templates on a tag, and the one way their messages say where.
//
// A component names them: `using row_error = io::basic_row_error<tag>;` with a tag type of its
// own (struct tag { static constexpr std::string_view prefix = "streambatch::sqlite: "; }), so
// sqlite::row_error and postgres::row_error are distinct types and a catch clause for one never
// takes the other. basic_batch_error<Error> derives from the component's own database error (it
// needs a constructor Error(what, Error const& cause) that copies the cause's details).
// Messages: "<prefix>query "SELECT ...", row 3, column 1 ("age"): <reason>"; values quoted by
// quote.hpp.

#ifndef STREAMBATCH_IO_DETAIL_ERRORS_HPP_INCLUDED
#define STREAMBATCH_IO_DETAIL_ERRORS_HPP_INCLUDED

#include <streambatch/io/detail/quote.hpp>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

namespace streambatch::io {

/// Bad input: a value that is not what was asked for, or a row its parse function rejected.
template <class Tag>
class basic_row_error : public std::runtime_error {
    std::string query_;
    std::uint64_t row_;
    std::size_t column_;
    std::string column_name_, reason_;

public:
    static constexpr std::size_t npos = static_cast<std::size_t>(-1);
    basic_row_error(std::string const& what, std::string query, std::uint64_t row,
                    std::size_t column, std::string column_name, std::string reason)
        : std::runtime_error(what), query_(std::move(query)), row_(row), column_(column),
          column_name_(std::move(column_name)), reason_(std::move(reason))
    {}
    std::string const& query() const noexcept { return query_; }
    /// 1-based position of the row in the query's result.
    std::uint64_t row() const noexcept { return row_; }
    /// 0-based column index, npos when the error is about the whole row.
    std::size_t column() const noexcept { return column_; }
    std::string const& column_name() const noexcept { return column_name_; }
    /// What was expected and what was found, without the location.
    std::string const& reason() const noexcept { return reason_; }
};

/// on_error::skip went over query_options::max_skipped.
template <class Tag>
class basic_too_many_bad_rows : public basic_row_error<Tag> {
    std::uint64_t skipped_;
    std::filesystem::path reject_path_;

public:
    basic_too_many_bad_rows(std::string const& what, basic_row_error<Tag> const& last,
                            std::uint64_t skipped, std::filesystem::path reject_path)
        : basic_row_error<Tag>(what, last.query(), last.row(), last.column(), last.column_name(),
                               last.reason()),
          skipped_(skipped), reject_path_(std::move(reject_path))
    {}
    /// Rows skipped before this one (the reject file holds those and this one).
    std::uint64_t skipped() const noexcept { return skipped_; }
    std::filesystem::path const& reject_path() const noexcept { return reject_path_; }
};

/// A sink's write failed; the batch was rolled back.
template <class Error>
class basic_batch_error : public Error {
    std::uint64_t batch_;
    std::size_t row_;

public:
    static constexpr std::size_t npos = static_cast<std::size_t>(-1);
    basic_batch_error(std::string const& what, Error const& cause, std::uint64_t batch,
                      std::size_t row)
        : Error(what, cause), batch_(batch), row_(row)
    {}
    /// 0-based: how many write() calls came before the one that failed.
    std::uint64_t batch_index() const noexcept { return batch_; }
    /// 0-based row within the batch; npos when unknown or not a row's (BEGIN, hook, COMMIT).
    std::size_t row_index() const noexcept { return row_; }
};

namespace detail {

/// "query "SELECT ...", row 3, column 1 ("age")"
inline std::string where(std::string_view query, std::uint64_t row, std::size_t column,
                         std::string_view name)
{
    constexpr std::size_t npos = static_cast<std::size_t>(-1);
    std::string s = "query " + quote(query) + ", row " + std::to_string(row);
    if (column != npos)
        s += ", column " + std::to_string(column);
    if (!name.empty())
        s += (column != npos ? " (" : ", column (") + quote(name) + ")";
    return s;
}

template <class Tag>
[[noreturn]] void throw_row_error(std::string const& query, std::uint64_t row, std::size_t column,
                                  std::string const& name, std::string const& reason)
{
    throw basic_row_error<Tag>(std::string(Tag::prefix) + where(query, row, column, name) + ": " +
                                   reason,
                               query, row, column, name, reason);
}

/// The component's name in its tag's prefix: "sqlite" for "streambatch::sqlite: ".
template <class Tag>
constexpr std::string_view component_name() noexcept
{
    constexpr std::string_view prefix = Tag::prefix, library = "streambatch::";
    static_assert(prefix.starts_with(library) && prefix.ends_with(": "));
    return prefix.substr(library.size(), prefix.size() - library.size() - 2);
}

/// e.what() without the component's prefix, to wrap it in a longer message.
template <class Tag>
std::string_view unprefixed(char const* what)
{
    std::string_view s = what;
    return s.starts_with(Tag::prefix) ? s.substr(Tag::prefix.size()) : s;
}

} // namespace detail
} // namespace streambatch::io

#endif // STREAMBATCH_IO_DETAIL_ERRORS_HPP_INCLUDED
