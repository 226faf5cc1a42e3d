//! Bad input against the server: unknown, used and expired tokens, malformed and oversized
//! messages, clients that never read or leave mid-stream, too many sessions. Each ends its
//! own connection with an error; the server keeps serving the others.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::{Counting, exec_request};
use cri_streaming::client::{self, Error, ExecOptions, Transport};
use cri_streaming::server::{Config, Server};
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

async fn server(config: Config) -> (Server, Counting) {
    let runtime = Counting::default();
    (
        Server::start(config, runtime.clone()).await.unwrap(),
        runtime,
    )
}

fn config(set: impl FnOnce(&mut Config)) -> Config {
    let mut config = Config::default();
    set(&mut config);
    config
}

fn ws_options() -> ExecOptions {
    ExecOptions::new().transport(Transport::WebSocket)
}

/// The server still serves a normal session.
async fn still_serves(server: &Server) {
    let url = server
        .get_exec(&exec_request(&["echo", "alive"]))
        .unwrap()
        .url;
    let out = client::exec(&url, &ws_options())
        .await
        .unwrap()
        .output(b"")
        .await
        .unwrap();
    assert_eq!(out.stdout, b"alive\n");
}

/// A raw WebSocket connection with `protocol`.
async fn raw(
    url: &str,
    protocol: &str,
) -> tokio_tungstenite::WebSocketStream<tokio::net::TcpStream> {
    let url = url.replacen("http://", "ws://", 1);
    let mut request = url.as_str().into_client_request().unwrap();
    request
        .headers_mut()
        .insert("sec-websocket-protocol", protocol.parse().unwrap());
    let addr = url
        .trim_start_matches("ws://")
        .split('/')
        .next()
        .unwrap()
        .to_string();
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tokio_tungstenite::client_async(request, tcp)
        .await
        .unwrap()
        .0
}

/// Reads until the server ends the connection; the close frame's reason, if any.
async fn until_closed(
    ws: &mut tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>,
) -> Option<String> {
    let read = async {
        while let Some(message) = ws.next().await {
            match message {
                Ok(Message::Close(frame)) => return frame.map(|f| f.reason.to_string()),
                Ok(_) => {}
                Err(_) => return None,
            }
        }
        None
    };
    tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .expect("the server ends the connection")
}

#[tokio::test]
async fn unknown_used_expired_and_misrouted_tokens_are_404_and_run_nothing() {
    let (server, runtime) = server(config(|c| c.token_ttl = Duration::from_millis(200))).await;
    let base = server.base_url().to_string();
    for url in [
        format!("{base}exec/unknown-token"),
        format!("{base}exec/"),
        format!("{base}nothing/here"),
    ] {
        match client::exec(&url, &ws_options()).await {
            Err(Error::Refused { status: 404, .. }) => {}
            other => panic!("{url}: {other:?}"),
        }
    }
    // An exec token on the attach path.
    let url = server.get_exec(&exec_request(&["echo"])).unwrap().url;
    let wrong = url.replacen("/exec/", "/attach/", 1);
    assert!(matches!(
        client::exec(&wrong, &ws_options()).await,
        Err(Error::Refused { status: 404, .. })
    ));
    // Used.
    let url = server.get_exec(&exec_request(&["echo"])).unwrap().url;
    client::exec(&url, &ws_options())
        .await
        .unwrap()
        .wait()
        .await
        .unwrap();
    assert_eq!(runtime.started(), 1);
    assert!(matches!(
        client::exec(&url, &ws_options()).await,
        Err(Error::Refused { status: 404, .. })
    ));
    // Expired.
    let url = server.get_exec(&exec_request(&["echo"])).unwrap().url;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(matches!(
        client::exec(&url, &ws_options()).await,
        Err(Error::Refused { status: 404, .. })
    ));
    assert_eq!(runtime.started(), 1, "nothing ran for the refused tokens");
}

#[tokio::test]
async fn a_refused_upgrade_leaves_the_token_usable() {
    let (server, runtime) = server(Config::default()).await;
    let url = server
        .get_exec(&exec_request(&["echo", "later"]))
        .unwrap()
        .url;
    // A plain GET, then an unsupported subprotocol.
    let addr = server.local_addr();
    let path = url.split_once(&addr.to_string()).unwrap().1.to_string();
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tcp.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    let mut answer = String::new();
    tcp.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    let ws_url = url.replacen("http://", "ws://", 1);
    let mut request = ws_url.as_str().into_client_request().unwrap();
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "v9.channel.k8s.io".parse().unwrap(),
    );
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let error = tokio_tungstenite::client_async(request, tcp)
        .await
        .unwrap_err();
    assert!(error.to_string().contains("400"), "{error}");
    assert_eq!(runtime.started(), 0);
    let out = client::exec(&url, &ws_options())
        .await
        .unwrap()
        .output(b"")
        .await
        .unwrap();
    assert_eq!(out.stdout, b"later\n");
}

