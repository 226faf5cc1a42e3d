//! `--bridge-streaming` in front of a runtime without the Stream* RPCs.

mod support;

use cri_api_v1 as v1;
use tonic::Code;

#[tokio::test]
async fn stream_lists_are_served_by_paging_the_unary_lists() {
    let dir = tempfile::tempdir().unwrap();
    let fake = cri_fake::FakeRuntime::builder()
        .without_stream_rpcs()
        .build();
    fake.seed(150, 1);
    let server = fake.serve_unix(dir.path().join("fake.sock")).await.unwrap();

    let mut direct = support::runtime_client(server.path()).await;
    let error = direct
        .stream_containers(v1::StreamContainersRequest::default())
        .await
        .unwrap_err();
    assert_eq!(error.code(), Code::Unimplemented, "the fake lacks Stream*");

    let proxy = support::proxy(dir.path(), &server.endpoint(), |b| b.bridge_streaming(true)).await;
    let mut runtime = support::runtime_client(&proxy.path).await;
    let mut pages = Vec::new();
    let mut stream = runtime
        .stream_containers(v1::StreamContainersRequest::default())
        .await
        .unwrap()
        .into_inner();
    for _ in 0..100 {
        match stream.message().await.unwrap() {
            Some(page) => pages.push(page.containers.len()),
            None => break,
        }
    }
    assert_eq!(pages, vec![100, 50]);

    let mut sandboxes = 0;
    let mut stream = runtime
        .stream_pod_sandboxes(v1::StreamPodSandboxesRequest::default())
        .await
        .unwrap()
        .into_inner();
    for _ in 0..100 {
        match stream.message().await.unwrap() {
            Some(page) => sandboxes += page.pod_sandboxes.len(),
            None => break,
        }
    }
    assert_eq!(sandboxes, 150);

    // The filter goes to the unary list.
    let one = fake_first_pod(&mut direct).await;
    let filter = v1::ContainerFilter {
        pod_sandbox_id: one.clone(),
        ..Default::default()
    };
    let mut stream = runtime
        .stream_containers(v1::StreamContainersRequest {
            filter: Some(filter),
        })
        .await
        .unwrap()
        .into_inner();
    let page = stream.message().await.unwrap().unwrap();
    assert_eq!(page.containers.len(), 1);
    assert_eq!(page.containers[0].pod_sandbox_id, one);
    assert!(stream.message().await.unwrap().is_none());

    let mut images = support::image_client(&proxy.path).await;
    let mut stream = images
        .stream_images(v1::StreamImagesRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(!stream.message().await.unwrap().unwrap().images.is_empty());

    proxy.stop().await.unwrap();
    server.shutdown().await.unwrap();
}

async fn fake_first_pod(
    client: &mut cri_api_v1::runtime_service_client::RuntimeServiceClient<
        tonic::transport::Channel,
    >,
) -> String {
    let pods = client
        .list_pod_sandbox(v1::ListPodSandboxRequest::default())
        .await
        .unwrap()
        .into_inner();
    pods.items[0].id.clone()
}
