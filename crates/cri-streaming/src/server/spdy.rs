//! SPDY/3.1 sessions: remote command (`channel.k8s.io` to `v5.channel.k8s.io`, a stream
//! per channel) and port forward (`portforward.k8s.io`, a stream pair per connection).

use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

use super::cache::Cached;
use super::session::{spawn_resize_reader, status_of_attach, status_of_exec};
use super::{Shared, Streams};
use crate::protocol::{PORT_HEADER, REQUEST_ID_HEADER, STREAM_TYPE, Status, spdy_protocols};
use crate::spdy;

fn limits(config: &super::Config) -> spdy::Limits {
    spdy::Limits::default()
        .idle_timeout(Some(config.idle_timeout))
        .max_frame_size(u32::try_from(config.max_message_size).unwrap_or(u32::MAX))
        .max_streams(config.max_streams_per_connection)
        .max_buffered(config.max_buffered_per_connection)
}

/// An SPDY session: the client opens the streams, the server answers them.
pub(super) async fn serve<IO>(shared: Arc<Shared>, io: IO, protocol: &str, request: Cached)
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (conn, incoming) = spdy::Connection::server(io, limits(&shared.config));
    match request {
        Cached::Exec(exec) => {
            let opts = (exec.stdin, exec.stdout, exec.stderr, exec.tty);
            remote_command(&shared, conn, incoming, protocol, opts, |streams| {
                let work = shared.runtime.exec(exec, streams);
                async move { status_of_exec(work.await) }
            })
            .await;
        }
        Cached::Attach(attach) => {
            let opts = (attach.stdin, attach.stdout, attach.stderr, attach.tty);
            remote_command(&shared, conn, incoming, protocol, opts, |streams| {
                let work = shared.runtime.attach(attach, streams);
                async move { status_of_attach(work.await) }
            })
            .await;
        }
        Cached::PortForward(pf) => {
            port_forward(&shared, conn, incoming, pf.pod_sandbox_id).await;
        }
    }
}

#[derive(Default)]
struct RemoteStreams {
    error: Option<spdy::Stream>,
    stdin: Option<spdy::Stream>,
    stdout: Option<spdy::Stream>,
    stderr: Option<spdy::Stream>,
    resize: Option<spdy::Stream>,
}

async fn remote_command<F, Fut>(
    shared: &Shared,
    conn: spdy::Connection,
    mut incoming: spdy::Incoming,
    protocol: &str,
    (stdin, stdout, stderr, tty): (bool, bool, bool, bool),
    work: F,
) where
    F: FnOnce(Streams) -> Fut,
    Fut: std::future::Future<Output = Status>,
{
    let stderr = stderr && !tty;
    let json_status = matches!(protocol, spdy_protocols::V4 | spdy_protocols::V5);
    let resizable = json_status || protocol == spdy_protocols::V3;
    let expected = 1
        + usize::from(stdin)
        + usize::from(stdout)
        + usize::from(stderr)
        + usize::from(tty && resizable);
    let mut got = RemoteStreams::default();
    let mut received = 0;
    let wait = async {
        while received < expected {
            let Some(stream) = incoming.accept().await else {
                return false;
            };
            let slot = match stream.headers().get(STREAM_TYPE) {
                Some("error") => &mut got.error,
                Some("stdin") if stdin => &mut got.stdin,
                Some("stdout") if stdout => &mut got.stdout,
                Some("stderr") if stderr => &mut got.stderr,
                Some("resize") if tty && resizable => &mut got.resize,
                _ => {
                    // Not a stream of this session (or a second one of a kind).
                    stream.reset(spdy::RstStatus::PROTOCOL_ERROR);
                    continue;
                }
            };
            if slot.is_some() {
                stream.reset(spdy::RstStatus::PROTOCOL_ERROR);
                continue;
            }
            if stream.reply(spdy::Headers::new(), false).is_err() {
                return false;
            }
            *slot = Some(stream);
            received += 1;
        }
        true
    };
    match tokio::time::timeout(shared.config.stream_creation_timeout, wait).await {
        Ok(true) => {}
        // The client left, or did not open its streams in time: nothing runs.
        _ => {
            conn.abort();
            return;
        }
    }
    // The session has its streams: any other the client opens is refused at once (queued,
    // it would hold its headers and data for nobody).
    drop(incoming);
    let streams = Streams {
        stdin: got.stdin.take().map(|s| Box::new(s) as super::BoxReader),
        stdout: got.stdout.take().map(|s| Box::new(s) as super::BoxWriter),
        stderr: got.stderr.take().map(|s| Box::new(s) as super::BoxWriter),
        tty,
        resize: got.resize.take().map(spawn_resize_reader),
    };
    let closed = conn.closed();
    let status = tokio::select! {
        status = work(streams) => status,
        _ = closed => return,
    };
    if let Some(mut error) = got.error.take() {
        if let Some(bytes) = status.to_error_stream(json_status) {
            let _ = error.write_all(&bytes).await;
        }
        let _ = error.shutdown().await;
    }
    // The client closes the connection once it has read everything.
    let _ = tokio::time::timeout(shared.config.finish_timeout, conn.closed()).await;
    conn.abort();
}

