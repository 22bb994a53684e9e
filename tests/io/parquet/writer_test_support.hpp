// Shared by the Parquet writer and sink tests: the npm oracles (tests/io/parquet/oracle), run
// through node, and the canonical JSON lines read.mjs prints, built from the values written.
#ifndef STREAMBATCH_TESTS_PARQUET_WRITER_TEST_SUPPORT_HPP_INCLUDED
#define STREAMBATCH_TESTS_PARQUET_WRITER_TEST_SUPPORT_HPP_INCLUDED

#include <streambatch/io/parquet/writer.hpp>

#include <catch2/catch.hpp>

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

namespace writer_test {

namespace fs = std::filesystem;

inline bool required_here()
{
    char const* ci = std::getenv("CI");
    char const* all = std::getenv("STREAMBATCH_REQUIRE_ALL");
    return STREAMBATCH_PARQUET_REQUIRE_TESTING || (ci && std::string_view(ci) == "true") ||
           (all && (std::string_view(all) == "ON" || std::string_view(all) == "1"));
}

/// The oracles' directory (install.sh's, from STREAMBATCH_PARQUET_ORACLES). Missing: exit 77
/// (skipped), or fail in CI.
inline fs::path oracles()
{
    char const* env = std::getenv("STREAMBATCH_PARQUET_ORACLES");
    fs::path dir = env ? env : "";
    if (!dir.empty() && fs::exists(dir / "read.mjs") && fs::is_directory(dir / "node_modules"))
        return dir;
    if (required_here())
        FAIL("the Parquet oracles are not installed at \""
             << dir.string()
             << "\" (STREAMBATCH_PARQUET_ORACLES; tests/io/parquet/oracle/install.sh)");
    std::fprintf(stderr, "Parquet oracles not installed at \"%s\": skipped\n",
                 dir.string().c_str());
    std::exit(77);
}

inline std::string shell_quote(std::string const& s)
{
    std::string q = "'";
    for (char c : s)
        q += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return q + "'";
}

/// stdout of `node <script> <args...>`; the test fails when node does not exit 0.
inline std::string node(std::string const& script, std::vector<std::string> const& args)
{
    std::string cmd = "node " + shell_quote((oracles() / script).string());
    for (auto const& a : args)
        cmd += " " + shell_quote(a);
    FILE* p = ::popen(cmd.c_str(), "r");
    REQUIRE(p != nullptr);
    std::string out;
    char buf[65536];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0)
        out.append(buf, n);
    int const st = ::pclose(p);
    INFO(cmd);
    REQUIRE(WIFEXITED(st));
    REQUIRE(WEXITSTATUS(st) == 0);
    return out;
}

/// What read.mjs prints for `engine` on `file`.
inline std::string read_with(std::string const& engine, fs::path const& file)
{
    return node("read.mjs", {engine, file.string()});
}

inline std::string json_string(std::string_view s)
{
    std::string o = "\"";
    for (unsigned char c : s) {
        switch (c) {
        case '"':
            o += "\\\"";
            break;
        case '\\':
            o += "\\\\";
            break;
        case '\b':
            o += "\\b";
            break;
        case '\f':
            o += "\\f";
            break;
        case '\n':
            o += "\\n";
            break;
        case '\r':
            o += "\\r";
            break;
        case '\t':
            o += "\\t";
            break;
        default:
            if (c < 0x20) {
                char u[8];
                std::snprintf(u, sizeof u, "\\u%04x", c);
                o += u;
            } else {
                o += static_cast<char>(c);
            }
        }
    }
    return o + "\"";
}

inline std::string float_text(double v)
{
    if (std::isnan(v))
        return "\"nan\"";
    char b[24];
    std::snprintf(b, sizeof b, "\"%016llx\"",
                  static_cast<unsigned long long>(std::bit_cast<std::uint64_t>(v)));
    return b;
}

inline std::string hex_text(std::string_view s)
{
    std::string o = "\"x";
    char b[4];
    for (unsigned char c : s) {
        std::snprintf(b, sizeof b, "%02x", c);
        o += b;
    }
    return o + "\"";
}

/// The canonical text of one cell written to column `c` (read.mjs's format).
inline std::string canon(streambatch::parquet::column_spec const& c,
                         streambatch::parquet::cell const& v)
{
    using namespace streambatch::parquet;
    return std::visit(
        [&](auto const& x) -> std::string {
            using T = std::decay_t<decltype(x)>;
            if constexpr (std::is_same_v<T, std::monostate>)
                return "null";
            else if constexpr (std::is_same_v<T, bool>)
                return x ? "true" : "false";
            else if constexpr (std::is_same_v<T, std::string>)
                return c.logical && c.logical->kind == logical_type::kind_t::string ? json_string(x)
                                                                                    : hex_text(x);
            else if constexpr (std::is_floating_point_v<T>) {
                if (c.type == physical_type::float_)
                    return float_text(static_cast<double>(static_cast<float>(x)));
                return float_text(static_cast<double>(x));
            } else if constexpr (std::is_same_v<T, std::int64_t> ||
                                 std::is_same_v<T, std::uint64_t>) {
                if (c.type == physical_type::float_)
                    return float_text(static_cast<double>(static_cast<float>(x)));
                if (c.type == physical_type::double_)
                    return float_text(static_cast<double>(x));
                return std::to_string(x);
            } else
                return "?";
        },
        v);
}

inline std::string canon_row(std::vector<streambatch::parquet::column_spec> const& cols,
                             std::vector<streambatch::parquet::cell> const& row)
{
    std::string s = "[";
    for (std::size_t i = 0; i < row.size(); ++i) {
        if (i)
            s += ',';
        s += canon(cols[i], row[i]);
    }
    return s + "]";
}

/// A fresh empty directory under the temp dir, removed at scope exit.
struct temp_dir {
    fs::path path;
    explicit temp_dir(std::string const& tag)
    {
        std::string t = (fs::temp_directory_path() / ("sb-pqw-" + tag + "-XXXXXX")).string();
        REQUIRE(::mkdtemp(t.data()) != nullptr);
        path = t;
    }
    ~temp_dir()
    {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
    temp_dir(temp_dir const&) = delete;
    temp_dir& operator=(temp_dir const&) = delete;
};

} // namespace writer_test

#endif
