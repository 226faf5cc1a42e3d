//! `--record`: one JSON line per call, crictl's JSON, secrets redacted.

mod support;

use std::sync::Arc;

use cri_api_v1 as v1;
use cri_api_v1::json::{self, JsonOptions};
use cri_proxy::record::Recorder;
use serde_json::Value;

#[tokio::test]
async fn every_call_is_a_line_with_crictl_json() {
    let dir = tempfile::tempdir().unwrap();
    let fake = cri_fake::FakeRuntime::new();
    fake.seed(1, 2);
    let server = fake.serve_unix(dir.path().join("fake.sock")).await.unwrap();
    let file = dir.path().join("calls.jsonl");
    let recorder = Arc::new(Recorder::open(&file, 1 << 30, 1).unwrap());
    let proxy = support::proxy(dir.path(), &server.endpoint(), |b| {
        b.record(recorder.clone())
    })
    .await;
    let mut runtime = support::runtime_client(&proxy.path).await;
    let mut images = support::image_client(&proxy.path).await;

    let listed = runtime
        .list_containers(v1::ListContainersRequest::default())
        .await
        .unwrap()
        .into_inner();
    runtime
        .container_status(v1::ContainerStatusRequest {
            container_id: "missing".into(),
            verbose: false,
        })
        .await
        .unwrap_err();
    let pull = v1::PullImageRequest {
        image: Some(v1::ImageSpec {
            image: "docker.io/library/busybox:latest".into(),
            ..Default::default()
        }),
        auth: Some(v1::AuthConfig {
            username: "me".into(),
            password: "hunter2-secret".into(),
            ..Default::default()
        }),
        ..Default::default()
    };
    images.pull_image(pull).await.unwrap();
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
    proxy.stop().await.unwrap();
    server.shutdown().await.unwrap();

    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        !text.contains("hunter2-secret"),
        "the password never reaches the file"
    );
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4, "{text}");

    assert_eq!(lines[0]["method"], "RuntimeService/ListContainers");
    let expected: Value =
        serde_json::from_str(&json::to_string(&listed, JsonOptions::crictl()).unwrap()).unwrap();
    assert_eq!(lines[0]["response"], expected);
    assert_eq!(
        lines[0]["request"],
        serde_json::json!({}),
        "unset messages stay out, as in crictl -o json"
    );
    assert_eq!(lines[0]["status"]["code"], "OK");
    assert!(lines[0]["durationSeconds"].as_f64().unwrap() >= 0.0);

    assert_eq!(lines[1]["method"], "RuntimeService/ContainerStatus");
    assert_eq!(lines[1]["status"]["code"], "NOT_FOUND");
    assert!(lines[1].get("response").is_none());

    assert_eq!(lines[2]["method"], "ImageService/PullImage");
    assert_eq!(lines[2]["request"]["auth"]["password"], "REDACTED");
    assert_eq!(lines[2]["request"]["auth"]["username"], "me");

    assert_eq!(lines[3]["method"], "RuntimeService/StreamContainers");
    let streamed: usize = lines[3]["responses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["containers"].as_array().unwrap().len())
        .sum();
    assert_eq!(streamed, 2);
}
