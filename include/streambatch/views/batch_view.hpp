// streambatch/views/batch_view.hpp: the view every streambatch adaptor returns, and the batch type.
//
// In:     a view V of records (any std::ranges::input_range) and a Rule that says where a
//         batch closes (a count, a byte budget, or a policy asked before every batch).
// Out:    a range of batches; every batch is a non-empty sized_range; only the last may be short.
//         - V forward: a batch is std::ranges::subrange<iterator_t<V>, iterator_t<V>, sized>,
//           a view into V; nothing is copied or moved.
//         - V single-pass: a batch is streambatch::batch<range_value_t<V>>, a contiguous window
//           onto a buffer the view owns and reuses; records are moved into it with
//           std::ranges::iter_move, never copied. batch.take() moves the whole buffer out
//           (the next batch then allocates a new one). With a count rule (chunk,
//           memory_guarded) each record is move-assigned over the previous batch's record in
//           its slot, so a string's buffer goes back to the source to be refilled (no malloc
//           and free per record, no heap trimmed between batches); a source that yields
//           records by value (a std::views::transform) has each one built in its slot, over
//           the previous record, without a move; otherwise the previous batch's records are
//           destroyed before the next is pulled.
// Models: input_range always; forward_range when V is forward and the rule is a pure function
//         of the records (chunk, adaptive_chunk); sized_range for chunk over a sized V.
//         Not const-iterable. Single-pass: begin() restarts nothing; iterators and batches
//         die with the view, and a batch's records are replaced (move-assigned over) or
//         destroyed when the next batch is pulled.
// Memory: forward V: O(1). Single-pass V: the buffer, which holds one batch of records; its
//         capacity stays at the largest batch. A record that does not fit a byte budget is
//         weighed where it stands and stays in the source for the next batch.
// Example:
//     std::istringstream in("1 2 3 4 5");
//     for (streambatch::batch<int> b : std::views::istream<int>(in) | streambatch::views::chunk(2))
//         consume(b.data(), b.size());    // {1,2} {3,4} {5}

#ifndef STREAMBATCH_VIEWS_BATCH_VIEW_HPP_INCLUDED
#define STREAMBATCH_VIEWS_BATCH_VIEW_HPP_INCLUDED

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <memory>
#include <memory_resource>
#include <new>
#include <optional>
#include <ranges>
#include <type_traits>
#include <utility>
#include <vector>

namespace streambatch {

/// Whether a batch view over a single-pass source may move-assign each new record over the
/// previous batch's record in its slot (reusing the slot's heap storage: no allocation per
/// record in the steady state) instead of destroying the old batch first. Off for a record that
/// uses a polymorphic allocator (std::pmr::string, a type with an allocator_type of
/// std::pmr::polymorphic_allocator): its move assignment may copy into the slot's old storage,
/// which belongs to the resource the slot's record was made with (a batch_arena recycles it
/// batch after batch). A record type with pmr members opts out by specialising this as false:
///     template <> inline constexpr bool streambatch::recycle_records<my_record> = false;
template <class T>
inline constexpr bool recycle_records =
    std::is_move_assignable_v<T> &&
    !std::uses_allocator_v<T, std::pmr::polymorphic_allocator<std::byte>>;

/// A batch of records moved out of a single-pass source: a contiguous, sized window onto the
/// buffer of the view that produced it. Cheap to copy (it is a view); valid until the view
/// pulls the next batch. Records may be moved out of it; take() moves out the whole batch.
template <class T>
class batch : public std::ranges::view_interface<batch<T>> {
    std::vector<T>* buffer_;

public:
    constexpr explicit batch(std::vector<T>& buffer) noexcept : buffer_(std::addressof(buffer)) {}

    constexpr T* begin() const noexcept { return buffer_->data(); }
    constexpr T* end() const noexcept { return buffer_->data() + buffer_->size(); }
    constexpr T* data() const noexcept { return buffer_->data(); }
    constexpr std::size_t size() const noexcept { return buffer_->size(); }

    /// Moves the batch out (to another thread, a queue, ...). This window becomes empty and the
    /// view allocates a fresh buffer for the next batch.
    [[nodiscard]] std::vector<T> take() const { return std::exchange(*buffer_, std::vector<T>{}); }

