//! Certificates for the TLS tests and benches, made fresh each time (rcgen): a CA, a server
//! certificate for `localhost` and 127.0.0.1, a client of that CA (CN `kubelet`, O
//! `system:nodes`) and an intruder whose certificate another CA signed; PEM files in a
//! temporary directory that lives as long as the [`Pki`].

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

/// A certificate and its private key, as PEM files.
pub struct Pair {
    /// The certificate.
    pub cert: PathBuf,
    /// Its key.
    pub key: PathBuf,
}

/// The files of one set of test certificates.
pub struct Pki {
    /// Where the files are (removed on drop).
    pub dir: tempfile::TempDir,
    /// The CA that signed the server's and the client's certificates.
    pub ca: PathBuf,
    /// The server's certificate (`localhost`, 127.0.0.1).
    pub server: Pair,
    /// The client's certificate.
    pub client: Pair,
    /// A client certificate of another CA.
    pub intruder: Pair,
}

fn ca(name: &str) -> (Issuer<'static, KeyPair>, String) {
    let key = KeyPair::generate().expect("generate a key");
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let pem = params.self_signed(&key).expect("self-sign the CA").pem();
    (Issuer::new(params, key), pem)
}

fn leaf(dir: &Path, name: &str, issuer: &Issuer<'_, KeyPair>, server: bool) -> Pair {
    let key = KeyPair::generate().expect("generate a key");
    let names = if server {
        vec!["localhost".to_string(), "127.0.0.1".to_string()]
    } else {
        Vec::new()
    };
    let mut params = CertificateParams::new(names).expect("leaf parameters");
    params.distinguished_name.push(DnType::CommonName, name);
    if name == "kubelet" {
        params
            .distinguished_name
            .push(DnType::OrganizationName, "system:nodes");
    }
    params.extended_key_usages = vec![if server {
        ExtendedKeyUsagePurpose::ServerAuth
    } else {
        ExtendedKeyUsagePurpose::ClientAuth
    }];
    let cert = params
        .signed_by(&key, issuer)
        .expect("sign the certificate");
    let pair = Pair {
        cert: dir.join(format!("{name}.pem")),
        key: dir.join(format!("{name}-key.pem")),
    };
    std::fs::write(&pair.cert, cert.pem()).expect("write a certificate");
    std::fs::write(&pair.key, key.serialize_pem()).expect("write a key");
    pair
}

impl Pki {
    /// New certificates in a new temporary directory.
    pub fn new() -> Pki {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let (issuer, pem) = ca("test CA");
        let (other, _) = ca("another CA");
        let ca_path = dir.path().join("ca.pem");
        std::fs::write(&ca_path, pem).expect("write the CA");
        Pki {
            ca: ca_path,
            server: leaf(dir.path(), "server", &issuer, true),
            client: leaf(dir.path(), "kubelet", &issuer, false),
            intruder: leaf(dir.path(), "intruder", &other, false),
            dir,
        }
    }
}

impl Default for Pki {
    fn default() -> Self {
        Pki::new()
    }
}
