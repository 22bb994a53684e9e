// streambatch/job.hpp: a job with its guarantees built in (the job layer).
//
// In:     a source modelling job_source (csv::file_source, sqlite:: / postgres::keyset_source, or
//         your own), a step, a sink modelling job_sink (sqlite:: / postgres::job_sink,
//         file_sink, csv::file_sink, or your own).
// Out:    run_job (job/run_job.hpp), the contract (job/contract.hpp: job_source, job_sink,
//         job_state, holder, input_changed, fence_held, fence_lost), stop_on_signals
//         (job/stop_signals.hpp), file_sink (job/file_sink.hpp).
// Models: see each header.
// Memory: see each header.
// Errors: see each header and docs/guarantees.md.
// Example:
//     #include <streambatch/job.hpp>
//     auto r = streambatch::run_job(source, step, sink, {.job = "load customers"});

#ifndef STREAMBATCH_JOB_HPP_INCLUDED
#define STREAMBATCH_JOB_HPP_INCLUDED

#include <streambatch/job/contract.hpp>
#include <streambatch/job/run_job.hpp>
#include <streambatch/job/stop_signals.hpp>

#endif // STREAMBATCH_JOB_HPP_INCLUDED
