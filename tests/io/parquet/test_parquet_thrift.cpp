// The Thrift compact protocol (io/parquet/detail/thrift.hpp): encodings byte by byte, round
// trips, and every way input can be bad (truncated at each byte, overflowing varints, bad type
// nibbles, sizes past the end, nesting past the limit), each error at its byte offset.
#include <streambatch/io/parquet/detail/thrift.hpp>

#include <catch2/catch.hpp>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace pq = streambatch::parquet;
namespace thrift = streambatch::parquet::thrift;
using thrift::ctype;

namespace {

std::vector<std::uint8_t> bytes(std::initializer_list<int> b)
{
    std::vector<std::uint8_t> v;
    for (int x : b)
        v.push_back(static_cast<std::uint8_t>(x));
    return v;
}

std::vector<std::uint8_t> to_vector(std::span<std::uint8_t const> s)
{
    return {s.begin(), s.end()};
}

/// The error `fn` throws (fails the test when it throws none or another type).
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

/// A struct with a field of every type, nested structs, a list, a set, a map and bools.
std::vector<std::uint8_t> every_type()
{
    thrift::writer w;
    w.struct_begin();
    w.field_bool(1, true);
    w.field_bool(2, false);
    w.field_i8(3, -7);
    w.field_i16(4, -300);
    w.field_i32(5, std::numeric_limits<std::int32_t>::min());
    w.field_i64(6, std::numeric_limits<std::int64_t>::max());
    w.field_double(7, -2.5);
    w.field_binary(8, std::string("bin\0ary", 7));
    w.field_list_begin(9, ctype::i32, 20);
    for (int i = 0; i < 20; ++i)
        w.write_i32(i - 10);
    w.field_header(ctype::set, 10);
    w.list_header(ctype::binary, 2);
    w.write_binary("a");
    w.write_binary("");
    w.field_header(ctype::map, 11);
    w.map_header(ctype::binary, ctype::struct_, 2);
    for (char const* k : {"k1", "k2"}) {
        w.write_binary(k);
        w.struct_begin();
        w.field_i64(1, 1);
        w.struct_end();
    }
    w.field_struct_begin(300); // long form
    w.field_struct_begin(1);
    w.field_list_begin(2, ctype::bool_true, 3);
    w.write_bool_element(true);
    w.write_bool_element(false);
    w.write_bool_element(true);
    w.struct_end();
    w.struct_end();
    w.field_header(ctype::map, 12);
    w.map_header(ctype::i32, ctype::i32, 0);
    w.struct_end();
    return w.take();
}

} // namespace

TEST_CASE("thrift: varints encode as ULEB128 and round-trip up to 64 bits", "[parquet][thrift]")
{
    thrift::writer w;
    w.write_varint(0);
    w.write_varint(127);
    w.write_varint(128);
    w.write_varint(300);
    CHECK(to_vector(w.bytes()) == bytes({0x00, 0x7f, 0x80, 0x01, 0xac, 0x02}));

    std::uint64_t const values[] = {0,          1,
                                    127,        128,
                                    16383,      16384,
                                    1ull << 35, (1ull << 63) - 1,
                                    1ull << 63, std::numeric_limits<std::uint64_t>::max()};
    w.clear();
    for (std::uint64_t v : values)
        w.write_varint(v);
    thrift::reader r(w.bytes());
    for (std::uint64_t v : values)
        CHECK(r.read_varint() == v);
    CHECK(r.remaining() == 0);

    thrift::writer max;
    max.write_varint(std::numeric_limits<std::uint64_t>::max());
    CHECK(to_vector(max.bytes()) ==
          bytes({0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}));
}

TEST_CASE("thrift: a varint past 64 bits or 10 bytes is an error at its first byte",
          "[parquet][thrift]")
{
    auto over = bytes({0x05, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02});
    thrift::reader r(over, 1000);
    CHECK(r.read_i8() == 5);
    auto e = error_of([&] { r.read_varint(); });
    CHECK(e.offset() == 1001);
    CHECK(e.reason() == "varint overflows 64 bits");
    CHECK(std::string(e.what()) == "streambatch::parquet: byte 1001: varint overflows 64 bits");

    auto longer = bytes({0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x81, 0x00});
    thrift::reader r2(longer);
    auto e2 = error_of([&] { r2.read_varint(); });
    CHECK(e2.offset() == 0);
    CHECK(e2.reason() == "varint longer than 10 bytes");

    auto unfinished = bytes({0x80, 0x80});
    thrift::reader r3(unfinished, 10);
    auto e3 = error_of([&] { r3.read_varint(); });
    CHECK(e3.offset() == 12);
    CHECK(e3.reason() == "truncated thrift: varint started at byte 10 not finished");
}

