// The value and level decoders (io/parquet/detail/encoding.hpp) on bytes made here: every bit
// width of the RLE/bit-packed hybrid, DELTA_BINARY_PACKED's wrapping arithmetic at the int32
// and int64 limits, the byte-array deltas, BYTE_STREAM_SPLIT, dictionaries; and damage named by
// encoding and byte offset.
#include <streambatch/io/parquet/detail/encoding.hpp>

#include <catch2/catch.hpp>

#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

namespace pq = streambatch::parquet;
namespace d = streambatch::parquet::detail;
using bytes = std::vector<std::uint8_t>;

namespace {

void uleb(bytes& b, std::uint64_t v)
{
    while (v >= 0x80) {
        b.push_back(static_cast<std::uint8_t>(v | 0x80));
        v >>= 7;
    }
    b.push_back(static_cast<std::uint8_t>(v));
}
std::uint64_t zigzag(std::int64_t v)
{
    return (static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63);
}
/// values packed LSB first, `w` bits each
bytes pack(std::vector<std::uint64_t> const& v, unsigned w)
{
    bytes b((v.size() * w + 7) / 8);
    for (std::size_t i = 0; i < v.size(); ++i)
        for (unsigned k = 0; k < w; ++k)
            if ((v[i] >> k) & 1)
                b[(i * w + k) / 8] |= static_cast<std::uint8_t>(1u << ((i * w + k) % 8));
    return b;
}

template <class F>
std::string error_of(F&& f, std::uint64_t* offset = nullptr)
{
    try {
        f();
    } catch (pq::error const& e) {
        if (offset)
            *offset = e.offset();
        return e.reason();
    }
    return "no error";
}

} // namespace

TEST_CASE("encoding: the RLE/bit-packed hybrid at every bit width 0..32", "[parquet][encoding]")
{
    for (unsigned w = 0; w <= 32; ++w) {
        INFO("bit width " << w);
        std::uint64_t const max = w == 0 ? 0 : w == 32 ? 0xffffffffu : (1ull << w) - 1;
        std::vector<std::uint64_t> packed;
        for (std::uint64_t i = 0; i < 16; ++i)
            packed.push_back((i * 0x9e3779b97f4a7c15ull) & max);
        packed.back() = max;
        bytes b;
        uleb(b, (2 << 1) | 1); // two groups of 8, bit-packed
        auto const p = pack(packed, w);
        b.insert(b.end(), p.begin(), p.end());
        uleb(b, 5 << 1); // an RLE run of 5 times `max`
        for (unsigned k = 0; k < (w + 7) / 8; ++k)
            b.push_back(static_cast<std::uint8_t>(max >> (8 * k)));
        std::vector<std::uint32_t> out(21);
        d::rle_decoder r(b, w, 0);
        r.get(out.data(), 7); // in two calls, across the runs
        r.get(out.data() + 7, 14);
        for (std::size_t i = 0; i < 16; ++i)
            CHECK(out[i] == packed[i]);
        for (std::size_t i = 16; i < 21; ++i)
            CHECK(out[i] == max);
        CHECK(r.position() == b.size());
        std::vector<std::uint32_t> more(1);
        std::uint64_t at = 0;
        CHECK(error_of([&] { r.get(more.data(), 1); }, &at) ==
              "RLE: ran out of data (1 values missing)");
        CHECK(at == b.size());
    }
    std::uint64_t at = 0;
    CHECK(error_of([] { d::rle_decoder(bytes{}, 33, 7); }, &at) == "RLE: bit width 33 past 32");
    CHECK(at == 7);
    bytes const cut = {(3 << 1) | 1, 0xff}; // 24 values of 3 bits need 9 bytes
    std::vector<std::uint32_t> out(24);
    CHECK(error_of([&] { d::rle_decoder(cut, 3, 100).get(out.data(), 24); }, &at) ==
          "RLE: truncated bit-packed run (24 values of 3 bits, 1 bytes left)");
    CHECK(at == 100);
    bytes const wide = {2 << 1, 0x09}; // a run of 2 times 9, bit width 3
    CHECK(error_of([&] { d::rle_decoder(wide, 3, 50).get(out.data(), 2); }, &at) ==
          "RLE: RLE run value 9 wider than 3 bits");
    CHECK(at == 51);
}

