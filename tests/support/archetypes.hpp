// tests/support/archetypes.hpp: the sources every input-path test runs through.
//
// single_pass_view<T>  after range-v3's debug_input_view: an input-only view over a vector
//                      whose begin() may be called once; a second call fails the test.
// move_only_view<V>    after flux's single_pass_only: wraps a view, move-only and not
//                      default-constructible.
// counted              a record that counts its copies and moves (per test: reset()).

#ifndef STREAMBATCH_TESTS_SUPPORT_ARCHETYPES_HPP
#define STREAMBATCH_TESTS_SUPPORT_ARCHETYPES_HPP

#include <cstddef>
#include <iterator>
#include <memory>
#include <ranges>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace test {

/// An input-only view over `data` (records are moved out when iter_move'd); begin() once.
template <class T>
class single_pass_view : public std::ranges::view_interface<single_pass_view<T>> {
    std::vector<T>* data_ = nullptr;
    std::shared_ptr<bool> begun_ = std::make_shared<bool>(false);

public:
    class iterator {
        T* p_ = nullptr;

    public:
        using value_type = T;
        using difference_type = std::ptrdiff_t;
        using iterator_concept = std::input_iterator_tag;
        iterator() = default;
        explicit iterator(T* p) : p_(p) {}
        iterator(iterator&&) = default; // move-only, like many real single-pass iterators
        iterator& operator=(iterator&&) = default;
        T& operator*() const { return *p_; }
        iterator& operator++()
        {
            ++p_;
            return *this;
        }
        void operator++(int) { ++p_; }
        friend bool operator==(iterator const& i, T* const& end) { return i.p_ == end; }
    };

    single_pass_view() = default;
    explicit single_pass_view(std::vector<T>& data) : data_(&data) {}

    iterator begin()
    {
        if (*begun_)
            throw std::logic_error("single_pass_view: begin() called twice");
        *begun_ = true;
        return iterator(data_->data());
    }
    T* end() { return data_->data() + data_->size(); }
};

/// Move-only and not default-constructible.
template <class V>
class move_only_view : public std::ranges::view_interface<move_only_view<V>> {
    V base_;

public:
    explicit move_only_view(V base) : base_(std::move(base)) {}
    move_only_view(move_only_view&&) = default;
    move_only_view& operator=(move_only_view&&) = default;
    auto begin() { return std::ranges::begin(base_); }
    auto end() { return std::ranges::end(base_); }
};

/// A record of about `payload` bytes that counts copies and moves.
struct counted {
    static inline int copies = 0;
    static inline int moves = 0;
    static void reset() { copies = moves = 0; }

    int id = 0;
    std::string payload;

    counted() = default;
    counted(int i, std::string p = {}) : id(i), payload(std::move(p)) {}
    counted(counted const& o) : id(o.id), payload(o.payload) { ++copies; }
    counted(counted&& o) noexcept : id(o.id), payload(std::move(o.payload)) { ++moves; }
    counted& operator=(counted const& o)
    {
        id = o.id;
        payload = o.payload;
        ++copies;
        return *this;
    }
    counted& operator=(counted&& o) noexcept
    {
        id = o.id;
        payload = std::move(o.payload);
        ++moves;
        return *this;
    }
};

/// Sizes of the batches of a range of batches, and the ids they held, in order.
template <class R>
std::vector<std::size_t> batch_sizes(R&& batches)
{
    std::vector<std::size_t> out;
    for (auto&& b : batches)
        out.push_back(std::ranges::size(b));
    return out;
}

/// The elements of any range, in a vector (for ranges that are not common ranges).
template <class R>
auto to_vector(R&& r)
{
    std::vector<std::remove_cvref_t<decltype(*std::ranges::begin(r))>> out;
    for (auto&& x : r)
        out.push_back(x);
    return out;
}

} // namespace test

#endif
