// streambatch/io/csv.hpp: a single-pass CSV source of rows that reads fixed-size blocks, and a
// CSV writer (RFC 4180). The component's umbrella: it includes the files under io/csv/, one
// concern each: options.hpp (options, position and its text), errors.hpp (parse_error and the
// words for bad records), row.hpp, convert.hpp (get<T>), buffer.hpp (the block buffer),
// scan.hpp (the SIMD byte search), record_scanner.hpp (the parser), split.hpp (where a
// partition begins), reject.hpp (the reject path), source.hpp (where blocks come from),
// reader.hpp, writer.hpp, job_source.hpp (csv::file_source: a CSV file as a job's source, with
// the file's identity; see io/detail/file_identity.hpp) and file_sink.hpp (csv::file_sink, a job
// sink appending batches of rows behind a fence and a checkpoint). The two job headers' own
// comments are their contracts; this comment is the contract of the others; see docs/csv.md.
//
// In:     a path, a std::istream, a std::FILE* or a file descriptor, and csv::options:
//         delimiter (','), quote ('"'), has_header (true), strict_field_count (true),
//         block_size (64 KiB), max_record_bytes (16 MiB), bad_rows (on_error::fail; or
//         on_error::skip with max_skipped (100) and reject_path or reject_stream), name (the
//         file name in messages), partition ({0, 1}: the whole input; see Partitions below),
//         quoted_newlines (true). Optionally a csv::position saved earlier, to resume there.
// Out:    csv::rows(...) / csv::reader: a view of csv::row. A row owns its bytes in one
//         allocation (a 32-byte head with line, byte offset and sizes; 8 bytes of bounds per
//         field; the record's text, unquoted in place; 16 bytes of slack). It has size(),
//         operator[](i) / at(i) / at("name") -> std::string_view, get<T>(i or "name") for
//         integers, floats, bool, std::string(_view) and std::optional of those (empty field ->
//         nullopt), line() and byte_offset() where it starts, and iterates its fields.
//         reader::position() -> {byte_offset, line, rows, skipped} of the row at the iterator
//         (the first one not yet passed); a reader opened with it continues there (it re-reads
//         the header, then seeks; an unseekable input is read forward). to_string(position)
//         -> "byte_offset line rows skipped" and parse_position(text) carry it through a
//         checkpoint. csv::writer writes records with the quoting they need.
// Syntax: RFC 4180. Fields are separated by the delimiter; a field that begins with the quote
//         is quoted: it may hold delimiters, CR, LF and doubled quotes (one quote each), and ends
//         with a quote followed by a delimiter, a line break or the end of input. Records end at
//         LF, CRLF or a lone CR outside quotes; the last may lack one. Blank lines (no bytes at
//         all) are skipped; a line of spaces is a record: spaces are data, never trimmed. A UTF-8
//         BOM at byte 0 is skipped (byte offsets still count it); elsewhere it is data. Bytes are
//         not checked as UTF-8. With has_header, an empty file (or one with only a header) gives
//         no rows and no error. Lines count from 1; columns and byte offsets from 0.
// Models: reader: std::ranges::input_range and view; move-only, not forward. begin() reads the
//         first row on its first call (later calls continue where the reader is); end() is
//         std::default_sentinel; *it is a row& that ++ overwrites, and that the caller may move
//         from: the batch adaptors move rows into batches, and the next row then gets its own
//         allocation (a row left in place is reused: a plain loop allocates nearly nothing).
//         Iterators survive moves of the reader. An lvalue reader is not a viewable_range (it
//         is a move-only view): to keep it for position() while batching, pipe
//         std::ranges::ref_view(reader). row: a regular value type; copy = one allocation; move
//         = three words, noexcept; sizeof(row) == 24; streambatch::record_bytes(row) is its
//         real heap size (found by ADL), so adaptive_chunk weighs rows right.
// Memory: the reader's buffer: 2 x block_size, more only for a record longer than a block, and
//         never more than max_record_bytes + 3 x block_size; plus the header and the rows the
//         caller keeps. So an unclosed quote fails at max_record_bytes instead of reading the
//         file into memory. Speed: delimiters and specials are found 64 bytes at a time with
//         SSE2 (AVX2 when compiled for it) masks, walked a set bit at a time.
// Errors: csv::parse_error (a std::runtime_error) with kind(), file(), line(), byte_offset(),
//         column(), column_name() and reason(); what() reads
//         "customers.csv:12 (byte 4711): unclosed quote: reached end of file inside a quoted
//         field that began at line 9 (byte 4530), column 2 ("note")". Kinds: unclosed_quote,
//         stray_quote (a quote inside an unquoted field), text_after_quote, record_too_long,
//         field_count (strict: every row has the header's count, or without a header the first
//         row's), nul_byte, conversion (get<T>), missing_column (at/get by a name the header
//         lacks), too_many_bad_rows, ambiguous_split and quoted_newline (see Partitions).
//         on_error::fail (default): the first bad record throws and the reader ends;
//         position() then points at it. on_error::skip: a bad record (from its start to the
//         end of the line where the error lies; for an unclosed quote, of the line
//         where the quote opened) goes to the reject file as one JSON Lines record in the io
//         family's format (docs/rejects.md: source "csv", name, line, byte_offset, row,
//         partition, column, column_name; error: what() of its parse_error, which says where
//         the error lies; raw: the bytes exactly, NUL and non-UTF-8 included, cut to
//         max_record_bytes with raw_size then the whole length), is counted in skipped(), and
//         reading goes on; the (max_skipped + 1)-th bad record is written, then throws
//         too_many_bad_rows. The reject file is truncated on a fresh start, appended to on a
//         resume. A bad header always throws. I/O failures throw std::system_error naming the
//         file; invalid options, std::invalid_argument.
// Partitions: options::partition = {i, n} (n > 1) makes a reader of partition i's records
//         only, which reads (about) only partition i's bytes, so that n copies of a job (MPI
//         ranks, a Slurm array, a Kubernetes Indexed Job) share one file.
//         The rule (Hadoop's and Spark's text splits): the data [D, S) (D: the first byte
//         after the BOM and the header; S: the input's size when the reader opens it) is cut
//         into n nominal ranges [D + (S - D) * k / n, D + (S - D) * (k + 1) / n); a record is
//         partition k's iff its first byte (after any blank lines) lies in range k. Partition
//         i reads the header at byte 0 (for the names), seeks to its nominal begin N, finds the
//         first record that begins at or after N, and reads records while they begin before
//         its nominal end, finishing the one that crosses it. position() before the first row
//         is that first record (or, with none, where the next begins, or the end of input);
//         after the last row, the first record at or after the nominal end (or the end of
//         input): partition i's end byte_offset == partition i + 1's beginning, which a merge
//         step can check; partition_range() gives D, S and the nominal range. Every record is
//         read by exactly one partition; a partition with no record begin yields nothing.
//         Finding the first record: a line break after N may be inside a quoted field, so the
//         bytes from N are read twice, as if byte N were outside quotes and as if it were
//         inside a quoted field (byte N - 1 says where the first reading stands: after a line
//         break, a delimiter, a quote, or inside an unquoted field), each by RFC 4180 as the
//         parser reads it: a quote opens only a field, a closing quote is followed by the
//         delimiter, a line break or the end of input, no NUL, no record longer than
//         max_record_bytes, and with on_error::fail and strict_field_count the known field
//         count. Each quote flips both readings, so they disagree about every byte and at most
//         one reaches the end of input valid: the first to fail is wrong, and the other says
//         where the first record begins. Both still valid after max_record_bytes bytes:
//         parse_error ambiguous_split, naming the file and byte N (its line is unknown) and the
//         ways out. Both failing (the input is bad there): the one that failed later decides
//         if it found a record start before failing (reading then meets that error where it
//         lies); if not, a parse_error of the later failure's kind naming both failures.
//         quoted_newlines = false (no quoted field holds a line break): the first record begins
//         after the first line break at or after byte N - 1 (Hadoop's rule), with no second
//         reading; the promise is checked: a line break inside quotes is a quoted_newline error
//         (under on_error::skip the bad row ends at that line break, as a partition sees it).
//         Lines: partition 0 counts the file's lines. A later partition never reads what comes
//         before its range, so its lines count from its first record, line 1: row.line(),
//         position().line and parse_error::line() are those, parse_error::line_partition()
//         says whose, what() reads "f.csv:? (byte 4711; line 3 of partition 2/8): ...", and
//         its reject records leave line and row null. Byte offsets are exact everywhere;
//         position().rows and skipped() count the partition's own.
//         Resume: csv::reader(path, same options, saved) goes on at `saved` inside the
//         partition and still stops at its end. on_error::skip works within each partition
//         (each needs its own reject file). An input of unknown size or that cannot seek (a
//         pipe, an unseekable stream) throws std::invalid_argument for n > 1: read it whole,
//         with views::every_nth. The input must not change while partitions read it.
//         Cost: the two readings usually part within a record or two; in a file with hardly
//         any quotes, the reading inside a quote fails only at max_record_bytes, so each
//         partition scans that far (16 MiB by default, without keeping it) before reading: set
//         max_record_bytes near the longest record, or quoted_newlines = false. A whole reader
//         (n == 1) pays one compare per record.
// Example:
//     csv::options const opts{.bad_rows = csv::on_error::skip, .reject_path = "rej.jsonl"};
//     csv::reader rows("customers.csv", opts);
//     for (auto&& batch : std::ranges::ref_view(rows) | streambatch::views::memory_guarded(100)) {
//         for (csv::row& r : batch)
//             total += r.get<double>("amount"); // parse_error names the line and the column
//         save(csv::to_string(rows.position())); // "4711 12 10 1"
//     }
//     // later: csv::reader again("customers.csv", opts, csv::parse_position(saved));

#ifndef STREAMBATCH_IO_CSV_HPP_INCLUDED
#define STREAMBATCH_IO_CSV_HPP_INCLUDED

#include <streambatch/io/csv/errors.hpp>
#include <streambatch/io/csv/file_sink.hpp>
#include <streambatch/io/csv/job_source.hpp>
#include <streambatch/io/csv/options.hpp>
#include <streambatch/io/csv/reader.hpp>
#include <streambatch/io/csv/row.hpp>
#include <streambatch/io/csv/writer.hpp>

#endif // STREAMBATCH_IO_CSV_HPP_INCLUDED
