// streambatch/io/postgres/connection.hpp: postgres::connection (RAII PGconn*, movable; exec,
// exec_params, scalar) and postgres::result (RAII PGresult*), and the text format values are
// sent in (parameters, COPY fields: append_copy_field). Part of <streambatch/io/postgres.hpp>;
// include that. See docs/sql.md.

#ifndef STREAMBATCH_IO_POSTGRES_CONNECTION_HPP_INCLUDED
#define STREAMBATCH_IO_POSTGRES_CONNECTION_HPP_INCLUDED

#include <streambatch/io/postgres/errors.hpp>
#include <streambatch/io/postgres/row.hpp>
#include <streambatch/io/sql/traits.hpp>

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <libpq-fe.h>

namespace streambatch::postgres {

/// A type a statement parameter or a COPY value can take: see the header comment.
template <class T>
concept bindable = sql::detail::bindable_v<std::remove_cvref_t<T>>;

namespace detail {

inline void append_number(std::string& out, double d)
{
    if (std::isnan(d)) {
        out += "NaN";
    } else if (std::isinf(d)) {
        out += d > 0 ? "Infinity" : "-Infinity";
    } else {
        char buf[64];
        auto r = std::to_chars(buf, buf + sizeof buf, d);
        out.append(buf, r.ptr);
    }
}

/// A value in PostgreSQL's text input format (unescaped); false for NULL.
template <class T>
bool to_text(std::string& out, T const& v)
{
    using U = std::remove_cvref_t<T>;
    if constexpr (std::is_same_v<U, std::nullptr_t> || std::is_same_v<U, std::nullopt_t>) {
        return false;
    } else if constexpr (sql::detail::is_optional<U>::value) {
        return v ? to_text(out, *v) : false;
    } else if constexpr (std::is_same_v<U, bool>) {
        out += v ? 't' : 'f';
    } else if constexpr (std::is_integral_v<U>) {
        char buf[24];
        auto r = std::to_chars(buf, buf + sizeof buf, v);
        out.append(buf, r.ptr);
    } else if constexpr (std::is_floating_point_v<U>) {
        append_number(out, static_cast<double>(v));
    } else if constexpr (std::is_same_v<U, std::span<std::byte const>> ||
                         std::is_same_v<U, std::vector<std::byte>>) {
        static char const digits[] = "0123456789abcdef";
        out += "\\x";
        for (std::byte b : v) {
            out += digits[std::to_integer<unsigned>(b) >> 4];
            out += digits[std::to_integer<unsigned>(b) & 0xf];
        }
    } else {
        out += std::string_view(v);
    }
    return true;
}

/// Appends `s` as a COPY text-format field: backslash, tab, newline and CR escaped.
inline void append_copy_escaped(std::string& out, std::string_view s)
{
    std::size_t start = 0;
    for (std::size_t i = 0; i < s.size(); ++i) {
        char const c = s[i];
        char esc = 0;
        switch (c) {
        case '\\':
            esc = '\\';
            break;
        case '\t':
            esc = 't';
            break;
        case '\n':
            esc = 'n';
            break;
        case '\r':
            esc = 'r';
            break;
        default:
            continue;
        }
        out.append(s.data() + start, i - start);
        out += '\\';
        out += esc;
        start = i + 1;
    }
    out.append(s.data() + start, s.size() - start);
}

/// Appends one COPY text-format field (\N for NULL).
template <class T>
void append_copy_field(std::string& out, std::string& scratch, T const& v)
{
    scratch.clear();
    if (to_text(scratch, v))
        append_copy_escaped(out, scratch);
    else
        out += "\\N";
}

/// RAII PGresult*.
struct result_deleter {
    void operator()(PGresult* r) const noexcept { PQclear(r); }
};

} // namespace detail

/// COPY text-format encoding of one value, for custom sinks: appends `value` to `out` as one
/// field (backslash, tab, newline and CR escaped; \N for NULL).
template <bindable T>
void append_copy_field(std::string& out, T const& value)
{
    std::string scratch;
    detail::append_copy_field(out, scratch, value);
}

/// A result (RAII PGresult*), movable.
class result {
    std::unique_ptr<PGresult, detail::result_deleter> res_;

public:
    result() = default;
    explicit result(PGresult* r) noexcept : res_(r) {}
    PGresult* handle() const noexcept { return res_.get(); }
    explicit operator bool() const noexcept { return res_ != nullptr; }
    void reset() noexcept { res_.reset(); }
    ExecStatusType status() const noexcept { return PQresultStatus(res_.get()); }
    int rows() const noexcept { return PQntuples(res_.get()); }
    int columns() const noexcept { return PQnfields(res_.get()); }
    std::string_view column_name(int c) const
    {
        char const* name = PQfname(res_.get(), c);
        return name ? std::string_view(name) : std::string_view();
    }
    bool is_null(int r, int c) const noexcept { return PQgetisnull(res_.get(), r, c) != 0; }
    std::string_view value(int r, int c) const noexcept
    {
        return {PQgetvalue(res_.get(), r, c),
                static_cast<std::size_t>(PQgetlength(res_.get(), r, c))};
    }
    /// Rows affected by INSERT, UPDATE, DELETE, ... (PQcmdTuples); 0 if not such a command.
    std::uint64_t affected_rows() const noexcept
    {
        std::string_view s = PQcmdTuples(res_.get());
        std::uint64_t v = 0;
        std::from_chars(s.data(), s.data() + s.size(), v);
        return v;
    }
};

/// A function query_as can judge rows with.
template <class F>
concept parse_function = sql::detail::parse_function_of<F, row>;

template <parse_function Parse>
class query_view;

/// A PostgreSQL connection (RAII PGconn*), movable.
class connection {
    PGconn* conn_ = nullptr;
    int cursors_open_ = 0;   // our cursors open on this connection
    bool cursor_tx_ = false; // a cursor began the transaction (and the last one ends it)
    std::uint64_t cursor_seq_ = 0;

