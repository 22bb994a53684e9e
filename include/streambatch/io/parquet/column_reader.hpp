// streambatch/io/parquet/column_reader.hpp: one column chunk of a flat column, page by page.
//
// In:     an open parquet::file, a row group index and a leaf column index (a flat column:
//         a nested one is refused by name).
// Out:    parquet::column_reader: next_page(column_page&) -> false at the chunk's end;
//         column_page: rows (values with nulls), defined (1/0 per row; empty for a required
//         column), values (the non-null values, a detail::value_buffer), page (its index in the
//         chunk), offset (of its header in the file). pages_read(), descriptor().
// Models: Parquet's pages: the dictionary page (PLAIN / PLAIN_DICTIONARY values), data pages
//         v1 (levels and values compressed together; definition levels RLE with a 4-byte
//         length, or the deprecated BIT_PACKED) and v2 (levels uncompressed, values compressed
//         when is_compressed); index pages skipped; a page CRC (crc32, zlib) verified when the
//         header has one. The chunk ends when the footer's num_values are read. A chunk whose
//         total_compressed_size is understated (PARQUET-816: old parquet-mr wrote
//         nation.dict-malformed.parquet so) is read past its stated end up to the footer, as
//         Arrow does; nothing past the footer's start is read.
// Memory: one page: its compressed bytes, its decompressed bytes, its decoded values; plus the
//         chunk's decoded dictionary. Pages are read with pread, one at a time. A SNAPPY page
//         (v1 or dictionary, past 256 KiB, without a CRC) is read in 128 KiB chunks as it is
//         decompressed (codec::snappy_from), and a v1 PLAIN page (not BOOLEAN) is decompressed
//         straight into the values' buffer and decoded where it lies, so such pages take no
//         compressed or decompressed page buffer. next_page(out, true) appends. The page
//         buffers (page_buffers) may be shared by the readers of one thread; reopen(row_group)
//         moves to the column's chunk in another row group, keeping every buffer.
// Errors: parquet::error naming the file and a byte offset, its reason starting
//         "row group R column C ("name") page P: " then what: the page header's decoder, a
//         "CRC mismatch (header 3150855069, page 256863498)", the codec's error, a level or
//         value decoder's ("RLE_DICTIONARY: index 9 (value 0) past the dictionary's 4 values at
//         byte 17 of the decompressed page"; on an uncompressed page the offset is the byte's
//         own), "page past the end of the data area", "page of N values past the chunk's M
//         (K read before it)" (checked before anything is sized by N). A nested column:
//         "column "a.b" is nested (not supported)".
// Example:
//     streambatch::parquet::file f("alltypes_plain.parquet");
//     streambatch::parquet::column_reader cr(f, 0, 0);
//     streambatch::parquet::column_page p;
//     while (cr.next_page(p))
//         for (std::size_t i = 0; i < p.values.size(); ++i) use(p.values.get<std::int32_t>(i));

#ifndef STREAMBATCH_IO_PARQUET_COLUMN_READER_HPP_INCLUDED
#define STREAMBATCH_IO_PARQUET_COLUMN_READER_HPP_INCLUDED

#include <streambatch/io/detail/quote.hpp>
#include <streambatch/io/parquet/detail/codec.hpp>
#include <streambatch/io/parquet/detail/encoding.hpp>
#include <streambatch/io/parquet/errors.hpp>
#include <streambatch/io/parquet/file.hpp>
#include <streambatch/io/parquet/metadata.hpp>

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <zlib.h>