TEST_CASE("thrift: zigzag i16, i32 and i64 round-trip at their limits and negatives",
          "[parquet][thrift]")
{
    thrift::writer w;
    w.write_i32(0);
    w.write_i32(-1);
    w.write_i32(1);
    w.write_i32(-2);
    CHECK(to_vector(w.bytes()) == bytes({0x00, 0x01, 0x02, 0x03}));
    w.clear();
    w.write_i32(std::numeric_limits<std::int32_t>::min());
    CHECK(to_vector(w.bytes()) == bytes({0xff, 0xff, 0xff, 0xff, 0x0f}));

    w.clear();
    std::int16_t const i16s[] = {0, -1, 1, std::numeric_limits<std::int16_t>::min(),
                                 std::numeric_limits<std::int16_t>::max()};
    std::int32_t const i32s[] = {-64, 63, -65, std::numeric_limits<std::int32_t>::min(),
                                 std::numeric_limits<std::int32_t>::max()};
    std::int64_t const i64s[] = {-1, std::numeric_limits<std::int64_t>::min(),
                                 std::numeric_limits<std::int64_t>::max(), -(1ll << 40)};
    for (auto v : i16s)
        w.write_i16(v);
    for (auto v : i32s)
        w.write_i32(v);
    for (auto v : i64s)
        w.write_i64(v);
    thrift::reader r(w.bytes());
    for (auto v : i16s)
        CHECK(r.read_i16() == v);
    for (auto v : i32s)
        CHECK(r.read_i32() == v);
    for (auto v : i64s)
        CHECK(r.read_i64() == v);
    CHECK(r.remaining() == 0);

    // A varint too large for the type is an error, not a silent truncation.
    thrift::writer big;
    big.write_varint(1ull << 32);
    big.write_varint(1ull << 16);
    thrift::reader r2(big.bytes());
    auto e = error_of([&] { r2.read_i32(); });
    CHECK(e.offset() == 0);
    CHECK(e.reason() == "i32 varint out of range: 4294967296");
    thrift::reader r3(big.bytes().subspan(5));
    CHECK(error_of([&] { r3.read_i16(); }).reason() == "i16 varint out of range: 65536");
}

TEST_CASE("thrift: doubles are 8 bytes little-endian, NaN and -0 kept", "[parquet][thrift]")
{
    thrift::writer w;
    w.write_double(1.0);
    CHECK(to_vector(w.bytes()) == bytes({0, 0, 0, 0, 0, 0, 0xf0, 0x3f}));
    w.write_double(-0.0);
    w.write_double(std::numeric_limits<double>::infinity());
    w.write_double(std::numeric_limits<double>::quiet_NaN());
    thrift::reader r(w.bytes());
    CHECK(r.read_double() == 1.0);
    double const z = r.read_double();
    CHECK((z == 0.0 && std::signbit(z)));
    CHECK(std::isinf(r.read_double()));
    CHECK(std::isnan(r.read_double()));
}

TEST_CASE("thrift: field headers use deltas, the long form for the rest, bools in the type",
          "[parquet][thrift]")
{
    thrift::writer w;
    w.struct_begin();
    w.field_i32(1, 5);      // delta 1: 0x15
    w.field_i32(16, 5);     // delta 15: 0xf5
    w.field_i32(40, 5);     // delta 24: long form
    w.field_i32(3, 5);      // going down: long form
    w.field_bool(4, true);  // delta 1, type 1: 0x11, no value byte
    w.field_bool(5, false); // 0x12
    w.field_i32(-5, 5);     // negative id: long form
    w.struct_end();
    CHECK(to_vector(w.bytes()) == bytes({0x15, 0x0a, 0xf5, 0x0a, 0x05, 0x50, 0x0a, 0x05, 0x06, 0x0a,
                                         0x11, 0x12, 0x05, 0x09, 0x0a, 0x00}));
    thrift::reader r(w.bytes());
    r.struct_begin();
    std::vector<int> ids;
    std::vector<bool> bools;
    for (auto f = r.read_field(); f.type != ctype::stop; f = r.read_field()) {
        ids.push_back(f.id);
        if (thrift::is_bool(f.type))
            bools.push_back(thrift::reader::read_bool(f));
        else
            CHECK(r.read_i32() == 5);
    }
    r.struct_end();
    CHECK(ids == std::vector<int>{1, 16, 40, 3, 4, 5, -5});
    CHECK(bools == std::vector<bool>{true, false});
    CHECK(r.remaining() == 0);
    CHECK(r.depth() == 0);
}

