//! `/metrics`: the proxy's counters and a group member's state in the Prometheus text format
//! (0.0.4), encoded by `prometheus-client` from an explicit registry (no global recorder:
//! several proxies in one test process keep their own numbers).
//!
//! Nothing is kept here: a [`ProxyCollector`] reads the live values at each scrape, from
//! `frontend::stats` (connections, statements by class and their latency) and, on a group
//! member, from the rows of `SHOW GRPROXY STATUS` (`Group::status`): numeric rows become
//! gauges or counters named after the row (see [`GROUP_ROWS`]); rows added later appear as
//! `grproxy_group_<row>` gauges without a change here.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, NoLabelSet};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::{Registry, Unit};

use crate::frontend::Context;

/// `Content-Type` of what [`render`] returns.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// How a numeric `SHOW GRPROXY STATUS` row is exposed.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Gauge,
    Counter,
    /// A mean in microseconds, exposed in seconds.
    MeanMicros,
}

/// Known group rows: (row, metric name without the `grproxy_` prefix, kind, help).
const GROUP_ROWS: &[(&str, &str, Kind, &str)] = &[
    ("member_id", "group_member_id", Kind::Gauge, "This member's id."),
    (
        "member_count",
        "group_members",
        Kind::Gauge,
        "Members in the group configuration.",
    ),
    ("raft_term", "raft_term", Kind::Gauge, "Current Raft term."),
    (
        "raft_last_log_index",
        "raft_last_log_index",
        Kind::Gauge,
        "Index of the last Raft log entry here.",
    ),
    (
        "raft_last_applied_log_index",
        "raft_last_applied_log_index",
        Kind::Gauge,
        "Index of the last Raft log entry applied to the state machine (certified).",
    ),
    (
        "raft_snapshot_log_index",
        "raft_snapshot_log_index",
        Kind::Gauge,
        "Last log index in the latest snapshot.",
    ),
    (
        "raft_purged_log_index",
        "raft_purged_log_index",
        Kind::Gauge,
        "Log index up to which the log is compacted.",
    ),
    (
        "retained_entries",
        "group_retained_entries",
        Kind::Gauge,
        "Certified entries kept for certification (above the group's applied horizon).",
    ),
    (
        "retained_bytes",
        "group_retained_bytes",
        Kind::Gauge,
        "Bytes of entries kept for members that have not applied them (bounded by group.retention_bytes).",
    ),
    (
        "retention_dropped_through",
        "group_retention_dropped_through",
        Kind::Gauge,
        "Last log index dropped from what is kept for lagging members (0: none).",
    ),
    (
        "state_transfer_active",
        "group_state_transfer_active",
        Kind::Gauge,
        "1 while this member receives a state transfer (a donor's copy).",
    ),
    (
        "state_transfer_received_bytes",
        "group_state_transfer_received_bytes",
        Kind::Gauge,
        "Bytes of the copy received in the current or last state transfer.",
    ),
    (
        "state_transfer_copy_bytes",
        "group_state_transfer_copy_bytes",
        Kind::Gauge,
        "Bytes the donor had written of that copy (its size once complete).",
    ),
    (
        "state_transfers_completed",
        "group_state_transfers_completed",
        Kind::Counter,
        "State transfers this member completed as a joiner.",
    ),
    (
        "state_transfers_failed",
        "group_state_transfers_failed",
        Kind::Counter,
        "State transfers this member started as a joiner that failed (retried).",
    ),
    (
        "certified_index",
        "group_certified_index",
        Kind::Gauge,
        "Last log index certified on this member.",
    ),
    (
        "applied_index",
        "group_applied_index",
        Kind::Gauge,
        "Last log index applied to the local mysqld.",
    ),
    (
        "errant_transactions",
        "group_errant_transactions",
        Kind::Counter,
        "Writes made straight to this member's mysqld, bypassing grproxy (not replicated).",
    ),
    (
        "captures",
        "group_captures",
        Kind::Counter,
        "DML statements captured in transactions.",
    ),
    (
        "capture_avg_us",
        "group_capture_mean",
        Kind::MeanMicros,
        "Mean capture time since start.",
    ),
    (
        "proposals",
        "group_proposals",
        Kind::Counter,
        "Transactions proposed to the group.",
    ),
    (
        "propose_avg_us",
        "group_propose_mean",
        Kind::MeanMicros,
        "Mean time from proposal to verdict since start.",
    ),
    (
        "local_commits",
        "group_local_commits",
        Kind::Counter,
        "Transactions committed at this origin after certification.",
    ),
    (
        "local_commit_avg_us",
        "group_local_commit_mean",
        Kind::MeanMicros,
        "Mean local commit time since start.",
    ),
    (
        "certification_aborts",
        "group_certification_aborts",
        Kind::Counter,
        "Transactions of this member that certification aborted (clients got 1213).",
    ),
    (
        "replayed_transactions",
        "group_replayed_transactions",
        Kind::Counter,
        "Other members' transactions replayed here.",
    ),
    (
        "replay_avg_us",
        "group_replay_mean",
        Kind::MeanMicros,
        "Mean replay time since start.",
    ),
    (
        "replay_batches",
        "group_replay_batches",
        Kind::Counter,
        "mysqld transactions that replayed several log entries.",
    ),
    (
        "flow_control_waits",
        "group_flow_control_waits",
        Kind::Counter,
        "Proposals held back by flow control (a member too far behind).",
    ),
    (
        "flow_control_wait_avg_us",
        "group_flow_control_wait_mean",
        Kind::MeanMicros,
        "Mean flow-control wait since start.",
    ),
    (
        "raft_log_appends",
        "raft_log_appends",
        Kind::Counter,
        "Appends of entries to this member's Raft log.",
    ),
    (
        "raft_log_fsyncs",
        "raft_log_fsyncs",
        Kind::Counter,
        "fsyncs of this member's Raft log (one per group-committed batch of appends).",
    ),
    (
        "raft_proposals_batched",
        "raft_proposals_batched",
        Kind::Counter,
        "Proposals this member, as leader, packed into Raft entries.",
    ),
    (
        "raft_batches",
        "raft_batches",
        Kind::Counter,
        "Raft entries those proposals were packed into.",
    ),
    (
        "peer_requests_sent",
        "peer_requests_sent",
        Kind::Counter,
        "Requests sent to other members (each has one reply).",
    ),
    (
        "peer_append_entries_sent",
        "peer_append_entries_sent",
        Kind::Counter,
        "AppendEntries requests with entries sent.",
    ),
    (
        "peer_empty_append_entries_sent",
        "peer_empty_append_entries_sent",
        Kind::Counter,
        "AppendEntries requests without entries (heartbeats, commit-index updates) sent.",
    ),
    (
        "peer_forwards_sent",
        "peer_forwards_sent",
        Kind::Counter,
        "Proposals forwarded to the leader.",
    ),
    (
        "peer_bytes_sent",
        "peer_sent_bytes",
        Kind::Counter,
        "Bytes of the requests sent to other members.",
    ),
];

