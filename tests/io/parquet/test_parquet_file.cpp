// parquet::file and the footer (io/parquet/file.hpp) over apache/parquet-testing: known schemas
// and row counts, every file of data/ opens (or is reported nested, by name), every file of
// bad_data/ opens or fails with a parquet::error naming the file and a byte offset, and damage
// made here (magic, footer length, cut footers, offsets outside the file) is reported where it is.
#include <streambatch/io/parquet/file.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "parquet_test_support.hpp"

namespace pq = streambatch::parquet;
namespace fs = std::filesystem;
using parquet_test::parquet_files;
using parquet_test::slurp;
using parquet_test::testing_dir;

namespace {

struct expected_column {
    std::string name;
    pq::physical_type type;
    pq::repetition_type repetition;
};

/// A file made of `bytes`, in a fresh temporary directory.
struct temp_file {
    fs::path path;
    explicit temp_file(std::vector<std::uint8_t> const& bytes,
                       std::string const& name = "t.parquet")
    {
        path = fs::temp_directory_path() /
               ("streambatch-parquet-" + std::to_string(::getpid()) + "-" + name);
        std::ofstream out(path, std::ios::binary);
        out.write(reinterpret_cast<char const*>(bytes.data()),
                  static_cast<std::streamsize>(bytes.size()));
    }
    ~temp_file() { fs::remove(path); }
    temp_file(temp_file const&) = delete;
    temp_file& operator=(temp_file const&) = delete;
};

/// Replaces the footer of `file` with `md` encoded.
std::vector<std::uint8_t> with_footer(std::vector<std::uint8_t> const& file, pq::footer const& f,
                                      pq::file_metadata const& md)
{
    std::vector<std::uint8_t> out(file.begin(), file.begin() + static_cast<long>(f.offset));
    auto const enc = pq::encode_file_metadata(md);
    out.insert(out.end(), enc.begin(), enc.end());
    auto const n = static_cast<std::uint32_t>(enc.size());
    for (int i = 0; i < 4; ++i)
        out.push_back(static_cast<std::uint8_t>(n >> (8 * i)));
    out.insert(out.end(), {'P', 'A', 'R', '1'});
    return out;
}

template <class Fn>
pq::error error_of(Fn&& fn)
{
    try {
        fn();
    } catch (pq::error const& e) {
        return e;
    }
    FAIL("no parquet::error thrown");
    return pq::error("", 0, "");
}

std::vector<std::string> split_csv_header(std::string const& line)
{
    std::vector<std::string> names;
    std::string cur;
    bool quoted = false;
    for (char c : line) {
        if (c == '"')
            quoted = !quoted;
        else if (c == ',' && !quoted) {
            names.push_back(cur);
            cur.clear();
        } else if (c != '\r')
            cur += c;
    }
    names.push_back(cur);
    return names;
}

} // namespace

TEST_CASE("file: alltypes_plain.parquet: 8 rows, 11 optional columns of known types",
          "[parquet][file]")
{
    using T = pq::physical_type;
    auto const opt = pq::repetition_type::optional;
    pq::file f(testing_dir() / "data" / "alltypes_plain.parquet");
    CHECK(f.num_rows() == 8);
    CHECK(f.metadata().num_rows == 8);
    CHECK(f.metadata().row_groups.size() == 1);
    CHECK(f.metadata().created_by.value_or("").starts_with("impala version 1.3.0"));
    std::vector<expected_column> const want = {{"id", T::int32, opt},
                                               {"bool_col", T::boolean, opt},
                                               {"tinyint_col", T::int32, opt},
                                               {"smallint_col", T::int32, opt},
                                               {"int_col", T::int32, opt},
                                               {"bigint_col", T::int64, opt},
                                               {"float_col", T::float_, opt},
                                               {"double_col", T::double_, opt},
                                               {"date_string_col", T::byte_array, opt},
                                               {"string_col", T::byte_array, opt},
                                               {"timestamp_col", T::int96, opt}};
    auto const& cols = f.schema().columns;
    REQUIRE(cols.size() == want.size());
    for (std::size_t i = 0; i < want.size(); ++i) {
        INFO(want[i].name);
        CHECK(cols[i].name == want[i].name);
        CHECK(cols[i].path == std::vector<std::string>{want[i].name});
        CHECK(cols[i].type == want[i].type);
        CHECK(cols[i].repetition == want[i].repetition);
        CHECK(cols[i].max_definition_level == 1);
        CHECK(cols[i].max_repetition_level == 0);
        CHECK_FALSE(cols[i].nested);
        CHECK(cols[i].index == i);
        CHECK(f.metadata().row_groups[0].columns[i].meta_data->codec ==
              pq::compression_codec::uncompressed);
        CHECK(f.metadata().row_groups[0].columns[i].meta_data->num_values == 8);
    }
    CHECK(f.schema().is_flat());
    CHECK(f.schema().find("string_col") == &cols[9]);
    CHECK(f.schema().find("nope") == nullptr);

    pq::file s(testing_dir() / "data" / "alltypes_plain.snappy.parquet");
    CHECK(s.num_rows() == 2);
    CHECK(s.schema().columns.size() == 11);
    CHECK(s.metadata().row_groups[0].columns[0].meta_data->codec == pq::compression_codec::snappy);
    // id has a dictionary page at 4, its data page at 27: the chunk starts at the dictionary.
    CHECK(s.chunk(0, 0).offset == 4);
    CHECK(s.chunk(0, 0).size == 51);
}

