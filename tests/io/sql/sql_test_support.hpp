// tests/io/sql/sql_test_support.hpp: what the SQLite and PostgreSQL tests share.
//
// temp_dir             a fresh directory, removed with its files at scope exit: the tests' one
//                      helper, tests/support/temp_dir.hpp.
// unique_name(prefix)  a table name no other test process uses (pid + counter).
// read_lines(path)     a text file's lines.
// use_test_server()    points libpq's PG* variables at the test server: reads the KEY=VALUE
//                      file named by STREAMBATCH_PG_ENV (pg_server.sh writes it; CTest sets the
//                      variable). Without it, PGHOST/PGPORT must already be set; otherwise it
//                      throws: a PostgreSQL test never skips.
// free_port()          a loopback TCP port nobody listens on (bound, then closed).

#ifndef STREAMBATCH_TESTS_IO_SQL_SUPPORT_HPP
#define STREAMBATCH_TESTS_IO_SQL_SUPPORT_HPP

// Relative to this file: streambatch_sql_tests, streambatch_io_tests and pg_stream_rss do not
// have tests/ on their include path.
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "support/temp_dir.hpp"

namespace test {

inline std::string unique_name(std::string const& prefix)
{
    static std::atomic<int> counter{0};
    return prefix + "_" + std::to_string(::getpid()) + "_" + std::to_string(counter++);
}

inline std::vector<std::string> read_lines(std::filesystem::path const& path)
{
    std::vector<std::string> lines;
    std::ifstream in(path);
    for (std::string line; std::getline(in, line);)
        lines.push_back(line);
    return lines;
}

inline void use_test_server()
{
    static bool const done = [] {
        char const* env = std::getenv("STREAMBATCH_PG_ENV");
        if (!env || !*env) {
            if (std::getenv("PGHOST") && std::getenv("PGPORT"))
                return true;
            throw std::runtime_error(
                "no test server: set STREAMBATCH_PG_ENV to the env file that "
                "tests/io/sql/pg_server.sh start writes (CTest does), or PGHOST and PGPORT");
        }
        std::ifstream in(env);
        if (!in)
            throw std::runtime_error(std::string("cannot read STREAMBATCH_PG_ENV=") + env +
                                     ": did the test postgres.server.start run?");
        int n = 0;
        for (std::string line; std::getline(in, line);) {
            auto const eq = line.find('=');
            if (eq == std::string::npos || eq == 0)
                continue;
            ::setenv(line.substr(0, eq).c_str(), line.substr(eq + 1).c_str(), 1);
            ++n;
        }
        if (n == 0)
            throw std::runtime_error(std::string("STREAMBATCH_PG_ENV=") + env +
                                     " holds no variables");
        return true;
    }();
    (void)done;
}

inline int free_port()
{
    int const fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        throw std::runtime_error("socket() failed");
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof addr;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
        ::close(fd);
        throw std::runtime_error("bind() failed");
    }
    ::close(fd); // bound but never listening: connecting is refused
    return ntohs(addr.sin_port);
}

} // namespace test

#endif // STREAMBATCH_TESTS_IO_SQL_SUPPORT_HPP
