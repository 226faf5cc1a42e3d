//! `--v1-over-v1alpha2`: runtime.v1 served in front of a runtime that only speaks v1alpha2.

mod support;

use std::path::Path;

use cri_api_v1 as v1;
use cri_convert::V1alpha2OverV1;
use cri_fake::FakeRuntime;
use tonic::Code;

fn serve_v1alpha2_only(runtime: &FakeRuntime, socket: &Path) -> tokio::task::JoinHandle<()> {
    let incoming = cri_api_v1::unix_server::UnixIncoming::bind(socket).unwrap();
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

#[tokio::test]
async fn v1_calls_reach_a_v1alpha2_only_runtime() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeRuntime::new();
    fake.seed(2, 2);
    let socket = dir.path().join("old.sock");
    let served = serve_v1alpha2_only(&fake, &socket);
    let endpoint = format!("unix://{}", socket.display());

    let plain = support::proxy(dir.path(), &endpoint, |b| b).await;
    let mut client = support::runtime_client(&plain.path).await;
    let error = client
        .version(v1::VersionRequest::default())
        .await
        .unwrap_err();
    assert_eq!(
        error.code(),
        Code::Unimplemented,
        "without the bridge, v1 is unknown there"
    );
    plain.stop().await.unwrap();

    let proxy = support::proxy(dir.path(), &endpoint, |b| b.v1_over_v1alpha2(true)).await;
    let mut client = support::runtime_client(&proxy.path).await;
    let version = client
        .version(v1::VersionRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(version.runtime_name, "cri-fake");
    let containers = client
        .list_containers(v1::ListContainersRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(containers.containers.len(), 4);
    let mut images = support::image_client(&proxy.path).await;
    assert!(
        !images
            .list_images(v1::ListImagesRequest::default())
            .await
            .unwrap()
            .into_inner()
            .images
            .is_empty()
    );
    proxy.stop().await.unwrap();
    served.abort();
}
