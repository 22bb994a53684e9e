// bench/records.hpp: the records, sources, clean step and sink that every benchmark and the
// whole-process harness share, so that each adaptor and its baseline do exactly the same work.
//
// In:     a record count and a payload size (default 450 bytes: records of about 500 bytes).
// Out:    - bench::record: {id, short name, ~450-byte payload}, the micro-benchmarks' record;
//         - bench::raw_record / bench::customer: the harness's record as read (text fields) and
//           as cleaned (trimmed, lower-cased name, parsed id, payload moved over);
//         - bench::lazy_source<Maker>: a single-pass view that makes each record when its
//           iterator reaches it (like a file or a cursor) and keeps nothing: a record is moved
//           out by whoever batches it, and the source builds the next one in its place;
//         - bench::clean(), bench::sink_value(): the light clean step and the stand-in sink.
// Models: lazy_source is an input_range (single pass), default-constructible and copyable, so
//         range-v3 0.12 takes it as a view too (once ranges::enable_view is set for it).
// Memory: one 1 MiB pool of random letters that payloads are cut from, so every record's
//         payload is a distinct 450-byte string at a distinct offset (the Python program cuts
//         its payloads from a pool the same way; a constant would be shared by CPython).
// Example:
//     for (auto&& b : bench::raw_source(1'000'000) | streambatch::views::chunk(100))
//         for (auto& r : b) sum += bench::sink_value(bench::clean(std::move(r)));

#ifndef STREAMBATCH_BENCH_RECORDS_HPP_INCLUDED
#define STREAMBATCH_BENCH_RECORDS_HPP_INCLUDED

#include <streambatch/record_bytes.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <ranges>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

namespace bench {

inline constexpr std::size_t default_payload_bytes = 450;
inline constexpr std::size_t pool_bytes = std::size_t{1} << 20;
inline constexpr std::size_t max_payload_bytes = 64 * 1024;

/// 1 MiB (+ the largest payload) of pseudo-random lower-case letters, made once.
inline std::string const& payload_pool()
{
    static std::string const pool = [] {
        std::string s(pool_bytes + max_payload_bytes, ' ');
        std::uint64_t x = 0x9E3779B97F4A7C15ull;
        for (char& c : s) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            c = static_cast<char>('a' + x % 26);
        }
        return s;
    }();
    return pool;
}

/// Where record i's payload starts in the pool: 7919 is odd, so the first 2^20 offsets differ.
constexpr std::size_t payload_offset(std::uint64_t i) noexcept
{
    return static_cast<std::size_t>((i * 7919u) % pool_bytes);
}

// --- the micro-benchmarks' record --------------------------------------------------------

struct record {
    std::int64_t id = 0;
    std::string name;    ///< short: fits the small-string buffer, as most names do
    std::string payload; ///< ~450 bytes on the heap
};

/// What adaptive_chunk weighs: the struct plus the heap the payload owns (found by ADL).
inline std::size_t record_bytes(record const& r) noexcept
{
    return sizeof r + (streambatch::record_bytes(r.name) - sizeof r.name) +
           (streambatch::record_bytes(r.payload) - sizeof r.payload);
}

// The record maker is compiled the same way whatever the translation unit around it. GCC's
// unit-wide inlining budget (--param inline-unit-growth) used to decide whether std::to_chars
// was inlined into it, so a change to any library header in the same benchmark moved the
// benchmark's instruction count (issue 11: the guarded pipeline's +1.42 % between fa1deb0 and
// 0.2.0 was all __to_chars_10_impl called out of line). flatten: everything it calls is inlined
// into it, without asking the budget; noipa (noinline on clang): it is never inlined, cloned or
// specialised into its callers. So a record costs the same instructions in every benchmark and
// every tree, and bench/compare_trees.sh gives BASE this same file and can count it apart.
#if defined(__GNUC__) && !defined(__clang__)
#    define STREAMBATCH_BENCH_OUT_OF_LINE [[gnu::noipa, gnu::flatten]]
#else
#    define STREAMBATCH_BENCH_OUT_OF_LINE [[gnu::noinline, gnu::flatten]]
#endif

/// Fills `out` with record i (assigning into it reuses whatever capacity it still has).
STREAMBATCH_BENCH_OUT_OF_LINE inline void make_record(std::uint64_t i, std::size_t payload_bytes,
                                                      record& out)
{
    char buf[24] = "cust ";
    auto const end = std::to_chars(buf + 5, buf + sizeof buf, i % 1'000'000).ptr;
    out.id = static_cast<std::int64_t>(i + 1);
    out.name.assign(buf, end);
    out.payload.assign(payload_pool().data() + payload_offset(i), payload_bytes);
}

inline record make_record(std::uint64_t i, std::size_t payload_bytes = default_payload_bytes)
{
    record r;
    make_record(i, payload_bytes, r);
    return r;
}

/// The stand-in for "send this record to the sink": reads the record, never its heap.
inline std::uint64_t consume(record const& r) noexcept
{
    return static_cast<std::uint64_t>(r.id) + r.name.size() + r.payload.size();
}

