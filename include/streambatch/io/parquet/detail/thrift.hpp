// streambatch/io/parquet/detail/thrift.hpp: the Thrift compact protocol, by hand: what Parquet's
// footer (FileMetaData) and page headers are written in. No libthrift.
//
// In:     reader: a byte span and the absolute offset of its first byte (for messages), and the
//         deepest nesting of structs, lists and maps it accepts. writer: values to encode.
// Out:    thrift::reader: read_varint (ULEB128, overflow checked), read_i8, read_i16/i32/i64
//         (zigzag varints, range checked), read_double (8 bytes little-endian), read_binary (a
//         view into the input) and read_string; struct_begin / read_field / struct_end (field
//         headers with id deltas or the long form, bools carried in the type); read_list_header
//         (lists and sets, short and long size), read_map_header, read_bool_element; skip(type)
//         of any value, depth-limited. thrift::writer: the same, encoding into a byte vector.
// Models: the compact protocol as Apache Thrift's TCompactProtocol writes it: field header byte
//         (delta << 4 | type), delta 0 followed by a zigzag i16 id; list header byte
//         (size << 4 | type), size 15 followed by a varint size; map: varint size, then (when not
//         empty) one byte key type << 4 | value type; bools in lists one byte each (1 true,
//         anything else false: old writers used 0); a struct ends with a 0 byte.
// Memory: the reader allocates nothing (read_string copies); the writer grows its vector.
// Errors: parquet::error (io/parquet/errors.hpp) with the absolute byte offset of the bad byte:
//         truncated input, varint too long or out of range, negative or oversized lengths and
//         sizes (a size larger than the bytes left cannot be right: each element takes at
//         least one byte), unknown type nibbles, nesting deeper than the limit. file() is empty:
//         the caller adds it (parquet::with_file).
// Example:
//     thrift::writer w;
//     w.struct_begin(); w.field_i32(1, 42); w.field_binary(4, "x"); w.struct_end();
//     thrift::reader r(w.bytes());
//     r.struct_begin();
//     for (auto f = r.read_field(); f.type != thrift::ctype::stop; f = r.read_field())
//         if (f.id == 1 && f.type == thrift::ctype::i32) v = r.read_i32(); else r.skip(f);
//     r.struct_end();

#ifndef STREAMBATCH_IO_PARQUET_DETAIL_THRIFT_HPP_INCLUDED
#define STREAMBATCH_IO_PARQUET_DETAIL_THRIFT_HPP_INCLUDED

