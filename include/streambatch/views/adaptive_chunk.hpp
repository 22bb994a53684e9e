// streambatch/views/adaptive_chunk.hpp: batches sized by a byte budget instead of a record count.
//
// In:     any std::ranges::viewable_range R that is an input_range, and
//         streambatch::adaptive_chunk_options {target_bytes = 50 MiB, min_records = 10,
//         max_records = 10'000}. Each record is weighed with streambatch::record_bytes.
// Out:    a streambatch::adaptive_chunk_view. A batch closes before the record that would take
//         it past target_bytes, or at max_records. It never holds fewer than min_records unless
//         the source ends, or the next record alone weighs more than target_bytes: such a
//         record ships in a batch of its own (never dropped, never split).
// Models: input_range; forward_range when R is forward (the rule only looks at the records).
//         Batches as in batch_view.hpp: subranges of a forward R, moved buffers otherwise.
// Memory: forward R: O(1). Single-pass R: one batch (≈ target_bytes). Cost: one record_bytes
//         call per record, and one more per batch (the record that closed it is weighed again
//         when it opens the next).
// Errors: target_bytes == 0, min_records == 0, max_records == 0 or min_records > max_records
//         throw std::invalid_argument naming adaptive_chunk, the option and the value.
// Example:
//     for (auto&& batch : rows | streambatch::views::adaptive_chunk({.target_bytes = 1 << 20}))
//         sink.insert(batch);   // about 1 MiB of rows per insert

#ifndef STREAMBATCH_VIEWS_ADAPTIVE_CHUNK_HPP_INCLUDED
#define STREAMBATCH_VIEWS_ADAPTIVE_CHUNK_HPP_INCLUDED

#include <streambatch/detail/checks.hpp>
#include <streambatch/detail/closure.hpp>
#include <streambatch/record_bytes.hpp>
#include <streambatch/views/batch_view.hpp>

#include <cstddef>
#include <ranges>
#include <string>
#include <utility>

namespace streambatch {

/// Options of views::adaptive_chunk; designated initialisers name what you change.
struct adaptive_chunk_options {
    std::size_t target_bytes = std::size_t{50} << 20; ///< close a batch before it passes this
    std::size_t min_records = 10;                     ///< never fewer, unless the source ends
    std::size_t max_records = 10'000;                 ///< never more
};

namespace detail {

inline adaptive_chunk_options const& checked(adaptive_chunk_options const& o)
{
    auto fail = [](char const* name, std::size_t v, char const* why) {
        invalid_argument("adaptive_chunk",
                         std::string(name) + " = " + std::to_string(v) + ": " + why);
    };
    if (o.target_bytes == 0)
        fail("target_bytes", 0, "the byte budget must be positive");
    if (o.min_records == 0)
        fail("min_records", 0, "a batch holds at least one record");
    if (o.max_records == 0)
        fail("max_records", 0, "a batch holds at least one record");
    if (o.min_records > o.max_records)
        fail("min_records", o.min_records,
             ("must not exceed max_records = " + std::to_string(o.max_records)).c_str());
    return o;
}

/// Closes a batch by weight; see the header comment for the exact rule.
struct bytes_rule {
    static constexpr bool multipass = true;
    adaptive_chunk_options opts;

    template <class T>
    constexpr std::size_t weigh(T const& record) const
    {
        return streambatch::record_bytes(record);
    }
    constexpr std::size_t max_records() const noexcept { return opts.max_records; }

    /// May a record of weight w join a batch of `count` records weighing `bytes`?
    constexpr bool admit(std::size_t count, std::size_t bytes, std::size_t w) const noexcept
    {
        if (count == 0)
            return true; // the first record always ships, however heavy
        if (w > opts.target_bytes || (count == 1 && bytes > opts.target_bytes))
            return false; // a record heavier than the budget ships alone
        if (count < opts.min_records)
            return true;
        return bytes + w <= opts.target_bytes;
    }
};

struct adaptive_chunk_fn {
    template <std::ranges::viewable_range R>
        requires std::ranges::input_range<R>
    [[nodiscard]] auto operator()(R&& r, adaptive_chunk_options const& o = {}) const
    {
        return batch_view(std::forward<R>(r), bytes_rule{checked(o)});
    }

    [[nodiscard]] auto operator()(adaptive_chunk_options const& o = {}) const
    {
        return adaptor_closure<adaptive_chunk_fn, adaptive_chunk_options>(*this, checked(o));
    }
};

} // namespace detail

/// The type views::adaptive_chunk returns.
template <class V>
using adaptive_chunk_view = batch_view<V, detail::bytes_rule>;

namespace views {
/// `r | views::adaptive_chunk({.target_bytes = N})` or `views::adaptive_chunk(r, opts)`.
inline constexpr detail::adaptive_chunk_fn adaptive_chunk{};
} // namespace views

} // namespace streambatch

#endif // STREAMBATCH_VIEWS_ADAPTIVE_CHUNK_HPP_INCLUDED
