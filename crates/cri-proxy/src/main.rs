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
  -h, --help                    this help
  -V, --version                 the version
";

struct Options {
    listen: PathBuf,
    grace: Duration,
    builder: ProxyBuilder,
}

fn value(flag: &str, inline: Option<String>, args: &mut impl Iterator<Item = String>) -> Result<String, String> {
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
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => (flag.to_string(), Some(value.to_string())),
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
                listen = Some(cri_proxy::forward::socket_path(&endpoint).map_err(|e| format!("--listen: {e}"))?);
            }
            "--runtime-endpoint" => runtime = Some(value(&flag, inline, &mut args)?),
            "--image-endpoint" => image = Some(value(&flag, inline, &mut args)?),
            "--grace-period" => {
                let text = value(&flag, inline, &mut args)?;
                let seconds: f64 = text
                    .parse()
                    .ok()
                    .filter(|s: &f64| s.is_finite() && *s >= 0.0 && *s < 86_400.0)
                    .ok_or_else(|| format!("--grace-period wants seconds (0 to 86399), not {text:?}"))?;
                grace = Duration::from_secs_f64(seconds);
            }
            "--v1-over-v1alpha2" => over_v1alpha2 = true,
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    let listen = listen.ok_or("--listen is required")?;
    let runtime = runtime.ok_or("--runtime-endpoint is required")?;
    cri_proxy::forward::socket_path(&runtime).map_err(|e| format!("--runtime-endpoint: {e}"))?;
    let mut builder = ProxyBuilder::new(runtime).v1_over_v1alpha2(over_v1alpha2);
    if let Some(image) = image {
        cri_proxy::forward::socket_path(&image).map_err(|e| format!("--image-endpoint: {e}"))?;
        builder = builder.image_endpoint(image);
    }
    Ok(Some(Options { listen, grace, builder }))
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) {
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
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("cri-proxy: starting the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let Options { listen, grace, builder } = options;
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