/// Rows that are not numbers, or are shown in another form.
const SKIPPED_ROWS: &[&str] = &["member_state", "raft_role", "raft_leader_id", "last_errant_transaction"];

/// Member states (`SHOW GRPROXY MEMBERS`), each a 0/1 series.
const STATES: &[&str] = &["ONLINE", "RECOVERING", "NO_QUORUM", "ERROR", "UNREACHABLE"];

/// Raft roles given a 0/1 series each, so a dashboard sees a role change as a value change.
const ROLES: &[&str] = &["leader", "follower", "candidate", "learner"];

/// The registry of one proxy.
pub fn registry(ctx: Arc<Context>) -> Registry {
    let mut r = Registry::with_prefix("grproxy");
    r.register_collector(Box::new(ProxyCollector { ctx }));
    r
}

/// The registry's metrics in the Prometheus text format.
pub fn render(registry: &Registry) -> String {
    let mut out = String::new();
    prometheus_client::encoding::prometheus_text::encode(&mut out, registry).expect("writing to a String");
    out
}

/// Reads a proxy's live values at each scrape.
pub struct ProxyCollector {
    ctx: Arc<Context>,
}

impl std::fmt::Debug for ProxyCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProxyCollector").finish_non_exhaustive()
    }
}

fn gauge<N: prometheus_client::encoding::EncodeGaugeValue>(
    e: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    unit: Option<&Unit>,
    v: N,
) -> std::fmt::Result {
    let g = ConstGauge::new(v);
    g.encode(e.encode_descriptor(name, help, unit, g.metric_type())?)
}

