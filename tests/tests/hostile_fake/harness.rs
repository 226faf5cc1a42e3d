//! The harness of `hostile_fake.rs`: the `cri-fake` binary in a private directory, a probe
//! that measures what a normal client gets while an attack runs, and the budget it asserts.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use cri_api_v1::runtime_service_client::RuntimeServiceClient;
use cri_api_v1::*;
use serde_json::Value;
use tonic::transport::{Channel, Endpoint};

/// The largest RSS a fake may reach during an attack.
pub const RSS_BUDGET_KIB: u64 = 100 << 10;
/// The longest a normal call may wait while an attack runs (the fake has one thread).
pub const LATENCY_BUDGET: Duration = Duration::from_secs(1);

// ---------------------------------------------------------------------------------------------
// The fake process and the probe.

/// Builds the `cri-fake` binary (in the workspace's target directory) and returns its path.
pub fn cri_fake_binary() -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| env!("CARGO").to_string());
    let output = Command::new(cargo)
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap())
        .args([
            "build",
            "-p",
            "cri-fake",
            "--bin",
            "cri-fake",
            "--message-format=json",
        ])
        .stderr(Stdio::inherit())
        .output()
        .expect("run cargo build");
    assert!(output.status.success(), "cargo build -p cri-fake failed");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == "cri-fake")
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .expect("cargo names the cri-fake executable")
}

/// A running `cri-fake` in a private directory; killed when dropped.
pub struct Fake {
    child: Child,
    dir: tempfile::TempDir,
}

