//! Consensus layer: a Raft log (openraft 0.9, storage-v2) replicated between the
//! proxies of a group, applied in order through a caller-provided deterministic
//! [`Machine`].
//!
//! Layout:
//! - [`types`]: the openraft type config, [`Machine`], [`ConsensusConfig`], [`ConsensusError`].
//! - [`batcher`]: group commit of concurrent proposals into one Raft entry.
//! - [`log_store`]: segmented, crc-framed, group-committed Raft log + vote file
//!   (`log_writer`: the writer thread and segment files; `files`: atomic small files).
//! - [`state_machine`]: `RaftStateMachine` adapter around the [`Machine`], snapshot files.
//! - [`peer_tls`]: mutual TLS on peer links (member certificates signed by the group CA).
//! - [`frame`]: the frame codec and the size bounds of the peer protocol.
//! - `frame_writer`: a connection's sending side, written by whoever has a frame.
//! - [`network`]: pipelined peer client and the messages of the peer protocol.
//! - [`server`]: the peer listener serving Raft RPCs and forwarded proposals, with its limits.
//! - [`membership`]: online membership changes and the application's peer service.
//! - `leader_watch`: leader changes as a channel of their own (not every metrics update).
//! - `traffic`: counts of the requests a member sends, by kind.
//! - [`node`]: [`Consensus`], tying it all together.

pub mod batcher;
mod election;
pub(crate) mod files;
pub mod frame;
mod frame_writer;
mod leader_watch;
pub mod log_store;
mod log_writer;
pub mod membership;
pub mod network;
pub mod node;
pub mod peer_tls;
mod presence;
pub mod server;
pub mod state_machine;
pub mod traffic;
pub mod types;

#[cfg(test)]
mod tests_attacks;
#[cfg(test)]
mod tests_cluster;
#[cfg(test)]
mod tests_fuzz_frames;
#[cfg(test)]
mod tests_log_store;
#[cfg(test)]
mod tests_peer_tls;
#[cfg(test)]
mod tests_support;

pub use batcher::{BatchStats, DEFAULT_IN_FLIGHT as DEFAULT_BATCHES_IN_FLIGHT};
pub use log_store::LogStats;
pub use membership::{MemberChange, PeerService};
pub use node::Consensus;
pub use peer_tls::{member_name, PeerSecurity, PeerTls, PeerTlsError};
pub use presence::Quorum;
pub use types::{ConsensusConfig, ConsensusError, Machine, NodeId, PeerLimits, RaftStatus};
