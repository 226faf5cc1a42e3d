//! The streaming server a runtime serves its `Exec`, `Attach` and `PortForward` URLs from.
//!
//! The runtime implements [`Runtime`]; [`Server::start`] listens; the runtime's CRI handlers
//! answer with [`Server::get_exec`], [`Server::get_attach`] and [`Server::get_port_forward`],
//! which cache the request under a single-use token (a minute by default) and return the
//! URL. A client connects there with a WebSocket upgrade (`v5.channel.k8s.io`,
//! `v4.channel.k8s.io`, their base64 variants and the legacy `channel.k8s.io`; port forward
//! as `v4.channel.k8s.io` with a channel pair per port) or an SPDY/3.1 upgrade
//! (`channel.k8s.io` to `v5.channel.k8s.io`, `portforward.k8s.io`). An unknown, used or
//! expired token is a 404 and nothing runs.

mod cache;
mod session;
mod spdy;
mod websocket;

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use cri_api_v1 as api;
use http::{HeaderMap, Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};

pub use crate::protocol::{Status, TerminalSize};
use crate::protocol::{spdy_protocols, ws_protocols};
use cache::{Cached, RequestCache};

/// A boxed future, what [`Runtime`]'s methods return.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;
/// The error a [`Runtime`] reports (reaches the client in the status message).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;
/// A stream the runtime reads (the client's stdin).
pub type BoxReader = Box<dyn AsyncRead + Send + Unpin + 'static>;
/// A stream the runtime writes (the client's stdout or stderr).
pub type BoxWriter = Box<dyn AsyncWrite + Send + Unpin + 'static>;

/// A forwarded connection: bytes from the client to read, bytes to the client to write.
pub trait PortStream: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> PortStream for T {}

/// The streams of an exec or attach session, as the client asked for them.
///
/// Writes go to the client in order; a writer waits while the client is behind (the
/// connection's flow control), so a runtime that copies from a process applies
/// back-pressure to it. `stdin` ends when the client closes it (SPDY, WebSocket v5) or the
/// connection ends.
#[non_exhaustive]
pub struct Streams {
    /// The client's input, if it asked for stdin.
    pub stdin: Option<BoxReader>,
    /// The command's output, if asked for.
    pub stdout: Option<BoxWriter>,
    /// The command's error output (never with a TTY).
    pub stderr: Option<BoxWriter>,
    /// Whether the client asked for a terminal.
    pub tty: bool,
    /// Terminal sizes from the client (TTY sessions only).
    pub resize: Option<mpsc::Receiver<TerminalSize>>,
}

impl std::fmt::Debug for Streams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Streams")
            .field("stdin", &self.stdin.is_some())
            .field("stdout", &self.stdout.is_some())
            .field("stderr", &self.stderr.is_some())
            .field("tty", &self.tty)
            .field("resize", &self.resize.is_some())
            .finish()
    }
}

/// What a runtime does for the streaming server.
///
/// Each method's future is dropped (cancelled) when the client goes away first.
pub trait Runtime: Send + Sync + 'static {
    /// Runs `request.cmd` in `request.container_id` over `streams`; the command's exit code.
    /// A non-zero code is a normal outcome (the client gets it in the status); an `Err` is
    /// a failure to run the command at all.
    fn exec(&self, request: api::ExecRequest, streams: Streams)
    -> BoxFuture<Result<i32, BoxError>>;

    /// Attaches `streams` to the running container's main process until it exits or the
    /// client leaves. By default: not supported.
    fn attach(
        &self,
        request: api::AttachRequest,
        streams: Streams,
    ) -> BoxFuture<Result<(), BoxError>> {
        let _ = (request, streams);
        Box::pin(async { Err("attach is not supported by this runtime".into()) })
    }

    /// Connects `stream` to `port` inside the pod sandbox `pod_sandbox_id`, until either
    /// side ends. By default: not supported.
    fn port_forward(
        &self,
        pod_sandbox_id: String,
        port: u16,
        stream: Box<dyn PortStream>,
    ) -> BoxFuture<Result<(), BoxError>> {
        let _ = (pod_sandbox_id, port, stream);
        Box::pin(async { Err("port forwarding is not supported by this runtime".into()) })
    }
}

