//! `streaming_protocols`: the streaming server of Exec accepts each protocol version of each
//! transport on its own, as an older or newer client offers it alone: SPDY/3.1 with
//! `channel.k8s.io` … `v5.channel.k8s.io`, WebSocket with the plain and base64 channel
//! protocols. One upgrade per spec, each on a fresh single-use URL.

use std::time::Duration;

use anyhow::{Context as _, bail, ensure};
use cri_api_v1 as v1;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::{Ctx, Spec, SpecResult};

const SPDY: [(&str, &str); 5] = [
    ("spdy_v1", "channel.k8s.io"),
    ("spdy_v2", "v2.channel.k8s.io"),
    ("spdy_v3", "v3.channel.k8s.io"),
    ("spdy_v4", "v4.channel.k8s.io"),
    ("spdy_v5", "v5.channel.k8s.io"),
];

const WEBSOCKET: [(&str, &str); 6] = [
    ("websocket_v1", "channel.k8s.io"),
    ("websocket_v1_base64", "base64.channel.k8s.io"),
    ("websocket_v4", "v4.channel.k8s.io"),
    ("websocket_v4_base64", "v4.base64.channel.k8s.io"),
    ("websocket_v5", "v5.channel.k8s.io"),
    ("websocket_v5_base64", "v5.base64.channel.k8s.io"),
];

/// The group's specs.
pub fn specs() -> Vec<Spec> {
    let mut specs = Vec::new();
    for (name, protocol) in SPDY {
        specs.push(Spec::new("streaming_protocols", name, move |ctx| {
            negotiates(ctx, Transport::Spdy, protocol)
        }));
    }
    for (name, protocol) in WEBSOCKET {
        specs.push(Spec::new("streaming_protocols", name, move |ctx| {
            negotiates(ctx, Transport::WebSocket, protocol)
        }));
    }
    specs
}

#[derive(Clone, Copy)]
enum Transport {
    Spdy,
    WebSocket,
}

/// Offers `protocol` alone on an Exec URL: the server must switch protocols to it.
async fn negotiates(ctx: Ctx, transport: Transport, protocol: &'static str) -> SpecResult {
    let (_, _, id) = ctx.pod_with_container(&["sleep", "3600"]).await?;
    let url = ctx
        .client()
        .exec_url(v1::ExecRequest {
            container_id: id,
            cmd: vec!["echo".into(), "x".into()],
            stdout: true,
            ..Default::default()
        })
        .await
        .context("Exec")?
        .url;
    let rest = url
        .strip_prefix("http://")
        .with_context(|| format!("the Exec URL {url:?} is not http:// (https is not probed)"))?;
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let path = if path.is_empty() { "/" } else { path };
    let request = match transport {
        Transport::Spdy => format!(
            "POST {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: Upgrade\r\n\
             Upgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: {protocol}\r\n\
             Content-Length: 0\r\n\r\n"
        ),
        Transport::WebSocket => format!(
            "GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: Upgrade\r\n\
             Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\
             Sec-WebSocket-Key: Y3JpLWNvbmZvcm1hbmNlLTE=\r\n\
             Sec-WebSocket-Protocol: {protocol}\r\n\r\n"
        ),
    };
    let head = tokio::time::timeout(Duration::from_secs(10), async {
        let mut stream = tokio::net::TcpStream::connect(authority)
            .await
            .with_context(|| format!("connecting to {authority}"))?;
        stream.write_all(request.as_bytes()).await?;
        let mut head = Vec::new();
        let mut buf = [0u8; 1024];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
            let n = stream.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            head.extend_from_slice(&buf[..n]);
        }
        Ok::<_, anyhow::Error>(String::from_utf8_lossy(&head).into_owned())
    })
    .await
    .context("no answer to the upgrade within 10 s")??;
    let status = head.lines().next().unwrap_or_default();
    if !status.starts_with("HTTP/1.1 101") {
        bail!("offered {protocol} alone, the server answered {status:?}");
    }
    let header = match transport {
        Transport::Spdy => "x-stream-protocol-version",
        Transport::WebSocket => "sec-websocket-protocol",
    };
    let chosen = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.trim()
                .eq_ignore_ascii_case(header)
                .then(|| value.trim().to_owned())
        })
        .unwrap_or_default();
    ensure!(
        chosen == protocol,
        "offered {protocol}, the server chose {chosen:?}"
    );
    Ok(())
}
