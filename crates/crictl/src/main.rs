//! `crictl` in Rust: a drop-in for the Kubernetes CRI command-line tool, built on
//! [`cri-client`](https://docs.rs/cri-client).
//!
//! ```text
//! cargo install --path crates/crictl
//! crictl ps -a
//! crictl --runtime-endpoint unix:///run/containerd/containerd.sock pods -o json
//! ```
//!
//! Its commands, flags and output follow the Go crictl v1.36 byte for byte (tables, `-o json`,
//! `-o yaml`, `inspect*`). Without an endpoint flag, `CONTAINER_RUNTIME_ENDPOINT`, a config file
//! or any of crictl's default runtime sockets, it serves the in-memory fake runtime of
//! `cri-fake` and says so on stderr.

use std::io::{self, BufWriter, Write};
use std::process::ExitCode;

use clap::Parser;

use crate::failure::Failure;

mod cli;
mod commands;
mod config;
mod connect;
mod duration;
mod failure;
mod human;
mod localtime;
mod output;
mod proto;
mod telemetry;
mod yaml_input;

/// mimalloc: listing is decode-heavy and allocator-bound (measured 2–3x faster than glibc's
/// malloc for 10,000 containers).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Turns transparent huge pages off for the process, for the streaming commands. Their
/// buffers are allocated and freed on several threads, and mimalloc, which asks for huge
/// pages on its arenas, then holds memory in 2 MiB steps: a 100 MiB `exec -i cat` peaked at
/// 60 MiB with them, at 28 MiB without. Listing commands keep them (10,000 containers as
/// JSON take 17% longer without).
fn small_pages() {
    #[cfg(target_os = "linux")]
    {
        // Best effort: without it, only memory is spent.
        let _ = rustix::thread::disable_transparent_huge_pages(true);
    }
}

/// Raises the soft limit of open files to the hard one, as Go programs (the kubelet, crictl,
/// containerd) do at start: every client connection is a file descriptor, and under the
/// common soft limit of 1,024 a thousand idle connections would lock new clients out. Done
/// here, in the binary: a library must not change its process's limits.
fn raise_open_file_limit() {
    #[cfg(unix)]
    {
        use rustix::process::{Resource, getrlimit, setrlimit};
        let mut limit = getrlimit(Resource::Nofile);
        if limit.current != limit.maximum {
            limit.current = limit.maximum;
            if setrlimit(Resource::Nofile, limit).is_err() && limit.maximum.is_none() {
                // An unlimited hard limit that the kernel caps lower (Linux's default
                // `fs.nr_open`): take that much.
                limit.current = Some(1 << 20);
                let _ = setrlimit(Resource::Nofile, limit);
            }
        }
    }
}

fn main() -> ExitCode {
    raise_open_file_limit();
    let cli = cli::Cli::parse();
    if matches!(
        cli.command,
        Some(cli::Command::Exec(_) | cli::Command::Attach(_) | cli::Command::PortForward(_))
    ) {
        small_pages();
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("crictl: start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let mut out = BufWriter::with_capacity(1 << 16, io::stdout().lock());
    let result = runtime.block_on(async {
        use tracing::Instrument as _;
        let tracing = telemetry::start(&cli)?;
        let result = commands::run(cli, &mut out)
            .instrument(tracing::info_span!("crictl"))
            .await;
        tracing.finish().await;
        result
    });
    // `exec -i`/`attach` read stdin on a thread of their own, which may stay blocked in a
    // read of the terminal after the session ended: it is not waited for, nor are tasks
    // still running; the process exits.
    runtime.shutdown_background();
    let result = result.and_then(|()| out.flush().map_err(Failure::from));
    match result {
        Ok(()) | Err(Failure::BrokenPipe) => ExitCode::SUCCESS,
        Err(Failure::Exit(code)) => ExitCode::from(code),
        Err(Failure::Message(message)) => {
            let _ = out.flush();
            let message = message.replace('\n', " ");
            eprintln!("crictl: {message}");
            ExitCode::FAILURE
        }
    }
}
