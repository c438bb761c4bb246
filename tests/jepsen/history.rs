//! The history of a test run: what each client asked for and what it was told.
//!
//! A run is recorded as a sequence of events, Jepsen style: an `Invoke` when a client starts
//! an operation, then exactly one completion (`Ok`, `Fail` or `Info`) for it. Checkers never
//! read events directly; they read [`Op`]s, which pair each invocation with its completion.
//! An invocation that never completed (the client was torn down) counts as `Info`: its outcome
//! is unknown, exactly as for a connection lost mid-commit.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Keys of the list-append workload, and account ids of the bank workload.
pub type Key = u64;
/// Values appended in the list-append workload. Unique per key across the whole run.
pub type Value = u64;
/// Identifies one operation: assigned at invocation, in invocation order.
pub type OpId = usize;

/// One step of a list-append transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MicroOp {
    /// Append `value` to the list stored under `key`.
    Append(Key, Value),
    /// Read the list under `key`. `None` until the read has returned (or when it never did).
    Read(Key, Option<Vec<Value>>),
}

/// One step of the bank workload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BankOp {
    /// Move `amount` from account `from` to account `to`, in one transaction.
    Transfer { from: Key, to: Key, amount: i64 },
    /// Read every account in one transaction. `None` until it has returned.
    Read(Option<BTreeMap<Key, i64>>),
}

/// What an operation does: one transaction of one of the workloads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OpValue {
    Txn(Vec<MicroOp>),
    Bank(BankOp),
}

/// How an operation ended, as far as the client knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Outcome {
    /// Committed: the client got OK for the commit.
    Ok,
    /// Definitely did not take effect (certification abort 1213, error before commit, ...).
    Fail,
    /// Unknown: it may or may not have taken effect (connection lost mid-commit, timeout).
    Info,
}

/// Kind of a recorded event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    Invoke,
    Complete(Outcome),
}

/// One line of the raw history.
#[derive(Clone, Debug)]
pub struct Event {
    pub op: OpId,
    pub kind: EventKind,
    /// Logical client (one operation at a time per process).
    pub process: usize,
    /// Index of the group member the client talks to.
    pub member: usize,
    /// Time since the recorder was created.
    pub at: Duration,
    /// At invocation, what was asked; at completion, what came back (reads filled in).
    pub value: OpValue,
    /// Error text for `Fail` and `Info` completions.
    pub error: Option<String>,
}

/// An invocation paired with its completion: the unit every checker works on.
#[derive(Clone, Debug)]
pub struct Op {
    pub id: OpId,
    pub process: usize,
    pub member: usize,
    pub outcome: Outcome,
    pub invoked: Duration,
    /// `None` if the invocation never completed (outcome is then `Info`).
    pub completed: Option<Duration>,
    /// The completion's value for `Ok`; the invocation's value otherwise, because a failed or
    /// unknown operation's reads are not observations a checker may rely on.
    pub value: OpValue,
    pub error: Option<String>,
    /// Invoked after [`History::mark_final`]: one of the final reads taken after healing.
    pub is_final: bool,
}

/// The recorded events of a run, in recording order.
#[derive(Clone, Debug, Default)]
pub struct History {
    events: Vec<Event>,
    next_op: OpId,
    /// Ops with an id at or above this were invoked after the final-read mark.
    final_from: Option<OpId>,
    start: Option<Instant>,
    /// What each process is, where the runner said (e.g. the kind of client): shown in the
    /// rendered history and next to the ops an anomaly names.
    labels: BTreeMap<usize, String>,
}

impl History {
    pub fn new() -> Self {
        Self::starting_at(Instant::now())
    }

    /// A history whose times count from `start`, so that several histories (and a fault
    /// schedule) of one run share a clock.
    pub fn starting_at(start: Instant) -> Self {
        History {
            start: Some(start),
            ..Default::default()
        }
    }

    fn now(&self) -> Duration {
        self.start.map(|s| s.elapsed()).unwrap_or_default()
    }

    /// Records an invocation and returns the id its completion must name.
    pub fn invoke(&mut self, process: usize, member: usize, value: OpValue) -> OpId {
        let op = self.next_op;
        self.next_op += 1;
        let at = self.now();
        self.events.push(Event {
            op,
            kind: EventKind::Invoke,
            process,
            member,
            at,
            value,
            error: None,
        });
        op
    }

