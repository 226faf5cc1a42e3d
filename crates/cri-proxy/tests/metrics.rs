//! `--metrics-address`: the counters read back, from the registry and over HTTP.

mod support;

use std::sync::Arc;
use std::time::Duration;

use cri_api_v1 as v1;
use cri_proxy::metrics::{Registry, serve_metrics};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn calls_are_counted_by_operation_and_served_as_prometheus_text() {
    let dir = tempfile::tempdir().unwrap();
    let fake = cri_fake::FakeRuntime::new();
    fake.seed(2, 1);
    let server = fake.serve_unix(dir.path().join("fake.sock")).await.unwrap();
    let registry = Arc::new(Registry::default());
    let proxy = support::proxy(dir.path(), &server.endpoint(), |b| {
        b.metrics(registry.clone())
            .inject("Status:error=UNAVAILABLE".parse().unwrap())
    })
    .await;
    let mut runtime = support::runtime_client(&proxy.path).await;
    for _ in 0..3 {
        runtime
            .version(v1::VersionRequest::default())
            .await
            .unwrap();
    }
    runtime
        .list_containers(v1::ListContainersRequest::default())
        .await
        .unwrap();
    runtime
        .container_status(v1::ContainerStatusRequest {
            container_id: "missing".into(),
            verbose: false,
        })
        .await
        .unwrap_err();
    runtime
        .status(v1::StatusRequest::default())
        .await
        .unwrap_err();
    let mut stream = runtime
        .stream_containers(v1::StreamContainersRequest::default())
        .await
        .unwrap()
        .into_inner();
    for _ in 0..10 {
        if stream.message().await.unwrap().is_none() {
            break;
        }
    }
    drop(stream);

    // A call is counted when its response body ends; give the server a moment to finish.
    let mut snapshot = registry.snapshot();
    for _ in 0..50 {
        if snapshot.contains_key("stream_containers") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        snapshot = registry.snapshot();
    }
    assert_eq!(snapshot["version"].total, 3);
    assert_eq!(snapshot["version"].errors, 0);
    assert_eq!(snapshot["list_containers"].total, 1);
    assert_eq!(snapshot["container_status"].errors, 1);
    assert_eq!(snapshot["status"].errors, 1, "an injected error is counted");
    assert_eq!(snapshot["stream_containers"].total, 1);

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let served = tokio::spawn(serve_metrics(listener, registry.clone()));
    let text = get(address, "/metrics").await;
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(
        text.contains("cri_proxy_runtime_operations_total{operation_type=\"version\"} 3\n"),
        "{text}"
    );
    assert!(text.contains(
        "cri_proxy_runtime_operations_errors_total{operation_type=\"container_status\"} 1\n"
    ));
    assert!(text.contains("cri_proxy_runtime_operations_duration_seconds_count{operation_type=\"list_containers\"} 1\n"));
    assert!(text.contains("# TYPE cri_proxy_runtime_operations_duration_seconds histogram\n"));
    assert!(get(address, "/other").await.starts_with("HTTP/1.1 404"));
    served.abort();

    proxy.stop().await.unwrap();
    server.shutdown().await.unwrap();
}

async fn get(address: std::net::SocketAddr, path: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    stream
        .write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut text = String::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_string(&mut text))
        .await
        .unwrap()
        .unwrap();
    text
}
