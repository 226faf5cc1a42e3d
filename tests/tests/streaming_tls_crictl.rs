//! Streaming over TLS with client-certificate verification, as a user runs it: the
//! `cri-fake` binary serves its streaming URLs over `https` (`--stream-tls-cert`,
//! `--stream-tls-key`, `--stream-tls-ca`), and the Go crictl v1.36 (`$CRI_GO_CRICTL`, else built) and the
//! project's crictl exec, attach and port-forward with `--tls-ca`, `--tls-cert`,
//! `--tls-key`: the right certificate works; another CA's certificate, or none, fails with
//! an error that says why.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use cri_tests::binaries;
use cri_tests::pki::{Pair, Pki};

/// How long one crictl run may take.
const RUN_TIMEOUT: Duration = Duration::from_secs(60);

/// A running `cri-fake` with TLS streaming; stopped (stdin closed) when dropped.
struct Fake {
    child: Child,
    socket: PathBuf,
    _dir: tempfile::TempDir,
}

impl Fake {
    fn start(pki: &Pki) -> Fake {
        let binary = binaries::build("cri-fake", "cri-fake");
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("fake.sock");
        let mut child = Command::new(binary)
            .arg("--socket")
            .arg(&socket)
            .args(["--seed", "1", "--exit-on-stdin-close"])
            .arg("--stream-tls-cert")
            .arg(&pki.server.cert)
            .arg("--stream-tls-key")
            .arg(&pki.server.key)
            .arg("--stream-tls-ca")
            .arg(&pki.ca)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start cri-fake");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert!(line.starts_with("cri-fake: serving unix://"), "{line:?}");
        Fake {
            child,
            socket,
            _dir: dir,
        }
    }

