// streambatch/io/parquet/writer.hpp: writes a flat Parquet file, row group by row group, in the
// memory of one row group's encoded pages.
//
// In:     a path; the columns (column_spec: name, physical and logical type, required or
//         optional), declared one by one or derived from a row type (columns_for<Row>(names));
//         rows: tuples, pairs, std::arrays or simple aggregates (a struct of up to 16 public
//         fields, no base class), whose i-th element goes to column i; writer_options.
// Out:    parquet::cell (a dynamic row's value); parquet::column_spec (factories boolean, int8,
// int16, int32, int64, uint8, uint16,
//         uint32, uint64, float32, float64, string, binary, date, timestamp(unit, utc),
//         decimal(precision, scale); optional()); columns_for<Row>(names); writer_options;
//         parquet::writer: write_batch(rows) (its rows, then the row group ends),
//         write_row(row), write_cells(span<cell const>) (a dynamic row), end_row_group(), close()
//         (the footer), rows_written(), row_groups_written(), bytes_written(), path(), metadata()
//         (after close), buffered_bytes().
// Models: one column chunk per column per row group: a dictionary page (when dictionary
//         encoding is on and the values fit writer_options::dictionary_byte_limit; past it the
//         chunk falls back to PLAIN for its remaining pages, as Arrow and parquet-mr do), data
//         pages v1 of about page_byte_size (definition levels for optional columns, RLE_DICTIONARY
//         or PLAIN values), each with a CRC. A row group ends at write_batch's end, at
//         end_row_group(), or when its encoded pages pass row_group_byte_size. A chunk whose
//         first 8192 values are more than half distinct drops its dictionary and is PLAIN
//         (DuckDB decides alike: a dictionary of unique values only costs). Column
//         statistics per chunk: null_count, and min_value/max_value in the column's order
//         (signed for INT32/INT64 and DECIMAL, unsigned for the UINT_* types, IEEE for floats
//         with NaN left out and -0/+0 as parquet-format says, unsigned bytes for BYTE_ARRAY).
//         Values a column takes: bool for BOOLEAN; any integer for the integer types, DATE
//         (days since 1970-01-01; also std::chrono::sys_days or year_month_day), TIMESTAMP (in
//         its unit; also a std::chrono::system_clock time_point) and DECIMAL (the unscaled value;
//         precision up to 18: INT32 up to 9, INT64 beyond); float and double for FLOAT and
//         DOUBLE (an integer too); anything convertible to std::string_view for STRING and
//         BYTE_ARRAY. An optional column also takes std::nullopt, nullptr and std::optional<T>.
//         Files are written with POSIX write() on the writer's file descriptor, never read back.
// Memory: the current row group's encoded, compressed pages (all columns; per column in
//         blocks of 256 KiB, kept from row group to row group: the largest chunk's), the current
//         page's values and levels per column (page_byte_size), each column's dictionary
//         (dictionary_byte_limit), and per thread one page's raw and compressed scratch.
// Errors: parquet::error naming the file and what: a value a column cannot take ("row 12,
//         column "age" (INT8): 300 is out of range"), a row with another number of fields, a
//         bad declaration (a decimal's precision, a duplicate or empty name), system failures
//         (open, write, fsync, close: errno's text, at the file's byte offset). After a failed
//         write the writer refuses to go on (std::logic_error); the file is not complete.
//         Destroying a writer without close() leaves a file without a footer, which no reader
//         takes for a Parquet file.
// Example:
//     namespace pq = streambatch::parquet;
//     pq::writer w("people.parquet", {pq::column_spec::int64("id"),
//                                     pq::column_spec::string("name").optional()});
//     w.write_batch(std::vector<std::tuple<long, std::optional<std::string>>>{{1, "ada"}});
//     w.close();

#ifndef STREAMBATCH_IO_PARQUET_WRITER_HPP_INCLUDED
#define STREAMBATCH_IO_PARQUET_WRITER_HPP_INCLUDED

#include <streambatch/io/parquet/detail/codec.hpp>
#include <streambatch/io/parquet/detail/encode.hpp>
#include <streambatch/io/parquet/errors.hpp>
#include <streambatch/io/parquet/metadata.hpp>

#include <array>
#include <bit>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <limits>
#include <optional>
#include <ranges>
#include <set>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

namespace streambatch::parquet {

/// One column of a flat schema. Use the factories; optional() makes it nullable.
struct column_spec {
    std::string name;
    physical_type type = physical_type::int64;
    std::optional<parquet::logical_type> logical;
    std::optional<parquet::converted_type> converted;
    std::int32_t precision = 0, scale = 0; ///< decimal
    bool is_optional = false;

    /// This column, nullable (OPTIONAL) or not (REQUIRED).
    column_spec optional(bool nullable = true) const&
    {
        column_spec c = *this;
        c.is_optional = nullable;
        return c;
    }
    column_spec&& optional(bool nullable = true) &&
    {
        is_optional = nullable;
        return std::move(*this);
    }
    /// Whether the integer types' order is unsigned (UINT_8 .. UINT_64).
    bool is_unsigned() const noexcept
    {
        return logical && logical->kind == logical_type::kind_t::integer && !logical->is_signed;
    }
    /// "INT32 DATE", "BYTE_ARRAY STRING", "INT64 DECIMAL(12,2)": for messages.
    std::string type_name() const
    {
        std::string s = to_string(type);
        if (!logical)
            return s;
        s += ' ';
        using K = logical_type::kind_t;
        switch (logical->kind) {
        case K::integer:
            return s + (logical->is_signed ? "INT" : "UINT") + std::to_string(logical->bit_width);
        case K::decimal:
            return s + "DECIMAL(" + std::to_string(precision) + "," + std::to_string(scale) + ")";
        case K::timestamp:
            return s + "TIMESTAMP(" + to_string(logical->unit) +
                   (logical->is_adjusted_to_utc ? ",UTC)" : ")");
        default:
            return s + to_string(logical->kind);
        }
    }

