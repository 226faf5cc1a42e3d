//! Deadlines: every rule about time, in one place.
//!
//! 1. **Connecting.** [`ClientBuilder::connect`](crate::ClientBuilder::connect) as a whole
//!    (dialling each endpoint, the HTTP/2 handshake and the version check with `Version` and
//!    `ImageFsInfo`) runs under one budget, `connect_timeout` (default 10 s), as the kubelet
//!    validates its connections under its connection timeout. The version check tells the
//!    runtime what is left of the budget (`grpc-timeout`). The channel's later re-dials are
//!    bounded by `connect_timeout` as well, and by the deadline of the call that needs them.
//! 2. **Unary calls.** `timeout` (default 2 minutes) from the start of the call, including the
//!    re-verification of the negotiated version after a re-dial. As the kubelet:
//!    `RunPodSandbox` twice that; `StopContainer` the request's grace period (`timeout`, in
//!    seconds) plus `timeout`; `ExecSync` the request's `timeout` plus `timeout`, and none
//!    when the request's is 0; `CheckpointContainer` the request's `timeout` (seconds) when
//!    longer than `timeout`; `PullImage` none (the caller cancels by dropping the future).
//!    With `ClientBuilder::kubelet_deadlines(false)` every unary call gets `timeout` alone.
//! 3. **Lists through `Stream*`.** The whole stream (the call and every page) under one
//!    deadline, `timeout`; the `Stream*` request carries it as `grpc-timeout`. When the runtime
//!    lacks the streaming RPC, the unary fallback is a new call with its own deadline.
//! 4. **The streaming methods** (`stream_containers`, `get_container_events`, ...) have no
//!    deadline: the stream lasts as long as the caller reads it.
//! 5. **The runtime is told** every deadline, as `grpc-timeout`, on v1 and through the
//!    v1alpha2 adapter (`cri-convert` forwards it).
//! 6. **A miss is always [`Error::DeadlineExceeded`]**, whichever side noticed first: the
//!    client's timer; tonic's channel, which enforces the `grpc-timeout` it sends and reports
//!    `CANCELLED` "Timeout expired"; or the runtime, answering `DEADLINE_EXCEEDED` once the
//!    deadline has passed. A `DEADLINE_EXCEEDED` well before the deadline is the runtime's own
//!    (a registry that timed out, say) and stays [`Error::Rpc`].

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;
use tonic::{Code, Status};

use crate::Error;

/// The deadline class of an RPC (the kubelet's rules, chosen per RPC by the generator).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Deadline {
    /// The client's timeout.
    Default,
    /// Twice the client's timeout (`RunPodSandbox`).
    Double,
    /// None (`PullImage`).
    None,
    /// The client's timeout plus the request's, in seconds (`StopContainer`'s grace period).
    Plus(i64),
    /// The client's timeout plus the request's, in seconds, and none when the request's is 0
    /// (`ExecSync`).
    PlusUnlessZero(i64),
    /// The request's, in seconds, when longer than the client's timeout, else the client's
    /// (`CheckpointContainer`).
    AtLeast(i64),
}

impl Deadline {
    /// When a call of this class started now must be done.
    pub(crate) fn start(self, timeout: Duration) -> Option<Due> {
        let plus = |seconds: i64| {
            let extra = Duration::from_secs(u64::try_from(seconds).unwrap_or(0));
            Some(Due::start(timeout.saturating_add(extra)))
        };
        match self {
            Deadline::Default => Some(Due::start(timeout)),
            Deadline::Double => Some(Due::start(timeout.saturating_mul(2))),
            Deadline::None => None,
            Deadline::Plus(seconds) => plus(seconds),
            Deadline::PlusUnlessZero(0) => None,
            Deadline::PlusUnlessZero(seconds) => plus(seconds),
            Deadline::AtLeast(seconds) => {
                let asked = Duration::from_secs(u64::try_from(seconds).unwrap_or(0));
                Some(Due::start(timeout.max(asked)))
            }
        }
    }
}

/// A running deadline: how long it was, and when it ends.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Due {
    after: Duration,
    at: Instant,
}

impl Due {
    /// A deadline `after` from now.
    pub(crate) fn start(after: Duration) -> Self {
        let now = Instant::now();
        Self {
            after,
            at: now
                .checked_add(after)
                .unwrap_or(now + Duration::from_secs(86400 * 365)),
        }
    }

    /// The deadline as configured.
    pub(crate) fn after(&self) -> Duration {
        self.after
    }

    /// What is left of it (zero once passed): what the runtime is told.
    pub(crate) fn remaining(&self) -> Duration {
        self.at.saturating_duration_since(Instant::now())
    }

