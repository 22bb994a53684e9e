// examples/common/postgres.hpp: how the PostgreSQL examples find their server.
//
// --conninfo ("host=... port=... dbname=..." or a postgresql:// URI), else libpq's PG*
// variables (PGHOST, PGPORT, PGUSER, PGDATABASE, ...). When STREAMBATCH_PG_ENV names a file of
// KEY=VALUE lines (the test server's env file, tests/io/sql), those are set first.
// --table NAME goes into SQL text, so it must be a plain lower-case identifier.

#ifndef STREAMBATCH_EXAMPLES_COMMON_POSTGRES_HPP
#define STREAMBATCH_EXAMPLES_COMMON_POSTGRES_HPP

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <string>
#include <string_view>

#include "args.hpp"

namespace examples {

struct postgres_settings {
    std::string conninfo; ///< empty: libpq's PG* variables
    std::string table = "customers";

    void add_to(command_line& cli)
    {
        cli.app()
            .add_option("--conninfo", conninfo,
                        "libpq connection string or URI (default: the PG* variables)")
            ->type_name("STR");
        cli.text("--table", table, "the table: a plain lower-case identifier")
            ->check(CLI::Validator(
                [](std::string& s) {
                    return plain_identifier(s)
                               ? std::string()
                               : "wants a plain lower-case identifier ([a-z_][a-z0-9_]*), got '" +
                                     s + "'";
                },
                "IDENT", "identifier"));
    }

    /// Sets STREAMBATCH_PG_ENV's variables (the test server's), when it names a file.
    static void load_env()
    {
        char const* env = std::getenv("STREAMBATCH_PG_ENV");
        if (!env || !*env)
            return;
        std::ifstream in(env);
        if (!in)
            throw std::runtime_error(std::string("cannot read STREAMBATCH_PG_ENV=") + env);
        for (std::string line; std::getline(in, line);)
            if (auto const eq = line.find('='); eq != std::string::npos && eq > 0)
                ::setenv(line.substr(0, eq).c_str(), line.substr(eq + 1).c_str(), 1);
    }

    static bool plain_identifier(std::string_view s)
    {
        if (s.empty() || s.size() > 63 || (s.front() >= '0' && s.front() <= '9'))
            return false;
        return std::ranges::all_of(
            s, [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; });
    }
};

} // namespace examples

#endif
