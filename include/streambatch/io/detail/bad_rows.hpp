// streambatch/io/detail/bad_rows.hpp: the bad-row policy of the SQL sources, once: fail, or
// skip-and-count up to a limit, every skipped row written as a reject (reject_writer.hpp).
//
// In:     skip or not, max_skipped, the reject file; per bad row: the query, the row's number,
//         the exception its parse function threw and a function that makes the row's reject.
// Out:    judge() returns when the row is skipped (and counted); it throws otherwise:
//           fail: a basic_row_error<Tag> as is; anything else nested (std::throw_with_nested)
//                 in a row_error naming the query and row;
//           skip: the row is written; the (max_skipped + 1)-th bad row is written too, then
//                 basic_too_many_bad_rows<Tag> names it, the count and the reject file.
// Errors: std::invalid_argument for skip without a reject file (nothing is dropped silently);
//         std::system_error when the reject file cannot be written.
// The source decides what is bad input: its database's own errors and std::bad_alloc never
// reach judge().

#ifndef STREAMBATCH_IO_DETAIL_BAD_ROWS_HPP_INCLUDED
#define STREAMBATCH_IO_DETAIL_BAD_ROWS_HPP_INCLUDED

#include <streambatch/io/detail/errors.hpp>
#include <streambatch/io/detail/reject_writer.hpp>

#include <cstdint>
#include <exception>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <utility>

namespace streambatch::io::detail {

template <class Tag>
class bad_row_policy {
    bool skip_ = false;
    std::uint64_t max_skipped_ = 0;
    reject_writer rejects_;

public:
    using row_error = basic_row_error<Tag>;

    bad_row_policy() = default;
    bad_row_policy(bool skip, std::uint64_t max_skipped, std::filesystem::path reject_path)
        : skip_(skip), max_skipped_(max_skipped)
    {
        if (skip_ && reject_path.empty())
            throw std::invalid_argument(
                std::string(Tag::prefix) +
                "on_error::skip needs a reject_path, so that skipped rows are kept, not lost");
        if (skip_)
            rejects_ = reject_writer(std::move(reject_path), reject_writer::open_mode::append,
                                     std::string(Tag::prefix.substr(0, Tag::prefix.size() - 2)));
    }

    /// Handles `bad`, thrown by the parse function for row `number` of `query`. On skip, a reject
    /// with query, row, column, column_name and error set is completed by fill(reject&) (source,
    /// name, columns, values), written, and counted in `skipped`.
    template <class Fill>
    void judge(std::string const& query, std::uint64_t number, std::exception_ptr bad,
               std::uint64_t& skipped, Fill&& fill)
    {
        std::size_t column = row_error::npos;
        std::string column_name, reason;
        bool is_row_error = false;
        try {
            std::rethrow_exception(bad);
        } catch (row_error const& e) {
            is_row_error = true;
            column = e.column();
            column_name = e.column_name();
            reason = e.reason();
        } catch (std::exception const& e) {
            reason = e.what();
        }
        if (!skip_) {
            if (is_row_error)
                std::rethrow_exception(bad);
            try {
                std::rethrow_exception(bad);
            } catch (...) {
                std::throw_with_nested(row_error(std::string(Tag::prefix) +
                                                     where(query, number, column, {}) +
                                                     ": the parse function failed: " + reason,
                                                 query, number, column, column_name, reason));
            }
        }
        reject r;
        r.query = query;
        r.row = number;
        if (column != row_error::npos)
            r.column = column;
        if (!column_name.empty())
            r.column_name = column_name;
        r.error = reason;
        fill(r);
        rejects_.write(r);
        if (skipped >= max_skipped_) {
            row_error const last("", query, number, column, column_name, reason);
            throw basic_too_many_bad_rows<Tag>(
                std::string(Tag::prefix) + where(query, number, column, column_name) + ": " +
                    reason + "; too many bad rows: this is bad row " + std::to_string(skipped + 1) +
                    " and max_skipped is " + std::to_string(max_skipped_) +
                    "; the bad rows, this one included, are in " + rejects_.path().string(),
                last, skipped, rejects_.path());
        }
        ++skipped;
    }
};

} // namespace streambatch::io::detail

#endif // STREAMBATCH_IO_DETAIL_BAD_ROWS_HPP_INCLUDED
