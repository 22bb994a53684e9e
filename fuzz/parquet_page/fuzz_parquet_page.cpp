// fuzz/parquet_page/fuzz_parquet_page.cpp: the Parquet value and level decoders
// (io/parquet/detail/encoding.hpp) on arbitrary page bytes. The only acceptable failure is
// streambatch::parquet::error with an offset inside the bytes; anything else - a crash, a
// sanitizer report, another exception, a huge allocation - is a bug.
//
// Input: byte 0 chooses the encoding (low nibble: PLAIN, PLAIN_DICTIONARY, RLE,
// DELTA_BINARY_PACKED, DELTA_LENGTH_BYTE_ARRAY, DELTA_BYTE_ARRAY, RLE_DICTIONARY,
// BYTE_STREAM_SPLIT, or (8 and up) the RLE/bit-packed hybrid as levels with bit width byte 1
// % 33) and the physical type (high nibble % 8); byte 1 the number of values (times 4); for
// the dictionary encodings the dictionary is 16 PLAIN values from the first half of the rest.
// Decoded values are checked: as many as asked, of the type's width.
//
//     bash fuzz/run.sh 60 parquet_page

#include <streambatch/io/parquet/detail/encoding.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

namespace pq = streambatch::parquet;
namespace d = streambatch::parquet::detail;

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size)
{
    if (size < 2)
        return 0;
    std::span<std::uint8_t const> const in(data + 2, size - 2);
    unsigned const mode = data[0] & 15;
    auto const type = static_cast<pq::physical_type>((data[0] >> 4) % 8);
    std::int32_t const type_length = 1 + data[1] % 17;
    std::size_t const count = static_cast<std::size_t>(data[1]) * 4;
    constexpr std::uint64_t base = 1000;
    try {
        if (mode >= 8) {
            std::vector<std::uint32_t> out(count);
            unsigned const width = data[1] % 33;
            d::rle_decoder r(in, width, base);
            r.get(out.data(), count);
            for (std::uint32_t v : out)
                if (width < 32 && (v >> width) != 0)
                    std::abort();
            return 0;
        }
        static constexpr pq::encoding encodings[] = {
            pq::encoding::plain,
            pq::encoding::plain_dictionary,
            pq::encoding::rle,
            pq::encoding::delta_binary_packed,
            pq::encoding::delta_length_byte_array,
            pq::encoding::delta_byte_array,
            pq::encoding::rle_dictionary,
            pq::encoding::byte_stream_split,
        };
        pq::encoding const e = encodings[mode];
        d::value_buffer dict, out;
        std::span<std::uint8_t const> values = in;
        bool const dictionary =
            e == pq::encoding::plain_dictionary || e == pq::encoding::rle_dictionary;
        if (dictionary) {
            std::size_t const half = in.size() / 2;
            d::decode_plain(type, type_length, in.first(half), 16, dict, base);
            values = in.subspan(half);
        }
        d::decode_values(e, type, type_length, values, count, dictionary ? &dict : nullptr, out,
                         base);
        if (out.size() != count)
            std::abort();
        if (out.width != d::value_width(type, type_length))
            std::abort();
    } catch (pq::error const& err) {
        if (err.offset() < base || err.offset() > base + size)
            std::abort();
    }
    return 0;
}
