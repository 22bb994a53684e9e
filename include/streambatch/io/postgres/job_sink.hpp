// streambatch/io/postgres/job_sink.hpp: postgres::job_sink, a streambatch::job_sink on a
// PostgreSQL connection: each batch is written together with the job's state (position,
// identity, counts) in one transaction, behind a fence (a session-level advisory lock) that lets
// one copy of a job write and stops the others. Part of <streambatch/io/postgres.hpp>; include
// that. See docs/sql.md.
//
// In:     a postgres::connection (the sink's own: the fence is a lock of its session; no cursor
//         may read on it) and what writes one batch's data inside the open transaction: a
//         copy_sink on that connection (its write_rows), or a callable write(connection&,
//         Batch&&); options (sql::job_sink_options: the state table, default
//         "streambatch_job_state", where take-over notes go, how long to wait for a dead
//         holder's connection to be closed by the server).
// Out:    postgres::job_sink<Write>, modelling streambatch::job_sink:
//         open(key)          takes the fence; the stored job_state (nullopt: none committed).
//         commit(b, state)   BEGIN; compare-and-set of the state row; write(conn, b); COMMIT.
//                            With a copy_sink, one query string (BEGIN; the compare-and-set;
//                            COPY; COMMIT) and two round trips a batch (docs/sql.md).
//         send(b, state)     commit() up to the COPY's end, without waiting for the server's
//         confirm()          verdict; confirm() waits for it (streambatch::confirming_job_sink:
//                            run_job uses them, so the server commits batch N while batch N+1
//                            is read and cleaned). A copy_sink only; with a callable, commit().
//         confirm_or_hold()  with options.transaction_rows (a copy_sink only): send() writes
//                            batches into one transaction and one open COPY, and this commits
//                            it (COPY's end, the last batch's state, COMMIT) once it holds
//                            transaction_rows rows or is transaction_time old, returning true,
//                            or returns false: held (streambatch::holding_job_sink; run_job
//                            counts batches once committed). confirm() commits what is held.
//                            Without it: confirm(), true.
//         close()            waits for a batch sent or commits those held (a failure is not
//                            reported: confirm() first), then releases the fence (noexcept; also
//                            the destructor's).
//         describe()         "PostgreSQL 127.0.0.1:5432/shop table customers" (the table of a
//                            copy_sink; none for a callable).
//         taken_over()       the holder recorded in the row when open() took the fence (its
//                            connection had closed without close()), if any.
// Models: the fence is pg_try_advisory_lock(k) on the sink's connection, k = the 64-bit
//         detail::stream_hash of the state table and job_key::str(): the server frees it when
//         that connection ends, so a killed holder never blocks the next run. open() takes it in a
//         transaction that first locks the job's row of the state table (SELECT ... FOR UPDATE)
//         and then records itself (holder::self()) and bumps the row's token, and close() frees
//         it in the same way, so a copy refused the lock reads the holder that has it. When the
//         holder recorded is a process of this host that is gone while its connection still
//         holds the lock (the server has not yet seen it close), open() waits for the lock up to
//         options.dead_holder_wait. commit() writes only if the row still holds this writer's
//         token and the position it last stored.
// Memory: the state's strings; the write callable's own; with transaction_rows, the last
//         batch's state and a batch index and row count per batch of the open transaction (its
//         rows are on the server).
// Errors: fence_held (open: the lock is held; .by is the holder recorded in the row; the message
//         names it, the job, the server and the backend pid that holds the lock); fence_lost
//         (commit: the row's token or position moved: names the holder now recorded; nothing of
//         the batch is written; from send(), at once); postgres::error (the server); from
//         confirm(), the server's verdict on the batch sent (with transaction_rows, from
//         confirm_or_hold() or confirm(), on every batch of the transaction: a refused row
//         rolls all of them back, and batch_error names its batch and row); what write throws
//         (copy_sink: postgres::batch_error), after the transaction was rolled back (neither the
//         batch nor the state is written); std::logic_error (commit before open, open twice, a
//         transaction already open on the connection); std::invalid_argument (a copy_sink on
//         another connection).
// Example:
//     postgres::connection conn;                        // PG* variables
//     postgres::copy_sink copy(conn, "customers");
//     postgres::job_sink sink(conn, copy);
//     auto state = sink.open({.job = "load customers"});
//     sink.commit(batch, {.position = ..., .identity = ..., .batches = n, .records = r});

