//! Why a call failed: [`Error`], and what a peer that is not a CRI runtime looked like.

use std::fmt;
use std::time::Duration;

use tonic::{Code, Status};

use crate::{ApiVersion, Endpoint};

/// Why a call failed.
///
/// Its `Display` is one line that names what failed (the RPC and the endpoint where that
/// matters) and every cause **once**: the text of the gRPC status and of the transport error
/// below it is folded into the message, so [`source`](std::error::Error::source) returns
/// `None` and an error reporter that walks the chain (`anyhow`'s `{:#}`) prints nothing twice.
/// The structured details are in the fields: the gRPC [`Status`] (see [`Error::status`]) and
/// [`Error::code`].
///
/// No variant ever contains credentials: an endpoint with user info is refused
/// ([`Error::InvalidEndpoint`]) with the user info replaced by `***`.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The endpoint could not be parsed.
    #[non_exhaustive]
    InvalidEndpoint {
        /// As written, except user info (`user:password@`), shown as `***@`.
        endpoint: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Dialling the endpoint failed (no such socket, connection refused, ...).
    #[non_exhaustive]
    Connect {
        /// Where.
        endpoint: Endpoint,
        /// The cause.
        source: tonic::transport::Error,
    },
    /// The peer at the endpoint is not a CRI runtime: it does not speak gRPC over HTTP/2.
    #[non_exhaustive]
    NotCri {
        /// Where.
        endpoint: Endpoint,
        /// The RPC (`Service/Method`) that found out.
        rpc: &'static str,
        /// What the peer did instead.
        peer: Peer,
    },
    /// The runtime serves none of the CRI versions the policy accepts.
    #[non_exhaustive]
    NoSupportedVersion {
        /// Where.
        endpoint: Endpoint,
        /// What each version tried answered.
        tried: Vec<(ApiVersion, Status)>,
    },
    /// After re-connecting, the runtime no longer serves the version negotiated at start.
    #[non_exhaustive]
    VersionChanged {
        /// Where.
        endpoint: Endpoint,
        /// The version negotiated at start.
        negotiated: ApiVersion,
        /// What the runtime answered to it.
        status: Status,
    },
    /// A response exceeded the size limit.
    #[non_exhaustive]
    ResponseTooLarge {
        /// `Service/Method`.
        rpc: &'static str,
        /// The limit in bytes.
        limit: usize,
        /// For a list: whether streaming would have helped.
        streaming: ListStreaming,
        /// The error reported by the gRPC stack.
        status: Status,
    },
    /// A request was larger than a size limit: this client's own
    /// ([`max_request_size`](crate::ClientBuilder::max_request_size); the request was not
    /// sent whole) or the runtime's (it refused the request).
    #[non_exhaustive]
    RequestTooLarge {
        /// `Service/Method`.
        rpc: &'static str,
        /// The request's encoded size in bytes.
        size: usize,
        /// The limit it exceeded, in bytes, when known.
        limit: Option<usize>,
        /// Who refused it.
        refused_by: RefusedBy,
        /// The error reported by the gRPC stack.
        status: Status,
    },
    /// The call (or [`connect`](crate::ClientBuilder::connect)) did not finish within its
    /// deadline. Whichever noticed first (the client's timer, the channel enforcing the
    /// `grpc-timeout` it sent, or the runtime answering `DEADLINE_EXCEEDED`), this is the
    /// error: see the [deadline rules](crate#deadlines).
    #[non_exhaustive]
    DeadlineExceeded {
        /// `Service/Method`; `connect` while dialling.
        rpc: &'static str,
        /// Where.
        endpoint: Endpoint,
        /// The deadline.
        after: Duration,
    },
    /// The connection failed during the call (it broke, or re-dialling failed).
    #[non_exhaustive]
    Transport {
        /// `Service/Method`.
        rpc: &'static str,
        /// Where.
        endpoint: Endpoint,
        /// The status the gRPC stack made of the failure (its source is the transport error).
        status: Status,
    },
    /// The runtime answered with an error status.
    #[non_exhaustive]
    Rpc {
        /// `Service/Method`.
        rpc: &'static str,
        /// The status.
        status: Status,
    },
    /// The runtime's answer lacks fields the kubelet requires of it (the checks are listed
    /// under [`ClientBuilder::validate_responses`](crate::ClientBuilder::validate_responses)).
    #[non_exhaustive]
    InvalidResponse {
        /// `Service/Method`.
        rpc: &'static str,
        /// The missing fields, by their proto paths (`runtime_name`, `status.image_ref`).
        missing: Vec<&'static str>,
    },
    /// The streaming session (exec, attach, port forward) at the URL the runtime gave could
    /// not start, or broke.
    #[cfg(feature = "streaming")]
    #[cfg_attr(docsrs, doc(cfg(feature = "streaming")))]
    #[non_exhaustive]
    Streaming {
        /// The RPC that gave the URL (`RuntimeService/Exec`, ...).
        rpc: &'static str,
        /// What went wrong.
        source: cri_streaming::client::Error,
    },
}

