// streambatch/io/sqlite/job_sink.hpp: sqlite::job_sink, a streambatch::job_sink on a SQLite
// database: each batch is written together with the job's state (position, identity, counts) in
// one transaction, behind a fence that lets one copy of a job write and stops the others. Part
// of <streambatch/io/sqlite.hpp>; include that. See docs/sql.md.
//
// In:     a sqlite::database (the sink's; nothing else may hold a transaction open on it between
//         commits) and what writes one batch's data inside the open transaction: an inserter
//         on that database (its write_rows), or a callable write(database&, Batch&&); options
//         (sql::job_sink_options: the state table, default "streambatch_job_state", and where
//         take-over notes go).
// Out:    sqlite::job_sink<Write>, modelling streambatch::job_sink:
//         open(key)          takes the fence; the stored job_state (nullopt: none committed).
//         commit(b, state)   BEGIN IMMEDIATE; compare-and-set of the state row; write(db, b);
//                            COMMIT.
//         close()            releases the fence (noexcept; also the destructor's).
//         describe()         "SQLite customers.db".
//         taken_over()       the holder open() took the fence from (it was gone), if any.
// Models: the fence is a lease in the job's row of the state table (sql/job_sink.hpp): open()
//         reads it in BEGIN IMMEDIATE (one connection at a time in the whole database) and, if
//         no live holder is recorded, records itself (holder::self()) and bumps the row's token.
//         A recorded holder is live unless it is a process of this host that is gone (holder::
//         alive(): no such pid, or a pid reused by a process that started at another time); a
//         holder on another host is taken to be live (clear its row's holder by hand if its host
//         died). commit() writes only if the row still holds this writer's token and the position
//         it last stored: a copy whose fence was taken over writes nothing.
//         Waiting: every transaction waits for the database lock up to the database's busy
//         timeout (database::options::busy_timeout, 5 s by default), then sqlite::error
//         SQLITE_BUSY.
// Memory: the state's strings; the write callable's own; the compare-and-set statement,
//         prepared by the first commit and kept.
// Errors: fence_held (open: a live holder; .by is it; the message names it, the job and the
//         database); fence_lost (commit: the row's token or position moved: names the holder
//         now recorded; nothing of the batch is written); sqlite::error (the database); what
//         write throws (inserter: sqlite::batch_error), after the transaction was rolled back
//         (neither the batch nor the state is written); std::logic_error (commit before open,
//         open twice, a transaction already open on the database); std::invalid_argument (an
//         inserter on another database).
// Example:
//     sqlite::database db("customers.db");
//     sqlite::inserter ins(db, "INSERT INTO customers VALUES (?, ?, ?, ?, ?)");
//     sqlite::job_sink sink(db, ins);                   // or (db, [&](sqlite::database&, auto&& b)
//     auto state = sink.open({.job = "load customers"}); //     { ins.write_rows(b); })
//     sink.commit(batch, {.position = ..., .identity = ..., .batches = n, .records = r});

#ifndef STREAMBATCH_IO_SQLITE_JOB_SINK_HPP_INCLUDED
#define STREAMBATCH_IO_SQLITE_JOB_SINK_HPP_INCLUDED

#include <streambatch/io/sql/job_sink.hpp>
#include <streambatch/io/sqlite/database.hpp>
#include <streambatch/io/sqlite/inserter.hpp>
#include <streambatch/job/contract.hpp>

#include <concepts>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

#include <sqlite3.h>

namespace streambatch::sqlite {

using job_sink_options = sql::job_sink_options;

namespace detail {

/// The write of a job sink made from an inserter: its write_rows.
template <class Map>
using insert_batch = sql::detail::rows_writer<inserter<Map>>;

template <class W>
using writer_of = sql::detail::writer_of<inserter, W>;

template <class W>
typename writer_of<W&&>::type make_writer(database const&, W&& w)
{
    return std::forward<W>(w);
}
template <class Map>
insert_batch<Map> make_writer(database const& db, inserter<Map>& ins)
{
    if (std::addressof(ins.db()) != std::addressof(db))
        throw std::invalid_argument("streambatch::sqlite: job_sink: the inserter writes to " +
                                    quote(ins.db().file()) + " through another connection than " +
                                    "the sink's (" + quote(db.file()) +
                                    "): its rows would not be in the sink's transaction");
    return {std::addressof(ins)};
}

inline std::optional<std::string> column_text(sqlite3_stmt* st, int c)
{
    if (sqlite3_column_type(st, c) == SQLITE_NULL)
        return std::nullopt;
    auto const* p = reinterpret_cast<char const*>(sqlite3_column_text(st, c));
    return std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(st, c)));
}

using state_row = sql::detail::state_row;

inline std::optional<state_row> read_state_row(database const& db, std::string const& sql,
                                               std::string const& job)
{
    statement st(db, sql);
    st.bind(job);
    if (!st.step())
        return std::nullopt;
    sqlite3_stmt* h = st.handle();
    state_row r;
    r.position = column_text(h, 0);
    r.identity = column_text(h, 1);
    r.batches = sqlite3_column_int64(h, 2);
    r.records = sqlite3_column_int64(h, 3);
    r.holder_text = column_text(h, 4);
    r.token = sqlite3_column_int64(h, 5);
    return r;
}

} // namespace detail

/// A streambatch::job_sink on a SQLite database: see the header comment.
template <class Write>
class job_sink : public sql::detail::job_sink_base<job_sink<Write>, database, Write> {
    using base = sql::detail::job_sink_base<job_sink<Write>, database, Write>;
    friend base;
    using base::conn_;
    using base::held_;
    using base::key_;
    using base::last_position_;
    using base::opts_;
    using base::sql_;
    using base::token_;
    using base::write_;

