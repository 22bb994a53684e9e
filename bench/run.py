#!/usr/bin/python3
"""bench/run.py: runs streambatch's benchmarks and writes bench/RESULTS.md with two plots.

    /usr/bin/python3 bench/run.py [--build-dir build/release] [--runs 5] [--smoke] [--out FILE]

(scripts/bench.sh builds the `release` preset and calls this.) What it runs:
  1. the whole-process harness (bench/harness.cpp) and the Python design program
     (bench/python/etl_design.py), one process per run, in rounds: each round runs every
     configuration once, in a shuffled order, so that two configurations compared with each
     other ran minutes apart at most; peak RSS is each process's own VmHWM;
  2. the Google Benchmark binaries, with repetitions in random interleaving (repetition i of
     every case runs in the same round), so ratios are taken repetition by repetition;
  3. callgrind instruction counts (noise-free cross-checks): the harness's stream and guard jobs
     at 200 000 records, and each bench_chunk variant;
  4. gnuplot: plots/peak_rss_vs_records.svg and plots/throughput_vs_batch.svg beside the report,
     and results.json: every run's figures (whole-process runs, micro-benchmark repetitions in
     ns per record, callgrind counts), from which every number in the report can be recomputed.
Every figure is a median with min-max over the runs; every ratio is the median (min-max) of
the ratios taken pair by pair. --smoke: tiny sizes, one run, no callgrind of bench_chunk; for
CI (it checks that everything runs, never how fast).
"""

import argparse
import datetime
import json
import os
import platform
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PYTHON = "/usr/bin/python3"  # Debian's: a pyenv python3 may come first on PATH
MIB = 1024 * 1024


def die(msg):
    print(f"bench/run.py: {msg}", file=sys.stderr)
    sys.exit(1)


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


# --- statistics -------------------------------------------------------------------------------

class Stat:
    def __init__(self, values):
        self.values = [v for v in values if v is not None]
        self.n = len(self.values)
        self.median = statistics.median(self.values) if self.values else float("nan")
        self.min = min(self.values) if self.values else float("nan")
        self.max = max(self.values) if self.values else float("nan")

    def ci(self, level=0.95, resamples=2000):
        """Bootstrap confidence interval of the median (seeded: the same data gives the same text)."""
        if self.n < 2:
            return self.median, self.median
        rng = random.Random(12345)
        meds = sorted(statistics.median(rng.choices(self.values, k=self.n)) for _ in range(resamples))
        cut = int(resamples * (1 - level) / 2)
        return meds[cut], meds[resamples - 1 - cut]

    def fmt(self, f="{:.3g}", scale=1.0):
        if not self.values:
            return "n/a"
        a, lo, hi = (f.format(x / scale) for x in (self.median, self.min, self.max))
        return a if self.n == 1 else f"{a} ({lo}–{hi})"


def paired(a, b):
    """Ratios a[i]/b[i] for the indices both have."""
    return Stat([x / y for x, y in zip(a, b) if x is not None and y not in (None, 0)])


def g3(x):
    return f"{x:.3g}"


def mib(x):
    return f"{x / MIB:.1f}"


def rate(x):
    return f"{x / 1e6:.2f}"


# --- the machine ------------------------------------------------------------------------------

def read(path, default=""):
    try:
        return Path(path).read_text()
    except OSError:
        return default


