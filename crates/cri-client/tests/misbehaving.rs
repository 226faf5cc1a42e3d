//! The client against peers that misbehave, over Unix sockets: a socket that accepts and never
//! answers, peers that are not CRI runtimes (an HTTP/1.1 server, an SSH server, one that closes
//! at once), and runtimes that are too slow (a unary call, a list stream that stalls, a
//! v1alpha2 runtime behind the adapter). Every missed deadline must be `DeadlineExceeded`,
//! on time, naming the RPC, the endpoint and the deadline, and the runtime must have been
//! told the deadline.

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use cri_api_v1 as v1;
use cri_client::{Client, Endpoint, Error, Peer, VersionPolicy};
use cri_convert::V1alpha2OverV1;
use cri_fake::FakeRuntime;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};
use tokio_stream::wrappers::UnixListenerStream;
use tonic::Code;
use tonic::codegen::Bytes;

fn endpoint(socket: &Path) -> String {
    format!("unix://{}", socket.display())
}

/// Accepts connections on `socket` and hands each to `peer`.
fn serve_raw<F, Fut>(socket: &Path, peer: F) -> tokio::task::JoinHandle<()>
where
    F: Fn(UnixStream) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = UnixListener::bind(socket).unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(peer(stream));
        }
    })
}

#[tokio::test]
async fn a_silent_socket_fails_connect_within_connect_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("silent.sock");
    let held = Arc::new(Mutex::new(Vec::new()));
    let keep = held.clone();
    // Accepts, and neither reads nor writes: the connection stays open.
    let _server = serve_raw(&socket, move |stream| {
        keep.lock().unwrap().push(stream);
        async {}
    });
    let started = Instant::now();
    let error = Client::builder(endpoint(&socket))
        .connect_timeout(Duration::from_secs(2))
        .connect()
        .await
        .unwrap_err();
    let took = started.elapsed();
    assert!(
        // About 2 s: not the 10 s default, nor the 2-minute call timeout (with slack for a
        // loaded CI machine).
        took >= Duration::from_millis(1900) && took < Duration::from_secs(6),
        "took {took:?}"
    );
    assert_eq!(error.code(), Some(Code::DeadlineExceeded), "{error:?}");
    assert!(
        matches!(&error, Error::DeadlineExceeded { after, endpoint, .. }
            if *after == Duration::from_secs(2) && *endpoint == Endpoint::Unix(socket.clone())),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(message.contains(&endpoint(&socket)), "{message}");
    assert!(message.contains("2s"), "{message}");
    assert!(message.contains("RuntimeService/Version"), "{message}");
    assert!(!held.lock().unwrap().is_empty(), "the peer was reached");
}

/// Connects to a peer that is not a CRI runtime and returns the error and its message.
async fn not_cri(socket: &Path) -> (Error, String) {
    let started = Instant::now();
    let error = Client::builder(endpoint(socket))
        .connect_timeout(Duration::from_secs(20))
        .connect()
        .await
        .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "found out at once, not at the deadline: {:?}",
        started.elapsed()
    );
    let message = error.to_string();
    assert!(message.contains(&endpoint(socket)), "{message}");
    assert!(message.contains("is not a CRI runtime"), "{message}");
    assert_eq!(error.code(), Some(Code::Unavailable), "{error:?}");
    (error, message)
}

#[tokio::test]
async fn an_http1_server_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("http1.sock");
    // What a web server answers to the HTTP/2 preface.
    let _server = serve_raw(&socket, |mut stream| async move {
        let mut buf = [0; 1024];
        let _ = stream.read(&mut buf).await;
        let _ = stream
            .write_all(
                b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: 11\r\n\
                  Connection: close\r\n\r\nbad request",
            )
            .await;
    });
    let (error, message) = not_cri(&socket).await;
    assert!(
        matches!(&error, Error::NotCri { peer: Peer::Http1 { status_line }, .. }
            if status_line == "HTTP/1.1 400 Bad Request"),
        "{error:?}"
    );
    assert!(message.contains("HTTP/1"), "{message}");
    assert!(!message.contains("h2 protocol error"), "{message}");
}

