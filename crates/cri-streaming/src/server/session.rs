//! One session: a WebSocket or SPDY connection, its streams, the runtime's work and the
//! status at the end.

use std::sync::Arc;

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};

use super::cache::Cached;
use super::{BoxError, Shared, Streams};
use crate::pipe::{Duplex, Outgoing};
use crate::protocol::{
    PORT_HEADER, REQUEST_ID_HEADER, STREAM_TYPE, Status, TerminalSize, channel, spdy_protocols,
};
use crate::spdy;
use crate::ws::{End, Framing, Mux, MuxLimits};

/// The ports of a WebSocket port forward: the request's, else the `port` query parameters.
pub(super) fn ws_ports(
    request: &cri_api_v1::PortForwardRequest,
    query: Option<&str>,
) -> Result<Vec<u16>, String> {
    let ports: Vec<i32> = if request.port.is_empty() {
        let mut ports = Vec::new();
        for (name, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
            if name != "port" {
                continue;
            }
            for part in value.split(',') {
                ports.push(part.trim().parse::<u16>().map(i32::from).map_err(|_| {
                    format!("query parameter \"port\": {part:?} is not a port number")
                })?);
            }
        }
        ports
    } else {
        request.port.clone()
    };
    if ports.is_empty() {
        return Err(
            "no port to forward: the request has none and the query names none \
                    (?port=N)"
                .into(),
        );
    }
    if ports.len() > 127 {
        return Err(format!(
            "{} ports in one WebSocket session (at most 127)",
            ports.len()
        ));
    }
    ports
        .into_iter()
        .map(|p| {
            u16::try_from(p)
                .ok()
                .filter(|p| *p > 0)
                .ok_or(format!("port {p} is not between 1 and 65535"))
        })
        .collect()
}

/// Reads terminal sizes (a sequence of JSON objects) into a channel; ends at the end of the
/// stream or at the first malformed one.
pub(crate) fn spawn_resize_reader<R: AsyncRead + Unpin + Send + 'static>(
    mut reader: R,
) -> mpsc::Receiver<TerminalSize> {
    let (tx, rx) = mpsc::channel(4);
    tokio::spawn(async move {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 512];
        loop {
            let n = match reader.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            buf.extend_from_slice(&chunk[..n]);
            let mut sizes = serde_json::Deserializer::from_slice(&buf).into_iter::<TerminalSize>();
            let mut parsed = Vec::new();
            loop {
                match sizes.next() {
                    Some(Ok(size)) => parsed.push(size),
                    Some(Err(e)) if e.is_eof() => break,
                    Some(Err(_)) => return,
                    None => break,
                }
            }
            let used = sizes.byte_offset();
            buf.drain(..used);
            if buf.len() > 4096 {
                return;
            }
            for size in parsed {
                if tx.send(size).await.is_err() {
                    return;
                }
            }
        }
    });
    rx
}

fn status_of_exec(result: Result<i32, BoxError>) -> Status {
    match result {
        Ok(code) => Status::exit_code(code),
        Err(error) => {
            Status::internal_error(format!("error executing command in container: {error}"))
        }
    }
}

fn status_of_attach(result: Result<(), BoxError>) -> Status {
    match result {
        Ok(()) => Status::success(),
        Err(error) => Status::internal_error(format!("error attaching to container: {error}")),
    }
}

fn mux_limits(shared: &Shared) -> MuxLimits {
    MuxLimits {
        idle_timeout: shared.config.idle_timeout,
        finish_timeout: shared.config.finish_timeout,
        max_chunk: shared.config.max_chunk,
    }
}

