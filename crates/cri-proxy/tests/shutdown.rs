//! The program: SIGTERM with a call in flight lets it finish, removes the socket, exits 0;
//! a bad flag is one line naming it.

mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cri_api_v1 as v1;

const BIN: &str = env!("CARGO_BIN_EXE_cri-proxy");

#[tokio::test]
async fn sigterm_lets_the_call_in_flight_finish_and_removes_the_socket() {
    let dir = tempfile::tempdir().unwrap();
    let fake = cri_fake::FakeRuntime::builder()
        .pull_delay(Duration::from_millis(1500))
        .build();
    let server = fake.serve_unix(dir.path().join("fake.sock")).await.unwrap();
    let listen = dir.path().join("proxy.sock");
    let mut child = tokio::process::Command::new(BIN)
        .arg("--listen")
        .arg(format!("unix://{}", listen.display()))
        .arg("--runtime-endpoint")
        .arg(server.endpoint())
        .args(["--grace-period", "10"])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let started = Instant::now();
    while !listen.exists() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the proxy listens within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut images = support::image_client(&listen).await;
    let pull = tokio::spawn(async move {
        images
            .pull_image(v1::PullImageRequest {
                image: Some(v1::ImageSpec {
                    image: "docker.io/library/busybox:latest".into(),
                    ..Default::default()
                }),
                ..Default::default()
            })
            .await
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let pid = child.id().unwrap().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let pulled = tokio::time::timeout(Duration::from_secs(10), pull)
        .await
        .unwrap()
        .unwrap();
    assert!(pulled.is_ok(), "the call in flight finished: {pulled:?}");
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status:?}");
    assert!(!listen.exists(), "the socket is removed");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_call_longer_than_the_grace_period_is_cut_at_its_end() {
    let dir = tempfile::tempdir().unwrap();
    let fake = cri_fake::FakeRuntime::builder()
        .pull_delay(Duration::from_secs(20))
        .build();
    let server = fake.serve_unix(dir.path().join("fake.sock")).await.unwrap();
    let listen = dir.path().join("proxy.sock");
    let mut child = tokio::process::Command::new(BIN)
        .arg("--listen")
        .arg(format!("unix://{}", listen.display()))
        .arg("--runtime-endpoint")
        .arg(server.endpoint())
        .args(["--grace-period", "0.5"])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let started = Instant::now();
    while !listen.exists() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the proxy listens within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut images = support::image_client(&listen).await;
    let pull = tokio::spawn(async move {
        images
            .pull_image(v1::PullImageRequest {
                image: Some(v1::ImageSpec {
                    image: "docker.io/library/busybox:latest".into(),
                    ..Default::default()
                }),
                ..Default::default()
            })
            .await
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let pid = child.id().unwrap().to_string();
    let signalled = Instant::now();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status:?}");
    let took = signalled.elapsed();
    assert!(
        took >= Duration::from_millis(400) && took < Duration::from_secs(5),
        "exited {took:?} after SIGTERM"
    );
    let pulled = tokio::time::timeout(Duration::from_secs(10), pull)
        .await
        .unwrap()
        .unwrap();
    assert!(
        pulled.is_err(),
        "the call was cut when the grace period ended"
    );
    assert!(!listen.exists(), "the socket is removed");
    server.shutdown().await.unwrap();
}

#[test]
fn a_bad_flag_is_one_line_naming_it() {
    for (args, says) in [
        (
            vec![
                "--listen",
                "unix:///tmp/x.sock",
                "--runtime-endpoint",
                "unix:///tmp/y.sock",
                "--inject",
                "Nope:delay=1s",
            ],
            "no CRI RPC is named \"Nope\"",
        ),
        (
            vec![
                "--listen",
                "relative.sock",
                "--runtime-endpoint",
                "unix:///tmp/y.sock",
            ],
            "--listen",
        ),
        (
            vec!["--listen", "unix:///tmp/x.sock"],
            "--runtime-endpoint is required",
        ),
        (
            vec![
                "--listen",
                "unix:///tmp/x.sock",
                "--runtime-endpoint",
                "unix:///tmp/y.sock",
                "--metrics-address",
                "nowhere",
            ],
            "--metrics-address",
        ),
        (vec!["--frobnicate"], "unknown argument \"--frobnicate\""),
    ] {
        let output = Command::new(BIN).args(&args).output().unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
}
