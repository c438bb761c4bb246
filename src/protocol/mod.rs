//! The MySQL wire format, and nothing else: framing, the connection-phase packets the proxy
//! patches, where a response ends, and the ERR/OK packets the proxy writes itself. No I/O
//! beyond [`io`], which moves framed packets over any async stream.

pub mod command;
pub mod compress;
pub mod err_packet;
pub mod handshake;
pub mod io;
pub mod packet;
pub mod response;

pub use packet::{FrameError, Packet};