    /// Moves the batch out and gives the view `spare` (cleared; its capacity kept) to fill next,
    /// so a pipeline that recycles buffers allocates nothing in the steady state.
    [[nodiscard]] std::vector<T> take(std::vector<T>&& spare) const
    {
        spare.clear();
        return std::exchange(*buffer_, std::move(spare));
    }

    /// After take(), before the view advances: gives the view `used`, a batch taken earlier
    /// with its records still in it, to fill next. The view moves each new record over an old
    /// one in its slot (recycle_records: a std::string's or csv::row's storage is reused, as
    /// in a sequential pipeline, so the refill allocates nothing) and destroys the slots left
    /// over; records that cannot be recycled are destroyed first. What the view held (nothing,
    /// after take()) is destroyed.
    void recycle(std::vector<T>&& used) const { *buffer_ = std::move(used); }
};

namespace detail {

struct no_state {};

/// Rules that decide by weighing each record (adaptive_chunk) provide weigh() and admit().
template <class Rule, class T>
concept weighing_rule = requires(Rule const& r, T const& t, std::size_t n) {
    {
        r.weigh(t)
    } -> std::same_as<std::size_t>;
    {
        r.admit(n, n, n)
    } -> std::same_as<bool>;
    {
        r.max_records()
    } -> std::same_as<std::size_t>;
};

/// Advances `it` over the records of one batch; returns how many it took.
template <class Rule, class It, class S>
constexpr std::size_t scan_batch(Rule& rule, It& it, S const& end)
{
    if constexpr (weighing_rule<Rule, std::iter_value_t<It>>) {
        std::size_t const max = rule.max_records();
        std::size_t count = 0, bytes = 0;
        while (count < max && it != end) {
            std::size_t const w = rule.weigh(*it);
            if (!rule.admit(count, bytes, w))
                break;
            bytes += w;
            ++count;
            ++it;
        }
        return count;
    } else {
        auto const limit = static_cast<std::iter_difference_t<It>>(rule.limit());
        return static_cast<std::size_t>(limit - std::ranges::advance(it, limit, end));
    }
}

} // namespace detail

template <std::ranges::view V, class Rule>
    requires std::ranges::input_range<V> && std::move_constructible<Rule>
class batch_view : public std::ranges::view_interface<batch_view<V, Rule>> {
    using base_iter = std::ranges::iterator_t<V>;
    using record = std::ranges::range_value_t<V>;
    static constexpr bool forward_base = std::ranges::forward_range<V>;
    // A forward V with a rule that is a pure function of the records gives a forward range of
    // batches (iterators carry their own position); otherwise the view owns the position.
    static constexpr bool multipass = forward_base && Rule::multipass;

    template <bool Forward, class = void>
    struct batch_type {
        using type = batch<record>;
    };
    template <class Void>
    struct batch_type<true, Void> {
        using type = std::ranges::subrange<base_iter, base_iter, std::ranges::subrange_kind::sized>;
    };
    using batch_t = typename batch_type<forward_base>::type;

    struct input_state {
        std::vector<record> buffer;
        // A byte budget over a source that yields values: its current record, made once, not
        // yet in a batch (the source is not advanced past it until it joins one).
        std::optional<record> held;
    };
    struct forward_state {
        std::optional<base_iter> first;
        std::size_t size = 0;
    };
    using state_t =
        std::conditional_t<multipass, detail::no_state,
                           std::conditional_t<forward_base, forward_state, input_state>>;

    V base_;
    [[no_unique_address]] Rule rule_;
    std::optional<base_iter> cur_;
    [[no_unique_address]] state_t state_;
    bool done_ = false;
    std::uint64_t records_ = 0;
    std::uint64_t batches_ = 0;

