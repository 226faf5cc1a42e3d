//! The `cri-fake` binary: flags, readiness line, serving, stale sockets, clean stops.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use cri_api_v1::image_service_client::ImageServiceClient;
use cri_api_v1::runtime_service_client::RuntimeServiceClient;
use cri_api_v1::*;
use tonic::transport::Endpoint;

fn cri_fake() -> Command {
    Command::new(env!("CARGO_BIN_EXE_cri-fake"))
}

fn start(args: &[&str]) -> (Child, String) {
    let mut child = cri_fake()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    (child, line)
}

#[test]
fn bad_flags_are_named_and_help_is_printed() {
    for (args, message) in [
        (
            &["--seed", "lots"][..],
            "cri-fake: --seed wants a number, not \"lots\"\n(see cri-fake --help)\n",
        ),
        (
            &["--seed", "1"][..],
            "cri-fake: --socket PATH is required\n(see cri-fake --help)\n",
        ),
        (
            &["--socket", "x", "--frobnicate"][..],
            "cri-fake: unknown argument \"--frobnicate\"\n(see cri-fake --help)\n",
        ),
    ] {
        let output = cri_fake().args(args).output().unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert_eq!(String::from_utf8_lossy(&output.stderr), message);
    }
    let help = cri_fake().arg("--help").output().unwrap();
    assert!(help.status.success());
    assert!(String::from_utf8_lossy(&help.stdout).contains("--without-stream-rpcs"));
}

#[test]
fn refuses_a_path_that_is_not_a_socket() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plain");
    std::fs::write(&file, "").unwrap();
    let output = cri_fake().arg("--socket").arg(&file).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("exists and is not a socket"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_with_its_flags_replaces_a_stale_socket_and_stops_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("fake.sock");
    // A stale socket file, as a killed run leaves it.
    drop(std::os::unix::net::UnixListener::bind(&socket).unwrap());
    assert!(socket.exists());
    let path = socket.to_str().unwrap();
    let (mut child, line) = start(&[
        "--socket",
        path,
        "--seed",
        "2",
        "--containers-per-pod",
        "3",
        "--runtime-name",
        "my-runtime",
        "--image",
        "example.com/a:1,example.com/a:2=www-data",
        "--pull",
        "example.com/a:2",
        "--no-default-images",
    ]);
    assert_eq!(line.trim(), format!("cri-fake: serving unix://{path}"));
    let channel = Endpoint::from_shared(format!("unix://{path}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut rt = RuntimeServiceClient::new(channel.clone());
    let version = rt
        .version(VersionRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(version.runtime_name, "my-runtime");
    let containers = rt
        .list_containers(ListContainersRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(containers.containers.len(), 6);
    let mut im = ImageServiceClient::new(channel);
    let images = im
        .list_images(ListImagesRequest::default())
        .await
        .unwrap()
        .into_inner()
        .images;
    // The seeded containers' busybox, and the pulled image with its configured user.
    assert_eq!(images.len(), 2, "{images:?}");
    assert!(
        images
            .iter()
            .any(|i| i.username == "www-data" && i.repo_tags == ["example.com/a:2"])
    );

    // SIGTERM: a clean exit that removes the socket.
    let killed = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
    assert!(!socket.exists());

    // A second server on a socket in use is refused.
    let (mut first, _) = start(&["--socket", path, "--exit-on-stdin-close"]);
    let second = cri_fake().args(["--socket", path]).output().unwrap();
    assert!(String::from_utf8_lossy(&second.stderr).contains("is in use by another server"));
    drop(first.stdin.take());
    let status = first.wait().unwrap();
    assert!(status.success());
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert!(!socket.exists());
}
