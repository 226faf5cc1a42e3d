//! Hostile clients against the streaming server (issue 17): each attack runs against the
//! `cri-fake` binary (a separate process on one thread, whose memory is read from `/proc`)
//! or, where the test needs a small session limit, against the fake in this process. Each
//! test asserts bounded memory, service to a normal client during and after the attack
//! (`Version` and an exec within the fake's budget), and no panic.
//!
//! Each test prints its figures (peak RSS, the slowest `Version` and exec): run with
//! `--nocapture` to read them.

use std::time::{Duration, Instant};

use cri_api_v1::runtime_service_client::RuntimeServiceClient;
use cri_api_v1::*;
use cri_streaming::client::{self, ExecOptions, Transport};
use cri_tests::hostile::*;
use tonic::transport::{Channel, Endpoint};

/// A gRPC client of a fake, with its seeded pod and container.
struct Victim {
    endpoint: String,
    client: RuntimeServiceClient<Channel>,
    pod: String,
    ctr: String,
}

async fn connect(endpoint: &str) -> Result<RuntimeServiceClient<Channel>, tonic::transport::Error> {
    let channel = Endpoint::from_shared(endpoint.to_string())?
        .connect_timeout(Duration::from_secs(5))
        .connect()
        .await?;
    Ok(RuntimeServiceClient::new(channel))
}

impl Victim {
    async fn new(endpoint: String) -> Victim {
        let mut client = connect(&endpoint).await.expect("connect to the fake");
        let containers = client
            .list_containers(ListContainersRequest::default())
            .await
            .expect("ListContainers")
            .into_inner()
            .containers;
        let ctr = containers.first().expect("a seeded container");
        Victim {
            endpoint,
            pod: ctr.pod_sandbox_id.clone(),
            ctr: ctr.id.clone(),
            client,
        }
    }

    async fn exec_url(&mut self, cmd: &[&str], stdin: bool, tty: bool) -> String {
        let request = ExecRequest {
            container_id: self.ctr.clone(),
            cmd: cmd.iter().map(|s| s.to_string()).collect(),
            stdin,
            stdout: true,
            stderr: false,
            tty,
        };
        self.client
            .exec(request)
            .await
            .expect("Exec")
            .into_inner()
            .url
    }

    async fn port_forward_url(&mut self) -> String {
        let request = PortForwardRequest {
            pod_sandbox_id: self.pod.clone(),
            port: vec![],
        };
        self.client
            .port_forward(request)
            .await
            .expect("PortForward")
            .into_inner()
            .url
    }

    /// How long a `Version` takes on a new connection (a new gRPC client), failures and
    /// timeouts counted as 5 s.
    async fn version_latency(&self) -> Duration {
        let start = Instant::now();
        let call = async {
            let mut client = connect(&self.endpoint).await.ok()?;
            client.version(VersionRequest::default()).await.ok()
        };
        match tokio::time::timeout(Duration::from_secs(5), call).await {
            Ok(Some(_)) => start.elapsed(),
            _ => Duration::from_secs(5),
        }
    }

    /// How long a normal exec (`echo ok` over `transport`) takes end to end, or `None` if it
    /// failed or took more than 5 s.
    async fn exec_latency(&mut self, transport: Transport) -> Option<Duration> {
        let start = Instant::now();
        let run = async {
            let url = self.exec_url(&["echo", "ok"], false, false).await;
            let options = ExecOptions::new().stderr(false).transport(transport);
            let out = client::exec(&url, &options)
                .await
                .ok()?
                .output(b"")
                .await
                .ok()?;
            (out.stdout == b"ok\n" && out.exit_code == 0).then_some(())
        };
        match tokio::time::timeout(Duration::from_secs(5), run).await {
            Ok(Some(())) => Some(start.elapsed()),
            _ => None,
        }
    }
}

/// What the server did while an attack ran.
#[derive(Debug, Default)]
struct During {
    slowest_version: Duration,
    slowest_exec: Duration,
    failed_execs: usize,
}

