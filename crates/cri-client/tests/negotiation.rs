//! Version negotiation, the re-dial rule and list streaming, over Unix sockets against the
//! fake runtime (served as v1, or as v1alpha2 only through cri-convert).

use std::path::Path;

use cri_api_v1 as v1;
use cri_client::{ApiVersion, Client, Error, List, VersionPolicy};
use cri_convert::V1alpha2OverV1;
use cri_fake::FakeRuntime;
use prost::Message;
use tokio::net::UnixListener;
use tokio_stream::wrappers::UnixListenerStream;
use tonic::Code;

/// Serves `runtime` as runtime.v1alpha2 only (no v1 service) on `socket`.
fn serve_v1alpha2_only(runtime: &FakeRuntime, socket: &Path) -> tokio::task::JoinHandle<()> {
    let incoming = UnixListenerStream::new(UnixListener::bind(socket).unwrap());
    let server = tonic::transport::Server::builder()
        .add_service(
            cri_api_v1alpha2::runtime_service_server::RuntimeServiceServer::new(
                V1alpha2OverV1::new(runtime.clone()),
            ),
        )
        .add_service(
            cri_api_v1alpha2::image_service_server::ImageServiceServer::new(V1alpha2OverV1::new(
                runtime.clone(),
            )),
        )
        .serve_with_incoming(incoming);
    tokio::spawn(async move { server.await.unwrap() })
}

fn endpoint(socket: &Path) -> String {
    format!("unix://{}", socket.display())
}

