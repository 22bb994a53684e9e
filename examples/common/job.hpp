// examples/common/job.hpp: how every example's job ends: the exit codes, and one line on stderr
// naming the example and what stopped it. The examples' main returns run_main(name, body).

#ifndef STREAMBATCH_EXAMPLES_COMMON_JOB_HPP
#define STREAMBATCH_EXAMPLES_COMMON_JOB_HPP

#include <streambatch/job.hpp>

#include <cstdio>
#include <exception>

namespace examples {

/// The exit codes of the examples' jobs (docs/guarantees.md):
///   0 done; 130 / 143 stopped by SIGINT / SIGTERM (resume by running again);
///   75 another copy of the job holds its fence (EX_TEMPFAIL: try again later);
///   65 the input is not the one the job's checkpoint was taken on (EX_DATAERR); 1 other errors.
enum exit_code : int { done = 0, failed = 1, input_changed = 65, fence_held = 75 };

/// Runs `body` (which returns a streambatch::job_result) and turns what can end a job into the
/// exit codes above, with one line on stderr naming the example.
/// `hint`: one more line after an input_changed error (what the user can do), if not empty.
template <class Body>
int run_main(char const* name, Body&& body, char const* hint = "")
{
    try {
        streambatch::job_result const r = body();
        if (r.signal != 0)
            std::fprintf(stderr,
                         "%s: stopped by signal %d after %llu rows this run; run again to resume\n",
                         name, r.signal, static_cast<unsigned long long>(r.report.records));
        return r.exit_code();
    } catch (streambatch::fence_held const& e) {
        std::fprintf(stderr, "%s: %s\n", name, e.what());
        return exit_code::fence_held;
    } catch (streambatch::input_changed const& e) {
        std::fprintf(stderr, "%s: %s\n", name, e.what());
        if (*hint)
            std::fprintf(stderr, "%s: %s\n", name, hint);
        return exit_code::input_changed;
    } catch (std::exception const& e) {
        std::fprintf(stderr, "%s: %s\n", name, e.what());
        return exit_code::failed;
    }
}

} // namespace examples

#endif
