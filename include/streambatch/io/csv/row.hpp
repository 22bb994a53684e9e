// streambatch/io/csv/row.hpp: csv::row, one record that owns its bytes, and the field list the
// scanner fills for it.
//
// Out:    row: size(), operator[](i) / at(i) / at("name") -> std::string_view, get<T>(i or
//         "name") (see convert.hpp), line() and byte_offset() where it starts, header(), and
//         random-access iteration over its fields. detail::field_list: the (begin, end) bounds
//         of the record being scanned, and its quoted fields, as the row stores them.
// Models: row: a regular value type; copy = one allocation; move = three words, noexcept;
//         sizeof(row) == 24; streambatch::record_bytes(row) is its real heap size (ADL).
// Memory: one allocation: a 32-byte head (line, byte offset, sizes), 8 bytes of bounds per
//         field, the record's text unquoted in place, 16 bytes of slack. The reader refills a
//         row left in place without allocating.
// Errors: csv::parse_error (missing_column, conversion) naming file, line and column;
//         std::out_of_range from at(i) past the end.
// See docs/csv.md.

#ifndef STREAMBATCH_IO_CSV_ROW_HPP_INCLUDED
#define STREAMBATCH_IO_CSV_ROW_HPP_INCLUDED

#include <streambatch/io/csv/attributes.hpp>
#include <streambatch/io/csv/convert.hpp>
#include <streambatch/io/csv/errors.hpp>
#include <streambatch/io/csv/file_info.hpp>
#include <streambatch/io/detail/quote.hpp>

#include <algorithm>
#include <bit>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <memory>
#include <new>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace streambatch::csv {

namespace detail {

/// The fields of the record being parsed, as the row stores them: a (begin, end) pair of
/// offsets from the record's first byte per field, quotes included for quoted fields, which
/// are listed apart (index, doubled quotes) to be unquoted when the row is made.
class field_list {
    struct quoted_field {
        std::uint32_t index;
        std::uint32_t escapes;
    };
    std::unique_ptr<std::uint32_t[]> bounds_;
    std::size_t size_ = 0, cap_ = 0;
    std::vector<quoted_field> quoted_;

    STREAMBATCH_CSV_COLD void grow()
    {
        std::size_t const cap = cap_ == 0 ? 128 : 2 * cap_; // always >= 72 free after growing
        std::unique_ptr<std::uint32_t[]> fresh(
            new std::uint32_t[2 * cap + 4]()); // + 16 bytes: row::copy16
        if (size_ != 0)
            std::memcpy(fresh.get(), bounds_.get(), 2 * size_ * sizeof(std::uint32_t));
        bounds_ = std::move(fresh);
        cap_ = cap;
    }

public:
    void clear() noexcept
    {
        size_ = 0;
        quoted_.clear();
    }
    std::size_t size() const noexcept { return size_; }
    std::uint32_t const* bounds() const noexcept { return bounds_.get(); }
    std::span<quoted_field const> quoted() const noexcept { return quoted_; }

    STREAMBATCH_CSV_INLINE void push(std::size_t b, std::size_t e)
    {
        if (size_ == cap_)
            grow();
        bounds_[2 * size_] = static_cast<std::uint32_t>(b);
        bounds_[2 * size_ + 1] = static_cast<std::uint32_t>(e);
        ++size_;
    }
    STREAMBATCH_CSV_INLINE void push_delimited(std::uint64_t delims, std::size_t at,
                                               std::size_t& fstart)
    {
        if (cap_ - size_ < 64)
            grow();
        std::uint32_t* b = bounds_.get() + 2 * size_;
        auto f = static_cast<std::uint32_t>(fstart);
        auto const base = static_cast<std::uint32_t>(at);
        std::size_t n = 0;
        for (; delims != 0; delims &= delims - 1) {
            auto const k = base + static_cast<std::uint32_t>(std::countr_zero(delims));
            b[2 * n] = f;
            b[2 * n + 1] = k;
            f = k + 1;
            ++n;
        }
        size_ += n;
        fstart = f;
    }
    void push_quoted(std::size_t b, std::size_t e, std::uint32_t escapes)
    {
        quoted_.push_back({static_cast<std::uint32_t>(size_), escapes});
        push(b, e);
    }
};

class reader_state;

} // namespace detail

