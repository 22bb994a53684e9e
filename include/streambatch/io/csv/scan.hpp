// streambatch/io/csv/scan.hpp: find the next byte that matters to the CSV parser.
//
// In:     a byte range [p, p + n) that may be read (not used) up to scan_padding bytes past its
//         end, and a stop_set of up to five byte values (repeat one to use fewer).
// Out:    find_stop(p, n, set): the index of the first byte of [p, p + n) in the set, or n.
//         classify64(p, delim, quote): two 64-bit masks of [p, p + 64), delimiters and the
//         rest (quote, CR, LF, NUL), which the parser walks a set bit at a time (simdcsv's way).
//         count_line_breaks(p, n): LF, CRLF and lone CR each count as one line break.
//         count_byte(p, n, c): how many bytes of [p, p + n) are c.
// Models: plain functions. SSE2 (every x86-64) compares 16 bytes a step, AVX2 32 when the
//         compiler targets it (-mavx2, -march=native); elsewhere a 256-entry table, a byte a step.
// Memory: none. The caller owns the padding: the CSV reader's block buffer has scan_padding
//         spare bytes after its end.
// Errors: none (noexcept).
// Example:
//     streambatch::csv::detail::stop_set const s(',', '"', '\n', '\r', '\0');
//     std::size_t i = streambatch::csv::detail::find_stop(buf, len, s);   // buf is padded

#ifndef STREAMBATCH_IO_CSV_SCAN_HPP_INCLUDED
#define STREAMBATCH_IO_CSV_SCAN_HPP_INCLUDED

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>

#if defined(__AVX2__)
#    include <immintrin.h>
#elif defined(__SSE2__) || defined(_M_X64)
#    include <emmintrin.h>
#endif

namespace streambatch::csv::detail {

/// Bytes past the end of a scanned range that find_stop may load (and ignore).
inline constexpr std::size_t scan_padding = 64;

/// Up to five byte values to stop at, and the same as a table for the scalar path.
struct stop_set {
    std::array<char, 5> bytes{};
    std::array<bool, 256> table{};

    constexpr stop_set() = default;
    constexpr stop_set(char a, char b, char c, char d, char e) noexcept : bytes{a, b, c, d, e}
    {
        for (char x : bytes)
            table[static_cast<unsigned char>(x)] = true;
    }
    constexpr bool contains(char x) const noexcept { return table[static_cast<unsigned char>(x)]; }
};

/// Index of the first byte of [p, p + n) that is in `s`, or n. Reads up to scan_padding bytes
/// past p + n when vectorised.
inline std::size_t find_stop(char const* p, std::size_t n, stop_set const& s) noexcept
{
#if defined(__AVX2__)
    __m256i const v0 = _mm256_set1_epi8(s.bytes[0]), v1 = _mm256_set1_epi8(s.bytes[1]),
                  v2 = _mm256_set1_epi8(s.bytes[2]), v3 = _mm256_set1_epi8(s.bytes[3]),
                  v4 = _mm256_set1_epi8(s.bytes[4]);
    for (std::size_t i = 0; i < n; i += 32) {
        __m256i const x = _mm256_loadu_si256(reinterpret_cast<__m256i const*>(p + i));
        __m256i const m = _mm256_or_si256(
            _mm256_or_si256(_mm256_or_si256(_mm256_cmpeq_epi8(x, v0), _mm256_cmpeq_epi8(x, v1)),
                            _mm256_or_si256(_mm256_cmpeq_epi8(x, v2), _mm256_cmpeq_epi8(x, v3))),
            _mm256_cmpeq_epi8(x, v4));
        auto const bits = static_cast<std::uint32_t>(_mm256_movemask_epi8(m));
        if (bits != 0) {
            std::size_t const k = i + static_cast<std::size_t>(std::countr_zero(bits));
            return k < n ? k : n;
        }
    }
    return n;
#elif defined(__SSE2__) || defined(_M_X64)
    __m128i const v0 = _mm_set1_epi8(s.bytes[0]), v1 = _mm_set1_epi8(s.bytes[1]),
                  v2 = _mm_set1_epi8(s.bytes[2]), v3 = _mm_set1_epi8(s.bytes[3]),
                  v4 = _mm_set1_epi8(s.bytes[4]);
    for (std::size_t i = 0; i < n; i += 16) {
        __m128i const x = _mm_loadu_si128(reinterpret_cast<__m128i const*>(p + i));
        __m128i const m =
            _mm_or_si128(_mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, v0), _mm_cmpeq_epi8(x, v1)),
                                      _mm_or_si128(_mm_cmpeq_epi8(x, v2), _mm_cmpeq_epi8(x, v3))),
                         _mm_cmpeq_epi8(x, v4));
        auto const bits = static_cast<std::uint32_t>(_mm_movemask_epi8(m));
        if (bits != 0) {
            std::size_t const k = i + static_cast<std::size_t>(std::countr_zero(bits));
            return k < n ? k : n;
        }
    }
    return n;
#else
    for (std::size_t i = 0; i < n; ++i)
        if (s.contains(p[i]))
            return i;
    return n;
#endif
}

