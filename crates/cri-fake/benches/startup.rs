//! How long `cri-fake` takes from its start to a socket that serves: spawn the binary, wait
//! for its first answer to `Version` over the socket (target: under 100 ms). Prints the
//! figures and fails if the median start (no seeding) misses the target;
//! `cargo bench -p cri-fake --bench startup` (add `-- RUNS` for more runs). CI runs it
//! through `scripts/fake-startup.sh`.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cri_api_v1::VersionRequest;
use cri_api_v1::runtime_service_client::RuntimeServiceClient;
use tonic::transport::Endpoint;

/// One start: (time to the "serving" line, time to the first Version answer).
async fn start_once(dir: &std::path::Path, run: usize, seed: usize) -> (Duration, Duration) {
    let socket = dir.join(format!("fake-{run}.sock"));
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_cri-fake"))
        .arg("--socket")
        .arg(&socket)
        .args(["--seed", &seed.to_string(), "--exit-on-stdin-close"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start cri-fake");
    let endpoint = Endpoint::from_shared(format!("unix://{}", socket.display())).unwrap();
    let answered = loop {
        if let Ok(channel) = endpoint.connect().await {
            let mut client = RuntimeServiceClient::new(channel);
            if client.version(VersionRequest::default()).await.is_ok() {
                break started.elapsed();
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "cri-fake did not serve"
        );
        tokio::time::sleep(Duration::from_micros(500)).await;
    };
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.starts_with("cri-fake: serving unix://"), "{line:?}");
    let printed = started.elapsed().min(answered);
    drop(child.stdin.take()); // --exit-on-stdin-close: a clean stop
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
    assert!(!socket.exists(), "the socket is removed at exit");
    (printed, answered)
}

/// Prints the figures; the median.
fn report(label: &str, mut times: Vec<Duration>) -> Duration {
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "{label:<44} min {:>7.2} ms   median {:>7.2} ms   max {:>7.2} ms   ({} runs)",
        ms(times[0]),
        ms(times[times.len() / 2]),
        ms(times[times.len() - 1]),
        times.len()
    );
    times[times.len() / 2]
}

/// The target for a start to a serving socket.
const TARGET: Duration = Duration::from_millis(100);

fn main() {
    let runs: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(20);
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut medians = Vec::new();
    for seed in [0, 1000] {
        let mut answered = Vec::new();
        for run in 0..runs {
            let (_, a) = rt.block_on(start_once(dir.path(), run, seed));
            answered.push(a);
        }
        medians.push(report(
            &format!("cri-fake start to first Version answer, seed {seed}"),
            answered,
        ));
    }
    // The target is for a fake without seeding; the figure with 1000 pods is for information.
    if medians[0] > TARGET {
        eprintln!(
            "cri-fake starts serving in {:?} (median), beyond the target of {TARGET:?}",
            medians[0]
        );
        std::process::exit(1);
    }
    println!("target: under {TARGET:?} to a serving socket: met");
}
