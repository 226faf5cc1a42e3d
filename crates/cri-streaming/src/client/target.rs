//! The streaming URL and the connection to it: TCP, and TLS for an `https` URL.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use super::Error;
#[cfg(feature = "tls")]
use super::tls::ClientTls;

/// The parts of a streaming URL the client needs.
pub(super) struct Target {
    pub url: url::Url,
    pub addr: String,
    /// The host, for TLS's server name.
    #[cfg_attr(not(feature = "tls"), allow(dead_code))]
    host: String,
    /// An `https` (or `wss`) URL.
    secure: bool,
    /// The TLS settings of the session (`None`: the system's CAs).
    #[cfg(feature = "tls")]
    pub tls: Option<ClientTls>,
}

pub(super) fn parse_url(url: &str) -> Result<Target, Error> {
    let bad = |reason: &str| Error::Url {
        url: url.to_string(),
        reason: reason.to_string(),
    };
    let parsed = url::Url::parse(url).map_err(|e| bad(&e.to_string()))?;
    let secure = match parsed.scheme() {
        "http" | "ws" => false,
        "https" | "wss" if cfg!(feature = "tls") => true,
        "https" | "wss" => {
            return Err(bad(
                "TLS (https) streaming URLs need cri-streaming's `tls` feature, which this \
                 client was built without",
            ));
        }
        other => return Err(bad(&format!("unsupported scheme {other:?}"))),
    };
    let host = parsed.host_str().ok_or_else(|| bad("no host"))?;
    let port = parsed
        .port_or_known_default()
        .unwrap_or(if secure { 443 } else { 80 });
    let addr = if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    Ok(Target {
        host: host.to_string(),
        url: parsed,
        addr,
        secure,
        #[cfg(feature = "tls")]
        tls: None,
    })
}

impl Target {
    /// The scheme of the WebSocket URL for this target.
    pub fn ws_scheme(&self) -> &'static str {
        if self.secure { "wss" } else { "ws" }
    }
}

/// A connection to the streaming server.
pub(super) enum Conn {
    Plain(TcpStream),
    #[cfg(feature = "tls")]
    Tls(Box<tokio_rustls::client::TlsStream<super::tls::Wire>>),
}

/// Connects to the target: TCP, then the TLS handshake for an `https` URL.
pub(super) async fn dial(target: &Target) -> Result<Conn, Error> {
    let tcp = TcpStream::connect(&target.addr)
        .await
        .map_err(|source| Error::Connect {
            addr: target.addr.clone(),
            source,
        })?;
    let _ = tcp.set_nodelay(true);
    #[cfg(feature = "tls")]
    if target.secure {
        let stream = super::tls::handshake(target.tls.as_ref(), &target.host, tcp).await?;
        return Ok(Conn::Tls(Box::new(stream)));
    }
    Ok(Conn::Plain(tcp))
}

/// A TLS failure that shows after the handshake (the server refusing the client's
/// certificate, with TLS 1.3), as [`failure`] recognizes it.
#[cfg(feature = "tls")]
#[derive(Debug)]
struct TlsFailure(String);

#[cfg(feature = "tls")]
impl std::fmt::Display for TlsFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(feature = "tls")]
impl std::error::Error for TlsFailure {}

#[cfg(feature = "tls")]
fn tls_error(error: io::Error) -> io::Error {
    if error
        .get_ref()
        .is_some_and(|e| e.downcast_ref::<rustls::Error>().is_some())
    {
        io::Error::new(error.kind(), TlsFailure(super::tls::explain(&error)))
    } else {
        error
    }
}

impl AsyncRead for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(tcp) => Pin::new(tcp).poll_read(cx, buf),
            #[cfg(feature = "tls")]
            Conn::Tls(tls) => Pin::new(tls).poll_read(cx, buf).map_err(tls_error),
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Conn::Plain(tcp) => Pin::new(tcp).poll_write(cx, buf),
            #[cfg(feature = "tls")]
            Conn::Tls(tls) => Pin::new(tls).poll_write(cx, buf).map_err(tls_error),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Conn::Plain(tcp) => Pin::new(tcp).poll_write_vectored(cx, bufs),
            #[cfg(feature = "tls")]
            Conn::Tls(tls) => Pin::new(tls)
                .poll_write_vectored(cx, bufs)
                .map_err(tls_error),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Conn::Plain(tcp) => tcp.is_write_vectored(),
            #[cfg(feature = "tls")]
            Conn::Tls(tls) => tls.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(tcp) => Pin::new(tcp).poll_flush(cx),
            #[cfg(feature = "tls")]
            Conn::Tls(tls) => Pin::new(tls).poll_flush(cx).map_err(tls_error),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(tcp) => Pin::new(tcp).poll_shutdown(cx),
            #[cfg(feature = "tls")]
            Conn::Tls(tls) => Pin::new(tls).poll_shutdown(cx).map_err(tls_error),
        }
    }
}

/// An error with its causes (`connection error: <why>`): hyper's errors show their cause
/// only as a source, and a TLS failure after the handshake is such a cause.
fn with_causes(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        let more = inner.to_string();
        if !text.ends_with(&more) {
            text = format!("{text}: {more}");
        }
        cause = inner.source();
    }
    text
}

/// What a failed upgrade reports: [`Error::Tls`] when TLS is the cause (the server refusing
/// the client's certificate shows only after the handshake with TLS 1.3), else
/// [`Error::Protocol`] with `context` and the causes.
pub(super) fn failure(context: &str, error: &(dyn std::error::Error + 'static)) -> Error {
    #[cfg(feature = "tls")]
    {
        let mut cause = Some(error);
        while let Some(inner) = cause {
            let tls = inner
                .downcast_ref::<io::Error>()
                .and_then(|io| io.get_ref())
                .and_then(|e| e.downcast_ref::<TlsFailure>());
            if let Some(TlsFailure(reason)) = tls {
                return Error::Tls(reason.clone());
            }
            cause = inner.source();
        }
    }
    Error::Protocol(format!("{context}: {}", with_causes(error)))
}
