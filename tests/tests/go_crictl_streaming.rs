//! The real Go `crictl` v1.36.0 (`cri_tests::go_crictl`; `.ci/run` builds it with
//! `scripts/critools.sh`) against cri-fake's streaming
//! server, over SPDY and WebSocket each: `exec` (output, exit 0, a non-zero code named in Go's
//! message), `exec -i` with stdin, `exec -it` on a pseudo-terminal (tmux) with a resize,
//! `attach -i`, and `port-forward` carrying 10 MB both ways on two connections at once.
//!
//! Go's clients are stricter than the Python one the other tests use: the WebSocket client
//! wants a close frame with status 1000 at the end and the v5 close signal for stdin, and its
//! port forward over WebSocket tunnels SPDY (`SPDY/3.1+portforward.k8s.io`). Every crictl
//! run is bounded in time, so a session that hangs fails the test.
//!
//! Checked once that it fails when a transport breaks: with the WebSocket close frame sent
//! without its status 1000 (`ws/mux.rs` in cri-streaming), the four exec and attach tests
//! fail with Go's `error reading from error stream: next reader: websocket: close 1005 (no
//! status)`; port forward, whose SPDY tunnel closes on its own, still passes.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use cri_api_v1::runtime_service_client::RuntimeServiceClient;
use cri_api_v1::*;
use cri_fake::FakeRuntime;
use cri_tests::go_crictl;
use tonic::transport::Endpoint;

/// Go crictl's `--transport` values.
const TRANSPORTS: [&str; 2] = ["spdy", "websocket"];

/// How long one crictl run may take before the test calls it hung.
const BOUND: Duration = Duration::from_secs(60);

/// cri-fake serving on a Unix socket from its own runtime, with one seeded pod and
/// container.
struct Fake {
    _server: cri_fake::ServerHandle,
    runtime: tokio::runtime::Runtime,
    dir: tempfile::TempDir,
    socket: PathBuf,
    pod: String,
    ctr: String,
}

fn fake() -> Fake {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let fake = FakeRuntime::new();
    let seeded = fake.seed(1, 1);
    let dir = tempfile::Builder::new()
        .prefix("go-crictl-")
        .tempdir_in("/tmp")
        .unwrap();
    let socket = dir.path().join("fake.sock");
    let server = runtime.block_on(fake.serve_unix(&socket)).unwrap();
    // An empty config file: crictl then takes the endpoints from the flags without warnings.
    std::fs::write(dir.path().join("crictl.yaml"), "").unwrap();
    Fake {
        _server: server,
        runtime,
        dir,
        socket,
        pod: seeded.pod_ids[0].clone(),
        ctr: seeded.container_ids[0].clone(),
    }
}

impl Fake {
    /// `crictl ARGS` against the fake.
    fn crictl(&self, args: &[&str]) -> Command {
        let endpoint = format!("unix://{}", self.socket.display());
        let mut command = Command::new(go_crictl::binary(Path::new(env!("CARGO_TARGET_TMPDIR"))));
        command
            .arg("--config")
            .arg(self.dir.path().join("crictl.yaml"))
            .args([
                "--runtime-endpoint",
                &endpoint,
                "--image-endpoint",
                &endpoint,
            ])
            .args(args);
        command
    }

