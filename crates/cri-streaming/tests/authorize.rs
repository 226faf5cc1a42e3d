//! The authorization hook: it sees the request (method, path, peer, client certificate, the
//! CRI request) before anything runs; a refusal is a 403 with its reason, the token is
//! spent and the runtime is never called, over each transport and for exec, attach and
//! port forward.

mod common;
#[cfg(feature = "tls")]
mod tls_support;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use common::{TestRuntime, exec_request};
use cri_streaming::client::{self, Error, ExecOptions, PortForwardOptions, Transport};
use cri_streaming::server::{
    AccessRequest, BoxError, BoxFuture, Config, CriRequest, Denied, PortStream, Runtime, Server,
    Streams,
};

const TRANSPORTS: [Transport; 2] = [Transport::WebSocket, Transport::Spdy];

/// [`TestRuntime`] counting every call: exec, attach and port forward.
#[derive(Clone, Default)]
struct Calls(Arc<AtomicUsize>);

impl Calls {
    fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

impl Runtime for Calls {
    fn exec(
        &self,
        request: cri_api_v1::ExecRequest,
        streams: Streams,
    ) -> BoxFuture<Result<i32, BoxError>> {
        self.0.fetch_add(1, Ordering::SeqCst);
        TestRuntime.exec(request, streams)
    }
    fn attach(
        &self,
        request: cri_api_v1::AttachRequest,
        streams: Streams,
    ) -> BoxFuture<Result<(), BoxError>> {
        self.0.fetch_add(1, Ordering::SeqCst);
        TestRuntime.attach(request, streams)
    }
    fn port_forward(
        &self,
        pod: String,
        port: u16,
        stream: Box<dyn PortStream>,
    ) -> BoxFuture<Result<(), BoxError>> {
        self.0.fetch_add(1, Ordering::SeqCst);
        TestRuntime.port_forward(pod, port, stream)
    }
}

/// What the hook saw of one request.
#[derive(Debug, Clone, PartialEq)]
struct Seen {
    method: String,
    path: String,
    peer: SocketAddr,
    common_name: Option<String>,
    organizations: Vec<String>,
    request: String,
}

fn seen(request: &AccessRequest<'_>) -> Seen {
    Seen {
        method: request.method.to_string(),
        path: request.path.to_string(),
        peer: request.peer,
        common_name: request
            .client_certificate
            .and_then(|c| c.common_name().map(str::to_string)),
        organizations: request
            .client_certificate
            .map(|c| c.organizations().to_vec())
            .unwrap_or_default(),
        request: match request.request {
            CriRequest::Exec(r) => format!("exec {} {:?}", r.container_id, r.cmd),
            CriRequest::Attach(r) => format!("attach {}", r.container_id),
            CriRequest::PortForward(r) => format!("portforward {} {:?}", r.pod_sandbox_id, r.port),
            _ => "other".into(),
        },
    }
}

fn assert_denied(error: Error, reason: &str) {
    match &error {
        Error::Refused {
            status: 403, body, ..
        } => assert_eq!(body, reason),
        other => panic!("expected a 403 with {reason:?}, got {other}"),
    }
}

#[tokio::test]
async fn refused_by_peer_address_nothing_runs_and_the_token_is_spent() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let mut config = Config::default();
    let record = log.clone();
    config.authorizer = Some(Arc::new(move |request: &AccessRequest<'_>| {
        record.lock().unwrap().push(seen(request));
        if request.peer.ip().is_loopback() {
            Err(Denied::new(format!("{} may not stream", request.peer.ip())))
        } else {
            Ok(())
        }
    }));
    let runtime = Calls::default();
    let server = Server::start(config, runtime.clone()).await.unwrap();
    for transport in TRANSPORTS {
        let request = exec_request(&["echo", "hi"]);
        let url = server.get_exec(&request).unwrap().url;
        let options = ExecOptions::from_exec_request(&request).transport(transport);
        let error = client::exec(&url, &options).await.unwrap_err();
        assert_denied(error, "127.0.0.1 may not stream");
        // The token went with the refusal.
        match client::exec(&url, &options).await.unwrap_err() {
            Error::Refused { status: 404, .. } => {}
            other => panic!("{transport}: the second attempt got {other}"),
        }

        let attach = cri_api_v1::AttachRequest {
            container_id: "web".into(),
            stdout: true,
            ..Default::default()
        };
        let url = server.get_attach(&attach).unwrap().url;
        let options = ExecOptions::from_attach_request(&attach).transport(transport);
        assert_denied(
            client::attach(&url, &options).await.unwrap_err(),
            "127.0.0.1 may not stream",
        );

        let forward = cri_api_v1::PortForwardRequest {
            pod_sandbox_id: "pod".into(),
            port: vec![80],
        };
        let url = server.get_port_forward(&forward).unwrap().url;
        let options = PortForwardOptions::new().transport(transport);
        let error = client::port_forward(&url, &[80], &options)
            .await
            .unwrap_err();
        assert_denied(error, "127.0.0.1 may not stream");
    }
    // Auto falls back on a refused WebSocket, but not past a refusal of the hook: its
    // reason is what the caller reads, not the 404 of the spent token.
    let request = exec_request(&["echo", "hi"]);
    let url = server.get_exec(&request).unwrap().url;
    let error = client::exec(&url, &ExecOptions::from_exec_request(&request))
        .await
        .unwrap_err();
    assert_denied(error, "127.0.0.1 may not stream");
    assert_eq!(runtime.count(), 0, "the runtime was called");

    let log = log.lock().unwrap();
    // Exec (2 transports, then Auto: WebSocket then SPDY), attach and port forward.
    assert_eq!(log.len(), 2 * 3 + 1);
    let first = &log[0];
    assert_eq!(first.method, "GET");
    assert!(first.path.starts_with("/exec/"), "{}", first.path);
    assert!(first.peer.ip().is_loopback());
    assert_eq!(first.request, r#"exec c1 ["echo", "hi"]"#);
    assert_eq!(
        (first.common_name.as_deref(), first.organizations.len()),
        (None, 0)
    );
    assert_eq!(log[3].method, "POST", "SPDY");
    assert_eq!(log[2].request, "portforward pod [80]");
}

