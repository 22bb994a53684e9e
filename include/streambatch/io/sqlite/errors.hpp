// streambatch/io/sqlite/errors.hpp: the SQLite component's errors (part of
// <streambatch/io/sqlite.hpp>; include that). sqlite::error is what the database reports (code(),
// file(), sql(), sqlite_message()); batch_error, row_error and too_many_bad_rows are the io
// family's templates (io/detail/errors.hpp) on sqlite's tag, so they are types of their own, not
// postgres's. See docs/sql.md.

#ifndef STREAMBATCH_IO_SQLITE_ERRORS_HPP_INCLUDED
#define STREAMBATCH_IO_SQLITE_ERRORS_HPP_INCLUDED

#include <streambatch/io/detail/errors.hpp>
#include <streambatch/io/detail/quote.hpp>

#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#include <sqlite3.h>

namespace streambatch::sqlite {

namespace detail {
/// The tag of the SQLite component's error templates.
struct tag {
    static constexpr std::string_view prefix = "streambatch::sqlite: ";
};
using io::detail::quote;
} // namespace detail

/// An error the database reported.
class error : public std::runtime_error {
    int code_;
    std::string file_, sql_, sqlite_message_;

public:
    error(std::string const& what, int code, std::string file, std::string sql,
          std::string sqlite_message)
        : std::runtime_error(what), code_(code), file_(std::move(file)), sql_(std::move(sql)),
          sqlite_message_(std::move(sqlite_message))
    {}
    /// `cause`'s details with another message (batch_error's).
    error(std::string const& what, error const& cause)
        : error(what, cause.code(), cause.file(), cause.sql(), cause.sqlite_message())
    {}
    /// The extended result code (SQLITE_CONSTRAINT_UNIQUE, SQLITE_BUSY, ...); 0 if not SQLite's.
    int code() const noexcept { return code_; }
    /// code() & 0xff: SQLITE_CONSTRAINT, SQLITE_BUSY, ...
    int primary_code() const noexcept { return code_ & 0xff; }
    std::string const& file() const noexcept { return file_; }
    std::string const& sql() const noexcept { return sql_; }
    std::string const& sqlite_message() const noexcept { return sqlite_message_; }
};

/// inserter::write failed; the batch was rolled back. batch_index(), row_index() (npos when the
/// failure was not a row's: BEGIN, hook, COMMIT).
using batch_error = io::basic_batch_error<error>;
/// Bad input: a value that is not what was asked for, or a row its parse function rejected.
using row_error = io::basic_row_error<detail::tag>;
/// on_error::skip went over query_options::max_skipped.
using too_many_bad_rows = io::basic_too_many_bad_rows<detail::tag>;

namespace detail {

/// "SQLITE_BUSY" for 5 (or 261, SQLITE_BUSY_RECOVERY: the primary code's name).
inline char const* code_name(int code) noexcept
{
    switch (code & 0xff) {
    case SQLITE_ERROR:
        return "SQLITE_ERROR";
    case SQLITE_INTERNAL:
        return "SQLITE_INTERNAL";
    case SQLITE_PERM:
        return "SQLITE_PERM";
    case SQLITE_ABORT:
        return "SQLITE_ABORT";
    case SQLITE_BUSY:
        return "SQLITE_BUSY";
    case SQLITE_LOCKED:
        return "SQLITE_LOCKED";
    case SQLITE_NOMEM:
        return "SQLITE_NOMEM";
    case SQLITE_READONLY:
        return "SQLITE_READONLY";
    case SQLITE_INTERRUPT:
        return "SQLITE_INTERRUPT";
    case SQLITE_IOERR:
        return "SQLITE_IOERR";
    case SQLITE_CORRUPT:
        return "SQLITE_CORRUPT";
    case SQLITE_NOTFOUND:
        return "SQLITE_NOTFOUND";
    case SQLITE_FULL:
        return "SQLITE_FULL";
    case SQLITE_CANTOPEN:
        return "SQLITE_CANTOPEN";
    case SQLITE_PROTOCOL:
        return "SQLITE_PROTOCOL";
    case SQLITE_SCHEMA:
        return "SQLITE_SCHEMA";
    case SQLITE_TOOBIG:
        return "SQLITE_TOOBIG";
    case SQLITE_CONSTRAINT:
        return "SQLITE_CONSTRAINT";
    case SQLITE_MISMATCH:
        return "SQLITE_MISMATCH";
    case SQLITE_MISUSE:
        return "SQLITE_MISUSE";
    case SQLITE_NOLFS:
        return "SQLITE_NOLFS";
    case SQLITE_AUTH:
        return "SQLITE_AUTH";
    case SQLITE_RANGE:
        return "SQLITE_RANGE";
    case SQLITE_NOTADB:
        return "SQLITE_NOTADB";
    default:
        return "SQLITE_?";
    }
}

/// " (SQLITE_CONSTRAINT, extended code 1555)"
inline std::string code_text(int code)
{
    return std::string(" (") + code_name(code) + ", extended code " + std::to_string(code) + ")";
}

/// Throws sqlite::error for `rc` (a failed call on `db`, which may be null).
[[noreturn]] inline void throw_error(sqlite3* db, int rc, std::string const& file,
                                     std::string const& sql, std::string const& doing = {})
{
    int const code = db ? sqlite3_extended_errcode(db) : rc;
    std::string msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    std::string what =
        "streambatch::sqlite: " + msg + code_text(code) + " in database " + quote(file);
    if (!doing.empty())
        what += " while " + doing;
    else if (!sql.empty())
        what += " while running " + quote(sql);
    throw error(what, code, file, sql, msg);
}

} // namespace detail
} // namespace streambatch::sqlite

#endif // STREAMBATCH_IO_SQLITE_ERRORS_HPP_INCLUDED
