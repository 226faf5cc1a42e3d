//! The crictl benchmark: time and peak memory of `crictl ps -a`, `ps -a -q`, `ps -a -o json`,
//! `pods` and `images` against the fake runtime holding 10,000 and 200,000 containers, and the
//! same commands of the Go crictl v1.36 in the same run when `CRI_GO_CRICTL` names it (it lists
//! through the unary RPCs, so past 16 MiB it fails: the table says so).
//!
//! ```text
//! cargo bench -p crictl --bench crictl              # 10,000 and 200,000
//! cargo bench -p crictl --bench crictl -- 50000     # other sizes
//! ```
//!
//! It runs the `crictl` binary of this package (built with the bench profile), with stdout to
//! `/dev/null`, and reads the child's peak resident memory (`VmHWM` of `/proc/PID/status`) and
//! CPU time (`/proc/PID/stat`) every few milliseconds while it runs (the last reading before
//! exit, so the final milliseconds can be missed). The wall time includes the fake's own work
//! (it serves from this process), which dominates at 200,000 containers; the CPU time is the
//! tool's alone.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn peak_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// The CPU time (user + system) the process has used so far, from `/proc/PID/stat` (in clock
/// ticks of 10 ms, Linux's USER_HZ).
fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) in parentheses.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

/// What one run took: wall time, peak memory in KiB, CPU time of the process itself.
struct Figures {
    wall: Duration,
    peak_kib: u64,
    cpu: Duration,
}

fn measure(crictl: &std::path::Path, endpoint: &str, args: &[&str]) -> Result<Figures, String> {
    let started = Instant::now();
    let mut child = Command::new(crictl)
        .args(["--config", "/dev/null", "--timeout", "10m", "-r", endpoint])
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run crictl");
    let mut stderr = child.stderr.take().expect("piped stderr");
    let errors = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr, &mut text);
        text
    });
    let pid = child.id();
    let mut peak = 0;
    let mut ticks = 0;
    let status = loop {
        if let Some(kib) = peak_kib(pid) {
            peak = peak.max(kib);
        }
        if let Some(now) = cpu_ticks(pid) {
            ticks = ticks.max(now);
        }
        if let Some(status) = child.try_wait().expect("wait for crictl") {
            break status;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let elapsed = started.elapsed();
    let errors = errors.join().unwrap_or_default();
    if status.success() {
        Ok(Figures {
            wall: elapsed,
            peak_kib: peak,
            cpu: Duration::from_millis(ticks * 10),
        })
    } else {
        Err(errors.lines().last().unwrap_or("failed").to_string())
    }
}

fn main() {
    let sizes: Vec<usize> = {
        let given: Vec<usize> = std::env::args()
            .skip(1)
            .filter_map(|a| a.parse().ok())
            .collect();
        // `cargo test --benches` runs it with no sizes and `--bench` absent: keep that quick.
        if std::env::args().all(|a| a != "--bench") && given.is_empty() {
            vec![1_000]
        } else if given.is_empty() {
            vec![10_000, 200_000]
        } else {
            given
        }
    };
    let crictl = std::path::PathBuf::from(env!("CARGO_BIN_EXE_crictl"));
    let go = std::env::var_os("CRI_GO_CRICTL").map(std::path::PathBuf::from);
    if go.is_none() {
        println!("(CRI_GO_CRICTL not set: the Go crictl's figures are left out)");
    }
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    println!(
        "crictl benchmark against cri-fake (time = wall clock, the fake's work included; cpu = \
         the crictl process's own user+system time; peak = its VmHWM)"
    );
    println!(
        "{:>10}  {:<18} {:>9} {:>8} {:>10}   {:>9} {:>8} {:>10}",
        "containers", "command", "time", "cpu", "peak", "Go time", "Go cpu", "Go peak"
    );
    for containers in sizes {
        let dir = tempfile::tempdir().expect("temp dir");
        let fake = cri_fake::FakeRuntime::builder().page_size(5000).build();
        fake.seed(containers.div_ceil(5), 5);
        let server = runtime
            .block_on(fake.serve_unix(dir.path().join("fake.sock")))
            .expect("serve the fake");
        let endpoint = server.endpoint();
        // The fake's first list of a size pays for its own warm-up: not the tools' time.
        measure(&crictl, &endpoint, &["ps", "-a", "-q"]).expect("warm-up list");
        let commands: [&[&str]; 5] = [
            &["ps", "-a"],
            &["ps", "-a", "-q"],
            &["ps", "-a", "-o", "json"],
            &["pods"],
            &["images"],
        ];
        for args in commands {
            let figures = |result: Result<Figures, String>| match result {
                Ok(f) => format!(
                    "{:>7.2} s {:>6.2} s {:>6.1} MiB",
                    f.wall.as_secs_f64(),
                    f.cpu.as_secs_f64(),
                    f.peak_kib as f64 / 1024.0
                ),
                Err(error) => format!("fails: {error}"),
            };
            let ours = figures(measure(&crictl, &endpoint, args));
            let theirs = go
                .as_deref()
                .map(|go| figures(measure(go, &endpoint, args)))
                .unwrap_or_default();
            println!(
                "{:>10}  {:<18} {ours}   {theirs}",
                fake.container_count(),
                args.join(" "),
            );
        }
        runtime
            .block_on(server.shutdown())
            .expect("shut down the fake");
    }
}
