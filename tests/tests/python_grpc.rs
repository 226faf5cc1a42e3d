//! gRPC interop with an independent gRPC stack (Python's grpcio, gRPC C-core) over Unix
//! sockets, unary and server-streaming: a Python client calling the Rust fake runtime, and the
//! Rust clients of both versions calling a Python server.

use std::time::Duration;

use cri_fake::FakeRuntime;
use cri_tests::python::{self, PythonServer};
use serde_json::Value;
use tonic::Code;
use tonic::transport::{Channel, Endpoint};

async fn connect(socket: &std::path::Path) -> Channel {
    let endpoint = format!("unix://{}", socket.display());
    for _ in 0..100 {
        if let Ok(channel) = Endpoint::from_shared(endpoint.clone())
            .unwrap()
            .connect()
            .await
        {
            return channel;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("cannot connect to {endpoint}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_client_calls_the_rust_fake_runtime() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = FakeRuntime::builder().page_size(2).build();
    runtime.seed(2, 2);
    let server = runtime
        .serve_unix(dir.path().join("fake.sock"))
        .await
        .unwrap();
    let legacy_runtime = FakeRuntime::builder().without_stream_rpcs().build();
    legacy_runtime.seed(1, 3);
    let legacy = legacy_runtime
        .serve_unix(dir.path().join("old.sock"))
        .await
        .unwrap();

    let mut command = python::command("client");
    command.arg(server.path()).arg(legacy.path());
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .expect("run the Python client");
    assert!(
        output.status.success(),
        "the Python client failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let out: Value = serde_json::from_slice(&output.stdout).expect("JSON from the Python client");

    assert_eq!(out["version"], serde_json::json!(["cri-fake", "v1"]));
    assert_eq!(out["state"], "CONTAINER_RUNNING");
    assert_eq!(out["exec"], serde_json::json!(["hé ✓\n", 0]));
    // 4 seeded containers and Python's own, listed and streamed (pages of 2) alike.
    let listed = out["listed_containers"].as_array().unwrap();
    assert_eq!(listed.len(), 5);
    assert_eq!(out["streamed_containers"], out["listed_containers"]);
    assert_eq!(out["container_pages"], 3);
    assert_eq!(out["streamed_equal_listed"], true);
    assert_eq!(out["listed_pods"].as_array().unwrap().len(), 3);
    assert_eq!(out["streamed_pods"], out["listed_pods"]);
    assert_eq!(out["streamed_stats"], 5);
    assert_eq!(out["listed_images"].as_array().unwrap().len(), 2);
    assert_eq!(out["streamed_images"], out["listed_images"]);
    assert_eq!(
        out["image_status"],
        serde_json::json!(["docker.io/library/busybox:1.36"])
    );
    // GetContainerEvents, streamed to Python while it drove the lifecycle.
    assert_eq!(
        out["events"],
        serde_json::json!([
            "CONTAINER_CREATED_EVENT",
            "CONTAINER_STARTED_EVENT",
            "CONTAINER_STOPPED_EVENT",
            "CONTAINER_DELETED_EVENT"
        ])
    );
    assert_eq!(out["runtime_config"], "OK");
    // The fake as an older runtime: Python sees UNIMPLEMENTED for the Stream RPCs.
    assert_eq!(
        out["legacy"],
        serde_json::json!({
            "StreamContainers": "UNIMPLEMENTED",
            "StreamPodSandboxes": "UNIMPLEMENTED",
            "StreamImages": "UNIMPLEMENTED",
            "ListContainers": 3,
        })
    );
    // What Python did is visible to Rust: its pod is there.
    assert_eq!(runtime.pod_count(), 3);
    server.shutdown().await.unwrap();
    legacy.shutdown().await.unwrap();
}

/// The containers the Python server lists (`py_containers` in `cri_peer.py`).
macro_rules! python_containers {
    ($api:ident) => {
        (0..5u32)
            .map(|i| $api::Container {
                id: format!("{i:064x}"),
                pod_sandbox_id: format!("{:064x}", 100 + i),
                metadata: Some($api::ContainerMetadata {
                    name: format!("ctr-{i}-ü"),
                    attempt: i,
                }),
                image: Some($api::ImageSpec {
                    image: "docker.io/library/busybox:1.36".into(),
                    ..Default::default()
                }),
                image_ref: format!("sha256:{}", "ab".repeat(32)),
                state: $api::ContainerState::ContainerRunning as i32,
                created_at: 1_700_000_000_000_000_000 + i64::from(i),
                labels: [
                    ("index".to_string(), i.to_string()),
                    ("ünï".to_string(), "✓".to_string()),
                ]
                .into(),
                ..Default::default()
            })
            .collect::<Vec<_>>()
    };
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_clients_call_a_python_server() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("py.sock");
    let _server = tokio::task::spawn_blocking({
        let socket = socket.clone();
        move || PythonServer::start(&socket)
    })
    .await
    .unwrap();
    let channel = connect(&socket).await;

    // runtime.v1
    {
        use cri_api_v1::image_service_client::ImageServiceClient;
        use cri_api_v1::runtime_service_client::RuntimeServiceClient;
        use cri_api_v1::*;
        let mut rt = RuntimeServiceClient::new(channel.clone());
        let mut im = ImageServiceClient::new(channel.clone());
        let version = rt
            .version(VersionRequest {
                version: "0.1.0-ü".into(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            (
                version.version.as_str(),
                version.runtime_name.as_str(),
                version.runtime_api_version.as_str()
            ),
            ("0.1.0-ü", "python-grpcio", "v1")
        );
        let status = rt
            .status(StatusRequest::default())
            .await
            .unwrap()
            .into_inner();
        let conditions = status.status.unwrap().conditions;
        assert_eq!(conditions.len(), 2);
        assert_eq!(conditions[1].message, "no network plugin ✗");
        let listed = rt
            .list_containers(ListContainersRequest::default())
            .await
            .unwrap()
            .into_inner()
            .containers;
        assert_eq!(listed, python_containers!(cri_api_v1));
        let mut stream = rt
            .stream_containers(StreamContainersRequest::default())
            .await
            .unwrap()
            .into_inner();
        let mut pages = Vec::new();
        while let Some(page) = stream.message().await.unwrap() {
            pages.push(page.containers);
        }
        assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [2, 2, 1]);
        assert_eq!(pages.concat(), listed);
        let exec = rt
            .exec_sync(ExecSyncRequest {
                container_id: "c".into(),
                cmd: vec!["echo".into(), "grüß".into(), "dich".into()],
                timeout: 1,
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            (
                exec.stdout.as_slice(),
                exec.stderr.as_slice(),
                exec.exit_code
            ),
            ("echo grüß dich".as_bytes(), &b"\xffpy"[..], 3)
        );
        let mut events = rt
            .get_container_events(GetEventsRequest {})
            .await
            .unwrap()
            .into_inner();
        let mut seen = Vec::new();
        while let Some(event) = events.message().await.unwrap() {
            let kind = event.container_event_type();
            seen.push((event.container_id, kind));
        }
        assert_eq!(
            seen,
            [
                (
                    format!("{:064x}", 0),
                    ContainerEventType::ContainerCreatedEvent
                ),
                (
                    format!("{:064x}", 1),
                    ContainerEventType::ContainerStartedEvent
                ),
                (
                    format!("{:064x}", 2),
                    ContainerEventType::ContainerStoppedEvent
                ),
            ]
        );
        let images = im
            .list_images(ListImagesRequest::default())
            .await
            .unwrap()
            .into_inner()
            .images;
        assert_eq!(images.len(), 3);
        assert_eq!(images[2].size, (1 << 40) + 2);
        let mut stream = im
            .stream_images(StreamImagesRequest::default())
            .await
            .unwrap()
            .into_inner();
        let mut streamed = Vec::new();
        while let Some(page) = stream.message().await.unwrap() {
            streamed.extend(page.images);
        }
        assert_eq!(streamed, images);
        // What the Python server leaves out: UNIMPLEMENTED, unary and streaming.
        let status = rt
            .runtime_config(RuntimeConfigRequest {})
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::Unimplemented, "{status:?}");
        let status = match rt
            .stream_pod_sandboxes(StreamPodSandboxesRequest::default())
            .await
        {
            Err(status) => status,
            Ok(response) => response.into_inner().message().await.unwrap_err(),
        };
        assert_eq!(status.code(), Code::Unimplemented, "{status:?}");
    }

    // runtime.v1alpha2, on the same socket.
    {
        use cri_api_v1alpha2::runtime_service_client::RuntimeServiceClient;
        use cri_api_v1alpha2::*;
        let mut rt = RuntimeServiceClient::new(channel);
        let version = rt
            .version(VersionRequest {
                version: "0.1.0".into(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(version.runtime_api_version, "v1alpha2");
        let listed = rt
            .list_containers(ListContainersRequest::default())
            .await
            .unwrap()
            .into_inner()
            .containers;
        assert_eq!(listed, python_containers!(cri_api_v1alpha2));
        let exec = rt
            .exec_sync(ExecSyncRequest {
                container_id: "c".into(),
                cmd: vec!["ls".into(), "/ü".into()],
                timeout: 1,
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            (exec.stdout.as_slice(), exec.exit_code),
            ("ls /ü".as_bytes(), 7)
        );
        let status = rt
            .container_status(ContainerStatusRequest::default())
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::Unimplemented, "{status:?}");
    }
}
