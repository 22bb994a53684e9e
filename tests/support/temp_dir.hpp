// tests/support/temp_dir.hpp: the one temporary directory of the tests.
//
//     test::temp_dir dir;                       // $TMPDIR/streambatch-test-XXXXXX, made now
//     auto ckpt = dir / "job.ckpt";             // a path inside it
//     dir.write("in.csv", "a,b\n1,2\n");        // a file inside it, returned as a path
//     test::temp_dir disk("/var/tmp", "x-");    // /var/tmp/x-XXXXXX: a parent of the caller's
//     choice
//
// mkdtemp(3) makes it (mode 0700, a fresh name, never an existing directory); the destructor
// removes it and everything in it, also when the test fails (an exception unwinds through it).
// Not copyable (two owners would remove it twice); movable.
// Errors: std::system_error (with the template's path) when mkdtemp fails, std::runtime_error
// when write() cannot write the file.

#ifndef STREAMBATCH_TESTS_SUPPORT_TEMP_DIR_HPP
#define STREAMBATCH_TESTS_SUPPORT_TEMP_DIR_HPP

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

namespace test {

class temp_dir {
    std::filesystem::path path_;

public:
    /// Makes $TMPDIR/<prefix>XXXXXX (TMPDIR unset: /tmp).
    explicit temp_dir(std::string_view prefix = "streambatch-test-")
        : temp_dir(default_parent(), prefix)
    {}
    /// Makes <parent>/<prefix>XXXXXX (the cgroup tests want a disk, not a tmpfs $TMPDIR).
    temp_dir(std::filesystem::path const& parent, std::string_view prefix)
    {
        std::string const pattern = (parent / (std::string(prefix) + "XXXXXX")).string();
        std::string name = pattern; // mkdtemp fills in the X's, also when it then fails
        if (::mkdtemp(name.data()) == nullptr)
            throw std::system_error(errno, std::generic_category(), "mkdtemp " + pattern);
        path_ = std::filesystem::path(name).lexically_normal(); // TMPDIR=/tmp//: one slash
    }
    /// $TMPDIR, or /tmp when it is unset or empty.
    static std::filesystem::path default_parent()
    {
        char const* tmp = std::getenv("TMPDIR");
        return tmp && *tmp ? tmp : "/tmp";
    }
    ~temp_dir()
    {
        if (!path_.empty()) {
            std::error_code ignored; // a destructor must not throw; a leftover is harmless
            std::filesystem::remove_all(path_, ignored);
        }
    }
    temp_dir(temp_dir const&) = delete;
    temp_dir& operator=(temp_dir const&) = delete;
    temp_dir(temp_dir&& other) noexcept : path_(std::exchange(other.path_, {})) {}
    temp_dir& operator=(temp_dir&& other) noexcept
    {
        if (this != &other) {
            temp_dir gone(std::move(*this)); // removes the old directory
            path_ = std::exchange(other.path_, {});
        }
        return *this;
    }

    std::filesystem::path const& path() const noexcept { return path_; }
    operator std::filesystem::path const&() const noexcept { return path_; }
    std::filesystem::path operator/(std::filesystem::path const& name) const
    {
        return path_ / name;
    }

    /// Writes `text` to <dir>/<name> (binary, replacing it) and returns its path.
    std::filesystem::path write(std::filesystem::path const& name, std::string_view text) const
    {
        auto file = path_ / name;
        std::ofstream out(file, std::ios::binary | std::ios::trunc);
        out.write(text.data(), static_cast<std::streamsize>(text.size()));
        out.close();
        if (!out)
            throw std::runtime_error("temp_dir: cannot write " + file.string());
        return file;
    }
};

} // namespace test

#endif
