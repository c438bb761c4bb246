#!/usr/bin/env python3
"""grproxy benchmark: sysbench against mysqld, grproxy, a grproxy group and a Galera cluster.

In one run on one machine it starts every system itself with the same mysqld settings
(InnoDB, innodb_flush_log_at_trx_commit=1, 256 MiB buffer pool, binlog off), prepares the same
sysbench tables on each, runs each workload against each system, then a thread-count sweep,
and prints Markdown tables (also written as JSON, plus a PNG chart of the sweep).

  deploy/bench.py --short            # every row and the sweep, under 10 minutes on 2 cores
  deploy/bench.py --time 60          # full: 60 s per measured run

Systems: `direct` (one mariadbd), `proxy` (one grproxy in front of it), `relay` (a bare byte
relay, socat, in the proxy's place: the floor an extra hop on this machine sets), `group-1w` (3-member
grproxy group, every connection on member 1), `group-3w` (connections spread over the three),
`sp-1w` / `sp-split` (the group in single-primary mode: every connection on the primary / spread
over the three, the secondaries sending writes and transactions on to the primary),
`galera-1w` / `galera-3w` (3-node MariaDB Galera cluster, SST by mariabackup, connections on
node 1 / spread over the three). Systems sharing processes (direct+proxy, group-1w+group-3w,
sp-1w+sp-split, galera-1w+galera-3w) run back to back: one cluster is started, measured and stopped before
the next, so at most one system's servers load the CPU at a time.
"""
import argparse
import atexit
import os
import platform
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_galera  # noqa: E402
import bench_report  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release", "grproxy")
ALL_SYSTEMS = ["direct", "proxy", "relay", "group-1w", "group-3w", "sp-1w", "sp-split", "galera-1w", "galera-3w"]
ALL_WORKLOADS = ["oltp_point_select", "oltp_read_only", "oltp_read_write", "oltp_write_only", "oltp_update_index"]


# ---------------------------------------------------------------- processes and ports

def port_free(p):
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", p))
            return True
        except OSError:
            return False


def require_free(ports, what):
    for p in ports:
        if not port_free(p):
            sys.exit(f"bench: port {p} on 127.0.0.1 is taken (needed by {what}); "
                     f"free it or choose another --port")


def proc_cpu_seconds(pid):
    """User + system CPU of a process (its threads included)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_peak_rss_mb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def pids_mentioning(path):
    """Processes whose command line names `path` (servers and helpers started under the work dir)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    if path.encode() in f.read():
                        found.append(int(entry))
            except OSError:
                pass
    return found


def kill_leftovers(path):
    """Last resort of the teardown: stops, by pid, whatever still runs from the work dir
    (for instance a mysqld started by an interrupted `sandbox up` before it wrote its pid file)."""
    for sig, pause in ((signal.SIGTERM, 10), (signal.SIGKILL, 0)):
        pids = pids_mentioning(path)
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + pause
        while pids and time.monotonic() < deadline:
            pids = [p for p in pids if os.path.exists(f"/proc/{p}")]
            time.sleep(0.2)


def read_pid(path):
    with open(path) as f:
        return int(f.read().strip())


# ---------------------------------------------------------------- the systems

class System:
    """What sysbench connects to, and which processes serve it."""

    def __init__(self, name, ports, server_pids, proxy_pids, cluster):
        self.name, self.ports, self.cluster = name, ports, cluster
        self.server_pids = server_pids  # every mysqld and proxy serving this system
        self.proxy_pids = proxy_pids


