// streambatch/io/parquet/detail/encode.hpp: Parquet's value and level encoders, and the pages
// that carry them (what parquet::writer uses; the reader's decoders are detail/encoding.hpp).
//
// In:     values of one column (bool, std::int32_t, std::int64_t, float, double, byte strings),
//         definition levels, dictionary indices; a codec for the pages.
// Out:    enc::plain_writer (PLAIN for every physical type but INT96: put(v), bytes(),
//         count()); enc::bit_width(max); enc::rle_hybrid(values, bit_width) and
//         rle_hybrid_append (the RLE/bit-packed hybrid: runs of 8 or more equal values as RLE
//         runs, the rest in bit-packed groups of 8); enc::dictionary<T> (distinct values in
//         first-seen order, their PLAIN bytes, index_of(v) or nullopt once the byte limit
//         is passed); enc::page (a header and its compressed bytes, written as one piece),
//         enc::data_page_v1(...), append_data_page_v1(out, ...) (the same page appended to a
//         buffer) and enc::dictionary_page(...); enc::page_crc(bytes).
// Models: parquet-format's Encodings.md: PLAIN (little-endian fixed widths, BOOLEAN bit-packed
//         LSB first, BYTE_ARRAY as a 4-byte length and the bytes), RLE/bit-packed hybrid (a
//         ULEB128 header: (count << 1) for an RLE run, (groups << 1) | 1 for bit-packed groups;
//         the last group padded with zeros), RLE_DICTIONARY data (one byte of bit width, then
//         the hybrid). A data page v1 holds [4-byte length + hybrid definition levels] (optional
//         columns only; required ones have none) then the values, compressed as a whole. The
//         page CRC is zlib's CRC-32 of the page's bytes after the header, as stored
//         (compressed), as parquet-format's PageHeader.crc says.
// Memory: one page's levels and values, and its compressed copy; per thread, buffers of the
//         largest page's raw and compressed size, kept for reuse (fresh memory each page costs
//         page faults and zero-filling).
// Errors: parquet::error from the codec (naming it and the sizes); std::length_error for a
//         page over 2 GiB (a page size is an i32 in the header).
// Example:
//     enc::plain_writer<std::int64_t> v;  v.put(7);  v.put(-1);
//     std::vector<std::uint8_t> defs{1, 0, 1};
//     auto p = enc::data_page_v1(compression_codec::snappy, defs, 1, v.bytes(), 3,
//                                   encoding::plain, true);
//     out.write(p.header); out.write(p.body);

#ifndef STREAMBATCH_IO_PARQUET_DETAIL_ENCODE_HPP_INCLUDED
#define STREAMBATCH_IO_PARQUET_DETAIL_ENCODE_HPP_INCLUDED

#include <streambatch/io/parquet/detail/codec.hpp>
#include <streambatch/io/parquet/errors.hpp>
#include <streambatch/io/parquet/metadata.hpp>

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <snappy-c.h>
#include <zlib.h>

