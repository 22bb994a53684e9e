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
//         file_metadata::encrypted.
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

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
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

// --- decoding ------------------------------------------------------------------------------

namespace detail {

using thrift::ctype;

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
    out.reserve(h.size);
    for (std::uint32_t i = 0; i < h.size; ++i)
        out.push_back(read_one());
    return true;
}

/// Fails unless every bit of `required` is in `seen`; names the first missing field.
inline void check_required(thrift::reader const& r, std::uint64_t start, char const* name,
                           std::uint32_t seen, std::uint32_t required,
                           std::initializer_list<char const*> field_names)
{
    std::uint32_t const missing = required & ~seen;
    if (missing == 0)
        return;
    int id = 0;
    while (!(missing & (1u << id)))
        ++id;
    std::string field_name = "?";
    if (static_cast<std::size_t>(id) - 1 < field_names.size())
        field_name = field_names.begin()[id - 1];
    r.fail_at_offset(start, std::string(name) + " at byte " + std::to_string(start) +
                                ": required field " + std::to_string(id) + " (" + field_name +
                                ") missing");
}

constexpr std::uint32_t bit(int id) noexcept
{
    return 1u << id;
}

template <class E>
E read_enum(thrift::reader& r)
{
    return static_cast<E>(r.read_i32());
}

} // namespace detail

inline void decode(thrift::reader& r, statistics& s)
{
    using detail::is;
    using thrift::ctype;
    detail::read_struct(r, [&](thrift::field const& f) {
        switch (f.id) {
        case 1:
            return is(f, ctype::binary) && (s.max = r.read_string(), true);
        case 2:
            return is(f, ctype::binary) && (s.min = r.read_string(), true);
        case 3:
            return is(f, ctype::i64) && (s.null_count = r.read_i64(), true);
        case 4:
            return is(f, ctype::i64) && (s.distinct_count = r.read_i64(), true);
        case 5:
            return is(f, ctype::binary) && (s.max_value = r.read_string(), true);
        case 6:
            return is(f, ctype::binary) && (s.min_value = r.read_string(), true);
        case 7:
            return is(f, ctype::bool_true) && (s.is_max_value_exact = r.read_bool(f), true);
        case 8:
            return is(f, ctype::bool_true) && (s.is_min_value_exact = r.read_bool(f), true);
        case 9:
            return is(f, ctype::i64) && (s.nan_count = r.read_i64(), true);
        default:
            return false;
        }
    });
}

inline void decode(thrift::reader& r, key_value& kv)
{
    using detail::is;
    using thrift::ctype;
    std::uint64_t const start = r.offset();
    std::uint32_t seen = 0;
    detail::read_struct(r, [&](thrift::field const& f) {
        bool took = false;
        if (f.id == 1 && is(f, ctype::binary))
            took = (kv.key = r.read_string(), true);
        else if (f.id == 2 && is(f, ctype::binary))
            took = (kv.value = r.read_string(), true);
        if (took)
            seen |= detail::bit(f.id);
        return took;
    });
    detail::check_required(r, start, "KeyValue", seen, detail::bit(1), {"key"});
}

namespace detail {

/// A union member that is an empty struct (or one whose fields we skip).
inline void skip_struct(thrift::reader& r)
{
    read_struct(r, [](thrift::field const&) { return false; });
}

inline time_unit read_time_unit(thrift::reader& r)
{
    time_unit u = time_unit::millis;
    read_struct(r, [&](thrift::field const& f) {
        if (f.type != ctype::struct_)
            return false;
        u = static_cast<time_unit>(f.id);
        skip_struct(r);
        return true;
    });
    return u;
}

} // namespace detail

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
                    return (lt.unit = detail::read_time_unit(r), true);
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