#ifndef STREAMBATCH_IO_POSTGRES_JOB_SINK_HPP_INCLUDED
#define STREAMBATCH_IO_POSTGRES_JOB_SINK_HPP_INCLUDED

#include <streambatch/detail/stream_hash.hpp>
#include <streambatch/io/postgres/connection.hpp>
#include <streambatch/io/postgres/copy_sink.hpp>
#include <streambatch/io/sql/job_sink.hpp>
#include <streambatch/job/contract.hpp>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <concepts>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <ranges>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <libpq-fe.h>

namespace streambatch::postgres {

using job_sink_options = sql::job_sink_options;

namespace detail {

/// The write of a job sink made from a copy_sink: its write_rows.
template <class Map>
using copy_batch = sql::detail::rows_writer<copy_sink<Map>>;

template <class W>
inline constexpr bool is_copy_batch = false;
template <class Map>
inline constexpr bool is_copy_batch<copy_batch<Map>> = true;

template <class W>
using writer_of = sql::detail::writer_of<copy_sink, W>;

template <class W>
typename writer_of<W&&>::type make_writer(connection const&, W&& w)
{
    return std::forward<W>(w);
}
template <class Map>
copy_batch<Map> make_writer(connection const& conn, copy_sink<Map>& sink)
{
    if (std::addressof(sink.conn()) != std::addressof(conn))
        throw std::invalid_argument("streambatch::postgres: job_sink: the copy_sink into " +
                                    sink.table() +
                                    " writes through another connection than the "
                                    "sink's: its rows would not be in the sink's transaction");
    return {std::addressof(sink)};
}

template <class Map>
std::string table_of(copy_sink<Map> const& s)
{
    return s.table();
}
template <class W>
std::string table_of(W const&)
{
    return {};
}

inline std::optional<std::string> value_or_null(result const& r, int row, int c)
{
    if (r.is_null(row, c))
        return std::nullopt;
    return std::string(r.value(row, c));
}

inline std::int64_t to_int64(std::string_view s)
{
    std::int64_t v = 0;
    std::from_chars(s.data(), s.data() + s.size(), v);
    return v;
}

using state_row = sql::detail::state_row;

inline std::optional<state_row> read_state_row(connection const& c, std::string const& sql,
                                               std::string const& job)
{
    result const r = c.exec(sql, job);
    if (r.rows() == 0)
        return std::nullopt;
    state_row s;
    s.position = value_or_null(r, 0, 0);
    s.identity = value_or_null(r, 0, 1);
    s.batches = to_int64(r.value(0, 2));
    s.records = to_int64(r.value(0, 3));
    s.holder_text = value_or_null(r, 0, 4);
    s.token = to_int64(r.value(0, 5));
    return s;
}

/// pg_locks' columns of an advisory lock on the bigint $1, in the current database.
inline constexpr char const* advisory_lock_filter =
    "l.locktype = 'advisory' AND l.objsubid = 1 AND l.granted"
    " AND l.classid = (($1::bigint >> 32) & 4294967295)::oid"
    " AND l.objid = ($1::bigint & 4294967295)::oid"
    " AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())";

} // namespace detail

/// A streambatch::job_sink on a PostgreSQL connection: see the header comment.
template <class Write>
class job_sink : public sql::detail::job_sink_base<job_sink<Write>, connection, Write> {
    using base = sql::detail::job_sink_base<job_sink<Write>, connection, Write>;
    friend base;
    using base::conn_;
    using base::held_;
    using base::key_;
    using base::last_position_;
    using base::opts_;
    using base::sql_;
    using base::token_;
    using base::write_;

    std::string table_; // the data's table, for describe()
    std::int64_t lock_key_ = 0;
    std::string batch_sql_;      // commit()'s query string (kept: its capacity is reused)
    std::size_t batch_rows_ = 0; // the batch being committed's rows (0: unknown), for its COPY
    bool sending_ = false;       // send(): the COPY's results are left for confirm()
    std::optional<std::uint64_t> sent_; // the copy_sink's index of the batch sent, unconfirmed
    std::optional<std::string> confirmed_position_; // what last_position_ was before send()
    // A transaction of several batches (job_sink_options::transaction_rows, send()): open after
    // its first batch's BEGIN, compare-and-set, type check and COPY, which stays open for the
    // later batches' rows; committed by confirm_or_hold() once big or old enough, or by
    // confirm(). last_position_ is then the first batch's position (what the row holds inside
    // the transaction); state is the last batch's, stored at the COMMIT.
    struct open_transaction {
        std::chrono::steady_clock::time_point since;
        std::uint64_t rows = 0;                                     // sent in its COPY
        std::vector<std::pair<std::uint64_t, std::uint64_t>> first; // per batch: index, 1st row
        job_state state;                                            // the last batch's
    };
    std::optional<open_transaction> open_;
    bool leave_open_ = false; // begin_and_set: no COMMIT after the COPY; write_batch: copy_more

