//! Frames of the peer protocol: `u32 LE length | bincode((request id, message))`, and the
//! size bounds that keep every legitimate frame below [`MAX_FRAME`].
//!
//! The largest frames are AppendEntries batches and InstallSnapshot chunks:
//! - a proposal is at most [`MAX_PROPOSAL`] bytes (`Consensus::propose` refuses larger ones,
//!   the server refuses larger forwarded ones), and the batcher packs proposals into one Raft
//!   entry only up to `MAX_BATCH_BYTES`, so an entry is at most `MAX_PROPOSAL` plus a little
//!   framing;
//! - an AppendEntries of several entries that would not fit is refused by the sender with
//!   openraft's `PayloadTooLarge`, which makes openraft resend fewer entries
//!   (`network::PeerClient::append_entries`);
//! - snapshots travel in chunks of [`SNAPSHOT_CHUNK`] bytes.
//!
//! Decoding never allocates more than the frame holds: bincode reads from the frame's slice
//! and checks every length prefix against the bytes left (and the limit set here), and
//! sequences preallocate at most serde's cautious 1 MiB whatever their length prefix says.

use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::io::{AsyncRead, AsyncReadExt};

/// Largest frame sent or accepted, in bytes (length prefix excluded).
pub const MAX_FRAME: usize = 64 << 20;
/// Largest proposal (one transaction's log entry).
pub const MAX_PROPOSAL: usize = 48 << 20;
/// Size of an InstallSnapshot chunk (openraft's `snapshot_max_chunk_size`).
pub const SNAPSHOT_CHUNK: usize = 3 << 20;
/// Room for everything around the payload bytes of a frame (entry headers, length prefixes of
/// up to `MAX_BATCH` proposals, log ids, snapshot metadata).
pub const FRAME_OVERHEAD: usize = 1 << 20;

const _: () = assert!(MAX_PROPOSAL + FRAME_OVERHEAD <= MAX_FRAME);
const _: () = assert!(SNAPSHOT_CHUNK + FRAME_OVERHEAD <= MAX_FRAME);
const _: () = assert!(crate::consensus::batcher::MAX_BATCH_BYTES <= MAX_PROPOSAL);

/// Why a frame could not be encoded.
#[derive(Debug, thiserror::Error)]
pub(crate) enum EncodeError {
    #[error("frame of {0} bytes exceeds the limit of {MAX_FRAME} bytes")]
    TooLarge(usize),
    #[error("encoding: {0}")]
    Codec(#[from] bincode::Error),
}

/// Encodes `(id, msg)` as one frame, length prefix included.
pub(crate) fn encode_frame<T: Serialize>(id: u64, msg: &T) -> Result<Vec<u8>, EncodeError> {
    let len = bincode::serialized_size(&(id, msg))? as usize;
    if len > MAX_FRAME {
        return Err(EncodeError::TooLarge(len));
    }
    let mut buf = Vec::with_capacity(4 + len);
    buf.extend_from_slice(&(len as u32).to_le_bytes());
    bincode::serialize_into(&mut buf, &(id, msg))?;
    Ok(buf)
}

/// Decodes a frame body (without its length prefix); trailing bytes are an error.
pub(crate) fn decode_frame<T: DeserializeOwned>(buf: &[u8]) -> Result<(u64, T), bincode::Error> {
    use bincode::Options;
    // The same encoding as `bincode::serialize` (fixed-width integers, little endian), with
    // nothing read past the frame.
    bincode::options()
        .with_fixint_encoding()
        .with_limit(buf.len() as u64)
        .deserialize(buf)
}

fn too_large(len: usize, max: usize) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        format!("frame of {len} bytes exceeds the limit of {max} bytes"),
    )
}

/// Reads one frame body; `Ok(None)` on a clean EOF before the length prefix. A length above
/// `max` is an error before anything is allocated.
pub(crate) async fn read_frame<R: AsyncRead + Unpin>(r: &mut R, max: usize) -> std::io::Result<Option<Vec<u8>>> {
    let mut len = [0u8; 4];
    match r.read_exact(&mut len).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    read_body(r, u32::from_le_bytes(len) as usize, max).await.map(Some)
}

