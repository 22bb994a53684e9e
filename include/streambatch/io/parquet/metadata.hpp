// streambatch/io/parquet/metadata.hpp: Parquet's metadata structs (parquet.thrift's, with its
// field ids), and their Thrift compact decoding and encoding.
//
// In:     bytes of a FileMetaData (the footer) or of a PageHeader, and the absolute offset of
//         their first byte; or the structs, to encode.
// Out:    enums physical_type, converted_type, repetition_type, encoding, compression_codec,
//         page_type, time_unit (to_string for each; values not in the list keep their number
//         and print "unknown"); logical_type (the union: kind plus decimal scale/precision,
//         time/timestamp unit and is_adjusted_to_utc, integer bit_width/is_signed); structs
//         statistics, key_value, schema_element, sorting_column, page_encoding_stats,
//         column_metadata, column_chunk, row_group, file_metadata, data_page_header,
//         dictionary_page_header, data_page_header_v2, page_header. decode(reader, T&) and
//         encode(writer, T const&) for each; decode_file_metadata, decode_page_header,
//         encode_file_metadata, encode_page_header over whole buffers.
// Models: parquet-format's src/main/thrift/parquet.thrift. A field this file does not know
//         (newer format versions: size statistics, geospatial statistics, bloom filter headers,
//         encryption details) or that has an unexpected type is skipped, as Thrift's generated
//         code does; a struct whose required field is missing is an error. Optional fields are
//         std::optional; optional lists are vectors (empty = absent, so encode omits them).
//         Encryption is recorded, not decoded: column_chunk::encrypted,
//         file_metadata::encrypted. Each struct but logical_type (a union, by hand) is a table
//         of its fields (detail::thrift_struct<T>: id, name, required or optional, member)
//         that one generic decode and one generic encode walk.
// Memory: the structs own their strings (statistics' min/max bytes included).
// Errors: parquet::error with the absolute byte offset: what thrift::reader throws, and "<Struct>
//         at byte N: required field <id> (<name>) missing". file() is empty (the file reader
//         adds it).
// Example:
//     auto md = parquet::decode_file_metadata(footer_bytes, footer_offset);
//     for (auto const& e : md.schema) std::cout << e.name << '\n';
//     auto bytes = parquet::encode_file_metadata(md);   // decodes back to the same

#ifndef STREAMBATCH_IO_PARQUET_METADATA_HPP_INCLUDED
#define STREAMBATCH_IO_PARQUET_METADATA_HPP_INCLUDED

#include <streambatch/io/parquet/detail/thrift.hpp>
#include <streambatch/io/parquet/errors.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace streambatch::parquet {

// --- enums ---------------------------------------------------------------------------------

enum class physical_type : std::int32_t {
    boolean = 0,
    int32 = 1,
    int64 = 2,
    int96 = 3,
    float_ = 4,
    double_ = 5,
    byte_array = 6,
    fixed_len_byte_array = 7,
};

inline constexpr char const* to_string(physical_type t) noexcept
{
    switch (t) {
    case physical_type::boolean:
        return "BOOLEAN";
    case physical_type::int32:
        return "INT32";
    case physical_type::int64:
        return "INT64";
    case physical_type::int96:
        return "INT96";
    case physical_type::float_:
        return "FLOAT";
    case physical_type::double_:
        return "DOUBLE";
    case physical_type::byte_array:
        return "BYTE_ARRAY";
    case physical_type::fixed_len_byte_array:
        return "FIXED_LEN_BYTE_ARRAY";
    }
    return "unknown";
}

enum class converted_type : std::int32_t {
    utf8 = 0,
    map = 1,
    map_key_value = 2,
    list = 3,
    enum_ = 4,
    decimal = 5,
    date = 6,
    time_millis = 7,
    time_micros = 8,
    timestamp_millis = 9,
    timestamp_micros = 10,
    uint_8 = 11,
    uint_16 = 12,
    uint_32 = 13,
    uint_64 = 14,
    int_8 = 15,
    int_16 = 16,
    int_32 = 17,
    int_64 = 18,
    json = 19,
    bson = 20,
    interval = 21,
};

inline constexpr char const* to_string(converted_type t) noexcept
{
    constexpr char const* names[] = {"UTF8",
                                     "MAP",
                                     "MAP_KEY_VALUE",
                                     "LIST",
                                     "ENUM",
                                     "DECIMAL",
                                     "DATE",
                                     "TIME_MILLIS",
                                     "TIME_MICROS",
                                     "TIMESTAMP_MILLIS",
                                     "TIMESTAMP_MICROS",
                                     "UINT_8",
                                     "UINT_16",
                                     "UINT_32",
                                     "UINT_64",
                                     "INT_8",
                                     "INT_16",
                                     "INT_32",
                                     "INT_64",
                                     "JSON",
                                     "BSON",
                                     "INTERVAL"};
    auto const i = static_cast<std::int32_t>(t);
    return i >= 0 && i < 22 ? names[i] : "unknown";
}

enum class repetition_type : std::int32_t { required = 0, optional = 1, repeated = 2 };

inline constexpr char const* to_string(repetition_type t) noexcept
{
    switch (t) {
    case repetition_type::required:
        return "REQUIRED";
    case repetition_type::optional:
        return "OPTIONAL";
    case repetition_type::repeated:
        return "REPEATED";
    }
    return "unknown";
}

enum class encoding : std::int32_t {
    plain = 0,
    plain_dictionary = 2,
    rle = 3,
    bit_packed = 4,
    delta_binary_packed = 5,
    delta_length_byte_array = 6,
    delta_byte_array = 7,
    rle_dictionary = 8,
    byte_stream_split = 9,
};