    static column_spec boolean(std::string n)
    {
        return plain(std::move(n), physical_type::boolean);
    }
    static column_spec int8(std::string n) { return integer(std::move(n), 8, true); }
    static column_spec int16(std::string n) { return integer(std::move(n), 16, true); }
    static column_spec int32(std::string n) { return plain(std::move(n), physical_type::int32); }
    static column_spec int64(std::string n) { return plain(std::move(n), physical_type::int64); }
    static column_spec uint8(std::string n) { return integer(std::move(n), 8, false); }
    static column_spec uint16(std::string n) { return integer(std::move(n), 16, false); }
    static column_spec uint32(std::string n) { return integer(std::move(n), 32, false); }
    static column_spec uint64(std::string n) { return integer(std::move(n), 64, false); }
    static column_spec float32(std::string n) { return plain(std::move(n), physical_type::float_); }
    static column_spec float64(std::string n)
    {
        return plain(std::move(n), physical_type::double_);
    }
    /// BYTE_ARRAY without a logical type.
    static column_spec binary(std::string n)
    {
        return plain(std::move(n), physical_type::byte_array);
    }
    /// BYTE_ARRAY STRING (UTF8).
    static column_spec string(std::string n)
    {
        column_spec c = plain(std::move(n), physical_type::byte_array);
        c.logical = logical_type{.kind = logical_type::kind_t::string};
        c.converted = converted_type::utf8;
        return c;
    }
    /// INT32 DATE: days since 1970-01-01.
    static column_spec date(std::string n)
    {
        column_spec c = plain(std::move(n), physical_type::int32);
        c.logical = logical_type{.kind = logical_type::kind_t::date};
        c.converted = converted_type::date;
        return c;
    }
    /// INT64 TIMESTAMP(unit, utc): units since 1970-01-01 (UTC when `utc`, else local time).
    static column_spec timestamp(std::string n, time_unit unit = time_unit::micros, bool utc = true)
    {
        column_spec c = plain(std::move(n), physical_type::int64);
        c.logical = logical_type{
            .kind = logical_type::kind_t::timestamp, .is_adjusted_to_utc = utc, .unit = unit};
        if (utc && unit == time_unit::millis)
            c.converted = converted_type::timestamp_millis;
        else if (utc && unit == time_unit::micros)
            c.converted = converted_type::timestamp_micros;
        return c;
    }
    /// DECIMAL(precision, scale) of unscaled integers: INT32 for precision <= 9, INT64 up to
    /// 18 (a larger precision is refused by the writer).
    static column_spec decimal(std::string n, std::int32_t precision, std::int32_t scale)
    {
        column_spec c =
            plain(std::move(n), precision <= 9 ? physical_type::int32 : physical_type::int64);
        c.logical = logical_type{
            .kind = logical_type::kind_t::decimal, .scale = scale, .precision = precision};
        c.converted = converted_type::decimal;
        c.precision = precision;
        c.scale = scale;
        return c;
    }

private:
    static column_spec plain(std::string n, physical_type t)
    {
        column_spec c;
        c.name = std::move(n);
        c.type = t;
        return c;
    }
    static column_spec integer(std::string n, int bits, bool is_signed)
    {
        column_spec c =
            plain(std::move(n), bits == 64 ? physical_type::int64 : physical_type::int32);
        c.logical = logical_type{.kind = logical_type::kind_t::integer,
                                 .bit_width = static_cast<std::int8_t>(bits),
                                 .is_signed = is_signed};
        int const base = is_signed ? 15 : 11; // INT_8 .. INT_64, UINT_8 .. UINT_64
        int const step = bits == 8 ? 0 : bits == 16 ? 1 : bits == 32 ? 2 : 3;
        c.converted = static_cast<converted_type>(base + step);
        return c;
    }
};

struct writer_options {
    compression_codec codec =
        compression_codec::snappy; ///< uncompressed, snappy, gzip, zstd, lz4_raw
    int compression_level = -1;    ///< the codec's default
    bool dictionary = true;        ///< RLE_DICTIONARY where it fits
    std::size_t dictionary_byte_limit = std::size_t{1} << 20; ///< per column chunk
    /// Values per data page (about). 64 KiB: SNAPPY compresses in 64 KiB blocks anyway, and
    /// small pages keep the writer's memory near its row group's encoded size.
    std::size_t page_byte_size = std::size_t{64} << 10;
    std::size_t row_group_byte_size = std::size_t{64} << 20; ///< encoded pages per row group
    bool page_crc = true;
    bool statistics = true;
    bool fsync = false; ///< close() fsyncs the file before it returns
    std::string created_by = "streambatch";
    std::vector<key_value> key_value_metadata{};
};

namespace writer_detail {

struct any_field {
    template <class T>
    operator T() const; // never defined: unevaluated only
};

template <class T, class... A>
constexpr std::size_t field_count()
{
    if constexpr (sizeof...(A) > 16)
        return sizeof...(A);
    else if constexpr (requires { T{A{}..., any_field{}}; })
        return field_count<T, A..., any_field>();
    else
        return sizeof...(A);
}

template <class T>
concept tuple_like = requires { std::tuple_size<std::remove_cvref_t<T>>::value; };

/// A row as a tuple of references: tuple-likes as they are, aggregates by structured binding.
template <class Row>
auto as_tuple(Row const& r)
{
    using R = std::remove_cvref_t<Row>;
    if constexpr (tuple_like<R>) {
        return std::apply([](auto const&... e) { return std::tie(e...); }, r);
    } else {
        static_assert(std::is_aggregate_v<R>, "a row is a tuple-like or an aggregate");
        constexpr std::size_t n = field_count<R>();
        static_assert(n >= 1 && n <= 16, "an aggregate row has 1 to 16 fields");
        // clang-format off
        if constexpr (n == 1) { auto const& [a] = r; return std::tie(a); }
        else if constexpr (n == 2) { auto const& [a, b] = r; return std::tie(a, b); }
        else if constexpr (n == 3) { auto const& [a, b, c] = r; return std::tie(a, b, c); }
        else if constexpr (n == 4) { auto const& [a, b, c, d] = r; return std::tie(a, b, c, d); }
        else if constexpr (n == 5) { auto const& [a, b, c, d, e] = r; return std::tie(a, b, c, d, e); }
        else if constexpr (n == 6) { auto const& [a, b, c, d, e, f] = r; return std::tie(a, b, c, d, e, f); }
        else if constexpr (n == 7) { auto const& [a, b, c, d, e, f, g] = r; return std::tie(a, b, c, d, e, f, g); }
        else if constexpr (n == 8) { auto const& [a, b, c, d, e, f, g, h] = r; return std::tie(a, b, c, d, e, f, g, h); }
        else if constexpr (n == 9) { auto const& [a, b, c, d, e, f, g, h, i] = r; return std::tie(a, b, c, d, e, f, g, h, i); }
        else if constexpr (n == 10) { auto const& [a, b, c, d, e, f, g, h, i, j] = r; return std::tie(a, b, c, d, e, f, g, h, i, j); }
        else if constexpr (n == 11) { auto const& [a, b, c, d, e, f, g, h, i, j, k] = r; return std::tie(a, b, c, d, e, f, g, h, i, j, k); }
        else if constexpr (n == 12) { auto const& [a, b, c, d, e, f, g, h, i, j, k, l] = r; return std::tie(a, b, c, d, e, f, g, h, i, j, k, l); }
        else if constexpr (n == 13) { auto const& [a, b, c, d, e, f, g, h, i, j, k, l, m] = r; return std::tie(a, b, c, d, e, f, g, h, i, j, k, l, m); }
        else if constexpr (n == 14) { auto const& [a, b, c, d, e, f, g, h, i, j, k, l, m, o] = r; return std::tie(a, b, c, d, e, f, g, h, i, j, k, l, m, o); }
        else if constexpr (n == 15) { auto const& [a, b, c, d, e, f, g, h, i, j, k, l, m, o, p] = r; return std::tie(a, b, c, d, e, f, g, h, i, j, k, l, m, o, p); }
        else { auto const& [a, b, c, d, e, f, g, h, i, j, k, l, m, o, p, q] = r; return std::tie(a, b, c, d, e, f, g, h, i, j, k, l, m, o, p, q); }
        // clang-format on
    }
}

template <class T>
struct is_optional : std::false_type {};
template <class T>
struct is_optional<std::optional<T>> : std::true_type {};

template <class T>
struct is_time_point : std::false_type {};
template <class D>
struct is_time_point<std::chrono::time_point<std::chrono::system_clock, D>> : std::true_type {};

/// The column a C++ field type maps to (columns_for).
template <class T>
column_spec spec_for(std::string name)
{
    using C = column_spec;
    if constexpr (is_optional<T>::value)
        return spec_for<typename T::value_type>(std::move(name)).optional();
    else if constexpr (std::is_same_v<T, bool>)
        return C::boolean(std::move(name));
    else if constexpr (std::is_integral_v<T> && std::is_signed_v<T>)
        return sizeof(T) == 1   ? C::int8(std::move(name))
               : sizeof(T) == 2 ? C::int16(std::move(name))
               : sizeof(T) == 4 ? C::int32(std::move(name))
                                : C::int64(std::move(name));
    else if constexpr (std::is_integral_v<T>)
        return sizeof(T) == 1   ? C::uint8(std::move(name))
               : sizeof(T) == 2 ? C::uint16(std::move(name))
               : sizeof(T) == 4 ? C::uint32(std::move(name))
                                : C::uint64(std::move(name));
    else if constexpr (std::is_same_v<T, float>)
        return C::float32(std::move(name));
    else if constexpr (std::is_same_v<T, double>)
        return C::float64(std::move(name));
    else if constexpr (std::is_same_v<T, std::chrono::sys_days> ||
                       std::is_same_v<T, std::chrono::year_month_day>)
        return C::date(std::move(name));
    else if constexpr (is_time_point<T>::value) {
        using D = typename T::duration;
        time_unit const u =
            std::ratio_less_equal_v<typename D::period, std::nano>    ? time_unit::nanos
            : std::ratio_less_equal_v<typename D::period, std::micro> ? time_unit::micros
                                                                      : time_unit::millis;
        return C::timestamp(std::move(name), u, true);
    } else {
        static_assert(std::is_convertible_v<T const&, std::string_view>,
                      "no Parquet column for this field type");
        return C::string(std::move(name));
    }
}

} // namespace writer_detail

/// The columns for rows of type Row (a tuple-like or simple aggregate), named `names` in field
/// order: bool BOOLEAN; signed integers INT8..INT64; unsigned UINT8..UINT64; float, double;
/// std::chrono::sys_days and year_month_day DATE; system_clock time points TIMESTAMP (UTC, in
/// the duration's unit: millis, micros or nanos); strings STRING; std::optional<T> optional.
template <class Row>
std::vector<column_spec> columns_for(std::vector<std::string> const& names)
{
    using R = std::remove_cvref_t<Row>;
    using T = decltype(writer_detail::as_tuple(std::declval<R const&>()));
    constexpr std::size_t n = std::tuple_size_v<T>;
    if (names.size() != n)
        throw std::invalid_argument(
            "streambatch::parquet::columns_for: " + std::to_string(names.size()) +
            " names for a row of " + std::to_string(n) + " fields");
    std::vector<column_spec> out;
    [&]<std::size_t... I>(std::index_sequence<I...>) {
        (out.push_back(
             writer_detail::spec_for<std::remove_cvref_t<std::tuple_element_t<I, T>>>(names[I])),
         ...);
    }(std::make_index_sequence<n>{});
    return out;
}

namespace writer_detail {

/// A finished column chunk: its dictionary page (if any), then its data pages' bytes (headers
/// included; views of the builder's blocks, in order, valid until its next page), and its
/// metadata with offsets relative to the chunk's start (the writer adds where it lands).
struct finished_chunk {
    std::optional<enc::page> dictionary;
    std::vector<std::span<std::uint8_t const>> data;
    column_metadata meta;
};

/// One column chunk being built: the current page's levels and values, the chunk's finished
/// pages, its dictionary and its statistics. P: the physical value type.
template <class P>
class column_builder {
public:
    using value_type = P;
    using arg_type = typename enc::plain_writer<P>::arg_type;