def cmd_out(*args):
    try:
        return subprocess.run(args, capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def cmake_cache(build_dir, key):
    m = re.search(rf"^{key}:[A-Z]+=(.*)$", read(Path(build_dir) / "CMakeCache.txt"), re.M)
    return m.group(1) if m else ""


def machine_line(build_dir, load_start):
    cpu = re.search(r"model name\s*:\s*(.*)", read("/proc/cpuinfo"))
    mem = re.search(r"MemTotal:\s*(\d+)", read("/proc/meminfo"))
    osr = re.search(r'PRETTY_NAME="(.*)"', read("/etc/os-release"))
    cxx = os.path.realpath(cmake_cache(build_dir, "CMAKE_CXX_COMPILER") or "c++")
    cxx_ver = cmd_out(cxx, "-dumpfullversion") if cxx else ""
    bench_ver = cmd_out("dpkg-query", "-W", "-f=${Version}", "libbenchmark-dev")
    rv3_ver = cmd_out("dpkg-query", "-W", "-f=${Version}", "librange-v3-dev")
    commit = cmd_out("git", "-C", str(ROOT), "rev-parse", "--short", "HEAD")
    dirty = cmd_out("git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no")
    load_end = os.getloadavg()[0]
    return (f"{cpu.group(1) if cpu else platform.processor()}, {os.cpu_count()} CPUs "
            f"({len(os.sched_getaffinity(0))} usable), "
            f"{int(mem.group(1)) / 1024 / 1024:.1f} GiB RAM, Linux {platform.release()}, "
            f"{osr.group(1) if osr else 'unknown OS'}; "
            f"{Path(cxx).name if cxx else 'c++'} {cxx_ver} ({cmake_cache(build_dir, 'CMAKE_BUILD_TYPE')}), "
            f"Python {cmd_out(PYTHON, '-c', 'import platform; print(platform.python_version())')} "
            f"({PYTHON}), Google Benchmark {bench_ver or '?'}, range-v3 {rv3_ver or '?'}; "
            f"load average {load_start:.2f} at the start, {load_end:.2f} at the end; "
            f"commit {commit or '?'}{' + uncommitted changes' if dirty else ''}; "
            f"{datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}")


# --- whole-process runs -----------------------------------------------------------------------

def parse_kv(line):
    out = {}
    for part in line.split():
        k, _, v = part.partition("=")
        try:
            out[k] = int(v)
        except ValueError:
            try:
                out[k] = float(v)
            except ValueError:
                out[k] = v
    return out


class Process:
    def __init__(self, harness, python_ok):
        self.harness = harness
        self.python_ok = python_ok
        self.checksums = {}

    def command(self, lang, mode, records, batch):
        if lang == "cpp":
            return [str(self.harness), "--mode", mode, "--records", str(records), "--batch", str(batch)]
        return [PYTHON, str(HERE / "python" / "etl_design.py"), "--mode", mode,
                "--records", str(records), "--batch", str(batch)]

    def run(self, lang, mode, records, batch):
        cmd = self.command(lang, mode, records, batch)
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0:
            die(f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stderr}")
        lines = [ln for ln in p.stdout.splitlines() if ln.startswith("mode=")]
        if not lines:
            die(f"{' '.join(cmd)} printed no result line:\n{p.stdout}")
        r = parse_kv(lines[-1])
        # Both programs must have done the same work: same checksum for the same records.
        known = self.checksums.setdefault(records, r["checksum"])
        if known != r["checksum"]:
            die(f"{' '.join(cmd)}: checksum {r['checksum']}, another run had {known}")
        return r


def config_key(lang, mode, records, batch):
    return f"{lang}/{mode}/{records}/{batch}"


# --- Google Benchmark -------------------------------------------------------------------------

def run_gbench(binary, reps, min_time, tmp, extra=()):
    out = Path(tmp) / f"{binary.name}.json"
    cmd = [str(binary), f"--benchmark_min_time={min_time}", f"--benchmark_repetitions={reps}",
           "--benchmark_enable_random_interleaving=true", "--benchmark_out_format=json",
           f"--benchmark_out={out}", *extra]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        die(f"{' '.join(cmd)} failed:\n{p.stderr[-2000:]}")
    data = json.loads(out.read_text())
    runs = {}
    for b in data["benchmarks"]:
        if b.get("run_type") != "iteration":
            continue
        runs.setdefault(b["run_name"], []).append(b)
    for v in runs.values():
        v.sort(key=lambda b: b.get("repetition_index", 0))
    return runs


def ns_per_item(b):
    if b.get("items_per_second"):
        return 1e9 / b["items_per_second"]
    scale = {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9}[b["time_unit"]]
    return b["cpu_time"] * scale


def series(runs, name, f=ns_per_item):
    return [f(b) for b in runs.get(name, [])]


# --- callgrind --------------------------------------------------------------------------------

def callgrind(cmd, function, tmp):
    """Instructions executed inside `function` (inclusive), from one callgrind run."""
    out = Path(tempfile.mkstemp(dir=tmp, suffix=".cg")[1])
    vg = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", "--collect-atstart=no",
          f"--toggle-collect=*::{function}(*"]
    p = subprocess.run(vg + cmd, capture_output=True, text=True)
    if p.returncode != 0:
        die(f"{' '.join(vg + cmd)} failed:\n{p.stderr[-2000:]}")
    m = re.search(r"^(?:summary|totals):\s*(\d+)", out.read_text(), re.M)
    if not m or int(m.group(1)) == 0:
        die(f"callgrind counted nothing in {function} ({' '.join(cmd)})")
    return int(m.group(1)), p.stdout


# --- plots ------------------------------------------------------------------------------------

def gnuplot(script, tmp):
    path = Path(tmp) / "plot.gp"
    path.write_text(script)
    p = subprocess.run(["gnuplot", str(path)], capture_output=True, text=True)
    if p.returncode != 0:
        die(f"gnuplot failed:\n{p.stderr}")


def write_data(tmp, name, rows):
    path = Path(tmp) / name
    path.write_text("".join(" ".join(str(x) for x in row) + "\n" for row in rows))
    return path