/// A port-forward stream waiting for its other half.
struct HalfPair {
    port: String,
    data: Option<spdy::Stream>,
    error: Option<spdy::Stream>,
    since: tokio::time::Instant,
}

async fn port_forward(
    shared: &Shared,
    conn: spdy::Connection,
    mut incoming: spdy::Incoming,
    pod: String,
) {
    let mut pending: std::collections::HashMap<String, HalfPair> = Default::default();
    let mut forwards = tokio::task::JoinSet::new();
    let timeout = shared.config.stream_creation_timeout;
    let mut sweep = tokio::time::interval(timeout.max(std::time::Duration::from_millis(10)));
    loop {
        let stream = tokio::select! {
            stream = incoming.accept() => match stream {
                Some(stream) => stream,
                None => break,
            },
            _ = sweep.tick() => {
                // Pairs whose other half did not come in time.
                let now = tokio::time::Instant::now();
                pending.retain(|_, pair| {
                    let keep = now.duration_since(pair.since) < timeout;
                    if !keep {
                        for s in pair.data.iter().chain(pair.error.iter()) {
                            s.reset(spdy::RstStatus::CANCEL);
                        }
                    }
                    keep
                });
                continue;
            }
            Some(_) = forwards.join_next(), if !forwards.is_empty() => continue,
        };
        let headers = stream.headers();
        let kind = headers.get(STREAM_TYPE).unwrap_or_default().to_string();
        let port = headers.get(PORT_HEADER).unwrap_or_default().to_string();
        let id = stream.id();
        let request_id = match headers.get(REQUEST_ID_HEADER) {
            Some(r) => r.to_string(),
            // Clients from before request ids: the error stream is opened right before
            // its data stream.
            None if kind == "data" => id.saturating_sub(2).to_string(),
            None => id.to_string(),
        };
        if !matches!(kind.as_str(), "data" | "error") {
            stream.reset(spdy::RstStatus::PROTOCOL_ERROR);
            continue;
        }
        if stream.reply(spdy::Headers::new(), false).is_err() {
            break;
        }
        let pair = pending
            .entry(request_id.clone())
            .or_insert_with(|| HalfPair {
                port: port.clone(),
                data: None,
                error: None,
                since: tokio::time::Instant::now(),
            });
        let slot = if kind == "data" {
            &mut pair.data
        } else {
            &mut pair.error
        };
        if slot.is_some() || pair.port != port {
            stream.reset(spdy::RstStatus::PROTOCOL_ERROR);
            continue;
        }
        *slot = Some(stream);
        if pair.data.is_none() || pair.error.is_none() {
            continue;
        }
        let pair = pending.remove(&request_id).expect("present");
        let (data, mut error) = (pair.data.expect("both"), pair.error.expect("both"));
        let parsed = pair.port.parse::<u16>().ok().filter(|p| *p > 0);
        let work = parsed.map(|port| {
            shared
                .runtime
                .port_forward(pod.clone(), port, Box::new(data))
        });
        let pod = pod.clone();
        forwards.spawn(async move {
            let message = match work {
                None => format!("invalid port {:?}: not between 1 and 65535", pair.port),
                Some(work) => match work.await {
                    Ok(()) => String::new(),
                    Err(cause) => {
                        format!("error forwarding port {} to pod {pod}: {cause}", pair.port)
                    }
                },
            };
            if !message.is_empty() {
                let _ = error.write_all(message.as_bytes()).await;
            }
            let _ = error.shutdown().await;
        });
    }
    forwards.abort_all();
    conn.abort();
}
