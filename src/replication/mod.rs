//! Group replication: what a member captures from its sessions' transactions, the log entry
//! format, write-sets, certification (a pure function of the log), and applying the log to
//! the local mysqld.
//!
//! - [`txn`]: the entries proposed to the Raft log and their encoding.
//! - [`writeset`]: 128-bit items for primary, unique and foreign-key parent keys.
//! - [`certifier`]: first-committer-wins certification, deterministic on every member.
//! - `machine`: the Raft state machine (certification) and its snapshots, for log compaction.
//! - [`metadata`]: table metadata (keys, engine, triggers) from information_schema.
//! - [`tap`]: the binlog replication connection that hands each session its prepared
//!   transaction's row events, and notices writes that bypassed grproxy.
//! - [`binlog`]: reading mysqld's binlog events into transactions.
//! - [`keys`]: the write-set of a transaction, from its row events.
//! - [`applier`]: replay of certified entries, exactly once, in log order.
//! - [`recovery`]: how the applier asks for a state transfer (`donor` serves one, `joiner`
//!   takes one).
//!
//! The path of a write, in order: `tap` (row events of the prepared XA transaction) →
//! `keys` (write-set) → `txn` (the entry) → consensus → `machine`/`certifier` (verdict) →
//! the origin session commits or rolls back; `applier` replays it everywhere else.

pub mod applier;
pub mod binlog;
pub mod certifier;
pub mod donor;
pub mod group;
pub mod joiner;
pub mod keys;
pub mod liveness;
mod machine;
pub mod members;
pub mod metadata;
pub mod primary;
pub mod recovery;
pub mod sequences;
pub mod stats;
pub mod tap;
pub mod topology;
pub mod transfer;
pub mod txn;
mod watermarks;
pub mod writeset;

/// A MySQL identifier, backquoted.
pub fn ident(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}