inline constexpr char const* to_string(encoding e) noexcept
{
    switch (e) {
    case encoding::plain:
        return "PLAIN";
    case encoding::plain_dictionary:
        return "PLAIN_DICTIONARY";
    case encoding::rle:
        return "RLE";
    case encoding::bit_packed:
        return "BIT_PACKED";
    case encoding::delta_binary_packed:
        return "DELTA_BINARY_PACKED";
    case encoding::delta_length_byte_array:
        return "DELTA_LENGTH_BYTE_ARRAY";
    case encoding::delta_byte_array:
        return "DELTA_BYTE_ARRAY";
    case encoding::rle_dictionary:
        return "RLE_DICTIONARY";
    case encoding::byte_stream_split:
        return "BYTE_STREAM_SPLIT";
    }
    return "unknown";
}

enum class compression_codec : std::int32_t {
    uncompressed = 0,
    snappy = 1,
    gzip = 2,
    lzo = 3,
    brotli = 4,
    lz4 = 5, ///< Hadoop-framed LZ4 (deprecated in the format)
    zstd = 6,
    lz4_raw = 7,
};

inline constexpr char const* to_string(compression_codec c) noexcept
{
    switch (c) {
    case compression_codec::uncompressed:
        return "UNCOMPRESSED";
    case compression_codec::snappy:
        return "SNAPPY";
    case compression_codec::gzip:
        return "GZIP";
    case compression_codec::lzo:
        return "LZO";
    case compression_codec::brotli:
        return "BROTLI";
    case compression_codec::lz4:
        return "LZ4";
    case compression_codec::zstd:
        return "ZSTD";
    case compression_codec::lz4_raw:
        return "LZ4_RAW";
    }
    return "unknown";
}

enum class page_type : std::int32_t {
    data_page = 0,
    index_page = 1,
    dictionary_page = 2,
    data_page_v2 = 3,
};

inline constexpr char const* to_string(page_type t) noexcept
{
    switch (t) {
    case page_type::data_page:
        return "DATA_PAGE";
    case page_type::index_page:
        return "INDEX_PAGE";
    case page_type::dictionary_page:
        return "DICTIONARY_PAGE";
    case page_type::data_page_v2:
        return "DATA_PAGE_V2";
    }
    return "unknown";
}

/// TimeUnit's union member id.
enum class time_unit : std::int16_t { millis = 1, micros = 2, nanos = 3 };

inline constexpr char const* to_string(time_unit u) noexcept
{
    switch (u) {
    case time_unit::millis:
        return "MILLIS";
    case time_unit::micros:
        return "MICROS";
    case time_unit::nanos:
        return "NANOS";
    }
    return "unknown";
}

// --- structs -------------------------------------------------------------------------------

/// LogicalType: which union member (its field id), and the parameters of the ones that have any.
struct logical_type {
    enum class kind_t : std::int16_t {
        none = 0, ///< not decoded yet
        string = 1,
        map = 2,
        list = 3,
        enum_ = 4,
        decimal = 5,
        date = 6,
        time = 7,
        timestamp = 8,
        integer = 10,
        unknown = 11, ///< parquet's NullType ("UNKNOWN"): only nulls
        json = 12,
        bson = 13,
        uuid = 14,
        float16 = 15,
        variant = 16,
        geometry = 17,
        geography = 18,
    };
    /// The union member's field id; one this file does not know keeps its number.
    kind_t kind = kind_t::none;
    std::int32_t scale = 0, precision = 0; ///< decimal
    bool is_adjusted_to_utc = false;       ///< time, timestamp
    time_unit unit = time_unit::millis;    ///< time, timestamp
    std::int8_t bit_width = 0;             ///< integer: 8, 16, 32 or 64
    bool is_signed = true;                 ///< integer
    bool operator==(logical_type const&) const = default;
};

inline constexpr char const* to_string(logical_type::kind_t k) noexcept
{
    using K = logical_type::kind_t;
    switch (k) {
    case K::none:
        return "none";
    case K::string:
        return "STRING";
    case K::map:
        return "MAP";
    case K::list:
        return "LIST";
    case K::enum_:
        return "ENUM";
    case K::decimal:
        return "DECIMAL";
    case K::date:
        return "DATE";
    case K::time:
        return "TIME";
    case K::timestamp:
        return "TIMESTAMP";
    case K::integer:
        return "INTEGER";
    case K::unknown:
        return "UNKNOWN";
    case K::json:
        return "JSON";
    case K::bson:
        return "BSON";
    case K::uuid:
        return "UUID";
    case K::float16:
        return "FLOAT16";
    case K::variant:
        return "VARIANT";
    case K::geometry:
        return "GEOMETRY";
    case K::geography:
        return "GEOGRAPHY";
    }
    return "unknown";
}

struct statistics {
    std::optional<std::string> max, min; ///< deprecated (signed order) bounds
    std::optional<std::int64_t> null_count, distinct_count;
    std::optional<std::string> max_value, min_value;
    std::optional<bool> is_max_value_exact, is_min_value_exact;
    std::optional<std::int64_t> nan_count;
    bool operator==(statistics const&) const = default;
};

struct key_value {
    std::string key;
    std::optional<std::string> value;
    bool operator==(key_value const&) const = default;
};

struct schema_element {
    std::optional<physical_type> type; ///< absent for a group node
    std::optional<std::int32_t> type_length;
    std::optional<parquet::repetition_type> repetition_type; ///< absent for the root
    std::string name;
    std::optional<std::int32_t> num_children; ///< present for a group node
    std::optional<parquet::converted_type> converted_type;
    std::optional<std::int32_t> scale, precision, field_id;
    std::optional<parquet::logical_type> logical_type;
    bool operator==(schema_element const&) const = default;
};