/// Probes the victim (a `Version` on a new connection, a normal exec over each transport in
/// turn) every 200 ms until `attack` ends (or 60 s pass).
async fn probe_during(victim: &mut Victim, attack: std::thread::JoinHandle<()>) -> During {
    let mut during = During::default();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut round = 0usize;
    while !attack.is_finished() && Instant::now() < deadline {
        during.slowest_version = during.slowest_version.max(victim.version_latency().await);
        let transport = [Transport::WebSocket, Transport::Spdy][round % 2];
        match victim.exec_latency(transport).await {
            Some(t) => during.slowest_exec = during.slowest_exec.max(t),
            None => during.failed_execs += 1,
        }
        round += 1;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    attack.join().expect("the attack thread panicked");
    during
}

/// The checks after every attack on the binary: memory, latency during, service after, no
/// panic.
async fn assert_survived(
    name: &str,
    fake: &mut FakeProcess,
    victim: &mut Victim,
    peak: u64,
    during: During,
) {
    let after_version = victim.version_latency().await;
    let after_exec = victim.exec_latency(Transport::WebSocket).await;
    eprintln!(
        "{name}: peak RSS {:.1} MiB (budget {} MiB); during: slowest Version {} ms, slowest exec \
         {} ms, {} failed execs; after: Version {} ms, exec {:?} ms",
        peak as f64 / 1024.0,
        RSS_BUDGET_KIB / 1024,
        during.slowest_version.as_millis(),
        during.slowest_exec.as_millis(),
        during.failed_execs,
        after_version.as_millis(),
        after_exec.map(|t| t.as_millis()),
    );
    fake.assert_alive_without_panic();
    assert!(
        peak < RSS_BUDGET_KIB,
        "{name}: the server's RSS reached {} KiB (budget {RSS_BUDGET_KIB} KiB)",
        peak
    );
    assert!(
        during.slowest_version < FAKE_LATENCY_BUDGET,
        "{name}: a Version took {:?} during the attack",
        during.slowest_version
    );
    assert_eq!(
        during.failed_execs, 0,
        "{name}: normal execs failed during the attack"
    );
    assert!(
        during.slowest_exec < FAKE_LATENCY_BUDGET,
        "{name}: a normal exec took {:?} during the attack",
        during.slowest_exec
    );
    assert!(
        after_version < FAKE_LATENCY_BUDGET,
        "{name}: Version after: {after_version:?}"
    );
    assert!(
        after_exec.is_some_and(|t| t < FAKE_LATENCY_BUDGET),
        "{name}: a normal exec after the attack: {after_exec:?}"
    );
}

/// Starts the binary, asks it for the URLs the attack needs (`urls`), and runs `attack` on
/// them on a thread for at most `seconds`.
async fn attack_binary<F>(
    name: &str,
    nofile: Option<u32>,
    seconds: u64,
    urls: F,
    attack: fn(Vec<String>, Until),
) where
    F: AsyncFnOnce(&mut Victim) -> Vec<String>,
{
    let mut fake = FakeProcess::start(&[], nofile);
    let mut victim = Victim::new(fake.endpoint()).await;
    // Warm up: the first exec starts the streaming server.
    assert!(
        victim.exec_latency(Transport::WebSocket).await.is_some(),
        "{name}: exec before the attack"
    );
    let before = fake.rss_kib();
    let watch = RssWatch::start(fake.pid());
    let urls = urls(&mut victim).await;
    let until = Until::new(Duration::from_secs(seconds), watch.over());
    let thread = std::thread::spawn(move || attack(urls, until));
    let during = probe_during(&mut victim, thread).await;
    let peak = watch.finish();
    eprintln!(
        "{name}: RSS before the attack {:.1} MiB",
        before as f64 / 1024.0
    );
    assert_survived(name, &mut fake, &mut victim, peak, during).await;
}

/// Item 2: a client that sends PINGs and never reads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_ping_flood_from_a_client_that_never_reads() {
    attack_binary(
        "ping flood",
        None,
        10,
        sleeping_execs::<1>,
        |urls, until| {
            let mut tcp = ws_upgrade(&urls[0], "v5.channel.k8s.io", Duration::from_millis(200));
            let ping = ws_frame(opcode::PING, &[b'p'; 125]);
            let chunk: Vec<u8> = ping
                .iter()
                .copied()
                .cycle()
                .take(ping.len() * 500)
                .collect();
            let sent = flood(&mut tcp, &chunk, &until);
            eprintln!("ping flood: {} MiB of pings sent", sent >> 20);
        },
    )
    .await;
}

