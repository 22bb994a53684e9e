// streambatch/io/postgres/copy_sink.hpp: the PostgreSQL sink: postgres::copy_sink, COPY table
// (columns) FROM STDIN in binary or text format (copy_format: binary when the columns' types
// take the values as they are), one transaction (BEGIN ... COMMIT) per batch, with a hook
// that runs inside it (to advance a checkpoint: exactly-once), and write_rows for a transaction
// the caller has open (a job sink's); copy_path: how the server inserts a COPY's rows (a small
// COPY row by row: see copy_path). Part of
// <streambatch/io/postgres.hpp>; include that. See docs/sql.md.

#ifndef STREAMBATCH_IO_POSTGRES_COPY_SINK_HPP_INCLUDED
#define STREAMBATCH_IO_POSTGRES_COPY_SINK_HPP_INCLUDED

#include <streambatch/io/postgres/connection.hpp>
#include <streambatch/io/sql/sink.hpp>
#include <streambatch/io/sql/traits.hpp>

#include <algorithm>
#include <bit>
#include <charconv>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <ranges>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include <libpq-fe.h>

namespace streambatch::postgres {

namespace detail {

/// Drains the results of a finished COPY; the first non-OK one is returned.
inline result finish_copy(PGconn* c)
{
    result first;
    while (PGresult* r = PQgetResult(c)) {
        if (!first || (first.status() == PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_COMMAND_OK))
            first = result(r);
        else
            PQclear(r);
    }
    return first;
}

/// "COPY t, line 3, column x: ..." -> 3; 0 if there is no line number.
inline std::size_t copy_line(std::string_view context)
{
    auto const at = context.find(", line ");
    if (at == std::string_view::npos)
        return 0;
    std::size_t line = 0;
    auto const* first = context.data() + at + 7;
    std::from_chars(first, context.data() + context.size(), line);
    return line;
}

// COPY's binary format (PostgreSQL's "COPY" page, "Binary Format"): a header, then per row a
// 16-bit field count and per field a 32-bit length (-1: NULL) and the value as the column type's
// receive function reads it (big-endian integers and IEEE floats, text as is), then a -1 trailer.
inline constexpr std::string_view binary_header{"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0", 19};
inline constexpr std::string_view binary_trailer{"\xff\xff", 2};

// The built-in types (pg_type's OIDs) whose binary form is written here.
enum type_oid : unsigned {
    oid_bool = 16,
    oid_bytea = 17,
    oid_int8 = 20,
    oid_int2 = 21,
    oid_int4 = 23,
    oid_text = 25,
    oid_float4 = 700,
    oid_float8 = 701,
    oid_bpchar = 1042,
    oid_varchar = 1043,
};

inline char const* type_name(unsigned oid) noexcept
{
    switch (oid) {
    case oid_int8:
        return "bigint";
    case oid_int2:
        return "smallint";
    case oid_int4:
        return "integer";
    default:
        return "this type";
    }
}

template <class T>
inline constexpr bool is_bytes_v =
    std::is_same_v<T, std::span<std::byte const>> || std::is_same_v<T, std::vector<std::byte>>;

// The integers written as smallint, integer or bigint (not bool, not the character types).
template <class T>
inline constexpr bool is_binary_integer_v =
    std::is_integral_v<T> && !std::is_same_v<T, bool> && !std::is_same_v<T, char> &&
    !std::is_same_v<T, wchar_t> && !std::is_same_v<T, char8_t> && !std::is_same_v<T, char16_t> &&
    !std::is_same_v<T, char32_t>;

/// Whether a value of type T goes to a column of type `oid` in binary format and is stored as the
/// text format would store it: an integer into smallint, integer or bigint (range-checked when
/// encoded), a float into real or double precision, a double into double precision only (into
/// real the text format rounds and range-checks on the server: text is used), strings into
/// text, varchar or char, bytes into bytea, bool into boolean. NULL goes anywhere.
template <class T>
bool binary_fits(unsigned oid) noexcept
{
    using U = std::remove_cvref_t<T>;
    if constexpr (std::is_same_v<U, std::nullptr_t> || std::is_same_v<U, std::nullopt_t>)
        return true;
    else if constexpr (sql::detail::is_optional<U>::value)
        return binary_fits<typename U::value_type>(oid);
    else if constexpr (std::is_same_v<U, bool>)
        return oid == oid_bool;
    else if constexpr (is_binary_integer_v<U>)
        return oid == oid_int8 || oid == oid_int4 || oid == oid_int2;
    else if constexpr (std::is_same_v<U, float>)
        return oid == oid_float8 || oid == oid_float4;
    else if constexpr (std::is_same_v<U, double>)
        return oid == oid_float8;
    else if constexpr (is_bytes_v<U>)
        return oid == oid_bytea;
    else if constexpr (std::is_convertible_v<U const&, std::string_view>)
        return oid == oid_text || oid == oid_varchar || oid == oid_bpchar;
    else
        return false;
}

template <std::size_t N>
void put_big_endian(std::string& out, std::uint64_t v)
{
    char b[N];
    for (std::size_t i = 0; i < N; ++i)
        b[i] = static_cast<char>(v >> (8 * (N - 1 - i)));
    out.append(b, N);
}

inline void put_length(std::string& out, std::size_t n)
{
    if (n > 0x7fffffff)
        throw std::length_error("a value of " + std::to_string(n) +
                                " bytes: COPY takes at most 2 GiB less one byte a field");
    put_big_endian<4>(out, n);
}

/// Appends one field in COPY's binary format for a column of type `oid`; an integer the column
/// cannot hold throws std::out_of_range naming `column`, a value binary_fits refuses
/// std::logic_error (the format was chosen for another record type).
template <class T>
void append_binary_field(std::string& out, unsigned oid, T const& v, std::string_view column)
{
    using U = std::remove_cvref_t<T>;
    if (!binary_fits<U>(oid))
        throw std::logic_error("column " + std::string(column) + " (type " + std::to_string(oid) +
                               ") does not take this value in binary format: the format was "
                               "chosen for another record type (copy_sink::choose_format)");
    if constexpr (std::is_same_v<U, std::nullptr_t> || std::is_same_v<U, std::nullopt_t>) {
        put_big_endian<4>(out, 0xffffffffu);
    } else if constexpr (sql::detail::is_optional<U>::value) {
        if (v)
            append_binary_field(out, oid, *v, column);
        else
            put_big_endian<4>(out, 0xffffffffu);
    } else if constexpr (std::is_same_v<U, bool>) {
        put_big_endian<4>(out, 1);
        out += static_cast<char>(v ? 1 : 0);
    } else if constexpr (is_binary_integer_v<U>) {
        auto const fits = [&]<class I>(I) {
            if (!std::in_range<I>(v))
                throw std::out_of_range("column " + std::string(column) + ": " + std::to_string(v) +
                                        " is out of range for type " + type_name(oid));
        };
        if (oid == oid_int8) {
            fits(std::int64_t{});
            put_big_endian<4>(out, 8);
            put_big_endian<8>(out, static_cast<std::uint64_t>(static_cast<std::int64_t>(v)));
        } else if (oid == oid_int4) {
            fits(std::int32_t{});
            put_big_endian<4>(out, 4);
            put_big_endian<4>(out, static_cast<std::uint32_t>(static_cast<std::int32_t>(v)));
        } else {
            fits(std::int16_t{});
            put_big_endian<4>(out, 2);
            put_big_endian<2>(out, static_cast<std::uint16_t>(static_cast<std::int16_t>(v)));
        }
    } else if constexpr (std::is_floating_point_v<U>) {
        if (oid == oid_float8) {
            put_big_endian<4>(out, 8);
            put_big_endian<8>(out, std::bit_cast<std::uint64_t>(static_cast<double>(v)));
        } else {
            put_big_endian<4>(out, 4);
            put_big_endian<4>(out, std::bit_cast<std::uint32_t>(static_cast<float>(v)));
        }
    } else if constexpr (is_bytes_v<U>) {
        put_length(out, v.size());
        out.append(reinterpret_cast<char const*>(v.data()), v.size());
    } else if constexpr (std::is_convertible_v<U const&, std::string_view>) {
        std::string_view const s(v);
        put_length(out, s.size());
        out.append(s.data(), s.size());
    }
}

} // namespace detail

/// The format a COPY's rows are sent in (copy_sink::format).
///  - text:      PostgreSQL's text format, which takes any value into any column the server can
///               parse it for (a string into a date column, say).
///  - binary:    the binary format: the server parses nothing (measured here: about 0.3x less of
///               its CPU per row than text or CSV, bench/RESULTS-postgres.md), but each value must
///               be the column's own type: bool, smallint, integer, bigint (from any integer type,
///               range-checked), real, double precision (from float or double), text, varchar,
///               char (from strings) or bytea (from bytes); NULL anywhere. A batch whose columns
///               do not take their values so fails (std::invalid_argument, nothing sent).
///  - automatic: binary when every column takes its value so, text otherwise.
/// The table's column types are read from the catalog before the first batch, and read again in
/// each binary batch's transaction under the table's lock (the lock COPY takes): a table altered
/// or replaced between batches gets the format and the encoding its new columns take, never
/// bytes of the old types.
enum class copy_format { automatic, text, binary };

/// How a COPY inserts its rows on the server (copy_sink::path).
///  - buffered:   the server's multi-insert buffer (up to 1000 rows or 64 KiB, then written
///                together): the fastest per row, but on PostgreSQL 15 (measured here) a COPY
///                that fills the buffer costs the server milliseconds more, whatever its size: each
///                buffered row gets a tuple slot of its own, made and dropped by every COPY
///                statement (bench/RESULTS-postgres.md).
///  - row_by_row: `COPY ... WHERE random() >= 0`, which is always true but volatile, so the
///                server inserts each row as it reads it, with one slot (a little more per row).
///                Needs PostgreSQL 12 or later.
///  - automatic:  row_by_row for a COPY that would fill the buffer with at most 4000 rows (the
///                rows' average size is the earlier batches'), buffered otherwise.
enum class copy_path { automatic, buffered, row_by_row };

template <class Write>
class job_sink;

/// The sink: COPY table (columns) FROM STDIN, one transaction (BEGIN ... COMMIT) per batch.
template <class Map = sql::detail::same_columns>
class copy_sink {
    template <class Write>
    friend class job_sink; // counts the rows of a transaction of several batches when it commits
    connection* conn_;
    std::string table_, copy_sql_, row_by_row_sql_;
    std::string binary_sql_, binary_row_by_row_sql_;
    std::vector<std::string> column_names_; // as given
    std::size_t columns_;
    Map map_;
    std::uint64_t batches_ = 0;
    std::uint64_t rows_ = 0;
    std::uint64_t sent_rows_ = 0, sent_bytes_ = 0; // text-format rows sent: their average size
    std::size_t unconfirmed_rows_ = 0;             // sent by write_rows_in_copy(b, false)
    std::string buf_, scratch_;
    copy_path path_ = copy_path::automatic;
    copy_path last_path_ = copy_path::buffered;
    bool can_filter_ = false; // the server takes COPY ... WHERE (12 and later)
    copy_format format_ = copy_format::automatic;
    bool binary_ = false;                 // the format chosen (choose_format)
    std::string const* sql_ = &copy_sql_; // the COPY statement chosen last (sql_for)
    // The columns COPY fills, their names and types, from the catalog (looked_up_ false: not
    // read, or no such table when last read); signature_: the table's own, as check_sql reads it.
    std::vector<std::string> names_;
    std::vector<unsigned> types_;
    std::string signature_, check_sql_;
    bool looked_up_ = false;
    // choose_format for the batch type last given (format_for<B>), for a caller without it.
    copy_format (*chooser_)(copy_sink&, bool) = nullptr;

