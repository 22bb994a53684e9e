// streambatch/io/parquet/detail/encoding.hpp: Parquet's value and level decoders (the reader's
// side; the encoders are detail/encode.hpp's).
//
// In:     a page's (decompressed) bytes, the column's physical type and FIXED_LEN_BYTE_ARRAY
//         width, how many values to decode, and `base`: the offset of the bytes' first byte in
//         the page, for error messages.
// Out:    parquet::detail::value_buffer (decoded values: fixed-width ones as little-endian
//         bytes, `width` each, booleans one byte each; BYTE_ARRAY ones as bytes plus offsets);
//         rle_decoder (the RLE/bit-packed hybrid: levels and dictionary indices, bit widths
//         0..32); decode_plain, decode_dictionary_indices, gather (dictionary look-up),
//         decode_delta_binary_packed (int32/int64, wrapping arithmetic), decode_delta_length,
//         decode_delta_byte_array, decode_byte_stream_split, decode_values (by encoding).
// Models: parquet-format's Encodings.md: PLAIN, RLE (hybrid), PLAIN_DICTIONARY/RLE_DICTIONARY,
//         DELTA_BINARY_PACKED, DELTA_LENGTH_BYTE_ARRAY, DELTA_BYTE_ARRAY, BYTE_STREAM_SPLIT.
// Memory: the decoded values of one page (a value_buffer); nothing else is kept.
// Errors: parquet::error with no file, at base + the byte offset inside the given bytes where
//         the problem is, its reason starting with the encoding: "PLAIN: BYTE_ARRAY value 3's
//         length 900 past the end of the page (12 bytes left)", "RLE: truncated bit-packed run",
//         "RLE_DICTIONARY: index 7 past the dictionary's 4 values", "DELTA_BINARY_PACKED:
//         miniblock bit width 65 past 64". The column reader adds file, row group, column, page.
// Example:
//     using namespace streambatch::parquet;
//     detail::value_buffer v;
//     detail::decode_plain(physical_type::int32, 0, page_bytes, 8, v, 0);
//     std::int32_t first = v.get<std::int32_t>(0);

#ifndef STREAMBATCH_IO_PARQUET_DETAIL_ENCODING_HPP_INCLUDED
#define STREAMBATCH_IO_PARQUET_DETAIL_ENCODING_HPP_INCLUDED

#include <streambatch/io/parquet/errors.hpp>
#include <streambatch/io/parquet/metadata.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace streambatch::parquet::detail {

/// std::allocator whose value-less construct() leaves the element uninitialised: resize() of a
/// buffer about to be overwritten (a page, decoded values) does not zero it first.
template <class T>
struct default_init_allocator : std::allocator<T> {
    template <class U>
    struct rebind {
        using other = default_init_allocator<U>;
    };
    default_init_allocator() = default;
    template <class U>
    default_init_allocator(default_init_allocator<U> const&) noexcept
    {}
    template <class U>
    void construct(U* p) noexcept(std::is_nothrow_default_constructible_v<U>)
    {
        ::new (static_cast<void*>(p)) U;
    }
    template <class U, class... A>
    void construct(U* p, A&&... a)
    {
        ::new (static_cast<void*>(p)) U(std::forward<A>(a)...);
    }
};
/// A vector whose resize() does not zero what it adds.
template <class T>
using buffer = std::vector<T, default_init_allocator<T>>;

/// Capacity for `n` elements in `v`: n and a 32nd when `v` is empty (a buffer refilled page
/// after page, or batch after batch, does not double for a page a little larger than the last,
/// nor reallocate for every one: each freed block is a hole in glibc's heap), doubling while
/// appending (pages after pages).
template <class V>
void make_room(V& v, std::size_t n)
{
    if (n > v.capacity())
        v.reserve(v.empty() ? n + n / 32 : std::max(n, v.capacity() * 2));
}

/// make_room, then resize to `n`.
template <class V>
void grow(V& v, std::size_t n)
{
    make_room(v, n);
    v.resize(n);
}

/// Decoded values of one type (buffers that are not zeroed when they grow). Fixed-width values
/// (BOOLEAN as one byte 0/1, INT32, INT64, INT96, FLOAT, DOUBLE, FIXED_LEN_BYTE_ARRAY) sit in
/// `fixed`, `width` bytes each; BYTE_ARRAY values in `data`, value i at [offsets[i], offsets[i +
/// 1]).
struct value_buffer {
    std::size_t width = 0; ///< 0 for BYTE_ARRAY
    buffer<std::uint8_t> fixed;
    buffer<char> data;
    buffer<std::uint32_t> offsets{0};

