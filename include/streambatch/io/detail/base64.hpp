// streambatch/io/detail/base64.hpp: RFC 4648 base64 (with padding), both ways. Rejects carry
// bytes that are not UTF-8 (and SQLite blobs) this way: see docs/rejects.md.

#ifndef STREAMBATCH_IO_DETAIL_BASE64_HPP_INCLUDED
#define STREAMBATCH_IO_DETAIL_BASE64_HPP_INCLUDED

#include <streambatch/io/detail/digits.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace streambatch::io::detail {

inline std::string base64_encode(std::string_view in)
{
    constexpr std::string_view digits = base64_alphabet;
    std::string out;
    out.reserve((in.size() + 2) / 3 * 4);
    auto const at = [&](std::size_t k) { return std::uint32_t{static_cast<unsigned char>(in[k])}; };
    std::size_t i = 0;
    for (; i + 2 < in.size(); i += 3) {
        std::uint32_t const v = at(i) << 16 | at(i + 1) << 8 | at(i + 2);
        for (int shift = 18; shift >= 0; shift -= 6)
            out += digits[(v >> shift) & 63];
    }
    if (i < in.size()) {
        bool const two = i + 1 < in.size();
        std::uint32_t const v = at(i) << 16 | (two ? at(i + 1) << 8 : 0);
        out += digits[(v >> 18) & 63];
        out += digits[(v >> 12) & 63];
        out += two ? digits[(v >> 6) & 63] : '=';
        out += '=';
    }
    return out;
}

/// The bytes, or nullopt when `in` is not padded base64 (length a multiple of 4, the alphabet).
inline std::optional<std::string> base64_decode(std::string_view in)
{
    if (in.size() % 4 != 0)
        return std::nullopt;
    std::string out;
    out.reserve(in.size() / 4 * 3);
    for (std::size_t i = 0; i < in.size(); i += 4) {
        bool const last = i + 4 == in.size();
        int const pad = last ? (in[i + 3] == '=') + (in[i + 2] == '=' && in[i + 3] == '=') : 0;
        std::uint32_t v = 0;
        for (std::size_t k = 0; k < 4; ++k) {
            int const d = k >= 4 - static_cast<std::size_t>(pad) ? 0 : base64_digit(in[i + k]);
            if (d < 0)
                return std::nullopt;
            v = v << 6 | static_cast<std::uint32_t>(d);
        }
        out += static_cast<char>(v >> 16);
        if (pad < 2)
            out += static_cast<char>((v >> 8) & 0xFF);
        if (pad < 1)
            out += static_cast<char>(v & 0xFF);
    }
    return out;
}

} // namespace streambatch::io::detail

#endif // STREAMBATCH_IO_DETAIL_BASE64_HPP_INCLUDED
