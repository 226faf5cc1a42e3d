//! Time and peak memory of listing 100,000 containers from the fake runtime over a Unix
//! socket: unary ListContainers (which fails on the kubelet's 16 MiB limit), unary with the
//! limit raised (what it would cost), and StreamContainers.
//!
//! `cargo bench -p cri-client --bench list_100k`
//!
//! The fake runtime runs in a child process (this binary, re-executed), so the figures are the
//! client's alone. Memory is counted by a global allocator wrapper: the peak of live heap bytes
//! during the call, above what was live when it started.

// A counting allocator needs `unsafe impl GlobalAlloc`; it only forwards to `System`.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use cri_api_v1::ListContainersRequest;
use cri_client::Client;

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK.fetch_max(live, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > layout.size() {
            let live = LIVE.fetch_add(new_size - layout.size(), Ordering::Relaxed) + new_size
                - layout.size();
            PEAK.fetch_max(live, Ordering::Relaxed);
        } else {
            LIVE.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
        }
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const MIB: f64 = 1024.0 * 1024.0;

/// Runs `f` and returns (its result, seconds, peak MiB above the live bytes at the start).
async fn measure<T>(f: impl std::future::Future<Output = T>) -> (T, f64, f64) {
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let start = Instant::now();
    let out = f.await;
    let seconds = start.elapsed().as_secs_f64();
    let peak = PEAK.load(Ordering::Relaxed).saturating_sub(base) as f64 / MIB;
    (out, seconds, peak)
}

const CONTAINERS: usize = 100_000;
const SERVE: &str = "CRI_LIST_100K_SERVE";

/// The child process: seeds the fake runtime and serves it until killed.
async fn serve(socket: &str) -> Result<(), Box<dyn std::error::Error>> {
    let runtime = cri_fake::FakeRuntime::builder().page_size(1000).build();
    runtime.seed(CONTAINERS / 10, 10);
    let _server = runtime.serve_unix(socket).await?;
    std::future::pending::<()>().await;
    Ok(())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    if let Ok(socket) = std::env::var(SERVE) {
        return serve(&socket).await;
    }
    let dir = tempfile::tempdir()?;
    let socket = dir.path().join("cri.sock");
    let mut child = std::process::Command::new(std::env::current_exe()?)
        .env(SERVE, &socket)
        .spawn()?;
    while !socket.exists() {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let endpoint = format!("unix://{}", socket.display());

    println!(
        "listing {CONTAINERS} containers from the fake runtime (another process) over a Unix socket"
    );
    println!("client side only; best time and highest peak of 3 runs each");
    println!("{:<46} {:>9} {:>16}", "path", "time (s)", "peak heap (MiB)");
    let unary = Client::builder(&endpoint).connect().await?;
    let raised = Client::builder(&endpoint)
        .max_response_size(512 << 20)
        .connect()
        .await?;
    let streaming = Client::builder(&endpoint)
        .list_streaming(true)
        .connect()
        .await?;
    for (name, client) in [
        ("unary ListContainers, 16 MiB limit", &unary),
        ("unary ListContainers, limit raised to 512 MiB", &raised),
        ("StreamContainers (pages of 1000)", &streaming),
    ] {
        let (mut best, mut peak, mut outcome) = (f64::MAX, 0f64, String::new());
        for _ in 0..3 {
            let (result, seconds, mib) =
                measure(client.list_containers(ListContainersRequest::default())).await;
            best = best.min(seconds);
            peak = peak.max(mib);
            outcome = match result {
                Ok(response) => format!("{} containers", response.containers.len()),
                Err(error) => format!("error: {error}"),
            };
        }
        println!("{name:<46} {best:>9.3} {peak:>16.1}   {outcome}");
    }
    child.kill()?;
    child.wait()?;
    Ok(())
}
