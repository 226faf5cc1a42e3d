//! TLS between the server and the project's client (feature `tls`): exec, attach and port
//! forward over each transport with a client certificate the server verifies; a wrong, a
//! missing or an untrusted certificate refused with an error that says so; a rotated
//! server certificate taken without a restart.

#![cfg(all(feature = "tls", feature = "server", feature = "client"))]

mod common;
mod tls_support;

use common::{Counting, TestRuntime, exec_request};
use cri_streaming::TlsError;
use cri_streaming::client::{self, ClientTls, Error, ExecOptions, PortForwardOptions, Transport};
use cri_streaming::server::{Config, Runtime, Server, ServerTls};
use tls_support::{Pair, Pki};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const TRANSPORTS: [Transport; 2] = [Transport::WebSocket, Transport::Spdy];

async fn tls_server(pki: &Pki, verify_clients: bool, runtime: impl Runtime) -> Server {
    let ca = verify_clients.then_some(pki.ca.as_path());
    let mut config = Config::default();
    config.tls = Some(ServerTls::from_pem_files(&pki.server.cert, &pki.server.key, ca).unwrap());
    Server::start(config, runtime).await.unwrap()
}

fn client_tls(pki: &Pki, identity: Option<&Pair>) -> ClientTls {
    let mut builder = ClientTls::builder().ca_file(&pki.ca);
    if let Some(pair) = identity {
        builder = builder.client_cert_files(&pair.cert, &pair.key);
    }
    builder.build().unwrap()
}

async fn echo(server: &Server, transport: Transport, tls: ClientTls) -> Result<Vec<u8>, Error> {
    let request = exec_request(&["echo", "over", "tls"]);
    let url = server.get_exec(&request).unwrap().url;
    let options = ExecOptions::from_exec_request(&request)
        .transport(transport)
        .tls(tls);
    let out = client::exec(&url, &options).await?.output(b"").await?;
    assert_eq!(out.exit_code, 0);
    Ok(out.stdout)
}

#[tokio::test]
async fn exec_with_a_verified_client_certificate() {
    let pki = Pki::new();
    let server = tls_server(&pki, true, TestRuntime).await;
    assert!(server.base_url().starts_with("https://127.0.0.1:"));
    for transport in TRANSPORTS {
        let out = echo(&server, transport, client_tls(&pki, Some(&pki.client))).await;
        assert_eq!(out.unwrap(), b"over tls\n", "{transport}");
    }
    // Auto: a WebSocket first.
    let out = echo(
        &server,
        Transport::Auto,
        client_tls(&pki, Some(&pki.client)),
    )
    .await;
    assert_eq!(out.unwrap(), b"over tls\n");
}

#[tokio::test]
async fn a_wrong_or_missing_client_certificate_is_refused_and_nothing_runs() {
    let pki = Pki::new();
    let runtime = Counting::default();
    let server = tls_server(&pki, true, runtime.clone()).await;
    for transport in TRANSPORTS {
        for identity in [Some(&pki.intruder), None] {
            let error = echo(&server, transport, client_tls(&pki, identity))
                .await
                .unwrap_err();
            let message = error.to_string();
            assert!(
                matches!(error, Error::Tls(_)) && message.contains("certificate"),
                "{transport} with {}: {message}",
                if identity.is_some() {
                    "the intruder's"
                } else {
                    "no certificate"
                }
            );
        }
    }
    assert_eq!(runtime.started(), 0);
}

#[tokio::test]
async fn the_server_is_verified_unless_told_otherwise() {
    let pki = Pki::new();
    let server = tls_server(&pki, false, TestRuntime).await;
    // A CA that did not sign the server's certificate.
    let untrusted = ClientTls::builder().ca_file(&pki.other_ca).build().unwrap();
    let error = echo(&server, Transport::WebSocket, untrusted)
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Tls(_)), "{error}");
    assert!(error.to_string().contains("not trusted"), "{error}");
    // The name checked is the URL's host (127.0.0.1, in the certificate), or the one given.
    let wrong_name = client_tls(&pki, None).server_name("example.com").unwrap();
    let error = echo(&server, Transport::Spdy, wrong_name)
        .await
        .unwrap_err();
    assert!(error.to_string().contains("not trusted"), "{error}");
    let right_name = client_tls(&pki, None).server_name("localhost").unwrap();
    assert_eq!(
        echo(&server, Transport::Spdy, right_name).await.unwrap(),
        b"over tls\n"
    );
    // Go crictl without --tls-* flags: encrypted, not verified.
    for transport in TRANSPORTS {
        let out = echo(&server, transport, ClientTls::insecure()).await;
        assert_eq!(out.unwrap(), b"over tls\n");
    }
    assert!(ClientTls::insecure().server_name("not a name!").is_err());
}

