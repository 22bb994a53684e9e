#!/usr/bin/python3
"""bench/alloc.py: the allocator tax of batches and the flagship against the Python design
(issue 15, items 2 and 4), into bench/RESULTS-alloc.md.

    /usr/bin/python3 bench/alloc.py [--build-dir build/release] [--runs 5] [--smoke] [--out FILE]

(scripts/bench.sh --only alloc builds the `release` preset and calls this.) What it runs, one
process per run, in rounds (each round runs every configuration once, in a shuffled order, so
two configurations compared ran seconds apart):
  1. bench/bench_alloc (bench_alloc.cpp): the same ~500-byte records one at a time and in
     batches of 1000, under glibc's defaults, streambatch::malloc_policy and batch_arena, and the
     issue's hand-written loop; time, CPU (user+sys), minor faults (getrusage), peak RSS at 1 M
     records; peak RSS of the batched modes again at 10 M (flat: it must not grow);
  2. callgrind instruction counts of each mode's job alone (noise-free);
  3. examples/stream_records (defaults: 1 M records, batches of 1000) beside
     bench/python/etl_design.py (generator of dicts, batches of 100; --mode guard, the design,
     and --mode stream, without its guard), records/s from each program's own line and peak
     RSS from /usr/bin/time -v.
Figures: median (min-max) over the runs; ratios: median (min-max) of the ratios taken round by
round. --smoke: tiny sizes, one run, no callgrind (checks that it runs, never how fast).
"""

import argparse
import datetime
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PYTHON = "/usr/bin/python3"

MODES = ["stream", "batch", "batch-policy", "batch-tcache", "arena", "stream-recycle", "recycle",
         "clean-first", "insert-stream", "insert", "insert-policy", "loop", "loop-policy"]
# the environment a mode runs in (batch-tcache: glibc's per-thread cache holds a whole batch)
TCACHE = "glibc.malloc.tcache_count=1000"
ENV = {"batch-tcache": {"GLIBC_TUNABLES": TCACHE}}
# each batched mode against its one-at-a-time baseline (the loop against itself with the policy)
BASELINE = {"batch": "stream", "batch-policy": "stream", "batch-tcache": "stream",
            "arena": "stream", "stream-recycle": "stream", "recycle": "stream", "clean-first": "stream",
            "insert": "insert-stream", "insert-policy": "insert-stream",
            "loop": "loop-policy"}
WHAT = {
    "stream": "one at a time: made, cleaned (`clean_one`), sunk, freed (baseline)",
    "batch": "`memory_guarded(1000)`, each batch cleaned into a new vector and freed together; glibc defaults",
    "batch-policy": "batch under `streambatch::malloc_policy`",
    "batch-tcache": f"batch with `GLIBC_TUNABLES={TCACHE}` (a freed batch fits glibc's per-thread cache)",
    "arena": "batch, records' strings drawn from a `streambatch::batch_arena` reset every batch",
    "stream-recycle": "one at a time, cleaned into the same record every time (`clean_into`): no malloc per record",
    "recycle": "batch, the cleaned vector kept across batches and each record cleaned into its slot (`clean_into`): no malloc per record",
    "clean-first": "`std::views::transform(clean_one)` over the source, then `memory_guarded(1000)`: cleaned before batching, each batch read in place",
    "insert-stream": "`bench::record` one at a time: made, read, freed (baseline)",
    "insert": "`memory_guarded(1000)`, each batch read in place (`sink.insert(batch)`); records recycled by the view",
    "insert-policy": "insert under `streambatch::malloc_policy`",
    "loop": "the issue's hand-written loop (vector, push_back, clear every 1000); glibc defaults",
    "loop-policy": "the same loop under `streambatch::malloc_policy` (baseline of `loop`)",
}


def die(msg):
    print(f"bench/alloc.py: {msg}", file=sys.stderr)
    sys.exit(1)


def kv(line):
    return dict(re.findall(r"(\w+)=(\S+)", line))


def mode_env(mode):
    return {**os.environ, **ENV.get(mode, {})}


def run_alloc(exe, mode, n):
    out = subprocess.run([exe, "--mode", mode, "--records", str(n), "--batch", "1000"],
                         capture_output=True, text=True, check=True, env=mode_env(mode)).stdout
    d = kv(out.strip().splitlines()[-1])
    return {"seconds": float(d["seconds"]), "cpu": float(d["user_s"]) + float(d["sys_s"]),
            "sys": float(d["sys_s"]), "minflt": int(d["minflt"]),
            "rss_kib": int(d["peak_rss_kib"]), "checksum": d["checksum"]}


