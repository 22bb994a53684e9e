#!/usr/bin/env python3
"""bench/gbench_results.py: turns a Google Benchmark JSON file (--benchmark_format=json, with
repetitions) of bench_csv or bench_runner into the Markdown of bench/RESULTS-csv.md or
bench/RESULTS-runner.md. Driven by scripts/bench.sh; rerun that rather than edit the output.

Every figure is the median (min-max) over the repetitions; every ratio is the median (min-max) of
the ratios taken repetition by repetition (the same repetition_index of the two benchmarks, run
close together with --benchmark_enable_random_interleaving). Every ratio measured is printed,
whichever way it went; a target it misses is marked **miss**.

    gbench_results.py csv|runner RESULTS.json [--smoke] > RESULTS-x.md
"""
import json
import os
import platform
import statistics
import subprocess
import sys
import time


def load(path):
    data = json.load(open(path))
    runs = {}
    for b in data["benchmarks"]:
        if b.get("run_type", "iteration") != "iteration" or b.get("error_occurred"):
            if b.get("error_occurred"):
                sys.exit(f"gbench_results.py: {b['name']} failed: {b.get('error_message')}")
            continue
        # "bm_for_each_batch/2/real_time" -> "bm_for_each_batch/2": drop the run's settings
        name = "/".join(p for p in b.get("run_name", b["name"]).split("/") if p != "real_time" and ":" not in p)
        runs.setdefault(name, {})[b.get("repetition_index", 0)] = b
    return data.get("context", {}), runs


def fig(v, fmt):
    return f"{fmt(statistics.median(v))} ({fmt(min(v))}-{fmt(max(v))})"


def rate(runs, name, key="items_per_second"):
    if name not in runs:
        sys.exit(f"gbench_results.py: no benchmark {name} in the results")
    return {i: b[key] for i, b in runs[name].items() if key in b}


def ratios(a, b):
    common = sorted(set(a) & set(b))
    return [a[i] / b[i] for i in common]


def verdict(r, target, higher=True):
    m = statistics.median(r)
    ok = m >= target if higher else m <= target
    return "pass" if ok else "**miss**"


def header(title, ctx, reps, smoke):
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                               text=True).stdout.strip()
    except OSError:
        commit, dirty = "?", ""
    load = open("/proc/loadavg").read().split()[0] if platform.system() == "Linux" else "?"
    lines = [f"# {title}", ""]
    if smoke:
        lines += ["**SMOKE RUN (tiny sizes, one or two repetitions): these figures mean nothing; "
                  "`bash scripts/bench.sh` without --smoke writes the real ones.**", ""]
    lines += [
        "Written by `bash scripts/bench.sh` (bench/gbench_results.py); rerun it rather than edit this file.",
        "",
        f"**Machine:** {ctx.get('num_cpus', '?')} CPUs at {ctx.get('mhz_per_cpu', '?')} MHz, "
        f"{platform.system()} {platform.release()}; streambatch built Release (the `release` preset); "
        f"load average {load} at the end; "
        f"commit {commit}{' + uncommitted changes' if dirty else ''}; "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}. {reps} repetitions of each case, "
        "randomly interleaved. Figures: median (min-max); ratios: median (min-max) of the ratios "
        "taken repetition by repetition.",
        "",
    ]
    return lines


