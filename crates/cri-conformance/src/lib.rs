//! The Kubernetes CRI contract as a Rust test suite.
//!
//! Each [`Spec`] checks one rule of the contract against a running CRI runtime, under its own
//! timeout; its full name (`group::name`) is stable. The groups cover what critest checks
//! (runtime info, pod and container lifecycle and idempotence, images, exec, streaming, logs,
//! stats, events, metrics, Linux security) and what it does not: `Stream*` lists against the
//! unary lists and their fallback, lists past the 16 MiB message limit, short deadlines on
//! every RPC without half-made state, and each streaming protocol version on its own.
//! [`run_bench`] measures latency percentiles instead (`--benchmark`).
//!
//! # Two ways to run it
//!
//! **The binary**, against any runtime on this node:
//!
//! ```text
//! cri-conformance --runtime-endpoint unix:///run/containerd/containerd.sock \
//!     [--image-endpoint E] [--focus RE] [--skip RE] [--junit FILE] [--parallel N]
//! ```
//!
//! **Inside `cargo test`**, for a runtime author: one test file with `harness = false`, which
//! starts the runtime (in process or not) and hands its endpoint to [`main_for_cargo_test`]:
//!
//! ```toml
//! [[test]]
//! name = "conformance"
//! harness = false
//! ```
//!
//! ```no_run
//! // tests/conformance.rs
//! fn main() -> std::process::ExitCode {
//!     // Start your runtime here, serving on a Unix socket (a thread with its own tokio
//!     // runtime running your tonic server is enough).
//!     let endpoint = "unix:///tmp/my-runtime.sock";
//!     cri_conformance::main_for_cargo_test(cri_conformance::Config::new(endpoint))
//! }
//! ```
//!
//! `cargo test --test conformance -- pod::` then runs the pod specs; `cargo test` passes its
//! usual arguments (a name filter, `--exact`, `--test-threads`, `--list`) to the harness.
//! From a plain `#[test]`, [`run_against`] returns a [`Report`] to assert on. Either way
//! the runner builds its own tokio runtime: call it from synchronous code.
//!
//! # What the runtime needs
//!
//! Containers run from [`Config::test_image`] (critest's busybox by default; it is pulled
//! when absent) and need `sh`, `echo`, `printf`, `sleep`. Log specs read the container's log
//! file, so the suite runs on the runtime's node. Every object the suite creates carries the
//! label [`ctx::SPEC_LABEL`] and is removed after its spec, whatever the outcome.

#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]

/// The README's example, compiled as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

pub mod bench;
mod config;
pub mod ctx;
pub mod raw;
mod report;
mod runner;
mod spec;
pub mod specs;

pub use bench::{BenchOptions, BenchReport, run_bench};
pub use config::{Config, DEFAULT_TEST_IMAGE};
pub use ctx::Ctx;
pub use libtest_mimic;
pub use report::{Record, Report, Verdict};
pub use runner::{Options, run, select};
pub use spec::{DEFAULT_TIMEOUT, Spec, SpecFuture, SpecResult};

use std::time::Duration;

/// Connects a [`cri_client::Client`] the way the suite uses it: unary lists, a 30 s call
/// deadline, the separate image endpoint if any.
pub async fn connect(config: &Config) -> Result<cri_client::Client, cri_client::Error> {
    let mut builder = cri_client::Client::builder(config.runtime_endpoint.clone())
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(30));
    if let Some(image) = &config.image_endpoint {
        builder = builder.image_endpoint(image.clone());
    }
    builder.connect().await
}

/// Every spec of the suite, in registry order.
pub fn all_specs() -> Vec<Spec> {
    specs::all()
}

/// Runs every spec against `config`'s runtime, four at a time, printing nothing, and returns
/// the report (assert on [`Report::failures`]; [`Report::summary`] says what failed). Call it
/// from synchronous code.
pub fn run_against(config: Config) -> anyhow::Result<Report> {
    run(
        config,
        all_specs(),
        &Options {
            harness: libtest_mimic::Arguments::default(),
            ..Options::default()
        },
    )
}

/// The `main` of a `harness = false` test file: runs every spec against `config`'s runtime
/// with the arguments `cargo test` passed, and exits non-zero when a spec failed or the
/// runtime could not be reached.
pub fn main_for_cargo_test(config: Config) -> std::process::ExitCode {
    let options = Options {
        libtest: true,
        harness: libtest_mimic::Arguments::from_args(),
        ..Options::default()
    };
    match run(config, all_specs(), &options) {
        Ok(report) if report.failures().next().is_none() => std::process::ExitCode::SUCCESS,
        Ok(_) => std::process::ExitCode::FAILURE,
        Err(e) => {
            eprintln!("cri-conformance: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