/// `N` exec URLs of `sleep 3600` with stdout only.
async fn sleeping_execs<const N: usize>(victim: &mut Victim) -> Vec<String> {
    let mut urls = Vec::new();
    for _ in 0..N {
        urls.push(victim.exec_url(&["sleep", "3600"], false, false).await);
    }
    urls
}

/// The SPDY streams of an exec session with stdout only (`error` 1, `stdout` 3).
fn spdy_exec_session(url: &str, writer: &mut SpdyWriter) -> std::net::TcpStream {
    use std::io::Write;
    let mut tcp = spdy_upgrade(url, "v4.channel.k8s.io", Duration::from_millis(300));
    let mut open = writer.syn_stream(1, 0, [("streamtype", "error")]);
    open.extend(writer.syn_stream(3, 0, [("streamtype", "stdout")]));
    tcp.write_all(&open).expect("open the session's streams");
    tcp
}

/// Writes `frame` until it went out `count` times or the attack stops; blocked writes are
/// retried (the server may be slow, not gone).
fn write_times(tcp: &mut std::net::TcpStream, frames: &[u8], until: &Until) -> bool {
    use std::io::Write;
    let mut rest = frames;
    while !rest.is_empty() {
        if until.done() {
            return false;
        }
        match tcp.write(rest) {
            Ok(0) => return false,
            Ok(n) => rest = &rest[n..],
            Err(e) if is_timeout(&e) => continue,
            Err(_) => return false,
        }
    }
    true
}

/// Item 4: once the session has its streams, SYN_STREAMs with FIN|UNIDIRECTIONAL, or reset
/// at once, with 4 KiB header blocks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spdy_streams_after_the_sessions_own_are_not_kept() {
    attack_binary(
        "SPDY SYN_STREAM flood",
        None,
        20,
        sleeping_execs::<1>,
        |urls, until| {
            let mut writer = SpdyWriter::new();
            let mut tcp = spdy_exec_session(&urls[0], &mut writer);
            let pad = "x".repeat(4096);
            let mut id = 5u32;
            // At most 40,000 streams (160 MiB of headers on the wire).
            for _ in 0..40_000 / 64 {
                let mut batch = Vec::new();
                for _ in 0..64 {
                    let flags = spdy_flag::FIN | spdy_flag::UNIDIRECTIONAL;
                    batch.extend(writer.syn_stream(
                        id,
                        flags,
                        [("streamtype", "stdin"), ("x-pad", pad.as_str())],
                    ));
                    if id % 4 == 1 {
                        batch.extend(SpdyWriter::rst_stream(id));
                    }
                    id += 2;
                }
                if !write_times(&mut tcp, &batch, &until) {
                    break;
                }
            }
        },
    )
    .await;
}

/// Item 4: 124 streams beyond the session's, each sent a full window (1 MiB) that nobody
/// reads, over 8 connections.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spdy_extra_streams_do_not_buffer_a_window_each() {
    attack_binary(
        "SPDY extra streams with data",
        None,
        30,
        sleeping_execs::<8>,
        |urls, until| {
            let mut conns = Vec::new();
            let window: Vec<u8> = (0..16)
                .flat_map(|_| SpdyWriter::data(0, 0, &[0u8; 65536]))
                .collect();
            for url in &urls {
                let mut writer = SpdyWriter::new();
                let mut tcp = spdy_exec_session(url, &mut writer);
                for i in 0..124u32 {
                    let id = 5 + 2 * i;
                    let mut frames = writer.syn_stream(id, 0, [("streamtype", "stdin")]);
                    let mut data = window.clone();
                    // Stamp the stream id into each DATA frame header.
                    for frame in data.chunks_mut(65536 + 8) {
                        frame[..4].copy_from_slice(&id.to_be_bytes());
                    }
                    frames.extend(data);
                    if !write_times(&mut tcp, &frames, &until) {
                        break;
                    }
                }
                conns.push(tcp);
                if until.done() {
                    break;
                }
            }
            // Hold the connections until the attack's time is up.
            while !until.done() {
                std::thread::sleep(Duration::from_millis(50));
            }
        },
    )
    .await;
}

