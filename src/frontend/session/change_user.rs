//! COM_CHANGE_USER: relayed to mysqld like a login, with what the session forgets either way.

use mysql_common::constants::CapabilityFlags as Caps;

use super::super::connect::{relay_auth, AuthResult};
use super::super::errors::ClientError;
use super::{backend_write_error, Session, SessionEnd};
use crate::protocol::packet::Packet;
use crate::protocol::response::STATUS_IN_TRANS;

impl Session {
    pub(super) async fn change_user(&mut self, packet: Packet) -> Result<(), SessionEnd> {
        let new_user = change_user_name(&packet.payload).ok_or(SessionEnd::Refused(ClientError::Malformed))?;
        let slot = match self.ctx.registry.acquire_user(&new_user, self.ctx.limits.per_user()) {
            Ok(s) => s,
            Err(e) => return self.reply_error(e).await,
        };
        if self.txn.is_some() {
            self.abandon_xa().await?;
        }
        self.backend.queue_raw(&packet.raw);
        self.backend.flush().await.map_err(backend_write_error)?;
        let result = relay_auth(&mut self.client, &mut self.backend, 0, None)
            .await
            .map_err(|e| SessionEnd::Protocol(e.to_string()))?;
        // mysqld resets the session before it authenticates (rolls back, drops temporary
        // tables and prepared statements, unlocks tables), whatever the outcome.
        self.prepared.clear();
        self.txn = None;
        self.locked = false;
        self.lex_stale = true;
        self.temp_tables.clear();
        match result {
            AuthResult::Ok(status) => {
                self.user = new_user;
                self._user_slot = slot;
                self.status = status;
                self.schema = change_user_schema(&packet.payload, self.caps);
                self.schema_known = true;
            }
            // A failed COM_CHANGE_USER keeps the connection, as the previous user with the
            // previous default schema (MariaDB 10.11 `dispatch_command`; after three failures
            // on a connection mysqld answers 1047 to every further COM_CHANGE_USER).
            AuthResult::Err(code, msg) => {
                tracing::debug!(session = self.id, code, %msg, "COM_CHANGE_USER refused");
                self.status &= !STATUS_IN_TRANS;
                self.status_stale = true;
            }
        }
        Ok(())
    }
}

/// The user name in a COM_CHANGE_USER payload (`0x11 user NUL ...`).
fn change_user_name(payload: &[u8]) -> Option<String> {
    let body = payload.get(1..)?;
    let nul = body.iter().position(|&b| b == 0)?;
    Some(String::from_utf8_lossy(&body[..nul]).into_owned())
}

/// The default schema a COM_CHANGE_USER names (`None`: none, or the packet is short): after
/// the user, the auth data (length-prefixed with CLIENT_SECURE_CONNECTION, else
/// NUL-terminated), then the schema NUL-terminated.
fn change_user_schema(payload: &[u8], caps: Caps) -> Option<String> {
    let body = payload.get(1..)?;
    let rest = &body[body.iter().position(|&b| b == 0)? + 1..];
    let rest = if caps.contains(Caps::CLIENT_SECURE_CONNECTION) {
        let n = *rest.first()? as usize;
        rest.get(1 + n..)?
    } else {
        &rest[rest.iter().position(|&b| b == 0)? + 1..]
    };
    let nul = rest.iter().position(|&b| b == 0)?;
    (nul > 0).then(|| String::from_utf8_lossy(&rest[..nul]).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn change_user_schema_follows_the_auth_data() {
        let secure = Caps::CLIENT_SECURE_CONNECTION | Caps::CLIENT_PROTOCOL_41;
        let cases: &[(&[u8], Caps, Option<&str>)] = &[
            (
                b"\x11bob\0\x03abcshop\0\x21\0mysql_native_password\0",
                secure,
                Some("shop"),
            ),
            (b"\x11bob\0\x00\0\x21\0", secure, None),
            (b"\x11bob\0\x00db\0", secure, Some("db")),
            (b"\x11bob\0pw\0db2\0", Caps::CLIENT_PROTOCOL_41, Some("db2")),
            (b"\x11bob\0\x09abc", secure, None),
            (b"\x11bob", secure, None),
        ];
        for (payload, caps, want) in cases {
            assert_eq!(
                change_user_schema(payload, *caps).as_deref(),
                *want,
                "{:?}",
                String::from_utf8_lossy(payload)
            );
        }
    }
}
