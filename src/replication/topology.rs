//! Who may write: the group's mode and, in single-primary mode, its primary.
//!
//! The topology is replicated state: it changes only through [`Entry::Topology`] entries,
//! so every member sees each change at the same place in the log. That place is the fence:
//! the certifier aborts every transaction ordered after a change whose origin is not the
//! primary the change named, so a member that lost the role can commit nothing after it,
//! whatever it still believes locally. Everything the old primary committed before the change
//! is in the log ahead of it, and a new primary takes writes only once its own mysqld has
//! applied the log through the change.
//!
//! [`Entry::Topology`]: super::txn::Entry::Topology

use serde::{Deserialize, Serialize};

/// How the group takes writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Mode {
    /// Every member takes writes; conflicts are certified (first committer wins).
    #[default]
    MultiPrimary,
    /// One member, the primary, takes writes; the others serve reads and send writes on.
    SinglePrimary,
}

impl Mode {
    /// The name used in the config file, SQL commands and status (`single-primary`).
    pub fn name(self) -> &'static str {
        match self {
            Mode::MultiPrimary => "multi-primary",
            Mode::SinglePrimary => "single-primary",
        }
    }

    /// Parses `single-primary` / `multi-primary` (also with `_` and in any case).
    pub fn parse(s: &str) -> Option<Mode> {
        match s.trim().to_ascii_lowercase().replace('_', "-").as_str() {
            "multi-primary" => Some(Mode::MultiPrimary),
            "single-primary" => Some(Mode::SinglePrimary),
            _ => None,
        }
    }
}

/// A change of mode or primary, as proposed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopologyChange {
    pub mode: Mode,
    /// The primary (single-primary mode only; `None` in multi-primary mode).
    pub primary: Option<u64>,
    /// Why (election, switchover, mode change): for the log and status.
    pub reason: String,
}

/// The topology in force after some prefix of the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Topology {
    pub mode: Mode,
    pub primary: Option<u64>,
    /// Index of the entry that set it; 0: never set (the group runs as its config says
    /// until the first change is committed).
    pub since: u64,
    pub reason: String,
}

impl Topology {
    /// The topology after `change`, committed at `index`.
    pub fn after(change: &TopologyChange, index: u64) -> Topology {
        Topology {
            mode: change.mode,
            primary: match change.mode {
                Mode::SinglePrimary => change.primary,
                Mode::MultiPrimary => None,
            },
            since: index,
            reason: change.reason.clone(),
        }
    }

    /// May a transaction from `origin`, ordered after this topology, commit?
    pub fn admits(&self, origin: u64) -> bool {
        match self.mode {
            Mode::MultiPrimary => true,
            Mode::SinglePrimary => self.primary == Some(origin),
        }
    }

    /// True when `member` must not take writes of its own.
    pub fn is_secondary(&self, member: u64) -> bool {
        self.mode == Mode::SinglePrimary && self.primary != Some(member)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn who_may_write() {
        let multi = Topology::default();
        let single = |p| {
            Topology::after(
                &TopologyChange {
                    mode: Mode::SinglePrimary,
                    primary: p,
                    reason: String::new(),
                },
                7,
            )
        };
        // (topology, member, may write, is a secondary)
        let cases: &[(&Topology, u64, bool, bool)] = &[
            (&multi, 1, true, false),
            (&multi, 2, true, false),
            (&single(Some(2)), 2, true, false),
            (&single(Some(2)), 1, false, true),
            (&single(None), 1, false, true),
        ];
        for (t, member, admits, secondary) in cases {
            assert_eq!(t.admits(*member), *admits, "{t:?} member {member}");
            assert_eq!(t.is_secondary(*member), *secondary, "{t:?} member {member}");
        }
        // A multi-primary change forgets any primary it was given.
        let t = Topology::after(
            &TopologyChange {
                mode: Mode::MultiPrimary,
                primary: Some(3),
                reason: String::new(),
            },
            9,
        );
        assert_eq!((t.primary, t.since), (None, 9));
    }

    #[test]
    fn mode_names() {
        for (s, m) in [
            ("single-primary", Some(Mode::SinglePrimary)),
            ("SINGLE_PRIMARY", Some(Mode::SinglePrimary)),
            ("multi-primary", Some(Mode::MultiPrimary)),
            ("primary", None),
        ] {
            assert_eq!(Mode::parse(s), m, "{s}");
        }
        assert_eq!(Mode::parse(Mode::SinglePrimary.name()), Some(Mode::SinglePrimary));
    }
}
