// streambatch/detail/closure.hpp: the pipe machinery behind every streambatch::views adaptor.
//
// In:     an adaptor function object Fn and the arguments bound after the range.
// Out:    a closure `c` such that `r | c` == `Fn{}(r, args...)`, and `c1 | c2` composes.
// Models: a copyable closure when every bound argument is copyable, movable otherwise.
// Memory: the decayed bound arguments, nothing else.
// Example:
//     auto by_100 = streambatch::views::chunk(100);      // an adaptor_closure
//     for (auto&& batch : records | by_100) sink(batch);
//
// libstdc++ 12 has no std::ranges::range_adaptor_closure (C++23), so we carry our own,
// after NanoRange's rao_proxy but storing decayed copies (its FIXME).

#ifndef STREAMBATCH_DETAIL_CLOSURE_HPP_INCLUDED
#define STREAMBATCH_DETAIL_CLOSURE_HPP_INCLUDED

#include <concepts>
#include <ranges>
#include <tuple>
#include <type_traits>
#include <utility>

namespace streambatch::detail {

/// Binds `args...` after the range argument of the adaptor `Fn`.
/// Invoked on an rvalue closure the arguments are moved (so move-only policies work).
template <class Fn, class... Args>
class adaptor_closure {
    [[no_unique_address]] Fn fn_;
    std::tuple<Args...> args_;

public:
    template <class... As>
    constexpr explicit adaptor_closure(Fn fn, As&&... as)
        : fn_(std::move(fn)), args_(std::forward<As>(as)...)
    {}

    template <class R>
        requires std::invocable<Fn const&, R, Args const&...>
    constexpr auto operator()(R&& r) const&
    {
        return std::apply([&](auto const&... a) { return fn_(std::forward<R>(r), a...); }, args_);
    }

    template <class R>
        requires std::invocable<Fn const&, R, Args...>
    constexpr auto operator()(R&& r) &&
    {
        return std::apply([&](auto&... a) { return fn_(std::forward<R>(r), std::move(a)...); },
                          args_);
    }

    template <std::ranges::viewable_range R>
        requires std::invocable<adaptor_closure const&, R>
    [[nodiscard]] friend constexpr auto operator|(R&& r, adaptor_closure const& self)
    {
        return self(std::forward<R>(r));
    }

    template <std::ranges::viewable_range R>
        requires std::invocable<adaptor_closure, R>
    [[nodiscard]] friend constexpr auto operator|(R&& r, adaptor_closure&& self)
    {
        return std::move(self)(std::forward<R>(r));
    }
};

/// `a | b` of two streambatch closures: applies a, then b.
template <class A, class B>
struct composed_closure {
    A first;
    B second;

    template <class R>
        requires std::invocable<A const&, R> &&
                 std::invocable<B const&, std::invoke_result_t<A const&, R>>
    constexpr auto operator()(R&& r) const
    {
        return second(first(std::forward<R>(r)));
    }

    template <std::ranges::viewable_range R>
        requires std::invocable<A const&, R> &&
                 std::invocable<B const&, std::invoke_result_t<A const&, R>>
    [[nodiscard]] friend constexpr auto operator|(R&& r, composed_closure const& self)
    {
        return self.second(self.first(std::forward<R>(r)));
    }
};

template <class T>
inline constexpr bool is_closure_v = false;
template <class Fn, class... Args>
inline constexpr bool is_closure_v<adaptor_closure<Fn, Args...>> = true;
template <class A, class B>
inline constexpr bool is_closure_v<composed_closure<A, B>> = true;

template <class A, class B>
    requires is_closure_v<std::remove_cvref_t<A>> && is_closure_v<std::remove_cvref_t<B>>
[[nodiscard]] constexpr auto operator|(A&& a, B&& b)
{
    return composed_closure<std::remove_cvref_t<A>, std::remove_cvref_t<B>>{std::forward<A>(a),
                                                                            std::forward<B>(b)};
}

} // namespace streambatch::detail

#endif // STREAMBATCH_DETAIL_CLOSURE_HPP_INCLUDED