    std::size_t size() const noexcept { return width ? fixed.size() / width : offsets.size() - 1; }
    void clear(std::size_t w)
    {
        width = w;
        fixed.clear();
        data.clear();
        offsets.assign(1, 0);
    }
    template <class T>
    T get(std::size_t i) const noexcept
    {
        T v;
        std::memcpy(&v, fixed.data() + i * sizeof(T), sizeof(T));
        return v;
    }
    /// Value i's bytes (any type).
    std::string_view bytes(std::size_t i) const noexcept
    {
        if (width)
            return {reinterpret_cast<char const*>(fixed.data()) + i * width, width};
        return {data.data() + offsets[i], offsets[i + 1] - offsets[i]};
    }
    void push_bytes(char const* p, std::size_t n)
    {
        data.insert(data.end(), p, p + n);
        offsets.push_back(static_cast<std::uint32_t>(data.size()));
    }
};

/// The width a physical type's values take in a value_buffer (0: BYTE_ARRAY).
inline std::size_t value_width(physical_type t, std::int32_t type_length) noexcept
{
    switch (t) {
    case physical_type::boolean:
        return 1;
    case physical_type::int32:
    case physical_type::float_:
        return 4;
    case physical_type::int64:
    case physical_type::double_:
        return 8;
    case physical_type::int96:
        return 12;
    case physical_type::fixed_len_byte_array:
        return static_cast<std::size_t>(type_length);
    case physical_type::byte_array:
        return 0;
    }
    return 0;
}

[[noreturn]] inline void fail_decode(std::uint64_t at, char const* enc, std::string const& reason)
{
    throw error(std::string(), at, std::string(enc) + ": " + reason);
}

/// `width` (0..64) bits at bit `bit` of p[0, size), little-endian bit order; bits past the end
/// read as 0 (callers check the bytes first).
inline std::uint64_t read_bits(std::uint8_t const* p, std::size_t size, std::uint64_t bit,
                               unsigned width) noexcept
{
    if (width == 0)
        return 0;
    std::size_t const byte = static_cast<std::size_t>(bit >> 3);
    unsigned const shift = static_cast<unsigned>(bit & 7);
    std::uint64_t word = 0;
    if (byte + 8 <= size)
        std::memcpy(&word, p + byte, 8); // little-endian hosts (Debian's)
    else
        for (std::size_t k = 0; byte + k < size && k < 8; ++k)
            word |= static_cast<std::uint64_t>(p[byte + k]) << (8 * k);
    std::uint64_t v = word >> shift;
    if (shift + width > 64 && byte + 8 < size)
        v |= static_cast<std::uint64_t>(p[byte + 8]) << (64 - shift);
    return width == 64 ? v : v & ((std::uint64_t{1} << width) - 1);
}

/// ULEB128 from in[pos...]; advances pos.
inline std::uint64_t read_uleb(std::span<std::uint8_t const> in, std::size_t& pos,
                               std::uint64_t base, char const* enc)
{
    std::size_t const start = pos;
    std::uint64_t v = 0;
    for (unsigned shift = 0;; shift += 7) {
        if (pos >= in.size())
            fail_decode(base + start, enc, "truncated varint");
        if (shift >= 64)
            fail_decode(base + start, enc, "varint longer than 10 bytes");
        std::uint8_t const b = in[pos++];
        if (shift == 63 && (b & 0x7e))
            fail_decode(base + start, enc, "varint past 64 bits");
        v |= static_cast<std::uint64_t>(b & 0x7f) << shift;
        if (!(b & 0x80))
            return v;
    }
}

/// The RLE/bit-packed hybrid (without a length prefix): levels and dictionary indices.
class rle_decoder {
    std::span<std::uint8_t const> in_;
    std::size_t pos_ = 0;
    unsigned width_ = 0;
    std::uint64_t base_ = 0;
    char const* enc_ = "RLE";
    // the current run
    std::uint64_t left_ = 0; // values left in it
    bool packed_ = false;
    std::uint32_t value_ = 0;       // RLE run's value
    std::size_t packed_start_ = 0;  // bit-packed run: its first byte
    std::uint64_t packed_next_ = 0; // its next value's index