    std::string where() const { return sql_.table + " on PostgreSQL " + conn_->where(); }

    static std::int64_t hash_key(std::string_view what)
    {
        streambatch::detail::stream_hash h;
        h.update(what);
        return static_cast<std::int64_t>(h.digest());
    }

    void rollback() const noexcept
    {
        PGconn* c = conn_->handle();
        if (!c)
            return;
        if (PQtransactionStatus(c) == PQTRANS_ACTIVE) { // a write left a COPY open
            PQputCopyEnd(c, "streambatch: the batch failed on the client");
            detail::finish_copy(c);
        }
        if (PQtransactionStatus(c) != PQTRANS_IDLE)
            PQclear(PQexec(c, "ROLLBACK"));
    }

    void unlock() const noexcept
    {
        if (PGconn* c = conn_->handle()) {
            std::string const sql = "SELECT pg_advisory_unlock(" + std::to_string(lock_key_) + ")";
            PQclear(PQexec(c, sql.c_str()));
        }
    }

    template <class B>
    static std::size_t rows_of(B const& batch)
    {
        if constexpr (std::ranges::sized_range<B const>)
            return static_cast<std::size_t>(std::ranges::size(batch));
        else
            return 0;
    }

    void check_idle(char const* what) const
    {
        if (!conn_->handle())
            throw std::logic_error("streambatch::postgres: job_sink on a moved-from connection");
        if (conn_->in_transaction())
            throw std::logic_error(std::string("streambatch::postgres: job_sink::") + what +
                                   ": a transaction is already open on " + conn_->where() +
                                   " (a cursor reading on it?); the sink's connection is its own");
    }

    void commit_transaction() const
    {
        result const r = conn_->exec("COMMIT");
        if (std::string_view(PQcmdStatus(r.handle())) != "COMMIT")
            throw error("streambatch::postgres: COMMIT on " + conn_->where() +
                            " rolled back: the transaction had failed",
                        "25P02", "the transaction had failed", {}, {}, {}, "COMMIT", conn_->host(),
                        conn_->port());
    }

    /// 'text' as the server reads it (PQescapeLiteral), or NULL.
    void append_literal(std::string& out, std::optional<std::string_view> v) const
    {
        if (!v) {
            out += "NULL";
            return;
        }
        char* q = PQescapeLiteral(conn_->handle(), v->data(), v->size());
        if (!q)
            detail::throw_error(conn_->handle(), nullptr, {}, "quoting a state value");
        out += q;
        PQfreemem(q);
    }

    /// The next result of the query string sent; postgres::error unless it has status `want`.
    result next_result(ExecStatusType want) const
    {
        PGconn* const c = conn_->handle();
        result r(PQgetResult(c));
        if (!r || r.status() != want)
            detail::throw_error(c, r.handle(), batch_sql_);
        return r;
    }