namespace streambatch::parquet::enc {

/// Bits needed for values up to `max` (0 for 0).
inline constexpr int bit_width(std::uint64_t max) noexcept
{
    return max == 0 ? 0 : 64 - std::countl_zero(max);
}

inline void append_uleb128(std::vector<std::uint8_t>& out, std::uint64_t v)
{
    while (v >= 0x80) {
        out.push_back(static_cast<std::uint8_t>(v | 0x80));
        v >>= 7;
    }
    out.push_back(static_cast<std::uint8_t>(v));
}

inline void append_le32(std::vector<std::uint8_t>& out, std::uint32_t v)
{
    for (int i = 0; i < 4; ++i)
        out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}

namespace detail {

/// `n` values (n a multiple of 8, zero-padded by the caller) bit-packed LSB first.
inline void bit_pack(std::vector<std::uint8_t>& out, std::uint32_t const* v, std::size_t n,
                     int width)
{
    if (width == 0)
        return;
    std::uint64_t acc = 0;
    int bits = 0;
    for (std::size_t i = 0; i < n; ++i) {
        acc |= static_cast<std::uint64_t>(v[i]) << bits;
        bits += width;
        while (bits >= 8) {
            out.push_back(static_cast<std::uint8_t>(acc));
            acc >>= 8;
            bits -= 8;
        }
    }
    if (bits > 0) // n * width is a multiple of 8 when n is: never taken
        out.push_back(static_cast<std::uint8_t>(acc));
}

inline void rle_run(std::vector<std::uint8_t>& out, std::uint32_t value, std::size_t count,
                    int width)
{
    append_uleb128(out, static_cast<std::uint64_t>(count) << 1);
    int const bytes = (width + 7) / 8;
    for (int i = 0; i < bytes; ++i)
        out.push_back(static_cast<std::uint8_t>(value >> (8 * i)));
}

inline void literal_run(std::vector<std::uint8_t>& out, std::uint32_t const* v, std::size_t n,
                        int width)
{
    if (n == 0)
        return;
    std::size_t const groups = (n + 7) / 8;
    append_uleb128(out, (static_cast<std::uint64_t>(groups) << 1) | 1);
    std::size_t const whole = n / 8 * 8;
    bit_pack(out, v, whole, width);
    if (whole < n) {
        std::uint32_t last[8] = {};
        std::memcpy(last, v + whole, (n - whole) * sizeof(std::uint32_t));
        bit_pack(out, last, 8, width);
    }
}

} // namespace detail

/// Appends the RLE/bit-packed hybrid encoding of `values` (each < 2^width) to `out`.
inline void rle_hybrid_append(std::vector<std::uint8_t>& out, std::span<std::uint32_t const> values,
                              int width)
{
    std::size_t const n = values.size();
    std::size_t literal_start = 0, i = 0;
    while (i < n) {
        std::size_t run = 1;
        while (i + run < n && values[i + run] == values[i])
            ++run;
        if (run < 8) {
            i += run;
            continue;
        }
        // The literal before the run must be whole groups of 8: lend it values from the run.
        std::size_t const lit = i - literal_start;
        std::size_t const lend = lit % 8 == 0 ? 0 : 8 - lit % 8;
        if (run - lend < 8) {
            i += run;
            continue;
        }
        detail::literal_run(out, values.data() + literal_start, lit + lend, width);
        detail::rle_run(out, values[i], run - lend, width);
        i += run;
        literal_start = i;
    }
    detail::literal_run(out, values.data() + literal_start, n - literal_start, width);
}

/// The RLE/bit-packed hybrid encoding of `values`.
inline std::vector<std::uint8_t> rle_hybrid(std::span<std::uint32_t const> values, int width)
{
    std::vector<std::uint8_t> out;
    rle_hybrid_append(out, values, width);
    return out;
}

/// PLAIN encoding of one column's values. T: bool, std::int32_t, std::int64_t, float, double,
/// std::string (BYTE_ARRAY; put() takes a std::string_view).
template <class T>
class plain_writer {
    std::vector<std::uint8_t> bytes_;
    std::size_t count_ = 0;
    std::uint8_t bit_ = 0; // bool: bits used in the last byte

public:
    using value_type = T;
    using arg_type = std::conditional_t<std::is_same_v<T, std::string>, std::string_view, T>;

    void put(arg_type v)
    {
        ++count_;
        if constexpr (std::is_same_v<T, bool>) {
            if (bit_ == 0)
                bytes_.push_back(0);
            if (v)
                bytes_.back() = static_cast<std::uint8_t>(bytes_.back() | (1u << bit_));
            bit_ = static_cast<std::uint8_t>((bit_ + 1) % 8);
        } else if constexpr (std::is_same_v<T, std::string>) {
            static_assert(std::endian::native == std::endian::little, "little-endian hosts only");
            std::size_t const at = bytes_.size();
            auto const len = static_cast<std::uint32_t>(v.size());
            bytes_.resize(at + 4 + v.size());
            std::memcpy(bytes_.data() + at, &len, 4);
            if (!v.empty())
                std::memcpy(bytes_.data() + at + 4, v.data(), v.size());
        } else {
            static_assert(std::is_arithmetic_v<T>);
            static_assert(std::endian::native == std::endian::little, "little-endian hosts only");
            std::size_t const at = bytes_.size();
            bytes_.resize(at + sizeof(T));
            std::memcpy(bytes_.data() + at, &v, sizeof(T));
        }
    }
    std::span<std::uint8_t const> bytes() const noexcept { return bytes_; }
    std::size_t size() const noexcept { return bytes_.size(); }
    std::size_t count() const noexcept { return count_; }
    void clear() noexcept
    {
        bytes_.clear();
        count_ = 0;
        bit_ = 0;
    }
};

/// A column chunk's dictionary: distinct values in first-seen order and their PLAIN bytes.
/// index_of(v) gives v's index, adding it while the PLAIN bytes stay within `byte_limit`;
/// nullopt once a value does not fit (the caller then falls back to PLAIN for the rest of the
/// chunk; the dictionary is frozen: full() stays true).
template <class T>
class dictionary {
    // Open addressing: slots_ hold 1 + the value's index (0: empty); the values are kept as
    // they are (numbers) or as offsets into the PLAIN bytes (strings): no allocation per entry.
    std::vector<std::uint32_t> slots_;
    using stored = std::conditional_t<std::is_same_v<T, bool>, std::uint8_t, T>;
    std::vector<stored> numbers_;                               // not strings
    std::vector<std::pair<std::uint32_t, std::uint32_t>> strs_; // strings: offset, length
    plain_writer<T> plain_;
    std::size_t limit_;
    std::size_t count_ = 0;
    bool full_ = false;