    void next_run()
    {
        std::size_t const at = pos_;
        std::uint64_t const h = read_uleb(in_, pos_, base_, enc_);
        if (h & 1) {
            std::uint64_t const groups = h >> 1;
            if (groups == 0)
                fail_decode(base_ + at, enc_, "empty bit-packed run");
            // groups * 8 values of width bits: groups * width bytes
            if (groups > (in_.size() - pos_) / std::max(width_, 1u) && width_ > 0)
                fail_decode(base_ + at, enc_,
                            "truncated bit-packed run (" + std::to_string(groups * 8) +
                                " values of " + std::to_string(width_) + " bits, " +
                                std::to_string(in_.size() - pos_) + " bytes left)");
            packed_ = true;
            packed_start_ = pos_;
            packed_next_ = 0;
            left_ = groups * 8;
            pos_ += static_cast<std::size_t>(groups * width_);
        } else {
            left_ = h >> 1;
            if (left_ == 0)
                fail_decode(base_ + at, enc_, "empty RLE run");
            std::size_t const bytes = (width_ + 7) / 8;
            if (in_.size() - pos_ < bytes)
                fail_decode(base_ + pos_, enc_, "truncated RLE run value");
            std::uint32_t v = 0;
            for (std::size_t k = 0; k < bytes; ++k)
                v |= static_cast<std::uint32_t>(in_[pos_ + k]) << (8 * k);
            if (width_ < 32 && (v >> width_) != 0)
                fail_decode(base_ + pos_, enc_,
                            "RLE run value " + std::to_string(v) + " wider than " +
                                std::to_string(width_) + " bits");
            value_ = v;
            packed_ = false;
            pos_ += bytes;
        }
    }

public:
    rle_decoder() = default;
    /// `enc` names the encoding in errors ("RLE", "RLE_DICTIONARY").
    rle_decoder(std::span<std::uint8_t const> in, unsigned bit_width, std::uint64_t base,
                char const* enc = "RLE")
        : in_(in), width_(bit_width), base_(base), enc_(enc)
    {
        if (bit_width > 32)
            fail_decode(base, enc, "bit width " + std::to_string(bit_width) + " past 32");
    }
    /// Bytes consumed up to the end of the current run.
    std::size_t position() const noexcept { return pos_; }

    /// The next `n` values into out[0, n) (T: std::uint32_t, or a narrower unsigned type when
    /// the bit width fits it: definition levels as bytes).
    template <class T>
    void get(T* out, std::size_t n)
    {
        while (n > 0) {
            if (left_ == 0) {
                if (pos_ >= in_.size())
                    fail_decode(base_ + pos_, enc_,
                                "ran out of data (" + std::to_string(n) + " values missing)");
                next_run();
            }
            std::size_t const take = static_cast<std::size_t>(std::min<std::uint64_t>(left_, n));
            if (packed_) {
                std::uint8_t const* p = in_.data() + packed_start_;
                std::size_t const size = pos_ - packed_start_;
                for (std::size_t k = 0; k < take; ++k)
                    out[k] =
                        static_cast<T>(read_bits(p, size, (packed_next_ + k) * width_, width_));
                packed_next_ += take;
            } else {
                std::fill(out, out + take, static_cast<T>(value_));
            }
            left_ -= take;
            out += take;
            n -= take;
        }
    }
};

/// PLAIN BYTE_ARRAY: take(bytes, length) for each of the `count` values of `in` (a 4-byte length,
/// then the bytes); returns the bytes used. A value's length is read before take() sees it, so
/// take() may overwrite the bytes before that value (decode_plain_in_place does).
template <class Take>
std::size_t plain_byte_arrays(std::span<std::uint8_t const> in, std::size_t count,
                              std::uint64_t base, Take&& take)
{
    std::size_t pos = 0;
    for (std::size_t i = 0; i < count; ++i) {
        if (in.size() - pos < 4)
            fail_decode(base + pos, "PLAIN",
                        "BYTE_ARRAY value " + std::to_string(i) + "'s length cut short");
        std::uint32_t n = 0;
        std::memcpy(&n, in.data() + pos, 4);
        pos += 4;
        if (n > in.size() - pos)
            fail_decode(base + pos - 4, "PLAIN",
                        "BYTE_ARRAY value " + std::to_string(i) + "'s length " + std::to_string(n) +
                            " past the end of the page (" + std::to_string(in.size() - pos) +
                            " bytes left)");
        take(in.data() + pos, n);
        pos += n;
    }
    return pos;
}