    template <class B>
    static copy_format choose_for(copy_sink& s, bool may_read)
    {
        return s.template choose<B>(may_read);
    }

    static constexpr std::size_t flush_bytes = 64 * 1024;
    // The server's multi-insert buffer (PostgreSQL's copyfrom.c): written out at this many rows
    // or bytes of input.
    static constexpr std::size_t server_buffer_rows = 1000;
    static constexpr std::size_t server_buffer_bytes = 65535;

    template <class C>
    void encode(C const& cols)
    {
        if constexpr (sql::detail::tuple_like<C>) {
            constexpr std::size_t k = std::tuple_size_v<C>;
            if (columns_ != 0 && k != columns_)
                throw std::invalid_argument("streambatch::postgres: COPY into " + table_ + " has " +
                                            std::to_string(columns_) +
                                            " columns, the record maps to " + std::to_string(k) +
                                            " values");
            if (binary_) {
                detail::put_big_endian<2>(buf_, k);
                [&]<std::size_t... I>(std::index_sequence<I...>) {
                    using std::get;
                    (detail::append_binary_field(buf_, types_[I], get<I>(cols), names_[I]), ...);
                }(std::make_index_sequence<k>{});
                return;
            }
            [&]<std::size_t... I>(std::index_sequence<I...>) {
                using std::get;
                ((I ? void(buf_ += '\t') : void(),
                  detail::append_copy_field(buf_, scratch_, get<I>(cols))),
                 ...);
            }(std::make_index_sequence<k>{});
        } else {
            static_assert(
                bindable<C>,
                "map a record to a tuple of column values: copy_sink(conn, table, cols, map)");
            if (columns_ > 1)
                throw std::invalid_argument("streambatch::postgres: COPY into " + table_ + " has " +
                                            std::to_string(columns_) +
                                            " columns, the record maps to 1 value");
            if (binary_) {
                detail::put_big_endian<2>(buf_, 1);
                detail::append_binary_field(buf_, types_[0], cols, names_[0]);
                return;
            }
            detail::append_copy_field(buf_, scratch_, cols);
        }
        buf_ += '\n';
    }

