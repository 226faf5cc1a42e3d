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
mod output;
mod proto;

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

fn main() -> ExitCode {
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
    let result = runtime.block_on(commands::run(cli, &mut out));
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
