//! Not part of the API: whole server sessions over an in-memory connection, for the fuzz
//! targets `ws_session` and `spdy_session` (`fuzz/fuzz_targets/`). Hidden from the
//! documentation; may change in any release.
//!
//! Each function runs one session of the server, as after the HTTP upgrade, against a
//! runtime that copies stdin to stdout (exec, attach) or echoes (port forward), while a
//! client sends `input` in writes of `chunk` bytes (at least 1), then ends its side and
//! reads everything the server sends. It panics if the session does not end within
//! 20 seconds of that: the server must reclaim every session, whatever the client sent.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Semaphore;

use super::cache::{Cached, RequestCache};
use super::{BoxError, BoxFuture, Config, PortStream, Runtime, Shared, Streams};
use crate::protocol::{spdy_protocols, ws_protocols};

/// Copies stdin to stdout; echoes forwarded ports.
struct Echo;

impl Runtime for Echo {
    fn exec(
        &self,
        _request: cri_api_v1::ExecRequest,
        streams: Streams,
    ) -> BoxFuture<Result<i32, BoxError>> {
        Box::pin(async move {
            let Streams {
                stdin,
                stdout,
                mut resize,
                ..
            } = streams;
            // Sizes are taken as they come, like a terminal would.
            let sizes = async move {
                if let Some(resize) = resize.as_mut() {
                    while resize.recv().await.is_some() {}
                }
            };
            let copy = async move {
                if let (Some(mut stdin), Some(mut stdout)) = (stdin, stdout) {
                    tokio::io::copy(&mut stdin, &mut stdout).await?;
                    stdout.shutdown().await?;
                }
                Ok::<_, std::io::Error>(())
            };
            let (_, copied) = tokio::join!(sizes, copy);
            copied?;
            Ok(3)
        })
    }

    fn attach(
        &self,
        request: cri_api_v1::AttachRequest,
        streams: Streams,
    ) -> BoxFuture<Result<(), BoxError>> {
        let exec = cri_api_v1::ExecRequest {
            container_id: request.container_id,
            ..Default::default()
        };
        let work = self.exec(exec, streams);
        Box::pin(async move { work.await.map(|_| ()) })
    }

    fn port_forward(
        &self,
        _pod: String,
        _port: u16,
        stream: Box<dyn PortStream>,
    ) -> BoxFuture<Result<(), BoxError>> {
        Box::pin(async move {
            let (mut r, mut w) = tokio::io::split(stream);
            tokio::io::copy(&mut r, &mut w).await?;
            w.shutdown().await?;
            Ok(())
        })
    }
}

fn shared() -> Arc<Shared> {
    let config = Config {
        idle_timeout: Duration::from_secs(2),
        stream_creation_timeout: Duration::from_millis(500),
        finish_timeout: Duration::from_millis(500),
        ..Config::default()
    };
    Arc::new(Shared {
        cache: RequestCache::new(config.token_ttl, config.max_pending_requests),
        sessions: Arc::new(Semaphore::new(config.max_sessions)),
        runtime: Box::new(Echo),
        config,
        base_url: "http://127.0.0.1/".into(),
        base_path: "/".into(),
    })
}

fn exec(stdin: bool, stderr: bool, tty: bool) -> Cached {
    Cached::Exec(cri_api_v1::ExecRequest {
        container_id: "c".into(),
        cmd: vec!["cat".into()],
        stdin,
        stdout: true,
        stderr,
        tty,
    })
}

fn attach() -> Cached {
    Cached::Attach(cri_api_v1::AttachRequest {
        container_id: "c".into(),
        stdin: true,
        stdout: true,
        ..Default::default()
    })
}

fn port_forward(ports: &[i32]) -> Cached {
    Cached::PortForward(cri_api_v1::PortForwardRequest {
        pod_sandbox_id: "p".into(),
        port: ports.to_vec(),
    })
}

/// Runs `session` (the server's side of `server_io`) while the client side sends `input`.
fn run<F, Fut>(chunk: u8, input: &[u8], session: F)
where
    F: FnOnce(tokio::io::DuplexStream) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a runtime");
    let chunk = usize::from(chunk.max(1));
    let input = input.to_vec();
    runtime.block_on(async move {
        let (client, server) = tokio::io::duplex(64 * 1024);
        let (mut from_server, mut to_server) = tokio::io::split(client);
        let client = async move {
            for piece in input.chunks(chunk) {
                if to_server.write_all(piece).await.is_err() {
                    break;
                }
            }
            let _ = to_server.shutdown().await;
            // Keeps the connection open until the server closes it.
            let mut sink = vec![0u8; 64 * 1024];
            while matches!(from_server.read(&mut sink).await, Ok(n) if n > 0) {}
            drop(to_server);
        };
        let both = async move { tokio::join!(session(server), client) };
        tokio::time::timeout(Duration::from_secs(20), both)
            .await
            .expect("the session ends once the client is gone");
    });
}

/// One WebSocket session. `selector` picks the session (modulo 6): exec v5 with stdin,
/// stdout and stderr; exec v5 with a TTY; exec v4 base64; exec on the legacy protocol;
/// attach v4; port forward of ports 80 and 81.
pub fn websocket_session(selector: u8, chunk: u8, input: &[u8]) {
    let (protocol, request, ports) = match selector % 6 {
        0 => (ws_protocols::V5, exec(true, true, false), vec![]),
        1 => (ws_protocols::V5, exec(true, false, true), vec![]),
        2 => (ws_protocols::V4_BASE64, exec(true, true, false), vec![]),
        3 => ("", exec(true, true, false), vec![]),
        4 => (ws_protocols::V4, attach(), vec![]),
        _ => (ws_protocols::V4, port_forward(&[80, 81]), vec![80, 81]),
    };
    run(chunk, input, |io| async move {
        super::websocket::serve(shared(), io, protocol, request, ports).await;
    });
}

/// One SPDY/3.1 session. `selector` picks the session (modulo 5): exec v4 with stdin,
/// stdout and stderr; exec v5 with a TTY (and resize); exec on the first protocol; attach
/// v4; port forward.
pub fn spdy_session(selector: u8, chunk: u8, input: &[u8]) {
    let (protocol, request) = match selector % 5 {
        0 => (spdy_protocols::V4, exec(true, true, false)),
        1 => (spdy_protocols::V5, exec(true, false, true)),
        2 => (spdy_protocols::V1, exec(true, true, false)),
        3 => (spdy_protocols::V4, attach()),
        _ => (spdy_protocols::PORT_FORWARD, port_forward(&[])),
    };
    run(chunk, input, |io| async move {
        super::spdy::serve(shared(), io, protocol, request).await;
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_end_on_any_input() {
        for selector in 0..6 {
            websocket_session(selector, 7, b"\x82\x85\0\0\0\0\0hello\x88\x80\0\0\0\0");
            websocket_session(selector, 1, b"garbage");
            websocket_session(selector, 255, b"");
        }
        for selector in 0..5 {
            spdy_session(
                selector,
                3,
                b"\x80\x03\x00\x06\x00\x00\x00\x04\x00\x00\x00\x01",
            );
            spdy_session(selector, 255, b"not spdy at all");
        }
    }
}