/// Item 4: port-forward data streams whose error half never comes, each sent 1 MiB, over 8
/// connections.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spdy_port_forward_half_pairs_do_not_pin_memory() {
    let port_forwards = async |victim: &mut Victim| {
        let mut urls = Vec::new();
        for _ in 0..8 {
            urls.push(victim.port_forward_url().await);
        }
        urls
    };
    attack_binary(
        "SPDY port-forward half pairs",
        None,
        30,
        port_forwards,
        |urls, until| {
            let mut conns = Vec::new();
            for url in &urls {
                let mut writer = SpdyWriter::new();
                let mut tcp = spdy_upgrade(url, "portforward.k8s.io", Duration::from_millis(300));
                for i in 0..120u32 {
                    let id = 1 + 2 * i;
                    let request = i.to_string();
                    let mut frames = writer.syn_stream(
                        id,
                        0,
                        [
                            ("streamtype", "data"),
                            ("port", "80"),
                            ("requestid", request.as_str()),
                        ],
                    );
                    for _ in 0..16 {
                        frames.extend(SpdyWriter::data(id, 0, &[0u8; 65536]));
                    }
                    if !write_times(&mut tcp, &frames, &until) {
                        break;
                    }
                }
                conns.push(tcp);
                if until.done() {
                    break;
                }
            }
            while !until.done() {
                std::thread::sleep(Duration::from_millis(50));
            }
        },
    )
    .await;
}

/// Item 5: header blocks with thousands of distinct names, sent as fast as the server
/// takes them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spdy_header_blocks_with_thousands_of_names_cost_little() {
    attack_binary(
        "SPDY header names",
        None,
        5,
        sleeping_execs::<1>,
        |urls, until| {
            let mut writer = SpdyWriter::new();
            let mut tcp = spdy_exec_session(&urls[0], &mut writer);
            let names: Vec<String> = (0..4800).map(|i| format!("h{i:04}")).collect();
            // At most 100 blocks (6 MB).
            for _ in 0..100 {
                let frame = writer.headers(1, names.iter().map(|n| (n.as_str(), "")));
                if !write_times(&mut tcp, &frame, &until) {
                    break;
                }
            }
            while !until.done() {
                std::thread::sleep(Duration::from_millis(50));
            }
        },
    )
    .await;
}

/// Item 9: 1,100 idle TCP connections to the streaming port of a fake whose soft limit of
/// open files is 1024; new gRPC clients and normal execs are still served, and the fake does
/// not spin.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_do_not_exhaust_file_descriptors() {
    let mut fake = FakeProcess::start(&[], Some(1024));
    let mut victim = Victim::new(fake.endpoint()).await;
    assert!(victim.exec_latency(Transport::WebSocket).await.is_some());
    let url = victim.exec_url(&["true"], false, false).await;
    let (host, _) = split_url(&url);
    let watch = RssWatch::start(fake.pid());
    let until = Until::new(Duration::from_secs(8), watch.over());
    let thread = std::thread::spawn(move || {
        let addr: std::net::SocketAddr = host.parse().expect("an address");
        let mut conns = Vec::new();
        for _ in 0..1100 {
            if until.done() {
                break;
            }
            match std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(500)) {
                Ok(tcp) => conns.push(tcp),
                Err(_) => continue,
            }
        }
        eprintln!("idle connections: {} open", conns.len());
        while !until.done() {
            std::thread::sleep(Duration::from_millis(50));
        }
    });
    // Let the connections pile up, then measure CPU over the rest of the attack.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (cpu0, wall0) = (fake.cpu_time(), Instant::now());
    let during = probe_during(&mut victim, thread).await;
    let cpu = (fake.cpu_time() - cpu0).as_secs_f64() / wall0.elapsed().as_secs_f64();
    let peak = watch.finish();
    eprintln!(
        "idle connections: the fake used {:.0}% of a CPU while they were open",
        cpu * 100.0
    );
    assert_survived("idle connections", &mut fake, &mut victim, peak, during).await;
    assert!(cpu < 0.5, "the fake spun at {:.0}% CPU", cpu * 100.0);
}

#[path = "hostile_streaming/reclaim.rs"]
mod reclaim;
