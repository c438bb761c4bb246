#!/usr/bin/env python3
"""grproxy benchmark: sysbench against mysqld directly and through grproxy, in one run.

Starts its own sandbox (mariadbd + grproxy, same mysqld settings as the tests: InnoDB,
innodb_flush_log_at_trx_commit=1, binlog off), prepares the sysbench tables, runs each
workload against each system, and prints a Markdown table (also written as JSON).

  deploy/bench.py --short            # a few minutes
  deploy/bench.py --time 60          # full: 60 s per run
Options: --threads N, --workloads a,b, --systems direct,proxy,group-1w,group-3w,
--table-size N, --out DIR. Systems: `direct` (one mariadbd), `proxy` (grproxy in front of
it), `group-1w` (3-member grproxy group, every connection on member 1), `group-3w`
(connections spread over the three members).
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
        if all(port_free(base + i) for i in (0, 1, 2, 100, 101, 102, 300, 301, 302, 400, 401, 402, 500, 501, 502)):
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


def prepare_db(port, args):
    subprocess.run(["mariadb", "--no-defaults", "-h127.0.0.1", f"-P{port}", "-uroot", "--skip-ssl",
                    "-e", "CREATE DATABASE sbtest"], check=True)
    sysbench("oltp_read_write", [port], args, "prepare", [f"--threads={min(args.tables, 4)}"])


def wait_converged(mysqld_ports, tables):
    """Waits until the members' sysbench tables have equal checksums."""
    names = ", ".join(f"sbtest.sbtest{i}" for i in range(1, tables + 1))
    for _ in range(600):
        sums = set()
        for p in mysqld_ports:
            r = subprocess.run(["mariadb", "--no-defaults", "-h127.0.0.1", f"-P{p}", "-uroot", "--skip-ssl", "-N",
                                "-e", f"CHECKSUM TABLE {names}"], capture_output=True, text=True)
            sums.add(r.stdout)
        if len(sums) == 1:
            return
        time.sleep(1)
    sys.exit("group members did not converge after prepare")


def sysbench(workload, ports, args, action, extra=()):
    port = ",".join(str(p) for p in ports)
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
    ap.add_argument("--systems", default="direct,proxy,group-1w,group-3w")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench-results"))
    args = ap.parse_args()
    if args.short:
        args.time, args.table_size = 10, 10000

    subprocess.run([os.path.join(ROOT, "deploy", "install-deps.sh")], check=True)
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    work = tempfile.mkdtemp(prefix="grproxy-bench-")
    base = pick_base_port()
    wanted = args.systems.split(",")
    single, group = os.path.join(work, "single"), os.path.join(work, "group")

    def teardown(*_):
        for d in (single, group):
            if os.path.isdir(d):
                subprocess.run([BIN, "sandbox", "down", "--dir", d], capture_output=True)
        shutil.rmtree(work, ignore_errors=True)
    atexit.register(teardown)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: sys.exit(130))

    systems = {}  # name -> (ports, proxy pids)
    if {"direct", "proxy"} & set(wanted):
        subprocess.run([BIN, "sandbox", "up", "--nodes", "1", "--dir", single, "--port", str(base)], check=True,
                       stdout=subprocess.DEVNULL)
        pid = int(open(os.path.join(single, "node1", "grproxy.pid")).read())
        systems["direct"] = ([base + 100], [])
        systems["proxy"] = ([base], [pid])
        prepare_db(base + 100, args)
    if {"group-1w", "group-3w"} & set(wanted):
        gbase = base + 300
        subprocess.run([BIN, "sandbox", "up", "--nodes", "3", "--dir", group, "--port", str(gbase)], check=True,
                       stdout=subprocess.DEVNULL)
        pids = [int(open(os.path.join(group, f"node{i}", "grproxy.pid")).read()) for i in (1, 2, 3)]
        systems["group-1w"] = ([gbase], pids)
        systems["group-3w"] = ([gbase, gbase + 1, gbase + 2], pids)
        prepare_db(gbase, args)
        wait_converged([gbase + 100, gbase + 101, gbase + 102], args.tables)
    systems = {k: v for k, v in systems.items() if k in wanted}

    rows = []
    for wl in args.workloads.split(","):
        # Warm the buffer pool and every path before measuring.
        for ports, _ in systems.values():
            sysbench(wl, ports, args, "run", ["--threads=4", "--time=3"])
        for name, (ports, pids) in systems.items():
            cpu0 = sum(proc_cpu_seconds(p) for p in pids)
            out = sysbench(wl, ports, args, "run", [f"--threads={args.threads}", f"--time={args.time}",
                                                    "--report-interval=0", "--db-ps-mode=auto"])
            cpu = sum(proc_cpu_seconds(p) for p in pids) - cpu0
            r = parse(out)
            r.update(system=name, workload=wl, threads=args.threads, seconds=args.time)
            if pids:
                r["proxy_cpu_s"] = round(cpu, 2)
                r["proxy_cpu_us_per_query"] = round(cpu * 1e6 / max(r["queries"], 1), 1)
                r["proxy_peak_rss_mb"] = round(max(proc_peak_rss_mb(p) for p in pids), 1)
            rows.append(r)
            print(f"  {wl:20} {name:9} tps={r['tps']:.1f} qps={r['qps']:.1f} p95={r['p95_ms']}ms "
                  f"err/s={r['errors_per_s']}", file=sys.stderr)

    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "bench.json"), "w") as f:
        json.dump(rows, f, indent=2)
    direct = {r["workload"]: r for r in rows if r["system"] == "direct"}
    lines = ["| workload | system | TPS | QPS | p95 ms | errors/s | ratio to direct | proxy CPU µs/query | proxy peak RSS MB |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        d = direct.get(r["workload"])
        key = "qps" if r["workload"] == "oltp_point_select" else "tps"
        ratio = r[key] / d[key] if d and d[key] else 0
        lines.append(f"| {r['workload']} | {r['system']} | {r['tps']:.1f} | {r['qps']:.1f} | {r['p95_ms']:.2f} | "
                     f"{r['errors_per_s']:.2f} | {ratio:.2f} ({key.upper()}) | {r.get('proxy_cpu_us_per_query', '')} | "
                     f"{r.get('proxy_peak_rss_mb', '')} |")
    table = "\n".join(lines)
    with open(os.path.join(args.out, "bench.md"), "w") as f:
        f.write(table + "\n")
    print(table)


if __name__ == "__main__":
    main()