TEST_CASE("file: decimals, INT96, unsigned integers and unknown logical types are described",
          "[parquet][file]")
{
    auto const dir = testing_dir() / "data";
    struct dec {
        char const* file;
        pq::physical_type type;
        int precision, scale, length;
    };
    for (auto const& d :
         {dec{"int32_decimal.parquet", pq::physical_type::int32, 4, 2, 0},
          dec{"int64_decimal.parquet", pq::physical_type::int64, 10, 2, 0},
          dec{"fixed_length_decimal.parquet", pq::physical_type::fixed_len_byte_array, 25, 2, 11},
          dec{"byte_array_decimal.parquet", pq::physical_type::byte_array, 4, 2, 0}}) {
        INFO(d.file);
        pq::file f(dir / d.file);
        CHECK(f.num_rows() == 24);
        REQUIRE(f.schema().columns.size() == 1);
        auto const& c = f.schema().columns[0];
        CHECK(c.name == "value");
        CHECK(c.type == d.type);
        CHECK(c.converted_type == pq::converted_type::decimal);
        CHECK(c.precision == d.precision);
        CHECK(c.scale == d.scale);
        CHECK(c.type_length == d.length);
    }

    pq::file spark(dir / "int96_from_spark.parquet");
    CHECK(spark.num_rows() == 6);
    CHECK(spark.schema().columns.at(0).type == pq::physical_type::int96);

    pq::file gz(dir / "concatenated_gzip_members.parquet");
    CHECK(gz.num_rows() == 513);
    auto const& u = gz.schema().columns.at(0);
    CHECK(u.converted_type == pq::converted_type::uint_64);
    REQUIRE(u.logical_type);
    CHECK(u.logical_type->kind == pq::logical_type::kind_t::integer);
    CHECK(u.logical_type->bit_width == 64);
    CHECK_FALSE(u.logical_type->is_signed);

    pq::file unk(dir / "unknown-logical-type.parquet");
    REQUIRE(unk.schema().columns.size() == 2);
    CHECK(unk.schema().columns[0].name == "column with known type");
    CHECK(unk.schema().columns[0].logical_type->kind == pq::logical_type::kind_t::string);
    CHECK(unk.schema().columns[1].name == "column with unknown type");
    REQUIRE(unk.schema().columns[1].logical_type);
    CHECK(std::string(to_string(unk.schema().columns[1].logical_type->kind)) == "unknown");

    pq::file v2(dir / "datapage_v2.snappy.parquet");
    CHECK(v2.num_rows() == 5);
    CHECK(v2.schema().columns.at(0).converted_type == pq::converted_type::utf8);
    CHECK(v2.schema().nested_fields == std::vector<std::string>{"e"});
    auto const* e = v2.schema().find("e.list.element");
    REQUIRE(e);
    CHECK(e->nested);
    CHECK(e->max_definition_level == 2);
    CHECK(e->max_repetition_level == 1);

    // Written with no file-level num_rows (0): the row groups' count is what a reader finds.
    pq::file rna(dir / "repeated_no_annotation.parquet");
    CHECK(rna.metadata().num_rows == 0);
    CHECK(rna.num_rows() == 6);
}

