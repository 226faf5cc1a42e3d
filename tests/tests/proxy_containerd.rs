//! cri-proxy in front of containerd 1.6: Go crictl prints the same through the proxy as
//! directly for the read commands, and with `--bridge-streaming` the project's client gets its
//! lists through the `Stream*` RPCs containerd 1.6 lacks.

use std::time::Duration;

use cri_api_v1 as v1;
use cri_client::{Client, List};
use cri_proxy::ProxyBuilder;
use cri_tests::containerd::{Containerd, IMAGE, host_network_pod};

/// Serves `stack` on `dir/proxy.sock` until the returned sender is dropped.
async fn serve(
    dir: &std::path::Path,
    stack: cri_proxy::GrpcService,
) -> (std::path::PathBuf, tokio::sync::oneshot::Sender<()>) {
    let path = dir.join("proxy.sock");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (ready, listening) = tokio::sync::oneshot::channel::<()>();
    let served = path.clone();
    tokio::spawn(async move {
        cri_proxy::serve_unix(
            stack,
            &served,
            async {
                let _ = stopped.await;
            },
            Duration::from_secs(5),
            move || {
                let _ = ready.send(());
            },
        )
        .await
    });
    tokio::time::timeout(Duration::from_secs(10), listening)
        .await
        .unwrap()
        .unwrap();
    (path, stop)
}

fn crictl(
    binary: &std::path::Path,
    socket: &std::path::Path,
    config: &std::path::Path,
    args: &[&str],
) -> String {
    let endpoint = format!("unix://{}", socket.display());
    let output = std::process::Command::new(binary)
        .arg("--config")
        .arg(config)
        .args([
            "--runtime-endpoint",
            &endpoint,
            "--image-endpoint",
            &endpoint,
            "--timeout",
            "20s",
        ])
        .args(args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "crictl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn go_crictl_and_the_client_through_the_proxy_in_front_of_containerd() {
    let containerd = Containerd::start();
    let binary = cri_tests::go_crictl::binary(std::path::Path::new(env!("CARGO_TARGET_TMPDIR")));
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("crictl.yaml");
    std::fs::write(&config, "").unwrap();

    // A pod, so that pods and inspectp have something to show.
    let mut runtime = cri_api_v1::runtime_service_client::RuntimeServiceClient::new(
        cri_proxy::forward::channel(containerd.socket().to_path_buf()),
    );
    let logs = tempfile::tempdir().unwrap();
    let pod = runtime
        .run_pod_sandbox(v1::RunPodSandboxRequest {
            config: Some(host_network_pod("proxy", "proxy-uid", logs.path())),
            runtime_handler: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .pod_sandbox_id;

    let stack = ProxyBuilder::new(containerd.endpoint())
        .bridge_streaming(true)
        .build()
        .unwrap();
    let (proxy, stop) = serve(dir.path(), stack).await;
    let commands: Vec<Vec<&str>> = vec![
        vec!["version"],
        vec!["info"],
        vec!["ps", "-a", "-o", "json"],
        vec!["pods", "-o", "json"],
        vec!["images"],
        vec!["images", "-o", "json"],
        vec!["inspectp", &pod],
        vec!["inspecti", IMAGE],
    ];
    for args in &commands {
        let (socket, proxy, config, binary, owned) = (
            containerd.socket().to_path_buf(),
            proxy.clone(),
            config.clone(),
            binary.clone(),
            args.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        );
        let (direct, through) = tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = owned.iter().map(String::as_str).collect();
            (
                crictl(&binary, &socket, &config, &args),
                crictl(&binary, &proxy, &config, &args),
            )
        })
        .await
        .unwrap();
        assert!(!direct.trim().is_empty(), "crictl {args:?} printed nothing");
        assert_eq!(
            direct, through,
            "crictl {args:?} prints the same through the proxy"
        );
    }

    // The project's client, streaming lists on: containerd 1.6 alone makes it fall back to
    // the unary lists; through the bridge it keeps streaming.
    let client = Client::builder(format!("unix://{}", proxy.display()))
        .list_streaming(true)
        .connect()
        .await
        .unwrap();
    let pods = client
        .list_pod_sandbox(v1::ListPodSandboxRequest::default())
        .await
        .unwrap();
    assert!(pods.items.iter().any(|p| p.id == pod));
    client
        .list_containers(v1::ListContainersRequest::default())
        .await
        .unwrap();
    let images = client
        .list_images(v1::ListImagesRequest::default())
        .await
        .unwrap()
        .images;
    assert!(
        images
            .iter()
            .any(|i| i.repo_tags.iter().any(|t| t == IMAGE))
    );
    for list in [List::PodSandboxes, List::Containers, List::Images] {
        assert!(
            client.streams(list),
            "{list:?} was served through Stream* by the bridge"
        );
    }
    let direct = Client::builder(containerd.endpoint())
        .list_streaming(true)
        .connect()
        .await
        .unwrap();
    direct
        .list_containers(v1::ListContainersRequest::default())
        .await
        .unwrap();
    assert!(
        !direct.streams(List::Containers),
        "containerd 1.6 alone lacks StreamContainers"
    );

    drop(stop);
    runtime
        .stop_pod_sandbox(v1::StopPodSandboxRequest {
            pod_sandbox_id: pod.clone(),
        })
        .await
        .unwrap();
    runtime
        .remove_pod_sandbox(v1::RemovePodSandboxRequest {
            pod_sandbox_id: pod,
        })
        .await
        .unwrap();
}
