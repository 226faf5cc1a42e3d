//! A real container runtime: a private containerd 1.6 (Debian's), which serves both
//! `runtime.v1` and `runtime.v1alpha2` on one socket, driven by the generated clients of both
//! crates through a whole pod lifecycle. What containerd 1.6 lacks must come back as an
//! `UNIMPLEMENTED` status, never as a transport error.
//!
//! The harness (`cri_tests::containerd`) starts it with `../shared/peers/start-containerd.sh`
//! and stops it with `stop-containerd.sh`, also when a test fails.

use std::path::Path;

use cri_convert::Downgrade as _;
use cri_tests::containerd::{Containerd, IMAGE, host_network_pod};
use tonic::{Code, Status};

/// The status of a server-streaming call that should fail: on the call or on its first
/// receive.
async fn stream_status<T>(
    call: Result<tonic::Response<tonic::Streaming<T>>, Status>,
) -> Result<(), Status> {
    let mut stream = call?.into_inner();
    stream.message().await.map(|_| ())
}

fn unimplemented(rpc: &str, result: Result<(), Status>) {
    match result {
        Err(status) if status.code() == Code::Unimplemented => {}
        Err(status) => panic!("{rpc}: expected UNIMPLEMENTED, got {status:?}"),
        Ok(()) => panic!("{rpc}: expected UNIMPLEMENTED, got an answer"),
    }
}

/// The harness's host-network pod config in the types of the version under test (it writes
/// it in v1; v1alpha2 carries all of it).
trait HostNetworkPod: Sized {
    fn host_network_pod(name: &str, uid: &str, log_directory: &Path) -> Self;
}

impl HostNetworkPod for cri_api_v1::PodSandboxConfig {
    fn host_network_pod(name: &str, uid: &str, log_directory: &Path) -> Self {
        host_network_pod(name, uid, log_directory)
    }
}

impl HostNetworkPod for cri_api_v1alpha2::PodSandboxConfig {
    fn host_network_pod(name: &str, uid: &str, log_directory: &Path) -> Self {
        host_network_pod(name, uid, log_directory)
            .downgrade()
            .expect("v1alpha2 carries the pod config")
    }
}

