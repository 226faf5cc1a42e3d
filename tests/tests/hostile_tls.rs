//! The hostile suite with TLS on (issue 19): the `cri-fake` binary serves its streaming URLs
//! over `https` with client-certificate verification, under a limit of 1024 open files, while
//! a flood of clients that never finish a TLS handshake (silent, half a ClientHello, plain
//! HTTP at the TLS port; 1,100 connections, more than the file limit) and a stream of
//! clients whose certificate another CA signed (full handshakes the server must refuse) go
//! on for eight seconds. Meanwhile and after, a `Version` on a new gRPC connection and a
//! normal exec over TLS with the right certificate are served within the fake's budget;
//! memory stays under the suite's budget, the fake does not spin or panic, and the intruders
//! (at a URL they saw) never get a session nor spend its token: its owner uses it after.
//!
//! Run with `--nocapture` to read the figures (peak RSS, the slowest calls, CPU).

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use cri_api_v1::runtime_service_client::RuntimeServiceClient;
use cri_api_v1::*;
use cri_streaming::client::{self, ClientTls, ExecOptions, Transport};
use cri_tests::hostile::*;
use cri_tests::pki::{Pair, Pki};
use tonic::transport::{Channel, Endpoint};

/// How long the attack lasts.
const ATTACK: Duration = Duration::from_secs(8);
/// The idle connections the flood holds open (the fake may have 1024 files).
const FLOOD: usize = 1100;
/// The start of a ClientHello record that never completes.
const PARTIAL_HELLO: &[u8] = &[
    0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03,
];

async fn connect(endpoint: &str) -> Option<RuntimeServiceClient<Channel>> {
    let channel = Endpoint::from_shared(endpoint.to_string())
        .ok()?
        .connect_timeout(Duration::from_secs(5))
        .connect()
        .await
        .ok()?;
    Some(RuntimeServiceClient::new(channel))
}

fn tls_as(pki: &Pki, identity: &Pair) -> ClientTls {
    ClientTls::builder()
        .ca_file(&pki.ca)
        .client_cert_files(&identity.cert, &identity.key)
        .build()
        .expect("the test's TLS files")
}

/// The fake's seeded container and how to reach it.
struct Victim {
    endpoint: String,
    client: RuntimeServiceClient<Channel>,
    ctr: String,
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
        let ctr = containers.first().expect("a seeded container").id.clone();
        Victim {
            endpoint,
            client,
            ctr,
        }
    }

    async fn exec_url(&mut self) -> Option<String> {
        let request = ExecRequest {
            container_id: self.ctr.clone(),
            cmd: vec!["echo".into(), "ok".into()],
            stdout: true,
            ..Default::default()
        };
        Some(self.client.exec(request).await.ok()?.into_inner().url)
    }

    /// A `Version` on a new connection; failures and timeouts count as 5 s.
    async fn version_latency(&self) -> Duration {
        let start = Instant::now();
        let call = async {
            let mut client = connect(&self.endpoint).await?;
            client.version(VersionRequest::default()).await.ok()
        };
        match tokio::time::timeout(Duration::from_secs(5), call).await {
            Ok(Some(_)) => start.elapsed(),
            _ => Duration::from_secs(5),
        }
    }

    /// `echo ok` over TLS as `tls` at a new URL: how long it took, or the error.
    async fn exec(&mut self, transport: Transport, tls: &ClientTls) -> Result<Duration, String> {
        let start = Instant::now();
        let url = self.exec_url().await.ok_or("the Exec RPC failed")?;
        exec_at(&url, transport, tls).await?;
        Ok(start.elapsed())
    }
}

/// `echo ok` at `url` (over TLS as `tls`), within 5 s.
async fn exec_at(url: &str, transport: Transport, tls: &ClientTls) -> Result<(), String> {
    let run = async {
        if !url.starts_with("https://") {
            return Err(format!("the fake handed out {url}"));
        }
        let options = ExecOptions::new()
            .stderr(false)
            .transport(transport)
            .tls(tls.clone());
        let session = client::exec(url, &options)
            .await
            .map_err(|e| e.to_string())?;
        let out = session.output(b"").await.map_err(|e| e.to_string())?;
        if out.stdout == b"ok\n" && out.exit_code == 0 {
            Ok(())
        } else {
            Err(format!("{out:?}"))
        }
    };
    tokio::time::timeout(Duration::from_secs(5), run)
        .await
        .unwrap_or_else(|_| Err("more than 5 s".into()))
}