    std::string where() const { return sql_.table + " in SQLite " + detail::quote(conn_->file()); }

    // The compare-and-set of commit(), prepared by the first commit and kept (reset after each
    // step: it holds no lock between commits).
    std::optional<statement> compare_and_set_;

    void rollback() const noexcept
    {
        if (conn_->in_transaction())
            sqlite3_exec(conn_->handle(), "ROLLBACK", nullptr, nullptr, nullptr);
    }

    void check_idle(char const* what) const
    {
        if (!conn_->handle())
            throw std::logic_error("streambatch::sqlite: job_sink on a moved-from database");
        if (conn_->in_transaction())
            throw std::logic_error(std::string("streambatch::sqlite: job_sink::") + what +
                                   ": a transaction is already open on " +
                                   detail::quote(conn_->file()) +
                                   "; the sink's transactions are its own");
    }

    // commit()'s steps (sql::detail::job_sink_base::commit_batch).
    bool begin_and_set(job_state const& state)
    {
        conn_->exec("BEGIN IMMEDIATE");
        if (!compare_and_set_)
            compare_and_set_.emplace(*conn_, sql_.compare_and_set);
        statement& st = *compare_and_set_;
        try {
            st.bind(state.position, state.identity, state.batches, state.records,
                    sql::detail::utc_now(), key_.str(), token_, last_position_);
            while (st.step()) {
            }
        } catch (...) {
            st.reset();
            throw;
        }
        st.reset();
        return conn_->changes() == 1;
    }
    std::optional<detail::state_row> read_state_row() const
    {
        return detail::read_state_row(*conn_, sql_.select_row, key_.str());
    }
    template <class B>
    void write_batch(B&& batch)
    {
        std::invoke(write_, *conn_, std::forward<B>(batch));
    }
    void finish_commit() { conn_->exec("COMMIT"); }

public:
    /// `write`: an inserter on `db`, or a callable write(database&, Batch&&) that writes one
    /// batch's data inside the transaction commit() has open.
    template <class W>
    job_sink(database& db, W&& write, sql::job_sink_options opts = {})
        : base(db, detail::make_writer(db, std::forward<W>(write)), std::move(opts),
               sql::detail::dialect::sqlite, "sqlite")
    {}
    ~job_sink() { close(); }

    /// Takes the fence for `key` and returns the state stored with its last committed batch
    /// (nullopt: none). Throws fence_held when a live holder is recorded.
    std::optional<job_state> open(job_key const& key)
    {
        this->check_not_held();
        check_idle("open");
        conn_->exec(sql_.create);
        conn_->exec("BEGIN IMMEDIATE");
        std::optional<detail::state_row> row;
        holder const me = holder::self();
        std::optional<holder> gone;
        std::int64_t token = 0;
        try {
            row = detail::read_state_row(*conn_, sql_.select_row, key.str());
            if (row && row->holder_text) {
                auto const h = holder::from_text(*row->holder_text);
                if (!h)
                    throw std::runtime_error(
                        "streambatch::sqlite: job " + sql::detail::job_name(key) +
                        ": the holder in " + where() +
                        " is not readable: " + detail::quote(*row->holder_text));
                if (h->alive()) {
                    std::string extra;
                    if (h->host != me.host)
                        extra = " (on another host: if that host is gone, clear the fence: "
                                "UPDATE " +
                                sql_.table + " SET holder = NULL WHERE job = " +
                                sql::detail::sql_literal(key.str()) + ")";
                    throw fence_held(
                        sql::detail::fence_held_message("sqlite", key, *h, where(), extra), *h);
                }
                gone = h;
            }
            if (row) {
                statement st(*conn_, sql_.take);
                st.bind(me.to_text(), sql::detail::utc_now(), key.str());
                if (!st.step())
                    throw std::logic_error("streambatch::sqlite: job_sink: the state row of " +
                                           sql::detail::job_name(key) + " vanished");
                token = sqlite3_column_int64(st.handle(), 0);
            } else {
                conn_->exec(sql_.insert_row, key.str(), me.to_text(), sql::detail::utc_now());
                token = 1;
            }
            conn_->exec("COMMIT");
        } catch (...) {
            rollback();
            throw;
        }
        return this->opened(key, me, token, row, gone,
                            gone ? "that process is gone (no process " + std::to_string(gone->pid) +
                                       " started then on this host)"
                                 : std::string());
    }

    /// Writes `batch` and `state` in one transaction, if the stored state is still the one this
    /// writer last stored (else fence_lost, and nothing is written).
    template <class B>
        requires std::invocable<Write&, database&, B&&>
    void commit(B&& batch, job_state const& state)
    {
        this->commit_batch(std::forward<B>(batch), state);
    }

    /// Releases the fence: clears the holder if the row still holds this writer's token.
    void close() noexcept
    {
        if (!std::exchange(held_, false))
            return;
        try {
            if (conn_->handle() && !conn_->in_transaction())
                conn_->exec(sql_.release, sql::detail::utc_now(), key_.str(), token_);
        } catch (...) { // the next open() sees this process gone and takes over
        }
    }

    /// "SQLite customers.db"
    std::string describe() const { return "SQLite " + conn_->file(); }
};

template <class W>
job_sink(database&, W&&) -> job_sink<typename detail::writer_of<W&&>::type>;
template <class W>
job_sink(database&, W&&, sql::job_sink_options) -> job_sink<typename detail::writer_of<W&&>::type>;

} // namespace streambatch::sqlite

#endif // STREAMBATCH_IO_SQLITE_JOB_SINK_HPP_INCLUDED
