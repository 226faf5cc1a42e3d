//! Go crictl prints the same through the proxy as directly, for every read command, against
//! cri-fake (and against a cri-fake without Stream*, with `--bridge-streaming`).

mod support;

use cri_api_v1 as v1;

#[tokio::test]
async fn go_crictl_prints_the_same_through_the_proxy() {
    support::crictl::binary();
    let dir = tempfile::tempdir().unwrap();
    let fake = cri_fake::FakeRuntime::new();
    fake.seed(2, 2);
    let server = fake.serve_unix(dir.path().join("fake.sock")).await.unwrap();
    let proxy = support::proxy(dir.path(), &server.endpoint(), |b| b).await;
    let (container, pod, image) = first_ids(server.path()).await;
    let commands = support::crictl::read_commands(&container, &pod, &image);
    support::crictl::assert_same(server.path(), &proxy.path, &commands).await;
    proxy.stop().await.unwrap();
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn go_crictl_prints_the_same_through_the_stream_bridge() {
    support::crictl::binary();
    let dir = tempfile::tempdir().unwrap();
    let fake = cri_fake::FakeRuntime::builder()
        .without_stream_rpcs()
        .build();
    fake.seed(2, 2);
    let server = fake.serve_unix(dir.path().join("fake.sock")).await.unwrap();
    let proxy = support::proxy(dir.path(), &server.endpoint(), |b| b.bridge_streaming(true)).await;
    let (container, pod, image) = first_ids(server.path()).await;
    let commands = support::crictl::read_commands(&container, &pod, &image);
    support::crictl::assert_same(server.path(), &proxy.path, &commands).await;
    proxy.stop().await.unwrap();
    server.shutdown().await.unwrap();
}

/// A container, a pod and an image of the fake.
pub async fn first_ids(socket: &std::path::Path) -> (String, String, String) {
    let mut runtime = support::runtime_client(socket).await;
    let mut images = support::image_client(socket).await;
    let containers = runtime
        .list_containers(v1::ListContainersRequest::default())
        .await
        .unwrap()
        .into_inner();
    let image = images
        .list_images(v1::ListImagesRequest::default())
        .await
        .unwrap()
        .into_inner();
    let container = &containers.containers[0];
    (
        container.id.clone(),
        container.pod_sandbox_id.clone(),
        image.images[0].id.clone(),
    )
}
