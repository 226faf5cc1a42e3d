//! TLS on the server's listener: [`ServerTls`] (the settings), and the acceptor that holds
//! the configuration in force, so that a rotated certificate is taken without a restart.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use rustls::ServerConfig;
use rustls::server::WebPkiClientVerifier;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::server::TlsStream;

use super::authorize::ClientCertificate;
use crate::TlsError;
use crate::tls::{ALPN_HTTP1, load_certs, load_key, load_roots, provider};

/// TLS settings of the streaming server (feature `tls`): the server's certificate and key,
/// and optionally a CA that client certificates must be signed by.
///
/// Set [`Config::tls`](super::Config::tls); the URLs the server hands out then say `https`.
/// [`Server::reload_tls`](super::Server::reload_tls) reads the files again (a rotated
/// certificate, a new CA bundle) for the connections that follow.
///
/// Go's streaming server takes a `tls.Config` the same way (containerd's
/// `enable_tls_streaming` with `tls_cert_file` and `tls_key_file`; CRI-O's
/// `--stream-tls-cert`, `--stream-tls-key` and `--stream-tls-ca`).
#[derive(Clone, Debug)]
pub struct ServerTls {
    source: Source,
    config: Arc<ServerConfig>,
    handshake_timeout: Duration,
}

#[derive(Clone, Debug)]
enum Source {
    Files {
        cert: PathBuf,
        key: PathBuf,
        client_ca: Option<PathBuf>,
    },
    Ready,
}

impl ServerTls {
    /// The certificate chain at `cert` (PEM: the leaf first, then intermediates) and its
    /// private key at `key` (PEM: PKCS#8, PKCS#1 or SEC1). With `client_ca` (a PEM bundle),
    /// every client must present a certificate signed by one of those CAs, or the handshake
    /// fails; without it, no client certificate is asked for.
    ///
    /// The files are read now: an error names the file and what is wrong with it.
    pub fn from_pem_files(
        cert: impl AsRef<Path>,
        key: impl AsRef<Path>,
        client_ca: Option<&Path>,
    ) -> Result<ServerTls, TlsError> {
        let (cert, key) = (cert.as_ref().to_path_buf(), key.as_ref().to_path_buf());
        let client_ca = client_ca.map(Path::to_path_buf);
        let config = config_from_files(&cert, &key, client_ca.as_deref())?;
        Ok(ServerTls {
            source: Source::Files {
                cert,
                key,
                client_ca,
            },
            config,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
        })
    }

    /// A ready rustls configuration, used as it is (its ALPN list should offer `http/1.1`
    /// or be empty). [`Server::set_tls_config`](super::Server::set_tls_config) replaces it.
    pub fn from_config(config: Arc<ServerConfig>) -> ServerTls {
        ServerTls {
            source: Source::Ready,
            config,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
        }
    }

    /// How long a client has to complete the TLS handshake after connecting (default 10 s);
    /// a client that is slower is disconnected.
    pub fn handshake_timeout(mut self, timeout: Duration) -> ServerTls {
        self.handshake_timeout = timeout;
        self
    }

    /// Whether clients must present a certificate (a client CA was given).
    pub fn verifies_clients(&self) -> bool {
        matches!(
            &self.source,
            Source::Files {
                client_ca: Some(_),
                ..
            }
        )
    }
}

const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

fn config_from_files(
    cert: &Path,
    key: &Path,
    client_ca: Option<&Path>,
) -> Result<Arc<ServerConfig>, TlsError> {
    let chain = load_certs("certificate", cert)?;
    let key_der = load_key(key)?;
    let provider = provider();
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?;
    let builder = match client_ca {
        Some(ca) => {
            let roots = Arc::new(load_roots(ca)?);
            let verifier = WebPkiClientVerifier::builder_with_provider(roots, provider)
                .build()
                .map_err(|e| TlsError::Config(format!("client CA {}: {e}", ca.display())))?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut config = builder.with_single_cert(chain, key_der).map_err(|e| {
        TlsError::Config(format!(
            "certificate {} with key {}: {e}",
            cert.display(),
            key.display()
        ))
    })?;
    config.alpn_protocols = vec![ALPN_HTTP1.to_vec()];
    Ok(Arc::new(config))
}

/// The server's side of TLS while it runs: the configuration in force and where it came
/// from.
pub(super) struct Acceptor {
    source: Source,
    current: RwLock<Arc<ServerConfig>>,
    handshake_timeout: Duration,
}

impl Acceptor {
    pub fn new(settings: ServerTls) -> Acceptor {
        Acceptor {
            source: settings.source,
            current: RwLock::new(settings.config),
            handshake_timeout: settings.handshake_timeout,
        }
    }

    fn set(&self, config: Arc<ServerConfig>) {
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = config;
    }

    /// Reads the files again; the connections that follow use them. On an error the
    /// configuration in force stays.
    pub fn reload(&self) -> Result<(), TlsError> {
        match &self.source {
            Source::Files {
                cert,
                key,
                client_ca,
            } => {
                self.set(config_from_files(cert, key, client_ca.as_deref())?);
                Ok(())
            }
            Source::Ready => Err(TlsError::Config(
                "the server's TLS came from a rustls::ServerConfig, not from files: \
                 replace it with Server::set_tls_config"
                    .into(),
            )),
        }
    }

    pub fn replace(&self, config: Arc<ServerConfig>) {
        self.set(config);
    }

    /// The TLS handshake on a new connection, bounded by the handshake timeout; `None`
    /// when it fails or is too slow (the connection is then dropped).
    pub async fn accept<IO>(&self, io: IO) -> Option<(TlsStream<IO>, Option<ClientCertificate>)>
    where
        IO: AsyncRead + AsyncWrite + Unpin,
    {
        let config = self
            .current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let handshake = tokio_rustls::TlsAcceptor::from(config).accept(io);
        let stream = tokio::time::timeout(self.handshake_timeout, handshake)
            .await
            .ok()?
            .ok()?;
        let certificate = stream
            .get_ref()
            .1
            .peer_certificates()
            .and_then(|chain| chain.first())
            .map(|leaf| ClientCertificate::from_der(leaf.as_ref()));
        Some((stream, certificate))
    }
}

impl super::Server {
    /// Reads the TLS files again (a rotated certificate or key, a new client CA bundle):
    /// the connections that follow use them, those already open keep theirs. On an error
    /// the configuration in force stays and the error says which file is wrong.
    ///
    /// An error too when the server has no TLS or was given a ready
    /// [`rustls::ServerConfig`] (then use [`set_tls_config`](Self::set_tls_config)).
    pub fn reload_tls(&self) -> Result<(), TlsError> {
        self.acceptor()?.reload()
    }

    /// Replaces the TLS configuration for the connections that follow.
    pub fn set_tls_config(&self, config: Arc<ServerConfig>) -> Result<(), TlsError> {
        self.acceptor()?.replace(config);
        Ok(())
    }

    fn acceptor(&self) -> Result<&Acceptor, TlsError> {
        self.shared
            .tls
            .as_ref()
            .ok_or_else(|| TlsError::Config("the streaming server does not serve TLS".into()))
    }
}
