//! The SPDY/3.1 side of the client.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, StatusCode, header};
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWriteExt, ReadBuf, ReadHalf, WriteHalf};
use tokio::sync::mpsc;

use super::session::{exit_code_of, read_status_bytes};
use super::target::{Target, connect_tcp};
use super::{
    Error, ExecOptions, ExecSession, PortConnection, Resizer, SessionReader, SessionWriter,
    Transport,
};
use crate::protocol::{PORT_HEADER, REQUEST_ID_HEADER, STREAM_TYPE, spdy_protocols};
use crate::spdy::{Connection, Headers, Limits, Stream};

/// Upgrades an HTTP/1.1 connection to SPDY/3.1 offering `protocols`; the connection and
/// the protocol the server chose.
async fn upgrade(target: &Target, protocols: &[&str]) -> Result<(Connection, String), Error> {
    let tcp = connect_tcp(target).await?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
        .await
        .map_err(|e| Error::Protocol(format!("HTTP handshake: {e}")))?;
    tokio::spawn(connection.with_upgrades());
    let path = match target.url.query() {
        Some(query) => format!("{}?{query}", target.url.path()),
        None => target.url.path().to_string(),
    };
    let mut request = Request::post(path)
        .header(header::HOST, target.addr.as_str())
        .header(header::CONNECTION, "Upgrade")
        .header(header::UPGRADE, "SPDY/3.1");
    for protocol in protocols {
        request = request.header("X-Stream-Protocol-Version", *protocol);
    }
    let request = request
        .body(Empty::<Bytes>::new())
        .map_err(|e| Error::Protocol(format!("building the upgrade request: {e}")))?;
    let mut response = sender
        .send_request(request)
        .await
        .map_err(|e| Error::Protocol(format!("SPDY upgrade request: {e}")))?;
    if response.status() != StatusCode::SWITCHING_PROTOCOLS {
        let status = response.status().as_u16();
        let body = response
            .body_mut()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        return Err(Error::Refused {
            transport: Transport::Spdy,
            status,
            body: String::from_utf8_lossy(&body[..body.len().min(1024)])
                .trim()
                .to_string(),
        });
    }
    let protocol = response
        .headers()
        .get("X-Stream-Protocol-Version")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let upgraded = hyper::upgrade::on(&mut response)
        .await
        .map_err(|e| Error::Protocol(format!("SPDY upgrade: {e}")))?;
    let (conn, _incoming) = Connection::client(TokioIo::new(upgraded), Limits::default());
    Ok((conn, protocol))
}

async fn open(conn: &Connection, headers: Headers) -> Result<Stream, Error> {
    let kind = headers.get(STREAM_TYPE).unwrap_or_default().to_string();
    let stream = conn
        .open_stream(headers, false)
        .await
        .map_err(|e| Error::Protocol(format!("opening the {kind} stream: {e}")))?;
    stream.wait_reply().await.map_err(|e| {
        Error::Protocol(format!("the server did not accept the {kind} stream: {e}"))
    })?;
    Ok(stream)
}

fn stream_type(kind: &str) -> Headers {
    let mut headers = Headers::new();
    headers.insert(STREAM_TYPE, kind);
    headers
}

