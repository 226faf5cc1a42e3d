//! Hostile clients against the `cri-fake` binary (issue 17): each attack runs against the
//! binary as test suites start it (one thread), while a probe measures what a normal client
//! gets. Every attack asserts the same budget: the fake's RSS stays under 100 MiB, a
//! `Version` call and a normal `ExecSync` answer within 1 s while the attack runs (the fake
//! serves on one thread), the fake still serves afterwards, and it never panics (it is still
//! running at the end).
//!
//! Each test prints its figures (`hostile: …`). Measured on the 2-core development machine,
//! debug builds, before and after the fixes of issue 17:
//!
//! | attack | before | after |
//! |---|---|---|
//! | `ExecSync` of `seq 1 1000000000000`, timeout 1 s | no answer in 10 s; the fake frozen (`Version` missed its 2 s deadline); RSS 28 MB | `DEADLINE_EXCEEDED` at 1.01 s; `Version` ≤ 92 ms, exec ≤ 28 ms; RSS 27 MB |
//! | a container logging without end | `StartContainer` no answer in 5 s; the fake frozen | answers in 51–113 ms; `Version` ≤ 250 ms, exec ≤ 130 ms; RSS 11 MB |
//! | grpcio, default channel | `RST_STREAM` `PROTOCOL_ERROR` | served |
//! | soft `NOFILE` 64, 100 idle connections | soft limit kept (64) | raised to the hard limit; 1 tick of CPU a second; `Version` 5 ms |
//! | idle event subscriber, 3,000 containers in a pod, 150 creates | RSS 1,408 MB; creates 11.3 s (slowest 283 ms); `Version` ≤ 401 ms | RSS 79 MB; creates 5.2 s (slowest 110 ms); `Version` ≤ 120 ms |
//! | a 5 MiB request | refused (4 MiB limit) | served (16 MiB limit) |
//! | `ExecSync` with more than 16 MiB of output, through cri-client | a 16,777,221-byte answer the client refuses | 16,777,152 bytes of output, answered |
//! | a 17 MiB request through cri-client | `h2 protocol error … unexpected internal error` | "the request is 17825871 bytes, over this client's limit … not sent" |
//! | a 5 MiB request to a runtime with a 4 MiB limit, through cri-client | "the response exceeds … (ClientBuilder::max_response_size)" | "the runtime refused the request: 5242959 bytes, over its limit of 4194304 bytes" |

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use cri_api_v1::*;

#[path = "hostile_fake/harness.rs"]
mod harness;

use harness::{Fake, LATENCY_BUDGET, assert_serves, connect, first_container, probe};

// ---------------------------------------------------------------------------------------------
// 1. Commands that never end: ExecSync's timeout, a container's endless log.

