// examples/csv_to_parquet.cpp: the main job's CSV of customers to a Parquet dataset, under a
// memory guard, exactly once even when it is killed, stopped or started twice. The same job as
// csv_to_sqlite with another sink: a directory of part files (parquet::dataset_sink).
//
//     csv_to_parquet [--csv FILE] [--rows N] [--out DIR] [--batch N] [--jobs K]
//                    [--batches-per-part N] [--codec snappy|zstd|gzip|none]
//                    [--record-dir DIR] [--throttle-us U] [--fresh] [--append]
//                    [--sampled-identity] [--validate] [--stage-times]
//
// - The CSV (default customers.csv) is generated with --rows customer-like rows when it does
//   not exist, read in 64 KiB blocks; malformed records go to FILE.rejects.jsonl.
// - Each batch is cleaned (as csv_to_sqlite cleans it) and written as a row group of a part
//   file DIR/part-<seq>.parquet (default DIR customers.parquet), a part every
//   --batches-per-part batches (default 1): the part is written under a hidden temp name,
//   fsync'ed, renamed, the directory fsync'ed, and only then the checkpoint
//   (DIR/_streambatch_checkpoint.json: the CSV position and identity after the part's last
//   batch) is written the same atomic way. A restarted job removes what a killed one left
//   (temp files, a part past the checkpoint) and goes on from the checkpoint's position: no row
//   is lost and none is written twice, and a reader of DIR/*.parquet never sees a half file.
// - The guarantees are csv_to_sqlite's (docs/guarantees.md): another CSV is refused (exit 65), a
//   second copy on the same directory is refused while the first runs (exit 75), SIGINT/SIGTERM
//   stop it gracefully. --fresh removes the dataset's parts and checkpoint first (under the
//   job's fence).
//
// test-args: --rows 20000 --batch 500 --jobs 2 --out test.parquet --csv test.csv --record-dir run
// --fresh

#include <streambatch.hpp>
#include <streambatch/io/csv.hpp>
#include <streambatch/io/parquet.hpp>

#include <fmt/format.h>

#include <cstdint>
#include <filesystem>
#include <string>

#include "common/csv_load.hpp"

namespace sb = streambatch;
namespace pq = streambatch::parquet;

int main(int argc, char** argv)
{
    examples::command_line cli("csv_to_parquet",
                               "Writes a CSV of customers to a Parquet dataset, exactly once.");
    examples::csv_load_settings load;
    load.add_to(cli);
    std::filesystem::path out_dir = "customers.parquet";
    std::size_t batches_per_part = 1;
    std::string codec = "snappy";
    cli.path("--out", out_dir, "the dataset directory (part files and the checkpoint)");
    cli.number("--batches-per-part", batches_per_part, "batches in each part file");
    cli.text("--codec", codec, "snappy, zstd, gzip or none")
        ->check(CLI::IsMember({"snappy", "zstd", "gzip", "none"}));
    cli.parse(argc, argv);

    return examples::run_main(
        "csv_to_parquet",
        [&] {
            examples::generate_csv_if_missing(load.csv, load.rows);
            pq::dataset_sink_options o;
            o.batches_per_part = batches_per_part;
            o.writer.codec = codec == "zstd"   ? pq::compression_codec::zstd
                             : codec == "gzip" ? pq::compression_codec::gzip
                             : codec == "none" ? pq::compression_codec::uncompressed
                                               : pq::compression_codec::snappy;
            auto const columns =
                pq::columns_for<examples::customer>({"id", "name", "email", "country", "balance"});
            if (load.fresh) { // under the job's fence: a running copy is never pulled from under
                pq::dataset_sink holder(out_dir, columns, o);
                try {
                    holder.open({"customers"});
                } catch (pq::dataset_sink_error const&) {
                    // another job's or a damaged dataset: --fresh starts over anyway
                }
                for (auto const& e : std::filesystem::directory_iterator(out_dir)) {
                    auto const name = e.path().filename().string();
                    if (name.ends_with(".parquet") || name.ends_with(".tmp") ||
                        name == holder.checkpoint_path().filename().string())
                        std::filesystem::remove(e.path());
                }
                holder.close();
            }
            auto in = examples::csv_source(load);
            pq::dataset_sink out(out_dir, columns, o);
            sb::job_result r =
                examples::run_csv_job(in, out, examples::job_options("customers", load), load);
            examples::print_resuming(r.resumed_from);
            std::uint64_t rows = 0, parts = 0;
            for (auto const& e : std::filesystem::directory_iterator(out_dir))
                if (e.path().extension() == ".parquet" &&
                    e.path().filename().string().starts_with("part-")) {
                    rows += static_cast<std::uint64_t>(pq::file(e.path().string()).num_rows());
                    ++parts;
                }
            fmt::print("loaded       {} rows this run ({} in {} parts of {}), {} rejected\n",
                       r.report.records, rows, parts, out_dir.string(),
                       in.get() ? in.get()->position().skipped : 0);
            examples::print_summary(r.report, load);
            return r;
        },
        examples::csv_input_hint);
}