    /// Whether `status`, the failure of a call made under this deadline, reports the deadline.
    pub(crate) fn missed(&self, status: &Status) -> bool {
        let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(status);
        while let Some(error) = cause {
            if error.is::<tonic::TimeoutExpired>() {
                return true;
            }
            cause = error.source();
        }
        // The same, relayed without its source (through a proxy), or the runtime's verdict:
        // believed once the deadline has (all but) passed. grpc-timeout is sent with a
        // precision of 1/100 000 at worst, so allow a hundredth of the deadline.
        let passed = self.remaining() <= self.after / 100 + Duration::from_millis(1);
        match status.code() {
            Code::DeadlineExceeded => passed,
            Code::Cancelled => passed && status.message() == "Timeout expired",
            _ => false,
        }
    }
}

/// Runs `work` under `due` (if any); a miss becomes the error `missed` makes.
pub(crate) async fn bound<T>(
    due: Option<Due>,
    work: impl Future<Output = Result<T, Error>>,
    missed: impl FnOnce(Duration) -> Error,
) -> Result<T, Error> {
    match due {
        Some(due) => tokio::time::timeout_at(due.at, work)
            .await
            .unwrap_or_else(|_| Err(missed(due.after))),
        None => work.await,
    }
}

tokio::task_local! {
    /// The encoded size of the request of the call under way, noted by [`request`] for the
    /// call's error ([`Error::RequestTooLarge`](crate::Error::RequestTooLarge)).
    pub(crate) static REQUEST_SIZE: std::sync::Arc<std::sync::atomic::AtomicUsize>;
}

/// A request carrying what is left of the call's deadline to the server (`grpc-timeout`),
/// and with the `otel` feature the trace context of the current span (the RPC's).
pub(crate) fn request<T: cri_api_v1::prost::Message>(
    message: T,
    timeout: Option<Duration>,
) -> tonic::Request<T> {
    let _ = REQUEST_SIZE
        .try_with(|size| size.store(message.encoded_len(), std::sync::atomic::Ordering::Relaxed));
    let mut request = tonic::Request::new(message);
    if let Some(timeout) = timeout {
        request.set_timeout(timeout);
    }
    #[cfg(feature = "otel")]
    crate::otel::inject(request.metadata_mut());
    request
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn what_counts_as_missing_the_deadline() {
        let due = Due::start(Duration::from_secs(60));
        // tonic's channel enforcing our grpc-timeout: always ours.
        let mut status = Status::cancelled("Timeout expired");
        status.set_source(std::sync::Arc::new(tonic::TimeoutExpired(())));
        assert!(due.missed(&status));
        // The runtime's own DEADLINE_EXCEEDED long before ours: not ours.
        assert!(!due.missed(&Status::deadline_exceeded("registry timed out")));
        assert!(!due.missed(&Status::cancelled("Timeout expired")));
        assert!(!due.missed(&Status::unavailable("gone")));
        let passed = Due::start(Duration::ZERO);
        assert!(passed.missed(&Status::deadline_exceeded("deadline exceeded")));
        assert!(passed.missed(&Status::cancelled("Timeout expired")));
        assert!(!passed.missed(&Status::cancelled("client went away")));
    }

    #[tokio::test]
    async fn the_kubelet_classes() {
        let timeout = Duration::from_secs(120);
        let after = |deadline: Deadline| deadline.start(timeout).map(|due| due.after());
        assert_eq!(after(Deadline::Default), Some(timeout));
        assert_eq!(after(Deadline::Double), Some(Duration::from_secs(240)));
        assert_eq!(after(Deadline::None), None);
        assert_eq!(after(Deadline::Plus(30)), Some(Duration::from_secs(150)));
        assert_eq!(after(Deadline::Plus(-5)), Some(timeout));
        assert_eq!(after(Deadline::PlusUnlessZero(0)), None);
        assert_eq!(
            after(Deadline::PlusUnlessZero(10)),
            Some(Duration::from_secs(130))
        );
    }

    #[tokio::test]
    async fn bound_reports_the_configured_deadline() {
        let due = Some(Due::start(Duration::from_millis(20)));
        let error = bound(due, std::future::pending::<Result<(), Error>>(), |after| {
            Error::DeadlineExceeded {
                rpc: "RuntimeService/Version",
                endpoint: crate::Endpoint::Unix("/x".into()),
                after,
            }
        })
        .await
        .unwrap_err();
        assert!(
            matches!(error, Error::DeadlineExceeded { after, .. } if after == Duration::from_millis(20)),
            "{error:?}"
        );
    }
}
