#!/usr/bin/env python3
"""grproxy benchmark: sysbench against mysqld directly and through grproxy, in one run.

Starts its own sandbox (mariadbd + grproxy, same mysqld settings as the tests: InnoDB,
innodb_flush_log_at_trx_commit=1, binlog off), prepares the sysbench tables, runs each
workload against each system, and prints a Markdown table (also written as JSON).

  deploy/bench.py --short            # about 2 minutes
  deploy/bench.py --time 60          # full: 60 s per run
Options: --threads N, --workloads a,b, --table-size N, --out DIR.
"""
import argparse
import atexit
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release", "grproxy")


def port_free(p):
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", p))
            return True
        except OSError:
            return False


def pick_base_port():
    for base in range(23000, 60000, 250):
        if all(port_free(base + i) for i in (0, 1, 2, 100, 101, 102)):
            return base
    sys.exit("no free port range found")


def proc_cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / tick


def proc_peak_rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def sysbench(workload, port, args, action, extra=()):
    cmd = ["sysbench", workload, "--db-driver=mysql", "--mysql-host=127.0.0.1", f"--mysql-port={port}",
           "--mysql-user=root", "--mysql-password=", "--mysql-db=sbtest", "--mysql-ssl=off",
           f"--tables={args.tables}", f"--table-size={args.table_size}", *extra, action]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{r.stdout}\n{r.stderr}")
    return r.stdout


def parse(out):
    def num(pattern):
        m = re.search(pattern, out)
        return float(m.group(1)) if m else 0.0
    return {
        "tps": num(r"transactions:\s+\d+\s+\(([\d.]+) per sec"),
        "qps": num(r"queries:\s+\d+\s+\(([\d.]+) per sec"),
        "queries": num(r"queries:\s+(\d+)"),
        "p95_ms": num(r"95th percentile:\s+([\d.]+)"),
        "errors_per_s": num(r"ignored errors:\s+\d+\s+\(([\d.]+) per sec"),
        "reconnects": num(r"reconnects:\s+(\d+)"),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--short", action="store_true", help="10 s runs on small tables")
    ap.add_argument("--time", type=int, default=60)
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--tables", type=int, default=4)
    ap.add_argument("--table-size", type=int, default=100000)
    ap.add_argument("--workloads", default="oltp_point_select,oltp_read_write")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench-results"))
    args = ap.parse_args()
    if args.short:
        args.time, args.table_size = 10, 10000

    subprocess.run([os.path.join(ROOT, "deploy", "install-deps.sh")], check=True)
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    work = tempfile.mkdtemp(prefix="grproxy-bench-")
    base = pick_base_port()

    def teardown(*_):
        subprocess.run([BIN, "sandbox", "down", "--dir", work], capture_output=True)
        shutil.rmtree(work, ignore_errors=True)
    atexit.register(teardown)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: sys.exit(130))

    subprocess.run([BIN, "sandbox", "up", "--nodes", "1", "--dir", work, "--port", str(base)], check=True,
                   stdout=subprocess.DEVNULL)
    proxy_pid = int(open(os.path.join(work, "node1", "grproxy.pid")).read())
    systems = {"direct": base + 100, "proxy": base}
    subprocess.run(["mariadb", "--no-defaults", "-h127.0.0.1", f"-P{base + 100}", "-uroot", "--skip-ssl",
                    "-e", "CREATE DATABASE sbtest"], check=True)
    sysbench("oltp_read_write", base + 100, args, "prepare", [f"--threads={min(args.tables, 4)}"])

    rows = []
    for wl in args.workloads.split(","):
        # Warm the buffer pool and both paths before measuring.
        for port in systems.values():
            sysbench(wl, port, args, "run", ["--threads=4", "--time=3"])
        for name, port in systems.items():
            cpu0 = proc_cpu_seconds(proxy_pid)
            out = sysbench(wl, port, args, "run", [f"--threads={args.threads}", f"--time={args.time}",
                                                   "--report-interval=0", "--db-ps-mode=auto"])
            cpu = proc_cpu_seconds(proxy_pid) - cpu0
            r = parse(out)
            r.update(system=name, workload=wl, threads=args.threads, seconds=args.time)
            if name == "proxy":
                r["proxy_cpu_s"] = round(cpu, 2)
                r["proxy_cpu_us_per_query"] = round(cpu * 1e6 / max(r["queries"], 1), 1)
                r["proxy_peak_rss_mb"] = round(proc_peak_rss_mb(proxy_pid), 1)
            rows.append(r)
            print(f"  {wl:20} {name:8} tps={r['tps']:.1f} qps={r['qps']:.1f} p95={r['p95_ms']}ms", file=sys.stderr)

    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "bench.json"), "w") as f:
        json.dump(rows, f, indent=2)
    direct = {r["workload"]: r for r in rows if r["system"] == "direct"}
    lines = ["| workload | system | TPS | QPS | p95 ms | errors/s | ratio to direct | proxy CPU µs/query | proxy peak RSS MB |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        d = direct[r["workload"]]
        key = "qps" if r["workload"] == "oltp_point_select" else "tps"
        ratio = r[key] / d[key] if d[key] else 0
        lines.append(f"| {r['workload']} | {r['system']} | {r['tps']:.1f} | {r['qps']:.1f} | {r['p95_ms']:.2f} | "
                     f"{r['errors_per_s']:.2f} | {ratio:.2f} ({key.upper()}) | {r.get('proxy_cpu_us_per_query', '')} | "
                     f"{r.get('proxy_peak_rss_mb', '')} |")
    table = "\n".join(lines)
    with open(os.path.join(args.out, "bench.md"), "w") as f:
        f.write(table + "\n")
    print(table)


if __name__ == "__main__":
    main()
