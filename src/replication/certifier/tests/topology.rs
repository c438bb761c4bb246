//! Single-primary mode in certification: the topology fence.

use super::*;

/// Single-primary fence: after a topology change naming member 2, member 1's transactions
/// abort at the change (whatever their snapshot), member 2's commit, and a change back to
/// multi-primary lifts the fence; the topology survives a snapshot.
#[test]
fn only_the_primary_commits_after_a_topology_change() {
    use crate::replication::topology::{Mode, TopologyChange};
    let from = |origin: u64, snapshot: u64, item: u128| {
        let Entry::Txn(mut t) = dml(snapshot, &[item]) else {
            unreachable!()
        };
        t.origin = origin;
        Entry::Txn(t)
    };
    let change = |mode, primary| {
        Entry::Topology(TopologyChange {
            mode,
            primary,
            reason: String::new(),
        })
    };
    let mut c = Certifier::new(&[1, 2, 3]);
    assert_eq!(c.certify(1, &from(1, 0, row(1))), Commit);
    assert_eq!(c.certify(2, &change(Mode::SinglePrimary, Some(2))), Commit);
    assert_eq!(
        c.certify(3, &from(1, 2, row(2))),
        abort(2),
        "a deposed origin is fenced"
    );
    assert_eq!(c.certify(4, &from(2, 3, row(3))), Commit, "the primary commits");
    let restored = Certifier::decode(&c.encode()).unwrap();
    assert_eq!(restored.topology(), c.topology());
    let mut c = restored;
    assert_eq!(c.certify(5, &from(3, 4, row(4))), abort(2));
    assert_eq!(c.certify(6, &change(Mode::MultiPrimary, Some(2))), Commit);
    assert_eq!(c.topology().primary, None);
    assert_eq!(c.certify(7, &from(3, 6, row(5))), Commit, "multi-primary again");
}