    /// Records the completion of `op`. `value` is what came back (reads filled in); for a
    /// failed or unknown op it may simply repeat the invocation's value.
    pub fn complete(&mut self, op: OpId, outcome: Outcome, value: OpValue, error: Option<String>) {
        let inv = self
            .events
            .iter()
            .rev()
            .find(|e| e.op == op && e.kind == EventKind::Invoke)
            .unwrap_or_else(|| panic!("completion of op {op}, which was never invoked"));
        let (process, member) = (inv.process, inv.member);
        let at = self.now();
        self.events.push(Event {
            op,
            kind: EventKind::Complete(outcome),
            process,
            member,
            at,
            value,
            error,
        });
    }

    /// Invokes and completes an op at once: for building histories offline (checker tests).
    pub fn push(&mut self, process: usize, member: usize, outcome: Outcome, value: OpValue) -> OpId {
        let id = self.invoke(process, member, value.clone());
        self.complete(id, outcome, value, None);
        id
    }

    /// Everything invoked from now on is a final read (taken after healing, once the group
    /// has settled). The acknowledged-writes checks look only at those.
    pub fn mark_final(&mut self) {
        self.final_from = Some(self.next_op);
    }

    pub fn events(&self) -> &[Event] {
        &self.events
    }

    /// Names what `process` is (for instance which kind of client it is).
    pub fn set_label(&mut self, process: usize, label: impl Into<String>) {
        self.labels.insert(process, label.into());
    }

    /// What [`History::set_label`] named `process`, if anything.
    pub fn label(&self, process: usize) -> Option<&str> {
        self.labels.get(&process).map(String::as_str)
    }

    /// Pairs invocations with completions, in invocation order.
    pub fn ops(&self) -> Vec<Op> {
        let mut ops: BTreeMap<OpId, Op> = BTreeMap::new();
        for e in &self.events {
            match e.kind {
                EventKind::Invoke => {
                    let is_final = self.final_from.is_some_and(|f| e.op >= f);
                    ops.insert(
                        e.op,
                        Op {
                            id: e.op,
                            process: e.process,
                            member: e.member,
                            outcome: Outcome::Info,
                            invoked: e.at,
                            completed: None,
                            value: e.value.clone(),
                            error: None,
                            is_final,
                        },
                    );
                }
                EventKind::Complete(outcome) => {
                    if let Some(op) = ops.get_mut(&e.op) {
                        op.outcome = outcome;
                        op.completed = Some(e.at);
                        op.error = e.error.clone();
                        if outcome == Outcome::Ok {
                            op.value = e.value.clone();
                        }
                    }
                }
            }
        }
        ops.into_values().collect()
    }

    /// The whole history, one event per line (with its process's label, if it has one),
    /// after a header naming every labelled process.
    pub fn render(&self) -> String {
        let mut s = String::new();
        for (p, l) in &self.labels {
            s.push_str(&format!("# p{p}: {l}\n"));
        }
        for e in &self.events {
            s.push_str(&e.to_string());
            if let Some(l) = self.label(e.process) {
                s.push_str(&format!("  [{l}]"));
            }
            s.push('\n');
        }
        s
    }
}

/// A cloneable, thread-safe handle for clients to record into one shared [`History`].
#[derive(Clone, Default)]
pub struct Recorder {
    inner: Arc<Mutex<History>>,
}

impl Recorder {
    pub fn new() -> Self {
        Self::starting_at(Instant::now())
    }

    /// See [`History::starting_at`].
    pub fn starting_at(start: Instant) -> Self {
        Recorder {
            inner: Arc::new(Mutex::new(History::starting_at(start))),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut History) -> T) -> T {
        // A client that panicked while holding the lock leaves a consistent history behind
        // (each call is one push), so a poisoned lock is still usable.
        let mut h = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut h)
    }

    pub fn invoke(&self, process: usize, member: usize, value: OpValue) -> OpId {
        self.with(|h| h.invoke(process, member, value))
    }

    /// The op committed; `value` carries the read results.
    pub fn ok(&self, op: OpId, value: OpValue) {
        self.with(|h| h.complete(op, Outcome::Ok, value, None))
    }

    /// The op definitely did not take effect.
    pub fn fail(&self, op: OpId, error: impl Into<String>) {
        self.with(|h| {
            let value = h.invoked_value(op);
            h.complete(op, Outcome::Fail, value, Some(error.into()))
        })
    }

    /// The op's outcome is unknown.
    pub fn info(&self, op: OpId, error: impl Into<String>) {
        self.with(|h| {
            let value = h.invoked_value(op);
            h.complete(op, Outcome::Info, value, Some(error.into()))
        })
    }

    /// See [`History::set_label`].
    pub fn set_label(&self, process: usize, label: impl Into<String>) {
        let label = label.into();
        self.with(|h| h.set_label(process, label))
    }

    /// See [`History::mark_final`].
    pub fn mark_final(&self) {
        self.with(|h| h.mark_final())
    }

    /// A snapshot of everything recorded so far.
    pub fn history(&self) -> History {
        self.with(|h| h.clone())
    }
}

