// examples/common/args.hpp: the examples' command lines, parsed strictly with CLI11.
//
// Every value is checked whole: "10x", "1e3", "-1", "", a number that does not fit, or one
// outside the range the example allows (zero batches, say) is an error. An error prints ONE
// line, "PROGRAM: --flag: what is wrong (see --help)", on stderr and exits with status 2;
// --help prints the usage and exits 0. Nothing falls back to a default silently.
//
//     examples::command_line cli("stream_records", "Streams generated records ...");
//     std::uint64_t records = 1'000'000;
//     cli.number("--records", records, "records to generate");          // 1 or more
//     cli.number("--throttle-us", pause, "sleep after each batch", 0);  // 0 allowed
//     cli.parse(argc, argv);

#ifndef STREAMBATCH_EXAMPLES_COMMON_ARGS_HPP
#define STREAMBATCH_EXAMPLES_COMMON_ARGS_HPP

#include <streambatch/detail/parse.hpp>

#include <CLI/CLI.hpp>

#include <concepts>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <string>
#include <utility>
#include <vector>

namespace examples {

class command_line {
    std::string program_;
    CLI::App app_;

public:
    command_line(std::string program, std::string description)
        : program_(std::move(program)), app_(std::move(description), program_)
    {
        app_.set_help_flag("-h,--help", "Print this help and exit");
    }

    /// --flag N: a whole number in [min, max] (min defaults to 1: zero rarely makes sense).
    template <std::integral T>
    CLI::Option* number(std::string const& flag, T& value, std::string const& help, T min = 1,
                        T max = std::numeric_limits<T>::max())
    {
        return app_
            .add_option_function<std::string>(
                flag,
                [flag, &value, min, max](std::string const& text) {
                    auto const v = streambatch::detail::parse_whole<T>(text);
                    if (!v)
                        throw CLI::ValidationError(flag,
                                                   "wants a whole number, got '" + text + "'");
                    if (*v < min || *v > max)
                        throw CLI::ValidationError(
                            flag, text + " is out of range: " + std::to_string(min) + " to " +
                                      std::to_string(max));
                    value = *v;
                },
                help + " (" + std::to_string(min) + " to " + std::to_string(max) + ")")
            ->type_name("N")
            ->default_str(std::to_string(value));
    }

    /// --flag TEXT: any non-empty text.
    CLI::Option* text(std::string const& flag, std::string& value, std::string const& help)
    {
        return app_.add_option(flag, value, help)
            ->type_name("TEXT")
            ->capture_default_str()
            ->check(non_empty());
    }

    /// --flag PATH: a non-empty path.
    CLI::Option* path(std::string const& flag, std::filesystem::path& value,
                      std::string const& help)
    {
        return app_
            .add_option_function<std::string>(
                flag, [&value](std::string const& text) { value = text; }, help)
            ->type_name("PATH")
            ->default_str(value.string())
            ->check(non_empty());
    }

    /// --flag WORD: one of `words` (each with the value it sets), as given; anything else is an
    /// error naming them all: "--copy-format: wants auto, text or binary, got 'csv'".
    template <class E>
    CLI::Option* choice(std::string const& flag, E& value,
                        std::vector<std::pair<std::string, E>> words, std::string const& help)
    {
        std::string list;
        std::string current;
        for (std::size_t i = 0; i < words.size(); ++i) {
            list += (i == 0 ? "" : i + 1 == words.size() ? " or " : ", ") + words[i].first;
            if (words[i].second == value)
                current = words[i].first;
        }
        return app_
            .add_option_function<std::string>(
                flag,
                [flag, &value, words, list](std::string const& text) {
                    for (auto const& [word, v] : words)
                        if (word == text) {
                            value = v;
                            return;
                        }
                    throw CLI::ValidationError(flag, "wants " + list + ", got '" + text + "'");
                },
                help + " (" + list + ")")
            ->type_name("WORD")
            ->default_str(current);
    }

    /// --flag: on when given.
    CLI::Option* flag(std::string const& flag, bool& value, std::string const& help)
    {
        return app_.add_flag(flag, value, help);
    }

    CLI::App& app() { return app_; }

    /// Parses argv: --help prints the usage and exits 0; an error prints one line and exits 2.
    void parse(int argc, char** argv)
    {
        try {
            app_.parse(argc, argv);
        } catch (CLI::CallForHelp const&) {
            std::fputs(app_.help().c_str(), stdout);
            std::exit(0);
        } catch (CLI::ParseError const& e) {
            std::fprintf(stderr, "%s: %s (see --help)\n", program_.c_str(), e.what());
            std::exit(2);
        }
    }

    /// For an error found after parsing (two options that do not go together): one line, exit 2.
    [[noreturn]] void fail(std::string const& message) const
    {
        std::fprintf(stderr, "%s: %s\n", program_.c_str(), message.c_str());
        std::exit(2);
    }

private:
    static CLI::Validator non_empty()
    {
        return CLI::Validator(
            [](std::string& s) {
                return s.empty() ? std::string("wants a value, got an empty one") : std::string();
            },
            "", "non-empty");
    }
};

} // namespace examples

#endif