    // commit()'s steps (sql::detail::job_sink_base::commit_batch). One query string, sent
    // without waiting: BEGIN; the compare-and-set with its values as literals; and, when the
    // write is a copy_sink's, its COPY and the COMMIT after it (the server runs the COMMIT when
    // the COPY's data has ended well; a failed COPY skips it). Two round trips a batch: this
    // string up to the COPY's go-ahead, then the data up to the COMMIT's reply. Before a binary
    // COPY the string locks the table and reads its column types (copy_sink::check_sql): if they
    // are not those the format was chosen for, the transaction is rolled back and begun again
    // with the format and encoding the new columns take.
    bool begin_and_set(job_state const& state)
    {
        std::string const begin_sql = "BEGIN; " + set_sql(state, last_position_);
        PGconn* const c = conn_->handle();
        for (int attempt = 1;; ++attempt) {
            batch_sql_ = begin_sql;
            bool checking = false;
            if constexpr (detail::is_copy_batch<Write>) {
                if (attempt == 1)
                    write_.sink->choose_format(); // for the batch's type (commit, send)
                // A binary COPY: the table's lock and its column types first (check_sql).
                checking = !write_.sink->check_sql().empty();
                if (checking)
                    batch_sql_ += "; " + write_.sink->check_sql();
                batch_sql_ += "; " + write_.sink->sql_for(batch_rows_);
                if (!leave_open_)
                    batch_sql_ += "; COMMIT";
            }
            if (PQsendQuery(c, batch_sql_.c_str()) != 1)
                detail::throw_error(c, nullptr, batch_sql_, "sending the batch's BEGIN");
            next_result(PGRES_COMMAND_OK); // BEGIN
            bool const set = next_result(PGRES_COMMAND_OK).affected_rows() == 1;
            if constexpr (detail::is_copy_batch<Write>) {
                bool changed = false;
                if (checking) {
                    next_result(PGRES_COMMAND_OK); // LOCK TABLE
                    changed = write_.sink->check_types(next_result(PGRES_TUPLES_OK));
                }
                next_result(PGRES_COPY_IN);
                if (!set || changed)
                    rollback();       // ends the COPY (the COMMIT is skipped), then ROLLBACK
                if (set && changed) { // the table was altered: again, as its columns are now
                    if (attempt == 3)
                        throw error("streambatch::postgres: the columns of " +
                                        write_.sink->table() + " on " + conn_->where() +
                                        " changed while each of 3 batch transactions began",
                                    "", "", {}, {}, {}, batch_sql_, conn_->host(), conn_->port());
                    continue;
                }
            } else {
                detail::finish_copy(c); // the end of the string
            }
            return set;
        }
    }
    std::optional<detail::state_row> read_state_row() const
    {
        return detail::read_state_row(*conn_, sql_.select_row, key_.str());
    }
    template <class B>
    void write_batch(B&& batch)
    {
        if constexpr (detail::is_copy_batch<Write>) {
            if (leave_open_)
                open_->rows += write_.sink->copy_more(batch, true);
            else
                write_.sink->write_rows_in_copy(std::forward<B>(batch), !sending_);
        } else
            std::invoke(write_, *conn_, std::forward<B>(batch));
    }
    void finish_commit() const
    {
        if constexpr (detail::is_copy_batch<Write>) {
            if (sending_)
                return; // confirm() reads the results
            // The COMMIT ran with the COPY's results (copy_sink drained them): idle means it
            // committed.
            if (PQtransactionStatus(conn_->handle()) != PQTRANS_IDLE)
                throw error("streambatch::postgres: COMMIT on " + conn_->where() +
                                " did not run: the transaction is still open",
                            "25P02", "the transaction had failed", {}, {}, {}, "COMMIT",
                            conn_->host(), conn_->port());
        } else {
            commit_transaction();
        }
    }

    /// Creates the state table if missing; concurrent creators wait for each other.
    void create_table() const
    {
        conn_->exec("BEGIN");
        try {
            conn_->exec("SET LOCAL client_min_messages = warning"); // no NOTICE for IF NOT EXISTS
            conn_->exec("SELECT pg_advisory_xact_lock($1::bigint)",
                        hash_key("streambatch create " + sql_.table));
            conn_->exec(sql_.create);
            commit_transaction();
        } catch (...) {
            rollback();
            throw;
        }
    }

    /// " (its connection: backend pid 812, from 127.0.0.1, since 2026-...Z)" or "".
    std::string lock_holder_backend() const
    {
        try {
            result const r = conn_->exec(
                std::string("SELECT l.pid, coalesce(host(a.client_addr), 'a local socket'), "
                            "coalesce(to_char(a.backend_start AT TIME ZONE 'UTC', "
                            "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), '?') FROM pg_locks l LEFT JOIN "
                            "pg_stat_activity a ON a.pid = l.pid WHERE ") +
                    detail::advisory_lock_filter + " AND l.pid <> pg_backend_pid() LIMIT 1",
                lock_key_);
            if (r.rows() == 0)
                return {};
            return " (its connection: backend pid " + std::string(r.value(0, 0)) + ", from " +
                   std::string(r.value(0, 1)) + ", since " + std::string(r.value(0, 2)) + ")";
        } catch (...) {
            return {};
        }
    }

public:
    /// `write`: a copy_sink on `conn`, or a callable write(connection&, Batch&&) that writes one
    /// batch's data inside the transaction commit() has open.
    template <class W>
    job_sink(connection& conn, W&& write, sql::job_sink_options opts = {})
        : base(conn, detail::make_writer(conn, std::forward<W>(write)), std::move(opts),
               sql::detail::dialect::postgres, "postgres"),
          table_(detail::table_of(write))
    {}
    ~job_sink() { close(); }

