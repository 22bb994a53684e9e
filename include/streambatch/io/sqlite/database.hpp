// streambatch/io/sqlite/database.hpp: sqlite::database (RAII sqlite3*, movable) and
// sqlite::statement (RAII sqlite3_stmt*, movable: prepare, bind, step). Part of
// <streambatch/io/sqlite.hpp>; include that. See docs/sql.md.

#ifndef STREAMBATCH_IO_SQLITE_DATABASE_HPP_INCLUDED
#define STREAMBATCH_IO_SQLITE_DATABASE_HPP_INCLUDED

#include <streambatch/io/sql/traits.hpp>
#include <streambatch/io/sqlite/errors.hpp>
#include <streambatch/io/sqlite/row.hpp>

#include <chrono>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <sqlite3.h>

namespace streambatch::sqlite {

/// A type a statement parameter can take: see the header comment.
template <class T>
concept bindable = sql::detail::bindable_v<std::remove_cvref_t<T>>;

/// Turns off SQLite's memory statistics (sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0)) for the
/// whole process: every allocation SQLite makes then skips a process-wide mutex and its
/// counters (sqlite3_memory_used() and sqlite3_memory_highwater() stay 0, and
/// sqlite3_soft_heap_limit64() no longer limits anything). Opt-in, because it is process-wide:
/// call it at the start of main(), before any thread uses SQLite; SQLite takes it only before
/// it is initialised (the first database opened, or sqlite3_initialize()). Returns true if it
/// took effect, false if SQLite was already initialised (nothing changed). Not thread-safe:
/// no other thread may call SQLite meanwhile.
inline bool disable_memory_status() noexcept
{
    return sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0) == SQLITE_OK;
}

/// A SQLite connection (RAII sqlite3*), movable.
class database {
    sqlite3* db_ = nullptr;
    std::string file_;

public:
    struct options {
        bool read_only = false;
        bool create = true; ///< create the file if missing (ignored when read_only)
        std::chrono::milliseconds busy_timeout{5000};
        /// SQLITE_OPEN_NOMUTEX: the connection and its statements skip their mutex on every
        /// call (bind, step, reset...). Only for a connection used by one thread at a time
        /// (several in turn are fine when something else orders their calls, as the runner
        /// orders a job sink's commits); false (the default): serialized, any thread any time.
        bool no_mutex = false;
    };

    explicit database(std::string file) : database(std::move(file), options{}) {}
    database(std::string file, options opts) : file_(std::move(file))
    {
        int flags = opts.read_only ? SQLITE_OPEN_READONLY
                                   : SQLITE_OPEN_READWRITE | (opts.create ? SQLITE_OPEN_CREATE : 0);
        if (opts.no_mutex)
            flags |= SQLITE_OPEN_NOMUTEX;
        int const rc = sqlite3_open_v2(file_.c_str(), &db_, flags | SQLITE_OPEN_URI, nullptr);
        if (rc != SQLITE_OK) {
            std::string const msg = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
            int const code = db_ ? sqlite3_extended_errcode(db_) : rc;
            sqlite3_close_v2(db_);
            db_ = nullptr;
            throw error("streambatch::sqlite: cannot open database " + detail::quote(file_) + ": " +
                            msg + detail::code_text(code),
                        code, file_, {}, msg);
        }
        sqlite3_extended_result_codes(db_, 1);
        sqlite3_busy_timeout(db_, static_cast<int>(opts.busy_timeout.count()));
    }
    database(database&& o) noexcept : db_(std::exchange(o.db_, nullptr)), file_(std::move(o.file_))
    {}
    database& operator=(database&& o) noexcept
    {
        if (this != &o) {
            sqlite3_close_v2(db_);
            db_ = std::exchange(o.db_, nullptr);
            file_ = std::move(o.file_);
        }
        return *this;
    }
    ~database() { sqlite3_close_v2(db_); }

    sqlite3* handle() const noexcept { return db_; }
    /// The file name as given when opened.
    std::string const& file() const noexcept { return file_; }
    /// True inside BEGIN ... COMMIT.
    bool in_transaction() const noexcept { return db_ && sqlite3_get_autocommit(db_) == 0; }
    /// Rows changed by the last INSERT, UPDATE or DELETE.
    std::int64_t changes() const noexcept { return sqlite3_changes64(db_); }

    /// Runs one or more statements without parameters (a script).
    void exec(std::string const& sql) const
    {
        if (!db_)
            throw std::logic_error("streambatch::sqlite: exec on a moved-from database");
        int const rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr);
        if (rc != SQLITE_OK)
            detail::throw_error(db_, rc, file_, sql);
    }
    /// Runs one statement with `?` parameters; result rows, if any, are discarded.
    template <bindable... P>
        requires(sizeof...(P) > 0)
    void exec(std::string_view sql, P const&... params) const;

    /// The first column of the first row as T (std::optional<T>: nullopt for NULL or no row).
    template <gettable T, bindable... P>
    T scalar(std::string_view sql, P const&... params) const;
};

/// A prepared statement (RAII sqlite3_stmt*), movable.
class statement {
    sqlite3_stmt* stmt_ = nullptr;
    std::string sql_, file_;

