// Tests of the recycling of a single-pass source's records by count rules (views::chunk,
// views::memory_guarded; views/batch_view.hpp): each record of a batch is move-assigned over the
// previous batch's record in its slot, so strings' buffers go back to the source to be refilled.
// Checked: the records and their order, batch sizes as the policy changes them, the buffers
// recycled (no new payload buffer after the first batches), the batch's own storage kept, how
// many records are alive, and records that cannot be move-assigned.

#include <streambatch/guard/batch_arena.hpp>
#include <streambatch/views/chunk.hpp>
#include <streambatch/views/memory_guarded.hpp>

#include <catch2/catch.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <iterator>
#include <memory>
#include <memory_resource>
#include <ranges>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace sb = streambatch;

namespace {

/// std::allocator that counts the allocations made through it (stateless: always equal, so a
/// string's move assignment hands its old buffer over as with std::allocator).
template <class T>
struct counting_allocator {
    using value_type = T;
    static inline std::uint64_t allocations = 0;
    counting_allocator() = default;
    template <class U>
    counting_allocator(counting_allocator<U> const&) noexcept
    {}
    T* allocate(std::size_t n)
    {
        ++counting_allocator<char>::allocations;
        return std::allocator<T>().allocate(n);
    }
    void deallocate(T* p, std::size_t n) noexcept { std::allocator<T>().deallocate(p, n); }
    friend bool operator==(counting_allocator const&, counting_allocator const&) { return true; }
};
using payload_string = std::basic_string<char, std::char_traits<char>, counting_allocator<char>>;
std::uint64_t& payload_allocations()
{
    return counting_allocator<char>::allocations;
}
/// Whether `p` holds record i's letters (compared without allocating through the counter).
bool holds_letters(payload_string const& p, std::uint64_t i)
{
    return std::string_view(p.data(), p.size()) == std::string(200, char('a' + i % 26));
}

struct record {
    std::uint64_t id = 0;
    payload_string payload; // 200 bytes: on the heap
};

/// A single-pass source that fills its one record in place (assign: reusing its buffer), as a
/// file reader or a cursor does.
class filling_source : public std::ranges::view_interface<filling_source> {
    std::uint64_t count_ = 0;

public:
    class iterator {
        filling_source const* src_ = nullptr;
        std::uint64_t i_ = 0;
        mutable record current_{};

        void make()
        {
            current_.id = i_;
            current_.payload.assign(200, char('a' + i_ % 26));
        }

    public:
        using value_type = record;
        using difference_type = std::ptrdiff_t;
        using iterator_concept = std::input_iterator_tag;
        iterator() = default;
        explicit iterator(filling_source const& s) : src_(&s)
        {
            if (s.count_ > 0)
                make();
        }
        record& operator*() const noexcept { return current_; }
        iterator& operator++()
        {
            if (++i_ < src_->count_)
                make();
            return *this;
        }
        void operator++(int) { ++*this; }
        friend bool operator==(iterator const& it, std::default_sentinel_t) noexcept
        {
            return it.i_ >= it.src_->count();
        }
    };
    filling_source() = default;
    explicit filling_source(std::uint64_t n) : count_(n) {}
    iterator begin() const { return iterator(*this); }
    std::default_sentinel_t end() const noexcept { return std::default_sentinel; }
    std::uint64_t count() const noexcept { return count_; }
};
static_assert(std::ranges::input_range<filling_source> && std::ranges::view<filling_source>);
static_assert(!std::ranges::forward_range<filling_source>);

/// Answers from a script: batch sizes going down and up, as a memory guard's do.
struct scripted {
    std::vector<std::size_t> answers;
    std::size_t at = 0;
    std::size_t next_batch_size(std::size_t current)
    {
        return at < answers.size() ? answers[at++] : current;
    }
};

/// Counts the live instances of itself; not move-assignable (a const member).
struct counted {
    static inline int alive = 0;
    std::uint64_t const id;
    explicit counted(std::uint64_t i) : id(i) { ++alive; }
    counted(counted const& o) : id(o.id) { ++alive; }
    counted(counted&& o) noexcept : id(o.id) { ++alive; }
    counted& operator=(counted const&) = delete;
    ~counted() { --alive; }
};

/// A single-pass source of counted records, made as prvalues.
struct counted_source : std::ranges::view_interface<counted_source> {
    std::uint64_t count = 0;
    struct iterator {
        std::uint64_t const* count = nullptr;
        std::uint64_t i = 0;
        using value_type = counted;
        using difference_type = std::ptrdiff_t;
        using iterator_concept = std::input_iterator_tag;
        counted operator*() const { return counted(i); }
        iterator& operator++()
        {
            ++i;
            return *this;
        }
        void operator++(int) { ++i; }
        friend bool operator==(iterator const& it, std::default_sentinel_t) noexcept
        {
            return it.i >= *it.count;
        }
    };
    iterator begin() const { return {&count, 0}; }
    std::default_sentinel_t end() const noexcept { return std::default_sentinel; }
};
static_assert(std::ranges::input_range<counted_source>);
static_assert(!std::ranges::forward_range<counted_source>);

} // namespace

