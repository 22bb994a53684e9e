// streambatch/io/sql/job_source.hpp: a positioned keyset source that a job resumes from, written
// once for SQLite and PostgreSQL (included by <streambatch/io/sqlite.hpp> and
// <streambatch/io/postgres.hpp>; use those: sqlite::read_keyset, postgres::read_keyset).
//
// In:     a connection; a keyset_spec: a table (sql::table_name: a name, or {schema, name}), the
//         columns to select (names, quoted for you) among which the integer key column, optionally
//         a partition_clause of that table (key_range_partition / hash_partition) and a WHERE
//         predicate (SQL text with your parameters: ?, ?2 ... in SQLite, $1, $2 ... in
//         PostgreSQL); the parameters' values; keyset_options: page_size (rows per page query,
//         default 1000) and the bad-row policy of query_as (bad_rows, max_skipped, reject_path).
// Out:    read_keyset(conn, spec, [options,] params...)          rows as the database's row type;
//         read_keyset_as<Tuple>(conn, spec, [options,] params...) rows as a tuple-like (column i
//                                                               is element i, as query_as<Tuple>);
//         read_keyset_as(conn, spec, parse, [options,] params...) rows as parse(row const&) (a
//                                                               struct, ...), as query_as.
//         Each returns a basic_keyset_source (sqlite::keyset_source<Parse>,
//         postgres::keyset_source<Parse>) that reads the rows in key order, a page at a time:
//             SELECT <columns> FROM <table> WHERE <partition> AND (<where>) ORDER BY <key> LIMIT n
//             SELECT <columns> FROM <table> WHERE <partition> AND (<where>) AND <key> > ?
//                    ORDER BY <key> LIMIT n                   (each next page, after the last key)
//         The first page after seek(k) is the second form with k; from the start it is the first
//         form: no `key >` predicate at all, so a row whose key is INT64_MIN is read. A page with
//         fewer than n rows is the last.
// Models: streambatch::job_source (job/contract.hpp):
//         rows()           an input range (a view onto the source: iterate it once, or pipe it
//                          into views::chunk / memory_guarded); its iterator's operator* gives
//                          value_type&, so batch adaptors move the records out. A row is read
//                          when the iterator is compared or dereferenced, never on ++ (as
//                          query_view), so a batch adaptor never reads past its batch.
//         position()       the key of the last row pulled: the iterator was incremented past
//                          it (a batch adaptor does so as it moves each row into the batch), in
//                          decimal ("-9223372036854775808"); before any: the position seek()
//                          was given, "" from the start. A row that was only read (compared)
//                          or looked at (dereferenced) is not in it, so a row a consumer peeked
//                          at and left is read again by a resumed run, never skipped: after a
//                          batch of n rows it is the n-th row's key.
//         seek(text)       resume after the key `text` ("": from the start); before rows() only.
//         identity()       one line, independent of the position: the query text (the first form
//                          above without LIMIT: columns, table, partition predicate with its
//                          literals, where, key), its parameters as SQL literals and the partition
//                          ("2/4 by key range of "id""; "none"), tab-separated. The page size and
//                          the database's location are not in it (the same query on a replica or
//                          a moved file is the same input); a key-range partition's bounds are
//                          (in its predicate): a resumed run must cut its ranges from the same
//                          bounds (key_range_partition(table, key, part, bounds)).
//         check_identity(state)  throws input_changed unless state.identity is identity().
//         describe()       query on "orders", partition 2/4, in database "shop.db" (on
//         host:port/db) The key must be unique and its values integers: the next page starts after
//         the last key read, so rows sharing the last key of a page would be skipped (a repeated
//         key inside a page is refused); for a non-unique partition key, read by a unique key and
//         partition by the other (the partition's key may be any column of the table). Not a
//         snapshot: each page is its own statement (no transaction is held between pages), so rows
//         committed meanwhile with a key above the position are read, as a resumed run would.
// Memory: one page of rows (SQLite: page_size rows copied out of the statement, which is reset at
//         once, so no read lock is held between pages; PostgreSQL: one result of page_size rows)
//         and the row being read; the texts of the query and identity.
// Errors: std::invalid_argument at construction: no columns, a key not among the columns, an
//         empty name, page_size 0, a partition of another table, (SQLite) a parameter count the
//         where predicate does not have; the database's error (sqlite::error when the statements
//         are prepared, at construction; postgres::error at the first read, e.g. 42703 for an
//         unknown column, 08P01 for a parameter count) for unknown names and bad SQL.
//         streambatch::partition_error when the first read finds rows whose key is NULL (with their
//         count: a keyset read never reaches them; add `key IS NOT NULL` to the where predicate to
//         leave them out on purpose). row_error (the component's: query, row, column) for a key
//         that is NULL, not an integer, or not above the previous key; row numbers count the rows
//         this source read in this run, and the query named is the first form above. Bad rows under
//         the options' policy, as query_as. seek(): std::invalid_argument for a position that is
//         not a 64-bit integer, std::logic_error after rows() began. check_identity():
//         streambatch::input_changed naming both inputs and what differs:
//           streambatch::postgres: query on "orders", partition 3/4, on 127.0.0.1:5432/shop: the
//           checkpoint was taken on query SELECT ... with parameters ('SE') (partition 2/4 by key
//           range of "id"); this run reads query SELECT ... with parameters ('SE') (partition 3/4
//           by key range of "id"): the query and the partition differ
// Example:
//     auto part = postgres::key_range_partition(db, "orders", "id", {2, 4});
//     auto source = postgres::read_keyset_as<std::tuple<std::int64_t, double>>(
//         db, {.table = "orders", .columns = {"id", "amount"}, .key = "id", .partition = part,
//              .where = "country = $1"}, {.page_size = 1000}, "SE");
//     if (state) { source.check_identity(*state); source.seek(state->position); }
//     for (auto&& batch : source.rows() | streambatch::views::memory_guarded(1000))
//         sink.commit(batch, {.position = source.position(), .identity = source.identity()});