/// `crictl exec -s --timeout 1 ID seq 1 1000000000000`: the command is stopped at its
/// timeout (DEADLINE_EXCEEDED within 3 s), and the fake serves everyone else meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_sync_without_end_is_stopped_at_its_timeout() {
    let mut fake = Fake::start(&["--seed", "1"]);
    let mut client = connect(&fake.endpoint()).await;
    let id = first_container(&mut client).await;
    let stop = Arc::new(AtomicBool::new(false));
    let attack = {
        let stop = stop.clone();
        let id = id.clone();
        tokio::spawn(async move {
            let at = Instant::now();
            let result = tokio::time::timeout(
                Duration::from_secs(10),
                client.exec_sync(ExecSyncRequest {
                    container_id: id,
                    cmd: ["seq", "1", "1000000000000"].map(String::from).to_vec(),
                    timeout: 1,
                }),
            )
            .await;
            stop.store(true, Ordering::SeqCst);
            (result, at.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let probe = probe(&fake, Some(id), stop, Duration::from_secs(10)).await;
    let (result, took) = attack.await.unwrap();
    println!("hostile: exec -s --timeout 1 seq 1 1e12 answered after {took:?}");
    match result {
        Ok(Err(status)) => assert_eq!(status.code(), tonic::Code::DeadlineExceeded, "{status}"),
        Ok(Ok(r)) => panic!(
            "the endless command answered OK after {took:?} ({} bytes)",
            r.get_ref().stdout.len()
        ),
        Err(_) => panic!("the endless command was not stopped within 10 s"),
    }
    assert!(took < Duration::from_secs(3), "stopped after {took:?}");
    probe.assert_within_budget("endless ExecSync");
    assert_serves(&mut fake).await;
}

/// A container whose command writes without end to its log: `StartContainer` answers, the fake
/// serves everyone else, and `StopContainer` stops it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn container_writing_its_log_without_end_does_not_freeze_the_fake() {
    let mut fake = Fake::start(&["--seed", "1"]);
    let mut client = connect(&fake.endpoint()).await;
    let normal = first_container(&mut client).await;
    let logs = fake.dir().join("logs");
    std::fs::create_dir(&logs).unwrap();
    let pod = client
        .run_pod_sandbox(RunPodSandboxRequest {
            config: Some(PodSandboxConfig {
                metadata: Some(PodSandboxMetadata {
                    name: "flood".into(),
                    namespace: "hostile".into(),
                    uid: "flood-uid".into(),
                    attempt: 0,
                }),
                log_directory: logs.display().to_string(),
                ..Default::default()
            }),
            runtime_handler: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .pod_sandbox_id;
    let ctr = client
        .create_container(CreateContainerRequest {
            pod_sandbox_id: pod,
            config: Some(ContainerConfig {
                metadata: Some(ContainerMetadata {
                    name: "flood".into(),
                    attempt: 0,
                }),
                image: Some(ImageSpec {
                    image: "busybox:1.36".into(),
                    ..Default::default()
                }),
                command: ["seq", "1", "1000000000000"].map(String::from).to_vec(),
                log_path: "flood.log".into(),
                ..Default::default()
            }),
            sandbox_config: None,
        })
        .await
        .unwrap()
        .into_inner()
        .container_id;
    let at = Instant::now();
    let started = tokio::time::timeout(
        Duration::from_secs(5),
        client.start_container(StartContainerRequest {
            container_id: ctr.clone(),
        }),
    )
    .await;
    let start_took = at.elapsed();
    println!("hostile: StartContainer of an endless writer answered after {start_took:?}");
    assert!(
        matches!(started, Ok(Ok(_))),
        "StartContainer of an endless writer: {started:?}"
    );
    let stop = Arc::new(AtomicBool::new(false));
    let probe = probe(&fake, Some(normal), stop, Duration::from_secs(2)).await;
    let written = std::fs::metadata(logs.join("flood.log")).map_or(0, |m| m.len());
    println!("hostile: the endless writer logged {written} bytes in 2 s");
    assert!(written > 0, "the endless writer logged nothing");
    let at = Instant::now();
    tokio::time::timeout(
        Duration::from_secs(5),
        client.stop_container(StopContainerRequest {
            container_id: ctr.clone(),
            timeout: 0,
        }),
    )
    .await
    .expect("StopContainer answers")
    .expect("StopContainer succeeds");
    assert!(
        at.elapsed() < LATENCY_BUDGET,
        "StopContainer took {:?}",
        at.elapsed()
    );
    probe.assert_within_budget("endless container log");
    assert_serves(&mut fake).await;
}

// ---------------------------------------------------------------------------------------------
// 7. gRPC C-core clients on a default channel.

/// Python grpcio with a default channel (no `grpc.default_authority`): C-core sends the
/// socket's path as `:authority`, and the fake must answer it.
#[test]
fn python_grpcio_default_channel_is_served() {
    cri_tests::python::require();
    let fake = Fake::start(&[]);
    let socket = fake.dir().join("fake.sock");
    // A raw unary call: an empty VersionRequest is zero bytes, the answer's bytes hold the
    // runtime name.
    let script = r#"
import sys, grpc
with grpc.insecure_channel("unix://" + sys.argv[1]) as channel:
    call = channel.unary_unary("/runtime.v1.RuntimeService/Version")
    answer = call(b"", timeout=10)
    print("answer", len(answer), b"cri-fake" in answer)
"#;
    let python = std::env::var("CRI_TESTS_PYTHON").unwrap_or_else(|_| "python3".into());
    let output = Command::new(python)
        .arg("-c")
        .arg(script)
        .arg(&socket)
        .output()
        .expect("run python3");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.contains("True"),
        "a default grpcio channel was refused:\n{stdout}\n{stderr}"
    );
}

// ---------------------------------------------------------------------------------------------
// 9. File descriptors.

/// Started under the common soft limit (here 64, to keep the test small), the fake raises its
/// soft open-file limit to the hard one, so that idle connections do not lock out new clients
/// nor make the accept loop spin.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_beyond_the_soft_fd_limit_do_not_lock_out_clients() {
    let mut fake = Fake::start_with(&[], Some(64));
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", fake.pid())).unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap()
        .to_string();
    println!("hostile: the fake's limits: {line}");
    let fields: Vec<&str> = line.split_whitespace().collect();
    let (soft, hard) = (fields[3], fields[4]);
    assert_eq!(soft, hard, "the fake kept its soft open-file limit: {line}");
    let socket = fake.dir().join("fake.sock");
    let mut idle = Vec::new();
    for _ in 0..100 {
        idle.push(tokio::net::UnixStream::connect(&socket).await.unwrap());
    }
    let before = fake.cpu_ticks();
    let stop = Arc::new(AtomicBool::new(false));
    let probe = probe(&fake, None, stop, Duration::from_secs(1)).await;
    let spent = fake.cpu_ticks() - before;
    println!("hostile: with 100 idle connections the fake used {spent} ticks of CPU in ~1 s");
    // 100 ticks are a second of CPU: a spinning accept loop uses all of it.
    assert!(spent < 50, "the fake spins: {spent} ticks in about 1 s");
    probe.assert_within_budget("idle connections");
    drop(idle);
    assert_serves(&mut fake).await;
}

// ---------------------------------------------------------------------------------------------
// 10. An idle GetContainerEvents subscriber.

/// A subscriber that never reads, with 3,000 containers in one pod (each event carries every
/// container's status): the fake's memory stays bounded and `CreateContainer` stays fast.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_event_subscriber_stays_bounded() {
    let mut fake = Fake::start(&["--seed", "1", "--containers-per-pod", "3000"]);
    let mut client = connect(&fake.endpoint()).await;
    let pod = client
        .list_pod_sandbox(ListPodSandboxRequest::default())
        .await
        .unwrap()
        .into_inner()
        .items[0]
        .id
        .clone();
    // Subscribes, then never reads.
    let mut subscriber = connect(&fake.endpoint()).await;
    let _events = subscriber
        .get_container_events(GetEventsRequest::default())
        .await
        .expect("subscribe");
    let rss_before = fake.status_kib("VmRSS");
    let stop = Arc::new(AtomicBool::new(false));
    let attack = {
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut slowest = Duration::ZERO;
            let mut made = 0;
            let start = Instant::now();
            // Bounded: 150 containers or 60 s.
            while made < 150 && start.elapsed() < Duration::from_secs(60) {
                let at = Instant::now();
                let created = tokio::time::timeout(
                    Duration::from_secs(5),
                    client.create_container(CreateContainerRequest {
                        pod_sandbox_id: pod.clone(),
                        config: Some(ContainerConfig {
                            metadata: Some(ContainerMetadata {
                                name: format!("extra-{made}"),
                                attempt: 0,
                            }),
                            image: Some(ImageSpec {
                                image: "busybox:1.36".into(),
                                ..Default::default()
                            }),
                            ..Default::default()
                        }),
                        sandbox_config: None,
                    }),
                )
                .await;
                assert!(matches!(created, Ok(Ok(_))), "create: {created:?}");
                slowest = slowest.max(at.elapsed());
                made += 1;
            }
            stop.store(true, Ordering::SeqCst);
            (made, slowest, start.elapsed())
        })
    };
    let probe = probe(&fake, None, stop, Duration::from_secs(70)).await;
    let (made, slowest, took) = attack.await.unwrap();
    println!(
        "hostile: {made} CreateContainer with an idle subscriber at 3,000 containers: {took:?}, \
         slowest {slowest:?}; RSS {rss_before} KiB before"
    );
    assert!(slowest < LATENCY_BUDGET, "CreateContainer took {slowest:?}");
    probe.assert_within_budget("idle event subscriber");
    assert_serves(&mut fake).await;
}