/// What a peer that is not a CRI runtime did, as seen in the first bytes it sent.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Peer {
    /// It answered in HTTP/1.x (a web server or a REST API, not gRPC).
    Http1 {
        /// Its status line, for example `HTTP/1.1 400 Bad Request`.
        status_line: String,
    },
    /// It sent an SSH banner (an SSH server).
    Ssh {
        /// The banner, for example `SSH-2.0-OpenSSH_9.2p1`.
        banner: String,
    },
    /// It closed the connection without sending a byte.
    ClosedAtOnce,
    /// It sent something that is not HTTP/2.
    NotHttp2 {
        /// The first bytes, printable ASCII kept and the rest escaped.
        first_bytes: String,
    },
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Peer::Http1 { status_line } => write!(
                f,
                "it answered in HTTP/1 (`{status_line}`): a web server, not a gRPC/HTTP2 CRI runtime"
            ),
            Peer::Ssh { banner } => write!(f, "it is an SSH server (`{banner}`)"),
            Peer::ClosedAtOnce => f.write_str(
                "it closed the connection without a word (not a gRPC server, or one that refuses this client)",
            ),
            Peer::NotHttp2 { first_bytes } => {
                write!(f, "it does not speak HTTP/2 (it sent `{first_bytes}`)")
            }
        }
    }
}

/// For [`Error::RequestTooLarge`]: which side's limit the request exceeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RefusedBy {
    /// This client's limit: the request was not sent whole.
    Client,
    /// The runtime's limit: it answered that the request was too large.
    Runtime,
}

/// For [`Error::ResponseTooLarge`]: whether the list could have come in pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ListStreaming {
    /// Not a list call: nothing to stream.
    NotAList,
    /// A list call with list streaming off: turning it on would receive the list in pages.
    Off,
    /// List streaming is on, but the runtime does not serve the `Stream*` RPC, so the unary
    /// RPC was used.
    Unsupported,
}

impl Error {
    /// The gRPC status code of the failure, where there is one: the runtime's answer, what
    /// the gRPC stack made of a transport failure, `DEADLINE_EXCEEDED` for every missed
    /// deadline, `UNAVAILABLE` when the endpoint cannot be reached or is not a CRI runtime.
    pub fn code(&self) -> Option<Code> {
        match self {
            Error::Rpc { status, .. }
            | Error::Transport { status, .. }
            | Error::ResponseTooLarge { status, .. }
            | Error::RequestTooLarge { status, .. }
            | Error::VersionChanged { status, .. } => Some(status.code()),
            Error::DeadlineExceeded { .. } => Some(Code::DeadlineExceeded),
            Error::Connect { .. } | Error::NotCri { .. } => Some(Code::Unavailable),
            Error::InvalidEndpoint { .. }
            | Error::NoSupportedVersion { .. }
            | Error::InvalidResponse { .. } => None,
            #[cfg(feature = "streaming")]
            Error::Streaming { .. } => None,
        }
    }

