//! The WebSocket side of the client.

use std::collections::HashMap;
use std::io;
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncRead, ReadBuf};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{WebSocketStream, tungstenite};

use super::session::{exit_code_of, read_status_bytes};
use super::target::{Target, connect_tcp};
use super::{
    Error, ExecOptions, ExecSession, PortConnection, Resizer, SessionReader, SessionWriter,
    Transport,
};
use crate::pipe::{ChannelReader, Outgoing};
use crate::protocol::{channel, ws_protocols};
use crate::ws::{self, End, Framing, Gated, Mux, MuxLimits, PortPrefix};

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
) -> Result<(WebSocketStream<Gated<tokio::net::TcpStream>>, String), Error> {
    let tcp = connect_tcp(target).await?;
    let mut url = target.url.clone();
    let _ = url.set_scheme("ws");
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
            other => Error::Protocol(format!("WebSocket handshake: {other}")),
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
    let stdin = options
        .stdin
        .then(|| SessionWriter(Box::new(mux.writer(channel::STDIN))));
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
    let status = Box::pin(async move {
        let status = read_status(error, ended, framing.status_json).await;
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

async fn read_status(
    error: ChannelReader,
    mut ended: tokio::sync::watch::Receiver<Option<End>>,
    json: bool,
) -> Result<i32, Error> {
    let bytes = read_status_bytes(error)
        .await
        .map_err(|e| Error::Protocol(format!("reading the status: {e}")))?;
    if bytes.is_empty()
        && let End::Failed(reason) = Mux::wait_end(&mut ended).await
    {
        return Err(Error::Protocol(format!(
            "the connection ended without a status: {reason}"
        )));
    }
    exit_code_of(&bytes, json)
}

/// A WebSocket port-forward session: one connection per port.
pub(super) struct WsForward {
    conns: Mutex<HashMap<u16, PortConnection>>,
    /// Keeps the connection open while the session exists.
    _keep_open: mpsc::Sender<Outgoing>,
}

pub(super) async fn port_forward(target: &Target, ports: &[u16]) -> Result<WsForward, Error> {
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
    let (ws, protocol) = connect(target, &[ws_protocols::V4], 16 << 20, &query).await?;
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
                writer: SessionWriter(Box::new(mux.writer(data))),
            },
        );
    }
    Ok(WsForward {
        conns: Mutex::new(conns),
        _keep_open: mux.out.clone(),
    })
}

impl WsForward {
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
