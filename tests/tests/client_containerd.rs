//! `cri-client` against a real runtime: containerd 1.6 serves runtime.v1 (and v1alpha2) but
//! none of the Kubernetes 1.36 `Stream*` RPCs, so the client negotiates v1 and its list calls
//! fall back from streaming to unary, as the kubelet's do.

use std::time::Duration;

use cri_api_v1 as v1;
use cri_client::{ApiVersion, Client, List, VersionPolicy};
use cri_tests::containerd::{Containerd, IMAGE};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_negotiates_v1_and_falls_back_from_streaming() {
    let containerd = Containerd::start();
    for policy in [VersionPolicy::V1Only, VersionPolicy::PreferV1] {
        let client = Client::builder(containerd.endpoint())
            .version_policy(policy)
            .list_streaming(true)
            .connect()
            .await
            .unwrap();
        assert_eq!(client.runtime_api_version(), ApiVersion::V1);
        assert_eq!(client.image_api_version(), ApiVersion::V1);
        let version = client.version(v1::VersionRequest::default()).await.unwrap();
        assert_eq!(
            (
                version.runtime_name.as_str(),
                version.runtime_api_version.as_str()
            ),
            ("containerd", "v1")
        );

        for list in [
            List::Containers,
            List::PodSandboxes,
            List::Images,
            List::ContainerStats,
            List::PodSandboxStats,
        ] {
            assert!(client.streams(list), "{list:?} starts on the streaming RPC");
        }
        assert!(
            client
                .list_containers(v1::ListContainersRequest::default())
                .await
                .is_ok()
        );
        assert!(
            client
                .list_pod_sandbox(v1::ListPodSandboxRequest::default())
                .await
                .is_ok()
        );
        let images = client
            .list_images(v1::ListImagesRequest::default())
            .await
            .unwrap()
            .images;
        assert!(
            images
                .iter()
                .any(|i| i.repo_tags.iter().any(|t| t == IMAGE)),
            "{images:?}"
        );
        assert!(
            client
                .list_container_stats(v1::ListContainerStatsRequest::default())
                .await
                .is_ok()
        );
        assert!(
            client
                .list_pod_sandbox_stats(v1::ListPodSandboxStatsRequest::default())
                .await
                .is_ok()
        );
        for list in [
            List::Containers,
            List::PodSandboxes,
            List::Images,
            List::ContainerStats,
            List::PodSandboxStats,
        ] {
            assert!(
                !client.streams(list),
                "{list:?} fell back to the unary RPC and remembers it"
            );
        }
        // containerd 1.6 has neither ListPodSandboxMetrics nor its stream: the fallback's
        // unary call reports UNIMPLEMENTED as an RPC error.
        let error = client
            .list_pod_sandbox_metrics(v1::ListPodSandboxMetricsRequest {})
            .await
            .unwrap_err();
        assert_eq!(error.code(), Some(tonic::Code::Unimplemented), "{error}");
    }
}

/// The one-call exec and attach of `cri-client` (feature `streaming`) against containerd 1.6's
/// streaming server, with the kubelet's checks of its answers on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_call_exec_and_attach_against_containerd() {
    use cri_tests::containerd::host_network_pod;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let containerd = Containerd::start();
    std::fs::create_dir_all(containerd.log_dir()).unwrap();
    let client = Client::builder(containerd.endpoint())
        .connect()
        .await
        .unwrap();
    let config = host_network_pod("one-call", "uid-one-call", &containerd.log_dir());
    let pod = client
        .run_pod_sandbox(v1::RunPodSandboxRequest {
            config: Some(config.clone()),
            runtime_handler: String::new(),
        })
        .await
        .unwrap()
        .pod_sandbox_id;
    let container = |name: &str, command: &[&str], stdin: bool| v1::CreateContainerRequest {
        pod_sandbox_id: pod.clone(),
        config: Some(v1::ContainerConfig {
            metadata: Some(v1::ContainerMetadata {
                name: name.into(),
                attempt: 0,
            }),
            image: Some(v1::ImageSpec {
                image: IMAGE.into(),
                ..Default::default()
            }),
            command: command.iter().map(|s| s.to_string()).collect(),
            stdin,
            log_path: format!("{name}.log"),
            ..Default::default()
        }),
        sandbox_config: Some(config.clone()),
    };
    let mut ids = Vec::new();
    for (name, command, stdin) in [
        ("app", &["/bin/sleep", "3600"][..], false),
        // Its main process answers each line it reads on stdin.
        (
            "echo",
            &["sh", "-c", "while read line; do echo \"got $line\"; done"][..],
            true,
        ),
    ] {
        let id = client
            .create_container(container(name, command, stdin))
            .await
            .unwrap()
            .container_id;
        client
            .start_container(v1::StartContainerRequest {
                container_id: id.clone(),
            })
            .await
            .unwrap();
        ids.push(id);
    }
    let (app, echo) = (&ids[0], &ids[1]);
    // The kubelet's validation passes on containerd's real answers.
    client
        .container_status(v1::ContainerStatusRequest {
            container_id: app.clone(),
            verbose: false,
        })
        .await
        .unwrap();

    let scenario = async {
        // To its end: stdin in; stdout, stderr and the exit code out.
        let output = client
            .exec(app, ["sh", "-c", "cat; echo err >&2; exit 3"])
            .output(b"piped\n")
            .await
            .unwrap();
        assert_eq!(
            (
                output.stdout.as_slice(),
                output.stderr.as_slice(),
                output.exit_code
            ),
            (&b"piped\n"[..], &b"err\n"[..], 3)
        );
        // On a terminal, resized: the shell sees the size.
        let mut session = client
            .exec(app, ["sh"])
            .stdin(true)
            .tty(true)
            .start()
            .await
            .unwrap();
        session.resizer().unwrap().resize(120, 40).await.unwrap();
        let mut stdin = session.stdin.take().unwrap();
        let mut stdout = session.stdout.take().unwrap();
        // Give the resize a moment to reach the terminal before asking.
        tokio::time::sleep(Duration::from_millis(300)).await;
        stdin.write_all(b"stty size; exit 7\n").await.unwrap();
        let mut output = Vec::new();
        stdout.read_to_end(&mut output).await.unwrap();
        let output = String::from_utf8_lossy(&output);
        assert!(output.contains("40 120"), "{output:?}");
        assert_eq!(session.wait().await.unwrap(), 7);
        // Attach to the main process: a line in, its answer out.
        let mut session = client.attach(echo).stdin(true).start().await.unwrap();
        let mut stdin = session.stdin.take().unwrap();
        let mut stdout = session.stdout.take().unwrap();
        stdin.write_all(b"one call\n").await.unwrap();
        let mut answer = [0u8; 13];
        stdout.read_exact(&mut answer).await.unwrap();
        assert_eq!(&answer, b"got one call\n");
    };
    tokio::time::timeout(Duration::from_secs(120), scenario)
        .await
        .expect("the scenario did not finish in 2 minutes");
    client
        .stop_pod_sandbox(v1::StopPodSandboxRequest {
            pod_sandbox_id: pod.clone(),
        })
        .await
        .unwrap();
    client
        .remove_pod_sandbox(v1::RemovePodSandboxRequest {
            pod_sandbox_id: pod,
        })
        .await
        .unwrap();
}
