//! `port-forward`: local TCP ports forwarded to a pod's ports.

use std::io::Write;

use cri_api_v1 as v1;
use cri_client::Client;
use cri_streaming::client::PortForwardOptions;

use super::rpc;
use super::session::transport;
use crate::cli::PortForwardArgs;
use crate::failure::{Failure, Out, Result};

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
    let options = PortForwardOptions::new().transport(transport(args.transport.as_deref())?);
    let response = rpc(
        "port forward",
        client
            .port_forward_url(v1::PortForwardRequest {
                pod_sandbox_id: args.pod.clone(),
                port: remote.iter().map(|&p| i32::from(p)).collect(),
            })
            .await,
    )?;
    let forward = std::sync::Arc::new(
        cri_streaming::client::port_forward(&response.url, &remote, &options)
            .await
            .map_err(|e| Failure::msg(format!("port forward to pod {}: {e}", args.pod)))?,
    );
    let mut tasks = Vec::new();
    for (local, remote) in pairs {
        let address = std::net::SocketAddr::from(([127, 0, 0, 1], local));
        let (bound, task) = forward
            .clone()
            .listen(address, remote)
            .await
            .map_err(|e| Failure::msg(format!("listen on {address}: {e}")))?;
        writeln!(out, "Forwarding from {bound} -> {remote}")?;
        out.flush()?;
        tasks.push(task);
    }
    tokio::select! {
        _ = tokio::signal::ctrl_c() => Ok(()),
        result = futures_first(tasks) => result,
    }
}

async fn futures_first(
    tasks: Vec<tokio::task::JoinHandle<std::result::Result<(), cri_streaming::client::Error>>>,
) -> Result<()> {
    for task in tasks {
        match task.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(Failure::msg(format!("port forward: {e}"))),
            Err(e) => return Err(Failure::msg(format!("port forward: {e}"))),
        }
    }
    Ok(())
}