    void put(std::string_view data)
    {
        if (data.empty())
            return;
        if (PQputCopyData(conn_->handle(), data.data(), static_cast<int>(data.size())) != 1)
            detail::throw_error(conn_->handle(), nullptr, *sql_, "sending COPY data");
    }

    // Encodes the batch's records into buf_, sending it whenever it holds flush_bytes; what is
    // left stays in buf_. `at`: the record being mapped and encoded (npos between records).
    template <class B>
    std::size_t encode_rows(B& batch, std::size_t& at)
    {
        std::size_t n = 0;
        for (auto&& rec : batch) {
            at = n;
            auto&& cols = std::invoke(map_, rec);
            encode(cols);
            at = batch_error::npos;
            ++n;
            if (buf_.size() >= flush_bytes) {
                if (!binary_)
                    sent_bytes_ += buf_.size();
                put(buf_);
                buf_.clear();
            }
        }
        if (!binary_) {
            sent_bytes_ += buf_.size();
            sent_rows_ += n;
        }
        return n;
    }

    // In a catch block of a COPY of batch `index` whose record `at` (npos: none; the server's
    // error names the COPY line, `first_row` rows before this batch's first) was being sent:
    // ends the COPY and throws batch_error, naming the batch and the row.
    [[noreturn]] void throw_batch_error(std::uint64_t index, std::size_t at,
                                        std::size_t first_row = 0)
    {
        end_copy();
        try {
            throw;
        } catch (error const& e) {
            std::size_t row = at;
            if (row == batch_error::npos) // the server names the COPY line
                if (std::size_t const line = detail::copy_line(e.context()); line > first_row)
                    row = line - 1 - first_row;
            throw batch_error(where(index, row) +
                                  std::string(io::detail::unprefixed<detail::tag>(e.what())),
                              e, index, row);
        } catch (...) {
            std::string const msg = sql::detail::current_message();
            std::throw_with_nested(batch_error(
                where(index, at) + msg,
                error("", "", msg, {}, {}, {}, *sql_, conn_->host(), conn_->port()), index, at));
        }
    }

