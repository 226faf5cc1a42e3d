//! End to end over Unix sockets: a v1 runtime served as v1alpha2 and called by the v1alpha2
//! client; a v1alpha2-only runtime called through the v1 types, directly and as a v1 proxy.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use cri_api_v1 as v1;
use cri_api_v1alpha2 as v1alpha2;
use cri_convert::{DowngradePolicy, V1OverV1alpha2, V1alpha2OverV1};
use tokio::net::UnixListener;
use tokio_stream::wrappers::UnixListenerStream;
use tonic::transport::{Channel, Endpoint, Server};
use tonic::{Code, Request, Response, Status};

async fn connect(socket: &Path) -> Channel {
    Endpoint::from_shared(format!("unix://{}", socket.display()))
        .unwrap()
        .connect()
        .await
        .unwrap()
}

fn listener(dir: &tempfile::TempDir, name: &str) -> (PathBuf, UnixListenerStream) {
    let path = dir.path().join(name);
    let incoming = UnixListenerStream::new(UnixListener::bind(&path).unwrap());
    (path, incoming)
}

/// A runtime written against v1 only.
struct NewRuntime;

#[tonic::async_trait]
impl v1::runtime_service_server::RuntimeService for NewRuntime {
    async fn version(
        &self,
        _: Request<v1::VersionRequest>,
    ) -> Result<Response<v1::VersionResponse>, Status> {
        Ok(Response::new(v1::VersionResponse {
            version: "0.1.0".into(),
            runtime_name: "new-runtime".into(),
            runtime_version: "2.0".into(),
            runtime_api_version: "v1".into(),
        }))
    }

    async fn list_containers(
        &self,
        request: Request<v1::ListContainersRequest>,
    ) -> Result<Response<v1::ListContainersResponse>, Status> {
        // Echo the filter back, to show the request arrived upgraded and whole.
        let filter = request.into_inner().filter.unwrap_or_default();
        let container = |id: &str, image_id: &str| v1::Container {
            id: id.into(),
            pod_sandbox_id: filter.pod_sandbox_id.clone(),
            labels: filter.label_selector.clone(),
            state: v1::ContainerState::ContainerRunning as i32,
            image_id: image_id.into(), // v1 only
            ..Default::default()
        };
        Ok(Response::new(v1::ListContainersResponse {
            containers: vec![container("c0", ""), container("c1", "sha256:1")],
        }))
    }
}

#[tonic::async_trait]
impl v1::image_service_server::ImageService for NewRuntime {}

#[tokio::test]
async fn a_v1_runtime_served_as_v1alpha2() {
    let dir = tempfile::tempdir().unwrap();
    let dropped: Arc<Mutex<Vec<String>>> = Arc::default();
    let seen = dropped.clone();
    let runtime = Arc::new(NewRuntime);
    let policy = DowngradePolicy::lossy()
        .on_dropped(move |rpc, report| seen.lock().unwrap().push(format!("{rpc}: {report}")));

    let (lossy_socket, incoming) = listener(&dir, "lossy.sock");
    let lossy = tokio::spawn(
        Server::builder()
            .add_service(v1alpha2::runtime_service_server::RuntimeServiceServer::new(
                V1alpha2OverV1::from_arc(runtime.clone()).with_policy(policy),
            ))
            .add_service(v1alpha2::image_service_server::ImageServiceServer::new(
                V1alpha2OverV1::from_arc(runtime.clone()),
            ))
            .serve_with_incoming(incoming),
    );
    let (strict_socket, incoming) = listener(&dir, "strict.sock");
    let strict = tokio::spawn(
        Server::builder()
            .add_service(v1alpha2::runtime_service_server::RuntimeServiceServer::new(
                V1alpha2OverV1::from_arc(runtime).with_policy(DowngradePolicy::strict()),
            ))
            .serve_with_incoming(incoming),
    );

    let mut client =
        v1alpha2::runtime_service_client::RuntimeServiceClient::new(connect(&lossy_socket).await);
    let version = client
        .version(v1alpha2::VersionRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(version.runtime_name, "new-runtime");

    let request = v1alpha2::ListContainersRequest {
        filter: Some(v1alpha2::ContainerFilter {
            pod_sandbox_id: "pod-1".into(),
            label_selector: [("app".to_string(), "web".to_string())].into(),
            ..Default::default()
        }),
    };
    let containers = client
        .list_containers(request.clone())
        .await
        .unwrap()
        .into_inner()
        .containers;
    assert_eq!(containers.len(), 2);
    assert_eq!(containers[1].pod_sandbox_id, "pod-1");
    assert_eq!(containers[1].labels["app"], "web");
    assert_eq!(
        dropped.lock().unwrap().as_slice(),
        [
            "RuntimeService/ListContainers: containers[1].image_id: runtime.v1.Container.image_id is not in runtime.v1alpha2"
        ]
    );

    // What the v1 runtime does not implement stays UNIMPLEMENTED through the adapter.
    let status = client
        .status(v1alpha2::StatusRequest::default())
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unimplemented);
    let mut images =
        v1alpha2::image_service_client::ImageServiceClient::new(connect(&lossy_socket).await);
    assert_eq!(
        images
            .list_images(v1alpha2::ListImagesRequest::default())
            .await
            .unwrap_err()
            .code(),
        Code::Unimplemented
    );

    // The strict policy refuses to drop, and says what it would have dropped.
    let mut client =
        v1alpha2::runtime_service_client::RuntimeServiceClient::new(connect(&strict_socket).await);
    let status = client.list_containers(request).await.unwrap_err();
    assert_eq!(status.code(), Code::Internal);
    assert!(
        status.message().contains("containers[1].image_id"),
        "{}",
        status.message()
    );

    lossy.abort();
    strict.abort();
}

