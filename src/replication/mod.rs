//! Group replication: what a member captures from its sessions' transactions, the log entry
//! format, write-sets, certification (a pure function of the log), and applying the log to
//! the local mysqld.
//!
//! - [`txn`]: the entries proposed to the Raft log and their encoding.
//! - [`writeset`]: 128-bit items for primary, unique and foreign-key parent keys.
//! - [`certifier`]: first-committer-wins certification, deterministic on every member.
//! - `machine`: the Raft state machine (certification) and its snapshots, for log compaction.
//! - [`metadata`]: table metadata (keys, engine, triggers) from information_schema.
//! - [`capture`]: the locking reads around a DML statement and the row changes they yield.
//! - [`params`]: prepared-statement parameters for capture queries.
//! - [`applier`]: replay of certified entries, exactly once, in log order.

pub mod applier;
pub mod capture;
pub mod certifier;
pub mod group;
mod machine;
pub mod metadata;
pub mod params;
pub mod stats;
pub mod txn;
pub mod writeset;
