//! Crash-durability tests of the log store (reopen = simulated restart), plus openraft's
//! own storage conformance suite run against `LogStore` + `StateMachineStore`.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use openraft::storage::{RaftLogStorage, RaftLogStorageExt};
use openraft::testing::{log_id, StoreBuilder, Suite};
use openraft::{EntryPayload, RaftLogReader};

use crate::consensus::log_store::{LogHandle, LogStore};
use crate::consensus::state_machine::StateMachineStore;
use crate::consensus::tests_support::TestMachine;
use crate::consensus::types::{Blob, Entry, StorageError, TypeConfig, Vote};

fn ent(term: u64, index: u64) -> Entry {
    Entry {
        log_id: log_id(term, 1, index),
        payload: EntryPayload::Normal(vec![Blob(format!("e{term}-{index}").into_bytes())]),
    }
}

fn open(dir: &Path) -> (LogStore, LogHandle) {
    LogStore::open_with(dir, 256).expect("open log")
}

fn close(store: LogStore, h: LogHandle) {
    drop(store);
    h.stop();
}

async fn all(store: &mut LogStore) -> Vec<Entry> {
    store.try_get_log_entries(..).await.unwrap()
}

fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|d| d.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "seg"))
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn appended_entries_survive_reopen() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut s, h) = open(tmp.path());
    let entries: Vec<_> = (0..40).map(|i| ent(1, i)).collect();
    for chunk in entries.chunks(7) {
        s.blocking_append(chunk.to_vec()).await.unwrap();
    }
    assert!(h.stats().append_fsyncs >= 1);
    close(s, h);
    assert!(segments(tmp.path()).len() > 1, "segments rotated at 256 bytes");

    let (mut s, h) = open(tmp.path());
    assert_eq!(all(&mut s).await, entries);
    let st = s.get_log_state().await.unwrap();
    assert_eq!(st.last_log_id, Some(log_id(1, 1, 39)));
    assert_eq!(st.last_purged_log_id, None);
    close(s, h);
}

#[tokio::test]
async fn torn_and_corrupt_tails_are_truncated() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut s, h) = LogStore::open(tmp.path()).unwrap();
    s.blocking_append((0..5).map(|i| ent(1, i))).await.unwrap();
    close(s, h);
    let seg = segments(tmp.path()).pop().unwrap();
    let good_len = fs::metadata(&seg).unwrap().len();

    // A torn record: header claims 100 bytes, only 10 made it to disk.
    let mut f = OpenOptions::new().append(true).open(&seg).unwrap();
    f.write_all(&100u32.to_le_bytes()).unwrap();
    f.write_all(&[7u8; 14]).unwrap();
    drop(f);
    let (mut s, h) = LogStore::open(tmp.path()).unwrap();
    assert_eq!(all(&mut s).await, (0..5).map(|i| ent(1, i)).collect::<Vec<_>>());
    assert_eq!(fs::metadata(&seg).unwrap().len(), good_len, "torn tail cut off");
    close(s, h);

    // A complete record whose crc does not match.
    let mut f = OpenOptions::new().append(true).open(&seg).unwrap();
    f.write_all(&4u32.to_le_bytes()).unwrap();
    f.write_all(&0xdead_beefu32.to_le_bytes()).unwrap();
    f.write_all(b"junk").unwrap();
    drop(f);
    let (mut s, h) = LogStore::open(tmp.path()).unwrap();
    assert_eq!(all(&mut s).await.len(), 5);
    assert_eq!(fs::metadata(&seg).unwrap().len(), good_len, "corrupt record cut off");
    // The repaired log accepts appends that survive another restart.
    s.blocking_append([ent(2, 5)]).await.unwrap();
    close(s, h);
    let (mut s, h) = LogStore::open(tmp.path()).unwrap();
    let got = all(&mut s).await;
    assert_eq!(got.len(), 6);
    assert_eq!(got[5], ent(2, 5));
    close(s, h);
}

