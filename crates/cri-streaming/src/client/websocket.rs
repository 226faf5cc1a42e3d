//! The WebSocket side of the client.

use std::collections::HashMap;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{WebSocketStream, tungstenite};

use super::session::{exit_code_of, read_status_bytes};
use super::target::{Conn, Target, dial, failure};
use super::{
    Error, ExecOptions, ExecSession, PortConnection, Resizer, SessionReader, SessionWriter,
    Transport,
};
use crate::pipe::{ChannelReader, ChannelWriter, Outgoing};
use crate::protocol::{channel, ws_protocols};
use crate::ws::{self, End, Framing, Gated, Mux, MuxLimits, PortPrefix};

/// How long a forwarded connection over the channel protocol stays after its local end
/// once the server sends nothing (see `EndsSession`).
const PORT_QUIET: Duration = Duration::from_secs(1);

fn limits() -> MuxLimits {
    MuxLimits {
        // The client does not time sessions out: an interactive shell may sit idle.
        idle_timeout: Duration::from_secs(365 * 24 * 3600),
        finish_timeout: Duration::from_secs(5),
        max_chunk: 128 << 10,
        max_buffered: 1 << 20,
    }
}

async fn connect(
    target: &Target,
    protocols: &[&str],
    max_message_size: usize,
    extra_query: &[(&str, String)],
) -> Result<(WebSocketStream<Gated<Conn>>, String), Error> {
    let tcp = dial(target).await?;
    let mut url = target.url.clone();
    let _ = url.set_scheme(target.ws_scheme());
    if !extra_query.is_empty() {
        let mut pairs = url.query_pairs_mut();
        for (name, value) in extra_query {
            pairs.append_pair(name, value);
        }
    }
    let mut request = url.as_str().into_client_request().map_err(|e| Error::Url {
        url: target.url.to_string(),
        reason: e.to_string(),
    })?;
    request.headers_mut().insert(
        http::header::SEC_WEBSOCKET_PROTOCOL,
        http::HeaderValue::from_str(&protocols.join(", ")).expect("protocol names are ASCII"),
    );
    let config = ws::config(max_message_size, limits().max_chunk);
    let tcp = ws::gated(tcp, limits().max_chunk);
    let (ws, response) = tokio_tungstenite::client_async_with_config(request, tcp, Some(config))
        .await
        .map_err(|error| match error {
            tungstenite::Error::Http(response) => {
                let body = response
                    .body()
                    .as_deref()
                    .map(|b| {
                        String::from_utf8_lossy(&b[..b.len().min(1024)])
                            .trim()
                            .to_string()
                    })
                    .unwrap_or_default();
                Error::Refused {
                    transport: Transport::WebSocket,
                    status: response.status().as_u16(),
                    body,
                }
            }
            other => failure("WebSocket handshake", &other),
        })?;
    let protocol = response
        .headers()
        .get(http::header::SEC_WEBSOCKET_PROTOCOL)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    Ok((ws, protocol))
}

pub(super) async fn exec(target: &Target, options: &ExecOptions) -> Result<ExecSession, Error> {
    let (ws, protocol) = connect(
        target,
        &[ws_protocols::V5, ws_protocols::V4, ws_protocols::V1],
        options.max_message_size,
        &[],
    )
    .await?;
    let framing = Framing::for_protocol(&protocol).ok_or_else(|| {
        Error::Protocol(format!(
            "the server chose the WebSocket subprotocol {protocol:?}, which was not offered"
        ))
    })?;
    let mut mux = Mux::start(
        ws,
        framing,
        &[channel::STDOUT, channel::STDERR, channel::ERROR],
        limits(),
    );
    // Set once stdin's end has ended the session (a protocol without the stdin close).
    let stdin_ended = Arc::new(AtomicBool::new(false));
    let stdin = options.stdin.then(|| {
        let writer = mux.writer(channel::STDIN);
        if framing.v5 {
            SessionWriter(Box::new(writer))
        } else {
            SessionWriter(Box::new(EndsSession {
                writer,
                out: mux.out.clone(),
                activity: mux.activity.clone(),
                quiet: options.quiet_after_stdin,
                ended: stdin_ended.clone(),
                ending: false,
            }))
        }
    });
    let stdout = mux.readers.remove(&channel::STDOUT);
    let stderr = mux.readers.remove(&channel::STDERR);
    let error = mux.readers.remove(&channel::ERROR).expect("inbound");
    let resizer = options.tty.then(|| {
        let (tx, mut rx) = mpsc::channel(4);
        let out = mux.out.clone();
        tokio::spawn(async move {
            while let Some(size) = rx.recv().await {
                let json = serde_json::to_vec(&size).expect("a size serializes");
                if out
                    .send(Outgoing::Data(channel::RESIZE, Bytes::from(json)))
                    .await
                    .is_err()
                {
                    return;
                }
            }
        });
        Resizer(tx)
    });
    let ended = mux.ended.clone();
    // The connection stays open until the status is read, whatever the writers do.
    let keep_open = mux.out.clone();
    let negotiated = protocol.clone();
    let status = Box::pin(async move {
        let status = read_status(error, ended, framing.status_json, |bytes| {
            // No status came after stdin's end ended the session: the command's is unknown.
            (bytes.is_empty() && stdin_ended.load(Ordering::Acquire)).then_some(
                Error::StdinEndsSession {
                    protocol: negotiated,
                },
            )
        })
        .await;
        drop(keep_open);
        status
    });
    Ok(ExecSession {
        stdin,
        stdout: options
            .stdout
            .then_some(stdout)
            .flatten()
            .map(|r| SessionReader(Box::new(r))),
        stderr: options
            .stderr
            .then_some(stderr)
            .flatten()
            .map(|r| SessionReader(Box::new(r))),
        resizer,
        transport: Transport::WebSocket,
        protocol,
        status,
    })
}