/// A runtime that speaks only v1alpha2; it records the requests it receives.
#[derive(Default)]
struct OldRuntime {
    received: Mutex<Vec<String>>,
    /// The `grpc-timeout` of each `Version` request (the deadline it was told).
    deadlines: Mutex<Vec<Option<String>>>,
}

#[tonic::async_trait]
impl v1alpha2::runtime_service_server::RuntimeService for OldRuntime {
    async fn version(
        &self,
        request: Request<v1alpha2::VersionRequest>,
    ) -> Result<Response<v1alpha2::VersionResponse>, Status> {
        self.received.lock().unwrap().push("Version".into());
        let deadline = request.metadata().get("grpc-timeout");
        self.deadlines
            .lock()
            .unwrap()
            .push(deadline.map(|d| d.to_str().unwrap().to_string()));
        Ok(Response::new(v1alpha2::VersionResponse {
            version: "0.1.0".into(),
            runtime_name: "old-runtime".into(),
            runtime_version: "1.6".into(),
            runtime_api_version: "v1alpha2".into(),
        }))
    }

    async fn exec_sync(
        &self,
        request: Request<v1alpha2::ExecSyncRequest>,
    ) -> Result<Response<v1alpha2::ExecSyncResponse>, Status> {
        let request = request.into_inner();
        self.received.lock().unwrap().push("ExecSync".into());
        Ok(Response::new(v1alpha2::ExecSyncResponse {
            stdout: request.cmd.join(" ").into_bytes(),
            stderr: b"warning".to_vec(),
            exit_code: 7,
        }))
    }
}

#[tonic::async_trait]
impl v1alpha2::image_service_server::ImageService for OldRuntime {
    async fn list_images(
        &self,
        request: Request<v1alpha2::ListImagesRequest>,
    ) -> Result<Response<v1alpha2::ListImagesResponse>, Status> {
        self.received.lock().unwrap().push("ListImages".into());
        let wanted = request
            .into_inner()
            .filter
            .and_then(|f| f.image)
            .map(|i| i.image)
            .unwrap_or_default();
        Ok(Response::new(v1alpha2::ListImagesResponse {
            images: vec![v1alpha2::Image {
                id: "sha256:0123".into(),
                repo_tags: vec![wanted],
                size: 1 << 20,
                ..Default::default()
            }],
        }))
    }
}