impl<R: Runtime + ?Sized> Runtime for Arc<R> {
    fn exec(
        &self,
        request: api::ExecRequest,
        streams: Streams,
    ) -> BoxFuture<Result<i32, BoxError>> {
        (**self).exec(request, streams)
    }
    fn attach(
        &self,
        request: api::AttachRequest,
        streams: Streams,
    ) -> BoxFuture<Result<(), BoxError>> {
        (**self).attach(request, streams)
    }
    fn port_forward(
        &self,
        pod_sandbox_id: String,
        port: u16,
        stream: Box<dyn PortStream>,
    ) -> BoxFuture<Result<(), BoxError>> {
        (**self).port_forward(pod_sandbox_id, port, stream)
    }
}

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
    /// The most SPDY streams a client may have open on one connection (default 128); a
    /// port-forward session opens two per forwarded connection.
    pub max_streams_per_connection: usize,
    /// The largest WebSocket message (and frame) accepted from a client (default 1 MiB).
    pub max_message_size: usize,
    /// The largest chunk the server puts in one message to a client (default 128 KiB).
    pub max_chunk: usize,
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
            max_streams_per_connection: 128,
            max_message_size: 1 << 20,
            max_chunk: 128 << 10,
        }
    }
}

/// Why the server could not hand out a URL.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The request is not valid (`InvalidArgument` in CRI terms).
    #[error("{0}")]
    InvalidArgument(String),
    /// Too many tokens wait for their clients (`ResourceExhausted`).
    #[error("too many streaming requests in flight (at most {0}); try again later")]
    TooManyRequests(usize),
}

pub(crate) struct Shared {
    pub config: Config,
    pub runtime: Box<dyn Runtime>,
    cache: RequestCache,
    sessions: Arc<Semaphore>,
    base_url: String,
    base_path: String,
}

/// A running streaming server; it stops accepting connections when dropped (sessions in
/// progress run to their end).
pub struct Server {
    shared: Arc<Shared>,
    local_addr: SocketAddr,
    accept: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("local_addr", &self.local_addr)
            .field("base_url", &self.shared.base_url)
            .finish_non_exhaustive()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

impl Server {
    /// Binds `config.addr` and serves `runtime` there.
    pub async fn start(config: Config, runtime: impl Runtime) -> io::Result<Server> {
        let listener = TcpListener::bind(config.addr).await?;
        let local_addr = listener.local_addr()?;
        let mut base_url = config
            .base_url
            .clone()
            .unwrap_or_else(|| format!("http://{local_addr}/"));
        if !base_url.ends_with('/') {
            base_url.push('/');
        }
        let base_path = url::Url::parse(&base_url)
            .map_err(|e| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("base URL {base_url:?}: {e}"),
                )
            })?
            .path()
            .to_string();
        let shared = Arc::new(Shared {
            cache: RequestCache::new(config.token_ttl, config.max_pending_requests),
            sessions: Arc::new(Semaphore::new(config.max_sessions)),
            runtime: Box::new(runtime),
            config,
            base_url,
            base_path,
        });
        let accept = tokio::spawn(accept_loop(listener, shared.clone()));
        Ok(Server {
            shared,
            local_addr,
            accept,
        })
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The base of the URLs it hands out (ends with `/`).
    pub fn base_url(&self) -> &str {
        &self.shared.base_url
    }

    fn url(&self, request: Cached) -> Result<String, Error> {
        let kind = request.kind();
        let token = self
            .shared
            .cache
            .insert(request)
            .map_err(|_| Error::TooManyRequests(self.shared.config.max_pending_requests))?;
        Ok(format!("{}{kind}/{token}", self.shared.base_url))
    }

    /// Validates an `ExecRequest` and answers it with a URL of this server.
    pub fn get_exec(&self, request: &api::ExecRequest) -> Result<api::ExecResponse, Error> {
        check_streams(
            &request.container_id,
            request.stdin,
            request.stdout,
            request.stderr,
            request.tty,
        )?;
        if request.cmd.is_empty() {
            return Err(Error::InvalidArgument("cmd is empty".into()));
        }
        Ok(api::ExecResponse {
            url: self.url(Cached::Exec(request.clone()))?,
        })
    }