    void trim_buffer()
    {
        buf_.clear();
        if (buf_.capacity() > 4 * flush_bytes) // one huge record must not pin its buffer
            std::string().swap(buf_);
    }

    // One COPY of the batch's records in the open transaction (started: the caller has sent
    // the COPY statement and got its COPY IN; what it sent after it is drained with it); on an
    // error the COPY is ended and batch_error thrown (the caller rolls back).
    // With drain false, the COPY's data is sent and ended but its result (and those of what
    // follows it in the query string) not read: finish_rows(index) reads them.
    template <class B>
    std::size_t copy_rows(B& batch, std::uint64_t index, bool started = false, bool drain = true)
    {
        PGconn* const c = conn_->handle();
        std::size_t n = 0;
        std::size_t at = batch_error::npos;
        try {
            if (!started) {
                choose_format<B>();
                if (binary_)
                    check_types(conn_->exec(check_sql_));
                if (result r(PQexec(c, sql_for(batch_rows(batch)).c_str()));
                    !r || r.status() != PGRES_COPY_IN)
                    detail::throw_error(c, r.handle(), *sql_);
            }
            buf_.clear();
            if (binary_)
                buf_ += detail::binary_header;
            n = encode_rows(batch, at);
            if (binary_)
                buf_ += detail::binary_trailer;
            put(buf_);
            buf_.clear();
            if (PQputCopyEnd(c, nullptr) != 1)
                detail::throw_error(c, nullptr, *sql_, "ending COPY");
            if (drain)
                if (result r = detail::finish_copy(c); !r || r.status() != PGRES_COMMAND_OK)
                    detail::throw_error(c, r.handle(), *sql_);
        } catch (...) {
            throw_batch_error(index, at);
        }
        trim_buffer();
        return n;
    }

    // postgres::job_sink with transaction_rows: one COPY for the batches of a transaction. Its
    // first batch (`first`; the caller has sent the COPY and got its COPY IN) begins it; each
    // sends its rows and leaves the COPY open. A record that does not map ends the COPY and
    // throws batch_error; the server's verdict comes when end_long_copy() ends it.
    template <class B>
    std::size_t copy_more(B& batch, bool first)
    {
        std::uint64_t const index = batches_++;
        std::size_t n = 0;
        std::size_t at = batch_error::npos;
        try {
            buf_.clear();
            if (first && binary_)
                buf_ += detail::binary_header;
            n = encode_rows(batch, at);
            put(buf_);
        } catch (...) {
            throw_batch_error(index, at);
        }
        trim_buffer();
        return n;
    }

