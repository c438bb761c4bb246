//! A client's identity across members: what it proved at login, kept so that a session on a
//! secondary can log in to the primary as the same user, with that user's privileges.
//!
//! With `mysql_native_password` the client answers mysqld's nonce with
//! `SHA1(pw) XOR SHA1(nonce || SHA1(SHA1(pw)))`, and mysqld stores `SHA1(SHA1(pw))`. Given the
//! stored hash (read by the service account), the proxy recovers `SHA1(pw)` from the answer
//! and can answer any other server's nonce the same way; it never learns the password. The
//! recovered value is checked against the stored hash, so a wrong guess of the account row
//! cannot produce a login. Other plugins (ed25519, caching_sha2_password, PAM, GSSAPI,
//! unix_socket) give nothing that answers a new nonce: such sessions are not sent on.

use sha1::{Digest, Sha1};

/// The plugin whose proofs can be carried to another server.
pub const NATIVE: &[u8] = b"mysql_native_password";

/// The last authentication round of a login: the plugin, the nonce mysqld sent, the client's
/// answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Proof {
    pub plugin: Vec<u8>,
    pub nonce: Vec<u8>,
    pub response: Vec<u8>,
}

impl Proof {
    /// An authentication switch request from mysqld (`FE plugin NUL nonce [NUL]`): the client's
    /// next packet answers it.
    pub fn switched(&mut self, payload: &[u8]) {
        let Some(body) = payload.strip_prefix(&[0xFE]) else {
            return;
        };
        let nul = body.iter().position(|&b| b == 0).unwrap_or(body.len());
        self.plugin = body[..nul].to_vec();
        let mut nonce = body.get(nul + 1..).unwrap_or_default();
        if nonce.last() == Some(&0) {
            nonce = &nonce[..nonce.len() - 1];
        }
        self.nonce = nonce.to_vec();
        self.response.clear();
    }

    /// The client's answer to the last switch.
    pub fn answered(&mut self, data: &[u8]) {
        self.response = data.to_vec();
    }

    /// Whether a session with this proof can log in elsewhere.
    pub fn portable(&self) -> bool {
        self.plugin == NATIVE && (self.response.is_empty() || self.response.len() == 20)
    }
}

fn sha1(parts: &[&[u8]]) -> [u8; 20] {
    let mut h = Sha1::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// Parses a stored `mysql_native_password` hash (`*` and 40 hex digits).
pub fn parse_stored(s: &str) -> Option<[u8; 20]> {
    let hex = s.strip_prefix('*')?;
    if hex.len() != 40 {
        return None;
    }
    let mut out = [0u8; 20];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// `SHA1(password)` from a native proof and the account's stored `SHA1(SHA1(password))`, if
/// the proof matches that hash.
pub fn stage1(proof: &Proof, stored: &[u8; 20]) -> Option<[u8; 20]> {
    if proof.response.len() != 20 || proof.nonce.len() < 20 {
        return None;
    }
    let mask = sha1(&[&proof.nonce[..20], stored]);
    let mut s1 = [0u8; 20];
    for i in 0..20 {
        s1[i] = proof.response[i] ^ mask[i];
    }
    (sha1(&[&s1]) == *stored).then_some(s1)
}

/// The answer to `nonce` for the password whose `SHA1` is `stage1`.
pub fn answer(nonce: &[u8], stage1: &[u8; 20]) -> [u8; 20] {
    let stored = sha1(&[stage1]);
    let n = &nonce[..nonce.len().min(20)];
    let mask = sha1(&[n, &stored]);
    let mut out = [0u8; 20];
    for i in 0..20 {
        out[i] = stage1[i] ^ mask[i];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored_of(pw: &str) -> [u8; 20] {
        sha1(&[&sha1(&[pw.as_bytes()])])
    }

    #[test]
    fn a_native_answer_carries_to_another_nonce() {
        let nonce1 = *b"abcdefghijklmnopqrst";
        let nonce2 = *b"ABCDEFGHIJKLMNOPQRST";
        // What a client sends (mysql_common computes it from the password).
        let client = mysql_common::scramble::scramble_native(&nonce1, b"s3cret").unwrap();
        let proof = Proof {
            plugin: NATIVE.to_vec(),
            nonce: nonce1.to_vec(),
            response: client.to_vec(),
        };
        assert!(proof.portable());
        let s1 = stage1(&proof, &stored_of("s3cret")).expect("the proof matches the hash");
        let expected = mysql_common::scramble::scramble_native(&nonce2, b"s3cret").unwrap();
        assert_eq!(answer(&nonce2, &s1), expected);
        // Another account's hash does not verify.
        assert_eq!(stage1(&proof, &stored_of("other")), None);
    }

    #[test]
    fn stored_hashes_parse() {
        let hex = "*".to_string() + &"0A".repeat(20);
        let cases: &[(&str, Option<[u8; 20]>)] = &[
            (&hex, Some([10u8; 20])),
            ("0A0A", None),
            ("", None),
            ("*ZZ0A0A0A0A0A0A0A0A0A0A0A0A0A0A0A0A0A0A0A", None),
        ];
        for (s, want) in cases {
            assert_eq!(parse_stored(s), *want, "{s}");
        }
    }

    #[test]
    fn switch_requests_set_plugin_and_nonce() {
        let mut p = Proof {
            plugin: b"caching_sha2_password".to_vec(),
            nonce: vec![1; 20],
            response: vec![2; 32],
        };
        let mut sw = vec![0xFE];
        sw.extend_from_slice(b"mysql_native_password\0");
        sw.extend_from_slice(b"abcdefghijklmnopqrst\0");
        p.switched(&sw);
        assert_eq!(p.plugin, NATIVE);
        assert_eq!(p.nonce, b"abcdefghijklmnopqrst");
        assert!(p.response.is_empty());
        p.answered(&[7; 20]);
        assert!(p.portable());
        p.plugin = b"client_ed25519".to_vec();
        assert!(!p.portable());
    }
}