class SandboxCluster:
    """`grproxy sandbox up` with 1 node (direct + proxy) or 3 nodes (group-1w + group-3w)."""

    def __init__(self, workdir, port, nodes, mode="multi-primary", in_flight=None):
        self.dir, self.port, self.nodes, self.mode = workdir, port, nodes, mode
        self.in_flight = in_flight
        self.started = False
        if nodes == 1:
            self.names = ["direct", "proxy", "relay"]
        elif mode == "single-primary":
            self.names = ["sp-1w", "sp-split"]
        else:
            self.names = ["group-1w", "group-3w"]
        self.relay = None
        self.label = {1: "the single mariadbd + grproxy"}.get(nodes, f"the grproxy group ({mode})")
        # The single node is prepared on mysqld itself; the group through member 1 (replicated).
        self.prepare_port = self.mysqld_ports[0] if nodes == 1 else port

    def all_ports(self):
        # Proxy, mysqld and Raft peer port of each node (the layout of src/sandbox/mod.rs).
        ports = [self.port + off + i for off in (0, 100, 200) for i in range(self.nodes)]
        return ports + ([self.relay_port] if self.nodes == 1 else [])

    @property
    def relay_port(self):
        return self.port + 50

    @property
    def mysqld_ports(self):
        return [self.port + 100 + i for i in range(self.nodes)]

    def start(self):
        self.started = True
        subprocess.run([BIN, "sandbox", "up", "--nodes", str(self.nodes), "--dir", self.dir, "--port",
                        str(self.port), "--mode", self.mode]
                       + (["--raft-batches-in-flight", str(self.in_flight)] if self.in_flight else []),
                       check=True, stdout=subprocess.DEVNULL)
        nd = [os.path.join(self.dir, f"node{i}") for i in range(1, self.nodes + 1)]
        self.proxy_pids = [read_pid(os.path.join(d, "grproxy.pid")) for d in nd]
        self.mysqld_pids = [read_pid(os.path.join(d, "mysqld.pid.sandbox")) for d in nd]
        if self.nodes == 1:
            # TCP in, TCP to mysqld out (as the proxy's sessions go): the proxy's position,
            # without the proxy.
            self.relay = subprocess.Popen(
                ["socat", f"TCP-LISTEN:{self.relay_port},bind=127.0.0.1,fork,reuseaddr,nodelay",
                 f"TCP:127.0.0.1:{self.mysqld_ports[0]},nodelay"])

    def systems(self):
        proxies = [self.port + i for i in range(self.nodes)]
        every = self.mysqld_pids + self.proxy_pids
        if self.nodes == 1:
            # The relay's CPU is not counted (socat forks a process per connection).
            return [System("direct", self.mysqld_ports, self.mysqld_pids, [], self),
                    System("proxy", proxies, every, self.proxy_pids, self),
                    System("relay", [self.relay_port], self.mysqld_pids, [], self)]
        if self.mode == "single-primary":
            # Member 1 is the primary (the election's pick among equals); sp-split spreads the
            # connections over all three: the secondaries send writes (and whole transactions)
            # on to the primary.
            return [System("sp-1w", proxies[:1], every, self.proxy_pids, self),
                    System("sp-split", proxies, every, self.proxy_pids, self)]
        return [System("group-1w", proxies[:1], every, self.proxy_pids, self),
                System("group-3w", proxies, every, self.proxy_pids, self)]

    def conflict_counters(self):
        return None

    def group_counters(self):
        """The group's message and sync counters (SHOW GRPROXY STATUS), summed over members."""
        if self.nodes == 1:
            return None
        total = {}
        for i in range(self.nodes):
            r = mariadb(self.port + i, "SHOW GRPROXY STATUS")
            for line in r.stdout.splitlines():
                name, _, value = line.partition("\t")
                if name in GROUP_COUNTERS and value.strip().isdigit():
                    total[name] = total.get(name, 0) + int(value)
        return total

    def stop(self):
        if self.relay is not None:
            self.relay.terminate()
            self.relay.wait()
            self.relay = None
        if self.started and os.path.isdir(self.dir):
            subprocess.run([BIN, "sandbox", "down", "--dir", self.dir], capture_output=True)
        self.started = False


# Group counters reported per committed transaction (summed over the members).
GROUP_COUNTERS = ("peer_requests_sent", "peer_empty_append_entries_sent", "raft_log_fsyncs",
                  "raft_proposals_batched", "raft_batches")


class GaleraBench(bench_galera.GaleraCluster):
    names = ["galera-1w", "galera-3w"]
    label = "the Galera cluster"

    def group_counters(self):
        return None

    @property
    def prepare_port(self):
        return self.mysqld_ports[0]

    def systems(self):
        return [System("galera-1w", self.mysqld_ports[:1], self.pids, [], self),
                System("galera-3w", self.mysqld_ports, self.pids, [], self)]


# ---------------------------------------------------------------- sysbench