    // Ends the COPY copy_more() sent and reads its result. The server's error names a line of
    // the whole COPY: batch_of(line) gives the batch it is in and the rows before that batch.
    // An error without a line (a foreign key or an AFTER trigger, checked at the COPY's end)
    // is the transaction's: batches `first` to `last`.
    template <class BatchOf>
    void end_long_copy(std::uint64_t first, std::uint64_t last, BatchOf batch_of)
    {
        PGconn* const c = conn_->handle();
        try {
            if (binary_)
                put(detail::binary_trailer);
            if (PQputCopyEnd(c, nullptr) != 1)
                detail::throw_error(c, nullptr, *sql_, "ending COPY");
            if (result r = detail::finish_copy(c); !r || r.status() != PGRES_COMMAND_OK)
                detail::throw_error(c, r.handle(), *sql_);
        } catch (error const& e) {
            std::size_t const line = detail::copy_line(e.context());
            if (line == 0)
                throw_transaction_error(e, first, last);
            auto const [index, before] = batch_of(line);
            throw_batch_error(index, batch_error::npos, before);
        }
    }

    // An error of a transaction of batches `first` to `last` that names no row of them (one at
    // its COPY's end or its COMMIT: a foreign key, a trigger, a deferred constraint): ends a
    // COPY still open and throws batch_error naming them all, its batch the first.
    [[noreturn]] void throw_transaction_error(error const& e, std::uint64_t first,
                                              std::uint64_t last)
    {
        end_copy();
        throw batch_error("streambatch::postgres: batches " + std::to_string(first) + ".." +
                              std::to_string(last) + " (0-based, one transaction) into " + table_ +
                              " on " + conn_->where() + ": " +
                              std::string(io::detail::unprefixed<detail::tag>(e.what())),
                          e, first, batch_error::npos);
    }

    template <class B>
    static std::size_t batch_rows(B& batch)
    {
        if constexpr (std::ranges::sized_range<B>)
            return static_cast<std::size_t>(std::ranges::size(batch));
        else
            return 0; // unknown: the plain (buffered) COPY
    }

    // The table's columns as one string, "<bytes>:<name> <type oid>" each, comma-separated, in
    // COPY's order (no dropped or generated columns); NULL if there is no such table.
    // to_regclass: NULL rather than an error, which would abort the caller's transaction.
    std::string signature_sql() const
    {
        bool const v12 = PQserverVersion(conn_->handle()) >= 120000;
        char* lit = PQescapeLiteral(conn_->handle(), table_.data(), table_.size());
        if (!lit)
            detail::throw_error(conn_->handle(), nullptr, {}, "quoting the table name " + table_);
        std::string const quoted(lit);
        PQfreemem(lit);
        return "SELECT string_agg(octet_length(attname) || ':' || attname || ' ' || atttypid, "
               "',' ORDER BY attnum) FROM pg_attribute WHERE attrelid = to_regclass(" +
               quoted + ") AND attnum > 0 AND NOT attisdropped" +
               (v12 ? " AND attgenerated = ''" : "");
    }

    // The names and types of the columns COPY fills (the given ones, else the table's own),
    // read unless looked_up_; false if they cannot be (no such table or column yet: COPY will
    // say which).
    bool look_up_types()
    {
        if (looked_up_)
            return true;
        std::string sig;
        try {
            std::string const query = signature_sql();
            if (check_sql_.empty())
                check_sql_ = "LOCK TABLE " + table_ + " IN ROW EXCLUSIVE MODE; " + query;
            result const r = conn_->exec(query);
            if (r.rows() != 1 || r.is_null(0, 0))
                return false; // no such table (yet)
            sig = r.value(0, 0);
        } catch (error const&) {
            return false; // a lost connection, say: text this time, try again next time
        }
        looked_up_ = adopt_signature(std::move(sig));
        return looked_up_;
    }

    // Takes the columns COPY fills from a signature (signature_sql); false if it lacks one.
    bool adopt_signature(std::string sig)
    {
        std::vector<std::string> names;
        std::vector<unsigned> types;
        for (std::size_t at = 0; at < sig.size();) {
            std::size_t len = 0;
            auto const [p, ec] = std::from_chars(sig.data() + at, sig.data() + sig.size(), len);
            std::size_t const name_at = static_cast<std::size_t>(p - sig.data()) + 1;
            if (ec != std::errc() || name_at + len + 1 > sig.size())
                return false;
            names.emplace_back(sig.substr(name_at, len));
            unsigned t = 0;
            auto const [q, ec2] =
                std::from_chars(sig.data() + name_at + len + 1, sig.data() + sig.size(), t);
            if (ec2 != std::errc())
                return false;
            types.push_back(t);
            at = static_cast<std::size_t>(q - sig.data()) + 1; // past the comma
        }
        if (!column_names_.empty()) {
            std::vector<std::string> picked_names;
            std::vector<unsigned> picked;
            for (auto const& want : column_names_) {
                auto const at = std::find(names.begin(), names.end(), want);
                if (at == names.end())
                    return false;
                picked_names.push_back(want);
                picked.push_back(types[static_cast<std::size_t>(at - names.begin())]);
            }
            names = std::move(picked_names);
            types = std::move(picked);
        }
        names_ = std::move(names);
        types_ = std::move(types);
        signature_ = std::move(sig);
        return true;
    }