namespace streambatch::parquet {

/// One data page's rows of one flat column.
struct column_page {
    std::size_t rows = 0;                 ///< values in the page, nulls included
    detail::buffer<std::uint8_t> defined; ///< per row: 1 value, 0 null; empty: all defined
    detail::value_buffer values;          ///< the non-null values, in order
    std::size_t page = 0;                 ///< its index among the chunk's pages (dictionary too)
    std::uint64_t offset = 0;             ///< of its header in the file
};

/// A column reader's page buffers (header bytes, the page as stored, decompressed, its levels):
/// they hold one page only while next_page() decodes it, so the readers of one thread may
/// share them (column_batches and the row reader do: one set, not one per column).
struct page_buffers {
    detail::buffer<std::uint8_t> head, raw, plain;
    detail::buffer<std::uint8_t> levels; // definition levels (a flat column's fit a byte)
};

class column_reader {
    file const* f_ = nullptr;
    std::size_t rg_ = 0, col_ = 0;
    column_descriptor const* d_ = nullptr;
    column_metadata const* m_ = nullptr;
    std::uint64_t pos_ = 0, stated_end_ = 0, limit_ = 0;
    std::int64_t values_read_ = 0;
    std::size_t page_ = 0;
    detail::value_buffer dict_;
    bool has_dict_ = false;
    std::shared_ptr<page_buffers> buf_;

    std::string where(std::size_t page) const
    {
        return "row group " + std::to_string(rg_) + " column " + std::to_string(col_) + " (" +
               io::detail::quote(d_->name) + ") page " + std::to_string(page) + ": ";
    }
    [[noreturn]] void fail(std::size_t page, std::uint64_t at, std::string const& reason) const
    {
        throw error(f_->path(), at, where(page) + reason);
    }
    /// A decoder's error (offset relative to the page's data) as the page's.
    [[noreturn]] void rethrow(error const& e, std::size_t page, std::uint64_t data_at,
                              bool compressed) const
    {
        if (compressed)
            throw error(f_->path(), data_at,
                        where(page) + e.reason() + " at byte " + std::to_string(e.offset()) +
                            " of the decompressed page");
        throw error(f_->path(), data_at + e.offset(), where(page) + e.reason());
    }

    /// The page header at pos_; reads more of the file while the header is cut short.
    page_header read_header(std::size_t& header_size)
    {
        std::uint64_t const avail = limit_ - pos_;
        std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(avail, 256));
        for (;;) {
            buf_->head.resize(want);
            f_->read_at(pos_, buf_->head);
            try {
                return decode_page_header(buf_->head, pos_, header_size);
            } catch (error const& e) {
                bool const truncated = e.reason().find("truncated") != std::string::npos;
                if (!truncated || want >= avail || want >= (std::size_t{16} << 20))
                    fail(page_, e.offset(), e.reason());
                want = static_cast<std::size_t>(std::min<std::uint64_t>(avail, want * 4));
            }
        }
    }

    void decode_levels(std::span<std::uint8_t const> in, encoding enc, std::size_t n,
                       bool v1_prefix, std::uint64_t base, std::size_t& used)
    {
        unsigned const w = static_cast<unsigned>(
            std::bit_width(static_cast<std::uint32_t>(d_->max_definition_level)));
        if (d_->max_definition_level > 255)
            detail::fail_decode(base, "levels",
                                "maximum definition level " +
                                    std::to_string(d_->max_definition_level) + " past 255");
        buf_->levels.clear();
        detail::grow(buf_->levels, n);
        if (enc == encoding::bit_packed && v1_prefix) {
            std::size_t const bytes = (n * w + 7) / 8;
            if (in.size() < bytes)
                detail::fail_decode(base, "BIT_PACKED", "definition levels cut short");
            for (std::size_t i = 0; i < n; ++i) { // most significant bit first
                std::uint32_t v = 0;
                for (unsigned b = 0; b < w; ++b) {
                    std::size_t const bit = i * w + b;
                    v = v << 1 | ((in[bit / 8] >> (7 - bit % 8)) & 1);
                }
                buf_->levels[i] = static_cast<std::uint8_t>(v);
            }
            used = bytes;
            return;
        }
        if (enc != encoding::rle)
            detail::fail_decode(base, "levels",
                                std::string("unsupported level encoding ") + to_string(enc));
        std::span<std::uint8_t const> body = in;
        std::size_t prefix = 0;
        if (v1_prefix) {
            if (in.size() < 4)
                detail::fail_decode(base, "RLE", "definition levels' length cut short");
            std::uint32_t len = 0;
            std::memcpy(&len, in.data(), 4);
            if (len > in.size() - 4)
                detail::fail_decode(base, "RLE",
                                    "definition levels' length " + std::to_string(len) +
                                        " past the page (" + std::to_string(in.size() - 4) +
                                        " bytes left)");
            body = in.subspan(4, len);
            prefix = 4;
        }
        detail::rle_decoder r(body, w, base + prefix);
        r.get(buf_->levels.data(), n);
        used = prefix + body.size();
    }

