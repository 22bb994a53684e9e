// A row moved over another hands that row's allocation back (csv::row's move assignment), so a
// reader batched through views::chunk refills the previous batch's allocations: no allocation
// per row in the steady state. Counts this thread's allocations with a replaced operator new.

#include <streambatch/io/csv.hpp>
#include <streambatch/views/chunk.hpp>

#include <catch2/catch.hpp>

#include <cstddef>
#include <cstdlib>
#include <new>
#include <ranges>
#include <sstream>
#include <string>
#include <vector>

namespace {
thread_local long allocations = 0; // this thread's, so other threads' do not disturb the count
} // namespace

void* operator new(std::size_t n)
{
    ++allocations;
    if (void* p = std::malloc(n == 0 ? 1 : n))
        return p;
    throw std::bad_alloc();
}
void operator delete(void* p) noexcept
{
    std::free(p);
}
void operator delete(void* p, std::size_t) noexcept
{
    std::free(p);
}
// The rest of the (unaligned) family, so that nothing allocated by one form is freed by another
// (ASan's alloc-dealloc-mismatch): every form goes to malloc and free.
void* operator new[](std::size_t n)
{
    return ::operator new(n);
}
void* operator new(std::size_t n, std::nothrow_t const&) noexcept
{
    try {
        return ::operator new(n);
    } catch (...) {
        return nullptr;
    }
}
void* operator new[](std::size_t n, std::nothrow_t const&) noexcept
{
    try {
        return ::operator new(n);
    } catch (...) {
        return nullptr;
    }
}
void operator delete[](void* p) noexcept
{
    std::free(p);
}
void operator delete[](void* p, std::size_t) noexcept
{
    std::free(p);
}
void operator delete(void* p, std::nothrow_t const&) noexcept
{
    std::free(p);
}
void operator delete[](void* p, std::nothrow_t const&) noexcept
{
    std::free(p);
}

namespace {

namespace csv = streambatch::csv;
namespace sb = streambatch;

std::string customers(int n)
{
    std::string text = "id,name,email\n";
    for (int i = 0; i < n; ++i)
        text += std::to_string(100000 + i) + ",Some Body " + std::to_string(i % 10) + ",some.body" +
                std::to_string(i % 10) + "@example.com\n";
    return text;
}

/// Allocations while reading all of `text` through views::chunk(100), every field looked at.
long allocations_reading(std::string const& text, long& rows)
{
    std::istringstream in(text);
    csv::reader r(in);
    long const before = allocations;
    rows = 0;
    for (sb::batch<csv::row> b : std::ranges::ref_view(r) | sb::views::chunk(100))
        for (csv::row const& row : b)
            rows += row.at("email").size() > 0 ? 1 : 0;
    return allocations - before;
}

} // namespace

TEST_CASE("a chunked reader recycles its rows' allocations", "[csv][row][alloc]")
{
    long rows_small = 0, rows_large = 0;
    long const small = allocations_reading(customers(1'000), rows_small);
    long const large = allocations_reading(customers(20'000), rows_large);
    CHECK(rows_small == 1'000);
    CHECK(rows_large == 20'000);
    INFO("allocations: " << small << " for 1 000 rows, " << large << " for 20 000");
    // The first batch's rows (and the reader's own) are allocated once, then recycled: 19 000
    // more rows cost no allocation (before: one each).
    CHECK(large - small < 50);
}

TEST_CASE("a row moved over another swaps allocations and is left empty", "[csv][row]")
{
    std::istringstream a_in("x,y\n1,2\n3,4\n");
    std::istringstream b_in("y,x\n5,6\n");
    csv::reader a(a_in);
    csv::reader b(b_in);
    csv::row slot = *b.begin(); // a copy: a row of another file, header y,x
    REQUIRE(slot.at("x") == "6");

    auto it = a.begin();
    char const* const a_bytes = (*it)[0].data();
    slot = std::ranges::iter_move(it); // the slot takes a's row; a's current row gets b's copy
    CHECK(slot.at("x") == "1");
    CHECK(slot[0].data() == a_bytes); // moved, not copied
    CHECK(it->size() == 0);           // the moved-from row is empty
    CHECK(it->line() == 0);

    ++it; // a refills its row (the old slot's allocation) with its own header, not b's
    CHECK(it->at("x") == "3");
    CHECK(it->at("y") == "4");
    CHECK(it->line() == 3);
    CHECK(slot.at("y") == "2");
}