struct sorting_column {
    std::int32_t column_idx = 0;
    bool descending = false, nulls_first = false;
    bool operator==(sorting_column const&) const = default;
};

struct page_encoding_stats {
    parquet::page_type page_type = page_type::data_page;
    parquet::encoding encoding = encoding::plain;
    std::int32_t count = 0;
    bool operator==(page_encoding_stats const&) const = default;
};

struct column_metadata {
    physical_type type = physical_type::boolean;
    std::vector<parquet::encoding> encodings;
    std::vector<std::string> path_in_schema;
    compression_codec codec = compression_codec::uncompressed;
    std::int64_t num_values = 0, total_uncompressed_size = 0, total_compressed_size = 0;
    std::vector<key_value> key_value_metadata;
    std::int64_t data_page_offset = 0;
    std::optional<std::int64_t> index_page_offset, dictionary_page_offset;
    std::optional<parquet::statistics> statistics;
    std::vector<page_encoding_stats> encoding_stats;
    std::optional<std::int64_t> bloom_filter_offset;
    std::optional<std::int32_t> bloom_filter_length;
    bool operator==(column_metadata const&) const = default;
};

struct column_chunk {
    std::optional<std::string> file_path; ///< another file holds the data (rare; not supported)
    std::int64_t file_offset = 0;
    std::optional<column_metadata> meta_data; ///< absent when encrypted with a column key
    std::optional<std::int64_t> offset_index_offset;
    std::optional<std::int32_t> offset_index_length;
    std::optional<std::int64_t> column_index_offset;
    std::optional<std::int32_t> column_index_length;
    /// crypto_metadata or encrypted_column_metadata present (not decoded, not re-encoded).
    bool encrypted = false;
    bool operator==(column_chunk const&) const = default;
};

struct row_group {
    std::vector<column_chunk> columns;
    std::int64_t total_byte_size = 0;
    std::int64_t num_rows = 0;
    std::vector<sorting_column> sorting_columns;
    std::optional<std::int64_t> file_offset, total_compressed_size;
    std::optional<std::int16_t> ordinal;
    bool operator==(row_group const&) const = default;
};

struct file_metadata {
    std::int32_t version = 1;
    std::vector<schema_element> schema; ///< depth-first, the root first
    std::int64_t num_rows = 0;
    std::vector<row_group> row_groups;
    std::vector<key_value> key_value_metadata;
    std::optional<std::string> created_by;
    /// ColumnOrder union member ids, one per leaf column (1: TYPE_ORDER).
    std::vector<std::int16_t> column_orders;
    /// encryption_algorithm present (a plaintext footer of an encrypted file; not re-encoded).
    bool encrypted = false;
    bool operator==(file_metadata const&) const = default;
};

struct data_page_header {
    std::int32_t num_values = 0;
    parquet::encoding encoding = encoding::plain;
    parquet::encoding definition_level_encoding = encoding::rle;
    parquet::encoding repetition_level_encoding = encoding::rle;
    std::optional<parquet::statistics> statistics;
    bool operator==(data_page_header const&) const = default;
};

struct dictionary_page_header {
    std::int32_t num_values = 0;
    parquet::encoding encoding = encoding::plain;
    std::optional<bool> is_sorted;
    bool operator==(dictionary_page_header const&) const = default;
};

struct data_page_header_v2 {
    std::int32_t num_values = 0, num_nulls = 0, num_rows = 0;
    parquet::encoding encoding = encoding::plain;
    std::int32_t definition_levels_byte_length = 0, repetition_levels_byte_length = 0;
    std::optional<bool> is_compressed; ///< absent means true
    std::optional<parquet::statistics> statistics;
    /// is_compressed with its default.
    bool compressed() const noexcept { return is_compressed.value_or(true); }
    bool operator==(data_page_header_v2 const&) const = default;
};

struct page_header {
    parquet::page_type type = page_type::data_page;
    std::int32_t uncompressed_page_size = 0, compressed_page_size = 0;
    std::optional<std::int32_t> crc;
    std::optional<parquet::data_page_header> data_page_header;
    bool index_page_header = false; ///< present (an empty struct)
    std::optional<parquet::dictionary_page_header> dictionary_page_header;
    std::optional<parquet::data_page_header_v2> data_page_header_v2;
    bool operator==(page_header const&) const = default;
};

// --- field tables --------------------------------------------------------------------------
//
// Each struct but logical_type is described by one table: a thrift_struct<T> specialisation
// with the Thrift struct's name and a tuple of field descriptors in ascending id order. One
// generic decode and one generic encode walk it. The wire type comes from the member's C++
// type: bool; std::int8_t, std::int16_t, std::int32_t, std::int64_t; enums (as i32); double;
// std::string (binary); a described struct or logical_type (struct); std::optional<T> (T's
// type; encoded only when set); std::vector<T> (a list of T; an optional one is encoded only
// when not empty). A plain (not std::optional) member marked optional is not checked on
// decoding but always encoded (column_chunk::file_offset: required in the IDL, left out by some
// writers). Three special kinds: marker (a bool set by an empty struct field: PageHeader's
// index_page_header), recorded (a bool set when the field is present, whatever its type; the
// field is skipped and not encoded: the encryption fields) and union_ids (a list of unions of
// empty structs, stored as the members' ids: ColumnOrder).