TEST_CASE("chunk over a single-pass source recycles the payload buffers batch after batch",
          "[recycling]")
{
    std::uint64_t next = 0, batches = 0, after_two = 0;
    std::vector<std::size_t> sizes;
    record const* storage = nullptr;
    payload_allocations() = 0;
    for (sb::batch<record> b : filling_source(10'000) | sb::views::chunk(100)) {
        if (batches == 2) {
            storage = b.data();
            after_two = payload_allocations();
        }
        if (batches > 2)
            CHECK(b.data() == storage); // the batch's storage is kept
        for (record const& r : b) {
            REQUIRE(r.id == next);
            REQUIRE(holds_letters(r.payload, next));
            ++next;
        }
        sizes.push_back(b.size());
        ++batches;
    }
    CHECK(next == 10'000);
    CHECK(batches == 100);
    CHECK(sizes == std::vector<std::size_t>(100, 100));
    // 100 records a batch + the one the source holds: the first batch's 100 buffers (and the
    // source's), then the same ones refilled over and over: 10 001 without recycling.
    CHECK(after_two <= 100 + 2);
    CHECK(payload_allocations() == after_two);
}

TEST_CASE("memory_guarded recycles while the policy shrinks and grows the batches", "[recycling]")
{
    scripted policy{{50, 20, 20, 80, 50, 100, 7}};
    std::vector<std::size_t> sizes;
    std::uint64_t next = 0;
    payload_allocations() = 0;
    for (auto b : filling_source(500) | sb::views::memory_guarded(50, std::ref(policy))) {
        for (record const& r : b) {
            REQUIRE(r.id == next);
            REQUIRE(holds_letters(r.payload, next));
            ++next;
        }
        sizes.push_back(b.size());
    }
    CHECK(next == 500);
    // 50 20 20 80 50 100 then 7s: 320 records, then 180 = 25 x 7 + 5 (the last one short).
    std::vector<std::size_t> expected{50, 20, 20, 80, 50, 100};
    expected.insert(expected.end(), 25, 7);
    expected.push_back(5);
    CHECK(sizes == expected);
    // Buffers are made when a batch is larger than any before (50, then 80, then 100) or after a
    // shrink destroyed the slots beyond it: at most 50 + 80 + 100 + the source's + shrinks'.
    CHECK(payload_allocations() <= 50 + 80 + 100 + 1);
}

TEST_CASE("a short last batch holds only its records, none of the previous batch's", "[recycling]")
{
    std::vector<std::vector<std::uint64_t>> ids;
    for (auto b : filling_source(25) | sb::views::chunk(10)) {
        ids.emplace_back();
        for (record const& r : b)
            ids.back().push_back(r.id);
    }
    REQUIRE(ids.size() == 3);
    CHECK(ids[2] == std::vector<std::uint64_t>{20, 21, 22, 23, 24});
}

TEST_CASE("records that cannot be move-assigned are destroyed before the next batch", "[recycling]")
{
    static_assert(!std::is_move_assignable_v<counted>);
    int const before = counted::alive;
    std::uint64_t next = 0;
    std::vector<std::size_t> sizes;
    counted_source src;
    src.count = 95;
    for (auto b : src | sb::views::chunk(10)) {
        CHECK(counted::alive - before == int(b.size())); // the previous batch's are gone
        for (counted const& c : b)
            REQUIRE(c.id == next++);
        sizes.push_back(b.size());
    }
    CHECK(next == 95);
    CHECK(sizes.back() == 5);
    CHECK(counted::alive == before);
}

namespace {
/// A single-pass source of std::pmr::strings drawn from a resource, two long then one short (a
/// short one fits the string's own buffer: moved into a slot that owns heap storage, libstdc++
/// copies it into that storage).
class pmr_source : public std::ranges::view_interface<pmr_source> {
    std::uint64_t count_ = 0;
    std::pmr::memory_resource* resource_ = nullptr; // (a polymorphic_allocator is not assignable)

public:
    static std::string text(std::uint64_t i)
    {
        return i % 3 != 0 ? std::string(64, char('a' + i % 26)) : "s" + std::to_string(i);
    }
    class iterator {
        pmr_source const* src_ = nullptr;
        std::uint64_t i_ = 0;
        mutable std::pmr::string current_;

        void make() { current_.assign(text(i_)); }

    public:
        using value_type = std::pmr::string;
        using difference_type = std::ptrdiff_t;
        using iterator_concept = std::input_iterator_tag;
        iterator() = default;
        explicit iterator(pmr_source const& s) : src_(&s), current_(s.resource_)
        {
            if (s.count_ > 0)
                make();
        }
        std::pmr::string& operator*() const noexcept { return current_; }
        iterator& operator++()
        {
            if (++i_ < src_->count_)
                make();
            return *this;
        }
        void operator++(int) { ++*this; }
        friend bool operator==(iterator const& it, std::default_sentinel_t) noexcept
        {
            return it.i_ >= it.src_->count();
        }
    };
    pmr_source() = default;
    pmr_source(std::uint64_t n, std::pmr::memory_resource* r) : count_(n), resource_(r) {}
    std::uint64_t count() const noexcept { return count_; }
    iterator begin() const { return iterator(*this); }
    std::default_sentinel_t end() const noexcept { return std::default_sentinel; }
};
} // namespace

static_assert(sb::recycle_records<std::string> && sb::recycle_records<record>);
static_assert(!sb::recycle_records<std::pmr::string>);
static_assert(!sb::recycle_records<counted>);

TEST_CASE("records on a polymorphic allocator are not recycled: a batch_arena reset after each "
          "batch leaves every record whole",
          "[recycling]")
{
    // Recycled, a slot's record kept writing short strings into storage of an earlier batch's
    // arena generation, which reset() hands out again: two slots came to share one buffer.
    sb::batch_arena arena({.block_bytes = 4096, .generations = 2});
    std::uint64_t i = 0;
    for (auto batch : pmr_source(40, &arena) | sb::views::chunk(2)) {
        for (auto const& s : batch) {
            CHECK(std::string_view(s) == pmr_source::text(i));
            ++i;
        }
        arena.reset();
    }
    CHECK(i == 40);
}

namespace {
/// Counts its moves, copies and live instances; move-assignable, nothrow default-constructible:
/// a record that a source of values has built in its slot, without a move.
struct tallied {
    static inline int alive = 0;
    static inline int moves = 0; // move constructions and move assignments
    static inline int copies = 0;
    std::uint64_t id = 0;
    payload_string payload;
    tallied() noexcept { ++alive; }
    tallied(std::uint64_t i) : id(i), payload(200, char('a' + i % 26)) { ++alive; }
    tallied(tallied const& o) : id(o.id), payload(o.payload) { ++alive, ++copies; }
    tallied(tallied&& o) noexcept : id(o.id), payload(std::move(o.payload)) { ++alive, ++moves; }
    tallied& operator=(tallied const& o)
    {
        id = o.id, payload = o.payload, ++copies;
        return *this;
    }
    tallied& operator=(tallied&& o) noexcept
    {
        id = o.id, payload = std::move(o.payload), ++moves;
        return *this;
    }
    ~tallied() { --alive; }
};

/// The clean step of a pipeline that cleans before batching: a value per record; throws at
/// `fail_at` (when set) with a message naming the record.
struct make_tallied {
    std::uint64_t fail_at = ~std::uint64_t{0};
    tallied operator()(std::uint64_t i) const
    {
        if (i == fail_at)
            throw std::runtime_error("cannot clean record " + std::to_string(i));
        return tallied(i);
    }
};

/// std::views::iota made single-pass (an input view of the numbers, as a file of ids would be).
struct ids : std::ranges::view_interface<ids> {
    std::uint64_t count = 0;
    struct iterator {
        std::uint64_t const* count = nullptr;
        std::uint64_t i = 0;
        using value_type = std::uint64_t;
        using difference_type = std::ptrdiff_t;
        using iterator_concept = std::input_iterator_tag;
        std::uint64_t operator*() const { return i; }
        iterator& operator++()
        {
            ++i;
            return *this;
        }
        void operator++(int) { ++i; }
        friend bool operator==(iterator const& it, std::default_sentinel_t) noexcept
        {
            return it.i >= *it.count;
        }
    };
    iterator begin() const { return {&count, 0}; }
    std::default_sentinel_t end() const noexcept { return std::default_sentinel; }
};
static_assert(std::ranges::input_range<ids> && !std::ranges::forward_range<ids>);
} // namespace

TEST_CASE("records a source yields by value are built in their slots, never moved, after the "
          "first batch",
          "[recycling]")
{
    tallied::moves = tallied::copies = 0;
    int const before = tallied::alive;
    std::uint64_t next = 0, batches = 0;
    int moves_after_first = -1;
    std::vector<std::size_t> sizes;
    ids src;
    src.count = 1005;
    auto cleaned = src | std::views::transform(make_tallied{});
    for (sb::batch<tallied> b : cleaned | sb::views::chunk(100)) {
        if (batches == 1)
            moves_after_first = tallied::moves; // the first batch's records went in by push_back
        CHECK(tallied::alive - before == int(b.size())); // the previous batch's are gone
        for (tallied const& r : b) {
            REQUIRE(r.id == next);
            REQUIRE(holds_letters(r.payload, next));
            ++next;
        }
        sizes.push_back(b.size());
        ++batches;
    }
    CHECK(next == 1005);
    CHECK(batches == 11);
    CHECK(sizes.back() == 5);
    CHECK(moves_after_first <= 100);            // the first batch: at most one move each
    CHECK(tallied::moves == moves_after_first); // later batches: built in place
    CHECK(tallied::copies == 0);
    CHECK(tallied::alive == before);
}

TEST_CASE("a source of values that throws mid-batch leaves every slot a record: nothing leaks, "
          "nothing is destroyed twice",
          "[recycling]")
{
    int const before = tallied::alive;
    std::uint64_t seen = 0;
    ids src;
    src.count = 100;
    auto cleaned = src | std::views::transform(make_tallied{.fail_at = 47});
    {
        auto view = cleaned | sb::views::memory_guarded(20, scripted{{20}});
        try {
            for (auto b : view)
                for (tallied const& r : b)
                    REQUIRE(r.id == seen++);
            FAIL("no exception");
        } catch (std::runtime_error const& e) {
            CHECK(std::string_view(e.what()) == "cannot clean record 47");
        }
        CHECK(seen == 40); // two whole batches read, the third failed at its 8th record
        CHECK(tallied::alive - before == 20); // the buffer's 20 slots are all records
    }
    CHECK(tallied::alive == before);
}