/// One record. Owns its bytes in a single allocation; moving it moves a pointer.
class row {
    struct head {
        std::uint64_t line;
        std::uint64_t byte_offset;
        std::uint32_t fields;
        std::uint32_t bytes;    ///< field bytes (raw record length)
        std::uint64_t capacity; ///< bytes allocated, head included
    };
    static_assert(sizeof(head) == 32 && alignof(head) <= alignof(std::max_align_t));

    head* rep_ = nullptr; // head, then 2 x fields std::uint32_t bounds, then the bytes
    std::shared_ptr<detail::file_info const> info_;

    friend class detail::reader_state;

    // Copies n bytes in 16-byte steps, so up to 15 bytes past both ends: most records are short,
    // and a call to memcpy costs more than the copy. The bounds are copied before the bytes,
    // which overwrite what the bounds' last step wrote past its end.
    static void copy16(char* dst, char const* src, std::size_t n) noexcept
    {
        for (std::size_t i = 0; i < n; i += 16)
            std::memcpy(dst + i, src + i, 16);
    }
    static std::size_t needed(std::size_t fields, std::size_t bytes) noexcept
    {
        return sizeof(head) + 2 * sizeof(std::uint32_t) * fields + bytes;
    }
    std::uint32_t const* bounds() const noexcept
    {
        return reinterpret_cast<std::uint32_t const*>(reinterpret_cast<char const*>(rep_) +
                                                      sizeof(head));
    }
    char const* bytes() const noexcept
    {
        return reinterpret_cast<char const*>(rep_) + sizeof(head) +
               2 * sizeof(std::uint32_t) * rep_->fields;
    }

    // Makes this row the record whose raw text is `raw` (fields as in `f`): one copy of the
    // bounds, one of the text, then quoted fields are unquoted in place. The allocation is
    // reused when this row still has one that is large enough (the caller did not move the
    // previous row out); otherwise it is the row's one allocation.
    void assign(std::shared_ptr<detail::file_info const> const& info, std::uint64_t line,
                std::uint64_t byte_offset, detail::field_list const& f, char const* raw,
                std::size_t len, char quote)
    {
        std::size_t const n = f.size();
        // Room for copying in whole 16-byte steps (the sources are padded: the block buffer
        // and the field list both have spare bytes past what they hold).
        std::size_t const size = needed(n, len) + 16;
        if (rep_ == nullptr || rep_->capacity < size) {
            // Replacing a row the caller kept in place: leave room to reuse it for the next.
            std::size_t const cap = rep_ == nullptr ? size : size + size / 2;
            ::operator delete(rep_);
            rep_ = nullptr;
            rep_ = ::new (::operator new(cap)) head{0, 0, 0, 0, cap};
        }
        if (info_ != info) // kept from the previous record (or a recycled one of the same
            info_ = info;  // input): no refcount traffic
        rep_->line = line;
        rep_->byte_offset = byte_offset;
        rep_->fields = static_cast<std::uint32_t>(n);
        rep_->bytes = static_cast<std::uint32_t>(len);
        auto* b = reinterpret_cast<std::uint32_t*>(reinterpret_cast<char*>(rep_) + sizeof(head));
        char* d = reinterpret_cast<char*>(b + 2 * n);
        copy16(reinterpret_cast<char*>(b), reinterpret_cast<char const*>(f.bounds()),
               2 * sizeof(std::uint32_t) * n);
        copy16(d, raw, len);
        for (auto const& qf : f.quoted()) {
            std::uint32_t const fb = b[2 * qf.index] + 1;
            std::uint32_t fe = b[2 * qf.index + 1] - 1;
            if (qf.escapes != 0) { // "" -> ": every quote inside is doubled; move the runs between
                char* w = d + fb;
                char const* r = d + fb;
                char const* const e = d + fe;
                for (std::uint32_t k = 0; k < qf.escapes; ++k) {
                    auto const* q = static_cast<char const*>(
                        std::memchr(r, quote, static_cast<std::size_t>(e - r)));
                    auto const run = static_cast<std::size_t>(q - r) + 1; // the run and one quote
                    std::memmove(w, r, run);
                    w += run;
                    r = q + 2;
                }
                std::memmove(w, r, static_cast<std::size_t>(e - r));
                fe = static_cast<std::uint32_t>(w + (e - r) - d);
            }
            b[2 * qf.index] = fb;
            b[2 * qf.index + 1] = fe;
        }
    }