impl Fake {
    /// Starts the binary with `flags`, under a soft open-file limit of `nofile` when given
    /// (set by the shell, as a login session would).
    pub fn start_with(flags: &[&str], nofile: Option<u32>) -> Fake {
        let binary = cri_fake_binary();
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("fake.sock");
        let mut command = match nofile {
            Some(limit) => {
                let mut sh = Command::new("sh");
                sh.arg("-c")
                    .arg(format!("ulimit -Sn {limit} && exec \"$@\""))
                    .arg("sh")
                    .arg(&binary);
                sh
            }
            None => Command::new(&binary),
        };
        let mut child = command
            .arg("--socket")
            .arg(&socket)
            .args(flags)
            .arg("--exit-on-stdin-close")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start cri-fake");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(
            line.trim(),
            format!("cri-fake: serving unix://{}", socket.display())
        );
        Fake { child, dir }
    }

    pub fn start(flags: &[&str]) -> Fake {
        Fake::start_with(flags, None)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn endpoint(&self) -> String {
        format!("unix://{}", self.dir.path().join("fake.sock").display())
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// A field of `/proc/PID/status`, in KiB (`VmRSS`, `VmHWM`).
    pub fn status_kib(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .expect("the fake is running");
        status
            .lines()
            .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("no {field} in /proc/PID/status"))
    }

    /// CPU time used so far (user + system), from `/proc/PID/stat`, in clock ticks.
    pub fn cpu_ticks(&self) -> u64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).unwrap();
        let after_name = &stat[stat.rfind(')').unwrap() + 2..];
        let fields: Vec<&str> = after_name.split(' ').collect();
        // Fields 14 and 15 of stat(5); `after_name` starts at field 3.
        fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
    }

    /// Asserts that the fake is still running (it did not panic or exit).
    pub fn assert_alive(&mut self) {
        assert!(
            self.child.try_wait().unwrap().is_none(),
            "the fake exited during the attack"
        );
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub async fn connect(endpoint: &str) -> RuntimeServiceClient<Channel> {
    let channel = Endpoint::from_shared(endpoint.to_string())
        .unwrap()
        .connect_timeout(Duration::from_secs(5))
        .connect()
        .await
        .expect("connect to the fake");
    RuntimeServiceClient::new(channel)
        .max_decoding_message_size(64 << 20)
        .max_encoding_message_size(64 << 20)
}

/// What a normal client saw while an attack ran.
#[derive(Debug, Default)]
pub struct Probe {
    /// The slowest `Version`.
    version: Duration,
    /// The slowest `ExecSync` of `echo ok` (when a container was given).
    exec: Duration,
    /// The largest RSS seen, KiB.
    rss_kib: u64,
    /// Calls that failed or did not answer within 5 s.
    failures: Vec<String>,
    rounds: u32,
}

impl Probe {
    pub fn assert_within_budget(&self, what: &str) {
        println!(
            "hostile: {what}: max RSS {} KiB, slowest Version {:?}, slowest exec {:?}, {} rounds",
            self.rss_kib, self.version, self.exec, self.rounds
        );
        assert!(self.rounds > 0, "{what}: the probe never ran");
        assert!(
            self.failures.is_empty(),
            "{what}: calls failed during the attack: {:?}",
            self.failures
        );
        assert!(
            self.rss_kib < RSS_BUDGET_KIB,
            "{what}: the fake's RSS reached {} KiB (budget {RSS_BUDGET_KIB} KiB)",
            self.rss_kib
        );
        assert!(
            self.version < LATENCY_BUDGET,
            "{what}: Version took {:?} during the attack (budget {LATENCY_BUDGET:?})",
            self.version
        );
        assert!(
            self.exec < LATENCY_BUDGET,
            "{what}: a normal exec took {:?} during the attack (budget {LATENCY_BUDGET:?})",
            self.exec
        );
    }
}

/// Probes the fake every 100 ms (on a connection of its own) until `stop` is set or `limit`
/// has passed: `Version`, an `ExecSync` of `echo ok` in `container` when given, and the RSS.
pub async fn probe(
    fake: &Fake,
    container: Option<String>,
    stop: Arc<AtomicBool>,
    limit: Duration,
) -> Probe {
    let mut client = connect(&fake.endpoint()).await;
    let mut probe = Probe::default();
    let start = Instant::now();
    while !stop.load(Ordering::SeqCst) && start.elapsed() < limit {
        probe.rounds += 1;
        probe.rss_kib = probe.rss_kib.max(fake.status_kib("VmRSS"));
        let at = Instant::now();
        match tokio::time::timeout(
            Duration::from_secs(5),
            client.version(VersionRequest::default()),
        )
        .await
        {
            Ok(Ok(_)) => probe.version = probe.version.max(at.elapsed()),
            Ok(Err(status)) => probe.failures.push(format!("Version: {status}")),
            Err(_) => probe.failures.push("Version: no answer within 5 s".into()),
        }
        if let Some(id) = &container {
            let at = Instant::now();
            let exec = client.exec_sync(ExecSyncRequest {
                container_id: id.clone(),
                cmd: vec!["echo".into(), "ok".into()],
                timeout: 5,
            });
            match tokio::time::timeout(Duration::from_secs(5), exec).await {
                Ok(Ok(r)) if r.get_ref().stdout == b"ok\n" => {
                    probe.exec = probe.exec.max(at.elapsed())
                }
                Ok(Ok(r)) => probe.failures.push(format!("exec: {:?}", r.get_ref())),
                Ok(Err(status)) => probe.failures.push(format!("exec: {status}")),
                Err(_) => probe.failures.push("exec: no answer within 5 s".into()),
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    probe.rss_kib = probe.rss_kib.max(fake.status_kib("VmRSS"));
    probe
}

/// After an attack: the fake still answers a new client at once.
pub async fn assert_serves(fake: &mut Fake) {
    fake.assert_alive();
    let mut client = connect(&fake.endpoint()).await;
    let at = Instant::now();
    let version = tokio::time::timeout(
        Duration::from_secs(5),
        client.version(VersionRequest::default()),
    )
    .await
    .expect("Version answers after the attack")
    .expect("Version succeeds after the attack");
    assert_eq!(version.get_ref().runtime_name, "cri-fake");
    assert!(at.elapsed() < LATENCY_BUDGET, "{:?}", at.elapsed());
}

/// The first seeded container of a fake started with `--seed`.
pub async fn first_container(client: &mut RuntimeServiceClient<Channel>) -> String {
    client
        .list_containers(ListContainersRequest::default())
        .await
        .unwrap()
        .into_inner()
        .containers
        .first()
        .expect("a seeded container")
        .id
        .clone()
}