#[tokio::test]
async fn attach_and_port_forward_over_tls() {
    let pki = Pki::new();
    let server = tls_server(&pki, true, TestRuntime).await;
    for transport in TRANSPORTS {
        let request = cri_api_v1::AttachRequest {
            container_id: "web".into(),
            stdin: true,
            stdout: true,
            ..Default::default()
        };
        let url = server.get_attach(&request).unwrap().url;
        let options = ExecOptions::from_attach_request(&request)
            .transport(transport)
            .tls(client_tls(&pki, Some(&pki.client)));
        let out = client::attach(&url, &options)
            .await
            .unwrap()
            .output(b"typed\n")
            .await
            .unwrap();
        assert_eq!(out.stdout, b"attached to web\ntyped\n", "{transport}");

        let request = cri_api_v1::PortForwardRequest {
            pod_sandbox_id: "pod".into(),
            port: vec![8080],
        };
        let url = server.get_port_forward(&request).unwrap().url;
        let options = PortForwardOptions::new()
            .transport(transport)
            .tls(client_tls(&pki, Some(&pki.client)));
        let forward = client::port_forward(&url, &[8080], &options).await.unwrap();
        let mut conn = forward.connect(8080).await.unwrap();
        conn.write_all(b"ping over tls").await.unwrap();
        // (A WebSocket port forward has no half-close: read what comes back, not to the end.)
        let mut echoed = [0u8; 13];
        conn.read_exact(&mut echoed).await.unwrap();
        assert_eq!(&echoed, b"ping over tls", "{transport}");
    }
}

#[tokio::test]
async fn a_rotated_certificate_is_served_after_a_reload() {
    let pki = Pki::new();
    let server = tls_server(&pki, false, TestRuntime).await;
    let rotated = pki.rotated_server();
    let trusts_rotated = || {
        ClientTls::builder()
            .ca_file(pki.rotated_ca())
            .build()
            .unwrap()
    };
    assert!(
        echo(&server, Transport::Spdy, trusts_rotated())
            .await
            .is_err()
    );

    // A half-written rotation (the key still the old one) is refused; the old one stays.
    std::fs::copy(&rotated.cert, &pki.server.cert).unwrap();
    let error = server.reload_tls().unwrap_err();
    assert!(
        error
            .to_string()
            .contains(&pki.server.key.display().to_string()),
        "{error}"
    );
    assert!(
        echo(&server, Transport::Spdy, client_tls(&pki, None))
            .await
            .is_ok()
    );

    std::fs::copy(&rotated.key, &pki.server.key).unwrap();
    server.reload_tls().unwrap();
    assert_eq!(
        echo(&server, Transport::Spdy, trusts_rotated())
            .await
            .unwrap(),
        b"over tls\n"
    );
    assert!(
        echo(&server, Transport::Spdy, client_tls(&pki, None))
            .await
            .is_err()
    );

    // Without TLS there is nothing to reload.
    let plain = Server::start(Config::default(), TestRuntime).await.unwrap();
    assert!(plain.reload_tls().is_err());
}

#[tokio::test]
async fn bad_tls_files_name_the_file() {
    let pki = Pki::new();
    let missing = pki.dir.path().join("missing.pem");
    let garbage = pki.dir.path().join("garbage.pem");
    std::fs::write(&garbage, "not a certificate\n").unwrap();
    let none: Option<&std::path::Path> = None;
    let cases: Vec<(Result<ServerTls, TlsError>, String)> = vec![
        (
            ServerTls::from_pem_files(&missing, &pki.server.key, none),
            format!("certificate {}: ", missing.display()),
        ),
        (
            ServerTls::from_pem_files(&garbage, &pki.server.key, none),
            format!("certificate {}: no CERTIFICATE section", garbage.display()),
        ),
        (
            ServerTls::from_pem_files(&pki.server.cert, &garbage, none),
            format!("private key {}: no PRIVATE KEY section", garbage.display()),
        ),
        (
            ServerTls::from_pem_files(&pki.server.cert, &pki.client.key, none),
            format!(
                "certificate {} with key {}",
                pki.server.cert.display(),
                pki.client.key.display()
            ),
        ),
        (
            ServerTls::from_pem_files(&pki.server.cert, &pki.server.key, Some(&garbage)),
            format!(
                "CA certificate {}: no CERTIFICATE section",
                garbage.display()
            ),
        ),
    ];
    for (result, want) in cases {
        let error = result.unwrap_err().to_string();
        assert!(
            error.starts_with(&want),
            "{error:?} should start with {want:?}"
        );
        assert!(!error.contains("PRIVATE KEY-----"), "{error}");
    }
    let error = ClientTls::builder()
        .ca_file(&pki.ca)
        .client_cert_files(&pki.client.cert, &missing)
        .build()
        .unwrap_err();
    assert!(error.to_string().starts_with("private key"), "{error}");
}

#[tokio::test]
async fn an_http_url_ignores_the_tls_settings() {
    let pki = Pki::new();
    let server = Server::start(Config::default(), TestRuntime).await.unwrap();
    let out = echo(
        &server,
        Transport::WebSocket,
        client_tls(&pki, Some(&pki.client)),
    )
    .await;
    assert_eq!(out.unwrap(), b"over tls\n");
}
