//! Port forwarding: [`port_forward`] and the [`PortForward`] session.

use std::net::SocketAddr;

use tokio::net::TcpListener;

use super::target::parse_url;
use super::{Error, PortConnection, PortForwardOptions, Transport, falls_back, spdy, websocket};

enum Forwarder {
    Ws(websocket::WsForward),
    Spdy(spdy::SpdyForward),
}

/// A port-forward session: [`connect`](Self::connect) opens a connection to a port,
/// [`serve`](Self::serve) forwards a local listener's connections.
pub struct PortForward {
    inner: Forwarder,
    transport: Transport,
}

impl std::fmt::Debug for PortForward {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PortForward")
            .field("transport", &self.transport)
            .finish_non_exhaustive()
    }
}

/// Starts a port-forward session at `url` (from a `PortForwardResponse`) for `ports` (the
/// ports of the request, in its order).
pub async fn port_forward(
    url: &str,
    ports: &[u16],
    options: &PortForwardOptions,
) -> Result<PortForward, Error> {
    let target = parse_url(url)?;
    if ports.is_empty() {
        return Err(Error::Url {
            url: url.to_string(),
            reason: "no port to forward".into(),
        });
    }
    let timeout = options.connect_timeout;
    let over_ws = || async {
        let forward = tokio::time::timeout(timeout, websocket::port_forward(&target, ports))
            .await
            .map_err(|_| Error::Timeout(timeout))??;
        Ok(PortForward {
            inner: Forwarder::Ws(forward),
            transport: Transport::WebSocket,
        })
    };
    let over_spdy = || async {
        let forward = tokio::time::timeout(timeout, spdy::port_forward(&target))
            .await
            .map_err(|_| Error::Timeout(timeout))??;
        Ok(PortForward {
            inner: Forwarder::Spdy(forward),
            transport: Transport::Spdy,
        })
    };
    match options.transport {
        Transport::Spdy => over_spdy().await,
        Transport::WebSocket => over_ws().await,
        Transport::Auto => match over_spdy().await {
            Err(error) if falls_back(&error) => over_ws().await,
            other => other,
        },
    }
}

impl PortForward {
    /// The transport in use.
    pub fn transport(&self) -> Transport {
        self.transport
    }

    /// Opens a connection to `port` in the pod.
    pub async fn connect(&self, port: u16) -> Result<PortConnection, Error> {
        match &self.inner {
            Forwarder::Ws(ws) => ws.connect(port),
            Forwarder::Spdy(spdy) => spdy.connect(port).await,
        }
    }

    /// Accepts connections on `listener` and forwards each to `port` until the session
    /// ends or an error occurs.
    pub async fn serve(&self, listener: TcpListener, port: u16) -> Result<(), Error> {
        loop {
            let (mut tcp, _) = listener
                .accept()
                .await
                .map_err(|e| Error::Protocol(format!("accepting a local connection: {e}")))?;
            let mut remote = self.connect(port).await?;
            tokio::spawn(async move {
                let _ = tokio::io::copy_bidirectional(&mut tcp, &mut remote).await;
            });
        }
    }

    /// Binds `local` and serves it (see [`serve`](Self::serve)); returns the bound address
    /// once listening, the forwarding runs in a task until the session ends.
    pub async fn listen(
        self: std::sync::Arc<Self>,
        local: SocketAddr,
        port: u16,
    ) -> Result<(SocketAddr, tokio::task::JoinHandle<Result<(), Error>>), Error> {
        let listener = TcpListener::bind(local)
            .await
            .map_err(|source| Error::Connect {
                addr: local.to_string(),
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| Error::Connect {
            addr: local.to_string(),
            source,
        })?;
        let task = tokio::spawn(async move { self.serve(listener, port).await });
        Ok((addr, task))
    }
}
