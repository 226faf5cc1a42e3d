//! `--inject`: delays, errors, dropped streams and rates, on the RPC they name only.

mod support;

use std::time::{Duration, Instant};

use cri_api_v1 as v1;
use cri_proxy::inject::Rule;
use tonic::Code;

fn rule(text: &str) -> Rule {
    text.parse().unwrap()
}

#[tokio::test]
async fn faults_hit_the_rpc_they_name() {
    let dir = tempfile::tempdir().unwrap();
    let fake = cri_fake::FakeRuntime::new();
    fake.seed(1, 1);
    let server = fake.serve_unix(dir.path().join("fake.sock")).await.unwrap();
    let proxy = support::proxy(dir.path(), &server.endpoint(), |b| {
        b.inject(rule("ListContainers:delay=200ms"))
            .inject(rule("PullImage:error=UNAVAILABLE"))
            .inject(rule("ImageStatus:error=INTERNAL,rate=0"))
            .inject(rule("GetContainerEvents:drop=0"))
    })
    .await;
    let mut runtime = support::runtime_client(&proxy.path).await;
    let mut images = support::image_client(&proxy.path).await;

    let started = Instant::now();
    runtime
        .list_containers(v1::ListContainersRequest::default())
        .await
        .unwrap();
    let delayed = started.elapsed();
    assert!(delayed >= Duration::from_millis(200), "{delayed:?}");

    let started = Instant::now();
    runtime
        .version(v1::VersionRequest::default())
        .await
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_millis(190),
        "Version is not delayed"
    );

    let pull = v1::PullImageRequest {
        image: Some(v1::ImageSpec {
            image: "busybox".into(),
            ..Default::default()
        }),
        ..Default::default()
    };
    let error = images.pull_image(pull).await.unwrap_err();
    assert_eq!(error.code(), Code::Unavailable);
    assert!(
        error.message().contains("PullImage:error=UNAVAILABLE"),
        "{}",
        error.message()
    );

    // rate=0: never.
    for _ in 0..20 {
        let status = images
            .image_status(v1::ImageStatusRequest {
                image: Some(v1::ImageSpec {
                    image: "busybox".into(),
                    ..Default::default()
                }),
                verbose: false,
            })
            .await;
        assert!(status.is_ok(), "{status:?}");
    }

    // A dropped stream: the client sees it reset (at its start or at its first read), never
    // an OK end.
    let dropped = tokio::time::timeout(Duration::from_secs(5), async {
        let mut events = runtime
            .get_container_events(v1::GetEventsRequest::default())
            .await?
            .into_inner();
        events.message().await
    })
    .await
    .expect("the stream is dropped at once");
    let error = dropped.unwrap_err();
    assert!(
        matches!(
            error.code(),
            Code::Internal | Code::Unavailable | Code::Cancelled
        ),
        "{error:?}"
    );

    proxy.stop().await.unwrap();
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_rate_affects_about_that_share_of_calls() {
    let dir = tempfile::tempdir().unwrap();
    let fake = cri_fake::FakeRuntime::new();
    let server = fake.serve_unix(dir.path().join("fake.sock")).await.unwrap();
    let proxy = support::proxy(dir.path(), &server.endpoint(), |b| {
        b.inject(rule("Version:error=ABORTED,rate=0.5"))
    })
    .await;
    let mut runtime = support::runtime_client(&proxy.path).await;
    let mut failed = 0;
    for _ in 0..200 {
        if let Err(error) = runtime.version(v1::VersionRequest::default()).await {
            assert_eq!(error.code(), Code::Aborted);
            failed += 1;
        }
    }
    assert!(
        (60..=140).contains(&failed),
        "{failed} of 200 failed at rate 0.5"
    );
    proxy.stop().await.unwrap();
    server.shutdown().await.unwrap();
}