fn counter(e: &mut DescriptorEncoder, name: &str, help: &str, v: u64) -> std::fmt::Result {
    let c = ConstCounter::new(v);
    c.encode(e.encode_descriptor(name, help, None, c.metric_type())?)
}

impl Collector for ProxyCollector {
    fn encode(&self, mut e: DescriptorEncoder) -> std::fmt::Result {
        let ctx = &self.ctx;
        let s = &ctx.stats;
        let load = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);

        let mut info = e.encode_descriptor("build", "grproxy version and git revision.", None, MetricType::Info)?;
        info.encode_info(&[
            ("version", env!("CARGO_PKG_VERSION")),
            ("revision", crate::GIT_REVISION),
        ])?;
        gauge(
            &mut e,
            "uptime",
            "Time since the proxy started.",
            Some(&Unit::Seconds),
            ctx.started.elapsed().as_secs_f64(),
        )?;
        gauge(
            &mut e,
            "draining",
            "1 while the proxy drains after SIGTERM/SIGINT.",
            None,
            u64::from(ctx.is_draining()),
        )?;

        gauge(
            &mut e,
            "client_connections",
            "Client connections open (in the handshake or logged in).",
            None,
            load(&s.open),
        )?;
        gauge(
            &mut e,
            "client_sessions",
            "Logged-in client sessions.",
            None,
            ctx.registry.session_count() as u64,
        )?;
        counter(
            &mut e,
            "client_connections_accepted",
            "Client connections accepted.",
            load(&s.accepted),
        )?;
        let refused = [
            ("limit", load(&s.refused_limit)),
            ("auth", load(&s.auth_failed)),
            ("backend", load(&s.backend_unreachable)),
        ];
        let mut m = e.encode_descriptor(
            "client_connections_refused",
            "Client connections that did not become sessions: over a connection limit (1040), \
             login refused by mysqld, or mysqld unreachable (1053).",
            None,
            MetricType::Counter,
        )?;
        for (reason, n) in refused {
            ConstCounter::new(n).encode(m.encode_family(&[("reason", reason)])?)?;
        }
        counter(
            &mut e,
            "client_logins",
            "Client sessions that logged in.",
            load(&s.sessions),
        )?;

        let mut m = e.encode_descriptor(
            "statements",
            "Statements by class: each statement of a COM_QUERY, each COM_STMT_EXECUTE.",
            None,
            MetricType::Counter,
        )?;
        for (class, n) in s.statements() {
            ConstCounter::new(n).encode(m.encode_family(&[("class", class)])?)?;
        }
        let mut m = e.encode_descriptor(
            "statement_duration",
            "Time from a client's COM_QUERY or COM_STMT_EXECUTE to the end of its response, by the \
             class of its first statement (a group member's COMMIT includes certification).",
            Some(&Unit::Seconds),
            MetricType::Histogram,
        )?;
        for (class, (sum, count, buckets)) in s.latencies() {
            m.encode_family(&[("class", class)])?
                .encode_histogram::<NoLabelSet>(sum, count, &buckets, None)?;
        }

        if let Some(group) = &ctx.group {
            for (name, help, (sum, count, buckets)) in group.stats.histograms() {
                let mut m = e.encode_descriptor(name, help, Some(&Unit::Seconds), MetricType::Histogram)?;
                m.encode_histogram::<NoLabelSet>(sum, count, &buckets, None)?;
            }
            encode_group(&mut e, &group.status())?;
            encode_members(&mut e, &group.members())?;
        }
        Ok(())
    }
}