namespace detail {

using thrift::ctype;

enum class presence : bool { optional, required };
inline constexpr presence required = presence::required;
inline constexpr presence optional = presence::optional;

enum class field_kind { value, marker, recorded, union_ids };

/// One Thrift field of struct S, held in member M.
template <class S, class M, field_kind K = field_kind::value>
struct field_desc {
    std::int16_t id;
    char const* name;
    M S::*member;
    presence need;
};

template <class S, class M>
constexpr field_desc<S, M> field(std::int16_t id, char const* name, M S::*member, presence need)
{
    return {id, name, member, need};
}
template <class S>
constexpr field_desc<S, bool, field_kind::marker> marker(std::int16_t id, char const* name,
                                                         bool S::*member)
{
    return {id, name, member, optional};
}
template <class S>
constexpr field_desc<S, bool, field_kind::recorded> recorded(std::int16_t id, char const* name,
                                                             bool S::*member)
{
    return {id, name, member, optional};
}
template <class S>
constexpr field_desc<S, std::vector<std::int16_t>, field_kind::union_ids>
union_ids(std::int16_t id, char const* name, std::vector<std::int16_t> S::*member, presence need)
{
    return {id, name, member, need};
}

/// Specialised below for each table-driven struct: `name` and `fields`.
template <class T>
struct thrift_struct;

template <class T>
concept described = requires {
    thrift_struct<T>::name;
    thrift_struct<T>::fields;
};

template <class T>
inline constexpr bool is_optional_v = false;
template <class T>
inline constexpr bool is_optional_v<std::optional<T>> = true;
template <class T>
inline constexpr bool is_vector_v = false;
template <class T>
inline constexpr bool is_vector_v<std::vector<T>> = true;

/// A scalar's compact-protocol type, and its reader and writer (for a list element; a bool
/// field's value is in its header instead).
template <class T, ctype Type, auto Read, auto Write>
struct scalar_io {
    static constexpr ctype type = Type;
    static T read(thrift::reader& r) { return static_cast<T>((r.*Read)()); }
    static void write(thrift::writer& w, T const& v) { (w.*Write)(v); }
};
template <class T>
struct scalar;
template <>
struct scalar<bool> : scalar_io<bool, ctype::bool_true, &thrift::reader::read_bool_element,
                                &thrift::writer::write_bool_element> {};
template <>
struct scalar<std::int8_t>
    : scalar_io<std::int8_t, ctype::i8, &thrift::reader::read_i8, &thrift::writer::write_i8> {};
template <>
struct scalar<std::int16_t>
    : scalar_io<std::int16_t, ctype::i16, &thrift::reader::read_i16, &thrift::writer::write_i16> {};
template <>
struct scalar<std::int32_t>
    : scalar_io<std::int32_t, ctype::i32, &thrift::reader::read_i32, &thrift::writer::write_i32> {};
template <>
struct scalar<std::int64_t>
    : scalar_io<std::int64_t, ctype::i64, &thrift::reader::read_i64, &thrift::writer::write_i64> {};
template <>
struct scalar<double> : scalar_io<double, ctype::double_, &thrift::reader::read_double,
                                  &thrift::writer::write_double> {};
template <>
struct scalar<std::string> : scalar_io<std::string, ctype::binary, &thrift::reader::read_string,
                                       &thrift::writer::write_binary> {};
/// Enums are i32s.
template <class E>
    requires std::is_enum_v<E>
struct scalar<E> {
    static constexpr ctype type = ctype::i32;
    static E read(thrift::reader& r) { return static_cast<E>(r.read_i32()); }
    static void write(thrift::writer& w, E e) { w.write_i32(static_cast<std::int32_t>(e)); }
};

template <class T>
concept is_scalar = requires { scalar<T>::type; };

/// The compact-protocol type a member of type T is written as.
template <class T>
constexpr ctype wire_type() noexcept
{
    if constexpr (is_optional_v<T>)
        return wire_type<typename T::value_type>();
    else if constexpr (is_vector_v<T>)
        return ctype::list;
    else if constexpr (is_scalar<T>)
        return scalar<T>::type;
    else {
        static_assert(described<T> || std::is_same_v<T, logical_type>, "no Thrift type for T");
        return ctype::struct_;
    }
}

/// Field ids strictly ascending (encode writes the fields in table order).
template <class Tuple>
constexpr bool ascending_ids(Tuple const& fields) noexcept
{
    return std::apply(
        [](auto const&... d) {
            std::int16_t last = 0;
            return ((d.id > last ? (last = d.id, true) : false) && ...);
        },
        fields);
}

} // namespace detail

// --- decoding ------------------------------------------------------------------------------