    /// The gRPC status behind the failure, where there is one.
    pub fn status(&self) -> Option<&Status> {
        match self {
            Error::Rpc { status, .. }
            | Error::Transport { status, .. }
            | Error::ResponseTooLarge { status, .. }
            | Error::RequestTooLarge { status, .. }
            | Error::VersionChanged { status, .. } => Some(status),
            _ => None,
        }
    }

    /// The endpoint involved, where the error names one.
    pub fn endpoint(&self) -> Option<&Endpoint> {
        match self {
            Error::Connect { endpoint, .. }
            | Error::NotCri { endpoint, .. }
            | Error::NoSupportedVersion { endpoint, .. }
            | Error::VersionChanged { endpoint, .. }
            | Error::DeadlineExceeded { endpoint, .. }
            | Error::Transport { endpoint, .. } => Some(endpoint),
            _ => None,
        }
    }
}

/// The message of a status, and below it the transport error's chain, each text once (gRPC
/// stacks often copy a cause's text into the message of what wraps it).
pub(crate) struct Causes<'a>(pub(crate) &'a (dyn std::error::Error + 'static));

impl fmt::Display for Causes<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut printed: Vec<String> = Vec::new();
        let mut next = Some(self.0);
        while let Some(error) = next {
            let text = match error.downcast_ref::<Status>() {
                Some(status) => status.message().to_string(),
                None => error.to_string(),
            };
            next = error.source();
            let text = text.trim();
            if text.is_empty()
                || UNINFORMATIVE.contains(&text)
                || printed.iter().any(|p| p.contains(text))
            {
                continue;
            }
            if !printed.is_empty() {
                f.write_str(": ")?;
            }
            f.write_str(text)?;
            printed.push(text.to_string());
        }
        Ok(())
    }
}

/// Texts of wrappers that say nothing their causes do not say better.
const UNINFORMATIVE: [&str; 3] = ["transport error", "client error (Connect)", "Connect"];