    [[noreturn]] void fail(int rc, std::string const& doing = {}) const
    {
        detail::throw_error(stmt_ ? sqlite3_db_handle(stmt_) : nullptr, rc, file_, sql_, doing);
    }

public:
    statement() = default;
    statement(database const& db, std::string sql) : sql_(std::move(sql)), file_(db.file())
    {
        if (!db.handle())
            throw std::logic_error("streambatch::sqlite: prepare on a moved-from database");
        char const* tail = nullptr;
        int const rc = sqlite3_prepare_v2(db.handle(), sql_.data(), static_cast<int>(sql_.size()),
                                          &stmt_, &tail);
        if (rc != SQLITE_OK)
            detail::throw_error(db.handle(), rc, file_, sql_);
        if (!stmt_)
            throw std::invalid_argument("streambatch::sqlite: no SQL statement in " +
                                        detail::quote(sql_));
        std::string_view rest(tail, static_cast<std::size_t>(sql_.data() + sql_.size() - tail));
        if (rest.find_first_not_of(" \t\r\n;") != std::string_view::npos) {
            sqlite3_finalize(std::exchange(stmt_, nullptr));
            throw std::invalid_argument(
                "streambatch::sqlite: one statement expected, found more in " +
                detail::quote(sql_) + "; use database::exec for scripts");
        }
    }
    statement(statement&& o) noexcept
        : stmt_(std::exchange(o.stmt_, nullptr)), sql_(std::move(o.sql_)), file_(std::move(o.file_))
    {}
    statement& operator=(statement&& o) noexcept
    {
        if (this != &o) {
            sqlite3_finalize(stmt_);
            stmt_ = std::exchange(o.stmt_, nullptr);
            sql_ = std::move(o.sql_);
            file_ = std::move(o.file_);
        }
        return *this;
    }
    ~statement() { sqlite3_finalize(stmt_); }

    sqlite3_stmt* handle() const noexcept { return stmt_; }
    std::string const& sql() const noexcept { return sql_; }
    std::string const& file() const noexcept { return file_; }
    int parameter_count() const noexcept { return sqlite3_bind_parameter_count(stmt_); }

    /// Binds parameter `index` (1-based). copy = false: text and blobs must outlive the step.
    template <bindable T>
    void bind_at(int index, T const& value, bool copy = true)
    {
        using U = std::remove_cvref_t<T>;
        auto const lifetime = copy ? SQLITE_TRANSIENT : SQLITE_STATIC;
        int rc = SQLITE_OK;
        if constexpr (std::is_same_v<U, std::nullptr_t> || std::is_same_v<U, std::nullopt_t>) {
            rc = sqlite3_bind_null(stmt_, index);
        } else if constexpr (sql::detail::is_optional<U>::value) {
            if (value)
                return bind_at(index, *value, copy);
            rc = sqlite3_bind_null(stmt_, index);
        } else if constexpr (std::is_same_v<U, bool>) {
            rc = sqlite3_bind_int64(stmt_, index, value ? 1 : 0);
        } else if constexpr (std::is_integral_v<U>) {
            if (!std::in_range<std::int64_t>(value))
                throw std::out_of_range("streambatch::sqlite: parameter " + std::to_string(index) +
                                        " of " + detail::quote(sql_) + " is " +
                                        std::to_string(value) +
                                        ", beyond SQLite's 64-bit signed integers");
            rc = sqlite3_bind_int64(stmt_, index, static_cast<sqlite3_int64>(value));
        } else if constexpr (std::is_floating_point_v<U>) {
            rc = sqlite3_bind_double(stmt_, index, static_cast<double>(value));
        } else if constexpr (std::is_same_v<U, std::span<std::byte const>> ||
                             std::is_same_v<U, std::vector<std::byte>>) {
            rc = sqlite3_bind_blob64(stmt_, index, value.data(), value.size(), lifetime);
        } else {
            std::string_view const s = value;
            rc = sqlite3_bind_text64(stmt_, index, s.data(), s.size(), lifetime, SQLITE_UTF8);
        }
        if (rc != SQLITE_OK)
            fail(rc, "binding parameter " + std::to_string(index) + " of " + detail::quote(sql_));
    }

    /// Binds all parameters, in order; their number must be the statement's.
    template <bindable... P>
    void bind(P const&... params)
    {
        if (static_cast<int>(sizeof...(P)) != parameter_count())
            throw std::invalid_argument("streambatch::sqlite: " + detail::quote(sql_) + " has " +
                                        std::to_string(parameter_count()) + " parameters, given " +
                                        std::to_string(sizeof...(P)));
        int i = 0;
        (bind_at(++i, params), ...);
    }

    /// Steps once: true if a row is ready, false when done; throws error otherwise.
    bool step()
    {
        int const rc = sqlite3_step(stmt_);
        if (rc == SQLITE_ROW)
            return true;
        if (rc == SQLITE_DONE)
            return false;
        fail(rc);
    }
    /// Makes the statement ready to run again (bindings are kept); releases its locks.
    void reset() noexcept { sqlite3_reset(stmt_); }
};

template <bindable... P>
    requires(sizeof...(P) > 0)
void database::exec(std::string_view sql, P const&... params) const
{
    statement st(*this, std::string(sql));
    st.bind(params...);
    while (st.step()) {
    }
}

} // namespace streambatch::sqlite

#endif // STREAMBATCH_IO_SQLITE_DATABASE_HPP_INCLUDED