TEST_CASE("encoding: DELTA_BINARY_PACKED wraps at the int32 and int64 limits",
          "[parquet][encoding]")
{
    auto const header = [](bytes& b, std::uint64_t total, std::int64_t first) {
        uleb(b, 128);
        uleb(b, 4);
        uleb(b, total);
        uleb(b, zigzag(first));
    };
    { // int32: MAX, then +1 wraps to MIN (as writers compute in 32 bits), then +1
        bytes b;
        header(b, 3, std::numeric_limits<std::int32_t>::max());
        uleb(b, zigzag(1));
        b.insert(b.end(), {0, 0, 0, 0});
        d::value_buffer v;
        d::decode_values(pq::encoding::delta_binary_packed, pq::physical_type::int32, 0, b, 3,
                         nullptr, v, 0);
        REQUIRE(v.size() == 3);
        CHECK(v.get<std::int32_t>(0) == std::numeric_limits<std::int32_t>::max());
        CHECK(v.get<std::int32_t>(1) == std::numeric_limits<std::int32_t>::min());
        CHECK(v.get<std::int32_t>(2) == std::numeric_limits<std::int32_t>::min() + 1);
    }
    { // int64: MIN, then deltas of MAX (min delta) + packed 0 and 1 wrap around
        bytes b;
        header(b, 3, std::numeric_limits<std::int64_t>::min());
        uleb(b, zigzag(std::numeric_limits<std::int64_t>::max()));
        b.insert(b.end(), {1, 0, 0, 0}); // first miniblock: 1 bit per value
        auto const p = pack(std::vector<std::uint64_t>(32, 0), 1);
        bytes mini = p;
        mini[0] = 0x02; // value 2's delta gets +1
        b.insert(b.end(), mini.begin(), mini.end());
        d::value_buffer v;
        d::decode_values(pq::encoding::delta_binary_packed, pq::physical_type::int64, 0, b, 3,
                         nullptr, v, 0);
        REQUIRE(v.size() == 3);
        CHECK(v.get<std::int64_t>(0) == std::numeric_limits<std::int64_t>::min());
        CHECK(v.get<std::int64_t>(1) == -1);
        CHECK(v.get<std::int64_t>(2) == std::numeric_limits<std::int64_t>::max());
    }
    { // a miniblock bit width past 64, and a truncated miniblock
        bytes b;
        header(b, 3, 0);
        uleb(b, 0);
        std::size_t const widths = b.size();
        b.insert(b.end(), {65, 0, 0, 0});
        std::vector<std::int64_t> out;
        std::uint64_t at = 0;
        CHECK(error_of([&] { d::decode_delta_binary_packed(b, 3, out, 10); }, &at) ==
              "DELTA_BINARY_PACKED: miniblock bit width 65 past 64");
        CHECK(at == 10 + widths);
        b[widths] = 8; // 32 bytes needed, none there
        CHECK(error_of([&] { d::decode_delta_binary_packed(b, 3, out, 10); }, &at) ==
              "DELTA_BINARY_PACKED: truncated miniblock (32 bytes, 0 left; block at byte " +
                  std::to_string(10 + widths - 1) + ")");
    }
}

