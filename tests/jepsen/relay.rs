//! A fault-injecting TCP relay: listens on a loopback port and forwards every connection to a
//! target. The harness puts one relay on each directed member pair (member i dials member j
//! through relay r_ij) and flips faults on it at any time; a fault applies at once to existing
//! connections and to new ones.
//!
//! Model: a fault never drops bytes, it stalls them. The peers speak TCP-framed protocols, so a
//! stream missing some bytes in the middle is corrupt, which real TCP never delivers: it
//! retransmits, and if the loss lasts, times out and closes. The relay mimics that:
//! - during a partition it stops reading from both sides and connects nothing new. Unread bytes
//!   stay in kernel buffers, senders' writes block once those fill, reads wait: a black hole.
//!   Existing connections are held open, not closed.
//! - one-way loss stalls one direction only; the other keeps flowing. (A new connection needs
//!   both directions for its handshake, so it stalls too.)
//! - on heal, by default ([`HealPolicy::CloseAffected`]), every connection that lived through a
//!   fault (including those accepted during it) is closed on both sides, as if TCP had timed
//!   out; peers must reconnect. With [`HealPolicy::Resume`] they carry on instead, as after a
//!   blip short enough for retransmission to cover; either way every byte that is delivered is
//!   delivered in order with nothing missing.
//! - [`Relay::reset`] closes every connection at once and, until healed, closes new ones as
//!   soon as they are accepted (a refused connection, as seen by the client).
//!
//! Loopback sockets complete the TCP handshake in the kernel before the relay accepts them, so
//! during a partition a client's `connect` succeeds and then nothing comes back, rather than
//! `connect` itself hanging; either way the peer learns nothing and times out.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::{AbortHandle, JoinHandle};

/// The fault currently applied by a relay.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Everything flows.
    Pass,
    /// Nothing flows either way; connections are held open; new ones stall.
    Partition,
    /// Connections are closed; new ones are closed on accept.
    Reset,
    /// Bytes from the dialing side to the target stall; the other direction flows.
    DropClientToServer,
    /// Bytes from the target to the dialing side stall; the other direction flows.
    DropServerToClient,
}

/// Direction of a byte stream through the relay.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dir {
    ClientToServer,
    ServerToClient,
}

impl Fault {
    fn lets_through(self, dir: Dir) -> bool {
        match self {
            Fault::Pass => true,
            Fault::Partition | Fault::Reset => false,
            Fault::DropClientToServer => dir == Dir::ServerToClient,
            Fault::DropServerToClient => dir == Dir::ClientToServer,
        }
    }
}

/// What healing does to connections that lived through a fault.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum HealPolicy {
    /// Close them (TCP timed out during the fault). The default.
    #[default]
    CloseAffected,
    /// Let them resume (the fault was short enough for retransmission to cover).
    Resume,
}

struct Conn {
    /// Lived through a fault since it was accepted or last healed.
    affected: bool,
    task: AbortHandle,
}

struct State {
    conns: HashMap<u64, Conn>,
    next_id: u64,
    policy: HealPolicy,
}

struct Shared {
    target: SocketAddr,
    fault: watch::Sender<Fault>,
    state: Mutex<State>,
}