namespace detail {

/// Is a field of the expected type (both bool nibbles are bool)?
inline bool is(thrift::field const& f, ctype t) noexcept
{
    return f.type == t || (thrift::is_bool(t) && thrift::is_bool(f.type));
}

/// Reads a struct: on_field(f) returns false for a field it did not take, which is skipped.
template <class Fn>
void read_struct(thrift::reader& r, Fn&& on_field)
{
    r.struct_begin();
    for (thrift::field f = r.read_field(); f.type != ctype::stop; f = r.read_field())
        if (!on_field(f))
            r.skip(f);
    r.struct_end();
}

/// A union member that is an empty struct (or one whose fields we skip).
inline void skip_struct(thrift::reader& r)
{
    read_struct(r, [](thrift::field const&) { return false; });
}

/// A union of (empty) structs: the id of its member (the last one), or `none` without one.
inline std::int16_t read_union_id(thrift::reader& r, std::int16_t none)
{
    std::int16_t id = none;
    read_struct(r, [&](thrift::field const& f) {
        if (f.type != ctype::struct_)
            return false;
        id = f.id;
        skip_struct(r);
        return true;
    });
    return id;
}

/// Reads a list whose elements are `elem` with read_one(); false (elements skipped) when the
/// list holds another type.
template <class T, class Fn>
bool read_list(thrift::reader& r, ctype elem, std::vector<T>& out, Fn&& read_one)
{
    thrift::list_header const h = r.read_list_header();
    if (!(h.elem == elem || (thrift::is_bool(elem) && thrift::is_bool(h.elem)))) {
        for (std::uint32_t i = 0; i < h.size; ++i)
            r.skip(h.elem);
        return false;
    }
    out.clear();
    // The count is bounded by the bytes left (one byte per element at least), but an element
    // in memory is far larger than a byte: reserve a bounded start and let it grow.
    out.reserve(std::min<std::size_t>({h.size, r.remaining(), 4096}));
    for (std::uint32_t i = 0; i < h.size; ++i)
        out.push_back(read_one());
    return true;
}

/// One value that is not a field's bool (a list element, or a field's non-bool value).
template <class T>
void read_one(thrift::reader& r, T& out)
{
    if constexpr (is_scalar<T>)
        out = scalar<T>::read(r);
    else
        decode(r, out);
}

/// The value of field f (of the member's wire type) into `out`; false when not taken (a list
/// of other elements, already skipped).
template <class T>
bool read_field_value(thrift::reader& r, thrift::field const& f, T& out)
{
    if constexpr (is_optional_v<T>) {
        return read_field_value(r, f, out.emplace());
    } else if constexpr (is_vector_v<T>) {
        using E = typename T::value_type;
        return read_list(r, wire_type<E>(), out, [&] {
            E e{};
            read_one(r, e);
            return e;
        });
    } else if constexpr (std::is_same_v<T, bool>) {
        out = thrift::reader::read_bool(f);
        return true;
    } else {
        read_one(r, out);
        return true;
    }
}

/// Field f, described by d, into obj; false when not taken (then it is skipped).
template <class S, class M, field_kind K>
bool read_field(thrift::reader& r, thrift::field const& f, field_desc<S, M, K> const& d, S& obj)
{
    M& m = obj.*d.member;
    if constexpr (K == field_kind::recorded) {
        (void)r;
        (void)f;
        m = true;
        return false;
    } else if constexpr (K == field_kind::marker) {
        if (!is(f, ctype::struct_))
            return false;
        skip_struct(r);
        m = true;
        return true;
    } else if constexpr (K == field_kind::union_ids) {
        return is(f, ctype::list) &&
               read_list(r, ctype::struct_, m, [&] { return read_union_id(r, 0); });
    } else {
        return is(f, wire_type<M>()) && read_field_value(r, f, m);
    }
}

/// Throws "<Struct> at byte N: required field <id> (<name>) missing" for the first required
/// field (lowest id) whose bit (its index in the table) is not in `seen`.
template <class T>
void check_required(thrift::reader const& r, std::uint64_t start, std::uint64_t seen)
{
    std::apply(
        [&](auto const&... d) {
            std::size_t i = 0;
            auto check = [&](auto const& fd) {
                bool const missing = fd.need == required && !(seen & (std::uint64_t{1} << i));
                ++i;
                if (missing)
                    r.fail_at_offset(start, std::string(thrift_struct<T>::name) + " at byte " +
                                                std::to_string(start) + ": required field " +
                                                std::to_string(fd.id) + " (" + fd.name +
                                                ") missing");
            };
            (check(d), ...);
        },
        thrift_struct<T>::fields);
}

} // namespace detail

/// Decodes a table-described struct: unknown fields and fields of another type are skipped; a
/// required field missing is an error.
template <class T>
    requires detail::described<T>
void decode(thrift::reader& r, T& obj)
{
    constexpr auto const& fields = detail::thrift_struct<T>::fields;
    static_assert(std::tuple_size_v<std::remove_cvref_t<decltype(fields)>> <= 64);
    static_assert(detail::ascending_ids(fields), "field ids must ascend (encode's order)");
    std::uint64_t const start = r.offset();
    std::uint64_t seen = 0;
    detail::read_struct(r, [&](thrift::field const& f) {
        bool took = false;
        [&]<std::size_t... I>(std::index_sequence<I...>) {
            // The first descriptor with f's id takes it (or not); later ones are not asked.
            (void)((std::get<I>(fields).id == f.id &&
                    (took = detail::read_field(r, f, std::get<I>(fields), obj),
                     seen |= took ? std::uint64_t{1} << I : 0, true)) ||
                   ...);
        }(std::make_index_sequence<std::tuple_size_v<std::remove_cvref_t<decltype(fields)>>>{});
        return took;
    });
    detail::check_required<T>(r, start, seen);
}

