//! One accepted connection: the TLS handshake when the server has TLS, then HTTP/1.1 with
//! upgrades, each request knowing its [`Peer`].

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use super::Shared;
use super::accept::{HEADER_READ_TIMEOUT, MAX_REQUEST_HEAD};
use super::authorize::ClientCertificate;
use super::handler::handle;

/// Who is on the other end of a connection, for the authorization hook.
pub(super) struct Peer {
    pub addr: SocketAddr,
    /// The client's certificate, when the server asked for one over TLS.
    pub certificate: Option<ClientCertificate>,
}

/// Serves `tcp` (from `addr`) until it closes or becomes a session; with TLS, a failed or
/// too slow handshake ([`ServerTls::handshake_timeout`](super::ServerTls::handshake_timeout))
/// drops it. The caller counts it against the connection cap all along.
pub(super) async fn serve(shared: Arc<Shared>, tcp: TcpStream, addr: SocketAddr) {
    #[cfg(feature = "tls")]
    if let Some(tls) = &shared.tls {
        let Some((stream, certificate)) = tls.accept(tcp).await else {
            return;
        };
        let peer = Peer { addr, certificate };
        return serve_http(shared, stream, peer).await;
    }
    let peer = Peer {
        addr,
        certificate: None,
    };
    serve_http(shared, tcp, peer).await;
}

async fn serve_http<IO>(shared: Arc<Shared>, io: IO, peer: Peer)
where
    IO: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let peer = Arc::new(peer);
    let service = hyper::service::service_fn(move |req| {
        let (shared, peer) = (shared.clone(), peer.clone());
        async move { Ok::<_, Infallible>(handle(shared, peer, req).await) }
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .max_buf_size(MAX_REQUEST_HEAD)
        .serve_connection(TokioIo::new(io), service)
        .with_upgrades()
        .await;
}
