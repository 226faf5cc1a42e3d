//! Every kind of call is forwarded to cri-fake unchanged: unary, streaming, both services,
//! deadlines and metadata, Exec URLs; an unreachable runtime is `UNAVAILABLE`.

mod support;

use std::time::Duration;

use cri_api_v1 as v1;
use tonic::Code;

#[tokio::test]
async fn unary_and_streaming_calls_reach_the_fake_and_come_back_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let fake = cri_fake::FakeRuntime::new();
    fake.seed(3, 2);
    let server = fake.serve_unix(dir.path().join("fake.sock")).await.unwrap();
    let proxy = support::proxy(dir.path(), &server.endpoint(), |b| b).await;

    let mut direct = support::runtime_client(server.path()).await;
    let mut through = support::runtime_client(&proxy.path).await;

    let version = through
        .version(v1::VersionRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        version,
        direct
            .version(v1::VersionRequest::default())
            .await
            .unwrap()
            .into_inner()
    );

    let listed = through
        .list_containers(v1::ListContainersRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.containers.len(), 6);
    assert_eq!(
        listed,
        direct
            .list_containers(v1::ListContainersRequest::default())
            .await
            .unwrap()
            .into_inner()
    );

    // A server stream: every page arrives, then the stream ends with OK.
    let mut stream = through
        .stream_containers(v1::StreamContainersRequest::default())
        .await
        .unwrap()
        .into_inner();
    let mut streamed = 0;
    for _ in 0..100 {
        match stream.message().await.unwrap() {
            Some(page) => streamed += page.containers.len(),
            None => break,
        }
    }
    assert_eq!(streamed, 6);

    // The Exec URL is the runtime's own, unchanged.
    let id = listed.containers[0].id.clone();
    let exec = v1::ExecRequest {
        container_id: id.clone(),
        cmd: vec!["true".into()],
        stdout: true,
        ..Default::default()
    };
    let via_proxy = through.exec(exec.clone()).await.unwrap().into_inner().url;
    let via_fake = direct.exec(exec).await.unwrap().into_inner().url;
    assert_eq!(url_base(&via_proxy), url_base(&via_fake));

    // The image service too.
    let mut images = support::image_client(&proxy.path).await;
    let list = images
        .list_images(v1::ListImagesRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(!list.images.is_empty());

    // An error status comes back as the runtime sent it.
    let missing = through
        .container_status(v1::ContainerStatusRequest {
            container_id: "nope".into(),
            verbose: false,
        })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);

    proxy.stop().await.unwrap();
    server.shutdown().await.unwrap();
}

/// The URL without its one-time token (each Exec gets a new one).
fn url_base(url: &str) -> String {
    url.rsplit_once('/')
        .map_or(url, |(base, _)| base)
        .to_string()
}

#[tokio::test]
async fn the_deadline_is_passed_through() {
    let dir = tempfile::tempdir().unwrap();
    let fake = cri_fake::FakeRuntime::builder()
        .pull_delay(Duration::from_secs(3))
        .build();
    let server = fake.serve_unix(dir.path().join("fake.sock")).await.unwrap();
    let proxy = support::proxy(dir.path(), &server.endpoint(), |b| b).await;
    let mut images = support::image_client(&proxy.path).await;
    let mut request = tonic::Request::new(v1::PullImageRequest {
        image: Some(v1::ImageSpec {
            image: "docker.io/library/busybox:latest".into(),
            ..Default::default()
        }),
        ..Default::default()
    });
    request.set_timeout(Duration::from_millis(300));
    let started = std::time::Instant::now();
    let error = images.pull_image(request).await.unwrap_err();
    assert_eq!(error.code(), Code::DeadlineExceeded, "{error:?}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
    proxy.stop().await.unwrap();
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn an_unreachable_runtime_is_unavailable() {
    let dir = tempfile::tempdir().unwrap();
    let missing = format!("unix://{}", dir.path().join("nobody.sock").display());
    let proxy = support::proxy(dir.path(), &missing, |b| b).await;
    let mut client = support::runtime_client(&proxy.path).await;
    let error = client
        .version(v1::VersionRequest::default())
        .await
        .unwrap_err();
    assert_eq!(error.code(), Code::Unavailable);
    assert!(
        error.message().contains("unreachable"),
        "{}",
        error.message()
    );
    proxy.stop().await.unwrap();
    assert!(
        !dir.path().join("proxy.sock").exists(),
        "the socket is removed"
    );
}