    column_builder(column_spec const& spec, writer_options const& o)
        : spec_(spec), opt_(o), dict_(o.dictionary_byte_limit),
          use_dict_(o.dictionary && !std::is_same_v<P, bool>)
    {}

    void put_null()
    {
        defs_.push_back(0);
        ++slots_;
        ++nulls_;
        maybe_flush();
    }

    void put(arg_type v)
    {
        if (spec_.is_optional)
            defs_.push_back(1);
        ++slots_;
        observe(v);
        if (use_dict_ && page_dict_) {
            if (auto i = dict_.index_of(v)) {
                indices_.push_back(*i);
                if (++probed_ == dictionary_probe && dict_pages_ == 0 && 2 * dict_.size() > probed_)
                    drop_dictionary();
            } else { // the dictionary is full: this page ends, the chunk goes on in PLAIN
                --slots_;
                if (spec_.is_optional)
                    defs_.pop_back();
                if (slots_ > 0) // no empty page (nor an empty dictionary page for it)
                    flush_page();
                page_dict_ = false;
                if (spec_.is_optional)
                    defs_.push_back(1);
                ++slots_;
                plain_.put(v);
            }
        } else {
            plain_.put(v);
        }
        maybe_flush();
    }

    /// Bytes this chunk holds now (finished pages and the current page's estimate).
    std::size_t buffered_bytes() const noexcept
    {
        return (pages_ ? chunk_size_ : 0) + page_estimate() + (use_dict_ ? dict_.byte_size() : 0);
    }

