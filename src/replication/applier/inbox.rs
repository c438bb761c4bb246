//! The applier's input: certified entries in log order, and notice of snapshot restores.

use tokio::sync::mpsc;

use super::Certified;

/// What the state machine hands the applier, in log order.
pub enum Feed {
    Entry(Certified),
    /// The state machine was restored from a snapshot at `index` (at start-up or installed
    /// from the leader). Every entry above `horizon` follows again; the applier must already
    /// have everything up to `horizon`, or it cannot go on. `horizon == u64::MAX`: the
    /// snapshot was unreadable.
    Restored {
        horizon: u64,
        index: u64,
    },
}

/// The applier's end of the feed: drops entries it has already received (a restore sends the
/// retained ones again) and turns a restore it cannot follow into an error.
pub(super) struct Inbox {
    rx: mpsc::UnboundedReceiver<Feed>,
    /// Highest index received (or applied before start-up).
    last: u64,
    gap: Option<String>,
    /// The horizon of the last restore this member could not follow.
    gap_horizon: Option<u64>,
}

impl Inbox {
    /// An inbox for an applier that has applied everything up to `base`.
    pub(super) fn new(rx: mpsc::UnboundedReceiver<Feed>, base: u64) -> Self {
        Inbox {
            rx,
            last: base,
            gap: None,
            gap_horizon: None,
        }
    }

    /// After a state transfer to `base`: entries above it are taken again (those of the
    /// restore that follow in the feed).
    pub(super) fn rebase(&mut self, base: u64) {
        self.last = self.last.max(base);
        self.gap = None;
        self.gap_horizon = None;
    }

    /// The horizon of the restore that left a gap, if one did.
    pub(super) fn gap_horizon(&self) -> Option<u64> {
        self.gap_horizon
    }

    fn accept(&mut self, f: Feed) -> Option<Certified> {
        match f {
            Feed::Entry(c) if c.index > self.last => {
                self.last = c.index;
                Some(c)
            }
            Feed::Entry(_) => None,
            Feed::Restored { horizon, index } if horizon > self.last => {
                self.gap_horizon = Some(horizon);
                self.gap.get_or_insert_with(|| {
                    if horizon == u64::MAX {
                        format!("the snapshot at log index {index} is unreadable")
                    } else {
                        format!(
                            "this member has log entries up to index {} but the group's snapshot at index \
                             {index} keeps only entries after {horizon}: the entries in between are gone; \
                             re-provision this member's mysqld from another member (state transfer)",
                            self.last
                        )
                    }
                });
                None
            }
            Feed::Restored { .. } => None,
        }
    }

    /// The next entry not received before; `Ok(None)` once the feed is closed; an error at a
    /// restore this member cannot follow (nothing after it is delivered).
    pub(super) async fn recv(&mut self) -> Result<Option<Certified>, String> {
        loop {
            if let Some(g) = self.gap.take() {
                return Err(g);
            }
            match self.rx.recv().await {
                None => return Ok(None),
                Some(f) => {
                    if let Some(c) = self.accept(f) {
                        return Ok(Some(c));
                    }
                }
            }
        }
    }

    /// An entry already waiting, if any (never past a gap).
    pub(super) fn try_recv(&mut self) -> Option<Certified> {
        while self.gap.is_none() {
            let f = self.rx.try_recv().ok()?;
            if let Some(c) = self.accept(f) {
                return Some(c);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests;