    /// A page's value count against what the chunk has left (before anything is sized by it).
    void check_count(std::size_t page, std::uint64_t at, std::size_t n) const
    {
        if (static_cast<std::int64_t>(n) > m_->num_values - values_read_)
            fail(page, at,
                 "page of " + std::to_string(n) + " values past the chunk's " +
                     std::to_string(m_->num_values) + " (" + std::to_string(values_read_) +
                     " read before it)");
    }

public:
    /// `buffers`: page buffers shared with other readers of this thread (null: its own).
    column_reader(file const& f, std::size_t row_group, std::size_t column,
                  std::shared_ptr<page_buffers> buffers = {})
        : f_(&f), col_(column),
          buf_(buffers ? std::move(buffers) : std::make_shared<page_buffers>())
    {
        reopen(row_group);
    }

    /// The same column's chunk in `row_group`, from its start; the buffers (pages, dictionary)
    /// are kept for reuse.
    void reopen(std::size_t row_group)
    {
        file const& f = *f_;
        std::size_t const column = col_;
        rg_ = row_group;
        values_read_ = 0;
        page_ = 0;
        has_dict_ = false;
        if (row_group >= f.metadata().row_groups.size() || column >= f.schema().columns.size())
            throw error(f.path(), error::npos,
                        "row group " + std::to_string(row_group) + " column " +
                            std::to_string(column) + ": no such column chunk");
        d_ = &f.schema().columns[column];
        if (d_->nested)
            throw error(f.path(), error::npos,
                        "column " + io::detail::quote(d_->name) + " is nested (not supported)");
        m_ = &*f.metadata().row_groups[row_group].columns[column].meta_data;
        chunk_range const r = f.chunk(row_group, column);
        pos_ = r.offset;
        stated_end_ = r.offset + r.size;
        limit_ = std::max<std::uint64_t>(stated_end_, f.footer().offset);
        limit_ = std::min<std::uint64_t>(limit_, f.footer().offset);
        if (stated_end_ > limit_)
            stated_end_ = limit_;
    }

    column_descriptor const& descriptor() const noexcept { return *d_; }
    std::size_t pages_read() const noexcept { return page_; }

