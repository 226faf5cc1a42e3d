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
    /// Over a WebSocket protocol that cannot close stdin (v4 and older): once stdin has
    /// ended, the session ends after this long without a message from the server (default
    /// 1 s; see [the module](super#stdin-over-websocket-v4)).
    pub quiet_after_stdin: Duration,
    /// TLS for an `https` URL (default none: the server is verified against the system's
    /// CAs, without a client certificate).
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    pub tls: Option<super::ClientTls>,
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
            quiet_after_stdin: Duration::from_secs(1),
            #[cfg(feature = "tls")]
            tls: None,
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
    /// Sets [`tls`](Self::tls).
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    pub fn tls(mut self, tls: super::ClientTls) -> Self {
        self.tls = Some(tls);
        self
    }
}

/// Options of [`port_forward`](fn@super::port_forward).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct PortForwardOptions {
    /// The transport. [`Transport::Auto`] means SPDY, then WebSocket if the server refuses
    /// SPDY: over SPDY (and SPDY tunneled in a WebSocket) every connection gets its own
    /// stream pair, over the WebSocket channel protocol each port carries one connection
    /// (see [`PortForward::multiplexed`](super::PortForward::multiplexed)).
    pub transport: Transport,
    /// How long connecting and the upgrade may take (default 30 s).
    pub connect_timeout: Duration,
    /// TLS for an `https` URL (default none: the server is verified against the system's
    /// CAs, without a client certificate).
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    pub tls: Option<super::ClientTls>,
}

impl Default for PortForwardOptions {
    fn default() -> Self {
        PortForwardOptions {
            transport: Transport::Auto,
            connect_timeout: Duration::from_secs(30),
            #[cfg(feature = "tls")]
            tls: None,
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
    /// Sets [`tls`](Self::tls).
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    pub fn tls(mut self, tls: super::ClientTls) -> Self {
        self.tls = Some(tls);
        self
    }
    /// Sets [`connect_timeout`](Self::connect_timeout).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }
}