/// PLAIN fixed-width values: `count` of `w` bytes must fit in `size` bytes.
inline void check_plain_fixed(physical_type t, std::size_t w, std::size_t count, std::size_t size,
                              std::uint64_t base)
{
    if (w == 0 || count > size / w)
        fail_decode(base, "PLAIN",
                    std::to_string(count) + " " + to_string(t) + " values of " + std::to_string(w) +
                        " bytes but the page has " + std::to_string(size) + " bytes");
}

/// PLAIN: `count` values of type `t` from `in` into `out` (cleared first, unless `append`:
/// then after the values it holds, which are of the same type); returns the bytes used.
inline std::size_t decode_plain(physical_type t, std::int32_t type_length,
                                std::span<std::uint8_t const> in, std::size_t count,
                                value_buffer& out, std::uint64_t base, bool append = false)
{
    if (append)
        out.width = value_width(t, type_length);
    else
        out.clear(value_width(t, type_length));
    std::size_t const had = out.fixed.size();
    if (t == physical_type::boolean) {
        if (in.size() < (count + 7) / 8)
            fail_decode(base, "PLAIN",
                        std::to_string(count) + " BOOLEAN values need " +
                            std::to_string((count + 7) / 8) + " bytes, the page has " +
                            std::to_string(in.size()));
        grow(out.fixed, had + count);
        std::uint8_t* o = out.fixed.data() + had;
        for (std::size_t i = 0; i < count; ++i)
            o[i] = (in[i >> 3] >> (i & 7)) & 1;
        return (count + 7) / 8;
    }
    if (t == physical_type::byte_array) {
        // 4 bytes a value at least; the values' bytes are fewer than the page's
        make_room(out.offsets, out.offsets.size() + std::min(count, in.size() / 4));
        make_room(out.data, out.data.size() + in.size());
        if (out.data.size() + in.size() > UINT32_MAX)
            fail_decode(base, "PLAIN", "more than 4 GiB of BYTE_ARRAY values in one buffer");
        return plain_byte_arrays(in, count, base, [&](std::uint8_t const* p, std::uint32_t n) {
            out.push_bytes(reinterpret_cast<char const*>(p), n);
        });
    }
    std::size_t const w = out.width;
    check_plain_fixed(t, w, count, in.size(), base);
    grow(out.fixed, had + count * w); // not zeroed
    if (count)
        std::memcpy(out.fixed.data() + had, in.data(), count * w);
    return count * w;
}

/// PLAIN values decoded where they lie: the page's bytes were decompressed straight into
/// out's buffer (out.data for BYTE_ARRAY, out.fixed for the other types but BOOLEAN), from
/// `start + skip` to its end (`skip`: bytes before them the caller is done with, such as
/// definition levels); they are compacted to `start`, as decode_plain(..., append) would have
/// appended them from another buffer (no copy of the page, no second page buffer). Errors as
/// decode_plain's, at `base` + the offset in the values.
inline void decode_plain_in_place(physical_type t, std::int32_t type_length, value_buffer& out,
                                  std::size_t start, std::size_t skip, std::size_t count,
                                  std::uint64_t base)
{
    out.width = value_width(t, type_length);
    if (t == physical_type::byte_array) {
        char* d = out.data.data();
        std::span<std::uint8_t const> const in(reinterpret_cast<std::uint8_t const*>(d) + start +
                                                   skip,
                                               out.data.size() - start - skip);
        if (start + in.size() > UINT32_MAX)
            fail_decode(base, "PLAIN", "more than 4 GiB of BYTE_ARRAY values in one buffer");
        make_room(out.offsets, out.offsets.size() + std::min(count, in.size() / 4));
        std::size_t at = start;
        plain_byte_arrays(in, count, base, [&](std::uint8_t const* p, std::uint32_t n) {
            std::memmove(d + at, p, n); // at <= p: the bytes move down
            at += n;
            out.offsets.push_back(static_cast<std::uint32_t>(at));
        });
        out.data.resize(at);
        return;
    }
    std::size_t const w = out.width;
    std::size_t const size = out.fixed.size() - start - skip;
    check_plain_fixed(t, w, count, size, base);
    if (skip && count)
        std::memmove(out.fixed.data() + start, out.fixed.data() + start + skip, count * w);
    out.fixed.resize(start + count * w);
}

