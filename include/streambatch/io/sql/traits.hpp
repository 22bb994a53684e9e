// streambatch/io/sql/traits.hpp: the small type traits and function objects the SQLite and
// PostgreSQL components share: which types a row can give (gettable) and a statement can take
// (bindable), tuple-likes, the default parse functions, record maps and hooks.

#ifndef STREAMBATCH_IO_SQL_TRAITS_HPP_INCLUDED
#define STREAMBATCH_IO_SQL_TRAITS_HPP_INCLUDED

#include <streambatch/detail/optional.hpp>

#include <concepts>
#include <cstddef>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <vector>

namespace streambatch::sql::detail {

template <class T>
using is_optional = streambatch::detail::optional_traits<T>;

template <class C>
concept tuple_like = requires { std::tuple_size<std::remove_cvref_t<C>>::value; };

/// What row::get<T> can produce.
template <class T>
inline constexpr bool gettable_v =
    std::is_arithmetic_v<T> || std::is_same_v<T, std::string> ||
    std::is_same_v<T, std::string_view> || std::is_same_v<T, std::vector<std::byte>>;
template <class T>
inline constexpr bool gettable_v<std::optional<T>> = gettable_v<T>;

/// What a statement parameter (or a COPY value) can take.
template <class T>
inline constexpr bool bindable_v =
    std::is_same_v<T, std::nullptr_t> || std::is_same_v<T, std::nullopt_t> ||
    (std::is_arithmetic_v<T> && !std::is_same_v<T, char> && !std::is_same_v<T, wchar_t> &&
     !std::is_same_v<T, char8_t> && !std::is_same_v<T, char16_t> && !std::is_same_v<T, char32_t>) ||
    std::is_convertible_v<T const&, std::string_view> ||
    std::is_same_v<T, std::span<std::byte const>> || std::is_same_v<T, std::vector<std::byte>>;
template <class T>
inline constexpr bool bindable_v<std::optional<T>> = bindable_v<T>;

/// A function a query_as source can judge rows of type Row with.
template <class F, class Row>
concept parse_function_of =
    std::move_constructible<F> && std::invocable<F&, Row const&> &&
    std::is_object_v<std::remove_cvref_t<std::invoke_result_t<F&, Row const&>>>;

/// query()'s parse function: the row itself.
template <class Row>
struct raw_rows {
    Row operator()(Row const& r) const { return r; }
};

/// query_as<Tuple>()'s parse function.
template <class T>
struct tuple_parse {
    template <class Row>
    T operator()(Row const& r) const
    {
        return r.template as<T>();
    }
};

/// The default record-to-columns function of a sink: a tuple-like record is its own columns.
struct same_columns {
    template <class R>
    R const& operator()(R const& r) const noexcept
    {
        return r;
    }
};

/// The default hook of a sink's write(): nothing.
struct no_hook {
    template <class Connection>
    void operator()(Connection&) const noexcept
    {}
};

/// Holds a function object and is move-assignable even when it is not (lambdas), so that a
/// view holding one is a std::ranges::view (std's movable-box, which C++20 does not expose).
template <class F>
class movable_box {
    std::optional<F> f_;

public:
    explicit movable_box(F f) : f_(std::move(f)) {}
    movable_box(movable_box&&) = default;
    movable_box& operator=(movable_box&& o) noexcept(std::is_nothrow_move_constructible_v<F>)
    {
        if (this != &o) {
            f_.reset();
            if (o.f_)
                f_.emplace(std::move(*o.f_));
        }
        return *this;
    }
    F& get() noexcept { return *f_; }
};

/// "a 64-bit signed integer", "a number", ... for row_error messages; `boolean` says how the
/// database writes booleans ("a boolean (0 or 1)").
template <class T>
std::string type_name(char const* boolean, char const* bytes)
{
    if constexpr (std::is_same_v<T, bool>)
        return boolean;
    else if constexpr (std::is_integral_v<T>)
        return std::string(std::is_signed_v<T> ? "a " : "an ") + std::to_string(sizeof(T) * 8) +
               "-bit " + (std::is_signed_v<T> ? "signed" : "unsigned") + " integer";
    else if constexpr (std::is_floating_point_v<T>)
        return "a number";
    else if constexpr (std::is_same_v<T, std::vector<std::byte>>)
        return bytes;
    else
        return "a value";
}

/// The message of the exception in flight (inside a catch block), "unknown exception" if it is
/// not a std::exception.
inline std::string current_message()
{
    try {
        throw;
    } catch (std::exception const& e) {
        return e.what();
    } catch (...) {
        return "unknown exception";
    }
}

} // namespace streambatch::sql::detail

#endif // STREAMBATCH_IO_SQL_TRAITS_HPP_INCLUDED
