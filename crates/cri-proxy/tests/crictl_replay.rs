//! A recording of Go crictl's read commands through the proxy replays into cri-fake, and Go
//! crictl prints the same again.

mod support;

use std::sync::Arc;

use cri_api_v1 as v1;
use cri_proxy::record::Recorder;

#[tokio::test]
async fn a_recording_replays_and_go_crictl_prints_the_same() {
    support::crictl::binary();
    let dir = tempfile::tempdir().unwrap();
    let fake = cri_fake::FakeRuntime::new();
    fake.seed(2, 2);
    let server = fake.serve_unix(dir.path().join("fake.sock")).await.unwrap();
    let file = dir.path().join("smoke.jsonl");
    let recorder = Arc::new(Recorder::open(&file, 1 << 30, 1).unwrap());
    let proxy = support::proxy(dir.path(), &server.endpoint(), |b| b.record(recorder)).await;

    let (container, pod, image) = {
        let mut runtime = support::runtime_client(server.path()).await;
        let containers = runtime
            .list_containers(v1::ListContainersRequest::default())
            .await
            .unwrap()
            .into_inner();
        let mut images = support::image_client(server.path()).await;
        let listed = images
            .list_images(v1::ListImagesRequest::default())
            .await
            .unwrap()
            .into_inner();
        let c = &containers.containers[0];
        (
            c.id.clone(),
            c.pod_sandbox_id.clone(),
            listed.images[0].id.clone(),
        )
    };
    let commands = support::crictl::read_commands(&container, &pod, &image);
    let mut recorded = Vec::new();
    for command in &commands {
        recorded.push(support::crictl::run(&proxy.path, command).await);
    }
    proxy.stop().await.unwrap();
    server.shutdown().await.unwrap();

    let replay = cri_fake::replay::Replay::load(&file).unwrap();
    assert!(
        replay.len() >= 8,
        "the recording holds the smoke test's calls: {}",
        replay.len()
    );
    let replayed = cri_fake::replay::serve_unix(replay, dir.path().join("replay.sock"))
        .await
        .unwrap();
    for (command, before) in commands.iter().zip(&recorded) {
        let mut again = String::new();
        // A table's relative times may tick between the runs: three tries at most.
        for _ in 0..3 {
            again = support::crictl::run(replayed.path(), command).await;
            if &again == before {
                break;
            }
        }
        assert_eq!(
            &again, before,
            "crictl {command:?} prints the same from the replay"
        );
    }

    // A call the recording lacks: a clear error naming the method.
    let mut runtime = support::runtime_client(replayed.path()).await;
    let error = runtime
        .container_status(v1::ContainerStatusRequest {
            container_id: "never-recorded".into(),
            verbose: false,
        })
        .await
        .unwrap_err();
    assert!(
        error.message().contains("RuntimeService/ContainerStatus"),
        "{error:?}"
    );
    let error = runtime
        .checkpoint_container(v1::CheckpointContainerRequest::default())
        .await
        .unwrap_err();
    assert_eq!(error.code(), tonic::Code::Unimplemented);
    assert!(
        error
            .message()
            .contains("RuntimeService/CheckpointContainer"),
        "{error:?}"
    );
    replayed.shutdown().await.unwrap();
}