    // For the cursor source: cursor names, and the transaction the cursors share.
    template <parse_function Parse>
    friend class query_view;
    std::string next_cursor_name() { return "streambatch_cursor_" + std::to_string(++cursor_seq_); }
    int open_cursors() const noexcept { return cursors_open_; }
    void cursor_opened() noexcept { ++cursors_open_; }
    void cursor_closed() noexcept { --cursors_open_; }
    bool cursor_transaction() const noexcept { return cursor_tx_; }
    void cursor_transaction(bool v) noexcept { cursor_tx_ = v; }

    static std::string default_of(PQconninfoOption const* opts, char const* key)
    {
        for (auto const* o = opts; o && o->keyword; ++o)
            if (std::strcmp(o->keyword, key) == 0 && o->val && *o->val)
                return o->val;
        return {};
    }

public:
    /// Connects with `conninfo` ("host=... port=... dbname=..." or postgresql://...); empty:
    /// libpq's PG* environment variables and defaults. Throws error (sqlstate "08001") naming
    /// host and port when the server cannot be reached.
    explicit connection(std::string const& conninfo = {})
    {
        conn_ = PQconnectdb(conninfo.c_str());
        if (!conn_)
            throw std::bad_alloc();
        if (PQstatus(conn_) != CONNECTION_OK) {
            std::string const msg = detail::one_line(detail::str(PQerrorMessage(conn_)));
            std::string host = detail::str(PQhost(conn_)), port = detail::str(PQport(conn_));
            std::string db = detail::str(PQdb(conn_)), user = detail::str(PQuser(conn_));
            if (host.empty() || port.empty() || db.empty() || user.empty()) {
                // A conninfo libpq rejected: say what it would have used.
                PQconninfoOption* parsed = PQconninfoParse(conninfo.c_str(), nullptr);
                PQconninfoOption* defaults = PQconndefaults();
                auto pick = [&](std::string& v, char const* key) {
                    if (v.empty())
                        v = default_of(parsed, key);
                    if (v.empty())
                        v = default_of(defaults, key);
                };
                pick(host, "host");
                pick(port, "port");
                pick(db, "dbname");
                pick(user, "user");
                PQconninfoFree(parsed);
                PQconninfoFree(defaults);
            }
            PQfinish(std::exchange(conn_, nullptr));
            if (host.empty())
                host = "(the default socket directory)";
            throw error("streambatch::postgres: cannot connect to host " + host + " port " + port +
                            " (database " + db + ", user " + user + "): " + msg,
                        "08001", msg, {}, {}, {}, {}, host, port);
        }
        if (PQsetClientEncoding(conn_, "UTF8") != 0) {
            try {
                detail::throw_error(conn_, nullptr, {}, "setting the client encoding to UTF8");
            } catch (...) {
                PQfinish(std::exchange(conn_, nullptr));
                throw;
            }
        }
    }
    connection(connection&& o) noexcept
        : conn_(std::exchange(o.conn_, nullptr)), cursors_open_(std::exchange(o.cursors_open_, 0)),
          cursor_tx_(std::exchange(o.cursor_tx_, false)), cursor_seq_(o.cursor_seq_)
    {}
    connection& operator=(connection&& o) noexcept
    {
        if (this != &o) {
            PQfinish(conn_);
            conn_ = std::exchange(o.conn_, nullptr);
            cursors_open_ = std::exchange(o.cursors_open_, 0);
            cursor_tx_ = std::exchange(o.cursor_tx_, false);
            cursor_seq_ = o.cursor_seq_;
        }
        return *this;
    }
    ~connection() { PQfinish(conn_); }