    [[noreturn]] void throw_error(error_kind kind, std::size_t column, std::string reason) const
    {
        std::string const file = info_ ? info_->name : std::string("<row>");
        std::string cname = info_ ? info_->column_name(column) : std::string();
        throw parse_error(kind, file, line(), byte_offset(), std::move(reason), column,
                          std::move(cname), info_ ? info_->line_partition : std::nullopt);
    }
    std::string describe(std::size_t i) const
    {
        return info_ ? info_->describe(i) : "column " + std::to_string(i);
    }

public:
    /// Iterates the fields as std::string_view (random access).
    class iterator {
        row const* r_ = nullptr;
        std::ptrdiff_t i_ = 0;

    public:
        using iterator_concept = std::random_access_iterator_tag;
        using iterator_category = std::random_access_iterator_tag;
        using value_type = std::string_view;
        using difference_type = std::ptrdiff_t;
        using reference = std::string_view;
        using pointer = void;

        iterator() = default;
        iterator(row const* r, std::ptrdiff_t i) noexcept : r_(r), i_(i) {}
        std::string_view operator*() const noexcept { return (*r_)[static_cast<std::size_t>(i_)]; }
        std::string_view operator[](std::ptrdiff_t n) const noexcept { return *(*this + n); }
        iterator& operator++() noexcept { return ++i_, *this; }
        iterator operator++(int) noexcept { return {r_, i_++}; }
        iterator& operator--() noexcept { return --i_, *this; }
        iterator operator--(int) noexcept { return {r_, i_--}; }
        iterator& operator+=(std::ptrdiff_t n) noexcept { return i_ += n, *this; }
        iterator& operator-=(std::ptrdiff_t n) noexcept { return i_ -= n, *this; }
        friend iterator operator+(iterator a, std::ptrdiff_t n) noexcept { return a += n; }
        friend iterator operator+(std::ptrdiff_t n, iterator a) noexcept { return a += n; }
        friend iterator operator-(iterator a, std::ptrdiff_t n) noexcept { return a -= n; }
        friend std::ptrdiff_t operator-(iterator const& a, iterator const& b) noexcept
        {
            return a.i_ - b.i_;
        }
        friend bool operator==(iterator const& a, iterator const& b) noexcept
        {
            return a.i_ == b.i_;
        }
        friend auto operator<=>(iterator const& a, iterator const& b) noexcept
        {
            return a.i_ <=> b.i_;
        }
    };

    row() noexcept = default;
    row(row&& o) noexcept : rep_(std::exchange(o.rep_, nullptr)), info_(std::move(o.info_)) {}
    /// Takes o's record and hands o this row's allocation, emptied (o.size() is 0), so that a
    /// reader whose current row is moved over a recycled slot (views::chunk's refill, the
    /// parallel runner's spare batches) fills that slot's old allocation next instead of
    /// allocating: no allocation per row in the steady state (bench/RESULTS-parallel.md).
    row& operator=(row&& o) noexcept
    {
        if (this != &o) {
            std::swap(rep_, o.rep_);
            info_.swap(o.info_);
            if (o.rep_ != nullptr) {
                o.rep_->line = 0;
                o.rep_->byte_offset = 0;
                o.rep_->fields = 0;
                o.rep_->bytes = 0;
            }
        }
        return *this;
    }
    row(row const& o) : info_(o.info_)
    {
        if (o.rep_ != nullptr) {
            std::size_t const n = needed(o.rep_->fields, o.rep_->bytes);
            void* mem = ::operator new(n);
            std::memcpy(mem, o.rep_, n);
            rep_ = std::launder(static_cast<head*>(mem));
            rep_->capacity = n;
        }
    }
    row& operator=(row const& o)
    {
        if (this != &o)
            *this = row(o);
        return *this;
    }
    ~row() { ::operator delete(rep_); }