TEST_CASE("file: the delta_* files' columns are their _expect.csv headers", "[parquet][file]")
{
    auto const dir = testing_dir() / "data";
    int checked = 0;
    for (auto const& e : fs::directory_iterator(dir)) {
        std::string const name = e.path().filename().string();
        if (!name.ends_with("_expect.csv"))
            continue;
        fs::path const pqf = dir / (name.substr(0, name.size() - 11) + ".parquet");
        if (!fs::exists(pqf))
            continue;
        INFO(pqf.filename().string());
        std::ifstream csv(e.path());
        std::string header, line;
        std::getline(csv, header);
        std::int64_t rows = 0;
        while (std::getline(csv, line))
            ++rows;
        pq::file f(pqf);
        std::vector<std::string> names;
        for (auto const& c : f.schema().columns)
            names.push_back(c.name);
        std::vector<std::string> want = split_csv_header(header);
        for (auto& w : want) {
            w.erase(0, w.find_first_not_of(' ')); // " c_customer_id" in one header
            // Spark wrote this file's names with a colon: "c_customer_sk:" (its .md says so).
            if (name.starts_with("delta_encoding_required_column"))
                w += ':';
        }
        CHECK(names == want);
        CHECK(f.num_rows() == rows);
        ++checked;
    }
    CHECK(checked >= 4);
}

TEST_CASE("file: every file of data/ opens, nested ones reported by name", "[parquet][file]")
{
    auto const files = parquet_files(testing_dir() / "data", true);
    REQUIRE(files.size() >= 60);
    std::set<std::string> nested_files;
    for (fs::path const& p : files) {
        INFO(p.string());
        pq::footer f;
        try {
            pq::file file(p);
            f = file.footer();
            CHECK(file.size() == fs::file_size(p));
        } catch (pq::error const& e) {
            FAIL_CHECK(e.what());
            continue;
        }
        // The same footer from the bytes in memory.
        auto const bytes = slurp(p);
        pq::footer const m = pq::read_footer(bytes, p.string());
        CHECK(m.metadata == f.metadata);
        CHECK(m.offset == f.offset);
        // Re-encoded, it decodes to the same structs.
        auto const enc = pq::encode_file_metadata(f.metadata);
        pq::file_metadata back = pq::decode_file_metadata(enc);
        back.encrypted = f.metadata.encrypted;
        for (std::size_t r = 0; r < back.row_groups.size(); ++r)
            for (std::size_t c = 0; c < back.row_groups[r].columns.size(); ++c)
                back.row_groups[r].columns[c].encrypted =
                    f.metadata.row_groups[r].columns[c].encrypted;
        CHECK(back == f.metadata);

        // Nested: exactly the top-level fields that hold a nested leaf.
        std::vector<std::string> want;
        for (auto const& c : f.schema.columns) {
            CHECK(c.path.size() >= 1);
            CHECK(c.nested == (c.path.size() > 1 || c.max_repetition_level > 0));
            if (c.nested && std::find(want.begin(), want.end(), c.path[0]) == want.end())
                want.push_back(c.path[0]);
        }
        CHECK(f.schema.nested_fields == want);
        if (!f.schema.is_flat())
            nested_files.insert(p.filename().string());
    }
    for (char const* n : {"nested_lists.snappy.parquet", "nested_maps.snappy.parquet",
                          "list_columns.parquet", "nulls.snappy.parquet",
                          "old_list_structure.parquet", "repeated_primitive_no_list.parquet",
                          "nonnullable.impala.parquet", "map_no_value.parquet"})
        CHECK(nested_files.count(n) == 1);
    CHECK(nested_files.count("alltypes_plain.parquet") == 0);
}

TEST_CASE("file: nested columns are described with paths and levels", "[parquet][file]")
{
    pq::file f(testing_dir() / "data" / "list_columns.parquet");
    CHECK(f.schema().nested_fields == std::vector<std::string>{"int64_list", "utf8_list"});
    REQUIRE(f.schema().columns.size() == 2);
    auto const& c = f.schema().columns[0];
    CHECK(c.path.front() == "int64_list");
    CHECK(c.path.size() == 3);
    CHECK(c.max_repetition_level == 1);
    CHECK(c.max_definition_level == 3);

    pq::file n(testing_dir() / "data" / "nulls.snappy.parquet");
    CHECK(n.schema().nested_fields == std::vector<std::string>{"b_struct"});
    CHECK(n.schema().columns.at(0).name == "b_struct.b_c_int");
    CHECK(n.schema().columns.at(0).max_definition_level == 2);
    CHECK(n.schema().columns.at(0).max_repetition_level == 0);
}

