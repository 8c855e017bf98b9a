#!/usr/bin/env python3
"""Renders `chorus bench` results (scripts/bench-cluster.sh): a markdown table with the ratios
chorus/etcd and chorus/redis and the floors of issue 6, and a gnuplot chart.

  bench_report.py results.json OUTDIR CHORUS_BYTES_PER_KEY REDIS_BYTES_PER_KEY KEYS
"""
import json
import os
import platform
import subprocess
import sys
import time


def main():
    path, out, chorus_mem, redis_mem, mem_keys = sys.argv[1:6]
    rows = json.load(open(path))
    by = {(r["system"], r["workload"], r["concurrency"], r["pipeline"]): r for r in rows}

    def get(system, workload, c, p=1):
        return by.get((system, workload, c, p))

    lines = []
    load = os.getloadavg()
    lines.append(f"Run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {platform.node()} "
                 f"({os.cpu_count()} CPUs), load average before the report "
                 f"{load[0]:.1f}/{load[1]:.1f}/{load[2]:.1f}.")
    lines.append("")
    lines.append("| workload | conc. | pipe | chorus ops/s | p50 ms | p99 ms | etcd ops/s | etcd p50 | "
                 "etcd p99 | redis-aof ops/s | chorus/etcd | chorus/redis-aof |")
    lines.append("|---|---|---|---|---|---|---|---|---|---|---|---|")
    floors = []
    keys = sorted({(r["workload"], r["concurrency"], r["pipeline"]) for r in rows},
                  key=lambda k: (k[0] != "set", k[2], k[1]))
    for workload, c, p in keys:
        ch, et, rd = get("chorus", workload, c, p), get("etcd", workload, c, p), \
            get("redis-aof-always", workload, c, p)
        if ch is None:
            continue

        def f(r, k, fmt="{:,.0f}"):
            return fmt.format(r[k]) if r else "-"
        r_etcd = ch["ops_per_sec"] / et["ops_per_sec"] if et and et["ops_per_sec"] else None
        r_redis = ch["ops_per_sec"] / rd["ops_per_sec"] if rd and rd["ops_per_sec"] else None
        lines.append(
            f"| {workload} | {c} | {p} | {f(ch, 'ops_per_sec')} | {f(ch, 'p50_ms', '{:.2f}')} | "
            f"{f(ch, 'p99_ms', '{:.2f}')} | {f(et, 'ops_per_sec')} | {f(et, 'p50_ms', '{:.2f}')} | "
            f"{f(et, 'p99_ms', '{:.2f}')} | {f(rd, 'ops_per_sec')} | "
            f"{'%.2f x' % r_etcd if r_etcd else '-'} | {'%.2f x' % r_redis if r_redis else '-'} |")
        if workload == "set" and p == 1 and et and c >= 16:
            floors.append((f"SET c={c}: >= 5 x etcd", r_etcd >= 5, f"{r_etcd:.2f} x"))
            floors.append((f"SET c={c}: p99 <= etcd's", ch["p99_ms"] <= et["p99_ms"],
                           f"{ch['p99_ms']:.2f} vs {et['p99_ms']:.2f} ms"))
        if workload == "set" and p == 1 and et and c == 1:
            floors.append(("SET c=1: p50 <= 0.5 x etcd's", ch["p50_ms"] <= 0.5 * et["p50_ms"],
                           f"{ch['p50_ms']:.2f} vs {et['p50_ms']:.2f} ms"))
        if workload == "get" and p == 1 and et and c >= 16:
            floors.append((f"GET c={c}: >= 5 x etcd range", r_etcd >= 5, f"{r_etcd:.2f} x"))
        if workload == "set" and p > 1 and rd:
            floors.append((f"pipelined SET c={c} P={p}: >= 0.5 x redis aof-always",
                           r_redis >= 0.5, f"{r_redis:.2f} x"))
    for r in rows:
        if r["system"] == "redis-no-persistence":
            lines.append(f"\nRedis without persistence (reference): SET c={r['concurrency']} "
                         f"P={r['pipeline']}: {r['ops_per_sec']:,.0f} ops/s, p99 "
                         f"{r['p99_ms']:.2f} ms.")
    try:
        cm, rm = int(chorus_mem), int(redis_mem)
        lines.append(f"\nResident memory per key ({int(mem_keys):,} new keys, 100-byte values): chorus "
                     f"{cm} B (one node), redis {rm} B: {cm / rm:.2f} x.")
        floors.append(("memory per key <= 1.5 x redis", cm <= 1.5 * rm, f"{cm / rm:.2f} x"))
    except (ValueError, ZeroDivisionError):
        pass
    lines.append("\n| floor (issue 6) | met | measured |\n|---|---|---|")
    for name, ok, got in floors:
        lines.append(f"| {name} | {'yes' if ok else '**no**'} | {got} |")
    text = "\n".join(lines) + "\n"
    open(os.path.join(out, "results.md"), "w").write(text)
    print(text)

    # A chart: ops/s by concurrency, one line per system and workload (pipeline 1).
    data = os.path.join(out, "chart.dat")
    with open(data, "w") as d:
        series = sorted({(r["system"], r["workload"]) for r in rows if r["pipeline"] == 1})
        for system, workload in series:
            d.write(f'"{system} {workload}"\n')
            for r in sorted((r for r in rows if r["system"] == system and
                             r["workload"] == workload and r["pipeline"] == 1),
                            key=lambda r: r["concurrency"]):
                d.write(f"{r['concurrency']} {r['ops_per_sec']}\n")
            d.write("\n\n")
    png = os.path.join(out, "results.png")
    script = (f'set terminal png size 900,560; set output "{png}"; set logscale xy; '
              f'set xlabel "concurrency (connections)"; set ylabel "ops/s"; set key outside; '
              f'set title "chorus vs etcd vs redis (same machine, same load generator)"; '
              f'plot for [i=0:{max(len(series) - 1, 0)}] "{data}" index i using 1:2 with '
              f'linespoints title columnheader(1)')
    try:
        subprocess.run(["gnuplot", "-e", script], check=True)
        print(f"chart: {png}")
    except (OSError, subprocess.CalledProcessError) as e:
        print(f"no chart ({e})")


if __name__ == "__main__":
    main()
