//! A container whose command is a shell loop keeps running, as with a real `sh`: critest's
//! keep-logging container (`while true; do echo hello; sleep 1; done`), whose log it reopens
//! while the container runs.

use std::time::{Duration, Instant};

use cri_api_v1::runtime_service_server::RuntimeService;
use cri_api_v1::*;
use cri_fake::FakeRuntime;
use tonic::Request;

async fn status_of(rt: &FakeRuntime, id: &str) -> ContainerStatus {
    rt.container_status(Request::new(ContainerStatusRequest {
        container_id: id.into(),
        verbose: false,
    }))
    .await
    .unwrap()
    .into_inner()
    .status
    .unwrap()
}

/// Starts a container running `command` in a new pod that logs under `logs`.
async fn start(rt: &FakeRuntime, logs: &std::path::Path, command: &[&str]) -> String {
    rt.add_image("docker.io/library/busybox:1.36", 1 << 20, false);
    let config = PodSandboxConfig {
        metadata: Some(PodSandboxMetadata {
            name: "loops".into(),
            uid: "uid-loops".into(),
            namespace: "default".into(),
            attempt: 0,
        }),
        log_directory: logs.display().to_string(),
        ..Default::default()
    };
    let pod = rt
        .run_pod_sandbox(Request::new(RunPodSandboxRequest {
            config: Some(config.clone()),
            runtime_handler: String::new(),
        }))
        .await
        .unwrap()
        .into_inner()
        .pod_sandbox_id;
    let id = rt
        .create_container(Request::new(CreateContainerRequest {
            pod_sandbox_id: pod,
            config: Some(ContainerConfig {
                metadata: Some(ContainerMetadata {
                    name: "logger".into(),
                    attempt: 0,
                }),
                image: Some(ImageSpec {
                    image: "busybox:1.36".into(),
                    ..Default::default()
                }),
                command: command.iter().map(|s| s.to_string()).collect(),
                log_path: "logger.log".into(),
                ..Default::default()
            }),
            sandbox_config: Some(config),
        }))
        .await
        .unwrap()
        .into_inner()
        .container_id;
    rt.start_container(Request::new(StartContainerRequest {
        container_id: id.clone(),
    }))
    .await
    .unwrap();
    id
}

#[tokio::test]
async fn a_keep_logging_loop_runs_until_stopped() {
    let rt = FakeRuntime::new();
    let logs = tempfile::tempdir().unwrap();
    let id = start(
        &rt,
        logs.path(),
        &["sh", "-c", "while true; do echo hello; sleep 1; done"],
    )
    .await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let status = status_of(&rt, &id).await;
    assert_eq!(
        status.state,
        ContainerState::ContainerRunning as i32,
        "{status:?}"
    );
    let log = std::fs::read_to_string(&status.log_path).unwrap();
    let hellos = log
        .lines()
        .filter(|l| l.ends_with(" stdout F hello"))
        .count();
    assert!(hellos >= 2, "{log}");
    // StopContainer ends the loop at once (it never looks at a signal), well within its
    // timeout.
    let begun = Instant::now();
    rt.stop_container(Request::new(StopContainerRequest {
        container_id: id.clone(),
        timeout: 10,
    }))
    .await
    .unwrap();
    assert!(
        begun.elapsed() < Duration::from_secs(2),
        "{:?}",
        begun.elapsed()
    );
    let status = status_of(&rt, &id).await;
    assert_eq!(status.state, ContainerState::ContainerExited as i32);
    // Nothing more is logged.
    let before = std::fs::read_to_string(&status.log_path).unwrap();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(std::fs::read_to_string(&status.log_path).unwrap(), before);
}

#[tokio::test]
async fn critests_polling_loops_end_when_their_condition_holds() {
    let rt = FakeRuntime::new();
    let logs = tempfile::tempdir().unwrap();
    // `[` and `touch` are the container model's: the loop waits for the file.
    let id = start(
        &rt,
        logs.path(),
        &[
            "sh",
            "-c",
            "while [ ! -f /tmp/ready ]; do sleep 0.1; done && echo ready",
        ],
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        status_of(&rt, &id).await.state,
        ContainerState::ContainerRunning as i32
    );
    let (io, _) = cri_fake::command::CommandIo::capture(None);
    let touched = rt
        .exec_in(&id, vec!["touch".into(), "/tmp/ready".into()], io)
        .unwrap()
        .await;
    assert_eq!(touched, 0);
    for _ in 0..100 {
        let status = status_of(&rt, &id).await;
        if status.state == ContainerState::ContainerExited as i32 {
            assert_eq!(status.exit_code, 0);
            let log = std::fs::read_to_string(&status.log_path).unwrap();
            assert!(log.ends_with(" stdout F ready\n"), "{log}");
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the loop did not end");
}