#[tokio::test]
async fn an_ssh_server_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("ssh.sock");
    // An SSH server sends its banner first, then drops a client that does not speak SSH.
    let _server = serve_raw(&socket, |mut stream| async move {
        let _ = stream
            .write_all(b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n")
            .await;
        let mut buf = [0; 1024];
        let _ = stream.read(&mut buf).await;
        let _ = stream
            .write_all(b"Invalid SSH identification string.\r\n")
            .await;
    });
    let (error, message) = not_cri(&socket).await;
    assert!(
        matches!(&error, Error::NotCri { peer: Peer::Ssh { banner }, .. }
            if banner == "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3"),
        "{error:?}"
    );
    assert!(message.contains("SSH server"), "{message}");
}

#[tokio::test]
async fn a_socket_closed_at_once_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("closed.sock");
    let _server = serve_raw(&socket, |stream| async move { drop(stream) });
    let (error, message) = not_cri(&socket).await;
    assert!(
        matches!(
            &error,
            Error::NotCri {
                peer: Peer::ClosedAtOnce,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(message.contains("closed the connection"), "{message}");
}

#[tokio::test]
async fn each_cause_is_printed_once() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("nobody.sock");
    let error = Client::builder(endpoint(&socket))
        .connect()
        .await
        .unwrap_err();
    let message = error.to_string();
    assert!(message.contains(&endpoint(&socket)), "{message}");
    assert_eq!(
        message.matches("No such file or directory").count(),
        1,
        "{message}"
    );
    // Walking the chain as error reporters do prints nothing more.
    let mut chain = message.clone();
    let mut cause = std::error::Error::source(&error);
    while let Some(inner) = cause {
        chain.push_str(&format!(": {inner}"));
        cause = inner.source();
    }
    assert_eq!(
        chain.matches("No such file or directory").count(),
        1,
        "{chain}"
    );
}

#[tokio::test]
async fn credentials_in_endpoints_are_refused_and_never_shown() {
    for written in [
        "tcp://user:SECRETPW1@127.0.0.1:1",
        "https://user:SECRETPW1@node:10250",
    ] {
        let builder = Client::builder(written);
        assert!(!format!("{builder:?}").contains("SECRETPW1"), "{builder:?}");
        let error = builder.connect().await.unwrap_err();
        assert!(
            matches!(error, Error::InvalidEndpoint { .. }),
            "{written}: {error:?}"
        );
        for shown in [error.to_string(), format!("{error:?}")] {
            assert!(!shown.contains("SECRETPW1"), "{shown}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unix_colon_forms_reach_the_runtime() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("cri.sock");
    let _server = FakeRuntime::new().serve_unix(&socket).await.unwrap();
    let relative = pathdiff(&socket);
    for written in [
        format!("unix:{}", socket.display()),
        format!("unix:{}", relative.display()),
    ] {
        let client = Client::builder(&written).connect().await.unwrap();
        client.version(v1::VersionRequest::default()).await.unwrap();
    }
}

/// `path` relative to the working directory.
fn pathdiff(path: &Path) -> std::path::PathBuf {
    let cwd = std::env::current_dir().unwrap();
    let mut relative = std::path::PathBuf::new();
    for _ in cwd.components().skip(1) {
        relative.push("..");
    }
    relative.join(path.strip_prefix("/").unwrap())
}

// --- Slow runtimes: the fake behind a middleware that delays one RPC. ---

/// What the middleware saw: each request's path and its `grpc-timeout`.
type Seen = Arc<Mutex<Vec<(String, Option<String>)>>>;

#[derive(Clone)]
struct Slow<S> {
    inner: S,
    path: &'static str,
    /// Delay before the response starts.
    before: Duration,
    /// Delay after the first frame of the response body (a stream that stalls).
    stall: Option<Duration>,
    seen: Seen,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S> tower::Service<http::Request<tonic::body::Body>> for Slow<S>
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
        let timeout = request
            .headers()
            .get("grpc-timeout")
            .map(|v| v.to_str().unwrap().to_string());
        self.seen.lock().unwrap().push((path.clone(), timeout));
        let slow = path == self.path;
        let (before, stall) = (self.before, self.stall);
        let response = self.inner.call(request);
        Box::pin(async move {
            if slow {
                tokio::time::sleep(before).await;
            }
            let response = response.await?;
            Ok(match stall {
                Some(after) if slow => response.map(|body| {
                    tonic::body::Body::new(Stall {
                        inner: body,
                        frames: 0,
                        after,
                        sleep: None,
                    })
                }),
                _ => response,
            })
        })
    }
}

/// A response body that stops after its first frame for `after`.
struct Stall {
    inner: tonic::body::Body,
    frames: usize,
    after: Duration,
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl http_body::Body for Stall {
    type Data = Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, tonic::Status>>> {
        let this = self.get_mut();
        if this.frames >= 1 {
            let after = this.after;
            let sleep = this
                .sleep
                .get_or_insert_with(|| Box::pin(tokio::time::sleep(after)));
            ready!(sleep.as_mut().poll(cx));
        }
        let frame = ready!(Pin::new(&mut this.inner).poll_frame(cx));
        this.frames += 1;
        Poll::Ready(frame)
    }
}

/// Serves `runtime` (as v1, or as v1alpha2 only) with `path` slowed down.
fn serve_slow(
    runtime: &FakeRuntime,
    socket: &Path,
    v1alpha2: bool,
    path: &'static str,
    before: Duration,
    stall: Option<Duration>,
) -> Seen {
    let seen = Seen::default();
    let layer_seen = seen.clone();
    let layer = tower::layer::layer_fn(move |inner| Slow {
        inner,
        path,
        before,
        stall,
        seen: layer_seen.clone(),
    });
    let incoming = UnixListenerStream::new(UnixListener::bind(socket).unwrap());
    let mut server = tonic::transport::Server::builder().layer(layer);
    let router = if v1alpha2 {
        server
            .add_service(
                cri_api_v1alpha2::runtime_service_server::RuntimeServiceServer::new(
                    V1alpha2OverV1::new(runtime.clone()),
                ),
            )
            .add_service(
                cri_api_v1alpha2::image_service_server::ImageServiceServer::new(
                    V1alpha2OverV1::new(runtime.clone()),
                ),
            )
    } else {
        let (runtime_service, image_service) = runtime.services();
        server
            .add_service(runtime_service)
            .add_service(image_service)
    };
    tokio::spawn(async move { router.serve_with_incoming(incoming).await.unwrap() });
    seen
}

/// The `grpc-timeout` sent with the latest request to `path`, in seconds.
fn told(seen: &Seen, path: &str) -> f64 {
    let seen = seen.lock().unwrap();
    let (_, timeout) = seen
        .iter()
        .rev()
        .find(|(p, _)| p == path)
        .unwrap_or_else(|| panic!("{path} was not called: {seen:?}"));
    let timeout = timeout
        .as_deref()
        .unwrap_or_else(|| panic!("{path} was sent without grpc-timeout"));
    let (value, unit) = timeout.split_at(timeout.len() - 1);
    let value: f64 = value.parse().unwrap();
    value
        * match unit {
            "H" => 3600.0,
            "M" => 60.0,
            "S" => 1.0,
            "m" => 1e-3,
            "u" => 1e-6,
            "n" => 1e-9,
            other => panic!("unit {other}"),
        }
}

/// Runs `call`, which must miss the client's 1 s deadline, and checks the error.
async fn misses_deadline<T: std::fmt::Debug>(
    rpc: &str,
    socket: &Path,
    call: impl Future<Output = Result<T, Error>>,
) {
    let started = Instant::now();
    let error = call.await.unwrap_err();
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(5),
        "{rpc}: took {took:?}"
    );
    assert_eq!(error.code(), Some(Code::DeadlineExceeded), "{error:?}");
    assert!(
        matches!(&error, Error::DeadlineExceeded { rpc: r, after, endpoint, .. }
            if *r == rpc && *after == Duration::from_secs(1) && *endpoint == Endpoint::Unix(socket.to_path_buf())),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(
        message.contains(rpc) && message.contains(&endpoint(socket)) && message.contains("1s"),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_unary_call_is_deadline_exceeded() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("slow.sock");
    let runtime = FakeRuntime::new();
    runtime.seed(2, 2);
    let path = "/runtime.v1.RuntimeService/ListContainers";
    let seen = serve_slow(
        &runtime,
        &socket,
        false,
        path,
        Duration::from_secs(10),
        None,
    );
    let client = Client::builder(endpoint(&socket))
        .timeout(Duration::from_secs(1))
        .connect_timeout(Duration::from_secs(5))
        .connect()
        .await
        .unwrap();
    let version = told(&seen, "/runtime.v1.RuntimeService/Version");
    assert!(
        version > 4.0 && version <= 5.0,
        "Version was told {version}s"
    );
    misses_deadline(
        "RuntimeService/ListContainers",
        &socket,
        client.list_containers(v1::ListContainersRequest::default()),
    )
    .await;
    let told = told(&seen, path);
    assert!(told > 0.9 && told <= 1.0, "ListContainers was told {told}s");
    // The client is still fine for calls in time.
    client
        .list_pod_sandbox(v1::ListPodSandboxRequest::default())
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_that_stalls_is_deadline_exceeded() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("stall.sock");
    let runtime = FakeRuntime::builder().page_size(1).build();
    runtime.seed(3, 1);
    let path = "/runtime.v1.RuntimeService/StreamContainers";
    let seen = serve_slow(
        &runtime,
        &socket,
        false,
        path,
        Duration::ZERO,
        Some(Duration::from_secs(10)),
    );
    let client = Client::builder(endpoint(&socket))
        .list_streaming(true)
        .timeout(Duration::from_secs(1))
        .connect()
        .await
        .unwrap();
    misses_deadline(
        "RuntimeService/StreamContainers",
        &socket,
        client.list_containers(v1::ListContainersRequest::default()),
    )
    .await;
    let told = told(&seen, path);
    assert!(
        told > 0.9 && told <= 1.0,
        "StreamContainers was told {told}s"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_that_never_starts_is_deadline_exceeded() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("late.sock");
    let runtime = FakeRuntime::new();
    let path = "/runtime.v1.RuntimeService/StreamPodSandboxes";
    let seen = serve_slow(
        &runtime,
        &socket,
        false,
        path,
        Duration::from_secs(10),
        None,
    );
    let client = Client::builder(endpoint(&socket))
        .list_streaming(true)
        .timeout(Duration::from_secs(1))
        .connect()
        .await
        .unwrap();
    misses_deadline(
        "RuntimeService/StreamPodSandboxes",
        &socket,
        client.list_pod_sandbox(v1::ListPodSandboxRequest::default()),
    )
    .await;
    assert!(told(&seen, path) <= 1.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_v1alpha2_runtime_through_the_adapter_is_deadline_exceeded() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("old.sock");
    let runtime = FakeRuntime::new();
    let path = "/runtime.v1alpha2.RuntimeService/ListPodSandbox";
    let seen = serve_slow(&runtime, &socket, true, path, Duration::from_secs(10), None);
    let client = Client::builder(endpoint(&socket))
        .version_policy(VersionPolicy::PreferV1)
        .list_streaming(true)
        .timeout(Duration::from_secs(1))
        .connect()
        .await
        .unwrap();
    assert_eq!(
        client.runtime_api_version(),
        cri_client::ApiVersion::V1alpha2
    );
    misses_deadline(
        "RuntimeService/ListPodSandbox",
        &socket,
        client.list_pod_sandbox(v1::ListPodSandboxRequest::default()),
    )
    .await;
    // The v1alpha2 runtime was told the deadline through the adapter.
    let told = told(&seen, path);
    assert!(told > 0.9 && told <= 1.0, "ListPodSandbox was told {told}s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_too_large_hint_follows_the_streaming_state() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("big.sock");
    let runtime = FakeRuntime::builder().without_stream_rpcs().build();
    runtime.seed(20, 5);
    let _server = runtime.serve_unix(&socket).await.unwrap();
    for streaming in [false, true] {
        let client = Client::builder(endpoint(&socket))
            .list_streaming(streaming)
            .max_response_size(1024)
            .connect()
            .await
            .unwrap();
        let error = client
            .list_containers(v1::ListContainersRequest::default())
            .await
            .unwrap_err();
        let message = error.to_string();
        assert!(
            matches!(error, Error::ResponseTooLarge { limit: 1024, .. }),
            "{error:?}"
        );
        assert_eq!(
            message.contains("enable list streaming"),
            !streaming,
            "{message}"
        );
        if streaming {
            assert!(
                message.contains("does not serve the streaming RPC"),
                "{message}"
            );
        }
    }
}