def machine_counters():
    """Machine-wide counters: CPU ticks (busy = user+nice+system+irq+softirq, so kernel threads
    such as the journal count; idle = idle+iowait), context switches, and block-device flush
    requests completed (each fsync/fdatasync that reaches the disk, journal commits included)."""
    busy = idle = total = ctxt = 0
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith("cpu "):
                v = [int(x) for x in line.split()[1:]] + [0] * 8
                user, nice, system, idle_t, iowait, irq, softirq, steal = v[:8]
                busy = user + nice + system + irq + softirq
                idle = idle_t + iowait
                total = busy + idle + steal
            elif line.startswith("ctxt "):
                ctxt = int(line.split()[1])
    flushes = 0
    with open("/proc/diskstats") as f:
        for line in f:
            parts = line.split()
            name, vals = parts[2], parts[3:]
            # Whole disks only (partitions repeat their disk's requests); field 16 is flushes.
            if len(vals) > 15 and not name.startswith(("loop", "ram", "zram", "dm-")) and not name[-1].isdigit():
                flushes += int(vals[15])
    return {"busy": busy, "idle": idle, "total": total, "ctxt": ctxt, "flushes": flushes}


def sysbench(workload, ports, args, action, extra=()):
    cmd = ["sysbench", workload, "--db-driver=mysql", "--mysql-host=127.0.0.1",
           "--mysql-port=" + ",".join(str(p) for p in ports), "--mysql-user=root", "--mysql-password=",
           "--mysql-db=sbtest", "--mysql-ssl=off", f"--tables={args.tables}", f"--table-size={args.table_size}",
           # Ids 1..N written by sysbench, not AUTO_INCREMENT: a group member's
           # auto_increment_increment (7 in grproxy, 3 in a 3-node Galera) would leave most ids
           # of 1..N unused, and most of the point statements would then match no row, a
           # different workload on every system.
           "--auto_inc=off",
           *extra, action]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
    return r.stdout


def parse(out):
    def num(pattern):
        m = re.search(pattern, out)
        return float(m.group(1)) if m else 0.0
    return {
        "tps": num(r"transactions:\s+\d+\s+\(([\d.]+) per sec"),
        "qps": num(r"queries:\s+\d+\s+\(([\d.]+) per sec"),
        "transactions": num(r"transactions:\s+(\d+)"),
        "queries": num(r"queries:\s+(\d+)"),
        "p95_ms": num(r"95th percentile:\s+([\d.]+)"),
        "avg_ms": num(r"avg:\s+([\d.]+)"),
        "errors_per_s": num(r"ignored errors:\s+\d+\s+\(([\d.]+) per sec"),
        "reconnects_per_s": num(r"reconnects:\s+\d+\s+\(([\d.]+) per sec"),
    }


def mariadb(port, statement):
    return subprocess.run(["mariadb", "--no-defaults", "-h127.0.0.1", f"-P{port}", "-uroot", "--skip-ssl", "-N",
                           "-e", statement], capture_output=True, text=True, timeout=120)


def prepare_db(port, args):
    r = mariadb(port, "CREATE DATABASE sbtest")
    if r.returncode != 0:
        raise RuntimeError(f"CREATE DATABASE on port {port}: {r.stderr}")
    sysbench("oltp_read_write", [port], args, "prepare", [f"--threads={min(args.tables, 4)}"])


def wait_converged(mysqld_ports, tables, what):
    """Waits until every member's sysbench tables have the same checksum."""
    names = ", ".join(f"sbtest.sbtest{i}" for i in range(1, tables + 1))
    for _ in range(600):
        sums = {mariadb(p, f"CHECKSUM TABLE {names}").stdout for p in mysqld_ports}
        if len(sums) == 1 and "" not in sums:
            return
        time.sleep(1)
    raise RuntimeError(f"{what}: members did not converge after prepare")


