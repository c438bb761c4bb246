"""Output of deploy/bench.py: the Markdown tables, the JSON file and the scaling chart."""
import json
import os

# Which Galera row a grproxy row is compared with (same workload and thread count).
GALERA_PEER = {"proxy": "galera-1w", "group-1w": "galera-1w", "group-3w": "galera-3w",
               "sp-1w": "galera-1w", "sp-split": "galera-3w"}


def ratio_key(workload):
    """oltp_point_select is one query per transaction: compare QPS; every other workload: TPS."""
    return "qps" if workload == "oltp_point_select" else "tps"


def _ratio(row, base):
    key = ratio_key(row["workload"])
    if not base or not base.get(key) or "failed" in row:
        return ""
    return f"{row[key] / base[key]:.2f}"


def _fmt(v, digits=1):
    return "" if v is None else f"{v:.{digits}f}"


LEGEND = """\
Ratios compare QPS for oltp_point_select (one query per transaction) and TPS otherwise, with the
`direct` row and with the matching Galera row (proxy, group-1w and sp-1w vs galera-1w, group-3w
and sp-split vs galera-3w) of the same workload and thread count. errors/s and reconnects/s are sysbench's
(ignored errors are deadlocks / certification aborts, error 1213, which sysbench retries).
Galera conflicts/s: wsrep_local_cert_failures + wsrep_local_bf_aborts, summed over the nodes
(Galera's own abort events; they need not equal sysbench's errors/s). Server CPU: user +
system CPU of every mysqld and grproxy serving the system (not sysbench), per committed
transaction. Machine CPU: every CPU of the host from /proc/stat (user + nice + system + irq +
softirq, so kernel threads such as the filesystem journal count, and sysbench too), per committed
transaction; ctxt/txn: the host's context switches per committed transaction; flushes/txn:
block-device cache flushes completed (/proc/diskstats: the fsyncs and journal commits that reached
the disk) per committed transaction; peer msgs/txn (group rows): Raft and forwarding messages
between the members (requests and their replies, from `SHOW GRPROXY STATUS`), per committed
transaction; Raft fsyncs/txn: the members' Raft log syncs per committed transaction; idle %: the host's idle + iowait share during the run (near 0:
the machine, not the system, was the limit). Proxy CPU: the grproxy processes only, per query.
Peak RSS: VmHWM of the largest proxy since it started."""


def markdown(rows, meta=None):
    """One table per section (fixed-thread workloads, then the scaling sweep), then a legend."""
    index = {(r["system"], r["workload"], r["threads"]): r for r in rows if "failed" not in r}
    header = ("| workload | threads | system | TPS | QPS | avg ms | p95 ms | errors/s | reconnects/s | Galera conflicts/s "
              "| ratio to direct | ratio to Galera | server CPU µs/txn | machine CPU µs/txn | ctxt/txn | flushes/txn "
              "| peer msgs/txn | Raft fsyncs/txn | idle % | proxy CPU µs/query | proxy peak RSS MB |")
    rule = "|" + "---|" * (header.count("|") - 1)
    out = []
    if meta:
        out += [f"{meta['date']}: {meta['seconds_per_run']} s per run after {meta['warmup_s']} s of warm-up, "
                f"{meta['tables']} tables x {meta['table_size']} rows, --db-ps-mode={meta.get('ps_mode', 'auto')}{', --skip_trx=on' if meta.get('skip_trx') else ''}; {meta['cpus']} CPUs "
                f"({meta['cpu_model']}); MariaDB {meta['mariadbd'].split('Ver', 1)[-1].split()[0]}; {meta['sysbench']}; "
                f"galera-4 {meta['galera']}; grproxy {meta['grproxy_commit']}.", ""]
    for section, title in (("workload", "Workloads"), ("sweep", "Scaling sweep")):
        part = [r for r in rows if r["section"] == section]
        if not part:
            continue
        out += [f"### {title}", "", header, rule]
        for r in part:
            cells = [r["workload"], str(r["threads"]), r["system"]]
            if "failed" in r:
                cells += ["failed: " + r["failed"].splitlines()[0][:80]] + [""] * 17
            else:
                direct = index.get(("direct", r["workload"], r["threads"]))
                peer = GALERA_PEER.get(r["system"])
                galera = index.get((peer, r["workload"], r["threads"])) if peer else None
                cells += [_fmt(r["tps"]), _fmt(r["qps"]), _fmt(r.get("avg_ms"), 2), _fmt(r["p95_ms"], 2),
                          _fmt(r["errors_per_s"], 2), _fmt(r["reconnects_per_s"], 2),
                          _fmt(r.get("galera_conflicts_per_s"), 2), _ratio(r, direct), _ratio(r, galera),
                          _fmt(r.get("server_cpu_us_per_txn"), 0), _fmt(r.get("machine_cpu_us_per_txn"), 0),
                          _fmt(r.get("ctxt_per_txn"), 1), _fmt(r.get("flushes_per_txn"), 2),
                          _fmt(r.get("peer_msgs_per_txn"), 1), _fmt(r.get("raft_fsyncs_per_txn"), 2),
                          _fmt(r.get("idle_pct"), 1), _fmt(r.get("proxy_cpu_us_per_query")),
                          _fmt(r.get("proxy_peak_rss_mb"))]
            out.append("| " + " | ".join(cells) + " |")
        out.append("")
    out.append(LEGEND)
    return "\n".join(out)


def write(out_dir, meta, rows):
    """Writes bench.md, bench.json and (when there are sweep rows) bench-scaling.png."""
    os.makedirs(out_dir, exist_ok=True)
    table = markdown(rows, meta)
    with open(os.path.join(out_dir, "bench.md"), "w") as f:
        f.write(table + "\n")
    with open(os.path.join(out_dir, "bench.json"), "w") as f:
        json.dump({"meta": meta, "rows": rows}, f, indent=2)
    chart = os.path.join(out_dir, "bench-scaling.png")
    if any(r["section"] == "sweep" for r in rows):
        draw_scaling(rows, chart, meta)
    return table


def draw_scaling(rows, path, meta):
    """TPS and p95 latency against client threads, one line per system of the sweep."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    workload = meta["sweep_workload"]
    systems, ticks = [], set()
    for r in rows:
        if r["section"] == "sweep" and r["system"] not in systems:
            systems.append(r["system"])
    fig, (ax_tps, ax_p95) = plt.subplots(1, 2, figsize=(11, 4.5))
    for s in systems:
        # The fixed-thread run of the same workload is one more point of the curve.
        pts = sorted((r["threads"], r["tps"], r["p95_ms"]) for r in rows
                     if r["system"] == s and r["workload"] == workload and "failed" not in r)
        if not pts:
            continue
        threads = [p[0] for p in pts]
        ticks.update(threads)
        ax_tps.plot(threads, [p[1] for p in pts], marker="o", label=s)
        ax_p95.plot(threads, [p[2] for p in pts], marker="o", label=s)
    for ax, label in ((ax_tps, "transactions per second"), (ax_p95, "p95 latency (ms)")):
        ax.set_xscale("log", base=2)
        ax.set_xticks(sorted(ticks), [str(t) for t in sorted(ticks)])
        ax.minorticks_off()
        ax.set_xlabel("sysbench threads")
        ax.set_ylabel(label)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    ax_tps.set_ylim(bottom=0)
    ax_p95.set_yscale("log")
    fig.suptitle(f"{workload}, {meta['seconds_per_run']} s per point, {meta['tables']} tables x "
                 f"{meta['table_size']} rows, {meta['cpus']} CPUs")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
