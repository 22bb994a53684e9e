// fuzz/parquet_footer/fuzz_parquet_footer.cpp: the Parquet footer and page header decoders
// (io/parquet/detail/thrift.hpp, metadata.hpp, file.hpp) on arbitrary bytes. The only
// acceptable failure is streambatch::parquet::error; anything else - a crash, a sanitizer
// report, another exception, a huge allocation - is a bug.
//
// Input: byte 0 chooses what the rest is.
//   0 (and anything not below)  a FileMetaData: decoded, checked as the footer of a file whose
//                               data area is [4, 1 MiB) (schema, column chunks), and, when it
//                               decodes, encoded again: that must decode to the same structs.
//   1  a PageHeader: decoded (the bytes after it are page data), then round-tripped the same way.
//   2  a whole file: read_footer (magic, footer length, then as 0).
// Seeds: real footers and page headers of apache/parquet-testing files (make_corpus.sh).
//
//     bash fuzz/run.sh 60 parquet_footer

#include <streambatch/io/parquet/file.hpp>
#include <streambatch/io/parquet/metadata.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

namespace pq = streambatch::parquet;

namespace {

/// What encode drops (encryption is recorded, not re-encoded).
void forget_encryption(pq::file_metadata& m)
{
    m.encrypted = false;
    for (auto& g : m.row_groups)
        for (auto& c : g.columns)
            c.encrypted = false;
}

void footer(std::span<std::uint8_t const> in)
{
    constexpr std::uint64_t at = 1 << 20;
    try {
        pq::file_metadata m = pq::decode_file_metadata(in, at);
        forget_encryption(m);
        auto const bytes = pq::encode_file_metadata(m);
        pq::file_metadata const back = pq::decode_file_metadata(bytes);
        if (!(back == m))
            std::abort();
    } catch (pq::error const& e) {
        if (e.offset() != pq::error::npos && (e.offset() < at || e.offset() > at + in.size()))
            std::abort(); // an offset outside the bytes decoded
        return;
    }
    try {
        pq::footer const f = pq::parse_footer(in, at, at + in.size() + 8, "fuzz.parquet");
        for (auto const& c : f.schema.columns)
            if (c.index >= f.schema.columns.size() || c.path.empty())
                std::abort();
        for (std::size_t r = 0; r < f.metadata.row_groups.size(); ++r)
            for (std::size_t c = 0; c < f.schema.columns.size(); ++c) {
                auto const range = f.chunk(r, c);
                bool const empty = f.metadata.row_groups[r].columns[c].meta_data->num_values == 0 &&
                                   range.size == 0;
                if (!empty && (range.offset < 4 || range.offset + range.size > at))
                    std::abort(); // a chunk the checks let through outside the data area
            }
    } catch (pq::error const& e) {
        if (e.file() != "fuzz.parquet")
            std::abort();
    }
}

void page_header(std::span<std::uint8_t const> in)
{
    try {
        std::size_t size = 0;
        pq::page_header const h = pq::decode_page_header(in, 0, size);
        if (size > in.size())
            std::abort();
        auto const bytes = pq::encode_page_header(h);
        std::size_t size2 = 0;
        if (!(pq::decode_page_header(bytes, 0, size2) == h) || size2 != bytes.size())
            std::abort();
    } catch (pq::error const&) {
    }
}

void whole_file(std::span<std::uint8_t const> in)
{
    try {
        (void)pq::read_footer(in, "fuzz.parquet");
    } catch (pq::error const& e) {
        if (e.file() != "fuzz.parquet" || e.offset() == pq::error::npos ||
            (in.size() > 0 && e.offset() > in.size()))
            std::abort();
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size)
{
    if (size == 0)
        return 0;
    std::span<std::uint8_t const> const in(data + 1, size - 1);
    switch (data[0]) {
    case 1:
        page_header(in);
        break;
    case 2:
        whole_file(in);
        break;
    default:
        footer(in);
        break;
    }
    return 0;
}