def measure(system, workload, threads, args, section):
    """One measured sysbench run, with the CPU of the servers and of sysbench around it."""
    cluster = system.cluster
    conflicts0 = cluster.conflict_counters()
    group0 = cluster.group_counters()
    server0 = {p: proc_cpu_seconds(p) for p in system.server_pids}
    proxy0 = sum(proc_cpu_seconds(p) for p in system.proxy_pids)
    client0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    row = {"section": section, "system": system.name, "workload": workload, "threads": threads,
           "seconds": args.time}
    extra = [f"--threads={threads}", f"--time={args.time}", "--report-interval=0",
             f"--db-ps-mode={args.ps_mode}"]
    if args.skip_trx:
        extra.append("--skip_trx=on")
        row["skip_trx"] = True
    row["ps_mode"] = args.ps_mode
    if args.rate:
        extra.append(f"--rate={args.rate}")
        row["rate"] = args.rate
    machine0 = machine_counters()
    try:
        out = sysbench(workload, system.ports, args, "run", extra)
    except RuntimeError as e:
        row["failed"] = str(e).splitlines()[-1] if str(e).strip() else "sysbench failed"
        row["failure_detail"] = str(e)
        print(f"  {workload:18} {threads:3} {system.name:9} FAILED: {row['failed']}", file=sys.stderr)
        return row
    client1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    machine1 = machine_counters()
    row.update(parse(out))
    d = {k: machine1[k] - machine0[k] for k in machine0}
    hz = os.sysconf("SC_CLK_TCK")
    commits = max(row["transactions"], 1)
    # Machine-wide, sysbench included (the same client for every system): what one committed
    # transaction costs the whole host, and how much of it was left idle.
    row["machine_cpu_us_per_txn"] = round(d["busy"] / hz * 1e6 / commits, 1)
    row["ctxt_per_txn"] = round(d["ctxt"] / commits, 1)
    row["flushes_per_txn"] = round(d["flushes"] / commits, 2)
    row["idle_pct"] = round(100.0 * d["idle"] / max(d["total"], 1), 1)
    server = sum(proc_cpu_seconds(p) - c for p, c in server0.items())
    txns = max(row["transactions"], 1)
    row["server_cpu_s"] = round(server, 2)
    row["server_cpu_us_per_txn"] = round(server * 1e6 / txns, 1)
    row["client_cpu_s"] = round(client1.ru_utime + client1.ru_stime - client0.ru_utime - client0.ru_stime, 2)
    row["mysqld_peak_rss_mb"] = round(max(proc_peak_rss_mb(p) for p in system.server_pids
                                          if p not in system.proxy_pids), 1)
    if system.proxy_pids:
        proxy = sum(proc_cpu_seconds(p) for p in system.proxy_pids) - proxy0
        row["proxy_cpu_s"] = round(proxy, 2)
        row["proxy_cpu_us_per_query"] = round(proxy * 1e6 / max(row["queries"], 1), 1)
        row["proxy_peak_rss_mb"] = round(max(proc_peak_rss_mb(p) for p in system.proxy_pids), 1)
    if group0:
        # Each peer request has one reply: messages = 2 x requests.
        group1 = cluster.group_counters()
        for name, key in (("peer_requests_sent", "peer_msgs_per_txn"),
                          ("peer_empty_append_entries_sent", "empty_appends_per_txn"),
                          ("raft_log_fsyncs", "raft_fsyncs_per_txn")):
            if name in group0 and name in group1:
                n = group1[name] - group0[name]
                row[key] = round((2 * n if name == "peer_requests_sent" else n) / commits, 2)
        batches = group1.get("raft_batches", 0) - group0.get("raft_batches", 0)
        if batches > 0:
            row["proposals_per_entry"] = round(
                (group1["raft_proposals_batched"] - group0["raft_proposals_batched"]) / batches, 2)
    if conflicts0 is not None:
        row["galera_conflicts_per_s"] = round((cluster.conflict_counters() - conflicts0) / args.time, 2)
    print(f"  {workload:18} {threads:3} {system.name:9} tps={row['tps']:.1f} qps={row['qps']:.1f} "
          f"p95={row['p95_ms']}ms err/s={row['errors_per_s']} server_cpu={row['server_cpu_s']}s", file=sys.stderr)
    return row


def bench_system(system, args, rows):
    """Every workload at --threads, then the sweep when this system is in it: contiguous runs."""
    warmed = set()

    def warm(wl):
        # Warms the buffer pool and every path (prepared statements, proxy sessions) first.
        if args.warmup > 0 and wl not in warmed:
            try:
                sysbench(wl, system.ports, args, "run", ["--threads=4", f"--time={args.warmup}"])
            except RuntimeError as e:
                print(f"  warm-up of {wl} on {system.name} failed: {str(e).splitlines()[-1]}", file=sys.stderr)
            warmed.add(wl)

    for wl in args.workloads:
        warm(wl)
        rows.append(measure(system, wl, args.threads, args, "workload"))
    if system.name in args.sweep_systems:
        warm(args.sweep_workload)
        for t in args.sweep_threads:
            rows.append(measure(system, args.sweep_workload, t, args, "sweep"))


