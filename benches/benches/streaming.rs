//! Streaming throughput and latency (a bench binary that prints its figures):
//!
//! - stdout of a large `cat` through exec, over WebSocket and SPDY/3.1, our server and client,
//!   in plain HTTP and over TLS (rustls, a client certificate verified; target >= 700 MB/s);
//! - stdin to stdout (`cat` with stdin): N bytes written while N come back, both transports;
//! - port-forward throughput, both transports;
//! - the time from the `Exec` RPC (cri-fake over gRPC) to the first byte of output;
//! - the same against containerd 1.6's Go server with our client, and the ratio.
//!
//! `cargo bench -p cri-benches --bench streaming` (1 GiB per stream; `STREAM_BENCH_BYTES`
//! to change it; `STREAM_BENCH_CONTAINERD=0` to leave containerd out).

use std::time::{Duration, Instant};

use cri_api_v1::runtime_service_client::RuntimeServiceClient;
use cri_api_v1::*;
use cri_streaming::client::{self, ClientTls, ExecOptions, PortForwardOptions, Transport};
use cri_streaming::server::{
    BoxError, BoxFuture, Config, PortStream, Runtime, Server, ServerTls, Streams,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tonic::transport::Endpoint;

const CHUNK: usize = 128 << 10;
static ZEROS: [u8; CHUNK] = [0; CHUNK];

/// `cat` of a large file: N bytes of stdout, as fast as the transport takes them.
struct Source;

async fn write_n(
    mut out: impl tokio::io::AsyncWrite + Unpin,
    mut left: u64,
) -> std::io::Result<()> {
    while left > 0 {
        let n = left.min(CHUNK as u64) as usize;
        out.write_all(&ZEROS[..n]).await?;
        left -= n as u64;
    }
    out.shutdown().await
}

impl Runtime for Source {
    fn exec(
        &self,
        request: cri_api_v1::ExecRequest,
        mut io: Streams,
    ) -> BoxFuture<Result<i32, BoxError>> {
        Box::pin(async move {
            let mut stdout = io.stdout.take().ok_or("no stdout")?;
            if request.cmd.first().map(String::as_str) == Some("echo-stdin") {
                // stdin back on stdout, as `cat` does.
                let mut stdin = io.stdin.take().ok_or("no stdin")?;
                let mut buf = vec![0u8; CHUNK];
                loop {
                    let n = stdin.read(&mut buf).await?;
                    if n == 0 {
                        break;
                    }
                    stdout.write_all(&buf[..n]).await?;
                }
                stdout.shutdown().await?;
                return Ok(0);
            }
            let n: u64 = request.cmd.get(1).and_then(|n| n.parse().ok()).unwrap_or(0);
            write_n(stdout, n).await?;
            Ok(0)
        })
    }
    fn port_forward(
        &self,
        _pod: String,
        port: u16,
        stream: Box<dyn PortStream>,
    ) -> BoxFuture<Result<(), BoxError>> {
        // Port P sends P MiB.
        Box::pin(async move {
            write_n(stream, u64::from(port) << 20).await?;
            Ok(())
        })
    }
}

async fn drain(mut reader: impl tokio::io::AsyncRead + Unpin) -> (u64, Option<Duration>, Instant) {
    let start = Instant::now();
    let mut first = None;
    let mut total = 0u64;
    let mut buf = vec![0u8; 256 << 10];
    loop {
        let n = reader.read(&mut buf).await.expect("read");
        if n == 0 {
            return (total, first, start);
        }
        first.get_or_insert_with(|| start.elapsed());
        total += n as u64;
    }
}

fn rate(bytes: u64, elapsed: Duration) -> f64 {
    bytes as f64 / elapsed.as_secs_f64() / 1e9
}

async fn exec_throughput(url: &str, transport: Transport) -> (u64, f64) {
    exec_throughput_with(url, ExecOptions::new().stderr(false).transport(transport)).await
}

async fn exec_throughput_with(url: &str, options: ExecOptions) -> (u64, f64) {
    let mut session = client::exec(url, &options).await.expect("exec");
    let start = Instant::now();
    let (bytes, _, _) = drain(session.stdout.take().unwrap()).await;
    let elapsed = start.elapsed();
    assert_eq!(session.wait().await.expect("status"), 0);
    (bytes, rate(bytes, elapsed))
}

/// `size` bytes into stdin while as many come back on stdout: the rate each way.
async fn stdin_to_stdout(url: &str, transport: Transport, size: u64) -> f64 {
    let options = ExecOptions::new()
        .stdin(true)
        .stderr(false)
        .transport(transport);
    let mut session = client::exec(url, &options).await.expect("exec");
    let mut stdin = session.stdin.take().unwrap();
    let stdout = session.stdout.take().unwrap();
    let start = Instant::now();
    let feed = async move {
        let mut left = size;
        while left > 0 {
            let n = left.min(CHUNK as u64) as usize;
            stdin.write_all(&ZEROS[..n]).await.expect("write stdin");
            left -= n as u64;
        }
        stdin.shutdown().await.expect("close stdin");
    };
    let ((), (bytes, _, _)) = tokio::join!(feed, drain(stdout));
    let elapsed = start.elapsed();
    assert_eq!(bytes, size);
    assert_eq!(session.wait().await.expect("status"), 0);
    rate(bytes, elapsed)
}

fn median(mut v: Vec<Duration>) -> (Duration, Duration) {
    v.sort();
    (v[v.len() / 2], v[v.len() * 99 / 100])
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    // `cargo bench` passes `--bench`; nothing else is understood.
    let size: u64 = std::env::var("STREAM_BENCH_BYTES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1 << 30);
    println!(
        "cri-streaming bench: {size} bytes per stream (targets: >= 1 GB/s per stream and each way, first byte < 5 ms)"
    );
    let transports = [Transport::WebSocket, Transport::Spdy];

    // Our server and client.
    let server = Server::start(Config::default(), Source).await.unwrap();
    let mut ours = Vec::new();
    for transport in transports {
        let request = cri_api_v1::ExecRequest {
            container_id: "c".into(),
            cmd: vec!["cat".into(), size.to_string()],
            stdout: true,
            ..Default::default()
        };
        let url = server.get_exec(&request).unwrap().url;
        let (bytes, gbs) = exec_throughput(&url, transport).await;
        assert_eq!(bytes, size);
        println!("exec stdout, ours, {transport:9}: {gbs:6.2} GB/s");
        ours.push(gbs);
    }
    for transport in transports {
        let request = cri_api_v1::ExecRequest {
            container_id: "c".into(),
            cmd: vec!["echo-stdin".into()],
            stdin: true,
            stdout: true,
            ..Default::default()
        };
        let url = server.get_exec(&request).unwrap().url;
        let gbs = stdin_to_stdout(&url, transport, size).await;
        println!("exec stdin -> stdout, ours, {transport:9}: {gbs:6.2} GB/s each way");
    }
    tls_exec(size, &ours).await;
    let mib = (size >> 20).clamp(1, 65535) as u16;
    for transport in transports {
        let request = cri_api_v1::PortForwardRequest {
            pod_sandbox_id: "p".into(),
            port: vec![i32::from(mib)],
        };
        let url = server.get_port_forward(&request).unwrap().url;
        let forward = client::port_forward(
            &url,
            &[mib],
            &PortForwardOptions::new().transport(transport),
        )
        .await
        .unwrap();
        let conn = forward.connect(mib).await.unwrap();
        let start = Instant::now();
        let (bytes, _, _) = drain(conn).await;
        let gbs = rate(bytes, start.elapsed());
        assert_eq!(bytes, u64::from(mib) << 20);
        println!("port forward, ours, {transport:9}: {gbs:6.2} GB/s");
    }

    // Exec RPC to first byte, through cri-fake's gRPC socket.
    let fake = cri_fake::FakeRuntime::new();
    let seeded = fake.seed(1, 1);
    let dir = tempfile_dir();
    let handle = fake.serve_unix(dir.join("f.sock")).await.unwrap();
    let channel = Endpoint::from_shared(handle.endpoint())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut rt = RuntimeServiceClient::new(channel);
    let mut fake_first = Vec::new();
    for transport in transports {
        let mut samples = Vec::new();
        for _ in 0..200 {
            let start = Instant::now();
            let url = rt
                .exec(ExecRequest {
                    container_id: seeded.container_ids[0].clone(),
                    cmd: vec!["echo".into(), "x".into()],
                    stdout: true,
                    ..Default::default()
                })
                .await
                .unwrap()
                .into_inner()
                .url;
            let options = ExecOptions::new().stderr(false).transport(transport);
            let mut session = client::exec(&url, &options).await.unwrap();
            let mut byte = [0u8; 1];
            session
                .stdout
                .as_mut()
                .unwrap()
                .read_exact(&mut byte)
                .await
                .unwrap();
            samples.push(start.elapsed());
            session.wait().await.unwrap();
        }
        let (p50, p99) = median(samples);
        println!("Exec RPC to first byte, cri-fake, {transport:9}: median {p50:?}, p99 {p99:?}");
        fake_first.push(p50);
    }
    drop(handle);

    if std::env::var("STREAM_BENCH_CONTAINERD").as_deref() == Ok("0") {
        println!("containerd: left out (STREAM_BENCH_CONTAINERD=0)");
        return;
    }
    containerd(size, &ours, &fake_first).await;
}

/// The same exec throughput over TLS: our server with a certificate and a client CA, our
/// client presenting a client certificate; printed beside the plain figure.
async fn tls_exec(size: u64, plain: &[f64]) {
    let pki = cri_tests::pki::Pki::new();
    let mut config = Config::default();
    config.tls =
        Some(ServerTls::from_pem_files(&pki.server.cert, &pki.server.key, Some(&pki.ca)).unwrap());
    let server = Server::start(config, Source).await.unwrap();
    let tls = ClientTls::builder()
        .ca_file(&pki.ca)
        .client_cert_files(&pki.client.cert, &pki.client.key)
        .build()
        .unwrap();
    for (transport, plain) in [Transport::WebSocket, Transport::Spdy]
        .into_iter()
        .zip(plain)
    {
        let request = cri_api_v1::ExecRequest {
            container_id: "c".into(),
            cmd: vec!["cat".into(), size.to_string()],
            stdout: true,
            ..Default::default()
        };
        let url = server.get_exec(&request).unwrap().url;
        let options = ExecOptions::new()
            .stderr(false)
            .transport(transport)
            .tls(tls.clone());
        let (bytes, gbs) = exec_throughput_with(&url, options).await;
        assert_eq!(bytes, size);
        println!(
            "exec stdout, ours over TLS, {transport:9}: {gbs:6.2} GB/s (plain {plain:.2} GB/s, \
             {:.0}%; target >= 0.70 GB/s)",
            gbs / plain * 100.0
        );
    }
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("cri-stream-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn containerd(size: u64, ours: &[f64], fake_first: &[Duration]) {
    let containerd = cri_tests::containerd::Containerd::start();
    let channel = Endpoint::from_shared(containerd.endpoint())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut rt = RuntimeServiceClient::new(channel);
    let config = PodSandboxConfig {
        metadata: Some(PodSandboxMetadata {
            name: "bench".into(),
            uid: "bench".into(),
            namespace: "bench".into(),
            attempt: 0,
        }),
        linux: Some(LinuxPodSandboxConfig {
            cgroup_parent: "/cri-bench".into(),
            security_context: Some(LinuxSandboxSecurityContext {
                namespace_options: Some(NamespaceOption {
                    network: NamespaceMode::Node as i32,
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
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
            pod_sandbox_id: pod,
            config: Some(ContainerConfig {
                metadata: Some(ContainerMetadata {
                    name: "bench".into(),
                    attempt: 0,
                }),
                image: Some(ImageSpec {
                    image: "localhost/busybox:1".into(),
                    ..Default::default()
                }),
                command: vec!["/bin/sleep".into(), "3600".into()],
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
    for (i, transport) in [Transport::WebSocket, Transport::Spdy]
        .into_iter()
        .enumerate()
    {
        let url = rt
            .exec(ExecRequest {
                container_id: ctr.clone(),
                cmd: vec![
                    "busybox".into(),
                    "head".into(),
                    "-c".into(),
                    size.to_string(),
                    "/dev/zero".into(),
                ],
                stdout: true,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .url;
        let (bytes, gbs) = exec_throughput(&url, transport).await;
        assert_eq!(bytes, size);
        println!(
            "exec stdout, containerd 1.6, {transport:9}: {gbs:6.2} GB/s (ours / containerd: {:.2})",
            ours[i] / gbs
        );
    }
    for (i, transport) in [Transport::WebSocket, Transport::Spdy]
        .into_iter()
        .enumerate()
    {
        let mut samples = Vec::new();
        for _ in 0..50 {
            let start = Instant::now();
            let url = rt
                .exec(ExecRequest {
                    container_id: ctr.clone(),
                    cmd: vec!["echo".into(), "x".into()],
                    stdout: true,
                    ..Default::default()
                })
                .await
                .unwrap()
                .into_inner()
                .url;
            let options = ExecOptions::new().stderr(false).transport(transport);
            let mut session = client::exec(&url, &options).await.unwrap();
            let mut byte = [0u8; 1];
            session
                .stdout
                .as_mut()
                .unwrap()
                .read_exact(&mut byte)
                .await
                .unwrap();
            samples.push(start.elapsed());
            session.wait().await.unwrap();
        }
        let (p50, p99) = median(samples);
        println!(
            "Exec RPC to first byte, containerd 1.6, {transport:9}: median {p50:?}, p99 {p99:?} (cri-fake / containerd: {:.2})",
            fake_first[i].as_secs_f64() / p50.as_secs_f64()
        );
    }
}
