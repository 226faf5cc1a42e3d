//! Metadata and the deadline reach the runtime unchanged: a proxy in front of a second proxy
//! whose own layer notes the headers each call arrives with.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use cri_api_v1 as v1;
use cri_proxy::{GrpcRequest, GrpcService};
use tower::{Layer, ServiceExt};

#[derive(Clone, Default)]
struct Seen(Arc<Mutex<Vec<http::HeaderMap>>>);

impl Layer<GrpcService> for Seen {
    type Service = GrpcService;
    fn layer(&self, inner: GrpcService) -> GrpcService {
        let seen = self.0.clone();
        GrpcService::new(tower::service_fn(move |request: GrpcRequest| {
            seen.lock().unwrap().push(request.headers().clone());
            let inner = inner.clone();
            async move { inner.oneshot(request).await }
        }))
    }
}

#[tokio::test]
async fn metadata_and_grpc_timeout_pass_through() {
    let dir = tempfile::tempdir().unwrap();
    let inner_dir = dir.path().join("inner");
    std::fs::create_dir(&inner_dir).unwrap();
    let fake = cri_fake::FakeRuntime::new();
    let server = fake.serve_unix(dir.path().join("fake.sock")).await.unwrap();
    let seen = Seen::default();
    let inner = support::proxy(&inner_dir, &server.endpoint(), |b| b.layer(seen.clone())).await;
    let outer = support::proxy(dir.path(), &inner.endpoint(), |b| b).await;

    let mut client = support::runtime_client(&outer.path).await;
    let mut request = tonic::Request::new(v1::VersionRequest::default());
    request
        .metadata_mut()
        .insert("x-trace-id", "abc123".parse().unwrap());
    request.metadata_mut().insert_bin(
        "x-blob-bin",
        tonic::metadata::MetadataValue::from_bytes(b"\x00\x01"),
    );
    request.set_timeout(Duration::from_secs(7));
    client.version(request).await.unwrap();

    let seen = seen.0.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    let headers = &seen[0];
    assert_eq!(headers["x-trace-id"], "abc123");
    assert_eq!(headers["x-blob-bin"], "AAE");
    let timeout = headers["grpc-timeout"].to_str().unwrap();
    let (digits, unit) = timeout.split_at(timeout.len() - 1);
    let seconds = digits.parse::<f64>().unwrap()
        * match unit {
            "H" => 3600.0,
            "M" => 60.0,
            "S" => 1.0,
            "m" => 1e-3,
            "u" => 1e-6,
            "n" => 1e-9,
            other => panic!("grpc-timeout unit {other:?}"),
        };
    assert!(
        (6.0..=7.0).contains(&seconds),
        "grpc-timeout {timeout}: the caller's 7 s, less the time spent"
    );
    assert_eq!(headers["content-type"], "application/grpc");

    outer.stop().await.unwrap();
    inner.stop().await.unwrap();
    server.shutdown().await.unwrap();
}
