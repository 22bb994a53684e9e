// streambatch/io/parquet/detail/codec.hpp: Parquet's page compression codecs, over the system's
// libraries (libsnappy, zlib, libzstd, liblz4).
//
// In:     a codec, a page's compressed bytes, and a buffer of exactly its uncompressed size
//         (the page header says it); to compress: bytes and a level.
// Out:    codec::snappy_from(read, size, out, file, offset): SNAPPY from a reader of the
//         compressed bytes, in chunks of 128 KiB (the column reader's large pages: the
//         compressed page is never held whole).
//         codec::decompress(codec, in, out, file, offset): fills all of `out`, for UNCOMPRESSED,
//         SNAPPY, GZIP (gzip or zlib framing, several concatenated members too), ZSTD (several
//         frames too), LZ4_RAW (an LZ4 block) and LZ4 (the deprecated Hadoop framing: frames of
//         a big-endian 4-byte uncompressed size, a 4-byte compressed size and an LZ4 block;
//         when the bytes are not such frames, a raw LZ4 block, as parquet-mr and Arrow read
//         what old Parquet C++ wrote). codec::compress(codec, in, level): UNCOMPRESSED, SNAPPY,
//         GZIP (gzip framing), ZSTD, LZ4_RAW. codec::can_decompress / can_compress.
// Models: a page is decompressed whole into a buffer its reader owns; only snappy_from reads
//         its input in chunks.
//         Empty input with an empty output is not handed to the library (an empty Snappy
//         stream is invalid, and writers leave empty v2 pages so: parquet-testing's
//         datapage_v2_empty_datapage.snappy.parquet).
// Memory: decompress writes only into `out` (zlib keeps its ~7 KiB state meanwhile);
//         snappy_from a 128 KiB chunk (one per thread, kept); compress
//         returns a vector of the codec's bound, shrunk to what it wrote.
// Errors: parquet::error naming the codec, both sizes and what went wrong ("SNAPPY: 51 bytes
//         do not decompress into 47: invalid input"), at `file` and `offset` when given
//         (the page's); an unsupported codec (LZO, BROTLI, unknown) is named.
// Example:
//     std::vector<std::uint8_t> page(header.uncompressed_page_size);
//     parquet::codec::decompress(meta.codec, compressed, page, f.path(), data_offset);
//     auto packed = parquet::codec::compress(parquet::compression_codec::zstd, page, 3);

#ifndef STREAMBATCH_IO_PARQUET_DETAIL_CODEC_HPP_INCLUDED
#define STREAMBATCH_IO_PARQUET_DETAIL_CODEC_HPP_INCLUDED

#include <streambatch/io/parquet/errors.hpp>
#include <streambatch/io/parquet/metadata.hpp>

#include <algorithm>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <lz4.h>
#include <snappy-c.h>
#include <snappy-sinksource.h>
#include <snappy.h>
#include <zlib.h>
#include <zstd.h>

