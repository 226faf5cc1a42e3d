//! The SPDY multiplexer over in-memory pipes: against itself, and against a scripted raw
//! peer that behaves like Go's spdystream (no flow control) or worse.

use std::time::Duration;

use bytes::BytesMut;
use cri_streaming::spdy::frame::{Frame, FrameDecoder, FrameEncoder};
use cri_streaming::spdy::{Connection, Error, GoAwayStatus, Headers, Incoming, Limits, RstStatus};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream, duplex};
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

/// A peer speaking raw frames (like Go's spdystream, it does no flow control unless told).
struct RawPeer {
    io: DuplexStream,
    enc: FrameEncoder,
    dec: FrameDecoder,
    buf: BytesMut,
}

impl RawPeer {
    fn new(io: DuplexStream) -> Self {
        RawPeer {
            io,
            enc: FrameEncoder::new(),
            dec: FrameDecoder::new(16 << 20, 1 << 20),
            buf: BytesMut::new(),
        }
    }

    async fn send(&mut self, frame: Frame) {
        let mut out = BytesMut::new();
        self.enc.encode(&frame, &mut out).unwrap();
        self.io.write_all(&out).await.unwrap();
    }

    /// The next frame that is not SETTINGS or a WINDOW_UPDATE, or `None` at EOF.
    async fn recv(&mut self) -> Option<Frame> {
        loop {
            if let Some(f) = self.dec.decode(&mut self.buf).unwrap() {
                if matches!(f, Frame::Settings { .. } | Frame::WindowUpdate { .. }) {
                    continue;
                }
                return Some(f);
            }
            if self.io.read_buf(&mut self.buf).await.unwrap() == 0 {
                return None;
            }
        }
    }
}

fn raw_server(limits: Limits) -> (Connection, Incoming, RawPeer) {
    let (a, b) = duplex(64 * 1024);
    let (conn, incoming) = Connection::server(a, limits);
    (conn, incoming, RawPeer::new(b))
}

fn syn(stream_id: u32) -> Frame {
    let mut headers = Headers::new();
    headers.insert("streamtype", "stdin");
    Frame::SynStream {
        stream_id,
        associated_to: 0,
        priority: 0,
        slot: 0,
        fin: false,
        unidirectional: false,
        headers,
    }
}

#[tokio::test]
async fn a_stream_we_do_not_read_stops_a_peer_that_ignores_windows() {
    let limits = Limits::default().initial_window(256 * 1024);
    let (_conn, mut incoming, mut peer) = raw_server(limits);
    peer.send(syn(1)).await;
    let _stream = incoming.accept().await.unwrap(); // accepted, never read
    // The peer pushes 64 MiB ignoring our 256 KiB window, as spdystream does.
    let chunk = vec![7u8; 32 * 1024];
    let mut sent = 0usize;
    let pushing = async {
        loop {
            peer.send(Frame::Data {
                stream_id: 1,
                fin: false,
                data: chunk.clone().into(),
            })
            .await;
            sent += chunk.len();
            if sent >= 64 << 20 {
                break;
            }
        }
    };
    assert!(
        timeout(Duration::from_millis(500), pushing).await.is_err(),
        "the peer should have been stopped by back-pressure"
    );
    // Bounded: our stream buffer (256 KiB) + one read chunk + the pipe (64 KiB) + a frame.
    assert!(
        sent <= 512 * 1024,
        "the peer got {sent} bytes in before being stopped"
    );
}

#[tokio::test]
async fn a_peer_that_never_reads_bounds_our_writes() {
    let limits = Limits::default().max_write_buffer(128 * 1024);
    let (_conn, mut incoming, mut peer) = raw_server(limits);
    peer.send(syn(1)).await;
    let mut stream = incoming.accept().await.unwrap();
    // The peer never reads and never sends WINDOW_UPDATE (it showed no flow control, so
    // our writes are not limited by the 64 KiB default window, only by our buffer).
    let chunk = vec![1u8; 16 * 1024];
    let mut written = 0usize;
    let writing = async {
        loop {
            stream.write_all(&chunk).await.unwrap();
            written += chunk.len();
        }
    };
    assert!(timeout(Duration::from_millis(500), writing).await.is_err());
    assert!(
        written > 64 * 1024,
        "flow control must not apply to a Go-like peer: {written}"
    );
    // Our buffer (128 KiB) + the pipe (64 KiB) + one frame.
    assert!(
        written <= 256 * 1024,
        "wrote {written} bytes into a peer that never reads"
    );
    drop(peer);
}

#[tokio::test]
async fn flow_control_is_honoured_once_the_peer_uses_it() {
    let (_conn, mut incoming, mut peer) = raw_server(Limits::default());
    peer.send(Frame::Settings {
        clear: false,
        entries: vec![cri_streaming::spdy::frame::Setting {
            flags: 0,
            id: cri_streaming::spdy::frame::setting::INITIAL_WINDOW_SIZE,
            value: 1000,
        }],
    })
    .await;
    peer.send(syn(1)).await;
    let mut stream = incoming.accept().await.unwrap();
    let writer = tokio::spawn(async move {
        stream.write_all(&[5u8; 3000]).await.unwrap();
        stream.shutdown().await.unwrap();
        stream
    });
    let mut got = 0usize;
    let mut saw_reply = false;
    loop {
        match timeout(Duration::from_millis(300), peer.recv()).await {
            Ok(Some(Frame::SynReply { .. })) => saw_reply = true,
            Ok(Some(Frame::Data { data, fin, .. })) => {
                assert!(saw_reply, "SYN_REPLY must come before data");
                got += data.len();
                if fin {
                    break;
                }
            }
            Ok(other) => panic!("unexpected {other:?}"),
            Err(_) => {
                // Stalled: exactly one window's worth must have arrived.
                assert_eq!(got % 1000, 0, "got {got}");
                assert!(got < 3000);
                peer.send(Frame::WindowUpdate {
                    stream_id: 1,
                    delta: 1000,
                })
                .await;
            }
        }
    }
    assert_eq!(got, 3000);
    writer.await.unwrap();
}

