//! The MySQL compressed protocol (`CLIENT_COMPRESS`, zlib), as a layer under [`super::io`]:
//! once a login with CLIENT_COMPRESS succeeded, both sides wrap the plain packet stream in
//! compressed packets
//!
//! ```text
//! compressed length:3 | compressed seq:1 | uncompressed length:3 | zlib data (or, with an
//! uncompressed length of 0, the plain bytes as they are)
//! ```
//!
//! whose payloads, concatenated, are the ordinary packets (header and payload; a packet may
//! span compressed packets). The proxy decodes what it reads into the plain byte stream its
//! relay scans, and encodes what it writes; the plain packets keep their own sequence ids.
//!
//! The compressed sequence id is a counter of its own: a command starts it at 0 (the client's
//! first compressed packet) and each compressed packet, either way, takes the next value, which
//! the reader checks (libmariadb and mysqld: "packets out of order"). So the server side of a
//! leg numbers from the last one it read; the client side (grproxy to mysqld) starts again at
//! 0 for each command it sends: a packet with plain sequence id 0 that does not continue a run
//! of its own packets (LOAD DATA LOCAL's file contents wrap from 255 to 0).

use bytes::{Buf, BufMut, BytesMut};
use flate2::read::ZlibDecoder;
use flate2::write::ZlibEncoder;
use std::io::{Read, Write};

/// Compressed packet header length.
pub const COMP_HEADER_LEN: usize = 7;
/// Shorter payloads are sent uncompressed (mysqld's MIN_COMPRESS_LENGTH).
pub const MIN_COMPRESS_LENGTH: usize = 50;
/// Most plain bytes in one compressed packet (a 3-byte length).
const MAX_COMP_PAYLOAD: usize = 0xFF_FFFF;

/// Which end of the leg grproxy is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// grproxy is the server (the client leg): it answers from the last sequence id read.
    Server,
    /// grproxy is the client (the mysqld leg): each command starts the numbering at 0.
    Client,
}

#[derive(Debug)]
pub struct Compression {
    role: Role,
    /// Compressed bytes read and not yet decoded.
    pub(crate) cbuf: BytesMut,
    /// Compressed bytes encoded and not yet written.
    pub(crate) out: BytesMut,
    /// Sequence id of the next compressed packet written.
    next_seq: u8,
    /// Plain sequence id of the last packet written, if nothing was read since.
    last_written: Option<u8>,
}

impl Compression {
    pub fn new(role: Role) -> Self {
        Compression {
            role,
            cbuf: BytesMut::with_capacity(16 * 1024),
            out: BytesMut::new(),
            next_seq: 0,
            last_written: None,
        }
    }

    /// Decodes the first compressed packet in `cbuf`, if it is complete, appending its plain
    /// bytes to `plain`; returns how many were appended.
    pub fn decode_one(&mut self, plain: &mut BytesMut) -> std::io::Result<Option<usize>> {
        if self.cbuf.len() < COMP_HEADER_LEN {
            return Ok(None);
        }
        let h = &self.cbuf[..COMP_HEADER_LEN];
        let clen = u24(&h[0..3]);
        let seq = h[3];
        let ulen = u24(&h[4..7]);
        if self.cbuf.len() < COMP_HEADER_LEN + clen {
            self.cbuf.reserve(COMP_HEADER_LEN + clen - self.cbuf.len());
            return Ok(None);
        }
        self.cbuf.advance(COMP_HEADER_LEN);
        let data = self.cbuf.split_to(clen);
        if ulen == 0 {
            plain.extend_from_slice(&data);
        } else {
            plain.reserve(ulen);
            let mut decoder = ZlibDecoder::new(&data[..]).take(ulen as u64 + 1);
            let n = std::io::copy(&mut decoder, &mut plain.writer())? as usize;
            if n != ulen {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("compressed packet inflates to {n} bytes, its header says {ulen}"),
                ));
            }
        }
        self.next_seq = seq.wrapping_add(1);
        self.last_written = None;
        Ok(Some(if ulen == 0 { clen } else { ulen }))
    }

    /// Encodes all of `plain` (whole packets) into `out` and empties it.
    pub fn encode(&mut self, plain: &mut BytesMut) {
        if plain.is_empty() {
            return;
        }
        let (first, last) = plain_seq_ids(plain);
        if self.role == Role::Client && first == Some(0) && self.last_written != Some(255) {
            self.next_seq = 0;
        }
        if last.is_some() {
            self.last_written = last;
        }
        for chunk in plain.chunks(MAX_COMP_PAYLOAD) {
            let seq = self.next_seq;
            self.next_seq = seq.wrapping_add(1);
            let packed = (chunk.len() >= MIN_COMPRESS_LENGTH)
                .then(|| {
                    let mut e = ZlibEncoder::new(Vec::with_capacity(chunk.len() / 2), flate2::Compression::fast());
                    e.write_all(chunk).ok()?;
                    e.finish().ok()
                })
                .flatten()
                .filter(|z| z.len() < chunk.len());
            let (body, ulen) = match &packed {
                Some(z) => (&z[..], chunk.len()),
                None => (chunk, 0),
            };
            self.out.reserve(COMP_HEADER_LEN + body.len());
            self.out.put_slice(&(body.len() as u32).to_le_bytes()[..3]);
            self.out.put_u8(seq);
            self.out.put_slice(&(ulen as u32).to_le_bytes()[..3]);
            self.out.put_slice(body);
        }
        plain.clear();
    }
}

