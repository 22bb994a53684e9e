// fuzz/checkpoint/fuzz_checkpoint.cpp: the checkpoint file parser (streambatch::read_checkpoint
// and the flat JSON reader under it) on arbitrary bytes. The only acceptable failure is
// streambatch::checkpoint_error; anything else - a crash, a sanitizer report, another
// exception - is a bug. What parses must survive a write/read round trip unchanged.
//
//     bash fuzz/run.sh 60 checkpoint

#include <streambatch/runner/checkpoint.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <unistd.h>

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size)
{
    static std::filesystem::path const dir = [] {
        auto d = std::filesystem::temp_directory_path() /
                 ("streambatch-fuzz-checkpoint-" + std::to_string(::getpid()));
        std::filesystem::create_directories(d);
        return d;
    }();
    auto const path = dir / "job.ckpt";
    {
        std::ofstream out(path, std::ios::binary | std::ios::trunc);
        out.write(reinterpret_cast<char const*>(data), static_cast<std::streamsize>(size));
    }
    try {
        auto c = streambatch::read_checkpoint(path);
        if (!c)
            std::abort(); // the file exists: nullopt would be wrong
        streambatch::write_checkpoint(path, *c);
        auto again = streambatch::read_checkpoint(path);
        if (!again || again->job != c->job || again->fingerprint != c->fingerprint ||
            again->batches != c->batches || again->records != c->records ||
            again->position != c->position)
            std::abort();
    } catch (streambatch::checkpoint_error const&) {
    }
    return 0;
}