    PGconn* handle() const noexcept { return conn_; }
    std::string host() const { return detail::str(PQhost(conn_)); }
    std::string port() const { return detail::str(PQport(conn_)); }
    std::string dbname() const { return detail::str(PQdb(conn_)); }
    /// host:port/dbname, for messages.
    std::string where() const { return host() + ":" + port() + "/" + dbname(); }
    /// True inside BEGIN ... COMMIT (also when the transaction has failed).
    bool in_transaction() const noexcept
    {
        return conn_ && PQtransactionStatus(conn_) != PQTRANS_IDLE;
    }

    /// Runs one or more statements without parameters (PQexec); the last one's result.
    result exec(std::string const& sql) const
    {
        if (!conn_)
            throw std::logic_error("streambatch::postgres: exec on a moved-from connection");
        result r(PQexec(conn_, sql.c_str()));
        auto const st = r ? r.status() : PGRES_FATAL_ERROR;
        if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
            detail::throw_error(conn_, r.handle(), sql);
        return r;
    }
    /// Runs one statement with $1, $2, ... parameters (PQexecParams, text format).
    template <bindable... P>
        requires(sizeof...(P) > 0)
    result exec(std::string const& sql, P const&... params) const
    {
        std::vector<std::optional<std::string>> values;
        (values.push_back([&] {
            std::string s;
            return detail::to_text(s, params) ? std::optional<std::string>(std::move(s))
                                              : std::nullopt;
        }()),
         ...);
        return exec_params(sql, values);
    }
    /// The same with parameters already in text format (nullopt: NULL).
    result exec_params(std::string const& sql,
                       std::vector<std::optional<std::string>> const& values,
                       std::string const& doing = {}, std::string const& reported_sql = {}) const
    {
        if (!conn_)
            throw std::logic_error("streambatch::postgres: exec on a moved-from connection");
        std::vector<char const*> ptrs;
        ptrs.reserve(values.size());
        for (auto const& v : values)
            ptrs.push_back(v ? v->c_str() : nullptr);
        result r(PQexecParams(conn_, sql.c_str(), static_cast<int>(ptrs.size()), nullptr,
                              ptrs.data(), nullptr, nullptr, 0));
        auto const st = r ? r.status() : PGRES_FATAL_ERROR;
        if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
            detail::throw_error(conn_, r.handle(), reported_sql.empty() ? sql : reported_sql,
                                doing);
        return r;
    }

    /// The first column of the first row as T (std::optional<T>: nullopt for NULL or no row).
    template <gettable T, bindable... P>
    T scalar(std::string const& sql, P const&... params) const;
};

} // namespace streambatch::postgres

#endif // STREAMBATCH_IO_POSTGRES_CONNECTION_HPP_INCLUDED
