#!/usr/bin/env python3
"""tests/docs_figures.py: every measured figure in README.md and docs/*.md is one of the
committed benchmark results (bench/RESULTS*.md), so the docs cannot drift from them.

A quoted figure carries a marker right after it:

    loads 548,100<!-- fig: RESULTS-checkpoint.md | (as shipped) | 548,100 --> rows/s

- the text after `fig:` up to the first ` | ` names a file in bench/; the rest (the needle) must
  occur, as written, within one line of that file;
- the figure written just before the marker (the last number on the line before it, outside
  other markers) must be one of the needle's numbers, digit for digit (thousands separators
  "," and " " aside): no rounding, no stale copy.

A line that states a measurement (a number followed by rows/s, records/s, ns, µs, or a ratio
such as 1.98× / 0.95x) and has no marker is an error, unless it carries <!-- not a measurement -->
(an example, a target, a formula). Fenced code blocks are not checked.

    docs_figures.py [--root DIR] [FILE.md...]     (default: README.md and docs/*.md)
    docs_figures.py --self-test                   (proves the checks can fail)

Exit 0 when every figure matches; 1 with one line per problem (file:line: what) otherwise.
"""
import argparse
import pathlib
import re
import sys
import tempfile

MARKER = re.compile(r"<!--\s*fig:\s*(?P<body>.*?)\s*-->")
EXEMPT = "<!-- not a measurement -->"
NUMBER = re.compile(r"(?<![\w.])[-+]?\d[\d,]*(?:\.\d+)?|(?<![\w.])[-+]?\d{1,3}(?: \d{3})+(?:\.\d+)?")
# what reads as a measurement: 548,100 rows/s; 3.4 M records/s; 10.3 ns; 13 µs; 1.98×; 0.95x
MEASURE = re.compile(
    r"\d[\d,. ]*\s*(?:k|M)?\s*(?:M\s+)?(?:rows|records)/s|\d\s*(?:ns|µs)\b|\d\.\d+\s*(?:×|x\b)")


# a target, not a measurement: "≤ 1.03×", ">= 5 x"
TARGET = re.compile(r"(?:≤|≥|<=|>=)\s*\d[\d.,]*\s*(?:×|x\b)")


def norm(num):
    return num.replace(",", "").replace(" ", "").lstrip("+")


def numbers(text):
    return [norm(m.group(0)) for m in NUMBER.finditer(text)]


def check_file(md, bench_dir, problems, counts):
    lines = md.read_text(encoding="utf-8").splitlines()
    fenced = False
    cache = {}
    for no, line in enumerate(lines, 1):
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        if fenced:
            continue
        where = f"{md}:{no}"
        markers = list(MARKER.finditer(line))
        if not markers:
            if EXEMPT not in line and MEASURE.search(TARGET.sub("", line)):
                problems.append(f"{where}: a measured figure without a <!-- fig: FILE | needle --> marker: {line.strip()}")
            continue
        for m in markers:
            body = m.group("body")
            if " | " not in body:
                problems.append(f"{where}: marker without ' | needle': {m.group(0)}")
                continue
            name, needle = body.split(" | ", 1)
            name = name.strip()
            path = bench_dir / name
            if not re.fullmatch(r"RESULTS[\w-]*\.md", name) or not path.is_file():
                problems.append(f"{where}: {name}: not a committed bench/RESULTS*.md file")
                continue
            if name not in cache:
                cache[name] = path.read_text(encoding="utf-8").splitlines()
            if not any(needle in l for l in cache[name]):
                problems.append(f"{where}: not in bench/{name}: {needle!r}")
                continue
            before = MARKER.sub("", line[: m.start()])
            shown = numbers(before)
            if not shown:
                problems.append(f"{where}: no figure before the marker for {needle!r}")
                continue
            if shown[-1] not in numbers(needle):
                problems.append(f"{where}: the text says {shown[-1]}, bench/{name} says {needle!r}")
                continue
            counts[md] = counts.get(md, 0) + 1


def run(root, files):
    bench_dir = root / "bench"
    problems, counts = [], {}
    for md in files:
        check_file(md, bench_dir, problems, counts)
    return problems, counts


def self_test():
    """Each kind of error is caught: a wrong figure, a missing needle, a missing file, an
    unmarked measurement; and a right one passes."""
    with tempfile.TemporaryDirectory() as tmp:
        root = pathlib.Path(tmp)
        (root / "bench").mkdir()
        (root / "bench" / "RESULTS.md").write_text("| guard | 548,100 (433,765-663,960) | 0.986 |\n")
        cases = {
            "right": ("runs at 548,100<!-- fig: RESULTS.md | guard | 548,100 --> rows/s\n", 0),
            "right, ratio": ("0.986<!-- fig: RESULTS.md | 548,100 (433,765-663,960) | 0.986 -->× of it\n", 0),
            "stale figure": ("about 167,000<!-- fig: RESULTS.md | guard | 548,100 --> rows/s\n", 1),
            "rounded figure": ("about 548 k<!-- fig: RESULTS.md | guard | 548,100 --> rows/s\n", 1),
            "needle not there": ("runs at 548,100<!-- fig: RESULTS.md | guard | 548,101 --> rows/s\n", 1),
            "no such file": ("runs at 548,100<!-- fig: RESULTS-x.md | guard | 548,100 --> rows/s\n", 1),
            "unmarked": ("runs at about 167 000 rows/s\n", 1),
            "unmarked ratio": ("6.7× faster than libcsv\n", 1),
            "a target": ("target ≤ 1.03×, and ≥ 5×\n", 0),
            "exempt": ("a 1 ms commit and 2 µs of work per record <!-- not a measurement -->\n", 0),
            "in code": ("```sh\necho 6.7× 167000 rows/s\n```\n", 0),
        }
        failed = []
        for name, (text, want) in cases.items():
            md = root / "case.md"
            md.write_text(text)
            problems, _ = run(root, [md])
            if (len(problems) > 0) != bool(want):
                failed.append(f"self-test '{name}': expected {'a problem' if want else 'no problem'}, got {problems}")
        for f in failed:
            print(f)
        print(f"self-test: {len(cases) - len(failed)} of {len(cases)} cases behaved")
        return 1 if failed else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", default=str(pathlib.Path(__file__).resolve().parent.parent))
    ap.add_argument("--self-test", action="store_true")
    ap.add_argument("files", nargs="*")
    args = ap.parse_args()
    if args.self_test:
        return self_test()
    root = pathlib.Path(args.root)
    files = [pathlib.Path(f) for f in args.files] or [root / "README.md", *sorted((root / "docs").glob("*.md"))]
    problems, counts = run(root, files)
    for p in problems:
        print(p)
    total = sum(counts.values())
    for md in files:
        print(f"{md.relative_to(root) if md.is_relative_to(root) else md}: {counts.get(md, 0)} figure(s) checked")
    if total == 0 and not problems:
        print("no quoted figure found: the check would pass vacuously")
        return 1
    print(f"{total} figures match bench/RESULTS*.md; {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
