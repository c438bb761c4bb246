//! KILL through the proxy. A session's greeting carries the thread id of its own mysqld
//! connection, so the id a client reads from the greeting (which drivers use to cancel a query
//! from a second connection), from `CONNECTION_ID()` and from the processlist are one and the
//! same: mysqld's. `KILL [CONNECTION|QUERY] <id>` and COM_PROCESS_KILL therefore travel
//! unchanged, as the client's own statement on its own backend connection: mysqld decides with
//! its own privilege checks (a user without CONNECTION ADMIN kills only its own threads, so
//! grproxy's service connections are as safe as they are on mysqld) and answers an unknown id
//! with 1094 itself. After a successful `KILL CONNECTION` of another grproxy session, that
//! session is told to close its client at once (mysqld closed its backend connection).

use std::ops::Range;

use super::session::{Session, SessionEnd};
use crate::protocol::packet::{encode_packet, Packet};
use crate::protocol::response::Expect;
use crate::sql::{Classified, Detail, KillKind, KillTarget};

impl Session {
    /// A COM_QUERY holding a KILL statement (`range` is that statement within the text).
    pub(crate) async fn kill_statement(
        &mut self,
        packet: &Packet,
        range: Range<usize>,
        class: Classified,
    ) -> Result<(), SessionEnd> {
        let Detail::Kill { kind, target } = class.detail else {
            unreachable!("called for KILL only")
        };
        let outcome = self.forward(packet, Expect::QueryResult).await?;
        let text = &packet.payload[1..];
        let alone = !(range.start != 0 && text[..range.start].iter().any(|b| !b.is_ascii_whitespace())
            || has_more_statements(text, &range));
        // In a multi-statement packet the outcome is the last statement's; the victim's
        // session then finds its backend closed at its next command.
        if let (KillTarget::Id { id, .. }, KillKind::Connection, true, None) = (target, kind, alone, &outcome.error) {
            self.notify_killed(id);
        }
        Ok(())
    }

    /// COM_PROCESS_KILL: `0x0C id:4`.
    pub(crate) async fn kill_command(&mut self, packet: Packet) -> Result<(), SessionEnd> {
        let outcome = self.forward(&packet, Expect::OkOrErr).await?;
        if let (Some(b), None) = (packet.payload.get(1..5), &outcome.error) {
            self.notify_killed(u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as u64);
        }
        Ok(())
    }

    /// mysqld killed thread `id`: if it is another grproxy session's, that session closes.
    fn notify_killed(&self, id: u64) {
        if id == self.backend_id as u64 {
            return;
        }
        if let Some(victim) = self.context().registry.lookup(id) {
            victim.notify_one();
        }
    }

    pub(crate) async fn forward_payload(
        &mut self,
        payload: &[u8],
        expect: Expect,
    ) -> Result<crate::protocol::response::Outcome, SessionEnd> {
        let mut raw = bytes::BytesMut::new();
        encode_packet(0, payload, &mut raw);
        let packet = Packet {
            seq: 0,
            last_seq: 0,
            payload: bytes::Bytes::new(),
            raw: raw.freeze(),
        };
        self.forward(&packet, expect).await
    }
}

fn has_more_statements(text: &[u8], range: &Range<usize>) -> bool {
    text[range.end..]
        .iter()
        .any(|&b| !(b.is_ascii_whitespace() || b == b';'))
}
