#!/usr/bin/env python3
"""Plots of a benchmark run for docs/performance.md, drawn with gnuplot (Debian gnuplot-nox).

  plot.py RESULTS_DIR [--docs DOCS_DIR]

Reads RESULTS_DIR/system.json, micro.json and scale.json (written by tests/bench/run) and writes
bench-cpu-per-gb.png, bench-micro.png and bench-scale.png into RESULTS_DIR, and also into
DOCS_DIR when given.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys


def gnuplot(script):
    subprocess.run(["gnuplot"], input=script, text=True, check=True)


def quote(s):
    return '"' + s.replace('"', "'") + '"'


def plot_system(system, out):
    """One bar per row: the median CPU per GB over the runs, with a min-max bar when the
    system benchmarks were repeated (older results without min/max: one run, no bar)."""
    rows = [r for r in system["rows"] if r["cpu_s_per_gb"] is not None]
    repeat = system.get("repeat", 1)
    data = out + ".dat"
    with open(data, "w") as f:
        for i, r in enumerate(rows):
            label = f"{r['section']}: {r['name']}" + ("" if r["complete"] else " (INCOMPLETE)")
            ours = 1 if r["name"].startswith("ours") else 0
            lo = r.get("cpu_s_per_gb_min", r["cpu_s_per_gb"])
            hi = r.get("cpu_s_per_gb_max", r["cpu_s_per_gb"])
            f.write(f"{i} {r['cpu_s_per_gb']:.4f} {ours} {lo:.4f} {hi:.4f} {quote(label)}\n")
    mb = system["bytes"] / 1e6
    runs = "one run" if repeat == 1 else f"median of {repeat} runs, bars min-max"
    gnuplot(f"""
set terminal pngcairo size 1000,{140 + 28 * len(rows)} font ",10"
set output {quote(out)}
set title "CPU s per GB of FLV (lower is better)\\n{runs}, {mb:.0f} MB H.264/AAC"
set style fill solid 0.8 border -1
unset key
set grid x
set xrange [0:*]
set yrange [-0.7:{len(rows) - 0.3}] reverse
set ytics nomirror
set xlabel "CPU s / GB"
set offsets 0, graph 0.08, 0, 0
plot {quote(data)} using (0.5*$2):1:(0.5*$2):(0.38):($3 > 0 ? 0x2a9d3f : 0x8a8a8a):ytic(6) \
       with boxxyerror lc rgb variable, \
     '' using 2:1:4:5 with xerrorbars pt -1 lc rgb "black" lw 1.2, \
     '' using 5:1:(sprintf(" %.2f", $2)) with labels left
""")
    os.remove(data)


def plot_micro(micro, out):
    rows = [(name, v["ratio_to_memcpy"]) for name, v in micro["timed"].items()
            if not name.startswith("BM_Amf0")]
    data = out + ".dat"
    with open(data, "w") as f:
        for i, (name, ratio) in enumerate(rows):
            f.write(f"{i} {ratio:.4f} {quote(name.replace('BM_', ''))}\n")
    gnuplot(f"""
set terminal pngcairo size 900,{140 + 26 * len(rows)} font ",10"
set output {quote(out)}
set title "Core throughput as a fraction of memcpy of the same payload bytes (higher is better)"
set style fill solid 0.8 border -1
unset key
set grid x
set xrange [0:*]
set yrange [-0.7:{len(rows) - 0.3}] reverse
set xlabel "throughput / memcpy throughput"
set arrow from 0.5, graph 0 to 0.5, graph 1 nohead dt 2 lc rgb "red"
set offsets 0, graph 0.08, 0, 0
plot {quote(data)} using (0.5*$2):1:(0.5*$2):(0.38):ytic(3) with boxxyerror lc rgb 0x3b6ea8, \
     '' using 2:1:(sprintf(" %.3f", $2)) with labels left
""")
    os.remove(data)


def plot_scale(scale, out):
    """Server CPU against N and, when the results have them, context switches per message."""
    data = out + ".dat"
    have_cs = all(r[k].get("ctxt_per_message") is not None for r in scale["results"]
                  for k in ("ours", "nginx"))
    with open(data, "w") as f:
        for r in scale["results"]:
            cs = (f" {r['ours']['ctxt_per_message']:.4f} {r['nginx']['ctxt_per_message']:.4f}"
                  if have_cs else "")
            f.write(f"{r['n']} {r['ours']['cpu_pct']:.3f} {r['nginx']['cpu_pct']:.3f}{cs}\n")
    cpu = f"""
set title "Server CPU for N publishers at 600 kbit/s (percent of one core, lower is better)"
set xlabel "N publishers"
set ylabel "server CPU %"
set key top left
set grid
plot {quote(data)} using 1:2 with linespoints lw 2 pt 7 lc rgb 0x2a9d3f \
       title "ours: N rtmpserversrc, one process, one port", \
     '' using 1:3 with linespoints lw 2 pt 5 lc rgb 0x8a8a8a title "nginx-rtmp worker"
"""
    cs = f"""
set title "Server context switches per message (all threads, lower is better)"
set ylabel "context switches / message"
set yrange [0:1.3]
set key top right
plot {quote(data)} using 1:4 with linespoints lw 2 pt 7 lc rgb 0x2a9d3f title "ours", \
     '' using 1:5 with linespoints lw 2 pt 5 lc rgb 0x8a8a8a title "nginx-rtmp worker"
"""
    if have_cs:
        gnuplot(f"""
set terminal pngcairo size 1400,500 font ",10"
set output {quote(out)}
set multiplot layout 1,2
{cpu}
{cs}
unset multiplot
""")
    else:
        gnuplot(f"""
set terminal pngcairo size 800,500 font ",10"
set output {quote(out)}
{cpu}
""")
    os.remove(data)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("results")
    ap.add_argument("--docs")
    args = ap.parse_args()
    made = []
    system = os.path.join(args.results, "system.json")
    micro = os.path.join(args.results, "micro.json")
    if os.path.exists(system):
        with open(system) as f:
            out = os.path.join(args.results, "bench-cpu-per-gb.png")
            plot_system(json.load(f), out)
            made.append(out)
    if os.path.exists(micro):
        with open(micro) as f:
            out = os.path.join(args.results, "bench-micro.png")
            plot_micro(json.load(f), out)
            made.append(out)
    scale = os.path.join(args.results, "scale.json")
    if os.path.exists(scale):
        with open(scale) as f:
            out = os.path.join(args.results, "bench-scale.png")
            plot_scale(json.load(f), out)
            made.append(out)
    if args.docs:
        for m in made:
            shutil.copy(m, args.docs)
    return 0 if made else 1


if __name__ == "__main__":
    sys.exit(main())
