// examples/checkpoint_resume.cpp: a job that crashes and picks up where it stopped, with a
// plain-file sink that still ends up holding every record exactly once. Copy it as the
// template of a job that writes files.
//
//     checkpoint_resume [--records N] [--batch N] [--crash-at-batch B] [--dir DIR]
//
// DIR (default checkpoint_resume) must be new or empty, or one an earlier run made (it leaves
// the file .checkpoint_resume there): the example removes only its own files, out.txt and
// job.ckpt, and refuses a directory that holds anything else.
//
// What it shows, in one run:
// 1. The job starts in a child process: it reads N records, writes one output line per record
//    to DIR/out.txt, and every 10 batches fsyncs it and writes a checkpoint to DIR/job.ckpt
//    (write_checkpoint: atomic) holding the records done and the output's size. At batch B the
//    child kills itself with SIGKILL, the way the OOM killer or a node failure would: no destructor
//    runs, nothing is flushed.
// 2. The job starts again. resume_point() reads the checkpoint (refusing one of another job or
//    input: the fingerprint), the source skips the records it holds, and - the part that
//    makes a file sink exactly-once - the output is cut back to the size it had when that
//    checkpoint was written (the checkpoint's position holds that size). Lines written after
//    the checkpoint, by batches the checkpoint does not cover, are discarded and written again.
// 3. It checks DIR/out.txt: every record exactly once, in order.
//
// A sink that cannot be cut back (an HTTP endpoint, a queue) is at-least-once instead: after a
// crash it sees again at most what followed the last checkpoint (docs/guarantees.md).
//
// test-args: --records 50000 --batch 100 --crash-at-batch 237 --dir run

#include <streambatch.hpp>
#include <streambatch/interop/fmt.hpp>

#include <fmt/format.h>

#include <charconv>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <ranges>
#include <string>
#include <string_view>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/args.hpp"

namespace sb = streambatch;
namespace fs = std::filesystem;

namespace {

/// Makes `dir` ready for a run: creates it, or takes an empty one, or one an earlier run made
/// (the marker file says so), removing only this example's files. Anything else: an error.
void prepare(fs::path const& dir, examples::command_line const& cli)
{
    fs::path const marker = dir / ".checkpoint_resume";
    if (!fs::exists(dir))
        fs::create_directories(dir);
    else if (!fs::is_directory(dir))
        cli.fail("--dir " + dir.string() + " is not a directory");
    else if (fs::exists(marker))
        for (char const* name : {"out.txt", "job.ckpt", "job.ckpt.tmp"})
            fs::remove(dir / name);
    else if (!fs::is_empty(dir))
        cli.fail("--dir " + dir.string() +
                 " is not empty and an earlier checkpoint_resume did not make it: "
                 "give a new or an empty directory");
    std::ofstream(marker)
        << "made by examples/checkpoint_resume: it may remove out.txt and job.ckpt here\n";
}

/// The job: returns the number of records this run wrote. crash_at: the batch at which to die.
std::uint64_t run_job(fs::path const& dir, std::uint64_t records, std::size_t batch,
                      std::uint64_t crash_at)
{
    std::string const job = "checkpoint_resume";
    std::string const fingerprint =
        "records=" + std::to_string(records) + " batch=" + std::to_string(batch);
    fs::path const ckpt = dir / "job.ckpt", out_path = dir / "out.txt";

    sb::checkpoint const start = sb::resume_point(ckpt, job, fingerprint);
    // The checkpoint's position is the output's size when it was written: cut back to it.
    std::uint64_t out_size = 0;
    if (!start.position.empty()) {
        auto const size = sb::detail::parse_whole<std::uint64_t>(start.position);
        if (!size)
            throw std::runtime_error(ckpt.string() + ": position '" + start.position +
                                     "' is not a file size");
        out_size = *size;
    }
    int const fd = ::open(out_path.c_str(), O_WRONLY | O_CREAT, 0644);
    if (fd < 0 || ::ftruncate(fd, static_cast<off_t>(out_size)) != 0 ||
        ::lseek(fd, static_cast<off_t>(out_size), SEEK_SET) < 0)
        throw std::runtime_error("cannot open or cut back " + out_path.string());
    if (start.records != 0)
        fmt::print("resuming: the checkpoint covers {} records ({} batches); output cut back to {} "
                   "bytes\n",
                   start.records, start.batches, out_size);

    // The sink decides when its lines are durable, so it writes the checkpoint itself, every
    // 10 batches: fsync the output, then record how many records it holds and its size.
    sb::run_options options{.job = job, .fingerprint = fingerprint, .resume_from = start};
    std::uint64_t written = 0;
    std::string text;
    sb::for_each_batch(
        std::views::iota(start.records, records) | sb::views::chunk(batch),
        [&](auto& b, sb::batch_info const& info) {
            if (info.index == crash_at) {
                fmt::print("batch {}: crashing now (SIGKILL)\n", info.index);
                std::fflush(stdout);
                ::kill(::getpid(), SIGKILL);
            }
            text.clear();
            for (std::uint64_t id : b)
                text += "record " + std::to_string(id) + "\n";
            if (::write(fd, text.data(), text.size()) != static_cast<ssize_t>(text.size()))
                throw std::runtime_error("short write to " + out_path.string());
            out_size += text.size();
            written += info.size;
            if ((info.index + 1) % 10 == 0) {
                if (::fsync(fd) != 0)
                    throw std::runtime_error("cannot fsync " + out_path.string());
                sb::write_checkpoint(ckpt, {.job = job,
                                            .fingerprint = fingerprint,
                                            .batches = info.index + 1,
                                            .records = info.first_record + info.size,
                                            .position = std::to_string(out_size)});
            }
        },
        options);
    ::fsync(fd);
    ::close(fd);
    return written;
}

} // namespace

