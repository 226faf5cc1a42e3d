//! CRI endpoints as the kubelet, crictl and gRPC write them.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::Error;

/// Where a runtime (or image) service listens.
///
/// Parsed from the forms the kubelet's `--container-runtime-endpoint`, crictl's
/// `--runtime-endpoint` and gRPC's name resolver accept:
///
/// | written as | means |
/// |---|---|
/// | `unix:///run/containerd/containerd.sock` | a Unix socket at an absolute path |
/// | `unix:/run/containerd/containerd.sock` | the same (gRPC's short form) |
/// | `unix:run/cri.sock` | a Unix socket at a path relative to the working directory |
/// | `/run/containerd/containerd.sock`, `./cri.sock` (a bare path) | a Unix socket |
/// | `tcp://127.0.0.1:5000`, `http://127.0.0.1:5000` | plain-text gRPC over TCP |
///
/// Refused, with an error that says why: `unix://` followed by a relative path (gRPC reads
/// what follows `//` as an authority; write `unix:relative/path`), TLS (`https://`), Windows
/// named pipes, unknown schemes, and **user info** (`tcp://user:password@host:port`, `unix://user:password@/path`): CRI
/// endpoints carry no credentials, and the error never repeats them.
///
/// ```
/// use cri_client::Endpoint;
///
/// let endpoint: Endpoint = "unix:///run/containerd/containerd.sock".parse().unwrap();
/// assert_eq!(endpoint, Endpoint::Unix("/run/containerd/containerd.sock".into()));
/// assert_eq!(endpoint.to_string(), "unix:///run/containerd/containerd.sock");
/// assert_eq!("unix:/run/containerd/containerd.sock".parse::<Endpoint>().unwrap(), endpoint);
///
/// let error = "https://node:10250".parse::<Endpoint>().unwrap_err();
/// assert!(error.to_string().contains("https://node:10250"));
///
/// let error = "tcp://admin:hunter2@node:10250".parse::<Endpoint>().unwrap_err();
/// assert!(!error.to_string().contains("hunter2"));
/// assert!(!format!("{error:?}").contains("hunter2"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// A Unix domain socket at this path.
    Unix(PathBuf),
    /// `host:port` reached with plain-text HTTP/2.
    Tcp(String),
}

/// Schemes whose authority may carry user info (`scheme://user:password@host`); in
/// `unix://user:password@/path` what comes before the path is such an authority too.
const AUTHORITY_SCHEMES: [&str; 4] = ["tcp://", "http://", "https://", "unix://"];

/// The endpoint as written, with any user info (`user:password@`) replaced by `***@`: the form
/// that may appear in errors and `Debug` output.
pub(crate) fn redact(text: &str) -> String {
    let trimmed = text.trim_start();
    for scheme in AUTHORITY_SCHEMES {
        let Some(rest) = trimmed
            .get(..scheme.len())
            .filter(|s| s.eq_ignore_ascii_case(scheme))
            .map(|_| &trimmed[scheme.len()..])
        else {
            continue;
        };
        let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        if let Some(at) = rest[..authority_end].rfind('@') {
            return format!("{}***{}", &trimmed[..scheme.len()], &rest[at..]);
        }
    }
    text.to_string()
}

impl FromStr for Endpoint {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self, Error> {
        let invalid = |reason: &str| Error::InvalidEndpoint {
            endpoint: redact(text),
            reason: reason.to_string(),
        };
        let text = text.trim();
        if text.is_empty() {
            return Err(invalid("it is empty"));
        }
        if redact(text) != text {
            return Err(invalid(
                "it carries user info (`user:password@`): CRI endpoints take no credentials; \
                 remove them",
            ));
        }
        if let Some(path) = text.strip_prefix("unix://") {
            if path.is_empty() {
                return Err(invalid("the socket path is empty"));
            }
            if !Path::new(path).is_absolute() {
                return Err(invalid(
                    "`unix://` must be followed by an absolute path (unix:///run/cri.sock); \
                     write a relative path as `unix:relative/path`",
                ));
            }
            return Ok(Endpoint::Unix(PathBuf::from(path)));
        }
        if let Some(path) = text.strip_prefix("unix:") {
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
                && !host_port.contains(['/', '?', '#']);
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
                "unknown scheme `{scheme}` (expected unix://, unix:, tcp:// or http://, or a socket path)"
            )));
        }
        Ok(Endpoint::Unix(PathBuf::from(text)))
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Unix(path) if path.is_absolute() => write!(f, "unix://{}", path.display()),
            Endpoint::Unix(path) => write!(f, "unix:{}", path.display()),
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
        for (text, expected) in [
            ("unix:///run/crio/crio.sock", unix("/run/crio/crio.sock")),
            ("unix:/run/crio/crio.sock", unix("/run/crio/crio.sock")),
            ("unix:run/crio.sock", unix("run/crio.sock")),
            ("unix:./crio.sock", unix("./crio.sock")),
            ("/run/crio/crio.sock", unix("/run/crio/crio.sock")),
            ("./cri.sock", unix("./cri.sock")),
            ("/run/user@1000/cri.sock", unix("/run/user@1000/cri.sock")),
            (
                "tcp://127.0.0.1:5000",
                Endpoint::Tcp("127.0.0.1:5000".into()),
            ),
            ("http://[::1]:5000/", Endpoint::Tcp("[::1]:5000".into())),
        ] {
            assert_eq!(text.parse::<Endpoint>().unwrap(), expected, "{text}");
        }
    }

    #[test]
    fn display_parses_back() {
        for text in [
            "unix:///run/crio/crio.sock",
            "unix:rel/crio.sock",
            "tcp://127.0.0.1:5000",
        ] {
            let endpoint: Endpoint = text.parse().unwrap();
            assert_eq!(endpoint.to_string(), text);
            assert_eq!(endpoint.to_string().parse::<Endpoint>().unwrap(), endpoint);
        }
    }

    #[test]
    fn errors_name_the_endpoint_and_the_reason() {
        for (text, reason) in [
            ("", "empty"),
            ("unix://", "socket path is empty"),
            ("unix:", "socket path is empty"),
            ("unix://run/cri.sock", "absolute path"),
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

    #[test]
    fn user_info_is_refused_and_never_echoed() {
        for text in [
            "tcp://user:SECRETPW1@host:1",
            "http://user:SECRETPW1@host:1/",
            "https://user:SECRETPW1@node:10250/x",
            "HTTPS://SECRETPW1@node:10250",
            " tcp://u:SECRETPW1@h:1",
            "tcp://a@b:SECRETPW1@h:1",
            "unix://user:SECRETPW1@/run/cri.sock",
            "UNIX://SECRETPW1@/run/cri.sock",
        ] {
            let error = text.parse::<Endpoint>().unwrap_err();
            let (display, debug) = (error.to_string(), format!("{error:?}"));
            for shown in [&display, &debug] {
                assert!(!shown.contains("SECRETPW1"), "{text}: {shown}");
                assert!(shown.contains("***@"), "{text}: {shown}");
            }
            assert!(
                display.contains("user info") || display.contains("TLS"),
                "{text}: {display}"
            );
        }
    }

    #[test]
    fn redact_leaves_other_text_alone() {
        assert_eq!(redact("unix:///run/a@b.sock"), "unix:///run/a@b.sock");
        assert_eq!(redact("unix://u:p@/run/x.sock"), "unix://***@/run/x.sock");
        assert_eq!(redact("tcp://host:1/a@b"), "tcp://host:1/a@b");
        assert_eq!(redact("tcp://u:p@host:1"), "tcp://***@host:1");
    }
}
