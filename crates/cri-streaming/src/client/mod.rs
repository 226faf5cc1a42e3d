//! The client a tool uses with the URL from an `ExecResponse`, `AttachResponse` or
//! `PortForwardResponse`.
//!
//! [`exec`] (and [`attach`], the same protocol) returns an [`ExecSession`]: a writer for
//! stdin, readers for stdout and stderr, a [`Resizer`] for terminals and
//! [`ExecSession::wait`] for the exit code. [`port_forward`] returns a [`PortForward`] that
//! opens a stream per connection to a port, or serves a local TCP listener.
//!
//! [`Transport::Auto`] tries a WebSocket first and falls back to SPDY/3.1 when the server
//! turns the WebSocket upgrade down, as current kubectl does. A CRI URL's token is
//! single-use: a server that spends it on the refused attempt (upstream's does) answers
//! the second attempt 404, so against such a server name the transport.

mod options;
mod port_forward;
mod session;
mod spdy;
mod target;
mod websocket;

use std::io;
use std::time::Duration;

pub use crate::protocol::{Status, TerminalSize};
pub use options::{ExecOptions, PortForwardOptions};
pub use port_forward::{PortForward, port_forward};
pub use session::{ExecSession, Output, PortConnection, Resizer, SessionReader, SessionWriter};
use target::parse_url;

/// Which transport to use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Transport {
    /// WebSocket, then SPDY/3.1 if the server refuses the WebSocket upgrade.
    #[default]
    Auto,
    /// WebSocket only (`v5.channel.k8s.io`, `v4.channel.k8s.io`).
    WebSocket,
    /// SPDY/3.1 only (`v5.channel.k8s.io` … `channel.k8s.io`, `portforward.k8s.io`).
    Spdy,
}

impl std::fmt::Display for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Transport::Auto => "auto",
            Transport::WebSocket => "websocket",
            Transport::Spdy => "spdy",
        })
    }
}

impl std::str::FromStr for Transport {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "auto" | "" => Ok(Transport::Auto),
            "websocket" | "ws" => Ok(Transport::WebSocket),
            "spdy" => Ok(Transport::Spdy),
            other => Err(format!(
                "unknown transport {other:?} (expected websocket, spdy or auto)"
            )),
        }
    }
}

/// Why a session could not start or ended badly.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The URL is not one this client can use.
    #[error("streaming URL {url:?}: {reason}")]
    Url {
        /// The URL.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Connecting to the server failed.
    #[error("cannot connect to the streaming server at {addr}: {source}")]
    Connect {
        /// Where.
        addr: String,
        /// Why.
        source: io::Error,
    },
    /// The server answered the upgrade with an HTTP error.
    #[error("the streaming server refused the {transport} upgrade: HTTP {status}{}", if body.is_empty() { String::new() } else { format!(": {body}") })]
    Refused {
        /// The transport tried.
        transport: Transport,
        /// The HTTP status.
        status: u16,
        /// The response body (trimmed, at most 1 KiB).
        body: String,
    },
    /// Connecting or the upgrade took longer than the connect timeout.
    #[error("connecting to the streaming server timed out after {0:?}")]
    Timeout(Duration),
    /// The connection broke or the server broke the protocol.
    #[error("{0}")]
    Protocol(String),
    /// The session ended with a failure status from the server (not an exit code).
    #[error("{}", .0.message)]
    Remote(Status),
}

/// Whether a refused WebSocket upgrade may be retried over SPDY: the server did not know
/// the token (404) or the session could not be served for other reasons than the upgrade.
fn falls_back(error: &Error) -> bool {
    matches!(error, Error::Refused { status, .. } if matches!(status, 400 | 403 | 405 | 426 | 501))
}

/// Starts an exec session at `url` (from an `ExecResponse`).
pub async fn exec(url: &str, options: &ExecOptions) -> Result<ExecSession, Error> {
    let target = parse_url(url)?;
    let timeout = options.connect_timeout;
    let attempt = |transport: Transport| {
        let target = &target;
        async move {
            let run = async {
                match transport {
                    Transport::Spdy => spdy::exec(target, options).await,
                    _ => websocket::exec(target, options).await,
                }
            };
            tokio::time::timeout(timeout, run)
                .await
                .map_err(|_| Error::Timeout(timeout))?
        }
    };
    match options.transport {
        Transport::Auto => match attempt(Transport::WebSocket).await {
            Err(error) if falls_back(&error) => attempt(Transport::Spdy).await,
            other => other,
        },
        transport => attempt(transport).await,
    }
}

/// Starts an attach session at `url` (from an `AttachResponse`): the same protocol as
/// [`exec`].
pub async fn attach(url: &str, options: &ExecOptions) -> Result<ExecSession, Error> {
    exec(url, options).await
}