    /// Ends the chunk (see finished_chunk).
    finished_chunk finish()
    {
        if (slots_ > 0 || pages_ == 0)
            flush_page();
        finished_chunk out;
        column_metadata m;
        m.type = spec_.type;
        m.path_in_schema = {spec_.name};
        m.codec = opt_.codec;
        bool const has_dict = dict_pages_ > 0;
        if (has_dict) {
            out.dictionary = enc::dictionary_page(opt_.codec, dict_.bytes(), dict_.size(),
                                                  opt_.page_crc, opt_.compression_level);
            m.encoding_stats.push_back({page_type::dictionary_page, encoding::plain, 1});
        }
        if (dict_pages_ > 0)
            m.encoding_stats.push_back({page_type::data_page, encoding::rle_dictionary,
                                        static_cast<std::int32_t>(dict_pages_)});
        if (plain_pages_ > 0)
            m.encoding_stats.push_back(
                {page_type::data_page, encoding::plain, static_cast<std::int32_t>(plain_pages_)});
        if (has_dict || plain_pages_ > 0)
            m.encodings.push_back(encoding::plain);
        m.encodings.push_back(encoding::rle);
        if (has_dict)
            m.encodings.push_back(encoding::rle_dictionary);
        m.data_page_offset = 0;
        if (out.dictionary) {
            m.dictionary_page_offset = 0;
            m.data_page_offset = static_cast<std::int64_t>(out.dictionary->size());
            m.total_compressed_size += static_cast<std::int64_t>(out.dictionary->size());
            m.total_uncompressed_size +=
                static_cast<std::int64_t>(out.dictionary->uncompressed_size());
        }
        m.total_compressed_size += static_cast<std::int64_t>(chunk_size_);
        m.total_uncompressed_size += static_cast<std::int64_t>(pages_uncompressed_);
        m.num_values = static_cast<std::int64_t>(chunk_values_);
        if (opt_.statistics)
            m.statistics = stats();
        for (std::size_t b = 0; b < blocks_used_; ++b)
            out.data.emplace_back(blocks_[b]);
        out.meta = std::move(m);
        reset();
        return out;
    }

private:
    column_spec const& spec_;
    writer_options const& opt_;
    std::vector<std::uint8_t> defs_;
    enc::plain_writer<P> plain_;
    std::vector<std::uint32_t> indices_;
    std::vector<std::uint8_t> index_bytes_; ///< the current page's encoded indices
    enc::dictionary<P> dict_;
    bool use_dict_;
    bool page_dict_ = true; ///< the current page is dictionary-encoded (while use_dict_)
    std::size_t slots_ = 0; ///< value slots (nulls too) in the current page
    std::size_t chunk_values_ = 0;
    std::size_t dict_pages_ = 0, plain_pages_ = 0;
    // the chunk's data pages (header, body, ...) in blocks of block_bytes, kept across chunks
    // (cleared, not freed): a row group's pages land in memory already faulted in, and a
    // growing chunk is never copied to a larger buffer (nor leaves the smaller one behind)
    static constexpr std::size_t block_bytes = std::size_t{256} << 10;
    std::vector<std::vector<std::uint8_t>> blocks_;
    std::size_t blocks_used_ = 0, chunk_size_ = 0;
    std::vector<std::uint8_t> page_bytes_; ///< the page being appended
    std::size_t pages_ = 0, pages_uncompressed_ = 0;

