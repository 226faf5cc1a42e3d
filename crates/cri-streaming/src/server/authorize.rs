//! The authorization hook: [`Authorizer`] sees each streaming request before anything runs
//! and may refuse it.

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use cri_api_v1 as api;

/// What [`Authorizer::authorize`] returns.
pub type AuthorizeFuture<'a> = Pin<Box<dyn Future<Output = Result<(), Denied>> + Send + 'a>>;

/// A runtime's decision on who may use a streaming URL.
///
/// The server calls it for every request whose token is valid, after spending the token and
/// before the upgrade: a refused request gets `403 Forbidden` with the reason, its token is
/// gone, and the [`Runtime`](super::Runtime) is never called. Requests with an unknown,
/// used or expired token are answered 404 without asking.
///
/// Upstream's server has no such check: the token is the only guard, so anyone who sees a
/// URL can use it. With TLS and client certificates
/// ([`ServerTls`](super::ServerTls), feature `tls`), the hook can admit only the client the
/// runtime expects (the kubelet's certificate, say).
///
/// A closure `Fn(&AccessRequest) -> Result<(), Denied>` is an authorizer; implement the
/// trait for a decision that waits on something (a policy service). The request waits for
/// the decision while holding a session slot: decide promptly, and bound any wait.
///
/// # Admitting only one client certificate
///
/// ```
/// use std::sync::Arc;
/// use cri_streaming::server::{AccessRequest, Config, Denied};
///
/// // The SHA-256 fingerprint of the one certificate let in, as
/// // `openssl x509 -noout -fingerprint -sha256` prints it (colons and case do not matter).
/// let admitted = "5D:1A:…".replace(':', "").to_ascii_lowercase();
/// let mut config = Config::default();
/// config.authorizer = Some(Arc::new(move |request: &AccessRequest<'_>| {
///     match request.client_certificate {
///         Some(cert) if cert.sha256_hex() == admitted => Ok(()),
///         Some(cert) => Err(Denied::new(format!(
///             "client certificate {:?} is not allowed to stream",
///             cert.common_name().unwrap_or("without a common name")
///         ))),
///         None => Err(Denied::new("a client certificate is required")),
///     }
/// }));
/// ```
///
/// With `config.tls` set to [`ServerTls::from_pem_files`](super::ServerTls::from_pem_files)
/// and a client CA, only certificates of that CA reach the hook, and of those only one
/// passes it.
pub trait Authorizer: Send + Sync + 'static {
    /// `Ok(())` lets the request through; `Err` answers it 403 with the reason.
    fn authorize<'a>(&'a self, request: &'a AccessRequest<'_>) -> AuthorizeFuture<'a>;
}

impl<F> Authorizer for F
where
    F: Fn(&AccessRequest<'_>) -> Result<(), Denied> + Send + Sync + 'static,
{
    fn authorize<'a>(&'a self, request: &'a AccessRequest<'_>) -> AuthorizeFuture<'a> {
        Box::pin(std::future::ready(self(request)))
    }
}

impl<A: Authorizer + ?Sized> Authorizer for Arc<A> {
    fn authorize<'a>(&'a self, request: &'a AccessRequest<'_>) -> AuthorizeFuture<'a> {
        (**self).authorize(request)
    }
}

impl fmt::Debug for dyn Authorizer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Authorizer")
    }
}

/// A request the hook decides on.
#[derive(Debug)]
#[non_exhaustive]
pub struct AccessRequest<'a> {
    /// The HTTP method (`GET` for WebSocket, `POST` for SPDY).
    pub method: &'a http::Method,
    /// The request's path (`/exec/<token>` under the base URL's path).
    pub path: &'a str,
    /// The client's address.
    pub peer: SocketAddr,
    /// The certificate the client presented over TLS, if any (only with a client CA
    /// configured; rustls has verified it against that CA).
    pub client_certificate: Option<&'a ClientCertificate>,
    /// The CRI request the token was minted for.
    pub request: CriRequest<'a>,
}

/// The CRI request behind a streaming URL.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub enum CriRequest<'a> {
    /// An `Exec`.
    Exec(&'a api::ExecRequest),
    /// An `Attach`.
    Attach(&'a api::AttachRequest),
    /// A `PortForward`.
    PortForward(&'a api::PortForwardRequest),
}

/// A refusal, with the reason the client reads in the 403 answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Denied {
    reason: String,
}

impl Denied {
    /// A refusal for `reason` (one line; sent to the client as it is, so it should not
    /// reveal more than the client may know).
    pub fn new(reason: impl Into<String>) -> Self {
        Denied {
            reason: reason.into(),
        }
    }

    /// The reason.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

impl fmt::Display for Denied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)
    }
}

impl std::error::Error for Denied {}

/// The certificate a client presented in the TLS handshake (the leaf), with the identity
/// it carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientCertificate {
    der: Vec<u8>,
    sha256: [u8; 32],
    common_name: Option<String>,
    organizations: Vec<String>,
}

impl ClientCertificate {
    /// Reads a verified leaf certificate.
    #[cfg(feature = "tls")]
    pub(crate) fn from_der(der: &[u8]) -> Self {
        let digest = ring::digest::digest(&ring::digest::SHA256, der);
        let mut sha256 = [0u8; 32];
        sha256.copy_from_slice(digest.as_ref());
        let subject = super::x509::subject(der);
        ClientCertificate {
            der: der.to_vec(),
            sha256,
            common_name: subject.common_names.into_iter().next(),
            organizations: subject.organizations,
        }
    }

    /// The certificate, DER-encoded.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The SHA-256 of the DER encoding (the certificate's fingerprint).
    pub fn sha256(&self) -> [u8; 32] {
        self.sha256
    }

    /// [`sha256`](Self::sha256) in lowercase hexadecimal without separators.
    pub fn sha256_hex(&self) -> String {
        self.sha256.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The subject's (first) common name: the user, in Kubernetes' reading.
    pub fn common_name(&self) -> Option<&str> {
        self.common_name.as_deref()
    }

    /// The subject's organizations: the groups, in Kubernetes' reading.
    pub fn organizations(&self) -> &[String] {
        &self.organizations
    }
}
