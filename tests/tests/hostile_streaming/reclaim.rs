//! Item 3: sessions of clients that vanished are reclaimed within 5 s of their close,
//! even when their last input was never read. A fake in this process with a limit of 3
//! sessions: 3 vanished clients, then 3 normal sessions must run at once.

use super::*;
use cri_fake::FakeRuntime;

const MAX_SESSIONS: usize = 3;

async fn fake() -> (cri_fake::ServerHandle, Victim, tempfile::TempDir) {
    let mut config = cri_streaming::server::Config::default();
    config.max_sessions = MAX_SESSIONS;
    let runtime = FakeRuntime::builder().streaming_config(config).build();
    runtime.seed(1, 1);
    let dir = tempfile::tempdir().unwrap();
    let server = runtime
        .serve_unix(dir.path().join("fake.sock"))
        .await
        .unwrap();
    let victim = Victim::new(server.endpoint()).await;
    (server, victim, dir)
}

/// Runs `vanish` (a client that connects to the URL, misbehaves and disconnects) for
/// `MAX_SESSIONS` sessions, then waits until `MAX_SESSIONS` normal sessions can run at
/// once (each a `sleep 1`): every vanished session must have been reclaimed.
async fn reclaimed<F>(name: &str, stdin: bool, vanish: F)
where
    F: Fn(String) + Send + Sync + Copy + 'static,
{
    let (_server, mut victim, _dir) = fake().await;
    for _ in 0..MAX_SESSIONS {
        let url = victim.exec_url(&["sleep", "3600"], stdin, false).await;
        tokio::task::spawn_blocking(move || vanish(url))
            .await
            .unwrap();
    }
    let closed = Instant::now();
    for attempt in 0.. {
        let mut sessions = Vec::new();
        for _ in 0..MAX_SESSIONS {
            let url = victim.exec_url(&["sleep", "1"], false, false).await;
            sessions.push(tokio::spawn(async move {
                let options = ExecOptions::new()
                    .stderr(false)
                    .transport(Transport::WebSocket);
                let session = client::exec(&url, &options).await.ok()?;
                session.output(b"").await.ok().map(|out| out.exit_code)
            }));
        }
        let mut served = 0;
        for session in sessions {
            if session.await.unwrap() == Some(0) {
                served += 1;
            }
        }
        if served == MAX_SESSIONS {
            eprintln!(
                "{name}: {MAX_SESSIONS} sessions at once were served {} ms after the last \
                 client vanished",
                closed.elapsed().as_millis()
            );
            break;
        }
        assert!(
            closed.elapsed() < RECLAIM_BUDGET && attempt < 20,
            "{name}: {} ms after the last of {MAX_SESSIONS} clients vanished, only {served} \
             of {MAX_SESSIONS} sessions at once are served (the others were not reclaimed)",
            closed.elapsed().as_millis()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn until() -> Until {
    Until::new(Duration::from_secs(10), Default::default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_stdin_that_the_command_never_reads() {
    reclaimed("WebSocket stdin", true, |url| {
        let mut tcp = ws_upgrade(&url, "v5.channel.k8s.io", Duration::from_millis(300));
        let mut message = vec![0u8; 65537];
        message[0] = 0; // stdin
        let frame = ws_frame(opcode::BINARY, &message);
        let sent = push_until_blocked(&mut tcp, &frame, 64 << 20, &until());
        assert!(sent > 0, "nothing was sent");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_resizes_on_a_session_without_terminal() {
    reclaimed("WebSocket resizes without a TTY", false, |url| {
        use std::io::Write;
        let mut tcp = ws_upgrade(&url, "v5.channel.k8s.io", Duration::from_millis(300));
        let mut message = vec![4u8]; // resize
        message.extend_from_slice(br#"{"Width":80,"Height":24}"#);
        for _ in 0..40 {
            tcp.write_all(&ws_frame(opcode::BINARY, &message))
                .expect("send a resize");
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spdy_stdin_that_the_command_never_reads() {
    reclaimed("SPDY stdin", true, |url| {
        use std::io::Write;
        let mut writer = SpdyWriter::new();
        let mut tcp = spdy_upgrade(&url, "v4.channel.k8s.io", Duration::from_millis(300));
        let mut open = writer.syn_stream(1, 0, [("streamtype", "error")]);
        open.extend(writer.syn_stream(3, 0, [("streamtype", "stdin")]));
        open.extend(writer.syn_stream(5, 0, [("streamtype", "stdout")]));
        tcp.write_all(&open).expect("open the session's streams");
        let frame = SpdyWriter::data(3, 0, &[0u8; 65536]);
        let sent = push_until_blocked(&mut tcp, &frame, 64 << 20, &until());
        assert!(sent > 0, "nothing was sent");
    })
    .await;
}