inline void decode(thrift::reader& r, schema_element& e)
{
    using detail::is;
    using thrift::ctype;
    std::uint64_t const start = r.offset();
    std::uint32_t seen = 0;
    detail::read_struct(r, [&](thrift::field const& f) {
        bool took = false;
        switch (f.id) {
        case 1:
            took = is(f, ctype::i32) && (e.type = detail::read_enum<physical_type>(r), true);
            break;
        case 2:
            took = is(f, ctype::i32) && (e.type_length = r.read_i32(), true);
            break;
        case 3:
            took = is(f, ctype::i32) &&
                   (e.repetition_type = detail::read_enum<repetition_type>(r), true);
            break;
        case 4:
            took = is(f, ctype::binary) && (e.name = r.read_string(), true);
            break;
        case 5:
            took = is(f, ctype::i32) && (e.num_children = r.read_i32(), true);
            break;
        case 6:
            took = is(f, ctype::i32) &&
                   (e.converted_type = detail::read_enum<converted_type>(r), true);
            break;
        case 7:
            took = is(f, ctype::i32) && (e.scale = r.read_i32(), true);
            break;
        case 8:
            took = is(f, ctype::i32) && (e.precision = r.read_i32(), true);
            break;
        case 9:
            took = is(f, ctype::i32) && (e.field_id = r.read_i32(), true);
            break;
        case 10:
            if (is(f, ctype::struct_)) {
                decode(r, e.logical_type.emplace());
                took = true;
            }
            break;
        default:
            break;
        }
        if (took)
            seen |= detail::bit(f.id);
        return took;
    });
    detail::check_required(r, start, "SchemaElement", seen, detail::bit(4),
                           {"type", "type_length", "repetition_type", "name"});
}

inline void decode(thrift::reader& r, sorting_column& c)
{
    using detail::is;
    using thrift::ctype;
    std::uint64_t const start = r.offset();
    std::uint32_t seen = 0;
    detail::read_struct(r, [&](thrift::field const& f) {
        bool took = false;
        if (f.id == 1 && is(f, ctype::i32))
            took = (c.column_idx = r.read_i32(), true);
        else if (f.id == 2 && is(f, ctype::bool_true))
            took = (c.descending = r.read_bool(f), true);
        else if (f.id == 3 && is(f, ctype::bool_true))
            took = (c.nulls_first = r.read_bool(f), true);
        if (took)
            seen |= detail::bit(f.id);
        return took;
    });
    detail::check_required(r, start, "SortingColumn", seen,
                           detail::bit(1) | detail::bit(2) | detail::bit(3),
                           {"column_idx", "descending", "nulls_first"});
}

inline void decode(thrift::reader& r, page_encoding_stats& s)
{
    using detail::is;
    using thrift::ctype;
    std::uint64_t const start = r.offset();
    std::uint32_t seen = 0;
    detail::read_struct(r, [&](thrift::field const& f) {
        bool took = false;
        if (f.id == 1 && is(f, ctype::i32))
            took = (s.page_type = detail::read_enum<page_type>(r), true);
        else if (f.id == 2 && is(f, ctype::i32))
            took = (s.encoding = detail::read_enum<encoding>(r), true);
        else if (f.id == 3 && is(f, ctype::i32))
            took = (s.count = r.read_i32(), true);
        if (took)
            seen |= detail::bit(f.id);
        return took;
    });
    detail::check_required(r, start, "PageEncodingStats", seen,
                           detail::bit(1) | detail::bit(2) | detail::bit(3),
                           {"page_type", "encoding", "count"});
}