/// Reads the status at the end of the session; `unknown` may turn its bytes (empty or not)
/// into an error first.
async fn read_status(
    error: ChannelReader,
    mut ended: tokio::sync::watch::Receiver<Option<End>>,
    json: bool,
    unknown: impl FnOnce(&[u8]) -> Option<Error>,
) -> Result<i32, Error> {
    let bytes = read_status_bytes(error)
        .await
        .map_err(|e| Error::Protocol(format!("reading the status: {e}")))?;
    if let Some(error) = unknown(&bytes) {
        return Err(error);
    }
    if bytes.is_empty()
        && let End::Failed(reason) = Mux::wait_end(&mut ended).await
    {
        return Err(Error::Protocol(format!(
            "the connection ended without a status: {reason}"
        )));
    }
    exit_code_of(&bytes, json)
}

/// A channel the protocol cannot close (stdin in v4 and older, a forwarded port's data): its
/// end ends the session (a close frame after what was written) once the server has sent
/// nothing for `quiet`, so that a command reading to the end of stdin, or a server reading
/// to the end of its connection, is not left waiting forever, while what answers the last
/// input still comes through.
struct EndsSession {
    writer: ChannelWriter,
    out: mpsc::Sender<Outgoing>,
    activity: ws::Activity,
    quiet: Duration,
    /// Set when the session is ended this way.
    ended: Arc<AtomicBool>,
    ending: bool,
}

impl AsyncWrite for EndsSession {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.ending {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "write after shutdown",
            )));
        }
        Pin::new(&mut self.writer).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.writer).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.ending {
            return Poll::Ready(Ok(()));
        }
        self.ending = true;
        let (out, activity, quiet, ended) = (
            self.out.clone(),
            self.activity.clone(),
            self.quiet,
            self.ended.clone(),
        );
        tokio::spawn(async move {
            loop {
                let idle = activity.quiet_for();
                if idle >= quiet {
                    break;
                }
                tokio::select! {
                    () = tokio::time::sleep(quiet - idle) => {}
                    // The session ended by itself: nothing to end.
                    () = out.closed() => return,
                }
            }
            ended.store(true, Ordering::Release);
            let _ = out.send(Outgoing::End).await;
        });
        Poll::Ready(Ok(()))
    }
}

/// A WebSocket port-forward session in the channel protocol: one connection per port.
pub(super) struct WsForward {
    conns: Mutex<HashMap<u16, PortConnection>>,
    /// Keeps the connection open while the session exists.
    _keep_open: mpsc::Sender<Outgoing>,
    ended: tokio::sync::watch::Receiver<Option<End>>,
}

/// What a WebSocket port forward negotiated.
pub(super) enum WsForwarding {
    /// The channel protocol (`v4.channel.k8s.io`): a connection per port.
    Channels(WsForward),
    /// SPDY tunneled in the WebSocket: any number of connections.
    Tunnel(super::spdy::SpdyForward),
}

