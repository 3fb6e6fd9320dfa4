#!/usr/bin/env python3
"""Core micro-benchmarks as ratios to memcpy (issue 6, item 6).

Two measures of the same benchmarks (tests/bench/bench_core.cpp):

  * time: Google Benchmark CPU time per payload byte, as a fraction of memcpy's throughput
    measured in the same run. Noisy on a shared machine.
  * instructions: callgrind instruction counts (Ir) per payload byte / per operation, collected
    only inside the pass_* functions. Deterministic, independent of the machine's load; the
    hot spots (self cost by function) come from the same profile.

Usage: micro.py BENCH_CORE [--quick] [--no-callgrind] [--json OUT] [--hotspots DIR]
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

# Benchmarks profiled under callgrind (one valgrind run each), and the unit they are counted in.
PROFILED = [
    ("BM_Memcpy", "byte"),
    ("BM_ChunkWriter/128", "byte"),
    ("BM_ChunkWriter/4096", "byte"),
    ("BM_ChunkWriter/65536", "byte"),
    ("BM_ChunkReader/128", "byte"),
    ("BM_ChunkReader/4096", "byte"),
    ("BM_ChunkReader/65536", "byte"),
    ("BM_FlvReader/1", "byte"),
    ("BM_FlvReader/65536", "byte"),
    ("BM_SessionPipe/4096", "byte"),
    ("BM_Amf0EncodeOnMetaData", "op"),
    ("BM_Amf0DecodeOnMetaData", "op"),
    ("BM_Amf0EncodeConnect", "op"),
    ("BM_Amf0DecodeConnect", "op"),
]


def run_timed(exe, min_time):
    out = subprocess.run(
        [exe, f"--benchmark_min_time={min_time}", "--benchmark_format=json"],
        check=True, capture_output=True, text=True).stdout
    data = json.loads(out)
    rows = {}
    for b in data["benchmarks"]:
        if b.get("error_occurred"):
            raise SystemExit(f"benchmark {b['name']} failed: {b.get('error_message')}")
        rows[b["name"]] = b
    return rows


def run_callgrind(exe, name, workdir, min_time):
    """Returns (Ir, passes, bytes, hot spots) for one benchmark."""
    outfile = os.path.join(workdir, "cg." + name.replace("/", "_"))
    env = dict(os.environ, BENCH_CORE_TOTALS="1")
    r = subprocess.run(
        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={outfile}",
         "--toggle-collect=*pass_*", exe, f"--benchmark_filter=^{name}$",
         f"--benchmark_min_time={min_time}"],
        capture_output=True, text=True, env=env)
    m = re.search(r"bench_core totals: passes=(\d+) bytes=(\d+)", r.stderr)
    if r.returncode != 0 or not m:
        raise SystemExit(f"callgrind run of {name} failed:\n{r.stderr[-2000:]}")
    passes, nbytes = int(m.group(1)), int(m.group(2))
    ann = subprocess.run(["callgrind_annotate", outfile], capture_output=True,
                         text=True).stdout
    total = None
    copy = 0  # Ir in libc's mem* functions: their count depends on the variant valgrind picks
    hot = []
    for line in ann.splitlines():
        mt = re.match(r"\s*([\d,]+) \(100\.0%\)\s+PROGRAM TOTALS", line)
        if mt:
            total = int(mt.group(1).replace(",", ""))
            continue
        mh = re.match(r"\s*([\d,]+) \(\s*([\d.]+)%\)\s+(\S.*)", line)
        if mh and total is not None:
            func = re.sub(r"^.*?:", "", mh.group(3).split(" [")[0], count=1)
            if re.search(r"__(memcpy|memmove|memset)", func):
                copy += int(mh.group(1).replace(",", ""))
            if len(hot) < 8:
                hot.append((float(mh.group(2)), func[:110]))
    if total is None:
        raise SystemExit(f"no totals in {outfile}")
    return total, copy, passes, nbytes, hot


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("exe")
    ap.add_argument("--quick", action="store_true", help="smoke run: tiny min time")
    ap.add_argument("--no-callgrind", action="store_true")
    ap.add_argument("--json", help="write the figures here")
    ap.add_argument("--hotspots", help="write the callgrind hot spots (text) here")
    args = ap.parse_args()

    min_time = 0.01 if args.quick else 0.5
    timed = run_timed(args.exe, min_time)
    base = timed["BM_Memcpy"]["bytes_per_second"]
    print("Core micro-benchmarks (Google Benchmark CPU time; ratio = throughput / memcpy)")
    print(f"  {'benchmark':28} {'MB/s':>10} {'vs memcpy':>10}")
    result = {"timed": {}, "callgrind": {}}
    for name, b in timed.items():
        bps = b.get("bytes_per_second", 0.0)
        ratio = bps / base if base else 0.0
        per_op = b["cpu_time"]
        result["timed"][name] = {"bytes_per_second": bps, "ratio_to_memcpy": ratio,
                                 "cpu_time": per_op, "time_unit": b["time_unit"]}
        extra = f" ({per_op:.0f} {b['time_unit']}/op)" if name.startswith("BM_Amf0") else ""
        ratio_s = f"{ratio:10.3f}" if not name.startswith("BM_Amf0") else f"{'':10}"
        print(f"  {name:28} {bps / 1e6:10.0f} {ratio_s}{extra}")

    if not args.no_callgrind and shutil.which("valgrind") and not args.quick:
        print()
        print("Instruction counts (callgrind, inside pass_* only; deterministic). 'other' is")
        print("everything but libc mem* (whose Ir count depends on the variant valgrind selects:")
        print("rep movsb counts one Ir per byte), i.e. the protocol work per payload byte/op.")
        print(f"  {'benchmark':28} {'Ir/unit':>10} {'other':>10} {'unit':>5}")
        hot_text = []
        with tempfile.TemporaryDirectory() as tmp:
            for name, unit in PROFILED:
                total, copy, passes, nbytes, hot = run_callgrind(args.exe, name, tmp, 0.01)
                div = nbytes if unit == "byte" else passes
                per, other = total / div, (total - copy) / div
                print(f"  {name:28} {per:10.3f} {other:10.3f} {unit:>5}")
                result["callgrind"][name] = {"ir_per_unit": per, "other_ir_per_unit": other,
                                             "unit": unit, "ir_total": total, "passes": passes,
                                             "bytes": nbytes, "hot": hot}
                hot_text.append(f"{name}: {total:,} Ir over {passes} passes, {nbytes:,} bytes")
                hot_text += [f"  {pct:5.1f}%  {fn}" for pct, fn in hot]
        if args.hotspots:
            with open(args.hotspots, "w") as f:
                f.write("\n".join(hot_text) + "\n")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