inline void decode(thrift::reader& r, column_metadata& m)
{
    using detail::is;
    using thrift::ctype;
    std::uint64_t const start = r.offset();
    std::uint32_t seen = 0;
    detail::read_struct(r, [&](thrift::field const& f) {
        bool took = false;
        switch (f.id) {
        case 1:
            took = is(f, ctype::i32) && (m.type = detail::read_enum<physical_type>(r), true);
            break;
        case 2:
            took = is(f, ctype::list) && detail::read_list(r, ctype::i32, m.encodings, [&] {
                       return detail::read_enum<encoding>(r);
                   });
            break;
        case 3:
            took = is(f, ctype::list) && detail::read_list(r, ctype::binary, m.path_in_schema,
                                                           [&] { return r.read_string(); });
            break;
        case 4:
            took = is(f, ctype::i32) && (m.codec = detail::read_enum<compression_codec>(r), true);
            break;
        case 5:
            took = is(f, ctype::i64) && (m.num_values = r.read_i64(), true);
            break;
        case 6:
            took = is(f, ctype::i64) && (m.total_uncompressed_size = r.read_i64(), true);
            break;
        case 7:
            took = is(f, ctype::i64) && (m.total_compressed_size = r.read_i64(), true);
            break;
        case 8:
            took = is(f, ctype::list) &&
                   detail::read_list(r, ctype::struct_, m.key_value_metadata, [&] {
                       key_value kv;
                       decode(r, kv);
                       return kv;
                   });
            break;
        case 9:
            took = is(f, ctype::i64) && (m.data_page_offset = r.read_i64(), true);
            break;
        case 10:
            took = is(f, ctype::i64) && (m.index_page_offset = r.read_i64(), true);
            break;
        case 11:
            took = is(f, ctype::i64) && (m.dictionary_page_offset = r.read_i64(), true);
            break;
        case 12:
            if (is(f, ctype::struct_)) {
                decode(r, m.statistics.emplace());
                took = true;
            }
            break;
        case 13:
            took =
                is(f, ctype::list) && detail::read_list(r, ctype::struct_, m.encoding_stats, [&] {
                    page_encoding_stats s;
                    decode(r, s);
                    return s;
                });
            break;
        case 14:
            took = is(f, ctype::i64) && (m.bloom_filter_offset = r.read_i64(), true);
            break;
        case 15:
            took = is(f, ctype::i32) && (m.bloom_filter_length = r.read_i32(), true);
            break;
        default:
            break;
        }
        if (took)
            seen |= detail::bit(f.id);
        return took;
    });
    using detail::bit;
    detail::check_required(r, start, "ColumnMetaData", seen,
                           bit(1) | bit(2) | bit(3) | bit(4) | bit(5) | bit(6) | bit(7) | bit(9),
                           {"type", "encodings", "path_in_schema", "codec", "num_values",
                            "total_uncompressed_size", "total_compressed_size",
                            "key_value_metadata", "data_page_offset"});
}

inline void decode(thrift::reader& r, column_chunk& c)
{
    using detail::is;
    using thrift::ctype;
    detail::read_struct(r, [&](thrift::field const& f) {
        switch (f.id) {
        case 1:
            return is(f, ctype::binary) && (c.file_path = r.read_string(), true);
        case 2:
            return is(f, ctype::i64) && (c.file_offset = r.read_i64(), true);
        case 3:
            if (!is(f, ctype::struct_))
                return false;
            decode(r, c.meta_data.emplace());
            return true;
        case 4:
            return is(f, ctype::i64) && (c.offset_index_offset = r.read_i64(), true);
        case 5:
            return is(f, ctype::i32) && (c.offset_index_length = r.read_i32(), true);
        case 6:
            return is(f, ctype::i64) && (c.column_index_offset = r.read_i64(), true);
        case 7:
            return is(f, ctype::i32) && (c.column_index_length = r.read_i32(), true);
        case 8:
        case 9:
            c.encrypted = true;
            return false; // skipped
        default:
            return false;
        }
    });
    // file_offset is required in the IDL but deprecated, and some writers leave it out; its
    // default (0) is what Thrift's generated readers use too.
}

inline void decode(thrift::reader& r, row_group& g)
{
    using detail::is;
    using thrift::ctype;
    std::uint64_t const start = r.offset();
    std::uint32_t seen = 0;
    detail::read_struct(r, [&](thrift::field const& f) {
        bool took = false;
        switch (f.id) {
        case 1:
            took = is(f, ctype::list) && detail::read_list(r, ctype::struct_, g.columns, [&] {
                       column_chunk c;
                       decode(r, c);
                       return c;
                   });
            break;
        case 2:
            took = is(f, ctype::i64) && (g.total_byte_size = r.read_i64(), true);
            break;
        case 3:
            took = is(f, ctype::i64) && (g.num_rows = r.read_i64(), true);
            break;
        case 4:
            took =
                is(f, ctype::list) && detail::read_list(r, ctype::struct_, g.sorting_columns, [&] {
                    sorting_column s;
                    decode(r, s);
                    return s;
                });
            break;
        case 5:
            took = is(f, ctype::i64) && (g.file_offset = r.read_i64(), true);
            break;
        case 6:
            took = is(f, ctype::i64) && (g.total_compressed_size = r.read_i64(), true);
            break;
        case 7:
            took = is(f, ctype::i16) && (g.ordinal = r.read_i16(), true);
            break;
        default:
            break;
        }
        if (took)
            seen |= detail::bit(f.id);
        return took;
    });
    using detail::bit;
    detail::check_required(r, start, "RowGroup", seen, bit(1) | bit(2) | bit(3),
                           {"columns", "total_byte_size", "num_rows"});
}