# ---------------------------------------------------------------- main

def parse_args():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--short", action="store_true",
                    help="6 s runs, 2 s warm-ups, 10k-row tables: every row and the sweep in under 10 minutes "
                         "(an explicit --time, --warmup or --table-size still wins)")
    ap.add_argument("--time", type=int, help="seconds per measured run (default 60; 6 with --short)")
    ap.add_argument("--warmup", type=int,
                    help="seconds of warm-up per system and workload (default 5; 2 with --short)")
    ap.add_argument("--threads", type=int, default=8, help="sysbench threads of the workload rows")
    ap.add_argument("--rate", type=int, default=0,
                    help="sysbench --rate: a fixed transaction rate (to compare systems at the same load below "
                         "saturation; 0 = as fast as possible)")
    ap.add_argument("--ps-mode", choices=["auto", "disable"], default="auto",
                    help="sysbench --db-ps-mode: auto (binary prepared statements, which pin a "
                         "single-primary secondary's session to the primary) or disable (text queries)")
    ap.add_argument("--skip-trx", action="store_true",
                    help="sysbench --skip_trx=on: statements without BEGIN/COMMIT (reads outside "
                         "transactions, which a single-primary secondary runs locally)")
    ap.add_argument("--tables", type=int, default=4)
    ap.add_argument("--table-size", type=int, help="rows per table (default 100000; 10000 with --short)")
    ap.add_argument("--workloads", default=",".join(ALL_WORKLOADS))
    ap.add_argument("--systems", default=",".join(ALL_SYSTEMS))
    ap.add_argument("--sweep-threads", default="1,4,16,64", help="thread counts of the sweep ('' = no sweep)")
    ap.add_argument("--sweep-systems", default="direct,group-1w,galera-1w")
    ap.add_argument("--sweep-workload", default="oltp_read_write")
    ap.add_argument("--port", type=int, default=23000,
                    help="first of the ports used (up to +432; default 23000); the run stops if one is taken")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench-results"))
    ap.add_argument("--keep", action="store_true", help="keep the work directory (datadirs, logs) for diagnosis")
    ap.add_argument("--relaxed-group-mysqld", action="store_true",
                    help="EXPERIMENT, not a supported setting: the group members' mysqld run with sync_binlog=0 "
                         "and innodb_flush_log_at_trx_commit=2 (what the design's relaxed-flushing lever would "
                         "save; grproxy does not yet re-apply what a crashed host's mysqld lost)")
    ap.add_argument("--raft-batches-in-flight", type=int, metavar="N",
                    help="group.raft_batches_in_flight of the group members (default: grproxy's default)")
    args = ap.parse_args()
    # --short only changes what was not given: `--short --time 15` runs 15 s.
    for name, full, short in (("time", 60, 6), ("warmup", 5, 2), ("table_size", 100000, 10000)):
        if getattr(args, name) is None:
            setattr(args, name, short if args.short else full)
    split = lambda s: [x for x in s.split(",") if x]  # noqa: E731
    args.workloads, args.systems = split(args.workloads), split(args.systems)
    args.sweep_threads = [int(t) for t in split(args.sweep_threads)]
    args.sweep_systems = [s for s in split(args.sweep_systems) if s in args.systems] if args.sweep_threads else []
    for s in args.systems:
        if s not in ALL_SYSTEMS:
            ap.error(f"unknown system {s!r}; known: {', '.join(ALL_SYSTEMS)}")
    return args


