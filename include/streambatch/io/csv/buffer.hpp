// streambatch/io/csv/buffer.hpp: the CSV reader's block buffer: the bytes read from a
// byte_source and not yet consumed, and the SIMD masks of the 64-byte window being scanned.
//
// In:     a detail::byte_source, the block size, the longest record (max_record_bytes), and
//         the delimiter and quote for the masks.
// Out:    [buf_ + beg_, buf_ + end_): the bytes not consumed, padded by scan_padding readable
//         bytes; base_: the input offset of buf_[0], so offset_of(rel) = base_ + beg_ + rel.
//         more() reads one block after end_; window() gives the masks of delimiters and
//         specials (quote, CR, LF, NUL) around a position, computed once per 64 bytes;
//         jump_to(offset) moves to any input offset (within the buffer, by seeking, or by
//         reading forward).
// Models: a base class: the scanner derives from it so that its hot loop reads beg_, end_ and
//         buf_ as its own members; the split finder and the reject path use it by reference.
// Memory: 2 x block_size, more only for a record longer than a block, never more than
//         max_buffer() = max_record_bytes + 3 x block_size + 1.
// Errors: std::system_error from the source; jump_to: std::invalid_argument naming the input
//         when the offset cannot be reached.

#ifndef STREAMBATCH_IO_CSV_BUFFER_HPP_INCLUDED
#define STREAMBATCH_IO_CSV_BUFFER_HPP_INCLUDED

#include <streambatch/io/csv/attributes.hpp>
#include <streambatch/io/csv/scan.hpp>
#include <streambatch/io/csv/source.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>

namespace streambatch::csv::detail {

class block_buffer {
public:
    std::unique_ptr<byte_source> src_;
    std::unique_ptr<char[]> buf_;
    std::size_t cap_ = 0;           ///< usable bytes (scan_padding more are allocated)
    std::size_t beg_ = 0, end_ = 0; ///< [beg_, end_): bytes not consumed
    std::uint64_t base_ = 0;        ///< input offset of buf_[0]
    bool eof_ = false;

    std::size_t block_size_;
    std::size_t max_record_bytes_;
    char delimiter_, quote_;

    // The masks of the 64 bytes from buf_[mask_at_] (absolute index), reused across fields and
    // records; mask_none after every read, which may change or move the bytes.
    static constexpr std::size_t mask_none = std::size_t{1} << 63;
    std::size_t mask_at_ = mask_none;
    std::uint64_t delims_ = 0, specials_ = 0;

    block_buffer(std::unique_ptr<byte_source> src, std::size_t block_size,
                 std::size_t max_record_bytes, char delimiter, char quote)
        : src_(std::move(src)), cap_(2 * block_size), block_size_(block_size),
          max_record_bytes_(max_record_bytes), delimiter_(delimiter), quote_(quote)
    {
        buf_.reset(new char[cap_ + scan_padding]());
    }

    /// Reads one more block after end_, keeping [beg_, end_); false at the end of input.
    bool more()
    {
        if (eof_)
            return false;
        std::size_t const block = block_size_;
        if (cap_ - end_ < block) {
            std::size_t const keep = end_ - beg_;
            std::size_t cap = cap_;
            if (keep + block > cap_ || keep > cap_ / 2) // a long record: grow (doubling, but never
                cap = std::max(keep + block, // past what the longest record needs: max_buffer())
                               std::min(std::max(2 * cap_, keep + 2 * block), max_buffer()));
            if (cap > cap_) {
                std::unique_ptr<char[]> fresh(new char[cap + scan_padding]());
                std::memcpy(fresh.get(), buf_.get() + beg_, keep);
                buf_ = std::move(fresh);
                cap_ = cap;
            } else if (keep != 0) {
                std::memmove(buf_.get(), buf_.get() + beg_, keep);
            }
            base_ += beg_;
            beg_ = 0;
            end_ = keep;
        }
        mask_at_ = mask_none;
        std::size_t const got = src_->read(buf_.get() + end_, block);
        if (got == 0) {
            eof_ = true;
            return false;
        }
        end_ += got;
        return true;
    }

    std::uint64_t offset_of(std::size_t rel) const noexcept { return base_ + beg_ + rel; }

    /// The most the buffer needs: a record of max_record_bytes and its line break, plus the
    /// blocks read while skipping a bad line (the reject path keeps at most that much).
    std::size_t max_buffer() const noexcept
    {
        return std::max(2 * block_size_, max_record_bytes_ + 3 * block_size_ + 1);
    }

    /// The masks of the 64-byte window holding pos (relative to beg_), cut to [pos, lim):
    /// `at` is the relative position of bit 0. Precondition: pos < lim.
    STREAMBATCH_CSV_INLINE void window(std::size_t pos, std::size_t lim, std::size_t& at,
                                       std::uint64_t& delims, std::uint64_t& specials) noexcept
    {
        std::size_t const a = beg_ + pos;
        if (a - mask_at_ >= 64) { // not cached (unsigned: also when a < mask_at_)
            mask_at_ = a;
            masks64 const m = classify64(buf_.get() + a, delimiter_, quote_);
            delims_ = m.delims;
            specials_ = m.specials;
        }
        std::uint64_t keep = ~std::uint64_t{0} << (a - mask_at_);
        std::size_t const alim = beg_ + lim;
        if (alim - mask_at_ < 64)
            keep &= (std::uint64_t{1} << (alim - mask_at_)) - 1;
        at = mask_at_ - beg_;
        delims = delims_ & keep;
        specials = specials_ & keep;
    }

    /// Moves the buffer to input offset `target`: within the buffer, by seeking, or (a source
    /// that cannot seek) by reading forward. `what` and `name` word the error ("cannot resume
    /// customers.csv at byte 4711: ...").
    void jump_to(std::uint64_t target, std::string const& what, std::string const& name)
    {
        if (target >= base_ && target <= base_ + end_) {
            beg_ = static_cast<std::size_t>(target - base_);
        } else if (src_->seek(target)) {
            base_ = target;
            beg_ = end_ = 0;
            eof_ = false;
        } else if (target > base_ + end_) { // not seekable (or past the end of a file)
            while (base_ + end_ < target) {
                beg_ = end_;
                if (!more())
                    throw std::invalid_argument("streambatch::csv: cannot " + what + " " + name +
                                                " at byte " + std::to_string(target) +
                                                ": the input has only " +
                                                std::to_string(base_ + end_) + " bytes");
            }
            beg_ = static_cast<std::size_t>(target - base_);
        } else {
            throw std::invalid_argument("streambatch::csv: cannot " + what + " " + name +
                                        " at byte " + std::to_string(target) +
                                        ": the input cannot seek back there");
        }
        mask_at_ = mask_none;
    }
};

} // namespace streambatch::csv::detail

#endif // STREAMBATCH_IO_CSV_BUFFER_HPP_INCLUDED