/// A group member's status rows as metrics.
fn encode_group(e: &mut DescriptorEncoder, rows: &[(&'static str, String)]) -> std::fmt::Result {
    let get = |name: &str| rows.iter().find(|(k, _)| *k == name).map(|(_, v)| v.as_str());
    let online = get("member_state") == Some("ONLINE");
    gauge(
        e,
        "group_member_online",
        "1 when the member state is ONLINE, 0 in ERROR state (see SHOW GRPROXY STATUS for why).",
        None,
        u64::from(online),
    )?;
    // `member_state` is `STATE` or `STATE: why`.
    let state = get("member_state").unwrap_or_default();
    let state = state.split(':').next().unwrap_or_default();
    let mut m = e.encode_descriptor(
        "group_member_state",
        "1 for this member's state (ONLINE, RECOVERING, NO_QUORUM, ERROR).",
        None,
        MetricType::Gauge,
    )?;
    for s in STATES.iter().copied().filter(|s| *s != "UNREACHABLE") {
        ConstGauge::new(u64::from(s == state)).encode(m.encode_family(&[("state", s)])?)?;
    }
    let role = get("raft_role").unwrap_or_default();
    let mut m = e.encode_descriptor(
        "raft_role",
        "1 for this member's current Raft role.",
        None,
        MetricType::Gauge,
    )?;
    for r in ROLES
        .iter()
        .copied()
        .chain((!ROLES.contains(&role) && !role.is_empty()).then_some(role))
    {
        ConstGauge::new(u64::from(r == role)).encode(m.encode_family(&[("role", r)])?)?;
    }
    let leader: Option<u64> = get("raft_leader_id").and_then(|v| v.parse().ok());
    gauge(
        e,
        "raft_leader_known",
        "1 when this member knows a Raft leader.",
        None,
        u64::from(leader.is_some()),
    )?;
    gauge(
        e,
        "raft_leader_id",
        "Id of the Raft leader this member knows (0: none).",
        None,
        leader.unwrap_or(0),
    )?;
    let num = |name: &str| get(name).and_then(|v| v.parse::<u64>().ok());
    if let (Some(c), Some(a)) = (num("certified_index"), num("applied_index")) {
        gauge(
            e,
            "group_apply_lag_entries",
            "Certified log entries not yet applied to the local mysqld (replay lag).",
            None,
            c.saturating_sub(a),
        )?;
    }
    for (row, value) in rows {
        if SKIPPED_ROWS.contains(row) {
            continue;
        }
        let Ok(v) = value.parse::<u64>() else { continue };
        match GROUP_ROWS.iter().find(|(r, ..)| r == row) {
            Some((_, name, Kind::Gauge, help)) => gauge(e, name, help, None, v)?,
            Some((_, name, Kind::Counter, help)) => counter(e, name, help, v)?,
            Some((_, name, Kind::MeanMicros, help)) => gauge(e, name, help, Some(&Unit::Seconds), v as f64 / 1e6)?,
            None => {
                let name = format!("group_{row}");
                gauge(e, &name, &format!("SHOW GRPROXY STATUS row {row}."), None, v)?
            }
        }
    }
    Ok(())
}

/// Every configured member as this one sees it (`SHOW GRPROXY MEMBERS`), labelled by id.
fn encode_members(e: &mut DescriptorEncoder, rows: &[crate::replication::members::MemberRow]) -> std::fmt::Result {
    let ids: Vec<String> = rows.iter().map(|r| r.id.to_string()).collect();
    let mut m = e.encode_descriptor(
        "member_state",
        "1 for each member's state as this member sees it (UNREACHABLE: it did not answer).",
        None,
        MetricType::Gauge,
    )?;
    for (r, id) in rows.iter().zip(&ids) {
        for s in STATES {
            ConstGauge::new(u64::from(r.state == *s))
                .encode(m.encode_family(&[("member", id.as_str()), ("state", *s)])?)?;
        }
    }
    let mut m = e.encode_descriptor(
        "member_lag_entries",
        "Log entries certified in the group that the member has not applied (replay lag).",
        None,
        MetricType::Gauge,
    )?;
    for (r, id) in rows.iter().zip(&ids) {
        ConstGauge::new(r.lag_entries).encode(m.encode_family(&[("member", id.as_str())])?)?;
    }
    let mut m = e.encode_descriptor(
        "member_lag",
        "How long the member's applied index has trailed what it certified.",
        Some(&Unit::Seconds),
        MetricType::Gauge,
    )?;
    for (r, id) in rows.iter().zip(&ids) {
        ConstGauge::new(r.lag_seconds).encode(m.encode_family(&[("member", id.as_str())])?)?;
    }
    let mut m = e.encode_descriptor(
        "member_last_contact",
        "Time since this member last heard from the member (absent: never).",
        Some(&Unit::Seconds),
        MetricType::Gauge,
    )?;
    for (r, id) in rows.iter().zip(&ids) {
        if let Some(s) = r.last_contact_s {
            ConstGauge::new(s).encode(m.encode_family(&[("member", id.as_str())])?)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Rows(Vec<(&'static str, String)>);

    impl Collector for Rows {
        fn encode(&self, mut e: DescriptorEncoder) -> std::fmt::Result {
            encode_group(&mut e, &self.0)
        }
    }

    fn rendered(rows: &[(&'static str, &str)]) -> String {
        let mut r = Registry::with_prefix("grproxy");
        r.register_collector(Box::new(Rows(rows.iter().map(|(k, v)| (*k, v.to_string())).collect())));
        render(&r)
    }

    #[test]
    fn group_rows_become_metrics() {
        let text = rendered(&[
            ("member_state", "ONLINE"),
            ("raft_role", "follower"),
            ("raft_leader_id", "2"),
            ("raft_term", "7"),
            ("certified_index", "40"),
            ("applied_index", "37"),
            ("proposals", "12"),
            ("propose_avg_us", "1500"),
            ("last_errant_transaction", "0-1-5"),
            ("some_future_row", "3"),
            ("a_text_row", "hello"),
        ]);
        for line in [
            "grproxy_group_member_online 1",
            "grproxy_raft_role{role=\"follower\"} 1",
            "grproxy_raft_role{role=\"leader\"} 0",
            "grproxy_raft_leader_known 1",
            "grproxy_raft_leader_id 2",
            "grproxy_raft_term 7",
            "grproxy_group_apply_lag_entries 3",
            "grproxy_group_proposals_total 12",
            "# TYPE grproxy_group_proposals_total counter",
            "grproxy_group_propose_mean_seconds 0.0015",
            "grproxy_group_some_future_row 3",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line:?} in\n{text}");
        }
        assert!(!text.contains("a_text_row") && !text.contains("last_errant"), "{text}");
    }

    #[test]
    fn error_state_and_no_leader() {
        let text = rendered(&[
            ("member_state", "ERROR: the raft core stopped"),
            ("raft_role", "candidate"),
            ("raft_leader_id", ""),
        ]);
        for line in [
            "grproxy_group_member_online 0",
            "grproxy_group_member_state{state=\"ERROR\"} 1",
            "grproxy_group_member_state{state=\"ONLINE\"} 0",
            "grproxy_raft_role{role=\"candidate\"} 1",
            "grproxy_raft_leader_known 0",
            "grproxy_raft_leader_id 0",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line:?} in\n{text}");
        }
    }
}

#[cfg(test)]
mod member_tests {
    use super::*;
    use crate::replication::members::MemberRow;

    #[derive(Debug)]
    struct Members(Vec<MemberRow>);

    impl Collector for Members {
        fn encode(&self, mut e: DescriptorEncoder) -> std::fmt::Result {
            encode_members(&mut e, &self.0)
        }
    }

    #[test]
    fn members_are_labelled_by_id() {
        let row = |id: u64, state: &str, lag: u64, contact: Option<f64>| MemberRow {
            id,
            address: format!("10.0.0.{id}:7001"),
            role: "follower".into(),
            state: state.into(),
            detail: String::new(),
            applied: 10,
            lag_entries: lag,
            lag_seconds: 0.5,
            last_contact_s: contact,
            weight: 50,
            sql_address: String::new(),
            member_role: "PRIMARY".into(),
        };
        let mut r = Registry::with_prefix("grproxy");
        r.register_collector(Box::new(Members(vec![
            row(1, "ONLINE", 0, Some(0.0)),
            row(2, "UNREACHABLE", 7, None),
        ])));
        let text = render(&r);
        for line in [
            "grproxy_member_state{member=\"1\",state=\"ONLINE\"} 1",
            "grproxy_member_state{member=\"2\",state=\"UNREACHABLE\"} 1",
            "grproxy_member_state{member=\"2\",state=\"ONLINE\"} 0",
            "grproxy_member_lag_entries{member=\"2\"} 7",
            "grproxy_member_lag_seconds{member=\"1\"} 0.5",
            "grproxy_member_last_contact_seconds{member=\"1\"} 0.0",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line:?} in\n{text}");
        }
        assert!(
            !text.contains("grproxy_member_last_contact_seconds{member=\"2\"}"),
            "{text}"
        );
    }
}