#[tokio::test]
async fn malformed_messages_end_the_connection_with_a_reason() {
    let (server, _) = server(Config::default()).await;
    let cases: Vec<(&str, Message, &str)> = vec![
        ("v4.channel.k8s.io", Message::text("1aGk="), "text"),
        (
            "v4.base64.channel.k8s.io",
            Message::Binary(Bytes::from_static(&[0, 1])),
            "binary",
        ),
        ("v4.base64.channel.k8s.io", Message::text("x"), "digit"),
        ("v4.base64.channel.k8s.io", Message::text("0!!"), "base64"),
        (
            "v5.channel.k8s.io",
            Message::Binary(Bytes::from_static(&[255, 0, 0])),
            "close signal",
        ),
        (
            "v4.channel.k8s.io",
            Message::Binary(Bytes::from_static(&[7, 1, 2])),
            "channel 7",
        ),
        // Stdout is the server's to write.
        (
            "v4.channel.k8s.io",
            Message::Binary(Bytes::from_static(&[1, 1])),
            "channel 1",
        ),
    ];
    for (protocol, message, expect) in cases {
        let mut request = exec_request(&["sleep", "60000"]);
        request.stdin = true;
        let url = server.get_exec(&request).unwrap().url;
        let mut ws = raw(&url, protocol).await;
        ws.send(message).await.unwrap();
        let reason = until_closed(&mut ws).await.unwrap_or_default();
        assert!(
            reason.contains(expect),
            "{protocol}: {reason:?} should name {expect:?}"
        );
        still_serves(&server).await;
    }
}

#[tokio::test]
async fn an_oversized_message_ends_the_connection() {
    let (server, runtime) = server(config(|c| c.max_message_size = 64 << 10)).await;
    let mut request = exec_request(&["sleep", "60000"]);
    request.stdin = true;
    let url = server.get_exec(&request).unwrap().url;
    let mut ws = raw(&url, "v4.channel.k8s.io").await;
    let mut big = vec![0u8; 1 << 20];
    big[0] = 0;
    let _ = ws.send(Message::Binary(Bytes::from(big))).await;
    let _ = until_closed(&mut ws).await;
    // The session was cancelled.
    for _ in 0..100 {
        if runtime.ended() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(runtime.ended(), 1);
    still_serves(&server).await;
}

#[tokio::test]
async fn garbage_after_the_upgrade_ends_the_connection() {
    let (server, _) = server(Config::default()).await;
    let url = server
        .get_exec(&exec_request(&["sleep", "60000"]))
        .unwrap()
        .url;
    let ws = raw(&url, "v4.channel.k8s.io").await;
    let mut tcp = ws.into_inner();
    tcp.write_all(&[0xff; 64]).await.unwrap();
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), tcp.read_to_end(&mut buf)).await;
    assert!(read.is_ok(), "the server closes the connection");
    still_serves(&server).await;
}

#[tokio::test]
async fn a_client_that_never_reads_is_cut_off_by_the_idle_timeout() {
    let (server, runtime) = server(config(|c| c.idle_timeout = Duration::from_millis(500))).await;
    // 1 GiB of output to a client that reads nothing.
    let url = server
        .get_exec(&exec_request(&["yes", &(1u64 << 30).to_string()]))
        .unwrap()
        .url;
    let ws = raw(&url, "v4.channel.k8s.io").await;
    // Meanwhile the server serves others.
    still_serves(&server).await;
    for _ in 0..250 {
        if runtime.ended() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(runtime.ended(), 2, "the stuck session was ended");
    drop(ws);
    still_serves(&server).await;
}

#[tokio::test]
async fn a_client_that_leaves_mid_stream_cancels_the_command() {
    let (server, runtime) = server(Config::default()).await;
    let url = server
        .get_exec(&exec_request(&["yes", "100000000000"]))
        .unwrap()
        .url;
    let mut ws = raw(&url, "v4.channel.k8s.io").await;
    // Read a little, then leave without a close frame.
    for _ in 0..3 {
        ws.next().await.unwrap().unwrap();
    }
    drop(ws);
    for _ in 0..250 {
        if runtime.ended() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(runtime.ended(), 1, "the command was cancelled");
    still_serves(&server).await;
}

#[tokio::test]
async fn sessions_beyond_the_limit_are_503() {
    let (server, _) = server(config(|c| c.max_sessions = 1)).await;
    let busy = server
        .get_exec(&exec_request(&["sleep", "60000"]))
        .unwrap()
        .url;
    let ws = raw(&busy, "v4.channel.k8s.io").await;
    let url = server.get_exec(&exec_request(&["echo"])).unwrap().url;
    match client::exec(&url, &ws_options()).await {
        Err(Error::Refused {
            status: 503, body, ..
        }) => assert!(body.contains("at most 1")),
        other => panic!("{other:?}"),
    }
    drop(ws);
    // The token was not spent: it works once the slot is free.
    let mut out = None;
    for _ in 0..100 {
        if let Ok(session) = client::exec(&url, &ws_options()).await {
            out = Some(session.output(b"").await.unwrap());
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(out.expect("the slot frees").exit_code, 0);
}