    /// Validates an `AttachRequest` and answers it with a URL of this server.
    pub fn get_attach(&self, request: &api::AttachRequest) -> Result<api::AttachResponse, Error> {
        check_streams(
            &request.container_id,
            request.stdin,
            request.stdout,
            request.stderr,
            request.tty,
        )?;
        Ok(api::AttachResponse {
            url: self.url(Cached::Attach(request.clone()))?,
        })
    }

    /// Validates a `PortForwardRequest` and answers it with a URL of this server.
    pub fn get_port_forward(
        &self,
        request: &api::PortForwardRequest,
    ) -> Result<api::PortForwardResponse, Error> {
        if request.pod_sandbox_id.is_empty() {
            return Err(Error::InvalidArgument(
                "missing required pod_sandbox_id".into(),
            ));
        }
        if let Some(bad) = request.port.iter().find(|p| !(1..=65535).contains(*p)) {
            return Err(Error::InvalidArgument(format!(
                "port {bad} is not between 1 and 65535"
            )));
        }
        Ok(api::PortForwardResponse {
            url: self.url(Cached::PortForward(request.clone()))?,
        })
    }
}

fn check_streams(
    container_id: &str,
    stdin: bool,
    stdout: bool,
    stderr: bool,
    tty: bool,
) -> Result<(), Error> {
    if container_id.is_empty() {
        return Err(Error::InvalidArgument(
            "missing required container_id".into(),
        ));
    }
    if tty && stderr {
        return Err(Error::InvalidArgument(
            "tty and stderr cannot both be true".into(),
        ));
    }
    if !stdin && !stdout && !stderr {
        return Err(Error::InvalidArgument(
            "one of stdin, stdout, or stderr must be set".into(),
        ));
    }
    Ok(())
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let (tcp, _) = match listener.accept().await {
            Ok(conn) => conn,
            Err(_) => {
                // Out of file descriptors and the like: wait instead of spinning.
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let shared = shared.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let shared = shared.clone();
                async move { Ok::<_, Infallible>(handle(shared, req).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(Duration::from_secs(30))
                .serve_connection(TokioIo::new(tcp), service)
                .with_upgrades()
                .await;
        });
    }
}

type Body = Full<Bytes>;

fn plain(status: StatusCode, text: impl Into<String>) -> Response<Body> {
    let mut text = text.into();
    text.push('\n');
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .body(Full::new(Bytes::from(text)))
        .expect("a valid response")
}

/// The values of a header that may be repeated and comma-separated, in order.
fn header_list<'a>(headers: &'a HeaderMap, name: &str) -> Vec<&'a str> {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .collect()
}

fn has_token(headers: &HeaderMap, name: header::HeaderName, token: &str) -> bool {
    header_list(headers, name.as_str())
        .iter()
        .any(|v| v.eq_ignore_ascii_case(token))
}

/// The transport a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Upgrade {
    WebSocket,
    Spdy,
}

fn upgrade_of(headers: &HeaderMap) -> Option<Upgrade> {
    if !has_token(headers, header::CONNECTION, "upgrade") {
        return None;
    }
    if has_token(headers, header::UPGRADE, "websocket") {
        Some(Upgrade::WebSocket)
    } else if has_token(headers, header::UPGRADE, "SPDY/3.1") {
        Some(Upgrade::Spdy)
    } else {
        None
    }
}

/// The first protocol the client offers that the server supports (the client's order, as
/// upstream negotiates).
fn negotiate_protocol<'a>(offered: &[&'a str], supported: &[&str]) -> Option<&'a str> {
    offered.iter().copied().find(|p| supported.contains(p))
}

const WS_REMOTE_COMMAND: &[&str] = &[
    ws_protocols::V5,
    ws_protocols::V5_BASE64,
    ws_protocols::V4,
    ws_protocols::V4_BASE64,
    ws_protocols::V1,
    ws_protocols::V1_BASE64,
];
const WS_PORT_FORWARD: &[&str] = &[ws_protocols::V4, ws_protocols::V4_BASE64];
const SPDY_REMOTE_COMMAND: &[&str] = &[
    spdy_protocols::V5,
    spdy_protocols::V4,
    spdy_protocols::V3,
    spdy_protocols::V2,
    spdy_protocols::V1,
];
const SPDY_PORT_FORWARD: &[&str] = &[spdy_protocols::PORT_FORWARD];

/// A request turned down before the upgrade, with its answer (boxed: the rare path).
type Refusal = Box<Response<Body>>;