    /// The next data page's rows into `out`; false when the chunk's values are all read. With
    /// `append`, the page's rows go after those `out` holds (rows, defined and values grow; page
    /// and offset are the last page's): the columnar reader's buffers (columns.hpp).
    bool next_page(column_page& out, bool append = false)
    {
        while (values_read_ < m_->num_values) {
            std::size_t const page = page_;
            std::uint64_t const at = pos_;
            if (pos_ >= limit_)
                fail(page, pos_,
                     "page past the end of the data area (" + std::to_string(values_read_) +
                         " values read, the footer says " + std::to_string(m_->num_values) + ")");
            std::size_t hs = 0;
            page_header const h = read_header(hs);
            std::uint64_t const data_at = pos_ + hs;
            auto const csize = static_cast<std::size_t>(h.compressed_page_size);
            auto const usize = static_cast<std::size_t>(h.uncompressed_page_size);
            if (csize > limit_ - data_at)
                fail(page, at,
                     "page of " + std::to_string(csize) + " bytes past the end of the data area (" +
                         std::to_string(limit_) + ")");
            pos_ = data_at + csize;
            ++page_;
            if (h.type != page_type::dictionary_page && h.type != page_type::data_page &&
                h.type != page_type::data_page_v2)
                continue; // index pages and unknown ones
            compression_codec const codec = m_->codec;
            // a large SNAPPY page of v1 (or a dictionary page) without a CRC is read in chunks
            // as it is decompressed: the compressed page is never held whole
            bool const chunked = codec == compression_codec::snappy && !h.crc &&
                                 h.type != page_type::data_page_v2 &&
                                 csize > (std::size_t{256} << 10);
            buf_->raw.clear();
            if (!chunked) {
                detail::grow(buf_->raw, csize);
                f_->read_at(data_at, buf_->raw);
            }
            if (h.crc) {
                auto const crc = static_cast<std::uint32_t>(
                    ::crc32(0L, buf_->raw.data(), static_cast<uInt>(buf_->raw.size())));
                if (crc != static_cast<std::uint32_t>(*h.crc))
                    fail(page, at,
                         "CRC mismatch (header " +
                             std::to_string(static_cast<std::uint32_t>(*h.crc)) + ", page " +
                             std::to_string(crc) + ")");
            }
            auto const into_plain = [&](std::size_t n) {
                buf_->plain.clear();
                detail::grow(buf_->plain, n);
                return std::span<std::uint8_t>(buf_->plain);
            };
            auto const decompress = [&](std::span<std::uint8_t const> in,
                                        std::span<std::uint8_t> dst, std::uint64_t in_at) {
                try {
                    if (chunked)
                        codec::snappy_from(
                            [&](std::size_t off, std::span<std::uint8_t> o) {
                                f_->read_at(data_at + off, o);
                            },
                            csize, dst, f_->path(), in_at);
                    else
                        codec::decompress(codec, in, dst, f_->path(), in_at);
                } catch (error const& e) {
                    fail(page, e.offset(), e.reason());
                }
            };
            if (h.type == page_type::dictionary_page) {
                if (!h.dictionary_page_header)
                    fail(page, at, "dictionary page without its header");
                if (has_dict_)
                    fail(page, at, "a second dictionary page");
                auto const enc = h.dictionary_page_header->encoding;
                if (enc != encoding::plain && enc != encoding::plain_dictionary)
                    fail(page, at, std::string("dictionary encoded ") + to_string(enc));
                decompress(buf_->raw, into_plain(usize), data_at);
                has_dict_ = true;
                try {
                    detail::decode_plain(
                        d_->type, d_->type_length, buf_->plain,
                        static_cast<std::size_t>(h.dictionary_page_header->num_values), dict_, 0);
                } catch (error const& e) {
                    rethrow(e, page, data_at, codec != compression_codec::uncompressed);
                }
                continue;
            }
            std::size_t n = 0, nulls_v2 = 0;
            encoding enc{};
            std::span<std::uint8_t const> values;
            std::uint64_t values_base = 0; // the values' offset in the page data
            bool compressed = codec != compression_codec::uncompressed;
            // a v1 PLAIN page (not BOOLEAN) is decompressed straight into out.values and
            // decoded where it lies: from in_place_start, after in_place_skip bytes of levels
            bool in_place = false;
            std::size_t in_place_start = 0, in_place_skip = 0;
            if (!append) {
                out.defined.clear();
                out.rows = 0;
            }
            std::size_t const had = out.rows; // rows before this page
            try {
                if (h.type == page_type::data_page) {
                    if (!h.data_page_header)
                        fail(page, at, "data page without its header");
                    auto const& dp = *h.data_page_header;
                    n = static_cast<std::size_t>(dp.num_values);
                    check_count(page, at, n);
                    enc = dp.encoding;
                    std::span<std::uint8_t> body;
                    in_place = enc == encoding::plain && d_->type != physical_type::boolean;
                    if (in_place) {
                        detail::value_buffer& v = out.values;
                        if (!(append && had > 0))
                            v.clear(detail::value_width(d_->type, d_->type_length));
                        if (d_->type == physical_type::byte_array) {
                            in_place_start = v.data.size();
                            detail::grow(v.data, in_place_start + usize);
                            body = {reinterpret_cast<std::uint8_t*>(v.data.data()) + in_place_start,
                                    usize};
                        } else {
                            in_place_start = v.fixed.size();
                            detail::grow(v.fixed, in_place_start + usize);
                            body = {v.fixed.data() + in_place_start, usize};
                        }
                    } else {
                        body = into_plain(usize);
                    }
                    decompress(buf_->raw, body, data_at);
                    std::size_t used = 0;
                    if (d_->max_definition_level > 0) {
                        decode_levels(body, dp.definition_level_encoding, n, true, 0, used);
                        values_base = used;
                    }
                    in_place_skip = used;
                    values = body.subspan(used);
                } else {
                    if (!h.data_page_header_v2)
                        fail(page, at, "data page v2 without its header");
                    auto const& dp = *h.data_page_header_v2;
                    n = static_cast<std::size_t>(dp.num_values);
                    check_count(page, at, n);
                    nulls_v2 = static_cast<std::size_t>(dp.num_nulls);
                    enc = dp.encoding;
                    auto const rl = static_cast<std::size_t>(dp.repetition_levels_byte_length);
                    auto const dl = static_cast<std::size_t>(dp.definition_levels_byte_length);
                    if (rl + dl > buf_->raw.size())
                        fail(page, at, "level bytes past the page");
                    if (d_->max_definition_level > 0) {
                        std::size_t used = 0;
                        compressed = false; // levels are stored as they are
                        decode_levels(std::span(buf_->raw).subspan(rl, dl), encoding::rle, n, false,
                                      rl, used);
                    }
                    std::span<std::uint8_t const> rest = std::span(buf_->raw).subspan(rl + dl);
                    if (dp.compressed() && codec != compression_codec::uncompressed) {
                        decompress(rest, into_plain(usize - rl - dl), data_at + rl + dl);
                        values = buf_->plain;
                        compressed = true;
                        values_base = 0;
                    } else {
                        values = rest;
                        compressed = false;
                        values_base = rl + dl;
                    }
                }
                std::size_t defined = n;
                if (d_->max_definition_level > 0) {
                    detail::grow(out.defined, had + n);
                    std::uint8_t* def = out.defined.data() + had;
                    auto const max = static_cast<std::uint32_t>(d_->max_definition_level);
                    std::uint8_t const* lv = buf_->levels.data();
                    std::uint32_t over = 0;
                    defined = 0;
                    for (std::size_t i = 0; i < n; ++i) { // branch-free: vectorised
                        over |= lv[i] > max ? lv[i] : 0;
                        def[i] = static_cast<std::uint8_t>(lv[i] == max);
                        defined += lv[i] == max;
                    }
                    if (over)
                        for (std::size_t i = 0; i < n; ++i)
                            if (buf_->levels[i] > max)
                                detail::fail_decode(
                                    0, "levels",
                                    "definition level " + std::to_string(buf_->levels[i]) +
                                        " past the column's maximum " + std::to_string(max));
                    if (h.type == page_type::data_page_v2 && n - defined != nulls_v2)
                        detail::fail_decode(0, "levels",
                                            std::to_string(n - defined) +
                                                " nulls in the levels, the header says " +
                                                std::to_string(nulls_v2));
                }
                if (in_place)
                    detail::decode_plain_in_place(d_->type, d_->type_length, out.values,
                                                  in_place_start, in_place_skip, defined,
                                                  values_base);
                else
                    detail::decode_values(enc, d_->type, d_->type_length, values, defined,
                                          has_dict_ ? &dict_ : nullptr, out.values, values_base,
                                          append && had > 0);
            } catch (error const& e) {
                if (e.file() == f_->path())
                    throw;
                rethrow(e, page, data_at, compressed);
            }
            values_read_ += static_cast<std::int64_t>(n);
            out.rows = had + n;
            out.page = page;
            out.offset = at;
            return true;
        }
        return false;
    }
};

} // namespace streambatch::parquet

#endif // STREAMBATCH_IO_PARQUET_COLUMN_READER_HPP_INCLUDED
