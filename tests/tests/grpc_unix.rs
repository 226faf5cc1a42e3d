//! The generated clients and servers of both versions talk over a real Unix socket:
//! unary and server-streaming RPCs, and UNIMPLEMENTED for what a server leaves out.

use std::path::Path;

use tokio::net::UnixListener;
use tokio_stream::wrappers::UnixListenerStream;
use tonic::transport::{Channel, Endpoint, Server};
use tonic::{Code, Request, Response, Status};

async fn channel(socket: &Path) -> Channel {
    Endpoint::from_shared(format!("unix://{}", socket.display()))
        .unwrap()
        .connect()
        .await
        .expect("connect over the Unix socket")
}

mod v1 {
    use super::*;
    use cri_api_v1::image_service_client::ImageServiceClient;
    use cri_api_v1::image_service_server::ImageServiceServer;
    use cri_api_v1::runtime_service_client::RuntimeServiceClient;
    use cri_api_v1::runtime_service_server::{RuntimeService, RuntimeServiceServer};
    use cri_api_v1::*;
    use tonic::codegen::BoxStream;

    struct Runtime;

    fn containers() -> Vec<Container> {
        (0..5)
            .map(|i| Container {
                id: format!("{i:064x}"),
                labels: [("index".to_string(), i.to_string())].into(),
                state: ContainerState::ContainerRunning as i32,
                ..Default::default()
            })
            .collect()
    }

    #[tonic::async_trait]
    impl RuntimeService for Runtime {
        async fn version(
            &self,
            request: Request<VersionRequest>,
        ) -> Result<Response<VersionResponse>, Status> {
            Ok(Response::new(VersionResponse {
                version: request.into_inner().version,
                runtime_name: "test-runtime".into(),
                runtime_version: "1.0".into(),
                runtime_api_version: "v1".into(),
            }))
        }

        async fn list_containers(
            &self,
            _: Request<ListContainersRequest>,
        ) -> Result<Response<ListContainersResponse>, Status> {
            Ok(Response::new(ListContainersResponse {
                containers: containers(),
            }))
        }

        async fn stream_containers(
            &self,
            _: Request<StreamContainersRequest>,
        ) -> Result<Response<BoxStream<StreamContainersResponse>>, Status> {
            let pages = containers()
                .chunks(2)
                .map(|page| {
                    Ok(StreamContainersResponse {
                        containers: page.to_vec(),
                    })
                })
                .collect::<Vec<_>>();
            Ok(Response::new(Box::pin(tokio_stream::iter(pages))))
        }
    }

    struct Images;
    impl cri_api_v1::image_service_server::ImageService for Images {}

    #[tokio::test]
    async fn unary_streaming_and_unimplemented_rpcs() {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("cri.sock");
        let incoming = UnixListenerStream::new(UnixListener::bind(&socket).unwrap());
        let server = tokio::spawn(
            Server::builder()
                .add_service(RuntimeServiceServer::new(Runtime))
                .add_service(ImageServiceServer::new(Images))
                .serve_with_incoming(incoming),
        );

        let channel = channel(&socket).await;
        let mut runtime = RuntimeServiceClient::new(channel.clone());
        let version = runtime
            .version(VersionRequest {
                version: "0.1.0".into(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            (
                version.version.as_str(),
                version.runtime_api_version.as_str()
            ),
            ("0.1.0", "v1")
        );

        let listed = runtime
            .list_containers(ListContainersRequest::default())
            .await
            .unwrap()
            .into_inner();
        assert_eq!(listed.containers, containers());

        let mut stream = runtime
            .stream_containers(StreamContainersRequest::default())
            .await
            .unwrap()
            .into_inner();
        let mut streamed = Vec::new();
        let mut pages = 0;
        while let Some(page) = stream.message().await.unwrap() {
            pages += 1;
            streamed.extend(page.containers);
        }
        assert_eq!((pages, streamed), (3, containers()));

        // Left out by the server: UNIMPLEMENTED, for unary and streaming RPCs alike (the
        // streaming one on the first receive, as the kubelet expects).
        let status = runtime.status(StatusRequest::default()).await.unwrap_err();
        assert_eq!(status.code(), Code::Unimplemented);
        let status = match runtime
            .stream_pod_sandboxes(StreamPodSandboxesRequest::default())
            .await
        {
            Err(status) => status,
            Ok(response) => response.into_inner().message().await.unwrap_err(),
        };
        assert_eq!(status.code(), Code::Unimplemented);
        let mut images = ImageServiceClient::new(channel);
        let status = images
            .list_images(ListImagesRequest::default())
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::Unimplemented);

        server.abort();
    }
}

mod v1alpha2 {
    use super::*;
    use cri_api_v1alpha2::runtime_service_client::RuntimeServiceClient;
    use cri_api_v1alpha2::runtime_service_server::{RuntimeService, RuntimeServiceServer};
    use cri_api_v1alpha2::*;

    struct Runtime;

    #[tonic::async_trait]
    impl RuntimeService for Runtime {
        async fn version(
            &self,
            _: Request<VersionRequest>,
        ) -> Result<Response<VersionResponse>, Status> {
            Ok(Response::new(VersionResponse {
                version: "0.1.0".into(),
                runtime_name: "old-runtime".into(),
                runtime_version: "1.6".into(),
                runtime_api_version: "v1alpha2".into(),
            }))
        }

        async fn exec_sync(
            &self,
            request: Request<ExecSyncRequest>,
        ) -> Result<Response<ExecSyncResponse>, Status> {
            let request = request.into_inner();
            Ok(Response::new(ExecSyncResponse {
                stdout: request.cmd.join(" ").into_bytes(),
                stderr: Vec::new(),
                exit_code: 3,
            }))
        }
    }

    #[tokio::test]
    async fn unary_rpcs_and_unimplemented() {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("cri.sock");
        let incoming = UnixListenerStream::new(UnixListener::bind(&socket).unwrap());
        let server = tokio::spawn(
            Server::builder()
                .add_service(RuntimeServiceServer::new(Runtime))
                .serve_with_incoming(incoming),
        );
        let mut client = RuntimeServiceClient::new(channel(&socket).await);
        let version = client
            .version(VersionRequest::default())
            .await
            .unwrap()
            .into_inner();
        assert_eq!(version.runtime_api_version, "v1alpha2");
        let exec = client
            .exec_sync(ExecSyncRequest {
                container_id: "c".into(),
                cmd: vec!["echo".into(), "hi".into()],
                timeout: 1,
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            (exec.stdout.as_slice(), exec.exit_code),
            (&b"echo hi"[..], 3)
        );
        let status = client
            .list_containers(ListContainersRequest::default())
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::Unimplemented);
        server.abort();
    }
}
