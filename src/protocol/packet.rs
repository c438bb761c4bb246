//! MySQL packet framing: a 3-byte little-endian payload length, a 1-byte sequence id, the
//! payload. A payload of 0xFFFFFF bytes or more is split into chunks of exactly 0xFFFFFF bytes
//! followed by a shorter (possibly empty) chunk; together they form one logical packet.
//!
//! Everything here is pure: it works on byte buffers, so it is tested with byte fixtures.

use bytes::{Buf, BufMut, Bytes, BytesMut};

/// Largest payload of one physical chunk.
pub const MAX_CHUNK: usize = 0xFF_FFFF;
/// Size of a chunk header.
pub const HEADER_LEN: usize = 4;

/// Framing errors. Every one of them ends the connection it happened on.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FrameError {
    #[error("packet of {size} bytes exceeds the limit of {limit} bytes")]
    TooLarge { size: usize, limit: usize },
    #[error("packets out of order: expected sequence id {expected}, got {got}")]
    OutOfOrder { expected: u8, got: u8 },
}

/// One logical packet as it arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    /// Sequence id of the first chunk.
    pub seq: u8,
    /// Sequence id of the last chunk (equals `seq` unless the packet was split).
    pub last_seq: u8,
    /// The reassembled payload.
    pub payload: Bytes,
    /// The packet's bytes as they arrived, headers included, for forwarding unchanged.
    pub raw: Bytes,
}

impl Packet {
    /// A packet the proxy sends in a client's place (framed, split at 16 MiB as needed).
    pub fn from_payload(seq: u8, payload: Vec<u8>) -> Packet {
        let mut raw = BytesMut::new();
        let last_seq = encode_packet(seq, &payload, &mut raw).wrapping_sub(1);
        Packet {
            seq,
            last_seq,
            payload: Bytes::from(payload),
            raw: raw.freeze(),
        }
    }

    /// First payload byte, if any.
    pub fn first(&self) -> Option<u8> {
        self.payload.first().copied()
    }
}

/// Header of one chunk: `(payload length, sequence id)`, if four bytes are available.
pub fn chunk_header(buf: &[u8]) -> Option<(usize, u8)> {
    if buf.len() < HEADER_LEN {
        return None;
    }
    let len = buf[0] as usize | (buf[1] as usize) << 8 | (buf[2] as usize) << 16;
    Some((len, buf[3]))
}

/// Takes one complete logical packet off the front of `buf`, or returns `Ok(None)` when more
/// bytes are needed. `limit` bounds the logical payload size; it is checked as soon as chunk
/// headers announce more than that, before the payload arrives.
pub fn take_packet(buf: &mut BytesMut, limit: usize) -> Result<Option<Packet>, FrameError> {
    let mut pos = 0;
    let mut total = 0usize;
    let mut chunks = 0usize;
    let mut first_seq = 0u8;
    let mut last_seq = 0u8;
    loop {
        let Some((len, seq)) = chunk_header(&buf[pos..]) else {
            return Ok(None);
        };
        if chunks == 0 {
            first_seq = seq;
        } else if seq != last_seq.wrapping_add(1) {
            return Err(FrameError::OutOfOrder {
                expected: last_seq.wrapping_add(1),
                got: seq,
            });
        }
        last_seq = seq;
        total += len;
        if total > limit {
            return Err(FrameError::TooLarge { size: total, limit });
        }
        if buf.len() < pos + HEADER_LEN + len {
            return Ok(None);
        }
        pos += HEADER_LEN + len;
        chunks += 1;
        if len < MAX_CHUNK {
            break;
        }
    }
    let raw = buf.split_to(pos).freeze();
    let payload = if chunks == 1 {
        raw.slice(HEADER_LEN..)
    } else {
        let mut joined = BytesMut::with_capacity(total);
        let mut rest = &raw[..];
        while let Some((len, _)) = chunk_header(rest) {
            joined.put_slice(&rest[HEADER_LEN..HEADER_LEN + len]);
            rest = &rest[HEADER_LEN + len..];
            if len < MAX_CHUNK {
                break;
            }
        }
        joined.freeze()
    };
    Ok(Some(Packet {
        seq: first_seq,
        last_seq,
        payload,
        raw,
    }))
}

/// Appends `payload` to `dst` as one logical packet starting at sequence id `seq`, split into
/// chunks as the protocol requires. Returns the next sequence id.
pub fn encode_packet(mut seq: u8, payload: &[u8], dst: &mut BytesMut) -> u8 {
    dst.reserve(payload.len() + HEADER_LEN * (payload.len() / MAX_CHUNK + 1));
    let mut rest = payload;
    loop {
        let n = rest.len().min(MAX_CHUNK);
        dst.put_uint_le(n as u64, 3);
        dst.put_u8(seq);
        dst.put_slice(&rest[..n]);
        seq = seq.wrapping_add(1);
        rest = &rest[n..];
        if n < MAX_CHUNK {
            return seq;
        }
    }
}

/// Rewrites the sequence ids of every chunk in `raw` (a whole number of chunks), adding
/// `delta` (wrapping). Used where the two sides of the proxy number a phase differently.
/// Bytes past the last whole chunk header are left as they are.
pub fn shift_seq(raw: &Bytes, delta: u8) -> Bytes {
    if delta == 0 {
        return raw.clone();
    }
    let mut out = BytesMut::from(&raw[..]);
    let mut pos = 0;
    while let Some((len, seq)) = out.get(pos..).and_then(chunk_header) {
        out[pos + 3] = seq.wrapping_add(delta);
        pos += HEADER_LEN + len;
    }
    out.freeze()
}