/// The same scenario for both versions: the types are the version's, the code the same.
macro_rules! lifecycle {
    ($api:ident, $containerd:expr) => {{
        use $api::image_service_client::ImageServiceClient;
        use $api::runtime_service_client::RuntimeServiceClient;
        use $api::*;

        let containerd: &Containerd = $containerd;
        let channel = containerd.channel().await;
        let mut rt = RuntimeServiceClient::new(channel.clone());
        let mut im = ImageServiceClient::new(channel);
        let expected_api = stringify!($api).trim_start_matches("cri_api_");

        let version = rt
            .version(VersionRequest {
                version: "0.1.0".into(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(version.runtime_name, "containerd");
        assert_eq!(version.runtime_api_version, expected_api);
        assert!(version.runtime_version.starts_with("1.6"), "{version:?}");

        let status = rt
            .status(StatusRequest { verbose: false })
            .await
            .unwrap()
            .into_inner()
            .status
            .expect("a runtime status");
        let condition = |kind: &str| {
            status
                .conditions
                .iter()
                .find(|c| c.r#type == kind)
                .map(|c| c.status)
        };
        assert_eq!(condition("RuntimeReady"), Some(true), "{status:?}");
        assert_eq!(
            condition("NetworkReady"),
            Some(false),
            "no CNI here: {status:?}"
        );

        // Images.
        let images = im
            .list_images(ListImagesRequest::default())
            .await
            .unwrap()
            .into_inner()
            .images;
        assert!(
            images
                .iter()
                .any(|i| i.repo_tags.iter().any(|t| t == IMAGE)),
            "{images:?}"
        );
        let image = im
            .image_status(ImageStatusRequest {
                image: Some(ImageSpec {
                    image: IMAGE.into(),
                    ..Default::default()
                }),
                verbose: false,
            })
            .await
            .unwrap()
            .into_inner()
            .image
            .expect("the imported image");
        assert!(
            image.id.starts_with("sha256:") && image.size > 0,
            "{image:?}"
        );
        let missing = im
            .image_status(ImageStatusRequest {
                image: Some(ImageSpec {
                    image: "localhost/no-such:1".into(),
                    ..Default::default()
                }),
                verbose: false,
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(missing.image, None);
        let fs = im
            .image_fs_info(ImageFsInfoRequest {})
            .await
            .unwrap()
            .into_inner();
        assert!(!fs.image_filesystems.is_empty());

        // A pod, with host networking (no CNI here) and a cgroup parent (for its stats).
        std::fs::create_dir_all(containerd.log_dir()).unwrap();
        let name = format!("cri-tests-{expected_api}");
        let pod_config = PodSandboxConfig {
            labels: [("suite".to_string(), "cri-tests".to_string())].into(),
            ..PodSandboxConfig::host_network_pod(
                &name,
                &format!("uid-{expected_api}-ü"),
                &containerd.log_dir(),
            )
        };
        let pod = rt
            .run_pod_sandbox(RunPodSandboxRequest {
                config: Some(pod_config.clone()),
                runtime_handler: String::new(),
            })
            .await
            .unwrap()
            .into_inner()
            .pod_sandbox_id;
        let pods = rt
            .list_pod_sandbox(ListPodSandboxRequest {
                filter: Some(PodSandboxFilter {
                    id: pod.clone(),
                    ..Default::default()
                }),
            })
            .await
            .unwrap()
            .into_inner()
            .items;
        assert_eq!(pods.len(), 1);
        assert_eq!(pods[0].state(), PodSandboxState::SandboxReady);
        assert_eq!(
            pods[0].labels.get("suite").map(String::as_str),
            Some("cri-tests")
        );
        let pod_status = rt
            .pod_sandbox_status(PodSandboxStatusRequest {
                pod_sandbox_id: pod.clone(),
                verbose: false,
            })
            .await
            .unwrap()
            .into_inner()
            .status
            .expect("a pod status");
        assert_eq!(
            pod_status.metadata.as_ref().map(|m| m.name.as_str()),
            Some(name.as_str())
        );

        // A container in it.
        let ctr = rt
            .create_container(CreateContainerRequest {
                pod_sandbox_id: pod.clone(),
                config: Some(ContainerConfig {
                    metadata: Some(ContainerMetadata {
                        name: "app".into(),
                        attempt: 0,
                    }),
                    image: Some(ImageSpec {
                        image: IMAGE.into(),
                        ..Default::default()
                    }),
                    command: vec!["/bin/sleep".into(), "3600".into()],
                    envs: vec![KeyValue {
                        key: "GREETING".into(),
                        value: "grüezi".into(),
                    }],
                    log_path: "app.log".into(),
                    ..Default::default()
                }),
                sandbox_config: Some(pod_config.clone()),
            })
            .await
            .unwrap()
            .into_inner()
            .container_id;
        let state = |status: ContainerStatusResponse| status.status.expect("a status").state();
        let created = rt
            .container_status(ContainerStatusRequest {
                container_id: ctr.clone(),
                verbose: false,
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(state(created), ContainerState::ContainerCreated);
        rt.start_container(StartContainerRequest {
            container_id: ctr.clone(),
        })
        .await
        .unwrap();
        let running = rt
            .container_status(ContainerStatusRequest {
                container_id: ctr.clone(),
                verbose: false,
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(state(running), ContainerState::ContainerRunning);
        let listed = rt
            .list_containers(ListContainersRequest {
                filter: Some(ContainerFilter {
                    pod_sandbox_id: pod.clone(),
                    ..Default::default()
                }),
            })
            .await
            .unwrap()
            .into_inner()
            .containers;
        assert_eq!(
            listed.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
            [ctr.as_str()]
        );

        // ExecSync: stdout, stderr and the exit code come back.
        let exec = rt
            .exec_sync(ExecSyncRequest {
                container_id: ctr.clone(),
                cmd: vec![
                    "sh".into(),
                    "-c".into(),
                    "echo \"hello $GREETING\"; echo oops >&2; exit 3".into(),
                ],
                timeout: 30,
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(String::from_utf8_lossy(&exec.stdout), "hello grüezi\n");
        assert_eq!(String::from_utf8_lossy(&exec.stderr), "oops\n");
        assert_eq!(exec.exit_code, 3);
        let exec = rt
            .exec_sync(ExecSyncRequest {
                container_id: ctr.clone(),
                cmd: vec!["echo".into(), "ok".into()],
                timeout: 30,
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!((exec.stdout.as_slice(), exec.exit_code), (&b"ok\n"[..], 0));
        let url = rt
            .exec(ExecRequest {
                container_id: ctr.clone(),
                cmd: vec!["sh".into()],
                stdout: true,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .url;
        assert!(url.starts_with("http://"), "{url}");

        // Statistics.
        let stats = rt
            .container_stats(ContainerStatsRequest {
                container_id: ctr.clone(),
            })
            .await
            .unwrap()
            .into_inner()
            .stats
            .expect("container stats");
        assert_eq!(stats.attributes.map(|a| a.id), Some(ctr.clone()));
        let all = rt
            .list_container_stats(ListContainerStatsRequest::default())
            .await
            .unwrap()
            .into_inner()
            .stats;
        assert!(
            all.iter()
                .any(|s| s.attributes.as_ref().is_some_and(|a| a.id == ctr))
        );
        let pod_stats = rt
            .list_pod_sandbox_stats(ListPodSandboxStatsRequest::default())
            .await
            .unwrap()
            .into_inner()
            .stats;
        assert!(
            pod_stats
                .iter()
                .any(|s| s.attributes.as_ref().is_some_and(|a| a.id == pod))
        );

        // Stop and remove, container then pod.
        rt.stop_container(StopContainerRequest {
            container_id: ctr.clone(),
            timeout: 0,
        })
        .await
        .unwrap();
        let exited = rt
            .container_status(ContainerStatusRequest {
                container_id: ctr.clone(),
                verbose: false,
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(state(exited), ContainerState::ContainerExited);
        rt.remove_container(RemoveContainerRequest {
            container_id: ctr.clone(),
        })
        .await
        .unwrap();
        let gone = rt
            .container_status(ContainerStatusRequest {
                container_id: ctr.clone(),
                verbose: false,
            })
            .await
            .unwrap_err();
        assert_eq!(gone.code(), Code::NotFound, "{gone:?}");
        rt.stop_pod_sandbox(StopPodSandboxRequest {
            pod_sandbox_id: pod.clone(),
        })
        .await
        .unwrap();
        let stopped = rt
            .pod_sandbox_status(PodSandboxStatusRequest {
                pod_sandbox_id: pod.clone(),
                verbose: false,
            })
            .await
            .unwrap()
            .into_inner()
            .status
            .expect("a pod status");
        assert_eq!(stopped.state(), PodSandboxState::SandboxNotready);
        rt.remove_pod_sandbox(RemovePodSandboxRequest {
            pod_sandbox_id: pod.clone(),
        })
        .await
        .unwrap();
        let pods = rt
            .list_pod_sandbox(ListPodSandboxRequest::default())
            .await
            .unwrap()
            .into_inner()
            .items;
        assert!(pods.iter().all(|p| p.id != pod), "{pods:?}");
        let containers = rt
            .list_containers(ListContainersRequest::default())
            .await
            .unwrap()
            .into_inner()
            .containers;
        assert!(containers.is_empty(), "{containers:?}");
        (rt, im)
    }};
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v1_against_containerd() {
    let containerd = Containerd::start();
    let (mut rt, mut im) = lifecycle!(cri_api_v1, &containerd);
    use cri_api_v1::*;

    // What containerd 1.6 lacks: UNIMPLEMENTED, unary and streaming alike.
    unimplemented(
        "RuntimeConfig",
        rt.runtime_config(RuntimeConfigRequest {}).await.map(drop),
    );
    unimplemented(
        "ListMetricDescriptors",
        rt.list_metric_descriptors(ListMetricDescriptorsRequest {})
            .await
            .map(drop),
    );
    unimplemented(
        "ListPodSandboxMetrics",
        rt.list_pod_sandbox_metrics(ListPodSandboxMetricsRequest {})
            .await
            .map(drop),
    );
    unimplemented(
        "UpdatePodSandboxResources",
        rt.update_pod_sandbox_resources(UpdatePodSandboxResourcesRequest::default())
            .await
            .map(drop),
    );
    unimplemented(
        "CheckpointContainer",
        rt.checkpoint_container(CheckpointContainerRequest::default())
            .await
            .map(drop),
    );
    unimplemented(
        "GetContainerEvents",
        stream_status(rt.get_container_events(GetEventsRequest {}).await).await,
    );
    unimplemented(
        "StreamPodSandboxes",
        stream_status(
            rt.stream_pod_sandboxes(StreamPodSandboxesRequest::default())
                .await,
        )
        .await,
    );
    unimplemented(
        "StreamContainers",
        stream_status(
            rt.stream_containers(StreamContainersRequest::default())
                .await,
        )
        .await,
    );
    unimplemented(
        "StreamContainerStats",
        stream_status(
            rt.stream_container_stats(StreamContainerStatsRequest::default())
                .await,
        )
        .await,
    );
    unimplemented(
        "StreamPodSandboxStats",
        stream_status(
            rt.stream_pod_sandbox_stats(StreamPodSandboxStatsRequest::default())
                .await,
        )
        .await,
    );
    unimplemented(
        "StreamPodSandboxMetrics",
        stream_status(
            rt.stream_pod_sandbox_metrics(StreamPodSandboxMetricsRequest {})
                .await,
        )
        .await,
    );
    unimplemented(
        "StreamImages",
        stream_status(im.stream_images(StreamImagesRequest::default()).await).await,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v1alpha2_against_containerd() {
    let containerd = Containerd::start();
    let _ = lifecycle!(cri_api_v1alpha2, &containerd);
}