    void append_to_chunk(std::span<std::uint8_t const> b)
    {
        chunk_size_ += b.size();
        while (!b.empty()) {
            if (blocks_used_ == 0 ||
                blocks_[blocks_used_ - 1].size() == blocks_[blocks_used_ - 1].capacity()) {
                if (blocks_used_ == blocks_.size()) {
                    blocks_.emplace_back();
                    blocks_.back().reserve(block_bytes);
                }
                blocks_[blocks_used_++].clear();
            }
            auto& blk = blocks_[blocks_used_ - 1];
            std::size_t const n = std::min(b.size(), blk.capacity() - blk.size());
            blk.insert(blk.end(), b.begin(), b.begin() + static_cast<std::ptrdiff_t>(n));
            b = b.subspan(n);
        }
    }
    std::int64_t nulls_ = 0;
    std::optional<P> min_, max_;
    std::size_t probed_ = 0; ///< values dictionary-encoded in this chunk

    /// The first dictionary_probe values of a chunk decide: more than half of them distinct,
    /// and the chunk drops its dictionary (the values so far re-encoded PLAIN, no dictionary
    /// page): unique columns (ids, hashes, measurements) are not hashed and indexed for nothing.
    static constexpr std::size_t dictionary_probe = 8192;

    void drop_dictionary()
    {
        for (std::uint32_t i : indices_)
            plain_.put(dict_.value_at(i));
        indices_.clear();
        dict_.clear();
        page_dict_ = false;
    }

    std::size_t page_estimate() const noexcept
    {
        std::size_t const idx_bytes =
            indices_.size() * static_cast<std::size_t>(enc::bit_width(dict_.size()) + 7) / 8;
        return plain_.size() + idx_bytes + defs_.size() / 8;
    }

    void maybe_flush()
    {
        if (page_estimate() >= opt_.page_byte_size)
            flush_page();
    }

    void flush_page()
    {
        // a page of nulls only, before the dictionary holds a value: PLAIN (no values), so
        // that no empty dictionary page is written (some readers refuse one)
        bool const dict_page = use_dict_ && page_dict_ && dict_.size() > 0;
        std::span<std::uint8_t const> v = plain_.bytes();
        if (dict_page) {
            index_bytes_.clear();
            enc::append_dictionary_indices(index_bytes_, indices_, dict_.size());
            v = index_bytes_;
        }
        if (pages_ == 0)
            blocks_used_ = chunk_size_ = 0; // the last chunk's pages, written
        page_bytes_.clear();
        pages_uncompressed_ +=
            enc::append_data_page_v1(page_bytes_, opt_.codec, defs_, spec_.is_optional ? 1 : 0, v,
                                     slots_, dict_page ? encoding::rle_dictionary : encoding::plain,
                                     opt_.page_crc, opt_.compression_level);
        append_to_chunk(page_bytes_);
        ++pages_;
        (dict_page ? dict_pages_ : plain_pages_) += 1;
        chunk_values_ += slots_;
        slots_ = 0;
        defs_.clear();
        plain_.clear();
        indices_.clear();
    }

    void reset()
    {
        pages_ = 0;
        pages_uncompressed_ = 0; // blocks_: finish()'s views, reused from the next page on
        dict_.clear();
        page_dict_ = true;
        dict_pages_ = plain_pages_ = 0;
        chunk_values_ = 0;
        nulls_ = 0;
        probed_ = 0;
        min_.reset();
        max_.reset();
    }

    bool less(P const& a, P const& b) const noexcept
    {
        if constexpr (std::is_same_v<P, std::int32_t> || std::is_same_v<P, std::int64_t>) {
            using U = std::make_unsigned_t<P>;
            return spec_.is_unsigned() ? static_cast<U>(a) < static_cast<U>(b) : a < b;
        } else {
            return a < b; // std::string: char_traits<char> compares as unsigned char
        }
    }

    void observe(arg_type v)
    {
        if constexpr (std::is_floating_point_v<P>) {
            if (std::isnan(v))
                return;
        }
        if constexpr (std::is_same_v<P, std::string>) { // no copy unless a bound moves
            if (!min_ || v < std::string_view(*min_))
                min_.emplace(v);
            if (!max_ || std::string_view(*max_) < v)
                max_.emplace(v);
        } else {
            if (!min_ || less(v, *min_))
                min_ = v;
            if (!max_ || less(*max_, v))
                max_ = v;
        }
    }

    static std::string bytes_of(P v)
    {
        if constexpr (std::is_same_v<P, std::string>) {
            return v;
        } else if constexpr (std::is_same_v<P, bool>) {
            return std::string(1, v ? '\1' : '\0');
        } else {
            std::string s(sizeof(P), '\0');
            std::memcpy(s.data(), &v, sizeof(P));
            return s;
        }
    }

