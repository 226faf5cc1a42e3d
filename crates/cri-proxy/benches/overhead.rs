//! What the proxy costs: the latency it adds (p50, p99) to `Version` and to `ListContainers`
//! of 10,000 containers, against cri-fake, and the memory of the `cri-proxy` process under 50
//! concurrent clients. `cargo bench -p cri-proxy --bench overhead` (prints; asserts nothing).
//!
//! Targets (issue 24): under 100 µs added at p50 for small calls, under 1.2× for the 10k list,
//! under 64 MiB under 50 clients.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cri_api_v1 as v1;
use cri_api_v1::runtime_service_client::RuntimeServiceClient;
use tonic::transport::Channel;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

async fn client(path: &Path) -> RuntimeServiceClient<Channel> {
    RuntimeServiceClient::new(cri_proxy::forward::channel(path.to_path_buf()))
        .max_decoding_message_size(64 << 20)
}

/// Times `calls` calls of `call` on `direct` and on `proxied`, alternating; returns the sorted
/// latencies of each.
async fn measure<F, Fut>(
    calls: usize,
    direct: &Path,
    proxied: &Path,
    call: F,
) -> (Vec<Duration>, Vec<Duration>)
where
    F: Fn(RuntimeServiceClient<Channel>) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let (a, b) = (client(direct).await, client(proxied).await);
    // Warm up both connections.
    for _ in 0..5 {
        call(a.clone()).await;
        call(b.clone()).await;
    }
    let (mut direct_times, mut proxy_times) =
        (Vec::with_capacity(calls), Vec::with_capacity(calls));
    for _ in 0..calls {
        let start = Instant::now();
        call(a.clone()).await;
        direct_times.push(start.elapsed());
        let start = Instant::now();
        call(b.clone()).await;
        proxy_times.push(start.elapsed());
    }
    direct_times.sort();
    proxy_times.sort();
    (direct_times, proxy_times)
}

fn report(name: &str, direct: &[Duration], proxy: &[Duration]) {
    let (d50, p50) = (percentile(direct, 0.5), percentile(proxy, 0.5));
    let (d99, p99) = (percentile(direct, 0.99), percentile(proxy, 0.99));
    println!(
        "{name:<28} direct p50 {d50:>10.1?} p99 {d99:>10.1?} | proxied p50 {p50:>10.1?} p99 {p99:>10.1?} | added p50 {:>9.1?} ({:.2}x) p99 {:>9.1?} ({:.2}x)",
        p50.saturating_sub(d50),
        p50.as_secs_f64() / d50.as_secs_f64(),
        p99.saturating_sub(d99),
        p99.as_secs_f64() / d99.as_secs_f64(),
    );
}

fn memory_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let fake = cri_fake::FakeRuntime::new();
        fake.seed(100, 100);
        assert_eq!(fake.container_count(), 10_000);
        let server = fake.serve_unix(dir.path().join("fake.sock")).await.unwrap();
        let listen = dir.path().join("proxy.sock");
        let mut proxy = Command::new(env!("CARGO_BIN_EXE_cri-proxy"))
            .arg("--listen")
            .arg(format!("unix://{}", listen.display()))
            .arg("--runtime-endpoint")
            .arg(server.endpoint())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let started = Instant::now();
        while !listen.exists() {
            assert!(started.elapsed() < Duration::from_secs(10), "the proxy listens within 10 s");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let pid = proxy.id();
        println!("cri-proxy {} (pid {pid}), cri-fake with 10,000 containers", env!("CARGO_PKG_VERSION"));

        let (direct, proxied) = measure(2000, server.path(), &listen, |mut c| async move {
            c.version(v1::VersionRequest::default()).await.unwrap();
        })
        .await;
        report("Version", &direct, &proxied);
        let (direct, proxied) = measure(40, server.path(), &listen, |mut c| async move {
            let list = c.list_containers(v1::ListContainersRequest::default()).await.unwrap().into_inner();
            assert_eq!(list.containers.len(), 10_000);
        })
        .await;
        report("ListContainers (10k)", &direct, &proxied);
        let after_latency = memory_kib(pid, "VmHWM:");

        // 50 concurrent clients, each on its own connection: lists and versions at once.
        let mut tasks = Vec::new();
        for _ in 0..50 {
            let mut c = client(&listen).await;
            tasks.push(tokio::spawn(async move {
                for round in 0..40 {
                    if round % 10 == 0 {
                        c.list_containers(v1::ListContainersRequest::default()).await.unwrap();
                    } else {
                        c.version(v1::VersionRequest::default()).await.unwrap();
                    }
                }
            }));
        }
        let start = Instant::now();
        for task in tasks {
            tokio::time::timeout(Duration::from_secs(300), task).await.unwrap().unwrap();
        }
        println!(
            "50 concurrent clients (4 lists of 10k + 36 Version each) in {:.1?}: proxy peak RSS {} KiB before, {} KiB after ({} KiB now)",
            start.elapsed(),
            after_latency,
            memory_kib(pid, "VmHWM:"),
            memory_kib(pid, "VmRSS:"),
        );
        let _ = Command::new("kill").args(["-TERM", &pid.to_string()]).status();
        let _ = proxy.wait();
        server.shutdown().await.unwrap();
    });
}