inline void decode(thrift::reader& r, file_metadata& m)
{
    using detail::is;
    using thrift::ctype;
    std::uint64_t const start = r.offset();
    std::uint32_t seen = 0;
    detail::read_struct(r, [&](thrift::field const& f) {
        bool took = false;
        switch (f.id) {
        case 1:
            took = is(f, ctype::i32) && (m.version = r.read_i32(), true);
            break;
        case 2:
            took = is(f, ctype::list) && detail::read_list(r, ctype::struct_, m.schema, [&] {
                       schema_element e;
                       decode(r, e);
                       return e;
                   });
            break;
        case 3:
            took = is(f, ctype::i64) && (m.num_rows = r.read_i64(), true);
            break;
        case 4:
            took = is(f, ctype::list) && detail::read_list(r, ctype::struct_, m.row_groups, [&] {
                       row_group g;
                       decode(r, g);
                       return g;
                   });
            break;
        case 5:
            took = is(f, ctype::list) &&
                   detail::read_list(r, ctype::struct_, m.key_value_metadata, [&] {
                       key_value kv;
                       decode(r, kv);
                       return kv;
                   });
            break;
        case 6:
            took = is(f, ctype::binary) && (m.created_by = r.read_string(), true);
            break;
        case 7:
            took = is(f, ctype::list) && detail::read_list(r, ctype::struct_, m.column_orders, [&] {
                       std::int16_t id = 0;
                       detail::read_struct(r, [&](thrift::field const& g) {
                           if (g.type != ctype::struct_)
                               return false;
                           id = g.id;
                           detail::skip_struct(r);
                           return true;
                       });
                       return id;
                   });
            break;
        case 8:
            m.encrypted = true;
            break; // skipped
        default:
            break;
        }
        if (took)
            seen |= detail::bit(f.id);
        return took;
    });
    using detail::bit;
    detail::check_required(r, start, "FileMetaData", seen, bit(1) | bit(2) | bit(3) | bit(4),
                           {"version", "schema", "num_rows", "row_groups"});
}

inline void decode(thrift::reader& r, data_page_header& h)
{
    using detail::is;
    using thrift::ctype;
    std::uint64_t const start = r.offset();
    std::uint32_t seen = 0;
    detail::read_struct(r, [&](thrift::field const& f) {
        bool took = false;
        switch (f.id) {
        case 1:
            took = is(f, ctype::i32) && (h.num_values = r.read_i32(), true);
            break;
        case 2:
            took = is(f, ctype::i32) && (h.encoding = detail::read_enum<encoding>(r), true);
            break;
        case 3:
            took = is(f, ctype::i32) &&
                   (h.definition_level_encoding = detail::read_enum<encoding>(r), true);
            break;
        case 4:
            took = is(f, ctype::i32) &&
                   (h.repetition_level_encoding = detail::read_enum<encoding>(r), true);
            break;
        case 5:
            if (is(f, ctype::struct_)) {
                decode(r, h.statistics.emplace());
                took = true;
            }
            break;
        default:
            break;
        }
        if (took)
            seen |= detail::bit(f.id);
        return took;
    });
    using detail::bit;
    detail::check_required(
        r, start, "DataPageHeader", seen, bit(1) | bit(2) | bit(3) | bit(4),
        {"num_values", "encoding", "definition_level_encoding", "repetition_level_encoding"});
}

inline void decode(thrift::reader& r, dictionary_page_header& h)
{
    using detail::is;
    using thrift::ctype;
    std::uint64_t const start = r.offset();
    std::uint32_t seen = 0;
    detail::read_struct(r, [&](thrift::field const& f) {
        bool took = false;
        if (f.id == 1 && is(f, ctype::i32))
            took = (h.num_values = r.read_i32(), true);
        else if (f.id == 2 && is(f, ctype::i32))
            took = (h.encoding = detail::read_enum<encoding>(r), true);
        else if (f.id == 3 && is(f, ctype::bool_true))
            took = (h.is_sorted = r.read_bool(f), true);
        if (took)
            seen |= detail::bit(f.id);
        return took;
    });
    detail::check_required(r, start, "DictionaryPageHeader", seen, detail::bit(1) | detail::bit(2),
                           {"num_values", "encoding"});
}

