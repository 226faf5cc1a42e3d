//! The project's `crictl` binary streaming into containerd 1.6 (upstream's Go server, with Go's
//! flow control) over SPDY and WebSocket: `exec -i` with a reader of stdout that stalls (a
//! real server's back-pressure reaches stdin), WebSocket v4 (containerd has no v5) with
//! stdin, and `port-forward` with several connections at once on both loopback families.
//!
//! Every crictl run is bounded in time: a deadlock fails the test instead of hanging it.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use cri_api_v1::runtime_service_client::RuntimeServiceClient;
use cri_api_v1::*;
use cri_tests::containerd::Containerd;
use serde_json::Value;
use tonic::transport::Endpoint;

const TRANSPORTS: [&str; 2] = ["spdy", "websocket"];

/// How long one crictl run may take before the test calls it hung.
const BOUND: Duration = Duration::from_secs(90);

/// Builds the project's `crictl` (debug, in the workspace's target directory) and returns
/// its path, as cargo reports it.
fn crictl_binary() -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| env!("CARGO").to_string());
    let output = Command::new(cargo)
        .current_dir(cri_tests::project_root())
        .args([
            "build",
            "-p",
            "crictl",
            "--bin",
            "crictl",
            "--message-format=json",
        ])
        .stderr(Stdio::inherit())
        .output()
        .expect("run cargo build");
    assert!(output.status.success(), "cargo build -p crictl failed");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == "crictl")
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .expect("cargo names the crictl executable")
}

/// containerd with a host-network pod and a container that sleeps.
struct Setup {
    containerd: Containerd,
    crictl: PathBuf,
    pod: String,
    ctr: String,
}

fn setup() -> Setup {
    let crictl = crictl_binary();
    let containerd = Containerd::start();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (pod, ctr) = runtime.block_on(async {
        let channel = Endpoint::from_shared(containerd.endpoint())
            .unwrap()
            .timeout(Duration::from_secs(60))
            .connect()
            .await
            .expect("connect to containerd");
        let mut rt = RuntimeServiceClient::new(channel);
        std::fs::create_dir_all(containerd.log_dir()).unwrap();
        let config = cri_tests::containerd::host_network_pod(
            "crictl-streaming",
            "uid-crictl-streaming",
            &containerd.log_dir(),
        );
        let pod = rt
            .run_pod_sandbox(RunPodSandboxRequest {
                config: Some(config.clone()),
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
                        name: "app".into(),
                        attempt: 0,
                    }),
                    image: Some(ImageSpec {
                        image: "localhost/busybox:1".into(),
                        ..Default::default()
                    }),
                    command: vec!["/bin/sleep".into(), "3600".into()],
                    log_path: "app.log".into(),
                    ..Default::default()
                }),
                sandbox_config: Some(config),
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
        (pod, ctr)
    });
    Setup {
        containerd,
        crictl,
        pod,
        ctr,
    }
}

impl Setup {
    fn crictl(&self, args: &[&str]) -> Command {
        let endpoint = self.containerd.endpoint();
        let mut command = Command::new(&self.crictl);
        command
            .args([
                "--runtime-endpoint",
                &endpoint,
                "--image-endpoint",
                &endpoint,
            ])
            .args(args);
        command
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Bytes that are not all alike, so a reordered or dropped chunk shows.
fn pattern(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_le_bytes()[1])
        .collect()
}

/// Runs `command` with `input` on its stdin; its stdout is read by a consumer that stalls
/// (nothing read for `stall`, then a little, then another stall, then the rest), as
/// `crictl exec -i … | (sleep 1; wc -c)` does. Bounded by [`BOUND`].
fn run_with_stalling_reader(
    mut command: Command,
    input: &[u8],
    stall: Duration,
    what: &str,
) -> Output {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start crictl");
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let feeder = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        std::thread::sleep(stall);
        let mut first = vec![0u8; 1 << 20];
        if let Ok(n) = stdout.read(&mut first) {
            bytes.extend_from_slice(&first[..n]);
        }
        std::thread::sleep(stall);
        let _ = stdout.read_to_end(&mut bytes);
        bytes
    });
    let mut stderr = child.stderr.take().unwrap();
    let errors = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = stderr.read_to_end(&mut bytes);
        bytes
    });
    let status = wait_bounded(&mut child, what);
    feeder.join().unwrap();
    Output {
        status,
        stdout: reader.join().unwrap(),
        stderr: errors.join().unwrap(),
    }
}