#ifndef STREAMBATCH_IO_SQL_JOB_SOURCE_HPP_INCLUDED
#define STREAMBATCH_IO_SQL_JOB_SOURCE_HPP_INCLUDED

#include <streambatch/detail/json.hpp>
#include <streambatch/io/detail/errors.hpp>
#include <streambatch/io/detail/quote.hpp>
#include <streambatch/io/sql/partition.hpp>
#include <streambatch/io/sql/source.hpp>
#include <streambatch/io/sql/traits.hpp>
#include <streambatch/job/contract.hpp>
#include <streambatch/partition.hpp>

#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <iterator>
#include <memory>
#include <optional>
#include <ranges>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

namespace streambatch::sql {

/// What a keyset source reads: SELECT <columns> FROM <table> WHERE <partition> AND (<where>)
/// ORDER BY <key>. Names are quoted for you, as given (as table_name).
struct keyset_spec {
    table_name table;                 ///< "orders", or {"sales", "orders"}
    std::vector<std::string> columns; ///< the columns, in order; the key must be one of them
    std::string key;                  ///< the integer key: unique, not NULL
    std::optional<partition_clause> partition{}; ///< of `table` (key_range_ or hash_partition)
    std::string where{}; ///< a predicate with the parameters (? / $1); empty: none
};

/// The page size and the bad-row policy (as query_options) of a keyset source.
struct keyset_options {
    std::size_t page_size = 1000; ///< rows per page query (LIMIT); the batch size is a good one
    on_error bad_rows = on_error::fail;
    std::uint64_t max_skipped = 100;     ///< on_error::skip: the next bad row throws
    std::filesystem::path reject_path{}; ///< JSON Lines; required by skip
};

} // namespace streambatch::sql

