// The page codecs (io/parquet/detail/codec.hpp): round trips, concatenated gzip members, Hadoop
// LZ4 frames and the raw-block fallback, errors naming codec and sizes, and every page of every
// column chunk of apache/parquet-testing's data/ decompressed to the size its header says.
#include <streambatch/io/parquet/detail/codec.hpp>
#include <streambatch/io/parquet/file.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "parquet_test_support.hpp"

namespace pq = streambatch::parquet;
namespace codec = streambatch::parquet::codec;
namespace fs = std::filesystem;
using C = pq::compression_codec;
using parquet_test::slurp;
using parquet_test::testing_dir;

namespace {

std::vector<std::uint8_t> sample_bytes(std::size_t n, unsigned seed = 1)
{
    std::mt19937 rng(seed);
    std::vector<std::uint8_t> v(n);
    for (std::size_t i = 0; i < n; ++i) // compressible: runs and a small alphabet
        v[i] = static_cast<std::uint8_t>((i / 7) % 5 == 0 ? rng() : 'a' + (i % 13));
    return v;
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

void put_be32(std::vector<std::uint8_t>& v, std::uint32_t x)
{
    for (int s = 24; s >= 0; s -= 8)
        v.push_back(static_cast<std::uint8_t>(x >> s));
}

} // namespace

TEST_CASE("codec: compress and decompress round-trip for each codec", "[parquet][codec]")
{
    for (C c : {C::uncompressed, C::snappy, C::gzip, C::zstd, C::lz4_raw}) {
        INFO(to_string(c));
        CHECK(codec::can_compress(c));
        CHECK(codec::can_decompress(c));
        for (std::size_t n :
             {std::size_t{0}, std::size_t{1}, std::size_t{1000}, std::size_t{300000}}) {
            auto const in = sample_bytes(n, static_cast<unsigned>(n));
            auto const packed = codec::compress(c, in);
            if (c != C::uncompressed && n >= 1000)
                CHECK(packed.size() < n);
            std::vector<std::uint8_t> out(n, 0xee);
            codec::decompress(c, packed, out);
            CHECK(out == in);
        }
    }
    CHECK_FALSE(codec::can_decompress(C::brotli));
    CHECK_FALSE(codec::can_decompress(C::lzo));
    CHECK(codec::can_decompress(C::lz4));
    CHECK_FALSE(codec::can_compress(C::lz4));
}

TEST_CASE("codec: GZIP reads concatenated members", "[parquet][codec]")
{
    auto const a = sample_bytes(5000, 3), b = sample_bytes(777, 4);
    auto packed = codec::compress(C::gzip, a, 9);
    auto const second = codec::compress(C::gzip, b, 1);
    packed.insert(packed.end(), second.begin(), second.end());
    std::vector<std::uint8_t> out(a.size() + b.size());
    codec::decompress(C::gzip, packed, out);
    CHECK(std::equal(a.begin(), a.end(), out.begin()));
    CHECK(std::equal(b.begin(), b.end(), out.begin() + static_cast<long>(a.size())));

    // One member short of the size: an error naming both sizes.
    std::vector<std::uint8_t> big(a.size() + b.size() + 1);
    auto e = error_of([&] { codec::decompress(C::gzip, packed, big, "g.parquet", 99); });
    CHECK(std::string(e.what()) ==
          "streambatch::parquet: g.parquet: byte 99: GZIP: " + std::to_string(packed.size()) +
              " bytes do not decompress into 5778: only 5777 bytes");
    // A cut member.
    std::vector<std::uint8_t> const cut(packed.begin(), packed.end() - 10);
    e = error_of([&] { codec::decompress(C::gzip, cut, out); });
    CHECK(e.reason().ends_with("truncated gzip stream"));
    // Too small a buffer.
    std::vector<std::uint8_t> small(100);
    e = error_of([&] { codec::decompress(C::gzip, packed, small); });
    CHECK(e.reason().ends_with("more data than the page's uncompressed size"));
}

TEST_CASE("codec: LZ4 reads Hadoop frames and falls back to a raw block", "[parquet][codec]")
{
    auto const a = sample_bytes(3000, 5), b = sample_bytes(1200, 6);
    auto const pa = codec::compress(C::lz4_raw, a), pb = codec::compress(C::lz4_raw, b);
    std::vector<std::uint8_t> framed;
    put_be32(framed, static_cast<std::uint32_t>(a.size()));
    put_be32(framed, static_cast<std::uint32_t>(pa.size()));
    framed.insert(framed.end(), pa.begin(), pa.end());
    put_be32(framed, static_cast<std::uint32_t>(b.size()));
    put_be32(framed, static_cast<std::uint32_t>(pb.size()));
    framed.insert(framed.end(), pb.begin(), pb.end());
    std::vector<std::uint8_t> out(a.size() + b.size());
    codec::decompress(C::lz4, framed, out);
    CHECK(std::equal(a.begin(), a.end(), out.begin()));
    CHECK(std::equal(b.begin(), b.end(), out.begin() + static_cast<long>(a.size())));

    // No framing: a raw block, as old Parquet C++ wrote for LZ4.
    std::vector<std::uint8_t> raw_out(a.size());
    codec::decompress(C::lz4, pa, raw_out);
    CHECK(raw_out == a);

    std::vector<std::uint8_t> garbage(50, 0xff);
    auto e = error_of([&] { codec::decompress(C::lz4, garbage, raw_out); });
    CHECK(e.reason() == "LZ4: 50 bytes do not decompress into 3000: neither Hadoop LZ4 frames "
                        "nor an LZ4 block");
    e = error_of([&] { codec::decompress(C::lz4_raw, garbage, raw_out); });
    CHECK(e.reason() == "LZ4_RAW: 50 bytes do not decompress into 3000: invalid LZ4 block");
}

TEST_CASE("codec: wrong sizes and damaged input are errors naming codec and sizes",
          "[parquet][codec]")
{
    auto const in = sample_bytes(4096, 7);
    std::vector<std::uint8_t> shorter(4095), longer(4097);

    auto const sn = codec::compress(C::snappy, in);
    auto e = error_of([&] { codec::decompress(C::snappy, sn, shorter, "s.parquet", 1234); });
    CHECK(e.file() == "s.parquet");
    CHECK(e.offset() == 1234);
    CHECK(e.reason() == "SNAPPY: " + std::to_string(sn.size()) +
                            " bytes do not decompress into 4095: its header says 4096");
    auto sn_bad = sn;
    sn_bad.resize(sn.size() / 2);
    std::vector<std::uint8_t> right(4096);
    e = error_of([&] { codec::decompress(C::snappy, sn_bad, right); });
    CHECK(e.reason().ends_with("invalid input"));

    auto const zs = codec::compress(C::zstd, in, 3);
    e = error_of([&] { codec::decompress(C::zstd, zs, longer); });
    CHECK(e.reason() == "ZSTD: " + std::to_string(zs.size()) +
                            " bytes do not decompress into 4097: only 4096 bytes");
    e = error_of([&] { codec::decompress(C::zstd, zs, shorter); });
    CHECK(e.reason().starts_with("ZSTD: " + std::to_string(zs.size()) +
                                 " bytes do not decompress into 4095: "));

    e = error_of([&] { codec::decompress(C::uncompressed, in, shorter); });
    CHECK(e.reason() == "UNCOMPRESSED: 4096 bytes do not decompress into 4095: sizes differ");

    e = error_of([&] { codec::decompress(C::brotli, in, right, "b.parquet", 5); });
    CHECK(std::string(e.what()) ==
          "streambatch::parquet: b.parquet: byte 5: compression codec BROTLI (4) is not supported");
    e = error_of([&] { codec::compress(C::lz4, in); });
    CHECK(e.reason() == "compression codec LZ4 (5) cannot compress");

    // Nothing to decompress into nothing: not handed to the library (an empty snappy stream is
    // invalid), as datapage_v2_empty_datapage.snappy.parquet needs.
    std::vector<std::uint8_t> none;
    for (C c : {C::snappy, C::gzip, C::zstd, C::lz4, C::lz4_raw, C::uncompressed})
        CHECK_NOTHROW(codec::decompress(c, none, none));
}

TEST_CASE("codec: every page of every column chunk of data/ decompresses to its header's size",
          "[parquet][codec]")
{
    std::map<std::string, int> pages_by_codec;
    std::map<std::string, int> v2_by_codec;
    std::set<std::string> overruns;
    int files = 0;
    for (auto const& entry : fs::recursive_directory_iterator(testing_dir() / "data")) {
        if (!entry.is_regular_file() || entry.path().extension() != ".parquet")
            continue;
        fs::path const& p = entry.path();
        INFO(p.string());
        pq::file f(p);
        ++files;
        auto const bytes = slurp(p);
        for (std::size_t r = 0; r < f.metadata().row_groups.size(); ++r) {
            for (std::size_t c = 0; c < f.schema().columns.size(); ++c) {
                auto const& meta = *f.metadata().row_groups[r].columns[c].meta_data;
                if (!codec::can_decompress(meta.codec))
                    continue; // large_string_map.brotli.parquet
                INFO("row group " << r << " column " << c << " codec " << to_string(meta.codec));
                pq::chunk_range const range = f.chunk(r, c);
                std::uint64_t pos = range.offset, end = range.offset + range.size;
                std::int64_t values = 0;
                while (pos < end) {
                    std::size_t hs = 0;
                    pq::page_header const h =
                        pq::decode_page_header(std::span(bytes).subspan(pos, end - pos), pos, hs);
                    REQUIRE(h.compressed_page_size >= 0);
                    REQUIRE(h.uncompressed_page_size >= 0);
                    if (pos + hs + static_cast<std::uint64_t>(h.compressed_page_size) > end) {
                        // An understated total_compressed_size (old parquet-mr, PARQUET-816:
                        // readers pad the chunk); for the page reader, not the footer.
                        overruns.insert(p.filename().string());
                        break;
                    }
                    auto page = std::span(bytes).subspan(
                        pos + hs, static_cast<std::size_t>(h.compressed_page_size));
                    std::vector<std::uint8_t> out(
                        static_cast<std::size_t>(h.uncompressed_page_size));
                    if (h.type == pq::page_type::data_page_v2) {
                        // Levels are never compressed; the values are unless is_compressed=false.
                        auto const& v2 = *h.data_page_header_v2;
                        auto const levels = static_cast<std::size_t>(
                            v2.definition_levels_byte_length + v2.repetition_levels_byte_length);
                        REQUIRE(levels <= page.size());
                        std::copy_n(page.begin(), levels, out.begin());
                        auto const rest = std::span(out).subspan(levels);
                        codec::decompress(v2.compressed() ? meta.codec : C::uncompressed,
                                          page.subspan(levels), rest, p.string(),
                                          pos + hs + levels);
                        values += v2.num_values;
                        ++v2_by_codec[to_string(meta.codec)];
                    } else {
                        codec::decompress(meta.codec, page, out, p.string(), pos + hs);
                        if (h.data_page_header)
                            values += h.data_page_header->num_values;
                    }
                    ++pages_by_codec[to_string(meta.codec)];
                    pos += hs + static_cast<std::uint64_t>(h.compressed_page_size);
                }
                if (overruns.count(p.filename().string()) == 0) {
                    CHECK(pos == end);
                    CHECK(values == meta.num_values);
                }
            }
        }
    }
    std::string summary;
    for (auto const& [name, n] : pages_by_codec)
        summary += name + "=" + std::to_string(n) + " ";
    INFO(summary);
    CHECK(files >= 60);
    CHECK(overruns == std::set<std::string>{"nation.dict-malformed.parquet"});
    for (char const* name : {"UNCOMPRESSED", "SNAPPY", "GZIP", "ZSTD", "LZ4", "LZ4_RAW"})
        CHECK(pages_by_codec[name] > 0);
    CHECK(v2_by_codec["SNAPPY"] > 0);
    CHECK(v2_by_codec["ZSTD"] > 0);
}

TEST_CASE("codec: the first page of alltypes_plain.snappy.parquet's id column", "[parquet][codec]")
{
    auto const p = testing_dir() / "data" / "alltypes_plain.snappy.parquet";
    pq::file f(p);
    auto const range = f.chunk(0, 0);
    auto const chunk = f.read(range.offset, range.size);
    std::size_t hs = 0;
    auto const h = pq::decode_page_header(chunk, range.offset, hs);
    CHECK(h.type == pq::page_type::dictionary_page);
    REQUIRE(h.dictionary_page_header);
    CHECK(h.dictionary_page_header->num_values == 2);
    CHECK(h.uncompressed_page_size == 8); // two INT32 ids, PLAIN
    std::vector<std::uint8_t> out(8);
    codec::decompress(
        C::snappy, std::span(chunk).subspan(hs, static_cast<std::size_t>(h.compressed_page_size)),
        out);
    // The ids of the snappy file are 6 and 7 (alltypes_plain.parquet holds 0-7, this file the last
    // two).
    CHECK(out == std::vector<std::uint8_t>{6, 0, 0, 0, 7, 0, 0, 0});
}