pub(super) async fn exec(target: &Target, options: &ExecOptions) -> Result<ExecSession, Error> {
    let offered = [
        spdy_protocols::V4,
        spdy_protocols::V3,
        spdy_protocols::V2,
        spdy_protocols::V1,
    ];
    let (conn, protocol) = upgrade(target, &offered).await?;
    let protocol = if protocol.is_empty() {
        spdy_protocols::V1.to_string()
    } else if offered.contains(&protocol.as_str()) {
        protocol
    } else {
        conn.abort();
        return Err(Error::Protocol(format!(
            "the server chose the stream protocol {protocol:?}, which was not offered"
        )));
    };
    let json = matches!(protocol.as_str(), spdy_protocols::V4 | spdy_protocols::V5);
    let resizable = json || protocol == spdy_protocols::V3;
    // The error stream first, as kubectl opens them.
    let error = open(&conn, stream_type("error")).await?;
    let stdin = match options.stdin {
        true => Some(open(&conn, stream_type("stdin")).await?),
        false => None,
    };
    let stdout = match options.stdout {
        true => Some(open(&conn, stream_type("stdout")).await?),
        false => None,
    };
    let stderr = match options.stderr && !options.tty {
        true => Some(open(&conn, stream_type("stderr")).await?),
        false => None,
    };
    let resizer = match options.tty && resizable {
        true => {
            let mut stream = open(&conn, stream_type("resize")).await?;
            let (tx, mut rx) = mpsc::channel(4);
            tokio::spawn(async move {
                while let Some(size) = rx.recv().await {
                    let json = serde_json::to_vec(&size).expect("a size serializes");
                    if stream.write_all(&json).await.is_err() {
                        return;
                    }
                }
            });
            Some(Resizer(tx))
        }
        false => None,
    };
    let keep_open = conn.clone();
    let status = Box::pin(async move {
        let bytes = read_status_bytes(error)
            .await
            .map_err(|e| Error::Protocol(format!("reading the status: {e}")))?;
        drop(keep_open);
        exit_code_of(&bytes, json)
    });
    Ok(ExecSession {
        stdin: stdin.map(|s| SessionWriter(Box::new(s))),
        stdout: stdout.map(|s| SessionReader(Box::new(s))),
        stderr: stderr.map(|s| SessionReader(Box::new(s))),
        resizer,
        transport: Transport::Spdy,
        protocol,
        status,
    })
}

/// An SPDY port-forward session: a stream pair per connection.
pub(super) struct SpdyForward {
    conn: Connection,
    next_request: AtomicU64,
}

impl Drop for SpdyForward {
    fn drop(&mut self) {
        self.conn.abort();
    }
}

pub(super) async fn port_forward(target: &Target) -> Result<SpdyForward, Error> {
    let (conn, protocol) = upgrade(target, &[spdy_protocols::PORT_FORWARD]).await?;
    if !protocol.is_empty() && protocol != spdy_protocols::PORT_FORWARD {
        conn.abort();
        return Err(Error::Protocol(format!(
            "the server chose the stream protocol {protocol:?}, which was not offered"
        )));
    }
    Ok(SpdyForward {
        conn,
        next_request: AtomicU64::new(0),
    })
}

impl SpdyForward {
    pub(super) async fn connect(&self, port: u16) -> Result<PortConnection, Error> {
        let request = self
            .next_request
            .fetch_add(1, Ordering::Relaxed)
            .to_string();
        let headers = |kind: &str| {
            let mut headers = stream_type(kind);
            headers.insert(PORT_HEADER, port.to_string());
            headers.insert(REQUEST_ID_HEADER, request.clone());
            headers
        };
        let mut error = open(&self.conn, headers("error")).await?;
        // Nothing is written on the error stream.
        let _ = error.shutdown().await;
        let data = open(&self.conn, headers("data")).await?;
        let (read, write) = tokio::io::split(data);
        Ok(PortConnection {
            reader: SessionReader(Box::new(SpdyPortReader {
                data: read,
                error: Some(error),
                error_text: Vec::new(),
                port,
            })),
            writer: SessionWriter(Box::new(write)),
        })
    }
}

/// A forwarded connection's data; the error stream's message (if any) becomes a read error.
struct SpdyPortReader {
    data: ReadHalf<Stream>,
    error: Option<Stream>,
    error_text: Vec<u8>,
    port: u16,
}

impl AsyncRead for SpdyPortReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        while let Some(error) = this.error.as_mut() {
            let mut chunk = [0u8; 512];
            let mut chunk_buf = ReadBuf::new(&mut chunk);
            match Pin::new(error).poll_read(cx, &mut chunk_buf) {
                Poll::Ready(Ok(())) if !chunk_buf.filled().is_empty() => {
                    if this.error_text.len() < 4096 {
                        this.error_text.extend_from_slice(chunk_buf.filled());
                    }
                }
                // The end of the error stream, or a reset (what Go servers do when done).
                Poll::Ready(_) => this.error = None,
                Poll::Pending => break,
            }
        }
        if !this.error_text.is_empty() {
            return Poll::Ready(Err(io::Error::other(format!(
                "port {}: {}",
                this.port,
                String::from_utf8_lossy(&this.error_text)
            ))));
        }
        Pin::new(&mut this.data).poll_read(cx, buf)
    }
}

#[allow(dead_code)]
fn _halves_are_send(w: WriteHalf<Stream>) -> Box<dyn tokio::io::AsyncWrite + Send + Unpin> {
    Box::new(w)
}
