//! Sequences: mysqld changes a sequence outside the client's transaction. A `NEXTVAL` that
//! reserves a new cache block, and a `SETVAL`, write the sequence's row in a transaction of
//! mysqld's own, committed at once and logged apart from the client's XA transaction (in the
//! client session's GTID domain, before the XA transaction's events; checked on MariaDB
//! 10.11). So a sequence cannot be certified with the transaction that used it. Instead:
//!
//! - the tap hands over every transaction with row events that is neither grproxy's XA nor
//!   the applier's ([`super::tap::Tap::claim_row_writes`]); if every table it wrote is a
//!   sequence (`information_schema.TABLES.TABLE_TYPE = 'SEQUENCE'`), each sequence's last
//!   row becomes a [`SequenceAdvance`] entry (its `next_not_cached_value` and `cycle_count`),
//!   proposed until the log takes it; anything else is reported as errant, as before;
//! - the entry always commits; every other member applies it in log order as
//!   `SELECT SETVAL(s, next_not_cached, 0, round)` (`applier::advance_sequence`), which only
//!   moves a sequence forward: applying it twice, or after the member moved further by
//!   itself, changes nothing.
//!
//! Values handed out are not certified: two members may hand out the same value before
//! either's advance arrives (a unique key then conflicts in certification: 1213, nothing
//! lost), and a value used in a transaction that aborts is consumed anyway (a gap, as with
//! AUTO_INCREMENT). `INCREMENT BY 0` sequences step by `auto_increment_increment` from
//! `auto_increment_offset`, which grproxy sets per member, so members never hand out the
//! same value: the recommended form (docs/replication.md).

use std::collections::HashMap;
use std::sync::Weak;
use std::time::Duration;

use mysql_async::prelude::Queryable;
use tokio::sync::mpsc;

use super::binlog::event::{types, Header};
use super::binlog::rows::{Cell, RowsEvent, TableMap};
use super::binlog::FormatDescription;
use super::group::Group;
use super::tap::Unclaimed;
use super::txn::{Entry, SequenceAdvance, TableName};

/// How often (a second apart) a transaction whose tables could not be looked up is looked
/// up again before it is reported as errant unread.
const CLASSIFY_RETRIES: usize = 30;

/// Columns of a sequence's row: `next_not_cached_value` .. `cycle_count`.
const SEQUENCE_COLUMNS: usize = 8;
const NEXT_NOT_CACHED: usize = 0;
const CYCLE_COUNT: usize = 7;

/// What a transaction's row events wrote: every table, and for each table whose every row
/// has the shape of a sequence's row, its last (next_not_cached_value, cycle_count).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Written {
    pub tables: Vec<TableName>,
    pub sequence_rows: HashMap<TableName, (i64, i64)>,
}

/// Reads `events` (Table_map and Rows events under `fde`).
pub fn written(fde: &[u8], events: &[Vec<u8>]) -> Result<Written, String> {
    let fde = FormatDescription::parse(fde).map_err(|e| e.to_string())?;
    let mut maps: HashMap<u64, TableMap> = HashMap::new();
    let mut out = Written::default();
    let mut not_sequence_shaped = Vec::new();
    for raw in events {
        let t = Header::parse(raw).map_err(|e| e.to_string())?.event_type;
        if t == types::TABLE_MAP {
            let map = TableMap::parse(&fde, raw).map_err(|e| e.to_string())?;
            let name = TableName::new(&map.schema, &map.table);
            if !out.tables.contains(&name) {
                out.tables.push(name);
            }
            maps.insert(map.table_id, map);
        } else if types::is_rows(t) {
            let rows = RowsEvent::parse(&fde, raw).map_err(|e| e.to_string())?;
            let map = maps
                .get(&rows.table_id)
                .ok_or_else(|| format!("Rows event for unknown table id {}", rows.table_id))?;
            let name = TableName::new(&map.schema, &map.table);
            for change in rows.rows(map).map_err(|e| e.to_string())? {
                let row = change.after.as_deref().filter(|_| change.before.is_none());
                match row.and_then(sequence_row) {
                    Some(v) => {
                        out.sequence_rows.insert(name.clone(), v);
                    }
                    None => not_sequence_shaped.push(name.clone()),
                }
            }
        } else {
            return Err(format!("unexpected event type {t} among row events"));
        }
    }
    for name in not_sequence_shaped {
        out.sequence_rows.remove(&name);
    }
    Ok(out)
}

