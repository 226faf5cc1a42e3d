//! Shared by the tests: the fake runtime on a Unix socket behind a middleware that records
//! what each request carried and can answer chosen RPCs itself.
#![allow(dead_code)] // each test binary uses its part

use std::collections::HashMap;
use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use cri_client::{Client, ClientBuilder};
use cri_fake::FakeRuntime;
use tokio::net::UnixListener;
use tokio_stream::wrappers::UnixListenerStream;
use tonic::codegen::Bytes;

type BoxFuture<T> = Pin<Box<dyn std::future::Future<Output = T> + Send>>;

/// Each request's path, `grpc-timeout` and `traceparent`, as the runtime received them.
pub type Seen = Arc<Mutex<Vec<(String, Option<String>, Option<String>)>>>;

/// Answers to put in place of the fake's: path to encoded message.
pub type Canned = Arc<HashMap<&'static str, Vec<u8>>>;

#[derive(Clone)]
struct Middleware<S> {
    inner: S,
    seen: Seen,
    canned: Canned,
}

impl<S> tower::Service<http::Request<tonic::body::Body>> for Middleware<S>
where
    S: tower::Service<
            http::Request<tonic::body::Body>,
            Response = http::Response<tonic::body::Body>,
        > + Send
        + 'static,
    S::Future: Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        let path = request.uri().path().to_string();
        let header = |name| {
            request
                .headers()
                .get(name)
                .map(|v: &http::HeaderValue| v.to_str().unwrap().to_string())
        };
        let (timeout, traceparent) = (header("grpc-timeout"), header("traceparent"));
        self.seen
            .lock()
            .unwrap()
            .push((path.clone(), timeout, traceparent));
        if let Some(message) = self.canned.get(path.as_str()) {
            let response = http::Response::builder()
                .header("content-type", "application/grpc")
                .body(tonic::body::Body::new(Answer::new(message)))
                .unwrap();
            return Box::pin(async move { Ok(response) });
        }
        Box::pin(self.inner.call(request))
    }
}

/// A gRPC response body: one message, then `grpc-status: 0`.
struct Answer {
    data: Option<Bytes>,
    done: bool,
}

impl Answer {
    fn new(message: &[u8]) -> Self {
        let mut framed = vec![0u8];
        framed.extend_from_slice(&(message.len() as u32).to_be_bytes());
        framed.extend_from_slice(message);
        Answer {
            data: Some(Bytes::from(framed)),
            done: false,
        }
    }
}

impl http_body::Body for Answer {
    type Data = Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, tonic::Status>>> {
        if let Some(data) = self.data.take() {
            return Poll::Ready(Some(Ok(http_body::Frame::data(data))));
        }
        if self.done {
            return Poll::Ready(None);
        }
        self.done = true;
        let mut trailers = http::HeaderMap::new();
        trailers.insert("grpc-status", http::HeaderValue::from_static("0"));
        Poll::Ready(Some(Ok(http_body::Frame::trailers(trailers))))
    }
}

/// The fake on `socket`, with `canned` answers in place of its own; what it received.
pub fn serve(runtime: &FakeRuntime, socket: &Path, canned: Canned) -> Seen {
    let seen = Seen::default();
    let layer_seen = seen.clone();
    let layer = tower::layer::layer_fn(move |inner| Middleware {
        inner,
        seen: layer_seen.clone(),
        canned: canned.clone(),
    });
    let incoming = UnixListenerStream::new(UnixListener::bind(socket).unwrap());
    let (runtime_service, image_service) = runtime.services();
    let router = tonic::transport::Server::builder()
        .layer(layer)
        .add_service(runtime_service)
        .add_service(image_service);
    tokio::spawn(async move { router.serve_with_incoming(incoming).await.unwrap() });
    seen
}

pub fn builder(socket: &Path) -> ClientBuilder {
    Client::builder(format!("unix://{}", socket.display()))
}

/// The `grpc-timeout` of the latest request to `path`, in seconds (`None`: not sent).
pub fn told(seen: &Seen, path: &str) -> Option<f64> {
    let seen = seen.lock().unwrap();
    let (_, timeout, _) = seen
        .iter()
        .rev()
        .find(|(p, ..)| p == path)
        .unwrap_or_else(|| panic!("{path} was not called: {seen:?}"));
    let timeout = timeout.as_deref()?;
    let (value, unit) = timeout.split_at(timeout.len() - 1);
    let value: f64 = value.parse().unwrap();
    Some(
        value
            * match unit {
                "H" => 3600.0,
                "M" => 60.0,
                "S" => 1.0,
                "m" => 1e-3,
                "u" => 1e-6,
                "n" => 1e-9,
                other => panic!("unit {other}"),
            },
    )
}

pub fn within(told: Option<f64>, expected: f64) -> bool {
    told.is_some_and(|told| told <= expected && told > expected - 2.0)
}
