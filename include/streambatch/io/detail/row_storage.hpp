// streambatch/io/detail/row_storage.hpp: a row's values in one allocation, for the SQL rows
// (a sqlite::row and a postgres::row each own one and survive their statement or result).
//
// Layout for n values: (n + 1) offsets (std::uint64_t, value i is bytes [off_i, off_i+1) of the
// data), n kind bytes (padded to 8; SQLite's storage class, or PostgreSQL's NULL flag), then the
// values' bytes. The storage does not keep n (the row's result does): every call passes it.

#ifndef STREAMBATCH_IO_DETAIL_ROW_STORAGE_HPP_INCLUDED
#define STREAMBATCH_IO_DETAIL_ROW_STORAGE_HPP_INCLUDED

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string_view>

namespace streambatch::io::detail {

class row_storage {
    std::unique_ptr<std::byte[]> buf_;

    static constexpr std::size_t align8(std::size_t n) noexcept
    {
        return (n + 7) & ~std::size_t{7};
    }
    static constexpr std::size_t header_bytes(std::size_t n) noexcept
    {
        return (n + 1) * 8 + align8(n);
    }
    std::uint64_t offset(std::size_t i) const noexcept
    {
        std::uint64_t v;
        std::memcpy(&v, buf_.get() + i * 8, 8);
        return v;
    }
    std::size_t total_bytes(std::size_t n) const noexcept { return header_bytes(n) + offset(n); }

public:
    row_storage() = default;
    /// n values: size_of(i) is value i's size in bytes; fill(i, dst) writes them to dst and
    /// returns its kind byte.
    template <class SizeOf, class Fill>
    row_storage(std::size_t n, SizeOf&& size_of, Fill&& fill)
    {
        std::size_t data = 0;
        for (std::size_t i = 0; i < n; ++i)
            data += size_of(i);
        std::size_t const head = header_bytes(n);
        buf_ = std::make_unique_for_overwrite<std::byte[]>(head + data);
        std::byte* const kinds = buf_.get() + (n + 1) * 8;
        std::uint64_t off = 0;
        for (std::size_t i = 0; i < n; ++i) {
            std::memcpy(buf_.get() + i * 8, &off, 8);
            kinds[i] = static_cast<std::byte>(fill(i, buf_.get() + head + off));
            off += size_of(i);
        }
        std::memcpy(buf_.get() + n * 8, &off, 8);
    }
    /// A copy of `o`, which holds n values.
    row_storage(row_storage const& o, std::size_t n)
    {
        if (o.buf_) {
            std::size_t const bytes = o.total_bytes(n);
            buf_ = std::make_unique_for_overwrite<std::byte[]>(bytes);
            std::memcpy(buf_.get(), o.buf_.get(), bytes);
        }
    }
    row_storage(row_storage&&) noexcept = default;
    row_storage& operator=(row_storage&&) noexcept = default;

    unsigned char kind(std::size_t n, std::size_t i) const noexcept
    {
        return std::to_integer<unsigned char>(buf_[(n + 1) * 8 + i]);
    }
    std::byte const* data(std::size_t n, std::size_t i) const noexcept
    {
        return buf_.get() + header_bytes(n) + offset(i);
    }
    std::size_t size(std::size_t i) const noexcept
    {
        return static_cast<std::size_t>(offset(i + 1) - offset(i));
    }
    std::string_view bytes(std::size_t n, std::size_t i) const noexcept
    {
        return {reinterpret_cast<char const*>(data(n, i)), size(i)};
    }
};

} // namespace streambatch::io::detail

#endif // STREAMBATCH_IO_DETAIL_ROW_STORAGE_HPP_INCLUDED
