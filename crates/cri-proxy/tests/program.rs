//! The program's flags end to end: `--record`, `--metrics-address`, `--inject`, `--bridge-streaming`.

mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cri_api_v1 as v1;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const BIN: &str = env!("CARGO_BIN_EXE_cri-proxy");

#[tokio::test]
async fn record_metrics_inject_and_bridge_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let fake = cri_fake::FakeRuntime::builder()
        .without_stream_rpcs()
        .build();
    fake.seed(1, 3);
    let server = fake.serve_unix(dir.path().join("fake.sock")).await.unwrap();
    let listen = dir.path().join("proxy.sock");
    let record = dir.path().join("calls.jsonl");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = tokio::process::Command::new(BIN)
        .arg(format!("--listen=unix://{}", listen.display()))
        .arg(format!("--runtime-endpoint={}", server.endpoint()))
        .arg("--record")
        .arg(&record)
        .args(["--metrics-address", &format!("127.0.0.1:{port}")])
        .args([
            "--inject",
            "ImageFsInfo:error=UNAVAILABLE",
            "--bridge-streaming",
        ])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let started = Instant::now();
    while !listen.exists() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the proxy listens within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut runtime = support::runtime_client(&listen).await;
    let mut images = support::image_client(&listen).await;
    runtime
        .version(v1::VersionRequest::default())
        .await
        .unwrap();
    let error = images
        .image_fs_info(v1::ImageFsInfoRequest {})
        .await
        .unwrap_err();
    assert_eq!(error.code(), tonic::Code::Unavailable);
    let mut stream = runtime
        .stream_containers(v1::StreamContainersRequest::default())
        .await
        .unwrap()
        .into_inner();
    let page = stream.message().await.unwrap().unwrap();
    assert_eq!(page.containers.len(), 3);
    assert!(stream.message().await.unwrap().is_none());

    let mut metrics = String::new();
    for _ in 0..50 {
        let mut tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        tcp.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        metrics.clear();
        tcp.read_to_string(&mut metrics).await.unwrap();
        if metrics.contains("operation_type=\"stream_containers\"") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        metrics.contains("cri_proxy_runtime_operations_total{operation_type=\"version\"} 1\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            "cri_proxy_runtime_operations_errors_total{operation_type=\"image_fs_info\"} 1\n"
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            "cri_proxy_runtime_operations_total{operation_type=\"stream_containers\"} 1\n"
        ),
        "{metrics}"
    );

    let pid = child.id().unwrap().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status:?}");
    let text = std::fs::read_to_string(&record).unwrap();
    let methods: Vec<String> = text
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["method"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        methods,
        [
            "RuntimeService/Version",
            "ImageService/ImageFsInfo",
            "RuntimeService/StreamContainers"
        ]
    );
    server.shutdown().await.unwrap();
}