    /// Takes the fence for `key` and returns the state stored with its last committed batch
    /// (nullopt: none). Throws fence_held when another connection holds it.
    std::optional<job_state> open(job_key const& key)
    {
        this->check_not_held();
        check_idle("open");
        create_table();
        lock_key_ = hash_key(sql_.table + "\n" + key.str());
        holder const me = holder::self();
        std::optional<detail::state_row> row;
        std::optional<holder> recorded;
        std::int64_t token = 0;
        bool locked = false;
        conn_->exec("BEGIN");
        try {
            conn_->exec(sql_.insert_empty, key.str());
            row = detail::read_state_row(*conn_, sql_.select_row + " FOR UPDATE", key.str());
            if (row && row->holder_text)
                recorded = holder::from_text(*row->holder_text);
            std::string const got = std::string(
                conn_
                    ->exec(std::string("SELECT CASE WHEN EXISTS (SELECT 1 FROM pg_locks l "
                                       "WHERE ") +
                               detail::advisory_lock_filter +
                               " AND l.pid = pg_backend_pid()) THEN 'mine' WHEN "
                               "pg_try_advisory_lock($1::bigint) THEN 'granted' ELSE 'held' "
                               "END",
                           lock_key_)
                    .value(0, 0));
            locked = got == "granted";
            if (got == "mine")
                throw fence_held(sql::detail::fence_held_message(
                                     "postgres", key, recorded.value_or(holder{}), where(),
                                     " (through this very connection: one job_sink per "
                                     "connection)"),
                                 recorded.value_or(holder{}));
            if (!locked && recorded && recorded->host == me.host && !recorded->alive()) {
                // Its process is gone; the server frees its lock when it sees the connection
                // close: wait for that, a while.
                std::string const backend = lock_holder_backend();
                conn_->exec("SET LOCAL lock_timeout = " +
                            std::to_string(opts_.dead_holder_wait.count()));
                try {
                    conn_->exec("SELECT pg_advisory_lock($1::bigint)", lock_key_);
                    locked = true;
                } catch (error const& e) {
                    if (e.sqlstate() != "55P03")
                        throw;
                    rollback();
                    throw fence_held(
                        sql::detail::fence_held_message(
                            "postgres", key, *recorded, where(),
                            backend +
                                ": that process is gone but its connection still holds "
                                "the lock after " +
                                std::to_string(opts_.dead_holder_wait.count()) +
                                " ms (pg_terminate_backend(pid) ends it)"),
                        *recorded);
                }
            }
            if (!locked) {
                std::string const backend = lock_holder_backend();
                throw fence_held(sql::detail::fence_held_message(
                                     "postgres", key, recorded.value_or(holder{}), where(),
                                     (recorded ? "" : " (no holder recorded)") + backend),
                                 recorded.value_or(holder{}));
            }
            result const r =
                conn_->exec(sql_.take, me.to_text(), sql::detail::utc_now(), key.str());
            token = detail::to_int64(r.value(0, 0));
            commit_transaction();
        } catch (...) {
            rollback();
            if (locked)
                unlock();
            throw;
        }
        return this->opened(key, me, token, row, recorded,
                            "its connection closed without releasing it (killed?)");
    }

    /// Writes `batch` and `state` in one transaction, if the stored state is still the one this
    /// writer last stored (else fence_lost, and nothing is written). Confirms a batch sent
    /// first.
    template <class B>
        requires std::invocable<Write&, connection&, B&&>
    void commit(B&& batch, job_state const& state)
    {
        confirm();
        batch_rows_ = rows_of(batch);
        if constexpr (detail::is_copy_batch<Write>)
            write_.sink->template format_for<B>();
        this->commit_batch(std::forward<B>(batch), state);
    }