#[tokio::test]
async fn truncate_and_purge_survive_reopen() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut s, h) = open(tmp.path());
    for i in 0..30 {
        s.blocking_append([ent(1, i)]).await.unwrap();
    }
    let before = segments(tmp.path()).len();
    s.truncate(log_id(1, 1, 20)).await.unwrap();
    s.purge(log_id(1, 1, 9)).await.unwrap();
    assert!(segments(tmp.path()).len() < before, "whole segments deleted");
    // Conflicting suffix replaced by entries of a newer term.
    s.blocking_append([ent(3, 20), ent(3, 21)]).await.unwrap();
    close(s, h);

    let (mut s, h) = open(tmp.path());
    let st = s.get_log_state().await.unwrap();
    assert_eq!(st.last_purged_log_id, Some(log_id(1, 1, 9)));
    assert_eq!(st.last_log_id, Some(log_id(3, 1, 21)));
    let mut want: Vec<_> = (10..20).map(|i| ent(1, i)).collect();
    want.extend([ent(3, 20), ent(3, 21)]);
    assert_eq!(all(&mut s).await, want);
    // Truncate everything that is left, then restart: the log is empty above the purge point.
    s.truncate(log_id(1, 1, 10)).await.unwrap();
    close(s, h);
    let (mut s, h) = open(tmp.path());
    assert!(all(&mut s).await.is_empty());
    let st = s.get_log_state().await.unwrap();
    assert_eq!(st.last_log_id, Some(log_id(1, 1, 9)));
    close(s, h);
}

/// Installing a snapshot purges past the end of the local log; later appends continue
/// after the purge point, in the same segment as stale records.
#[tokio::test]
async fn purge_beyond_last_entry_then_append() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut s, h) = LogStore::open(tmp.path()).unwrap();
    s.blocking_append((0..5).map(|i| ent(1, i))).await.unwrap();
    s.purge(log_id(2, 1, 100)).await.unwrap();
    let st = s.get_log_state().await.unwrap();
    assert_eq!(st.last_log_id, Some(log_id(2, 1, 100)));
    s.blocking_append((101..104).map(|i| ent(2, i))).await.unwrap();
    close(s, h);
    let (mut s, h) = LogStore::open(tmp.path()).unwrap();
    assert_eq!(all(&mut s).await, (101..104).map(|i| ent(2, i)).collect::<Vec<_>>());
    close(s, h);
}

#[tokio::test]
async fn vote_and_committed_survive_reopen() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut s, h) = LogStore::open(tmp.path()).unwrap();
    assert_eq!(s.read_vote().await.unwrap(), None);
    s.save_vote(&Vote::new(3, 2)).await.unwrap();
    let mut committed = Vote::new(4, 1);
    committed.commit();
    s.save_vote(&committed).await.unwrap();
    s.blocking_append([ent(4, 0)]).await.unwrap();
    s.save_committed(Some(log_id(4, 1, 0))).await.unwrap();
    close(s, h);
    let (mut s, h) = LogStore::open(tmp.path()).unwrap();
    assert_eq!(s.read_vote().await.unwrap(), Some(committed));
    assert_eq!(s.read_committed().await.unwrap(), Some(log_id(4, 1, 0)));
    assert!(!tmp.path().join("vote.tmp").exists());
    close(s, h);
}

/// A saved vote beyond the term any peer may send (an older version accepted one) is refused
/// at start with what to do, instead of overflowing the term at the next election.
#[tokio::test]
async fn a_saved_vote_beyond_the_term_bound_is_refused_at_open() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut s, h) = LogStore::open(tmp.path()).unwrap();
    s.save_vote(&Vote::new(crate::consensus::network::MAX_TERM + 1, 2))
        .await
        .unwrap();
    close(s, h);
    let e = LogStore::open(tmp.path()).err().expect("refused");
    assert!(
        e.to_string().contains("beyond") && e.to_string().contains("state transfer"),
        "{e}"
    );
    // The bound itself is a term a member may hold.
    let tmp = tempfile::tempdir().unwrap();
    let (mut s, h) = LogStore::open(tmp.path()).unwrap();
    s.save_vote(&Vote::new(crate::consensus::network::MAX_TERM, 2))
        .await
        .unwrap();
    close(s, h);
    let (mut s, h) = LogStore::open(tmp.path()).unwrap();
    assert!(s.read_vote().await.unwrap().is_some());
    close(s, h);
}