/// A dictionary-encoded data page's values: a bit-width byte, then RLE/bit-packed indices.
inline void decode_dictionary_indices(std::span<std::uint8_t const> in, std::size_t count,
                                      std::vector<std::uint32_t>& out, std::uint64_t base,
                                      char const* enc = "RLE_DICTIONARY")
{
    out.resize(count);
    if (count == 0)
        return;
    if (in.empty())
        fail_decode(base, enc, "no bit-width byte");
    unsigned const w = in[0];
    if (w > 32)
        fail_decode(base, enc, "index bit width " + std::to_string(w) + " past 32");
    rle_decoder d(in.subspan(1), w, base + 1, enc);
    d.get(out.data(), count);
}

/// out = dict[indices...] (after what `out` holds when `append`); an index past the dictionary
/// is an error at `base`.
inline void gather(value_buffer const& dict, std::span<std::uint32_t const> indices,
                   value_buffer& out, std::uint64_t base, char const* enc = "RLE_DICTIONARY",
                   bool append = false)
{
    if (append)
        out.width = dict.width;
    else
        out.clear(dict.width);
    std::size_t const had = dict.width ? out.fixed.size() : out.size();
    std::size_t const n = dict.size();
    for (std::size_t i = 0; i < indices.size(); ++i)
        if (indices[i] >= n)
            fail_decode(base, enc,
                        "index " + std::to_string(indices[i]) + " (value " + std::to_string(i) +
                            ") past the dictionary's " + std::to_string(n) + " values");
    auto const copy = [&]<std::size_t W>(std::integral_constant<std::size_t, W>) {
        std::uint8_t* o = out.fixed.data() + had;
        std::uint8_t const* src = dict.fixed.data();
        for (std::size_t i = 0; i < indices.size(); ++i)
            std::memcpy(o + i * W, src + std::size_t{indices[i]} * W, W); // inlined: W is fixed
    };
    if (dict.width) {
        grow(out.fixed, had + indices.size() * dict.width);
        switch (dict.width) {
        case 1:
            copy(std::integral_constant<std::size_t, 1>{});
            break;
        case 4:
            copy(std::integral_constant<std::size_t, 4>{});
            break;
        case 8:
            copy(std::integral_constant<std::size_t, 8>{});
            break;
        case 12:
            copy(std::integral_constant<std::size_t, 12>{});
            break;
        case 16:
            copy(std::integral_constant<std::size_t, 16>{});
            break;
        default:
            for (std::size_t i = 0; i < indices.size(); ++i)
                std::memcpy(out.fixed.data() + had + i * dict.width,
                            dict.fixed.data() + indices[i] * dict.width, dict.width);
        }
    } else {
        std::size_t total = 0;
        for (std::uint32_t ix : indices)
            total += dict.offsets[ix + 1] - dict.offsets[ix];
        std::size_t const start = out.data.size();
        if (start + total > UINT32_MAX)
            fail_decode(base, enc, "more than 4 GiB of BYTE_ARRAY values in one buffer");
        grow(out.data, start + total);
        grow(out.offsets, had + indices.size() + 1);
        char* o = out.data.data();
        auto at = static_cast<std::uint32_t>(start);
        for (std::size_t i = 0; i < indices.size(); ++i) {
            std::uint32_t const from = dict.offsets[indices[i]];
            std::uint32_t const len = dict.offsets[indices[i] + 1] - from;
            char const* src = dict.data.data() + from;
            for (std::uint32_t k = 0; k < len; ++k) // short strings: no libc call per value
                o[at + k] = src[k];
            at += len;
            out.offsets[had + i + 1] = at;
        }
    }
}