namespace streambatch::sql::detail {

/// `s` on one line: a backslash as \\, a line feed as \n, a carriage return as \r, a tab as \t
/// (so an identity is one line, and its tab-separated fields split back exactly).
inline std::string one_line(std::string_view s)
{
    std::string out;
    out.reserve(s.size());
    streambatch::detail::append_escaped(out, s, streambatch::detail::escape_set::line);
    return out;
}

/// A parameter's value as an SQL literal, for an identity: NULL, TRUE, 42, 2.5, 'O''Neil',
/// X'00ff'. The same value gives the same text on every run and build.
template <class T>
void append_literal(std::string& out, T const& v)
{
    using U = std::remove_cvref_t<T>;
    if constexpr (std::is_same_v<U, std::nullptr_t> || std::is_same_v<U, std::nullopt_t>) {
        out += "NULL";
    } else if constexpr (is_optional<U>::value) {
        if (v)
            append_literal(out, *v);
        else
            out += "NULL";
    } else if constexpr (std::is_same_v<U, bool>) {
        out += v ? "TRUE" : "FALSE";
    } else if constexpr (std::is_integral_v<U>) {
        out += std::to_string(v);
    } else if constexpr (std::is_floating_point_v<U>) {
        double const d = static_cast<double>(v);
        if (std::isnan(d)) {
            out += "'NaN'";
        } else if (std::isinf(d)) {
            out += d > 0 ? "'Infinity'" : "'-Infinity'";
        } else {
            char buf[64];
            auto const r = std::to_chars(buf, buf + sizeof buf, d); // shortest round trip
            out.append(buf, r.ptr);
        }
    } else if constexpr (std::is_same_v<U, std::span<std::byte const>> ||
                         std::is_same_v<U, std::vector<std::byte>>) {
        static constexpr char digits[] = "0123456789abcdef";
        out += "X'";
        for (std::byte b : v) {
            out += digits[std::to_integer<unsigned>(b) >> 4];
            out += digits[std::to_integer<unsigned>(b) & 0xf];
        }
        out += '\'';
    } else {
        std::string_view const s = v;
        out += '\'';
        for (char c : s) {
            if (c == '\'')
                out += '\'';
            out += c;
        }
        out += '\'';
    }
}

/// "('SE', 42)"; "()" without parameters.
template <class... P>
std::string literals(P const&... params)
{
    std::string out = "(";
    std::size_t i = 0;
    ((out += i++ ? ", " : "", append_literal(out, params)), ...);
    return out + ")";
}

/// "2/4 by key range of "id"", "0/3 by hash of "customer"", "none".
inline std::string partition_text(std::optional<partition_clause> const& c)
{
    if (!c)
        return "none";
    return c->part.str() +
           (c->scheme == partition_scheme::key_range ? " by key range of " : " by hash of ") +
           c->key;
}

/// The statements of a keyset read and what a source needs to know of them.
struct keyset_text {
    std::string query;      ///< SELECT <columns> FROM <table> [WHERE <conds>] ORDER BY <key>
    std::string from_start; ///< query LIMIT <page>
    std::string after_key;  ///< ... WHERE [<conds> AND] <key> > <ph> ORDER BY <key> LIMIT <page>
    std::string null_keys;  ///< SELECT count(*) FROM <table> WHERE <key> IS NULL [AND <conds>]
    std::string table;      ///< quoted
    std::string key;        ///< quoted
    std::size_t key_index = 0;
};

/// Checks `spec` and writes its statements; `placeholder` is the key's parameter (?3, $3: one
/// after the where predicate's).
inline keyset_text make_keyset_text(keyset_spec const& spec, std::size_t page_size,
                                    std::string const& placeholder, char const* component)
{
    std::string const prefix = std::string("streambatch::") + component + ": keyset source: ";
    if (page_size == 0)
        throw std::invalid_argument(prefix + "page_size must be at least 1");
    if (spec.columns.empty())
        throw std::invalid_argument(prefix + "no columns to select (the key must be one of them)");
    keyset_text t;
    t.table = quote_table(spec.table, component);
    t.key = quote_identifier(spec.key, component, "key column");
    std::string columns;
    bool found = false;
    for (std::size_t i = 0; i < spec.columns.size(); ++i) {
        columns += (i ? ", " : "") + quote_identifier(spec.columns[i], component, "column");
        if (!found && spec.columns[i] == spec.key) {
            t.key_index = i;
            found = true;
        }
    }
    if (!found)
        throw std::invalid_argument(prefix + "the key " + t.key + " is not among the columns (" +
                                    columns + "): select it, so that each row says where it is");
    std::string conds;
    if (spec.partition) {
        if (spec.partition->table != t.table)
            throw std::invalid_argument(prefix + "the partition is of " + spec.partition->table +
                                        ", but the source reads " + t.table);
        if (spec.partition->predicate.empty())
            throw std::invalid_argument(prefix + "the partition of " + t.table +
                                        " has no predicate (make it with key_range_partition or "
                                        "hash_partition)");
        conds = spec.partition->predicate;
    }
    if (spec.where.find_first_not_of(" \t\r\n") != std::string::npos)
        conds += (conds.empty() ? "(" : " AND (") + spec.where + ")";
    std::string const head = "SELECT " + columns + " FROM " + t.table;
    std::string const order = " ORDER BY " + t.key;
    std::string const limit = " LIMIT " + std::to_string(page_size);
    t.query = head + (conds.empty() ? "" : " WHERE " + conds) + order;
    t.from_start = t.query + limit;
    t.after_key = head + " WHERE " + (conds.empty() ? "" : conds + " AND ") + t.key + " > " +
                  placeholder + order + limit;
    t.null_keys = "SELECT count(*) FROM " + t.table + " WHERE " + t.key + " IS NULL" +
                  (conds.empty() ? "" : " AND " + conds);
    return t;
}

/// The keyset read: source_base's loop and bad-row policy (io/sql/source.hpp) over pages that
/// Ops::reader runs. Ops (one per database) holds:
///     static constexpr char const* component;      "sqlite", "postgres"
///     using connection_ref = ...;                  database const&, connection&
///     using traits = source_of_t<...>;             source_base's Traits (row, error, tag, ...)
///     using reader = ...;                          runs the statements:
///         reader(connection_ref, keyset_text const&, P const&... params);
///         std::int64_t null_keys();                rows with a NULL key (null_keys statement)
///         std::size_t fetch(std::optional<std::int64_t> after, std::uint64_t first_number);
///                                                  runs a page (from_start, or after_key with
///                                                  `after`) and keeps it; returns its rows
///         row take(std::size_t i, std::uint64_t number);   row i of the page, numbered
///         void release() noexcept;                 frees the page, resets statements
///     static std::string placeholder(std::size_t n);        "?3", "$3"
///     static std::string where(connection_ref);             "in database "shop.db"", "on h:p/db"
template <class Ops, class Parse>
class keyset_view : public source_base<keyset_view<Ops, Parse>, typename Ops::traits, Parse> {
    using traits = typename Ops::traits;
    using base = source_base<keyset_view<Ops, Parse>, traits, Parse>;
    friend base;
    using row_type = typename traits::row;
    using tag = typename traits::tag;