int main(int argc, char** argv)
{
    examples::command_line cli("checkpoint_resume",
                               "A job that is killed and resumes, its file sink exactly once.");
    std::uint64_t records = 1'000'000, crash_at = 0;
    std::size_t batch = 1000;
    fs::path dir = "checkpoint_resume";
    cli.number("--records", records, "records to write");
    cli.number("--batch", batch, "records per batch");
    auto* crash = cli.number("--crash-at-batch", crash_at,
                             "the batch at which the first run kills itself", std::uint64_t{0});
    cli.path("--dir", dir,
             "where out.txt and job.ckpt go: a new or empty directory, or one of an earlier run");
    cli.parse(argc, argv);
    std::uint64_t const batches = (records + batch - 1) / batch;
    if (crash->count() == 0)
        crash_at = batches / 2 + 3 < batches ? batches / 2 + 3 : batches / 2;
    else if (crash_at >= batches)
        cli.fail("--crash-at-batch " + std::to_string(crash_at) + " is not below the job's " +
                 std::to_string(batches) + " batches: the first run would not crash");
    try {
        prepare(dir, cli);

        // 1. The first run, in a child that dies at batch crash_at.
        std::fflush(stdout);
        pid_t const child = ::fork();
        if (child == 0) {
            try {
                run_job(dir, records, batch, crash_at);
            } catch (std::exception const& e) {
                std::fprintf(stderr, "checkpoint_resume (first run): %s\n", e.what());
            }
            std::_Exit(1); // not reached when the crash happens
        }
        int status = 0;
        ::waitpid(child, &status, 0);
        bool const killed = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
        fmt::print("first run: {}; {} holds {} bytes\n",
                   killed ? "killed by SIGKILL" : "ended by itself", (dir / "out.txt").string(),
                   fs::file_size(dir / "out.txt"));

        // 2. The second run resumes.
        std::uint64_t const rest = run_job(dir, records, batch, UINT64_MAX);
        fmt::print("second run: wrote {} records\n", rest);

        // 3. Every record exactly once, in order.
        std::ifstream in(dir / "out.txt");
        std::uint64_t expect = 0, bad = 0;
        for (std::string line; std::getline(in, line); ++expect)
            bad += line != "record " + std::to_string(expect);
        fmt::print("out.txt: {} lines, {} out of place; {}\n", expect, bad,
                   killed && expect == records && bad == 0 ? "every record exactly once" : "WRONG");
        return killed && expect == records && bad == 0 ? 0 : 1;
    } catch (std::exception const& e) {
        std::fprintf(stderr, "checkpoint_resume: %s\n", e.what());
        return 1;
    }
}