    /// Runs `crictl ARGS` with `input` on stdin (closed at its end; none: no stdin at all),
    /// bounded in time.
    fn run(&self, args: &[&str], input: Option<&[u8]>) -> Output {
        let mut command = self.crictl(args);
        command
            .stdin(if input.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("start Go crictl");
        let feeder = input.map(|input| {
            let mut stdin = child.stdin.take().unwrap();
            let input = input.to_vec();
            std::thread::spawn(move || {
                let _ = stdin.write_all(&input);
            })
        });
        let output = wait_bounded(child, &format!("crictl {}", args.join(" ")));
        if let Some(feeder) = feeder {
            feeder.join().unwrap();
        }
        output
    }

    /// A started container in the seeded pod whose program is `command`, with stdin open.
    fn container_with_stdin(&self, name: &str, command: &[&str]) -> String {
        self.runtime.block_on(async {
            let channel = Endpoint::from_shared(format!("unix://{}", self.socket.display()))
                .unwrap()
                .connect()
                .await
                .unwrap();
            let mut client = RuntimeServiceClient::new(channel);
            let id = client
                .create_container(CreateContainerRequest {
                    pod_sandbox_id: self.pod.clone(),
                    config: Some(ContainerConfig {
                        metadata: Some(ContainerMetadata {
                            name: name.into(),
                            attempt: 0,
                        }),
                        image: Some(ImageSpec {
                            image: "busybox:1.36".into(),
                            ..Default::default()
                        }),
                        command: command.iter().map(|s| s.to_string()).collect(),
                        stdin: true,
                        ..Default::default()
                    }),
                    sandbox_config: None,
                })
                .await
                .unwrap()
                .into_inner()
                .container_id;
            client
                .start_container(StartContainerRequest {
                    container_id: id.clone(),
                })
                .await
                .unwrap();
            id
        })
    }
}

/// Waits for `child` with stdout and stderr piped, reading both as they come; kills it and
/// fails when it takes longer than [`BOUND`].
fn wait_bounded(mut child: Child, what: &str) -> Output {
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            bytes
        })
    };
    let stdout = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let stderr = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let deadline = Instant::now() + BOUND;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            let stderr = stderr.join().unwrap();
            panic!(
                "{what}: still running after {BOUND:?} (hung); stderr: {}",
                String::from_utf8_lossy(&stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
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

#[test]
fn exec_prints_output_and_passes_the_exit_code_on() {
    let fake = fake();
    for transport in TRANSPORTS {
        let ok = fake.run(
            &[
                "exec",
                "--transport",
                transport,
                &fake.ctr,
                "sh",
                "-c",
                "echo out; echo err >&2",
            ],
            None,
        );
        assert_eq!(
            (ok.status.code(), text(&ok.stdout)),
            (Some(0), "out\n".to_string()),
            "{transport}: stderr: {}",
            text(&ok.stderr)
        );
        assert!(
            text(&ok.stderr).contains("err\n"),
            "{transport}: stderr: {}",
            text(&ok.stderr)
        );

        let failed = fake.run(
            &[
                "exec",
                "--transport",
                transport,
                &fake.ctr,
                "sh",
                "-c",
                "echo before; exit 3",
            ],
            None,
        );
        let stderr = text(&failed.stderr);
        assert_eq!(
            (failed.status.code(), text(&failed.stdout)),
            (Some(1), "before\n".to_string()),
            "{transport}: stderr: {stderr}"
        );
        assert!(
            stderr.contains("command terminated with exit code 3"),
            "{transport}: Go crictl did not read the exit code: {stderr}"
        );
    }
}

#[test]
fn exec_with_stdin_ends_when_stdin_ends() {
    let fake = fake();
    let input = pattern(1 << 20);
    for transport in TRANSPORTS {
        let out = fake.run(
            &["exec", "-i", "--transport", transport, &fake.ctr, "cat"],
            Some(&input),
        );
        assert_eq!(
            out.status.code(),
            Some(0),
            "{transport}: stderr: {}",
            text(&out.stderr)
        );
        assert!(
            out.stdout == input,
            "{transport}: stdout differs from stdin"
        );
        // The end of stdin reaches a script that reads it, and its code comes back.
        let out = fake.run(
            &[
                "exec",
                "-i",
                "--transport",
                transport,
                &fake.ctr,
                "sh",
                "-c",
                "cat; exit 4",
            ],
            Some(b"line\n"),
        );
        assert_eq!(
            (out.status.code(), text(&out.stdout)),
            (Some(1), "line\n".to_string()),
            "{transport}: stderr: {}",
            text(&out.stderr)
        );
        assert!(
            text(&out.stderr).contains("command terminated with exit code 4"),
            "{transport}: {}",
            text(&out.stderr)
        );
    }
}

#[test]
fn attach_with_stdin() {
    let fake = fake();
    let ctr = fake.container_with_stdin("attach-cat", &["cat"]);
    for transport in TRANSPORTS {
        let out = fake.run(
            &["attach", "-i", "--transport", transport, &ctr],
            Some(b"attached and echoed\n"),
        );
        assert_eq!(
            (out.status.code(), text(&out.stdout)),
            (Some(0), "attached and echoed\n".to_string()),
            "{transport}: stderr: {}",
            text(&out.stderr)
        );
    }
}

/// A tmux server of its own, killed when dropped.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn start(name: &str, width: u16, height: u16, command: &str) -> Tmux {
        let tmux = Tmux {
            socket: format!("cri-tests-{}-{name}", std::process::id()),
        };
        let status = Command::new("tmux")
            .args(["-L", &tmux.socket, "-f", "/dev/null", "new-session", "-d"])
            .args(["-x", &width.to_string(), "-y", &height.to_string()])
            .args(["-s", "t", command])
            .status();
        match status {
            Ok(status) if status.success() => tmux,
            Ok(status) => panic!("tmux new-session failed: {status}"),
            Err(error) => cri_tests::missing_peer(
                "tmux",
                &format!("cannot run tmux: {error}"),
                "apt-get install -y tmux",
            ),
        }
    }

    fn tmux(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .args(["-L", &self.socket])
            .args(args)
            .output()
            .expect("run tmux");
        assert!(out.status.success(), "tmux {args:?}: {}", text(&out.stderr));
        text(&out.stdout)
    }

    /// Types `line` and a line feed (a real terminal's Enter is a carriage return, which a
    /// container's terminal turns into a line feed; the fake has no terminal to do it).
    fn type_line(&self, line: &str) {
        self.tmux(&["send-keys", "-t", "t", "-l", line]);
        self.tmux(&["send-keys", "-t", "t", "C-j"]);
    }

    /// Waits (bounded) until the pane shows `what`.
    fn wait_for(&self, what: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let pane = self.tmux(&["capture-pane", "-p", "-t", "t"]);
            if pane.contains(what) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the terminal never showed {what:?}; it shows:\n{pane}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .status();
    }
}

