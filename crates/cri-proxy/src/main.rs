//! `cri-proxy`: a proxy on the CRI socket. Run `cri-proxy --help` for the flags.
//!
//! It prints `cri-proxy: serving unix:///PATH` on stdout once it listens, and serves until
//! SIGINT or SIGTERM; then it lets the calls in flight finish for up to the grace period,
//! removes its socket and exits 0. A bad flag is one line on stderr and exit status 2.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use cri_proxy::ProxyBuilder;

const USAGE: &str = "\
cri-proxy: a proxy on the Kubernetes CRI socket (forward, record, inject faults, metrics, bridge)

Usage: cri-proxy --listen unix:///PATH --runtime-endpoint unix:///PATH [OPTIONS]

Options:
  --listen unix:///PATH         the socket to serve on (a stale socket file is replaced)
  --runtime-endpoint unix:///P  the runtime's socket
  --image-endpoint unix:///P    the image service's socket (default: the runtime's)
  --grace-period SECONDS        at SIGTERM, how long calls in flight may go on (default 10)
  --v1-over-v1alpha2            serve runtime.v1 in front of a runtime that only speaks
                                runtime.v1alpha2
  --bridge-streaming            serve the Stream* list RPCs by calling the runtime's unary
                                lists (for a runtime older than Kubernetes 1.36)
  --record FILE                 append every call to FILE as a JSON line (method, request,
                                response or status, timing; secrets redacted)
  --record-max-size SIZE        rotate FILE when it would grow past SIZE (bytes, or with K, M,
                                G; default 100M), to FILE.1, FILE.2, ...
  --record-keep N               rotated files kept (default 5)
  --inject RULE                 inject a fault (repeatable): RPC:ACTION[,ACTION...] with
                                delay=200ms, error=UNAVAILABLE, drop=N (reset a response
                                stream after N messages), rate=0.2; RPC may be * for all.
                                Examples: ListContainers:delay=200ms,
                                PullImage:error=UNAVAILABLE,rate=0.2, GetContainerEvents:drop=1
  --metrics-address HOST:PORT   serve Prometheus metrics at http://HOST:PORT/metrics
                                (cri_proxy_runtime_operations_total, ..._duration_seconds,
                                ..._errors_total, by operation_type)
  -h, --help                    this help
  -V, --version                 the version
";

struct Options {
    listen: PathBuf,
    grace: Duration,
    builder: ProxyBuilder,
    record: Option<PathBuf>,
    record_max_size: u64,
    record_keep: usize,
    metrics_address: Option<std::net::SocketAddr>,
}

fn size(text: &str) -> Option<u64> {
    let (number, factor) = match text.char_indices().last()? {
        (i, 'K' | 'k') => (&text[..i], 1 << 10),
        (i, 'M' | 'm') => (&text[..i], 1 << 20),
        (i, 'G' | 'g') => (&text[..i], 1 << 30),
        _ => (text, 1),
    };
    number
        .parse::<u64>()
        .ok()?
        .checked_mul(factor)
        .filter(|&n| n > 0)
}

fn value(
    flag: &str,
    inline: Option<String>,
    args: &mut impl Iterator<Item = String>,
) -> Result<String, String> {
    inline
        .or_else(|| args.next())
        .ok_or_else(|| format!("{flag} wants a value"))
}