/// DELTA_BINARY_PACKED: `count` values (at most the header's total) as int64 (int32 columns
/// wrap at 32 bits when the caller narrows them: the arithmetic is modulo 2^64, which agrees
/// modulo 2^32). Returns the bytes used (to the end of the last miniblock read).
inline std::size_t decode_delta_binary_packed(std::span<std::uint8_t const> in, std::size_t count,
                                              std::vector<std::int64_t>& out, std::uint64_t base,
                                              unsigned max_width = 64,
                                              char const* enc = "DELTA_BINARY_PACKED")
{
    std::size_t pos = 0;
    std::uint64_t const block = read_uleb(in, pos, base, enc);
    std::uint64_t const miniblocks = read_uleb(in, pos, base, enc);
    std::uint64_t const total = read_uleb(in, pos, base, enc);
    std::uint64_t const first_z = read_uleb(in, pos, base, enc);
    if (block == 0 || block % 128 != 0 || block > (1u << 20))
        fail_decode(base, enc, "block size " + std::to_string(block) + " not a multiple of 128");
    if (miniblocks == 0 || block % miniblocks != 0 || (block / miniblocks) % 32 != 0)
        fail_decode(base, enc,
                    "block size " + std::to_string(block) + " over " + std::to_string(miniblocks) +
                        " miniblocks: not multiples of 32");
    if (count > total)
        fail_decode(base, enc,
                    std::to_string(count) + " values wanted but the header holds " +
                        std::to_string(total));
    std::uint64_t const per_mini = block / miniblocks;
    out.clear();
    out.reserve(std::min<std::size_t>(count, std::size_t{1} << 16)); // grows with real values
    std::uint64_t value = (first_z >> 1) ^ (~(first_z & 1) + 1);
    if (count == 0)
        return pos;
    out.push_back(static_cast<std::int64_t>(value));
    // Blocks are read while values remain in the header's total, even past `count` (so that
    // the bytes used are right for DELTA_LENGTH_BYTE_ARRAY, whose count is the total).
    std::uint64_t remaining = total - 1;
    std::uint64_t wanted = count - 1;
    while (remaining > 0) {
        std::size_t const block_at = pos;
        std::uint64_t const mz = read_uleb(in, pos, base, enc);
        std::uint64_t const min_delta = (mz >> 1) ^ (~(mz & 1) + 1);
        if (in.size() - pos < miniblocks)
            fail_decode(base + pos, enc, "truncated miniblock bit widths");
        std::size_t const widths_at = pos;
        pos += static_cast<std::size_t>(miniblocks);
        for (std::uint64_t m = 0; m < miniblocks && remaining > 0; ++m) {
            unsigned const w = in[widths_at + m];
            if (w > max_width)
                fail_decode(base + widths_at + m, enc,
                            "miniblock bit width " + std::to_string(w) + " past " +
                                std::to_string(max_width));
            std::uint64_t const bytes = per_mini * w / 8;
            if (in.size() - pos < bytes)
                fail_decode(base + pos, enc,
                            "truncated miniblock (" + std::to_string(bytes) + " bytes, " +
                                std::to_string(in.size() - pos) + " left; block at byte " +
                                std::to_string(base + block_at) + ")");
            std::uint8_t const* p = in.data() + pos;
            std::uint64_t const n = std::min(per_mini, remaining);
            std::uint64_t const use = std::min(n, wanted);
            for (std::uint64_t k = 0; k < use; ++k) {
                value += min_delta + read_bits(p, static_cast<std::size_t>(bytes), k * w, w);
                out.push_back(static_cast<std::int64_t>(value));
            }
            wanted -= use;
            remaining -= n;
            pos += static_cast<std::size_t>(bytes);
        }
    }
    return pos;
}

/// DELTA_LENGTH_BYTE_ARRAY: `count` byte arrays (lengths DELTA_BINARY_PACKED, then the bytes).
inline std::size_t decode_delta_length(std::span<std::uint8_t const> in, std::size_t count,
                                       value_buffer& out, std::uint64_t base,
                                       char const* enc = "DELTA_LENGTH_BYTE_ARRAY")
{
    std::vector<std::int64_t> lengths;
    // the lengths block holds every value of the page; decode them all to find the bytes
    std::size_t pos = 0;
    {
        std::size_t p = 0;
        read_uleb(in, p, base, enc);
        read_uleb(in, p, base, enc);
        std::uint64_t const total = read_uleb(in, p, base, enc);
        if (total < count)
            fail_decode(base, enc,
                        std::to_string(count) + " values wanted but the lengths hold " +
                            std::to_string(total));
        if (total > in.size() * 64 + 1)
            fail_decode(base, enc, "lengths header announces " + std::to_string(total) + " values");
        pos =
            decode_delta_binary_packed(in, static_cast<std::size_t>(total), lengths, base, 32, enc);
    }
    out.clear(0);
    out.offsets.reserve(count + 1);
    for (std::size_t i = 0; i < count; ++i) {
        auto const n = static_cast<std::int32_t>(lengths[i]);
        if (n < 0 || static_cast<std::uint64_t>(n) > in.size() - pos)
            fail_decode(base + pos, enc,
                        "value " + std::to_string(i) + "'s length " + std::to_string(n) +
                            " past the end of the page (" + std::to_string(in.size() - pos) +
                            " bytes left)");
        out.push_bytes(reinterpret_cast<char const*>(in.data() + pos), static_cast<std::size_t>(n));
        pos += static_cast<std::size_t>(n);
    }
    return pos;
}

