//! The `cri-fake` runtime, served over a real Unix socket, driven by the generated `runtime.v1`
//! client through every RPC of both services (the test checks its own coverage against the
//! descriptor set), the server-streaming ones included.

use std::collections::BTreeSet;
use std::time::Duration;

use cri_api_v1::image_service_client::ImageServiceClient;
use cri_api_v1::runtime_service_client::RuntimeServiceClient;
use cri_api_v1::*;
use cri_fake::FakeRuntime;
use tonic::Code;
use tonic::transport::{Channel, Endpoint};

async fn connect(endpoint: String) -> Channel {
    Endpoint::from_shared(endpoint)
        .unwrap()
        .connect()
        .await
        .expect("connect over the Unix socket")
}

/// Collects a server stream, counting its messages.
async fn collect<T>(
    response: Result<tonic::Response<tonic::Streaming<T>>, tonic::Status>,
) -> Vec<T> {
    let mut stream = response.expect("the call").into_inner();
    let mut out = Vec::new();
    while let Some(item) = stream.message().await.expect("a message") {
        out.push(item);
    }
    out
}

/// The RPCs a test called, to compare with the services in the descriptor set.
#[derive(Default)]
struct Called(BTreeSet<String>);

impl Called {
    fn mark(&mut self, rpc: &str) {
        self.0.insert(rpc.to_string());
    }
}

