//! What the server's and the client's TLS share: the crypto provider (rustls with `ring`),
//! reading certificates, keys and CA bundles from PEM files, and [`TlsError`].

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::RootCertStore;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// Why a TLS setting could not be used. The message names the file and what is wrong with
/// it; key material never appears in it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A PEM file could not be read or holds nothing usable.
    #[error("{what} {path}: {reason}")]
    File {
        /// What the file was to hold (`certificate`, `private key`, `CA certificate`).
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// rustls refused the settings (a key that does not match its certificate, a CA that is
    /// not a usable trust anchor, and the like).
    #[error("{0}")]
    Config(String),
}

/// The crypto provider of every configuration built here: rustls' `ring` provider, chosen
/// explicitly so that another crate enabling a second provider changes nothing, with the
/// AES-128-GCM suites first (as Go orders them on hardware with AES instructions: the
/// fastest of the safe suites for bulk data, which a stream of output is).
pub(crate) fn provider() -> Arc<CryptoProvider> {
    use rustls::CipherSuite::{
        TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        TLS13_AES_128_GCM_SHA256,
    };
    let mut provider = rustls::crypto::ring::default_provider();
    provider.cipher_suites.sort_by_key(|suite| {
        !matches!(
            suite.suite(),
            TLS13_AES_128_GCM_SHA256
                | TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
                | TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
        )
    });
    Arc::new(provider)
}

fn file_error(what: &'static str, path: &Path, reason: impl ToString) -> TlsError {
    TlsError::File {
        what,
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

/// Why a PEM file gave nothing: rustls-pki-types' error, made readable (the I/O error as
/// it is, a missing section by its kind).
fn pem_reason(error: rustls::pki_types::pem::Error, section: &str) -> String {
    use rustls::pki_types::pem::Error;
    match error {
        Error::Io(e) => e.to_string(),
        Error::NoItemsFound => format!("no {section} in it (expected a PEM file)"),
        other => format!("not valid PEM: {other:?}"),
    }
}

/// The certificates of a PEM file, in order (a leaf then its intermediates); at least one.
pub(crate) fn load_certs(
    what: &'static str,
    path: &Path,
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let iter = CertificateDer::pem_file_iter(path)
        .map_err(|e| file_error(what, path, pem_reason(e, "CERTIFICATE section")))?;
    let certs = iter
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_error(what, path, pem_reason(e, "CERTIFICATE section")))?;
    if certs.is_empty() {
        return Err(file_error(
            what,
            path,
            "no CERTIFICATE section in it (expected a PEM file)",
        ));
    }
    Ok(certs)
}

/// The first private key of a PEM file (PKCS#8, PKCS#1 RSA or SEC1 EC).
pub(crate) fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_file(path)
        .map_err(|e| file_error("private key", path, pem_reason(e, "PRIVATE KEY section")))
}

/// A trust store of the certificates of a PEM bundle; each must be a usable trust anchor.
pub(crate) fn load_roots(path: &Path) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    for cert in load_certs("CA certificate", path)? {
        roots
            .add(cert)
            .map_err(|e| file_error("CA certificate", path, format!("not a usable CA: {e}")))?;
    }
    Ok(roots)
}

/// The protocol both sides announce with ALPN: the streaming upgrades are HTTP/1.1.
pub(crate) const ALPN_HTTP1: &[u8] = b"http/1.1";
