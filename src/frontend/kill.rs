//! KILL through the proxy. Clients know proxy connection ids (the id in the greeting, which
//! drivers use to cancel a query from a second connection); mysqld knows its own thread ids.
//! `KILL [CONNECTION|QUERY] <proxy id>` and COM_PROCESS_KILL are rewritten to the backend id and
//! run on the caller's own backend connection, so mysqld checks the caller's privileges.

use std::ops::Range;

use super::errors::ClientError;
use super::session::{Session, SessionEnd};
use crate::protocol::command::COM_QUERY;
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
        let KillTarget::Id { id, range: span } = target else {
            // KILL QUERY ID <query id> and KILL USER name are not connection ids.
            return self.forward(packet, Expect::QueryResult).await.map(|_| ());
        };
        let text = &packet.payload[1..];
        if range.start != 0 && text[..range.start].iter().any(|b| !b.is_ascii_whitespace())
            || has_more_statements(text, &range)
        {
            return self
                .reply_error(ClientError::NotSupported("KILL inside a multi-statement query"))
                .await;
        }
        let Some((backend_id, victim)) = self.context().registry.lookup(id) else {
            return self.reply_error(ClientError::UnknownThread(id)).await;
        };
        let start = range.start + span.start;
        let end = range.start + span.end;
        let mut payload = Vec::with_capacity(text.len() + 12);
        payload.push(COM_QUERY);
        payload.extend_from_slice(&text[..start]);
        payload.extend_from_slice(backend_id.to_string().as_bytes());
        payload.extend_from_slice(&text[end..]);
        let outcome = self.forward_payload(&payload, Expect::QueryResult).await?;
        if outcome.error.is_none() && kind == KillKind::Connection && id != self.id as u64 {
            victim.notify_one();
        }
        Ok(())
    }

    /// COM_PROCESS_KILL: `0x0C id:4`.
    pub(crate) async fn kill_command(&mut self, packet: Packet) -> Result<(), SessionEnd> {
        if packet.payload.len() < 5 {
            return self.reply_error(ClientError::Malformed).await;
        }
        let id = u32::from_le_bytes([
            packet.payload[1],
            packet.payload[2],
            packet.payload[3],
            packet.payload[4],
        ]);
        let Some((backend_id, victim)) = self.context().registry.lookup(id as u64) else {
            return self.reply_error(ClientError::UnknownThread(id as u64)).await;
        };
        let mut payload = vec![packet.payload[0]];
        payload.extend_from_slice(&backend_id.to_le_bytes());
        let outcome = self.forward_payload(&payload, Expect::OkOrErr).await?;
        if outcome.error.is_none() && id != self.id {
            victim.notify_one();
        }
        Ok(())
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
