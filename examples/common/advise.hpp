// examples/common/advise.hpp: the examples' --advise command: the batch-size advisor
// (streambatch/runner/advisor.hpp) run on the example's own source and step, with a scratch sink,
// printing the trials, the model and the recommended --batch and --jobs.
//
//     --advise                  run the advisor instead of the job, then stop (exit 0)
//     --advise-sample N         records of the input a trial reads (default 50 000)
//     --advise-repeats R        runs of each trial, the median kept (default 3)
//     --advise-confirm R        runs of the recommended setting on a longer sample; their median
//                               is the predicted records/s (default 3; 0: the model's)
//     --advise-confirm-sample N records a confirming run reads (default 4 samples)
//     --advise-sizes LIST       batch sizes to try (default 100,300,1000,3000,10000)
//     --advise-jobs LIST        batches in flight to try (default 1,2; must hold 1)
//     --advise-memory BYTES     the goal: most records/s within this peak RSS (0: none)
//     --advise-latency MS       ... and at most this many ms a batch (0: none)
//     --advise-plot FILE        also write the curve as an SVG
//
// An advisor error (an empty or too small sample, a budget no setting meets) is one line on
// stderr, exit 1. The example's real sink is never written: each trial gets a scratch one.

#ifndef STREAMBATCH_EXAMPLES_COMMON_ADVISE_HPP
#define STREAMBATCH_EXAMPLES_COMMON_ADVISE_HPP

#include <streambatch/detail/parse.hpp>
#include <streambatch/runner/advisor.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "args.hpp"

namespace examples {

struct advise_settings {
    bool on = false;
    std::size_t sample = 50'000;
    std::size_t repeats = 3;
    std::size_t confirm = 3;
    std::size_t confirm_sample = 0;
    std::string sizes = "100,300,1000,3000,10000";
    std::string jobs = "1,2";
    std::uint64_t memory = 0;
    std::uint64_t latency_ms = 0;
    std::filesystem::path plot;

    void add_to(command_line& cli)
    {
        cli.flag("--advise", on,
                 "run the batch-size advisor on a sample (scratch sink), print its advice, stop");
        cli.number("--advise-sample", sample, "records of the input each advisor trial reads");
        cli.number("--advise-repeats", repeats, "runs of each advisor trial (the median is kept)",
                   std::size_t{1}, std::size_t{100});
        cli.number("--advise-confirm", confirm,
                   "runs of the recommended setting on a longer sample (their median is the "
                   "prediction; 0: the model's)",
                   std::size_t{0}, std::size_t{100});
        cli.number("--advise-confirm-sample", confirm_sample,
                   "records a confirming run reads (0: 4 times --advise-sample)", std::size_t{0});
        cli.text("--advise-sizes", sizes, "batch sizes the advisor tries, comma-separated");
        cli.text("--advise-jobs", jobs, "batches in flight the advisor tries (must hold 1)");
        cli.number("--advise-memory", memory, "advisor goal: peak RSS in bytes (0: no budget)",
                   std::uint64_t{0});
        cli.number("--advise-latency", latency_ms,
                   "advisor goal: at most this many ms a batch (0: no bound)", std::uint64_t{0});
        cli.path("--advise-plot", plot, "also write the advisor's curve to this SVG");
    }

    static std::vector<std::size_t> parse_list(std::string const& flag, std::string_view text)
    {
        std::vector<std::size_t> out;
        while (true) {
            auto const comma = text.find(',');
            auto const v = streambatch::detail::parse_whole<std::size_t>(text.substr(0, comma));
            if (!v || *v == 0)
                throw streambatch::advisor_error(flag +
                                                 ": wants whole numbers from 1, comma-"
                                                 "separated, got '" +
                                                 std::string(text.substr(0, comma)) + "'");
            out.push_back(*v);
            if (comma == std::string_view::npos)
                return out;
            text.remove_prefix(comma + 1);
        }
    }

    streambatch::advisor_options options() const
    {
        streambatch::advisor_options o;
        o.batch_sizes = parse_list("--advise-sizes", sizes);
        o.in_flight = parse_list("--advise-jobs", jobs);
        o.sample_records = sample;
        o.repeats = repeats;
        o.confirm_repeats = confirm;
        o.confirm_records = confirm_sample;
        o.memory_budget = memory;
        o.latency_bound = std::chrono::milliseconds(latency_ms);
        return o;
    }
};

/// Runs the advisor and prints its advice; returns the exit code (0, or 1 with one line on
/// stderr naming the example and the error).
template <class MakeSource, class Step, class MakeSink>
int run_advise(char const* name, advise_settings const& settings, MakeSource&& make_source,
               Step&& step, MakeSink&& make_sink)
{
    try {
        std::printf("advising on a sample of %zu records (scratch sink)\n", settings.sample);
        std::fflush(stdout);
        streambatch::advice const a =
            streambatch::advise(std::forward<MakeSource>(make_source), std::forward<Step>(step),
                                std::forward<MakeSink>(make_sink), settings.options());
        std::fputs(streambatch::to_text(a).c_str(), stdout);
        if (!settings.plot.empty()) {
            streambatch::write_svg(a, settings.plot);
            std::printf("plot: %s\n", settings.plot.string().c_str());
        }
        return 0;
    } catch (std::exception const& e) {
        std::fprintf(stderr, "%s: %s\n", name, e.what());
        return 1;
    }
}

} // namespace examples

#endif