#include <streambatch/io/parquet/errors.hpp>

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace streambatch::parquet::thrift {

/// The compact protocol's type nibbles (bool_true/bool_false also mean "bool" in list headers).
enum class ctype : std::uint8_t {
    stop = 0,
    bool_true = 1,
    bool_false = 2,
    i8 = 3,
    i16 = 4,
    i32 = 5,
    i64 = 6,
    double_ = 7,
    binary = 8,
    list = 9,
    set = 10,
    map = 11,
    struct_ = 12,
};

/// "i32", "struct", ...
inline constexpr char const* to_string(ctype t) noexcept
{
    switch (t) {
    case ctype::stop:
        return "stop";
    case ctype::bool_true:
    case ctype::bool_false:
        return "bool";
    case ctype::i8:
        return "i8";
    case ctype::i16:
        return "i16";
    case ctype::i32:
        return "i32";
    case ctype::i64:
        return "i64";
    case ctype::double_:
        return "double";
    case ctype::binary:
        return "binary";
    case ctype::list:
        return "list";
    case ctype::set:
        return "set";
    case ctype::map:
        return "map";
    case ctype::struct_:
        return "struct";
    }
    return "unknown";
}

/// True for both bool nibbles.
inline constexpr bool is_bool(ctype t) noexcept
{
    return t == ctype::bool_true || t == ctype::bool_false;
}

/// A struct's field header. For a bool field the value is in the header: `type` is bool_true or
/// bool_false and nothing follows (read it with reader::read_bool(field)).
struct field {
    ctype type = ctype::stop;
    std::int16_t id = 0;
};

/// A list's or set's header.
struct list_header {
    ctype elem = ctype::stop;
    std::uint32_t size = 0;
};

/// A map's header (key and value are stop for an empty map).
struct map_header {
    ctype key = ctype::stop, value = ctype::stop;
    std::uint32_t size = 0;
};

/// Default nesting limit: Parquet's deepest struct path is about 6; arrow uses 64 too.
inline constexpr int default_max_depth = 64;

/// Decodes compact-protocol values from a byte span, front to back.
class reader {
    std::uint8_t const* data_;
    std::size_t size_;
    std::size_t pos_ = 0;
    std::uint64_t base_;
    int max_depth_;
    int depth_ = 0;
    // The last field id of each open struct (deltas are relative to it).
    std::vector<std::int16_t> last_ids_;

    [[noreturn]] void fail_at(std::size_t pos, std::string const& reason) const
    {
        throw error(std::string(), base_ + pos, reason);
    }
    void need(std::size_t n, char const* what) const
    {
        if (size_ - pos_ < n)
            fail_at(pos_, std::string("truncated thrift: ") + what + " needs " + std::to_string(n) +
                              " byte" + (n == 1 ? "" : "s") + ", " + std::to_string(size_ - pos_) +
                              " left");
    }
    std::uint8_t byte(char const* what)
    {
        need(1, what);
        return data_[pos_++];
    }
    ctype checked_type(unsigned nibble, std::size_t at, bool in_container)
    {
        if (nibble > static_cast<unsigned>(ctype::struct_) || (nibble == 0 && in_container))
            fail_at(at, "bad thrift type " + std::to_string(nibble));
        return static_cast<ctype>(nibble);
    }
    void enter(std::size_t at)
    {
        if (++depth_ > max_depth_)
            fail_at(at, "thrift nesting deeper than " + std::to_string(max_depth_));
    }
    std::uint32_t checked_size(std::uint64_t n, std::size_t at, char const* what)
    {
        // Each element takes one byte at least, so a size past the bytes left is damage (and
        // must not make a caller reserve gigabytes).
        if (n > size_ - pos_)
            fail_at(at, std::string(what) + " of " + std::to_string(n) + " elements but " +
                            std::to_string(size_ - pos_) + " bytes left");
        return static_cast<std::uint32_t>(n);
    }

public:
    reader(std::span<std::uint8_t const> bytes, std::uint64_t base = 0,
           int max_depth = default_max_depth)
        : data_(bytes.data()), size_(bytes.size()), base_(base), max_depth_(max_depth)
    {}

    /// Bytes consumed so far.
    std::size_t position() const noexcept { return pos_; }
    /// Absolute offset of the next byte (base + position()).
    std::uint64_t offset() const noexcept { return base_ + pos_; }
    /// Bytes not read yet.
    std::size_t remaining() const noexcept { return size_ - pos_; }
    /// Current nesting depth (open structs, lists and maps being skipped).
    int depth() const noexcept { return depth_; }
    /// Throws parquet::error at the current offset.
    [[noreturn]] void fail(std::string const& reason) const { fail_at(pos_, reason); }
    /// Throws parquet::error at an earlier offset (an absolute one, from offset()).
    [[noreturn]] void fail_at_offset(std::uint64_t absolute, std::string const& reason) const
    {
        throw error(std::string(), absolute, reason);
    }

    /// ULEB128, at most 10 bytes and 64 bits.
    std::uint64_t read_varint()
    {
        std::size_t const start = pos_;
        std::uint64_t v = 0;
        for (int shift = 0;; shift += 7) {
            if (pos_ == size_)
                fail_at(pos_, "truncated thrift: varint started at byte " +
                                  std::to_string(base_ + start) + " not finished");
            std::uint8_t const b = data_[pos_++];
            if (shift == 63 && (b & 0x7e) != 0)
                fail_at(start, "varint overflows 64 bits");
            v |= static_cast<std::uint64_t>(b & 0x7f) << shift;
            if ((b & 0x80) == 0)
                return v;
            if (shift == 63)
                fail_at(start, "varint longer than 10 bytes");
        }
    }
    std::int8_t read_i8() { return static_cast<std::int8_t>(byte("i8")); }
    std::int16_t read_i16()
    {
        std::size_t const start = pos_;
        std::uint64_t const u = read_varint();
        if (u > 0xffffu)
            fail_at(start, "i16 varint out of range: " + std::to_string(u));
        return static_cast<std::int16_t>(unzigzag(u));
    }
    std::int32_t read_i32()
    {
        std::size_t const start = pos_;
        std::uint64_t const u = read_varint();
        if (u > 0xffffffffu)
            fail_at(start, "i32 varint out of range: " + std::to_string(u));
        return static_cast<std::int32_t>(unzigzag(u));
    }
    std::int64_t read_i64() { return unzigzag(read_varint()); }
    double read_double()
    {
        need(8, "double");
        std::uint64_t u = 0;
        for (int i = 0; i < 8; ++i)
            u |= static_cast<std::uint64_t>(data_[pos_ + i]) << (8 * i);
        pos_ += 8;
        return std::bit_cast<double>(u);
    }
    /// A binary or string: a view into the input (valid while the input is).
    std::string_view read_binary()
    {
        std::size_t const start = pos_;
        std::uint64_t const n = read_varint();
        if (n > size_ - pos_)
            fail_at(start, "truncated thrift: binary of " + std::to_string(n) + " bytes, " +
                               std::to_string(size_ - pos_) + " left");
        std::string_view s(reinterpret_cast<char const*>(data_ + pos_),
                           static_cast<std::size_t>(n));
        pos_ += static_cast<std::size_t>(n);
        return s;
    }
    std::string read_string() { return std::string(read_binary()); }

    /// Opens a struct (its fields follow); counts toward the depth limit.
    void struct_begin()
    {
        enter(pos_);
        last_ids_.push_back(0);
    }
    /// The next field header; type stop ends the struct (call struct_end then).
    field read_field()
    {
        std::size_t const at = pos_;
        std::uint8_t const b = byte("field header");
        field f;
        f.type = checked_type(b & 0x0fu, at, false);
        if (f.type == ctype::stop)
            return f;
        unsigned const delta = b >> 4;
        if (last_ids_.empty())
            fail_at(at, "thrift field outside a struct");
        if (delta != 0)
            f.id = static_cast<std::int16_t>(last_ids_.back() + static_cast<int>(delta));
        else
            f.id = read_i16();
        last_ids_.back() = f.id;
        return f;
    }
    /// Closes the struct opened last (after read_field returned stop).
    void struct_end()
    {
        if (!last_ids_.empty())
            last_ids_.pop_back();
        --depth_;
    }
    /// The value of a bool field (it is in its header).
    static bool read_bool(field const& f) noexcept { return f.type == ctype::bool_true; }
    /// A bool that is not a field's (a list element): one byte.
    bool read_bool_element() { return byte("bool") == 1; }
    /// A list's (or set's) header; elements follow.
    list_header read_list_header()
    {
        std::size_t const at = pos_;
        std::uint8_t const b = byte("list header");
        list_header h;
        h.elem = checked_type(b & 0x0fu, at, true);
        std::uint64_t n = b >> 4;
        if (n == 15)
            n = read_varint();
        h.size = checked_size(n, at, "list");
        return h;
    }
    /// A map's header; size pairs of key and value follow.
    map_header read_map_header()
    {
        std::size_t const at = pos_;
        map_header h;
        std::uint64_t const n = read_varint();
        if (n == 0)
            return h;
        std::uint8_t const b = byte("map types");
        h.key = checked_type(b >> 4, at, true);
        h.value = checked_type(b & 0x0fu, at, true);
        h.size = checked_size(n, at, "map");
        return h;
    }

    /// Skips a field's value (a bool field has none left to read).
    void skip(field const& f) { skip_value(f.type, false); }
    /// Skips one value of type t (in a container: a bool is one byte).
    void skip(ctype t) { skip_value(t, true); }

private:
    static std::int64_t unzigzag(std::uint64_t u) noexcept
    {
        return static_cast<std::int64_t>(u >> 1) ^ -static_cast<std::int64_t>(u & 1);
    }
    void skip_value(ctype t, bool in_container)
    {
        switch (t) {
        case ctype::stop:
            fail("cannot skip a stop");
        case ctype::bool_true:
        case ctype::bool_false:
            if (in_container)
                (void)byte("bool");
            return;
        case ctype::i8:
            (void)byte("i8");
            return;
        case ctype::i16:
        case ctype::i32:
        case ctype::i64:
            (void)read_varint();
            return;
        case ctype::double_:
            need(8, "double");
            pos_ += 8;
            return;
        case ctype::binary:
            (void)read_binary();
            return;
        case ctype::list:
        case ctype::set: {
            std::size_t const at = pos_;
            list_header const h = read_list_header();
            enter(at);
            for (std::uint32_t i = 0; i < h.size; ++i)
                skip_value(h.elem, true);
            --depth_;
            return;
        }
        case ctype::map: {
            std::size_t const at = pos_;
            map_header const h = read_map_header();
            enter(at);
            for (std::uint32_t i = 0; i < h.size; ++i) {
                skip_value(h.key, true);
                skip_value(h.value, true);
            }
            --depth_;
            return;
        }
        case ctype::struct_:
            struct_begin();
            for (field f = read_field(); f.type != ctype::stop; f = read_field())
                skip_value(f.type, false);
            struct_end();
            return;
        }
        fail("bad thrift type " + std::to_string(static_cast<unsigned>(t)));
    }
};

/// Encodes compact-protocol values into a byte vector.
class writer {
    std::vector<std::uint8_t> out_;
    std::vector<std::int16_t> last_ids_;

    static std::uint64_t zigzag(std::int64_t v) noexcept
    {
        return (static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63);
    }

public:
    /// What was written so far.
    std::span<std::uint8_t const> bytes() const noexcept { return out_; }
    /// Moves the bytes out (the writer is then empty).
    std::vector<std::uint8_t> take() noexcept
    {
        last_ids_.clear();
        return std::move(out_);
    }
    void clear() noexcept
    {
        out_.clear();
        last_ids_.clear();
    }

    void write_byte(std::uint8_t b) { out_.push_back(b); }
    void write_varint(std::uint64_t v)
    {
        while (v >= 0x80) {
            out_.push_back(static_cast<std::uint8_t>(v | 0x80));
            v >>= 7;
        }
        out_.push_back(static_cast<std::uint8_t>(v));
    }
    void write_i8(std::int8_t v) { out_.push_back(static_cast<std::uint8_t>(v)); }
    void write_i16(std::int16_t v) { write_varint(zigzag(v) & 0xffffu); }
    void write_i32(std::int32_t v) { write_varint(zigzag(v) & 0xffffffffu); }
    void write_i64(std::int64_t v) { write_varint(zigzag(v)); }
    void write_double(double d)
    {
        std::uint64_t const u = std::bit_cast<std::uint64_t>(d);
        for (int i = 0; i < 8; ++i)
            out_.push_back(static_cast<std::uint8_t>(u >> (8 * i)));
    }
    void write_binary(std::string_view s)
    {
        write_varint(s.size());
        out_.insert(out_.end(), s.begin(), s.end());
    }

    void struct_begin() { last_ids_.push_back(0); }
    /// Writes the stop byte and closes the struct.
    void struct_end()
    {
        out_.push_back(0);
        if (!last_ids_.empty())
            last_ids_.pop_back();
    }
    /// A field header: the short form when the id is 1..15 above the last one, else the long.
    void field_header(ctype t, std::int16_t id)
    {
        std::int16_t& last = last_ids_.back();
        int const delta = static_cast<int>(id) - static_cast<int>(last);
        auto const nibble = static_cast<std::uint8_t>(t);
        if (delta > 0 && delta <= 15) {
            out_.push_back(static_cast<std::uint8_t>((delta << 4) | nibble));
        } else {
            out_.push_back(nibble);
            write_i16(id);
        }
        last = id;
    }
    /// A list (or set) header for `size` elements of type `elem`.
    void list_header(ctype elem, std::uint32_t size)
    {
        auto const nibble = static_cast<std::uint8_t>(elem);
        if (size < 15) {
            out_.push_back(static_cast<std::uint8_t>((size << 4) | nibble));
        } else {
            out_.push_back(static_cast<std::uint8_t>(0xf0 | nibble));
            write_varint(size);
        }
    }
    void map_header(ctype key, ctype value, std::uint32_t size)
    {
        write_varint(size);
        if (size != 0)
            out_.push_back(static_cast<std::uint8_t>((static_cast<unsigned>(key) << 4) |
                                                     static_cast<unsigned>(value)));
    }
    /// A bool list element: one byte (1 true, 2 false, as TCompactProtocol writes them).
    void write_bool_element(bool b) { out_.push_back(b ? 1 : 2); }

    // Fields: header and value.
    void field_bool(std::int16_t id, bool b)
    {
        field_header(b ? ctype::bool_true : ctype::bool_false, id);
    }
    void field_i8(std::int16_t id, std::int8_t v)
    {
        field_header(ctype::i8, id);
        write_i8(v);
    }
    void field_i16(std::int16_t id, std::int16_t v)
    {
        field_header(ctype::i16, id);
        write_i16(v);
    }
    void field_i32(std::int16_t id, std::int32_t v)
    {
        field_header(ctype::i32, id);
        write_i32(v);
    }
    void field_i64(std::int16_t id, std::int64_t v)
    {
        field_header(ctype::i64, id);
        write_i64(v);
    }
    void field_double(std::int16_t id, double v)
    {
        field_header(ctype::double_, id);
        write_double(v);
    }
    void field_binary(std::int16_t id, std::string_view s)
    {
        field_header(ctype::binary, id);
        write_binary(s);
    }
    /// A struct field's header, and opens the struct (end it with struct_end()).
    void field_struct_begin(std::int16_t id)
    {
        field_header(ctype::struct_, id);
        struct_begin();
    }
    /// A list field's header and the list header; the elements follow.
    void field_list_begin(std::int16_t id, ctype elem, std::uint32_t size)
    {
        field_header(ctype::list, id);
        list_header(elem, size);
    }
};

} // namespace streambatch::parquet::thrift

#endif // STREAMBATCH_IO_PARQUET_DETAIL_THRIFT_HPP_INCLUDED
