// streambatch/io/sql/source.hpp: the part of sqlite::query_view and postgres::query_view that is
// the same: an input view that reads a row only when the iterator is compared or dereferenced
// (so a batch adaptor never reads past its batch), judges it with the parse function under the
// bad-row policy (io/detail/bad_rows.hpp) and ends after an exception.
//
// A database supplies only its step, as Derived (CRTP), with Traits naming its row, error
// (never bad input: it always propagates, as std::bad_alloc does), stats and error tag:
//     void start();                        first begin(): prepare nothing more, or open a cursor
//     bool step();                         move to the next row; false at the end
//     row  make_row(std::uint64_t number); the row stepped to, numbered from 1
//     void stop() noexcept;                after an exception: release what the source holds
//
// It also holds what the two components' query functions share: on_error (sqlite::on_error and
// postgres::on_error name it) and the query / query_as overloads, which each component names with
// `using sql::query; using sql::query_as;` after it specializes sql::detail::source_of for its
// connection type.

#ifndef STREAMBATCH_IO_SQL_SOURCE_HPP_INCLUDED
#define STREAMBATCH_IO_SQL_SOURCE_HPP_INCLUDED

#include <streambatch/io/detail/bad_rows.hpp>
#include <streambatch/io/sql/traits.hpp>

#include <cstddef>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <functional>
#include <iterator>
#include <memory>
#include <new>
#include <optional>
#include <ranges>
#include <string>
#include <type_traits>
#include <utility>

namespace streambatch::sql {

/// What a query_as source does with a row its parse function rejects (as csv::on_error).
enum class on_error : unsigned char {
    fail, ///< throw (the default)
    skip, ///< write it to the reject file, count it, go on (up to max_skipped)
};

/// What a source has done so far; view.stats() shares it, so it outlives the view.
/// (sqlite::query_stats is this; postgres::query_stats adds its FETCH round trips.)
struct query_stats {
    std::uint64_t rows_read = 0;    ///< rows read from the database, bad ones included
    std::uint64_t rows_skipped = 0; ///< rows rejected under on_error::skip
};

} // namespace streambatch::sql

namespace streambatch::sql::detail {

template <class Derived, class Traits, class Parse>
class source_base : public std::ranges::view_interface<Derived> {
    using row_type = typename Traits::row;

public:
    using value_type = std::remove_cvref_t<std::invoke_result_t<Parse&, row_type const&>>;

    class iterator {
        source_base* view_ = nullptr;

    public:
        using iterator_concept = std::input_iterator_tag;
        using value_type = source_base::value_type;
        using difference_type = std::ptrdiff_t;

        iterator() = default;
        explicit iterator(source_base& v) noexcept : view_(std::addressof(v)) {}
        value_type& operator*() const
        {
            view_->sync();
            return *view_->current_;
        }
        value_type* operator->() const { return std::addressof(**this); }
        iterator& operator++()
        {
            view_->sync(); // passing a row nobody looked at still reads it
            view_->stale_ = true;
            return *this;
        }
        void operator++(int) { ++*this; }
        bool at_end() const
        {
            view_->sync();
            return view_->done_;
        }
        friend bool operator==(iterator const& i, std::default_sentinel_t) { return i.at_end(); }
    };

    /// Iteration from where it stopped (the start, the first time). Rows are read when the
    /// iterator is compared or dereferenced, so a batch adaptor never reads past its batch.
    iterator begin()
    {
        if (!started_) {
            started_ = true;
            self().start();
        }
        return iterator(*this);
    }
    std::default_sentinel_t end() const noexcept { return std::default_sentinel; }

    /// Counters shared with the caller; valid after the view is gone.
    std::shared_ptr<typename Traits::stats const> stats() const noexcept { return stats_; }

protected:
    static constexpr bool raw = std::is_same_v<Parse, raw_rows<row_type>>;

    source_base(Parse parse, bool skip, std::uint64_t max_skipped,
                std::filesystem::path reject_path)
        : parse_(std::move(parse)), policy_(skip, max_skipped, std::move(reject_path))
    {}
    source_base(source_base&&) = default;
    source_base& operator=(source_base&&) = default;
    ~source_base() = default;

    typename Traits::stats& counters() noexcept { return *stats_; }

private:
    Derived& self() noexcept { return static_cast<Derived&>(*this); }

    // Reads the row the iterator is at, if not read yet. After an exception the view is at
    // its end (a bad row under on_error::fail, a database error).
    void sync()
    {
        if (!stale_)
            return;
        stale_ = false;
        try {
            advance();
        } catch (...) {
            current_.reset();
            done_ = true;
            self().stop(); // the connection is usable again at once, not when the view dies
            throw;
        }
    }