    typename Ops::reader reader_;
    std::string context_; // "streambatch::sqlite: query on ...", for messages
    std::string key_;     // quoted
    std::size_t key_index_;
    std::size_t page_size_;
    std::optional<std::int64_t>
        after_;                    // the last key read (or seek()'s): where the next page starts
    std::int64_t current_key_ = 0; // the key of the row read last
    std::size_t pos_ = 0, count_ = 0;
    bool last_page_ = false;
    std::uint64_t pages_ = 0;

    void start()
    {
        std::int64_t const nulls = reader_.null_keys();
        if (nulls > 0)
            throw partition_error(context_ + ": " + std::to_string(nulls) +
                                  (nulls == 1 ? " row has" : " rows have") + " a NULL " + key_ +
                                  ": a keyset read (" + key_ + " > the last key, ORDER BY " + key_ +
                                  ") never reaches them; give them a key, or add " + key_ +
                                  " IS NOT NULL to the where predicate to leave them out");
    }
    void stop() noexcept { reader_.release(); }
    bool step()
    {
        while (pos_ == count_) {
            if (last_page_) {
                reader_.release();
                return false;
            }
            pos_ = count_ = 0;
            count_ = reader_.fetch(after_, this->counters().rows_read + 1);
            ++pages_;
            last_page_ = count_ < page_size_;
        }
        return true;
    }
    row_type make_row(std::uint64_t number)
    {
        row_type r = reader_.take(pos_++, number);
        auto const column = [&] { return r.column_names()[key_index_]; };
        if (r.is_null(key_index_))
            io::detail::throw_row_error<tag>(r.query(), number, key_index_, column(),
                                             "the key is NULL: a keyset read cannot pass it");
        std::int64_t const k = r.template get<std::int64_t>(key_index_);
        if (after_ && k <= *after_)
            io::detail::throw_row_error<tag>(
                r.query(), number, key_index_, column(),
                "the key " + std::to_string(k) + " is not above the previous key " +
                    std::to_string(*after_) +
                    ": the key must be unique (the next page starts after the last key read, so "
                    "rows repeating it would be skipped)");
        after_ = k;
        current_key_ = k;
        return r;
    }

public:
    template <class... P>
    keyset_view(typename Ops::connection_ref conn, keyset_text const& t, std::string context,
                Parse parse, keyset_options const& opts, P const&... params)
        : base(std::move(parse), opts.bad_rows == on_error::skip, opts.max_skipped,
               opts.reject_path),
          reader_(conn, t, params...), context_(std::move(context)), key_(t.key),
          key_index_(t.key_index), page_size_(opts.page_size)
    {}
    keyset_view(keyset_view const&) = delete;
    keyset_view& operator=(keyset_view const&) = delete;