TEST_CASE("file: every file of bad_data/ opens or fails naming the file and an offset",
          "[parquet][file]")
{
    auto const files = parquet_files(testing_dir() / "bad_data", true);
    REQUIRE(files.size() >= 8);
    std::set<std::string> failed;
    for (fs::path const& p : files) {
        INFO(p.string());
        try {
            pq::file f(p);
            CHECK(f.num_rows() >= 0);
        } catch (pq::error const& e) {
            INFO(e.what());
            CHECK(e.file() == p.string());
            CHECK(e.offset() != pq::error::npos);
            CHECK(e.offset() < fs::file_size(p));
            CHECK(std::string(e.what()).find(p.string() + ": byte " + std::to_string(e.offset())) !=
                  std::string::npos);
            failed.insert(p.filename().string() + ": " + e.reason());
        }
        // In memory too, the same outcome and never a crash.
        auto const bytes = slurp(p);
        try {
            (void)pq::read_footer(bytes, "mem");
        } catch (pq::error const& e) {
            CHECK(e.file() == "mem");
        }
    }
    std::string all;
    for (auto const& s : failed)
        all += s + "\n";
    INFO(all);
    // Damaged footers: a corrupted schema type, a ColumnMetaData without its encodings, and a
    // column chunk past the footer.
    CHECK(
        all.find("PARQUET-1481.parquet: schema element 1 (\"Handle\"): unknown physical type -7") !=
        std::string::npos);
    CHECK(all.find("ARROW-GH-41317.parquet: ColumnMetaData at byte 49310: required field 2 "
                   "(encodings) missing") != std::string::npos);
    CHECK(all.find("ARROW-RS-GH-6229-DICTHEADER.parquet: row group 0 column 1 (\"name\"): "
                   "metadata inconsistent: chunk bytes [129, 129+322) outside the data area") !=
          std::string::npos);
    CHECK(failed.size() == 3);
}

TEST_CASE("file: bad magic, footer length and short files are reported where they are",
          "[parquet][file]")
{
    auto const good = slurp(testing_dir() / "data" / "alltypes_plain.parquet");
    auto const size = good.size();

    auto bad_start = good;
    bad_start[0] = 'X';
    auto e = error_of([&] { pq::read_footer(bad_start, "f"); });
    CHECK(std::string(e.what()) ==
          "streambatch::parquet: f: byte 0: bad magic \"XAR1\" at the start (want \"PAR1\")");

    auto bad_end = good;
    bad_end[size - 1] = '2';
    e = error_of([&] { pq::read_footer(bad_end, "f"); });
    CHECK(e.offset() == size - 4);
    CHECK(e.reason() == "bad magic \"PAR2\" at the end (want \"PAR1\")");

    auto long_footer = good;
    long_footer[size - 5] = 0x7f; // length's top byte
    e = error_of([&] { pq::read_footer(long_footer, "f"); });
    CHECK(e.offset() == size - 8);
    CHECK(e.reason().starts_with("footer length 21307"));
    CHECK(e.reason().ends_with("past the start of the file (" + std::to_string(size) + " bytes)"));

    auto encrypted = good;
    encrypted[size - 1] = 'E';
    CHECK(error_of([&] { pq::read_footer(encrypted, "f"); }).reason() ==
          "encrypted footer (\"PARE\"): not supported");

    for (std::size_t n = 0; n < 12; ++n) {
        std::vector<std::uint8_t> const cut(good.begin(), good.begin() + static_cast<long>(n));
        e = error_of([&] { pq::read_footer(cut, "f"); });
        CHECK(e.reason() ==
              "file of " + std::to_string(n) + " bytes is too short for Parquet (12 at least)");
    }

    // The same through parquet::file: the path in the message.
    temp_file t(bad_end, "bad_end.parquet");
    e = error_of([&] { pq::file f(t.path); });
    CHECK(e.file() == t.path.string());
    CHECK(std::string(e.what()).find(t.path.string() + ": byte " + std::to_string(size - 4) +
                                     ": bad magic") != std::string::npos);

    e = error_of([&] { pq::file f(t.path.string() + ".missing"); });
    CHECK(e.offset() == pq::error::npos);
    CHECK(e.reason() == "cannot open: No such file or directory");
}

