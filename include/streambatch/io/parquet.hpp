// streambatch/io/parquet.hpp: the Parquet component (streambatch::parquet; links libsnappy,
// zlib, libzstd and liblz4): the footer and schema, the metadata structs with their Thrift
// compact decoding and encoding, the page codecs, the value decoders, the column reader and the
// row reader (dynamic rows, projection, tuples/structs, one batch per row group).
//
// In:     a Parquet file's path (parquet::file), or its bytes (read_footer, decode_*).
// Out:    parquet::error (errors.hpp); parquet::thrift::reader / writer (detail/thrift.hpp);
//         the metadata structs, decode/encode (metadata.hpp); parquet::file, footer,
//         schema_view, column_descriptor, chunk_range, read_footer, parse_footer (file.hpp);
//         parquet::codec::decompress / compress (detail/codec.hpp); the decoders
//         (detail/encoding.hpp); parquet::column_reader, column_page (column_reader.hpp);
//         parquet::column_batches, column_batch, column_values, column_options (columns.hpp);
//         parquet::value, value_kind, value_meaning, value_type, row, position, reader,
//         rows(), row_groups, rows_as<T>() (reader.hpp); the encoders, pages and
//         CRCs parquet::enc (detail/encode.hpp); parquet::writer, column_spec, writer_options,
//         columns_for, cell (writer.hpp); parquet::dataset_sink, dataset_sink_options,
//         dataset_sink_error: a job sink writing a dataset directory of part files (sink.hpp);
//         parquet::file_source, file_source_options: a file as a job source (job_source.hpp);
//         parquet::dataset_source, dataset_source_options: a directory or list of files as a
//         job source split by row group (dataset_source.hpp).
// Models: Apache Parquet (parquet-format's parquet.thrift); no Arrow, no libthrift.
// Memory: one file's metadata; a reader holds one page per projected column (with its
//         dictionary); row_groups one row group's projected rows.
// Errors: parquet::error, naming the file, the byte offset and what is wrong.
// Example:
//     #include <streambatch/io/parquet.hpp>
//     streambatch::parquet::file f("data.parquet");
//     if (!f.schema().is_flat()) std::cerr << "nested: " << f.schema().nested_fields[0] << '\n';
//     std::cout << f.num_rows() << " rows in " << f.metadata().row_groups.size() << " groups\n";
//     for (auto const& r : streambatch::parquet::rows("data.parquet", {"id", "name"}))
//         std::cout << r[0].to_string() << ' ' << r.get<std::string>(1) << '\n';

#ifndef STREAMBATCH_IO_PARQUET_HPP_INCLUDED
#define STREAMBATCH_IO_PARQUET_HPP_INCLUDED

#include <streambatch/io/parquet/column_reader.hpp>
#include <streambatch/io/parquet/columns.hpp>
#include <streambatch/io/parquet/dataset_source.hpp>
#include <streambatch/io/parquet/detail/codec.hpp>
#include <streambatch/io/parquet/detail/encode.hpp>
#include <streambatch/io/parquet/detail/encoding.hpp>
#include <streambatch/io/parquet/detail/thrift.hpp>
#include <streambatch/io/parquet/errors.hpp>
#include <streambatch/io/parquet/file.hpp>
#include <streambatch/io/parquet/job_source.hpp>
#include <streambatch/io/parquet/metadata.hpp>
#include <streambatch/io/parquet/reader.hpp>
#include <streambatch/io/parquet/sink.hpp>
#include <streambatch/io/parquet/writer.hpp>

#endif // STREAMBATCH_IO_PARQUET_HPP_INCLUDED