inline void decode(thrift::reader& r, data_page_header_v2& h)
{
    using detail::is;
    using thrift::ctype;
    std::uint64_t const start = r.offset();
    std::uint32_t seen = 0;
    detail::read_struct(r, [&](thrift::field const& f) {
        bool took = false;
        switch (f.id) {
        case 1:
            took = is(f, ctype::i32) && (h.num_values = r.read_i32(), true);
            break;
        case 2:
            took = is(f, ctype::i32) && (h.num_nulls = r.read_i32(), true);
            break;
        case 3:
            took = is(f, ctype::i32) && (h.num_rows = r.read_i32(), true);
            break;
        case 4:
            took = is(f, ctype::i32) && (h.encoding = detail::read_enum<encoding>(r), true);
            break;
        case 5:
            took = is(f, ctype::i32) && (h.definition_levels_byte_length = r.read_i32(), true);
            break;
        case 6:
            took = is(f, ctype::i32) && (h.repetition_levels_byte_length = r.read_i32(), true);
            break;
        case 7:
            took = is(f, ctype::bool_true) && (h.is_compressed = r.read_bool(f), true);
            break;
        case 8:
            if (is(f, ctype::struct_)) {
                decode(r, h.statistics.emplace());
                took = true;
            }
            break;
        default:
            break;
        }
        if (took)
            seen |= detail::bit(f.id);
        return took;
    });
    using detail::bit;
    detail::check_required(r, start, "DataPageHeaderV2", seen,
                           bit(1) | bit(2) | bit(3) | bit(4) | bit(5) | bit(6),
                           {"num_values", "num_nulls", "num_rows", "encoding",
                            "definition_levels_byte_length", "repetition_levels_byte_length"});
}

inline void decode(thrift::reader& r, page_header& h)
{
    using detail::is;
    using thrift::ctype;
    std::uint64_t const start = r.offset();
    std::uint32_t seen = 0;
    detail::read_struct(r, [&](thrift::field const& f) {
        bool took = false;
        switch (f.id) {
        case 1:
            took = is(f, ctype::i32) && (h.type = detail::read_enum<page_type>(r), true);
            break;
        case 2:
            took = is(f, ctype::i32) && (h.uncompressed_page_size = r.read_i32(), true);
            break;
        case 3:
            took = is(f, ctype::i32) && (h.compressed_page_size = r.read_i32(), true);
            break;
        case 4:
            took = is(f, ctype::i32) && (h.crc = r.read_i32(), true);
            break;
        case 5:
            if (is(f, ctype::struct_)) {
                decode(r, h.data_page_header.emplace());
                took = true;
            }
            break;
        case 6:
            if (is(f, ctype::struct_)) {
                detail::skip_struct(r);
                h.index_page_header = took = true;
            }
            break;
        case 7:
            if (is(f, ctype::struct_)) {
                decode(r, h.dictionary_page_header.emplace());
                took = true;
            }
            break;
        case 8:
            if (is(f, ctype::struct_)) {
                decode(r, h.data_page_header_v2.emplace());
                took = true;
            }
            break;
        default:
            break;
        }
        if (took)
            seen |= detail::bit(f.id);
        return took;
    });
    using detail::bit;
    detail::check_required(r, start, "PageHeader", seen, bit(1) | bit(2) | bit(3),
                           {"type", "uncompressed_page_size", "compressed_page_size"});
}

// --- encoding ------------------------------------------------------------------------------

namespace detail {
template <class E>
void field_enum(thrift::writer& w, std::int16_t id, E e)
{
    w.field_i32(id, static_cast<std::int32_t>(e));
}
} // namespace detail

inline void encode(thrift::writer& w, statistics const& s)
{
    w.struct_begin();
    if (s.max)
        w.field_binary(1, *s.max);
    if (s.min)
        w.field_binary(2, *s.min);
    if (s.null_count)
        w.field_i64(3, *s.null_count);
    if (s.distinct_count)
        w.field_i64(4, *s.distinct_count);
    if (s.max_value)
        w.field_binary(5, *s.max_value);
    if (s.min_value)
        w.field_binary(6, *s.min_value);
    if (s.is_max_value_exact)
        w.field_bool(7, *s.is_max_value_exact);
    if (s.is_min_value_exact)
        w.field_bool(8, *s.is_min_value_exact);
    if (s.nan_count)
        w.field_i64(9, *s.nan_count);
    w.struct_end();
}

