#!/usr/bin/python3
"""bench/python/etl_design.py: the same job as bench/harness.cpp, written in Python 3 the way
the design's Python version is: a generator yielding one dict per record, batches of 100 cut
from it with itertools.islice, a memory guard asked before every batch, and a clean step that
builds a new dict. Run with Debian's /usr/bin/python3 (and python3-psutil for the guard).

    etl_design.py --mode naive|batch|stream|guard [--records N] [--batch K] [--payload-bytes B]

Modes, output line and checksum are those of bench/harness.cpp, so bench/run.py runs both
programs the same way and checks that they did the same work:
  naive   list(generate()) then a list of every cleaned record, then the sink;
  batch   list(generate()) then clean and sink batch by batch;
  stream  the generator, in batches, each cleaned, sunk and dropped;
  guard   stream with the memory guard (psutil.virtual_memory(), the design's figure): halve
          the batch at >= 80 % used (floor 10, then gc.collect()), grow it back by x1.25 after
          3 readings <= 60 %. Like streambatch::memory_guard it reads memory at most every
          5 ms (--sample-every-ms 0: before every batch), so the two guards do the same work.
Peak RSS is VmHWM from /proc/self/status, read at the end, as the C++ harness does.
Every payload is a distinct str cut from a 1 MiB random pool: a constant 'x' * 450 would be
one shared object in CPython and would flatter its memory.
"""

import argparse
import gc
import random
import string
import sys
import time
from itertools import islice

POOL_BYTES = 1 << 20


def make_pool(payload_bytes):
    rng = random.Random(1)
    return "".join(rng.choices(string.ascii_lowercase, k=POOL_BYTES + payload_bytes))


def generate(n, pool, payload_bytes):
    """The source: yields one record (a dict of text fields) at a time; keeps none."""
    for i in range(n):
        off = (i * 7919) % POOL_BYTES
        yield {
            "id": f"  {i + 1} ",
            "name": f"  Customer {(i * 2654435761) % 1000003}  ",
            "payload": pool[off:off + payload_bytes],
        }


def batches(records, size):
    """Cuts an iterable into lists of `size` (the last may be short). size may change between
    batches: it is read from the callable `size` when given one."""
    it = iter(records)
    while True:
        batch = list(islice(it, size() if callable(size) else size))
        if not batch:
            return
        yield batch


def clean(r):
    """Trim and lower-case the name, parse the id, build a new record."""
    return {"id": int(r["id"].strip()), "name": r["name"].strip().lower(), "payload": r["payload"]}


def sink_value(c):
    name = c["name"]
    return c["id"] + len(name) + (ord(name[0]) if name else 0) + len(c["payload"])


class MemoryGuard:
    """Batch size from memory pressure (psutil.virtual_memory().percent)."""

    def __init__(self, start, shrink_at=80.0, grow_at=60.0, floor=10, grow_after=3, sample_every=0.005):
        import psutil  # Debian: python3-psutil

        self._vm = psutil.virtual_memory
        self.start = start
        self.size = start
        self.shrink_at, self.grow_at, self.floor = shrink_at, grow_at, min(floor, start)
        self.grow_after, self.sample_every = grow_after, sample_every
        self.low_streak = 0
        self.last_sample = None
        self.samples = 0
        self.events = 0

    def next_batch_size(self):
        now = time.monotonic()
        if self.last_sample is not None and now - self.last_sample < self.sample_every:
            return self.size
        self.last_sample = now
        self.samples += 1
        used = self._vm().percent
        if used >= self.shrink_at:
            self.low_streak = 0
            if self.size > self.floor:
                self.size = max(self.floor, self.size // 2)
                self.events += 1
                gc.collect()
        elif used <= self.grow_at:
            self.low_streak += 1
            if self.low_streak >= self.grow_after and self.size < self.start:
                self.low_streak = 0
                self.size = min(self.start, max(self.size + 1, int(self.size * 1.25)))
                self.events += 1
        else:
            self.low_streak = 0
        return self.size


def peak_rss_kib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def clean_and_sink(batch, out):
    cleaned = [clean(r) for r in batch]
    out["checksum"] += sum(sink_value(c) for c in cleaned)  # stands in for sink.insert(batch)
    out["records"] += len(cleaned)
    out["batches"] += 1


def run(mode, n, k, pool, payload_bytes, sample_every):
    out = {"records": 0, "batches": 0, "checksum": 0, "guard_samples": 0, "guard_events": 0}
    if mode == "naive":
        records = list(generate(n, pool, payload_bytes))
        results = [clean(r) for r in records]
        out["checksum"] = sum(sink_value(c) for c in results)
        out["records"], out["batches"] = len(results), 1
    elif mode == "batch":
        records = list(generate(n, pool, payload_bytes))
        for batch in batches(records, k):
            clean_and_sink(batch, out)
    elif mode == "stream":
        for batch in batches(generate(n, pool, payload_bytes), k):
            clean_and_sink(batch, out)
    elif mode == "guard":
        guard = MemoryGuard(k, sample_every=sample_every)
        for batch in batches(generate(n, pool, payload_bytes), guard.next_batch_size):
            clean_and_sink(batch, out)
        out["guard_samples"], out["guard_events"] = guard.samples, guard.events
    return out


def positive(text):
    v = int(text)
    if v <= 0:
        raise argparse.ArgumentTypeError(f"wants a positive whole number, got {text!r}")
    return v


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mode", required=True, choices=["naive", "batch", "stream", "guard"])
    ap.add_argument("--records", type=positive, default=1_000_000)
    ap.add_argument("--batch", type=positive, default=100)
    ap.add_argument("--payload-bytes", type=positive, default=450)
    ap.add_argument("--sample-every-ms", type=float, default=5.0)
    a = ap.parse_args()

    pool = make_pool(a.payload_bytes)  # made before the clock starts, as the C++ one is
    t0 = time.perf_counter()
    out = run(a.mode, a.records, a.batch, pool, a.payload_bytes, a.sample_every_ms / 1000.0)
    secs = time.perf_counter() - t0
    print(f"mode={a.mode} records={out['records']} batch={a.batch} seconds={secs:.6f} "
          f"records_per_s={out['records'] / secs if secs > 0 else 0:.0f} peak_rss_kib={peak_rss_kib()} "
          f"batches={out['batches']} guard_samples={out['guard_samples']} "
          f"guard_events={out['guard_events']} checksum={out['checksum']}")
    if out["records"] != a.records:
        print(f"etl_design.py: {a.records} records in, {out['records']} out", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