    statistics stats() const
    {
        statistics s;
        s.null_count = nulls_;
        if (min_ && max_) {
            P lo = *min_, hi = *max_;
            if constexpr (std::is_floating_point_v<P>) {
                if (lo == P(0))
                    lo = -P(0);
                if (hi == P(0))
                    hi = P(0);
            }
            s.min_value = bytes_of(lo);
            s.max_value = bytes_of(hi);
        }
        return s;
    }
};

using any_column =
    std::variant<column_builder<bool>, column_builder<std::int32_t>, column_builder<std::int64_t>,
                 column_builder<float>, column_builder<double>, column_builder<std::string>>;

template <class T>
std::string type_of()
{
    if constexpr (std::is_same_v<T, bool>)
        return "bool";
    else if constexpr (std::is_integral_v<T>)
        return std::string(std::is_signed_v<T> ? "a " : "an unsigned ") +
               std::to_string(8 * sizeof(T)) + "-bit integer";
    else if constexpr (std::is_floating_point_v<T>)
        return "a floating-point number";
    else if constexpr (std::is_convertible_v<T const&, std::string_view>)
        return "a string";
    else if constexpr (is_time_point<T>::value)
        return "a time point";
    else
        return "a value of another type";
}

} // namespace writer_detail

/// One value of a dynamic row (writer::write_cells): null, bool, a signed or unsigned integer,
/// float, double or bytes; converted to its column as a value of that C++ type would be.
using cell =
    std::variant<std::monostate, bool, std::int64_t, std::uint64_t, float, double, std::string>;

namespace writer_detail {
template <class R>
concept cell_range = std::ranges::contiguous_range<R const> &&
                     std::same_as<std::ranges::range_value_t<R const>, cell>;
} // namespace writer_detail

/// Writes one Parquet file. Neither copied nor moved (hold it in a std::optional or a
/// std::unique_ptr); close() writes the footer.
class writer {
public:
    writer(std::filesystem::path path, std::vector<column_spec> columns,
           writer_options options = {})
        : path_(std::move(path)), name_(path_.string()), specs_(std::move(columns)),
          opt_(std::move(options))
    {
        check_schema();
        fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd_ < 0)
            fail_errno("cannot create the file");
        builders_.reserve(specs_.size());
        for (auto const& c : specs_) {
            add_builder(c);
            bounds_.push_back(bounds_of(c));
        }
        write_bytes(reinterpret_cast<std::uint8_t const*>("PAR1"), 4);
    }
    writer(writer const&) = delete;
    writer& operator=(writer const&) = delete;
    writer(writer&& o) noexcept = delete; // builders refer to specs_ and opt_
    writer& operator=(writer&&) = delete;
    ~writer()
    {
        if (fd_ >= 0)
            ::close(fd_);
    }

    /// Writes `rows` (each a tuple-like or simple aggregate, element i to column i), then ends
    /// the row group (more than one when row_group_byte_size is passed on the way).
    template <std::ranges::input_range Rows>
    void write_batch(Rows const& rows)
    {
        for (auto const& r : rows)
            write_row(r);
        end_row_group();
    }

    /// Buffers one row in the current row group (which ends when its pages pass
    /// row_group_byte_size, or at end_row_group()): a tuple-like or simple aggregate, or a
    /// contiguous range of cells (write_cells).
    template <class Row>
    void write_row(Row const& row)
    {
        if constexpr (writer_detail::cell_range<Row>) {
            write_cells(row);
            return;
        } else {
            write_tuple_row(row);
        }
    }

    /// Buffers one dynamic row: cell i to column i.
    void write_cells(std::span<cell const> row)
    {
        check_open();
        if (row.size() != specs_.size())
            fail(error::npos, "row " + std::to_string(rows_ + group_rows_) + " has " +
                                  std::to_string(row.size()) + " fields for " +
                                  std::to_string(specs_.size()) + " columns");
        for (std::size_t i = 0; i < row.size(); ++i)
            put(i, row[i]);
        ++group_rows_;
        if (group_rows_ % 64 == 0 && buffered_bytes() >= opt_.row_group_byte_size)
            end_row_group();
    }

private:
    template <class Row>
    void write_tuple_row(Row const& row)
    {
        check_open();
        auto const t = writer_detail::as_tuple(row);
        constexpr std::size_t n = std::tuple_size_v<decltype(t)>;
        if (n != specs_.size())
            fail(error::npos, "row " + std::to_string(rows_ + group_rows_) + " has " +
                                  std::to_string(n) + " fields for " +
                                  std::to_string(specs_.size()) + " columns");
        [&]<std::size_t... I>(std::index_sequence<I...>) {
            (put(I, std::get<I>(t)), ...);
        }(std::make_index_sequence<n>{});
        ++group_rows_;
        if (group_rows_ % 64 == 0 && buffered_bytes() >= opt_.row_group_byte_size)
            end_row_group();
    }

public:
    /// Ends the current row group (nothing when it has no rows): its column chunks are written.
    void end_row_group()
    {
        check_open();
        if (group_rows_ == 0)
            return;
        broken_ = true; // until the row group is written
        row_group g;
        g.num_rows = static_cast<std::int64_t>(group_rows_);
        g.file_offset = static_cast<std::int64_t>(offset_);
        g.ordinal = static_cast<std::int16_t>(groups_.size());
        std::int64_t compressed = 0;
        for (auto& b : builders_) {
            auto [dictionary, data, meta] = std::visit([](auto& c) { return c.finish(); }, b);
            auto const start = static_cast<std::int64_t>(offset_);
            meta.data_page_offset += start;
            if (meta.dictionary_page_offset)
                *meta.dictionary_page_offset += start;
            if (dictionary) {
                write_bytes(dictionary->header.data(), dictionary->header.size());
                write_bytes(dictionary->body.data(), dictionary->body.size());
            }
            for (auto const& d : data)
                write_bytes(d.data(), d.size());
            column_chunk c;
            c.file_offset = start;
            g.total_byte_size += meta.total_uncompressed_size;
            compressed += meta.total_compressed_size;
            c.meta_data = std::move(meta);
            g.columns.push_back(std::move(c));
        }
        g.total_compressed_size = compressed;
        rows_ += group_rows_;
        group_rows_ = 0;
        groups_.push_back(std::move(g));
        broken_ = false;
    }