#[tokio::test]
async fn pings_from_the_peer_are_answered() {
    let (_conn, _incoming, mut peer) = raw_server(Limits::default());
    peer.send(Frame::Ping { id: 7 }).await;
    assert_eq!(peer.recv().await, Some(Frame::Ping { id: 7 }));
}

#[tokio::test]
async fn writes_on_opened_streams_wait_for_syn_reply() {
    let (a, b) = duplex(64 * 1024);
    let (client, _incoming) = Connection::client(a, Limits::default());
    let mut peer = RawPeer::new(b);
    let mut stream = client.open_stream(named("stdin"), false).await.unwrap();
    let writer = tokio::spawn(async move {
        stream.write_all(b"after reply").await.unwrap();
        stream
    });
    let Some(Frame::SynStream {
        stream_id: 1,
        headers,
        ..
    }) = peer.recv().await
    else {
        panic!("expected SYN_STREAM 1");
    };
    assert_eq!(headers.get("streamtype"), Some("stdin"));
    // Nothing else arrives before we reply.
    assert!(
        timeout(Duration::from_millis(200), peer.recv())
            .await
            .is_err()
    );
    peer.send(Frame::SynReply {
        stream_id: 1,
        fin: false,
        headers: Headers::new(),
    })
    .await;
    match peer.recv().await {
        Some(Frame::Data {
            stream_id: 1, data, ..
        }) => assert_eq!(&data[..], b"after reply"),
        other => panic!("unexpected {other:?}"),
    }
    writer.await.unwrap();
}

#[tokio::test]
async fn malformed_input_ends_the_connection_with_a_clear_error() {
    let (conn, mut incoming, mut peer) = raw_server(Limits::default());
    peer.send(syn(1)).await;
    let mut stream = incoming.accept().await.unwrap();
    // A SPDY/2 frame header.
    peer.io
        .write_all(&[0x80, 2, 0, 1, 0, 0, 0, 0])
        .await
        .unwrap();
    let err = timeout(Duration::from_secs(5), conn.closed())
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "malformed SPDY input from the peer: SPDY control frame of version 2, only version 3 \
         is supported"
    );
    // The peer is told (GOAWAY PROTOCOL_ERROR) and the stream fails.
    let mut saw = None;
    while let Some(f) = peer.recv().await {
        if let Frame::GoAway { status, .. } = f {
            saw = Some(status);
        }
    }
    assert_eq!(saw, Some(GoAwayStatus::PROTOCOL_ERROR));
    let mut buf = [0u8; 4];
    assert!(stream.read(&mut buf).await.is_err());
}

#[tokio::test]
async fn bad_stream_ids_are_a_protocol_error() {
    let (conn, _incoming, mut peer) = raw_server(Limits::default());
    peer.send(syn(2)).await; // even ids belong to the server
    let err = timeout(Duration::from_secs(5), conn.closed())
        .await
        .unwrap()
        .unwrap_err();
    assert!(matches!(err, Error::Protocol(_)), "{err:?}");
}

#[tokio::test]
async fn a_zlib_bomb_ends_the_connection() {
    let limits = Limits::default().max_header_block(4096);
    let (conn, _incoming, mut peer) = raw_server(limits);
    let mut headers = Headers::new();
    headers.insert("x", "a".repeat(100_000));
    peer.send(Frame::SynStream {
        stream_id: 1,
        associated_to: 0,
        priority: 0,
        slot: 0,
        fin: false,
        unidirectional: false,
        headers,
    })
    .await;
    let err = timeout(Duration::from_secs(5), conn.closed())
        .await
        .unwrap()
        .unwrap_err();
    assert!(err.to_string().contains("4096"), "{err}");
}

/// Kubernetes' Go servers write their last bytes and then reset every stream with CANCEL
/// (httpstream/spdy's Close): the bytes must still be read, and CANCEL reads as EOF.
#[tokio::test]
async fn data_before_a_cancel_reset_is_delivered_then_eof() {
    for (status, eof) in [
        (RstStatus::CANCEL, true),
        (RstStatus::INTERNAL_ERROR, false),
    ] {
        let (_conn, mut incoming, mut peer) = raw_server(Limits::default());
        peer.send(syn(1)).await;
        let mut stream = incoming.accept().await.unwrap();
        stream.reply(Headers::new(), false).unwrap();
        peer.send(Frame::Data {
            stream_id: 1,
            fin: false,
            data: bytes::Bytes::from_static(b"{\"status\":\"Success\"}"),
        })
        .await;
        peer.send(Frame::RstStream {
            stream_id: 1,
            status,
        })
        .await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        let mut got = vec![0u8; 20];
        stream.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"{\"status\":\"Success\"}");
        let rest = stream.read(&mut got).await;
        if eof {
            assert_eq!(rest.unwrap(), 0);
        } else {
            assert_eq!(
                rest.unwrap_err().kind(),
                std::io::ErrorKind::ConnectionReset
            );
        }
        assert!(
            stream.write_all(b"x").await.is_err(),
            "no write after a reset"
        );
    }
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