/// The two masks the parser walks, for the 64 bytes from p: bit i of `delims` is set when
/// p[i] is the delimiter, bit i of `specials` when it is the quote, LF, CR or NUL.
struct masks64 {
    std::uint64_t delims;
    std::uint64_t specials;
};

#if defined(__GNUC__) || defined(__clang__)
[[gnu::always_inline]]
#endif
inline masks64
classify64(char const* p, char delim, char quote) noexcept
{
#if defined(__AVX2__)
    __m256i const vd = _mm256_set1_epi8(delim), vq = _mm256_set1_epi8(quote),
                  vlf = _mm256_set1_epi8('\n'), vcr = _mm256_set1_epi8('\r'),
                  vz = _mm256_setzero_si256();
    masks64 m{0, 0};
    for (int h = 0; h < 2; ++h) {
        __m256i const x = _mm256_loadu_si256(reinterpret_cast<__m256i const*>(p + 32 * h));
        __m256i const s =
            _mm256_or_si256(_mm256_or_si256(_mm256_cmpeq_epi8(x, vq), _mm256_cmpeq_epi8(x, vz)),
                            _mm256_or_si256(_mm256_cmpeq_epi8(x, vlf), _mm256_cmpeq_epi8(x, vcr)));
        m.delims |= std::uint64_t{static_cast<std::uint32_t>(
                        _mm256_movemask_epi8(_mm256_cmpeq_epi8(x, vd)))}
                    << (32 * h);
        m.specials |= std::uint64_t{static_cast<std::uint32_t>(_mm256_movemask_epi8(s))}
                      << (32 * h);
    }
    return m;
#elif defined(__SSE2__) || defined(_M_X64)
    __m128i const vd = _mm_set1_epi8(delim), vq = _mm_set1_epi8(quote), vlf = _mm_set1_epi8('\n'),
                  vcr = _mm_set1_epi8('\r'), vz = _mm_setzero_si128();
    auto const x0 = _mm_loadu_si128(reinterpret_cast<__m128i const*>(p));
    auto const x1 = _mm_loadu_si128(reinterpret_cast<__m128i const*>(p + 16));
    auto const x2 = _mm_loadu_si128(reinterpret_cast<__m128i const*>(p + 32));
    auto const x3 = _mm_loadu_si128(reinterpret_cast<__m128i const*>(p + 48));
    auto const special = [&](__m128i x) {
        return _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, vq), _mm_cmpeq_epi8(x, vz)),
                            _mm_or_si128(_mm_cmpeq_epi8(x, vlf), _mm_cmpeq_epi8(x, vcr)));
    };
    auto const bits = [](__m128i m) {
        return std::uint64_t{static_cast<std::uint16_t>(_mm_movemask_epi8(m))};
    };
    // Two masks from one movemask each: pack the 16-bit halves.
    return masks64{bits(_mm_cmpeq_epi8(x0, vd)) | bits(_mm_cmpeq_epi8(x1, vd)) << 16 |
                       bits(_mm_cmpeq_epi8(x2, vd)) << 32 | bits(_mm_cmpeq_epi8(x3, vd)) << 48,
                   bits(special(x0)) | bits(special(x1)) << 16 | bits(special(x2)) << 32 |
                       bits(special(x3)) << 48};
#else
    masks64 m{0, 0};
    for (unsigned i = 0; i < 64; ++i) {
        char const c = p[i];
        m.delims |= std::uint64_t{c == delim} << i;
        m.specials |= std::uint64_t{c == quote || c == '\n' || c == '\r' || c == '\0'} << i;
    }
    return m;
#endif
}

/// How many bytes of [p, p + n) equal c. Reads up to 15 bytes past p + n when vectorised.
inline std::size_t count_byte(char const* p, std::size_t n, char c) noexcept
{
#if defined(__SSE2__) || defined(_M_X64)
    __m128i const v = _mm_set1_epi8(c);
    std::size_t total = 0;
    for (std::size_t i = 0; i < n; i += 16) {
        __m128i const x = _mm_loadu_si128(reinterpret_cast<__m128i const*>(p + i));
        auto bits = static_cast<std::uint32_t>(_mm_movemask_epi8(_mm_cmpeq_epi8(x, v)));
        if (n - i < 16)
            bits &= (std::uint32_t{1} << (n - i)) - 1;
        for (; bits != 0; bits &= bits - 1) // few per 16 bytes; std::popcount is a libgcc call
            ++total;                        // without -mpopcnt
    }
    return total;
#else
    std::size_t total = 0;
    for (std::size_t i = 0; i < n; ++i)
        total += p[i] == c;
    return total;
#endif
}

/// Line breaks in [p, p + n): LF, CRLF and a lone CR count one each. A CR at p[n - 1] counts
/// as one even if an LF follows outside the range (callers include the whole terminator).
inline std::uint64_t count_line_breaks(char const* p, std::size_t n) noexcept
{
    std::uint64_t lines = 0;
    for (std::size_t i = 0; i < n; ++i) {
        if (p[i] == '\r')
            ++lines;
        else if (p[i] == '\n' && (i == 0 || p[i - 1] != '\r'))
            ++lines;
    }
    return lines;
}

} // namespace streambatch::csv::detail

#endif // STREAMBATCH_IO_CSV_SCAN_HPP_INCLUDED
