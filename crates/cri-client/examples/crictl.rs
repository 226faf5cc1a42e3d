//! A small `crictl`: inspect a container runtime through `cri-client`.
//!
//! ```text
//! cargo run -p cri-client --example crictl -- ps
//! cargo run -p cri-client --example crictl -- --runtime-endpoint unix:///run/containerd/containerd.sock pods -o json
//! ```
//!
//! Without `--runtime-endpoint` (or `CONTAINER_RUNTIME_ENDPOINT`) it starts the in-memory fake
//! runtime of `cri-fake`, with a few demo pods, on a private Unix socket, and talks to it over
//! that socket exactly as to a real runtime. JSON output is the canonical proto3 JSON of the
//! `serde` feature (what `crictl -o json` prints); YAML is the same document in YAML.

use std::io::{IsTerminal, Write};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::{Parser, Subcommand, ValueEnum};
use cri_api_v1 as v1;
use cri_client::{Client, VersionPolicy};
use serde_json::Value;

#[derive(Parser)]
#[command(
    name = "crictl",
    about = "Inspect a CRI runtime (a small crictl built on cri-client)"
)]
struct Cli {
    /// The runtime endpoint (unix:///path, a socket path, or tcp://host:port). Default: the
    /// built-in fake runtime.
    #[arg(long, short = 'r', global = true, env = "CONTAINER_RUNTIME_ENDPOINT")]
    runtime_endpoint: Option<String>,
    /// The image endpoint, if it differs from the runtime endpoint.
    #[arg(long, short = 'i', global = true, env = "IMAGE_SERVICE_ENDPOINT")]
    image_endpoint: Option<String>,
    /// Only accept runtime.v1 (the default also accepts runtime.v1alpha2 runtimes).
    #[arg(long, global = true)]
    v1_only: bool,
    /// Do not use the list-streaming RPCs.
    #[arg(long, global = true)]
    no_streaming: bool,
    /// Deadline of each call, in seconds.
    #[arg(long, global = true, default_value_t = 120)]
    timeout: u64,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Output {
    Table,
    Json,
    Yaml,
}

#[derive(Subcommand)]
enum Command {
    /// The runtime's name and versions.
    Version {
        #[arg(short, long, value_enum, default_value = "table")]
        output: Output,
    },
    /// The runtime's status and conditions (and its verbose info).
    Info {
        #[arg(short, long, value_enum, default_value = "json")]
        output: Output,
    },
    /// List pod sandboxes.
    Pods {
        #[arg(short, long, value_enum, default_value = "table")]
        output: Output,
    },
    /// List containers.
    Ps {
        /// Show all containers, not only running ones.
        #[arg(short, long)]
        all: bool,
        #[arg(short, long, value_enum, default_value = "table")]
        output: Output,
    },
    /// List images.
    Images {
        #[arg(short, long, value_enum, default_value = "table")]
        output: Output,
    },
    /// The status of one container.
    Inspect {
        id: String,
        #[arg(short, long, value_enum, default_value = "json")]
        output: Output,
    },
    /// The status of one pod sandbox.
    Inspectp {
        id: String,
        #[arg(short, long, value_enum, default_value = "json")]
        output: Output,
    },
    /// The status of one image.
    Inspecti {
        image: String,
        #[arg(short, long, value_enum, default_value = "json")]
        output: Output,
    },
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run(Cli::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("crictl: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), Box<dyn std::error::Error>> {
    // Without an endpoint: the fake runtime, served on a private socket for this run.
    let mut _fake = None;
    let _dir;
    let endpoint = match &cli.runtime_endpoint {
        Some(endpoint) => endpoint.clone(),
        None => {
            let runtime = cri_fake::FakeRuntime::builder().page_size(500).build();
            runtime.seed(3, 2);
            _dir = tempfile::tempdir()?;
            let socket = _dir.path().join("cri-fake.sock");
            let server = runtime.serve_unix(&socket).await?;
            let endpoint = server.endpoint();
            eprintln!(
                "crictl: no --runtime-endpoint: using the built-in fake runtime at {endpoint}"
            );
            _fake = Some(server);
            endpoint
        }
    };

    let progress = std::io::stderr().is_terminal();
    let mut builder = Client::builder(endpoint)
        .version_policy(if cli.v1_only {
            VersionPolicy::V1Only
        } else {
            VersionPolicy::PreferV1
        })
        .list_streaming(!cli.no_streaming)
        .timeout(Duration::from_secs(cli.timeout))
        .on_list_progress(move |rpc, items| {
            if progress {
                eprint!("\r{rpc}: {items} received…");
                let _ = std::io::stderr().flush();
            }
        });
    if let Some(image) = &cli.image_endpoint {
        builder = builder.image_endpoint(image.clone());
    }
    let client = builder.connect().await?;
    let clear_progress = || {
        if progress {
            eprint!("\r\x1b[K");
        }
    };

    match cli.command {
        Command::Version { output } => {
            let version = client
                .version(v1::VersionRequest {
                    version: "0.1.0".into(),
                })
                .await?;
            let rows = vec![
                vec!["Version".into(), version.version.clone()],
                vec!["RuntimeName".into(), version.runtime_name.clone()],
                vec!["RuntimeVersion".into(), version.runtime_version.clone()],
                vec![
                    "RuntimeApiVersion".into(),
                    version.runtime_api_version.clone(),
                ],
                vec![
                    "NegotiatedApi".into(),
                    client.runtime_api_version().to_string(),
                ],
            ];
            print(output, &version, || table(&[], rows))?;
        }
        Command::Info { output } => {
            let status = client.status(v1::StatusRequest { verbose: true }).await?;
            let rows = status
                .status
                .iter()
                .flat_map(|s| &s.conditions)
                .map(|c| {
                    vec![
                        c.r#type.clone(),
                        c.status.to_string(),
                        c.reason.clone(),
                        c.message.clone(),
                    ]
                })
                .collect();
            print(output, &status, || {
                table(&["CONDITION", "STATUS", "REASON", "MESSAGE"], rows)
            })?;
        }
        Command::Pods { output } => {
            let pods = client
                .list_pod_sandbox(v1::ListPodSandboxRequest::default())
                .await?;
            clear_progress();
            let rows = pods
                .items
                .iter()
                .map(|p| {
                    let meta = p.metadata.clone().unwrap_or_default();
                    vec![
                        short(&p.id),
                        ago(p.created_at),
                        state_name(p.state().as_str_name(), "SANDBOX_"),
                        meta.name,
                        meta.namespace,
                        meta.attempt.to_string(),
                        p.runtime_handler.clone(),
                    ]
                })
                .collect();
            print(output, &pods, || {
                table(
                    &[
                        "POD ID",
                        "CREATED",
                        "STATE",
                        "NAME",
                        "NAMESPACE",
                        "ATTEMPT",
                        "RUNTIME",
                    ],
                    rows,
                )
            })?;
        }
        Command::Ps { all, output } => {
            let filter = (!all).then(|| v1::ContainerFilter {
                state: Some(v1::ContainerStateValue {
                    state: v1::ContainerState::ContainerRunning as i32,
                }),
                ..Default::default()
            });
            let containers = client
                .list_containers(v1::ListContainersRequest { filter })
                .await?;
            clear_progress();
            let rows = containers
                .containers
                .iter()
                .map(|c| {
                    let meta = c.metadata.clone().unwrap_or_default();
                    vec![
                        short(&c.id),
                        c.image
                            .as_ref()
                            .map(|i| i.image.clone())
                            .unwrap_or_default(),
                        ago(c.created_at),
                        state_name(c.state().as_str_name(), "CONTAINER_"),
                        meta.name,
                        meta.attempt.to_string(),
                        short(&c.pod_sandbox_id),
                    ]
                })
                .collect();
            print(output, &containers, || {
                table(
                    &[
                        "CONTAINER",
                        "IMAGE",
                        "CREATED",
                        "STATE",
                        "NAME",
                        "ATTEMPT",
                        "POD ID",
                    ],
                    rows,
                )
            })?;
        }
        Command::Images { output } => {
            let images = client.list_images(v1::ListImagesRequest::default()).await?;
            clear_progress();
            let rows = images
                .images
                .iter()
                .flat_map(|image| {
                    let tags = if image.repo_tags.is_empty() {
                        vec!["<none>:<none>".to_string()]
                    } else {
                        image.repo_tags.clone()
                    };
                    tags.into_iter().map(move |tag| {
                        let (repo, tag) = tag
                            .rsplit_once(':')
                            .map_or((tag.clone(), String::new()), |(r, t)| (r.into(), t.into()));
                        vec![
                            repo,
                            tag,
                            short(image.id.trim_start_matches("sha256:")),
                            size(image.size),
                        ]
                    })
                })
                .collect();
            print(output, &images, || {
                table(&["IMAGE", "TAG", "IMAGE ID", "SIZE"], rows)
            })?;
        }
        Command::Inspect { id, output } => {
            let status = client
                .container_status(v1::ContainerStatusRequest {
                    container_id: id,
                    verbose: true,
                })
                .await?;
            print(output, &status, || json_table(&status))?;
        }
        Command::Inspectp { id, output } => {
            let status = client
                .pod_sandbox_status(v1::PodSandboxStatusRequest {
                    pod_sandbox_id: id,
                    verbose: true,
                })
                .await?;
            print(output, &status, || json_table(&status))?;
        }
        Command::Inspecti { image, output } => {
            let status = client
                .image_status(v1::ImageStatusRequest {
                    image: Some(v1::ImageSpec {
                        image: image.clone(),
                        ..Default::default()
                    }),
                    verbose: true,
                })
                .await?;
            if status.image.is_none() {
                return Err(format!("no such image: {image}").into());
            }
            print(output, &status, || json_table(&status))?;
        }
    }
    if let Some(server) = _fake {
        server.shutdown().await?;
    }
    Ok(())
}

/// Prints `value` as canonical proto3 JSON, as YAML, or as the table that `table` makes.
fn print<T: serde::Serialize>(
    output: Output,
    value: &T,
    table: impl FnOnce() -> String,
) -> Result<(), Box<dyn std::error::Error>> {
    let text = match output {
        Output::Json => serde_json::to_string_pretty(value)? + "\n",
        Output::Yaml => {
            let mut out = String::new();
            yaml(&serde_json::to_value(value)?, 0, &mut out);
            out
        }
        Output::Table => table(),
    };
    std::io::stdout().write_all(text.as_bytes())?;
    Ok(())
}

/// For the single-object commands, a table is the JSON itself.
fn json_table<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default() + "\n"
}

fn table(header: &[&str], rows: Vec<Vec<String>>) -> String {
    let columns = header.len().max(rows.first().map_or(0, Vec::len));
    let mut widths = vec![0; columns];
    for row in std::iter::once(header.iter().map(|h| h.to_string()).collect::<Vec<_>>())
        .chain(rows.iter().cloned())
    {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &[String]| {
        let text: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<w$}", w = widths[i]))
            .collect();
        out.push_str(text.join("   ").trim_end());
        out.push('\n');
    };
    if !header.is_empty() {
        line(&header.iter().map(|h| h.to_string()).collect::<Vec<_>>());
    }
    for row in &rows {
        line(row);
    }
    out
}

/// A minimal YAML rendering of a JSON value (block style; strings quoted when needed).
fn yaml(value: &Value, indent: usize, out: &mut String) {
    let pad = "  ".repeat(indent);
    match value {
        Value::Object(map) if map.is_empty() => out.push_str("{}\n"),
        Value::Array(items) if items.is_empty() => out.push_str("[]\n"),
        Value::Object(map) => {
            for (key, value) in map {
                out.push_str(&format!("{pad}{}:", scalar(&Value::String(key.clone()))));
                nested(value, indent, out);
            }
        }
        Value::Array(items) => {
            for item in items {
                out.push_str(&format!("{pad}-"));
                nested(item, indent, out);
            }
        }
        other => out.push_str(&format!("{pad}{}\n", scalar(other))),
    }
}

fn nested(value: &Value, indent: usize, out: &mut String) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            out.push('\n');
            yaml(value, indent + 1, out);
        }
        Value::Array(items) if !items.is_empty() => {
            out.push('\n');
            yaml(value, indent + 1, out);
        }
        _ => {
            out.push(' ');
            yaml(value, 0, out);
        }
    }
}

fn scalar(value: &Value) -> String {
    match value {
        Value::String(s) => {
            let plain = !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
                && !matches!(
                    s.as_str(),
                    "true" | "false" | "null" | "yes" | "no" | "on" | "off"
                )
                && s.parse::<f64>().is_err();
            if plain {
                s.clone()
            } else {
                serde_json::to_string(s).unwrap_or_default()
            }
        }
        other => other.to_string(),
    }
}

fn short(id: &str) -> String {
    id.chars().take(13).collect()
}

fn state_name(name: &str, prefix: &str) -> String {
    name.trim_start_matches(prefix).to_string()
}

fn ago(nanos: i64) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0);
    let seconds = (now - nanos).max(0) / 1_000_000_000;
    match seconds {
        s if s < 60 => format!("{s} seconds ago"),
        s if s < 3600 => format!("{} minutes ago", s / 60),
        s if s < 86_400 => format!("{} hours ago", s / 3600),
        s => format!("{} days ago", s / 86_400),
    }
}

fn size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes}B")
    } else {
        format!("{value:.3}{}", UNITS[unit])
    }
}