impl Shared {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // Critical sections never panic midway; a poisoned lock still holds consistent state.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// One relay: a listening socket forwarding to one target, with its fault switch.
pub struct Relay {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: JoinHandle<()>,
}

impl Relay {
    /// Starts a relay on an ephemeral loopback port, forwarding to `target`.
    pub async fn start(target: SocketAddr) -> io::Result<Relay> {
        Self::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), target).await
    }

    /// Starts a relay listening on `listen`, forwarding to `target`.
    pub async fn start_on(listen: SocketAddr, target: SocketAddr) -> io::Result<Relay> {
        let listener = TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            target,
            fault: watch::Sender::new(Fault::Pass),
            state: Mutex::new(State {
                conns: HashMap::new(),
                next_id: 0,
                policy: HealPolicy::default(),
            }),
        });
        let accept = tokio::spawn(accept_loop(listener, shared.clone()));
        Ok(Relay { addr, shared, accept })
    }

    /// Where clients should connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn target(&self) -> SocketAddr {
        self.shared.target
    }

    pub fn fault(&self) -> Fault {
        *self.shared.fault.borrow()
    }

    /// Applies `fault` now, to existing and new connections. Callable from any thread.
    pub fn set(&self, fault: Fault) {
        let mut st = self.shared.state();
        let policy = st.policy;
        // Connections to close are aborted before the new fault is published, so none of them
        // can pass another byte once healed. Aborting only schedules the task's cancellation;
        // its sockets close (and it deregisters) on a worker, after this lock is released.
        match fault {
            Fault::Pass => {
                st.conns.retain(|_, c| {
                    let close = c.affected && policy == HealPolicy::CloseAffected;
                    if close {
                        c.task.abort();
                    }
                    c.affected = false;
                    !close
                });
            }
            Fault::Reset => st.conns.drain().for_each(|(_, c)| c.task.abort()),
            _ => st.conns.values_mut().for_each(|c| c.affected = true),
        }
        self.shared.fault.send_replace(fault);
    }

    /// Heals: back to [`Fault::Pass`] (closing affected connections, per the heal policy).
    pub fn heal(&self) {
        self.set(Fault::Pass)
    }

    /// Black hole both ways.
    pub fn partition(&self) {
        self.set(Fault::Partition)
    }

    /// Close everything now; close new connections on accept.
    pub fn reset(&self) {
        self.set(Fault::Reset)
    }

    /// Stall the dialing side's bytes; the target's still arrive.
    pub fn drop_client_to_server(&self) {
        self.set(Fault::DropClientToServer)
    }

    /// Stall the target's bytes; the dialing side's still arrive.
    pub fn drop_server_to_client(&self) {
        self.set(Fault::DropServerToClient)
    }

    pub fn set_heal_policy(&self, policy: HealPolicy) {
        self.shared.state().policy = policy;
    }

    /// Connections currently held (accepted and not yet closed).
    pub fn open_connections(&self) -> usize {
        self.shared.state().conns.len()
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.accept.abort();
        let conns: Vec<Conn> = self.shared.state().conns.drain().map(|(_, c)| c).collect();
        for c in conns {
            c.task.abort();
        }
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let client = match listener.accept().await {
            Ok((s, _)) => s,
            // Out of descriptors and the like: transient, try again shortly.
            Err(_) => {
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            }
        };
        let mut st = shared.state();
        let fault = *shared.fault.borrow();
        if fault == Fault::Reset {
            drop(client);
            continue;
        }
        let id = st.next_id;
        st.next_id += 1;
        // Inserted under the lock the task's own cleanup takes, so cleanup cannot run first.
        let task = tokio::spawn(serve(client, shared.clone(), id));
        st.conns.insert(
            id,
            Conn {
                affected: fault != Fault::Pass,
                task: task.abort_handle(),
            },
        );
    }
}

/// Removes a connection from the relay's table however its task ends.
struct Deregister {
    shared: Arc<Shared>,
    id: u64,
}

impl Drop for Deregister {
    fn drop(&mut self) {
        self.shared.state().conns.remove(&self.id);
    }
}

async fn serve(client: TcpStream, shared: Arc<Shared>, id: u64) {
    let _deregister = Deregister {
        shared: shared.clone(),
        id,
    };
    let mut fault = shared.fault.subscribe();
    // A connection opened during a fault waits for the heal, like a retransmitted SYN.
    if fault.wait_for(|f| *f == Fault::Pass).await.is_err() {
        return;
    }
    let Ok(server) = TcpStream::connect(shared.target).await else {
        return; // target down: the client sees its connection closed
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    // An error either way ends both directions (dropping all halves closes both sockets); a
    // clean end of stream is passed on as a half-close and the other direction carries on.
    let _ = tokio::try_join!(
        pump(client_read, server_write, Dir::ClientToServer, fault.clone()),
        pump(server_read, client_write, Dir::ServerToClient, fault),
    );
}

/// Copies one direction, reading only while the current fault lets that direction through.
async fn pump(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    dir: Dir,
    mut fault: watch::Receiver<Fault>,
) -> io::Result<()> {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        if !allowed(&mut fault, dir).await {
            return Ok(());
        }
        let n = tokio::select! {
            biased;
            // The fault changed while waiting for bytes: re-check before reading any.
            changed = fault.changed() => {
                if changed.is_err() {
                    return Ok(());
                }
                continue;
            }
            read = from.read(&mut buf) => read?,
        };
        // Bytes (or the end of stream) read just as a fault began are held, not passed on,
        // until it ends; if the connection is closed at the heal, they go with it.
        if !allowed(&mut fault, dir).await {
            return Ok(());
        }
        if n == 0 {
            to.shutdown().await?;
            return Ok(());
        }
        to.write_all(&buf[..n]).await?;
    }
}

/// Waits until the fault lets `dir` through; false if the relay is gone.
async fn allowed(fault: &mut watch::Receiver<Fault>, dir: Dir) -> bool {
    fault.wait_for(|f| f.lets_through(dir)).await.is_ok()
}