/// Reads the rest of a frame whose first byte was `first`.
pub(crate) async fn read_frame_after<R: AsyncRead + Unpin>(
    r: &mut R,
    first: u8,
    max: usize,
) -> std::io::Result<Vec<u8>> {
    let mut len = [first, 0, 0, 0];
    r.read_exact(&mut len[1..]).await?;
    read_body(r, u32::from_le_bytes(len) as usize, max).await
}

/// Reads `len` bytes, growing the buffer as they arrive (a peer that announces a large frame
/// and sends little costs little memory).
async fn read_body<R: AsyncRead + Unpin>(r: &mut R, len: usize, max: usize) -> std::io::Result<Vec<u8>> {
    if len > max {
        return Err(too_large(len, max));
    }
    let mut buf = Vec::with_capacity(len.min(64 << 10));
    (&mut *r).take(len as u64).read_to_end(&mut buf).await?;
    if buf.len() < len {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_oversized_length_is_refused_before_reading_the_body() {
        let mut input: &[u8] = &[0xff, 0xff, 0xff, 0xff, 1, 2, 3];
        let e = read_frame(&mut input, MAX_FRAME).await.unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidData);
        assert_eq!(input, &[1, 2, 3], "nothing of the body was read");
        let mut input: &[u8] = &[0xff, 0xff, 0xff, 9];
        let e = read_frame_after(&mut input, 0xff, MAX_FRAME).await.unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidData);
    }

    #[tokio::test]
    async fn frames_round_trip_and_truncated_ones_fail() {
        let frame = encode_frame(7, &("hello".to_string(), vec![1u64, 2, 3])).unwrap();
        let mut input = &frame[..];
        let body = read_frame(&mut input, MAX_FRAME).await.unwrap().unwrap();
        let (id, msg): (u64, (String, Vec<u64>)) = decode_frame(&body).unwrap();
        assert_eq!((id, msg), (7, ("hello".to_string(), vec![1, 2, 3])));
        let mut short = &frame[..frame.len() - 1];
        assert!(read_frame(&mut short, MAX_FRAME).await.is_err());
        let mut empty: &[u8] = &[];
        assert!(read_frame(&mut empty, MAX_FRAME).await.unwrap().is_none());
        // Trailing bytes in a frame are an error.
        let mut long = body.clone();
        long.push(0);
        assert!(decode_frame::<(String, Vec<u64>)>(&long).is_err());
    }

    /// A length prefix inside a frame that claims more than the frame holds fails at once,
    /// without allocating what it claims (bincode checks byte strings against the slice; a
    /// sequence preallocates at most serde's cautious bound).
    #[test]
    fn huge_length_prefixes_inside_a_frame_fail_cheaply() {
        // (id, Vec<u8>-as-bytes) claiming u64::MAX / 2 bytes.
        let mut body = 1u64.to_le_bytes().to_vec();
        body.extend_from_slice(&(u64::MAX / 2).to_le_bytes());
        body.extend_from_slice(b"abc");
        assert!(decode_frame::<crate::consensus::types::Blob>(&body).is_err());
        // (id, Vec<Vec<u64>>) claiming 2^60 elements.
        let mut body = 1u64.to_le_bytes().to_vec();
        body.extend_from_slice(&(1u64 << 60).to_le_bytes());
        let started = std::time::Instant::now();
        assert!(decode_frame::<Vec<Vec<u64>>>(&body).is_err());
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
        // A String claiming 4 GiB.
        let mut body = 1u64.to_le_bytes().to_vec();
        body.extend_from_slice(&(4u64 << 30).to_le_bytes());
        assert!(decode_frame::<String>(&body).is_err());
    }

    #[test]
    fn an_oversized_message_is_not_encoded() {
        let big = crate::consensus::types::Blob(vec![0; MAX_FRAME]);
        assert!(matches!(encode_frame(1, &big), Err(EncodeError::TooLarge(_))));
    }
}