#[tokio::test]
async fn admitted_requests_run() {
    let mut config = Config::default();
    config.authorizer = Some(Arc::new(|request: &AccessRequest<'_>| {
        match request.request {
            CriRequest::Exec(exec) if exec.cmd.first().is_some_and(|c| c == "echo") => Ok(()),
            _ => Err(Denied::new("only echo")),
        }
    }));
    let runtime = Calls::default();
    let server = Server::start(config, runtime.clone()).await.unwrap();
    for transport in TRANSPORTS {
        let request = exec_request(&["echo", "allowed"]);
        let url = server.get_exec(&request).unwrap().url;
        let options = ExecOptions::from_exec_request(&request).transport(transport);
        let out = client::exec(&url, &options)
            .await
            .unwrap()
            .output(b"")
            .await
            .unwrap();
        assert_eq!(out.stdout, b"allowed\n");
        let request = exec_request(&["exit", "3"]);
        let url = server.get_exec(&request).unwrap().url;
        let options = ExecOptions::from_exec_request(&request).transport(transport);
        assert_denied(client::exec(&url, &options).await.unwrap_err(), "only echo");
    }
    assert_eq!(runtime.count(), 2);
}

/// Only one client certificate is admitted (the docs' example): another certificate of
/// the same CA passes the TLS handshake and is refused by the hook.
#[cfg(feature = "tls")]
#[tokio::test]
async fn refused_by_client_certificate() {
    use cri_streaming::client::ClientTls;
    use cri_streaming::server::ServerTls;
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;

    let pki = tls_support::Pki::new();
    let admitted = CertificateDer::from_pem_file(&pki.client.cert).unwrap();
    let admitted: String = ring_sha256_hex(admitted.as_ref());
    let log = Arc::new(Mutex::new(Vec::new()));
    let record = log.clone();
    let mut config = Config::default();
    config.tls =
        Some(ServerTls::from_pem_files(&pki.server.cert, &pki.server.key, Some(&pki.ca)).unwrap());
    config.authorizer = Some(Arc::new(move |request: &AccessRequest<'_>| {
        record.lock().unwrap().push(seen(request));
        match request.client_certificate {
            Some(cert) if cert.sha256_hex() == admitted => Ok(()),
            Some(cert) => Err(Denied::new(format!(
                "certificate {:?} may not stream",
                cert.common_name().unwrap_or_default()
            ))),
            None => Err(Denied::new("a client certificate is required")),
        }
    }));
    let runtime = Calls::default();
    let server = Server::start(config, runtime.clone()).await.unwrap();
    let tls = |pair: &tls_support::Pair| {
        ClientTls::builder()
            .ca_file(&pki.ca)
            .client_cert_files(&pair.cert, &pair.key)
            .build()
            .unwrap()
    };
    for (admitted_before, transport) in TRANSPORTS.into_iter().enumerate() {
        let request = exec_request(&["echo", "hi"]);
        let url = server.get_exec(&request).unwrap().url;
        let options = ExecOptions::from_exec_request(&request)
            .transport(transport)
            .tls(tls(&pki.other));
        assert_denied(
            client::exec(&url, &options).await.unwrap_err(),
            "certificate \"other\" may not stream",
        );
        assert_eq!(
            runtime.count(),
            admitted_before,
            "{transport}: the runtime was called"
        );

        let url = server.get_exec(&request).unwrap().url;
        let options = options.tls(tls(&pki.client));
        let out = client::exec(&url, &options)
            .await
            .unwrap()
            .output(b"")
            .await
            .unwrap();
        assert_eq!(out.stdout, b"hi\n");
    }
    assert_eq!(runtime.count(), 2);
    let log = log.lock().unwrap();
    assert_eq!(log[0].common_name.as_deref(), Some("other"));
    assert_eq!(log[1].common_name.as_deref(), Some("kubelet"));
    assert_eq!(log[1].organizations, ["system:nodes"]);
}

/// The fingerprint as `openssl x509 -fingerprint -sha256` would give it, lowercased.
#[cfg(feature = "tls")]
fn ring_sha256_hex(der: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, der)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
