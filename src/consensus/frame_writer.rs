//! The sending side of a peer connection: whoever has a frame writes it to the socket itself.
//!
//! [`FrameWriter::send`] is synchronous. It queues the frame and, unless earlier frames are
//! still waiting for the socket, writes and flushes it at once, in the caller's own poll, so
//! a request or reply costs no hand-off to a writer task (one task wakeup, often a thread
//! switch, per frame). Whatever the socket does not take at once stays queued, in order, and
//! the connection's drain ([`FrameWriter::drain`], run by the connection's owner) finishes
//! it when the socket is writable again. A frame is never half-written and then abandoned:
//! a caller dropped after `send` returned leaves its frame queued whole or sent, so the
//! stream stays in step (an `async` write cut short by openraft's RPC timeout would not).

use std::collections::VecDeque;
use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use tokio::io::AsyncWrite;
use tokio::sync::Notify;

/// A connection's write half, shared by everyone who sends on it.
#[derive(Clone)]
pub(crate) struct FrameWriter {
    shared: Arc<Shared>,
}

struct Shared {
    state: Mutex<State>,
    /// Wakes the drain: frames are left for it, or the writer failed.
    pending: Notify,
    /// Wakes those waiting for the queue to shrink.
    drained: Notify,
}

struct State {
    stream: Pin<Box<dyn AsyncWrite + Send>>,
    queue: VecDeque<Vec<u8>>,
    /// Bytes of the queue's first frame already written.
    offset: usize,
    /// Bytes written since the last flush (TLS holds records until flushed).
    unflushed: bool,
    failed: Option<io::ErrorKind>,
}

impl State {
    /// Writes queued frames and flushes, until done (`Ready(Ok)`), the socket is full
    /// (`Pending`, with `cx` registered), or an error.
    fn push(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            if let Some(front) = self.queue.front() {
                match self.stream.as_mut().poll_write(cx, &front[self.offset..]) {
                    Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                    Poll::Ready(Ok(n)) => {
                        self.unflushed = true;
                        self.offset += n;
                        if self.offset == front.len() {
                            self.queue.pop_front();
                            self.offset = 0;
                        }
                    }
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                    Poll::Pending => return Poll::Pending,
                }
            } else if self.unflushed {
                match self.stream.as_mut().poll_flush(cx) {
                    Poll::Ready(Ok(())) => self.unflushed = false,
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                    Poll::Pending => return Poll::Pending,
                }
            } else {
                return Poll::Ready(Ok(()));
            }
        }
    }
}

impl FrameWriter {
    pub(crate) fn new<W: AsyncWrite + Send + 'static>(stream: W) -> FrameWriter {
        FrameWriter {
            shared: Arc::new(Shared {
                state: Mutex::new(State {
                    stream: Box::pin(stream),
                    queue: VecDeque::new(),
                    offset: 0,
                    unflushed: false,
                    failed: None,
                }),
                pending: Notify::new(),
                drained: Notify::new(),
            }),
        }
    }

    /// Sends `frame` (whole frames only), or queues it behind frames still waiting for the
    /// socket. An error means the connection is broken: nothing more will be sent on it.
    pub(crate) fn send(&self, frame: Vec<u8>) -> io::Result<()> {
        let mut st = self.shared.state.lock().unwrap();
        if let Some(kind) = st.failed {
            return Err(kind.into());
        }
        let idle = st.queue.is_empty();
        st.queue.push_back(frame);
        if !idle {
            // The drain is waiting for the socket; it sends this frame after the others.
            return Ok(());
        }
        match st.push(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(Ok(())) => Ok(()),
            Poll::Pending => {
                self.shared.pending.notify_one();
                Ok(())
            }
            Poll::Ready(Err(e)) => {
                st.failed = Some(e.kind());
                self.shared.pending.notify_one();
                self.shared.drained.notify_waiters();
                Err(e)
            }
        }
    }

    /// Frames waiting for the socket.
    #[cfg(test)]
    pub(crate) fn queued(&self) -> usize {
        self.shared.state.lock().unwrap().queue.len()
    }

    /// Waits until at most `max` frames wait for the socket, or the writer failed
    /// (back-pressure for a peer that sends requests but does not read the replies).
    pub(crate) async fn queued_at_most(&self, max: usize) {
        loop {
            let drained = self.shared.drained.notified();
            tokio::pin!(drained);
            drained.as_mut().enable();
            {
                let st = self.shared.state.lock().unwrap();
                if st.queue.len() <= max || st.failed.is_some() {
                    return;
                }
            }
            drained.await;
        }
    }

    /// Finishes what `send` left for the socket, for as long as the connection works;
    /// returns once a write failed. Run it beside the connection's reader and drop the
    /// connection when it returns.
    pub(crate) async fn drain(&self) {
        loop {
            self.shared.pending.notified().await;
            let result = poll_fn(|cx| {
                let mut st = self.shared.state.lock().unwrap();
                if st.failed.is_some() {
                    return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
                }
                let before = st.queue.len();
                let r = st.push(cx);
                if st.queue.len() < before {
                    self.shared.drained.notify_waiters();
                }
                if let Poll::Ready(Err(e)) = &r {
                    st.failed = Some(e.kind());
                    self.shared.drained.notify_waiters();
                }
                r
            })
            .await;
            if result.is_err() {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    /// Frames larger than the pipe's buffer go out whole and in order while the reader is
    /// slow; the queue then empties; a closed peer makes `send` fail and `drain` return.
    #[tokio::test]
    async fn frames_go_out_whole_and_in_order_through_a_small_pipe() {
        let (near, mut far) = tokio::io::duplex(1024);
        let w = FrameWriter::new(near);
        let drain = tokio::spawn({
            let w = w.clone();
            async move { w.drain().await }
        });
        let frames: Vec<Vec<u8>> = (0..20u8).map(|i| vec![i; 300 + 100 * i as usize]).collect();
        for f in &frames {
            w.send(f.clone()).unwrap();
        }
        assert!(w.queued() > 0, "the pipe cannot have taken everything yet");
        let total: usize = frames.iter().map(Vec::len).sum();
        let mut got = vec![0u8; total];
        far.read_exact(&mut got).await.unwrap();
        assert_eq!(got, frames.concat());
        tokio::time::timeout(std::time::Duration::from_secs(5), w.queued_at_most(0))
            .await
            .expect("the queue empties");
        drop(far);
        let mut failed = false;
        for _ in 0..3 {
            failed |= w.send(vec![1; 2048]).is_err();
            tokio::task::yield_now().await;
        }
        assert!(failed, "sending to a closed peer fails");
        tokio::time::timeout(std::time::Duration::from_secs(5), drain)
            .await
            .expect("the drain returns once the writer failed")
            .unwrap();
    }

    /// A frame that fits is on the wire when `send` returns: no task ran in between.
    #[tokio::test(flavor = "current_thread")]
    async fn a_frame_that_fits_is_written_by_the_sender() {
        let (near, mut far) = tokio::io::duplex(4096);
        let w = FrameWriter::new(near);
        w.send(b"hello".to_vec()).unwrap();
        assert_eq!(w.queued(), 0);
        let mut got = [0u8; 5];
        far.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"hello");
    }
}
