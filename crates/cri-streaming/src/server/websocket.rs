//! WebSocket sessions: remote command (`v5.channel.k8s.io` and the older channel protocols)
//! and port forward (a channel pair per port) over one connection, split into channels.

use std::sync::Arc;

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::Role;

use super::cache::Cached;
use super::session::{spawn_resize_reader, status_of_attach, status_of_exec};
use super::{Shared, Streams};
use crate::pipe::{Duplex, Outgoing};
use crate::protocol::{Status, channel};
use crate::ws::{self, End, Framing, Mux, MuxLimits};

/// The ports of a WebSocket port forward: the request's, else the `port` query parameters.
pub(super) fn forwarded_ports(
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

fn mux_limits(shared: &Shared) -> MuxLimits {
    MuxLimits {
        idle_timeout: shared.config.idle_timeout,
        finish_timeout: shared.config.finish_timeout,
        max_chunk: shared.config.max_chunk,
        max_buffered: shared.config.max_buffered_per_connection,
    }
}

/// A WebSocket session over `io`, the upgraded connection, in the negotiated `protocol`.
pub(super) async fn serve<IO>(
    shared: Arc<Shared>,
    io: IO,
    protocol: &str,
    request: Cached,
    ports: Vec<u16>,
) where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let framing = Framing::for_protocol(protocol).expect("a negotiated protocol");
    let config = ws::config(shared.config.max_message_size, shared.config.max_chunk);
    let io = ws::gated(io, shared.config.max_chunk);
    let ws = WebSocketStream::from_raw_socket(io, Role::Server, Some(config)).await;
    match request {
        Cached::Exec(exec) => {
            let (stdin, stdout, stderr, tty) = (exec.stdin, exec.stdout, exec.stderr, exec.tty);
            remote_command(
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
            remote_command(
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
            port_forward(&shared, ws, framing, pf.pod_sandbox_id, ports).await
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn remote_command<IO, F, Fut>(
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
    // Without a terminal nobody reads sizes: dropping the reader discards them (a reader
    // held and never read would stop the connection once full).
    let resize_reader = mux.readers.remove(&channel::RESIZE).filter(|_| tty);
    let streams = Streams {
        stdin: mux
            .readers
            .remove(&channel::STDIN)
            .map(|r| Box::new(r) as super::BoxReader),
        stdout: stdout.then(|| Box::new(mux.writer(channel::STDOUT)) as super::BoxWriter),
        stderr: stderr.then(|| Box::new(mux.writer(channel::STDERR)) as super::BoxWriter),
        tty,
        resize: resize_reader.map(spawn_resize_reader),
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

async fn port_forward<IO>(
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