/// (next_not_cached_value, cycle_count) of a written row shaped like a sequence's.
fn sequence_row(cells: &[Cell<'_>]) -> Option<(i64, i64)> {
    if cells.len() != SEQUENCE_COLUMNS {
        return None;
    }
    let int = |c: &Cell<'_>| match c {
        Cell::Value(b) => <[u8; 8]>::try_from(*b).ok().map(i64::from_le_bytes),
        _ => None,
    };
    Some((int(&cells[NEXT_NOT_CACHED])?, int(&cells[CYCLE_COUNT])?))
}

/// Takes the tap's unclaimed row writes for as long as the group exists: sequence advances
/// are proposed, anything else is reported as errant.
pub async fn run(group: Weak<Group>, mut rx: mpsc::UnboundedReceiver<Unclaimed>, pool: mysql_async::Pool) {
    while let Some(u) = rx.recv().await {
        let Some(g) = group.upgrade() else { return };
        let (tap, member) = (g.tap.clone(), g.member_id);
        drop(g);
        let classified = match written(&u.fde, &u.events) {
            Err(e) => Err(e),
            Ok(w) => {
                let mut r = sequences_of(&pool, &w).await;
                // mysqld may be restarting: a sequence advance must not be lost for that.
                for _ in 0..CLASSIFY_RETRIES {
                    if r.is_ok() {
                        break;
                    }
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    r = sequences_of(&pool, &w).await;
                }
                r
            }
        };
        let advances = match classified {
            Ok(Some(a)) => a,
            Ok(None) => {
                tap.report_errant(u.what);
                tap.unclaimed_handled();
                continue;
            }
            Err(e) => {
                tap.report_errant(format!("{} (not read: {e})", u.what));
                tap.unclaimed_handled();
                continue;
            }
        };
        for (name, (next_not_cached, round)) in advances {
            let entry = Entry::Sequence(SequenceAdvance {
                origin: member,
                schema: name.schema,
                sequence: name.table,
                next_not_cached,
                round,
            });
            propose_until_taken(&group, &entry).await;
        }
        tap.unclaimed_handled();
    }
}

/// The sequence advances of a transaction that wrote `w`, or None if it wrote anything but
/// sequences. An error is mysqld's (worth another try).
async fn sequences_of(pool: &mysql_async::Pool, w: &Written) -> Result<Option<Vec<(TableName, (i64, i64))>>, String> {
    if w.tables.is_empty() || w.tables.len() != w.sequence_rows.len() {
        return Ok(None);
    }
    let mut c = pool.get_conn().await.map_err(|e| e.to_string())?;
    for t in &w.tables {
        let n: Option<i64> = c
            .exec_first(
                "SELECT COUNT(*) FROM information_schema.TABLES \
                 WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND TABLE_TYPE = 'SEQUENCE'",
                (&t.schema, &t.table),
            )
            .await
            .map_err(|e| e.to_string())?;
        if n.unwrap_or(0) == 0 {
            return Ok(None);
        }
    }
    let mut v: Vec<_> = w.sequence_rows.iter().map(|(t, v)| (t.clone(), *v)).collect();
    v.sort();
    Ok(Some(v))
}

/// Proposes `entry` until the log takes it (a member without quorum, or whose leader is
/// changing, tries again): the other members must learn every advance, however late.
async fn propose_until_taken(group: &Weak<Group>, entry: &Entry) {
    let mut wait = Duration::from_millis(100);
    loop {
        let Some(g) = group.upgrade() else { return };
        match g.propose(entry).await {
            Ok((index, _)) => {
                tracing::debug!(index, ?entry, "sequence advance proposed");
                return;
            }
            Err(e) => tracing::warn!(error = %e, ?entry, "sequence advance not proposed yet; trying again"),
        }
        drop(g);
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(Duration::from_secs(5));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_rows_need_eight_integer_columns() {
        let v = 1001i64.to_le_bytes();
        let r = 3i64.to_le_bytes();
        let one = [1u8];
        let mut cells = vec![Cell::Value(&v); 8];
        cells[6] = Cell::Value(&one);
        cells[7] = Cell::Value(&r);
        assert_eq!(sequence_row(&cells), Some((1001, 3)));
        assert_eq!(sequence_row(&cells[..7]), None);
        cells[0] = Cell::Null;
        assert_eq!(sequence_row(&cells), None);
    }
}
