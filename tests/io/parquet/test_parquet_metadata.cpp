// Parquet's metadata structs (io/parquet/metadata.hpp): every field round-trips through the
// compact encoding, unknown fields (of every type) are skipped, a missing required field is an
// error naming the struct, the field and the byte offset, and field ids are parquet.thrift's.
#include <streambatch/io/parquet/metadata.hpp>

#include <catch2/catch.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace pq = streambatch::parquet;
namespace thrift = streambatch::parquet::thrift;
using thrift::ctype;

namespace {

pq::statistics full_statistics()
{
    pq::statistics s;
    s.max = std::string("\xff\x00", 2);
    s.min = "";
    s.null_count = 3;
    s.distinct_count = 9;
    s.max_value = "zz";
    s.min_value = "aa";
    s.is_max_value_exact = true;
    s.is_min_value_exact = false;
    s.nan_count = 1;
    return s;
}

pq::logical_type kind(pq::logical_type::kind_t k)
{
    pq::logical_type t;
    t.kind = k;
    return t;
}

pq::logical_type timestamp(pq::time_unit u, bool utc)
{
    pq::logical_type t;
    t.kind = pq::logical_type::kind_t::timestamp;
    t.unit = u;
    t.is_adjusted_to_utc = utc;
    return t;
}

pq::file_metadata sample()
{
    using K = pq::logical_type::kind_t;
    pq::file_metadata m;
    m.version = 2;
    pq::schema_element root;
    root.name = "schema";
    root.num_children = 9;
    m.schema.push_back(root);
    auto leaf = [&](std::string name, pq::physical_type t,
                    pq::repetition_type r) -> pq::schema_element& {
        pq::schema_element e;
        e.name = std::move(name);
        e.type = t;
        e.repetition_type = r;
        m.schema.push_back(e);
        return m.schema.back();
    };
    leaf("id", pq::physical_type::int64, pq::repetition_type::required).field_id = 7;
    auto& s = leaf("name", pq::physical_type::byte_array, pq::repetition_type::optional);
    s.converted_type = pq::converted_type::utf8;
    s.logical_type = kind(K::string);
    leaf("e", pq::physical_type::byte_array, pq::repetition_type::optional).logical_type =
        kind(K::enum_);
    leaf("j", pq::physical_type::byte_array, pq::repetition_type::optional).logical_type =
        kind(K::json);
    leaf("d", pq::physical_type::int32, pq::repetition_type::optional).logical_type = kind(K::date);
    auto& t = leaf("t", pq::physical_type::int64, pq::repetition_type::optional);
    t.logical_type = kind(K::time);
    t.logical_type->unit = pq::time_unit::micros;
    leaf("ts", pq::physical_type::int64, pq::repetition_type::optional).logical_type =
        timestamp(pq::time_unit::nanos, true);
    auto& dec =
        leaf("price", pq::physical_type::fixed_len_byte_array, pq::repetition_type::required);
    dec.type_length = 16;
    dec.converted_type = pq::converted_type::decimal;
    dec.scale = 2;
    dec.precision = 38;
    dec.logical_type = kind(K::decimal);
    dec.logical_type->scale = 2;
    dec.logical_type->precision = 38;
    auto& u8 = leaf("small", pq::physical_type::int32, pq::repetition_type::required);
    u8.converted_type = pq::converted_type::uint_8;
    u8.logical_type = kind(K::integer);
    u8.logical_type->bit_width = 8;
    u8.logical_type->is_signed = false;

    pq::row_group g;
    for (int c = 0; c < 9; ++c) {
        pq::column_chunk cc;
        cc.file_offset = 4 + 100 * c;
        pq::column_metadata md;
        md.type = pq::physical_type::int64;
        md.encodings = {pq::encoding::plain, pq::encoding::rle, pq::encoding::rle_dictionary};
        md.path_in_schema = {m.schema[static_cast<std::size_t>(c) + 1].name};
        md.codec = pq::compression_codec::zstd;
        md.num_values = 1000;
        md.total_uncompressed_size = 8000;
        md.total_compressed_size = 100;
        md.data_page_offset = 4 + 100 * c + 20;
        md.dictionary_page_offset = 4 + 100 * c;
        md.statistics = full_statistics();
        md.encoding_stats = {{pq::page_type::dictionary_page, pq::encoding::plain, 1},
                             {pq::page_type::data_page, pq::encoding::rle_dictionary, 3}};
        md.key_value_metadata = {{"k", "v"}, {"novalue", std::nullopt}};
        md.bloom_filter_offset = 5000;
        md.bloom_filter_length = 64;
        md.index_page_offset = 77;
        cc.meta_data = md;
        cc.offset_index_offset = 6000;
        cc.offset_index_length = 30;
        cc.column_index_offset = 6100;
        cc.column_index_length = 40;
        g.columns.push_back(cc);
    }
    g.total_byte_size = 72000;
    g.num_rows = 1000;
    g.sorting_columns = {{0, true, false}, {1, false, true}};
    g.file_offset = 4;
    g.total_compressed_size = 900;
    g.ordinal = 0;
    m.row_groups = {g, g};
    m.num_rows = 2000;
    m.key_value_metadata = {{"ARROW:schema", "..."}, {"writer", std::nullopt}};
    m.created_by = "streambatch test";
    m.column_orders = std::vector<std::int16_t>(9, 1);
    return m;
}

} // namespace

