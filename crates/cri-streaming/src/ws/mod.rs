//! The Kubernetes channel protocol over WebSocket (`channel.k8s.io` and its `base64`, `v4`
//! and `v5` variants): [`frame`] is the codec of one message (a channel's bytes behind the
//! channel number), [`mux`] splits a connection into per-channel readers and writers,
//! [`transport`] is what both sit on (tungstenite's settings, reads that wait for writes);
//! [`tunnel`] carries an SPDY connection instead (port forward's `SPDY/3.1+portforward.k8s.io`).

mod frame;
mod mux;
#[cfg(feature = "client")]
mod port_prefix;
mod transport;
mod tunnel;

pub(crate) use frame::Framing;
#[cfg(feature = "client")]
pub(crate) use mux::Activity;
pub(crate) use mux::{End, Mux, MuxLimits};
#[cfg(feature = "client")]
pub(crate) use port_prefix::PortPrefix;
#[cfg(feature = "client")]
pub(crate) use transport::Gated;
pub(crate) use transport::{config, gated};
pub(crate) use tunnel::Tunnel;