    /// Where the first page starts: after `key`, or (nullopt) at the start.
    void resume_after(std::optional<std::int64_t> key) noexcept { after_ = key; }
    /// The key of the row read last (valid once a row was read).
    std::int64_t current_key() const noexcept { return current_key_; }
    std::uint64_t pages() const noexcept { return pages_; }
};

/// Splits an identity into its three fields (query, parameters, partition); false if it is not
/// a keyset source's.
inline bool split_identity(std::string_view id, std::string_view (&f)[3])
{
    static constexpr std::string_view names[3] = {"query ", "parameters ", "partition "};
    for (int i = 0; i < 3; ++i) {
        std::size_t const tab = id.find('\t');
        if ((i < 2) != (tab != std::string_view::npos))
            return false; // two tabs, exactly
        std::string_view const field = id.substr(0, tab);
        if (!field.starts_with(names[i]))
            return false;
        f[i] = field.substr(names[i].size());
        id.remove_prefix(i < 2 ? tab + 1 : id.size());
    }
    return true;
}

/// "query Q with parameters P (partition X)", or the text as it is.
inline std::string show_identity(std::string_view id)
{
    std::string_view f[3];
    if (!split_identity(id, f))
        return id.empty() ? std::string("no identity (\"\")") : io::detail::quote(id);
    return "query " + std::string(f[0]) + " with parameters " + std::string(f[1]) + " (partition " +
           std::string(f[2]) + ")";
}

} // namespace streambatch::sql::detail

namespace streambatch::sql {

/// A keyset read that a job resumes from: see the header comment. Movable (the reading state
/// lives on the heap, so a source may be moved while its rows() view is in use); a moved-from
/// source may only be destroyed or assigned to.
template <class Ops, class Parse>
class basic_keyset_source {
    using view_type = detail::keyset_view<Ops, Parse>;
    using inner_iterator = decltype(std::declval<view_type&>().begin());

    struct state {
        std::string query, identity, description;
        std::optional<std::int64_t> resume; // seek()'s key
        std::optional<std::int64_t> pulled; // the key of the last row passed (++)
        bool reading = false;
        view_type view;

        template <class... P>
        state(typename Ops::connection_ref conn, detail::keyset_text const& t,
              keyset_spec const& spec, Parse parse, keyset_options const& opts, P const&... params)
            : query(t.query),
              identity("query " + detail::one_line(t.query) + "\tparameters " +
                       detail::one_line(detail::literals(params...)) + "\tpartition " +
                       detail::one_line(detail::partition_text(spec.partition))),
              description(
                  "query on " + t.table +
                  (spec.partition ? ", partition " + spec.partition->part.str() + "," : "") + " " +
                  Ops::where(conn)),
              view(conn, t, prefix() + description, std::move(parse), opts, params...)
        {}
    };
    std::unique_ptr<state> s_;

    static std::string prefix() { return std::string("streambatch::") + Ops::component + ": "; }

public:
    using value_type = typename view_type::value_type;

    /// The rows, from where seek() put the source (the start by default). A view onto the
    /// source: it must not outlive it. Iterate it once (begin() again continues).
    class rows_view : public std::ranges::view_interface<rows_view> {
        state* s_ = nullptr;

    public:
        class iterator {
            state* s_ = nullptr;
            inner_iterator it_{};