fn all_rpcs() -> BTreeSet<String> {
    let pool = prost_reflect::DescriptorPool::decode(FILE_DESCRIPTOR_SET).unwrap();
    pool.services()
        .flat_map(|s| {
            s.methods()
                .map(|m| m.name().to_string())
                .collect::<Vec<_>>()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_v1_rpc_against_the_fake_runtime() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = FakeRuntime::builder().page_size(3).build();
    let seeded = runtime.seed(4, 2);
    let server = runtime
        .serve_unix(dir.path().join("fake.sock"))
        .await
        .unwrap();
    let channel = connect(server.endpoint()).await;
    let mut rt = RuntimeServiceClient::new(channel.clone());
    let mut im = ImageServiceClient::new(channel);
    let mut called = Called::default();

    // Subscribe to events first: the response headers arrive once the server subscribed us.
    let mut events = rt
        .get_container_events(GetEventsRequest {})
        .await
        .unwrap()
        .into_inner();
    called.mark("GetContainerEvents");

    let version = rt
        .version(VersionRequest {
            version: "0.1.0".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (
            version.runtime_name.as_str(),
            version.runtime_api_version.as_str()
        ),
        ("cri-fake", "v1")
    );
    called.mark("Version");
    let status = rt
        .status(StatusRequest { verbose: true })
        .await
        .unwrap()
        .into_inner();
    let conditions = status.status.unwrap().conditions;
    assert!(conditions.iter().all(|c| c.status), "{conditions:?}");
    assert!(status.info.contains_key("config"));
    called.mark("Status");
    rt.update_runtime_config(UpdateRuntimeConfigRequest {
        runtime_config: Some(RuntimeConfig {
            network_config: Some(NetworkConfig {
                pod_cidr: "10.88.0.0/16".into(),
            }),
        }),
    })
    .await
    .unwrap();
    called.mark("UpdateRuntimeConfig");
    let config = rt
        .runtime_config(RuntimeConfigRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(config.linux.unwrap().cgroup_driver(), CgroupDriver::Systemd);
    called.mark("RuntimeConfig");

    // Images.
    let pulled = im
        .pull_image(PullImageRequest {
            image: Some(ImageSpec {
                image: "nginx:1.27".into(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .image_ref;
    assert!(
        pulled.starts_with("sha256:") && pulled.len() == 71,
        "{pulled}"
    );
    called.mark("PullImage");
    let images = im
        .list_images(ListImagesRequest::default())
        .await
        .unwrap()
        .into_inner()
        .images;
    assert_eq!(images.len(), 3);
    called.mark("ListImages");
    let pages = collect(im.stream_images(StreamImagesRequest::default()).await).await;
    assert_eq!(pages.len(), 1);
    assert_eq!(pages.concat_images(), images);
    called.mark("StreamImages");
    let nginx = im
        .image_status(ImageStatusRequest {
            image: Some(ImageSpec {
                image: "docker.io/library/nginx:1.27".into(),
                ..Default::default()
            }),
            verbose: true,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(nginx.image.unwrap().id, pulled);
    assert!(nginx.info.contains_key("info"));
    called.mark("ImageStatus");
    let fs = im
        .image_fs_info(ImageFsInfoRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(fs.image_filesystems.len(), 1);
    called.mark("ImageFsInfo");
    im.remove_image(RemoveImageRequest {
        image: Some(ImageSpec {
            image: pulled.clone(),
            ..Default::default()
        }),
    })
    .await
    .unwrap();
    let gone = im
        .image_status(ImageStatusRequest {
            image: Some(ImageSpec {
                image: pulled.clone(),
                ..Default::default()
            }),
            verbose: false,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(gone.image, None);
    called.mark("RemoveImage");

    // A pod and a container through their lifecycle.
    let pod = rt
        .run_pod_sandbox(RunPodSandboxRequest {
            config: Some(PodSandboxConfig {
                metadata: Some(PodSandboxMetadata {
                    name: "web".into(),
                    uid: "uid-1".into(),
                    namespace: "default".into(),
                    attempt: 0,
                }),
                hostname: "web-0".into(),
                labels: [("app".to_string(), "web".to_string())].into(),
                ..Default::default()
            }),
            runtime_handler: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .pod_sandbox_id;
    assert_eq!(pod.len(), 64);
    called.mark("RunPodSandbox");
    let create = |image: &str| CreateContainerRequest {
        pod_sandbox_id: pod.clone(),
        config: Some(ContainerConfig {
            metadata: Some(ContainerMetadata {
                name: "nginx".into(),
                attempt: 0,
            }),
            image: Some(ImageSpec {
                image: image.into(),
                ..Default::default()
            }),
            envs: vec![KeyValue {
                key: "MODE".into(),
                value: "prod".into(),
            }],
            labels: [("tier".to_string(), "front".to_string())].into(),
            ..Default::default()
        }),
        sandbox_config: None,
    };
    let missing = rt.create_container(create("nginx:1.27")).await.unwrap_err();
    assert_eq!(missing.code(), Code::NotFound, "removed image: {missing:?}");
    let ctr = rt
        .create_container(create("busybox:1.36"))
        .await
        .unwrap()
        .into_inner()
        .container_id;
    called.mark("CreateContainer");
    let not_running = rt
        .exec_sync(ExecSyncRequest {
            container_id: ctr.clone(),
            cmd: vec!["true".into()],
            timeout: 1,
        })
        .await
        .unwrap_err();
    assert_eq!(not_running.code(), Code::FailedPrecondition);
    rt.start_container(StartContainerRequest {
        container_id: ctr.clone(),
    })
    .await
    .unwrap();
    called.mark("StartContainer");
    let status = rt
        .container_status(ContainerStatusRequest {
            container_id: ctr[..12].to_string(), // a unique prefix will do
            verbose: true,
        })
        .await
        .unwrap()
        .into_inner();
    let ctr_status = status.status.unwrap();
    assert_eq!(ctr_status.state(), ContainerState::ContainerRunning);
    assert!(ctr_status.started_at >= ctr_status.created_at);
    called.mark("ContainerStatus");
    let pod_status = rt
        .pod_sandbox_status(PodSandboxStatusRequest {
            pod_sandbox_id: pod.clone(),
            verbose: false,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        pod_status.status.unwrap().state(),
        PodSandboxState::SandboxReady
    );
    assert_eq!(pod_status.containers_statuses.len(), 1);
    called.mark("PodSandboxStatus");

    for (cmd, stdout, exit) in [
        (vec!["echo", "hé", "✓"], "hé ✓\n", 0),
        (vec!["hostname"], "web-0\n", 0),
        (
            vec!["env"],
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n\
             HOSTNAME=web-0\nMODE=prod\nHOME=/root\n",
            0,
        ),
        (vec!["sh", "-c", "echo $MODE | cat && exit 3"], "prod\n", 3),
        (vec!["exit", "42"], "", 42),
        (vec!["false"], "", 1),
    ] {
        let exec = rt
            .exec_sync(ExecSyncRequest {
                container_id: ctr.clone(),
                cmd: cmd.iter().map(|s| s.to_string()).collect(),
                timeout: 1,
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            (
                String::from_utf8_lossy(&exec.stdout).as_ref(),
                exec.exit_code
            ),
            (stdout, exit),
            "{cmd:?}"
        );
    }
    let unknown = rt
        .exec_sync(ExecSyncRequest {
            container_id: ctr.clone(),
            cmd: vec!["nope".into()],
            timeout: 1,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(unknown.exit_code, 127);
    assert_eq!(unknown.stderr, b"nope: not found\n");
    // The timeout is honoured: a command that outlives it is DEADLINE_EXCEEDED.
    let started = std::time::Instant::now();
    let slow = rt
        .exec_sync(ExecSyncRequest {
            container_id: ctr.clone(),
            cmd: vec!["sleep".into(), "30".into()],
            timeout: 1,
        })
        .await
        .unwrap_err();
    assert_eq!(slow.code(), Code::DeadlineExceeded, "{slow:?}");
    assert!(started.elapsed() < Duration::from_secs(10));
    called.mark("ExecSync");
    for (rpc, url) in [
        (
            "Exec",
            rt.exec(ExecRequest {
                container_id: ctr.clone(),
                cmd: vec!["sh".into()],
                stdout: true,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .url,
        ),
        (
            "Attach",
            rt.attach(AttachRequest {
                container_id: ctr.clone(),
                stdout: true,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .url,
        ),
        (
            "PortForward",
            rt.port_forward(PortForwardRequest {
                pod_sandbox_id: pod.clone(),
                port: vec![80],
            })
            .await
            .unwrap()
            .into_inner()
            .url,
        ),
    ] {
        // A URL of the fake's streaming server (tests/tests/streaming_fake.rs uses them).
        let path = format!("/{}/", rpc.to_lowercase());
        assert!(
            url.starts_with("http://127.0.0.1:") && url.contains(&path),
            "{rpc}: {url}"
        );
        called.mark(rpc);
    }
    rt.update_container_resources(UpdateContainerResourcesRequest {
        container_id: ctr.clone(),
        linux: Some(LinuxContainerResources {
            cpu_shares: 512,
            ..Default::default()
        }),
        ..Default::default()
    })
    .await
    .unwrap();
    let resources = rt
        .container_status(ContainerStatusRequest {
            container_id: ctr.clone(),
            verbose: false,
        })
        .await
        .unwrap()
        .into_inner()
        .status
        .unwrap()
        .resources;
    assert_eq!(resources.unwrap().linux.unwrap().cpu_shares, 512);
    called.mark("UpdateContainerResources");
    rt.update_pod_sandbox_resources(UpdatePodSandboxResourcesRequest {
        pod_sandbox_id: pod.clone(),
        resources: Some(LinuxContainerResources {
            memory_limit_in_bytes: 1 << 30,
            ..Default::default()
        }),
        ..Default::default()
    })
    .await
    .unwrap();
    called.mark("UpdatePodSandboxResources");
    rt.reopen_container_log(ReopenContainerLogRequest {
        container_id: ctr.clone(),
    })
    .await
    .unwrap();
    called.mark("ReopenContainerLog");
    rt.checkpoint_container(CheckpointContainerRequest {
        container_id: ctr.clone(),
        ..Default::default()
    })
    .await
    .unwrap();
    called.mark("CheckpointContainer");

    // Lists and their streams: the same items, in pages of at most 3.
    let containers = rt
        .list_containers(ListContainersRequest::default())
        .await
        .unwrap()
        .into_inner()
        .containers;
    assert_eq!(containers.len(), seeded.container_ids.len() + 1);
    called.mark("ListContainers");
    let pages = collect(
        rt.stream_containers(StreamContainersRequest::default())
            .await,
    )
    .await;
    assert_eq!(pages.len(), 3);
    assert!(
        pages
            .iter()
            .all(|p| !p.containers.is_empty() && p.containers.len() <= 3)
    );
    assert_eq!(
        pages
            .into_iter()
            .flat_map(|p| p.containers)
            .collect::<Vec<_>>(),
        containers
    );
    called.mark("StreamContainers");
    let filtered = rt
        .list_containers(ListContainersRequest {
            filter: Some(ContainerFilter {
                label_selector: [("tier".to_string(), "front".to_string())].into(),
                ..Default::default()
            }),
        })
        .await
        .unwrap()
        .into_inner()
        .containers;
    assert_eq!(
        filtered.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
        [ctr.as_str()]
    );
    let pods = rt
        .list_pod_sandbox(ListPodSandboxRequest::default())
        .await
        .unwrap()
        .into_inner()
        .items;
    assert_eq!(pods.len(), 5);
    called.mark("ListPodSandbox");
    let pages = collect(
        rt.stream_pod_sandboxes(StreamPodSandboxesRequest::default())
            .await,
    )
    .await;
    assert_eq!(
        pages
            .into_iter()
            .flat_map(|p| p.pod_sandboxes)
            .collect::<Vec<_>>(),
        pods
    );
    called.mark("StreamPodSandboxes");
    let stats = rt
        .container_stats(ContainerStatsRequest {
            container_id: ctr.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .stats
        .unwrap();
    assert_eq!(stats.attributes.unwrap().id, ctr);
    called.mark("ContainerStats");
    let all_stats = rt
        .list_container_stats(ListContainerStatsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .stats;
    assert_eq!(all_stats.len(), 9);
    called.mark("ListContainerStats");
    let pages = collect(
        rt.stream_container_stats(StreamContainerStatsRequest::default())
            .await,
    )
    .await;
    let streamed: Vec<_> = pages.into_iter().flat_map(|p| p.container_stats).collect();
    let ids = |stats: &[ContainerStats]| {
        stats
            .iter()
            .map(|s| s.attributes.as_ref().unwrap().id.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&streamed), ids(&all_stats));
    called.mark("StreamContainerStats");
    let pod_stats = rt
        .pod_sandbox_stats(PodSandboxStatsRequest {
            pod_sandbox_id: pod.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .stats
        .unwrap();
    assert_eq!(pod_stats.linux.unwrap().containers.len(), 1);
    called.mark("PodSandboxStats");
    let all_pod_stats = rt
        .list_pod_sandbox_stats(ListPodSandboxStatsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .stats;
    assert_eq!(all_pod_stats.len(), 5);
    called.mark("ListPodSandboxStats");
    let pages = collect(
        rt.stream_pod_sandbox_stats(StreamPodSandboxStatsRequest::default())
            .await,
    )
    .await;
    assert_eq!(
        pages
            .iter()
            .map(|p| p.pod_sandbox_stats.len())
            .sum::<usize>(),
        5
    );
    called.mark("StreamPodSandboxStats");
    let descriptors = rt
        .list_metric_descriptors(ListMetricDescriptorsRequest {})
        .await
        .unwrap()
        .into_inner()
        .descriptors;
    assert!(!descriptors.is_empty());
    called.mark("ListMetricDescriptors");
    let metrics = rt
        .list_pod_sandbox_metrics(ListPodSandboxMetricsRequest {})
        .await
        .unwrap()
        .into_inner()
        .pod_metrics;
    assert_eq!(metrics.len(), 5);
    called.mark("ListPodSandboxMetrics");
    let pages = collect(
        rt.stream_pod_sandbox_metrics(StreamPodSandboxMetricsRequest {})
            .await,
    )
    .await;
    assert_eq!(
        pages
            .into_iter()
            .flat_map(|p| p.pod_sandbox_metrics)
            .count(),
        5
    );
    called.mark("StreamPodSandboxMetrics");

    // The end of the lifecycle.
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
        .into_inner()
        .status
        .unwrap();
    assert_eq!(
        (exited.state(), exited.exit_code, exited.reason.as_str()),
        (ContainerState::ContainerExited, 0, "Completed")
    );
    called.mark("StopContainer");
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
    assert_eq!(gone.code(), Code::NotFound);
    called.mark("RemoveContainer");
    rt.stop_pod_sandbox(StopPodSandboxRequest {
        pod_sandbox_id: pod.clone(),
    })
    .await
    .unwrap();
    called.mark("StopPodSandbox");
    rt.remove_pod_sandbox(RemovePodSandboxRequest {
        pod_sandbox_id: pod.clone(),
    })
    .await
    .unwrap();
    // Idempotent, as the CRI asks.
    rt.remove_pod_sandbox(RemovePodSandboxRequest {
        pod_sandbox_id: pod.clone(),
    })
    .await
    .unwrap();
    called.mark("RemovePodSandbox");
    assert_eq!(runtime.pod_count(), 4);

    // The events of our pod and container, in order.
    let mut seen = Vec::new();
    while seen.len() < 8 {
        let event = tokio::time::timeout(Duration::from_secs(5), events.message())
            .await
            .expect("an event in time")
            .unwrap()
            .expect("the stream is open");
        let who = if event.container_id == pod {
            "pod"
        } else {
            "ctr"
        };
        assert!(event.container_id == pod || event.container_id == ctr);
        seen.push(format!("{who} {:?}", event.container_event_type()));
    }
    assert_eq!(
        seen,
        [
            "pod ContainerCreatedEvent",
            "pod ContainerStartedEvent",
            "ctr ContainerCreatedEvent",
            "ctr ContainerStartedEvent",
            "ctr ContainerStoppedEvent",
            "ctr ContainerDeletedEvent",
            "pod ContainerStoppedEvent",
            "pod ContainerDeletedEvent",
        ]
    );

    assert_eq!(called.0, all_rpcs(), "every RPC of runtime.v1 is exercised");

    // Shutting down ends the open event stream and removes the socket.
    let socket = server.path().to_path_buf();
    server.shutdown().await.unwrap();
    assert!(
        tokio::time::timeout(Duration::from_secs(5), events.message())
            .await
            .expect("the event stream ends")
            .map_or(true, |m| m.is_none())
    );
    assert!(!socket.exists());
}

trait ConcatImages {
    fn concat_images(&self) -> Vec<Image>;
}

impl ConcatImages for Vec<StreamImagesResponse> {
    fn concat_images(&self) -> Vec<Image> {
        self.iter().flat_map(|p| p.images.clone()).collect()
    }
}

#[tokio::test]
async fn an_older_runtime_lacks_the_stream_rpcs() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = FakeRuntime::builder().without_stream_rpcs().build();
    runtime.seed(2, 1);
    let server = runtime
        .serve_unix(dir.path().join("old.sock"))
        .await
        .unwrap();
    let channel = connect(server.endpoint()).await;
    let mut rt = RuntimeServiceClient::new(channel.clone());
    let mut im = ImageServiceClient::new(channel);

    async fn code<T>(
        call: Result<tonic::Response<tonic::Streaming<T>>, tonic::Status>,
    ) -> Option<Code> {
        match call {
            Err(status) => Some(status.code()),
            Ok(response) => response
                .into_inner()
                .message()
                .await
                .err()
                .map(|s| s.code()),
        }
    }
    let codes = [
        code(
            rt.stream_containers(StreamContainersRequest::default())
                .await,
        )
        .await,
        code(
            rt.stream_pod_sandboxes(StreamPodSandboxesRequest::default())
                .await,
        )
        .await,
        code(
            rt.stream_container_stats(StreamContainerStatsRequest::default())
                .await,
        )
        .await,
        code(
            rt.stream_pod_sandbox_stats(StreamPodSandboxStatsRequest::default())
                .await,
        )
        .await,
        code(
            rt.stream_pod_sandbox_metrics(StreamPodSandboxMetricsRequest {})
                .await,
        )
        .await,
        code(im.stream_images(StreamImagesRequest::default()).await).await,
    ];
    assert_eq!(codes, [Some(Code::Unimplemented); 6]);
    // The unary lists still answer.
    let listed = rt
        .list_containers(ListContainersRequest::default())
        .await
        .unwrap()
        .into_inner()
        .containers;
    assert_eq!(listed.len(), 2);
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seeding_many_containers_is_fast_and_realistic() {
    let runtime = FakeRuntime::builder().page_size(500).build();
    let started = std::time::Instant::now();
    let seeded = runtime.seed(1_000, 4);
    let took = started.elapsed();
    assert_eq!(runtime.container_count(), 4_000);
    assert!(took < Duration::from_secs(10), "seeding took {took:?}");
    let ids: BTreeSet<&String> = seeded.container_ids.iter().chain(&seeded.pod_ids).collect();
    assert_eq!(ids.len(), 5_000, "ids are unique");
    assert!(
        ids.iter()
            .all(|id| id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit()))
    );

    let dir = tempfile::tempdir().unwrap();
    let server = runtime
        .serve_unix(dir.path().join("big.sock"))
        .await
        .unwrap();
    let mut rt = RuntimeServiceClient::new(connect(server.endpoint()).await)
        .max_decoding_message_size(64 << 20);
    let pages = collect(
        rt.stream_containers(StreamContainersRequest::default())
            .await,
    )
    .await;
    assert_eq!(pages.len(), 8);
    let streamed: Vec<Container> = pages.into_iter().flat_map(|p| p.containers).collect();
    let listed = rt
        .list_containers(ListContainersRequest::default())
        .await
        .unwrap()
        .into_inner()
        .containers;
    assert_eq!(streamed, listed);
    let first = &listed[0];
    assert_eq!(first.state(), ContainerState::ContainerRunning);
    for key in [
        "io.kubernetes.pod.name",
        "io.kubernetes.pod.namespace",
        "io.kubernetes.pod.uid",
        "io.kubernetes.container.name",
    ] {
        assert!(first.labels.contains_key(key), "{key}: {:?}", first.labels);
    }
    assert!(
        first
            .annotations
            .contains_key("io.kubernetes.container.restartCount")
    );
    let namespace = first.labels["io.kubernetes.pod.namespace"].clone();
    let selected = rt
        .list_pod_sandbox(ListPodSandboxRequest {
            filter: Some(PodSandboxFilter {
                label_selector: [("io.kubernetes.pod.namespace".to_string(), namespace)].into(),
                ..Default::default()
            }),
        })
        .await
        .unwrap()
        .into_inner()
        .items;
    assert!(!selected.is_empty() && selected.len() < 1_000);
    server.shutdown().await.unwrap();
}
