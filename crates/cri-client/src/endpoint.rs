//! CRI endpoints as the kubelet and crictl write them.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use crate::Error;

/// Where a runtime (or image) service listens.
///
/// Parsed from the forms the kubelet's `--container-runtime-endpoint` and crictl's
/// `--runtime-endpoint` accept:
///
/// | written as | means |
/// |---|---|
/// | `unix:///run/containerd/containerd.sock` | a Unix socket |
/// | `/run/containerd/containerd.sock` (a bare path) | the same |
/// | `tcp://127.0.0.1:5000`, `http://127.0.0.1:5000` | plain-text gRPC over TCP |
///
/// ```
/// use cri_client::Endpoint;
///
/// let endpoint: Endpoint = "unix:///run/containerd/containerd.sock".parse().unwrap();
/// assert_eq!(endpoint, Endpoint::Unix("/run/containerd/containerd.sock".into()));
/// assert_eq!(endpoint.to_string(), "unix:///run/containerd/containerd.sock");
///
/// let error = "https://node:10250".parse::<Endpoint>().unwrap_err();
/// assert!(error.to_string().contains("https://node:10250"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// A Unix domain socket at this path.
    Unix(PathBuf),
    /// `host:port` reached with plain-text HTTP/2.
    Tcp(String),
}

impl FromStr for Endpoint {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self, Error> {
        let invalid = |reason: &str| Error::InvalidEndpoint {
            endpoint: text.to_string(),
            reason: reason.to_string(),
        };
        let text = text.trim();
        if text.is_empty() {
            return Err(invalid("it is empty"));
        }
        if let Some(path) = text.strip_prefix("unix://") {
            if path.is_empty() {
                return Err(invalid("the socket path is empty"));
            }
            return Ok(Endpoint::Unix(PathBuf::from(path)));
        }
        if let Some(rest) = text
            .strip_prefix("tcp://")
            .or_else(|| text.strip_prefix("http://"))
        {
            let host_port = rest.trim_end_matches('/');
            let valid = host_port
                .rsplit_once(':')
                .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok())
                && !host_port.contains('/');
            if !valid {
                return Err(invalid("expected host:port after the scheme"));
            }
            return Ok(Endpoint::Tcp(host_port.to_string()));
        }
        if text.starts_with("https://") {
            return Err(invalid(
                "TLS endpoints are not supported (CRI runtimes listen on Unix sockets or plain TCP)",
            ));
        }
        if text.starts_with("npipe://") {
            return Err(invalid("Windows named pipes are not supported"));
        }
        if let Some((scheme, _)) = text.split_once("://") {
            return Err(invalid(&format!(
                "unknown scheme `{scheme}` (expected unix://, tcp:// or http://, or a socket path)"
            )));
        }
        Ok(Endpoint::Unix(PathBuf::from(text)))
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Unix(path) => write!(f, "unix://{}", path.display()),
            Endpoint::Tcp(host_port) => write!(f, "tcp://{host_port}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let unix = |p: &str| Endpoint::Unix(p.into());
        assert_eq!(
            "unix:///run/crio/crio.sock".parse::<Endpoint>().unwrap(),
            unix("/run/crio/crio.sock")
        );
        assert_eq!(
            "/run/crio/crio.sock".parse::<Endpoint>().unwrap(),
            unix("/run/crio/crio.sock")
        );
        assert_eq!(
            "./cri.sock".parse::<Endpoint>().unwrap(),
            unix("./cri.sock")
        );
        assert_eq!(
            "tcp://127.0.0.1:5000".parse::<Endpoint>().unwrap(),
            Endpoint::Tcp("127.0.0.1:5000".into())
        );
        assert_eq!(
            "http://[::1]:5000/".parse::<Endpoint>().unwrap(),
            Endpoint::Tcp("[::1]:5000".into())
        );
    }

    #[test]
    fn errors_name_the_endpoint_and_the_reason() {
        for (text, reason) in [
            ("", "empty"),
            ("unix://", "socket path is empty"),
            ("tcp://localhost", "host:port"),
            ("tcp://:80", "host:port"),
            ("https://node:1", "TLS"),
            ("npipe:////./pipe/containerd", "named pipes"),
            ("ftp://x:1", "unknown scheme `ftp`"),
        ] {
            let message = text.parse::<Endpoint>().unwrap_err().to_string();
            assert!(message.contains(reason), "{text}: {message}");
            assert!(message.contains(&format!("`{text}`")), "{text}: {message}");
        }
    }
}
