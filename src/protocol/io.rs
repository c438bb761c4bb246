//! Moving framed packets over an async byte stream. One read buffer and one write buffer per
//! stream; reads are cancel-safe (partial data stays in the buffer), so `select!` may race a
//! read against another event.

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::compress::{Compression, Role};
use super::packet::{encode_packet, take_packet, FrameError, Packet};

/// Any byte stream a session can run on (TCP, TLS over TCP, unix socket).
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send + Sync {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + Sync> Stream for T {}

pub type BoxStream = Box<dyn Stream>;

#[derive(Debug, thiserror::Error)]
pub enum IoError {
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Frame(#[from] FrameError),
    #[error("connection closed in the middle of a packet")]
    Truncated,
}

pub struct PacketIo<S> {
    stream: S,
    rbuf: BytesMut,
    wbuf: BytesMut,
    limit: usize,
    /// The compressed protocol, once a login with CLIENT_COMPRESS succeeded: `rbuf` and
    /// `wbuf` then hold the plain packets, decoded and encoded here.
    comp: Option<Box<Compression>>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> PacketIo<S> {
    pub fn new(stream: S, limit: usize) -> Self {
        Self {
            stream,
            rbuf: BytesMut::with_capacity(16 * 1024),
            wbuf: BytesMut::with_capacity(16 * 1024),
            limit,
            comp: None,
        }
    }

    /// Switches to the compressed protocol (after the login OK); bytes already read past the
    /// last packet are compressed ones.
    pub fn enable_compression(&mut self, role: Role) {
        let mut c = Compression::new(role);
        c.cbuf = self.rbuf.split();
        self.comp = Some(Box::new(c));
    }

    pub fn compressed(&self) -> bool {
        self.comp.is_some()
    }

    /// Next logical packet; `Ok(None)` when the peer closed cleanly between packets.
    pub async fn read_packet(&mut self) -> Result<Option<Packet>, IoError> {
        loop {
            if let Some(p) = take_packet(&mut self.rbuf, self.limit)? {
                return Ok(Some(p));
            }
            if self.fill().await? == 0 {
                return if self.rbuf.is_empty() {
                    Ok(None)
                } else {
                    Err(IoError::Truncated)
                };
            }
        }
    }

    /// Next logical packet, treating a clean close as an error.
    pub async fn expect_packet(&mut self) -> Result<Packet, IoError> {
        match self.read_packet().await? {
            Some(p) => Ok(p),
            None => Err(IoError::Truncated),
        }
    }

    /// Reads more bytes into the read buffer; returns how many (0 at end of stream).
    ///
    /// Cancel-safe also when compressed: compressed bytes wait in their own buffer and are
    /// decoded one compressed packet per call, after the read.
    pub async fn fill(&mut self) -> std::io::Result<usize> {
        let Some(comp) = self.comp.as_deref_mut() else {
            if self.rbuf.capacity() - self.rbuf.len() < 4096 {
                self.rbuf.reserve(16 * 1024);
            }
            return self.stream.read_buf(&mut self.rbuf).await;
        };
        loop {
            match comp.decode_one(&mut self.rbuf)? {
                Some(0) => continue,
                Some(n) => return Ok(n),
                None => {}
            }
            if comp.cbuf.capacity() - comp.cbuf.len() < 4096 {
                comp.cbuf.reserve(16 * 1024);
            }
            if self.stream.read_buf(&mut comp.cbuf).await? == 0 {
                return if comp.cbuf.is_empty() {
                    Ok(0)
                } else {
                    Err(std::io::ErrorKind::UnexpectedEof.into())
                };
            }
        }
    }

    /// Bytes received and not yet consumed.
    pub fn read_buffer(&mut self) -> &mut BytesMut {
        &mut self.rbuf
    }

    /// Queues one packet (split into chunks if large).
    pub fn queue(&mut self, seq: u8, payload: &[u8]) -> u8 {
        encode_packet(seq, payload, &mut self.wbuf)
    }

    /// Queues bytes that are already framed.
    pub fn queue_raw(&mut self, raw: &[u8]) {
        self.wbuf.extend_from_slice(raw);
    }

    pub async fn flush(&mut self) -> std::io::Result<()> {
        if let Some(comp) = self.comp.as_deref_mut() {
            comp.encode(&mut self.wbuf);
            while comp.out.has_remaining() {
                let n = self.stream.write(&comp.out).await?;
                if n == 0 {
                    return Err(std::io::ErrorKind::WriteZero.into());
                }
                comp.out.advance(n);
            }
            return self.stream.flush().await;
        }
        while self.wbuf.has_remaining() {
            let n = self.stream.write(&self.wbuf).await?;
            if n == 0 {
                return Err(std::io::ErrorKind::WriteZero.into());
            }
            self.wbuf.advance(n);
        }
        self.stream.flush().await
    }

    /// Queues and flushes one packet.
    pub async fn send(&mut self, seq: u8, payload: &[u8]) -> std::io::Result<()> {
        self.queue(seq, payload);
        self.flush().await
    }

    /// Writes framed bytes straight through, after anything already queued.
    pub async fn write_through(&mut self, raw: &[u8]) -> std::io::Result<()> {
        if self.comp.is_some() {
            self.wbuf.extend_from_slice(raw);
            return self.flush().await;
        }
        if !self.wbuf.is_empty() {
            self.flush().await?;
        }
        self.stream.write_all(raw).await
    }

    pub async fn shutdown(&mut self) {
        let _ = self.flush().await;
        let _ = self.stream.shutdown().await;
    }

    pub fn set_limit(&mut self, limit: usize) {
        self.limit = limit;
    }

    /// The stream and any bytes read past the last packet.
    pub fn into_parts(self) -> (S, BytesMut) {
        (self.stream, self.rbuf)
    }
}