        public:
            using iterator_concept = std::input_iterator_tag;
            using value_type = basic_keyset_source::value_type;
            using difference_type = std::ptrdiff_t;

            iterator() = default;
            iterator(state& s, inner_iterator it) : s_(std::addressof(s)), it_(std::move(it)) {}

            value_type& operator*() const { return *it_; }
            value_type* operator->() const { return std::addressof(**this); }
            /// Passes the row (read now if nobody looked at it): position() is its key from now
            /// on. (Not on operator*: a row looked at and left is not passed.)
            iterator& operator++()
            {
                if (!it_.at_end())
                    s_->pulled = s_->view.current_key();
                ++it_;
                return *this;
            }
            void operator++(int) { ++*this; }
            friend bool operator==(iterator const& i, std::default_sentinel_t)
            {
                return i.it_.at_end();
            }
        };

        rows_view() = default;
        explicit rows_view(state& s) noexcept : s_(std::addressof(s)) {}
        iterator begin()
        {
            s_->reading = true;
            return iterator(*s_, s_->view.begin());
        }
        std::default_sentinel_t end() const noexcept { return std::default_sentinel; }
    };

    /// Checks `spec` and prepares the read (SQLite prepares the statements now; PostgreSQL
    /// sends nothing until the first row is asked for).
    template <class... P>
        requires(detail::bindable_v<P> && ...)
    basic_keyset_source(typename Ops::connection_ref conn, keyset_spec const& spec, Parse parse,
                        keyset_options opts, P const&... params)
    {
        detail::keyset_text const t = detail::make_keyset_text(
            spec, opts.page_size, Ops::placeholder(sizeof...(P) + 1), Ops::component);
        s_ = std::make_unique<state>(conn, t, spec, std::move(parse), opts, params...);
    }

    /// The rows after the position; see rows_view.
    rows_view rows() { return rows_view(*s_); }

    /// The key of the last row passed; before any, seek()'s position ("" from the start).
    std::string position() const
    {
        if (s_->pulled)
            return std::to_string(*s_->pulled);
        if (s_->resume)
            return std::to_string(*s_->resume);
        return {};
    }

    /// Resume after the row whose key is `text` (a position() of an earlier run); "" is the
    /// start. Before rows() only.
    void seek(std::string_view text)
    {
        if (s_->reading)
            throw std::logic_error(prefix() + s_->description +
                                   ": seek() after the rows were read; seek first, then rows()");
        std::optional<std::int64_t> key;
        if (!text.empty()) {
            std::int64_t k = 0;
            auto const [end, ec] = std::from_chars(text.data(), text.data() + text.size(), k);
            if (ec != std::errc() || end != text.data() + text.size())
                throw std::invalid_argument(
                    prefix() + s_->description + ": cannot resume at position " +
                    io::detail::quote(text) +
                    ": a keyset source's position is the key of the last row read, a 64-bit "
                    "integer");
            key = k;
        }
        s_->resume = key;
        s_->pulled.reset();
        s_->view.resume_after(key);
    }

    /// The query text, its parameters and the partition, on one line (see the header comment).
    std::string const& identity() const noexcept { return s_->identity; }

    /// Throws input_changed unless `st` was taken on this query, parameters and partition.
    void check_identity(job_state const& st) const
    {
        if (st.identity == s_->identity)
            return;
        std::string differs;
        std::string_view was[3], now[3];
        if (detail::split_identity(st.identity, was) && detail::split_identity(s_->identity, now)) {
            static constexpr char const* names[3] = {"the query", "the parameters",
                                                     "the partition"};
            std::vector<char const*> d;
            for (int i = 0; i < 3; ++i)
                if (was[i] != now[i])
                    d.push_back(names[i]);
            for (std::size_t i = 0; i < d.size(); ++i)
                differs += std::string(i == 0 ? "" : i + 1 == d.size() ? " and " : ", ") + d[i];
            differs += d.size() == 1 && d[0] != names[1] ? " differs"
                                                         : " differ"; // "parameters" is plural
        } else {
            differs = "it is not a keyset query's identity";
        }
        throw input_changed(prefix() + s_->description + ": the checkpoint was taken on " +
                            detail::show_identity(st.identity) + "; this run reads " +
                            detail::show_identity(s_->identity) + ": " + differs);
    }