fn parse(args: impl IntoIterator<Item = String>) -> Result<Option<Options>, String> {
    let mut args = args.into_iter();
    let mut listen = None;
    let mut runtime = None;
    let mut image = None;
    let mut grace = Duration::from_secs(10);
    let mut over_v1alpha2 = false;
    let mut bridge = false;
    let mut rules = Vec::new();
    let mut record = None;
    let mut record_max_size = 100 << 20;
    let mut record_keep = 5;
    let mut metrics_address = None;
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => {
                (flag.to_string(), Some(value.to_string()))
            }
            _ => (arg.clone(), None),
        };
        match flag.as_str() {
            "-h" | "--help" => {
                print!("{USAGE}");
                return Ok(None);
            }
            "-V" | "--version" => {
                println!("cri-proxy {}", env!("CARGO_PKG_VERSION"));
                return Ok(None);
            }
            "--listen" => {
                let endpoint = value(&flag, inline, &mut args)?;
                listen = Some(
                    cri_proxy::forward::socket_path(&endpoint)
                        .map_err(|e| format!("--listen: {e}"))?,
                );
            }
            "--runtime-endpoint" => runtime = Some(value(&flag, inline, &mut args)?),
            "--image-endpoint" => image = Some(value(&flag, inline, &mut args)?),
            "--grace-period" => {
                let text = value(&flag, inline, &mut args)?;
                let seconds: f64 = text
                    .parse()
                    .ok()
                    .filter(|s: &f64| s.is_finite() && *s >= 0.0 && *s < 86_400.0)
                    .ok_or_else(|| {
                        format!("--grace-period wants seconds (0 to 86399), not {text:?}")
                    })?;
                grace = Duration::from_secs_f64(seconds);
            }
            "--v1-over-v1alpha2" => over_v1alpha2 = true,
            "--bridge-streaming" => bridge = true,
            "--record" => record = Some(PathBuf::from(value(&flag, inline, &mut args)?)),
            "--record-max-size" => {
                let text = value(&flag, inline, &mut args)?;
                record_max_size = size(&text).ok_or_else(|| {
                    format!(
                        "--record-max-size wants a size like 1048576, 512K or 100M, not {text:?}"
                    )
                })?;
            }
            "--record-keep" => {
                let text = value(&flag, inline, &mut args)?;
                record_keep = text
                    .parse()
                    .ok()
                    .filter(|&n: &usize| n <= 1000)
                    .ok_or_else(|| {
                        format!("--record-keep wants a number from 0 to 1000, not {text:?}")
                    })?;
            }
            "--inject" => {
                rules.push(value(&flag, inline, &mut args)?.parse::<cri_proxy::inject::Rule>()?)
            }
            "--metrics-address" => {
                let text = value(&flag, inline, &mut args)?;
                metrics_address = Some(text.parse().map_err(|_| {
                    format!("--metrics-address wants HOST:PORT like 127.0.0.1:9100, not {text:?}")
                })?);
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    let listen = listen.ok_or("--listen is required")?;
    let runtime = runtime.ok_or("--runtime-endpoint is required")?;
    cri_proxy::forward::socket_path(&runtime).map_err(|e| format!("--runtime-endpoint: {e}"))?;
    let mut builder = ProxyBuilder::new(runtime)
        .v1_over_v1alpha2(over_v1alpha2)
        .bridge_streaming(bridge);
    for rule in rules {
        builder = builder.inject(rule);
    }
    if let Some(image) = image {
        cri_proxy::forward::socket_path(&image).map_err(|e| format!("--image-endpoint: {e}"))?;
        builder = builder.image_endpoint(image);
    }
    Ok(Some(Options {
        listen,
        grace,
        builder,
        record,
        record_max_size,
        record_keep,
        metrics_address,
    }))
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
        _ => std::future::pending().await,
    }
}

fn main() -> ExitCode {
    let options = match parse(std::env::args().skip(1)) {
        Ok(Some(options)) => options,
        Ok(None) => return ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("cri-proxy: {message} (see --help)");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("cri-proxy: starting the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let Options {
            listen,
            grace,
            mut builder,
            record,
            record_max_size,
            record_keep,
            metrics_address,
        } = options;
        if let Some(path) = record {
            match cri_proxy::record::Recorder::open(&path, record_max_size, record_keep) {
                Ok(recorder) => builder = builder.record(std::sync::Arc::new(recorder)),
                Err(e) => {
                    eprintln!("cri-proxy: --record {}: {e}", path.display());
                    return ExitCode::FAILURE;
                }
            }
        }
        if let Some(address) = metrics_address {
            let registry = std::sync::Arc::new(cri_proxy::metrics::Registry::default());
            match tokio::net::TcpListener::bind(address).await {
                Ok(listener) => {
                    tokio::spawn(cri_proxy::metrics::serve_metrics(
                        listener,
                        registry.clone(),
                    ));
                }
                Err(e) => {
                    eprintln!("cri-proxy: --metrics-address {address}: {e}");
                    return ExitCode::FAILURE;
                }
            }
            builder = builder.metrics(registry);
        }
        let stack = match builder.build() {
            Ok(stack) => stack,
            Err(e) => {
                eprintln!("cri-proxy: {e}");
                return ExitCode::from(2);
            }
        };
        let served = cri_proxy::serve_unix(stack, &listen, shutdown_signal(), grace, || {
            println!("cri-proxy: serving unix://{}", listen.display());
        });
        match served.await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("cri-proxy: serving {}: {e}", listen.display());
                ExitCode::FAILURE
            }
        }
    })
}