namespace streambatch::parquet::codec {

/// Whether decompress() handles `c`.
inline constexpr bool can_decompress(compression_codec c) noexcept
{
    switch (c) {
    case compression_codec::uncompressed:
    case compression_codec::snappy:
    case compression_codec::gzip:
    case compression_codec::zstd:
    case compression_codec::lz4:
    case compression_codec::lz4_raw:
        return true;
    default:
        return false;
    }
}

/// Whether compress() handles `c`.
inline constexpr bool can_compress(compression_codec c) noexcept
{
    switch (c) {
    case compression_codec::uncompressed:
    case compression_codec::snappy:
    case compression_codec::gzip:
    case compression_codec::zstd:
    case compression_codec::lz4_raw:
        return true;
    default:
        return false;
    }
}

namespace detail {

[[noreturn]] inline void fail(compression_codec c, std::size_t in, std::size_t out,
                              std::string const& why, std::string const& file, std::uint64_t offset)
{
    throw error(file, offset,
                std::string(to_string(c)) + ": " + std::to_string(in) +
                    " bytes do not decompress into " + std::to_string(out) + ": " + why);
}

/// GZIP: gzip (or zlib) members one after the other until the input ends.
inline void inflate_all(std::span<std::uint8_t const> in, std::span<std::uint8_t> out,
                        std::string const& file, std::uint64_t offset)
{
    auto const c = compression_codec::gzip;
    if (in.size() > UINT_MAX || out.size() > UINT_MAX)
        fail(c, in.size(), out.size(), "larger than zlib takes at once", file, offset);
    z_stream s{};
    if (inflateInit2(&s, 15 + 32) != Z_OK) // 32: gzip or zlib header, detected
        fail(c, in.size(), out.size(), "inflateInit2 failed", file, offset);
    s.next_in = const_cast<Bytef*>(in.data());
    s.avail_in = static_cast<uInt>(in.size());
    // zlib refuses a null next_out even with avail_out 0 (an empty page's output).
    Bytef none = 0;
    s.next_out = out.empty() ? &none : out.data();
    s.avail_out = static_cast<uInt>(out.size());
    std::string why;
    for (;;) {
        int const rc = inflate(&s, Z_NO_FLUSH);
        if (rc == Z_STREAM_END) {
            if (s.avail_in == 0)
                break;
            if (inflateReset(&s) != Z_OK) {
                why = "inflateReset failed";
                break;
            }
            continue;
        }
        if (rc == Z_OK)
            continue;
        if (rc == Z_BUF_ERROR)
            why = s.avail_out == 0 ? "more data than the page's uncompressed size"
                                   : "truncated gzip stream";
        else
            why =
                "zlib error " + std::to_string(rc) + (s.msg ? std::string(" (") + s.msg + ")" : "");
        break;
    }
    std::size_t const produced = out.size() - s.avail_out;
    inflateEnd(&s);
    if (!why.empty())
        fail(c, in.size(), out.size(), why, file, offset);
    if (produced != out.size())
        fail(c, in.size(), out.size(), "only " + std::to_string(produced) + " bytes", file, offset);
}

inline std::uint32_t load_be32(std::uint8_t const* p) noexcept
{
    return static_cast<std::uint32_t>(p[0]) << 24 | static_cast<std::uint32_t>(p[1]) << 16 |
           static_cast<std::uint32_t>(p[2]) << 8 | static_cast<std::uint32_t>(p[3]);
}

/// Hadoop's LZ4 framing; false (and `out` unspecified) when `in` is not made of such frames.
inline bool lz4_hadoop(std::span<std::uint8_t const> in, std::span<std::uint8_t> out)
{
    std::size_t ip = 0, op = 0;
    while (in.size() - ip >= 8) {
        std::uint32_t const usize = load_be32(in.data() + ip);
        std::uint32_t const csize = load_be32(in.data() + ip + 4);
        ip += 8;
        if (csize > in.size() - ip || usize > out.size() - op || csize > INT_MAX || usize > INT_MAX)
            return false;
        int const n = LZ4_decompress_safe(reinterpret_cast<char const*>(in.data() + ip),
                                          reinterpret_cast<char*>(out.data() + op),
                                          static_cast<int>(csize), static_cast<int>(usize));
        if (n < 0 || static_cast<std::uint32_t>(n) != usize)
            return false;
        ip += csize;
        op += usize;
    }
    return ip == in.size() && op == out.size();
}

inline int lz4_block(std::span<std::uint8_t const> in, std::span<std::uint8_t> out)
{
    if (in.size() > INT_MAX || out.size() > INT_MAX)
        return -1;
    return LZ4_decompress_safe(reinterpret_cast<char const*>(in.data()),
                               reinterpret_cast<char*>(out.data()), static_cast<int>(in.size()),
                               static_cast<int>(out.size()));
}

} // namespace detail

/// Decompresses `in` into all of `out` (its exact uncompressed size). `file` and `offset` (of the
/// compressed bytes) go into the error.
inline void decompress(compression_codec c, std::span<std::uint8_t const> in,
                       std::span<std::uint8_t> out, std::string const& file = {},
                       std::uint64_t offset = error::npos)
{
    using detail::fail;
    if (c != compression_codec::uncompressed && in.empty() && out.empty())
        return;
    switch (c) {
    case compression_codec::uncompressed:
        if (in.size() != out.size())
            fail(c, in.size(), out.size(), "sizes differ", file, offset);
        if (!in.empty())
            std::memcpy(out.data(), in.data(), in.size());
        return;
    case compression_codec::snappy: {
        auto const src = reinterpret_cast<char const*>(in.data());
        std::size_t length = 0;
        if (snappy_uncompressed_length(src, in.size(), &length) != SNAPPY_OK)
            fail(c, in.size(), out.size(), "invalid input (no length prefix)", file, offset);
        if (length != out.size())
            fail(c, in.size(), out.size(), "its header says " + std::to_string(length), file,
                 offset);
        std::size_t n = out.size();
        snappy_status const st =
            snappy_uncompress(src, in.size(), reinterpret_cast<char*>(out.data()), &n);
        if (st != SNAPPY_OK || n != out.size())
            fail(c, in.size(), out.size(), "invalid input", file, offset);
        return;
    }
    case compression_codec::gzip:
        detail::inflate_all(in, out, file, offset);
        return;
    case compression_codec::zstd: {
        std::size_t const n = ZSTD_decompress(out.data(), out.size(), in.data(), in.size());
        if (ZSTD_isError(n))
            fail(c, in.size(), out.size(), ZSTD_getErrorName(n), file, offset);
        if (n != out.size())
            fail(c, in.size(), out.size(), "only " + std::to_string(n) + " bytes", file, offset);
        return;
    }
    case compression_codec::lz4_raw: {
        int const n = detail::lz4_block(in, out);
        if (n < 0)
            fail(c, in.size(), out.size(), "invalid LZ4 block", file, offset);
        if (static_cast<std::size_t>(n) != out.size())
            fail(c, in.size(), out.size(), "only " + std::to_string(n) + " bytes", file, offset);
        return;
    }
    case compression_codec::lz4: {
        if (detail::lz4_hadoop(in, out))
            return;
        int const n = detail::lz4_block(in, out);
        if (n < 0 || static_cast<std::size_t>(n) != out.size())
            fail(c, in.size(), out.size(), "neither Hadoop LZ4 frames nor an LZ4 block", file,
                 offset);
        return;
    }
    default:
        break;
    }
    throw error(file, offset,
                "compression codec " + std::string(to_string(c)) + " (" +
                    std::to_string(static_cast<std::int32_t>(c)) + ") is not supported");
}

namespace detail {

/// snappy's Source over compressed bytes read in chunks by `read(offset, span)`.
template <class Read>
class chunked_source final : public snappy::Source {
    Read& read_;
    std::vector<std::uint8_t>& chunk_;
    std::size_t size_, next_ = 0; // bytes in all; the next one not yet read
    std::size_t pos_ = 0, len_ = 0, left_;

public:
    chunked_source(Read& read, std::size_t size, std::vector<std::uint8_t>& chunk)
        : read_(read), chunk_(chunk), size_(size), left_(size)
    {}
    std::size_t Available() const override { return left_; }
    char const* Peek(std::size_t* len) override
    {
        if (pos_ == len_ && next_ < size_) {
            len_ = std::min(chunk_.size(), size_ - next_);
            read_(next_, std::span(chunk_.data(), len_));
            next_ += len_;
            pos_ = 0;
        }
        *len = len_ - pos_;
        return reinterpret_cast<char const*>(chunk_.data() + pos_);
    }
    void Skip(std::size_t n) override
    {
        pos_ += n;
        left_ -= n;
    }
};

} // namespace detail

/// SNAPPY without the compressed bytes held whole: `in_size` of them read by
/// `read(offset, std::span<std::uint8_t> out)` (out.size() bytes from offset `offset` of them)
/// in chunks of 128 KiB, decompressed into all of `out`. Errors as decompress()'s; `read`'s own
/// pass through.
template <class Read>
void snappy_from(Read&& read, std::size_t in_size, std::span<std::uint8_t> out,
                 std::string const& file = {}, std::uint64_t offset = error::npos)
{
    auto const c = compression_codec::snappy;
    if (in_size == 0 && out.empty())
        return;
    std::uint8_t head[10] = {};
    std::size_t const head_size = std::min<std::size_t>(in_size, sizeof head);
    read(std::size_t{0}, std::span(head, head_size));
    std::size_t length = 0;
    if (snappy_uncompressed_length(reinterpret_cast<char const*>(head), head_size, &length) !=
        SNAPPY_OK)
        detail::fail(c, in_size, out.size(), "invalid input (no length prefix)", file, offset);
    if (length != out.size())
        detail::fail(c, in_size, out.size(), "its header says " + std::to_string(length), file,
                     offset);
    thread_local std::vector<std::uint8_t> chunk(std::size_t{128} << 10);
    detail::chunked_source<std::remove_reference_t<Read>> src(read, in_size, chunk);
    if (!snappy::RawUncompress(&src, reinterpret_cast<char*>(out.data())))
        detail::fail(c, in_size, out.size(), "invalid input", file, offset);
}

/// Compresses `in` with `c`. `level`: zstd's (0: its default), gzip's (-1: zlib's default,
/// 0-9); ignored by the others.
inline std::vector<std::uint8_t> compress(compression_codec c, std::span<std::uint8_t const> in,
                                          int level = -1)
{
    std::vector<std::uint8_t> out;
    auto const fail = [&](std::string const& why) -> void {
        throw error(std::string(), error::npos,
                    std::string(to_string(c)) + ": cannot compress " + std::to_string(in.size()) +
                        " bytes: " + why);
    };
    switch (c) {
    case compression_codec::uncompressed:
        out.assign(in.begin(), in.end());
        return out;
    case compression_codec::snappy: {
        std::size_t n = snappy_max_compressed_length(in.size());
        out.resize(n);
        if (snappy_compress(reinterpret_cast<char const*>(in.data()), in.size(),
                            reinterpret_cast<char*>(out.data()), &n) != SNAPPY_OK)
            fail("snappy_compress failed");
        out.resize(n);
        return out;
    }
    case compression_codec::zstd: {
        out.resize(ZSTD_compressBound(in.size()));
        std::size_t const n =
            ZSTD_compress(out.data(), out.size(), in.data(), in.size(), level < 0 ? 0 : level);
        if (ZSTD_isError(n))
            fail(ZSTD_getErrorName(n));
        out.resize(n);
        return out;
    }
    case compression_codec::gzip: {
        if (in.size() > UINT_MAX)
            fail("larger than zlib takes at once");
        z_stream s{};
        if (deflateInit2(&s, level < 0 || level > 9 ? Z_DEFAULT_COMPRESSION : level, Z_DEFLATED,
                         15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) // 16: gzip framing
            fail("deflateInit2 failed");
        out.resize(deflateBound(&s, static_cast<uLong>(in.size())));
        s.next_in = const_cast<Bytef*>(in.data());
        s.avail_in = static_cast<uInt>(in.size());
        s.next_out = out.data();
        s.avail_out = static_cast<uInt>(out.size());
        int const rc = deflate(&s, Z_FINISH);
        std::size_t const n = out.size() - s.avail_out;
        deflateEnd(&s);
        if (rc != Z_STREAM_END)
            fail("deflate returned " + std::to_string(rc));
        out.resize(n);
        return out;
    }
    case compression_codec::lz4_raw: {
        if (in.size() > static_cast<std::size_t>(LZ4_MAX_INPUT_SIZE))
            fail("larger than LZ4_MAX_INPUT_SIZE");
        out.resize(static_cast<std::size_t>(LZ4_compressBound(static_cast<int>(in.size()))));
        int const n = LZ4_compress_default(
            reinterpret_cast<char const*>(in.data()), reinterpret_cast<char*>(out.data()),
            static_cast<int>(in.size()), static_cast<int>(out.size()));
        if (n <= 0 && !in.empty())
            fail("LZ4_compress_default failed");
        out.resize(static_cast<std::size_t>(n));
        return out;
    }
    default:
        break;
    }
    throw error(std::string(), error::npos,
                "compression codec " + std::string(to_string(c)) + " (" +
                    std::to_string(static_cast<std::int32_t>(c)) + ") cannot compress");
}

} // namespace streambatch::parquet::codec

#endif // STREAMBATCH_IO_PARQUET_DETAIL_CODEC_HPP_INCLUDED