def csv_report(ctx, runs, smoke):
    sb = rate(runs, "bm_csv_streambatch")
    lib = rate(runs, "bm_csv_libcsv")
    mem = rate(runs, "bm_memchr_lines")
    batches = rate(runs, "bm_csv_streambatch_batches")
    mb = lambda n: rate(runs, n, "bytes_per_second")
    reps = max(len(v) for v in runs.values())
    out = header("CSV reader: streambatch::csv against libcsv and memchr", ctx, reps, smoke)
    out += ["| case | M rows/s | MB/s |", "|---|---|---|"]
    names = [("memchr newline count (the floor)", "bm_memchr_lines"), ("libcsv 3.0.3, CSV_STRICT", "bm_csv_libcsv"),
             ("streambatch `csv::rows`", "bm_csv_streambatch"),
             ("streambatch into `views::chunk(1000)`", "bm_csv_streambatch_batches")]
    names += [(f"streambatch, {n} partitions one after the other", f"bm_csv_streambatch_partitions/{n}")
              for n in (4, 64)]
    for label, name in names:
        if name in runs:
            r, b = rate(runs, name), mb(name)
            out.append(f"| {label} | {fig([x / 1e6 for x in r.values()], lambda x: f'{x:.2f}')} | "
                       f"{fig([x / 1e6 for x in b.values()], lambda x: f'{x:.0f}')} |")
    r_lib = ratios(sb, lib)
    r_mem = ratios(mem, sb)
    r_batch = ratios(batches, sb)
    f3 = lambda x: f"{x:.2f}"
    out += ["", "| target | measured | verdict |", "|---|---|---|",
            f"| streambatch ≥ 1.5 × libcsv's rows/s | {fig(r_lib, f3)} × | {verdict(r_lib, 1.5)} |",
            f"| streambatch within 4 × of memchr's time (memchr rows/s ÷ streambatch's) | {fig(r_mem, f3)} × | "
            f"{verdict(r_mem, 4.0, higher=False)} |",
            f"| (no target) batches of 1000 rows against the plain read | {fig(r_batch, f3)} × | – |",
            "", f"`bench/bench_csv.cpp`: the file, ~{os.environ.get('STREAMBATCH_BENCH_CSV_MB', '50')} MiB of 8 columns with quoted fields, doubled quotes and "
            "embedded newlines, read from the page cache in 64 KiB blocks."]
    return out


def runner_report(ctx, runs, smoke):
    seq = rate(runs, "bm_sequential_loop")
    reps = max(len(v) for v in runs.values())
    out = header("Runner: for_each_batch against oneTBB's parallel_pipeline", ctx, reps, smoke)
    out += ["| variant | k records/s | × sequential |", "|---|---|---|"]
    f0 = lambda x: f"{x:.0f}"
    f2 = lambda x: f"{x:.2f}"
    out.append(f"| sequential loop | {fig([x / 1e3 for x in seq.values()], f0)} | 1 |")
    rows = [(f"`for_each_batch`, k = {k}", f"bm_for_each_batch/{k}") for k in (1, 2, 4)]
    rows += [(f"oneTBB `parallel_pipeline`, k = {k}", f"bm_tbb_parallel_pipeline/{k}") for k in (2, 4)]
    for label, name in rows:
        r = rate(runs, name)
        out.append(f"| {label} | {fig([x / 1e3 for x in r.values()], f0)} | {fig(ratios(r, seq), f2)} |")
    out += ["", "| comparison | measured | verdict |", "|---|---|---|"]
    for k in (2, 4):
        fe, tbb = rate(runs, f"bm_for_each_batch/{k}"), rate(runs, f"bm_tbb_parallel_pipeline/{k}")
        r_seq = ratios(fe, seq)
        out.append(f"| `for_each_batch` k = {k} ≥ 1.8 × sequential | {fig(r_seq, f2)} × | {verdict(r_seq, 1.8)} |")
        r_tbb = ratios(fe, tbb)
        led = sum(1 for x in r_tbb if x > 1)
        out.append(f"| `for_each_batch` / oneTBB, k = {k} (no target; > 1: ours faster) | {fig(r_tbb, f2)} | "
                   f"ours faster in {led} of {len(r_tbb)} repetitions |")
    out += ["", "`bench/bench_runner.cpp`: 200 000 generated records of ~500 bytes, batches of 1 000, a CPU-bound "
            "step (FNV-1a passes) in parallel, an in-order commit; every variant calls the same out-of-line "
            "`process()`. Wall time (UseRealTime)."]
    return out


def main():
    if len(sys.argv) < 3 or sys.argv[1] not in ("csv", "runner"):
        sys.exit(__doc__)
    ctx, runs = load(sys.argv[2])
    smoke = "--smoke" in sys.argv[3:]
    lines = (csv_report if sys.argv[1] == "csv" else runner_report)(ctx, runs, smoke)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