TEST_CASE("file: a footer cut at any byte is a truncated-thrift error inside the footer",
          "[parquet][file]")
{
    auto const good = slurp(testing_dir() / "data" / "alltypes_plain.parquet");
    pq::footer const f = pq::read_footer(good);
    for (std::uint32_t k = 0; k < f.length; ++k) {
        std::vector<std::uint8_t> b(good.begin(), good.begin() + static_cast<long>(f.offset + k));
        for (int i = 0; i < 4; ++i)
            b.push_back(static_cast<std::uint8_t>(k >> (8 * i)));
        b.insert(b.end(), {'P', 'A', 'R', '1'});
        auto const e = error_of([&] { pq::read_footer(b, "cut.parquet"); });
        INFO(k << ": " << e.what());
        CHECK(e.file() == "cut.parquet");
        CHECK(e.offset() >= f.offset);
        CHECK(e.offset() <= f.offset + k);
        bool const says = e.reason().starts_with("truncated thrift") ||
                          e.reason().find("bytes left") != std::string::npos;
        CHECK(says);
    }
}

TEST_CASE("file: column chunk metadata that disagrees with the schema or the file is named",
          "[parquet][file]")
{
    auto const good = slurp(testing_dir() / "data" / "alltypes_plain.parquet");
    pq::footer const f = pq::read_footer(good);

    auto md = f.metadata;
    md.row_groups[0].columns[2].meta_data->data_page_offset = 1 << 30;
    auto e = error_of([&] { pq::read_footer(with_footer(good, f, md), "x.parquet"); });
    CHECK(e.offset() == f.offset);
    CHECK(e.reason() == "row group 0 column 2 (\"tinyint_col\"): metadata inconsistent: "
                        "data_page_offset 1073741824 outside the data area [4, " +
                            std::to_string(f.offset) + ")");

    md = f.metadata;
    md.row_groups[0].columns[10].meta_data->total_compressed_size = 100000;
    e = error_of([&] { pq::read_footer(with_footer(good, f, md), "x.parquet"); });
    CHECK(e.reason().starts_with("row group 0 column 10 (\"timestamp_col\"): metadata "
                                 "inconsistent: chunk bytes ["));

    md = f.metadata;
    md.row_groups[0].columns[1].meta_data->type = pq::physical_type::int64;
    e = error_of([&] { pq::read_footer(with_footer(good, f, md), "x.parquet"); });
    CHECK(e.reason() == "row group 0 column 1 (\"bool_col\"): metadata inconsistent: type INT64 "
                        "but the schema says BOOLEAN");

    md = f.metadata;
    md.row_groups[0].columns.pop_back();
    e = error_of([&] { pq::read_footer(with_footer(good, f, md), "x.parquet"); });
    CHECK(e.reason() == "row group 0 has 10 column chunks, the schema 11 leaf columns");

    md = f.metadata;
    md.schema[0].num_children = 12;
    e = error_of([&] { pq::read_footer(with_footer(good, f, md), "x.parquet"); });
    CHECK(e.reason() == "schema ends after 12 elements but its groups announce more children");

    md = f.metadata;
    md.schema[3].num_children = 40;
    md.schema[3].type.reset();
    e = error_of([&] { pq::read_footer(with_footer(good, f, md), "x.parquet"); });
    CHECK(e.reason() == "schema element 3 (\"tinyint_col\"): num_children 40 past the end of "
                        "the schema (12 elements)");

    md = f.metadata;
    md.schema[0].num_children = 10;
    e = error_of([&] { pq::read_footer(with_footer(good, f, md), "x.parquet"); });
    CHECK(e.reason() == "schema has 1 elements after the root's children (element 11, "
                        "\"timestamp_col\")");

    md = f.metadata;
    md.schema[5].type.reset();
    e = error_of([&] { pq::read_footer(with_footer(good, f, md), "x.parquet"); });
    CHECK(e.reason() == "schema element 5 (\"int_col\"): a leaf without a physical type");

    // Unchanged, the rebuilt file reads as before (the test's own rewriting is sound).
    CHECK(pq::read_footer(with_footer(good, f, f.metadata)).metadata == f.metadata);
}