/// LogicalType, a union of 17 structs flattened into one C++ struct (kind plus the parameters
/// of decimal, time/timestamp and integer), so it has no member per Thrift field: by hand.
inline void decode(thrift::reader& r, logical_type& lt)
{
    using detail::is;
    using thrift::ctype;
    using K = logical_type::kind_t;
    detail::read_struct(r, [&](thrift::field const& f) {
        if (f.type != ctype::struct_)
            return false;
        lt = logical_type{}; // a union holds one member: the last one read
        lt.kind = static_cast<K>(f.id);
        switch (lt.kind) {
        case K::decimal:
            detail::read_struct(r, [&](thrift::field const& g) {
                if (g.id == 1 && is(g, ctype::i32))
                    return (lt.scale = r.read_i32(), true);
                if (g.id == 2 && is(g, ctype::i32))
                    return (lt.precision = r.read_i32(), true);
                return false;
            });
            return true;
        case K::time:
        case K::timestamp:
            detail::read_struct(r, [&](thrift::field const& g) {
                if (g.id == 1 && is(g, ctype::bool_true))
                    return (lt.is_adjusted_to_utc = r.read_bool(g), true);
                if (g.id == 2 && is(g, ctype::struct_))
                    return (lt.unit = static_cast<time_unit>(detail::read_union_id(r, 1)), true);
                return false;
            });
            return true;
        case K::integer:
            detail::read_struct(r, [&](thrift::field const& g) {
                if (g.id == 1 && is(g, ctype::i8))
                    return (lt.bit_width = r.read_i8(), true);
                if (g.id == 2 && is(g, ctype::bool_true))
                    return (lt.is_signed = r.read_bool(g), true);
                return false;
            });
            return true;
        default:
            detail::skip_struct(r);
            return true;
        }
    });
}

// --- encoding ------------------------------------------------------------------------------

namespace detail {

/// One value that is not a field's bool (a list element, or a field's non-bool value).
template <class T>
void write_one(thrift::writer& w, T const& v)
{
    if constexpr (is_scalar<T>)
        scalar<T>::write(w, v);
    else
        encode(w, v);
}

/// Field `id` holding v: omitted when an optional is unset or an optional list is empty.
template <class T>
void write_field_value(thrift::writer& w, std::int16_t id, T const& v, presence need)
{
    if constexpr (is_optional_v<T>) {
        if (v)
            write_field_value(w, id, *v, need);
    } else if constexpr (is_vector_v<T>) {
        if (need == optional && v.empty())
            return;
        w.field_list_begin(id, wire_type<typename T::value_type>(),
                           static_cast<std::uint32_t>(v.size()));
        for (auto const& e : v)
            write_one(w, e);
    } else if constexpr (std::is_same_v<T, bool>) {
        w.field_bool(id, v);
    } else {
        w.field_header(wire_type<T>(), id);
        write_one(w, v);
    }
}

template <class S, class M, field_kind K>
void write_field(thrift::writer& w, field_desc<S, M, K> const& d, S const& obj)
{
    M const& m = obj.*d.member;
    if constexpr (K == field_kind::recorded) {
        (void)w; // not re-encoded
        (void)m;
    } else if constexpr (K == field_kind::marker) {
        if (m) {
            w.field_struct_begin(d.id);
            w.struct_end();
        }
    } else if constexpr (K == field_kind::union_ids) {
        if (d.need == optional && m.empty())
            return;
        w.field_list_begin(d.id, ctype::struct_, static_cast<std::uint32_t>(m.size()));
        for (std::int16_t member_id : m) {
            w.struct_begin();
            w.field_struct_begin(member_id);
            w.struct_end();
            w.struct_end();
        }
    } else {
        write_field_value(w, d.id, m, d.need);
    }
}

} // namespace detail

/// Encodes a table-described struct, fields in ascending id order.
template <class T>
    requires detail::described<T>
void encode(thrift::writer& w, T const& obj)
{
    static_assert(detail::ascending_ids(detail::thrift_struct<T>::fields));
    w.struct_begin();
    std::apply([&](auto const&... d) { (detail::write_field(w, d, obj), ...); },
               detail::thrift_struct<T>::fields);
    w.struct_end();
}

inline void encode(thrift::writer& w, logical_type const& lt)
{
    using K = logical_type::kind_t;
    w.struct_begin();
    if (lt.kind != K::none) {
        w.field_struct_begin(static_cast<std::int16_t>(lt.kind));
        switch (lt.kind) {
        case K::decimal:
            w.field_i32(1, lt.scale);
            w.field_i32(2, lt.precision);
            break;
        case K::time:
        case K::timestamp:
            w.field_bool(1, lt.is_adjusted_to_utc);
            w.field_struct_begin(2);
            w.field_struct_begin(static_cast<std::int16_t>(lt.unit));
            w.struct_end();
            w.struct_end();
            break;
        case K::integer:
            w.field_i8(1, lt.bit_width);
            w.field_bool(2, lt.is_signed);
            break;
        default:
            break;
        }
        w.struct_end();
    }
    w.struct_end();
}

// --- the tables (parquet.thrift's field ids and names) -------------------------------------