/// DELTA_BYTE_ARRAY: prefix lengths (DELTA_BINARY_PACKED), suffixes (DELTA_LENGTH_BYTE_ARRAY);
/// value i = value i-1's first prefix[i] bytes + suffix i. `width` > 0: FIXED_LEN_BYTE_ARRAY
/// (each value must have that length; stored fixed).
inline void decode_delta_byte_array(std::span<std::uint8_t const> in, std::size_t count,
                                    std::size_t width, value_buffer& out, std::uint64_t base)
{
    char const* const enc = "DELTA_BYTE_ARRAY";
    std::vector<std::int64_t> prefixes;
    std::size_t p = 0;
    read_uleb(in, p, base, enc);
    read_uleb(in, p, base, enc);
    std::uint64_t const total = read_uleb(in, p, base, enc);
    if (total < count)
        fail_decode(base, enc,
                    std::to_string(count) + " values wanted but the prefix lengths hold " +
                        std::to_string(total));
    if (total > in.size() * 64 + 1)
        fail_decode(base, enc, "prefix header announces " + std::to_string(total) + " values");
    std::size_t const used =
        decode_delta_binary_packed(in, static_cast<std::size_t>(total), prefixes, base, 32, enc);
    value_buffer suffixes;
    decode_delta_length(in.subspan(used), count, suffixes, base + used, enc);
    out.clear(width);
    std::string prev, cur;
    for (std::size_t i = 0; i < count; ++i) {
        auto const pre = static_cast<std::int32_t>(prefixes[i]);
        if (pre < 0 || static_cast<std::size_t>(pre) > prev.size())
            fail_decode(base, enc,
                        "value " + std::to_string(i) + "'s prefix length " + std::to_string(pre) +
                            " past the previous value's " + std::to_string(prev.size()) + " bytes");
        std::string_view const suf = suffixes.bytes(i);
        cur.assign(prev, 0, static_cast<std::size_t>(pre));
        cur.append(suf);
        if (width) {
            if (cur.size() != width)
                fail_decode(base, enc,
                            "value " + std::to_string(i) + " has " + std::to_string(cur.size()) +
                                " bytes, FIXED_LEN_BYTE_ARRAY(" + std::to_string(width) + ")");
            out.fixed.insert(out.fixed.end(), cur.begin(), cur.end());
        } else {
            out.push_bytes(cur.data(), cur.size());
        }
        std::swap(prev, cur);
    }
}

/// BYTE_STREAM_SPLIT: `width` streams of in.size() / width bytes; the first `count` values.
inline void decode_byte_stream_split(std::span<std::uint8_t const> in, std::size_t count,
                                     std::size_t width, value_buffer& out, std::uint64_t base)
{
    out.clear(width);
    if (width == 0)
        fail_decode(base, "BYTE_STREAM_SPLIT", "not defined for BYTE_ARRAY or BOOLEAN");
    if (in.size() % width != 0)
        fail_decode(base, "BYTE_STREAM_SPLIT",
                    std::to_string(in.size()) + " bytes are not a multiple of the width " +
                        std::to_string(width));
    std::size_t const stride = in.size() / width;
    if (count > stride)
        fail_decode(base, "BYTE_STREAM_SPLIT",
                    std::to_string(count) + " values wanted but the streams hold " +
                        std::to_string(stride));
    out.fixed.resize(count * width);
    for (std::size_t b = 0; b < width; ++b)
        for (std::size_t i = 0; i < count; ++i)
            out.fixed[i * width + b] = in[b * stride + i];
}

/// `v`'s values after `out`'s (both of one type).
inline void append_values(value_buffer& out, value_buffer const& v)
{
    out.width = v.width;
    if (v.width) {
        out.fixed.insert(out.fixed.end(), v.fixed.begin(), v.fixed.end());
        return;
    }
    std::size_t const start = out.data.size();
    if (start + v.data.size() > UINT32_MAX)
        fail_decode(0, "BYTE_ARRAY", "more than 4 GiB of values in one buffer");
    out.data.insert(out.data.end(), v.data.begin(), v.data.end());
    for (std::size_t i = 1; i < v.offsets.size(); ++i)
        out.offsets.push_back(static_cast<std::uint32_t>(start + v.offsets[i]));
}

