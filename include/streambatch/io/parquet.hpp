// streambatch/io/parquet.hpp: the Parquet component (streambatch::parquet; links libsnappy,
// zlib, libzstd and liblz4). So far its foundation: the footer and schema, the metadata structs
// with their Thrift compact decoding and encoding, and the page codecs.
//
// In:     a Parquet file's path (parquet::file), or its bytes (read_footer, decode_*).
// Out:    parquet::error (errors.hpp); parquet::thrift::reader / writer (detail/thrift.hpp);
//         the metadata structs, decode/encode (metadata.hpp); parquet::file, footer,
//         schema_view, column_descriptor, chunk_range, read_footer, parse_footer (file.hpp);
//         parquet::codec::decompress / compress (detail/codec.hpp); the encoders, pages and
//         CRCs parquet::enc (detail/encode.hpp); parquet::writer, column_spec, writer_options,
//         columns_for, cell (writer.hpp); parquet::dataset_sink, dataset_sink_options,
//         dataset_sink_error: a job sink writing a dataset directory of part files (sink.hpp).
// Models: Apache Parquet (parquet-format's parquet.thrift); no Arrow, no libthrift.
// Memory: one file's metadata; pages are decompressed into buffers their caller owns.
// Errors: parquet::error, naming the file, the byte offset and what is wrong.
// Example:
//     #include <streambatch/io/parquet.hpp>
//     streambatch::parquet::file f("data.parquet");
//     if (!f.schema().is_flat()) std::cerr << "nested: " << f.schema().nested_fields[0] << '\n';
//     std::cout << f.num_rows() << " rows in " << f.metadata().row_groups.size() << " groups\n";

#ifndef STREAMBATCH_IO_PARQUET_HPP_INCLUDED
#define STREAMBATCH_IO_PARQUET_HPP_INCLUDED

#include <streambatch/io/parquet/detail/codec.hpp>
#include <streambatch/io/parquet/detail/encode.hpp>
#include <streambatch/io/parquet/detail/thrift.hpp>
#include <streambatch/io/parquet/errors.hpp>
#include <streambatch/io/parquet/file.hpp>
#include <streambatch/io/parquet/metadata.hpp>
#include <streambatch/io/parquet/sink.hpp>
#include <streambatch/io/parquet/writer.hpp>

#endif // STREAMBATCH_IO_PARQUET_HPP_INCLUDED