    /// query on "orders", partition 2/4, in database "shop.db" (on host:port/db).
    std::string const& describe() const noexcept { return s_->description; }

    /// The query (without the key predicate and LIMIT of its pages), as in identity().
    std::string const& sql() const noexcept { return s_->query; }
    /// Page queries run so far.
    std::uint64_t pages() const noexcept { return s_->view.pages(); }
    /// Rows read and skipped (the query's stats); valid after the source is gone.
    auto stats() const noexcept { return s_->view.stats(); }
};

namespace detail {

/// Each component declares (and never defines), next to its connection type,
///     Ops keyset_ops_of(Connection const&);
/// which this finds by argument-dependent lookup.
template <class C>
using keyset_ops_t = decltype(keyset_ops_of(std::declval<std::remove_cvref_t<C> const&>()));

template <class C>
concept keyset_connection = requires { typename keyset_ops_t<C>::reader; } &&
                            std::is_convertible_v<C&&, typename keyset_ops_t<C>::connection_ref>;

template <class C>
using keyset_row_t = typename keyset_ops_t<C>::traits::row;

template <class C, class Parse>
using keyset_source_t = basic_keyset_source<keyset_ops_t<C>, Parse>;

} // namespace detail

/// The rows of `spec` as the database's row type, in key order, a page at a time.
template <class C, class... P>
    requires detail::keyset_connection<C> && (detail::bindable_v<P> && ...)
[[nodiscard]] detail::keyset_source_t<C, detail::raw_rows<detail::keyset_row_t<C>>> read_keyset(
    C&& conn, keyset_spec const& spec, keyset_options opts, P const&... params)
{
    return {std::forward<C>(conn), spec, {}, std::move(opts), params...};
}
template <class C, class... P>
    requires detail::keyset_connection<C> && (detail::bindable_v<P> && ...)
[[nodiscard]] detail::keyset_source_t<C, detail::raw_rows<detail::keyset_row_t<C>>> read_keyset(
    C&& conn, keyset_spec const& spec, P const&... params)
{
    return {std::forward<C>(conn), spec, {}, {}, params...};
}

/// The rows as a tuple-like T (element i from column i, as query_as<T>).
template <detail::tuple_like T, class C, class... P>
    requires detail::keyset_connection<C> && (detail::bindable_v<P> && ...)
[[nodiscard]] detail::keyset_source_t<C, detail::tuple_parse<T>> read_keyset_as(
    C&& conn, keyset_spec const& spec, keyset_options opts, P const&... params)
{
    return {std::forward<C>(conn), spec, {}, std::move(opts), params...};
}
template <detail::tuple_like T, class C, class... P>
    requires detail::keyset_connection<C> && (detail::bindable_v<P> && ...)
[[nodiscard]] detail::keyset_source_t<C, detail::tuple_parse<T>> read_keyset_as(
    C&& conn, keyset_spec const& spec, P const&... params)
{
    return {std::forward<C>(conn), spec, {}, {}, params...};
}

/// The rows as parse(row const&) (a struct, ...), under the bad-row policy in `opts`.
template <class F, class C, class... P>
    requires detail::keyset_connection<C> &&
             detail::parse_function_of<F, detail::keyset_row_t<C>> && (detail::bindable_v<P> && ...)
[[nodiscard]] detail::keyset_source_t<C, F> read_keyset_as(C&& conn, keyset_spec const& spec,
                                                           F parse, keyset_options opts,
                                                           P const&... params)
{
    return {std::forward<C>(conn), spec, std::move(parse), std::move(opts), params...};
}
template <class F, class C, class... P>
    requires detail::keyset_connection<C> &&
             detail::parse_function_of<F, detail::keyset_row_t<C>> && (detail::bindable_v<P> && ...)
[[nodiscard]] detail::keyset_source_t<C, F> read_keyset_as(C&& conn, keyset_spec const& spec,
                                                           F parse, P const&... params)
{
    return {std::forward<C>(conn), spec, std::move(parse), {}, params...};
}

} // namespace streambatch::sql

#endif // STREAMBATCH_IO_SQL_JOB_SOURCE_HPP_INCLUDED