def time_v(cmd):
    """Runs cmd under /usr/bin/time -v: (stdout, max RSS KiB)."""
    p = subprocess.run(["/usr/bin/time", "-v"] + cmd, capture_output=True, text=True, check=True)
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr)
    return p.stdout, int(m.group(1)) if m else 0


def run_flagship(which, exe, n):
    if which == "stream_records":
        out, rss = time_v([exe, "--records", str(n)])
        m = re.search(r"^records/s\s+(\d+)", out, re.M)
        return {"rps": float(m.group(1)), "rss_kib": rss}
    mode = which.split(":")[1]
    out, rss = time_v([PYTHON, str(HERE / "python" / "etl_design.py"), "--mode", mode,
                       "--records", str(n), "--batch", "100"])
    return {"rps": float(kv(out)["records_per_s"]), "rss_kib": rss}


def med(xs):
    return statistics.median(xs)


def fmt_range(xs, f="{:.3f}"):
    return f"{f.format(med(xs))} ({f.format(min(xs))}–{f.format(max(xs))})"


def callgrind(exe, mode, n):
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "cg.out")
        fn = "run_" + mode.replace("-", "_")
        subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
                        "--collect-atstart=no", f"--toggle-collect=*::{fn}(*", exe, "--mode", mode,
                        "--records", str(n), "--batch", "1000"],
                       capture_output=True, text=True, check=True, env=mode_env(mode))
        with open(out) as f:
            for line in f:
                if line.startswith("summary:") or line.startswith("totals:"):
                    return int(line.split()[1])
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build-dir", default=str(ROOT / "build" / "release"))
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--out", default=str(HERE / "RESULTS-alloc.md"))
    a = ap.parse_args()
    build = Path(a.build_dir)
    alloc = str(build / "bench" / "bench_alloc")
    flagship = str(build / "examples" / "stream_records")
    for exe in (alloc, flagship):
        if not os.access(exe, os.X_OK):
            die(f"{exe} is missing: cmake --build --preset release --target bench_alloc example_stream_records")
    runs = 1 if a.smoke else a.runs
    n1, n10, ncg, nflag = (5000, 50000, 0, 20000) if a.smoke else (1_000_000, 10_000_000, 200_000, 1_000_000)
    started = datetime.datetime.now(datetime.timezone.utc)
    uptime_before = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()

    # 1. the modes, in shuffled rounds
    res = {m: [] for m in MODES}
    for r in range(runs):
        order = MODES[:]
        random.shuffle(order)
        for m in order:
            res[m].append(run_alloc(alloc, m, n1))
        print(f"bench/alloc.py: round {r + 1}/{runs} of bench_alloc", file=sys.stderr)
    sums = {m: res[m][0]["checksum"] for m in MODES}
    big = {}
    for m in ["batch", "batch-policy", "batch-tcache", "arena", "recycle", "clean-first", "insert",
              "insert-policy", "stream"]:
        big[m] = run_alloc(alloc, m, n10)["rss_kib"]
    # 2. callgrind
    irs = {}
    if not a.smoke and shutil.which("valgrind"):
        for m in MODES:
            irs[m] = callgrind(alloc, m, ncg)
    # 3. the flagship beside the Python design
    flag_names = ["stream_records", "python:guard", "python:stream"]
    flag = {f: [] for f in flag_names}
    for r in range(runs):
        order = flag_names[:]
        random.shuffle(order)
        for f in order:
            flag[f].append(run_flagship(f, flagship, nflag))
        print(f"bench/alloc.py: round {r + 1}/{runs} of the flagship", file=sys.stderr)
    uptime_after = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    commit = subprocess.run(["git", "-C", str(ROOT), "describe", "--always", "--dirty"],
                            capture_output=True, text=True).stdout.strip()

    L = []
    L.append("# The allocator tax of batches, and the flagship against the Python design")
    L.append("")
    L.append(f"Written by `bench/alloc.py`{' --smoke' if a.smoke else ''} "
             f"(`bash scripts/bench.sh --only alloc`) on {started:%Y-%m-%d %H:%M} UTC, "
             f"commit `{commit}`, Release build, {runs} run(s) of each configuration in shuffled rounds.")
    L.append(f"Load: before `{uptime_before}`; after `{uptime_after}` (2 vCPUs shared: wall "
             f"times are noisy, CPU time and callgrind's instruction counts are the steadier figures).")
    L.append("")
    L.append(f"## 1. Records of ~500 bytes, one at a time against batches of 1000 ({n1:,} records)")
    L.append("")
    L.append("`build/release/bench/bench_alloc --mode MODE --records N --batch 1000`; CPU = user + sys "
             "(getrusage, whole process); faults = minor page faults; median (min–max).")
    L.append("")
    L.append("| mode | what | wall s | CPU s | sys s | minor faults | peak RSS MiB | CPU vs baseline | wall vs baseline | Ir (callgrind) |")
    L.append("|---|---|---|---|---|---|---|---|---|---|")
    for m in MODES:
        xs = res[m]
        cpu_ratio = wall_ratio = ""
        if m in BASELINE:
            b = res[BASELINE[m]]
            cr = [x["cpu"] / y["cpu"] if y["cpu"] > 0 else 0 for x, y in zip(xs, b)]
            wr = [x["seconds"] / y["seconds"] for x, y in zip(xs, b)]
            cpu_ratio = fmt_range(cr, "{:.2f}") + "×"
            wall_ratio = fmt_range(wr, "{:.2f}") + "×"
        ir = f"{irs[m] / ncg:.0f} per record" if irs.get(m) else ""
        if irs.get(m) and m in BASELINE and irs.get(BASELINE[m]):
            ir += f" ({irs[m] / irs[BASELINE[m]]:.2f}×)"
        L.append(f"| `{m}` | {WHAT[m]} | {fmt_range([x['seconds'] for x in xs])} | "
                 f"{fmt_range([x['cpu'] for x in xs])} | {fmt_range([x['sys'] for x in xs])} | "
                 f"{fmt_range([x['minflt'] for x in xs], '{:.0f}')} | "
                 f"{fmt_range([x['rss_kib'] / 1024 for x in xs], '{:.1f}')} | {cpu_ratio} | {wall_ratio} | {ir} |")
    L.append("")
    L.append("Ratios are time over the baseline's time, round by round: below 1.00× the batched "
             "pipeline is faster than the same records one at a time. "
             + (f"Ir: callgrind, the job function alone, {ncg:,} records, per record, and over the baseline's." if irs else ""))
    L.append("")
    same = len({sums[m] for m in ["stream", "batch", "batch-policy", "batch-tcache", "arena",
                                  "stream-recycle", "recycle", "clean-first"]}) == 1 and \
        len({sums[m] for m in ["insert-stream", "insert", "insert-policy", "loop", "loop-policy"]}) == 1
    L.append(f"Checksums: {'the same within each group (the same work)' if same else 'DIFFER: ' + str(sums)}.")
    L.append("")
    L.append(f"### Peak RSS: {n1:,} against {n10:,} records")
    L.append("")
    L.append("| mode | peak RSS MiB at " + f"{n1:,}" + " | at " + f"{n10:,}" + " |")
    L.append("|---|---|---|")
    for m, kib in big.items():
        L.append(f"| `{m}` | {med([x['rss_kib'] for x in res[m]]) / 1024:.1f} | {kib / 1024:.1f} |")
    L.append("")
    L.append(f"## 2. `stream_records` against the Python design ({nflag:,} records)")
    L.append("")
    L.append("`build/release/examples/stream_records --records N` (batches of 1000, the memory guard, "
             "`for_each_batch`) beside `/usr/bin/python3 bench/python/etl_design.py --mode guard|stream "
             "--records N --batch 100` (a generator of dicts, batches of 100; `guard` is the design, with "
             "its psutil memory guard; `stream` the same without it); records/s from each program's own "
             "line, peak RSS from `/usr/bin/time -v`.")
    L.append("")
    L.append("| program | records/s | peak RSS MiB | stream_records' records/s over it | its peak RSS over stream_records' |")
    L.append("|---|---|---|---|---|")
    sr = flag["stream_records"]
    for f in flag_names:
        xs = flag[f]
        rps = fmt_range([x["rps"] for x in xs], "{:,.0f}")
        rss = fmt_range([x["rss_kib"] / 1024 for x in xs], "{:.1f}")
        if f == "stream_records":
            L.append(f"| `stream_records` | {rps} | {rss} | | |")
        else:
            sp = [s["rps"] / x["rps"] for s, x in zip(sr, xs)]
            mr = [x["rss_kib"] / s["rss_kib"] for s, x in zip(sr, xs)]
            L.append(f"| `etl_design.py --mode {f.split(':')[1]}` | {rps} | {rss} | "
                     f"{fmt_range(sp, '{:.2f}')}× | {fmt_range(mr, '{:.2f}')}× |")
    L.append("")
    Path(a.out).write_text("\n".join(L) + "\n")
    print(f"bench/alloc.py: wrote {a.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