fn refuse(status: StatusCode, text: impl Into<String>) -> Refusal {
    Box::new(plain(status, text))
}

/// The transport and subprotocol a request negotiated.
enum Negotiated {
    /// The subprotocol (empty when the client offered none) and the `Sec-WebSocket-Accept`.
    WebSocket {
        protocol: String,
        accept_key: String,
    },
    Spdy {
        protocol: String,
    },
}

/// What a request that is switched hands to its session.
struct Admitted {
    negotiated: Negotiated,
    request: Cached,
    /// The ports of a WebSocket port forward.
    ports: Vec<u16>,
    permit: OwnedSemaphorePermit,
}

/// One HTTP request: [`route`] it, [`negotiate`] the transport, spend its token, then
/// [`switch`] protocols and run the session; or the answer that turns it down.
async fn handle(shared: Arc<Shared>, mut req: Request<Incoming>) -> Response<Body> {
    match admit(&shared, &req) {
        Ok(admitted) => switch(shared, &mut req, admitted),
        Err(refusal) => *refusal,
    }
}

/// Routes and negotiates the request, then spends its token and takes a session slot.
fn admit(shared: &Shared, req: &Request<Incoming>) -> Result<Admitted, Refusal> {
    let (kind, token) = route(&shared.base_path, req.uri().path())?;
    let port_forward = kind == "portforward";
    // Negotiate before the token is spent: a request the server cannot serve leaves it
    // usable (by a client falling back to the other transport).
    let negotiated = negotiate(req.headers(), port_forward)?;
    let Ok(permit) = shared.sessions.clone().try_acquire_owned() else {
        return Err(refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "too many streaming sessions (at most {})",
                shared.config.max_sessions
            ),
        ));
    };
    let request = match shared.cache.consume(token) {
        Some(request) if request.kind() == kind => request,
        _ => {
            return Err(refuse(
                StatusCode::NOT_FOUND,
                "unknown, used or expired streaming token",
            ));
        }
    };
    let ports = if port_forward && matches!(negotiated, Negotiated::WebSocket { .. }) {
        let Cached::PortForward(pf) = &request else {
            unreachable!("the kind was checked")
        };
        websocket::forwarded_ports(pf, req.uri().query())
            .map_err(|message| refuse(StatusCode::BAD_REQUEST, message))?
    } else {
        Vec::new()
    };
    Ok(Admitted {
        negotiated,
        request,
        ports,
        permit,
    })
}

/// The kind (`exec`, `attach`, `portforward`) and the token of a request path.
fn route<'a>(base_path: &str, path: &'a str) -> Result<(&'static str, &'a str), Refusal> {
    let not_found = || refuse(StatusCode::NOT_FOUND, format!("no such path: {path}"));
    let Some(rest) = path.strip_prefix(base_path) else {
        return Err(not_found());
    };
    let Some((kind, token)) = rest.split_once('/') else {
        return Err(not_found());
    };
    if token.is_empty() || token.contains('/') {
        return Err(not_found());
    }
    match kind {
        "exec" => Ok(("exec", token)),
        "attach" => Ok(("attach", token)),
        "portforward" => Ok(("portforward", token)),
        _ => Err(not_found()),
    }
}

/// The transport the request upgrades to and the subprotocol, in the client's order of
/// preference among those the server supports.
fn negotiate(headers: &HeaderMap, port_forward: bool) -> Result<Negotiated, Refusal> {
    match upgrade_of(headers) {
        None => Err(refuse(
            StatusCode::BAD_REQUEST,
            "expected a WebSocket or an SPDY/3.1 upgrade (Connection: Upgrade)",
        )),
        Some(Upgrade::WebSocket) => negotiate_websocket(headers, port_forward),
        Some(Upgrade::Spdy) => negotiate_spdy(headers, port_forward),
    }
}

