//! Dialling: a Unix or TCP connector for tonic's channel that counts its dials (for the
//! re-dial rule) and keeps the first bytes the peer sent (to name a peer that is not a CRI
//! runtime).

use std::io::Read as _;
use std::os::fd::AsFd as _;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tonic::transport::{Channel, Uri};

use crate::error::Peer;
use crate::{Endpoint, Error};

/// How many bytes of the peer's greeting are kept.
const GREETING: usize = 64;

/// What the dials of one channel have seen.
#[derive(Debug, Default)]
pub(crate) struct Dials {
    /// Successful dials so far (a re-dial increments it).
    count: AtomicU64,
    /// The start of what the peer sent on the latest connection.
    greeting: Mutex<Greeting>,
}

#[derive(Debug, Default, Clone)]
struct Greeting {
    bytes: Vec<u8>,
    /// The peer closed the connection before `bytes` was full.
    closed: bool,
}

impl Dials {
    /// Successful dials so far.
    pub(crate) fn count(&self) -> u64 {
        self.count.load(Ordering::SeqCst)
    }

    /// What the peer of the latest connection is, if its first bytes show that it is not an
    /// HTTP/2 server (`None` when they look like HTTP/2, or nothing came yet).
    pub(crate) fn non_cri_peer(&self) -> Option<Peer> {
        let greeting = self
            .greeting
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        classify(&greeting.bytes, greeting.closed)
    }
}

/// Names a peer from the first bytes it sent. An HTTP/2 server starts with a SETTINGS frame:
/// a 9-byte header whose type (byte 3) is 4, on stream 0.
fn classify(bytes: &[u8], closed: bool) -> Option<Peer> {
    let line = || {
        let end = bytes
            .iter()
            .position(|&b| b == b'\r' || b == b'\n')
            .unwrap_or(bytes.len());
        printable(&bytes[..end])
    };
    if bytes.is_empty() {
        return closed.then_some(Peer::ClosedAtOnce);
    }
    if bytes.starts_with(b"HTTP/") {
        return Some(Peer::Http1 {
            status_line: line(),
        });
    }
    if bytes.starts_with(b"SSH-") {
        return Some(Peer::Ssh { banner: line() });
    }
    let settings = |b: &[u8]| b[3] == 4 && b[5] & 0x7f == 0 && b[6..9] == [0, 0, 0];
    if bytes.len() >= 9 {
        if settings(bytes) {
            return None;
        }
    } else if !closed {
        // Too little to tell yet.
        return None;
    }
    Some(Peer::NotHttp2 {
        first_bytes: printable(&bytes[..bytes.len().min(24)]),
    })
}

fn printable(bytes: &[u8]) -> String {
    bytes
        .iter()
        .flat_map(|&b| std::ascii::escape_default(b))
        .map(char::from)
        .collect()
}

/// Connects to `endpoint`. The channel re-dials by itself after a disconnect; every dial is
/// counted in `dials`.
pub(crate) async fn dial(
    endpoint: &Endpoint,
    connect_timeout: Duration,
    dials: &Arc<Dials>,
) -> Result<Channel, Error> {
    let seen = dials.clone();
    let target = endpoint.clone();
    let connector = tower::service_fn(move |_: Uri| {
        let seen = seen.clone();
        let target = target.clone();
        async move {
            let io = match &target {
                Endpoint::Unix(path) => Io::Unix(tokio::net::UnixStream::connect(path).await?),
                Endpoint::Tcp(host_port) => {
                    let stream = tokio::net::TcpStream::connect(host_port.as_str()).await?;
                    stream.set_nodelay(true)?;
                    Io::Tcp(stream)
                }
            };
            *seen.greeting.lock().unwrap_or_else(|e| e.into_inner()) = Greeting::default();
            seen.count.fetch_add(1, Ordering::SeqCst);
            Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(Sniff {
                io,
                dials: seen,
                done: false,
            }))
        }
    });
    // The URI only names the HTTP/2 authority; the connector decides where to connect.
    let uri = match endpoint {
        Endpoint::Unix(_) => "http://localhost".to_string(),
        Endpoint::Tcp(host_port) => format!("http://{host_port}"),
    };
    let connect_error = |source| Error::Connect {
        endpoint: endpoint.clone(),
        source,
    };
    let channel = tonic::transport::Endpoint::from_shared(uri)
        .map_err(connect_error)?
        .connect_timeout(connect_timeout)
        .connect_with_connector(connector)
        .await
        .map_err(connect_error)?;
    Ok(channel)
}

