//! `cri-log` against the logs a real runtime writes: a container of a private containerd 1.6
//! prints to stdout and stderr, a line longer than 16 KiB and a last line without a newline;
//! the reader reads its `log_path` back. The fake runs the same script, and its log reads
//! the same.

use std::path::Path;
use std::time::Duration;

use cri_api_v1::runtime_service_client::RuntimeServiceClient;
use cri_api_v1::*;
use cri_fake::FakeRuntime;
use cri_log::{Line, Message, ReadOptions, Stream, Streams, Tag};
use cri_tests::containerd::{Containerd, IMAGE, host_network_pod};
use tonic::transport::{Channel, Endpoint};

fn script() -> String {
    let long = "x".repeat(40_000);
    format!("echo out; echo err >&2; printf '%s\\n' {long}; echo 'second é ✓'; printf 'no newline'")
}

/// Runs the script in a new container of `rt`; the log file once the container exited.
async fn run_script(
    rt: &mut RuntimeServiceClient<Channel>,
    log_dir: &Path,
    node: bool,
) -> std::path::PathBuf {
    std::fs::create_dir_all(log_dir).unwrap();
    let mut pod_config = host_network_pod("logs", "uid-logs", log_dir);
    if !node {
        // Host networking is for containerd (no CNI there); the fake is given no namespace
        // options.
        pod_config
            .linux
            .as_mut()
            .expect("a Linux config")
            .security_context = None;
    }
    let pod = rt
        .run_pod_sandbox(RunPodSandboxRequest {
            config: Some(pod_config.clone()),
            runtime_handler: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .pod_sandbox_id;
    let ctr = rt
        .create_container(CreateContainerRequest {
            pod_sandbox_id: pod.clone(),
            config: Some(ContainerConfig {
                metadata: Some(ContainerMetadata {
                    name: "printer".into(),
                    attempt: 0,
                }),
                image: Some(ImageSpec {
                    image: IMAGE.into(),
                    ..Default::default()
                }),
                command: vec!["/bin/sh".into(), "-c".into(), script()],
                log_path: "printer/0.log".into(),
                ..Default::default()
            }),
            sandbox_config: Some(pod_config),
        })
        .await
        .unwrap()
        .into_inner()
        .container_id;
    rt.start_container(StartContainerRequest {
        container_id: ctr.clone(),
    })
    .await
    .unwrap();
    let mut exited = None;
    for _ in 0..600 {
        let status = rt
            .container_status(ContainerStatusRequest {
                container_id: ctr.clone(),
                verbose: false,
            })
            .await
            .unwrap()
            .into_inner()
            .status
            .unwrap();
        if status.state() == ContainerState::ContainerExited {
            exited = Some(status);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let status = exited.expect("the container exits");
    assert_eq!(status.exit_code, 0, "{status:?}");
    let _ = rt
        .remove_container(RemoveContainerRequest { container_id: ctr })
        .await;
    let _ = rt
        .stop_pod_sandbox(StopPodSandboxRequest {
            pod_sandbox_id: pod.clone(),
        })
        .await;
    let _ = rt
        .remove_pod_sandbox(RemovePodSandboxRequest {
            pod_sandbox_id: pod,
        })
        .await;
    log_dir.join("printer/0.log")
}

fn read(path: &Path, options: ReadOptions) -> Vec<Message> {
    cri_log::read_file(path, options)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// What a reader makes of a log: the stream, content and whether it ended with a newline.
fn summary(messages: &[Message]) -> Vec<(Stream, String, bool)> {
    messages
        .iter()
        .map(|m| {
            (
                m.stream,
                String::from_utf8(m.content.clone()).unwrap(),
                m.partial,
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_the_logs_containerd_wrote_and_the_fake_writes_the_same() {
    let containerd = Containerd::start();
    let mut rt = RuntimeServiceClient::new(containerd.channel().await);
    let log = run_script(&mut rt, &containerd.log_dir(), true).await;
    let raw = std::fs::read(&log).unwrap();
    eprintln!("containerd's log: {} bytes", raw.len());

    // Every line parses, none is longer than 16 KiB of content, and the long line was split.
    let lines: Vec<Line<'_>> = raw
        .split_inclusive(|b| *b == b'\n')
        .map(|l| Line::parse(l).unwrap_or_else(|e| panic!("{e}: {:?}", String::from_utf8_lossy(l))))
        .collect();
    assert!(lines.iter().all(|l| l.content.len() <= 16 * 1024));
    let partials = lines.iter().filter(|l| l.tag == Tag::Partial).count();
    assert!(
        partials >= 2,
        "40 000 bytes in lines of 16 KiB: {partials} partial lines"
    );

    let messages = read(&log, ReadOptions::new());
    let got = summary(&messages);
    let long = "x".repeat(40_000);
    let stdout: Vec<(String, bool)> = got
        .iter()
        .filter(|(s, ..)| *s == Stream::Stdout)
        .map(|(_, c, p)| (c.clone(), *p))
        .collect();
    assert_eq!(stdout.len(), 4, "{stdout:?}");
    assert_eq!(stdout[0], ("out".to_string(), false));
    assert_eq!(stdout[1], (long.clone(), false));
    assert_eq!(stdout[2], ("second é ✓".to_string(), false));
    // containerd 1.6 writes output that ends without a newline as a partial line.
    assert_eq!(stdout[3], ("no newline".to_string(), true));
    // The file's last stdout line is that partial one (stderr's line may land anywhere:
    // containerd copies the two streams in goroutines of their own).
    assert_eq!(
        lines
            .iter()
            .rev()
            .find(|l| l.stream == Stream::Stdout)
            .map(|l| l.tag),
        Some(Tag::Partial)
    );
    let stderr: Vec<_> = got.iter().filter(|(s, ..)| *s == Stream::Stderr).collect();
    assert_eq!(stderr, [&(Stream::Stderr, "err".to_string(), false)]);
    // Timestamps never go back within a stream.
    assert!(
        messages
            .windows(2)
            .filter(|w| w[0].stream == w[1].stream)
            .all(|w| w[0].timestamp <= w[1].timestamp)
    );

    // Tail, since and stream selection on containerd's file.
    let last = read(
        &log,
        ReadOptions::new().tail(Some(1)).streams(Streams::Stdout),
    );
    assert_eq!(last.len(), 1);
    assert_eq!(last[0].content, b"no newline");
    let since = read(
        &log,
        ReadOptions::new().since(Some(messages[messages.len() - 1].timestamp)),
    );
    assert!(!since.is_empty() && since.len() < messages.len());

    // The fake runs the same script and writes a log that reads the same, partial lines
    // included.
    let dir = tempfile::tempdir().unwrap();
    let runtime = FakeRuntime::builder().default_images(false).build();
    runtime.add_image(IMAGE, 1 << 20, false);
    let server = runtime
        .serve_unix(dir.path().join("fake.sock"))
        .await
        .unwrap();
    let channel = Endpoint::from_shared(server.endpoint())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut fake = RuntimeServiceClient::new(channel);
    let fake_log = run_script(&mut fake, &dir.path().join("logs"), false).await;
    let fake_messages = read(&fake_log, ReadOptions::new());
    let mut ours = summary(&fake_messages);
    let mut theirs = got.clone();
    // Order between streams depends on scheduling in a real runtime: compare per stream.
    ours.sort_by_key(|(s, ..)| *s);
    theirs.sort_by_key(|(s, ..)| *s);
    let fake_raw = std::fs::read(&fake_log).unwrap();
    let tags = |raw: &[u8]| -> Vec<(Stream, &'static str, usize)> {
        raw.split_inclusive(|b| *b == b'\n')
            .map(|l| Line::parse(l).unwrap())
            .map(|l| (l.stream, l.tag.as_str(), l.content.len()))
            .filter(|(s, ..)| *s == Stream::Stdout)
            .collect()
    };
    assert_eq!(
        tags(&fake_raw),
        tags(&raw),
        "the same lines, split the same way"
    );
    assert_eq!(ours, theirs);
    server.shutdown().await.unwrap();
}