/// Appends that arrive while an fsync is in flight share the next fsync.
#[tokio::test]
async fn group_commit_batches_concurrent_appends() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut s, h) = LogStore::open(tmp.path()).unwrap();
    let mut acks = Vec::new();
    for i in 0..200 {
        acks.push(s.append_nowait([ent(1, i)]).unwrap());
    }
    for a in acks {
        a.await.unwrap().unwrap();
    }
    let st = h.stats();
    assert_eq!(st.append_calls, 200);
    assert!(st.append_fsyncs < 50, "expected batched fsyncs: {st:?}");
    close(s, h);
    let (mut s, h) = LogStore::open(tmp.path()).unwrap();
    assert_eq!(all(&mut s).await.len(), 200);
    close(s, h);
}

/// openraft's storage conformance suite.
struct Builder;

impl StoreBuilder<TypeConfig, LogStore, StateMachineStore, (tempfile::TempDir, LogHandle)> for Builder {
    async fn build(&self) -> Result<((tempfile::TempDir, LogHandle), LogStore, StateMachineStore), StorageError> {
        let tmp = tempfile::tempdir().unwrap();
        let (log, h) = LogStore::open(&tmp.path().join("log")).unwrap();
        let (sm, _) = StateMachineStore::open(&tmp.path().join("sm"), TestMachine::new(1, 0) as Arc<_>).unwrap();
        Ok(((tmp, h), log, sm))
    }
}

#[test]
fn openraft_storage_suite() {
    Suite::test_all(Builder).unwrap();
}

#[test]
fn log_and_snapshot_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("member");
    super::files::private_dir(&data).unwrap();
    super::files::write_checked(&data, "vote", b"x", false).unwrap();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&data.join("vote")), 0o600);
}

/// What replication reads for one AppendEntries is bounded by bytes, never empty: (payload
/// sizes of the entries 1.., range asked, entries given).
#[tokio::test]
async fn replication_reads_are_bounded_by_bytes() {
    use crate::consensus::log_store::APPEND_BYTES;
    const MIB: usize = 1 << 20;
    let cases: &[(&[usize], (u64, u64), usize)] = &[
        (&[10, 10, 10], (1, 4), 3),
        (&[MIB / 2, MIB / 2, 1], (1, 4), 2),
        (&[2 * MIB, 10], (1, 3), 1),
        (&[10, 2 * MIB, 10], (1, 4), 1),
        (&[MIB, MIB, MIB, MIB], (2, 5), 1),
        (&[10; 300], (1, 301), 300),
        (&[10, 10], (2, 2), 0),
    ];
    for (sizes, (start, end), want) in cases {
        let tmp = tempfile::tempdir().unwrap();
        let (mut store, h) = open(tmp.path());
        let entries: Vec<Entry> = sizes
            .iter()
            .enumerate()
            .map(|(i, n)| Entry {
                log_id: log_id(1, 1, i as u64 + 1),
                payload: EntryPayload::Normal(vec![Blob(vec![b'x'; *n])]),
            })
            .collect();
        store.blocking_append(entries).await.unwrap();
        let mut reader = store.get_log_reader().await;
        let got = reader.limited_get_log_entries(*start, *end).await.unwrap();
        assert_eq!(got.len(), *want, "sizes {sizes:?}, range {start}..{end}");
        if let Some(first) = got.first() {
            assert_eq!(first.log_id.index, *start);
        }
        let bytes: usize = sizes[(*start as usize - 1)..][..got.len()].iter().sum();
        assert!(
            got.len() <= 1 || bytes <= APPEND_BYTES,
            "{bytes} bytes in {} entries",
            got.len()
        );
        drop(reader);
        close(store, h);
    }
}
