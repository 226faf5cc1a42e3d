//! Hostile clients of a TLS server: a flood of connections that never finish the handshake
//! (silent, a partial ClientHello, plain HTTP at a TLS port) is dropped after the
//! handshake timeout while a real client is served; connections still shaking hands count
//! against the connection cap (the oldest closed past it); the session cap holds with TLS.
//! Every loop is bounded in count and time; traffic stays on 127.0.0.1.

#![cfg(all(feature = "tls", feature = "server", feature = "client"))]

mod common;
mod tls_support;

use std::time::{Duration, Instant};

use common::{TestRuntime, exec_request};
use cri_streaming::client::{self, ClientTls, Error, ExecOptions, Transport};
use cri_streaming::server::{Config, Server, ServerTls};
use tls_support::Pki;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const FLOOD: usize = 200;
const HANDSHAKE_TIMEOUT: Duration = Duration::from_millis(500);

async fn server(pki: &Pki, max_sessions: usize) -> Server {
    let mut config = Config::default();
    config.max_sessions = max_sessions;
    config.tls = Some(
        ServerTls::from_pem_files(&pki.server.cert, &pki.server.key, Some(&pki.ca))
            .unwrap()
            .handshake_timeout(HANDSHAKE_TIMEOUT),
    );
    Server::start(config, TestRuntime).await.unwrap()
}

fn client_tls(pki: &Pki) -> ClientTls {
    ClientTls::builder()
        .ca_file(&pki.ca)
        .client_cert_files(&pki.client.cert, &pki.client.key)
        .build()
        .unwrap()
}

/// The start of a TLS 1.2/1.3 ClientHello record that never completes.
const PARTIAL_HELLO: &[u8] = &[
    0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03,
];

#[tokio::test]
async fn a_handshake_flood_is_dropped_after_the_timeout_and_real_clients_are_served() {
    let pki = Pki::new();
    let server = server(&pki, 256).await;
    let mut flood = Vec::with_capacity(FLOOD);
    for i in 0..FLOOD {
        let mut tcp = TcpStream::connect(server.local_addr()).await.unwrap();
        match i % 3 {
            0 => {}
            1 => tcp.write_all(PARTIAL_HELLO).await.unwrap(),
            _ => tcp
                .write_all(b"GET /exec/x HTTP/1.1\r\nHost: a\r\n\r\n")
                .await
                .unwrap(),
        }
        flood.push(tcp);
    }

    // A real client meanwhile, over each transport, promptly.
    for transport in [Transport::WebSocket, Transport::Spdy] {
        let request = exec_request(&["echo", "served"]);
        let url = server.get_exec(&request).unwrap().url;
        let options = ExecOptions::from_exec_request(&request)
            .transport(transport)
            .tls(client_tls(&pki));
        let started = Instant::now();
        let out = client::exec(&url, &options)
            .await
            .unwrap()
            .output(b"")
            .await
            .unwrap();
        assert_eq!(out.stdout, b"served\n");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
    }

    // Every flooding connection is closed by the server within the timeout (and a margin):
    // end of stream, or an error (a TLS alert then a reset for the plain HTTP ones).
    let deadline = Instant::now() + HANDSHAKE_TIMEOUT + Duration::from_secs(10);
    for (i, mut tcp) in flood.into_iter().enumerate() {
        let mut buf = [0u8; 4096];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, tcp.read(&mut buf)).await {
                Err(_) => panic!("connection {i} is still open past the handshake timeout"),
                Ok(Ok(0)) | Ok(Err(_)) => break,
                // An alert; then the close.
                Ok(Ok(_)) => continue,
            }
        }
    }
}

#[tokio::test]
async fn the_session_cap_holds_with_tls() {
    let pki = Pki::new();
    let server = server(&pki, 1).await;
    let request = cri_api_v1::ExecRequest {
        stdin: true,
        ..exec_request(&["cat"])
    };
    let url = server.get_exec(&request).unwrap().url;
    let options = ExecOptions::from_exec_request(&request)
        .transport(Transport::Spdy)
        .tls(client_tls(&pki));
    let mut first = client::exec(&url, &options).await.unwrap();

    let url = server.get_exec(&request).unwrap().url;
    match client::exec(&url, &options).await.unwrap_err() {
        Error::Refused { status: 503, .. } => {}
        other => panic!("a second session got {other}"),
    }
    // The first one still works, then frees its slot.
    let mut stdin = first.stdin.take().unwrap();
    stdin.write_all(b"still here").await.unwrap();
    stdin.shutdown().await.unwrap();
    let mut out = Vec::new();
    first
        .stdout
        .take()
        .unwrap()
        .read_to_end(&mut out)
        .await
        .unwrap();
    assert_eq!(out, b"still here");
    drop(stdin);
    assert_eq!(first.wait().await.unwrap(), 0);
    let url = server.get_exec(&request).unwrap().url;
    let mut deadline = 50;
    loop {
        match client::exec(&url, &options).await {
            Ok(session) => {
                drop(session);
                break;
            }
            // The slot is freed when the server's session task ends, a moment later; the
            // refused attempt did not spend the token (the cap is checked first).
            Err(Error::Refused { status: 503, .. }) if deadline > 0 => {
                deadline -= 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(other) => panic!("after the first session ended: {other}"),
        }
    }
}

/// Connections still in their TLS handshake count against `max_connections`: past the cap
/// the oldest is closed, so a flood of silent clients cannot hold the server until a long
/// handshake timeout passes, and a real client is served at once.
#[tokio::test]
async fn handshakes_in_progress_fall_under_the_connection_cap() {
    const CAP: usize = 16;
    let pki = Pki::new();
    let mut config = Config::default();
    config.max_connections = CAP;
    config.tls = Some(
        ServerTls::from_pem_files(&pki.server.cert, &pki.server.key, Some(&pki.ca))
            .unwrap()
            // Far longer than the test: only the cap can close the flood.
            .handshake_timeout(Duration::from_secs(120)),
    );
    let server = Server::start(config, TestRuntime).await.unwrap();
    let mut flood = Vec::with_capacity(FLOOD);
    for i in 0..FLOOD {
        let mut tcp = TcpStream::connect(server.local_addr()).await.unwrap();
        if i % 2 == 1 {
            tcp.write_all(PARTIAL_HELLO).await.unwrap();
        }
        flood.push(tcp);
    }

    let request = exec_request(&["echo", "served"]);
    let url = server.get_exec(&request).unwrap().url;
    let options = ExecOptions::from_exec_request(&request)
        .transport(Transport::Spdy)
        .tls(client_tls(&pki));
    let started = Instant::now();
    let out = tokio::time::timeout(Duration::from_secs(10), async {
        client::exec(&url, &options)
            .await
            .unwrap()
            .output(b"")
            .await
            .unwrap()
    })
    .await
    .expect("a real client is served during the flood");
    assert_eq!(out.stdout, b"served\n");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );

    // All but the newest CAP - 1 flooding connections are closed, long before the handshake
    // timeout (the real client took a place, then left as a session).
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut closed = 0;
    for mut tcp in flood {
        let mut buf = [0u8; 64];
        let left = deadline.saturating_duration_since(Instant::now());
        let wait = left.min(Duration::from_millis(200));
        if let Ok(Ok(0) | Err(_)) = tokio::time::timeout(wait, tcp.read(&mut buf)).await {
            closed += 1;
        }
    }
    assert!(
        closed >= FLOOD - CAP,
        "only {closed} of {FLOOD} handshaking connections were closed at a cap of {CAP}"
    );
}