impl History {
    fn invoked_value(&self, op: OpId) -> OpValue {
        self.events
            .iter()
            .rev()
            .find(|e| e.op == op && e.kind == EventKind::Invoke)
            .map(|e| e.value.clone())
            .unwrap_or_else(|| panic!("completion of op {op}, which was never invoked"))
    }
}

/// Parses a transaction written as `a1:5 r1:[5,6] r2:[] r3:?` (append 5 to key 1, read key 1
/// as [5, 6], read key 2 as empty, read key 3 with no result). Same syntax as `Display`.
/// Meant for tests; panics on malformed input.
pub fn txn(s: &str) -> OpValue {
    OpValue::Txn(s.split_whitespace().map(parse_micro_op).collect())
}

fn parse_micro_op(s: &str) -> MicroOp {
    fn bad(s: &str) -> ! {
        panic!("bad micro-op {s:?}: want a<key>:<value> or r<key>:[v,..] or r<key>:?")
    }
    let (head, arg) = s.split_once(':').unwrap_or_else(|| bad(s));
    let key: Key = head.get(1..).and_then(|k| k.parse().ok()).unwrap_or_else(|| bad(s));
    match head.as_bytes().first() {
        Some(b'a') => MicroOp::Append(key, arg.parse().unwrap_or_else(|_| bad(s))),
        Some(b'r') if arg == "?" => MicroOp::Read(key, None),
        Some(b'r') => {
            let inner = arg
                .strip_prefix('[')
                .and_then(|a| a.strip_suffix(']'))
                .unwrap_or_else(|| bad(s));
            let values = inner
                .split(',')
                .filter(|v| !v.is_empty())
                .map(|v| v.trim().parse().unwrap_or_else(|_| bad(s)));
            MicroOp::Read(key, Some(values.collect()))
        }
        _ => bad(s),
    }
}

/// A bank transfer value, for building histories.
pub fn transfer(from: Key, to: Key, amount: i64) -> OpValue {
    OpValue::Bank(BankOp::Transfer { from, to, amount })
}

/// A completed bank read of `(account, balance)` pairs, for building histories.
pub fn balances(pairs: &[(Key, i64)]) -> OpValue {
    OpValue::Bank(BankOp::Read(Some(pairs.iter().copied().collect())))
}

impl fmt::Display for MicroOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MicroOp::Append(k, v) => write!(f, "a{k}:{v}"),
            MicroOp::Read(k, None) => write!(f, "r{k}:?"),
            MicroOp::Read(k, Some(vs)) => {
                let vs: Vec<String> = vs.iter().map(|v| v.to_string()).collect();
                write!(f, "r{k}:[{}]", vs.join(","))
            }
        }
    }
}

impl fmt::Display for OpValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpValue::Txn(mops) => {
                let parts: Vec<String> = mops.iter().map(|m| m.to_string()).collect();
                write!(f, "{}", parts.join(" "))
            }
            OpValue::Bank(BankOp::Transfer { from, to, amount }) => write!(f, "transfer {amount} {from}->{to}"),
            OpValue::Bank(BankOp::Read(None)) => write!(f, "read ?"),
            OpValue::Bank(BankOp::Read(Some(m))) => {
                let parts: Vec<String> = m.iter().map(|(k, v)| format!("{k}={v}")).collect();
                write!(f, "read {{{}}}", parts.join(" "))
            }
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Outcome::Ok => "ok",
            Outcome::Fail => "fail",
            Outcome::Info => "info",
        })
    }
}

fn ms(d: Duration) -> String {
    format!("{:.3}ms", d.as_secs_f64() * 1000.0)
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            EventKind::Invoke => "invoke".to_string(),
            EventKind::Complete(o) => o.to_string(),
        };
        write!(
            f,
            "{:>12} T{:<5} p{:<3} m{} {:<6} {}",
            ms(self.at),
            self.op,
            self.process,
            self.member,
            kind,
            self.value
        )?;
        if let Some(e) = &self.error {
            write!(f, "  ({e})")?;
        }
        Ok(())
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let done = self.completed.map(ms).unwrap_or_else(|| "never".into());
        write!(
            f,
            "T{:<5} p{:<3} m{} {:<4} {}..{} {}{}",
            self.id,
            self.process,
            self.member,
            self.outcome,
            ms(self.invoked),
            done,
            self.value,
            if self.is_final { "  [final]" } else { "" }
        )?;
        if let Some(e) = &self.error {
            write!(f, "  ({e})")?;
        }
        Ok(())
    }
}
