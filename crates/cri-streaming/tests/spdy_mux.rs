//! The SPDY multiplexer over in-memory pipes, against itself (a scripted raw peer that
//! behaves like Go's spdystream, or worse, is in spdy_raw_peer.rs).

use std::time::Duration;

use cri_streaming::spdy::{Connection, Error, GoAwayStatus, Headers, Incoming, Limits, RstStatus};
use tokio::io::{AsyncReadExt, AsyncWriteExt, duplex};
use tokio::time::timeout;

fn pair(limits: Limits) -> (Connection, Incoming, Connection, Incoming) {
    let (a, b) = duplex(256 * 1024);
    let (server, server_in) = Connection::server(a, limits.clone());
    let (client, client_in) = Connection::client(b, limits);
    (server, server_in, client, client_in)
}

fn named(kind: &str) -> Headers {
    let mut h = Headers::new();
    h.insert("streamtype", kind);
    h
}

/// Serves every incoming stream by echoing it, with its headers' `streamtype` as a reply
/// header.
fn echo_server(mut incoming: Incoming) -> tokio::task::JoinHandle<usize> {
    tokio::spawn(async move {
        let mut served = 0;
        let mut tasks = Vec::new();
        while let Some(stream) = incoming.accept().await {
            served += 1;
            let kind = stream.headers().get("streamtype").unwrap_or("").to_owned();
            stream.reply(named(&kind), false).unwrap();
            tasks.push(tokio::spawn(async move {
                let (mut r, mut w) = tokio::io::split(stream);
                tokio::io::copy(&mut r, &mut w).await.unwrap();
                w.shutdown().await.unwrap();
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        served
    })
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

async fn echo_once(client: &Connection, data: Vec<u8>) {
    let stream = client.open_stream(named("echo"), false).await.unwrap();
    let reply = stream.wait_reply().await.unwrap();
    assert_eq!(reply.get("streamtype"), Some("echo"));
    let (mut r, mut w) = tokio::io::split(stream);
    let send = data.clone();
    let writer = tokio::spawn(async move {
        w.write_all(&send).await.unwrap();
        w.shutdown().await.unwrap();
    });
    let mut got = Vec::new();
    r.read_to_end(&mut got).await.unwrap();
    writer.await.unwrap();
    assert!(
        got == data,
        "echo of {} bytes came back as {} bytes",
        data.len(),
        got.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_concurrent_streams() {
    let (_server, server_in, client, _client_in) = pair(Limits::default());
    let served = echo_server(server_in);
    let mut tasks = Vec::new();
    for i in 0..64u8 {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            echo_once(&client, pattern(100_000 + usize::from(i) * 997, i)).await
        }));
    }
    for t in tasks {
        timeout(Duration::from_secs(60), t).await.unwrap().unwrap();
    }
    client.go_away().await;
    assert_eq!(
        timeout(Duration::from_secs(10), served)
            .await
            .unwrap()
            .unwrap(),
        64
    );
    timeout(Duration::from_secs(10), client.closed())
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_transfer_both_ways() {
    let (_server, server_in, client, _client_in) = pair(Limits::default());
    let _served = echo_server(server_in);
    timeout(
        Duration::from_secs(60),
        echo_once(&client, pattern(48 << 20, 7)),
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn server_opens_streams_and_half_close_works() {
    let (server, _server_in, _client, mut client_in) = pair(Limits::default());
    // The client side accepts and reads to EOF, then answers.
    let client_side = tokio::spawn(async move {
        let mut stream = client_in.accept().await.unwrap();
        assert_eq!(stream.id() % 2, 0, "server-opened ids are even");
        let mut got = Vec::new();
        stream.read_to_end(&mut got).await.unwrap();
        // Our read side is finished; the write side still works.
        stream.write_all(&got).await.unwrap();
        stream.write_all(b"!").await.unwrap();
        stream.shutdown().await.unwrap();
    });
    let mut stream = server.open_stream(named("data"), false).await.unwrap();
    stream.write_all(b"half").await.unwrap();
    stream.shutdown().await.unwrap();
    assert!(
        stream.write_all(b"late").await.is_err(),
        "no write after FIN"
    );
    let mut back = String::new();
    stream.read_to_string(&mut back).await.unwrap();
    assert_eq!(back, "half!");
    client_side.await.unwrap();
}

#[tokio::test]
async fn reset_fails_the_stream_and_spares_the_others() {
    let (_server, mut server_in, client, _client_in) = pair(Limits::default());
    let server_side = tokio::spawn(async move {
        let doomed = server_in.accept().await.unwrap();
        doomed.reply(Headers::new(), false).unwrap();
        let mut fine = server_in.accept().await.unwrap();
        doomed.reset(RstStatus::INTERNAL_ERROR);
        fine.write_all(b"still here").await.unwrap();
        fine.shutdown().await.unwrap();
        let mut rest = Vec::new();
        fine.read_to_end(&mut rest).await.unwrap();
        // A write on a stream we reset fails.
        let mut doomed = doomed;
        assert!(doomed.write_all(b"x").await.is_err());
    });
    let mut doomed = client.open_stream(named("a"), false).await.unwrap();
    let mut fine = client.open_stream(named("b"), false).await.unwrap();
    let mut buf = [0u8; 16];
    let err = doomed.read(&mut buf).await.unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionReset);
    let inner = err.into_inner().unwrap().downcast::<Error>().unwrap();
    assert!(
        matches!(
            *inner,
            Error::RemoteReset {
                status: RstStatus::INTERNAL_ERROR,
                ..
            }
        ),
        "{inner:?}"
    );
    let mut got = String::new();
    fine.read_to_string(&mut got).await.unwrap();
    assert_eq!(got, "still here");
    fine.shutdown().await.unwrap();
    server_side.await.unwrap();
}

#[tokio::test]
async fn ping_is_answered_both_ways() {
    let (server, _si, client, _ci) = pair(Limits::default());
    timeout(Duration::from_secs(5), client.ping())
        .await
        .unwrap()
        .unwrap();
    timeout(Duration::from_secs(5), server.ping())
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn go_away_stops_new_streams_and_closes_when_done() {
    let (server, mut server_in, client, _client_in) = pair(Limits::default());
    let mut open = client.open_stream(named("x"), false).await.unwrap();
    let mut accepted = server_in.accept().await.unwrap();
    server.go_away().await;
    assert!(matches!(
        server.open_stream(Headers::new(), false).await,
        Err(Error::GoingAway)
    ));
    assert!(server_in.accept().await.is_none());
    // The stream open before GOAWAY still works.
    accepted.write_all(b"bye").await.unwrap();
    accepted.shutdown().await.unwrap();
    let mut got = String::new();
    open.read_to_string(&mut got).await.unwrap();
    assert_eq!(got, "bye");
    // The client saw the GOAWAY: no new stream.
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(matches!(
        client.open_stream(Headers::new(), false).await,
        Err(Error::GoAway(GoAwayStatus::OK))
    ));
    open.shutdown().await.unwrap();
    drop(open);
    drop(accepted);
    timeout(Duration::from_secs(5), server.closed())
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn max_streams_refuses_the_extra_ones() {
    let (_server, mut server_in, client, _ci) = pair(Limits::default().max_streams(2));
    let a = client.open_stream(named("1"), false).await.unwrap();
    let b = client.open_stream(named("2"), false).await.unwrap();
    let c = client.open_stream(named("3"), false).await.unwrap();
    let err = c.wait_reply().await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::RemoteReset {
                status: RstStatus::REFUSED_STREAM,
                ..
            }
        ),
        "{err:?}"
    );
    let sa = server_in.accept().await.unwrap();
    let sb = server_in.accept().await.unwrap();
    sa.reply(Headers::new(), false).unwrap();
    sb.reply(Headers::new(), false).unwrap();
    a.wait_reply().await.unwrap();
    b.wait_reply().await.unwrap();
}

#[tokio::test]
async fn idle_timeout_ends_the_connection() {
    let limits = Limits::default().idle_timeout(Some(Duration::from_millis(200)));
    let (server, _si, _client, _ci) = pair(limits);
    let err = timeout(Duration::from_secs(5), server.closed())
        .await
        .unwrap()
        .unwrap_err();
    assert!(matches!(err, Error::IdleTimeout(_)), "{err:?}");
}

#[tokio::test]
async fn dropping_every_handle_closes_the_connection() {
    let (server, si, client, ci) = pair(Limits::default());
    let closed = server.closed();
    drop((server, si, client, ci));
    timeout(Duration::from_secs(5), closed)
        .await
        .unwrap()
        .unwrap();
}

/// Between two peers that honour windows, a stream nobody reads stalls only its writer:
/// the other streams keep flowing (no head-of-line blocking) and the unread one holds at
/// most its window.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unread_stream_does_not_block_the_others() {
    let limits = Limits::default().initial_window(128 * 1024);
    let (_server, mut server_in, client, _ci) = pair(limits);
    let mut unread = client.open_stream(named("unread"), false).await.unwrap();
    let echo = client.open_stream(named("echo"), false).await.unwrap();
    let server_unread = server_in.accept().await.unwrap();
    server_unread.reply(Headers::new(), false).unwrap();
    let mut server_echo = server_in.accept().await.unwrap();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 8192];
        loop {
            let n = server_echo.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            server_echo.write_all(&buf[..n]).await.unwrap();
        }
        server_echo.shutdown().await.unwrap();
    });
    let written = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = written.clone();
    let stuck = tokio::spawn(async move {
        let chunk = vec![3u8; 16 * 1024];
        loop {
            unread.write_all(&chunk).await.unwrap();
            counter.fetch_add(chunk.len(), std::sync::atomic::Ordering::Relaxed);
        }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    timeout(Duration::from_secs(20), echo_on(echo, pattern(4 << 20, 9)))
        .await
        .expect("the echo stream must not be blocked by the unread one");
    let w = written.load(std::sync::atomic::Ordering::Relaxed);
    assert!(
        (64 * 1024..=160 * 1024).contains(&w),
        "the unread stream took {w} bytes for a 128 KiB window"
    );
    stuck.abort();
    drop(server_unread);
}

async fn echo_on(stream: cri_streaming::spdy::Stream, data: Vec<u8>) {
    stream.wait_reply().await.unwrap();
    let (mut r, mut w) = tokio::io::split(stream);
    let send = data.clone();
    let writer = tokio::spawn(async move {
        w.write_all(&send).await.unwrap();
        w.shutdown().await.unwrap();
    });
    let mut got = Vec::new();
    r.read_to_end(&mut got).await.unwrap();
    writer.await.unwrap();
    assert!(
        got == data,
        "echo mismatch: {} of {} bytes",
        got.len(),
        data.len()
    );
}
