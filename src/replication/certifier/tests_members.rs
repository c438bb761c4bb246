//! Membership changes and the horizon: a table of (members, reports) steps and the horizon
//! each must give.

use super::*;

enum Step {
    Report(u64, u64),
    Members(&'static [u64]),
}

#[test]
fn the_horizon_follows_membership_changes() {
    use Step::*;
    // (step, horizon after it)
    let cases: &[(Step, u64)] = &[
        (Report(1, 5), 0),
        (Report(2, 7), 0),
        (Report(3, 6), 5),
        // Member 4 joins at the horizon: it does not pull it back.
        (Members(&[1, 2, 3, 4]), 5),
        (Report(1, 9), 5),
        (Report(4, 8), 6),
        // Member 3 (the slowest) leaves: the horizon moves to the slowest of the rest.
        (Members(&[1, 2, 4]), 7),
        // A report of a member that is no longer in the group is ignored.
        (Report(3, 1), 7),
        (Report(2, 20), 8),
    ];
    let mut c = Certifier::new(&[1, 2, 3]);
    let mut index = 10;
    for (i, (step, want)) in cases.iter().enumerate() {
        match step {
            Report(m, w) => {
                index += 1;
                let e = Entry::Watermark {
                    member: *m,
                    applied: *w,
                };
                assert_eq!(c.certify(index, &e), Verdict::Commit);
            }
            Members(ids) => c.set_members(ids),
        }
        assert_eq!(c.horizon(), *want, "step {i}");
        // Every state stays encodable and passes decode's checks.
        assert_eq!(Certifier::decode(&c.encode()).as_ref(), Ok(&c), "step {i}");
    }
    assert_eq!(c.members(), vec![1, 2, 4]);
}