    // Moves up to `limit` records into buf. Counts in a local: buf.size() is a pointer
    // difference divided by sizeof(record), paid once per record otherwise. Its own function,
    // so that how much of the rule (a memory policy, say) GCC 12 inlines into next_batch()
    // does not decide whether the source's operator++ is inlined into this loop.
    // The previous batch's records are still in buf: each new record is move-assigned over
    // the old one in its slot (recycling its storage: a std::string's move assignment hands
    // the slot's old buffer back to the source's record, which then fills it without
    // allocating), and the slots left over when the batch is shorter are destroyed. Records
    // that cannot be move-assigned, or that must not be (recycle_records: pmr records), are
    // destroyed first (buf.clear()), as before.
    // A source that yields records by value (std::views::transform(clean) over a source, a
    // generator of values): the value *it returns is built straight into the slot, over the
    // previous batch's record destroyed just before (guaranteed copy elision: no move, no
    // temporary). Moving it in would cost a move assignment per record and the temporary's
    // destruction (bench/RESULTS-alloc.md, mode clean-first). A record that cannot be default-made
    // without throwing is move-assigned as before: if the source throws, the slot must still
    // hold a record.
    static constexpr bool builds_in_place =
        !std::is_reference_v<std::iter_reference_t<base_iter>> &&
        std::same_as<std::iter_reference_t<base_iter>, record> &&
        std::is_nothrow_default_constructible_v<record> && std::is_nothrow_destructible_v<record>;

    template <class S>
    static constexpr void fill(std::vector<record>& buf, base_iter& it, S const& end,
                               std::size_t limit)
    {
        std::size_t n = 0;
        if constexpr (recycle_records<record>) {
            std::size_t const reuse = buf.size() < limit ? buf.size() : limit;
            if constexpr (builds_in_place) {
                for (; n < reuse && it != end; ++n, ++it) {
                    record* const slot = buf.data() + n;
                    std::destroy_at(slot);
                    try {
                        ::new (static_cast<void*>(slot)) record(*it); // no move: built in place
                    } catch (...) {
                        ::new (static_cast<void*>(slot)) record(); // the slot stays a record
                        throw;
                    }
                }
            } else {
                for (; n < reuse && it != end; ++n, ++it)
                    buf[n] = std::ranges::iter_move(it);
            }
            // Slots the previous batch filled and this one did not (the source ended, or the
            // limit fell) go. `it` is not compared with `end` once the batch is full: a
            // source may read its next record to answer (a cursor's step, a CSV record), and
            // a job source's position must stay at this batch's end.
            if (n < buf.size())
                buf.erase(buf.begin() + static_cast<std::ptrdiff_t>(n), buf.end());
        } else {
            buf.clear();
        }
        if (buf.capacity() < limit)
            buf.reserve(limit < 4096 ? limit : 4096);
        for (; n < limit && it != end; ++n, ++it)
            buf.push_back(std::ranges::iter_move(it));
    }

    // Pulls the next batch into state_ (single-pass outer range only).
    constexpr void next_batch()
    {
        base_iter& it = *cur_;
        auto const end = std::ranges::end(base_);
        std::size_t n = 0;
        if constexpr (forward_base) {
            if (it == end) {
                done_ = true;
                return;
            }
            state_.first = it;
            n = state_.size = detail::scan_batch(rule_, it, end);
        } else {
            auto& buf = state_.buffer;
            if (it == end) {
                buf.clear(); // the last batch's records die when the end is reached
                done_ = true;
                return;
            }
            if constexpr (detail::weighing_rule<Rule, record>) {
                buf.clear(); // the previous batch's records die before new ones are pulled
                // A record is taken (moved out, the source advanced) only once admitted: one
                // that does not fit stays the source's current record, so what the source has
                // consumed is exactly the batches handed out (a job source's position() after
                // a batch names its end). A source that yields values, not references, has its
                // current record made once and held until it joins a batch.
                std::size_t const max = rule_.max_records();
                std::size_t bytes = 0;
                while (buf.size() < max && it != end) {
                    if constexpr (std::is_reference_v<std::iter_reference_t<base_iter>>) {
                        std::size_t const w = rule_.weigh(*it);
                        if (!rule_.admit(buf.size(), bytes, w))
                            break;
                        buf.push_back(std::ranges::iter_move(it));
                        bytes += w;
                    } else {
                        if (!state_.held)
                            state_.held.emplace(*it);
                        std::size_t const w = rule_.weigh(*state_.held);
                        if (!rule_.admit(buf.size(), bytes, w))
                            break;
                        buf.push_back(std::move(*state_.held));
                        state_.held.reset();
                        bytes += w;
                    }
                    ++it;
                }
            } else {
                fill(buf, it, end, rule_.limit());
            }
            n = buf.size();
        }
        records_ += n;
        ++batches_;
    }