#[tokio::test]
async fn a_v1alpha2_only_runtime_called_with_v1_types() {
    use cri_api_v1::image_service_server::ImageService as _;
    use cri_api_v1::runtime_service_server::RuntimeService as _;

    let dir = tempfile::tempdir().unwrap();
    let old = Arc::new(OldRuntime::default());
    let (old_socket, incoming) = listener(&dir, "old.sock");
    let old_server = tokio::spawn(
        Server::builder()
            .add_service(
                v1alpha2::runtime_service_server::RuntimeServiceServer::from_arc(old.clone()),
            )
            .add_service(v1alpha2::image_service_server::ImageServiceServer::from_arc(old.clone()))
            .serve_with_incoming(incoming),
    );
    let adapter = V1OverV1alpha2::new(connect(&old_socket).await);

    // Directly, through the v1 trait methods.
    let version = adapter
        .version(Request::new(v1::VersionRequest::default()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(version.runtime_api_version, "v1alpha2");
    assert_eq!(old.deadlines.lock().unwrap().pop(), Some(None));
    // The caller's deadline reaches the v1alpha2 runtime.
    let mut request = Request::new(v1::VersionRequest::default());
    request.set_timeout(std::time::Duration::from_secs(7));
    adapter.version(request).await.unwrap();
    assert_eq!(
        old.deadlines.lock().unwrap().pop(),
        Some(Some("7000000u".to_string()))
    );
    let exec = adapter
        .exec_sync(Request::new(v1::ExecSyncRequest {
            container_id: "c".into(),
            cmd: vec!["echo".into(), "hello".into()],
            timeout: 5,
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (exec.stdout, exec.stderr, exec.exit_code),
        (b"echo hello".to_vec(), b"warning".to_vec(), 7)
    );

    // A v1-only field that is set: refused before anything is sent.
    let before = old.received.lock().unwrap().len();
    let status = adapter
        .list_images(Request::new(v1::ListImagesRequest {
            filter: Some(v1::ImageFilter {
                image: Some(v1::ImageSpec {
                    image: "busybox".into(),
                    runtime_handler: "kata".into(),
                    ..Default::default()
                }),
            }),
        }))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(
        status.message().contains("filter.image.runtime_handler"),
        "{}",
        status.message()
    );
    assert_eq!(old.received.lock().unwrap().len(), before);

    // RPCs that v1alpha2 lacks.
    let status = adapter
        .runtime_config(Request::new(v1::RuntimeConfigRequest::default()))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unimplemented);

    // As a v1 server in front of the v1alpha2 runtime: a plain v1 client talks to it.
    let (proxy_socket, incoming) = listener(&dir, "proxy.sock");
    let adapter = Arc::new(adapter);
    let proxy = tokio::spawn(
        Server::builder()
            .add_service(v1::runtime_service_server::RuntimeServiceServer::from_arc(
                adapter.clone(),
            ))
            .add_service(v1::image_service_server::ImageServiceServer::from_arc(
                adapter,
            ))
            .serve_with_incoming(incoming),
    );
    let channel = connect(&proxy_socket).await;
    let mut runtime = v1::runtime_service_client::RuntimeServiceClient::new(channel.clone());
    let mut images = v1::image_service_client::ImageServiceClient::new(channel);
    assert_eq!(
        runtime
            .version(v1::VersionRequest::default())
            .await
            .unwrap()
            .into_inner()
            .runtime_name,
        "old-runtime"
    );
    // Through the proxy too: the v1 client's deadline reaches the v1alpha2 runtime.
    let mut request = Request::new(v1::VersionRequest::default());
    request.set_timeout(std::time::Duration::from_millis(2500));
    runtime.version(request).await.unwrap();
    assert_eq!(
        old.deadlines.lock().unwrap().pop(),
        Some(Some("2500000u".to_string()))
    );
    let listed = images
        .list_images(v1::ListImagesRequest {
            filter: Some(v1::ImageFilter {
                image: Some(v1::ImageSpec {
                    image: "busybox:1".into(),
                    ..Default::default()
                }),
            }),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.images[0].repo_tags, ["busybox:1"]);
    assert_eq!(listed.images[0].size, 1 << 20);
    let stream = runtime
        .stream_containers(v1::StreamContainersRequest::default())
        .await;
    let status = match stream {
        Err(status) => status,
        Ok(response) => response.into_inner().message().await.unwrap_err(),
    };
    assert_eq!(status.code(), Code::Unimplemented);
    assert_eq!(
        runtime
            .status(v1::StatusRequest::default())
            .await
            .unwrap_err()
            .code(),
        Code::Unimplemented,
        "the old runtime does not implement Status either"
    );

    proxy.abort();
    old_server.abort();
}