TEST_CASE("thrift: binary, strings, list and set headers short and long", "[parquet][thrift]")
{
    thrift::writer w;
    w.write_binary("");
    w.write_binary(std::string("a\0b", 3));
    w.list_header(ctype::i32, 14);     // short: 0xe5
    w.list_header(ctype::i32, 15);     // long: 0xf5 0x0f
    w.list_header(ctype::binary, 300); // long: 0xf8 0xac 0x02
    std::vector<std::uint8_t> const b = to_vector(w.bytes());
    CHECK(std::vector<std::uint8_t>(b.begin() + 5, b.end()) ==
          bytes({0xe5, 0xf5, 0x0f, 0xf8, 0xac, 0x02}));
    // Reading the headers needs the elements' bytes to be there (a size is checked against what
    // is left), so read them over a buffer with room.
    std::vector<std::uint8_t> padded = b;
    padded.resize(b.size() + 300, 0);
    thrift::reader r(padded);
    CHECK(r.read_binary().empty());
    CHECK(r.read_string() == std::string("a\0b", 3));
    auto h1 = r.read_list_header();
    CHECK((h1.elem == ctype::i32 && h1.size == 14));
    auto h2 = r.read_list_header();
    CHECK((h2.elem == ctype::i32 && h2.size == 15));
    auto h3 = r.read_list_header();
    CHECK((h3.elem == ctype::binary && h3.size == 300));
}

TEST_CASE("thrift: bool list elements are one byte each, 0 read as false too", "[parquet][thrift]")
{
    auto in = bytes({0x41, 0x01, 0x02, 0x00, 0x01});
    thrift::reader r(in);
    auto h = r.read_list_header();
    CHECK(thrift::is_bool(h.elem));
    CHECK(h.size == 4);
    std::vector<bool> v;
    for (std::uint32_t i = 0; i < h.size; ++i)
        v.push_back(r.read_bool_element());
    CHECK(v == std::vector<bool>{true, false, false, true});
}

TEST_CASE("thrift: skip goes over every type, unknown fields included", "[parquet][thrift]")
{
    std::vector<std::uint8_t> const all = every_type();
    // The whole struct skipped: exactly its bytes consumed.
    thrift::reader r(all);
    r.skip(ctype::struct_);
    CHECK(r.remaining() == 0);
    CHECK(r.depth() == 0);

    // Read field 6 only, skip the rest: the value after the unknown ones is intact.
    thrift::reader r2(all);
    std::int64_t v = 0;
    std::vector<int> skipped;
    r2.struct_begin();
    for (auto f = r2.read_field(); f.type != ctype::stop; f = r2.read_field()) {
        if (f.id == 6 && f.type == ctype::i64) {
            v = r2.read_i64();
        } else {
            skipped.push_back(f.id);
            r2.skip(f);
        }
    }
    r2.struct_end();
    CHECK(v == std::numeric_limits<std::int64_t>::max());
    CHECK(skipped == std::vector<int>{1, 2, 3, 4, 5, 7, 8, 9, 10, 11, 300, 12});
    CHECK(r2.remaining() == 0);
}

TEST_CASE("thrift: input cut at any byte is an error with an offset inside it, never a crash",
          "[parquet][thrift]")
{
    std::vector<std::uint8_t> const all = every_type();
    for (std::size_t n = 0; n < all.size(); ++n) {
        std::vector<std::uint8_t> const cut(all.begin(), all.begin() + static_cast<long>(n));
        thrift::reader r(cut, 5000);
        auto e = error_of([&] { r.skip(ctype::struct_); });
        INFO("cut at " << n << ": " << e.what());
        CHECK(e.offset() >= 5000);
        CHECK(e.offset() <= 5000 + n);
        bool const says_why = e.reason().find("truncated thrift") != std::string::npos ||
                              e.reason().find("bytes left") != std::string::npos;
        CHECK(says_why);
    }
}