TEST_CASE("metadata: a FileMetaData with every field round-trips", "[parquet][metadata]")
{
    pq::file_metadata const m = sample();
    auto const bytes = pq::encode_file_metadata(m);
    pq::file_metadata const back = pq::decode_file_metadata(bytes);
    CHECK(back == m);
    CHECK(back.schema[7].logical_type->unit == pq::time_unit::nanos);
    CHECK(back.schema[7].logical_type->is_adjusted_to_utc);
    CHECK(back.schema[9].logical_type->bit_width == 8);
    CHECK_FALSE(back.schema[9].logical_type->is_signed);
    CHECK(back.row_groups[1].columns[3].meta_data->statistics->max == std::string("\xff\x00", 2));
    // And the encoding is stable: encoding the decoded struct gives the same bytes.
    CHECK(pq::encode_file_metadata(back) == bytes);
}

TEST_CASE("metadata: field ids are parquet.thrift's", "[parquet][metadata]")
{
    // FileMetaData{1: version=1, 2: schema=[{4: name="r"}], 3: num_rows=0, 4: row_groups=[]}
    pq::file_metadata m;
    m.schema.push_back({});
    m.schema[0].name = "r";
    auto const b = pq::encode_file_metadata(m);
    std::vector<std::uint8_t> const want = {0x15, 0x02,            // 1: i32 1
                                            0x19, 0x1c,            // 2: list of 1 struct
                                            0x48, 0x01, 'r', 0x00, // {4: "r"}
                                            0x16, 0x00,            // 3: i64 0
                                            0x19, 0x0c,            // 4: list of 0 structs
                                            0x00};
    CHECK(b == want);

    // A DataPageHeader v1 inside a PageHeader: ids 1-3 then 5.
    pq::page_header h;
    h.type = pq::page_type::data_page;
    h.uncompressed_page_size = 10;
    h.compressed_page_size = 8;
    h.data_page_header.emplace().num_values = 2;
    auto const hb = pq::encode_page_header(h);
    std::vector<std::uint8_t> const hwant = {0x15, 0x00, 0x15, 0x14, 0x15, 0x10, 0x2c, 0x15, 0x04,
                                             0x15, 0x00, 0x15, 0x06, 0x15, 0x06, 0x00, 0x00};
    CHECK(hb == hwant);
}

TEST_CASE("metadata: page headers of every kind round-trip and report their size",
          "[parquet][metadata]")
{
    pq::page_header v1;
    v1.type = pq::page_type::data_page;
    v1.uncompressed_page_size = 100;
    v1.compressed_page_size = 60;
    v1.crc = -123456;
    auto& d1 = v1.data_page_header.emplace();
    d1.num_values = 10;
    d1.encoding = pq::encoding::delta_binary_packed;
    d1.statistics = full_statistics();
    pq::page_header dict;
    dict.type = pq::page_type::dictionary_page;
    dict.uncompressed_page_size = 7;
    dict.compressed_page_size = 7;
    auto& dp = dict.dictionary_page_header.emplace();
    dp.num_values = 3;
    dp.is_sorted = true;
    pq::page_header v2;
    v2.type = pq::page_type::data_page_v2;
    v2.uncompressed_page_size = 1 << 20;
    v2.compressed_page_size = 1000;
    auto& d2 = v2.data_page_header_v2.emplace();
    d2.num_values = 5;
    d2.num_nulls = 1;
    d2.num_rows = 5;
    d2.encoding = pq::encoding::byte_stream_split;
    d2.definition_levels_byte_length = 4;
    d2.is_compressed = false;
    pq::page_header index;
    index.type = pq::page_type::index_page;
    index.index_page_header = true;
    for (pq::page_header const& h : {v1, dict, v2, index}) {
        auto b = pq::encode_page_header(h);
        std::size_t const size = b.size();
        b.insert(b.end(), {1, 2, 3}); // page data follows the header
        std::size_t header_size = 0;
        CHECK(pq::decode_page_header(b, 40, header_size) == h);
        CHECK(header_size == size);
    }
    CHECK_FALSE(v2.data_page_header_v2->compressed());
    CHECK(pq::data_page_header_v2{}.compressed());
}

