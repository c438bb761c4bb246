//! Each member's own slice of the election timeout range.
//!
//! openraft 0.9 draws a node's election timeout once, when the node starts, and keeps it for
//! the life of the process (`EngineConfig::new`). Two followers whose draws happen to be close
//! time out together after every lost leader: both vote for themselves, refuse each other, and
//! do it again on the next round, for as long as the draws stay close (a single-primary Jepsen
//! run saw two survivors elect no one for 5.3 s). Giving every member a disjoint slice of the
//! configured range, by its place among the members, makes one of them always go first.

/// The `(min, max)` election timeout of `node` among `members` (sorted ids, `node` among
/// them) within the configured `range`: the range is cut into one part per member and the
/// member gets the first half of its part, so two members' slices are at least half a part
/// apart (125 ms for three members in grproxy's 750-1500 ms; openraft checks its timer every
/// 1.5 heartbeats, 150 ms, at a phase of its own on each node). A node
/// that is not among `members` (not yet configured), or a lone member, gets the whole range.
pub fn slice(node: u64, members: &[u64], range: (u64, u64)) -> (u64, u64) {
    let (min, max) = range;
    let Some(rank) = members.iter().position(|&m| m == node) else {
        return range;
    };
    let n = members.len() as u64;
    let part = (max.saturating_sub(min)) / n.max(1);
    if n <= 1 || part < 2 {
        return range;
    }
    let lo = min + rank as u64 * part;
    (lo, lo + part / 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_get_disjoint_slices_inside_the_range() {
        // (node, members, range, want)
        let cases: &[(u64, &[u64], (u64, u64), (u64, u64))] = &[
            (1, &[1, 2, 3], (750, 1500), (750, 875)),
            (2, &[1, 2, 3], (750, 1500), (1000, 1125)),
            (3, &[1, 2, 3], (750, 1500), (1250, 1375)),
            // By place, not by id.
            (40, &[7, 40], (750, 1500), (1125, 1312)),
            (7, &[7, 40], (750, 1500), (750, 937)),
            (5, &[1, 2, 3, 4, 5], (750, 1500), (1350, 1425)),
            // The whole range: a lone member, an unknown node, a range too narrow to cut.
            (1, &[1], (750, 1500), (750, 1500)),
            (9, &[1, 2, 3], (750, 1500), (750, 1500)),
            (2, &[1, 2, 3], (300, 302), (300, 302)),
        ];
        for &(node, members, range, want) in cases {
            assert_eq!(slice(node, members, range), want, "node {node} of {members:?}");
        }
        // Any group: every slice lies in the range, is not empty, and slices do not touch.
        for n in 1..=7u64 {
            let members: Vec<u64> = (1..=n).collect();
            let mut slices: Vec<(u64, u64)> = members.iter().map(|&m| slice(m, &members, (750, 1500))).collect();
            slices.sort();
            for s in &slices {
                assert!(750 <= s.0 && s.0 < s.1 && s.1 <= 1500, "{slices:?}");
            }
            for w in slices.windows(2) {
                assert!(w[0].1 < w[1].0, "{slices:?}");
            }
        }
    }
}
