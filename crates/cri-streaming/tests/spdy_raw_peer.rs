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

    /// The next frame, whatever it is, or `None` at EOF.
    async fn next_any(&mut self) -> Option<Frame> {
        loop {
            if let Some(f) = self.dec.decode(&mut self.buf).unwrap() {
                return Some(f);
            }
            if self.io.read_buf(&mut self.buf).await.unwrap() == 0 {
                return None;
            }
        }
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

/// containerd's deadlock (`crictl exec -i … cat | (sleep 1; wc -c)`): the peer does not read
/// our stdin while it is stuck writing stdout, and our application reads stdout only later.
/// With our output blocked and our input full, the driver waits for the transport to become
/// writable; the application's read must still wake it to read on. (Without that wake-up
/// only the stall probe's timer, once a second, gets the driver going again: 4 MiB through a
/// 128 KiB buffer would take half a minute.)
#[tokio::test]
async fn reading_resumes_when_the_application_reads_while_a_write_is_blocked() {
    let (a, b) = duplex(64 * 1024);
    let limits = Limits::default()
        .initial_window(128 * 1024)
        .max_buffered(128 * 1024);
    let (conn, _incoming) = Connection::client(a, limits);
    let stream = conn.open_stream(named("stdin"), false).await.unwrap();
    let mut peer = RawPeer::new(b);
    assert!(matches!(
        peer.recv().await,
        Some(Frame::SynStream { stream_id: 1, .. })
    ));
    peer.send(Frame::SynReply {
        stream_id: 1,
        fin: false,
        headers: Headers::new(),
    })
    .await;
    stream.wait_reply().await.unwrap();
    let (mut reader, mut writer) = tokio::io::split(stream);
    // Our side writes more than the pipe and our buffer hold: the driver's write blocks.
    let writing = tokio::spawn(async move {
        let chunk = vec![3u8; 64 * 1024];
        for _ in 0..64 {
            if writer.write_all(&chunk).await.is_err() {
                return;
            }
        }
    });
    // The peer sends 4 MiB (many times what we buffer) before it reads anything, as a Go
    // server blocked on its stdout does; then it drains what we wrote.
    let total = 4usize << 20;
    let pushing = tokio::spawn(async move {
        let chunk = vec![9u8; 32 * 1024];
        for _ in 0..total / chunk.len() {
            peer.send(Frame::Data {
                stream_id: 1,
                fin: false,
                data: chunk.clone().into(),
            })
            .await;
        }
        let mut sink = vec![0u8; 64 * 1024];
        while peer.io.read(&mut sink).await.is_ok_and(|n| n > 0) {}
    });
    // The application reads late, once everything above is stuck.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut got = 0usize;
    let mut buf = vec![0u8; 64 * 1024];
    let reading = async {
        while got < total {
            let n = reader.read(&mut buf).await.unwrap();
            assert!(n > 0, "the stream ended after {got} bytes");
            got += n;
        }
    };
    assert!(
        timeout(Duration::from_secs(5), reading).await.is_ok(),
        "stuck after {got} of {total} bytes: the application's read did not wake the driver"
    );
    drop(conn);
    pushing.abort();
    writing.abort();
}

/// A command that exits before reading all its stdin: the Go server writes the status and
/// closes, and our next write of stdin fails (a reset). The status it sent first must still
/// be read, as Go's spdystream reads on after a failed write.
#[tokio::test]
async fn what_the_peer_sent_before_it_left_is_read_after_a_write_fails() {
    let (a, b) = duplex(64 * 1024);
    let (conn, _incoming) = Connection::client(a, Limits::default());
    let mut status = conn.open_stream(named("error"), false).await.unwrap();
    let stdin = conn.open_stream(named("stdin"), false).await.unwrap();
    let mut peer = RawPeer::new(b);
    for id in [1, 3] {
        assert!(matches!(
            peer.recv().await,
            Some(Frame::SynStream { stream_id, .. }) if stream_id == id
        ));
        peer.send(Frame::SynReply {
            stream_id: id,
            fin: false,
            headers: Headers::new(),
        })
        .await;
    }
    stdin.wait_reply().await.unwrap();
    // More stdin than the pipe holds: the driver's write is pending when the peer leaves.
    let (_, mut writer) = tokio::io::split(stdin);
    let writing = tokio::spawn(async move {
        let chunk = vec![5u8; 64 * 1024];
        // Past the pipe and our write buffer.
        for _ in 0..64 {
            if writer.write_all(&chunk).await.is_err() {
                return true;
            }
        }
        false
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    peer.send(Frame::Data {
        stream_id: 1,
        fin: true,
        data: bytes::Bytes::from_static(b"exit status"),
    })
    .await;
    drop(peer);
    let mut got = Vec::new();
    timeout(Duration::from_secs(5), status.read_to_end(&mut got))
        .await
        .expect("the status stream ends")
        .expect("the status sent before the peer left is read");
    assert_eq!(got, b"exit status");
    assert!(
        timeout(Duration::from_secs(5), writing)
            .await
            .unwrap()
            .unwrap(),
        "writing to a peer that left fails"
    );
}

/// A peer that sends past the connection window we granted ignores windows (as Go's
/// spdystream does) and gets no more WINDOW_UPDATEs: spdystream closes its socket once its
/// last frames are queued, and an update reaching the closed socket resets the connection,
/// losing what it had not sent. A peer that keeps within the window gets them.
#[tokio::test]
async fn only_a_peer_within_the_window_gets_window_updates() {
    // Default limits: 1 MiB granted on the connection, 1 MiB per stream.
    for (sent, ignores) in [(512 << 10, false), ((1 << 20) + (64 << 10), true)] {
        let (_conn, mut incoming, mut peer) = raw_server(Limits::default());
        // Our SETTINGS and the WINDOW_UPDATE that opens the connection window come first.
        let mut opening = Vec::new();
        while !matches!(
            opening.last(),
            Some(Frame::WindowUpdate { stream_id: 0, .. })
        ) {
            opening.push(peer.next_any().await.expect("our opening frames"));
        }
        peer.send(syn(1)).await;
        let mut stream = incoming.accept().await.unwrap();
        let chunk = vec![3u8; 32 << 10];
        for _ in 0..sent / chunk.len() {
            peer.send(Frame::Data {
                stream_id: 1,
                fin: false,
                data: chunk.clone().into(),
            })
            .await;
        }
        let mut got = vec![0u8; sent];
        timeout(Duration::from_secs(5), stream.read_exact(&mut got))
            .await
            .expect("read in time")
            .unwrap();
        let mut updates = 0;
        while let Ok(Some(frame)) = timeout(Duration::from_millis(300), peer.next_any()).await {
            updates += usize::from(matches!(frame, Frame::WindowUpdate { .. }));
        }
        if ignores {
            assert_eq!(updates, 0, "{sent} bytes sent past the window");
        } else {
            assert!(updates > 0, "{sent} bytes within the window");
        }
    }
}

/// The DATA frames the peer gets until it has `total` bytes of payload: (stream, length)
/// each, and each stream's bytes in order.
async fn data_frames(
    peer: &mut RawPeer,
    total: usize,
) -> (Vec<(u32, usize)>, std::collections::HashMap<u32, Vec<u8>>) {
    let mut frames = Vec::new();
    let mut bytes = std::collections::HashMap::<u32, Vec<u8>>::new();
    let mut got = 0;
    while got < total {
        match timeout(Duration::from_secs(5), peer.recv()).await {
            Ok(Some(Frame::Data {
                stream_id, data, ..
            })) => {
                got += data.len();
                frames.push((stream_id, data.len()));
                bytes.entry(stream_id).or_default().extend_from_slice(&data);
            }
            Ok(Some(_)) => {}
            Ok(None) => panic!("EOF after {got} of {total} bytes"),
            Err(_) => panic!("no frame within 5 s after {got} of {total} bytes"),
        }
    }
    (frames, bytes)
}

fn lines(from: usize, count: usize) -> Vec<Vec<u8>> {
    (from..from + count)
        .map(|i| format!("{i:063}\n").into_bytes())
        .collect()
}

/// Many small writes made before the driver sends anything (a pipe read a few lines at a
/// time, as crictl's stdin is) go out as few DATA frames of at most 64 KiB, one stream's
/// bytes never joining another's; containerd spends its CPU per frame. Each write still
/// reaches the peer without waiting for more (the first test below).
#[tokio::test]
async fn small_writes_queued_before_the_driver_runs_share_data_frames() {
    let (_conn, mut incoming, mut peer) = raw_server(Limits::default());
    peer.send(syn(1)).await;
    peer.send(syn(3)).await;
    let mut one = incoming.accept().await.unwrap();
    let mut three = incoming.accept().await.unwrap();

    // One write alone goes out alone, without waiting for more.
    one.write_all(b"first\n").await.unwrap();
    let (frames, _) = data_frames(&mut peer, 6).await;
    assert_eq!(frames, vec![(1, 6)]);

    // On this single-threaded runtime the driver runs only when the test waits: every
    // write below is queued before anything is sent.
    let (a, b, c) = (lines(0, 1000), lines(1000, 10), lines(2000, 2000));
    for line in &a {
        one.write_all(line).await.unwrap();
    }
    for line in &b {
        three.write_all(line).await.unwrap();
    }
    for line in &c {
        one.write_all(line).await.unwrap();
    }
    let (frames, bytes) = data_frames(&mut peer, 3010 * 64).await;
    // 1,000 lines on stream 1 in one frame, 10 on stream 3 in another, then 2,000 on
    // stream 1 again in frames of at most 64 KiB (1,024 lines of 64 bytes).
    assert_eq!(
        frames.len(),
        4,
        "{} DATA frames, the first: {:?}",
        frames.len(),
        &frames[..frames.len().min(5)]
    );
    assert_eq!(
        frames,
        vec![(1, 64_000), (3, 640), (1, 65_536), (1, 62_464)]
    );
    assert_eq!(bytes[&1], [a.concat(), c.concat()].concat());
    assert_eq!(bytes[&3], b.concat());

    // A control frame queued between two writes ends the first frame: the FIN (an empty
    // DATA frame) follows the data, never inside it.
    one.write_all(b"last\n").await.unwrap();
    one.shutdown().await.unwrap();
    let mut tail = Vec::new();
    while tail.len() < 2 {
        match timeout(Duration::from_secs(5), peer.recv()).await {
            Ok(Some(Frame::Data {
                stream_id: 1,
                fin,
                data,
            })) => tail.push((data.to_vec(), fin)),
            Ok(Some(_)) => {}
            other => panic!("expected stream 1's data and FIN, got {other:?}"),
        }
    }
    assert_eq!(tail, vec![(b"last\n".to_vec(), false), (Vec::new(), true)]);
}
