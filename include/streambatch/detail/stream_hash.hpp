// streambatch/detail/stream_hash.hpp: a 64-bit hash fed in pieces, for input identities (the
// bytes a job has consumed) and file sinks (the tail of what they wrote).
//
// In:     bytes, in as many update() calls as the caller likes.
// Out:    digest(): the same value for the same bytes however they were split; hex(): 16
//         lowercase hex digits.
// Models: a value type; the xxHash64 construction (four 64-bit lanes over 32-byte stripes,
//         multiply-rotate rounds, an avalanche at the end), written here: several GB/s, not
//         cryptographic (it detects accidents: a swapped, edited or truncated file, not an
//         adversary).
// Memory: 88 bytes.
// Errors: none.
// Example:
//     streambatch::detail::stream_hash h;
//     h.update(block1); h.update(block2);
//     std::string id = h.hex();

#ifndef STREAMBATCH_DETAIL_STREAM_HASH_HPP_INCLUDED
#define STREAMBATCH_DETAIL_STREAM_HASH_HPP_INCLUDED

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace streambatch::detail {

class stream_hash {
    static constexpr std::uint64_t p1 = 0x9E3779B185EBCA87ull;
    static constexpr std::uint64_t p2 = 0xC2B2AE3D27D4EB4Full;
    static constexpr std::uint64_t p3 = 0x165667B19E3779F9ull;
    static constexpr std::uint64_t p4 = 0x85EBCA77C2B2AE63ull;
    static constexpr std::uint64_t p5 = 0x27D4EB2F165667C5ull;

    std::uint64_t lane_[4];
    unsigned char pending_[32];
    std::size_t pending_size_ = 0;
    std::uint64_t total_ = 0;
    std::uint64_t seed_;

    static constexpr std::uint64_t rotl(std::uint64_t x, int r) noexcept
    {
        return (x << r) | (x >> (64 - r));
    }
    static std::uint64_t read64(unsigned char const* p) noexcept
    {
        std::uint64_t v;
        std::memcpy(&v, p, 8);
        return v; // little-endian hosts only (x86-64, aarch64): the digest is not portable
    }
    static std::uint32_t read32(unsigned char const* p) noexcept
    {
        std::uint32_t v;
        std::memcpy(&v, p, 4);
        return v;
    }
    static constexpr std::uint64_t round(std::uint64_t acc, std::uint64_t in) noexcept
    {
        return rotl(acc + in * p2, 31) * p1;
    }
    static constexpr std::uint64_t merge(std::uint64_t acc, std::uint64_t lane) noexcept
    {
        return (acc ^ round(0, lane)) * p1 + p4;
    }
    void stripes(unsigned char const* p, std::size_t n) noexcept // n a multiple of 32
    {
        std::uint64_t a = lane_[0], b = lane_[1], c = lane_[2], d = lane_[3];
        for (unsigned char const* end = p + n; p != end; p += 32) {
            a = round(a, read64(p));
            b = round(b, read64(p + 8));
            c = round(c, read64(p + 16));
            d = round(d, read64(p + 24));
        }
        lane_[0] = a, lane_[1] = b, lane_[2] = c, lane_[3] = d;
    }

public:
    explicit stream_hash(std::uint64_t seed = 0) noexcept : seed_(seed)
    {
        lane_[0] = seed + p1 + p2;
        lane_[1] = seed + p2;
        lane_[2] = seed;
        lane_[3] = seed - p1;
    }

    void update(void const* data, std::size_t n) noexcept
    {
        auto const* p = static_cast<unsigned char const*>(data);
        total_ += n;
        if (pending_size_ != 0) {
            std::size_t const take = n < 32 - pending_size_ ? n : 32 - pending_size_;
            std::memcpy(pending_ + pending_size_, p, take);
            pending_size_ += take;
            p += take;
            n -= take;
            if (pending_size_ < 32)
                return;
            stripes(pending_, 32);
            pending_size_ = 0;
        }
        std::size_t const whole = n & ~std::size_t{31};
        stripes(p, whole);
        std::memcpy(pending_, p + whole, n - whole);
        pending_size_ = n - whole;
    }
    void update(std::string_view s) noexcept { update(s.data(), s.size()); }

    /// Bytes hashed so far.
    std::uint64_t size() const noexcept { return total_; }

    std::uint64_t digest() const noexcept
    {
        std::uint64_t h;
        if (total_ >= 32) {
            h = rotl(lane_[0], 1) + rotl(lane_[1], 7) + rotl(lane_[2], 12) + rotl(lane_[3], 18);
            for (auto lane : lane_)
                h = merge(h, lane);
        } else {
            h = seed_ + p5;
        }
        h += total_;
        unsigned char const* p = pending_;
        std::size_t n = pending_size_;
        for (; n >= 8; p += 8, n -= 8)
            h = rotl(h ^ round(0, read64(p)), 27) * p1 + p4;
        if (n >= 4) {
            h = rotl(h ^ (std::uint64_t{read32(p)} * p1), 23) * p2 + p3;
            p += 4;
            n -= 4;
        }
        for (; n > 0; ++p, --n)
            h = rotl(h ^ (*p * p5), 11) * p1;
        h ^= h >> 33;
        h *= p2;
        h ^= h >> 29;
        h *= p3;
        h ^= h >> 32;
        return h;
    }

    /// digest() as 16 lowercase hex digits.
    std::string hex() const
    {
        static constexpr char digits[] = "0123456789abcdef";
        std::uint64_t v = digest();
        std::string s(16, '0');
        for (int i = 15; i >= 0; --i, v >>= 4)
            s[static_cast<std::size_t>(i)] = digits[v & 15];
        return s;
    }
};

} // namespace streambatch::detail

#endif // STREAMBATCH_DETAIL_STREAM_HASH_HPP_INCLUDED