    class input_iterator {
        batch_view* parent_ = nullptr;

    public:
        using iterator_concept = std::input_iterator_tag;
        using value_type = batch_t;
        using difference_type = std::ptrdiff_t;

        input_iterator() = default;
        constexpr explicit input_iterator(batch_view& p) noexcept : parent_(std::addressof(p)) {}

        constexpr value_type operator*() const
        {
            if constexpr (forward_base) {
                auto const& s = parent_->state_;
                return batch_t(*s.first, *parent_->cur_, s.size);
            } else {
                return value_type(parent_->state_.buffer);
            }
        }
        constexpr input_iterator& operator++()
        {
            parent_->next_batch();
            return *this;
        }
        constexpr void operator++(int) { ++*this; }
        constexpr bool at_end() const noexcept { return parent_->done_; }
        friend constexpr bool operator==(input_iterator const& i, std::default_sentinel_t) noexcept
        {
            return i.at_end();
        }
    };

    class forward_iterator {
        batch_view* parent_ = nullptr;
        base_iter cur_{}, next_{};
        std::size_t size_ = 0;

        constexpr void find_end()
        {
            next_ = cur_;
            size_ = detail::scan_batch(parent_->rule_, next_, std::ranges::end(parent_->base_));
        }

    public:
        using iterator_concept = std::forward_iterator_tag;
        using iterator_category = std::input_iterator_tag; // batches are prvalues
        using value_type = batch_t;
        using difference_type = std::ptrdiff_t;

        forward_iterator() = default;
        constexpr forward_iterator(batch_view& p, base_iter first)
            : parent_(std::addressof(p)), cur_(std::move(first))
        {
            find_end();
        }

        constexpr value_type operator*() const { return batch_t(cur_, next_, size_); }
        constexpr forward_iterator& operator++()
        {
            cur_ = next_;
            find_end();
            return *this;
        }
        constexpr forward_iterator operator++(int)
        {
            auto old = *this;
            ++*this;
            return old;
        }
        friend constexpr bool operator==(forward_iterator const& a, forward_iterator const& b)
        {
            return a.cur_ == b.cur_;
        }
        friend constexpr bool operator==(forward_iterator const& a, std::default_sentinel_t)
        {
            return a.size_ == 0;
        }
    };

public:
    batch_view()
        requires std::default_initializable<V> && std::default_initializable<Rule>
    = default;
    constexpr batch_view(V base, Rule rule) : base_(std::move(base)), rule_(std::move(rule)) {}

    constexpr V base() const&
        requires std::copy_constructible<V>
    {
        return base_;
    }
    constexpr V base() && { return std::move(base_); }
    constexpr Rule const& rule() const noexcept { return rule_; }

    /// Records handed out in batches so far, and the number of batches (single-pass outer
    /// range only): the position a checkpoint of "records consumed" records.
    constexpr std::uint64_t records_consumed() const noexcept
        requires(!multipass)
    {
        return records_;
    }
    constexpr std::uint64_t batches_produced() const noexcept
        requires(!multipass)
    {
        return batches_;
    }

    constexpr auto begin()
    {
        if constexpr (multipass) {
            return forward_iterator(*this, std::ranges::begin(base_));
        } else {
            cur_.emplace(std::ranges::begin(base_));
            done_ = false;
            next_batch();
            return input_iterator(*this);
        }
    }
    constexpr std::default_sentinel_t end() const noexcept { return std::default_sentinel; }

    constexpr auto size() const
        requires std::ranges::sized_range<V const> && requires { Rule::fixed_count; }
    {
        auto const n = std::ranges::size(base_);
        auto const k = static_cast<decltype(n)>(rule_.limit());
        return n / k + (n % k != 0);
    }
    constexpr auto size()
        requires std::ranges::sized_range<V> && (!std::ranges::sized_range<V const>) &&
                 requires { Rule::fixed_count; }
    {
        auto const n = std::ranges::size(base_);
        auto const k = static_cast<decltype(n)>(rule_.limit());
        return n / k + (n % k != 0);
    }
};

template <class R, class Rule>
batch_view(R&&, Rule) -> batch_view<std::views::all_t<R>, Rule>;

} // namespace streambatch

#endif // STREAMBATCH_VIEWS_BATCH_VIEW_HPP_INCLUDED
