//! Serving a cri-fake in process (its own thread and tokio runtime), with a tower layer that
//! can break it on purpose, to show which specs catch which fault.

#![allow(dead_code)]

use std::collections::HashSet;
use std::convert::Infallible;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::thread::JoinHandle;

use bytes::{Buf, BufMut, BytesMut};
use cri_fake::FakeRuntime;
use http_body_util::BodyExt;
use prost::Message;
use tokio::sync::oneshot;
use tonic::body::Body;

/// How the fake is broken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Not at all.
    None,
    /// A second StopContainer/StopPodSandbox of the same id answers NOT_FOUND.
    StopNotIdempotent,
    /// Each StreamContainers page loses its last container.
    StreamDropsItem,
    /// PullImage ignores its deadline: it runs to the end whatever the client gave it.
    PullIgnoresDeadline,
}

/// The layer that applies a [`Fault`].
#[derive(Clone)]
pub struct Breaker {
    fault: Fault,
    seen: Arc<Mutex<HashSet<Vec<u8>>>>,
}

impl<S> tower::Layer<S> for Breaker {
    type Service = Broken<S>;
    fn layer(&self, inner: S) -> Broken<S> {
        Broken {
            inner,
            breaker: self.clone(),
        }
    }
}

/// The fake's services behind a [`Breaker`].
#[derive(Clone)]
pub struct Broken<S> {
    inner: S,
    breaker: Breaker,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S> tower::Service<http::Request<Body>> for Broken<S>
where
    S: tower::Service<http::Request<Body>, Response = http::Response<Body>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<Result<http::Response<Body>, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<Body>) -> Self::Future {
        let mut inner = self.inner.clone();
        std::mem::swap(&mut inner, &mut self.inner);
        let path = request.uri().path().to_owned();
        let fault = self.breaker.fault;
        let seen = self.breaker.seen.clone();
        Box::pin(async move {
            match fault {
                Fault::StopNotIdempotent
                    if path.ends_with("/StopContainer") || path.ends_with("/StopPodSandbox") =>
                {
                    let (parts, body) = request.into_parts();
                    let bytes = body
                        .collect()
                        .await
                        .map(|c| c.to_bytes())
                        .unwrap_or_default();
                    let mut key = path.into_bytes();
                    key.extend_from_slice(&bytes);
                    let again = !seen.lock().unwrap().insert(key);
                    if again {
                        return Ok(tonic::Status::not_found("already stopped").into_http());
                    }
                    inner
                        .call(http::Request::from_parts(
                            parts,
                            Body::new(http_body_util::Full::new(bytes)),
                        ))
                        .await
                }
                Fault::StreamDropsItem if path.ends_with("/StreamContainers") => {
                    let response = inner.call(request).await?;
                    let (parts, body) = response.into_parts();
                    let Ok(collected) = body.collect().await else {
                        return Ok(tonic::Status::internal("broken body").into_http());
                    };
                    let trailers = collected.trailers().cloned();
                    let mut data = collected.to_bytes();
                    let mut out = BytesMut::new();
                    while data.remaining() >= 5 {
                        let flag = data.get_u8();
                        let len = data.get_u32() as usize;
                        let message = data.split_to(len.min(data.remaining()));
                        let mut page = cri_api_v1::StreamContainersResponse::decode(message)
                            .unwrap_or_default();
                        page.containers.pop();
                        let encoded = page.encode_to_vec();
                        out.put_u8(flag);
                        out.put_u32(encoded.len() as u32);
                        out.extend_from_slice(&encoded);
                    }
                    let mut frames =
                        vec![Ok::<_, Infallible>(http_body::Frame::data(out.freeze()))];
                    if let Some(trailers) = trailers {
                        frames.push(Ok(http_body::Frame::trailers(trailers)));
                    }
                    let body = http_body_util::StreamBody::new(tokio_stream::iter(frames));
                    Ok(http::Response::from_parts(parts, Body::new(body)))
                }
                Fault::PullIgnoresDeadline if path.ends_with("/PullImage") => {
                    request.headers_mut().remove("grpc-timeout");
                    // Detached: the pull goes on after the client (or the server's own
                    // timeout) gave up on it.
                    let task = tokio::spawn(inner.call(request));
                    match task.await {
                        Ok(result) => result,
                        Err(_) => Ok(tonic::Status::internal("pull task died").into_http()),
                    }
                }
                _ => inner.call(request).await,
            }
        })
    }
}

/// A fake served on a Unix socket until dropped.
pub struct Served {
    pub endpoint: String,
    _dir: tempfile::TempDir,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Serves `runtime` with `fault` applied.
pub fn serve(runtime: FakeRuntime, fault: Fault) -> Served {
    let dir = tempfile::tempdir().expect("temp dir");
    let socket: PathBuf = dir.path().join("fake.sock");
    let endpoint = format!("unix://{}", socket.display());
    let (ready_tx, ready_rx) = mpsc::channel();
    let (stop, stopped) = oneshot::channel::<()>();
    let breaker = Breaker {
        fault,
        seen: Arc::default(),
    };
    let thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("tokio runtime");
        rt.block_on(async move {
            let listener = tokio::net::UnixListener::bind(&socket).expect("bind");
            let (runtime_service, image_service) = runtime.services();
            let incoming = tokio_stream::wrappers::UnixListenerStream::new(listener);
            let _ = ready_tx.send(());
            let _ = tonic::transport::Server::builder()
                .layer(breaker)
                .add_service(runtime_service)
                .add_service(image_service)
                .serve_with_incoming_shutdown(incoming, async {
                    let _ = stopped.await;
                })
                .await;
        });
    });
    ready_rx.recv().expect("fake started");
    Served {
        endpoint,
        _dir: dir,
        stop: Some(stop),
        thread: Some(thread),
    }
}
