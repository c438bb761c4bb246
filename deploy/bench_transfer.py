#!/usr/bin/env python3
"""State transfer: how long a member takes to get a full copy of the data, side by side with
Galera's SST (mariabackup), on the same sysbench data.

- grproxy: a 3-member sandbox, the sysbench tables prepared through member 1 (replicated),
  then `GRPROXY REBUILD FROM 1` on member 3 (a logical copy: mariadb-dump --single-transaction
  streamed over the peer link, loaded with the mariadb client), until member 3 is ONLINE.
- Galera: a 3-node cluster, the same tables prepared on node 1, then node 3 is stopped, its
  grastate.dat removed (so it cannot use IST) and started: SST by mariabackup from a donor,
  until it is Synced.

Reported per system: data size (InnoDB data + index, MiB), transfer time, time until the
member takes writes again, rate, and the CPU seconds the donor side spent (mysqld + proxy
and their children: mariadb-dump, or mariabackup).

    python3 deploy/bench_transfer.py                       # ~1 GiB: 4 tables x 1,000,000 rows
    python3 deploy/bench_transfer.py --table-size 100000   # a quick run
"""
import argparse
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402


def cpu_with_children(pid):
    """User + system CPU of a process and of its reaped children."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(fields[i]) for i in (11, 12, 13, 14)) / os.sysconf("SC_CLK_TCK")


def data_mib(port):
    r = bench.mariadb(port, "SELECT SUM(DATA_LENGTH + INDEX_LENGTH) FROM information_schema.TABLES "
                            "WHERE TABLE_SCHEMA = 'sbtest'")
    return int(r.stdout.strip() or 0) / 1048576


def member_state(port, member):
    r = bench.mariadb(port, f"SHOW GRPROXY MEMBERS WHERE member_id = {member}")
    cols = r.stdout.split("\t")
    return cols[3] if len(cols) > 3 else ""


def run_grproxy(args, workdir):
    sb = bench.SandboxCluster(os.path.join(workdir, "grproxy"), args.port, 3)
    try:
        sb.start()
        bench.prepare_db(sb.prepare_port, args)
        bench.wait_converged(sb.mysqld_ports, args.tables, "grproxy")
        size = data_mib(sb.mysqld_ports[0])
        donor = [sb.mysqld_pids[0], sb.proxy_pids[0]]
        cpu0 = sum(cpu_with_children(p) for p in donor)
        t0 = time.monotonic()
        r = bench.mariadb(args.port + 2, "GRPROXY REBUILD FROM 1")
        t1 = time.monotonic()
        if r.returncode != 0:
            raise RuntimeError(f"GRPROXY REBUILD: {r.stderr}")
        while member_state(args.port + 2, 3) != "ONLINE":
            time.sleep(0.1)
        t2 = time.monotonic()
        cpu = sum(cpu_with_children(p) for p in donor) - cpu0
        bench.wait_converged(sb.mysqld_ports, args.tables, "grproxy after the rebuild")
        return {"system": "grproxy (mariadb-dump)", "mib": size, "transfer_s": t1 - t0, "online_s": t2 - t0,
                "donor_cpu_s": cpu, "detail": r.stdout.strip()}
    finally:
        sb.stop()


def run_galera(args, workdir):
    g = bench.GaleraBench(os.path.join(workdir, "galera"), args.port + 500)
    os.makedirs(g.dir)
    try:
        g.start()
        bench.prepare_db(g.prepare_port, args)
        bench.wait_converged(g.mysqld_ports, args.tables, "galera")
        size = data_mib(g.mysqld_ports[0])
        joiner = g.procs.pop(2)
        joiner.terminate()
        joiner.wait(timeout=120)
        os.remove(os.path.join(g.node_dir(2), "data", "grastate.dat"))
        donors = list(g.pids)
        cpu0 = sum(cpu_with_children(p) for p in donors)
        t0 = time.monotonic()
        g._spawn(2, [])
        g._wait_ready(2, 3600, want_size=3)
        t1 = time.monotonic()
        cpu = sum(cpu_with_children(p) for p in donors) - cpu0
        bench.wait_converged(g.mysqld_ports, args.tables, "galera after the SST")
        return {"system": "Galera SST (mariabackup)", "mib": size, "transfer_s": t1 - t0, "online_s": t1 - t0,
                "donor_cpu_s": cpu, "detail": ""}
    finally:
        g.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tables", type=int, default=4)
    ap.add_argument("--table-size", type=int, default=1_000_000)
    ap.add_argument("--port", type=int, default=16033, help="base port (Galera uses PORT+500..)")
    ap.add_argument("--systems", default="grproxy,galera")
    args = ap.parse_args()
    workdir = tempfile.mkdtemp(prefix="grproxy-bench-transfer-")
    rows = []
    try:
        for name in args.systems.split(","):
            rows.append({"grproxy": run_grproxy, "galera": run_galera}[name](args, workdir))
            r = rows[-1]
            print(f"{r['system']}: {r['mib']:.0f} MiB in {r['transfer_s']:.1f} s, writes after "
                  f"{r['online_s']:.1f} s, donor CPU {r['donor_cpu_s']:.1f} s {r['detail']}", flush=True)
    finally:
        bench.kill_leftovers(workdir)
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"\n{args.tables} tables x {args.table_size} rows\n")
    print("| system | data (MiB) | transfer (s) | takes writes after (s) | rate (MiB/s) | donor CPU (s) |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['system']} | {r['mib']:.0f} | {r['transfer_s']:.1f} | {r['online_s']:.1f} | "
              f"{r['mib'] / r['transfer_s']:.1f} | {r['donor_cpu_s']:.1f} |")


if __name__ == "__main__":
    main()