// ---------------------------------------------------------------------------------------------
// 12. Message size limits: 16 MiB, as containerd; errors that say which side refused.

/// A 5 MiB request (over tonic's 4 MiB default, under containerd's 16 MiB) is served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_up_to_16_mib_are_accepted() {
    let mut fake = Fake::start(&["--seed", "1"]);
    let mut client = connect(&fake.endpoint()).await;
    let id = first_container(&mut client).await;
    let big = "x".repeat(5 << 20);
    let answer = client
        .exec_sync(ExecSyncRequest {
            container_id: id.clone(),
            cmd: vec!["echo".into(), big.clone()],
            timeout: 10,
        })
        .await;
    match answer {
        Ok(r) => assert_eq!(r.get_ref().stdout.len(), big.len() + 1),
        Err(status) => panic!("a 5 MiB request was refused: {status}"),
    }
    // Over 16 MiB: refused by the server with a status naming the limit, the connection kept.
    let huge = "x".repeat(17 << 20);
    let status = client
        .exec_sync(ExecSyncRequest {
            container_id: id,
            cmd: vec!["echo".into(), huge],
            timeout: 10,
        })
        .await
        .expect_err("a 17 MiB request is refused");
    println!("hostile: a 17 MiB request: {status}");
    assert!(
        status.message().contains("16777216"),
        "the refusal names the 16 MiB limit: {status}"
    );
    assert_serves(&mut fake).await;
}