/// The RPC names of runtime.v1alpha2, from its published descriptor set.
fn v1alpha2_rpcs() -> Vec<String> {
    let set =
        prost_types::FileDescriptorSet::decode(cri_api_v1alpha2::FILE_DESCRIPTOR_SET).unwrap();
    let file = set
        .file
        .iter()
        .find(|f| f.package() == "runtime.v1alpha2")
        .unwrap();
    let mut names: Vec<String> = file
        .service
        .iter()
        .flat_map(|s| {
            s.method
                .iter()
                .map(move |m| format!("{}/{}", s.name(), m.name()))
        })
        .collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prefer_v1_negotiates_v1alpha2_and_every_shared_rpc_works() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("old.sock");
    let runtime = FakeRuntime::new();
    let image = "docker.io/library/busybox:1.36";
    runtime.add_image(image, 1 << 20, false);
    let _server = serve_v1alpha2_only(&runtime, &socket);

    let client = Client::builder(endpoint(&socket))
        .version_policy(VersionPolicy::PreferV1)
        .list_streaming(true)
        .connect()
        .await
        .unwrap();
    assert_eq!(client.runtime_api_version(), ApiVersion::V1alpha2);
    assert_eq!(client.image_api_version(), ApiVersion::V1alpha2);

    let mut called = Vec::new();
    let mut call = |name: &str| called.push(name.to_string());

    call("RuntimeService/Version");
    let version = client.version(v1::VersionRequest::default()).await.unwrap();
    assert_eq!(version.runtime_name, cri_fake::RUNTIME_NAME);
    call("RuntimeService/Status");
    let status = client.status(v1::StatusRequest::default()).await.unwrap();
    assert!(
        status
            .status
            .unwrap()
            .conditions
            .iter()
            .any(|c| c.r#type == v1::condition::RUNTIME_READY)
    );
    call("RuntimeService/UpdateRuntimeConfig");
    client
        .update_runtime_config(v1::UpdateRuntimeConfigRequest::default())
        .await
        .unwrap();

    // Images.
    call("ImageService/PullImage");
    let pulled = client
        .pull_image(v1::PullImageRequest {
            image: Some(v1::ImageSpec {
                image: "docker.io/library/alpine:3".into(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap();
    call("ImageService/ListImages");
    let images = client
        .list_images(v1::ListImagesRequest::default())
        .await
        .unwrap()
        .images;
    assert!(
        images.iter().any(|i| i
            .repo_tags
            .iter()
            .any(|t| t == "docker.io/library/alpine:3")),
        "{images:?}"
    );
    assert!(
        !client.streams(List::Images),
        "StreamImages is not in v1alpha2: the client fell back"
    );
    call("ImageService/ImageStatus");
    let status = client
        .image_status(v1::ImageStatusRequest {
            image: Some(v1::ImageSpec {
                image: image.into(),
                ..Default::default()
            }),
            verbose: false,
        })
        .await
        .unwrap();
    assert!(status.image.is_some());
    call("ImageService/ImageFsInfo");
    client
        .image_fs_info(v1::ImageFsInfoRequest {})
        .await
        .unwrap();
    call("ImageService/RemoveImage");
    client
        .remove_image(v1::RemoveImageRequest {
            image: Some(v1::ImageSpec {
                image: pulled.image_ref,
                ..Default::default()
            }),
        })
        .await
        .unwrap();

    // A pod and a container, through their whole lifecycle.
    let pod_config = v1::PodSandboxConfig {
        metadata: Some(v1::PodSandboxMetadata {
            name: "web".into(),
            namespace: "default".into(),
            uid: "u1".into(),
            attempt: 0,
        }),
        labels: [("app".to_string(), "web".to_string())].into(),
        ..Default::default()
    };
    call("RuntimeService/RunPodSandbox");
    let pod_id = client
        .run_pod_sandbox(v1::RunPodSandboxRequest {
            config: Some(pod_config.clone()),
            runtime_handler: String::new(),
        })
        .await
        .unwrap()
        .pod_sandbox_id;
    call("RuntimeService/PodSandboxStatus");
    let pod = client
        .pod_sandbox_status(v1::PodSandboxStatusRequest {
            pod_sandbox_id: pod_id.clone(),
            verbose: false,
        })
        .await
        .unwrap();
    assert_eq!(
        pod.status.unwrap().state(),
        v1::PodSandboxState::SandboxReady
    );
    call("RuntimeService/ListPodSandbox");
    assert_eq!(
        client
            .list_pod_sandbox(v1::ListPodSandboxRequest::default())
            .await
            .unwrap()
            .items
            .len(),
        1
    );
    call("RuntimeService/CreateContainer");
    let container_id = client
        .create_container(v1::CreateContainerRequest {
            pod_sandbox_id: pod_id.clone(),
            config: Some(v1::ContainerConfig {
                metadata: Some(v1::ContainerMetadata {
                    name: "app".into(),
                    attempt: 0,
                }),
                image: Some(v1::ImageSpec {
                    image: image.into(),
                    ..Default::default()
                }),
                envs: vec![v1::KeyValue {
                    key: "GREETING".into(),
                    value: b"hello".to_vec(),
                }],
                ..Default::default()
            }),
            sandbox_config: Some(pod_config),
        })
        .await
        .unwrap()
        .container_id;
    call("RuntimeService/StartContainer");
    client
        .start_container(v1::StartContainerRequest {
            container_id: container_id.clone(),
        })
        .await
        .unwrap();
    call("RuntimeService/ContainerStatus");
    let status = client
        .container_status(v1::ContainerStatusRequest {
            container_id: container_id.clone(),
            verbose: false,
        })
        .await
        .unwrap();
    assert_eq!(
        status.status.unwrap().state(),
        v1::ContainerState::ContainerRunning
    );
    call("RuntimeService/ListContainers");
    let containers = client
        .list_containers(v1::ListContainersRequest::default())
        .await
        .unwrap()
        .containers;
    assert_eq!(containers.len(), 1);
    assert!(!client.streams(List::Containers));
    call("RuntimeService/UpdateContainerResources");
    client
        .update_container_resources(v1::UpdateContainerResourcesRequest {
            container_id: container_id.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    call("RuntimeService/ReopenContainerLog");
    client
        .reopen_container_log(v1::ReopenContainerLogRequest {
            container_id: container_id.clone(),
        })
        .await
        .unwrap();
    call("RuntimeService/ExecSync");
    let exec = client
        .exec_sync(v1::ExecSyncRequest {
            container_id: container_id.clone(),
            cmd: vec!["echo".into(), "hi".into()],
            timeout: 5,
        })
        .await
        .unwrap();
    assert_eq!(exec.exit_code, 0);
    call("RuntimeService/Exec");
    assert!(
        !client
            .exec_url(v1::ExecRequest {
                container_id: container_id.clone(),
                cmd: vec!["sh".into()],
                stdout: true,
                ..Default::default()
            })
            .await
            .unwrap()
            .url
            .is_empty()
    );
    call("RuntimeService/Attach");
    assert!(
        !client
            .attach_url(v1::AttachRequest {
                container_id: container_id.clone(),
                stdout: true,
                ..Default::default()
            })
            .await
            .unwrap()
            .url
            .is_empty()
    );
    call("RuntimeService/PortForward");
    assert!(
        !client
            .port_forward_url(v1::PortForwardRequest {
                pod_sandbox_id: pod_id.clone(),
                port: vec![80]
            })
            .await
            .unwrap()
            .url
            .is_empty()
    );
    call("RuntimeService/ContainerStats");
    client
        .container_stats(v1::ContainerStatsRequest {
            container_id: container_id.clone(),
        })
        .await
        .unwrap();
    call("RuntimeService/ListContainerStats");
    assert_eq!(
        client
            .list_container_stats(v1::ListContainerStatsRequest::default())
            .await
            .unwrap()
            .stats
            .len(),
        1
    );
    call("RuntimeService/PodSandboxStats");
    client
        .pod_sandbox_stats(v1::PodSandboxStatsRequest {
            pod_sandbox_id: pod_id.clone(),
        })
        .await
        .unwrap();
    call("RuntimeService/ListPodSandboxStats");
    assert_eq!(
        client
            .list_pod_sandbox_stats(v1::ListPodSandboxStatsRequest::default())
            .await
            .unwrap()
            .stats
            .len(),
        1
    );
    call("RuntimeService/StopContainer");
    client
        .stop_container(v1::StopContainerRequest {
            container_id: container_id.clone(),
            timeout: 0,
        })
        .await
        .unwrap();
    call("RuntimeService/RemoveContainer");
    client
        .remove_container(v1::RemoveContainerRequest { container_id })
        .await
        .unwrap();
    call("RuntimeService/StopPodSandbox");
    client
        .stop_pod_sandbox(v1::StopPodSandboxRequest {
            pod_sandbox_id: pod_id.clone(),
        })
        .await
        .unwrap();
    call("RuntimeService/RemovePodSandbox");
    client
        .remove_pod_sandbox(v1::RemovePodSandboxRequest {
            pod_sandbox_id: pod_id,
        })
        .await
        .unwrap();
    assert_eq!(runtime.pod_count(), 0);

    // A request with a v1-only field set is refused, never silently cut down.
    let error = client
        .list_images(v1::ListImagesRequest {
            filter: Some(v1::ImageFilter {
                image: Some(v1::ImageSpec {
                    image: "x".into(),
                    runtime_handler: "kata".into(),
                    ..Default::default()
                }),
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some(Code::InvalidArgument));
    assert!(
        error.to_string().contains("filter.image.runtime_handler"),
        "{error}"
    );
    // RPCs that v1alpha2 lacks.
    let error = client
        .runtime_config(v1::RuntimeConfigRequest {})
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some(Code::Unimplemented));

    called.sort();
    assert_eq!(
        called,
        v1alpha2_rpcs(),
        "every RPC of runtime.v1alpha2 is exercised"
    );
}

#[tokio::test]
async fn v1_only_refuses_a_v1alpha2_runtime() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("old.sock");
    let _server = serve_v1alpha2_only(&FakeRuntime::new(), &socket);
    let error = Client::builder(endpoint(&socket))
        .connect()
        .await
        .unwrap_err();
    assert!(
        matches!(&error, Error::NoSupportedVersion { tried, .. } if tried.len() == 1),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(
        message.contains("runtime.v1") && message.contains("VersionPolicy::PreferV1"),
        "{message}"
    );
    assert!(message.contains(&socket.display().to_string()), "{message}");
}

#[tokio::test]
async fn connection_errors_name_the_endpoint_and_the_cause() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("nobody.sock");
    let message = Client::builder(endpoint(&socket))
        .connect()
        .await
        .unwrap_err()
        .to_string();
    assert!(
        message.contains(&format!("unix://{}", socket.display())),
        "{message}"
    );
    assert!(message.contains("No such file or directory"), "{message}");
    let message = Client::builder("tcp://localhost")
        .connect()
        .await
        .unwrap_err()
        .to_string();
    assert!(message.contains("host:port"), "{message}");
}

/// Calls Version until the channel has re-dialled the restarted server: the first call after a
/// disconnect may still meet the old connection, as UNAVAILABLE or as CANCELLED ("connection
/// closed"), depending on when the closed connection is noticed.
async fn version_after_restart(client: &Client) -> Result<v1::VersionResponse, Error> {
    for _ in 0..20 {
        match client.version(v1::VersionRequest::default()).await {
            Err(error) if matches!(error.code(), Some(Code::Unavailable | Code::Cancelled)) => {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            other => return other,
        }
    }
    panic!("the client never reconnected");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runtime_restarted_with_another_version_is_refused_after_the_redial() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("cri.sock");
    let runtime = FakeRuntime::new();
    let server = runtime.serve_unix(&socket).await.unwrap();
    let client = Client::builder(endpoint(&socket))
        .version_policy(VersionPolicy::PreferV1)
        .connect()
        .await
        .unwrap();
    assert_eq!(client.runtime_api_version(), ApiVersion::V1);

    // Restarted speaking the same version: fine.
    server.shutdown().await.unwrap();
    let server = runtime.serve_unix(&socket).await.unwrap();
    version_after_restart(&client).await.unwrap();

    // Restarted speaking only v1alpha2: refused, and for good.
    server.shutdown().await.unwrap();
    let _old = serve_v1alpha2_only(&runtime, &socket);
    let error = version_after_restart(&client).await.unwrap_err();
    assert!(
        matches!(
            error,
            Error::VersionChanged {
                negotiated: ApiVersion::V1,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.to_string().contains("restart this client"), "{error}");
    let error = client
        .list_containers(v1::ListContainersRequest::default())
        .await
        .unwrap_err();
    assert!(matches!(error, Error::VersionChanged { .. }), "{error:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streaming_falls_back_and_remembers() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("cri.sock");
    let runtime = FakeRuntime::builder().without_stream_rpcs().build();
    runtime.seed(3, 2);
    let _server = runtime.serve_unix(&socket).await.unwrap();
    let client = Client::builder(endpoint(&socket))
        .list_streaming(true)
        .connect()
        .await
        .unwrap();
    assert!(client.streams(List::Containers));
    assert_eq!(
        client
            .list_containers(v1::ListContainersRequest::default())
            .await
            .unwrap()
            .containers
            .len(),
        6
    );
    assert!(
        !client.streams(List::Containers),
        "UNIMPLEMENTED is remembered"
    );
    assert!(client.streams(List::PodSandboxes), "per list");
    assert_eq!(
        client
            .list_pod_sandbox(v1::ListPodSandboxRequest::default())
            .await
            .unwrap()
            .items
            .len(),
        3
    );
    assert!(!client.streams(List::PodSandboxes));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_thousand_containers_need_streaming() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("cri.sock");
    let runtime = FakeRuntime::builder().page_size(1000).build();
    runtime.seed(10_000, 10);
    let _server = runtime.serve_unix(&socket).await.unwrap();

    let unary = Client::builder(endpoint(&socket)).connect().await.unwrap();
    let error = unary
        .list_containers(v1::ListContainersRequest::default())
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            Error::ResponseTooLarge {
                limit: 16_777_216,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.to_string().contains("list streaming"), "{error}");

    let streaming = Client::builder(endpoint(&socket))
        .list_streaming(true)
        .connect()
        .await
        .unwrap();
    let containers = streaming
        .list_containers(v1::ListContainersRequest::default())
        .await
        .unwrap()
        .containers;
    assert_eq!(containers.len(), 100_000);
    assert!(streaming.streams(List::Containers));
}