/// Reads a length-encoded integer at the front of `buf`, advancing it.
pub fn read_lenenc(buf: &mut &[u8]) -> Option<u64> {
    let first = *buf.first()?;
    let width = match first {
        0..=0xFA => {
            buf.advance(1);
            return Some(first as u64);
        }
        0xFC => 2,
        0xFD => 3,
        0xFE => 8,
        _ => return None, // 0xFB is NULL, 0xFF is an error marker
    };
    if buf.len() < 1 + width {
        return None;
    }
    let mut v = 0u64;
    for i in 0..width {
        v |= (buf[1 + i] as u64) << (8 * i);
    }
    buf.advance(1 + width);
    Some(v)
}

/// Appends a length-encoded integer.
pub fn put_lenenc(dst: &mut Vec<u8>, v: u64) {
    match v {
        0..=0xFA => dst.push(v as u8),
        0xFB..=0xFFFF => {
            dst.push(0xFC);
            dst.extend_from_slice(&(v as u16).to_le_bytes());
        }
        0x1_0000..=0xFF_FFFF => {
            dst.push(0xFD);
            dst.extend_from_slice(&(v as u32).to_le_bytes()[..3]);
        }
        _ => {
            dst.push(0xFE);
            dst.extend_from_slice(&v.to_le_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(seq: u8, payload: &[u8]) -> Vec<u8> {
        let mut b = BytesMut::new();
        encode_packet(seq, payload, &mut b);
        b.to_vec()
    }

    #[test]
    fn small_packets_round_trip() {
        for (seq, payload) in [(0u8, &b""[..]), (3, b"\x03SELECT 1"), (255, b"x")] {
            let mut buf = BytesMut::from(&frame(seq, payload)[..]);
            let p = take_packet(&mut buf, 1 << 20).unwrap().unwrap();
            assert_eq!((p.seq, p.last_seq, &p.payload[..]), (seq, seq, payload));
            assert!(buf.is_empty());
        }
    }

    #[test]
    fn truncated_input_waits_for_more() {
        let full = frame(0, b"\x03SELECT 1");
        for cut in 0..full.len() {
            let mut buf = BytesMut::from(&full[..cut]);
            assert_eq!(take_packet(&mut buf, 1 << 20), Ok(None), "cut at {cut}");
            assert_eq!(buf.len(), cut, "nothing consumed");
        }
    }

    #[test]
    fn split_packets_of_every_boundary_size() {
        for size in [
            MAX_CHUNK - 1,
            MAX_CHUNK,
            MAX_CHUNK + 1,
            2 * MAX_CHUNK,
            2 * MAX_CHUNK + 7,
        ] {
            let payload: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
            let bytes = frame(1, &payload);
            let chunks = size / MAX_CHUNK + 1;
            assert_eq!(bytes.len(), size + HEADER_LEN * chunks, "size {size}");
            let mut buf = BytesMut::from(&bytes[..]);
            let p = take_packet(&mut buf, 64 << 20).unwrap().unwrap();
            assert_eq!(p.payload.len(), size);
            assert!(p.payload[..] == payload[..]);
            assert_eq!(p.last_seq, 1 + (chunks as u8 - 1));
            assert_eq!(p.raw.len(), bytes.len());
        }
    }

    #[test]
    fn oversized_packet_is_refused_from_its_header() {
        // Only the header of a 16 MiB chunk: the limit trips before the payload arrives.
        let mut buf = BytesMut::from(&[0xFF, 0xFF, 0xFF, 0][..]);
        assert_eq!(
            take_packet(&mut buf, 1024),
            Err(FrameError::TooLarge {
                size: MAX_CHUNK,
                limit: 1024
            })
        );
    }

    #[test]
    fn out_of_order_continuation_is_an_error() {
        let mut bytes = frame(0, &vec![0u8; MAX_CHUNK + 1]);
        bytes[HEADER_LEN + MAX_CHUNK + 3] = 9; // second chunk's seq
        let mut buf = BytesMut::from(&bytes[..]);
        assert_eq!(
            take_packet(&mut buf, 64 << 20),
            Err(FrameError::OutOfOrder { expected: 1, got: 9 })
        );
    }

    #[test]
    fn shift_seq_rewrites_every_chunk() {
        let bytes = Bytes::from(frame(2, &vec![7u8; MAX_CHUNK + 3]));
        let shifted = shift_seq(&bytes, 255);
        assert_eq!(shifted[3], 1);
        assert_eq!(shifted[HEADER_LEN + MAX_CHUNK + 3], 2);
    }

    #[test]
    fn lenenc_table() {
        let cases: &[(&[u8], Option<u64>, usize)] = &[
            (&[0x00], Some(0), 1),
            (&[0xFA], Some(250), 1),
            (&[0xFC, 0xFB, 0x00], Some(251), 3),
            (&[0xFD, 1, 2, 3], Some(0x030201), 4),
            (&[0xFE, 1, 0, 0, 0, 0, 0, 0, 0], Some(1), 9),
            (&[0xFC, 0x01], None, 0),
            (&[0xFB], None, 0),
            (&[0xFF], None, 0),
            (&[], None, 0),
        ];
        for (input, want, used) in cases {
            let mut s: &[u8] = input;
            assert_eq!(read_lenenc(&mut s), *want, "{input:?}");
            assert_eq!(input.len() - s.len(), *used, "{input:?}");
        }
        for v in [0u64, 250, 251, 0xFFFF, 0x10000, 0xFF_FFFF, 0x100_0000, u64::MAX] {
            let mut out = Vec::new();
            put_lenenc(&mut out, v);
            let mut s = &out[..];
            assert_eq!(read_lenenc(&mut s), Some(v));
            assert!(s.is_empty());
        }
    }
}