/// Through cri-client: the largest output of `ExecSync` fits the client's 16 MiB limit; a
/// request over the client's limit, and one the runtime refuses, each say which side refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cri_client_errors_name_the_side_that_refused() {
    let mut fake = Fake::start(&["--seed", "1"]);
    let client = cri_client::Client::builder(fake.endpoint())
        .connect()
        .await
        .expect("cri-client connects");
    let id = client
        .list_containers(ListContainersRequest::default())
        .await
        .unwrap()
        .containers[0]
        .id
        .clone();
    // More than 16 MiB of output: the fake caps it so that the answer fits.
    let answer = client
        .exec_sync(ExecSyncRequest {
            container_id: id.clone(),
            cmd: ["seq", "1", "3000000"].map(String::from).to_vec(),
            timeout: 30,
        })
        .await;
    match answer {
        Ok(r) => println!(
            "hostile: the largest ExecSync output: {} bytes",
            r.stdout.len()
        ),
        Err(error) => panic!("the fake's largest ExecSync output does not fit: {error}"),
    }
    // A request over the client's own 16 MiB limit.
    let error = client
        .exec_sync(ExecSyncRequest {
            container_id: id.clone(),
            cmd: vec!["echo".into(), "x".repeat(17 << 20)],
            timeout: 10,
        })
        .await
        .expect_err("a 17 MiB request is refused by the client");
    let text = error.to_string();
    println!("hostile: cri-client, a 17 MiB request: {text}");
    assert!(
        text.contains("request") && !text.contains("response exceeds"),
        "the error says the request is too large: {text}"
    );
    assert_serves(&mut fake).await;

    // A runtime with tonic's default 4 MiB limit refuses a 5 MiB request: the error says the
    // runtime refused the request, not that a response was too large.
    let small = tempfile::tempdir().unwrap();
    let socket = small.path().join("small.sock");
    let runtime = cri_fake::FakeRuntime::new();
    let seeded = runtime.seed(1, 1);
    let (rt, im) = runtime.services();
    let (rt, im) = (
        rt.max_decoding_message_size(4 << 20),
        im.max_decoding_message_size(4 << 20),
    );
    let listener = tokio::net::UnixListener::bind(&socket).unwrap();
    let server = tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(rt)
            .add_service(im)
            .serve_with_incoming(tokio_stream::wrappers::UnixListenerStream::new(listener)),
    );
    let client = cri_client::Client::builder(format!("unix://{}", socket.display()))
        .connect()
        .await
        .expect("cri-client connects");
    let error = client
        .exec_sync(ExecSyncRequest {
            container_id: seeded.container_ids[0].clone(),
            cmd: vec!["echo".into(), "x".repeat(5 << 20)],
            timeout: 10,
        })
        .await
        .expect_err("a 4 MiB server refuses 5 MiB");
    let text = error.to_string();
    println!("hostile: cri-client, a request the runtime refused: {text}");
    assert!(
        text.contains("runtime refused") && !text.contains("response exceeds"),
        "the error says the runtime refused the request: {text}"
    );
    assert!(
        !text.contains("ClientBuilder"),
        "raising the client's limit does not help: {text}"
    );
    server.abort();
}
