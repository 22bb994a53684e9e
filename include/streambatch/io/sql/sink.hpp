// streambatch/io/sql/sink.hpp: what the SQLite and PostgreSQL row sinks (sqlite::inserter,
// postgres::copy_sink) share: the shape of write(), one transaction per batch with a hook inside
// it. Included by <streambatch/io/sqlite.hpp> and <streambatch/io/postgres.hpp>; use those.
//
// In:     the database's error, batch_error and message tag types; the batch's index and its
//         "streambatch::<db>: batch N (0-based) into T on ...: " prefix; what begins, writes
//         the rows (returns their count; throws batch_error naming the row), runs the hook and
//         commits, rolls back (noexcept), and makes an error for a failure that is not one.
// Out:    sql::detail::transact_batch<Error, BatchError, Tag>(...) -> the rows written.
// Models: begin (its error: batch_error for the batch); rows (any throw: roll back, rethrow);
//         hook and commit (a database error: batch_error "in the hook or COMMIT: ..."; anything
//         else: a batch_error "in the hook: <what>" with the exception nested); each failure
//         rolls back first.
// Memory: the messages.
// Errors: BatchError (or one nested), as above.
// Example:
//     return sql::detail::transact_batch<error, batch_error, detail::tag>(
//         index, where(index, batch_error::npos), [&] { db_->exec("BEGIN IMMEDIATE"); },
//         [&] { return insert_rows(batch, index); }, [&] { hook(*db_); db_->exec("COMMIT"); },
//         [&]() noexcept { rollback(); }, [&](std::string const& m) { return error(...); });

#ifndef STREAMBATCH_IO_SQL_SINK_HPP_INCLUDED
#define STREAMBATCH_IO_SQL_SINK_HPP_INCLUDED

#include <streambatch/io/detail/errors.hpp>
#include <streambatch/io/sql/traits.hpp>

#include <cstddef>
#include <cstdint>
#include <exception>
#include <string>

namespace streambatch::sql::detail {

/// write()'s shape: see the header comment.
template <class Error, class BatchError, class Tag, class Begin, class Rows, class Finish,
          class Rollback, class MakeError>
std::size_t transact_batch(std::uint64_t index, std::string const& where, Begin&& begin,
                           Rows&& rows, Finish&& hook_and_commit, Rollback&& rollback,
                           MakeError&& make_error)
{
    try {
        begin();
    } catch (Error const& e) {
        throw BatchError(where + std::string(io::detail::unprefixed<Tag>(e.what())), e, index,
                         BatchError::npos);
    }
    std::size_t n = 0;
    try {
        n = rows();
    } catch (...) {
        rollback();
        throw;
    }
    try {
        hook_and_commit();
    } catch (Error const& e) {
        rollback();
        throw BatchError(
            where + "in the hook or COMMIT: " + std::string(io::detail::unprefixed<Tag>(e.what())),
            e, index, BatchError::npos);
    } catch (...) {
        rollback();
        std::string const msg = current_message();
        std::throw_with_nested(
            BatchError(where + "in the hook: " + msg, make_error(msg), index, BatchError::npos));
    }
    return n;
}

} // namespace streambatch::sql::detail

#endif // STREAMBATCH_IO_SQL_SINK_HPP_INCLUDED
