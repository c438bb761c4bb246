//! Statements of the proxy's own on a session's connection (the XA statements around a
//! client's transaction, the reads of its session state), their answers taken in: mysqld's
//! status flags, or its error, which leaves them to be asked for again.

use super::*;

/// One statement of the proxy's own: its result, or mysqld's error (code, message).
pub(super) type InternalTry = Result<internal::TextResult, (u16, String)>;

impl Session {
    /// Runs a proxy statement on the session's connection; mysqld's error ends the command
    /// with that error for the client.
    pub(super) async fn internal(&mut self, sql: &str) -> Result<internal::TextResult, SessionEnd> {
        self.internal_try(sql)
            .await?
            .map_err(|(code, message)| SessionEnd::Refused(ClientError::Internal(code, message)))
    }

    /// Takes in a proxy statement's answer: its status flags, or (after mysqld's error) the
    /// note that they must be asked for again. Other errors broke the connection.
    fn note_internal(
        &mut self,
        r: Result<internal::TextResult, internal::InternalError>,
    ) -> Result<InternalTry, SessionEnd> {
        match r {
            Ok(r) => {
                if let Some(s) = r.status {
                    self.status = s;
                }
                Ok(Ok(r))
            }
            Err(internal::InternalError::Server { code, message }) => {
                self.status_stale = true;
                Ok(Err((code, message)))
            }
            Err(other) => Err(SessionEnd::Protocol(other.to_string())),
        }
    }

    /// A `SELECT` of the proxy's own on the client's connection, between client statements
    /// (`columns` is its select list). It would leave `FOUND_ROWS()` at 1 for every later
    /// client statement (mysqld changes it only at the next SELECT), so it reads the value
    /// before it in the same statement and, when that was not 1, sets it back with a `SELECT
    /// SQL_CALC_FOUND_ROWS` that finds as many rows (`row_count::found_rows_restore`).
    /// `ROW_COUNT()` is the client's to lose only for the next statement, which the callers
    /// handle (`shadow_row_count`).
    pub(crate) async fn own_select(&mut self, columns: &str) -> Result<internal::TextResult, SessionEnd> {
        let mut r = self.internal(&format!("SELECT {columns}, FOUND_ROWS()")).await?;
        let found = r
            .rows
            .first_mut()
            .and_then(|row| row.pop())
            .flatten()
            .and_then(|v| String::from_utf8_lossy(&v).parse::<u64>().ok());
        if let Some(restore) = found.and_then(crate::frontend::row_count::found_rows_restore) {
            self.internal(&restore).await?;
        }
        Ok(r)
    }

    /// Two statements of the proxy's own, pipelined in one round trip
    /// (`internal::query_pair`); each statement's server error is returned as a value.
    pub(super) async fn internal_pair_try(
        &mut self,
        first: &str,
        second: &str,
    ) -> Result<(InternalTry, InternalTry), SessionEnd> {
        let caps = self.caps();
        let (a, b) = internal::query_pair(self.backend_mut(), caps, first, second)
            .await
            .map_err(|e| SessionEnd::Protocol(e.to_string()))?;
        let a = self.note_internal(a)?;
        Ok((a, self.note_internal(b)?))
    }

    /// Like `internal`, but a server error is returned as a value.
    pub(super) async fn internal_try(&mut self, sql: &str) -> Result<InternalTry, SessionEnd> {
        let caps = self.caps();
        let r = internal::query(self.backend_mut(), caps, sql).await;
        self.note_internal(r)
    }
}