# --- the report -------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description="Runs the benchmarks and writes bench/RESULTS.md.")
    ap.add_argument("--build-dir", default=str(ROOT / "build" / "release"))
    ap.add_argument("--harness", help="the harness binary (default: <build-dir>/bench/harness)")
    ap.add_argument("--bench-dir", help="where bench_* are (default: <build-dir>/bench)")
    ap.add_argument("--runs", type=int, default=7, help="runs of each whole-process configuration (default 7)")
    ap.add_argument("--reps", type=int, default=60,
                    help="repetitions of each bench_chunk case (default 60; the other binaries get 1/2, 2/3, 1/6 of it)")
    ap.add_argument("--out", default=str(HERE / "RESULTS.md"))
    ap.add_argument("--smoke", action="store_true", help="tiny sizes, one run: checks that it all runs")
    a = ap.parse_args()

    t_start = time.monotonic()
    load_start = os.getloadavg()[0]
    build = Path(a.build_dir)
    bench_dir = Path(a.bench_dir) if a.bench_dir else build / "bench"
    harness = Path(a.harness) if a.harness else bench_dir / "harness"
    out_md = Path(a.out)
    plots_dir = out_md.parent / "plots"
    plots_dir.mkdir(parents=True, exist_ok=True)
    for exe in [harness] + [bench_dir / f"bench_{n}" for n in ("chunk", "adaptive_chunk", "memory_guarded", "record_bytes")]:
        if not os.access(exe, os.X_OK):
            die(f"{exe} is missing: build the `release` preset first (cmake --workflow --preset ... or scripts/bench.sh)")
    if not Path(PYTHON).exists():
        die(f"{PYTHON} is missing: apt-get install python3 python3-psutil")
    if subprocess.run([PYTHON, "-c", "import psutil"], capture_output=True).returncode != 0:
        die("the Python design program needs psutil: apt-get install python3-psutil")
    have_gnuplot = shutil.which("gnuplot") is not None
    if not have_gnuplot and not a.smoke:
        die("gnuplot is missing: apt-get install gnuplot-nox")
    have_valgrind = shutil.which("valgrind") is not None
    if not have_valgrind and not a.smoke:
        die("valgrind is missing: apt-get install valgrind")

    smoke = a.smoke
    runs = 1 if smoke else a.runs
    reps = 1 if smoke else a.reps
    N = 2_000 if smoke else 1_000_000
    BIG = 20_000 if smoke else 10_000_000
    K = 100
    SWEEP = [1, 10, 50, 100, 500, 1000, 10000]
    NAIVE_COUNTS = [200, 1_000, N] if smoke else [10_000, 100_000, 300_000, N]
    STREAM_COUNTS = [200, 1_000, N, BIG] if smoke else [10_000, 100_000, 300_000, N, 3_000_000, BIG]
    PY_COUNTS = [200, N] if smoke else [10_000, 100_000, N]
    CG_RECORDS = 2_000 if smoke else 200_000

    proc = Process(harness, True)
    tmp = tempfile.mkdtemp(prefix="streambatch-bench-")

    # 1. whole-process configurations, run in rounds --------------------------------------------
    configs = {}
    def add(lang, mode, records, batch):
        configs[config_key(lang, mode, records, batch)] = (lang, mode, records, batch)
    for lang in ("cpp", "python"):
        for mode in ("naive", "batch", "stream", "guard"):
            add(lang, mode, N, K)
    for k in SWEEP:
        add("cpp", "guard", N, k)
    for n in NAIVE_COUNTS:
        add("cpp", "naive", n, K)
    for n in STREAM_COUNTS:
        add("cpp", "stream", n, K)
        add("cpp", "guard", n, K)
    for n in PY_COUNTS:
        add("python", "naive", n, K)
        add("python", "guard", n, K)

    # Configurations compared with each other run back to back (a block), so that a ratio is
    # taken between runs seconds apart; blocks and the runs inside them are shuffled each round.
    blocks = [[config_key(lang, mode, N, K) for lang in ("cpp", "python")] for mode in ("naive", "batch")]
    blocks.append([config_key("cpp", "stream", N, K), config_key("python", "stream", N, K),
                   config_key("python", "guard", N, K)] + [config_key("cpp", "guard", N, k) for k in SWEEP])
    for n in sorted(set(NAIVE_COUNTS) | set(STREAM_COUNTS) | set(PY_COUNTS)):
        if n != N:
            blocks.append([key for key in (config_key(lang, mode, n, K) for lang in ("cpp", "python")
                                            for mode in ("naive", "stream", "guard")) if key in configs])
    scheduled = [key for b in blocks for key in b]
    assert sorted(scheduled) == sorted(configs), "every configuration in exactly one block"

    results = {key: [None] * runs for key in configs}
    for r in range(runs):
        rng = random.Random(r)
        order = [list(b) for b in blocks]
        rng.shuffle(order)
        for b in order:
            rng.shuffle(b)
        log(f"whole-process round {r + 1}/{runs}: {len(configs)} configurations in {len(blocks)} blocks")
        for key in (key for b in order for key in b):
            results[key][r] = proc.run(*configs[key])

    def col(key, field):
        return [x[field] if x else None for x in results[key]]

    def st(key, field):
        return Stat(col(key, field))

    # The best configuration: the sweep's fastest batch size whose peak RSS stays <= 8 MiB.
    fits = [k for k in SWEEP if st(config_key("cpp", "guard", N, k), "peak_rss_kib").median * 1024 <= 8 * MIB]
    best_k = max(fits or SWEEP, key=lambda k: st(config_key("cpp", "guard", N, k), "records_per_s").median)

    # 2. micro-benchmarks -----------------------------------------------------------------------
    micro = {}
    # Many short repetitions: on a shared machine the noise comes in bursts, and pairing
    # repetition i of A with repetition i of B (run moments apart) cancels most of it.
    plan = [("chunk", reps, 0.01), ("adaptive_chunk", max(1, reps // 2), 0.01),
            ("memory_guarded", max(1, reps * 2 // 3), 0.05), ("record_bytes", max(1, reps // 6), 0.02)]
    for name, n_reps, min_time in plan:
        log(f"bench_{name}: {n_reps} repetitions")
        micro[name] = run_gbench(bench_dir / f"bench_{name}", n_reps, 0.001 if smoke else min_time, tmp)

    # 3. callgrind ------------------------------------------------------------------------------
    cg = {}
    if have_valgrind:
        for k in (K, 1000):
            def harness_cg(mode, *extra):
                log(f"callgrind: harness --mode {mode} --records {CG_RECORDS} --batch {k} {' '.join(extra)}")
                ir, stdout = callgrind([str(harness), "--mode", mode, "--records", str(CG_RECORDS), "--batch", str(k), *extra],
                                       f"run_{mode}", tmp)
                return ir, parse_kv(stdout.strip().splitlines()[-1])
            cg[("harness", "stream", k)] = harness_cg("stream")
            cg[("harness", "guard", k)] = harness_cg("guard")
            # valgrind runs the job ~50x slower, and the guard's rate limit is in time, so it reads
            # the probe ~50x more often per record than natively. Scale the limit by the measured
            # slowdown (callgrind's stream job against the native one) to compare like with like.
            native_rate = st(config_key("cpp", "stream", N, k if k == K else K), "records_per_s").median
            slowdown = max(1.0, cg[("harness", "stream", k)][1]["seconds"] / (CG_RECORDS / native_rate))
            cg[("harness", "guard_scaled", k)] = harness_cg("guard", "--sample-every-ms", f"{5.0 * slowdown:.1f}")
            cg[("harness", "guard_scaled", k)][1]["slowdown"] = slowdown
        if not smoke:
            for src in ("vector", "pipeline", "single_pass"):
                for impl in ("handwritten", "streambatch", "rangev3"):
                    for k in (10, 100, 1000):
                        fn = f"chunk_{src}_{impl}"
                        log(f"callgrind: {fn} k={k}")
                        ir, _ = callgrind([str(bench_dir / "bench_chunk"), f"--benchmark_filter=^bm_{fn}/100000/{k}$",
                                           "--benchmark_min_time=0.000000001"], fn, tmp)
                        cg[("chunk", src, impl, k)] = ir

    # 4. plots ------------------------------------------------------------------------------------
    plot_files = []
    if have_gnuplot:
        def by_count(lang, mode, counts):
            return [(n, st(config_key(lang, mode, n, K), "peak_rss_kib").median / 1024,
                     st(config_key(lang, mode, n, K), "peak_rss_kib").min / 1024,
                     st(config_key(lang, mode, n, K), "peak_rss_kib").max / 1024) for n in counts]
        d = {name: write_data(tmp, f"{name}.dat", rows) for name, rows in {
            "cpp_naive": by_count("cpp", "naive", NAIVE_COUNTS),
            "cpp_stream": by_count("cpp", "stream", STREAM_COUNTS),
            "cpp_guard": by_count("cpp", "guard", STREAM_COUNTS),
            "py_naive": by_count("python", "naive", PY_COUNTS),
            "py_guard": by_count("python", "guard", PY_COUNTS),
        }.items()}
        f1 = plots_dir / "peak_rss_vs_records.svg"
        gnuplot(f"""set terminal svg size 800,500 dynamic font 'sans,12'
set output '{f1}'
set termoption noenhanced
set title 'Peak RSS (VmHWM) against record count: records of about 500 bytes, batches of {K}'
set logscale xy
set xrange [{min(NAIVE_COUNTS + STREAM_COUNTS) / 2}:{max(STREAM_COUNTS) * 2}]
set xtics ("100" 100, "1k" 1000, "10k" 10000, "100k" 100000, "1M" 1000000, "10M" 10000000)
set format y "%g"
set xlabel 'records'
set ylabel 'peak RSS (MiB)'
set key top left
set grid
plot '{d["cpp_naive"]}' using 1:2:3:4 with yerrorlines lw 2 title 'C++ naive (load all, keep all)', \\
     '{d["cpp_stream"]}' using 1:2:3:4 with yerrorlines lw 2 title 'C++ streamed (chunk)', \\
     '{d["cpp_guard"]}' using 1:2:3:4 with yerrorlines lw 2 dt 2 title 'C++ streamed (memory_guarded)', \\
     '{d["py_naive"]}' using 1:2:3:4 with yerrorlines lw 2 title 'Python naive', \\
     '{d["py_guard"]}' using 1:2:3:4 with yerrorlines lw 2 title 'Python generator + guard'
""", tmp)
        sweep_rows = []
        for k in SWEEP:
            s_rate = st(config_key("cpp", "guard", N, k), "records_per_s")
            s_rss = st(config_key("cpp", "guard", N, k), "peak_rss_kib")
            sweep_rows.append((k, s_rate.median / 1e6, s_rate.min / 1e6, s_rate.max / 1e6, s_rss.median / 1024))
        ds = write_data(tmp, "sweep.dat", sweep_rows)
        py_rate = st(config_key("python", "guard", N, K), "records_per_s").median / 1e6
        f2 = plots_dir / "throughput_vs_batch.svg"
        gnuplot(f"""set terminal svg size 800,500 dynamic font 'sans,12'
set output '{f2}'
set termoption noenhanced
set title 'C++ memory_guarded pipeline, {N:,} records of about 500 bytes: throughput and peak RSS by batch size'
set logscale x
set xrange [0.7:14000]
set format x "%g"
set xlabel 'batch size (records)'
set ylabel 'million records/s'
set y2label 'peak RSS (MiB)'
set ytics nomirror
set y2tics
set yrange [0:*]
set y2range [0:*]
set key bottom right
set grid
plot '{ds}' using 1:2:3:4 with yerrorlines lw 2 title 'records/s (median, min-max)', \\
     '{ds}' using 1:5 axes x1y2 with linespoints lw 2 dt 2 title 'peak RSS (median)', \\
     {py_rate} with lines lw 2 dt 3 lc rgb '#c05000' title 'Python generator + guard, batches of {K} (records/s)'
""", tmp)
        plot_files = [f1, f2]

    # 5. the report -------------------------------------------------------------------------------
    md = []
    w = md.append
    w("# streambatch benchmark results\n")
    w(f"Written by `bash scripts/bench.sh` (bench/run.py{' --smoke' if smoke else ''}); rerun it rather than edit this file.\n")
    if smoke:
        w("> **Smoke run** (tiny sizes, one run each): it shows that every step runs; its figures and verdicts mean nothing.\n")
    w(f"**Machine:** {machine_line(build, load_start)}.\n")
    w(f"Whole-process figures: {runs} runs of each configuration, in {runs} rounds (every configuration once per "
      f"round; configurations compared with each other run back to back, in a shuffled order). Micro-benchmarks: "
      f"{reps} Google Benchmark repetitions of each `chunk` case ({max(1, reps // 2)} of `adaptive_chunk`, "
      f"{max(1, reps * 2 // 3)} of `memory_guarded`), in random interleaving, CPU time. "
      f"Every figure is the **median (min–max)**; every ratio is the median (min–max) of the ratios taken pair by pair "
      f"(round by round, or repetition by repetition); where a verdict rests on time, the 95 % bootstrap interval of that median ratio is given, and a verdict whose interval crosses the target is marked *within noise*. Peak RSS is the process's own `VmHWM` from `/proc/self/status` "
      f"(the micro-benchmarks' `extra_peak_rss_KiB` restart it through `/proc/self/clear_refs`). The machine is shared: "
      f"time figures carry its noise, which is why the instruction counts (callgrind) are given beside the time ratios.\n")

    # targets
    targets = []
    def verdict(ok):
        return "**pass**" if ok else "**miss**"

    def time_verdict(stat, limit, at_most=True):
        """pass/miss on the median ratio, saying when the 95 % interval of that median crosses the limit."""
        lo, hi = stat.ci()
        ok = stat.median <= limit if at_most else stat.median >= limit
        crosses = lo <= limit <= hi
        text = "**pass**" if ok else "**miss**"
        if crosses:
            text += f" (within noise: 95 % CI of the median {lo:.3f}–{hi:.3f})"
        elif stat.n > 1:
            text += f" (95 % CI of the median {lo:.3f}–{hi:.3f})"
        return text

    def chunk_ratio(src, num, den, k):
        runs_c = micro["chunk"]
        return paired(series(runs_c, f"bm_chunk_{src}_{num}/100000/{k}"),
                      series(runs_c, f"bm_chunk_{src}_{den}/100000/{k}"))

    def ir_ratio(src, num, den, k):
        if ("chunk", src, num, k) in cg:
            return cg[("chunk", src, num, k)] / cg[("chunk", src, den, k)]
        return None

    for src, den, label in (("vector", "rangev3", "vector"), ("pipeline", "rangev3", "lazy forward pipeline (`iota \\| transform`)"),
                            ("single_pass", "handwritten", "single-pass source (materialised batches)")):
        for k in (10, 100, 1000):
            r = chunk_ratio(src, "streambatch", den, k)
            ir = ir_ratio(src, "streambatch", den, k)
            base = "range-v3 `views::chunk`" if den == "rangev3" else "the hand-written reused-vector loop"
            targets.append((f"`chunk` over a {label}, batches of {k}: ≤ 1.03 × {base}",
                            f"time {r.fmt('{:.3f}')}" + (f"; instructions {ir:.4f}" if ir else ""),
                            time_verdict(r, 1.03)))

    mg = micro["memory_guarded"]
    for k in (100, 1000):
        r = paired(series(mg, f"bm_memory_guarded_single_pass_real_guard/1000000/{k}"),
                   series(mg, f"bm_memory_guarded_single_pass_chunk/1000000/{k}"))
        targets.append((f"`memory_guarded` (real probe) ≤ 1.01 × plain `chunk`, 1 M records (micro-benchmark), batches of {k}",
                        f"time {r.fmt('{:.3f}')}", time_verdict(r, 1.01)))
    for k in (K, 1000):
        if ("harness", "guard", k) in cg:
            ir_s, _ = cg[("harness", "stream", k)]
            ir_g, info = cg[("harness", "guard_scaled", k)]
            targets.append((f"`memory_guarded` ≤ 1.01 × `chunk`: callgrind instructions of the harness job, {CG_RECORDS:,} "
                            f"records, batches of {k} (guard's rate limit scaled by valgrind's slowdown, {info['slowdown']:.0f}×)",
                            f"{ir_g:,} / {ir_s:,} = {ir_g / ir_s:.4f} ({info.get('guard_samples', '?')} probe samples)",
                            verdict(ir_g / ir_s <= 1.01)))
    r = paired(col(config_key("cpp", "guard", N, K), "seconds"), col(config_key("cpp", "stream", N, K), "seconds"))
    targets.append((f"`memory_guarded` ≤ 1.01 × `chunk`: whole harness job, {N:,} records, batches of {K} (time)",
                    r.fmt("{:.3f}"), time_verdict(r, 1.01)))

    for mode, name in (("stream", "`chunk`"), ("guard", "`memory_guarded`")):
        s1 = st(config_key("cpp", mode, N, K), "peak_rss_kib")
        s10 = st(config_key("cpp", mode, BIG, K), "peak_rss_kib")
        diffs = Stat([x - y for x, y in zip(col(config_key("cpp", mode, BIG, K), "peak_rss_kib"),
                                              col(config_key("cpp", mode, N, K), "peak_rss_kib"))])
        targets.append((f"Streamed peak RSS ({name}), {N:,} records × ~500 bytes, batches of {K}: ≤ 8 MiB",
                        f"{s1.fmt('{:.2f}', 1024)} MiB", verdict(s1.median <= 8 * 1024)))
        targets.append((f"… and at {BIG:,} records: ≤ 1 MiB more ({name})",
                        f"{s10.fmt('{:.2f}', 1024)} MiB; difference {diffs.fmt('{:+.0f}')} KiB", verdict(diffs.median <= 1024)))

    for k, label in ((K, f"batches of {K}"), (best_k, f"best configuration, batches of {best_k}")):
        rr = paired(col(config_key("cpp", "guard", N, k), "records_per_s"), col(config_key("python", "guard", N, K), "records_per_s"))
        mr = paired(col(config_key("cpp", "guard", N, k), "peak_rss_kib"), col(config_key("python", "guard", N, K), "peak_rss_kib"))
        targets.append((f"Guarded C++ pipeline ({label}) ≥ 5 × the records/s of the Python generator program (batches of {K})",
                        f"{rr.fmt('{:.2f}')} ×", time_verdict(rr, 5, at_most=False)))
        targets.append((f"… at ≤ half its peak RSS ({label})", f"{mr.fmt('{:.3f}')} × Python's", verdict(mr.median <= 0.5)))

    w("## Targets\n")
    w("| target | measured: median (min–max) | verdict |")
    w("|---|---|---|")
    for t in targets:
        w(f"| {t[0]} | {t[1]} | {t[2]} |")
    w("")

    # memory comparison
    w(f"## Memory comparison: {N:,} records × ~500 bytes, light clean step\n")
    w("Records are made lazily (padded text id and name, a distinct 450-byte payload), cleaned (trim and "
      "lower-case the name, parse the id, build a new record) and sunk (a checksum, identical in both languages). "
      f"Batches of {K}, the Python design's size; *best* is the C++ guarded pipeline at the batch size of the "
      f"sweep below that ran fastest within 8 MiB ({best_k}). C++: `bench/harness.cpp`; Python: "
      "`bench/python/etl_design.py` (a generator yielding dicts, `islice` batches, a psutil memory guard).\n")
    w("| configuration | C++ peak RSS (MiB) | C++ time (s) | C++ M records/s | Python peak RSS (MiB) | Python time (s) | Python M records/s | C++/Python records/s | C++/Python peak RSS |")
    w("|---|---|---|---|---|---|---|---|---|")
    labels = {"naive": "naive: load all into a vector, keep all results", "batch": "batch: input loaded, results per batch",
              "stream": "batch + streaming (`chunk`)", "guard": "batch + guard (`memory_guarded`)"}
    for mode in ("naive", "batch", "stream", "guard"):
        c, p = config_key("cpp", mode, N, K), config_key("python", mode, N, K)
        w(f"| {labels[mode]} | {st(c, 'peak_rss_kib').fmt('{:.1f}', 1024)} | {st(c, 'seconds').fmt('{:.3f}')} | "
          f"{st(c, 'records_per_s').fmt('{:.2f}', 1e6)} | {st(p, 'peak_rss_kib').fmt('{:.1f}', 1024)} | "
          f"{st(p, 'seconds').fmt('{:.3f}')} | {st(p, 'records_per_s').fmt('{:.3f}', 1e6)} | "
          f"{paired(col(c, 'records_per_s'), col(p, 'records_per_s')).fmt('{:.2f}')} | "
          f"{paired(col(c, 'peak_rss_kib'), col(p, 'peak_rss_kib')).fmt('{:.3f}')} |")
    c, p = config_key("cpp", "guard", N, best_k), config_key("python", "guard", N, K)
    w(f"| best: guard, batches of {best_k} (Python: guard, batches of {K}) | {st(c, 'peak_rss_kib').fmt('{:.1f}', 1024)} | "
      f"{st(c, 'seconds').fmt('{:.3f}')} | {st(c, 'records_per_s').fmt('{:.2f}', 1e6)} | {st(p, 'peak_rss_kib').fmt('{:.1f}', 1024)} | "
      f"{st(p, 'seconds').fmt('{:.3f}')} | {st(p, 'records_per_s').fmt('{:.3f}', 1e6)} | "
      f"{paired(col(c, 'records_per_s'), col(p, 'records_per_s')).fmt('{:.2f}')} | "
      f"{paired(col(c, 'peak_rss_kib'), col(p, 'peak_rss_kib')).fmt('{:.3f}')} |")
    w("")

    # sweep
    w(f"## Throughput and peak RSS by batch size ({N:,} records, C++ `memory_guarded`)\n")
    w("| batch size | M records/s | time (s) | peak RSS (MiB) | probe samples | guard events |")
    w("|---|---|---|---|---|---|")
    for k in SWEEP:
        c = config_key("cpp", "guard", N, k)
        w(f"| {k:,} | {st(c, 'records_per_s').fmt('{:.2f}', 1e6)} | {st(c, 'seconds').fmt('{:.3f}')} | "
          f"{st(c, 'peak_rss_kib').fmt('{:.2f}', 1024)} | {st(c, 'guard_samples').fmt('{:.0f}')} | {st(c, 'guard_events').fmt('{:.0f}')} |")
    w("")
    if plot_files:
        w(f"![throughput and peak RSS by batch size](plots/{plot_files[1].name})\n")

    # record counts
    w(f"## Peak RSS by record count (batches of {K})\n")
    w("| records | C++ naive (MiB) | C++ streamed, `chunk` (MiB) | C++ streamed, `memory_guarded` (MiB) | Python naive (MiB) | Python generator + guard (MiB) |")
    w("|---|---|---|---|---|---|")
    for n in sorted(set(NAIVE_COUNTS) | set(STREAM_COUNTS) | set(PY_COUNTS)):
        def cell(lang, mode):
            key = config_key(lang, mode, n, K)
            return st(key, "peak_rss_kib").fmt("{:.1f}", 1024) if key in configs else "–"
        w(f"| {n:,} | {cell('cpp', 'naive')} | {cell('cpp', 'stream')} | {cell('cpp', 'guard')} | "
          f"{cell('python', 'naive')} | {cell('python', 'guard')} |")
    w("")
    if plot_files:
        w(f"![peak RSS against record count](plots/{plot_files[0].name})\n")

    # micro-benchmarks
    w("## Micro-benchmarks (Google Benchmark)\n")
    w("### `chunk` (100 000 records of ~520 bytes; ns per record, CPU time)\n")
    w("| source | batch | hand-written | streambatch | range-v3 | streambatch / range-v3 | streambatch / hand-written | instructions: sb / rv3, sb / hand-written |")
    w("|---|---|---|---|---|---|---|---|")
    mc = micro["chunk"]
    for src in ("vector", "pipeline", "single_pass"):
        for k in (10, 100, 1000):
            def s(impl):
                return Stat(series(mc, f"bm_chunk_{src}_{impl}/100000/{k}"))
            irs = ""
            if ("chunk", src, "streambatch", k) in cg:
                irs = f"{ir_ratio(src, 'streambatch', 'rangev3', k):.4f}, {ir_ratio(src, 'streambatch', 'handwritten', k):.4f}"
            w(f"| {src.replace('_', '-')} | {k} | {s('handwritten').fmt()} | {s('streambatch').fmt()} | {s('rangev3').fmt()} | "
              f"{chunk_ratio(src, 'streambatch', 'rangev3', k).fmt('{:.3f}')} | {chunk_ratio(src, 'streambatch', 'handwritten', k).fmt('{:.3f}')} | {irs} |")
    lazy = [Stat(series(mc, f"bm_chunk_single_pass_rangev3_lazy/100000/{k}")).fmt() for k in (10, 100, 1000)]
    w(f"\nrange-v3 over the single-pass source, *without* materialising the batches (each record read where the "
      f"source made it, nothing kept): {', '.join(f'{x} ns (batches of {k})' for x, k in zip(lazy, (10, 100, 1000)))}. "
      f"The difference is what moving every record into a batch buffer costs; it buys a sized, contiguous batch "
      f"that outlives the source's iterator (bulk inserts, parallel workers).\n")

    w("### `adaptive_chunk`: the cost of weighing every record (ns per record)\n")
    w("| source | budget | hand-written byte loop | `adaptive_chunk` | `chunk` (same batches, no weighing) | adaptive / chunk | adaptive / hand-written |")
    w("|---|---|---|---|---|---|---|")
    ma = micro["adaptive_chunk"]
    for src in ("vector", "single_pass"):
        for k in (100, 1000):
            h, a_, c_ = (series(ma, f"bm_adaptive_chunk_{src}{suf}/100000/{k}") for suf in ("_handwritten", "", "_chunk"))
            w(f"| {src.replace('_', '-')} | {k} records' worth | {Stat(h).fmt()} | {Stat(a_).fmt()} | {Stat(c_).fmt()} | "
              f"{paired(a_, c_).fmt('{:.3f}')} | {paired(a_, h).fmt('{:.3f}')} |")
    w("")

    w("### `memory_guarded` with the real probe (ns per record)\n")
    w("| source | batch | plain `chunk` | `memory_guarded` (own guard) | fixed-size policy | guarded / chunk |")
    w("|---|---|---|---|---|---|")
    for k in (100, 1000):
        c_, g_, f_ = (series(mg, f"bm_memory_guarded_single_pass_{v}/1000000/{k}") for v in ("chunk", "real_guard", "fixed_policy"))
        w(f"| single-pass, 1 M records | {k} | {Stat(c_).fmt()} | {Stat(g_).fmt()} | {Stat(f_).fmt()} | {paired(g_, c_).fmt('{:.3f}')} |")
    for k in (100, 1000):
        c_, g_, u_ = (series(mg, f"bm_memory_guarded_vector_{v}/100000/{k}") for v in ("chunk", "real_guard", "reused_guard"))
        w(f"| vector, 100 k records | {k} | {Stat(c_).fmt()} | {Stat(g_).fmt()} (guard made once: {Stat(u_).fmt()}) | – | "
          f"{paired(g_, c_).fmt('{:.3f}')} (made once: {paired(u_, c_).fmt('{:.3f}')}) |")
    probe = mg.get("bm_probe_sample", [])
    w(f"\nOne probe sample (`proc_memory_probe::sample()`, {probe[0].get('label', '') if probe else ''}): "
      f"{Stat(series(mg, 'bm_probe_sample')).fmt('{:.2f}', 1e3)} µs. "
      f"One `memory_guard::next_batch_size()` call as the view makes it (rate-limited: the probe is read at most every 5 ms): "
      f"{Stat(series(mg, 'bm_guard_next_batch_size')).fmt()} ns. "
      f"Making a `memory_guard` (opens the files, walks the cgroup hierarchy, first sample): "
      f"{Stat(series(mg, 'bm_memory_guard_construct')).fmt('{:.0f}', 1e3)} µs.\n")

    w("### `record_bytes` on typical records (ns per record)\n")
    w("| record | bytes counted | `record_bytes` | by hand | ratio |")
    w("|---|---|---|---|---|")
    mr_ = micro["record_bytes"]
    for shape, label in (("record_struct", "struct {id, name, payload} (ADL overload)"), ("tuple", "`tuple<int64, string, string>`"),
                         ("string_fields", "`vector<string>` of 10 fields"), ("map_row", "`map<string, string>` of 10 columns")):
        a_ = series(mr_, f"bm_record_bytes_{shape}")
        h = series(mr_, f"bm_record_bytes_{shape}_handwritten")
        size = mr_.get(f"bm_record_bytes_{shape}", [{}])[0].get("bytes_per_record", float("nan"))
        w(f"| {label} | {size:.0f} | {Stat(a_).fmt()} | {Stat(h).fmt()} | {paired(a_, h).fmt('{:.2f}')} |")
    w("")

    # callgrind
    if cg:
        w("## Instruction counts (callgrind)\n")
        w(f"Counted inside the job's function only (`--toggle-collect`), so process start-up is left out. "
          f"Under valgrind a program runs ~30–80× slower, so the guard's 5 ms rate limit lets it read the probe that "
          f"much more often per record than natively; the right-hand columns scale the limit by the measured slowdown "
          f"(callgrind's stream job against the native one) so that the probe is read about as often per record as in "
          f"a native run, and the verdict uses them. Instruction counts are user-space only: the kernel's side of a "
          f"probe sample (the `pread`s of /proc and the cgroup files, most of its ~13 µs) is not in them, but is in "
          f"the time figures.\n")
        w("| job | batch | `chunk` (stream) | `memory_guarded`, 5 ms rate limit | guard / stream | probe samples | `memory_guarded`, rate limit × slowdown | guard / stream | probe samples |")
        w("|---|---|---|---|---|---|---|---|---|")
        for k in (K, 1000):
            if ("harness", "guard", k) in cg:
                g, info = cg[("harness", "guard", k)]
                gs, info_s = cg[("harness", "guard_scaled", k)]
                s_, _ = cg[("harness", "stream", k)]
                w(f"| harness, {CG_RECORDS:,} records | {k} | {s_:,} ({s_ / CG_RECORDS:.0f}/record) | {g:,} | {g / s_:.4f} | "
                  f"{info.get('guard_samples', '?')} | {gs:,} ({info_s['slowdown']:.0f} × 5 ms) | {gs / s_:.4f} | {info_s.get('guard_samples', '?')} |")
        if any(key[0] == "chunk" for key in cg):
            w("\n| `chunk` variant (100 000 records) | batch | hand-written | streambatch | range-v3 |")
            w("|---|---|---|---|---|")
            for src in ("vector", "pipeline", "single_pass"):
                for k in (10, 100, 1000):
                    if ("chunk", src, "streambatch", k) in cg:
                        w(f"| {src.replace('_', '-')} | {k} | " + " | ".join(
                            f"{cg[('chunk', src, impl, k)]:,}" for impl in ("handwritten", "streambatch", "rangev3")) + " |")
        w("")

    w("## How to reproduce\n")
    w("```sh\nbash scripts/bench.sh            # builds the release preset, runs everything, rewrites this file\n"
      "build/release/bench/harness --mode guard --records 1000000 --batch 1000\n"
      "/usr/bin/python3 bench/python/etl_design.py --mode guard --records 1000000\n"
      "build/release/bench/bench_chunk --benchmark_filter=single_pass --benchmark_repetitions=10 "
      "--benchmark_enable_random_interleaving=true\n```\n")
    w(f"Whole run: {(time.monotonic() - t_start) / 60:.1f} minutes.\n")

    out_md.write_text("\n".join(md))
    def r4(x):
        return float(f"{x:.4g}") if isinstance(x, float) else x
    raw = {"machine": machine_line(build, load_start), "best_batch": best_k,
           "whole_process": {k: [{f: r4(v) for f, v in x.items()} if x else None for x in results[k]] for k in configs},
           "callgrind": {"/".join(map(str, k)): (v if isinstance(v, int) else {"instructions": v[0], **{f: r4(x) for f, x in v[1].items()}})
                         for k, v in cg.items()},
           "micro_ns_per_item": {name: {rn: [r4(ns_per_item(b)) for b in bs] for rn, bs in m.items()}
                                 for name, m in micro.items()}}
    (out_md.parent / "results.json").write_text(json.dumps(raw, separators=(",", ":")) + "\n")
    shutil.rmtree(tmp, ignore_errors=True)
    log(f"wrote {out_md}, {out_md.parent / 'results.json'}" + "".join(f", {f}" for f in plot_files))


if __name__ == "__main__":
    main()