    void end_copy() noexcept
    {
        buf_.clear();
        PGconn* c = conn_->handle();
        if (PQtransactionStatus(c) == PQTRANS_ACTIVE) { // still in COPY IN
            PQputCopyEnd(c, "streambatch: the batch failed on the client");
            detail::finish_copy(c);
        }
    }

    void rollback() noexcept
    {
        end_copy();
        PGconn* c = conn_->handle();
        if (PQtransactionStatus(c) != PQTRANS_IDLE)
            PQclear(PQexec(c, "ROLLBACK"));
    }

    std::string where(std::uint64_t batch, std::size_t r) const
    {
        std::string s = "streambatch::postgres: batch " + std::to_string(batch);
        if (r != batch_error::npos)
            s += ", row " + std::to_string(r);
        return s + " (0-based) into " + table_ + " on " + conn_->where() + ": ";
    }

public:
    /// COPY `table` (`columns`) FROM STDIN; no columns: all of the table's, in its order.
    copy_sink(connection& conn, std::string table, std::vector<std::string> columns = {},
              Map map = {})
        : conn_(std::addressof(conn)), table_(std::move(table)), column_names_(columns),
          columns_(columns.size()), map_(std::move(map))
    {
        copy_sql_ = "COPY " + table_;
        if (!columns.empty()) {
            copy_sql_ += " (";
            for (std::size_t i = 0; i < columns.size(); ++i) {
                char* q = PQescapeIdentifier(conn.handle(), columns[i].data(), columns[i].size());
                if (!q)
                    detail::throw_error(conn.handle(), nullptr, {},
                                        "quoting the column name " + columns[i]);
                copy_sql_ += (i ? ", " : "") + std::string(q);
                PQfreemem(q);
            }
            copy_sql_ += ")";
        }
        binary_sql_ = copy_sql_ + " FROM STDIN (FORMAT binary)";
        copy_sql_ += " FROM STDIN (FORMAT text)";
        row_by_row_sql_ = copy_sql_ + " WHERE random() >= 0";
        binary_row_by_row_sql_ = binary_sql_ + " WHERE random() >= 0";
        can_filter_ = PQserverVersion(conn.handle()) >= 120000;
        buf_.reserve(flush_bytes + 4096);
    }

    /// How the server inserts the rows (copy_path); automatic by default.
    void path(copy_path p) noexcept { path_ = p; }
    copy_path path() const noexcept { return path_; }
    /// The path the last COPY took (buffered or row_by_row).
    copy_path last_path() const noexcept { return last_path_; }

    /// The COPY statement for a batch of `rows` rows (0: unknown, so buffered unless forced), by
    /// path(); sets last_path().
    std::string const& sql_for(std::size_t rows)
    {
        bool row_by_row = can_filter_ && path_ == copy_path::row_by_row;
        if (can_filter_ && path_ == copy_path::automatic && rows <= 4000) {
            // Rows the server buffers before writing them out: it is the slots it makes for
            // them that cost (see copy_path). The rows' size so far, else a short row's; in
            // binary format the server counts no bytes, only rows.
            std::size_t const avg =
                binary_
                    ? 1
                    : static_cast<std::size_t>(
                          sent_rows_ ? std::max<std::uint64_t>(1, sent_bytes_ / sent_rows_) : 64);
            std::size_t const buffered =
                std::min({rows, server_buffer_rows, server_buffer_bytes / avg});
            row_by_row = buffered >= 600;
        }
        last_path_ = row_by_row ? copy_path::row_by_row : copy_path::buffered;
        if (binary_)
            sql_ = row_by_row ? &binary_row_by_row_sql_ : &binary_sql_;
        else
            sql_ = row_by_row ? &row_by_row_sql_ : &copy_sql_;
        return *sql_;
    }