    /// Ends the last row group, writes the footer and closes the file (fsync first when
    /// writer_options::fsync). A second close() does nothing.
    void close()
    {
        if (closed_)
            return;
        end_row_group();
        check_open();
        broken_ = true;
        meta_.version = 1;
        meta_.schema.clear();
        schema_element root;
        root.name = "schema";
        root.num_children = static_cast<std::int32_t>(specs_.size());
        meta_.schema.push_back(root);
        for (auto const& c : specs_) {
            schema_element e;
            e.type = c.type;
            e.repetition_type =
                c.is_optional ? repetition_type::optional : repetition_type::required;
            e.name = c.name;
            e.converted_type = c.converted;
            if (c.logical && c.logical->kind == logical_type::kind_t::decimal) {
                e.scale = c.scale;
                e.precision = c.precision;
            }
            e.logical_type = c.logical;
            meta_.schema.push_back(std::move(e));
        }
        meta_.num_rows = static_cast<std::int64_t>(rows_);
        meta_.row_groups = groups_;
        meta_.key_value_metadata = opt_.key_value_metadata;
        meta_.created_by = opt_.created_by;
        meta_.column_orders.assign(specs_.size(), 1); // TYPE_ORDER
        auto const footer = encode_file_metadata(meta_);
        write_bytes(footer.data(), footer.size());
        std::uint8_t tail[8];
        auto const len = static_cast<std::uint32_t>(footer.size());
        for (int i = 0; i < 4; ++i)
            tail[i] = static_cast<std::uint8_t>(len >> (8 * i));
        std::memcpy(tail + 4, "PAR1", 4);
        write_bytes(tail, 8);
        if (opt_.fsync && ::fsync(fd_) != 0)
            fail_errno("fsync failed");
        int const fd = fd_;
        fd_ = -1;
        if (::close(fd) != 0)
            fail_errno("close failed");
        closed_ = true;
        broken_ = false;
    }

    std::filesystem::path const& path() const noexcept { return path_; }
    std::vector<column_spec> const& columns() const noexcept { return specs_; }
    /// Rows in finished row groups.
    std::uint64_t rows_written() const noexcept { return rows_; }
    /// Rows buffered in the current row group.
    std::uint64_t rows_buffered() const noexcept { return group_rows_; }
    std::size_t row_groups_written() const noexcept { return groups_.size(); }
    std::uint64_t bytes_written() const noexcept { return offset_; }
    /// The current row group's encoded pages and current pages' values, over all columns.
    std::size_t buffered_bytes() const noexcept
    {
        std::size_t n = 0;
        for (auto const& b : builders_)
            n += std::visit([](auto const& c) { return c.buffered_bytes(); }, b);
        return n;
    }
    bool closed() const noexcept { return closed_; }
    /// The footer written by close() (empty before).
    file_metadata const& metadata() const noexcept { return meta_; }

private:
    std::filesystem::path path_;
    std::string name_;
    std::vector<column_spec> specs_;
    writer_options opt_;
    std::vector<writer_detail::any_column> builders_;
    std::vector<std::pair<std::int64_t, std::uint64_t>> bounds_; ///< integer range per column
    std::vector<row_group> groups_;
    file_metadata meta_;
    int fd_ = -1;
    std::uint64_t offset_ = 0, rows_ = 0, group_rows_ = 0;
    bool closed_ = false, broken_ = false;

    [[noreturn]] void fail(std::uint64_t offset, std::string const& what) const
    {
        throw error(name_, offset, what);
    }
    [[noreturn]] void fail_errno(std::string const& what) const
    {
        int const e = errno;
        throw error(name_, fd_ >= 0 ? offset_ : error::npos, what + ": " + std::strerror(e));
    }

    void check_open() const
    {
        if (closed_)
            throw std::logic_error("streambatch::parquet::writer: " + name_ + " is closed");
        if (broken_)
            throw std::logic_error("streambatch::parquet::writer: " + name_ +
                                   ": an earlier write failed; the file is not complete");
    }

    void check_schema() const
    {
        if (specs_.empty())
            fail(error::npos, "a Parquet file needs at least one column");
        std::set<std::string> seen;
        for (auto const& c : specs_) {
            if (c.name.empty())
                fail(error::npos, "a column has an empty name");
            if (!seen.insert(c.name).second)
                fail(error::npos, "column \"" + c.name + "\" is declared twice");
            if (c.type == physical_type::int96 || c.type == physical_type::fixed_len_byte_array)
                fail(error::npos, "column \"" + c.name + "\": physical type " + to_string(c.type) +
                                      " is not written");
            if (c.logical && c.logical->kind == logical_type::kind_t::decimal &&
                (c.precision < 1 || c.precision > 18 || c.scale < 0 || c.scale > c.precision))
                fail(error::npos, "column \"" + c.name + "\": DECIMAL(" +
                                      std::to_string(c.precision) + "," + std::to_string(c.scale) +
                                      ") is not written (precision 1 to 18, scale 0 to precision)");
        }
        if (!codec::can_compress(opt_.codec))
            fail(error::npos, std::string("codec ") + to_string(opt_.codec) + " cannot compress");
    }

    void add_builder(column_spec const& c)
    {
        using namespace writer_detail;
        switch (c.type) {
        case physical_type::boolean:
            builders_.emplace_back(std::in_place_type<column_builder<bool>>, c, opt_);
            break;
        case physical_type::int32:
            builders_.emplace_back(std::in_place_type<column_builder<std::int32_t>>, c, opt_);
            break;
        case physical_type::int64:
            builders_.emplace_back(std::in_place_type<column_builder<std::int64_t>>, c, opt_);
            break;
        case physical_type::float_:
            builders_.emplace_back(std::in_place_type<column_builder<float>>, c, opt_);
            break;
        case physical_type::double_:
            builders_.emplace_back(std::in_place_type<column_builder<double>>, c, opt_);
            break;
        default:
            builders_.emplace_back(std::in_place_type<column_builder<std::string>>, c, opt_);
            break;
        }
    }