fn status_text(status: &Status) -> String {
    let causes = Causes(status).to_string();
    if causes.is_empty() {
        format!("{:?}", status.code())
    } else {
        format!("{causes} ({:?})", status.code())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidEndpoint { endpoint, reason } => {
                write!(f, "invalid CRI endpoint `{endpoint}`: {reason}")
            }
            Error::Connect { endpoint, source } => {
                write!(f, "cannot connect to {endpoint}: {}", Causes(source))
            }
            Error::NotCri {
                endpoint,
                rpc,
                peer,
            } => write!(
                f,
                "{endpoint} is not a CRI runtime: {peer} (while calling {rpc})"
            ),
            Error::NoSupportedVersion { endpoint, tried } => {
                write!(f, "{endpoint} serves no CRI version this client accepts:")?;
                for (i, (version, status)) in tried.iter().enumerate() {
                    let sep = if i == 0 { "" } else { ";" };
                    write!(f, "{sep} {version}: {}", status_text(status))?;
                }
                if tried.len() == 1 {
                    write!(
                        f,
                        "; the runtime may speak only runtime.v1alpha2: allow it with VersionPolicy::PreferV1, or upgrade the runtime"
                    )?;
                }
                Ok(())
            }
            Error::VersionChanged {
                endpoint,
                negotiated,
                status,
            } => write!(
                f,
                "{endpoint} no longer serves {negotiated} after reconnecting ({}); the runtime was replaced by one \
                 speaking another CRI version: restart this client to negotiate again",
                status_text(status)
            ),
            Error::ResponseTooLarge {
                rpc,
                limit,
                streaming,
                status,
            } => {
                write!(
                    f,
                    "{rpc}: the response exceeds the {limit}-byte limit ({})",
                    status_text(status)
                )?;
                match streaming {
                    ListStreaming::Off => write!(
                        f,
                        "; enable list streaming (ClientBuilder::list_streaming) to receive it in pages"
                    ),
                    ListStreaming::Unsupported => write!(
                        f,
                        "; list streaming is on but the runtime does not serve the streaming RPC, so the \
                         list came in one message: narrow it with a filter or raise the limit \
                         (ClientBuilder::max_response_size)"
                    ),
                    ListStreaming::NotAList => {
                        write!(f, "; raise the limit (ClientBuilder::max_response_size)")
                    }
                }
            }
            Error::RequestTooLarge {
                rpc,
                size,
                limit,
                refused_by,
                status,
            } => {
                let limit = limit.map_or(String::new(), |l| format!(" of {l} bytes"));
                match refused_by {
                    RefusedBy::Client => write!(
                        f,
                        "{rpc}: the request is {size} bytes, over this client's limit{limit} \
                         for requests: it was not sent"
                    ),
                    RefusedBy::Runtime => write!(
                        f,
                        "{rpc}: the runtime refused the request: {size} bytes, over its \
                         limit{limit} ({})",
                        status_text(status)
                    ),
                }
            }
            Error::DeadlineExceeded {
                rpc,
                endpoint,
                after,
            } => {
                write!(
                    f,
                    "{rpc} on {endpoint}: deadline exceeded, no answer within {after:?}"
                )
            }
            Error::Transport {
                rpc,
                endpoint,
                status,
            } => write!(
                f,
                "{rpc} on {endpoint}: the connection failed: {}",
                status_text(status)
            ),
            Error::Rpc { rpc, status } => write!(f, "{rpc}: {}", status_text(status)),
            Error::InvalidResponse { rpc, missing } => write!(
                f,
                "{rpc}: the runtime's response is incomplete: {} not set",
                missing.join(", ")
            ),
            #[cfg(feature = "streaming")]
            Error::Streaming { rpc, source } => {
                write!(f, "{rpc}: the streaming session failed: {source}")
            }
        }
    }
}

/// Every cause is in the `Display` text (see [`Error`]), so there is no further source.
impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Leaf;
    impl fmt::Display for Leaf {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("No such file or directory (os error 2)")
        }
    }
    impl std::error::Error for Leaf {}

    #[derive(Debug)]
    struct Wrapper(Leaf);
    impl fmt::Display for Wrapper {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "client error: {}", self.0)
        }
    }
    impl std::error::Error for Wrapper {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn each_cause_once() {
        let mut status =
            Status::unavailable("client error: No such file or directory (os error 2)");
        status.set_source(std::sync::Arc::new(Wrapper(Leaf)));
        let error = Error::Transport {
            rpc: "RuntimeService/Version",
            endpoint: Endpoint::Unix("/x.sock".into()),
            status,
        };
        let text = error.to_string();
        assert_eq!(text.matches("No such file").count(), 1, "{text}");
        assert!(text.contains("unix:///x.sock"), "{text}");
        assert!(std::error::Error::source(&error).is_none());
    }

    #[test]
    fn too_large_hints_follow_the_streaming_state() {
        let error = |streaming| {
            Error::ResponseTooLarge {
                rpc: "RuntimeService/ListContainers",
                limit: 16,
                streaming,
                status: Status::out_of_range("message length too large"),
            }
            .to_string()
        };
        assert!(error(ListStreaming::Off).contains("enable list streaming"));
        let unsupported = error(ListStreaming::Unsupported);
        assert!(
            !unsupported.contains("enable list streaming"),
            "{unsupported}"
        );
        assert!(
            unsupported.contains("does not serve the streaming RPC"),
            "{unsupported}"
        );
        assert!(!error(ListStreaming::NotAList).contains("streaming"));
    }
}
