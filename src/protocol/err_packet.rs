//! Building ERR packets the proxy sends on its own behalf.

/// `0xFF code:2 '#' sqlstate:5 message`.
pub fn err_payload(code: u16, sqlstate: &str, message: &str) -> Vec<u8> {
    let mut p = Vec::with_capacity(9 + message.len());
    p.push(0xFF);
    p.extend_from_slice(&code.to_le_bytes());
    p.push(b'#');
    let state = sqlstate.as_bytes();
    debug_assert_eq!(state.len(), 5);
    p.extend_from_slice(&state[..5.min(state.len())]);
    p.extend_from_slice(message.as_bytes());
    p
}

/// A minimal OK packet with the given status flags.
pub fn ok_payload(affected_rows: u64, status: u16, warnings: u16) -> Vec<u8> {
    let mut p = vec![0x00];
    super::packet::put_lenenc(&mut p, affected_rows);
    p.push(0);
    p.extend_from_slice(&status.to_le_bytes());
    p.extend_from_slice(&warnings.to_le_bytes());
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::response::{parse_err, parse_ok};

    #[test]
    fn err_round_trips() {
        let p = err_payload(1045, "28000", "Access denied");
        assert_eq!(&p[..9], b"\xff\x15\x04#28000");
        assert_eq!(parse_err(&p), (1045, "Access denied".into()));
    }

    #[test]
    fn ok_round_trips() {
        let p = ok_payload(3, 2, 1);
        let ok = parse_ok(&p).unwrap();
        assert_eq!((ok.affected_rows, ok.status, ok.warnings), (3, 2, 1));
    }
}
