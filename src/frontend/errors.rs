//! The one mapping from what goes wrong in the proxy to what the client sees: a MySQL error
//! code, SQLSTATE and a message that names the problem without leaking internals.

use crate::protocol::err_packet::err_payload;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    #[error("Too many connections")]
    TooManyConnections,
    #[error("User {0} already has more than 'max_user_connections' active connections")]
    TooManyUserConnections(String),
    #[error("Connections using insecure transport are prohibited while --require_secure_transport=ON.")]
    InsecureTransport,
    #[error("Malformed communication packet.")]
    Malformed,
    #[error("Got a packet bigger than 'max_allowed_packet' bytes")]
    PacketTooLarge,
    #[error("Unknown command")]
    UnknownCommand,
    #[error("grproxy cannot reach its local mysqld")]
    BackendUnavailable,
    /// mysqld could not be reached for a new session; names the address and the reason.
    #[error("backend unavailable: {0}")]
    BackendUnreachable(String),
    #[error("Server shutdown in progress (grproxy is draining; reconnect to another member)")]
    ShuttingDown,
    #[error("LOAD DATA LOCAL INFILE is disabled on this grproxy (features.local_infile: false)")]
    LocalInfileDisabled,
    #[error("Unknown thread id: {0}")]
    UnknownThread(u64),
    #[error("This version of grproxy doesn't yet support '{0}'")]
    NotSupported(&'static str),
    #[error("Got timeout reading communication packets")]
    Timeout,
    #[error("Connection was killed")]
    Killed,
    #[error("Deadlock found when trying to get lock; try restarting transaction (grproxy certification conflict with the transaction at log index {0})")]
    CertificationConflict(u64),
    #[error("Deadlock found when trying to get lock; try restarting transaction (grproxy: rolled back for a conflicting transaction of another member)")]
    BruteForceAborted,
    #[error("grproxy cannot replicate this statement: {0}")]
    CannotReplicate(String),
    #[error("{0}")]
    AccessDenied(String),
    #[error("{1}")]
    Internal(u16, String),
    #[error("this grproxy member takes no writes: {0}")]
    MemberError(String),
    /// A write on a single-primary secondary that could not be sent on to the primary (as
    /// MySQL answers a write under `super_read_only`: 1290).
    #[error("The MySQL server is running with the --super-read-only option so it cannot execute this statement (grproxy: this member is a secondary of a single-primary group; {0})")]
    NotPrimary(String),
    /// Like Galera's non-primary answer (1047, 08S01).
    #[error(
        "this grproxy member has no quorum (NO_QUORUM: {0}) and takes no writes; nothing of this \
         statement was kept, and no earlier write of this session has an unknown outcome"
    )]
    NoQuorum(String),
    /// A BEFORE consistency wait that did not finish.
    #[error("grproxy consistency BEFORE: {0}; the statement was not run")]
    ConsistencyTimeout(String),
    /// An AFTER consistency wait that did not finish: the commit stands.
    #[error("grproxy consistency AFTER: the transaction COMMITTED, but {0}")]
    CommittedNotEverywhere(String),
    #[error(
        "the commit outcome is unknown (grproxy could not get a verdict from the group: {0}); check before retrying"
    )]
    CommitUnknown(String),
}

impl ClientError {
    /// MySQL error code and SQLSTATE.
    pub fn code(&self) -> (u16, &'static str) {
        match self {
            ClientError::TooManyConnections => (1040, "08004"),
            ClientError::TooManyUserConnections(_) => (1203, "42000"),
            ClientError::InsecureTransport => (3159, "HY000"),
            ClientError::Malformed => (1835, "HY000"),
            ClientError::PacketTooLarge => (1153, "08S01"),
            ClientError::UnknownCommand => (1047, "08S01"),
            // A server code: clients show a server error's message, while a client-range code
            // (2013) in an ERR packet made the mariadb CLI report "malformed packet".
            ClientError::BackendUnavailable | ClientError::BackendUnreachable(_) => (1053, "08S01"),
            ClientError::ShuttingDown => (1053, "08S01"),
            ClientError::LocalInfileDisabled => (1148, "42000"),
            ClientError::UnknownThread(_) => (1094, "HY000"),
            ClientError::NotSupported(_) => (1235, "42000"),
            ClientError::Timeout => (1159, "08S01"),
            ClientError::Killed => (1927, "70100"),
            ClientError::CertificationConflict(_) | ClientError::BruteForceAborted => (1213, "40001"),
            ClientError::CannotReplicate(_) => (3098, "HY000"),
            ClientError::AccessDenied(_) => (1227, "42000"),
            ClientError::Internal(code, _) => (*code, "HY000"),
            ClientError::MemberError(_) => (3100, "HY000"),
            ClientError::NotPrimary(_) => (1290, "HY000"),
            ClientError::NoQuorum(_) => (1047, "08S01"),
            // MariaDB's max_statement_time error: the wait is what timed out.
            ClientError::ConsistencyTimeout(_) | ClientError::CommittedNotEverywhere(_) => (1969, "70100"),
            ClientError::CommitUnknown(_) => (1180, "HY000"),
        }
    }

    pub fn payload(&self) -> Vec<u8> {
        let (code, state) = self.code();
        err_payload(code, state, &self.to_string())
    }

    /// The ERR packet sent in place of a greeting: the client has not said yet whether it
    /// speaks protocol 4.1, so it carries no SQLSTATE (as mysqld does in the same place).
    pub fn payload_before_greeting(&self) -> Vec<u8> {
        let mut p = vec![0xFF];
        p.extend_from_slice(&self.code().0.to_le_bytes());
        p.extend_from_slice(self.to_string().as_bytes());
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::response::parse_err;

    #[test]
    fn every_error_has_a_five_char_sqlstate_and_round_trips() {
        let all = [
            ClientError::TooManyConnections,
            ClientError::TooManyUserConnections("bob".into()),
            ClientError::InsecureTransport,
            ClientError::Malformed,
            ClientError::PacketTooLarge,
            ClientError::UnknownCommand,
            ClientError::BackendUnavailable,
            ClientError::BackendUnreachable("cannot connect to mysqld at 127.0.0.1:1: refused".into()),
            ClientError::ShuttingDown,
            ClientError::LocalInfileDisabled,
            ClientError::UnknownThread(7),
            ClientError::NotSupported("COM_BINLOG_DUMP"),
            ClientError::Timeout,
            ClientError::Killed,
            ClientError::CertificationConflict(9),
            ClientError::BruteForceAborted,
            ClientError::CannotReplicate("x".into()),
            ClientError::Internal(1146, "no table".into()),
            ClientError::MemberError("e".into()),
            ClientError::NotPrimary("p".into()),
            ClientError::NoQuorum("q".into()),
            ClientError::ConsistencyTimeout("t".into()),
            ClientError::CommittedNotEverywhere("m".into()),
            ClientError::CommitUnknown("timeout".into()),
        ];
        for e in all {
            let (code, state) = e.code();
            assert_eq!(state.len(), 5);
            assert_eq!(parse_err(&e.payload()), (code, e.to_string()));
        }
    }
}
