//! SPDY tunneled through a WebSocket (`SPDY/3.1+portforward.k8s.io`): the byte stream of an
//! SPDY/3.1 connection carried in binary messages, what client-go's port forward sends over
//! WebSocket (`crictl port-forward --transport websocket`, `kubectl port-forward` since
//! Kubernetes 1.31). Unlike the channel protocol, one session carries any number of
//! connections, each an SPDY stream pair.
//!
//! [`Tunnel`] is the byte stream: reads return the messages' bytes in order, each write
//! sends one binary message, shutdown sends a close frame with status 1000 (which Go's
//! tunnel reads as the end of the stream).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Buf, Bytes};
use futures_util::{Sink, Stream};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{self, Message};

/// The largest message one write sends.
const MAX_MESSAGE: usize = 64 << 10;

/// A WebSocket as the byte stream of a tunneled SPDY connection.
pub(crate) struct Tunnel<S> {
    ws: WebSocketStream<S>,
    /// What is left of the message being read.
    current: Bytes,
    /// The close frame was queued (shutdown); what remains is flushing it.
    closing: bool,
    read_done: bool,
}

impl<S> Tunnel<S> {
    /// The tunnel over `ws`, whose subprotocol is the tunneling one.
    pub fn new(ws: WebSocketStream<S>) -> Self {
        Tunnel {
            ws,
            current: Bytes::new(),
            closing: false,
            read_done: false,
        }
    }
}

fn to_io(error: tungstenite::Error) -> io::Error {
    match error {
        tungstenite::Error::Io(error) => error,
        tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed => {
            io::Error::new(io::ErrorKind::BrokenPipe, "the WebSocket is closed")
        }
        other => io::Error::other(format!("WebSocket: {other}")),
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for Tunnel<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        while this.current.is_empty() {
            if this.read_done {
                return Poll::Ready(Ok(()));
            }
            match ready!(Pin::new(&mut this.ws).poll_next(cx)) {
                Some(Ok(Message::Binary(data))) => this.current = data,
                // tungstenite answers PINGs itself.
                Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {}
                Some(Ok(Message::Text(_))) => {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "a text message in an SPDY tunnel (only binary messages carry it)",
                    )));
                }
                // The peer's close ends the stream (a close with another status than 1000
                // too: what it sent before is all there is).
                Some(Ok(Message::Close(_))) | None => this.read_done = true,
                Some(Err(error)) => return Poll::Ready(Err(to_io(error))),
            }
        }
        let n = this.current.len().min(buf.remaining());
        buf.put_slice(&this.current[..n]);
        this.current.advance(n);
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for Tunnel<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.closing {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "write after the tunnel's shutdown",
            )));
        }
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        ready!(Pin::new(&mut self.ws).poll_ready(cx)).map_err(to_io)?;
        let n = buf.len().min(MAX_MESSAGE);
        Pin::new(&mut self.ws)
            .start_send(Message::Binary(Bytes::copy_from_slice(&buf[..n])))
            .map_err(to_io)?;
        Poll::Ready(Ok(n))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.ws).poll_flush(cx).map_err(to_io)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if !self.closing {
            ready!(Pin::new(&mut self.ws).poll_ready(cx)).map_err(to_io)?;
            let normal = CloseFrame {
                code: CloseCode::Normal,
                reason: "".into(),
            };
            Pin::new(&mut self.ws)
                .start_send(Message::Close(Some(normal)))
                .map_err(to_io)?;
            self.closing = true;
        }
        match ready!(Pin::new(&mut self.ws).poll_flush(cx)) {
            // Closed already (the peer's close came first): nothing more to say.
            Ok(()) | Err(tungstenite::Error::ConnectionClosed) => Poll::Ready(Ok(())),
            Err(error) => Poll::Ready(Err(to_io(error))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio_tungstenite::tungstenite::protocol::Role;

    #[tokio::test]
    async fn bytes_cross_in_both_directions_and_shutdown_ends_the_peers_reads() {
        let (a, b) = tokio::io::duplex(256 << 10);
        let client = WebSocketStream::from_raw_socket(a, Role::Client, None).await;
        let server = WebSocketStream::from_raw_socket(b, Role::Server, None).await;
        let mut client = Tunnel::new(client);
        let mut server = Tunnel::new(server);
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let sending = data.clone();
        let writer = tokio::spawn(async move {
            client.write_all(&sending).await.unwrap();
            client.flush().await.unwrap();
            let mut answer = [0u8; 3];
            client.read_exact(&mut answer).await.unwrap();
            client.shutdown().await.unwrap();
            answer
        });
        let mut got = vec![0u8; data.len()];
        server.read_exact(&mut got).await.unwrap();
        assert!(got == data, "the bytes differ");
        server.write_all(b"bye").await.unwrap();
        server.flush().await.unwrap();
        assert_eq!(&writer.await.unwrap(), b"bye");
        let mut rest = Vec::new();
        server.read_to_end(&mut rest).await.unwrap();
        assert!(rest.is_empty());
    }
}
