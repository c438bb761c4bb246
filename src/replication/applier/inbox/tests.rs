use super::*;
use crate::replication::certifier::Verdict;
use crate::replication::txn::Entry;

fn entry(index: u64) -> Feed {
    Feed::Entry(Certified {
        index,
        entry: Entry::Watermark { member: 1, applied: 0 },
        verdict: Verdict::Commit,
    })
}

fn restored(horizon: u64, index: u64) -> Feed {
    Feed::Restored { horizon, index }
}

/// Runs a feed through an inbox that starts at `base`: the indexes delivered, then the error
/// (if any) that ended delivery.
async fn deliver(base: u64, feed: Vec<Feed>) -> (Vec<u64>, Option<String>) {
    let (tx, rx) = mpsc::unbounded_channel();
    for f in feed {
        tx.send(f).unwrap();
    }
    drop(tx);
    let mut inbox = Inbox::new(rx, base);
    let mut got = Vec::new();
    loop {
        match inbox.recv().await {
            Ok(Some(c)) => got.push(c.index),
            Ok(None) => return (got, None),
            Err(e) => return (got, Some(e)),
        }
    }
}

#[tokio::test]
async fn duplicates_dropped_and_gaps_stop_delivery() {
    struct Case {
        name: &'static str,
        base: u64,
        feed: Vec<Feed>,
        want: Vec<u64>,
        error: Option<&'static str>,
    }
    let cases = [
        Case {
            name: "plain log order",
            base: 0,
            feed: vec![entry(1), entry(2), entry(4)],
            want: vec![1, 2, 4],
            error: None,
        },
        Case {
            name: "entries at or below the applied base are skipped",
            base: 5,
            feed: vec![entry(4), entry(5), entry(6)],
            want: vec![6],
            error: None,
        },
        Case {
            name: "start-up restore below the base: retained entries above it only",
            base: 10,
            feed: vec![restored(8, 12), entry(9), entry(10), entry(11), entry(12), entry(13)],
            want: vec![11, 12, 13],
            error: None,
        },
        Case {
            name: "installed snapshot re-sends entries already received",
            base: 0,
            feed: vec![
                entry(1),
                entry(2),
                entry(3),
                restored(2, 5),
                entry(3),
                entry(4),
                entry(5),
                entry(6),
            ],
            want: vec![1, 2, 3, 4, 5, 6],
            error: None,
        },
        Case {
            name: "restore exactly at what the member has",
            base: 7,
            feed: vec![restored(7, 9), entry(8), entry(9)],
            want: vec![8, 9],
            error: None,
        },
        Case {
            name: "restore past what the member has: stop, never skip",
            base: 0,
            feed: vec![entry(1), entry(2), restored(4, 9), entry(5), entry(6)],
            want: vec![1, 2],
            error: Some("has log entries up to index 2 but the group's snapshot at index 9 keeps only entries after 4"),
        },
        Case {
            name: "unreadable snapshot",
            base: 3,
            feed: vec![restored(u64::MAX, 9), entry(10)],
            want: vec![],
            error: Some("the snapshot at log index 9 is unreadable"),
        },
    ];
    for c in cases {
        let (got, err) = deliver(c.base, c.feed).await;
        assert_eq!(got, c.want, "{}", c.name);
        match (c.error, err) {
            (None, None) => {}
            (Some(want), Some(e)) => assert!(e.contains(want), "{}: {e}", c.name),
            (want, got) => panic!("{}: error {got:?}, wanted {want:?}", c.name),
        }
    }
}

#[tokio::test]
async fn try_recv_stops_at_a_gap() {
    let (tx, rx) = mpsc::unbounded_channel();
    for f in [entry(1), entry(1), entry(2), restored(5, 8), entry(6)] {
        tx.send(f).unwrap();
    }
    let mut inbox = Inbox::new(rx, 0);
    assert_eq!(inbox.try_recv().map(|c| c.index), Some(1));
    assert_eq!(inbox.try_recv().map(|c| c.index), Some(2));
    assert!(inbox.try_recv().is_none(), "nothing past the gap");
    assert!(inbox.recv().await.is_err());
}