TEST_CASE("thrift: bad type nibbles and oversized lengths are errors at their byte",
          "[parquet][thrift]")
{
    auto bad_field = bytes({0x15, 0x02, 0x1d});
    thrift::reader r(bad_field, 100);
    auto e = error_of([&] { r.skip(ctype::struct_); });
    CHECK(e.offset() == 102);
    CHECK(e.reason() == "bad thrift type 13");

    auto long_binary = bytes({0x18, 0x05, 'a', 'b'});
    thrift::reader r2(long_binary);
    auto e2 = error_of([&] { r2.skip(ctype::struct_); });
    CHECK(e2.offset() == 1);
    CHECK(e2.reason() == "truncated thrift: binary of 5 bytes, 2 left");

    // A list claiming more elements than bytes left (would allocate gigabytes if believed).
    auto huge_list = bytes({0x19, 0xf5, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x00});
    thrift::reader r3(huge_list);
    auto e3 = error_of([&] { r3.skip(ctype::struct_); });
    CHECK(e3.offset() == 1);
    CHECK(e3.reason() == "list of 4294967295 elements but 1 bytes left");

    auto stop_in_list = bytes({0x10});
    thrift::reader r4(stop_in_list);
    CHECK(error_of([&] { r4.read_list_header(); }).reason() == "bad thrift type 0");
}

TEST_CASE("thrift: nesting deeper than the limit is refused, at the limit it is read",
          "[parquet][thrift]")
{
    auto nested_structs = [](int depth) {
        thrift::writer w;
        w.struct_begin();
        for (int i = 1; i < depth; ++i)
            w.field_struct_begin(1);
        for (int i = 0; i < depth; ++i)
            w.struct_end();
        return w.take();
    };
    auto ok = nested_structs(8);
    thrift::reader r(ok, 0, 8);
    r.skip(ctype::struct_);
    CHECK(r.remaining() == 0);

    auto deep = nested_structs(9);
    thrift::reader r2(deep, 0, 8);
    auto e = error_of([&] { r2.skip(ctype::struct_); });
    CHECK(e.reason() == "thrift nesting deeper than 8");
    CHECK(e.offset() == 8); // the ninth struct begins after eight field headers

    // Lists of lists count too, and a million of them never overflow the stack.
    std::vector<std::uint8_t> lists(1000000, 0x19); // list of one list, ...
    thrift::reader r3(lists);
    auto e3 = error_of([&] { r3.skip(ctype::list); });
    CHECK(e3.reason() == "thrift nesting deeper than 64");
    CHECK(e3.offset() == 64);

    std::vector<std::uint8_t> maps;
    for (int i = 0; i < 100; ++i) {
        maps.push_back(0x01); // one entry
        maps.push_back(0x5b); // i32 -> map
        maps.push_back(0x02); // the key
    }
    thrift::reader r4(maps);
    CHECK(error_of([&] { r4.skip(ctype::map); }).reason() == "thrift nesting deeper than 64");
}

TEST_CASE("thrift: maps and sets round-trip through the writer", "[parquet][thrift]")
{
    thrift::writer w;
    w.map_header(ctype::binary, ctype::i64, 2);
    w.write_binary("x");
    w.write_i64(-1);
    w.write_binary("y");
    w.write_i64(1ll << 50);
    w.map_header(ctype::i32, ctype::i32, 0);
    CHECK(to_vector(w.bytes()).front() == 0x02);
    CHECK(to_vector(w.bytes())[1] == 0x86);
    CHECK(to_vector(w.bytes()).back() == 0x00);
    thrift::reader r(w.bytes());
    auto h = r.read_map_header();
    CHECK((h.key == ctype::binary && h.value == ctype::i64 && h.size == 2));
    CHECK(r.read_binary() == "x");
    CHECK(r.read_i64() == -1);
    CHECK(r.read_binary() == "y");
    CHECK(r.read_i64() == (1ll << 50));
    auto empty = r.read_map_header();
    CHECK(empty.size == 0);
    CHECK(r.remaining() == 0);
}
