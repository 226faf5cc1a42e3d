//! The commands, one module per resource as crictl's `cmd/crictl/` lays them out, and the
//! helpers they share.

mod attach;
mod completion;
mod config;
mod container;
mod events;
mod exec;
mod exec_many;
mod image;
mod info;
mod lifecycle;
mod listing;
mod logs;
mod logs_previous;
mod metrics;
mod password;
mod pods;
mod port_forward;
mod ps;
mod sandbox;
mod session;
mod stats;
mod tls;
mod update;

use std::collections::BTreeMap;
use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use cri_client::Client;
use regex::Regex;

use crate::cli::{Cli, Command};
use crate::config::{Config, read_config};
use crate::connect;
use crate::failure::{Failure, Out, Result};

/// The clock: now, or `CRICTL_NOW_UNIX_NANOS` (fixed by tests that compare relative times).
fn now() -> i128 {
    if let Some(fixed) = std::env::var("CRICTL_NOW_UNIX_NANOS")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        return fixed;
    }
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i128)
        .unwrap_or(0)
}

/// An RPC's result, its error prefixed with what was being done.
fn rpc<T>(what: &str, result: std::result::Result<T, cri_client::Error>) -> Result<T> {
    result.map_err(|error| Failure::msg(format!("{what}: {error}")))
}

/// `-D`: say which paths were taken (set once, before the command runs).
static DEBUG: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

fn debug() -> bool {
    DEBUG.load(std::sync::atomic::Ordering::Relaxed)
}

/// With `-D`, which RPC a list came through (the streaming one or the unary fallback).
fn debug_list_path(rpc: &str) {
    if debug() {
        eprintln!("crictl: listed through {rpc}");
    }
}

/// The list progress line on a terminal's stderr.
fn report_progress(rpc: &str, received: usize) {
    use std::io::IsTerminal;
    if received > 0 && std::io::stderr().is_terminal() {
        eprint!("\r\x1b[K{rpc}: {received} received…");
    }
}

/// Clears the list progress line cri-client's callback wrote on a terminal's stderr.
fn clear_progress() {
    use std::io::IsTerminal;
    if std::io::stderr().is_terminal() {
        eprint!("\r\x1b[K");
    }
}

/// The Go crictl release whose commands and output this one follows (what `--version` reports,
/// as a drop-in must; `-D` names this crate's own version).
pub const GO_CRICTL_VERSION: &str = "1.36.0";

/// Runs the command line.
pub async fn run(cli: Cli, out: &mut Out) -> Result<()> {
    if cli.print_version {
        writeln!(out, "crictl version v{GO_CRICTL_VERSION}")?;
        return Ok(());
    }
    let Some(command) = &cli.command else {
        return Err(Failure::msg("no command given: see crictl --help"));
    };
    if cli.debug {
        DEBUG.store(true, std::sync::atomic::Ordering::Relaxed);
        eprintln!(
            "crictl: the Rust crictl {}, following crictl v{GO_CRICTL_VERSION}",
            env!("CARGO_PKG_VERSION")
        );
    }
    let explicit_config = cli.config != "/etc/crictl.yaml";
    if let Command::Config(args) = command {
        return config::config_command(&cli.config, args, out);
    }
    if let Command::Completion(args) = command {
        return completion::completion(args, out);
    }
    let config = read_config(&cli.config, explicit_config)?;
    let connection = connect::connect(&cli, &config).await?;
    let client = &connection.client;
    let result = dispatch(command, client, &config, out).await;
    connection.close();
    result
}