/// Opens up to `FLOOD` connections that never finish a handshake and holds them until the
/// attack ends.
fn handshake_flood(addr: SocketAddr, until: Until) {
    let mut held = Vec::new();
    for i in 0..FLOOD {
        if until.done() {
            break;
        }
        let Ok(mut tcp) = TcpStream::connect_timeout(&addr, Duration::from_millis(500)) else {
            continue;
        };
        let _ = tcp.set_write_timeout(Some(Duration::from_millis(500)));
        let _ = match i % 3 {
            0 => Ok(()),
            1 => tcp.write_all(PARTIAL_HELLO),
            _ => tcp.write_all(b"GET /exec/x HTTP/1.1\r\nHost: a\r\n\r\n"),
        };
        held.push(tcp);
    }
    eprintln!("TLS handshake flood: {} connections opened", held.len());
    while !until.done() {
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_handshake_flood_and_refused_certificates_leave_the_fake_serving() {
    let pki = Pki::new();
    let (cert, key, ca) = (
        pki.server.cert.to_str().expect("a UTF-8 path"),
        pki.server.key.to_str().expect("a UTF-8 path"),
        pki.ca.to_str().expect("a UTF-8 path"),
    );
    let flags = [
        "--stream-tls-cert",
        cert,
        "--stream-tls-key",
        key,
        "--stream-tls-ca",
        ca,
    ];
    let mut fake = FakeProcess::start(&flags, Some(1024));
    let mut victim = Victim::new(fake.endpoint()).await;
    let right = tls_as(&pki, &pki.client);
    let wrong = tls_as(&pki, &pki.intruder);
    // Warm up: the first exec starts the streaming server.
    victim
        .exec(Transport::WebSocket, &right)
        .await
        .expect("an exec over TLS before the attack");
    let url = victim.exec_url().await.expect("an Exec URL");
    let host = url
        .strip_prefix("https://")
        .and_then(|rest| rest.split('/').next())
        .expect("an https:// streaming URL");
    let addr: SocketAddr = host.parse().expect("an address");

    let watch = RssWatch::start(fake.pid());
    let until = Until::new(ATTACK, watch.over());
    let flood = std::thread::spawn({
        let until = until.clone();
        move || handshake_flood(addr, until)
    });
    let intruders_admitted = Arc::new(AtomicUsize::new(0));
    // Intruders: full handshakes with another CA's certificate, one after the other, at a
    // URL they saw (the kubelet's, not yet used).
    let intruders = tokio::spawn({
        let (url, admitted, until) = (url.clone(), intruders_admitted.clone(), until.clone());
        async move {
            let (mut tries, mut first_error) = (0usize, None);
            while !until.done() && tries < 20_000 {
                tries += 1;
                match exec_at(&url, Transport::Spdy, &wrong).await {
                    Ok(()) => {
                        admitted.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(error) => {
                        first_error.get_or_insert(error);
                    }
                }
            }
            (tries, first_error)
        }
    });

    // Let the flood pile up, then probe and measure CPU over the rest of the attack.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (cpu0, wall0) = (fake.cpu_time(), Instant::now());
    let (mut slowest_version, mut slowest_exec, mut failures) =
        (Duration::ZERO, Duration::ZERO, Vec::new());
    let mut round = 0usize;
    while !flood.is_finished() && round < 100 {
        slowest_version = slowest_version.max(victim.version_latency().await);
        let transport = [Transport::WebSocket, Transport::Spdy][round % 2];
        match victim.exec(transport, &right).await {
            Ok(t) => slowest_exec = slowest_exec.max(t),
            Err(e) => failures.push(e),
        }
        round += 1;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    flood.join().expect("the flood thread panicked");
    let (tries, intruder_error) = intruders.await.expect("the intruders' task");
    let cpu = (fake.cpu_time() - cpu0).as_secs_f64() / wall0.elapsed().as_secs_f64();
    let peak = watch.finish();
    let after_version = victim.version_latency().await;
    let after_exec = victim.exec(Transport::Spdy, &right).await;
    // The intruders never got as far as the token: its owner can still use it.
    let owner = exec_at(&url, Transport::WebSocket, &right).await;
    eprintln!(
        "TLS flood: peak RSS {:.1} MiB (budget {} MiB); {round} probes during: slowest \
         Version {} ms, slowest exec {} ms, {} failed; {tries} intruders refused ({intruder_error:?}); \
         the fake used {:.0}% of a CPU; after: Version {} ms, exec {:?}",
        peak as f64 / 1024.0,
        RSS_BUDGET_KIB / 1024,
        slowest_version.as_millis(),
        slowest_exec.as_millis(),
        failures.len(),
        cpu * 100.0,
        after_version.as_millis(),
        after_exec.as_ref().map(|t| t.as_millis()),
    );

    fake.assert_alive_without_panic();
    assert_eq!(
        intruders_admitted.load(Ordering::Relaxed),
        0,
        "a client of another CA got a session"
    );
    assert!(tries > 0, "no intruder tried");
    assert_eq!(
        owner,
        Ok(()),
        "the URL the intruders tried, used by its owner"
    );
    let intruder_error = intruder_error.unwrap_or_default();
    assert!(
        intruder_error.contains("TLS") || intruder_error.contains("certificate"),
        "an intruder was refused for another reason: {intruder_error}"
    );
    assert!(round > 0, "no probe ran during the attack");
    assert!(peak < RSS_BUDGET_KIB, "the fake's RSS reached {peak} KiB");
    assert!(failures.is_empty(), "normal execs failed: {failures:?}");
    assert!(
        slowest_version < FAKE_LATENCY_BUDGET,
        "a Version took {slowest_version:?} during the attack"
    );
    assert!(
        slowest_exec < TLS_EXEC_BUDGET,
        "a normal exec over TLS took {slowest_exec:?} during the attack"
    );
    assert!(
        after_version < FAKE_LATENCY_BUDGET,
        "Version after: {after_version:?}"
    );
    assert!(
        after_exec.as_ref().is_ok_and(|t| *t < TLS_EXEC_BUDGET),
        "an exec over TLS after the attack: {after_exec:?}"
    );
    // The intruders' handshakes are real work; the flood's connections must not add a spin.
    assert!(cpu < 0.9, "the fake used {:.0}% of a CPU", cpu * 100.0);
}

/// A normal exec over TLS includes two handshakes' worth of public-key work on a shared
/// machine: twice the suite's budget.
const TLS_EXEC_BUDGET: Duration = Duration::from_secs(2);
