// streambatch/io/postgres/job_source.hpp: the PostgreSQL keyset source a job resumes from:
// postgres::read_keyset, read_keyset_as and postgres::keyset_source. Part of
// <streambatch/io/postgres.hpp>; include that. The source is io/sql/job_source.hpp's (see its
// header comment); this file supplies the pages: each one statement (PQexecParams, the key as the
// last parameter, $N), whose result of at most page_size rows is the page; no cursor and no
// transaction is held between pages, so the connection is free for a sink between them (outside
// a transaction of yours, each page is its own).

#ifndef STREAMBATCH_IO_POSTGRES_JOB_SOURCE_HPP_INCLUDED
#define STREAMBATCH_IO_POSTGRES_JOB_SOURCE_HPP_INCLUDED

#include <streambatch/io/postgres/connection.hpp>
#include <streambatch/io/postgres/partition.hpp>
#include <streambatch/io/postgres/source.hpp>
#include <streambatch/io/sql/job_source.hpp>
#include <streambatch/job/contract.hpp>

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <tuple>
#include <utility>
#include <vector>

namespace streambatch::postgres {

/// What a keyset source reads (table, columns, key, partition, where) and its page size and
/// bad-row policy (io/sql/job_source.hpp; sqlite:: names the same types).
using sql::keyset_options, sql::keyset_spec;

namespace detail {

/// The pages of a keyset read (io/sql/job_source.hpp's Ops::reader).
class keyset_reader {
    connection* conn_;
    std::string first_, next_, nulls_;
    std::vector<std::optional<std::string>> params_; // the where predicate's, as text
    std::shared_ptr<sql::detail::result_info> info_ = std::make_shared<sql::detail::result_info>();
    result page_;

public:
    template <bindable... P>
    keyset_reader(connection& conn, sql::detail::keyset_text const& t, P const&... params)
        : conn_(std::addressof(conn)), first_(t.from_start), next_(t.after_key), nulls_(t.null_keys)
    {
        (params_.push_back([&] {
            std::string s;
            return to_text(s, params) ? std::optional<std::string>(std::move(s)) : std::nullopt;
        }()),
         ...);
        info_->query = t.query;
        info_->source = conn.where();
    }

    std::int64_t null_keys()
    {
        result const r = conn_->exec_params(
            nulls_, params_, "counting the rows with a NULL key for " + quote(info_->query),
            nulls_);
        std::string_view const v = r.rows() > 0 ? r.value(0, 0) : std::string_view("0");
        std::int64_t n = 0;
        std::from_chars(v.data(), v.data() + v.size(), n);
        return n;
    }

    std::size_t fetch(std::optional<std::int64_t> after, std::uint64_t)
    {
        page_.reset(); // one page at a time
        std::string const& sql = after ? next_ : first_;
        if (after) {
            std::vector<std::optional<std::string>> values = params_;
            values.emplace_back(std::to_string(*after));
            page_ =
                conn_->exec_params(sql, values, "reading a page of " + quote(info_->query), sql);
        } else {
            page_ =
                conn_->exec_params(sql, params_, "reading a page of " + quote(info_->query), sql);
        }
        if (info_->columns.empty())
            for (int c = 0; c < page_.columns(); ++c)
                info_->columns.emplace_back(page_.column_name(c));
        return static_cast<std::size_t>(page_.rows());
    }

    row take(std::size_t i, std::uint64_t number)
    {
        return row(info_, page_.handle(), static_cast<int>(i), number);
    }

    void release() noexcept { page_.reset(); }
};

/// What io/sql/job_source.hpp asks of PostgreSQL.
struct keyset_ops {
    static constexpr char const* component = "postgres";
    using connection_ref = connection&;
    using traits = sql::detail::source_of_t<connection>;
    using reader = keyset_reader;
    static std::string placeholder(std::size_t n) { return "$" + std::to_string(n); }
    static std::string where(connection const& conn) { return "on " + conn.where(); }
};

} // namespace detail

/// What io/sql/job_source.hpp's read_keyset and read_keyset_as find (by argument-dependent
/// lookup) for a connection; declared only.
detail::keyset_ops keyset_ops_of(connection const&);

/// The keyset source: rows as parse(row const&) (postgres::row by default); a
/// streambatch::job_source.
template <class Parse = sql::detail::raw_rows<row>>
using keyset_source = sql::basic_keyset_source<detail::keyset_ops, Parse>;

/// read_keyset(conn, spec, [options,] params...): rows as postgres::row.
/// read_keyset_as<Tuple>(conn, spec, [options,] params...): rows as a tuple-like.
/// read_keyset_as(conn, spec, parse, [options,] params...): rows as parse(row const&).
using sql::read_keyset, sql::read_keyset_as;

static_assert(streambatch::job_source<keyset_source<>>);
static_assert(streambatch::job_source<keyset_source<sql::detail::tuple_parse<std::tuple<int>>>>);

} // namespace streambatch::postgres

#endif // STREAMBATCH_IO_POSTGRES_JOB_SOURCE_HPP_INCLUDED
