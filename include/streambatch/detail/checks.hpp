// streambatch/detail/checks.hpp: argument checks shared by the adaptors.
//
// In:     an adaptor's name, an option's name and the value the user gave.
// Out:    the value as std::size_t, or std::invalid_argument whose message names all three.
// Models: nothing; plain functions.
// Memory: none (the message string, on failure only).
// Example:
//     std::size_t n = streambatch::detail::positive_count("chunk", "n", -3); // throws:
//     // "streambatch::views::chunk: n must be a positive number of records, got -3"

#ifndef STREAMBATCH_DETAIL_CHECKS_HPP_INCLUDED
#define STREAMBATCH_DETAIL_CHECKS_HPP_INCLUDED

#include <concepts>
#include <cstddef>
#include <stdexcept>
#include <string>

namespace streambatch::detail {

[[noreturn]] inline void invalid_argument(char const* adaptor, std::string const& what)
{
    throw std::invalid_argument(std::string("streambatch::views::") + adaptor + ": " + what);
}

/// A count given by the user as any integer type; rejects zero and negatives by name.
template <std::integral I>
constexpr std::size_t positive_count(char const* adaptor, char const* name, I n)
{
    if (n <= 0)
        invalid_argument(adaptor, std::string(name) +
                                      " must be a positive number of records, got " +
                                      std::to_string(n));
    return static_cast<std::size_t>(n);
}

} // namespace streambatch::detail

#endif // STREAMBATCH_DETAIL_CHECKS_HPP_INCLUDED