    fn endpoint(&self) -> String {
        format!("unix://{}", self.socket.display())
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A crictl (Go's or ours) against the fake.
struct Crictl {
    name: &'static str,
    binary: PathBuf,
    endpoint: String,
    /// Its config file, naming the endpoint (so that neither reads /etc/crictl.yaml).
    config: PathBuf,
    /// The transports its exec is checked over.
    transports: &'static [&'static str],
}

/// A crictl config file in `dir` for `endpoint`.
fn config_file(dir: &Path, endpoint: &str) -> PathBuf {
    let path = dir.join("crictl.yaml");
    std::fs::write(
        &path,
        format!("runtime-endpoint: {endpoint}\nimage-endpoint: {endpoint}\ntimeout: 30\n"),
    )
    .unwrap();
    path
}

/// The `--tls-*` flags for a client certificate (or none).
fn tls_flags(pki: &Pki, identity: Option<&Pair>) -> Vec<String> {
    let Some(pair) = identity else {
        return Vec::new();
    };
    let path = |p: &Path| p.display().to_string();
    vec![
        "--tls-ca".into(),
        path(&pki.ca),
        "--tls-cert".into(),
        path(&pair.cert),
        "--tls-key".into(),
        path(&pair.key),
    ]
}

impl Crictl {
    fn command(&self) -> Command {
        let mut command = Command::new(&self.binary);
        command
            .args(["--runtime-endpoint", &self.endpoint])
            .args(["--image-endpoint", &self.endpoint])
            .arg("--config")
            .arg(&self.config);
        command
    }

    /// Runs `args` with `stdin`, within [`RUN_TIMEOUT`].
    fn run(&self, args: &[String], stdin: &[u8]) -> Output {
        let mut child = self
            .command()
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", self.name));
        child.stdin.take().unwrap().write_all(stdin).unwrap();
        let deadline = Instant::now() + RUN_TIMEOUT;
        loop {
            if child.try_wait().unwrap().is_some() {
                return child.wait_with_output().unwrap();
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("{} {args:?} ran longer than {RUN_TIMEOUT:?}", self.name);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn first(&self, what: &str) -> String {
        let out = self.run(&[what.to_string(), "-q".to_string()], b"");
        assert!(out.status.success(), "{} {what} -q: {out:?}", self.name);
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .next()
            .unwrap_or_else(|| panic!("{what} lists nothing"))
            .to_string()
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn check_exec(crictl: &Crictl, pki: &Pki, ctr: &str) {
    for &transport in crictl.transports {
        let exec = |identity: Option<&Pair>| {
            let mut args = vec!["exec".to_string(), "--transport".into(), transport.into()];
            args.extend(tls_flags(pki, identity));
            args.extend([ctr.to_string(), "echo".into(), "over".into(), "tls".into()]);
            crictl.run(&args, b"")
        };
        let out = exec(Some(&pki.client));
        assert!(
            out.status.success(),
            "{} exec over {transport} with the right certificate: {}",
            crictl.name,
            text(&out.stderr)
        );
        assert_eq!(text(&out.stdout), "over tls\n", "{}", crictl.name);

        for (what, identity) in [
            ("another CA's certificate", Some(&pki.intruder)),
            ("no certificate", None),
        ] {
            let out = exec(identity);
            let stderr = text(&out.stderr);
            eprintln!(
                "{} exec over {transport} with {what}: {stderr}",
                crictl.name
            );
            assert!(!out.status.success(), "{} accepted {what}", crictl.name);
            assert!(
                out.stdout.is_empty(),
                "{}: {:?}",
                crictl.name,
                text(&out.stdout)
            );
            let lower = stderr.to_lowercase();
            assert!(
                lower.contains("tls") || lower.contains("certificate"),
                "{} with {what} over {transport}: the error does not say TLS: {stderr}",
                crictl.name
            );
        }
    }
}

/// The seeded container runs `sleep infinity`, so an attach that got through stays: the
/// right certificate keeps it running (killed after a while), a wrong one ends it at once.
fn check_attach(crictl: &Crictl, pki: &Pki, ctr: &str) {
    let mut child = crictl
        .command()
        .arg("attach")
        .args(tls_flags(pki, Some(&pki.client)))
        .arg(ctr)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(3));
    let ended = child.try_wait().unwrap();
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    assert!(
        ended.is_none(),
        "{} attach with the right certificate ended ({ended:?}): {}",
        crictl.name,
        text(&out.stderr)
    );

    let mut args = vec!["attach".to_string()];
    args.extend(tls_flags(pki, Some(&pki.intruder)));
    args.push(ctr.to_string());
    let out = crictl.run(&args, b"");
    assert!(
        !out.status.success(),
        "{} attach accepted the intruder",
        crictl.name
    );
    let stderr = text(&out.stderr).to_lowercase();
    assert!(stderr.contains("tls"), "{} attach: {stderr}", crictl.name);
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn check_port_forward(crictl: &Crictl, pki: &Pki, pod: &str) {
    let local = free_port();
    let mut child = crictl
        .command()
        .arg("port-forward")
        .args(tls_flags(pki, Some(&pki.client)))
        .arg(pod)
        .arg(format!("{local}:80"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // It prints `Forwarding from 127.0.0.1:LOCAL -> 80` once it listens.
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    if !line.contains("Forwarding from") {
        let _ = child.kill();
        let mut stderr = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        panic!("{} port-forward: {line:?} {stderr}", crictl.name);
    }
    let mut conn = TcpStream::connect(("127.0.0.1", local)).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    conn.write_all(b"ping over tls").unwrap();
    let mut echoed = [0u8; 13];
    let read = conn.read_exact(&mut echoed);
    let _ = child.kill();
    let _ = child.wait();
    read.unwrap_or_else(|e| panic!("{} port-forward: no echo: {e}", crictl.name));
    assert_eq!(&echoed, b"ping over tls", "{}", crictl.name);
}

#[test]
fn crictl_streams_over_tls_with_client_certificates() {
    let pki = Pki::new();
    let go = cri_tests::go_crictl::binary(Path::new(env!("CARGO_TARGET_TMPDIR")));
    let ours = binaries::build("crictl", "crictl");
    let fake = Fake::start(&pki);
    let config = config_file(pki.dir.path(), &fake.endpoint());
    let crictls = [
        Crictl {
            name: "Go crictl",
            binary: go,
            endpoint: fake.endpoint(),
            config: config.clone(),
            // Its default. Over a WebSocket the Go crictl fails against cri-streaming's
            // server with or without TLS (it reads close code 1005 after the output: the
            // close-code work of issue 18), so that is not a TLS check.
            transports: &["spdy"],
        },
        Crictl {
            name: "our crictl",
            binary: ours,
            endpoint: fake.endpoint(),
            config,
            transports: &["spdy", "websocket"],
        },
    ];
    let ctr = crictls[0].first("ps");
    let pod = crictls[0].first("pods");
    for crictl in &crictls {
        check_exec(crictl, &pki, &ctr);
        check_attach(crictl, &pki, &ctr);
        check_port_forward(crictl, &pki, &pod);
    }

    // Ours checks the flags before the Exec RPC: a CA without a certificate and key is
    // refused (as the Go crictl refuses it), and no URL is spent.
    let ours = &crictls[1];
    let mut args = vec!["exec".to_string(), "--tls-ca".into()];
    args.push(pki.ca.display().to_string());
    args.extend([ctr.clone(), "true".into()]);
    let out = ours.run(&args, b"");
    assert!(!out.status.success());
    assert_eq!(
        text(&out.stderr),
        "crictl: --tls-cert and --tls-key are both required for TLS streaming \
         (--tls-ca and --tls-sni are optional)\n"
    );
}