namespace detail {

template <>
struct thrift_struct<statistics> {
    static constexpr char const* name = "Statistics";
    using S = statistics;
    static constexpr auto fields = std::tuple{
        field(1, "max", &S::max, optional),
        field(2, "min", &S::min, optional),
        field(3, "null_count", &S::null_count, optional),
        field(4, "distinct_count", &S::distinct_count, optional),
        field(5, "max_value", &S::max_value, optional),
        field(6, "min_value", &S::min_value, optional),
        field(7, "is_max_value_exact", &S::is_max_value_exact, optional),
        field(8, "is_min_value_exact", &S::is_min_value_exact, optional),
        field(9, "nan_count", &S::nan_count, optional),
    };
};

template <>
struct thrift_struct<key_value> {
    static constexpr char const* name = "KeyValue";
    using S = key_value;
    static constexpr auto fields = std::tuple{
        field(1, "key", &S::key, required),
        field(2, "value", &S::value, optional),
    };
};

template <>
struct thrift_struct<schema_element> {
    static constexpr char const* name = "SchemaElement";
    using S = schema_element;
    static constexpr auto fields = std::tuple{
        field(1, "type", &S::type, optional),
        field(2, "type_length", &S::type_length, optional),
        field(3, "repetition_type", &S::repetition_type, optional),
        field(4, "name", &S::name, required),
        field(5, "num_children", &S::num_children, optional),
        field(6, "converted_type", &S::converted_type, optional),
        field(7, "scale", &S::scale, optional),
        field(8, "precision", &S::precision, optional),
        field(9, "field_id", &S::field_id, optional),
        field(10, "logicalType", &S::logical_type, optional),
    };
};

template <>
struct thrift_struct<sorting_column> {
    static constexpr char const* name = "SortingColumn";
    using S = sorting_column;
    static constexpr auto fields = std::tuple{
        field(1, "column_idx", &S::column_idx, required),
        field(2, "descending", &S::descending, required),
        field(3, "nulls_first", &S::nulls_first, required),
    };
};

template <>
struct thrift_struct<page_encoding_stats> {
    static constexpr char const* name = "PageEncodingStats";
    using S = page_encoding_stats;
    static constexpr auto fields = std::tuple{
        field(1, "page_type", &S::page_type, required),
        field(2, "encoding", &S::encoding, required),
        field(3, "count", &S::count, required),
    };
};

template <>
struct thrift_struct<column_metadata> {
    static constexpr char const* name = "ColumnMetaData";
    using S = column_metadata;
    static constexpr auto fields = std::tuple{
        field(1, "type", &S::type, required),
        field(2, "encodings", &S::encodings, required),
        field(3, "path_in_schema", &S::path_in_schema, required),
        field(4, "codec", &S::codec, required),
        field(5, "num_values", &S::num_values, required),
        field(6, "total_uncompressed_size", &S::total_uncompressed_size, required),
        field(7, "total_compressed_size", &S::total_compressed_size, required),
        field(8, "key_value_metadata", &S::key_value_metadata, optional),
        field(9, "data_page_offset", &S::data_page_offset, required),
        field(10, "index_page_offset", &S::index_page_offset, optional),
        field(11, "dictionary_page_offset", &S::dictionary_page_offset, optional),
        field(12, "statistics", &S::statistics, optional),
        field(13, "encoding_stats", &S::encoding_stats, optional),
        field(14, "bloom_filter_offset", &S::bloom_filter_offset, optional),
        field(15, "bloom_filter_length", &S::bloom_filter_length, optional),
    };
};

template <>
struct thrift_struct<column_chunk> {
    static constexpr char const* name = "ColumnChunk";
    using S = column_chunk;
    static constexpr auto fields = std::tuple{
        field(1, "file_path", &S::file_path, optional),
        // Required in the IDL but deprecated, and some writers leave it out; its default (0) is
        // what Thrift's generated readers use too. Always encoded.
        field(2, "file_offset", &S::file_offset, optional),
        field(3, "meta_data", &S::meta_data, optional),
        field(4, "offset_index_offset", &S::offset_index_offset, optional),
        field(5, "offset_index_length", &S::offset_index_length, optional),
        field(6, "column_index_offset", &S::column_index_offset, optional),
        field(7, "column_index_length", &S::column_index_length, optional),
        recorded(8, "crypto_metadata", &S::encrypted),
        recorded(9, "encrypted_column_metadata", &S::encrypted),
    };
};

template <>
struct thrift_struct<row_group> {
    static constexpr char const* name = "RowGroup";
    using S = row_group;
    static constexpr auto fields = std::tuple{
        field(1, "columns", &S::columns, required),
        field(2, "total_byte_size", &S::total_byte_size, required),
        field(3, "num_rows", &S::num_rows, required),
        field(4, "sorting_columns", &S::sorting_columns, optional),
        field(5, "file_offset", &S::file_offset, optional),
        field(6, "total_compressed_size", &S::total_compressed_size, optional),
        field(7, "ordinal", &S::ordinal, optional),
    };
};

template <>
struct thrift_struct<file_metadata> {
    static constexpr char const* name = "FileMetaData";
    using S = file_metadata;
    static constexpr auto fields = std::tuple{
        field(1, "version", &S::version, required),
        field(2, "schema", &S::schema, required),
        field(3, "num_rows", &S::num_rows, required),
        field(4, "row_groups", &S::row_groups, required),
        field(5, "key_value_metadata", &S::key_value_metadata, optional),
        field(6, "created_by", &S::created_by, optional),
        union_ids(7, "column_orders", &S::column_orders, optional),
        recorded(8, "encryption_algorithm", &S::encrypted),
    };
};

template <>
struct thrift_struct<data_page_header> {
    static constexpr char const* name = "DataPageHeader";
    using S = data_page_header;
    static constexpr auto fields = std::tuple{
        field(1, "num_values", &S::num_values, required),
        field(2, "encoding", &S::encoding, required),
        field(3, "definition_level_encoding", &S::definition_level_encoding, required),
        field(4, "repetition_level_encoding", &S::repetition_level_encoding, required),
        field(5, "statistics", &S::statistics, optional),
    };
};

template <>
struct thrift_struct<dictionary_page_header> {
    static constexpr char const* name = "DictionaryPageHeader";
    using S = dictionary_page_header;
    static constexpr auto fields = std::tuple{
        field(1, "num_values", &S::num_values, required),
        field(2, "encoding", &S::encoding, required),
        field(3, "is_sorted", &S::is_sorted, optional),
    };
};

template <>
struct thrift_struct<data_page_header_v2> {
    static constexpr char const* name = "DataPageHeaderV2";
    using S = data_page_header_v2;
    static constexpr auto fields = std::tuple{
        field(1, "num_values", &S::num_values, required),
        field(2, "num_nulls", &S::num_nulls, required),
        field(3, "num_rows", &S::num_rows, required),
        field(4, "encoding", &S::encoding, required),
        field(5, "definition_levels_byte_length", &S::definition_levels_byte_length, required),
        field(6, "repetition_levels_byte_length", &S::repetition_levels_byte_length, required),
        field(7, "is_compressed", &S::is_compressed, optional),
        field(8, "statistics", &S::statistics, optional),
    };
};

template <>
struct thrift_struct<page_header> {
    static constexpr char const* name = "PageHeader";
    using S = page_header;
    static constexpr auto fields = std::tuple{
        field(1, "type", &S::type, required),
        field(2, "uncompressed_page_size", &S::uncompressed_page_size, required),
        field(3, "compressed_page_size", &S::compressed_page_size, required),
        field(4, "crc", &S::crc, optional),
        field(5, "data_page_header", &S::data_page_header, optional),
        marker(6, "index_page_header", &S::index_page_header),
        field(7, "dictionary_page_header", &S::dictionary_page_header, optional),
        field(8, "data_page_header_v2", &S::data_page_header_v2, optional),
    };
};

} // namespace detail

