#!/usr/bin/env python3
"""Commit latency and machine CPU per commit of a running group, for comparing capture designs.

Runs three single-client workloads against one member (PyMySQL, one connection):
  autocommit   INSERT of one row per statement (autocommit)
  txn10        BEGIN; 10 point UPDATEs; COMMIT
  fresh        a new connection per autocommit INSERT (the `mariadb -e` pattern)
and reports, per workload, commits/s, latency p50/p95 (ms) and machine-wide CPU per commit
(user+nice+system+irq+softirq over all CPUs, from /proc/stat, so every mysqld, proxy and
kernel thread counts).

    deploy/capture_spike.py --port 6033 --seconds 20
"""
import argparse
import statistics
import time

import pymysql


def cpu_ticks():
    with open("/proc/stat") as f:
        parts = f.readline().split()[1:]
    user, nice, system, idle, iowait, irq, softirq = (int(x) for x in parts[:7])
    return user + nice + system + irq + softirq


def connect(port):
    return pymysql.connect(host="127.0.0.1", port=port, user="root", password="", autocommit=True)


def run(name, port, seconds, step):
    lat = []
    ticks0, t0 = cpu_ticks(), time.monotonic()
    n = 0
    while time.monotonic() - t0 < seconds:
        s = time.perf_counter()
        step(n)
        lat.append((time.perf_counter() - s) * 1000)
        n += 1
    wall = time.monotonic() - t0
    cpu_s = (cpu_ticks() - ticks0) / 100.0
    lat.sort()
    return {
        "workload": name,
        "commits_per_s": n / wall,
        "p50_ms": statistics.median(lat),
        "p95_ms": lat[int(len(lat) * 0.95)],
        "cpu_us_per_commit": cpu_s / n * 1e6,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, default=6033)
    ap.add_argument("--seconds", type=float, default=20)
    args = ap.parse_args()
    c = connect(args.port)
    cur = c.cursor()
    cur.execute("DROP DATABASE IF EXISTS spike")
    cur.execute("CREATE DATABASE spike")
    cur.execute("CREATE TABLE spike.a (id BIGINT PRIMARY KEY, v VARCHAR(40))")
    cur.execute("CREATE TABLE spike.u (id INT PRIMARY KEY, v INT)")
    cur.execute("INSERT INTO spike.u VALUES " + ",".join(f"({i}, 0)" for i in range(1, 101)))
    time.sleep(1)
    base = int(time.time() * 1000) % 1_000_000 * 1000

    def autocommit(n):
        cur.execute("INSERT INTO spike.a VALUES (%s, 'x')", (base + n,))

    def txn10(n):
        cur.execute("BEGIN")
        for k in range(10):
            cur.execute("UPDATE spike.u SET v = v + 1 WHERE id = %s", ((n * 10 + k) % 100 + 1,))
        cur.execute("COMMIT")

    def fresh(n):
        f = connect(args.port)
        f.cursor().execute("INSERT INTO spike.a VALUES (%s, 'y')", (base + 10_000_000 + n,))
        f.close()

    results = [
        run("autocommit", args.port, args.seconds, autocommit),
        run("txn10", args.port, args.seconds, txn10),
        run("fresh", args.port, args.seconds, fresh),
    ]
    print("| workload | commits/s | p50 ms | p95 ms | machine CPU us/commit |")
    print("|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r['workload']} | {r['commits_per_s']:.0f} | {r['p50_ms']:.2f} | {r['p95_ms']:.2f} "
            f"| {r['cpu_us_per_commit']:.0f} |"
        )


if __name__ == "__main__":
    main()