    void write_bytes(std::uint8_t const* p, std::size_t n)
    {
        while (n > 0) {
            ssize_t const w = ::write(fd_, p, n);
            if (w < 0) {
                if (errno == EINTR)
                    continue;
                broken_ = true;
                fail_errno("write failed");
            }
            p += w;
            n -= static_cast<std::size_t>(w);
            offset_ += static_cast<std::uint64_t>(w);
        }
    }

    [[noreturn]] void bad_value(std::size_t col, std::string const& what) const
    {
        fail(error::npos, "row " + std::to_string(rows_ + group_rows_) + ", column \"" +
                              specs_[col].name + "\" (" + specs_[col].type_name() + "): " + what);
    }

    /// `v` as column `col`'s integer, range-checked against its logical type.
    template <class T>
    std::int64_t to_integer(std::size_t col, T const& v) const
    {
        auto const [lo, hi] = bounds_[col];
        bool ok;
        if constexpr (std::is_signed_v<T>)
            ok = static_cast<std::int64_t>(v) >= lo &&
                 (v < 0 || static_cast<std::uint64_t>(v) <= hi);
        else
            ok = static_cast<std::uint64_t>(v) <= hi;
        if (!ok) [[unlikely]]
            bad_value(col, std::to_string(v) + " is out of range");
        return static_cast<std::int64_t>(v); // unsigned 64-bit: the same bits
    }

    /// The integer range column `c` takes (its physical and logical type).
    static std::pair<std::int64_t, std::uint64_t> bounds_of(column_spec const& s)
    {
        std::int64_t lo = std::numeric_limits<std::int64_t>::min();
        std::uint64_t hi = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
        if (s.type == physical_type::int32) {
            lo = std::numeric_limits<std::int32_t>::min();
            hi = static_cast<std::uint64_t>(std::numeric_limits<std::int32_t>::max());
        }
        if (s.logical && s.logical->kind == logical_type::kind_t::integer) {
            int const bits = s.logical->bit_width;
            if (s.logical->is_signed) {
                lo = -(std::int64_t{1} << (bits - 1));
                hi = (std::uint64_t{1} << (bits - 1)) - 1;
            } else {
                lo = 0;
                hi = bits == 64 ? std::numeric_limits<std::uint64_t>::max()
                                : (std::uint64_t{1} << bits) - 1;
            }
        }
        if (s.logical && s.logical->kind == logical_type::kind_t::decimal) {
            std::uint64_t p10 = 1;
            for (int i = 0; i < s.precision; ++i)
                p10 *= 10;
            lo = -static_cast<std::int64_t>(p10 - 1);
            hi = p10 - 1;
        }
        return {lo, hi};
    }

    template <class V>
    void put(std::size_t col, V const& v)
    {
        using T = std::remove_cvref_t<V>;
        if constexpr (writer_detail::is_optional<T>::value) {
            if (v)
                put(col, *v);
            else
                put_null(col);
        } else if constexpr (std::is_same_v<T, cell>) {
            std::visit([&](auto const& x) { put(col, x); }, v);
        } else if constexpr (std::is_same_v<T, std::nullopt_t> ||
                             std::is_same_v<T, std::nullptr_t> ||
                             std::is_same_v<T, std::monostate>) {
            put_null(col);
        } else {
            std::visit([&](auto& b) { put_value(col, b, v); }, builders_[col]);
        }
    }

    void put_null(std::size_t col)
    {
        if (!specs_[col].is_optional)
            bad_value(col, "null in a required column");
        std::visit([](auto& b) { b.put_null(); }, builders_[col]);
    }

    template <class B, class T>
    void put_value(std::size_t col, B& b, T const& v)
    {
        using P = typename B::value_type;
        auto const& s = specs_[col];
        auto const kind = s.logical ? s.logical->kind : logical_type::kind_t::none;
        if constexpr (std::is_same_v<P, bool>) {
            if constexpr (std::is_same_v<T, bool>)
                b.put(v);
            else
                bad_value(col, "cannot take " + writer_detail::type_of<T>());
        } else if constexpr (std::is_same_v<P, std::int32_t> || std::is_same_v<P, std::int64_t>) {
            if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
                b.put(static_cast<P>(to_integer(col, v)));
            } else if constexpr (std::is_same_v<T, std::chrono::sys_days> ||
                                 std::is_same_v<T, std::chrono::year_month_day>) {
                if (kind != logical_type::kind_t::date)
                    bad_value(col, "cannot take a date");
                b.put(static_cast<P>(std::chrono::sys_days(v).time_since_epoch().count()));
            } else if constexpr (writer_detail::is_time_point<T>::value) {
                if (kind != logical_type::kind_t::timestamp)
                    bad_value(col, "cannot take a time point");
                auto const d = v.time_since_epoch();
                using namespace std::chrono;
                std::int64_t n = 0;
                switch (s.logical->unit) {
                case time_unit::millis:
                    n = duration_cast<milliseconds>(d).count();
                    break;
                case time_unit::micros:
                    n = duration_cast<microseconds>(d).count();
                    break;
                case time_unit::nanos:
                    n = duration_cast<nanoseconds>(d).count();
                    break;
                }
                b.put(static_cast<P>(n));
            } else {
                bad_value(col, "cannot take " + writer_detail::type_of<T>());
            }
        } else if constexpr (std::is_floating_point_v<P>) {
            if constexpr (std::is_arithmetic_v<T> && !std::is_same_v<T, bool>)
                b.put(static_cast<P>(v));
            else
                bad_value(col, "cannot take " + writer_detail::type_of<T>());
        } else {
            if constexpr (std::is_convertible_v<T const&, std::string_view>) {
                b.put(std::string_view(v));
            } else {
                bad_value(col, "cannot take " + writer_detail::type_of<T>());
            }
        }
    }
};

} // namespace streambatch::parquet

#endif // STREAMBATCH_IO_PARQUET_WRITER_HPP_INCLUDED
