//! The commands, one module per resource as crictl's `cmd/crictl/` lays them out, and the
//! helpers they share.

mod attach;
mod config;
mod container;
mod events;
mod exec;
mod image;
mod info;
mod lifecycle;
mod logs;
mod port_forward;
mod sandbox;
mod session;
mod stats;

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

/// Clears the list progress line cri-client's callback wrote on a terminal's stderr.
fn clear_progress() {
    use std::io::IsTerminal;
    if std::io::stderr().is_terminal() {
        eprint!("\r\x1b[K");
    }
}

/// Runs the command line.
pub async fn run(cli: Cli, out: &mut Out) -> Result<()> {
    if cli.print_version {
        writeln!(out, "crictl version v{}", env!("CARGO_PKG_VERSION"))?;
        return Ok(());
    }
    let Some(command) = &cli.command else {
        return Err(Failure::msg("no command given: see crictl --help"));
    };
    let explicit_config = cli.config != "/etc/crictl.yaml";
    if let Command::Config(args) = command {
        return config::config_command(&cli.config, args, out);
    }
    let config = read_config(&cli.config, explicit_config)?;
    let connection = connect::connect(&cli, &config).await?;
    let client = &connection.client;
    let result = dispatch(command, client, &config, out).await;
    drop(connection);
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
        Command::Pods(args) => sandbox::pods(client, args, out).await,
        Command::Ps(args) => container::ps(client, args, out).await,
        Command::Images(args) => image::images(client, args, out).await,
        Command::Inspect(args) => container::inspect(client, args, out).await,
        Command::Inspectp(args) => sandbox::inspectp(client, args, out).await,
        Command::Inspecti(args) => image::inspecti(client, args, out).await,
        Command::Imagefsinfo(args) => image::imagefsinfo(client, args, out).await,
        Command::Stats(args) => stats::stats(client, args, out).await,
        Command::Statsp(args) => stats::statsp(client, args, out).await,
        Command::RuntimeConfig => info::runtime_config(client, out).await,
        Command::Pull(args) => image::pull(client, args, out).await,
        Command::Rmi(args) => image::rmi(client, args, out).await,
        Command::Runp(args) => {
            let id = sandbox::runp(client, &args.config, args.runtime.as_deref()).await?;
            writeln!(out, "{id}")?;
            Ok(())
        }
        Command::Create(args) => {
            let pull = (config.pull_image_on_create || args.with_pull) && !args.no_pull;
            let id = container::create(
                client,
                &args.pod_id,
                &args.container_config,
                &args.pod_config,
                pull,
                &args.auth,
            )
            .await?;
            writeln!(out, "{id}")?;
            Ok(())
        }
        Command::Start(args) => container::start(client, &args.ids, out).await,
        Command::Run(args) => {
            let pull = (!config.disable_pull_on_run || args.with_pull) && !args.no_pull;
            let pod = sandbox::runp(client, &args.pod_config, args.runtime.as_deref()).await?;
            let id = container::create(
                client,
                &pod,
                &args.container_config,
                &args.pod_config,
                pull,
                &args.auth,
            )
            .await?;
            container::start(client, &[id], out).await
        }
        Command::Stop(args) => {
            lifecycle::stop::<container::Containers>(client, &args.ids, args.timeout, out).await
        }
        Command::Rm(args) => lifecycle::remove::<container::Containers>(client, args, out).await,
        Command::Stopp(args) => {
            lifecycle::stop::<sandbox::PodSandboxes>(client, &args.ids, 0, out).await
        }
        Command::Rmp(args) => lifecycle::remove::<sandbox::PodSandboxes>(client, args, out).await,
        Command::Events(args) => events::events(client, args, out).await,
        Command::Logs(args) => logs::logs(client, args, out).await,
        Command::Exec(args) => exec::exec(client, args, out).await,
        Command::Attach(args) => attach::attach(client, args, out).await,
        Command::PortForward(args) => port_forward::port_forward(client, args, out).await,
        Command::Config(_) => Err(Failure::msg("config is handled before connecting")),
    }
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

/// A `Labels:`/`Annotations:` block of verbose output.
fn print_labels(out: &mut Out, title: &str, map: &BTreeMap<String, String>) -> Result<()> {
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
