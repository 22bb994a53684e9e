// Review findings on the foundation, each with a crafted input: the schema walk's memory is
// linear in the schema (a deep schema no longer copies its parent's path per element), a Thrift
// list's reserve is bounded (a footer that announces many elements and holds none does not
// allocate for them), and a page header's sizes and counts are checked (file + byte offset).
#include <streambatch/io/parquet/file.hpp>
#include <streambatch/io/parquet/metadata.hpp>

#include <catch2/catch.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <sys/resource.h>

namespace pq = streambatch::parquet;

namespace {

/// Peak resident set of this process so far, in KiB (each CTest test is its own process).
long peak_rss_kib()
{
    rusage u{};
    ::getrusage(RUSAGE_SELF, &u);
    return u.ru_maxrss;
}

/// "PAR1", the FileMetaData, its length, "PAR1": a whole file with no data.
std::vector<std::uint8_t> whole_file(std::vector<std::uint8_t> const& md)
{
    std::vector<std::uint8_t> f = {'P', 'A', 'R', '1'};
    f.insert(f.end(), md.begin(), md.end());
    auto const n = static_cast<std::uint32_t>(md.size());
    for (int k = 0; k < 4; ++k)
        f.push_back(static_cast<std::uint8_t>(n >> (8 * k)));
    f.insert(f.end(), {'P', 'A', 'R', '1'});
    return f;
}

/// A root, a chain of `depth` optional groups, and `leaves` INT32 leaves at its bottom.
pq::file_metadata deep_schema(int depth, int leaves)
{
    pq::file_metadata m;
    pq::schema_element root;
    root.name = "r";
    root.num_children = 1;
    m.schema.push_back(root);
    for (int d = 0; d < depth; ++d) {
        pq::schema_element g;
        g.name = "g";
        g.repetition_type = pq::repetition_type::optional;
        g.num_children = d + 1 < depth ? 1 : leaves;
        m.schema.push_back(g);
    }
    for (int l = 0; l < leaves; ++l) {
        pq::schema_element e;
        e.name = "x";
        e.type = pq::physical_type::int32;
        e.repetition_type = pq::repetition_type::optional;
        m.schema.push_back(e);
    }
    return m;
}

} // namespace

TEST_CASE("limits: a deep schema's walk is linear in the schema, and its paths are bounded",
          "[parquet][limits]")
{
    long const before = peak_rss_kib();
    {
        // 200 levels, 4000 leaves: 800 000 path names, about 26 MB of descriptors. Each frame
        // used to copy its parent's path, each leaf too.
        auto const bytes = whole_file(pq::encode_file_metadata(deep_schema(200, 4000)));
        pq::footer const f = pq::read_footer(bytes, "deep.parquet");
        REQUIRE(f.schema.columns.size() == 4000);
        CHECK(f.schema.columns.back().path.size() == 201);
        CHECK(f.schema.columns.back().name.size() == 201 * 2 - 1);
        CHECK(f.schema.columns.back().max_definition_level == 201);
        CHECK(f.schema.nested_fields == std::vector<std::string>{"g"});
    }
    {
        // 900 levels over 8000 leaves (a 70 KB footer): 7.2 M names, 230 MB as paths; refused.
        auto const md = pq::encode_file_metadata(deep_schema(900, 8000));
        CHECK(md.size() < 80 * 1024);
        auto const bytes = whole_file(md);
        try {
            pq::read_footer(bytes, "deeper.parquet");
            FAIL("no error");
        } catch (pq::error const& e) {
            CHECK(e.file() == "deeper.parquet");
            CHECK(e.offset() == 4);
            CHECK_THAT(e.reason(), Catch::Contains("the leaves' paths and names take more than "
                                                   "64 MiB (leaf at depth 901)"));
        }
    }
    long const after = peak_rss_kib();
    INFO("peak RSS " << before << " KiB -> " << after << " KiB");
    CHECK(after - before < 150 * 1024);
}