def versions():
    def first_line(cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True).stdout.strip().splitlines()[0]
        except (OSError, IndexError):
            return ""
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "")
    except OSError:
        pass
    return {"mariadbd": first_line([bench_galera.mysqld_binary(), "--version"]),
            "sysbench": first_line(["sysbench", "--version"]),
            "galera": first_line(["dpkg-query", "-W", "-f", "${Version}", "galera-4"]),
            # "+dirty" when the binary was built from uncommitted changes.
            "grproxy_commit": first_line(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"])
            + ("+dirty" if first_line(["git", "-C", ROOT, "status", "--porcelain", "--", "src", "Cargo.toml",
                                       "Cargo.lock"]) else ""),
            "cpu_model": cpu, "kernel": platform.release()}


def main():
    args = parse_args()
    began = time.monotonic()
    work = tempfile.mkdtemp(prefix="grproxy-bench-")
    wanted = set(args.systems)
    clusters = []
    if {"direct", "proxy", "relay"} & wanted:
        clusters.append(SandboxCluster(os.path.join(work, "single"), args.port, 1))
    if {"group-1w", "group-3w"} & wanted:
        clusters.append(SandboxCluster(os.path.join(work, "group"), args.port + 10, 3, in_flight=args.raft_batches_in_flight))
    if {"sp-1w", "sp-split"} & wanted:
        clusters.append(SandboxCluster(os.path.join(work, "single-primary"), args.port + 30, 3, "single-primary", args.raft_batches_in_flight))
    if {"galera-1w", "galera-3w"} & wanted:
        os.makedirs(os.path.join(work, "galera"))
        clusters.append(GaleraBench(os.path.join(work, "galera"), args.port + 20))

    tearing_down = []

    def teardown():
        if tearing_down:
            return
        tearing_down.append(True)
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_IGN)  # a second Ctrl-C must not leave servers behind
        for c in clusters:
            c.stop()
        kill_leftovers(work)
        if args.keep:
            print(f"bench: work directory kept: {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    atexit.register(teardown)

    def interrupted(signum, _frame):
        print(f"bench: {signal.Signals(signum).name}, stopping every server", file=sys.stderr)
        sys.exit(130)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, interrupted)

    for c in clusters:
        require_free(c.all_ports(), c.label)

    deps = [os.path.join(ROOT, "deploy", "install-deps.sh")]
    if {"galera-1w", "galera-3w", "relay"} & wanted or args.sweep_threads:
        deps.append("--bench")  # Galera packages, mariabackup, socat, matplotlib
    subprocess.run(deps, check=True)
    if wanted - {"galera-1w", "galera-3w"}:
        subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)

    rows = []
    for c in clusters:
        require_free(c.all_ports(), c.label)  # again: something may have taken one meanwhile
        t0 = time.monotonic()
        try:
            c.start()
            if args.relaxed_group_mysqld and len(c.mysqld_ports) > 1:
                for p in c.mysqld_ports:
                    r = mariadb(p, "SET GLOBAL sync_binlog=0, GLOBAL innodb_flush_log_at_trx_commit=2")
                    if r.returncode != 0:
                        raise RuntimeError(f"relaxing mysqld on port {p}: {r.stderr}")
            prepare_db(c.prepare_port, args)
            if len(c.mysqld_ports) > 1:
                wait_converged(c.mysqld_ports, args.tables, c.label)
        except (RuntimeError, subprocess.CalledProcessError) as e:
            print(f"bench: {c.label} did not start: {e}"
                  + ("" if args.keep else "\n(run with --keep to keep its logs)"), file=sys.stderr)
            c.stop()
            rows += [{"section": "workload", "system": name, "workload": "(all)", "threads": args.threads,
                      "failed": f"start failed: {str(e).splitlines()[0]}"} for name in c.names if name in wanted]
            continue
        print(f"bench: {c.label} up and prepared in {time.monotonic() - t0:.0f} s", file=sys.stderr)
        for system in c.systems():
            if system.name in wanted:
                bench_system(system, args, rows)
        c.stop()

    meta = {"date": time.strftime("%Y-%m-%d %H:%M:%S"), "seconds_per_run": args.time, "warmup_s": args.warmup,
            "threads": args.threads, "tables": args.tables, "table_size": args.table_size,
            "ps_mode": args.ps_mode, "skip_trx": args.skip_trx,
            "sweep_workload": args.sweep_workload, "sweep_threads": args.sweep_threads,
            "cpus": os.cpu_count(), "short": args.short, "db_ps_mode": "auto",
            "relaxed_group_mysqld": args.relaxed_group_mysqld,
            "raft_batches_in_flight": args.raft_batches_in_flight,
            "elapsed_s": round(time.monotonic() - began), **versions()}
    table = bench_report.write(args.out, meta, rows)
    print(table)
    print(f"bench: {meta['elapsed_s']} s; results in {args.out}/bench.md, bench.json"
          + (", bench-scaling.png" if any(r["section"] == "sweep" for r in rows) else ""), file=sys.stderr)


if __name__ == "__main__":
    main()