/// A data page's `count` non-null values in encoding `e` (dictionary ones through `dict`,
/// which must be set for them) into `out`: cleared first, or, with `append`, after the values
/// it holds (PLAIN and dictionary pages are decoded in place; the others through a buffer).
inline void decode_values(encoding e, physical_type t, std::int32_t type_length,
                          std::span<std::uint8_t const> in, std::size_t count,
                          value_buffer const* dict, value_buffer& out, std::uint64_t base,
                          bool append = false)
{
    if (append && e != encoding::plain && e != encoding::plain_dictionary &&
        e != encoding::rle_dictionary) {
        thread_local value_buffer page; // reused
        decode_values(e, t, type_length, in, count, dict, page, base);
        append_values(out, page);
        return;
    }
    std::size_t const w = value_width(t, type_length);
    switch (e) {
    case encoding::plain:
        decode_plain(t, type_length, in, count, out, base, append);
        return;
    case encoding::plain_dictionary:
    case encoding::rle_dictionary: {
        char const* const enc = to_string(e);
        if (!dict)
            fail_decode(base, enc, "data page refers to a dictionary but the chunk has none");
        thread_local std::vector<std::uint32_t> ix; // reused: a page's indices, not reallocated
        decode_dictionary_indices(in, count, ix, base, enc);
        gather(*dict, ix, out, base, enc, append);
        return;
    }
    case encoding::rle:
        if (t != physical_type::boolean)
            fail_decode(base, "RLE", std::string("values of type ") + to_string(t));
        else {
            // BOOLEAN values, RLE: a 4-byte length, then the hybrid with bit width 1
            if (in.size() < 4)
                fail_decode(base, "RLE", "no length prefix");
            std::uint32_t n = 0;
            std::memcpy(&n, in.data(), 4);
            if (n > in.size() - 4)
                fail_decode(base, "RLE",
                            "length " + std::to_string(n) + " past the page (" +
                                std::to_string(in.size() - 4) + " bytes left)");
            std::vector<std::uint32_t> bits(count);
            rle_decoder d(in.subspan(4, n), 1, base + 4);
            d.get(bits.data(), count);
            out.clear(1);
            out.fixed.assign(bits.begin(), bits.end());
        }
        return;
    case encoding::delta_binary_packed: {
        if (t != physical_type::int32 && t != physical_type::int64)
            fail_decode(base, "DELTA_BINARY_PACKED", std::string("values of type ") + to_string(t));
        thread_local std::vector<std::int64_t> v; // reused, as above
        decode_delta_binary_packed(in, count, v, base);
        out.clear(w);
        out.fixed.resize(count * w);
        for (std::size_t i = 0; i < count; ++i) {
            if (w == 4) {
                auto const x = static_cast<std::int32_t>(static_cast<std::uint32_t>(v[i]));
                std::memcpy(out.fixed.data() + i * 4, &x, 4);
            } else {
                std::memcpy(out.fixed.data() + i * 8, &v[i], 8);
            }
        }
        return;
    }
    case encoding::delta_length_byte_array:
        if (t != physical_type::byte_array)
            fail_decode(base, "DELTA_LENGTH_BYTE_ARRAY",
                        std::string("values of type ") + to_string(t));
        decode_delta_length(in, count, out, base);
        return;
    case encoding::delta_byte_array:
        if (t != physical_type::byte_array && t != physical_type::fixed_len_byte_array)
            fail_decode(base, "DELTA_BYTE_ARRAY", std::string("values of type ") + to_string(t));
        decode_delta_byte_array(in, count, w, out, base);
        return;
    case encoding::byte_stream_split:
        if (t == physical_type::boolean || t == physical_type::byte_array)
            fail_decode(base, "BYTE_STREAM_SPLIT", std::string("values of type ") + to_string(t));
        decode_byte_stream_split(in, count, w, out, base);
        return;
    case encoding::bit_packed:
    default:
        break;
    }
    throw error(std::string(), base, std::string("unsupported value encoding ") + to_string(e));
}

} // namespace streambatch::parquet::detail

#endif // STREAMBATCH_IO_PARQUET_DETAIL_ENCODING_HPP_INCLUDED