// --- whole buffers -------------------------------------------------------------------------

/// A FileMetaData from `bytes` (the footer without its length and magic); `base` is the file
/// offset of bytes[0]. Bytes after the struct are ignored (some writers pad).
inline file_metadata decode_file_metadata(std::span<std::uint8_t const> bytes,
                                          std::uint64_t base = 0,
                                          int max_depth = thrift::default_max_depth)
{
    thrift::reader r(bytes, base, max_depth);
    file_metadata m;
    decode(r, m);
    return m;
}

/// The largest page (compressed or not) a reader accepts: 1 GiB (writers cut pages at about
/// 1 MiB; parquet-mr's and Arrow's hard limit is 2 GiB).
inline constexpr std::int64_t max_page_size = std::int64_t{1} << 30;

/// Checks a decoded page header's sizes and counts: no negative or oversized
/// compressed/uncompressed size (past max_page_size, or a compressed size past
/// `bytes_after`, the bytes after the header that the page may use), no negative num_values,
/// num_nulls or num_rows, v2 level lengths inside both sizes. Throws parquet::error at `at`
/// (the header's first byte).
inline void check_page_header(page_header const& h, std::uint64_t at,
                              std::uint64_t bytes_after = static_cast<std::uint64_t>(-1))
{
    auto const fail = [&](std::string const& reason) {
        throw error(std::string(), at, "page header: " + reason);
    };
    auto const size = [&](char const* what, std::int32_t v) {
        if (v < 0)
            fail(std::string("negative ") + what + " " + std::to_string(v));
        if (v > max_page_size)
            fail(std::string(what) + " " + std::to_string(v) + " past the limit of " +
                 std::to_string(max_page_size));
    };
    size("uncompressed_page_size", h.uncompressed_page_size);
    size("compressed_page_size", h.compressed_page_size);
    if (static_cast<std::uint64_t>(h.compressed_page_size) > bytes_after)
        fail("compressed_page_size " + std::to_string(h.compressed_page_size) + " but only " +
             std::to_string(bytes_after) + " bytes follow the header");
    auto const count = [&](char const* what, std::int32_t v) {
        if (v < 0)
            fail(std::string("negative ") + what + " " + std::to_string(v));
    };
    if (h.data_page_header)
        count("num_values", h.data_page_header->num_values);
    if (h.dictionary_page_header)
        count("dictionary num_values", h.dictionary_page_header->num_values);
    if (auto const& v2 = h.data_page_header_v2) {
        count("num_values", v2->num_values);
        count("num_nulls", v2->num_nulls);
        count("num_rows", v2->num_rows);
        count("definition_levels_byte_length", v2->definition_levels_byte_length);
        count("repetition_levels_byte_length", v2->repetition_levels_byte_length);
        if (v2->num_nulls > v2->num_values)
            fail("num_nulls " + std::to_string(v2->num_nulls) + " past num_values " +
                 std::to_string(v2->num_values));
        std::int64_t const levels =
            std::int64_t{v2->definition_levels_byte_length} + v2->repetition_levels_byte_length;
        if (levels > h.compressed_page_size || levels > h.uncompressed_page_size)
            fail("level bytes " + std::to_string(levels) + " past the page's size (" +
                 std::to_string(h.compressed_page_size) + " compressed, " +
                 std::to_string(h.uncompressed_page_size) + " uncompressed)");
    }
}

/// A PageHeader from the front of `bytes`; `header_size` gets how many bytes it took (the page
/// data follows them). Checked by check_page_header; `bytes_after` (when given) is how many
/// bytes after the header the page may take (a caller that read only a prefix knows more).
inline page_header decode_page_header(std::span<std::uint8_t const> bytes, std::uint64_t base,
                                      std::size_t& header_size,
                                      std::optional<std::uint64_t> bytes_after = std::nullopt)
{
    thrift::reader r(bytes, base);
    page_header h;
    decode(r, h);
    header_size = r.position();
    check_page_header(h, base, bytes_after.value_or(static_cast<std::uint64_t>(-1)));
    return h;
}

inline std::vector<std::uint8_t> encode_file_metadata(file_metadata const& m)
{
    thrift::writer w;
    encode(w, m);
    return w.take();
}

inline std::vector<std::uint8_t> encode_page_header(page_header const& h)
{
    thrift::writer w;
    encode(w, h);
    return w.take();
}

} // namespace streambatch::parquet

#endif // STREAMBATCH_IO_PARQUET_METADATA_HPP_INCLUDED
