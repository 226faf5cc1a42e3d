//! `port-forward`: local TCP ports forwarded to a pod's ports.
//!
//! As Go crictl, each local port listens on both loopback families (`127.0.0.1` and
//! `[::1]`, the same port; failing only when neither can listen) and takes any number of
//! connections. Over SPDY, and over SPDY tunneled in a WebSocket (cri-streaming's server
//! offers it), one session carries them all. Over the WebSocket channel protocol of
//! upstream's servers (containerd, CRI-O: `v4.channel.k8s.io`), a session carries one
//! connection per port and cannot end one direction of it; each local connection then gets
//! a session of its own (a `PortForward` call and a URL each, as URLs are single-use).

use std::io::Write;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use cri_api_v1 as v1;
use cri_client::Client;
use cri_streaming::client::{PortConnection, PortForward, PortForwardOptions};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use super::rpc;
use super::session::transport;
use super::tls::client_tls;
use crate::cli::PortForwardArgs;
use crate::failure::{Failure, Out, Result};

/// The copy buffers of a forwarded connection, each way.
const COPY_BUFFER: usize = 128 << 10;

/// A local connection accepted on `local`, for the pod's port `remote`.
struct Accepted {
    tcp: TcpStream,
    local: u16,
    remote: u16,
}

pub(super) async fn port_forward(
    client: &Client,
    args: &PortForwardArgs,
    out: &mut Out,
) -> Result<()> {
    let mut pairs = Vec::new();
    for spec in &args.ports {
        let parse = |p: &str| {
            p.parse::<u16>()
                .map_err(|_| Failure::msg(format!("port {spec:?}: use [LOCAL_PORT:]REMOTE_PORT")))
        };
        let (local, remote) = match spec.split_once(':') {
            Some((local, remote)) => (
                if local.is_empty() { 0 } else { parse(local)? },
                parse(remote)?,
            ),
            None => (parse(spec)?, parse(spec)?),
        };
        pairs.push((local, remote));
    }
    let remote: Vec<u16> = pairs.iter().map(|p| p.1).collect();
    // The TLS files are read before the first RPC: a bad flag fails before anything runs.
    let options = PortForwardOptions::new()
        .transport(transport(args.transport.as_deref())?)
        .tls(client_tls(&args.tls)?);
    // The first session, opened up front as Go crictl does: a refusal shows before anything
    // listens.
    let first = open_session(client, &args.pod, &remote, &options).await?;
    // One that carries a connection per port serves none: each gets a session of its own.
    let shared = first.multiplexed().then(|| Arc::new(first));

    let (accepted, mut connections) = mpsc::channel::<Accepted>(16);
    for (local, remote) in pairs {
        for (listener, addr) in listen(local).await? {
            // Informational, as the lines below: a reader of stdout that went away
            // (`| head -1`) does not stop the forwarding.
            let _ = writeln!(out, "Forwarding from {addr} -> {remote}");
            let accepted = accepted.clone();
            tokio::spawn(async move {
                let local = addr.port();
                while let Ok((tcp, _)) = listener.accept().await {
                    let _ = tcp.set_nodelay(true);
                    let connection = Accepted { tcp, local, remote };
                    if accepted.send(connection).await.is_err() {
                        return;
                    }
                }
            });
        }
    }
    let _ = out.flush();
    drop(accepted);
    let lost = async {
        match &shared {
            Some(forward) => forward.closed().await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(lost);
    loop {
        let connection = tokio::select! {
            _ = tokio::signal::ctrl_c() => return Ok(()),
            () = &mut lost => {
                return Err(Failure::msg(format!(
                    "port forward to pod {}: lost connection to pod",
                    args.pod
                )));
            }
            connection = connections.recv() => match connection {
                Some(connection) => connection,
                None => return Ok(()),
            },
        };
        let _ = writeln!(out, "Handling connection for {}", connection.local);
        let _ = out.flush();
        match &shared {
            Some(forward) => {
                let forward = forward.clone();
                tokio::spawn(async move {
                    match forward.connect(connection.remote).await {
                        Ok(remote) => forward_connection(connection, remote, None).await,
                        Err(error) => report(&connection, &error),
                    }
                });
            }
            // Opening the session needs the runtime's client: here, one at a time.
            None => match open_session(client, &args.pod, &[connection.remote], &options).await {
                Ok(session) => match session.connect(connection.remote).await {
                    Ok(remote) => {
                        tokio::spawn(forward_connection(connection, remote, Some(session)));
                    }
                    Err(error) => report(&connection, &error),
                },
                Err(Failure::Message(message)) => eprintln!("crictl: {message}"),
                Err(other) => return Err(other),
            },
        }
    }
}

/// A `PortForward` call for `ports` and a session at its URL.
async fn open_session(
    client: &Client,
    pod: &str,
    ports: &[u16],
    options: &PortForwardOptions,
) -> Result<PortForward> {
    let response = rpc(
        "port forward",
        client
            .port_forward_url(v1::PortForwardRequest {
                pod_sandbox_id: pod.to_string(),
                port: ports.iter().map(|&p| i32::from(p)).collect(),
            })
            .await,
    )?;
    cri_streaming::client::port_forward(&response.url, ports, options)
        .await
        .map_err(|e| Failure::msg(format!("port forward to pod {pod}: {e}")))
}

/// Copies between the local connection and the pod's until both directions ended; keeps
/// `session` (a session of its own) open meanwhile.
async fn forward_connection(
    mut connection: Accepted,
    mut remote: PortConnection,
    session: Option<PortForward>,
) {
    let copied = tokio::io::copy_bidirectional_with_sizes(
        &mut connection.tcp,
        &mut remote,
        COPY_BUFFER,
        COPY_BUFFER,
    )
    .await;
    if let Err(error) = copied {
        report(&connection, &error);
    }
    drop(session);
}

fn report(connection: &Accepted, error: &dyn std::fmt::Display) {
    eprintln!(
        "crictl: port forward {} -> {}: {error}",
        connection.local, connection.remote
    );
}

/// Listens on `local` of both loopback families (the same port, the IPv4 one's when `local`
/// is 0), as Go crictl does for `localhost`: an error only when neither listens.
async fn listen(local: u16) -> Result<Vec<(TcpListener, SocketAddr)>> {
    let mut listeners = Vec::new();
    let mut errors = Vec::new();
    let mut port = local;
    for ip in [
        std::net::IpAddr::from(Ipv4Addr::LOCALHOST),
        Ipv6Addr::LOCALHOST.into(),
    ] {
        let address = SocketAddr::new(ip, port);
        match TcpListener::bind(address).await {
            Ok(listener) => {
                let bound = listener.local_addr().unwrap_or(address);
                port = bound.port();
                listeners.push((listener, bound));
            }
            Err(error) => errors.push(format!("{address}: {error}")),
        }
    }
    if listeners.is_empty() {
        return Err(Failure::msg(format!(
            "unable to listen on port {local}: {}",
            errors.join("; ")
        )));
    }
    Ok(listeners)
}