    using arg = typename plain_writer<T>::arg_type;

    static std::uint64_t mix(std::uint64_t x) noexcept
    {
        x ^= x >> 33;
        x *= 0xff51afd7ed558ccdull;
        x ^= x >> 33;
        x *= 0xc4ceb9fe1a85ec53ull;
        return x ^ (x >> 33);
    }
    static std::uint64_t hash(arg v) noexcept
    {
        if constexpr (std::is_same_v<T, std::string>) {
            return std::hash<std::string_view>{}(v);
        } else {
            // by bits: -0.0 and 0.0 stay apart, NaN finds itself
            using U = std::conditional_t<sizeof(stored) <= 4, std::uint32_t, std::uint64_t>;
            U u = 0;
            stored const sv = static_cast<stored>(v);
            std::memcpy(&u, &sv, sizeof(stored));
            return mix(u);
        }
    }
    bool equal_at(std::uint32_t i, arg v) const noexcept
    {
        if constexpr (std::is_same_v<T, std::string>) {
            auto const [off, len] = strs_[i];
            return len == v.size() &&
                   (len == 0 || std::memcmp(plain_.bytes().data() + off, v.data(), len) == 0);
        } else {
            stored const sv = static_cast<stored>(v);
            return std::memcmp(&numbers_[i], &sv, sizeof(stored)) == 0;
        }
    }
    void grow()
    {
        std::vector<std::uint32_t> old = std::move(slots_);
        slots_.assign(old.empty() ? 1024 : old.size() * 2, 0);
        std::size_t const mask = slots_.size() - 1;
        for (std::uint32_t s : old) {
            if (s == 0)
                continue;
            std::uint32_t const i = s - 1;
            std::uint64_t h;
            if constexpr (std::is_same_v<T, std::string>)
                h = hash(std::string_view(reinterpret_cast<char const*>(plain_.bytes().data()) +
                                              strs_[i].first,
                                          strs_[i].second));
            else
                h = hash(static_cast<arg>(numbers_[i]));
            std::size_t at = h & mask;
            while (slots_[at] != 0)
                at = (at + 1) & mask;
            slots_[at] = s;
        }
    }

public:
    explicit dictionary(std::size_t byte_limit) : limit_(byte_limit) {}

