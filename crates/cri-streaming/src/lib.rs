//! The Kubernetes CRI streaming data plane: `Exec`, `Attach` and `PortForward` over SPDY/3.1
//! and WebSocket.

#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]

pub mod protocol;
pub mod spdy;
pub mod ws;

mod pipe;
pub use pipe::{ChannelReader, ChannelWriter};

#[cfg(feature = "server")]
#[cfg_attr(docsrs, doc(cfg(feature = "server")))]
pub mod server;

#[cfg(feature = "client")]
#[cfg_attr(docsrs, doc(cfg(feature = "client")))]
pub mod client;