pub(super) async fn websocket<IO>(
    shared: Arc<Shared>,
    io: IO,
    protocol: &str,
    request: Cached,
    ports: Vec<u16>,
) where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let framing = Framing::for_protocol(protocol).expect("a negotiated protocol");
    let config = WebSocketConfig::default()
        .max_message_size(Some(shared.config.max_message_size))
        .max_frame_size(Some(shared.config.max_message_size));
    let ws = WebSocketStream::from_raw_socket(io, Role::Server, Some(config)).await;
    match request {
        Cached::Exec(exec) => {
            let (stdin, stdout, stderr, tty) = (exec.stdin, exec.stdout, exec.stderr, exec.tty);
            ws_remote_command(
                &shared,
                ws,
                framing,
                stdin,
                stdout,
                stderr,
                tty,
                |streams| {
                    let work = shared.runtime.exec(exec, streams);
                    async move { status_of_exec(work.await) }
                },
            )
            .await;
        }
        Cached::Attach(attach) => {
            let (stdin, stdout, stderr, tty) =
                (attach.stdin, attach.stdout, attach.stderr, attach.tty);
            ws_remote_command(
                &shared,
                ws,
                framing,
                stdin,
                stdout,
                stderr,
                tty,
                |streams| {
                    let work = shared.runtime.attach(attach, streams);
                    async move { status_of_attach(work.await) }
                },
            )
            .await;
        }
        Cached::PortForward(pf) => {
            ws_port_forward(&shared, ws, framing, pf.pod_sandbox_id, ports).await
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn ws_remote_command<IO, F, Fut>(
    shared: &Shared,
    ws: WebSocketStream<IO>,
    framing: Framing,
    stdin: bool,
    stdout: bool,
    stderr: bool,
    tty: bool,
    work: F,
) where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    F: FnOnce(Streams) -> Fut,
    Fut: std::future::Future<Output = Status>,
{
    let stderr = stderr && !tty;
    let mut inbound = vec![channel::RESIZE];
    if stdin {
        inbound.push(channel::STDIN);
    }
    let mut mux = Mux::start(ws, framing, &inbound, mux_limits(shared));
    // Tell the client the session is ready: an empty message on the first channel it reads.
    let ready = if stdout {
        channel::STDOUT
    } else if stderr {
        channel::STDERR
    } else {
        channel::ERROR
    };
    let _ = mux.out.send(Outgoing::Data(ready, Bytes::new())).await;
    let resize_reader = mux.readers.remove(&channel::RESIZE);
    let streams = Streams {
        stdin: mux
            .readers
            .remove(&channel::STDIN)
            .map(|r| Box::new(r) as super::BoxReader),
        stdout: stdout.then(|| Box::new(mux.writer(channel::STDOUT)) as super::BoxWriter),
        stderr: stderr.then(|| Box::new(mux.writer(channel::STDERR)) as super::BoxWriter),
        tty,
        resize: if tty {
            resize_reader.map(spawn_resize_reader)
        } else {
            None
        },
    };
    let mut ended = mux.ended.clone();
    let status = tokio::select! {
        status = work(streams) => status,
        _ = Mux::wait_end(&mut ended) => {
            // The client left (or broke the protocol, or went idle): the work is cancelled.
            mux.abort();
            return;
        }
    };
    if let Some(bytes) = status.to_error_stream(framing.status_json) {
        let _ = mux.out.send(Outgoing::Data(channel::ERROR, bytes)).await;
    }
    mux.finish().await;
}

async fn ws_port_forward<IO>(
    shared: &Shared,
    ws: WebSocketStream<IO>,
    framing: Framing,
    pod: String,
    ports: Vec<u16>,
) where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let inbound: Vec<u8> = (0..ports.len()).map(|i| (2 * i) as u8).collect();
    let mut mux = Mux::start(ws, framing, &inbound, mux_limits(shared));
    let mut forwards = tokio::task::JoinSet::new();
    for (i, port) in ports.iter().copied().enumerate() {
        let (data, error) = ((2 * i) as u8, (2 * i + 1) as u8);
        let prefix = Bytes::copy_from_slice(&port.to_le_bytes());
        let _ = mux.out.send(Outgoing::Data(data, prefix.clone())).await;
        let _ = mux.out.send(Outgoing::Data(error, prefix)).await;
        let stream = Duplex {
            reader: mux.readers.remove(&data).expect("an inbound channel"),
            writer: mux.writer(data),
        };
        let work = shared
            .runtime
            .port_forward(pod.clone(), port, Box::new(stream));
        let out = mux.out.clone();
        let pod = pod.clone();
        forwards.spawn(async move {
            if let Err(cause) = work.await {
                let message = format!("error forwarding port {port} to pod {pod}: {cause}");
                let _ = out.send(Outgoing::Data(error, Bytes::from(message))).await;
            }
        });
    }
    let mut ended = mux.ended.clone();
    let finished = async { while forwards.join_next().await.is_some() {} };
    tokio::select! {
        () = finished => {}
        end = Mux::wait_end(&mut ended) => {
            forwards.abort_all();
            if matches!(end, End::Failed(_)) {
                mux.abort();
                return;
            }
        }
    }
    mux.finish().await;
}

pub(crate) fn spdy_limits(config: &super::Config) -> spdy::Limits {
    spdy::Limits::default()
        .idle_timeout(Some(config.idle_timeout))
        .max_frame_size(u32::try_from(config.max_message_size).unwrap_or(u32::MAX))
        .max_streams(config.max_streams_per_connection)
}

/// An SPDY session: the client opens the streams, the server answers them.
pub(super) async fn spdy<IO>(shared: Arc<Shared>, io: IO, protocol: &str, request: Cached)
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (conn, incoming) = spdy::Connection::server(io, spdy_limits(&shared.config));
    match request {
        Cached::Exec(exec) => {
            let opts = (exec.stdin, exec.stdout, exec.stderr, exec.tty);
            spdy_remote_command(&shared, conn, incoming, protocol, opts, |streams| {
                let work = shared.runtime.exec(exec, streams);
                async move { status_of_exec(work.await) }
            })
            .await;
        }
        Cached::Attach(attach) => {
            let opts = (attach.stdin, attach.stdout, attach.stderr, attach.tty);
            spdy_remote_command(&shared, conn, incoming, protocol, opts, |streams| {
                let work = shared.runtime.attach(attach, streams);
                async move { status_of_attach(work.await) }
            })
            .await;
        }
        Cached::PortForward(pf) => {
            spdy_port_forward(&shared, conn, incoming, pf.pod_sandbox_id).await;
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

async fn spdy_remote_command<F, Fut>(
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

async fn spdy_port_forward(
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
