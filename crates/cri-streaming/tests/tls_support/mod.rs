//! Certificates for the TLS tests, made fresh by each test (rcgen): a CA, a server
//! certificate for `localhost` and 127.0.0.1, two clients of that CA, and an intruder whose
//! certificate another CA signed; PEM files in a temporary directory.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

/// A certificate and its key, as PEM files.
pub struct Pair {
    pub cert: PathBuf,
    pub key: PathBuf,
}

pub struct Pki {
    pub dir: tempfile::TempDir,
    /// The CA of the server and the clients.
    pub ca: PathBuf,
    pub server: Pair,
    /// A client certificate with CN `kubelet`, O `system:nodes`.
    pub client: Pair,
    /// Another client certificate of the same CA, CN `other`.
    pub other: Pair,
    /// A client certificate from another CA, CN `intruder`.
    pub intruder: Pair,
    /// The other CA.
    pub other_ca: PathBuf,
}

struct Ca {
    issuer: Issuer<'static, KeyPair>,
    pem: String,
}

fn ca(name: &str) -> Ca {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let pem = params.self_signed(&key).unwrap().pem();
    Ca {
        issuer: Issuer::new(params, key),
        pem,
    }
}

fn leaf(dir: &Path, name: &str, ca: &Ca, server: bool, subject: &[(DnType, &str)]) -> Pair {
    let key = KeyPair::generate().unwrap();
    let names = if server {
        vec!["localhost".to_string(), "127.0.0.1".to_string()]
    } else {
        Vec::new()
    };
    let mut params = CertificateParams::new(names).unwrap();
    for (kind, value) in subject {
        params.distinguished_name.push(kind.clone(), *value);
    }
    params.extended_key_usages = vec![if server {
        ExtendedKeyUsagePurpose::ServerAuth
    } else {
        ExtendedKeyUsagePurpose::ClientAuth
    }];
    let cert = params.signed_by(&key, &ca.issuer).unwrap();
    let pair = Pair {
        cert: dir.join(format!("{name}.pem")),
        key: dir.join(format!("{name}-key.pem")),
    };
    std::fs::write(&pair.cert, cert.pem()).unwrap();
    std::fs::write(&pair.key, key.serialize_pem()).unwrap();
    pair
}

impl Pki {
    pub fn new() -> Pki {
        let dir = tempfile::tempdir().unwrap();
        let (main, other_ca) = (ca("test CA"), ca("another CA"));
        let write = |name: &str, pem: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, pem).unwrap();
            path
        };
        let ca_path = write("ca.pem", &main.pem);
        let other_ca_path = write("other-ca.pem", &other_ca.pem);
        let d = dir.path();
        Pki {
            ca: ca_path,
            server: leaf(
                d,
                "server",
                &main,
                true,
                &[(DnType::CommonName, "streaming")],
            ),
            client: leaf(
                d,
                "client",
                &main,
                false,
                &[
                    (DnType::CommonName, "kubelet"),
                    (DnType::OrganizationName, "system:nodes"),
                ],
            ),
            other: leaf(d, "other", &main, false, &[(DnType::CommonName, "other")]),
            intruder: leaf(
                d,
                "intruder",
                &other_ca,
                false,
                &[(DnType::CommonName, "intruder")],
            ),
            other_ca: other_ca_path,
            dir,
        }
    }

    /// A server certificate of another CA, for rotation: (cert, key).
    pub fn rotated_server(&self) -> Pair {
        let other = ca("rotated CA");
        let pair = leaf(
            self.dir.path(),
            "rotated",
            &other,
            true,
            &[(DnType::CommonName, "streaming")],
        );
        std::fs::write(self.dir.path().join("rotated-ca.pem"), &other.pem).unwrap();
        pair
    }

    pub fn rotated_ca(&self) -> PathBuf {
        self.dir.path().join("rotated-ca.pem")
    }
}
