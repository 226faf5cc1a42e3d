//! The kubelet's rules around each call, against the fake runtime over a Unix socket: the
//! per-RPC deadlines told to the runtime, and validation of incomplete answers (the fake
//! behind a middleware that replaces chosen answers).

mod support;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use cri_api_v1 as v1;
use cri_client::Error;
use cri_fake::FakeRuntime;
use prost::Message;
use support::{Canned, builder, serve, told, within};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kubelets_deadlines_are_told_to_the_runtime_and_can_be_turned_off() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("cri.sock");
    let runtime = FakeRuntime::new();
    let seeded = runtime.seed(1, 1);
    let seen = serve(&runtime, &socket, Canned::default());
    let ctr = seeded.container_ids[0].clone();
    let exec_sync = |timeout| v1::ExecSyncRequest {
        container_id: ctr.clone(),
        cmd: vec!["true".into()],
        timeout,
    };
    const EXEC_SYNC: &str = "/runtime.v1.RuntimeService/ExecSync";

    let client = builder(&socket)
        .timeout(Duration::from_secs(100))
        .connect()
        .await
        .unwrap();
    let _ = client.exec_sync(exec_sync(5)).await;
    assert!(within(told(&seen, EXEC_SYNC), 105.0), "{seen:?}");
    let _ = client.exec_sync(exec_sync(0)).await;
    assert_eq!(
        told(&seen, EXEC_SYNC),
        None,
        "ExecSync with timeout 0: none"
    );
    client.version(v1::VersionRequest::default()).await.unwrap();
    assert!(within(
        told(&seen, "/runtime.v1.RuntimeService/Version"),
        100.0
    ));
    // What the runtime answers does not matter here, only what it was told.
    let _ = client
        .stop_container(v1::StopContainerRequest {
            container_id: ctr.clone(),
            timeout: 30,
        })
        .await;
    assert!(within(
        told(&seen, "/runtime.v1.RuntimeService/StopContainer"),
        130.0
    ));
    let checkpoint = |timeout| v1::CheckpointContainerRequest {
        container_id: ctr.clone(),
        location: "/tmp/checkpoint.tar".into(),
        timeout,
    };
    const CHECKPOINT: &str = "/runtime.v1.RuntimeService/CheckpointContainer";
    let _ = client.checkpoint_container(checkpoint(300)).await;
    assert!(within(told(&seen, CHECKPOINT), 300.0), "{seen:?}");
    let _ = client.checkpoint_container(checkpoint(10)).await;
    assert!(within(told(&seen, CHECKPOINT), 100.0), "{seen:?}");

    let plain = builder(&socket)
        .timeout(Duration::from_secs(100))
        .kubelet_deadlines(false)
        .connect()
        .await
        .unwrap();
    let _ = plain.exec_sync(exec_sync(0)).await;
    assert!(within(told(&seen, EXEC_SYNC), 100.0), "{seen:?}");
    let _ = plain
        .stop_container(v1::StopContainerRequest {
            container_id: ctr.clone(),
            timeout: 30,
        })
        .await;
    assert!(within(
        told(&seen, "/runtime.v1.RuntimeService/StopContainer"),
        100.0
    ));
    let _ = plain.checkpoint_container(checkpoint(300)).await;
    assert!(within(told(&seen, CHECKPOINT), 100.0), "{seen:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incomplete_answers_are_invalid_responses_naming_the_missing_fields() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("cri.sock");
    let runtime = FakeRuntime::new();
    let seeded = runtime.seed(1, 1);
    let mut canned = HashMap::new();
    canned.insert(
        "/runtime.v1.RuntimeService/Version",
        v1::VersionResponse {
            version: "0.1.0".into(),
            runtime_name: "half".into(),
            ..Default::default()
        }
        .encode_to_vec(),
    );
    canned.insert(
        "/runtime.v1.RuntimeService/ContainerStatus",
        v1::ContainerStatusResponse {
            status: Some(v1::ContainerStatus {
                id: "c1".into(),
                metadata: Some(v1::ContainerMetadata {
                    name: "web".into(),
                    attempt: 0,
                }),
                created_at: 1,
                ..Default::default()
            }),
            ..Default::default()
        }
        .encode_to_vec(),
    );
    canned.insert(
        "/runtime.v1.RuntimeService/PodSandboxStatus",
        v1::PodSandboxStatusResponse {
            status: Some(v1::PodSandboxStatus {
                id: "p1".into(),
                ..Default::default()
            }),
            ..Default::default()
        }
        .encode_to_vec(),
    );
    canned.insert(
        "/runtime.v1.ImageService/PullImage",
        v1::PullImageResponse::default().encode_to_vec(),
    );
    canned.insert(
        "/runtime.v1.RuntimeService/Exec",
        v1::ExecResponse::default().encode_to_vec(),
    );
    canned.insert(
        "/runtime.v1.RuntimeService/Status",
        v1::StatusResponse {
            status: Some(v1::RuntimeStatus {
                conditions: vec![v1::RuntimeCondition {
                    r#type: "RuntimeReady".into(),
                    status: true,
                    ..Default::default()
                }],
            }),
            ..Default::default()
        }
        .encode_to_vec(),
    );
    canned.insert(
        "/runtime.v1.RuntimeService/RunPodSandbox",
        v1::RunPodSandboxResponse::default().encode_to_vec(),
    );
    canned.insert(
        "/runtime.v1.RuntimeService/CreateContainer",
        v1::CreateContainerResponse::default().encode_to_vec(),
    );
    let _seen = serve(&runtime, &socket, Arc::new(canned));

    // Connecting accepts any answer to its version check, as the kubelet's does.
    let client = builder(&socket).connect().await.unwrap();
    let missing = |error: Error| match error {
        Error::InvalidResponse { rpc, missing, .. } => (rpc, missing),
        other => panic!("not InvalidResponse: {other:?}"),
    };
    let error = client
        .version(v1::VersionRequest::default())
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "RuntimeService/Version: the runtime's response is incomplete: runtime_version, \
         runtime_api_version not set"
    );
    assert_eq!(
        missing(error),
        (
            "RuntimeService/Version",
            vec!["runtime_version", "runtime_api_version"]
        )
    );
    let ctr = seeded.container_ids[0].clone();
    let error = client
        .container_status(v1::ContainerStatusRequest {
            container_id: ctr.clone(),
            verbose: false,
        })
        .await
        .unwrap_err();
    assert_eq!(missing(error).1, ["status.image.image", "status.image_ref"]);
    let error = client
        .pod_sandbox_status(v1::PodSandboxStatusRequest {
            pod_sandbox_id: seeded.pod_ids[0].clone(),
            verbose: false,
        })
        .await
        .unwrap_err();
    assert_eq!(missing(error).1, ["status.metadata", "status.created_at"]);
    let error = client
        .pull_image(v1::PullImageRequest {
            image: Some(v1::ImageSpec {
                image: "busybox".into(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(
        missing(error),
        ("ImageService/PullImage", vec!["image_ref"])
    );
    let error = client
        .status(v1::StatusRequest::default())
        .await
        .unwrap_err();
    assert_eq!(
        missing(error),
        ("RuntimeService/Status", vec!["status.conditions"])
    );
    let error = client
        .run_pod_sandbox(v1::RunPodSandboxRequest::default())
        .await
        .unwrap_err();
    assert_eq!(
        missing(error),
        ("RuntimeService/RunPodSandbox", vec!["pod_sandbox_id"])
    );
    let error = client
        .create_container(v1::CreateContainerRequest {
            pod_sandbox_id: seeded.pod_ids[0].clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(
        missing(error),
        ("RuntimeService/CreateContainer", vec!["container_id"])
    );
    let error = client.exec(&ctr, ["true"]).url().await.unwrap_err();
    assert_eq!(missing(error), ("RuntimeService/Exec", vec!["url"]));

    // Switched off, the same answers come through.
    let lenient = builder(&socket)
        .validate_responses(false)
        .connect()
        .await
        .unwrap();
    let version = lenient
        .version(v1::VersionRequest::default())
        .await
        .unwrap();
    assert_eq!(version.runtime_name, "half");
    let status = lenient.status(v1::StatusRequest::default()).await.unwrap();
    assert_eq!(status.status.unwrap().conditions.len(), 1);
    assert_eq!(lenient.exec(&ctr, ["true"]).url().await.unwrap(), "");
}