// --- the harness's records: as read, and as cleaned ---------------------------------------

struct raw_record { // text fields, padded as a CSV or a fixed-width file would give them
    std::string id;
    std::string name;
    std::string payload;
};

struct customer { // what the sink wants
    std::int64_t id = 0;
    std::string name;
    std::string payload;
};

/// Record i as the source gives it: id "  <i+1> ", name "  Customer <k>  ", payload.
inline void make_raw_record(std::uint64_t i, std::size_t payload_bytes, raw_record& out)
{
    char buf[48] = "  ";
    char* p = std::to_chars(buf + 2, buf + sizeof buf, i + 1).ptr;
    *p++ = ' ';
    out.id.assign(buf, p);
    std::string_view const prefix = "  Customer ";
    p = std::copy(prefix.begin(), prefix.end(), buf);
    p = std::to_chars(p, buf + sizeof buf, (i * 2654435761u) % 1000003u).ptr;
    *p++ = ' ';
    *p++ = ' ';
    out.name.assign(buf, p);
    out.payload.assign(payload_pool().data() + payload_offset(i), payload_bytes);
}

/// The light clean step: trim and lower-case the name, parse the id, build a new record.
inline customer clean(raw_record&& r)
{
    auto trim = [](std::string_view s) {
        auto const b = s.find_first_not_of(' ');
        auto const e = s.find_last_not_of(' ');
        return b == std::string_view::npos ? std::string_view{} : s.substr(b, e - b + 1);
    };
    customer c;
    auto const id = trim(r.id);
    if (std::from_chars(id.data(), id.data() + id.size(), c.id).ec != std::errc())
        throw std::runtime_error("bad id '" + r.id + "'");
    c.name = trim(r.name);
    std::transform(c.name.begin(), c.name.end(), c.name.begin(),
                   [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
    c.payload = std::move(r.payload);
    return c;
}

/// The stand-in sink: reads the id, the cleaned name (its length and first letter, so a wrong
/// clean shows) and the payload's length. python/etl_design.py computes the same checksum.
inline std::uint64_t sink_value(customer const& c) noexcept
{
    return static_cast<std::uint64_t>(c.id) + c.name.size() +
           (c.name.empty() ? 0u : static_cast<unsigned char>(c.name[0])) + c.payload.size();
}

// --- a lazy single-pass source ------------------------------------------------------------

/// Makes record i into the source's own buffer when the iterator reaches it; nothing is kept.
/// Maker: `void operator()(std::uint64_t i, Rec& out) const`.
template <class Rec, class Maker>
class lazy_source : public std::ranges::view_interface<lazy_source<Rec, Maker>> {
    std::uint64_t count_ = 0;
    Maker make_{};

public:
    class iterator {
        lazy_source const* src_ = nullptr;
        std::uint64_t i_ = 0;
        mutable Rec current_{}; // the source's buffer: a batch moves records out of it

    public:
        using value_type = Rec;
        using difference_type = std::ptrdiff_t;
        using iterator_concept = std::input_iterator_tag;

        iterator() = default;
        explicit iterator(lazy_source const& s) : src_(&s)
        {
            if (s.count_ > 0)
                s.make_(0, current_);
        }
        Rec& operator*() const noexcept { return current_; }
        iterator& operator++()
        {
            if (++i_ < src_->count_)
                src_->make_(i_, current_);
            return *this;
        }
        void operator++(int) { ++*this; }
        friend bool operator==(iterator const& it, std::default_sentinel_t) noexcept
        {
            return it.i_ >= it.src_->count();
        }
    };

    lazy_source() = default;
    lazy_source(std::uint64_t count, Maker make) : count_(count), make_(std::move(make)) {}

    iterator begin() const { return iterator(*this); }
    std::default_sentinel_t end() const noexcept { return std::default_sentinel; }
    std::uint64_t count() const noexcept { return count_; } ///< records it will make
};

struct record_maker {
    std::size_t payload_bytes = default_payload_bytes;
    void operator()(std::uint64_t i, record& out) const { make_record(i, payload_bytes, out); }
};
struct raw_record_maker {
    std::size_t payload_bytes = default_payload_bytes;
    void operator()(std::uint64_t i, raw_record& out) const
    {
        make_raw_record(i, payload_bytes, out);
    }
};

using record_source = lazy_source<record, record_maker>;
using raw_record_source = lazy_source<raw_record, raw_record_maker>;

inline record_source records(std::uint64_t n, std::size_t payload_bytes = default_payload_bytes)
{
    return {n, record_maker{payload_bytes}};
}
inline raw_record_source raw_records(std::uint64_t n,
                                     std::size_t payload_bytes = default_payload_bytes)
{
    return {n, raw_record_maker{payload_bytes}};
}

static_assert(std::ranges::input_range<record_source>);
static_assert(!std::ranges::forward_range<record_source>);
static_assert(std::ranges::view<record_source>);

} // namespace bench

#endif // STREAMBATCH_BENCH_RECORDS_HPP_INCLUDED
