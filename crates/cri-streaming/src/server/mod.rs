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
//!
//! With the `tls` feature, [`Config::tls`] serves over TLS ([`ServerTls`]: a certificate
//! and key, optionally a CA for client certificates) and the URLs say `https`. Whatever the
//! transport, [`Config::authorizer`] lets the runtime refuse a request (403) before anything
//! runs: see [`Authorizer`].
//!
//! What a hostile client can cost the server, and the knobs that bound it: [`limits`].

mod accept;
mod authorize;
mod cache;
mod config;
mod connection;
// Not part of the API: whole sessions over an in-memory connection, for the fuzz targets.
#[doc(hidden)]
pub mod fuzzing;
mod handler;
#[doc = include_str!("limits.md")]
pub mod limits {}
mod runtime;
mod session;
mod spdy;
#[cfg(feature = "tls")]
mod tls;
mod websocket;
#[cfg(feature = "tls")]
mod x509;

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use cri_api_v1 as api;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

pub use crate::protocol::{Status, TerminalSize};
pub use authorize::{
    AccessRequest, AuthorizeFuture, Authorizer, ClientCertificate, CriRequest, Denied,
};
use cache::{Cached, RequestCache};
pub use config::Config;
pub use runtime::{BoxError, BoxFuture, BoxReader, BoxWriter, PortStream, Runtime, Streams};
#[cfg(feature = "tls")]
#[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
pub use tls::ServerTls;

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

/// For `?` in a runtime's `Exec`, `Attach` and `PortForward` handlers: `INVALID_ARGUMENT` and
/// `RESOURCE_EXHAUSTED`, with the error's text.
impl From<Error> for tonic::Status {
    fn from(error: Error) -> Self {
        match error {
            Error::InvalidArgument(_) => tonic::Status::invalid_argument(error.to_string()),
            Error::TooManyRequests(_) => tonic::Status::resource_exhausted(error.to_string()),
        }
    }
}

pub(crate) struct Shared {
    pub config: Config,
    pub runtime: Box<dyn Runtime>,
    cache: RequestCache,
    sessions: Arc<Semaphore>,
    base_url: String,
    base_path: String,
    /// The TLS acceptor, with the configuration in force.
    #[cfg(feature = "tls")]
    tls: Option<tls::Acceptor>,
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
            .unwrap_or_else(|| format!("{}://{local_addr}/", scheme(&config)));
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
            #[cfg(feature = "tls")]
            tls: config.tls.clone().map(tls::Acceptor::new),
            cache: RequestCache::new(config.token_ttl, config.max_pending_requests),
            sessions: Arc::new(Semaphore::new(config.max_sessions)),
            runtime: Box::new(runtime),
            config,
            base_url,
            base_path,
        });
        let accept = tokio::spawn(accept::accept_loop(listener, shared.clone()));
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

/// The scheme of the URLs handed out by default.
fn scheme(config: &Config) -> &'static str {
    #[cfg(feature = "tls")]
    if config.tls.is_some() {
        return "https";
    }
    let _ = config;
    "http"
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_validated() {
        assert!(check_streams("", true, true, false, false).is_err());
        assert!(check_streams("c", false, true, true, true).is_err());
        assert!(check_streams("c", false, false, false, false).is_err());
        assert!(check_streams("c", true, true, false, true).is_ok());
    }

    #[test]
    fn errors_become_the_grpc_codes_a_runtime_answers() {
        let status = tonic::Status::from(Error::InvalidArgument("cmd is empty".into()));
        assert_eq!(
            (status.code(), status.message()),
            (tonic::Code::InvalidArgument, "cmd is empty")
        );
        let status = tonic::Status::from(Error::TooManyRequests(3));
        assert_eq!(status.code(), tonic::Code::ResourceExhausted);
        assert!(status.message().contains("at most 3"), "{status:?}");
    }
}
