//! What a session is asked for: [`ExecOptions`] and [`PortForwardOptions`].

use std::time::Duration;

use super::Transport;

/// What an exec or attach session carries. They must match the request the URL was made
/// for (the server opens what the request asked for).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ExecOptions {
    /// Send stdin.
    pub stdin: bool,
    /// Receive stdout.
    pub stdout: bool,
    /// Receive stderr (never with `tty`).
    pub stderr: bool,
    /// A terminal: stdout and stderr are one stream, sizes can be sent.
    pub tty: bool,
    /// The transport.
    pub transport: Transport,
    /// How long connecting and the upgrade may take (default 30 s).
    pub connect_timeout: Duration,
    /// The largest WebSocket message accepted from the server (default 16 MiB).
    pub max_message_size: usize,
}

impl Default for ExecOptions {
    fn default() -> Self {
        ExecOptions {
            stdin: false,
            stdout: true,
            stderr: true,
            tty: false,
            transport: Transport::Auto,
            connect_timeout: Duration::from_secs(30),
            max_message_size: 16 << 20,
        }
    }
}

impl ExecOptions {
    /// stdout and stderr, no stdin, no TTY, [`Transport::Auto`].
    pub fn new() -> Self {
        Self::default()
    }
    /// The streams of an `ExecRequest`.
    pub fn from_exec_request(request: &cri_api_v1::ExecRequest) -> Self {
        Self::default()
            .stdin(request.stdin)
            .stdout(request.stdout)
            .stderr(request.stderr)
            .tty(request.tty)
    }
    /// The streams of an `AttachRequest`.
    pub fn from_attach_request(request: &cri_api_v1::AttachRequest) -> Self {
        Self::default()
            .stdin(request.stdin)
            .stdout(request.stdout)
            .stderr(request.stderr)
            .tty(request.tty)
    }
    /// Sets [`stdin`](Self::stdin).
    pub fn stdin(mut self, on: bool) -> Self {
        self.stdin = on;
        self
    }
    /// Sets [`stdout`](Self::stdout).
    pub fn stdout(mut self, on: bool) -> Self {
        self.stdout = on;
        self
    }
    /// Sets [`stderr`](Self::stderr).
    pub fn stderr(mut self, on: bool) -> Self {
        self.stderr = on;
        self
    }
    /// Sets [`tty`](Self::tty) (and turns stderr off with it).
    pub fn tty(mut self, on: bool) -> Self {
        self.tty = on;
        if on {
            self.stderr = false;
        }
        self
    }
    /// Sets [`transport`](Self::transport).
    pub fn transport(mut self, transport: Transport) -> Self {
        self.transport = transport;
        self
    }
    /// Sets [`connect_timeout`](Self::connect_timeout).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }
}

/// Options of [`port_forward`](fn@super::port_forward).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct PortForwardOptions {
    /// The transport. [`Transport::Auto`] means SPDY, then WebSocket if the server refuses
    /// SPDY: over SPDY every connection gets its own stream, over a WebSocket each port
    /// carries one connection.
    pub transport: Transport,
    /// How long connecting and the upgrade may take (default 30 s).
    pub connect_timeout: Duration,
}

impl Default for PortForwardOptions {
    fn default() -> Self {
        PortForwardOptions {
            transport: Transport::Auto,
            connect_timeout: Duration::from_secs(30),
        }
    }
}

impl PortForwardOptions {
    /// Defaults.
    pub fn new() -> Self {
        Self::default()
    }
    /// Sets [`transport`](Self::transport).
    pub fn transport(mut self, transport: Transport) -> Self {
        self.transport = transport;
        self
    }
    /// Sets [`connect_timeout`](Self::connect_timeout).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }
}
