//! mysqld's binlog as the source of write capture.
//!
//! Members run mariadbd with `log_bin`, `binlog_format=ROW`, `binlog_row_image=FULL` and
//! (by default) `binlog_checksum=CRC32`. A client's writing transaction runs as an XA
//! transaction; at XA PREPARE the server writes the transaction's Table_map and Rows events to
//! its binlog, so the proxy reads back exactly the rows the server changed, with their values
//! as stored, from its own binlog stream (COM_BINLOG_DUMP). This module is the pure logic of
//! that stream; the task that owns the replication connection feeds it.
//!
//! - [`event`]: the common header, checksums, and the events that delimit transactions
//!   (MariaDB GTID, XA_PREPARE, Query, Rotate, Format_description).
//! - [`assemble`]: groups the stream's events into prepared XA transactions, XA completions
//!   and other (bypassing) transactions.
//! - [`rows`]: Table_map and Rows events decoded into per-column stored values, from which
//!   `replication::keys` derives write-set items.
//!
//! What the dump connection must ask for (else MariaDB sends other events or fails):
//! `SET @master_binlog_checksum = @@global.binlog_checksum` (events keep their CRC32) and
//! `SET @mariadb_slave_capability = 4` (GTID events as such; without it MariaDB 10.11 aborts
//! the dump at the first XA GTID event, "Failed to replace GTID event with
//! backwards-compatible event"). Annotate_rows events come only with the
//! BINLOG_SEND_ANNOTATE_ROWS_EVENT (2) dump flag; they are dropped anyway.

pub mod assemble;
pub mod event;
pub mod rows;

pub use assemble::{Assembled, Assembler, Position};
pub use event::{BinlogError, FormatDescription, Gtid, Xid};

#[cfg(test)]
pub(crate) mod fixtures;
#[cfg(test)]
mod fuzz_tests;
#[cfg(test)]
mod tests;