fn negotiate_websocket(headers: &HeaderMap, port_forward: bool) -> Result<Negotiated, Refusal> {
    let Some(key) = headers.get(header::SEC_WEBSOCKET_KEY) else {
        return Err(refuse(StatusCode::BAD_REQUEST, "missing Sec-WebSocket-Key"));
    };
    if headers
        .get(header::SEC_WEBSOCKET_VERSION)
        .is_none_or(|v| v.as_bytes() != b"13")
    {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "unsupported Sec-WebSocket-Version (13 is supported)",
        ));
    }
    let accept_key = tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
    let offered = header_list(headers, header::SEC_WEBSOCKET_PROTOCOL.as_str());
    let supported = if port_forward {
        WS_PORT_FORWARD
    } else {
        WS_REMOTE_COMMAND
    };
    let protocol = if offered.is_empty() {
        String::new()
    } else {
        match negotiate_protocol(&offered, supported) {
            Some(p) => p.to_string(),
            None => {
                return Err(refuse(
                    StatusCode::BAD_REQUEST,
                    format!(
                        "none of the WebSocket subprotocols {offered:?} is supported; \
                         supported: {supported:?}"
                    ),
                ));
            }
        }
    };
    Ok(Negotiated::WebSocket {
        protocol,
        accept_key,
    })
}

fn negotiate_spdy(headers: &HeaderMap, port_forward: bool) -> Result<Negotiated, Refusal> {
    let offered = header_list(headers, "x-stream-protocol-version");
    let supported = if port_forward {
        SPDY_PORT_FORWARD
    } else {
        SPDY_REMOTE_COMMAND
    };
    let protocol = if offered.is_empty() {
        // Clients from before negotiation: the first version.
        supported[supported.len() - 1].to_string()
    } else {
        match negotiate_protocol(&offered, supported) {
            Some(p) => p.to_string(),
            None => {
                return Err(Box::new(
                    Response::builder()
                        .status(StatusCode::FORBIDDEN)
                        .header("X-Accepted-Stream-Protocol-Versions", supported.join(","))
                        .body(Full::new(Bytes::from(format!(
                            "none of the stream protocols {offered:?} is supported; \
                             supported: {supported:?}\n"
                        ))))
                        .expect("a valid response"),
                ));
            }
        }
    };
    Ok(Negotiated::Spdy { protocol })
}

/// Answers 101 Switching Protocols and runs the session on the upgraded connection.
fn switch(shared: Arc<Shared>, req: &mut Request<Incoming>, admitted: Admitted) -> Response<Body> {
    let Admitted {
        negotiated,
        request,
        ports,
        permit,
    } = admitted;
    let on_upgrade = hyper::upgrade::on(req);
    let mut response = Response::builder().status(StatusCode::SWITCHING_PROTOCOLS);
    match &negotiated {
        Negotiated::WebSocket {
            protocol,
            accept_key,
        } => {
            response = response
                .header(header::CONNECTION, "Upgrade")
                .header(header::UPGRADE, "websocket")
                .header(header::SEC_WEBSOCKET_ACCEPT, accept_key.as_str());
            if !protocol.is_empty() {
                response = response.header(header::SEC_WEBSOCKET_PROTOCOL, protocol.as_str());
            }
        }
        Negotiated::Spdy { protocol } => {
            response = response
                .header(header::CONNECTION, "Upgrade")
                .header(header::UPGRADE, "SPDY/3.1")
                .header("X-Stream-Protocol-Version", protocol.as_str());
        }
    }
    tokio::spawn(async move {
        let _permit = permit;
        let Ok(upgraded) = on_upgrade.await else {
            return;
        };
        let io = TokioIo::new(upgraded);
        match negotiated {
            Negotiated::WebSocket { protocol, .. } => {
                websocket::serve(shared, io, &protocol, request, ports).await;
            }
            Negotiated::Spdy { protocol } => spdy::serve(shared, io, &protocol, request).await,
        }
    });
    response
        .body(Full::new(Bytes::new()))
        .expect("a valid response")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation_follows_the_clients_order() {
        assert_eq!(
            negotiate_protocol(
                &[
                    "v9.channel.k8s.io",
                    "v4.channel.k8s.io",
                    "v5.channel.k8s.io"
                ],
                WS_REMOTE_COMMAND
            ),
            Some("v4.channel.k8s.io")
        );
        assert_eq!(negotiate_protocol(&["v9"], SPDY_REMOTE_COMMAND), None);
    }

    #[test]
    fn requests_are_validated() {
        assert!(check_streams("", true, true, false, false).is_err());
        assert!(check_streams("c", false, true, true, true).is_err());
        assert!(check_streams("c", false, false, false, false).is_err());
        assert!(check_streams("c", true, true, false, true).is_ok());
    }
}