    void advance()
    {
        current_.reset();
        for (;;) {
            if (!self().step()) {
                done_ = true;
                return;
            }
            row_type r = self().make_row(++stats_->rows_read);
            if constexpr (raw) {
                current_.emplace(std::move(r));
                return;
            } else {
                std::exception_ptr bad;
                try {
                    current_.emplace(std::invoke(parse_.get(), std::as_const(r)));
                    return;
                } catch (typename Traits::error const&) {
                    throw; // the database's, not the row's
                } catch (std::bad_alloc const&) {
                    throw;
                } catch (std::exception const&) {
                    bad = std::current_exception();
                }
                policy_.judge(r.query(), r.number(), bad, stats_->rows_skipped,
                              [&](io::reject& j) { r.fill_reject(j); });
            }
        }
    }

    movable_box<Parse> parse_;
    std::shared_ptr<typename Traits::stats> stats_ = std::make_shared<typename Traits::stats>();
    io::detail::bad_row_policy<typename Traits::tag> policy_;
    std::optional<value_type> current_;
    bool started_ = false;
    bool stale_ = true; // current_ is not read yet: rows are read when needed, not on ++
    bool done_ = false;
};

/// What a database's source is made of: source_base's Traits, and what the query functions below
/// need. tag, error: its error templates' tag and the database's error (never bad input);
/// connection_ref: what query() takes (database const&, connection&); row, stats, options: its
/// row, query_stats and query_options; view<Parse>: its query_view.
template <class Tag, class ConnectionRef, class Row, class Error, class Stats, class Options,
          template <class> class View>
struct source_spec {
    using tag = Tag;
    using connection_ref = ConnectionRef;
    using row = Row;
    using error = Error;
    using stats = Stats;
    using options = Options;
    template <class Parse>
    using view = View<Parse>;
};

/// Each component declares, next to its connection type (and never defines),
///     sql::detail::source_spec<...> source_spec_of(Connection const&);
/// which this finds by argument-dependent lookup.
template <class C>
using source_of_t = decltype(source_spec_of(std::declval<std::remove_cvref_t<C> const&>()));

template <class C>
concept source_connection = requires { typename source_of_t<C>::connection_ref; } &&
                            std::is_convertible_v<C&&, typename source_of_t<C>::connection_ref>;

template <class C, class Parse>
using view_t = typename source_of_t<C>::template view<Parse>;
template <class C>
using raw_view_t = view_t<C, raw_rows<typename source_of_t<C>::row>>;

} // namespace streambatch::sql::detail

namespace streambatch::sql {

/// `for (row& r : sqlite::query(db, "SELECT ... WHERE id > ?", 10))`, `postgres::query(conn,
/// "SELECT ... WHERE id > $1", 10)`: the rows of `sql` with `params` bound.
template <class C, class... P>
    requires detail::source_connection<C> && (detail::bindable_v<P> && ...)
[[nodiscard]] detail::raw_view_t<C> query(C&& conn, std::string sql, P const&... params)
{
    return detail::raw_view_t<C>(std::forward<C>(conn), std::move(sql), {}, {}, params...);
}

/// parse(row const&) -> T per row, under the bad-row policy in `opts`.
template <class F, class C, class... P>
    requires detail::source_connection<C> &&
             detail::parse_function_of<F, typename detail::source_of_t<C>::row> &&
             (detail::bindable_v<P> && ...)
[[nodiscard]] detail::view_t<C, F> query_as(C&& conn, std::string sql, F parse,
                                            typename detail::source_of_t<C>::options opts,
                                            P const&... params)
{
    return detail::view_t<C, F>(std::forward<C>(conn), std::move(sql), std::move(parse),
                                std::move(opts), params...);
}
template <class F, class C, class... P>
    requires detail::source_connection<C> &&
             detail::parse_function_of<F, typename detail::source_of_t<C>::row> &&
             (detail::bindable_v<P> && ...)
[[nodiscard]] detail::view_t<C, F> query_as(C&& conn, std::string sql, F parse, P const&... params)
{
    return detail::view_t<C, F>(std::forward<C>(conn), std::move(sql), std::move(parse), {},
                                params...);
}
/// Rows as a tuple-like T: element i from column i with row::get.
template <detail::tuple_like T, class C, class... P>
    requires detail::source_connection<C> && (detail::bindable_v<P> && ...)
[[nodiscard]] detail::view_t<C, detail::tuple_parse<T>> query_as(
    C&& conn, std::string sql, typename detail::source_of_t<C>::options opts, P const&... params)
{
    return detail::view_t<C, detail::tuple_parse<T>>(std::forward<C>(conn), std::move(sql), {},
                                                     std::move(opts), params...);
}
template <detail::tuple_like T, class C, class... P>
    requires detail::source_connection<C> && (detail::bindable_v<P> && ...)
[[nodiscard]] detail::view_t<C, detail::tuple_parse<T>> query_as(C&& conn, std::string sql,
                                                                 P const&... params)
{
    return detail::view_t<C, detail::tuple_parse<T>>(std::forward<C>(conn), std::move(sql), {}, {},
                                                     params...);
}

} // namespace streambatch::sql

#endif // STREAMBATCH_IO_SQL_SOURCE_HPP_INCLUDED