    std::optional<std::uint32_t> index_of(arg v)
    {
        if (slots_.empty())
            grow();
        std::size_t const mask = slots_.size() - 1;
        std::size_t at = hash(v) & mask;
        for (; slots_[at] != 0; at = (at + 1) & mask)
            if (equal_at(slots_[at] - 1, v))
                return slots_[at] - 1;
        if (full_)
            return std::nullopt;
        std::size_t grow_by = sizeof(T);
        if constexpr (std::is_same_v<T, std::string>)
            grow_by = 4 + v.size();
        if (plain_.size() + grow_by > limit_ || count_ >= 0x7fffffffu) {
            full_ = true;
            return std::nullopt;
        }
        auto const i = static_cast<std::uint32_t>(count_++);
        if constexpr (std::is_same_v<T, std::string>)
            strs_.emplace_back(static_cast<std::uint32_t>(plain_.size() + 4),
                               static_cast<std::uint32_t>(v.size()));
        else
            numbers_.push_back(static_cast<stored>(v));
        plain_.put(v);
        slots_[at] = i + 1;
        if (2 * count_ > slots_.size())
            grow();
        return i;
    }
    /// The value of index `i` (< size()); a string's view is into bytes().
    arg value_at(std::uint32_t i) const noexcept
    {
        if constexpr (std::is_same_v<T, std::string>)
            return std::string_view(reinterpret_cast<char const*>(plain_.bytes().data()) +
                                        strs_[i].first,
                                    strs_[i].second);
        else
            return static_cast<arg>(numbers_[i]);
    }
    bool full() const noexcept { return full_; }
    std::size_t size() const noexcept { return count_; }
    std::size_t byte_size() const noexcept { return plain_.size(); }
    std::span<std::uint8_t const> bytes() const noexcept { return plain_.bytes(); }
    void clear() noexcept
    {
        slots_.clear();
        numbers_.clear();
        strs_.clear();
        plain_.clear();
        count_ = 0;
        full_ = false;
    }
};

/// RLE_DICTIONARY page data: one byte of bit width, then the hybrid of the indices.
inline void append_dictionary_indices(std::vector<std::uint8_t>& out,
                                      std::span<std::uint32_t const> indices,
                                      std::size_t dictionary_size)
{
    int const width = bit_width(dictionary_size == 0 ? 0 : dictionary_size - 1);
    out.push_back(static_cast<std::uint8_t>(width));
    rle_hybrid_append(out, indices, width);
}

/// zlib's CRC-32 of a page's stored bytes (parquet-format's PageHeader.crc).
inline std::int32_t page_crc(std::span<std::uint8_t const> bytes) noexcept
{
    uLong crc = ::crc32(0L, Z_NULL, 0);
    std::size_t at = 0;
    while (at < bytes.size()) {
        auto const n = static_cast<uInt>(std::min<std::size_t>(bytes.size() - at, 1u << 30));
        crc = ::crc32(crc, bytes.data() + at, n);
        at += n;
    }
    return static_cast<std::int32_t>(static_cast<std::uint32_t>(crc));
}

/// An encoded page: its Thrift header and its stored (compressed) bytes.
struct page {
    page_header header_struct;
    std::vector<std::uint8_t> header; ///< the encoded header
    std::vector<std::uint8_t> body;   ///< what follows it
    std::size_t size() const noexcept { return header.size() + body.size(); }
    std::size_t uncompressed_size() const noexcept
    {
        return header.size() + static_cast<std::size_t>(header_struct.uncompressed_page_size);
    }
};

namespace detail {

inline std::int32_t page_size_i32(std::size_t n)
{
    if (n > static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max()))
        throw std::length_error("streambatch::parquet: a page of " + std::to_string(n) +
                                " bytes is over the format's 2 GiB limit");
    return static_cast<std::int32_t>(n);
}

/// `raw` as stored with `codec`: a view of `raw` itself (UNCOMPRESSED), or of a per-thread
/// scratch buffer reused page after page (no fresh, zero-filled memory each page), valid until
/// the next call on this thread.
inline std::span<std::uint8_t const> compressed(compression_codec codec,
                                                std::span<std::uint8_t const> raw, int level)
{
    thread_local std::vector<std::uint8_t> scratch;
    if (codec == compression_codec::uncompressed)
        return raw;
    if (codec == compression_codec::snappy) {
        std::size_t n = snappy_max_compressed_length(raw.size());
        if (scratch.size() < n)
            scratch.resize(n);
        if (snappy_compress(reinterpret_cast<char const*>(raw.data()), raw.size(),
                            reinterpret_cast<char*>(scratch.data()), &n) != SNAPPY_OK)
            throw error(std::string(), error::npos,
                        "SNAPPY: cannot compress " + std::to_string(raw.size()) +
                            " bytes: snappy_compress failed");
        return std::span<std::uint8_t const>(scratch.data(), n);
    }
    scratch = codec::compress(codec, raw, level);
    return scratch;
}

/// The header of a page of `raw` stored as `body`.
inline std::vector<std::uint8_t> header_for(page_header& h, std::size_t raw_size,
                                            std::span<std::uint8_t const> body, bool with_crc)
{
    h.uncompressed_page_size = page_size_i32(raw_size);
    h.compressed_page_size = page_size_i32(body.size());
    if (with_crc)
        h.crc = page_crc(body);
    return encode_page_header(h);
}

inline page finish_page(page_header h, std::span<std::uint8_t const> raw, compression_codec codec,
                        bool with_crc, int level)
{
    page p;
    auto const body = compressed(codec, raw, level);
    p.body.assign(body.begin(), body.end());
    p.header = header_for(h, raw.size(), body, with_crc);
    p.header_struct = std::move(h);
    return p;
}

/// A data page v1's uncompressed bytes (levels, then values) in a per-thread buffer, reused.
inline std::span<std::uint8_t const>
data_page_v1_raw(std::span<std::uint8_t const> definition_levels, int max_definition_level,
                 std::span<std::uint8_t const> values)
{
    thread_local std::vector<std::uint8_t> raw;
    thread_local std::vector<std::uint32_t> lv;
    raw.clear();
    raw.reserve(values.size() + definition_levels.size() / 4 + 16);
    if (max_definition_level > 0) {
        lv.assign(definition_levels.begin(), definition_levels.end());
        raw.resize(4);
        rle_hybrid_append(raw, lv, bit_width(static_cast<std::uint64_t>(max_definition_level)));
        auto const n = static_cast<std::uint32_t>(raw.size() - 4);
        for (int i = 0; i < 4; ++i)
            raw[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(n >> (8 * i));
    }
    raw.insert(raw.end(), values.begin(), values.end());
    return raw;
}

inline page_header data_page_v1_header(std::size_t num_values, encoding value_encoding,
                                       std::optional<statistics> stats)
{
    page_header h;
    h.type = page_type::data_page;
    data_page_header d;
    d.num_values = page_size_i32(num_values);
    d.encoding = value_encoding;
    d.definition_level_encoding = encoding::rle;
    d.repetition_level_encoding = encoding::rle;
    d.statistics = std::move(stats);
    h.data_page_header = std::move(d);
    return h;
}

} // namespace detail

/// A data page v1: `definition_levels` (one per value slot, 0 = null; left out when
/// `max_definition_level` is 0), then `values` (already encoded with `value_encoding`), for
/// `num_values` slots, compressed with `codec`.
inline page data_page_v1(compression_codec codec, std::span<std::uint8_t const> definition_levels,
                         int max_definition_level, std::span<std::uint8_t const> values,
                         std::size_t num_values, encoding value_encoding, bool with_crc,
                         int level = -1, std::optional<statistics> stats = std::nullopt)
{
    auto const raw = detail::data_page_v1_raw(definition_levels, max_definition_level, values);
    return detail::finish_page(
        detail::data_page_v1_header(num_values, value_encoding, std::move(stats)), raw, codec,
        with_crc, level);
}

/// data_page_v1's page appended to `out` (header, then the stored bytes), without a page
/// object of its own: what the writer does, page after page, into one buffer per column
/// chunk. Returns the page's uncompressed size (header included), as the column metadata
/// counts it.
inline std::size_t append_data_page_v1(std::vector<std::uint8_t>& out, compression_codec codec,
                                       std::span<std::uint8_t const> definition_levels,
                                       int max_definition_level,
                                       std::span<std::uint8_t const> values, std::size_t num_values,
                                       encoding value_encoding, bool with_crc, int level = -1)
{
    auto const raw = detail::data_page_v1_raw(definition_levels, max_definition_level, values);
    auto h = detail::data_page_v1_header(num_values, value_encoding, std::nullopt);
    auto const body = detail::compressed(codec, raw, level);
    auto const header = detail::header_for(h, raw.size(), body, with_crc);
    out.insert(out.end(), header.begin(), header.end());
    out.insert(out.end(), body.begin(), body.end());
    return header.size() + raw.size();
}

/// A dictionary page of `num_values` PLAIN-encoded values.
inline page dictionary_page(compression_codec codec, std::span<std::uint8_t const> plain_values,
                            std::size_t num_values, bool with_crc, int level = -1)
{
    page_header h;
    h.type = page_type::dictionary_page;
    dictionary_page_header d;
    d.num_values = detail::page_size_i32(num_values);
    d.encoding = encoding::plain;
    h.dictionary_page_header = d;
    return detail::finish_page(std::move(h), plain_values, codec, with_crc, level);
}

} // namespace streambatch::parquet::enc

#endif // STREAMBATCH_IO_PARQUET_DETAIL_ENCODE_HPP_INCLUDED