async fn dispatch(
    command: &Command,
    client: &Client,
    config: &Config,
    out: &mut Out,
) -> Result<()> {
    match command {
        Command::Version => info::version(client, out).await,
        Command::Info(args) => info::info(client, args, out).await,
        Command::Pods(args) => pods::pods(client, args, out).await,
        Command::Ps(args) => ps::ps(client, args, out).await,
        Command::Images(args) => image::images(client, args, out).await,
        Command::Inspect(args) => container::inspect(client, args, out).await,
        Command::Inspectp(args) => sandbox::inspectp(client, args, out).await,
        Command::Inspecti(args) => image::inspecti(client, args, out).await,
        Command::Imagefsinfo(args) => image::imagefsinfo(client, args, out).await,
        Command::Stats(args) => stats::stats(client, args, out).await,
        Command::Statsp(args) => stats::statsp(client, args, out).await,
        Command::RuntimeConfig => info::runtime_config(client, out).await,
        Command::Pull(args) => {
            let pull = image::pull(client, args, out);
            within(
                args.timeout.pull_timeout.as_deref(),
                "--pull-timeout",
                "pulling image",
                pull,
            )
            .await
        }
        Command::Rmi(args) => image::rmi(client, args, out).await,
        Command::Runp(args) => {
            let runp = sandbox::runp(client, &args.config, args.runtime.as_deref());
            let limit = args.cancel_timeout.as_deref();
            let id = within(limit, "--cancel-timeout", "run pod sandbox", runp).await?;
            writeln!(out, "{id}")?;
            Ok(())
        }
        Command::Create(args) => {
            let pull = (config.pull_image_on_create || args.with_pull) && !args.no_pull;
            let create = container::create(
                client,
                &args.pod_id,
                &args.container_config,
                &args.pod_config,
                pull,
                &args.auth,
                args.timeouts.pull_timeout.as_deref(),
            );
            let limit = args.timeouts.cancel_timeout.as_deref();
            let id = within(limit, "--cancel-timeout", "creating container", create).await?;
            writeln!(out, "{id}")?;
            Ok(())
        }
        Command::Start(args) => container::start(client, &args.ids, out).await,
        Command::Run(args) => {
            let pull = (!config.disable_pull_on_run || args.with_pull) && !args.no_pull;
            let limit = args.timeouts.cancel_timeout.as_deref();
            let run = async {
                let pod = sandbox::runp(client, &args.pod_config, args.runtime.as_deref()).await?;
                container::create(
                    client,
                    &pod,
                    &args.container_config,
                    &args.pod_config,
                    pull,
                    &args.auth,
                    args.timeouts.pull_timeout.as_deref(),
                )
                .await
            };
            let id = within(limit, "--cancel-timeout", "run container", run).await?;
            container::start(client, &[id], out).await
        }
        Command::Stop(args) => {
            let mut ids = args.ids.clone();
            if args.all {
                if !ids.is_empty() {
                    return Err(Failure::msg(
                        "cannot specify CONTAINER-ID(s) when using --all",
                    ));
                }
                let running = crate::cli::ContainerSelect {
                    state: "running".into(),
                    ..Default::default()
                };
                ids = ps::select(client, &running).await?;
                if ids.is_empty() {
                    writeln!(out, "No running containers found.")?;
                    return Ok(());
                }
            }
            lifecycle::stop::<container::Containers>(client, &ids, args.timeout, out).await
        }
        Command::Rm(args) => {
            lifecycle::remove::<container::Containers>(client, &args.remove, args.keep_logs, out)
                .await
        }
        Command::Stopp(args) => {
            lifecycle::stop::<sandbox::PodSandboxes>(client, &args.ids, 0, out).await
        }
        Command::Rmp(args) => {
            lifecycle::remove::<sandbox::PodSandboxes>(client, args, true, out).await
        }
        Command::Events(args) => events::events(client, args, out).await,
        Command::Logs(args) => logs::logs(client, args, out).await,
        Command::Exec(args) => exec::exec(client, args, out).await,
        Command::Attach(args) => attach::attach(client, args, out).await,
        Command::PortForward(args) => port_forward::port_forward(client, args, out).await,
        Command::Update(args) => update::update(client, args, out).await,
        Command::UpdateRuntimeConfig(args) => update::update_runtime_config(client, args).await,
        Command::Checkpoint(args) => update::checkpoint(client, args, out).await,
        Command::Metricsp(args) => metrics::metricsp(client, args, out).await,
        Command::Metricdescs(args) => metrics::metricdescs(client, args, out).await,
        Command::Config(_) | Command::Completion(_) => Err(Failure::msg(
            "config and completion are handled before connecting",
        )),
    }
}

/// Runs `work` within the duration `limit` (a flag's text; none or zero: unbounded), failing
/// with one line naming the flag when it runs out.
async fn within<T>(
    limit: Option<&str>,
    flag: &str,
    what: &str,
    work: impl std::future::Future<Output = Result<T>>,
) -> Result<T> {
    let limit = match limit {
        Some(text) if text.trim_start().starts_with('-') => {
            return Err(Failure::msg(format!(
                "{flag} {text}: timeout should be bigger than 0"
            )));
        }
        Some(text) => Some(
            crate::duration::parse_duration(text)
                .map_err(|e| Failure::msg(format!("{flag} {text}: {e}")))?,
        )
        .filter(|d| !d.is_zero()),
        None => None,
    };
    let Some(limit) = limit else {
        return work.await;
    };
    tokio::time::timeout(limit, work).await.unwrap_or_else(|_| {
        Err(Failure::msg(format!(
            "{what}: cancelled after {} ({flag})",
            crate::duration::format_duration(limit)
        )))
    })
}

/// `--label key=value` flags as a label selector.
fn parse_labels(labels: &[String]) -> Result<BTreeMap<String, String>> {
    let mut map = BTreeMap::new();
    for label in labels {
        let parts: Vec<&str> = label.split('=').collect();
        if parts.len() != 2 {
            return Err(Failure::msg(format!(
                "incorrectly specified label: {label} (use --label key=value)"
            )));
        }
        map.insert(parts[0].to_string(), parts[1].to_string());
    }
    Ok(map)
}

/// A `--name`/`--namespace` pattern; none when empty.
fn regex(pattern: &str) -> Result<Option<Regex>> {
    if pattern.is_empty() {
        return Ok(None);
    }
    Regex::new(pattern)
        .map(Some)
        .map_err(|e| Failure::msg(format!("invalid regular expression {pattern:?}: {e}")))
}

/// Whether `text` matches the pattern (always, with none).
fn matches(re: &Option<Regex>, text: &str) -> bool {
    re.as_ref().is_none_or(|re| re.is_match(text))
}

/// How many of `total` items `--latest`/`--last N` keep.
fn count(total: usize, latest: bool, last: usize) -> usize {
    let mut n = total;
    if latest {
        n = 1;
    }
    if last > 0 {
        n = last;
    }
    n.min(total)
}

/// A `Labels:`/`Annotations:` block of verbose output; none for an empty map (which Go's
/// protobuf decodes as nil, and crictl prints only a non-nil one).
fn print_labels(out: &mut Out, title: &str, map: &BTreeMap<String, String>) -> Result<()> {
    if map.is_empty() {
        return Ok(());
    }
    writeln!(out, "{title}:")?;
    for (k, v) in map {
        writeln!(out, "\t{k} -> {v}")?;
    }
    Ok(())
}

/// Refuses an empty list of IDs.
fn need_ids(ids: &[String]) -> Result<()> {
    if ids.is_empty() {
        return Err(Failure::msg("ID cannot be empty: give one or more IDs"));
    }
    Ok(())
}