    /// The format batches are sent in (copy_format); automatic by default.
    void format(copy_format f) noexcept { format_ = f; }
    copy_format format() const noexcept { return format_; }
    /// Chooses the format (text or binary) for batches of B: by format() and, for automatic, the
    /// table's column types against the values batches of B map to (the catalog is read the first
    /// time, unless the format is text). write() and write_rows() call it for each batch; so does
    /// postgres::job_sink, and a caller of sql_for and write_rows_in_copy must too.
    /// std::invalid_argument if binary is forced and a column does not take its value so.
    template <std::ranges::input_range B>
        requires std::invocable<Map&, std::ranges::range_reference_t<B>>
    copy_format choose_format()
    {
        return choose<B>(true);
    }
    /// Remembers B as the batch type for choose_format() (no catalog read): postgres::job_sink.
    template <std::ranges::input_range B>
        requires std::invocable<Map&, std::ranges::range_reference_t<B>>
    void format_for() noexcept
    {
        chooser_ = &choose_for<B>;
    }
    /// choose_format for the batch type last given (text if none was).
    copy_format choose_format() { return chooser_ ? chooser_(*this, true) : copy_format::text; }

private:
    // choose_format; with may_read false, from the column types known (none: text).
    template <class B>
    copy_format choose(bool may_read)
    {
        chooser_ = &choose_for<B>;
        using cols =
            std::remove_cvref_t<std::invoke_result_t<Map&, std::ranges::range_reference_t<B>>>;
        binary_ = false;
        if (format_ == copy_format::text)
            return copy_format::text;
        std::string why;
        if (may_read ? look_up_types() : looked_up_) {
            auto check = [&]<class T>(std::size_t i) {
                if (why.empty() && !detail::binary_fits<T>(types_[i]))
                    why = "column " + names_[i] + " (type " + std::to_string(types_[i]) +
                          ") does not take its value's type in binary format";
            };
            if constexpr (sql::detail::tuple_like<cols>) {
                constexpr std::size_t k = std::tuple_size_v<cols>;
                if (k != types_.size())
                    why = "the record maps to " + std::to_string(k) + " values, for " +
                          std::to_string(types_.size()) + " columns";
                else
                    [&]<std::size_t... I>(std::index_sequence<I...>) {
                        (check.template operator()<std::tuple_element_t<I, cols>>(I), ...);
                    }(std::make_index_sequence<k>{});
            } else if (types_.size() != 1) {
                why =
                    "the record maps to 1 value, for " + std::to_string(types_.size()) + " columns";
            } else {
                check.template operator()<cols>(0);
            }
        } else {
            why = "the table or one of its columns is not in the catalog";
        }
        if (why.empty()) {
            binary_ = true;
            return copy_format::binary;
        }
        if (format_ == copy_format::binary)
            throw std::invalid_argument("streambatch::postgres: COPY into " + table_ +
                                        " in binary format: " + why +
                                        " (copy_format::automatic falls back to text)");
        return copy_format::text;
    }

public:
    /// The statements that lock the table as COPY does and read its columns' types in the
    /// batch's transaction, sent before each binary COPY (the last one's result goes to
    /// check_types); empty in text format.
    std::string const& check_sql() const noexcept
    {
        static std::string const none;
        return binary_ ? check_sql_ : none;
    }
    /// Takes the result of check_sql(): false if the types are those the format was chosen
    /// for; else the new ones are kept and the format chosen again from them, with no query
    /// (the batch's COPY must be sent again: sql_for), true.
    bool check_types(result const& r)
    {
        bool const table = r && r.rows() == 1 && !r.is_null(0, 0);
        if (table && looked_up_ && r.value(0, 0) == signature_)
            return false;
        looked_up_ = table && adopt_signature(std::string(r.value(0, 0)));
        if (chooser_)
            chooser_(*this, false);
        else
            binary_ = false;
        return true;
    }
    /// The format chosen for the last batch (text or binary).
    copy_format last_format() const noexcept
    {
        return binary_ ? copy_format::binary : copy_format::text;
    }

    /// Sends every record of `batch` with one COPY in one transaction; hook(conn) runs in it
    /// before COMMIT. On any error the batch is rolled back and batch_error (or a nested
    /// batch_error) thrown.
    template <std::ranges::input_range B, class Hook = sql::detail::no_hook>
        requires std::invocable<Map&, std::ranges::range_reference_t<B>> &&
                 std::invocable<Hook&, connection&>
    std::size_t write(B&& batch, Hook&& hook = {})
    {
        std::uint64_t const index = batches_++;
        if (!conn_->handle())
            throw std::logic_error("streambatch::postgres: copy_sink on a moved-from connection");
        if (conn_->in_transaction())
            throw std::logic_error(
                where(index, batch_error::npos) +
                "the connection is already in a transaction (a cursor reading on it?); each "
                "batch is its own: write through a second connection");
        std::size_t const n = sql::detail::transact_batch<error, batch_error, detail::tag>(
            index, where(index, batch_error::npos), [&] { conn_->exec("BEGIN"); },
            [&] { return copy_rows(batch, index); },
            [&] {
                std::invoke(hook, *conn_);
                conn_->exec("COMMIT");
            },
            [&]() noexcept { rollback(); },
            [&](std::string const& msg) {
                return error("", "", msg, {}, {}, {}, *sql_, conn_->host(), conn_->port());
            });
        rows_ += n;
        return n;
    }