fn wait_for_file(path: &Path) -> String {
    let deadline = Instant::now() + BOUND;
    loop {
        if let Ok(text) = std::fs::read_to_string(path)
            && text.ends_with('\n')
        {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "{} never appeared: the session did not end",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn exec_on_a_terminal_with_a_resize() {
    let fake = fake();
    for transport in TRANSPORTS {
        let rc = fake.dir.path().join(format!("tty-{transport}.rc"));
        let err = fake.dir.path().join(format!("tty-{transport}.err"));
        let crictl = fake.crictl(&["exec", "-it", "--transport", transport, &fake.ctr, "sh"]);
        let argv: Vec<String> = std::iter::once(crictl.get_program())
            .chain(crictl.get_args())
            .map(|a| format!("'{}'", a.to_string_lossy()))
            .collect();
        let script = format!(
            "{} 2>'{}'; echo $? >'{}'; sleep 60",
            argv.join(" "),
            err.display(),
            rc.display()
        );
        let tmux = Tmux::start(transport, 80, 24, &script);
        tmux.type_line("echo first line");
        tmux.wait_for("first line");
        // crictl sends the new size on SIGWINCH; the session goes on.
        tmux.tmux(&["resize-window", "-t", "t", "-x", "100", "-y", "30"]);
        tmux.type_line("echo after the resize");
        tmux.wait_for("after the resize");
        tmux.type_line("exit 5");
        let code = wait_for_file(&rc);
        let stderr = std::fs::read_to_string(&err).unwrap_or_default();
        assert_eq!(code.trim(), "1", "{transport}: stderr: {stderr}");
        assert!(
            stderr.contains("command terminated with exit code 5"),
            "{transport}: {stderr}"
        );
    }
}

/// A running `crictl port-forward`, killed when dropped.
struct Forward(Child);

impl Drop for Forward {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Sends `data` through `addr` (an echo) while reading it back; the echoed bytes.
fn echo_through(addr: &str, data: &[u8]) -> Vec<u8> {
    let mut tcp = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
    tcp.set_read_timeout(Some(BOUND)).unwrap();
    let mut writer = tcp.try_clone().unwrap();
    let data = data.to_vec();
    let sender = std::thread::spawn(move || {
        writer.write_all(&data).unwrap();
        writer.shutdown(std::net::Shutdown::Write).unwrap();
    });
    let mut echoed = Vec::new();
    tcp.read_to_end(&mut echoed)
        .unwrap_or_else(|e| panic!("read from {addr}: {e}"));
    sender.join().unwrap();
    echoed
}

#[test]
fn port_forward_carries_10_mb_both_ways() {
    let fake = fake();
    let data = pattern(10 << 20);
    for transport in TRANSPORTS {
        let mut child = fake
            .crictl(&[
                "port-forward",
                "--transport",
                transport,
                &fake.pod,
                "0:8080",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start Go crictl port-forward");
        let stdout = child.stdout.take().unwrap();
        let mut stderr = child.stderr.take().unwrap();
        let forward = Forward(child);
        let errors = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });
        let mut forward = Some(forward);
        let fail = |what: String| -> ! {
            drop(forward.take());
            panic!(
                "{transport}: {what}; crictl's stderr: {}",
                errors.join().unwrap_or_default()
            )
        };
        // "Forwarding from 127.0.0.1:PORT -> 8080" and "Forwarding from [::1]:PORT -> 8080".
        let addrs = match cri_tests::port_forward::listening_addresses(
            stdout,
            2,
            Duration::from_secs(20),
        ) {
            Ok(addrs) => addrs,
            Err(addrs) => fail(format!("crictl port-forward printed only {addrs:?}")),
        };
        // Two connections at once, one per loopback family.
        let workers: Vec<_> = addrs
            .iter()
            .map(|addr| {
                let (addr, data) = (addr.clone(), data.clone());
                std::thread::spawn(move || echo_through(&addr, &data) == data)
            })
            .collect();
        for (addr, worker) in addrs.iter().zip(workers) {
            match worker.join() {
                Ok(true) => {}
                Ok(false) => fail(format!("{addr} did not echo the 10 MB")),
                Err(_) => fail(format!("the connection through {addr} failed")),
            }
        }
    }
}