/// A Unix or TCP stream, so one connector type serves both.
enum Io {
    Unix(tokio::net::UnixStream),
    Tcp(tokio::net::TcpStream),
}

/// Passes everything through, keeping a copy of the first bytes read.
struct Sniff {
    io: Io,
    dials: Arc<Dials>,
    done: bool,
}

impl Sniff {
    /// Keeps a copy of bytes just read, up to the greeting's size.
    fn keep(&mut self, new: &[u8]) {
        let mut greeting = self
            .dials
            .greeting
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if new.is_empty() {
            greeting.closed = true;
            self.done = true;
        } else {
            let take = (GREETING - greeting.bytes.len()).min(new.len());
            greeting.bytes.extend_from_slice(&new[..take]);
            self.done = greeting.bytes.len() == GREETING;
        }
    }

    /// Notes a failed read or write. A peer that closes while we still write (an HTTP/1
    /// server that answered the preface and hung up) may have sent its answer before: read
    /// what is already there, without waiting, so the answer is not lost with the connection.
    fn failed<T>(&mut self, result: &Poll<std::io::Result<T>>) {
        if self.done || !matches!(result, Poll::Ready(Err(_))) {
            return;
        }
        // tokio's `try_read` trusts its cached readiness, which may not have seen the data
        // yet: read from a duplicate of the (non-blocking) descriptor instead.
        let mut buf = [0; GREETING];
        let fd = match &self.io {
            Io::Unix(s) => s.as_fd().try_clone_to_owned(),
            Io::Tcp(s) => s.as_fd().try_clone_to_owned(),
        };
        if let Ok(n) = fd.and_then(|fd| std::fs::File::from(fd).read(&mut buf)) {
            self.keep(&buf[..n]);
        }
        let mut greeting = self
            .dials
            .greeting
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        greeting.closed = true;
    }
}

impl AsyncRead for Sniff {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let result = match &mut this.io {
            Io::Unix(s) => Pin::new(s).poll_read(cx, buf),
            Io::Tcp(s) => Pin::new(s).poll_read(cx, buf),
        };
        if !this.done && matches!(result, Poll::Ready(Ok(()))) {
            this.keep(&buf.filled()[before..]);
        }
        this.failed(&result);
        result
    }
}

impl AsyncWrite for Sniff {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let result = match &mut this.io {
            Io::Unix(s) => Pin::new(s).poll_write(cx, buf),
            Io::Tcp(s) => Pin::new(s).poll_write(cx, buf),
        };
        this.failed(&result);
        result
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let result = match &mut this.io {
            Io::Unix(s) => Pin::new(s).poll_flush(cx),
            Io::Tcp(s) => Pin::new(s).poll_flush(cx),
        };
        this.failed(&result);
        result
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match &mut self.get_mut().io {
            Io::Unix(s) => Pin::new(s).poll_shutdown(cx),
            Io::Tcp(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peers_by_their_first_bytes() {
        assert_eq!(
            classify(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n", true),
            Some(Peer::Http1 {
                status_line: "HTTP/1.1 400 Bad Request".into()
            })
        );
        assert_eq!(
            classify(b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n", false),
            Some(Peer::Ssh {
                banner: "SSH-2.0-OpenSSH_9.2p1 Debian-2".into()
            })
        );
        assert_eq!(classify(b"", true), Some(Peer::ClosedAtOnce));
        assert_eq!(classify(b"", false), None);
        // An HTTP/2 SETTINGS frame (length 6, type 4, no flags, stream 0): a CRI runtime.
        assert_eq!(classify(&[0, 0, 6, 4, 0, 0, 0, 0, 0, 0, 3], false), None);
        assert_eq!(classify(b"\x15\x03\x01", false), None, "too little to tell");
        assert_eq!(
            classify(b"\x15\x03\x01\x00\x02\x02\x50", true),
            Some(Peer::NotHttp2 {
                first_bytes: "\\x15\\x03\\x01\\x00\\x02\\x02P".into()
            })
        );
        assert!(matches!(
            classify(b"220 mail.example.com ESMTP\r\n", false),
            Some(Peer::NotHttp2 { .. })
        ));
    }
}