TEST_CASE("metadata: unknown fields of every type are skipped", "[parquet][metadata]")
{
    // A SchemaElement with fields from a future format version around the known ones.
    thrift::writer w;
    w.struct_begin();
    w.field_i32(1, 2);             // type INT64
    w.field_header(ctype::map, 3); // wrong type for repetition_type: skipped
    w.map_header(ctype::i32, ctype::binary, 1);
    w.write_i32(1);
    w.write_binary("x");
    w.field_binary(4, "col");
    w.field_list_begin(20, ctype::struct_, 1); // unknown list of structs
    w.struct_begin();
    w.field_double(1, 1.0);
    w.struct_end();
    w.field_bool(21, true);
    w.field_header(ctype::set, 22);
    w.list_header(ctype::i64, 2);
    w.write_i64(1);
    w.write_i64(2);
    w.field_header(ctype::struct_, 10); // logicalType: an unknown member, then TIMESTAMP
    w.struct_begin();
    w.field_struct_begin(8);
    w.field_bool(1, true);
    w.field_struct_begin(2);
    w.field_struct_begin(2); // MICROS
    w.struct_end();
    w.struct_end();
    w.field_i8(3, 99); // unknown field in TimestampType
    w.struct_end();
    w.struct_end();
    w.field_i8(30, 1);
    w.field_i16(31, -1);
    w.field_i64(32, -1);
    w.struct_end();
    auto const b = w.take();
    thrift::reader r(b);
    pq::schema_element e;
    decode(r, e);
    CHECK(r.remaining() == 0);
    CHECK(e.name == "col");
    CHECK(e.type == pq::physical_type::int64);
    CHECK_FALSE(e.repetition_type.has_value());
    REQUIRE(e.logical_type);
    CHECK(e.logical_type->kind == pq::logical_type::kind_t::timestamp);
    CHECK(e.logical_type->unit == pq::time_unit::micros);
    CHECK(e.logical_type->is_adjusted_to_utc);

    // A LogicalType member this file does not know keeps its id.
    thrift::writer u;
    u.struct_begin();
    u.field_struct_begin(99);
    u.field_binary(1, "future");
    u.struct_end();
    u.struct_end();
    thrift::reader ur(u.bytes());
    pq::logical_type lt;
    decode(ur, lt);
    CHECK(static_cast<int>(lt.kind) == 99);
    CHECK(std::string(to_string(lt.kind)) == "unknown");
}

TEST_CASE("metadata: a missing required field names the struct, the field and the offset",
          "[parquet][metadata]")
{
    thrift::writer w;
    w.struct_begin();
    w.field_i32(1, 1);
    w.field_list_begin(2, ctype::struct_, 1);
    w.struct_begin();
    w.field_i32(1, 1); // a SchemaElement without its name
    w.struct_end();
    w.struct_end();
    auto const b = w.take();
    try {
        pq::decode_file_metadata(b, 1000);
        FAIL("no error");
    } catch (pq::error const& e) {
        CHECK(e.offset() == 1004); // the SchemaElement starts after 1:, 2: and the list header
        CHECK(e.reason() == "SchemaElement at byte 1004: required field 4 (name) missing");
        CHECK(e.file().empty());
    }

    // The FileMetaData itself without row_groups.
    thrift::writer f;
    f.struct_begin();
    f.field_i32(1, 1);
    f.field_list_begin(2, ctype::struct_, 0);
    f.field_i64(3, 0);
    f.struct_end();
    auto const fb = f.take();
    try {
        pq::decode_file_metadata(fb, 7);
        FAIL("no error");
    } catch (pq::error const& e) {
        CHECK(e.offset() == 7);
        CHECK(e.reason() == "FileMetaData at byte 7: required field 4 (row_groups) missing");
    }

    pq::page_header h;
    auto hb = pq::encode_page_header(h);
    hb.erase(hb.begin(), hb.begin() + 2); // drop field 1 (type)
    hb[0] = 0x25;                         // field 2 is now 2 above the start
    std::size_t n = 0;
    try {
        pq::decode_page_header(hb, 0, n);
        FAIL("no error");
    } catch (pq::error const& e) {
        CHECK(e.reason() == "PageHeader at byte 0: required field 1 (type) missing");
    }
}

TEST_CASE("metadata: enum names are parquet's, unknown values print as unknown",
          "[parquet][metadata]")
{
    CHECK(std::string(to_string(pq::physical_type::fixed_len_byte_array)) ==
          "FIXED_LEN_BYTE_ARRAY");
    CHECK(std::string(to_string(pq::converted_type::interval)) == "INTERVAL");
    CHECK(std::string(to_string(pq::converted_type::timestamp_micros)) == "TIMESTAMP_MICROS");
    CHECK(std::string(to_string(pq::encoding::byte_stream_split)) == "BYTE_STREAM_SPLIT");
    CHECK(std::string(to_string(pq::compression_codec::lz4_raw)) == "LZ4_RAW");
    CHECK(std::string(to_string(pq::page_type::data_page_v2)) == "DATA_PAGE_V2");
    CHECK(std::string(to_string(pq::repetition_type::repeated)) == "REPEATED");
    CHECK(std::string(to_string(static_cast<pq::encoding>(1))) == "unknown");
    CHECK(std::string(to_string(static_cast<pq::converted_type>(-1))) == "unknown");
    CHECK(std::string(to_string(pq::logical_type::kind_t::timestamp)) == "TIMESTAMP");
}
