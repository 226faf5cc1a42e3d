//! The server's settings.

use std::net::SocketAddr;
use std::time::Duration;

/// The server's settings. `Config::default()` listens on an ephemeral port of 127.0.0.1.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Config {
    /// Where to listen (default `127.0.0.1:0`, an ephemeral port).
    pub addr: SocketAddr,
    /// The base of the URLs handed out (default `http://<the bound address>/`): set it when
    /// clients reach the server through another address. Its path becomes the prefix of
    /// `/exec/…`, `/attach/…`, `/portforward/…`.
    pub base_url: Option<String>,
    /// How long a token stays valid (default one minute, as upstream).
    pub token_ttl: Duration,
    /// The most tokens waiting at once (default 1000, as upstream); more is an error.
    pub max_pending_requests: usize,
    /// A session ends after this long without a byte read or written (default 4 hours, as
    /// upstream).
    pub idle_timeout: Duration,
    /// How long an SPDY client has to open its streams (default 30 s, as upstream).
    pub stream_creation_timeout: Duration,
    /// How long the server waits for the client to close after the end (default 5 min).
    pub finish_timeout: Duration,
    /// The most sessions at once; more are answered 503 (default 256).
    pub max_sessions: usize,
    /// The most connections still speaking HTTP (not yet a session) at once (default 256):
    /// past it the oldest is closed to make room, so that idle connections cannot lock
    /// clients out. With `max_sessions`, it bounds the file descriptors the server holds.
    pub max_connections: usize,
    /// The most SPDY streams a client may have open on one connection (default 128); a
    /// port-forward session opens two per forwarded connection.
    pub max_streams_per_connection: usize,
    /// The largest WebSocket message (and frame) accepted from a client (default 1 MiB).
    pub max_message_size: usize,
    /// The largest chunk the server puts in one message to a client (default 128 KiB).
    pub max_chunk: usize,
    /// The most input one session holds for the runtime (received from the client, not yet
    /// read), all its streams together (default 1 MiB): past it the server stops reading the
    /// connection until the runtime reads. SPDY clients that honour flow control are given
    /// that much connection window, so they never get that far.
    pub max_buffered_per_connection: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            base_url: None,
            token_ttl: Duration::from_secs(60),
            max_pending_requests: 1000,
            idle_timeout: Duration::from_secs(4 * 3600),
            stream_creation_timeout: Duration::from_secs(30),
            finish_timeout: Duration::from_secs(300),
            max_sessions: 256,
            max_connections: 256,
            max_streams_per_connection: 128,
            max_message_size: 1 << 20,
            max_chunk: 128 << 10,
            max_buffered_per_connection: 1 << 20,
        }
    }
}