TEST_CASE("encoding: byte arrays: PLAIN, DELTA_LENGTH_BYTE_ARRAY, DELTA_BYTE_ARRAY",
          "[parquet][encoding]")
{
    std::vector<std::string> const words = {"apple", "applesauce", "apply", "", "banana"};
    // DELTA_LENGTH_BYTE_ARRAY: lengths 5, 10, 5, 0, 6 (first 5, then deltas 5, -5, -5, 6: min
    // -5, packed 10, 0, 0, 11 in 4 bits)
    bytes dl;
    uleb(dl, 128);
    uleb(dl, 4);
    uleb(dl, 5);
    uleb(dl, zigzag(5));
    uleb(dl, zigzag(-5));
    dl.insert(dl.end(), {4, 0, 0, 0});
    auto const mini = pack({10, 0, 0, 11}, 4);
    dl.insert(dl.end(), mini.begin(), mini.end());
    dl.resize(dl.size() + (32 * 4 / 8 - mini.size()), 0);
    for (auto const& w : words)
        dl.insert(dl.end(), w.begin(), w.end());
    d::value_buffer v;
    d::decode_values(pq::encoding::delta_length_byte_array, pq::physical_type::byte_array, 0, dl, 5,
                     nullptr, v, 0);
    REQUIRE(v.size() == 5);
    for (std::size_t i = 0; i < 5; ++i)
        CHECK(v.bytes(i) == words[i]);
    // cut the last value short
    bytes cut(dl.begin(), dl.end() - 1);
    std::uint64_t at = 0;
    CHECK(error_of(
              [&] {
                  d::decode_values(pq::encoding::delta_length_byte_array,
                                   pq::physical_type::byte_array, 0, cut, 5, nullptr, v, 20);
              },
              &at) == "DELTA_LENGTH_BYTE_ARRAY: value 4's length 6 past the end of the page "
                      "(5 bytes left)");
    CHECK(at == 20 + cut.size() - 5);

    // PLAIN byte arrays, and a length past the end
    bytes plain;
    for (auto const& w : words) {
        auto const n = static_cast<std::uint32_t>(w.size());
        plain.insert(plain.end(), {static_cast<std::uint8_t>(n), 0, 0, 0});
        plain.insert(plain.end(), w.begin(), w.end());
    }
    d::decode_plain(pq::physical_type::byte_array, 0, plain, 5, v, 0);
    for (std::size_t i = 0; i < 5; ++i)
        CHECK(v.bytes(i) == words[i]);
    plain[plain.size() - 10] = 200; // "banana"'s length
    CHECK(
        error_of([&] { d::decode_plain(pq::physical_type::byte_array, 0, plain, 5, v, 4); }, &at) ==
        "PLAIN: BYTE_ARRAY value 4's length 200 past the end of the page (6 bytes left)");
    CHECK(at == 4 + plain.size() - 10);
}

TEST_CASE("encoding: BYTE_STREAM_SPLIT, BOOLEAN, dictionaries", "[parquet][encoding]")
{
    std::vector<float> const f = {1.5f, -2.25f, 3.0f};
    bytes bss(12);
    for (std::size_t i = 0; i < 3; ++i) {
        std::uint8_t b[4];
        std::memcpy(b, &f[i], 4);
        for (std::size_t k = 0; k < 4; ++k)
            bss[k * 3 + i] = b[k];
    }
    d::value_buffer v;
    d::decode_values(pq::encoding::byte_stream_split, pq::physical_type::float_, 0, bss, 3, nullptr,
                     v, 0);
    for (std::size_t i = 0; i < 3; ++i)
        CHECK(v.get<float>(i) == f[i]);
    std::uint64_t at = 0;
    CHECK(error_of(
              [&] {
                  d::decode_values(pq::encoding::byte_stream_split, pq::physical_type::float_, 0,
                                   bytes(13), 3, nullptr, v, 9);
              },
              &at) == "BYTE_STREAM_SPLIT: 13 bytes are not a multiple of the width 4");

    d::decode_plain(pq::physical_type::boolean, 0, bytes{0b10110}, 5, v, 0);
    CHECK(bytes(v.fixed.begin(), v.fixed.end()) == bytes{0, 1, 1, 0, 1});

    d::value_buffer dict;
    d::decode_plain(pq::physical_type::int64, 0,
                    bytes{7, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0}, 2, dict, 0);
    bytes ix = {1, 3 << 1, 1}; // bit width 1, a run of 3 times 1
    d::decode_values(pq::encoding::rle_dictionary, pq::physical_type::int64, 0, ix, 3, &dict, v, 0);
    CHECK(v.get<std::int64_t>(2) == 9);
    ix = {2, 3 << 1, 3}; // index 3 of 2
    CHECK(error_of(
              [&] {
                  d::decode_values(pq::encoding::rle_dictionary, pq::physical_type::int64, 0, ix, 3,
                                   &dict, v, 40);
              },
              &at) == "RLE_DICTIONARY: index 3 (value 0) past the dictionary's 2 values");
    CHECK(at == 40);
    CHECK(error_of([&] {
              d::decode_values(pq::encoding::plain_dictionary, pq::physical_type::int64, 0, ix, 3,
                               nullptr, v, 40);
          }) == "PLAIN_DICTIONARY: data page refers to a dictionary but the chunk has none");
}