    /// commit() that returns once the batch is sent (streambatch::confirming_job_sink): the
    /// query string, the go-ahead of its COPY, the rows and the COPY's end are sent, and the
    /// server's results (the COPY's, the COMMIT's) are left for confirm(). fence_lost and the
    /// client's own failures (a record that does not map) are thrown here, as by commit(); the
    /// server's verdict on the rows by confirm(). Confirms the batch sent before first. With a
    /// write callable (not a copy_sink) it is commit().
    template <class B>
        requires std::invocable<Write&, connection&, B&&>
    void send(B&& batch, job_state const& state)
    {
        if constexpr (!detail::is_copy_batch<Write>) {
            commit(std::forward<B>(batch), state);
        } else if (opts_.transaction_rows != 0) {
            send_into_transaction(std::forward<B>(batch), state);
        } else {
            confirm();
            batch_rows_ = rows_of(batch);
            write_.sink->template format_for<B>();
            std::optional<std::string> const before = last_position_;
            sending_ = true;
            try {
                this->commit_batch(std::forward<B>(batch), state);
            } catch (...) {
                sending_ = false;
                throw;
            }
            sending_ = false;
            sent_ = write_.sink->batches() - 1;
            confirmed_position_ = before;
        }
    }

    /// Waits until the batch sent by send() is committed; if the server refused it, rolls back
    /// and throws what commit() would have (postgres::batch_error naming the batch and row, or
    /// postgres::error), and the sink expects the state of the batch before it again. Nothing
    /// sent: nothing to do.
    void confirm()
    {
        if constexpr (detail::is_copy_batch<Write>) {
            if (open_)
                commit_open();
            else
                confirm_sent();
        }
    }

    /// streambatch::holding_job_sink: with transaction_rows, commits the open transaction if it
    /// holds transaction_rows rows or has been open transaction_time (what confirm() throws, it
    /// throws: the server's verdict on its rows comes then), and says whether every batch sent
    /// is now committed (true) or held in the open transaction (false). Without
    /// transaction_rows: confirm(), then true.
    bool confirm_or_hold()
    {
        if constexpr (detail::is_copy_batch<Write>) {
            if (open_ && open_->rows < opts_.transaction_rows &&
                std::chrono::steady_clock::now() - open_->since < opts_.transaction_time)
                return false;
        }
        confirm();
        return true;
    }

private:
    /// The state's compare-and-set (sql::detail::job_state_sql), its values as literals:
    /// `state` stored where the row holds `expected` and this writer's token.
    std::string set_sql(job_state const& state, std::optional<std::string> const& expected) const
    {
        auto lit = [&](std::optional<std::string_view> v) {
            std::string out;
            append_literal(out, v);
            return out;
        };
        std::optional<std::string_view> last;
        if (expected)
            last = *expected;
        std::string const values[8] = {lit(state.position),           lit(state.identity),
                                       std::to_string(state.batches), std::to_string(state.records),
                                       lit(sql::detail::utc_now()),   lit(key_.str()),
                                       std::to_string(token_),        lit(last)};
        return sql_.compare_and_set_with(sql::detail::dialect::postgres, values);
    }

    // send() with transaction_rows: the first batch of a transaction as commit() sends it, its
    // COPY left open; each later one's rows into the same COPY, with no statement and no wait.
    template <class B>
    void send_into_transaction(B&& batch, job_state const& state)
    {
        confirm_sent(); // a batch send() sent before transaction_rows was set... none: no-op
        if (!open_) {
            // The COPY's path for the transaction's rows, not the batch's.
            batch_rows_ = std::max(rows_of(batch), opts_.transaction_rows);
            write_.sink->template format_for<B>();
            std::optional<std::string> const before = last_position_;
            open_.emplace(open_transaction{
                std::chrono::steady_clock::now(), 0, {{write_.sink->batches(), 0}}, state});
            sending_ = leave_open_ = true;
            try {
                this->commit_batch(std::forward<B>(batch), state); // last_position_: this one's
            } catch (...) {
                sending_ = leave_open_ = false;
                open_.reset();
                throw;
            }
            sending_ = leave_open_ = false;
            confirmed_position_ = before;
        } else {
            // The format chosen at the transaction's start holds: its LOCK TABLE keeps the
            // columns as they were checked. Whatever fails, the whole transaction is rolled
            // back, so that its rows are never committed with a state that stops before them
            // (and the runner, told that send() failed, counts none of its batches).
            try {
                job_state next = state;
                open_->first.emplace_back(write_.sink->batches(), open_->rows);
                open_->rows += write_.sink->copy_more(batch, false);
                open_->state = std::move(next);
            } catch (...) {
                abandon_open();
                throw;
            }
        }
    }

