// streambatch/io/postgres/errors.hpp: the PostgreSQL component's errors (part of
// <streambatch/io/postgres.hpp>; include that). postgres::error is what the server or libpq
// reports (sqlstate(), server_message(), detail(), hint(), context(), sql(), host(), port());
// batch_error, row_error and too_many_bad_rows are the io family's templates
// (io/detail/errors.hpp) on postgres's tag, so they are types of their own, not sqlite's.
// See docs/sql.md.

#ifndef STREAMBATCH_IO_POSTGRES_ERRORS_HPP_INCLUDED
#define STREAMBATCH_IO_POSTGRES_ERRORS_HPP_INCLUDED

#include <streambatch/io/detail/errors.hpp>
#include <streambatch/io/detail/quote.hpp>

#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#include <libpq-fe.h>

namespace streambatch::postgres {

namespace detail {
/// The tag of the PostgreSQL component's error templates.
struct tag {
    static constexpr std::string_view prefix = "streambatch::postgres: ";
};
using io::detail::quote;
} // namespace detail

/// An error the server or libpq reported.
class error : public std::runtime_error {
    std::string sqlstate_, server_message_, detail_, hint_, context_, sql_, host_, port_;

public:
    error(std::string const& what, std::string sqlstate, std::string server_message,
          std::string detail, std::string hint, std::string context, std::string sql,
          std::string host, std::string port)
        : std::runtime_error(what), sqlstate_(std::move(sqlstate)),
          server_message_(std::move(server_message)), detail_(std::move(detail)),
          hint_(std::move(hint)), context_(std::move(context)), sql_(std::move(sql)),
          host_(std::move(host)), port_(std::move(port))
    {}
    /// `cause`'s details with another message (batch_error's).
    error(std::string const& what, error const& cause)
        : error(what, cause.sqlstate(), cause.server_message(), cause.detail(), cause.hint(),
                cause.context(), cause.sql(), cause.host(), cause.port())
    {}
    /// The five-character SQLSTATE ("42601", "23505", ...); "08001" when connecting failed,
    /// "08006" when the connection was lost; empty if there was none.
    std::string const& sqlstate() const noexcept { return sqlstate_; }
    /// The server's primary message (or libpq's, for client-side failures).
    std::string const& server_message() const noexcept { return server_message_; }
    std::string const& detail() const noexcept { return detail_; }
    std::string const& hint() const noexcept { return hint_; }
    /// The server's CONTEXT ("COPY t, line 3, column id: ...").
    std::string const& context() const noexcept { return context_; }
    /// The statement that failed (the user's query for a cursor).
    std::string const& sql() const noexcept { return sql_; }
    std::string const& host() const noexcept { return host_; }
    std::string const& port() const noexcept { return port_; }
};

/// copy_sink::write failed; the batch was rolled back. batch_index(), row_index() (from the
/// server's "COPY t, line N" context; npos when unknown or not a row's: BEGIN, hook, COMMIT).
using batch_error = io::basic_batch_error<error>;
/// Bad input: a value that is not what was asked for, or a row its parse function rejected.
using row_error = io::basic_row_error<detail::tag>;
/// on_error::skip went over query_options::max_skipped.
using too_many_bad_rows = io::basic_too_many_bad_rows<detail::tag>;

namespace detail {

inline std::string shorten(std::string_view s, std::size_t max = 300)
{
    if (s.size() <= max)
        return std::string(s);
    return std::string(s.substr(0, max)) + "...";
}

/// libpq's multi-line messages on one line.
inline std::string one_line(std::string_view s)
{
    std::string out;
    for (char c : s) {
        if (c == '\n' || c == '\t') {
            if (!out.empty() && out.back() != ' ')
                out += ' ';
        } else {
            out += c;
        }
    }
    while (!out.empty() && out.back() == ' ')
        out.pop_back();
    return out;
}

inline std::string str(char const* s)
{
    return s ? std::string(s) : std::string();
}

/// Throws postgres::error for a failed result `r` (null: libpq could not even make one).
[[noreturn]] inline void throw_error(PGconn* conn, PGresult const* r, std::string const& sql,
                                     std::string const& doing = {})
{
    std::string state = r ? str(PQresultErrorField(r, PG_DIAG_SQLSTATE)) : std::string();
    std::string primary = r ? str(PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY)) : std::string();
    if (primary.empty())
        primary = one_line(r ? str(PQresultErrorMessage(r)) : std::string());
    if (primary.empty())
        primary = one_line(str(PQerrorMessage(conn)));
    if (primary.empty())
        primary = "unknown error (result status " +
                  str(r ? PQresStatus(PQresultStatus(r)) : "none") + ")";
    if (state.empty() && PQstatus(conn) == CONNECTION_BAD)
        state = "08006";
    std::string const detail =
        r ? str(PQresultErrorField(r, PG_DIAG_MESSAGE_DETAIL)) : std::string();
    std::string const hint = r ? str(PQresultErrorField(r, PG_DIAG_MESSAGE_HINT)) : std::string();
    std::string const context = r ? str(PQresultErrorField(r, PG_DIAG_CONTEXT)) : std::string();
    std::string const severity =
        r ? str(PQresultErrorField(r, PG_DIAG_SEVERITY_NONLOCALIZED)) : std::string();
    std::string const host = str(PQhost(conn)), port = str(PQport(conn));
    std::string what =
        "streambatch::postgres: " + (severity.empty() ? std::string("ERROR") : severity) +
        (state.empty() ? std::string() : " " + state) + ": " + primary;
    if (!detail.empty())
        what += " (detail: " + one_line(detail) + ")";
    if (!hint.empty())
        what += " (hint: " + one_line(hint) + ")";
    if (!context.empty())
        what += " (context: " + one_line(shorten(context, 200)) + ")";
    what += " on " + host + ":" + port;
    if (!doing.empty())
        what += " while " + doing;
    else if (!sql.empty())
        what += " while running " + quote(sql);
    throw error(what, state, primary, detail, hint, context, sql, host, port);
}

} // namespace detail

} // namespace streambatch::postgres

#endif // STREAMBATCH_IO_POSTGRES_ERRORS_HPP_INCLUDED
