//! TLS on the client's connections: [`ClientTls`] (what to trust, which certificate to
//! present, the server name) and the handshake.

use std::io;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::io::BufReader;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use crate::TlsError;
use crate::tls::{ALPN_HTTP1, load_certs, load_key, load_roots, provider};

/// TLS settings of the client (feature `tls`), for `https` streaming URLs.
///
/// [`ClientTls::builder`] verifies the server against a CA bundle (or, without one, the
/// system's CAs) and may present a client certificate; [`ClientTls::insecure`] verifies
/// nothing, as Go crictl does when none of its `--tls-*` flags is given. Set it with
/// [`ExecOptions::tls`](super::ExecOptions::tls) or
/// [`PortForwardOptions::tls`](super::PortForwardOptions::tls); an `https` URL without it
/// is verified against the system's CAs. An `http` URL ignores it.
#[derive(Clone, Debug)]
pub struct ClientTls {
    config: Arc<ClientConfig>,
    server_name: Option<ServerName<'static>>,
}

impl ClientTls {
    /// Settings from files: see [`ClientTlsBuilder`].
    pub fn builder() -> ClientTlsBuilder {
        ClientTlsBuilder::default()
    }

    /// No verification of the server's certificate and no client certificate: the
    /// connection is encrypted but anyone on the path can read it by posing as the server.
    /// Go crictl's behaviour when none of `--tls-ca`, `--tls-cert`, `--tls-key` is given.
    pub fn insecure() -> ClientTls {
        let provider = provider();
        let mut config = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .expect("the ring provider supports the default protocol versions")
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerification(provider)))
            .with_no_client_auth();
        config.alpn_protocols = vec![ALPN_HTTP1.to_vec()];
        ClientTls {
            config: Arc::new(config),
            server_name: None,
        }
    }

    /// A ready rustls configuration, used as it is.
    pub fn from_config(config: Arc<ClientConfig>) -> ClientTls {
        ClientTls {
            config,
            server_name: None,
        }
    }

    /// The name sent in SNI and checked against the server's certificate, instead of the
    /// URL's host (Go crictl's `--tls-sni`). A DNS name or an IP address.
    pub fn server_name(mut self, name: &str) -> Result<ClientTls, TlsError> {
        self.server_name = Some(parse_server_name(name)?);
        Ok(self)
    }

    /// The system's CAs, read once per process.
    fn system() -> Result<ClientTls, TlsError> {
        static SYSTEM: OnceLock<Result<ClientTls, String>> = OnceLock::new();
        SYSTEM
            .get_or_init(|| ClientTls::builder().build().map_err(|e| e.to_string()))
            .clone()
            .map_err(TlsError::Config)
    }
}

fn parse_server_name(name: &str) -> Result<ServerName<'static>, TlsError> {
    let bare = name.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(bare.to_string())
        .map_err(|_| TlsError::Config(format!("{name:?} is not a DNS name or an IP address")))
}

/// What [`ClientTls::builder`] makes: the server is verified against [`ca_file`]
/// (`--tls-ca`) or, without it, the system's CAs; [`client_cert_files`] (`--tls-cert` and
/// `--tls-key`) is presented when the server asks for a certificate.
///
/// [`ca_file`]: Self::ca_file
/// [`client_cert_files`]: Self::client_cert_files
#[derive(Clone, Debug, Default)]
pub struct ClientTlsBuilder {
    ca: Option<PathBuf>,
    cert_key: Option<(PathBuf, PathBuf)>,
    server_name: Option<String>,
}

impl ClientTlsBuilder {
    /// The CAs (a PEM bundle) the server's certificate must be signed by.
    pub fn ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.ca = Some(path.into());
        self
    }

    /// The client certificate chain (PEM, leaf first) and its private key (PEM).
    pub fn client_cert_files(mut self, cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        self.cert_key = Some((cert.into(), key.into()));
        self
    }

    /// See [`ClientTls::server_name`].
    pub fn server_name(mut self, name: impl Into<String>) -> Self {
        self.server_name = Some(name.into());
        self
    }

    /// Reads the files; an error names the file and what is wrong with it.
    pub fn build(self) -> Result<ClientTls, TlsError> {
        let roots = match &self.ca {
            Some(ca) => load_roots(ca)?,
            None => system_roots()?,
        };
        let builder = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Config(e.to_string()))?
            .with_root_certificates(roots);
        let mut config = match &self.cert_key {
            Some((cert, key)) => builder
                .with_client_auth_cert(load_certs("certificate", cert)?, load_key(key)?)
                .map_err(|e| {
                    TlsError::Config(format!(
                        "client certificate {} with key {}: {e}",
                        cert.display(),
                        key.display()
                    ))
                })?,
            None => builder.with_no_client_auth(),
        };
        config.alpn_protocols = vec![ALPN_HTTP1.to_vec()];
        Ok(ClientTls {
            config: Arc::new(config),
            server_name: self
                .server_name
                .as_deref()
                .map(parse_server_name)
                .transpose()?,
        })
    }
}

fn system_roots() -> Result<RootCertStore, TlsError> {
    let found = rustls_native_certs::load_native_certs();
    let mut roots = RootCertStore::empty();
    let (added, _) = roots.add_parsable_certificates(found.certs);
    if added == 0 {
        let why = found
            .errors
            .first()
            .map(|e| format!(": {e}"))
            .unwrap_or_default();
        return Err(TlsError::Config(format!(
            "no CA given and no system CA certificates found{why}"
        )));
    }
    Ok(roots)
}

/// How much of the connection a TLS client reads at once. rustls asks for 4 KiB at a time
/// (a quarter of a full record): read straight from the socket, that was four system calls
/// per record; a buffer under it takes what arrived in one.
const READ_BUFFER: usize = 64 << 10;

/// The socket under a client's TLS: read through a buffer (see [`READ_BUFFER`]).
pub(super) type Wire = BufReader<TcpStream>;

/// The handshake over `tcp` for `host` (the URL's host, unless the settings name another).
pub(super) async fn handshake(
    tls: Option<&ClientTls>,
    host: &str,
    tcp: TcpStream,
) -> Result<TlsStream<Wire>, super::Error> {
    let failed = |reason: String| super::Error::Tls(reason);
    let system;
    let tls = match tls {
        Some(tls) => tls,
        None => {
            system = ClientTls::system().map_err(|e| failed(e.to_string()))?;
            &system
        }
    };
    let name = match &tls.server_name {
        Some(name) => name.clone(),
        None => parse_server_name(host).map_err(|e| failed(e.to_string()))?,
    };
    tokio_rustls::TlsConnector::from(tls.config.clone())
        .connect(name, BufReader::with_capacity(READ_BUFFER, tcp))
        .await
        .map_err(|e| failed(explain(&e)))
}

/// A TLS failure as a person reads it: rustls' error when there is one.
pub(super) fn explain(error: &io::Error) -> String {
    match error
        .get_ref()
        .and_then(|e| e.downcast_ref::<rustls::Error>())
    {
        Some(rustls::Error::AlertReceived(alert)) => format!(
            "the server ended the TLS handshake ({alert:?}): it may want a client \
             certificate it trusts"
        ),
        Some(rustls::Error::InvalidCertificate(why)) => {
            format!("the server's certificate is not trusted: {why:?}")
        }
        Some(other) => other.to_string(),
        None => error.to_string(),
    }
}

/// Accepts any server certificate, still checking that the server holds its key.
#[derive(Debug)]
struct NoVerification(Arc<CryptoProvider>);

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