    /// Sends every record of `batch` with one COPY in the transaction the caller has open (a job
    /// sink's: postgres::job_sink), with no BEGIN or COMMIT of its own; returns the rows sent. On
    /// an error the COPY is ended and batch_error (or a nested batch_error) thrown naming the
    /// batch and row; the transaction is left to the caller, who rolls it back.
    /// std::logic_error outside a transaction.
    template <std::ranges::input_range B>
        requires std::invocable<Map&, std::ranges::range_reference_t<B>>
    std::size_t write_rows(B&& batch)
    {
        std::uint64_t const index = batches_++;
        if (!conn_->handle())
            throw std::logic_error("streambatch::postgres: copy_sink on a moved-from connection");
        if (PQtransactionStatus(conn_->handle()) != PQTRANS_INTRANS)
            throw std::logic_error(where(index, batch_error::npos) +
                                   "write_rows needs an open transaction (write() opens its own)");
        std::size_t const n = copy_rows(batch, index);
        rows_ += n;
        return n;
    }

    /// write_rows for a COPY the caller has started: it sent sql_for(rows) (with what comes before
    /// and after it in one query string: postgres::job_sink sends BEGIN, its state update, the COPY
    /// and COMMIT in one round trip) and PQgetResult gave PGRES_COPY_IN. Sends the rows, ends
    /// the COPY and drains the results of the rest of the string; the first failure throws
    /// batch_error as write_rows does.
    ///
    /// With drain false it returns once the data is sent and the COPY ended, without reading
    /// the results: finish_rows(index) reads them (postgres::job_sink::send and confirm).
    template <std::ranges::input_range B>
        requires std::invocable<Map&, std::ranges::range_reference_t<B>>
    std::size_t write_rows_in_copy(B&& batch, bool drain = true)
    {
        std::uint64_t const index = batches_++;
        std::size_t const n = copy_rows(batch, index, true, drain);
        if (drain)
            rows_ += n;
        else
            unconfirmed_rows_ = n; // counted by finish_rows, if the server takes them
        return n;
    }

    /// Reads the results of batch `index`'s COPY, sent by write_rows_in_copy(batch, false), and
    /// of what followed it in the query string; the first failure throws batch_error naming the
    /// batch and the row the server names, as write_rows_in_copy would have.
    /// Returns the batch's rows; `count` false: not counted in rows_written() (a job_sink
    /// counts them when the transaction they are in commits).
    std::size_t finish_rows(std::uint64_t index, bool count = true)
    {
        PGconn* const c = conn_->handle();
        std::size_t const n = std::exchange(unconfirmed_rows_, 0);
        try {
            if (result r = detail::finish_copy(c); !r || r.status() != PGRES_COMMAND_OK)
                detail::throw_error(c, r.handle(), *sql_);
            if (count)
                rows_ += n;
            return n;
        } catch (error const& e) {
            std::size_t row = batch_error::npos;
            if (std::size_t const line = detail::copy_line(e.context()))
                row = line - 1;
            throw batch_error(where(index, row) +
                                  std::string(io::detail::unprefixed<detail::tag>(e.what())),
                              e, index, row);
        }
    }

    /// write() calls so far (failed ones included: the next batch's index).
    std::uint64_t batches() const noexcept { return batches_; }
    /// Rows committed so far.
    std::uint64_t rows_written() const noexcept { return rows_; }
    /// The COPY statement chosen last (sql_for); before the first, the text format's.
    std::string const& sql() const noexcept { return *sql_; }
    /// The table, as given.
    std::string const& table() const noexcept { return table_; }
    /// The connection it writes to.
    connection& conn() const noexcept { return *conn_; }
};

template <class Map>
copy_sink(connection&, std::string, std::vector<std::string>, Map) -> copy_sink<Map>;
copy_sink(connection&, std::string, std::vector<std::string>)
    -> copy_sink<sql::detail::same_columns>;
copy_sink(connection&, std::string) -> copy_sink<sql::detail::same_columns>;

} // namespace streambatch::postgres

#endif // STREAMBATCH_IO_POSTGRES_COPY_SINK_HPP_INCLUDED
