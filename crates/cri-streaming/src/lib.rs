//! The Kubernetes CRI streaming data plane: `Exec`, `Attach` and `PortForward` over SPDY/3.1
//! and WebSocket.
//!
//! (Skeleton: the server, the client and the transports are being written.)

#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]

pub mod spdy;
