//! The streaming URL and the TCP connection to it.

use tokio::net::TcpStream;

use super::Error;

/// The parts of a streaming URL the client needs.
pub(super) struct Target {
    pub url: url::Url,
    pub addr: String,
}

pub(super) fn parse_url(url: &str) -> Result<Target, Error> {
    let bad = |reason: &str| Error::Url {
        url: url.to_string(),
        reason: reason.to_string(),
    };
    let parsed = url::Url::parse(url).map_err(|e| bad(&e.to_string()))?;
    match parsed.scheme() {
        "http" | "ws" => {}
        "https" | "wss" => {
            return Err(bad(
                "TLS (https) streaming URLs are not supported by this client",
            ));
        }
        other => return Err(bad(&format!("unsupported scheme {other:?}"))),
    }
    let host = parsed.host_str().ok_or_else(|| bad("no host"))?;
    let port = parsed.port_or_known_default().unwrap_or(80);
    let addr = if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    Ok(Target { url: parsed, addr })
}

pub(super) async fn connect_tcp(target: &Target) -> Result<TcpStream, Error> {
    let tcp = TcpStream::connect(&target.addr)
        .await
        .map_err(|source| Error::Connect {
            addr: target.addr.clone(),
            source,
        })?;
    let _ = tcp.set_nodelay(true);
    Ok(tcp)
}
