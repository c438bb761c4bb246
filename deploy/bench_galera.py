"""A 3-node MariaDB Galera cluster on loopback, for deploy/bench.py.

Each node is a mariadbd started from its own option file (`nodeN/my.cnf`: the SST scripts read
their settings from the same file) with the sandbox's InnoDB settings plus what Galera needs.
Node 1 bootstraps the cluster (--wsrep-new-cluster); nodes 2 and 3 join and receive a full
state transfer (SST) from it by mariabackup. Every port is on 127.0.0.1.
"""
import os
import shutil
import signal
import subprocess
import time

PROVIDER = "/usr/lib/galera/libgalera_smm.so"
SST_USER, SST_PASSWORD = "sst", "sst-bench-password"


def is_root():
    return os.geteuid() == 0


def mysqld_binary():
    for name in ("mariadbd", "mysqld"):
        for d in os.environ.get("PATH", "").split(":") + ["/usr/sbin", "/usr/bin"]:
            p = os.path.join(d, name)
            if os.path.isfile(p) and os.access(p, os.X_OK):
                return p
    raise RuntimeError("mariadbd not found (run deploy/install-deps.sh --bench)")


def log_tail(path, lines=30):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError:
        return "(no log)"


def ports(base):
    """Per node (1..3): mysqld, gcomm (group communication), IST receive, SST receive."""
    return [{"mysqld": base + i, "gcomm": base + 10 + i, "ist": base + 20 + i, "sst": base + 30 + i}
            for i in range(3)]


class GaleraCluster:
    def __init__(self, workdir, base_port):
        self.dir = workdir
        self.ports = ports(base_port)
        self.procs = []  # Popen of each started mariadbd, in node order

    def all_ports(self):
        return [p for node in self.ports for p in node.values()]

    @property
    def mysqld_ports(self):
        return [n["mysqld"] for n in self.ports]

    @property
    def pids(self):
        return [p.pid for p in self.procs]

    def node_dir(self, i):
        return os.path.join(self.dir, f"node{i + 1}")

    def option_file(self, i):
        nd, p = self.node_dir(i), self.ports[i]
        cluster = ",".join(f"127.0.0.1:{n['gcomm']}" for n in self.ports)
        lines = [
            "[mysqld]",
            f"datadir={nd}/data",
            f"socket={nd}/mysqld.sock",
            f"port={p['mysqld']}",
            "bind-address=127.0.0.1",
            f"pid-file={nd}/mysqld.pid",
            f"log-error={nd}/mysqld.log",
            "skip-name-resolve",
            # The sandbox's settings (src/sandbox/mysqld.rs), so every system runs the same mysqld.
            "skip-log-bin",
            "innodb-buffer-pool-size=256M",
            "innodb-flush-log-at-trx-commit=1",
            "max-connections=2000",
            "max-allowed-packet=64M",
            "character-set-server=utf8mb4",
            "collation-server=utf8mb4_general_ci",
            # Galera: row events, interleaved auto-increment locks (required by Galera).
            "binlog-format=ROW",
            "innodb-autoinc-lock-mode=2",
            "wsrep-on=ON",
            f"wsrep-provider={PROVIDER}",
            "wsrep-cluster-name=grproxy-bench",
            f"wsrep-cluster-address=gcomm://{cluster}",
            f"wsrep-node-name=node{i + 1}",
            f"wsrep-node-address=127.0.0.1:{p['gcomm']}",
            f"wsrep-provider-options=\"base_port={p['gcomm']};gmcast.listen_addr=tcp://127.0.0.1:{p['gcomm']};"
            f"ist.recv_addr=127.0.0.1:{p['ist']}\"",
            f"wsrep-sst-receive-address=127.0.0.1:{p['sst']}",
            "wsrep-sst-method=mariabackup",
            f"wsrep-sst-auth={SST_USER}:{SST_PASSWORD}",
        ]
        if is_root():
            lines.append("user=root")
        return "\n".join(lines) + "\n"

    def start(self, timeout=180):
        template = os.path.join(self.dir, "template")
        install = ["mariadb-install-db", "--no-defaults", f"--datadir={template}",
                   "--auth-root-authentication-method=normal", "--skip-test-db", "--skip-name-resolve"]
        if is_root():
            install.append("--user=root")
        r = subprocess.run(install, capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"mariadb-install-db failed:\n{r.stderr[-4000:]}")
        for i in range(3):
            nd = self.node_dir(i)
            os.makedirs(nd)
            shutil.copytree(template, os.path.join(nd, "data"))
            with open(os.path.join(nd, "my.cnf"), "w") as f:
                f.write(self.option_file(i))
        shutil.rmtree(template)

        self._spawn(0, ["--wsrep-new-cluster"])
        self._wait_ready(0, timeout, want_size=1)
        self.sql(0, f"CREATE USER '{SST_USER}'@'localhost' IDENTIFIED BY '{SST_PASSWORD}'; "
                    f"GRANT RELOAD, PROCESS, LOCK TABLES, BINLOG MONITOR ON *.* TO '{SST_USER}'@'localhost'")
        # Joiners one at a time: the donor serves one SST at a time anyway.
        for i in (1, 2):
            self._spawn(i, [])
            self._wait_ready(i, timeout, want_size=i + 1)
        for i in range(3):
            self._wait_ready(i, timeout, want_size=3)

    def _spawn(self, i, extra):
        nd = self.node_dir(i)
        cmd = [mysqld_binary(), f"--defaults-file={nd}/my.cnf", *extra]
        # Own session: a terminal's Ctrl-C reaches only the script, which then stops the cluster.
        self.procs.append(subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                           stderr=open(os.path.join(nd, "mysqld.stderr"), "w"),
                                           start_new_session=True))

    def _wait_ready(self, i, timeout, want_size):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.procs[i].poll() is not None:
                break
            status = self.status(i)
            if (status.get("wsrep_local_state_comment") == "Synced"
                    and int(status.get("wsrep_cluster_size", 0)) >= want_size):
                return
            time.sleep(0.5)
        log = os.path.join(self.node_dir(i), "mysqld.log")
        state = "exited" if self.procs[i].poll() is not None else "not Synced in time"
        raise RuntimeError(f"Galera node{i + 1} {state} (log {log}); last lines:\n{log_tail(log)}")

    def sql(self, i, statement, check=True):
        r = subprocess.run(["mariadb", "--no-defaults", "-uroot", f"--socket={self.node_dir(i)}/mysqld.sock",
                            "-N", "-B", "-e", statement], capture_output=True, text=True, timeout=60)
        if check and r.returncode != 0:
            raise RuntimeError(f"node{i + 1}: {statement}: {r.stderr.strip()}")
        return r.stdout if r.returncode == 0 else ""

    def status(self, i):
        """wsrep_% status variables of node i (empty when it does not answer)."""
        try:
            out = self.sql(i, "SHOW GLOBAL STATUS LIKE 'wsrep_%'", check=False)
        except subprocess.TimeoutExpired:
            return {}
        return dict(line.split("\t", 1) for line in out.splitlines() if "\t" in line)

    def conflict_counters(self):
        """Certification failures plus brute-force aborts, summed over the nodes."""
        total = 0
        for i in range(len(self.procs)):
            s = self.status(i)
            total += int(s.get("wsrep_local_cert_failures", 0)) + int(s.get("wsrep_local_bf_aborts", 0))
        return total

    def stop(self, grace=60):
        """SIGTERM to each node's process group (mariadbd and any SST helpers), then SIGKILL."""
        for p in self.procs:
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + grace
        for p in self.procs:
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        for p in self.procs:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait()
        self.procs = []
