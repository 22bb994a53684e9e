// streambatch/io/sqlite/job_source.hpp: the SQLite keyset source a job resumes from:
// sqlite::read_keyset, read_keyset_as and sqlite::keyset_source. Part of
// <streambatch/io/sqlite.hpp>; include that. The source is io/sql/job_source.hpp's (see its
// header comment); this file supplies the pages: three prepared statements (the first page, the
// next pages with the key as the last parameter, ?N, and the count of NULL keys), each page copied
// out of its statement into page_size rows and the statement reset at once, so that no read
// transaction stays open between pages (a sink may write to the same file meanwhile).

#ifndef STREAMBATCH_IO_SQLITE_JOB_SOURCE_HPP_INCLUDED
#define STREAMBATCH_IO_SQLITE_JOB_SOURCE_HPP_INCLUDED

#include <streambatch/io/sql/job_source.hpp>
#include <streambatch/io/sqlite/partition.hpp>
#include <streambatch/io/sqlite/source.hpp>
#include <streambatch/job/contract.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <sqlite3.h>

namespace streambatch::sqlite {

/// What a keyset source reads (table, columns, key, partition, where) and its page size and
/// bad-row policy (io/sql/job_source.hpp; postgres:: names the same types).
using sql::keyset_options, sql::keyset_spec;

namespace detail {

/// The pages of a keyset read (io/sql/job_source.hpp's Ops::reader).
class keyset_reader {
    statement first_, next_, nulls_;
    int key_param_ = 0;
    std::shared_ptr<sql::detail::result_info> info_;
    std::vector<cell> cells_;
    std::vector<row> page_;

    // Prepared with the double-quoted-string fallback off: a misspelt "column" is an error, not
    // the string 'column' in every row.
    static statement prepare(database const& db, std::string const& sql)
    {
        strict_quotes const strict(db.handle());
        return statement(db, sql);
    }
    template <class... P>
    static void bind(statement& st, P const&... params)
    {
        int i = 0;
        (st.bind_at(++i, params), ...);
    }
    struct resetter {
        statement& st;
        ~resetter() { st.reset(); } // ends the read transaction
    };

public:
    template <bindable... P>
    keyset_reader(database const& db, sql::detail::keyset_text const& t, P const&... params)
        : first_(prepare(db, t.from_start)), next_(prepare(db, t.after_key)),
          nulls_(prepare(db, t.null_keys)), key_param_(static_cast<int>(sizeof...(P)) + 1)
    {
        int const k = static_cast<int>(sizeof...(P));
        if (first_.parameter_count() != k || next_.parameter_count() != k + 1)
            throw std::invalid_argument(
                "streambatch::sqlite: keyset source: " + quote(t.query) + " has " +
                std::to_string(first_.parameter_count()) + " parameters, given " +
                std::to_string(k) + " (the where predicate's; the key's is added after them, as ?" +
                std::to_string(k + 1) + ")");
        bind(first_, params...);
        bind(next_, params...);
        bind(nulls_, params...);
        auto info = std::make_shared<sql::detail::result_info>();
        info->query = t.query;
        info->source = db.file();
        int const count = sqlite3_column_count(first_.handle());
        for (int i = 0; i < count; ++i) {
            char const* name = sqlite3_column_name(first_.handle(), i);
            if (!name)
                throw std::bad_alloc();
            info->columns.emplace_back(name);
        }
        info_ = std::move(info);
    }

    std::int64_t null_keys()
    {
        resetter const r{nulls_};
        return nulls_.step() ? sqlite3_column_int64(nulls_.handle(), 0) : 0;
    }

    std::size_t fetch(std::optional<std::int64_t> after, std::uint64_t first_number)
    {
        page_.clear();
        statement& st = after ? next_ : first_;
        if (after)
            st.bind_at(key_param_, *after);
        resetter const r{st};
        while (st.step())
            page_.push_back(read_row(st.handle(), info_, cells_, first_number + page_.size()));
        return page_.size();
    }

    row take(std::size_t i, std::uint64_t) { return std::move(page_[i]); }

    void release() noexcept
    {
        page_.clear();
        first_.reset();
        next_.reset();
        nulls_.reset();
    }
};

/// What io/sql/job_source.hpp asks of SQLite.
struct keyset_ops {
    static constexpr char const* component = "sqlite";
    using connection_ref = database const&;
    using traits = sql::detail::source_of_t<database>;
    using reader = keyset_reader;
    static std::string placeholder(std::size_t n) { return "?" + std::to_string(n); }
    static std::string where(database const& db) { return "in database " + quote(db.file()); }
};

} // namespace detail

/// What io/sql/job_source.hpp's read_keyset and read_keyset_as find (by argument-dependent
/// lookup) for a database; declared only.
detail::keyset_ops keyset_ops_of(database const&);

/// The keyset source: rows as parse(row const&) (sqlite::row by default); a
/// streambatch::job_source.
template <class Parse = sql::detail::raw_rows<row>>
using keyset_source = sql::basic_keyset_source<detail::keyset_ops, Parse>;

/// read_keyset(db, spec, [options,] params...): rows as sqlite::row.
/// read_keyset_as<Tuple>(db, spec, [options,] params...): rows as a tuple-like.
/// read_keyset_as(db, spec, parse, [options,] params...): rows as parse(row const&).
using sql::read_keyset, sql::read_keyset_as;

static_assert(streambatch::job_source<keyset_source<>>);
static_assert(streambatch::job_source<keyset_source<sql::detail::tuple_parse<std::tuple<int>>>>);

} // namespace streambatch::sqlite

#endif // STREAMBATCH_IO_SQLITE_JOB_SOURCE_HPP_INCLUDED
