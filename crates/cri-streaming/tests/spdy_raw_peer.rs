//! The SPDY multiplexer over an in-memory pipe against a scripted raw peer that behaves
//! like Go's spdystream (no flow control) or worse.

use std::time::Duration;

use bytes::BytesMut;
use cri_streaming::spdy::frame::{Frame, FrameDecoder, FrameEncoder};
use cri_streaming::spdy::{Connection, Error, GoAwayStatus, Headers, Incoming, Limits, RstStatus};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream, duplex};
use tokio::time::timeout;

fn named(kind: &str) -> Headers {
    let mut h = Headers::new();
    h.insert("streamtype", kind);
    h
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

/// A server that finished its streams and dropped every handle closes the connection even
/// if the client never sends its FINs.
#[tokio::test]
async fn dropping_all_handles_after_finishing_closes_despite_a_silent_peer() {
    let (conn, mut incoming, mut peer) = raw_server(Limits::default());
    peer.send(syn(1)).await;
    let mut stream = incoming.accept().await.unwrap();
    stream.write_all(b"done").await.unwrap();
    stream.shutdown().await.unwrap();
    drop((stream, incoming, conn));
    let mut got_fin = false;
    let mut got_goaway = false;
    while let Some(f) = timeout(Duration::from_secs(5), peer.recv()).await.unwrap() {
        match f {
            Frame::Data { fin: true, .. } => got_fin = true,
            Frame::GoAway { .. } => got_goaway = true,
            _ => {}
        }
    }
    assert!(got_fin && got_goaway, "fin {got_fin} goaway {got_goaway}");
}