    /// Ends the transaction's COPY (the server's verdict on its rows: a refused row names its
    /// batch and row), stores the last batch's state where the row holds the first batch's
    /// (which this transaction wrote) and commits: two round trips, once a transaction.
    void commit_open()
    {
        auto const& batches = open_->first;
        try {
            // COPY line L (1-based) is the transaction's row L - 1: in the last batch whose
            // first row is at or before it.
            auto const batch_of = [&](std::size_t line) {
                auto const it = std::upper_bound(
                    batches.begin(), batches.end(), std::uint64_t{line - 1},
                    [](std::uint64_t row, auto const& b) { return row < b.second; });
                auto const& b = it == batches.begin() ? batches.front() : *std::prev(it);
                return std::pair<std::uint64_t, std::size_t>(b.first,
                                                             static_cast<std::size_t>(b.second));
            };
            write_.sink->end_long_copy(batches.front().first, batches.back().first, batch_of);
            if (conn_->exec(set_sql(open_->state, last_position_)).affected_rows() != 1)
                throw fence_lost(this->lost_message()); // the row is locked by this transaction
            try {
                commit_transaction();
            } catch (error const& e) { // a deferred constraint: the transaction's, no row's
                write_.sink->throw_transaction_error(e, batches.front().first,
                                                     batches.back().first);
            }
        } catch (...) {
            abandon_open();
            throw;
        }
        last_position_ = std::move(open_->state.position);
        write_.sink->rows_ += open_->rows;
        open_.reset();
    }

    /// Rolls the open transaction back: none of its batches is stored; the sink expects the
    /// state of the batch before the first of them again.
    void abandon_open() noexcept
    {
        rollback();
        if (open_) {
            last_position_ = confirmed_position_;
            open_.reset();
        }
    }

    void confirm_sent()
    {
        if (!sent_)
            return;
        std::uint64_t const index = *sent_;
        sent_.reset();
        try {
            write_.sink->finish_rows(index);
            if (PQtransactionStatus(conn_->handle()) != PQTRANS_IDLE)
                throw error("streambatch::postgres: COMMIT on " + conn_->where() +
                                " did not run: the transaction is still open",
                            "25P02", "the transaction had failed", {}, {}, {}, "COMMIT",
                            conn_->host(), conn_->port());
        } catch (...) {
            rollback();
            last_position_ = confirmed_position_;
            throw;
        }
    }

public:
    /// Releases the fence: clears the holder if the row still holds this writer's token, and
    /// frees the lock.
    void close() noexcept
    {
        try {
            confirm(); // a batch sent: its outcome, before the fence goes
        } catch (...) {
        }
        if (!std::exchange(held_, false))
            return;
        PGconn* c = conn_->handle();
        if (!c || PQstatus(c) != CONNECTION_OK)
            return; // the server frees the lock with the connection
        bool unlocked = false;
        try {
            if (PQtransactionStatus(c) == PQTRANS_IDLE) {
                conn_->exec("BEGIN");
                conn_->exec(sql_.release, sql::detail::utc_now(), key_.str(), token_);
                unlock(); // not transactional: freed now, while the row is still locked
                unlocked = true;
                commit_transaction();
            }
        } catch (...) {
            rollback();
        }
        if (!unlocked)
            unlock(); // inside someone's transaction: the lock only (the row's holder stays)
    }

    /// "PostgreSQL 127.0.0.1:5432/shop table customers"
    std::string describe() const
    {
        return "PostgreSQL " + conn_->where() + (table_.empty() ? "" : " table " + table_);
    }

    /// The advisory lock's key: pg_locks shows it as classid (high half), objid (low half).
    std::int64_t lock_key() const noexcept { return lock_key_; }
};

template <class W>
job_sink(connection&, W&&) -> job_sink<typename detail::writer_of<W&&>::type>;
template <class W>
job_sink(connection&, W&&, sql::job_sink_options)
    -> job_sink<typename detail::writer_of<W&&>::type>;

} // namespace streambatch::postgres

#endif // STREAMBATCH_IO_POSTGRES_JOB_SINK_HPP_INCLUDED