/// Waits for `child`, killing it and failing when it takes longer than [`BOUND`].
fn wait_bounded(child: &mut Child, what: &str) -> std::process::ExitStatus {
    let deadline = Instant::now() + BOUND;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what}: still running after {BOUND:?}: it hung");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn exec_stdin_with_a_stalling_reader_and_port_forward_against_containerd() {
    let setup = setup();
    let input = pattern(24 << 20);
    let stall = Duration::from_millis(700);

    for transport in TRANSPORTS {
        // A command that ends by itself after reading its input: over WebSocket, containerd
        // speaks v4, which cannot close stdin.
        let size = input.len().to_string();
        let command = setup.crictl(&[
            "exec",
            "-i",
            "--transport",
            transport,
            &setup.ctr,
            "busybox",
            "head",
            "-c",
            &size,
        ]);
        let what = format!("{transport}: crictl exec -i … head -c {size} | (stalling reader)");
        let out = run_with_stalling_reader(command, &input, stall, &what);
        assert_eq!(
            (out.status.code(), out.stdout.len()),
            (Some(0), input.len()),
            "{what}: stderr: {}",
            text(&out.stderr)
        );
        assert!(out.stdout == input, "{what}: stdout differs from stdin");
    }

    // SPDY closes stdin; `auto` with stdin takes SPDY for that reason.
    for transport in ["spdy", "auto"] {
        let command = setup.crictl(&["exec", "-i", "--transport", transport, &setup.ctr, "cat"]);
        let what = format!("{transport}: crictl exec -i … cat | (stalling reader)");
        let out = run_with_stalling_reader(command, &input, stall, &what);
        assert_eq!(
            (out.status.code(), out.stdout.len()),
            (Some(0), input.len()),
            "{what}: stderr: {}",
            text(&out.stderr)
        );
        assert!(out.stdout == input, "{what}: stdout differs from stdin");
    }

    // WebSocket v4 cannot tell `cat` that stdin ended: the session ends at stdin's end
    // instead of waiting forever, and says why.
    let command = setup.crictl(&["exec", "-i", "--transport", "websocket", &setup.ctr, "cat"]);
    let what = "websocket: echo hello | crictl exec -i … cat";
    let out = run_with_stalling_reader(command, b"hello\n", Duration::ZERO, what);
    let stderr = text(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{what}: stderr: {stderr}");
    assert!(
        stderr.contains("v4.channel.k8s.io") && stderr.contains("--transport spdy"),
        "{what}: the error does not say why and what to do: {stderr}"
    );
    assert!(
        b"hello\n".starts_with(&out.stdout),
        "{what}: stdout {:?}",
        text(&out.stdout)
    );

    for transport in TRANSPORTS {
        port_forward(&setup, transport);
    }
}

/// An echo server on the host (the pod shares the host's network).
fn echo_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for tcp in listener.incoming().map_while(Result::ok) {
            std::thread::spawn(move || {
                let mut reader = tcp.try_clone().unwrap();
                let mut writer = tcp;
                let _ = std::io::copy(&mut reader, &mut writer);
                let _ = writer.shutdown(std::net::Shutdown::Write);
            });
        }
    });
    port
}

/// Sends `data` through `addr` (an echo) while reading as much back; the echoed bytes.
/// (The WebSocket channel protocol cannot end one direction of a connection alone, so the
/// echo's end is not waited for.)
fn echo_through(addr: &str, data: &[u8]) -> Vec<u8> {
    let mut tcp = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
    tcp.set_read_timeout(Some(BOUND)).unwrap();
    let mut writer = tcp.try_clone().unwrap();
    let data = data.to_vec();
    let len = data.len();
    let sender = std::thread::spawn(move || {
        writer.write_all(&data).unwrap();
    });
    let mut echoed = vec![0u8; len];
    tcp.read_exact(&mut echoed)
        .unwrap_or_else(|e| panic!("read from {addr}: {e}"));
    sender.join().unwrap();
    echoed
}

/// `crictl port-forward` to the host's echo: three connections at once (both loopback
/// families), 8 MB each way on each, then one more after them.
fn port_forward(setup: &Setup, transport: &str) {
    let port = echo_server();
    let spec = format!("0:{port}");
    let mut child = setup
        .crictl(&["port-forward", "--transport", transport, &setup.pod, &spec])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start crictl port-forward");
    let stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let errors = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let mut child = Some(child);
    let fail = |what: String| -> ! {
        if let Some(mut child) = child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!(
            "{transport}: {what}; crictl's stderr: {}",
            errors.join().unwrap_or_default()
        )
    };
    // "Forwarding from 127.0.0.1:PORT -> P" and "Forwarding from [::1]:PORT -> P", as Go's.
    let addrs =
        match cri_tests::port_forward::listening_addresses(stdout, 2, Duration::from_secs(30)) {
            Ok(addrs) => addrs,
            Err(addrs) => fail(format!("crictl port-forward printed only {addrs:?}")),
        };
    if !(addrs.iter().any(|a| a.starts_with("127.0.0.1:"))
        && addrs.iter().any(|a| a.starts_with("[::1]:")))
    {
        fail(format!(
            "listening on {addrs:?}, not on both loopback families"
        ));
    }
    let data = pattern(8 << 20);
    let targets = [addrs[0].clone(), addrs[1].clone(), addrs[0].clone()];
    let workers: Vec<_> = targets
        .iter()
        .map(|addr| {
            let (addr, data) = (addr.clone(), data.clone());
            std::thread::spawn(move || echo_through(&addr, &data) == data)
        })
        .collect();
    let deadline = Instant::now() + BOUND;
    for (addr, worker) in targets.iter().zip(workers) {
        while !worker.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        if !worker.is_finished() {
            fail(format!("the connection through {addr} hung"));
        }
        match worker.join() {
            Ok(true) => {}
            Ok(false) => fail(format!("{addr} did not echo the 8 MB")),
            Err(_) => fail(format!("the connection through {addr} failed")),
        }
    }
    // The forward outlives its connections.
    if echo_through(&addrs[1], b"one more") != b"one more" {
        fail("a connection after the others was not forwarded".into());
    }
    if let Some(mut child) = child.take() {
        let _ = child.kill();
        let _ = child.wait();
    }
}