fn u24(b: &[u8]) -> usize {
    b[0] as usize | (b[1] as usize) << 8 | (b[2] as usize) << 16
}

/// Plain sequence ids of the first and last packet headers in `plain` (which starts at a
/// packet boundary).
fn plain_seq_ids(plain: &[u8]) -> (Option<u8>, Option<u8>) {
    let mut pos = 0;
    let (mut first, mut last) = (None, None);
    while pos + 4 <= plain.len() {
        let seq = plain[pos + 3];
        first.get_or_insert(seq);
        last = Some(seq);
        pos += 4 + u24(&plain[pos..pos + 3]);
    }
    (first, last)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::packet::encode_packet;

    fn packets(list: &[(u8, &[u8])]) -> BytesMut {
        let mut b = BytesMut::new();
        for (seq, p) in list {
            encode_packet(*seq, p, &mut b);
        }
        b
    }

    /// (compressed seq, uncompressed length) of each compressed packet in `out`.
    fn headers(out: &[u8]) -> Vec<(u8, usize)> {
        let mut v = Vec::new();
        let mut pos = 0;
        while pos < out.len() {
            v.push((out[pos + 3], u24(&out[pos + 4..pos + 7])));
            pos += COMP_HEADER_LEN + u24(&out[pos..pos + 3]);
        }
        v
    }

    #[test]
    fn round_trip_small_and_large_and_split_packets() {
        let big = vec![b'x'; 40_000];
        let mut plain = packets(&[(0, b"\x03SELECT 1"), (1, &big)]);
        let expect = plain.clone();
        let mut w = Compression::new(Role::Client);
        w.encode(&mut plain);
        assert!(plain.is_empty());
        let mut r = Compression::new(Role::Server);
        r.cbuf = w.out.split();
        // Fed one byte at a time, nothing decodes before a packet is complete.
        let all = r.cbuf.split();
        let mut got = BytesMut::new();
        for b in all.iter() {
            r.cbuf.put_u8(*b);
            while r.decode_one(&mut got).unwrap().is_some() {}
        }
        assert_eq!(got, expect);
        assert!(r.cbuf.is_empty());
    }

    #[test]
    fn short_payloads_travel_uncompressed_and_long_ones_compressed() {
        let mut w = Compression::new(Role::Server);
        w.encode(&mut packets(&[(1, b"\x00\x00\x00\x02\x00\x00\x00")]));
        w.encode(&mut packets(&[(2, &[b'a'; 500])]));
        assert_eq!(headers(&w.out), vec![(0, 0), (1, 504)]);
        assert!(w.out.len() < 504);
    }

    #[test]
    fn a_server_answers_after_the_last_sequence_id_read() {
        let mut client = Compression::new(Role::Client);
        let mut server = Compression::new(Role::Server);
        client.encode(&mut packets(&[(0, b"\x03SELECT 1")]));
        server.cbuf = client.out.split();
        server.decode_one(&mut BytesMut::new()).unwrap().unwrap();
        // A response relayed in three flushes.
        for seq in 1..4u8 {
            server.encode(&mut packets(&[(seq, b"row")]));
        }
        assert_eq!(headers(&server.out), vec![(1, 0), (2, 0), (3, 0)]);
    }

    #[test]
    fn a_client_starts_each_command_at_zero_but_not_a_wrapping_upload() {
        let mut c = Compression::new(Role::Client);
        let mut s = Compression::new(Role::Server);
        c.encode(&mut packets(&[(0, b"\x03LOAD DATA LOCAL INFILE 'f' INTO TABLE t")]));
        s.cbuf = c.out.split();
        s.decode_one(&mut BytesMut::new()).unwrap();
        // The server asks for the file (seq 1), the client sends 300 packets of it.
        s.encode(&mut packets(&[(1, b"\xfbf")]));
        c.cbuf = s.out.split();
        c.decode_one(&mut BytesMut::new()).unwrap();
        let mut seqs = Vec::new();
        for i in 0..300u32 {
            c.encode(&mut packets(&[((2 + i) as u8, b"data")]));
            seqs.extend(headers(&c.out.split()).into_iter().map(|h| h.0));
        }
        let want: Vec<u8> = (0..300u32).map(|i| (2 + i) as u8).collect();
        assert_eq!(seqs, want, "the upload continues through plain seq 0");
        // Two commands without a response between them (COM_STMT_CLOSE, then a query):
        // each starts again at 0.
        c.encode(&mut packets(&[(0, b"\x19\x01\x00\x00\x00")]));
        c.encode(&mut packets(&[(0, b"\x03SELECT 2")]));
        assert_eq!(headers(&c.out), vec![(0, 0), (0, 0)]);
    }

    #[test]
    fn a_lying_length_is_an_error() {
        let mut w = Compression::new(Role::Server);
        w.encode(&mut packets(&[(1, &[b'z'; 400])]));
        let mut bad = w.out.split();
        bad[4] = bad[4].wrapping_add(1); // uncompressed length off by one
        let mut r = Compression::new(Role::Client);
        r.cbuf = bad;
        assert!(r.decode_one(&mut BytesMut::new()).is_err());
    }
}