    /// Number of fields (0 for a default-constructed or moved-from row).
    std::size_t size() const noexcept { return rep_ ? rep_->fields : 0; }
    bool empty() const noexcept { return size() == 0; }
    /// Field i (from 0), unquoted. Precondition: i < size().
    std::string_view operator[](std::size_t i) const noexcept
    {
        std::uint32_t const* b = bounds();
        return std::string_view(bytes() + b[2 * i], b[2 * i + 1] - b[2 * i]);
    }
    /// Field i; std::out_of_range past the end.
    std::string_view at(std::size_t i) const
    {
        if (i >= size())
            throw std::out_of_range("streambatch::csv::row::at: column " + std::to_string(i) +
                                    " of a row with " + std::to_string(size()) + " fields");
        return (*this)[i];
    }
    /// The field under header name `column`; parse_error (missing_column) if there is none.
    std::string_view at(std::string_view column) const { return (*this)[index_of(column)]; }
    /// The column index of a header name, as at() finds it.
    std::size_t index_of(std::string_view column) const
    {
        std::optional<std::size_t> const i = info_ ? info_->find(column) : std::nullopt;
        if (!i) {
            std::string why = "no column named " + io::detail::quote(column);
            why += info_ && !info_->columns.empty() ? "; the header has: " + info_->column_list()
                                                    : std::string("; the file has no header");
            throw parse_error(error_kind::missing_column, info_ ? info_->name : "<row>", line(),
                              byte_offset(), std::move(why), std::nullopt, std::string(),
                              info_ ? info_->line_partition : std::nullopt);
        }
        if (*i >= size())
            at(*i); // throws std::out_of_range
        return *i;
    }

    /// Field i converted to T (integers and floats by std::from_chars, bool, std::string,
    /// std::string_view, std::optional of those: empty field -> nullopt). The whole field must
    /// convert: no spaces, no '+'. parse_error (conversion) names file, line, column and text.
    template <class T>
    T get(std::size_t i) const
    {
        static_assert(detail::field_type<T>,
                      "csv::row::get<T>: T must be an integer, a floating-point type, bool, "
                      "std::string, std::string_view, or std::optional of one of those");
        std::string_view const s = at(i);
        if constexpr (detail::optional_traits<T>::value) {
            if (s.empty())
                return std::nullopt;
            return T(get<typename detail::optional_traits<T>::value_type>(i));
        } else {
            T out{};
            std::string why = detail::convert(s, out);
            if (!why.empty())
                throw_error(error_kind::conversion, i,
                            describe(i) + ": cannot convert " + io::detail::quote(s) + " to " +
                                detail::type_name<T>() + ": " + why);
            return out;
        }
    }
    template <class T>
    T get(std::string_view column) const
    {
        return get<T>(index_of(column));
    }

    /// Physical line (from 1) and byte offset (from 0) where the record begins. In a partition
    /// after the first (options::partition), the line counts from the partition's first record
    /// (line 1): the reader never reads what comes before its range.
    std::uint64_t line() const noexcept { return rep_ ? rep_->line : 0; }
    std::uint64_t byte_offset() const noexcept { return rep_ ? rep_->byte_offset : 0; }
    /// The header's names (empty without a header) and the name in messages.
    std::span<std::string const> header() const noexcept
    {
        return info_ ? std::span<std::string const>(info_->columns)
                     : std::span<std::string const>();
    }

    iterator begin() const noexcept { return {this, 0}; }
    iterator end() const noexcept { return {this, static_cast<std::ptrdiff_t>(size())}; }

    /// Fields equal (line, offset and header are not compared).
    friend bool operator==(row const& a, row const& b) noexcept { return std::ranges::equal(a, b); }

    /// Heap bytes plus sizeof(row), for streambatch::record_bytes and adaptive_chunk.
    friend std::size_t record_bytes(row const& r) noexcept
    {
        return sizeof(row) + (r.rep_ ? static_cast<std::size_t>(r.rep_->capacity) : 0);
    }
};

} // namespace streambatch::csv

#endif // STREAMBATCH_IO_CSV_ROW_HPP_INCLUDED