TEST_CASE("limits: a list announcing many elements reserves a bounded amount", "[parquet][limits]")
{
    // FileMetaData field 2 (schema), a list of 600 000 structs, then 600 000 bytes of zeros:
    // the first element is an empty struct (its required fields missing).
    std::vector<std::uint8_t> md = {0x29, 0xfc};
    std::uint32_t n = 600000;
    while (n >= 0x80) {
        md.push_back(static_cast<std::uint8_t>(n | 0x80));
        n >>= 7;
    }
    md.push_back(static_cast<std::uint8_t>(n));
    md.resize(md.size() + 600000, 0);
    long const before = peak_rss_kib();
    try {
        pq::decode_file_metadata(md, 4);
        FAIL("no error");
    } catch (pq::error const& e) {
        CHECK(e.offset() == 4 + md.size() - 600000); // the first element
        CHECK_THAT(e.reason(), Catch::Contains("required field"));
        CHECK_THAT(e.reason(), Catch::Contains("missing"));
    }
    long const after = peak_rss_kib();
    INFO("peak RSS " << before << " KiB -> " << after << " KiB");
    // sizeof(schema_element) times 600 000 was over 100 MB.
    CHECK(after - before < 16 * 1024);
}

TEST_CASE("limits: a page header's negative or oversized sizes and counts are refused where",
          "[parquet][limits]")
{
    auto const refuse = [](pq::page_header const& h, std::string const& reason,
                           std::optional<std::uint64_t> after = std::nullopt) {
        auto const b = pq::encode_page_header(h);
        std::size_t hs = 0;
        try {
            pq::decode_page_header(b, 1234, hs, after);
            FAIL("no error for " << reason);
        } catch (pq::error const& e) {
            CHECK(e.offset() == 1234);
            CHECK(e.reason() == "page header: " + reason);
            CHECK(pq::with_file(e, "p.parquet").what() ==
                  "streambatch::parquet: p.parquet: byte 1234: page header: " + reason);
        }
    };
    pq::page_header v1;
    v1.type = pq::page_type::data_page;
    v1.uncompressed_page_size = 10;
    v1.compressed_page_size = 10;
    v1.data_page_header = pq::data_page_header{};
    v1.data_page_header->num_values = 3;
    {
        auto h = v1;
        h.uncompressed_page_size = -1;
        refuse(h, "negative uncompressed_page_size -1");
    }
    {
        auto h = v1;
        h.compressed_page_size = -7;
        refuse(h, "negative compressed_page_size -7");
    }
    {
        auto h = v1;
        h.uncompressed_page_size = 0x7fffffff;
        refuse(h, "uncompressed_page_size 2147483647 past the limit of 1073741824");
    }
    refuse(v1, "compressed_page_size 10 but only 9 bytes follow the header", 9);
    {
        auto h = v1;
        h.data_page_header->num_values = -2;
        refuse(h, "negative num_values -2");
    }
    {
        pq::page_header h;
        h.type = pq::page_type::dictionary_page;
        h.dictionary_page_header = pq::dictionary_page_header{};
        h.dictionary_page_header->num_values = -1;
        refuse(h, "negative dictionary num_values -1");
    }
    pq::page_header v2;
    v2.type = pq::page_type::data_page_v2;
    v2.uncompressed_page_size = 10;
    v2.compressed_page_size = 8;
    v2.data_page_header_v2 = pq::data_page_header_v2{};
    v2.data_page_header_v2->num_values = 4;
    v2.data_page_header_v2->num_rows = 4;
    {
        auto h = v2;
        h.data_page_header_v2->num_nulls = 5;
        refuse(h, "num_nulls 5 past num_values 4");
    }
    {
        auto h = v2;
        h.data_page_header_v2->num_rows = -4;
        refuse(h, "negative num_rows -4");
    }
    {
        auto h = v2;
        h.data_page_header_v2->definition_levels_byte_length = 6;
        h.data_page_header_v2->repetition_levels_byte_length = 3;
        refuse(h, "level bytes 9 past the page's size (8 compressed, 10 uncompressed)");
    }
    // A sound one passes.
    auto const b = pq::encode_page_header(v2);
    std::size_t hs = 0;
    CHECK(pq::decode_page_header(b, 0, hs, 8) == v2);
}
