// Tests of streambatch::batch_arena: std::pmr strings drawn from it, memory recycled after
// `generations` resets and never asked of upstream again in the steady state, trim() and
// release() giving blocks back, large and over-aligned allocations, invalid options.

#include <streambatch/guard/batch_arena.hpp>

#include <catch2/catch.hpp>

#include <cstddef>
#include <cstdint>
#include <memory_resource>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sb = streambatch;
using Catch::Matchers::Contains;

namespace {

/// An upstream that counts what it hands out and gets back.
class counting_resource : public std::pmr::memory_resource {
public:
    std::size_t live_bytes = 0;
    std::uint64_t allocations = 0, deallocations = 0;

private:
    void* do_allocate(std::size_t n, std::size_t a) override
    {
        live_bytes += n;
        ++allocations;
        return std::pmr::new_delete_resource()->allocate(n, a);
    }
    void do_deallocate(void* p, std::size_t n, std::size_t a) override
    {
        live_bytes -= n;
        ++deallocations;
        std::pmr::new_delete_resource()->deallocate(p, n, a);
    }
    bool do_is_equal(std::pmr::memory_resource const& o) const noexcept override
    {
        return this == &o;
    }
};

/// One batch of `n` 450-byte records' payloads, drawn from `arena`.
std::vector<std::pmr::string> make_batch(sb::batch_arena& arena, std::size_t n, char letter)
{
    std::vector<std::pmr::string> batch;
    for (std::size_t i = 0; i < n; ++i)
        batch.emplace_back(450, letter, &arena);
    return batch;
}

bool inside(void const* p, std::vector<std::pair<char const*, char const*>> const& ranges)
{
    for (auto [b, e] : ranges)
        if (static_cast<char const*>(p) >= b && static_cast<char const*>(p) < e)
            return true;
    return false;
}

} // namespace

TEST_CASE("batch_arena: batches recycle its blocks and upstream is not asked again")
{
    counting_resource up;
    sb::batch_arena arena({.block_bytes = 64 * 1024}, &up);
    for (int b = 0; b < 3; ++b) {
        auto batch = make_batch(arena, 1000, char('a' + b));
        CHECK(std::string_view(batch.back()) == std::string(450, char('a' + b)));
        arena.reset();
    }
    std::uint64_t const warm = arena.upstream_allocations();
    std::size_t const capacity = arena.capacity();
    CHECK(warm == up.allocations);
    CHECK(capacity == up.live_bytes);
    CHECK(capacity >= 2 * 1000 * 450); // two live generations of a batch
    for (int b = 0; b < 100; ++b) {
        auto batch = make_batch(arena, 1000, 'x');
        CHECK(arena.bytes_in_use() >= 1000 * 450);
        arena.reset();
    }
    CHECK(arena.upstream_allocations() == warm); // flat: nothing asked of upstream
    CHECK(arena.capacity() == capacity);
    CHECK(up.deallocations == 0);
    CHECK(arena.resets() == 103);
}

TEST_CASE("batch_arena: memory stays valid for one reset and is reused after the second")
{
    sb::batch_arena arena({.block_bytes = 4096});
    std::pmr::string ahead(3000, 'k', &arena); // a record a lazy source made ahead of the batch
    char const* const where = ahead.data();
    std::size_t const in_use = arena.bytes_in_use();
    CHECK(in_use >= 3001);
    arena.reset();                            // the batch is done: `ahead` belongs to the next one
    CHECK(arena.bytes_in_use() == in_use);    // still live: its generation is the previous one
    std::pmr::string next(3000, 'n', &arena); // a new block: the old one is not reused yet
    CHECK(std::string_view(ahead) == std::string(3000, 'k'));
    CHECK(next.data() != where);
    arena.reset(); // now `ahead`'s generation is two resets old: recycled
    CHECK(arena.bytes_in_use() < in_use + 3001);
    std::pmr::string reuse(3000, 'r', &arena);
    CHECK(reuse.data() == where);
    CHECK(arena.spare_bytes() == 0);
}

TEST_CASE("batch_arena: with 3 generations an allocation survives two resets")
{
    sb::batch_arena arena({.block_bytes = 4096, .generations = 3});
    std::pmr::string first(1000, 'f', &arena);
    std::vector<std::pair<char const*, char const*>> blocks{
        {first.data(), first.data() + 4096 - 64}};
    arena.reset();
    arena.reset();
    std::pmr::string other(3500, 'o', &arena);
    CHECK_FALSE(inside(other.data(), blocks)); // first's block is still live
    CHECK(std::string_view(first) == std::string(1000, 'f'));
    arena.reset();
    std::pmr::string again(1000, 'a', &arena);
    CHECK(again.data() == first.data());
}

TEST_CASE("batch_arena: trim and release give blocks back to upstream")
{
    counting_resource up;
    sb::batch_arena arena({.block_bytes = 8192}, &up);
    {
        auto big = make_batch(arena, 200, 'b'); // ~90 KB: 12 blocks
    }
    arena.reset();
    arena.reset(); // both generations recycled: every block is spare
    CHECK(arena.bytes_in_use() == 0);
    CHECK(arena.spare_bytes() == arena.capacity());
    std::size_t const before = up.live_bytes;
    CHECK(before >= 90'000);
    std::size_t const freed = arena.trim(3 * 8192);
    CHECK(freed == before - 3 * 8192);
    CHECK(up.live_bytes == 3 * 8192);
    CHECK(arena.capacity() == 3 * 8192);
    {
        std::pmr::string s(100, 's', &arena);
        CHECK(arena.upstream_allocations() == up.allocations); // a spare block served it
        arena.release();
    }
    CHECK(up.live_bytes == 0);
    CHECK(up.deallocations == up.allocations);
    CHECK(arena.capacity() == 0);
    CHECK(arena.bytes_in_use() == 0);
    std::pmr::string after(100, 'z', &arena); // usable again
    CHECK(std::string_view(after) == std::string(100, 'z'));
}

TEST_CASE("batch_arena: large and over-aligned allocations")
{
    counting_resource up;
    sb::batch_arena arena({.block_bytes = 1024}, &up);
    void* big = arena.allocate(10'000, 8);
    CHECK(up.live_bytes >= 10'000); // a block of its own
    void* small = arena.allocate(10, 1);
    void* aligned = arena.allocate(64, 256);
    CHECK(reinterpret_cast<std::uintptr_t>(aligned) % 256 == 0);
    void* huge_aligned = arena.allocate(4096, 4096);
    CHECK(reinterpret_cast<std::uintptr_t>(huge_aligned) % 4096 == 0);
    arena.deallocate(big, 10'000, 8); // does nothing
    arena.deallocate(small, 10, 1);
    CHECK(arena.bytes_in_use() >= 10'000 + 10 + 64 + 4096);
    CHECK(arena.is_equal(arena));
    sb::batch_arena other;
    CHECK_FALSE(arena.is_equal(other));
}

TEST_CASE("batch_arena: invalid options name the arena and the option")
{
    CHECK_THROWS_WITH(sb::batch_arena({.block_bytes = 10}),
                      "streambatch::batch_arena: block_bytes = 10: must be at least 64");
    CHECK_THROWS_WITH(sb::batch_arena({.generations = 0}),
                      Contains("streambatch::batch_arena: generations = 0: must be at least 1"));
    CHECK_THROWS_WITH(sb::batch_arena({}, nullptr), "streambatch::batch_arena: upstream = nullptr");
}