inline void encode(thrift::writer& w, key_value const& kv)
{
    w.struct_begin();
    w.field_binary(1, kv.key);
    if (kv.value)
        w.field_binary(2, *kv.value);
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

inline void encode(thrift::writer& w, schema_element const& e)
{
    w.struct_begin();
    if (e.type)
        detail::field_enum(w, 1, *e.type);
    if (e.type_length)
        w.field_i32(2, *e.type_length);
    if (e.repetition_type)
        detail::field_enum(w, 3, *e.repetition_type);
    w.field_binary(4, e.name);
    if (e.num_children)
        w.field_i32(5, *e.num_children);
    if (e.converted_type)
        detail::field_enum(w, 6, *e.converted_type);
    if (e.scale)
        w.field_i32(7, *e.scale);
    if (e.precision)
        w.field_i32(8, *e.precision);
    if (e.field_id)
        w.field_i32(9, *e.field_id);
    if (e.logical_type) {
        w.field_header(thrift::ctype::struct_, 10);
        encode(w, *e.logical_type);
    }
    w.struct_end();
}

namespace detail {
template <class T>
void field_struct_list(thrift::writer& w, std::int16_t id, std::vector<T> const& v)
{
    w.field_list_begin(id, thrift::ctype::struct_, static_cast<std::uint32_t>(v.size()));
    for (T const& x : v)
        encode(w, x);
}
} // namespace detail

inline void encode(thrift::writer& w, sorting_column const& c)
{
    w.struct_begin();
    w.field_i32(1, c.column_idx);
    w.field_bool(2, c.descending);
    w.field_bool(3, c.nulls_first);
    w.struct_end();
}

inline void encode(thrift::writer& w, page_encoding_stats const& s)
{
    w.struct_begin();
    detail::field_enum(w, 1, s.page_type);
    detail::field_enum(w, 2, s.encoding);
    w.field_i32(3, s.count);
    w.struct_end();
}

inline void encode(thrift::writer& w, column_metadata const& m)
{
    using thrift::ctype;
    w.struct_begin();
    detail::field_enum(w, 1, m.type);
    w.field_list_begin(2, ctype::i32, static_cast<std::uint32_t>(m.encodings.size()));
    for (encoding e : m.encodings)
        w.write_i32(static_cast<std::int32_t>(e));
    w.field_list_begin(3, ctype::binary, static_cast<std::uint32_t>(m.path_in_schema.size()));
    for (std::string const& p : m.path_in_schema)
        w.write_binary(p);
    detail::field_enum(w, 4, m.codec);
    w.field_i64(5, m.num_values);
    w.field_i64(6, m.total_uncompressed_size);
    w.field_i64(7, m.total_compressed_size);
    if (!m.key_value_metadata.empty())
        detail::field_struct_list(w, 8, m.key_value_metadata);
    w.field_i64(9, m.data_page_offset);
    if (m.index_page_offset)
        w.field_i64(10, *m.index_page_offset);
    if (m.dictionary_page_offset)
        w.field_i64(11, *m.dictionary_page_offset);
    if (m.statistics) {
        w.field_header(ctype::struct_, 12);
        encode(w, *m.statistics);
    }
    if (!m.encoding_stats.empty())
        detail::field_struct_list(w, 13, m.encoding_stats);
    if (m.bloom_filter_offset)
        w.field_i64(14, *m.bloom_filter_offset);
    if (m.bloom_filter_length)
        w.field_i32(15, *m.bloom_filter_length);
    w.struct_end();
}

inline void encode(thrift::writer& w, column_chunk const& c)
{
    w.struct_begin();
    if (c.file_path)
        w.field_binary(1, *c.file_path);
    w.field_i64(2, c.file_offset);
    if (c.meta_data) {
        w.field_header(thrift::ctype::struct_, 3);
        encode(w, *c.meta_data);
    }
    if (c.offset_index_offset)
        w.field_i64(4, *c.offset_index_offset);
    if (c.offset_index_length)
        w.field_i32(5, *c.offset_index_length);
    if (c.column_index_offset)
        w.field_i64(6, *c.column_index_offset);
    if (c.column_index_length)
        w.field_i32(7, *c.column_index_length);
    w.struct_end();
}

inline void encode(thrift::writer& w, row_group const& g)
{
    w.struct_begin();
    detail::field_struct_list(w, 1, g.columns);
    w.field_i64(2, g.total_byte_size);
    w.field_i64(3, g.num_rows);
    if (!g.sorting_columns.empty())
        detail::field_struct_list(w, 4, g.sorting_columns);
    if (g.file_offset)
        w.field_i64(5, *g.file_offset);
    if (g.total_compressed_size)
        w.field_i64(6, *g.total_compressed_size);
    if (g.ordinal)
        w.field_i16(7, *g.ordinal);
    w.struct_end();
}

inline void encode(thrift::writer& w, file_metadata const& m)
{
    w.struct_begin();
    w.field_i32(1, m.version);
    detail::field_struct_list(w, 2, m.schema);
    w.field_i64(3, m.num_rows);
    detail::field_struct_list(w, 4, m.row_groups);
    if (!m.key_value_metadata.empty())
        detail::field_struct_list(w, 5, m.key_value_metadata);
    if (m.created_by)
        w.field_binary(6, *m.created_by);
    if (!m.column_orders.empty()) {
        w.field_list_begin(7, thrift::ctype::struct_,
                           static_cast<std::uint32_t>(m.column_orders.size()));
        for (std::int16_t id : m.column_orders) {
            w.struct_begin();
            w.field_struct_begin(id);
            w.struct_end();
            w.struct_end();
        }
    }
    w.struct_end();
}

inline void encode(thrift::writer& w, data_page_header const& h)
{
    w.struct_begin();
    w.field_i32(1, h.num_values);
    detail::field_enum(w, 2, h.encoding);
    detail::field_enum(w, 3, h.definition_level_encoding);
    detail::field_enum(w, 4, h.repetition_level_encoding);
    if (h.statistics) {
        w.field_header(thrift::ctype::struct_, 5);
        encode(w, *h.statistics);
    }
    w.struct_end();
}

inline void encode(thrift::writer& w, dictionary_page_header const& h)
{
    w.struct_begin();
    w.field_i32(1, h.num_values);
    detail::field_enum(w, 2, h.encoding);
    if (h.is_sorted)
        w.field_bool(3, *h.is_sorted);
    w.struct_end();
}

inline void encode(thrift::writer& w, data_page_header_v2 const& h)
{
    w.struct_begin();
    w.field_i32(1, h.num_values);
    w.field_i32(2, h.num_nulls);
    w.field_i32(3, h.num_rows);
    detail::field_enum(w, 4, h.encoding);
    w.field_i32(5, h.definition_levels_byte_length);
    w.field_i32(6, h.repetition_levels_byte_length);
    if (h.is_compressed)
        w.field_bool(7, *h.is_compressed);
    if (h.statistics) {
        w.field_header(thrift::ctype::struct_, 8);
        encode(w, *h.statistics);
    }
    w.struct_end();
}

inline void encode(thrift::writer& w, page_header const& h)
{
    using thrift::ctype;
    w.struct_begin();
    detail::field_enum(w, 1, h.type);
    w.field_i32(2, h.uncompressed_page_size);
    w.field_i32(3, h.compressed_page_size);
    if (h.crc)
        w.field_i32(4, *h.crc);
    if (h.data_page_header) {
        w.field_header(ctype::struct_, 5);
        encode(w, *h.data_page_header);
    }
    if (h.index_page_header) {
        w.field_struct_begin(6);
        w.struct_end();
    }
    if (h.dictionary_page_header) {
        w.field_header(ctype::struct_, 7);
        encode(w, *h.dictionary_page_header);
    }
    if (h.data_page_header_v2) {
        w.field_header(ctype::struct_, 8);
        encode(w, *h.data_page_header_v2);
    }
    w.struct_end();
}

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

/// A PageHeader from the front of `bytes`; `header_size` gets how many bytes it took (the page
/// data follows them).
inline page_header decode_page_header(std::span<std::uint8_t const> bytes, std::uint64_t base,
                                      std::size_t& header_size)
{
    thrift::reader r(bytes, base);
    page_header h;
    decode(r, h);
    header_size = r.position();
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