/// Starts a port forward over a WebSocket, offering the SPDY tunnel (what client-go sends;
/// any number of connections) and the channel protocol (what upstream's servers serve; one
/// connection per port) in one handshake.
pub(super) async fn port_forward(target: &Target, ports: &[u16]) -> Result<WsForwarding, Error> {
    if ports.len() > 127 {
        return Err(Error::Protocol(format!(
            "{} ports in one WebSocket session (at most 127)",
            ports.len()
        )));
    }
    let has_ports = target.url.query_pairs().any(|(name, _)| name == "port");
    let query: Vec<(&str, String)> = if has_ports {
        Vec::new()
    } else {
        ports.iter().map(|p| ("port", p.to_string())).collect()
    };
    let offered = [ws_protocols::SPDY_TUNNEL_PORT_FORWARD, ws_protocols::V4];
    let (ws, protocol) = connect(target, &offered, 16 << 20, &query).await?;
    if protocol == ws_protocols::SPDY_TUNNEL_PORT_FORWARD {
        let (conn, _incoming) =
            crate::spdy::Connection::client(ws::Tunnel::new(ws), crate::spdy::Limits::default());
        return Ok(WsForwarding::Tunnel(super::spdy::SpdyForward::new(conn)));
    }
    let framing = Framing::for_protocol(&protocol).ok_or_else(|| {
        Error::Protocol(format!(
            "the server chose the WebSocket subprotocol {protocol:?}, which was not offered"
        ))
    })?;
    let inbound: Vec<u8> = (0..2 * ports.len() as u8).collect();
    let mut mux = Mux::start(ws, framing, &inbound, limits());
    let mut conns = HashMap::new();
    for (i, &port) in ports.iter().enumerate() {
        let data = (2 * i) as u8;
        let reader = PortReader {
            data: mux.readers.remove(&data).expect("inbound"),
            error: Some(mux.readers.remove(&(data + 1)).expect("inbound")),
            prefix: PortPrefix::new(),
            error_prefix: PortPrefix::new(),
            error_text: Vec::new(),
            port,
        };
        conns.insert(
            port,
            PortConnection {
                reader: SessionReader(Box::new(reader)),
                // The channel protocol cannot end one direction of a connection: its end
                // ends the session, after what was written (see `PortConnection`).
                writer: SessionWriter(Box::new(EndsSession {
                    writer: mux.writer(data),
                    out: mux.out.clone(),
                    activity: mux.activity.clone(),
                    quiet: PORT_QUIET,
                    ended: Arc::new(AtomicBool::new(false)),
                    ending: false,
                })),
            },
        );
    }
    Ok(WsForwarding::Channels(WsForward {
        conns: Mutex::new(conns),
        _keep_open: mux.out.clone(),
        ended: mux.ended.clone(),
    }))
}

impl WsForward {
    /// Resolves when the connection has ended.
    pub(super) async fn closed(&self) {
        Mux::wait_end(&mut self.ended.clone()).await;
    }

    pub(super) fn connect(&self, port: u16) -> Result<PortConnection, Error> {
        self.conns
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&port)
            .ok_or_else(|| {
                Error::Protocol(format!(
                    "port {port}: not in this session, or already connected (over a \
                     WebSocket each port carries one connection; SPDY carries many)"
                ))
            })
    }
}

/// The data channel of a forwarded port, minus the port prefix; at its end, the error
/// channel's message (if any) becomes the read error.
struct PortReader {
    data: ChannelReader,
    error: Option<ChannelReader>,
    prefix: PortPrefix,
    error_prefix: PortPrefix,
    error_text: Vec<u8>,
    port: u16,
}

impl AsyncRead for PortReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        loop {
            // The error channel first: a failed forward says so while the connection (and
            // so the data channel) stays open for the other ports.
            if let Some(error) = this.error.as_mut() {
                match error.poll_chunk(cx) {
                    Poll::Ready(Some(chunk)) => {
                        let (rest, _) = this.error_prefix.feed(chunk);
                        if this.error_text.len() < 4096 {
                            this.error_text.extend_from_slice(&rest);
                        }
                        continue;
                    }
                    Poll::Ready(None) => this.error = None,
                    Poll::Pending => {}
                }
            }
            if !this.error_text.is_empty() {
                return Poll::Ready(Err(io::Error::other(format!(
                    "port {}: {}",
                    this.port,
                    String::from_utf8_lossy(&this.error_text)
                ))));
            }
            if !this.prefix.done() {
                let Some(chunk) = ready!(this.data.poll_chunk(cx)) else {
                    return Poll::Ready(Ok(()));
                };
                let (rest, port) = this.prefix.feed(chunk);
                if let Some(port) = port
                    && port != this.port
                {
                    return Poll::Ready(Err(io::Error::other(format!(
                        "the server forwards port {port} where port {} was expected \
                         (the ports must be the request's, in its order)",
                        this.port
                    ))));
                }
                this.data.push_front(rest);
                continue;
            }
            return Pin::new(&mut this.data).poll_read(cx, buf);
        }
    }
}
